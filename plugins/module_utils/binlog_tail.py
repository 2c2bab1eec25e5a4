# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recover a dead master's binary-log tail: what it wrote (and acknowledged) that no replica received.

The commonest crash is a master whose ``mariadbd`` died while its host stayed up: its binary log files are
still there. Run on that host, before the failover promotes anybody:

1. refuse to read the binary log of a server that is still running (a hung server may wake up; the failover
   decides about it);
2. find the most advanced replica (what it executed plus what it received), let it apply its relay log and stop
   its replication (its master is dead);
3. ``mariadb-binlog --start-position=<that replica's GTID list>`` over the master's binary log files: the events
   no replica has, with their original GTIDs;
4. apply them to that replica with the ``mariadb`` client (the events carry their GTIDs, so the replica writes
   them into its own binary log as they were; its ``gtid_slave_pos`` is then set from everything it has, so that
   the failover sees it as the most advanced) and check that the last GTID of every domain arrived.

The failover then elects that replica (or catches its candidate up from it): nothing any client was
acknowledged is lost. A transaction the crash cut in half is never applied (the client rolls it back).
For MariaDB (``mariadb-binlog`` by GTID).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import ProcedureError
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import ServerProcess

# a transaction's GTID event as mariadb-binlog prints it ("#... GTID 0-1-42 trans")
GTID_EVENT = re.compile(r'\sGTID (\d+-\d+-\d+)')


class TailError(ProcedureError):
    pass


def client_option_file(directory, login, host=None, port=None):
    """A private [client] option file (0600, new) in ``directory`` with ``login`` (login_* options); its path.
    Credentials go through it, never the command line."""
    lines = ['[client]', 'user=%s' % option_value(login.get('login_user') or ''),
             'password=%s' % option_value(login.get('login_password') or '')]
    if login.get('login_unix_socket'):
        lines.append('socket=%s' % option_value(login['login_unix_socket']))
    else:
        lines += ['host=%s' % option_value(login.get('login_host') or host),
                  'port=%d' % int(login.get('login_port') or port)]
    for key, option in (('ca_cert', 'ssl-ca'), ('client_cert', 'ssl-cert'), ('client_key', 'ssl-key')):
        if login.get(key):  # the module's own TLS settings, for the client tools too
            lines.append('%s=%s' % (option, option_value(login[key])))
    if login.get('ca_cert') and login.get('check_hostname') is not False:
        lines.append('ssl-verify-server-cert')
    path = os.path.join(directory, 'client.cnf')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


def option_value(value):
    """A value for a client option file, quoted so that #, quotes and spaces survive."""
    text = str(value)
    if any(c in text for c in '\n\r\0'):
        raise ValueError('a login value contains a line break or NUL')
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def binlog_files(datadir, index=None):
    """The binary log files of a server, oldest first, from its index file (``index``, or the one ``*.index`` of
    ``datadir`` that is not a relay log's)."""
    if not index:
        found = [p for p in sorted(glob.glob(os.path.join(datadir, '*.index'))) if 'relay' not in os.path.basename(p)]
        if len(found) != 1:
            raise TailError('%s holds %s binary log index file(s) (%s): name it with binlog_index'
                            % (datadir, len(found), ', '.join(found) or 'none'))
        index = found[0]
    try:
        with open(index) as handle:
            names = [line.strip() for line in handle if line.strip()]
    except (IOError, OSError) as exc:
        raise TailError('cannot read the binary log index %s: %s' % (index, exc))
    base = os.path.dirname(index)
    files = [n if os.path.isabs(n) else os.path.join(base, os.path.basename(n)) for n in names]
    missing = [f for f in files if not os.path.exists(f)]
    if missing or not files:
        raise TailError('the binary log index %s names %s' % (index, 'no file' if not files else
                                                              'files that are gone: %s' % ', '.join(missing)))
    return files


def most_advanced(replicas):
    """The replica (read, reachable) that will have the most once its relay log is applied, and that set."""
    from ansible_collections.replicant.mysql.plugins.module_utils.failover import predicted_set
    best = None
    for node in replicas:
        if node.error or not node.facts:
            continue
        have = predicted_set(node)
        if best is None or have.count() > best[1].count():
            best = (node, have)
    return best


def settle(node, want, timeout, poll=0.2):
    """Stop the IO thread of ``node`` and wait until it executed ``want`` (its relay log applied); then stop it.

    The failover's rule (``failover.stopped_applier``): its SQL thread is started first, while the IO thread still
    runs; one found with both threads stopped is left as it is when only a transaction cut in half is left, and
    refused, untouched, when complete transactions are left unapplied."""
    from ansible_collections.replicant.mysql.plugins.module_utils.failover import stopped_applier
    server, flavor = node.server, node.facts['flavor']
    verdict, text = stopped_applier(server, flavor)
    if verdict == 'discards':
        raise TailError('%s: %s. Start its SQL thread while its IO thread runs, or fail over without the recovery; '
                        'nothing was recovered' % (node.name, text))
    if verdict == 'start':
        replication.start_replication(server, thread='sql')
        replication.stop_replication(server, thread='io')
    deadline = time.time() + timeout
    while True:
        have = parse_gtid(server.value(dialect.sql(flavor, 'gtid_current_pos')) or '', flavor.name)
        if want.issubset(have):
            break
        if time.time() >= deadline:
            raise TailError('%s still applies its relay log after %s s (it has %s of %s); nothing was recovered'
                            % (node.name, timeout, have, want))
        time.sleep(poll)
    replication.stop_replication(server)


