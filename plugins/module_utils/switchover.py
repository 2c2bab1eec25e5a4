# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planned switchover: hand the master role to a replica without losing a committed write.

Usable without Ansible::

    from ansible_collections.replicant.mysql.plugins.module_utils.switchover import Node, switchover
    nodes = [Node('db1', Server(host='10.0.0.11', user='admin', password='pw'), '10.0.0.11', 3306,
                  repl_user='repl', repl_password='pw'), ...]
    result = switchover(nodes, master='db1', candidate='db2')

Everything that can refuse runs before anything changes (``prechecks``). The critical section
(no one can write) is short and runs on connections opened beforehand:

1. old master: read_only (super_read_only on MySQL), kill client sessions, FLUSH TABLES WITH READ
   LOCK (bounded by lock_wait_timeout), kill again, read the final GTID set / binlog position;
2. the candidate executes up to it (bounded: on timeout the old master is made writable again);
3. the candidate becomes writable (nothing can reach it from the locked old master any more), then
   stops replicating and forgets its master (RESET SLAVE ALL).

Then the old master is unlocked (it stays read-only) and every other replica and the old master
are pointed at the new master concurrently, and each is verified to replicate.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import errant, parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.server import HAS_PYMYSQL, MISSING_PYMYSQL, Server, ServerError

# The prechecks, in the order they run; each may be skipped by name with ``force``.
CHECKS = (
    'reachable',            # every server answers
    'candidate_eligible',   # the candidate is not marked excluded
    'replica_of_master',    # every replica (the candidate too) replicates from the master
    'replication_running',  # their IO and SQL threads run without error
    'candidate_binlog',     # the candidate writes a binlog with the replicated transactions in it
    'candidate_version',    # same flavor as the master, same or newer version
    'replication_filters',  # the candidate filters nothing the others (or the master's binlog) keep
    'candidate_lag',        # the candidate is at most max_lag seconds behind
    'errant_transactions',  # no replica has transactions the master lacks
    'long_transactions',    # no transaction on the master older than long_transaction seconds
)
PROMOTION_CHOICES = ('preferred', 'neutral', 'excluded')

# Sessions that are no clients: replication threads and the server's own.
SPARED_COMMANDS = ('binlog dump', 'binlog dump gtid', 'daemon', 'slave_io', 'slave_sql', 'slave_worker', 'connect',
                   'killed')
SPARED_USERS = ('system user', 'event_scheduler', 'unauthenticated user')
PROCESSLIST = 'SELECT ID AS id, USER AS user, COMMAND AS command FROM information_schema.PROCESSLIST'
LONG_TRANSACTIONS = ('SELECT trx_mysql_thread_id AS thread, TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS seconds '
                     'FROM information_schema.INNODB_TRX WHERE trx_started < NOW() - INTERVAL %s SECOND')
# SHOW SLAVE STATUS / SHOW MASTER STATUS columns that filter what is replicated or logged.
REPLICA_FILTERS = ('Replicate_Do_DB', 'Replicate_Ignore_DB', 'Replicate_Do_Table', 'Replicate_Ignore_Table',
                   'Replicate_Wild_Do_Table', 'Replicate_Wild_Ignore_Table', 'Replicate_Do_Domain_Ids',
                   'Replicate_Ignore_Domain_Ids')
BINLOG_FILTERS = ('Binlog_Do_DB', 'Binlog_Ignore_DB')


class PromotionError(Exception):
    """A refusal or a failure; ``result`` holds what was found and done up to then."""

    def __init__(self, msg, result=None):
        Exception.__init__(self, msg)
        self.result = result or {}


