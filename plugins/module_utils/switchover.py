# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planned switchover: hand the master role to a replica without losing a committed write.

Usable without Ansible::

    from ansible_collections.replicant.mysql.plugins.module_utils.instance import instance_from_spec
    from ansible_collections.replicant.mysql.plugins.module_utils.switchover import switchover
    nodes = [instance_from_spec(dict(name='db1', host='10.0.0.11', login_user='admin', login_password='pw',
                                     repl_user='repl', repl_password='pw')), ...]
    result = switchover(nodes, master='db1', candidate='db2')

Everything that can refuse runs before anything changes (``prechecks``). The critical section
(no one can write) is short and runs on connections opened beforehand:

1. old master: read_only (super_read_only on MySQL), kill client sessions, FLUSH TABLES WITH READ
   LOCK (bounded by lock_wait_timeout), kill again, read the final GTID set / binlog position;
2. the candidate executes up to it (bounded: on timeout the old master is made writable again);
3. the candidate becomes writable (nothing can reach it from the locked old master any more), then
   stops replicating and forgets its master (RESET SLAVE ALL).

Then the old master is unlocked (it stays read-only) and the old master's other direct replicas and the old
master itself are pointed at the new master concurrently (with a short connect retry and a heartbeat), and each
is verified to replicate.

The servers may form a tree (``replicant_master``: a relay and its replicas). Its one rule
(``inventory.promoted``): the candidate, a direct replica of the master, keeps its own replicas; the old master
and the other direct replicas go below it; a relay's replicas stay below their relay, replicating all along:
they are never stopped, repointed or waited for (the prechecks only ask that they replicate from their relay).

Routing (``router``, see router.py) is a step of the critical section: ``demote`` the instant the old
master is read-only (before its client sessions are killed and it is locked, so that reconnecting clients
fail at the router instead of hammering it), ``promote`` the instant the new master is writable (before any replica is repointed),
``undo`` when the switchover is undone, ``failed`` when anything fails past the point of no return
(clients are routed to the writable server, and the result says who is writable, who does not
replicate and why).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication, semisync
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import (
    DEFAULTS as INSTANCE_DEFAULTS, can_replicate_from, reasons_text)
from ansible_collections.replicant.mysql.plugins.module_utils.inventory import promoted
from ansible_collections.replicant.mysql.plugins.module_utils.lease import Lease, end, other_writable, resumed_result, take
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import (
    Journal, PromotionError, advancement, connect_all, declared_tree, describe, direct_replicas, fail_safe_state,
    kill_clients, point_at, read_all, replicates_from, replication_account_problem, route_failed, run_parallel,
    running_ok, source_problem, thread_problem, validate_force, verify_replicating, writable_servers)
from ansible_collections.replicant.mysql.plugins.module_utils.router import RouterError, make_router
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

# The prechecks, in the order they run; each may be skipped by name with ``force``.
CHECKS = (
    'reachable',            # every server answers
    'candidate_eligible',   # the candidate is not marked excluded, and is a direct replica of the master
    'replica_of_master',    # every replica replicates from its declared master (the master, or its relay)
    'replication_running',  # their IO and SQL threads run without error
    'candidate_binlog',     # the candidate writes a binlog with the replicated transactions in it
    'candidate_version',    # same flavor as the master, same or newer version
    'replication_filters',  # the candidate filters nothing the others (or the master's binlog) keep
    'candidate_lag',        # the candidate is at most max_lag seconds behind
    'errant_transactions',  # no replica has transactions the master lacks
    'long_transactions',    # no transaction on the master older than long_transaction seconds
    'replication_account',  # the servers that will replicate from the candidate can log in there with the account
    'router',               # the router can move the clients (e.g. the HAProxy backend has both servers)
)
LONG_TRANSACTIONS = ('SELECT trx_mysql_thread_id AS thread, TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS seconds '
                     'FROM information_schema.INNODB_TRX WHERE trx_started < NOW() - INTERVAL %s SECOND')
DEFAULTS = dict(force=(), max_lag=INSTANCE_DEFAULTS['max_lag'], long_transaction=10, lock_wait_timeout=5,
                wait_timeout=10, verify_timeout=10, include_old_master=True, kill_connections=True, gtid=None,
                router=None, connect_retry=3, heartbeat_period=2.0)


