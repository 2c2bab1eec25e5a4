# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bring a former master (or any server that left) back as a replica of the current master.

``errant(target, master)`` finds what the target has that the master lacks - for MariaDB by comparing the
two servers' histories (``gtid.unshared``), which sees a former master's unreplicated transactions even when
the new master has since written higher sequence numbers. ``rejoin(...)``:

- refuses, before any change, a target that is the master, that other servers replicate from, of another
  flavor, or a master that cannot be reached;
- does nothing when the target already replicates from the master and has nothing the master lacks;
- fences the target first (read_only, client sessions killed), so that nothing more is written to it;
- without errant transactions, points it at the master by GTID (a former MariaDB master first takes its
  gtid_slave_pos from all it has executed) and waits until it has caught up;
- with errant transactions, saves them from its binary log with ``mariadb-binlog`` (read from the server,
  from where the module runs, by GTID: from the point the histories parted to its last transaction) into a
  file, and returns ``action: rebuild``: the caller (playbooks/rejoin.yml) then rebuilds it with clone_slave.

Check mode reads and plans only.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication, semisync
from ansible_collections.replicant.mysql.plugins.module_utils.binlog_tail import GTID_EVENT, client_option_file
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import mariadb_history, parse_gtid, unshared
from ansible_collections.replicant.mysql.plugins.module_utils.instance import ProcedureError, same_server
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import (
    kill_clients, point_at, replicates_from, running_ok, verify_replicating)


class RejoinError(ProcedureError):
    """A refusal or a failure of a rejoin; ``result`` holds what was found and done up to then."""


# -- what the target has that the master lacks ------------------------------------------------------------------
def history(server):
    """MariaDB: ``{(domain, server_id): seq}`` of what the server has logged or applied."""
    return mariadb_history(*(server.value(dialect.sql(server.flavor, 'get_global', name=name)) or ''
                             for name in ('gtid_binlog_state', 'gtid_slave_pos')))


def errant(target, master):
    """What ``target`` has that ``master`` lacks (both Instances with an open server):
    ``dict(text=..., start=..., stop=...)`` or None. For MariaDB ``start``/``stop`` are the GTID positions
    (per domain) that bound the errant transactions in the target's binary log (start exclusive)."""
    if target.flavor.name != 'mariadb':
        extra = parse_gtid(target.facts['gtid_executed'], 'mysql') - parse_gtid(master.facts['gtid_executed'], 'mysql')
        return dict(text=str(extra), start=None, stop=None) if extra else None
    mine = mariadb_history(target.server.value(dialect.sql(target.flavor, 'get_global', name='gtid_binlog_state')) or '')
    parted = unshared(mine, history(master.server))
    if not parted:
        return None
    start, stop, text = [], [], []
    for domain, where in sorted(parted.items()):
        start.append('%d-%d-%d' % ((domain,) + where['fork']))
        stop.append('%d-%d-%d' % ((domain,) + where['last']))
        text.append('%s after %s' % (stop[-1], start[-1]))
    return dict(text='; '.join(text), start=','.join(start), stop=','.join(stop))


# -- the procedure ----------------------------------------------------------------------------------------------
def refusals(target, master):
    """Why ``target`` cannot rejoin as a replica of ``master`` (a list of messages; empty when it can)."""
    out = []
    if same_server(target, master):
        out.append('%s is the master: name a former master or another server to rejoin' % target.name)
    for node in (master, target):
        if not node.reachable:
            out.append('%s cannot be reached (%s): start it first' % (node.name, node.error))
    if out:
        return out
    if master.status:
        out.append('%s, the master, replicates from %s:%s: the inventory names another master than the one '
                   'the installation has' % (master.name, master.status['master_host'], master.status['master_port']))
    if master.facts['read_only']:
        out.append('%s, the master, is read-only: finish the promotion first (failover.yml or promote_master.yml)'
                   % master.name)
    if not master.facts['log_bin']:
        out.append('%s, the master, has no binary log to replicate from' % master.name)
    if target.flavor.name != master.flavor.name:
        out.append('%s is %s and the master %s is %s' % (target.name, target.flavor, master.name, master.flavor))
    followers = target.facts.get('registered_replicas') or target.facts.get('dump_clients')
    if followers:
        out.append('%s has replicas of its own (%s): move them to the master first (playbooks/relocate.yml)'
                   % (target.name, ', '.join(str(r.get('host') or r.get('server_id')) if isinstance(r, dict) else str(r)
                                             for r in followers)))
    return out


def plan(target, master, found):
    """The steps, as text."""
    steps = ['%s: SET GLOBAL read_only = ON and kill client sessions (fence: nothing more is written to it)' % target.name]
    if found:
        steps += ['%s: save its errant transactions (%s) from its binary log with mariadb-binlog into a file'
                  % (target.name, found['text']),
                  '%s: rebuild it from the installation with clone_slave (playbooks/rejoin.yml does it next)' % target.name]
    else:
        steps += ['%s: stop replication%s, CHANGE MASTER TO %s:%s by GTID, START SLAVE; wait until it has what %s has'
                  % (target.name, ', gtid_slave_pos from all it has executed' if target.flavor.name == 'mariadb' else '',
                     master.host, master.port, master.name)]
    return steps