class Node:
    """One server of the installation: its connection and the address other servers replicate from.

    ``repl_user`` / ``repl_password``: the account a replica of this server connects with.
    ``promotion``: 'preferred', 'neutral' or 'excluded' (never promoted).
    """

    def __init__(self, name, server, host, port=3306, repl_user=None, repl_password=None, promotion=None):
        if promotion not in (None, '') + PROMOTION_CHOICES:
            raise ValueError('%s: promotion must be one of %s, not %r' % (name, ', '.join(PROMOTION_CHOICES), promotion))
        self.name = name
        self.server = server
        self.host = host
        self.port = int(port or 3306)
        self.repl_user = repl_user
        self.repl_password = repl_password
        self.promotion = promotion or 'neutral'
        self.error = None       # why it could not be reached
        self.facts = {}

    def __repr__(self):
        return 'Node(%r)' % self.name

    def follow(self, replica_flavor, gtid=True, position=None):
        """change_master options that make a replica (of ``replica_flavor``) replicate from this node."""
        if not self.repl_user:
            raise ValueError('%s: no replication account given (repl_user) for its replicas' % self.name)
        options = dict(master_host=self.host, master_port=self.port, master_user=self.repl_user,
                       master_password=self.repl_password)
        options.update(dialect.follow_options(replica_flavor, gtid=gtid))
        if not gtid:
            options.update(master_log_file=position.file, master_log_pos=position.pos)
        return options


def node_from_spec(spec, defaults=None):
    """A Node from a dict (the ``servers`` option of the modules): name, host, port, login_*, repl_*, promotion.

    ``defaults`` supplies login_* / repl_* / connect_timeout values the entry leaves out.
    """
    merged = dict(defaults or {})
    merged.update({k: v for k, v in spec.items() if v is not None})
    if not merged.get('name'):
        raise ValueError('every server needs a name: %r' % (spec,))
    if not merged.get('host'):
        raise ValueError('server %s: the replication address (host) is missing' % merged['name'])
    server = Server(host=merged.get('login_host'), port=merged.get('login_port') or 3306, user=merged.get('login_user'),
                    password=merged.get('login_password'), unix_socket=merged.get('login_unix_socket'),
                    config_file=merged.get('config_file'), connect_timeout=merged.get('connect_timeout') or 10,
                    read_timeout=merged.get('read_timeout'), ssl_ca=merged.get('ca_cert'),
                    ssl_cert=merged.get('client_cert'), ssl_key=merged.get('client_key'),
                    check_hostname=merged.get('check_hostname'), name=merged['name'])
    return Node(merged['name'], server, merged['host'], merged.get('port') or 3306, merged.get('repl_user'),
                merged.get('repl_password'), merged.get('promotion'))


# -- bookkeeping -------------------------------------------------------------------------------
class Journal:
    """What was checked and done, with times (ms since the start); becomes part of the result."""

    def __init__(self):
        self.start = time.time()
        self.steps = []
        self.checks = []
        self.lock = threading.Lock()

    def ms(self):
        return round((time.time() - self.start) * 1000, 1)

    def step(self, host, action):
        with self.lock:
            self.steps.append(dict(ms=self.ms(), host=host, action=action))

    def check(self, name, host, ok, message, force=()):
        entry = dict(check=name, host=host, ok=bool(ok), message=message, forced=bool(not ok and name in force))
        self.checks.append(entry)
        return entry

    def refusals(self):
        return [c for c in self.checks if not c['ok'] and not c['forced']]

    def forced(self):
        return [c for c in self.checks if c['forced']]


def describe(checks):
    return '; '.join('%s: %s: %s' % (c['host'], c['check'], c['message']) for c in checks)


def validate_force(force, known):
    unknown = sorted(set(force or ()) - set(known))
    if unknown:
        raise ValueError('force names unknown checks %s; the checks are: %s' % (', '.join(unknown), ', '.join(known)))
    return tuple(force or ())


# -- facts ---------------------------------------------------------------------------------------
def connect_all(nodes, journal=None):
    """Open every connection (in parallel); a node that cannot be reached gets ``.error``."""
    def connect(node):
        try:
            node.server.connect()
            node.error = None
        except ServerError as exc:
            node.error = str(exc)
    run_parallel(connect, nodes)
    if journal:
        journal.step('*', 'connected to %d of %d servers' % (len([n for n in nodes if not n.error]), len(nodes)))
    return [n for n in nodes if n.error]


