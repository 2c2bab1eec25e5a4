# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication primitives, as functions over a connected Server.

Every statement comes from the dialect table (``dialect.sql``); nothing here spells SQL that
differs between MySQL and MariaDB.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


# -- positions ---------------------------------------------------------------------------------
def fetch_master_pos(server):
    """Where the server's own binary log is: file, pos, executed GTID set, identity, flavor."""
    flavor = server.flavor
    rows = server.run('show_master_status')
    return master_pos_from(flavor, rows[0] if rows else None, server.value(dialect.sql(flavor, 'gtid_executed')),
                           server.one(dialect.sql(flavor, 'server_identity')))


def log_settings(server):
    """Where the server writes its binary log and relay log (base names, relative to the datadir when below it;
    the binary log's None when it writes none), its GTID domain (MariaDB; None on MySQL) and every GTID it has
    executed (gtid_current_pos: its own and replicated ones)."""
    row = server.one(dialect.sql(server.flavor, 'log_settings'))
    datadir = (row['datadir'] or '').rstrip('/') + '/'

    def relative(path):
        return path[len(datadir):] if path and path.startswith(datadir) else path or None
    return dict(binlog_basename=relative(row['binlog_basename']), relay_log_basename=relative(row['relay_log_basename']),
                gtid_domain_id=None if row.get('gtid_domain_id') is None else int(row['gtid_domain_id']),
                gtid_current_pos=_clean_gtid(server.value(dialect.sql(server.flavor, 'gtid_current_pos'))))


def master_pos_from(flavor, status, gtid_executed, ident=None):
    """fetch_master_pos's result from a SHOW MASTER STATUS row (or None), the executed GTID set and the identity."""
    status = status or {}
    result = dict(
        binlog_enabled=bool(status),
        file=status.get('File'),
        pos=int(status['Position']) if status else None,
        gtid_executed=_clean_gtid(gtid_executed),
        flavor=flavor.name,
        version='.'.join(str(v) for v in flavor.version),
    )
    if ident is not None:
        result.update(server_id=int(ident['server_id']), server_uuid=ident.get('server_uuid'))
    result['position'] = str(Position(result['file'], result['pos'])) if status else None
    return result


def replica_status(server, channel=''):
    """Normalised SHOW SLAVE/REPLICA STATUS of one channel, or None when the server is no replica."""
    rows = server.run('show_replica_status', channel=channel)
    if not rows:
        return None
    return dialect.normalize_replica_status(server.flavor, rows[0])


def fetch_slave_pos(server, channel=''):
    """The replica's executed coordinates in its master's binlog and its GTID position."""
    status = replica_status(server, channel)
    if status is None:
        return dict(is_replica=False, status=None, file=None, pos=None, position=None, gtid=None)
    flavor = server.flavor
    gtid = server.value(dialect.sql(flavor, 'gtid_slave_pos')) if flavor.is_mariadb else status['executed_gtid_set']
    return dict(is_replica=True, status=status,
                file=status['relay_master_log_file'], pos=status['exec_master_log_pos'],
                position=str(Position(status['relay_master_log_file'], status['exec_master_log_pos']))
                if status['relay_master_log_file'] else None,
                gtid=_clean_gtid(gtid))


def _clean_gtid(text):
    return ''.join((text or '').split())


# -- replication threads -----------------------------------------------------------------------
def _thread_running(status, thread):
    keys = {'io': ['io_running_ok'], 'sql': ['sql_running_ok'], None: ['io_running_ok', 'sql_running_ok']}
    return all(status[k] for k in keys[thread])


def start_replication(server, thread=None, channel='', check_mode=False):
    """Start the replication threads; returns the statements run (empty when already running)."""
    status = replica_status(server, channel)
    if status is None:
        raise ServerError('%s is not a replica (no replication configured%s); configure it with change_master first'
                          % (server, " for channel '%s'" % channel if channel else ''))
    if _thread_running(status, thread):
        return []
    statement = dialect.sql(server.flavor, 'start_replica', thread=thread, channel=channel)
    if not check_mode:
        server.sql(statement)
    return [statement]