# -- prechecks -----------------------------------------------------------------------------------
def prechecks(nodes, master, candidate, journal, force=(), max_lag=DEFAULTS['max_lag'],
              long_transaction=DEFAULTS['long_transaction'], router=None, declared=None):
    """Run every check against fresh facts; returns the candidate Instance (elected when None).

    Replicas are read before the master so that a transaction arriving in between cannot look errant.
    ``declared``: the tree (``declared_tree``; default: from the nodes' declared masters).
    """
    by_name = dict((n.name, n) for n in nodes)
    old = by_name[master]
    declared = declared or declared_tree(nodes, master)
    replicas = read_all([n for n in nodes if n is not old])
    if not old.error:
        old.read()
    for node in nodes:
        journal.check('reachable', node.name, not node.error, node.error or 'reachable', force)
    if old.error:
        return None
    old.facts['long_transactions'] = old.server.sql(LONG_TRANSACTIONS, (int(long_transaction),)) \
        if long_transaction else []
    direct = direct_replicas(replicas, declared)
    chosen = by_name[candidate] if candidate else elect_switchover(direct, old)
    if chosen is None:
        journal.check('candidate_eligible', master, False, 'no direct replica of %s can be promoted (every one is '
                      'excluded, unreachable or not replicating from it)' % master, force)
        return None
    if chosen.error:
        return chosen
    relay = declared['replicas'][chosen.name]
    journal.check('candidate_eligible', chosen.name, chosen.promotion != 'excluded' and relay == master,
                  'marked excluded from promotion' if chosen.promotion == 'excluded' else 'may be promoted'
                  if relay == master else 'a replica of %s, not of the master %s: promote %s (its replicas follow it), '
                  'or move %s below %s first (playbooks/relocate.yml) and declare it so' % (
                      relay, master, relay, chosen.name, master), force)
    for node in replicas:
        source = by_name[declared['replicas'][node.name]]
        problem = source_problem(node, source, replicas + [old])
        journal.check('replica_of_master', node.name, not problem, problem or 'replicates from %s' % source.name, force)
        journal.check('replication_running', node.name, running_ok(node.status),
                      'IO and SQL threads running' if running_ok(node.status) else thread_problem(node.status), force)
    facts = chosen.facts
    master_gtid = old.facts['gtid'].union(parse_gtid(old.facts['gtid_executed'], old.facts['flavor'].name))
    # The old master and its other direct replicas will replicate from the candidate once it has all the master has
    # (a relay's replicas stay below their relay).
    followers = [n for n in [old] + direct if n is not chosen]
    after = [can_replicate_from(n, chosen, source_gtid=master_gtid) for n in followers]
    binlog = [r for reasons in after for r in reasons if r[0] == 'binlog'][:1]
    journal.check('candidate_binlog', chosen.name, not binlog and facts['log_replica_updates'],
                  reasons_text(binlog) or 'log_bin %s, log_slave_updates %s' % (
                      _on(facts['log_bin']), _on(facts['log_replica_updates'])), force)
    same_or_newer = facts['flavor'].name == old.facts['flavor'].name and facts['flavor'].version >= old.facts['flavor'].version
    journal.check('candidate_version', chosen.name, same_or_newer,
                  '%s, master %s' % (facts['flavor'], old.facts['flavor']), force)
    journal.check('replication_filters', chosen.name, *_filter_check(chosen, direct, old), force=force)
    lag = (facts['status'] or {}).get('seconds_behind')
    journal.check('candidate_lag', chosen.name, lag is not None and lag <= max_lag,
                  'unknown (SQL or IO thread not running)' if lag is None else '%s s behind (limit %s s)' % (lag, max_lag),
                  force)
    for node in replicas:
        extra = reasons_text(can_replicate_from(node, old, source_gtid=master_gtid), ('errant', 'diverged'))
        journal.check('errant_transactions', node.name, not extra, extra or 'none', force)
    long_trx = old.facts['long_transactions']
    journal.check('long_transactions', master, not long_trx,
                  'none over %s s' % long_transaction if not long_trx else
                  'transactions running for %s s (connections %s); they would hold up the lock' % (
                      ', '.join(str(r['seconds']) for r in long_trx), ', '.join(str(r['thread']) for r in long_trx)),
                  force)
    followers = [n.name for n in followers]
    problem = replication_account_problem(chosen, followers)
    journal.check('replication_account', chosen.name, not problem, problem or '%s can log in with %s and replicate'
                  % (', '.join(followers) or 'its replicas', chosen.repl_user), force)
    if router is not None and router.enabled:
        problems = router.check([n.name for n in nodes])
        journal.check('router', master, not problems, '; '.join(problems) or '%s can route to %s and %s'
                      % (router.describe(), master, chosen.name), force)
    return chosen