def unsupported(old, replicas):
    """Why the tail of ``old`` cannot be recovered into any of ``replicas`` (Instances), or None.

    Not an error: the failover goes on (as with a host that is gone) and the reason says what may be lost."""
    for node in replicas:
        flavor = (node.facts or {}).get('flavor') if not node.error else None
        if flavor is not None and flavor.name != 'mariadb':
            return ('%s runs %s: recovering a binary-log tail is done for MariaDB only, so what %s wrote that no '
                    'replica received may be lost' % (node.name, flavor.name, old.name))
    return None


def recover_tail(old, replicas, defaults_file, binlog_index=None, binlog_tool='mariadb-binlog',
                 client_tool='mariadb', timeout=60, check_mode=False, save_dir=None):
    """Recover what ``old`` (the dead master, an Instance) wrote that no replica received, into the most advanced
    of ``replicas`` (Instances, connected and read by the caller). Runs on the old master's host.

    Returns dict(recovered: transactions applied (or that would be), gtids, applied_to, start, not_read: why
    nothing was read, or None, tail_file: the saved events (with ``save_dir``), steps)."""
    result = dict(recovered=0, gtids=[], incomplete=[], applied_to=None, start=None, not_read=None, tail_file=None,
                  steps=[])
    process = ServerProcess(defaults_file)
    if process.running():
        result['not_read'] = ('%s is still running on this host (pid %s): a hung server may write again, so its '
                              'binary log was not read' % (old.name, process.pid()))
        return result
    result['not_read'] = unsupported(old, replicas)
    if result['not_read']:
        return result
    best = most_advanced(replicas)
    if best is None:
        raise TailError('no replica of %s can be reached: nothing to recover into' % old.name)
    node, have = best
    files = binlog_files(process.datadir, binlog_index)
    result.update(applied_to=node.name, start=str(have))
    private = tempfile.mkdtemp(prefix='replicant-tail-')
    try:
        tail = os.path.join(private, 'tail.sql')
        command = [binlog_tool, '--start-position=%s' % have, '--skip-gtid-strict-mode'] + files
        with open(tail, 'wb') as out:
            try:
                proc = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, timeout=600, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise TailError('cannot run %s on the binary log of %s: %s' % (binlog_tool, old.name, exc))
        with open(tail, 'rb') as handle:
            gtids = GTID_EVENT.findall(handle.read().decode('utf-8', 'replace'))
        if proc.returncode != 0 and not gtids:
            raise TailError('%s exited %s on the binary log of %s: %s' % (
                binlog_tool, proc.returncode, old.name, proc.stderr.decode('utf-8', 'replace').strip()[-500:]))
        result['gtids'] = gtids
        result['recovered'] = len(gtids)
        result['steps'].append('%s: %d transaction(s) in its binary log after %s (what %s will have)'
                               % (old.name, len(gtids), have or 'the start', node.name))
        if not gtids or check_mode:
            return result
        settle(node, have, timeout)
        result['steps'].append('%s: relay log applied, replication stopped' % node.name)
        apply(node, tail, private, client_tool)
        applied, cut = _applied(node, gtids)
        result.update(recovered=len(applied), gtids=applied, incomplete=cut)
        result['steps'].append('%s: applied %d transaction(s) (%s) with their GTIDs%s' % (
            node.name, len(applied), ' to '.join(sorted({applied[0], applied[-1]})) if applied else '-',
            '; %s was cut off by the crash (never acknowledged)' % cut[0] if cut else ''))
        if save_dir:
            result['tail_file'] = _save(tail, save_dir, old.name)
        return result
    finally:
        shutil.rmtree(private, ignore_errors=True)


def apply(node, tail, private, client_tool):
    """Feed the mariadb-binlog text ``tail`` to ``node`` with the ``mariadb`` client (it understands the
    delimiters and client commands of that text); a transaction cut in half is rolled back by the server."""
    options = client_option_file(private, node.login, node.host, node.port)
    with open(tail, 'rb') as source:
        try:
            proc = subprocess.run([client_tool, '--defaults-file=%s' % options, '--binary-mode'], stdin=source,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TailError('%s: cannot run %s to apply the recovered transactions: %s' % (node.name, client_tool, exc))
    if proc.returncode != 0:
        raise TailError('%s: applying the recovered transactions failed (%s exited %s: %s); what was applied before '
                        'the error stays' % (node.name, client_tool, proc.returncode,
                                             proc.stderr.decode('utf-8', 'replace').strip()[-500:]))


def _applied(node, gtids):
    """([GTIDs now in the replica's binary log], [the last one, when the crash cut it off]); then the replica's
    gtid_slave_pos takes in what it applied (its gtid_current_pos ignores other servers' GTIDs it wrote itself),
    so that the failover sees it as the most advanced. Any other GTID missing is an error."""
    flavor = node.facts['flavor']
    binlog = parse_gtid(node.server.value('SELECT @@GLOBAL.gtid_binlog_pos') or '', flavor.name)
    applied = [g for g in gtids if parse_gtid(g, flavor.name).issubset(binlog)]
    missing = [g for g in gtids if g not in applied]
    if missing[:-1] or (missing and missing[-1] != gtids[-1]):
        raise TailError('%s: after applying the recovered transactions its binary log lacks %s'
                        % (node.name, ', '.join(missing)))
    slave = parse_gtid(node.server.value(dialect.sql(flavor, 'gtid_slave_pos')) or '', flavor.name)
    node.server.sql(dialect.sql(flavor, 'set_gtid_slave_pos', gtid=str(slave.union(binlog))))
    return applied, missing


def _save(tail, save_dir, name):
    if not os.path.isdir(save_dir):
        os.makedirs(save_dir, 0o700)
    path = os.path.join(save_dir, '%s-tail-%s.binlog.sql' % (re.sub(r'[^A-Za-z0-9_.-]', '_', name),
                                                             time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as out, open(tail, 'rb') as source:
        shutil.copyfileobj(source, out)
    return path