def _thread_alive(status, thread):
    """Whether a replication thread exists (to be stopped): running, or an IO thread still trying to connect
    (Connecting: it retries only every connect retry)."""
    return str(status['%s_running' % thread] or 'No').lower() != 'no'


def stop_replication(server, thread=None, channel='', check_mode=False):
    status = replica_status(server, channel)
    threads = ['io', 'sql'] if thread is None else [thread]
    if status is None or not any(_thread_alive(status, t) for t in threads):
        return []
    statement = dialect.sql(server.flavor, 'stop_replica', thread=thread, channel=channel)
    if not check_mode:
        server.sql(statement)
    return [statement]


def reset_replication(server, all=False, channel='', check_mode=False):
    """RESET SLAVE [ALL]; with ``all`` the configuration goes too. Stops the threads first."""
    status = replica_status(server, channel)
    if status is None:
        return []
    statements = stop_replication(server, channel=channel, check_mode=True)
    statements.append(dialect.sql(server.flavor, 'reset_replica', all=all, channel=channel))
    if not check_mode:
        for statement in statements:
            server.sql(statement)
    return statements


def reset_binlog(server, check_mode=False):
    """Forget the server's own binary logs and GTID history (for a server about to load a copy)."""
    statement = dialect.sql(server.flavor, 'reset_master')
    if not check_mode:
        server.sql(statement)
    return [statement]


# -- change master -----------------------------------------------------------------------------
# Options that SHOW SLAVE STATUS reveals, with the normalised status key and a comparison form.
_VISIBLE = {
    'master_host': ('master_host', str),
    'master_port': ('master_port', int),
    'master_user': ('master_user', str),
    'master_use_gtid': ('using_gtid', lambda v: str(v).lower().replace('_', '')),
    'master_auto_position': ('auto_position', bool),
    'master_ssl': ('ssl', bool),
    'master_ssl_ca': ('ssl_ca', str),
    'master_ssl_cert': ('ssl_cert', str),
    'master_ssl_key': ('ssl_key', str),
    'master_ssl_verify_server_cert': ('ssl_verify_server_cert', bool),
    'master_connect_retry': ('connect_retry', int),
    'master_delay': ('sql_delay', int),
}


def change_master_plan(status, options):
    """Which of ``options`` differ from the replica's current settings (all when it is no replica)."""
    wanted = {k: v for k, v in options.items() if v is not None}
    if status is None:
        return sorted(wanted)
    differ = []
    for key, value in wanted.items():
        if key in _VISIBLE:
            status_key, form = _VISIBLE[key]
            if status.get(status_key) is None or form(status[status_key]) != form(value):
                differ.append(key)
        elif key == 'master_log_file':
            if value != status['relay_master_log_file']:
                differ.append(key)
        elif key == 'master_log_pos':
            if int(value) != status['exec_master_log_pos']:
                differ.append(key)
    # Coordinates belong to one master's binlog: a new master needs them said again, even when the
    # numbers happen to equal the old master's (log_slave_updates binlogs often do).
    if any(k in differ for k in ('master_host', 'master_port')):
        differ.extend(k for k in ('master_log_file', 'master_log_pos') if k in wanted and k not in differ)
    # The password cannot be read back: apply it with any other change, or when the IO thread
    # reports that the master refused it.
    if 'master_password' in wanted and (differ or status.get('last_io_errno') in (1045, 2061)):
        differ.append('master_password')
    return sorted(differ)


USER_SCHEMAS = ("SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name NOT IN "
                "('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant')")
# Bytes of data and indexes per schema (what a logical copy roughly writes on its target).
SCHEMA_BYTES = ("SELECT table_schema AS name, COALESCE(SUM(data_length + index_length), 0) AS bytes "
                "FROM information_schema.tables GROUP BY table_schema")