def verify_current(nodes, master, declared=None):
    """What differs from "``master`` is the writable master and every other node replicates from its declared master"
    ([] when nothing; ``declared``: the tree, by default every node directly below ``master``)."""
    connect_all(nodes)
    read_all(nodes)
    by_name = dict((n.name, n) for n in nodes)
    old = by_name[master]
    problems = ['%s: unreachable: %s' % (n.name, n.error) for n in nodes if n.error]
    if not old.error:
        if old.facts['read_only']:
            problems.append('%s is read-only' % master)
        if old.status:
            problems.append('%s replicates from %s:%s' % (master, old.status['master_host'], old.status['master_port']))
    for node in nodes:
        if node is old or node.error:
            continue
        source = by_name[(declared or {}).get('replicas', {}).get(node.name) or master]
        if not node.status:
            problems.append('%s does not replicate from anyone' % node.name)
        elif not source.error and not replicates_from(node.status, source):
            problems.append('%s replicates from %s:%s, not from %s'
                            % (node.name, node.status['master_host'], node.status['master_port'], source.name))
        elif not running_ok(node.status):
            problems.append('%s does not replicate: %s' % (node.name, thread_problem(node.status)))
        if not node.facts['read_only']:
            problems.append('%s is writable' % node.name)
    return problems


def _on(flag):
    return 'ON' if flag else 'OFF'


def _filter_check(chosen, replicas, old):
    mine = chosen.facts['filters']
    differ = [n.name for n in replicas if n is not chosen and n.facts['filters'] != mine]
    logged_differ = chosen.facts['binlog_filters'] != old.facts['binlog_filters']
    if differ or logged_differ:
        return False, 'replication filters %s differ from those of %s%s' % (
            mine or 'none', ', '.join(differ) or '-',
            '; binlog filters %s, the master has %s' % (chosen.facts['binlog_filters'] or 'none',
                                                        old.facts['binlog_filters'] or 'none') if logged_differ else '')
    return True, 'same as the other replicas (%s)' % (mine or 'none')


def elect_switchover(replicas, old):
    """The best replica to promote: not excluded, replicating from ``old``, running; preferred first, then the furthest."""
    pool = [n for n in replicas if n.promotion != 'excluded' and replicates_from(n.status, old)
            and running_ok(n.status)]
    if not pool:
        return None
    order = dict((n.name, i) for i, n in enumerate(replicas))
    return max(pool, key=lambda n: (n.promotion == 'preferred', advancement(n),
                                    -(n.status['seconds_behind'] or 0), -order[n.name]))


# -- the critical section ------------------------------------------------------------------------
# Seconds the critical section may take beyond lock_wait_timeout + wait_timeout (the statements around them).
CRITICAL_SLACK = 1.0
# Seconds of the bound kept for the promotion after the wait for the candidate.
PROMOTE_RESERVE = 0.5
# The candidate turns writable only before (deadline - CLOCK_MARGIN) on its own clock (covers the error of the offset).
CLOCK_MARGIN = 0.05
# Seconds the undo may take to make the old master writable and unlocked again.
UNDO_TIMEOUT = 5.0


def critical_bound(o):
    """Seconds the critical section (old master read-only until the candidate is writable, or the switchover is
    undone) may take: lock_wait_timeout + wait_timeout + CRITICAL_SLACK; the undo then takes at most UNDO_TIMEOUT."""
    return o['lock_wait_timeout'] + o['wait_timeout'] + CRITICAL_SLACK


def clock_offset(server):
    """The server's clock minus this host's (seconds), from one round trip."""
    before = time.time()
    theirs = float(server.value('SELECT UNIX_TIMESTAMP(NOW(6))'))
    return theirs - (before + time.time()) / 2