def rejoin(target, master, check_mode=False, save_dir=None, binlog_tool='mariadb-binlog', timeout=60,
           connect_retry=None, heartbeat_period=None):
    """Rejoin ``target`` under ``master`` (Instances, not yet read); see the module docstring."""
    started = time.time()
    result = dict(changed=False, target=target.name, master=master.name, action='none', errant=None,
                  errant_file=None, steps=[])
    for node in (master, target):
        node.read(discovery=node is target)
    problems = refusals(target, master)
    if problems:
        raise RejoinError('%s cannot rejoin: %s. Nothing was changed.' % (target.name, '; '.join(problems)), result)
    found = errant(target, master)
    if not found and replicates_from(target.status, master) and running_ok(target.status) and target.facts['read_only']:
        result.update(plan=[], elapsed=round(time.time() - started, 3))
        return result
    result.update(action='rebuild' if found else 'repoint', errant=found and found['text'], plan=plan(target, master, found))
    if found and target.flavor.name != 'mariadb':
        raise RejoinError('%s has errant transactions (%s), and saving them is done for MariaDB only (mariadb-binlog): '
                          'save them with mysqlbinlog --include-gtids, then rebuild it with clone_slave. Nothing was '
                          'changed.' % (target.name, found['text']), result)
    if found and not save_dir:
        raise RejoinError('%s has errant transactions (%s): give the directory to save them to (save_dir). Nothing '
                          'was changed.' % (target.name, found['text']), result)
    options = None if found else dict(master.follow(target.flavor), **dialect.reconnect_options(connect_retry, heartbeat_period))
    if check_mode:
        result['changed'] = True
        return result
    server = target.server
    replication.set_read_only(server, True)
    killed = kill_clients(server, {server.connection_id})
    result['steps'].append('%s: read_only on, %d client session(s) killed' % (target.name, len(killed)))
    result['changed'] = True
    if found:
        found = errant(target, master) or found   # read again: fenced, it can have no more
        result.update(errant=found['text'], errant_file=save_errant(target, found, save_dir, binlog_tool),
                      errant_start=found['start'], errant_stop=found['stop'])
        result['steps'].append('%s: errant transactions saved to %s' % (target.name, result['errant_file']))
    else:
        replication.stop_replication(server)
        for statement in dialect.former_master_statements(target.flavor):
            server.sql(statement)
        result['semisync'] = semisync.apply(server, target.semisync, 'replica')
        point_at(server, options)
        verify_replicating(server, timeout)
        replication.wait_for_pos(server, gtid=master.server.value(dialect.sql(master.flavor, 'gtid_current_pos')),
                                 timeout=timeout)
        result['steps'].append('%s: replicates from %s and has caught up' % (target.name, master.name))
    result['elapsed'] = round(time.time() - started, 3)
    return result


# -- saving the errant transactions -------------------------------------------------------------------------------
def save_errant(target, found, save_dir, binlog_tool='mariadb-binlog'):
    """Write the target's errant transactions (``found`` from ``errant``) as mariadb-binlog text into a new file in
    ``save_dir``; returns its path. Reads the binary log from the server (--read-from-remote-server) by GTID;
    the credentials go through a private option file, never the command line."""
    if not os.path.isdir(save_dir):
        os.makedirs(save_dir, 0o700)
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
    path = os.path.join(save_dir, '%s-errant-%s.binlog.sql' % (re.sub(r'[^A-Za-z0-9_.-]', '_', target.name), stamp))
    private = tempfile.mkdtemp(prefix='replicant-rejoin-')
    try:
        options = client_option_file(private, target.login, target.host, target.port)
        first = target.server.sql('SHOW BINARY LOGS')[0]
        first = first.get('Log_name') or list(first.values())[0]
        command = [binlog_tool, '--defaults-file=%s' % options, '--read-from-remote-server', '--to-last-log',
                   '--verbose', '--start-position=%s' % found['start'], '--stop-position=%s' % found['stop'],
                   first.decode() if isinstance(first, bytes) else str(first)]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write('-- Errant transactions of %s (%s), saved by replicant.mysql rejoin before it was rebuilt.\n'
                      '-- GTIDs after %s up to %s. Review, then apply what must be kept on the master with\n'
                      '-- mariadb-binlog output as input: mariadb < this-file (it carries the row events).\n'
                      % (target.name, found['text'], found['start'], found['stop']))
            out.flush()
            try:
                proc = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, timeout=600, check=False)
            except OSError as exc:
                raise RejoinError('%s: cannot run %s to save the errant transactions: %s. Nothing was rebuilt.'
                                  % (target.name, binlog_tool, exc))
        with open(path) as handle:
            saved = set(GTID_EVENT.findall(handle.read()))
        wanted = set(found['stop'].split(','))
        if proc.returncode != 0 or not wanted <= saved:
            details = (target.name, path, binlog_tool, proc.returncode, proc.stderr.decode('utf-8', 'replace').strip()[-500:],
                       ', '.join(sorted(wanted & saved)) or 'none', found['stop'])
            raise RejoinError('%s: saving the errant transactions into %s failed (%s exited %s: %s; last GTIDs found: %s '
                              'of %s). Nothing was rebuilt.' % details)
        return path
    finally:
        shutil.rmtree(private, ignore_errors=True)
