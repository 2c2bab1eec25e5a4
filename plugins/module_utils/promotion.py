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
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.server import HAS_PYMYSQL, MISSING_PYMYSQL, ServerError

# Sessions that are no clients: replication threads and the server's own.
# Sessions that are no clients: replication threads and the server's own.
SPARED_COMMANDS = ('binlog dump', 'binlog dump gtid', 'daemon', 'slave_io', 'slave_sql', 'slave_worker', 'connect',
                   'killed')
SPARED_USERS = ('system user', 'event_scheduler', 'unauthenticated user')
PROCESSLIST = 'SELECT ID AS id, USER AS user, COMMAND AS command FROM information_schema.PROCESSLIST'

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
    """Wait until both replication threads run (IO connected); raise with the reason otherwise."""
    deadline = time.time() + timeout
    while True:
        status = replication.replica_status(server)
        if running_ok(status):
            return status
        if (status and status['last_sql_errno']) or time.time() >= deadline:
            raise ServerError('%s does not replicate: %s' % (server, thread_problem(status)))
        time.sleep(0.01)


# -- module plumbing (shared by mysql_switchover and mysql_failover) -----------------------------
def module_result(result):
    """A result dict safe to hand to exit_json / fail_json (no msg key, plain types)."""
    return {k: v for k, v in result.items() if k != 'msg'}


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
    spec.update(more)
    return spec


def run_promotion(module, procedure, option_names):
    """Call ``procedure`` (switchover or failover) with the module's options, and report as both modules do."""
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    p = module.params
    options = {k: p[k] for k in ('force',) + tuple(option_names)}
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