class _Switch:
    """One switchover run; keeps what is needed to undo or finish it."""

    def __init__(self, nodes, old, new, journal, options, router, lease):
        self.nodes, self.old, self.new, self.journal, self.o = nodes, old, new, journal, options
        self.router, self.lease = router, lease
        self.others = [n for n in nodes if n is not old and n is not new]
        self.locked = False
        self.demoted = False
        self.promoted = False
        self.undone = False  # undone before the point of no return: the old master writable again and unlocked
        self.final = None
        self.new_position = None
        self.gtid = options['gtid']
        self.outage_ms = None
        self.routed_ms = None
        self.problems = {}   # past the point of no return: what failed (router, reset), by what

    def wait_candidate(self, pos, locked=False, timeout=None):
        """Until the candidate has executed ``pos``; ``locked`` (under the lock): one round trip when it is there."""
        where = dict(gtid=pos['gtid_executed']) if self.gtid else dict(position=Position(pos['file'], pos['pos']))
        replication.wait_for_pos(self.new.server, timeout=self.o['wait_timeout'] if timeout is None else timeout,
                                 require_running=not locked, quick=locked, **where)

    def presync(self, rounds=4, short=0.02):
        """Before the lock: let the candidate catch up with the master as it is now (shortens the wait under the lock).

        A round that took long let the master write more meanwhile: catch up again (at most ``rounds`` in all,
        within wait_timeout) until a round is ``short`` seconds or stops shrinking.
        """
        deadline = time.time() + self.o['wait_timeout']
        done, took, previous = 0, None, None
        while True:
            started = time.time()
            try:
                self.wait_candidate(replication.fetch_master_pos(self.old.server),
                                    timeout=max(int(deadline - started), 1) if done else None)
            except ServerError as exc:
                if done:
                    break  # it did catch up once: the wait under the lock is bounded (and undone on timeout)
                raise PromotionError('switchover refused, nothing was changed: %s: candidate_lag: could not catch up '
                                     'with %s before the lock: %s' % (self.new.name, self.old.name, exc))
            previous, took, done = took, time.time() - started, done + 1
            if done >= rounds or took <= short or time.time() >= deadline or \
                    (previous is not None and took > 0.7 * previous):
                break
        self.journal.step(self.new.name, 'caught up with %s before the lock (%d round%s, the last %.0f ms)'
                          % (self.old.name, done, '' if done == 1 else 's', took * 1000))

    # 1-3: lock, wait, promote
    def critical(self):
        old, new, journal = self.old, self.new, self.journal
        server = old.server
        spare = {server.connection_id} | self.lease.connection_ids(old.name)
        self.lease.record('demoting', old_master=old.name, new_master=new.name,
                          include_old_master=self.o['include_old_master'])
        started = time.time()
        deadline = started + critical_bound(self.o)
        try:
            with server.deadline(deadline), new.server.deadline(deadline):
                self._lock_wait_promote(spare, started, deadline)
        except Exception as exc:
            if self.promoted:
                raise  # past the point of no return: never make the old master writable again
            self.undo(exc)
        try:
            new.server.run('stop_replica')
            new.server.run('reset_replica', all=True)
            journal.step(new.name, 'replication stopped and reset')
        except ServerError as exc:
            self.problems[new.name] = 'still has its replication configuration (STOP SLAVE / RESET SLAVE ALL failed: ' \
                                      '%s); nothing was repointed' % exc
            raise PromotionError('%s is the new master (writable) and %s is read-only, but %s still has its replication '
                                 'configuration: %s' % (new.name, old.name, new.name, exc))
        finally:
            if self.locked:
                self.unlock()
        return self.outage_ms

    def _lock_wait_promote(self, spare, started, deadline):
        """Steps 1-3; every statement on both servers is bounded by ``deadline`` (their connections' deadline)."""
        old, new, journal = self.old, self.new, self.journal
        server = old.server
        offset = clock_offset(new.server)
        server.sql('SET SESSION lock_wait_timeout = %d' % int(self.o['lock_wait_timeout']))
        replication.set_read_only(server, True)
        journal.step(old.name, 'read_only on')
        if self.router.enabled:
            # At once: clients that reconnect now fail at the router instead of hammering the read-only old
            # master (with ERROR 1290 in a tight loop) while it is being locked.
            self.demoted = True
            self.router.route('demote', old, new, self.others)
        killed = kill_clients(server, spare) if self.o['kill_connections'] else []
        self.locked = True
        self.final = replication.flush_and_lock(server, self.o['lock_wait_timeout'])
        journal.step(old.name, 'FLUSH TABLES WITH READ LOCK held')
        if self.o['kill_connections']:
            killed += kill_clients(server, spare)
        journal.step(old.name, 'killed %d client connection(s); final position %s, GTID %s'
                     % (len(killed), self.final['position'], self.final['gtid_executed'] or '-'))
        self.wait_candidate(self.final, locked=True,
                            timeout=min(self.o['wait_timeout'], max(0.0, deadline - time.time() - PROMOTE_RESERVE)))
        journal.step(new.name, 'has executed everything %s committed' % old.name)
        if not self.gtid:
            self.new_position = replication.fetch_master_pos(new.server)
        # Writable first: nothing can reach it from the locked old master any more. Only if the candidate runs
        # the statement before the deadline (its clock): one that hangs and wakes later stays read-only.
        new.server.run('set_writable_until', until=round(deadline + offset - CLOCK_MARGIN, 6))
        self.promoted = True
        self.outage_ms = round((time.time() - started) * 1000, 1)
        journal.step(new.name, 'writable: the new master')
        if self.router.enabled:
            # the clients' outage ends here, so before anything else (a rerun completes a promotion whose
            # candidate is writable whatever the record says)
            try:
                self.router.route('promote', old, new, self.others)
                self.routed_ms = round((time.time() - started) * 1000, 1)
            except RouterError as exc:
                self.problems['router'] = str(exc)
        # where a rerun finds it should this run die now (not on the old master: it is locked)
        self.lease.record('promoted', skip=(old.name,), gtid=self.final['gtid_executed'])

    def unlock(self):
        try:
            replication.unlock(self.old.server)
            self.journal.step(self.old.name, 'unlocked (read_only stays on)' if self.promoted else 'unlocked')
        except ServerError:
            self.old.server.close()  # closing the connection releases the lock too
            self.journal.step(self.old.name, 'lock connection closed')
        self.locked = False

    def undo(self, exc):
        """Before the point of no return: the old master becomes writable again, the candidate a replica."""
        old, new, journal = self.old, self.new, self.journal
        notes = []
        try:
            with old.server.deadline(time.time() + UNDO_TIMEOUT):
                if self.locked:
                    self.unlock()
                replication.set_read_only(old.server, False)
            self.undone = not self.locked
            notes.append('%s is writable again' % old.name)
            journal.step(old.name, 'undo: writable again')
        except ServerError as error:
            writable = other_writable(self.nodes, [old.name])
            notes.append('%s could NOT be made writable again (%s): %s' % (old.name, error, (
                '%s accept writes (not this switchover\'s doing): do not run the failover; check the installation '
                'with playbooks/topology.yml' % ', '.join(writable)) if writable else (
                'no server accepts writes now; check it and run the failover if it is gone')))
        if self.demoted:
            try:
                self.router.route('undo', old, new, self.others)
                notes.append('the router points at %s again' % old.name)
            except RouterError as error:
                notes.append('the router could NOT be pointed back at %s: %s; once the router answers, point it back by '
                             'hand: %s' % (old.name, error, self.router.by_hand('undo', old, new, self.others)))
        raise PromotionError('switchover from %s to %s failed and was undone: %s. %s'
                             % (old.name, new.name, exc, '; '.join(notes)))

    # 4: repoint
    def repoint(self, targets):
        results = {}
        reconnect = dialect.reconnect_options(self.o['connect_retry'], self.o['heartbeat_period'])

        def point(node):
            started = time.time()
            server = node.server
            flavor = node.facts['flavor']
            if node is self.old:
                replication.stop_replication(server)
                for statement in dialect.former_master_statements(flavor) if self.gtid else []:
                    server.sql(statement)
            elif not self.gtid:
                replication.wait_for_pos(server, position=Position(self.final['file'], self.final['pos']),
                                         timeout=self.o['wait_timeout'])
            position = Position(self.new_position['file'], self.new_position['pos']) if self.new_position else None
            options = self.new.follow(flavor, self.gtid, position)
            options.update(reconnect)
            point_at(server, options)
            verify_replicating(server, self.o['verify_timeout'])
            results[node.name] = round((time.time() - started) * 1000, 1)
            self.journal.step(node.name, 'replicates from %s' % self.new.name)
        failures = {name: exc for name, exc in run_parallel(point, targets).items() if exc is not None}
        return results, failures


