# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The promotion kit: what switchover, failover and the procedures after them share.

Bookkeeping (``Journal``: what was checked and done, with times), running an action on many servers
at once, killing client sessions, pointing a replica at a new master and checking that it
replicates, judging a replica's threads and advancement, and the plumbing of the promotion modules
(their shared argument spec and the way they report).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.instance import (
    SERVERS_OPTION, ProcedureError, instances_from_params)
from ansible_collections.replicant.mysql.plugins.module_utils.inventory import tree_problems
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import check_ranges
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.router import ROUTER_OPTION, RouterError
from ansible_collections.replicant.mysql.plugins.module_utils.server import (
    HAS_PYMYSQL, MISSING_PYMYSQL, ServerError, server_from_params)

# Sessions that are no clients: replication threads and the server's own.
SPARED_COMMANDS = ('binlog dump', 'binlog dump gtid', 'daemon', 'slave_io', 'slave_sql', 'slave_worker', 'connect',
                   'killed')
SPARED_USERS = ('system user', 'event_scheduler', 'unauthenticated user')
PROCESSLIST = 'SELECT ID AS id, USER AS user, COMMAND AS command FROM information_schema.PROCESSLIST'
# Replica IO errors that retrying does not cure: the account is refused.
FATAL_IO_ERRNOS = (1045, 1044, 1227)
# What SHOW GRANTS says of an account that may replicate (MariaDB 10.5+ also spells it REPLICATION REPLICA).
REPLICATION_PRIVILEGES = ('REPLICATION SLAVE', 'REPLICATION REPLICA', 'ALL PRIVILEGES')
ACCOUNT_HOSTS = 'SELECT Host AS host FROM mysql.user WHERE User = %s'


class PromotionError(ProcedureError):
    """A refusal or a failure of a promotion; ``result`` holds what was found and done up to then."""


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


def connect_all(nodes, journal=None):
    """Open every connection (in parallel); a node that cannot be reached gets ``.error``."""
    run_parallel(lambda node: node.connect(), nodes)
    if journal:
        journal.step('*', 'connected to %d of %d servers' % (len([n for n in nodes if not n.error]), len(nodes)))
    return [n for n in nodes if n.error]


def read_all(nodes):
    """Read the facts of every node not known unreachable (in parallel, on its open connection).

    A node whose facts cannot be read gets ``.error`` like an unreachable one; returns the nodes read.
    """
    run_parallel(lambda node: node.read(), [n for n in nodes if not n.error])
    return [n for n in nodes if not n.error]


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


# -- the declared tree ------------------------------------------------------------------------------
def declared_tree(nodes, master):
    """The tree the servers' entries declare below ``master``: dict(master, replicas={name: its master}, spares=[]).

    A server's master is its ``master`` entry (``replicant_master``), else ``master``: a server without one is a
    direct replica. Raises ValueError, naming the server, when the entries make no tree below ``master``.
    """
    declared = dict(master=master, spares=[], replicas=dict(
        (n.name, n.declared_master or master) for n in nodes if n.name != master))
    problems = tree_problems(declared)
    if problems:
        raise ValueError('the servers declare no tree below the master %s: %s' % (master, '; '.join(problems)))
    return declared


def direct_replicas(nodes, declared):
    """The nodes the declared tree puts directly below its master (the ones a promotion repoints)."""
    return [n for n in nodes if declared['replicas'].get(n.name) == declared['master']]


def replicates_from(status, master):
    """Whether a replica status points at ``master`` (by server_id when known, else by address)."""
    if not status:
        return False
    master_id = master.facts.get('server_id')
    if status.get('master_server_id') and master_id is not None:
        return status['master_server_id'] == master_id
    return (status.get('master_host'), status.get('master_port')) == (master.host, master.port)


def source_problem(node, source, others=()):
    """Why ``node`` does not replicate from ``source`` ('' when it does), naming the server of ``others`` it
    replicates from instead (then the inventory, not the server, may be what is wrong)."""
    status = node.status
    if replicates_from(status, source):
        return ''
    if not status:
        return 'does not replicate from %s (no replication configured)' % source.name
    actual = next((n for n in others if n is not node and n is not source and n.facts
                   and replicates_from(status, n)), None)
    return 'does not replicate from %s (its master is %s:%s%s)' % (
        source.name, status['master_host'], status['master_port'],
        ', which is %s: if that is meant, declare it in the inventory (replicant_master: %s)' % (actual.name, actual.name)
        if actual else '')


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


def point_at(server, options):
    """Stop replication, CHANGE MASTER with exactly ``options``, start.

    Unlike replication.change_master this does not compare with the current settings: coordinates in
    the old master's binlog say nothing about the new master's.
    """
    replication.stop_replication(server)
    server.run('change_master', options=options)
    server.run('start_replica')


def verify_replicating(server, timeout):
    """Wait until both replication threads run (IO connected); raise with the reason otherwise.

    An SQL error, or an IO error no retry cures (access denied), fails at once rather than at the timeout.
    """
    deadline = time.time() + timeout
    while True:
        status = replication.replica_status(server)
        if running_ok(status):
            return status
        if (status and (status['last_sql_errno'] or status['last_io_errno'] in FATAL_IO_ERRNOS)) \
                or time.time() >= deadline:
            raise ServerError('%s does not replicate: %s' % (server, thread_problem(status)))
        time.sleep(0.01)