def replica_conflicts(server, master_gtid, master_host=None, master_port=None, replica_gtid=None):
    """[(kind, message)]: why this server cannot replicate from a master at ``master_host``:``master_port``
    whose executed GTID set is ``master_gtid`` (None: not compared); empty when it can. The rule is the
    model's (instance.can_replicate_from).
    """
    from ansible_collections.replicant.mysql.plugins.module_utils import instance  # the model sits above
    return instance.conflicts_of(server, master_gtid, master_host, master_port, replica_gtid)


def change_master(server, options, channel='', start=True, check_mode=False, master_gtid_executed=None,
                  start_gtid=None, replica_gtid=None):
    """Point a replica at a master; change only what differs. Returns changed, statements, diff.

    ``options`` uses the canonical names of ``dialect.CHANGE_MASTER_OPTIONS`` (master_host, ...).
    ``start_gtid``, for a fresh replica (a clone), is the GTID position to replicate from; it is set
    (gtid_slave_pos on MariaDB, gtid_purged on MySQL) when the master changes and it differs.
    ``replica_gtid``: the replica's GTID position read before ``master_gtid_executed`` was, for an exact check
    while both take writes (default: read now).
    Statements are reported with the password masked.
    """
    flavor = server.flavor
    if start_gtid is not None:
        parse_gtid(start_gtid, flavor.name)  # a GTID position that does not parse fails here, before anything changes
    status = replica_status(server, channel)
    differ = change_master_plan(status, options)
    problems = replica_conflicts(server, master_gtid_executed, options.get('master_host'), options.get('master_port'),
                                 replica_gtid)
    if problems:
        advice = ('point it at another server' if any(kind == 'itself' for kind, _m in problems) else
                  'rebuild it from its master with clone_slave (playbooks/clone_slave.yml)')
        raise ServerError('%s cannot replicate from %s:%s: %s. Nothing was changed; %s'
                          % (server, options.get('master_host'), options.get('master_port'),
                             '; '.join(m for _k, m in problems), advice))
    statements = []
    if differ:
        changes = {k: options[k] for k in differ}
        if 'master_log_pos' in changes or 'master_log_file' in changes:
            changes.update({k: options[k] for k in ('master_log_file', 'master_log_pos') if options.get(k) is not None})
        # SHOW SLAVE STATUS may report a setting the same while another is changed: keep the
        # connection options together so that the statement is complete on its own.
        for key in ('master_host', 'master_port', 'master_user', 'master_password'):
            if options.get(key) is not None:
                changes.setdefault(key, options[key])
        was_running = status is not None and (status['io_running_ok'] or status['sql_running_ok'])
        if was_running:
            statements.append(dialect.sql(flavor, 'stop_replica', channel=channel))
        if start_gtid is not None and _clean_gtid(server.value(dialect.sql(flavor, 'gtid_current_pos'))) != _clean_gtid(start_gtid):
            statements.append(dialect.sql(flavor, 'set_gtid_slave_pos', gtid=start_gtid))
        run = dialect.sql(flavor, 'change_master', options=changes, channel=channel)
        shown = dialect.sql(flavor, 'change_master', options=changes, channel=channel, mask=True)
        statements.append((run, shown))
    if start:
        if differ or status is None or not _thread_running(status, None):
            statements.append(dialect.sql(flavor, 'start_replica', channel=channel))
    if not check_mode:
        for statement in statements:
            server.sql(statement[0] if isinstance(statement, tuple) else statement)
    shown = [s[1] if isinstance(s, tuple) else s for s in statements]
    before = {k: status.get(_VISIBLE[k][0]) for k in differ if status and k in _VISIBLE}
    after = {k: options[k] for k in differ if k in _VISIBLE}
    return dict(changed=bool(statements), statements=shown, changed_options=differ,
                diff=dict(before=before, after=after))