def switchover(nodes, master, candidate=None, check_mode=False, **options):
    """Move the master role from ``master`` to ``candidate`` (a replica; elected when None).

    ``nodes``: every server (Instance) of the installation, the master included. Options (see DEFAULTS):
    force (check names to skip), max_lag, long_transaction, lock_wait_timeout, wait_timeout,
    verify_timeout (seconds), include_old_master, kill_connections, gtid (None: when every server has it),
    router (a router.Router or the module's router option), connect_retry and heartbeat_period (seconds,
    set on every repointed server).

    ``candidate == master``: nothing to do, once the servers confirm that ``master`` is the writable master
    and every other node replicates from it (else refused, naming what differs).
    Returns the result dict; raises PromotionError (with ``.result``) on refusal or failure. Past the point
    of no return the result has ``promoted`` true, ``state`` (who is writable, who does not replicate and
    why) and the router was told to route to the writable server (phase ``failed``).
    """
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError('switchover() got unknown options %s' % ', '.join(unknown))
    o = dict(DEFAULTS, **options)
    force = validate_force(o['force'], CHECKS)
    names = [n.name for n in nodes]
    for name in [master] + ([candidate] if candidate else []):
        if name not in names:
            raise ValueError('%s is not one of the servers given (%s)' % (name, ', '.join(names)))
    if len(set(names)) != len(names):
        raise ValueError('server names must be unique: %s' % ', '.join(names))
    declared = declared_tree(nodes, master)
    journal = Journal()
    router = make_router(o['router'], journal, 'switchover')
    result = dict(changed=False, old_master=master, new_master=candidate, checks=journal.checks, steps=journal.steps,
                  routing=router.calls, promoted=False)
    lease = Lease(nodes, 'switchover', journal)
    try:
        if candidate == master:
            differ = verify_current(nodes, master, declared)
            if differ:
                raise PromotionError('switchover refused, nothing was changed: %s is to stay the master, but the servers '
                                     'are not as the inventory says: %s. Run playbooks/topology.yml to see the '
                                     'installation, and correct the inventory' % (master, '; '.join(differ)), result)
            result.update(msg='%s is the master already; nothing to do' % master,
                          topology=dict(master=master, replicas=[n for n in names if n != master], left_out=[],
                                        tree=declared['replicas']))
            return result
        connect_all(nodes, journal)
        resumed = take(lease, nodes, journal, router, o, check_mode)
        if resumed and resumed['master'] != master:
            return resumed_result(result, resumed, nodes, check_mode)
        new = prechecks(nodes, master, candidate, journal, force, o['max_lag'], o['long_transaction'], router,
                        declared)
        result['new_master'] = new.name if new else None
        result['forced_checks'] = journal.forced()
        refusals = journal.refusals()
        if refusals or new is None:
            raise PromotionError('switchover refused, nothing was changed: %s%s' % (
                describe(refusals), lease.last_procedure(refusals)), result)
        old = next(n for n in nodes if n.name == master)
        replicas = [n for n in direct_replicas(nodes, declared) if n is not new and not n.error]
        gtid = o['gtid'] if o['gtid'] is not None else all(n.facts['gtid_enabled'] for n in [old, new] + replicas)
        targets = replicas + ([old] if o['include_old_master'] else [])
        tree = promoted(declared, new.name, o['include_old_master'])['replicas']
        kept = [(name, up) for name, up in tree.items() if up != new.name or declared['replicas'].get(name) == new.name]
        result.update(gtid=gtid, plan=(resumed or {}).get('done', []) + plan(old, new, targets, gtid, o, router, kept),
                      topology=dict(master=new.name, replicas=[n.name for n in targets],
                                    left_out=[] if o['include_old_master'] else [old.name],
                                    unreachable=[n.name for n in nodes if n.error], tree=tree))
        if check_mode:
            result.update(changed=True, msg='check mode: would switch the master from %s to %s' % (master, new.name))
            return result
        o['gtid'] = gtid
        run = _Switch(nodes, old, new, journal, o, router, lease)
        result['changed'] = True
        try:
            run.presync()
            run.critical()
        except Exception as exc:
            if not run.promoted:
                result['undone'] = run.undone  # as it was: nothing for a later procedure to resume
                if isinstance(exc, PromotionError):
                    exc.result = result
                raise
            _finish_failed(run, result, targets, [], exc)
        result.update(promoted=True, outage_ms=run.outage_ms, final_gtid=run.final['gtid_executed'],
                      final_position=run.final['position'])
        if run.routed_ms is not None:
            result['routed_ms'] = run.routed_ms
        try:
            repointed, failures = run.repoint(targets)
        except Exception as exc:  # a bug or a broken thread: still route and report
            _finish_failed(run, result, targets, [], exc)
        result['repoint_ms'] = repointed
        result['semisync'] = semisync.move(new, [n for n in nodes if n is not new and not n.error], journal)
        result['total_ms'] = journal.ms()
        if failures or run.problems:
            _finish_failed(run, result, targets, failures, None)
        result['msg'] = '%s is the master now (write outage %s ms%s); %s replicate from it' % (
            new.name, result['outage_ms'], ', routed after %s ms' % run.routed_ms if run.routed_ms is not None else '',
            ', '.join(n.name for n in targets) or 'no servers')
        return result
    finally:
        # A run that changed something and did not finish leaves its record for the next one to resume from.
        end(lease, result)
        for node in nodes:
            node.close()