# -- what must hold after the switch --------------------------------------------------------------
def replication_account_problem(source, followers):
    """Why the servers ``followers`` (names) could not replicate from ``source`` with its account ('' if they can).

    Logs in to ``source`` at its replication address as ``repl_user`` with ``repl_password`` (from where the
    module runs) and reads the account's grants; the admin connection tells a missing account from a wrong
    password. The messages say what to fix and never carry the password.
    """
    user = source.repl_user
    who = ', '.join(followers) or 'its replicas'
    if not user:
        return ('no replication account is configured for %s (replicant_repl_user / repl_user): %s could not '
                'replicate from it' % (source.name, who))
    params = dict((k, v) for k, v in source.login.items() if k not in ('login_unix_socket', 'config_file'))
    params.update(login_host=source.host, login_port=source.port, login_user=user,
                  login_password=source.repl_password)
    probe = server_from_params(params, name=source.name)
    try:
        probe.connect()
        grants = ' '.join(str(v) for row in probe.sql('SHOW GRANTS') for v in row.values()).upper()
    except ServerError as exc:
        reason = str(exc)
        if 'Access denied' not in reason and '1045' not in reason:
            return 'cannot log in as %s at %s:%s: %s' % (user, source.host, source.port, reason)
        try:
            hosts = [str(row['host']) for row in source.server.sql(ACCOUNT_HOSTS, (user,))]
        except ServerError:
            hosts = None
        if hosts == []:
            return ('has no account %s: %s would be refused (Access denied) once repointed; create it on %s with '
                    'REPLICATION SLAVE and the password the others use (module mysql_replication_user)'
                    % (user, who, source.name))
        return ('refuses %s with the configured password (accounts %s@%s exist there): %s would be refused once '
                'repointed; give %s on %s the password of replicant_repl_password'
                % (user, user, ','.join(hosts or ['?']), who, user, source.name))
    finally:
        probe.close()
    if not any(p in grants for p in REPLICATION_PRIVILEGES):
        return ('%s may log in but has no REPLICATION SLAVE privilege: %s could not replicate; '
                'GRANT REPLICATION SLAVE ON *.* to it on %s' % (user, who, source.name))
    return ''


def writable_servers(nodes):
    """The names of the nodes that accept writes now (a fresh connection where the old one is gone)."""
    out = []
    for node in nodes:
        try:
            node.server.connect()
            if not replication.read_only_state(node.server)['read_only']:
                out.append(node.name)
        except (ServerError, AttributeError, KeyError):
            node.close()
    return out


def route_failed(router, old, new, writable, others=()):
    """After a failure past the point of no return: route to the writable server (``new`` unless only ``old`` is)."""
    if router is None or not router.enabled:
        return None
    target, other = (old, new) if old.name in writable and new.name not in writable else (new, old)
    try:
        router.route('failed', other, target, others)
        return dict(route_to=target.name, ok=True, detail='')
    except RouterError as exc:
        return dict(route_to=target.name, ok=False, detail=str(exc), by_hand=router.by_hand('failed', other, target, others))


def fail_safe_state(writable, broken, problems, routed, new_name):
    """The exact state after a failure past the point of no return, with a one-line summary."""
    parts = ['writable: %s' % (', '.join(writable) or 'NO SERVER')]
    if broken:
        parts.append('not replicating from %s: %s' % (new_name, '; '.join('%s (%s)' % kv for kv in sorted(broken.items()))))
    for what, why in sorted((problems or {}).items()):
        if what == 'router':
            parts.append('routing at the promotion failed: %s' % why)
        elif what != 'error':
            parts.append('%s %s' % (what, why))
        elif not broken:
            parts.append('error: %s' % why)
    if routed is not None:
        parts.append('router: clients routed to %s' % routed['route_to'] if routed['ok'] else
                     'router: could NOT route clients to %s: %s; once the router answers, route them by hand: %s'
                     % (routed['route_to'], routed['detail'], routed['by_hand']))
    return dict(writable=list(writable), not_replicating=dict(broken), problems=dict(problems or {}), router=routed,
                summary='; '.join(parts))


# -- module plumbing (shared by mysql_switchover and mysql_failover) -----------------------------
def module_result(result):
    """A result dict safe to hand to exit_json / fail_json (no msg key, plain types)."""
    return {k: v for k, v in result.items() if k != 'msg'}


# The options of the doc fragment replicant.mysql.promotion (routing and reconnection), with the defaults
# of both procedures.
PROMOTION_OPTIONS = dict(
    router=ROUTER_OPTION,
    connect_retry=dict(type='int', default=3),
    heartbeat_period=dict(type='float', default=2.0),
)


def promotion_argument_spec(checks, **more):
    """The options mysql_switchover and mysql_failover share (their ``force`` takes ``checks``), plus ``more``."""
    spec = dict(
        servers=SERVERS_OPTION,
        master=dict(type='str', required=True),
        new_master=dict(type='str'),
        repl_user=dict(type='str'),
        repl_password=dict(type='str', no_log=True),
        force=dict(type='list', elements='str', default=[], choices=list(checks)),
    )
    spec.update(PROMOTION_OPTIONS)
    spec.update(more)
    return spec


def run_promotion(module, procedure, option_names):
    """Call ``procedure`` (switchover or failover) with the module's options, and report as both modules do."""
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    check_ranges(module)
    p = module.params
    options = {k: p[k] for k in ('force',) + tuple(PROMOTION_OPTIONS) + tuple(option_names)}
    try:
        result = procedure(instances_from_params(p, require_host=True), p['master'], p['new_master'] or None, check_mode=module.check_mode,
                           **options)
    except PromotionError as exc:
        module.fail_json(msg=str(exc), **module_result(exc.result))
    except (ServerError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    for check in result.get('forced_checks') or []:
        module.warn('check %s failed on %s and was skipped (force): %s' % (check['check'], check['host'], check['message']))
    module.exit_json(**result)
