# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unplanned failover: the master is gone; promote the replica that has the most of its transactions.

1. The old master, if it can still be reached, must be read-only (else: split brain, refused unless
   forced); it is fenced (read_only, client sessions killed) and never made writable again. Every
   statement to it is bounded by ``master_connect_timeout`` (connect, handshake, each read and write):
   a master that accepts connections but does not answer (hung, SIGSTOP, stalled TCP) counts as
   unreachable within that bound. An unreachable master must be lost for the replicas too (check
   ``master_lost``: no replica's IO thread still connected to it, waited for up to
   ``master_connect_timeout``), else the failover refuses (forcing it promotes all the same: the hung
   master cannot be fenced and stays writable if it wakes up).
2. Every replica stops its IO thread and applies what its relay log holds, judged by progress
   (``relay_log_progress``): it is waited for while it applies (executed GTIDs or position move, the SQL
   thread's open transaction modifies rows, or the SQL thread is busy), up to ``relay_log_timeout``; a
   replica that makes no progress for ``stall_timeout`` is done when only an incomplete last transaction
   is left (it can never complete). A complete transaction that a replica received but did not apply is
   never dropped silently: the failover refuses (check ``relay_log``), or with ``force`` goes on and
   reports exactly which transactions are lost (``lost_transactions``).
3. Election (GTID required): never a replica marked ``excluded``; the ``preferred`` ones first; among
   them the most advanced (GTID transactions, then executed coordinates).
4. If another replica has transactions the candidate lacks, the candidate first replicates from it
   until it has them (catch-up).
5. The candidate is promoted (replication reset, writable); the router (router.py) is told at once
   (phase ``promote``), then every other replica follows it (short connect retry, heartbeat).

A failure once the candidate is writable routes to it (phase ``failed``) and reports the exact state.

The servers may form a tree (``replicant_master``: a relay and its replicas). Only the master's direct replicas
lost their master: they alone are drained, elected among, caught up and repointed (``inventory.promoted``: the
new master keeps its own replicas, the other direct replicas go below it). A relay's replicas stay below their
relay and replicate all along; they are checked to replicate from it, and never stopped, waited for or repointed.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication, semisync
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import divergence, parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance, can_replicate_from, reasons_text
from ansible_collections.replicant.mysql.plugins.module_utils.inventory import promoted
from ansible_collections.replicant.mysql.plugins.module_utils.lease import Lease, end, resumed_result, take
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import (
    Journal, PromotionError, connect_all, declared_tree, describe, direct_replicas, fail_safe_state, kill_clients,
    point_at, read_all, replication_account_problem, route_failed, run_parallel, running_ok, source_problem,
    thread_problem, validate_force, verify_replicating, writable_servers)
from ansible_collections.replicant.mysql.plugins.module_utils.router import RouterError, make_router
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

FAILOVER_CHECKS = (
    'split_brain',          # the old master, if reachable, does not accept writes
    'reachable',            # every replica answers (unreachable ones are left behind when forced)
    'replication_running',  # no replica's SQL thread stopped with an error (broken ones are left behind when forced);
                            # a relay's replicas replicate from their relay
    'gtid',                 # every replica replicates with GTIDs (required to elect and repoint)
    'candidate_eligible',   # a candidate exists and is not marked excluded
    'candidate_binlog',     # the candidate writes a binlog with the replicated transactions in it
    'diverged',             # no two replicas have different transactions under the same GTID (MariaDB)
    'replication_account',  # the other replicas can log in to the candidate with the replication account
    'router',               # the router can move the clients to the candidate
    'master_lost',          # an unreachable master is lost for the replicas too (no IO thread still connected)
    'relay_log',            # every complete transaction a replica received was applied within relay_log_timeout
)
# The SQL thread's open transactions and the rows they modified so far (a big row-format transaction
# moves no position until it commits; its rows do).
APPLIER_TRX = ("SELECT COUNT(*) AS trx, COALESCE(SUM(t.trx_rows_modified), 0) AS rows_modified "
               "FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p "
               "ON p.ID = t.trx_mysql_thread_id WHERE p.USER = 'system user'")
# The SQL thread's state once it has nothing more to apply ("Slave has read all relay log; waiting for
# more updates", "Replica has read all relay log; ...").
IDLE_SQL_STATE = 'read all relay log'
DEFAULTS = dict(force=(), relay_log_timeout=60, stall_timeout=2, catch_up_timeout=60, verify_timeout=10,
                master_connect_timeout=3, router=None, connect_retry=3, heartbeat_period=2.0)


def predicted_set(node):
    """What the replica will have executed once its relay log is applied: executed + retrieved GTIDs."""
    facts = node.facts
    retrieved = (facts.get('status') or {}).get('gtid_io_pos') or ''
    return facts['gtid'].union(parse_gtid(retrieved, facts['flavor'].name))


def _position(status, read=False):
    file_key, pos_key = ('master_log_file', 'read_master_log_pos') if read else ('relay_master_log_file',
                                                                                 'exec_master_log_pos')
    if not status or not status.get(file_key):
        return (-1, -1)
    pos = Position(status[file_key], status[pos_key] or 0)
    return pos.index, pos.pos


def binlog_problem(candidate, follower=None):
    """Why ``follower`` (default: any replica) could not replicate from ``candidate``'s binlog ('' when it could)."""
    return reasons_text(can_replicate_from(follower or Instance('its replicas'), candidate), ('binlog',))


def elect(pool, sets, read=False, old=None):
    """The candidate among ``pool``: never excluded, preferred first, then the most transactions and coordinates.

    Eligible: not excluded, and its binlog can feed the others (``old``, the failed master, stands for them).
    """
    eligible = [n for n in pool if n.promotion != 'excluded' and not binlog_problem(n, old)]
    preferred = [n for n in eligible if n.promotion == 'preferred']
    choices = preferred or eligible
    if not choices:
        return None
    order = {n.name: i for i, n in enumerate(pool)}
    return max(choices, key=lambda n: (sets[n.name].count(), _position(n.facts['status'], read), -order[n.name]))


def relay_applied(status):
    return (status['master_log_file'], status['read_master_log_pos']) == (status['relay_master_log_file'],
                                                                          status['exec_master_log_pos'])


def applier_sample(server, flavor):
    """What ``relay_log_progress`` judges: one look at a replica's SQL thread."""
    status = replication.replica_status(server)
    trx = server.one(APPLIER_TRX) or {}
    executed = parse_gtid(_compact(server.value(dialect.sql(flavor, 'gtid_current_pos'))), flavor.name)
    received = parse_gtid((status or {}).get('gtid_io_pos') or '', flavor.name)
    return dict(status=status, executed=executed, missing=received.difference(executed),
                position=(status['relay_master_log_file'], status['exec_master_log_pos']) if status else None,
                applied=bool(status) and relay_applied(status), trx=int(trx.get('trx') or 0),
                rows=int(trx.get('rows_modified') or 0), sql_state=(status or {}).get('sql_state') or '')


def relay_log_progress(before, now):
    """How a replica applying its relay log is doing between two samples (``applier_sample``).

    ``applied``: nothing left (position at the end of the relay log, or every complete transaction received is
    executed and the SQL thread idles); ``progress``: the executed GTIDs or position moved, the SQL thread's
    open transaction modified rows, or the SQL thread is busy (its state is not "has read all relay log");
    ``stalled``: none of these.
    """
    if now['applied'] or (not now['missing'] and IDLE_SQL_STATE in now['sql_state'].lower() and not now['trx']):
        return 'applied'
    if before is None or IDLE_SQL_STATE not in now['sql_state'].lower():
        return 'progress'
    moved = [key for key in ('executed', 'position', 'rows', 'trx') if now[key] != before[key]]
    return 'progress' if moved else 'stalled'


def apply_relay_logs(nodes, journal, timeout, stall_timeout, force=()):
    """Stop the IO threads and wait until each SQL thread has executed its relay log; returns {name: note}.

    A replica is waited for while it makes progress (``relay_log_progress``), up to ``timeout`` seconds in
    all; one that makes none for ``stall_timeout`` seconds is done. A complete transaction left unapplied
    (at the timeout, or when stalled) fails the check ``relay_log``: PromotionError, unless forced; the
    notes then say exactly which transactions that replica did not apply.
    """
    notes = {}
    draining = []
    for node in nodes:
        verdict, text = stopped_applier(node.server, node.facts['flavor'])
        if verdict != 'start':
            notes[node.name] = text
            if verdict == 'half':
                journal.step(node.name, text)
            else:
                journal.check('relay_log', node.name, False, text, force)
            continue
        replication.start_replication(node.server, thread='sql')
        node.server.run('stop_replica', thread='io')
        draining.append(node)
    pending = dict((n.name, (n, None, time.time())) for n in draining)
    deadline = time.time() + timeout
    left = {}
    while pending:
        for name, (node, last, since) in list(pending.items()):
            now = applier_sample(node.server, node.facts['flavor'])
            status = now['status']
            if status and status['last_sql_errno']:
                raise PromotionError('%s: the SQL thread stopped while applying its relay log: %s'
                                     % (name, thread_problem(status)))
            verdict = relay_log_progress(last, now)
            if verdict == 'applied':
                del pending[name]
                journal.step(name, "relay log applied (executed %s)" % (now['executed'] or '-'))
                continue
            if verdict == 'progress':
                since = time.time()
            stalled = time.time() - since > stall_timeout
            if stalled or time.time() > deadline:
                del pending[name]
                if now['missing']:
                    left[name] = now
                    continue
                end = (status['master_log_file'], status['read_master_log_pos'])
                notes[name] = ('stopped at %s:%s short of %s:%s (an incomplete transaction in its relay log, which can '
                               'never complete)' % (now['position'] + end))
                journal.step(name, notes[name])
            else:
                pending[name] = (node, now, since)
        if pending:
            time.sleep(0.05)
    for name, now in sorted(left.items()):
        notes[name] = ('did not apply the complete transactions %s of its relay log within relay_log_timeout (%s s; '
                       'SQL thread: %s, %d open transaction(s), %d rows modified)'
                       % (now['missing'], timeout, now['sql_state'] or '-', now['trx'], now['rows']))
        journal.check('relay_log', name, False, notes[name], force)
        journal.step(name, notes[name])
    refused = [c for c in journal.refusals() if c['check'] == 'relay_log']
    if refused:
        raise PromotionError('failover stopped before any promotion: %s. Nothing was promoted; the old master is fenced '
                             'if it was reachable and the replicas\' IO threads are stopped (their SQL threads go on '
                             'applying). Run the failover again (with a larger relay_log_timeout if they are still '
                             'applying), or force relay_log to promote without those transactions'
                             % describe(refused), dict(relay_log_notes=notes))
    return notes


def discards_relay_log(status):
    """Whether starting this replica's SQL thread would discard relay log not yet applied (MariaDB in GTID mode
    purges the relay log when a thread starts while both are stopped)."""
    return bool(status) and status.get('using_gtid') not in (None, 'No') and status['io_running'] == 'No' \
        and not status['sql_running_ok'] and not relay_applied(status)


def stopped_applier(server, flavor):
    """How the relay log of a replica is applied before a promotion or a tail recovery: (verdict, text).

    ``start``: start its SQL thread while the IO thread runs, then stop the IO thread (the order matters: MariaDB
    discards the relay log of a GTID replica when a thread starts while both are stopped, ``discards_relay_log``).
    With both threads already stopped and relay log left: ``half`` when every complete transaction it received is
    executed (the rest is one transaction cut in half by a stopped IO thread, which can never complete: nothing to
    apply, nothing to lose, leave it as it is); ``discards`` when complete transactions are left unapplied (starting
    a thread would discard them: refuse, untouched)."""
    status = replication.replica_status(server)
    if not discards_relay_log(status):
        return 'start', None
    where = (status['relay_master_log_file'], status['exec_master_log_pos'], status['master_log_file'],
             status['read_master_log_pos'])
    if not applier_sample(server, flavor)['missing']:
        return 'half', ('relay log applied up to %s:%s of %s:%s: the rest is a transaction cut in half, left as it is'
                        % where)
    return 'discards', ('both replication threads are stopped with a relay log not yet applied (up to %s:%s of %s:%s): '
                        'starting its SQL thread would discard that relay log (MariaDB, GTID mode)' % where)


def lost_transactions(before, sets):
    """The transactions received by some replica (``before``: name -> received set) that none executed (``sets``)."""
    received = None
    executed = None
    for name in before:
        received = before[name] if received is None else received.union(before[name])
        executed = sets[name] if executed is None else executed.union(sets[name])
    return received.difference(executed) if received is not None else None


def _compact(value):
    return ''.join(str(value or '').split())


def catch_up(candidate, donors, sets, journal, timeout):
    """Replicate ``candidate`` from each donor that has transactions it lacks, until it has them."""
    flavor = candidate.facts['flavor']
    for donor in sorted(donors, key=lambda n: sets[n.name].count(), reverse=True):
        missing = sets[donor.name].difference(sets[candidate.name])
        if not missing:
            continue
        problem = binlog_problem(donor, candidate)
        if problem:
            raise PromotionError('%s lacks %s, which only %s has, and cannot catch up: %s'
                                 % (candidate.name, missing, donor.name, problem))
        journal.step(candidate.name, 'catching up from %s (missing %s)' % (donor.name, missing))
        point_at(candidate.server, donor.follow(flavor, gtid=True))
        replication.wait_for_pos(candidate.server, gtid=str(sets[donor.name]), timeout=timeout)
        replication.stop_replication(candidate.server)
        sets[candidate.name] = sets[candidate.name].union(sets[donor.name])
        journal.step(candidate.name, 'caught up from %s' % donor.name)


def promote(node, journal):
    node.server.run('stop_replica')
    node.server.run('reset_replica', all=True)
    replication.set_read_only(node.server, False)
    journal.step(node.name, 'promoted: replication reset, writable')


def failover(nodes, master, candidate=None, check_mode=False, **options):
    """Promote a replica after ``master`` (a name among ``nodes``) failed; ``candidate`` forces the choice.

    Options (see DEFAULTS): force (check names to skip), relay_log_timeout, stall_timeout,
    catch_up_timeout, verify_timeout, master_connect_timeout (seconds), router (a router.Router or the
    module's router option: told ``promote`` the instant the new master is writable), connect_retry and
    heartbeat_period (seconds, set on every repointed replica).
    Returns the result dict; raises PromotionError (with ``.result``) on refusal or failure.
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError('failover() got unknown options %s' % ', '.join(unknown))
    o = dict(DEFAULTS, **options)
    force = validate_force(o['force'], FAILOVER_CHECKS)
    by_name = {n.name: n for n in nodes}
    for name in [master] + ([candidate] if candidate else []):
        if name not in by_name:
            raise ValueError('%s is not one of the servers given (%s)' % (name, ', '.join(by_name)))
    declared = declared_tree(nodes, master)
    old = by_name[master]
    if old.server is not None:  # a hung master answers nothing: every wait for it is bounded alike
        old.server.connect_timeout = old.server.read_timeout = o['master_connect_timeout']
    journal = Journal()
    router = make_router(o['router'], journal, 'failover')
    result = dict(changed=False, old_master=master, new_master=None, checks=journal.checks, steps=journal.steps,
                  routing=router.calls, promoted=False)
    lease = Lease(nodes, 'failover', journal)
    try:
        return _failover(nodes, old, candidate, check_mode, o, force, journal, result, router, lease, declared)
    except PromotionError as exc:
        exc.result = dict(result, **exc.result)
        raise
    except Exception as exc:
        if result.get('promoted') and 'state' not in result:
            _fail_safe(router, old, by_name[result['new_master']], nodes, result, {}, exc)
        if not isinstance(exc, ServerError):
            raise
        if 'promoted_ms' in result:
            state = '%s was promoted and is writable' % result['new_master']
        elif result['changed']:
            state = ('no replica was promoted; %s is fenced if it was reachable, the replicas\' IO threads are stopped: '
                     'fix the cause and run the failover again' % master)
        else:
            state = 'nothing was changed'
        raise PromotionError('failover failed: %s; %s' % (exc, state), result)
    finally:
        # A run that changed something and did not finish leaves its record for the next one to resume from.
        end(lease, result)
        for node in nodes:
            node.close()


def _fail_safe(router, old, chosen, nodes, result, failures, exc):
    """Past the point of no return: route to the writable server and record the exact state."""
    others = [n for n in nodes if n is not chosen and n is not old]
    broken = dict((name, str(error)) for name, error in failures.items())
    if exc is not None:
        for node in others:
            if node.name in result['topology']['replicas'] and node.name not in broken:
                broken[node.name] = 'not repointed: %s' % exc
    problems = dict(result.pop('_problems', {}))
    if exc is not None:
        problems['error'] = str(exc)
    writable = writable_servers([chosen])
    routed = route_failed(router, old, chosen, writable + [chosen.name], others)
    result['state'] = fail_safe_state(writable, broken, problems, routed, chosen.name)
    return broken


def _failover(nodes, old, candidate, check_mode, o, force, journal, result, router, lease, declared):
    master = old.name
    connect_all(nodes, journal)
    resumed = take(lease, nodes, journal, router, o, check_mode)
    if resumed and (resumed['master'] != master or resumed.get('writable')):
        return resumed_result(result, resumed, nodes, check_mode)
    if old.error:
        journal.check('split_brain', master, True, 'unreachable (%s)' % old.error, force)
    else:
        writable = not replication.read_only_state(old.server)['read_only']
        journal.check('split_brain', master, not writable,
                      'reachable and WRITABLE: it may still take writes (split brain)' if writable else
                      'reachable but read-only; it will be fenced', force)
    replicas = [n for n in nodes if n is not old]
    for node in replicas:
        journal.check('reachable', node.name, not node.error, node.error or 'reachable', force)
    read_all(replicas)
    # Only the direct replicas lost their master; a relay's replicas replicate from their relay all along.
    live = [n for n in direct_replicas(replicas, declared) if not n.error]
    below = [n for n in replicas if n not in live and not n.error and declared['replicas'][n.name] != master]
    if old.error:
        _master_lost(old, live, journal, force, o['master_connect_timeout'])
    by_name = dict((n.name, n) for n in nodes)
    for node in below:
        problem = source_problem(node, by_name[declared['replicas'][node.name]], replicas) or (
            '' if running_ok(node.status) else thread_problem(node.status))
        journal.check('replication_running', node.name, not problem, problem or 'replicates from %s (stays below it)'
                      % declared['replicas'][node.name], force)
    usable = []
    for node in live:
        status = node.facts['status']
        ok = bool(status) and not status['last_sql_errno']
        journal.check('replication_running', node.name, ok, 'SQL thread without error' if ok else
                      thread_problem(status), force)
        if ok:
            usable.append(node)
    for node in usable:
        journal.check('gtid', node.name, node.facts['gtid_enabled'],
                      'GTIDs enabled' if node.facts['gtid_enabled'] else 'no GTIDs: a failover needs them', force)
    sets = {n.name: predicted_set(n) for n in usable}
    chosen = _choose(usable, candidate, sets, journal, force, old, read=True, declared=declared)
    _diverged(usable, sets, journal, force)
    if chosen is not None:
        followers = [n.name for n in usable if n is not chosen]
        problem = replication_account_problem(chosen, followers)
        journal.check('replication_account', chosen.name, not problem, problem or '%s can log in with %s and replicate'
                      % (', '.join(followers) or 'its replicas', chosen.repl_user), force)
        if router.enabled:
            problems = router.check([n.name for n in nodes])
            journal.check('router', master, not problems, '; '.join(problems) or '%s can route to %s'
                          % (router.describe(), chosen.name), force)
    result['new_master'] = chosen.name if chosen else None
    result['forced_checks'] = journal.forced()
    refusals = journal.refusals()
    if refusals or chosen is None:
        raise PromotionError('failover refused, nothing was changed: %s%s' % (
            describe(refusals), lease.last_procedure(refusals)), result)
    others = [n for n in usable if n is not chosen]
    left = [n.name for n in nodes if n is not old and n not in usable and n not in below]
    donors = [n for n in others if sets[n.name].difference(sets[chosen.name])]

    def tree(new):
        return promoted(declared, new.name, include_old_master=False, left_out=left)['replicas']
    result.update(plan=(resumed or {}).get('done', []) + _plan(old, chosen, usable, donors, tree(chosen)),
                  topology=dict(master=chosen.name, replicas=[n.name for n in others], left_out=[master] + left,
                                unreachable=[n.name for n in nodes if n.error], tree=tree(chosen)))
    if check_mode:
        result.update(changed=True, msg='check mode: would promote %s in place of %s' % (chosen.name, master))
        return result
    result['changed'] = True
    lease.record('fencing', old_master=master)
    if not old.error:
        replication.set_read_only(old.server, True)
        killed = kill_clients(old.server, {old.server.connection_id} | lease.connection_ids(master))
        journal.step(master, 'fenced: read_only on, %d client connection(s) killed' % len(killed))
    received = dict((n.name, predicted_set(n)) for n in usable)
    result['relay_log_notes'] = apply_relay_logs(usable, journal, o['relay_log_timeout'], o['stall_timeout'], force)
    read_all(usable)
    sets = {n.name: n.facts['gtid'] for n in usable}
    lost = lost_transactions(received, sets)
    if lost:
        result['lost_transactions'] = str(lost)
        journal.step('*', 'LOST (relay_log forced): %s, received by a replica but applied by none' % lost)
    if not candidate:
        chosen = elect(usable, sets, old=old)
        others = [n for n in usable if n is not chosen]
        result['new_master'] = chosen.name
        result['topology'].update(master=chosen.name, replicas=[n.name for n in others], tree=tree(chosen))
    journal.step(chosen.name, 'elected (%s)' % sets[chosen.name])
    lease.record('promoting', new_master=chosen.name)
    catch_up(chosen, others, sets, journal, o['catch_up_timeout'])
    promote(chosen, journal)
    result['promoted'] = True
    result['promoted_ms'] = journal.ms()
    problems = {}
    if router.enabled:  # the clients' outage ends here: before the record (a rerun completes a writable candidate)
        try:
            router.route('promote', old, chosen, [n for n in nodes if n is not old and n is not chosen])
            result['routed_ms'] = journal.ms()
        except RouterError as exc:
            problems['router'] = str(exc)
    lease.record('promoted', gtid=str(chosen.facts['gtid']))
    result['_problems'] = problems
    reconnect = dialect.reconnect_options(o['connect_retry'], o['heartbeat_period'])

    def follow(node):
        options = chosen.follow(node.facts['flavor'], gtid=True)
        options.update(reconnect)
        point_at(node.server, options)
        verify_replicating(node.server, o['verify_timeout'])
        journal.step(node.name, 'replicates from %s' % chosen.name)
    failures = {name: exc for name, exc in run_parallel(follow, others).items() if exc is not None}
    result['semisync'] = semisync.move(chosen, [n for n in others if n.name not in failures], journal)
    result['total_ms'] = journal.ms()
    if failures or problems:
        broken = _fail_safe(router, old, chosen, nodes, result, failures, None)
        if broken:
            result['failed_repoints'] = broken
        result['topology']['replicas'] = [n.name for n in others if n.name not in broken]
        result['topology']['broken'] = sorted(broken)
        raise PromotionError('%s is the new master (writable), but the failover did not finish: %s'
                             % (chosen.name, result['state']['summary']), result)
    result.pop('_problems', None)
    result['msg'] = '%s is the master now (writable %s ms after the start%s); %s replicate from it; %s %s%s' % (
        chosen.name, result['promoted_ms'], ', routed after %s ms' % result['routed_ms'] if 'routed_ms' in result else '',
        ', '.join(n.name for n in others) or 'no servers', master,
        'is fenced (read-only)' if not old.error else 'was unreachable (NOT fenced: keep it from coming back writable)',
        '; LOST (relay_log forced): %s' % result['lost_transactions'] if result.get('lost_transactions') else '')
    return result


def io_connected(status):
    """Whether a replica's IO thread is still connected to its master (running, no error)."""
    return bool(status) and status['io_running_ok'] and not status['last_io_errno']


def _master_lost(old, live, journal, force, bound):
    """The master does not answer the module: do its replicas confirm it is lost (IO threads not connected)?

    A replica's IO thread notices a killed master at once, a hung one after slave_net_timeout; they are
    waited for up to ``bound`` seconds. One still connected means the master may be alive for its clients
    (only this controller cannot reach it, or it hangs): check ``master_lost`` fails.
    """
    deadline = time.time() + bound
    latest = dict((n.name, n.facts.get('status')) for n in live)
    connected = [n for n in live if io_connected(latest[n.name])]
    while connected and time.time() < deadline:
        time.sleep(0.2)
        for node in connected:
            latest[node.name] = replication.replica_status(node.server)
        connected = [n for n in connected if io_connected(latest[n.name])]
    for node in live:
        status = latest[node.name] or {}
        journal.check('master_lost', node.name, node not in connected,
                      'its IO thread is still connected to %s, which does not answer here within %s s (%s): the master '
                      'may be alive (hung, or cut off from this controller only). Refused: check %s; once its replicas '
                      'lose it too (slave_net_timeout), run the failover again; force master_lost to promote all the '
                      'same (%s cannot be fenced and is writable if it wakes up)'
                      % (old.name, bound, old.error, old.name, old.name) if node in connected else
                      'lost %s too (IO thread %s%s)' % (old.name, status.get('io_running') or 'not configured',
                                                        ', ' + status['last_io_error'] if status.get('last_io_error')
                                                        else ''),
                      force)


def _choose(usable, candidate, sets, journal, force, old, read, declared=None):
    master = old.name
    if candidate:
        chosen = next((n for n in usable if n.name == candidate), None)
        relay = ((declared or {}).get('replicas') or {}).get(candidate, master)
        if chosen is None:
            journal.check('candidate_eligible', candidate, False, 'not reachable or not replicating' if relay == master
                          else 'a replica of %s, not of the master %s: fail over to %s (its replicas follow it) or '
                          'to another direct replica of %s' % (relay, master, relay, master), force)
            return None
    else:
        chosen = elect(usable, sets, read, old=old)
        if chosen is None:
            journal.check('candidate_eligible', master, False, 'no replica can be promoted (every one is excluded, '
                          'unreachable, broken or without log_bin and log_slave_updates)', force)
            return None
    journal.check('candidate_eligible', chosen.name, chosen.promotion != 'excluded',
                  'marked excluded from promotion' if chosen.promotion == 'excluded' else
                  'elected (%s, %s)' % (chosen.promotion, sets[chosen.name]), force)
    problem = binlog_problem(chosen, old)
    journal.check('candidate_binlog', chosen.name, not problem, problem or 'log_bin ON, log_slave_updates ON', force)
    return chosen


def _diverged(usable, sets, journal, force):
    for i, node in enumerate(usable):
        for other in usable[i + 1:]:
            for kind, domains in divergence(sets[node.name], sets[other.name]):
                if kind == 'diverged':
                    journal.check('diverged', node.name, False, 'its history differs from %s\'s in GTID domains %s'
                                  % (other.name, domains), force)


def _plan(old, chosen, usable, donors, tree=None):
    steps = ['%s: if reachable, SET GLOBAL read_only = ON and kill client connections (fence; never made writable '
             'again)' % old.name,
             '%s: STOP SLAVE IO_THREAD, then wait until the SQL thread has applied the relay log'
             % ', '.join(n.name for n in usable),
             'elect the most advanced replica (preferred ones first, never excluded ones): %s' % chosen.name]
    for donor in donors:
        steps.append('%s: catch up from %s, which has transactions it lacks' % (chosen.name, donor.name))
    steps.append('%s: stop replication, RESET SLAVE ALL, SET GLOBAL read_only = OFF (the new master)' % chosen.name)
    for node in usable:
        if node is not chosen:
            steps.append('%s: replicate from %s (%s:%s) by GTID, then check that it does'
                         % (node.name, chosen.name, chosen.host, chosen.port))
    for name, up in (tree or {}).items():
        if up != chosen.name or name not in [n.name for n in usable]:
            steps.append('%s: stays a replica of %s (not stopped, not repointed)' % (name, up))
    return steps