def _finish_failed(run, result, targets, failures, exc):
    """Past the point of no return: route to the writable server, record the exact state, raise PromotionError."""
    old, new = run.old, run.new
    result.update(promoted=True, outage_ms=run.outage_ms, total_ms=run.journal.ms())
    if run.final:
        result.update(final_gtid=run.final['gtid_executed'], final_position=run.final['position'])
    if run.routed_ms is not None:
        result['routed_ms'] = run.routed_ms
    broken = dict((name, str(error)) for name, error in (failures or {}).items())
    if exc is not None:
        run.problems.setdefault('error', str(exc))
        repointed = set(result.get('repoint_ms') or ())
        for node in targets:
            if node.name not in repointed and node.name not in broken:
                broken[node.name] = 'not repointed: %s' % exc
    if broken:
        result['failed_repoints'] = broken
    result['topology']['replicas'] = [n.name for n in targets if n.name not in broken]
    result['topology']['broken'] = sorted(broken)
    writable = writable_servers([new, old])
    routed = route_failed(run.router, old, new, writable, run.others)
    state = fail_safe_state(writable, broken, run.problems, routed, new.name)
    result['state'] = state
    raise PromotionError('%s is the new master (writable) and %s is read-only, but the switchover did not finish: %s'
                         % (new.name, old.name, state['summary']), result)