def run_parallel(action, nodes):
    """Run ``action(node)`` for every node in its own thread; return {name: exception or None}."""
    outcome = {}

    def run(node):
        try:
            action(node)
            outcome[node.name] = None
        except Exception as exc:  # reported per node by the caller
            outcome[node.name] = exc
    threads = [threading.Thread(target=run, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def replica_facts(node):
    """The replica's status (normalised), filters, executed GTID set and binlog settings."""
    server = node.server
    rows = server.run('show_replica_status')
    facts = dict(status=None, filters={})
    if rows:
        facts['status'] = dialect.normalize_replica_status(server.flavor, rows[0])
        facts['filters'] = _filters(rows[0], REPLICA_FILTERS)
    facts.update(_own_facts(server))
    node.facts = facts
    return facts


def master_facts(node, long_transaction=None):
    server = node.server
    facts = _own_facts(server)
    facts['master_pos'] = replication.fetch_master_pos(server)
    rows = server.run('show_master_status')
    facts['binlog_filters'] = _filters(rows[0], BINLOG_FILTERS) if rows else {}
    facts['long_transactions'] = server.sql(LONG_TRANSACTIONS, (int(long_transaction),)) if long_transaction else []
    facts['status'] = replication.replica_status(server)
    node.facts = facts
    return facts


def _own_facts(server):
    flavor = server.flavor
    binlog = server.one(dialect.sql(flavor, 'binlog_settings'))
    identity = server.one(dialect.sql(flavor, 'server_identity'))
    master = server.run('show_master_status')
    return dict(
        flavor=flavor,
        server_id=int(identity['server_id']),
        gtid=parse_gtid(server.value(dialect.sql(flavor, 'gtid_current_pos')) or '', flavor.name),
        gtid_enabled=bool(int(server.value(dialect.sql(flavor, 'gtid_enabled')) or 0)),
        log_bin=bool(int(binlog['log_bin'] or 0)),
        log_replica_updates=bool(int(binlog['log_replica_updates'] or 0)),
        own_binlog_filters=_filters(master[0], BINLOG_FILTERS) if master else {},
        read_only=replication.read_only_state(server),
    )


def _filters(row, columns):
    lowered = {str(k).lower(): v for k, v in row.items()}
    return {c: _clean(lowered.get(c.lower())) for c in columns if _clean(lowered.get(c.lower()))}


def _clean(value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    return ','.join(sorted(part.strip() for part in str(value or '').split(',') if part.strip()))


def replicates_from(status, master):
    """Whether a replica status points at ``master`` (by server_id when known, else by address)."""
    if not status:
        return False
    master_id = master.facts.get('server_id')
    if status.get('master_server_id') and master_id is not None:
        return status['master_server_id'] == master_id
    return (status.get('master_host'), status.get('master_port')) == (master.host, master.port)


def running_ok(status):
    return bool(status and status['io_running_ok'] and status['sql_running_ok']
                and not status['last_io_errno'] and not status['last_sql_errno'])


def thread_problem(status):
    if not status:
        return 'it is no replica'
    parts = ['IO thread %s, SQL thread %s' % (status['io_running'], status['sql_running'])]
    if status['last_io_errno']:
        parts.append('IO error %s: %s' % (status['last_io_errno'], status['last_io_error']))
    if status['last_sql_errno']:
        parts.append('SQL error %s: %s' % (status['last_sql_errno'], status['last_sql_error']))
    return '; '.join(parts)


def advancement(node):
    """Sort key of how far a replica has got: GTID transactions, then executed coordinates."""
    status = node.facts.get('status') or {}
    position = (-1, -1)
    if status.get('relay_master_log_file'):
        pos = Position(status['relay_master_log_file'], status['exec_master_log_pos'] or 0)
        position = (pos.index, pos.pos)
    return node.facts['gtid'].count(), position


# -- prechecks -----------------------------------------------------------------------------------
def prechecks(nodes, master, candidate, journal, force=(), max_lag=5, long_transaction=10):
    """Run every check against fresh facts; returns the candidate Node (elected when None).

    Replicas are read before the master so that a transaction arriving in between cannot look errant.
    """
    by_name = {n.name: n for n in nodes}
    old = by_name[master]
    for node in nodes:
        journal.check('reachable', node.name, not node.error, node.error or 'reachable', force)
    replicas = [n for n in nodes if n is not old and not n.error]
    for node in replicas:
        replica_facts(node)
    if old.error:
        return None
    master_facts(old, long_transaction)
    chosen = by_name[candidate] if candidate else elect_switchover(replicas, old)
    if chosen is None:
        journal.check('candidate_eligible', master, False, 'no replica of %s can be promoted (every one is excluded, '
                      'unreachable or not replicating from it)' % master, force)
        return None
    if chosen.error:
        return chosen
    journal.check('candidate_eligible', chosen.name, chosen.promotion != 'excluded',
                  'marked excluded from promotion' if chosen.promotion == 'excluded' else 'may be promoted', force)
    for node in replicas:
        status = node.facts['status']
        where = 'its master is %s:%s' % (status['master_host'], status['master_port']) if status else \
            'no replication configured'
        journal.check('replica_of_master', node.name, replicates_from(status, old),
                      'replicates from %s' % master if replicates_from(status, old) else
                      'does not replicate from %s (%s)' % (master, where), force)
        journal.check('replication_running', node.name, running_ok(status),
                      'IO and SQL threads running' if running_ok(status) else thread_problem(status), force)
    facts = chosen.facts
    journal.check('candidate_binlog', chosen.name, facts['log_bin'] and facts['log_replica_updates'],
                  'log_bin %s, log_slave_updates %s' % (_on(facts['log_bin']), _on(facts['log_replica_updates'])), force)
    same_or_newer = facts['flavor'].name == old.facts['flavor'].name and facts['flavor'].version >= old.facts['flavor'].version
    journal.check('candidate_version', chosen.name, same_or_newer,
                  '%s, master %s' % (facts['flavor'], old.facts['flavor']), force)
    journal.check('replication_filters', chosen.name, *_filter_check(chosen, replicas, old), force=force)
    lag = (facts['status'] or {}).get('seconds_behind')
    journal.check('candidate_lag', chosen.name, lag is not None and lag <= max_lag,
                  'unknown (SQL or IO thread not running)' if lag is None else '%s s behind (limit %s s)' % (lag, max_lag),
                  force)
    master_gtid = old.facts['gtid'].union(parse_gtid(old.facts['master_pos']['gtid_executed'], old.facts['flavor'].name))
    for node in replicas:
        extra = _errant(node.facts['gtid'], master_gtid)
        journal.check('errant_transactions', node.name, not extra,
                      'has transactions %s lacks: %s' % (master, extra) if extra else 'none', force)
    long_trx = old.facts['long_transactions']
    journal.check('long_transactions', master, not long_trx,
                  'none over %s s' % long_transaction if not long_trx else
                  'transactions running for %s s (connections %s); they would hold up the lock' % (
                      ', '.join(str(r['seconds']) for r in long_trx), ', '.join(str(r['thread']) for r in long_trx)),
                  force)
    return chosen


def _on(flag):
    return 'ON' if flag else 'OFF'


def _errant(replica_set, master_set):
    extra = errant(replica_set, master_set)
    conflicts = getattr(replica_set, 'conflicts', lambda other: [])(master_set)
    if conflicts:
        return '%s (diverged GTID domains %s)' % (extra or replica_set, ', '.join(str(d) for d in conflicts))
    return str(extra) if extra else ''


def _filter_check(chosen, replicas, old):
    mine = chosen.facts['filters']
    differ = [n.name for n in replicas if n is not chosen and n.facts['filters'] != mine]
    logged_differ = chosen.facts['own_binlog_filters'] != old.facts['binlog_filters']
    if differ or logged_differ:
        return False, 'replication filters %s differ from those of %s%s' % (
            mine or 'none', ', '.join(differ) or '-',
            '; binlog filters %s, the master has %s' % (chosen.facts['own_binlog_filters'] or 'none',
                                                        old.facts['binlog_filters'] or 'none') if logged_differ else '')
    return True, 'same as the other replicas (%s)' % (mine or 'none')


def elect_switchover(replicas, old):
    """The best replica to promote: not excluded, replicating from ``old``, running; preferred first, then the furthest."""
    pool = [n for n in replicas if n.promotion != 'excluded' and replicates_from(n.facts['status'], old)
            and running_ok(n.facts['status'])]
    if not pool:
        return None
    order = {n.name: i for i, n in enumerate(replicas)}
    return max(pool, key=lambda n: (n.promotion == 'preferred', advancement(n),
                                    -(n.facts['status']['seconds_behind'] or 0), -order[n.name]))


# -- the critical section ------------------------------------------------------------------------
def kill_clients(server, spare_ids):
    """Kill every client session except ``spare_ids`` and the replication / system threads; return the ids."""
    killed = []
    for row in server.sql(PROCESSLIST):
        if int(row['id']) in spare_ids or str(row['user'] or '').lower() in SPARED_USERS \
                or str(row['command'] or '').lower() in SPARED_COMMANDS:
            continue
        try:
            server.sql('KILL CONNECTION %d' % int(row['id']))
            killed.append(int(row['id']))
        except ServerError:
            pass  # it ended by itself meanwhile
    return killed


class _Switch:
    """One switchover run; keeps what is needed to undo or finish it."""

    def __init__(self, nodes, old, new, journal, options):
        self.nodes, self.old, self.new, self.journal, self.o = nodes, old, new, journal, options
        self.locked = False
        self.promoted = False
        self.final = None
        self.new_position = None
        self.gtid = options['gtid']

    def wait_candidate(self, pos):
        if self.gtid:
            replication.wait_for_pos(self.new.server, gtid=pos['gtid_executed'], timeout=self.o['wait_timeout'])
        else:
            replication.wait_for_pos(self.new.server, position=Position(pos['file'], pos['pos']),
                                     timeout=self.o['wait_timeout'])

    def presync(self):
        """Before the lock: let the candidate catch up with the master as it is now (shortens the wait under the lock)."""
        try:
            self.wait_candidate(replication.fetch_master_pos(self.old.server))
        except ServerError as exc:
            raise PromotionError('switchover refused, nothing was changed: %s: candidate_lag: could not catch up with '
                                 '%s before the lock: %s' % (self.new.name, self.old.name, exc))
        self.journal.step(self.new.name, 'caught up with %s before the lock' % self.old.name)

    # 1-3: lock, wait, promote
    def critical(self):
        old, new, journal = self.old, self.new, self.journal
        server = old.server
        spare = {server.connection_id}
        started = time.time()
        try:
            server.sql('SET SESSION lock_wait_timeout = %d' % int(self.o['lock_wait_timeout']))
            replication.set_read_only(server, True)
            journal.step(old.name, 'read_only on')
            killed = kill_clients(server, spare) if self.o['kill_connections'] else []
            self.locked = True
            self.final = replication.flush_and_lock(server, self.o['lock_wait_timeout'])
            journal.step(old.name, 'FLUSH TABLES WITH READ LOCK held')
            if self.o['kill_connections']:
                killed += kill_clients(server, spare)
            journal.step(old.name, 'killed %d client connection(s); final position %s, GTID %s'
                         % (len(killed), self.final['position'], self.final['gtid_executed'] or '-'))
            self.wait_candidate(self.final)
            journal.step(new.name, 'has executed everything %s committed' % old.name)
            if not self.gtid:
                self.new_position = replication.fetch_master_pos(new.server)
            # Writable first: nothing can reach it from the locked old master any more.
            replication.set_read_only(new.server, False)
            self.promoted = True
            outage = round((time.time() - started) * 1000, 1)
            journal.step(new.name, 'writable: the new master')
        except Exception as exc:
            if self.promoted:
                raise  # past the point of no return: never make the old master writable again
            self.undo(exc)
        try:
            new.server.run('stop_replica')
            new.server.run('reset_replica', all=True)
            journal.step(new.name, 'replication stopped and reset')
        except ServerError as exc:
            raise PromotionError('%s is the new master (writable) and %s is read-only, but %s still has its replication '
                                 'configuration: %s' % (new.name, old.name, new.name, exc))
        finally:
            if self.locked:
                self.unlock()
        return outage

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
        if self.locked:
            self.unlock()
        try:
            replication.set_read_only(old.server, False)
            notes.append('%s is writable again' % old.name)
            journal.step(old.name, 'undo: writable again')
        except ServerError as error:
            notes.append('%s could NOT be made writable again (%s): no server accepts writes now; '
                         'check it and run the failover if it is gone' % (old.name, error))
        raise PromotionError('switchover from %s to %s failed and was undone: %s. %s'
                             % (old.name, new.name, exc, '; '.join(notes)))

    # 4: repoint
    def repoint(self, targets):
        results = {}

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
            point_at(server, self.new.follow(flavor, self.gtid, position))
            verify_replicating(server, self.o['verify_timeout'])
            results[node.name] = round((time.time() - started) * 1000, 1)
            self.journal.step(node.name, 'replicates from %s' % self.new.name)
        failures = {name: exc for name, exc in run_parallel(point, targets).items() if exc is not None}
        return results, failures


def point_at(server, options):
    """Stop replication, CHANGE MASTER with exactly ``options``, start.

    Unlike replication.change_master this does not compare with the current settings: coordinates in
    the old master's binlog say nothing about the new master's.
    """
    replication.stop_replication(server)
    server.run('change_master', options=options)
    server.run('start_replica')


def verify_replicating(server, timeout):
    """Wait until both replication threads run (IO connected); raise with the reason otherwise."""
    deadline = time.time() + timeout
    while True:
        status = replication.replica_status(server)
        if running_ok(status):
            return status
        if (status and status['last_sql_errno']) or time.time() >= deadline:
            raise ServerError('%s does not replicate: %s' % (server, thread_problem(status)))
        time.sleep(0.01)


DEFAULTS = dict(force=(), max_lag=5, long_transaction=10, lock_wait_timeout=5, wait_timeout=10, verify_timeout=10,
                include_old_master=True, kill_connections=True, gtid=None)


def switchover(nodes, master, candidate=None, check_mode=False, **options):
    """Move the master role from ``master`` to ``candidate`` (a replica; elected when None).

    ``nodes``: every server (Node) of the installation, the master included. Options (see DEFAULTS):
    force (check names to skip), max_lag, long_transaction, lock_wait_timeout, wait_timeout,
    verify_timeout (seconds), include_old_master, kill_connections, gtid (None: when every server has it).
    Returns the result dict; raises PromotionError (with ``.result``) on refusal or failure.
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
    journal = Journal()
    result = dict(changed=False, old_master=master, new_master=candidate, checks=journal.checks, steps=journal.steps)
    try:
        if candidate == master:
            result.update(msg='%s is the master already; nothing to do' % master,
                          topology=dict(master=master, replicas=[n for n in names if n != master], left_out=[]))
            return result
        connect_all(nodes, journal)
        new = prechecks(nodes, master, candidate, journal, force, o['max_lag'], o['long_transaction'])
        result['new_master'] = new.name if new else None
        result['forced_checks'] = journal.forced()
        refusals = journal.refusals()
        if refusals or new is None:
            raise PromotionError('switchover refused, nothing was changed: %s' % describe(refusals), result)
        old = next(n for n in nodes if n.name == master)
        replicas = [n for n in nodes if n is not old and n is not new and not n.error]
        gtid = o['gtid'] if o['gtid'] is not None else all(n.facts['gtid_enabled'] for n in [old, new] + replicas)
        targets = replicas + ([old] if o['include_old_master'] else [])
        result.update(gtid=gtid, plan=plan(old, new, targets, gtid, o),
                      topology=dict(master=new.name, replicas=[n.name for n in targets],
                                    left_out=[] if o['include_old_master'] else [old.name],
                                    unreachable=[n.name for n in nodes if n.error]))
        if check_mode:
            result.update(changed=True, msg='check mode: would switch the master from %s to %s' % (master, new.name))
            return result
        o['gtid'] = gtid
        run = _Switch(nodes, old, new, journal, o)
        result['changed'] = True
        try:
            run.presync()
            result['outage_ms'] = run.critical()
        except PromotionError as exc:
            exc.result = result
            raise
        result['final_gtid'] = run.final['gtid_executed']
        result['final_position'] = run.final['position']
        repointed, failures = run.repoint(targets)
        result['repoint_ms'] = repointed
        result['total_ms'] = journal.ms()
        if failures:
            result['failed_repoints'] = {name: str(exc) for name, exc in failures.items()}
            result['topology']['replicas'] = [n.name for n in targets if n.name not in failures]
            result['topology']['broken'] = sorted(failures)
            raise PromotionError('%s is the new master (writable) and %s is read-only, but these servers do not '
                                 'replicate from %s: %s' % (new.name, old.name, new.name, '; '.join(
                                     '%s: %s' % kv for kv in sorted(result['failed_repoints'].items()))), result)
        result['msg'] = '%s is the master now (write outage %s ms); %s replicate from it' % (
            new.name, result['outage_ms'], ', '.join(n.name for n in targets) or 'no servers')
        return result
    finally:
        for node in nodes:
            node.server.close()


def plan(old, new, targets, gtid, o):
    how = 'by GTID' if gtid else "at %s's binlog position after the switch" % new.name
    steps = ['%s: SET GLOBAL read_only = ON%s; FLUSH TABLES WITH READ LOCK (lock_wait_timeout %s s); '
             'read its final GTID set and binlog position' % (
                 old.name, '; kill client connections (before and after the lock)' if o['kill_connections'] else '',
                 o['lock_wait_timeout']),
             '%s: wait until it has executed all of it (at most %s s; else %s is made writable again)'
             % (new.name, o['wait_timeout'], old.name),
             '%s: SET GLOBAL read_only = OFF (the new master), then STOP SLAVE, RESET SLAVE ALL' % new.name,
             '%s: UNLOCK TABLES (read_only stays on)' % old.name]
    for node in targets:
        steps.append('%s: replicate from %s (%s:%s) %s%s, then check that it does'
                     % (node.name, new.name, new.host, new.port, how,
                        ' (as former master, from its own binlog GTID position)' if node is old and gtid else ''))
    if old not in targets:
        steps.append('%s: left out of the new topology (read-only, not replicating)' % old.name)
    return steps


# -- module plumbing (shared by mysql_switchover and mysql_failover) -----------------------------
SERVER_OPTIONS = dict(
    name=dict(type='str', required=True),
    host=dict(type='str', required=True),
    port=dict(type='int', default=3306),
    login_host=dict(type='str'),
    login_port=dict(type='int'),
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    login_unix_socket=dict(type='str'),
    repl_user=dict(type='str'),
    repl_password=dict(type='str', no_log=True),
    promotion=dict(type='str', choices=list(PROMOTION_CHOICES), default='neutral'),
)
DEFAULTED = ('login_host', 'login_port', 'login_user', 'login_password', 'login_unix_socket', 'config_file',
             'connect_timeout', 'read_timeout', 'ca_cert', 'client_cert', 'client_key', 'check_hostname',
             'repl_user', 'repl_password')


def nodes_from_params(params):
    """Nodes from a module's ``servers``; the module's own login_* / repl_* options fill what an entry leaves out."""
    defaults = {key: params.get(key) for key in DEFAULTED}
    return [node_from_spec(spec, defaults) for spec in params['servers']]


def module_result(result):
    """A result dict safe to hand to exit_json / fail_json (no msg key, plain types)."""
    return {k: v for k, v in result.items() if k != 'msg'}


def promotion_argument_spec(checks, **more):
    """The options mysql_switchover and mysql_failover share (their ``force`` takes ``checks``), plus ``more``."""
    spec = dict(
        servers=dict(type='list', elements='dict', required=True, options=SERVER_OPTIONS),
        master=dict(type='str', required=True),
        new_master=dict(type='str'),
        repl_user=dict(type='str'),
        repl_password=dict(type='str', no_log=True),
        force=dict(type='list', elements='str', default=[], choices=list(checks)),
    )
    spec.update(more)
    return spec


def run_promotion(module, procedure, option_names):
    """Call ``procedure`` (switchover or failover) with the module's options, and report as both modules do."""
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    p = module.params
    options = {k: p[k] for k in ('force',) + tuple(option_names)}
    try:
        result = procedure(nodes_from_params(p), p['master'], p['new_master'] or None, check_mode=module.check_mode,
                           **options)
    except PromotionError as exc:
        module.fail_json(msg=str(exc), **module_result(exc.result))
    except (ServerError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    for check in result.get('forced_checks') or []:
        module.warn('check %s failed on %s and was skipped (force): %s' % (check['check'], check['host'], check['message']))
    module.exit_json(**result)