# -- waiting -----------------------------------------------------------------------------------
def wait_for_pos(server, gtid=None, position=None, timeout=60, channel='', require_running=True, poll=0.2,
                 quick=False):
    """Wait until the replica has executed up to ``gtid`` (a GTID set) or ``position`` (Position).

    Fails early when the SQL thread stops with an error; on timeout the error says how far behind
    the replica is. With ``require_running`` both threads must also be running at the end.
    ``quick`` (for a wait inside a critical section, with ``require_running`` false): wait first and read
    the replica's status only if the position is not reached at once (one round trip when the replica is
    there within a second); returns None then.
    """
    if (gtid is None) == (position is None):
        raise ValueError('wait_for_pos needs exactly one of gtid and position')
    flavor = server.flavor
    if gtid is not None:
        parse_gtid(gtid, flavor.name)  # says what is wrong with a GTID set that does not parse
    deadline = time.time() + timeout
    if quick and not require_running and _wait_statement(server, gtid, position, min(1, int(timeout)), channel):
        return None
    while True:
        status = replica_status(server, channel)
        if status is None:
            raise ServerError('%s is not a replica: there is nothing to wait for' % server)
        if status['last_sql_errno']:
            raise ServerError('%s: the replication SQL thread stopped with error %s: %s'
                              % (server, status['last_sql_errno'], status['last_sql_error']))
        if require_running and master_behind(status):
            # its master (a relay still catching up) lacks what this replica already has: ask again shortly
            time.sleep(min(1.0, max(0.0, deadline - time.time())))
            start_replication(server, thread='io', channel=channel)
        step = max(0, min(1, int(deadline - time.time())))
        reached = _wait_statement(server, gtid, position, step, channel)
        if reached and (not require_running or _thread_running(replica_status(server, channel), None)):
            return fetch_slave_pos(server, channel)
        if time.time() >= deadline:
            now = fetch_slave_pos(server, channel)
            st = now['status']
            raise ServerError(
                '%s did not reach %s within %ss: it has executed %s (position %s), IO thread %s, SQL thread %s, '
                '%s seconds behind%s' % (
                    server, gtid if gtid is not None else position, timeout, now['gtid'] or '-', now['position'],
                    st['io_running'], st['sql_running'], st['seconds_behind'],
                    '; last IO error: %s' % st['last_io_error'] if st['last_io_error'] else ''))
        if not reached or step == 0:
            time.sleep(poll)


def master_behind(status):
    """Whether the IO thread stopped because its master lacks the GTID this replica starts from (error 1236):
    the master is behind it - a relay still catching up - or, if that lasts, on another history."""
    return bool(status) and status.get('last_io_errno') == 1236 and status.get('io_running') == 'No' and \
        'not in the master' in (status.get('last_io_error') or '')


def _wait_statement(server, gtid, position, timeout, channel):
    """One MASTER_GTID_WAIT / MASTER_POS_WAIT (or the MySQL forms) of at most ``timeout`` seconds: reached?"""
    flavor = server.flavor
    if gtid is not None:
        statement, key = dialect.sql(flavor, 'gtid_wait', gtid=gtid, timeout=timeout), 'gtid_wait'
    else:
        statement, key = dialect.sql(flavor, 'pos_wait', file=position.file, pos=position.pos, timeout=timeout,
                                     channel=channel), 'pos_wait'
    return dialect.wait_succeeded(flavor, key, server.value(statement))


# -- locks and read-only -----------------------------------------------------------------------
def flush_and_lock(server, lock_wait_timeout=10):
    """FLUSH TABLES WITH READ LOCK on this connection; returns the master position read under it.

    The lock lives as long as this connection: close it or call unlock() to release.
    """
    server.sql('SET SESSION lock_wait_timeout = %d' % int(lock_wait_timeout))
    server.sql('FLUSH TABLES WITH READ LOCK')
    return fetch_master_pos(server)


def unlock(server):
    server.sql('UNLOCK TABLES')


def read_only_state(server):
    row = server.one(dialect.sql(server.flavor, 'read_only_vars'))
    return {k.lower(): bool(int(v)) for k, v in row.items()}


def set_read_only(server, on=True, check_mode=False):
    """Make the server read-only (super_read_only on MySQL) or writable; returns the statements run."""
    state = read_only_state(server)
    if bool(state.get('read_only')) == bool(on) and (not on or state.get('super_read_only', True)):
        return []
    statement = dialect.sql(server.flavor, 'set_read_only', on=on)
    if not check_mode:
        server.sql(statement)
    return [statement]