def plan(old, new, targets, gtid, o, router=None, kept=()):
    how = 'by GTID' if gtid else "at %s's binlog position after the switch" % new.name
    routed = router is not None and router.enabled
    steps = ['%s: SET GLOBAL read_only = ON%s%s; FLUSH TABLES WITH READ LOCK (lock_wait_timeout %s s); '
             'read its final GTID set and binlog position' % (
                 old.name, '; %s: demote (clients no longer reach %s)' % (router.describe(), old.name) if routed else '',
                 '; kill client connections (before and after the lock)' if o['kill_connections'] else '',
                 o['lock_wait_timeout']),
             '%s: wait until it has executed all of it (at most %s s; else %s is made writable again%s)'
             % (new.name, o['wait_timeout'], old.name, ' and the router points at it again' if routed else ''),
             '%s: SET GLOBAL read_only = OFF (the new master)%s, then STOP SLAVE, RESET SLAVE ALL' % (
                 new.name, '; %s: promote (clients reach %s)' % (router.describe(), new.name) if routed else ''),
             '%s: UNLOCK TABLES (read_only stays on)' % old.name]
    for node in targets:
        steps.append('%s: replicate from %s (%s:%s) %s%s (connect retry %s s, heartbeat %s s), then check that it does'
                     % (node.name, new.name, new.host, new.port, how,
                        ' (as former master, from its own GTID position)' if node is old and gtid else '',
                        o['connect_retry'], o['heartbeat_period']))
    for name, up in kept:
        steps.append('%s: stays a replica of %s (not stopped, not repointed)' % (name, up))
    if old not in targets:
        steps.append('%s: left out of the new topology (read-only, not replicating)' % old.name)
    return steps
