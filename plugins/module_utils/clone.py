# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces of clone_slave: copy streams between hosts, credentials in option files, table checksums.

A copy is a producer command on the source host (a hot backup, a dump, a tar of a datadir) piped
into a receiver command that reaches the target host (directly when both are the same host, or
through the transport the caller gives, e.g. ``ssh target``). Bytes pass through this process,
which counts them and writes a progress line to a file, so that a long copy can be watched.
Passwords are written to option files (mode 0600), never put on a command line.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time

from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.replication import (
    SCHEMA_BYTES, fetch_master_pos, fetch_slave_pos, flush_and_lock, replica_status, unlock)
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

# Client programs per flavor.
TOOLS = {
    'mariadb': {'backup': 'mariadb-backup', 'unpack': 'mbstream', 'dump': 'mariadb-dump', 'client': 'mariadb'},
    'mysql': {'backup': 'xtrabackup', 'unpack': 'xbstream', 'dump': 'mysqldump', 'client': 'mysql'},
}
GTID_IN_DUMP = re.compile(rb"gtid_slave_pos\s*=\s*'([^']*)'")


class CopyError(Exception):
    pass


def option_file(user, password, socket=None, host=None, port=None, include=None, sections=('client',),
                directory=None):
    """Write a private (0600) option file with the connection settings; returns its path."""
    fd, path = tempfile.mkstemp(prefix='replicant-', suffix='.cnf', dir=directory)
    lines = ['!include %s' % include] if include else []
    for section in sections:
        lines.append('[%s]' % section)
        for key, value in (('user', user), ('password', password), ('socket', socket), ('host', host), ('port', port)):
            if value is not None:
                lines.append('%s = "%s"' % (key, str(value).replace('\\', '\\\\').replace('"', '\\"')))
    with os.fdopen(fd, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    os.chmod(path, 0o600)
    return path


def producer(method, flavor, options_file, datadir=None, schemas=None, work_dir=None):
    """The command that writes the copy to its standard output."""
    tools = TOOLS[flavor]
    if method == 'physical':
        return [tools['backup'], '--defaults-file=%s' % options_file, '--backup', '--stream=xbstream',
                '--target-dir=%s' % (work_dir or tempfile.gettempdir())]
    if method == 'logical':
        return [tools['dump'], '--defaults-file=%s' % options_file, '--single-transaction', '--master-data=1',
                '--gtid', '--routines', '--triggers', '--events', '--databases', '--'] + list(schemas or [])
    if method in ('cold', 'snapshot'):
        return ['tar', '-C', datadir, '-cf', '-', '.']
    raise ValueError('unknown copy method %r' % (method,))


def receiver(method, flavor, target_dir=None, options_file=None):
    """The command that takes the copy in on the target host (before any transport is put in front)."""
    tools = TOOLS[flavor]
    if method == 'physical':
        return [tools['unpack'], '-x', '-C', target_dir]
    if method == 'logical':
        return [tools['client'], '--defaults-file=%s' % options_file, '--init-command=SET SESSION sql_log_bin = 0']
    if method in ('cold', 'snapshot'):
        return ['tar', '-C', target_dir, '-xf', '-']
    raise ValueError('unknown copy method %r' % (method,))


def missing_tools(method, flavor, transport=(), timeout=30):
    """What the copy cannot run without: the producer's program here (the source host), the receiver's (and, for a
    physical copy, the backup tool that prepares it) on the target host, through ``transport`` when given."""
    tools = TOOLS[flavor]
    here = [producer(method, flavor, 'x', datadir='.', schemas=[])[0]]
    there = [receiver(method, flavor, target_dir='.', options_file='x')[0]] + ([tools['backup']] if method == 'physical' else [])
    missing = ['%s is not installed on the source host' % name for name in here if not shutil.which(name)]
    for name in there:
        if not transport:
            found = bool(shutil.which(name))
        else:
            try:
                found = subprocess.run(list(transport) + ['command -v %s' % shlex.quote(name)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, timeout=timeout, check=False).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                found = False
        if not found:
            missing.append('%s is not installed on the target host%s' % (
                name, '' if not transport else ' (or the transport %s does not reach it)' % ' '.join(transport)))
    return missing


# Files of a datadir a hot backup does not copy: binary and relay logs and their indexes. (The redo log counts: the
# target server makes one of its own at its first start.)
_NOT_IN_A_BACKUP = re.compile(r'^(.*\.\d{6,}|.*\.index)$')


def copy_bytes(method, datadir=None, schema_bytes=None):
    """Bytes a copy writes on the target host: the datadir (cold, snapshot), the datadir without binary and
    relay logs (physical), the data and indexes of the schemas (logical, ``schema_bytes``: name -> bytes)."""
    if method == 'logical':
        return sum(int(n or 0) for n in (schema_bytes or {}).values())
    if not datadir or not os.path.isdir(datadir):
        raise CopyError('the source datadir %s is not a directory on the source host' % datadir)
    total = 0

    def unreadable(exc):
        raise CopyError('the source datadir cannot be read on the source host to measure the copy: %s' % exc)
    for top, _dirs, files in os.walk(datadir, onerror=unreadable):
        for name in files:
            if method == 'physical' and top == datadir and _NOT_IN_A_BACKUP.match(name):
                continue
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                pass  # a file that went away meanwhile (a running server's temporary files)
    return total


# Run on the target host: the free space of the filesystem that will hold target_dir (its nearest existing
# directory), and what target_dir holds on that filesystem now (freed when the target's datadir is emptied).
_SPACE_SCRIPT = ('t=%s; d="$t"; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done; df -Pk -- "$d" | tail -n 1; '
                 'if [ -d "$t" ]; then du -sxk -- "$t"; else echo 0; fi')


def target_space(target_dir, transport=(), timeout=600):
    """dict(free, held, mount) in bytes for ``target_dir`` on the target host (through ``transport``)."""
    script = _SPACE_SCRIPT % shlex.quote(target_dir)
    argv = list(transport) + [script] if transport else ['sh', '-c', script]
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=False,
                              universal_newlines=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CopyError('the free space for %s on the target host could not be measured: %s' % (target_dir, exc))
    try:
        df, du = done.stdout.strip().splitlines()[-2:]
        fields = df.split()
        return dict(free=int(fields[3]) * 1024, mount=' '.join(fields[5:]), held=int(du.split()[0]) * 1024)
    except (ValueError, IndexError):
        raise CopyError('the free space for %s on the target host could not be measured: %s' % (
            target_dir, _last((done.stderr or done.stdout or 'no answer').encode())))


def needed_bytes(data, margin):
    return int(data * (100 + margin) / 100)


def space_problem(method, data, target_dir, space, margin):
    """None when the target has room for ``data`` bytes + ``margin`` percent, else what is missing and what to do."""
    needed = needed_bytes(data, margin)
    # an emptied datadir frees what it holds; a logical load adds to the running target's files
    available = space['free'] + (space['held'] if method != 'logical' else 0)
    if needed <= available:
        return None
    return ('not enough free space on the target host for the %s copy: it needs %s bytes (%s of data on the source + '
            '%d%% margin) in %s, but the filesystem %s has %s bytes free%s. Free space there, put the target datadir '
            'on a larger filesystem, or (if you know the copy fits) lower space_margin (clone_slave_space_margin) or '
            'set check_space=false (clone_slave_skip_space_check=true)' % (
                method, needed, _human(data), margin, target_dir, space['mount'], space['free'],
                ' (+ %s bytes its datadir holds now)' % space['held'] if method != 'logical' and space['held'] else ''))


def check_space(method, target_dir, transport=(), margin=10, datadir=None, server=None, schemas=None):
    """Measure what the copy needs and what the target host has: dict(needed, data, free, held, mount, margin,
    problem); ``problem`` is None when it fits. ``server`` (the source) gives the sizes of a logical copy and the
    datadir of a physical one when ``datadir`` is not given."""
    if method == 'logical':
        sizes = {row['name']: row['bytes'] for row in server.sql(SCHEMA_BYTES)}
        data = copy_bytes(method, schema_bytes=dict((name, sizes.get(name, 0)) for name in schemas or ()))
    else:
        data = copy_bytes(method, datadir=datadir or server.variable('datadir'))
    space = target_space(target_dir, transport)
    problem = space_problem(method, data, target_dir, space, margin)
    return dict(space, data=data, needed=needed_bytes(data, margin), margin=margin, problem=problem)


def stream(produce, receive, progress_file=None, timeout=None, chunk=1 << 20, producer_ok=(0,)):
    """Pipe ``produce`` into ``receive``; returns dict(bytes, seconds, mb_per_s, gtid found in the stream)."""
    started = time.time()
    prod = subprocess.Popen(produce, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    recv = subprocess.Popen(receive, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors = {}
    readers = [threading.Thread(target=lambda p=p, k=k: errors.__setitem__(k, p.stderr.read()))
               for k, p in (('producer', prod), ('receiver', recv))]
    for thread in readers:
        thread.daemon = True
        thread.start()
    copied, last_report, gtid, tail = 0, 0.0, None, b''
    try:
        while True:
            data = prod.stdout.read1(chunk) if hasattr(prod.stdout, 'read1') else prod.stdout.read(chunk)
            if not data:
                break
            recv.stdin.write(data)
            copied += len(data)
            found = GTID_IN_DUMP.findall(tail + data)
            if found:
                gtid = found[-1].decode('ascii', 'replace')
            tail = data[-256:]
            now = time.time()
            if progress_file and now - last_report >= 1:
                _report(progress_file, copied, now - started)
                last_report = now
            if timeout and now - started > timeout:
                raise CopyError('the copy did not finish within %ss (%s copied)' % (timeout, _human(copied)))
        recv.stdin.close()
        prod_rc, recv_rc = prod.wait(), recv.wait()
    except (OSError, CopyError) as exc:
        for proc in (prod, recv):
            if proc.poll() is None:
                proc.kill()
        prod.wait()
        recv.wait()
        for thread in readers:
            thread.join(5)
        raise CopyError('%s; producer said: %s; receiver said: %s' % (
            exc, _last(errors.get('producer')), _last(errors.get('receiver'))))
    for thread in readers:
        thread.join(5)
    seconds = max(time.time() - started, 1e-6)
    if progress_file:
        _report(progress_file, copied, seconds, done=True)
    if prod_rc not in producer_ok or recv_rc != 0:
        raise CopyError('the copy failed: %s exited %s (%s); %s exited %s (%s)' % (
            produce[0], prod_rc, _last(errors.get('producer')), receive[0], recv_rc, _last(errors.get('receiver'))))
    return dict(bytes=copied, seconds=round(seconds, 3), mb_per_s=round(copied / seconds / 1e6, 1), gtid=gtid)


def _human(n):
    for unit in ('B', 'KB', 'MB', 'GB', 'TB'):
        if n < 1000 or unit == 'TB':
            return '%.1f %s' % (n, unit)
        n /= 1000.0
    return '%d B' % n


def _report(path, copied, seconds, done=False):
    line = '%s %s copied in %.0fs (%.1f MB/s)\n' % ('done:' if done else 'copying:', _human(copied), seconds,
                                                    copied / max(seconds, 1e-6) / 1e6)
    # Never through a symbolic link, and private to its owner: the file may sit in a directory others can write.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    with os.fdopen(fd, 'a') as handle:
        handle.write(line)


def _last(text, lines=5):
    text = (text or b'').decode('utf-8', 'replace').strip()
    return ' | '.join(text.splitlines()[-lines:]) or '(nothing)'


def backup_coordinates(target_dir):
    """GTID and binlog coordinates a hot backup recorded (xtrabackup_binlog_info), or None."""
    for name in ('mariadb_backup_binlog_info', 'xtrabackup_binlog_info'):
        path = os.path.join(target_dir, name)
        if os.path.exists(path):
            with open(path) as handle:
                fields = handle.read().split()
            return dict(file=fields[0] if fields else None, pos=int(fields[1]) if len(fields) > 1 else None,
                        gtid=fields[2] if len(fields) > 2 else '')
    return None


# -- verification ------------------------------------------------------------------------------
def _checksums(server):
    tables = [(row['db'], row['name']) for row in server.run('user_tables')]
    sums = {}
    for start in range(0, len(tables), 50):
        for row in server.run('checksum_tables', tables=tables[start:start + 50]):
            sums[row['Table']] = row['Checksum']
    return sums


def _position(server, is_master):
    if is_master:
        return fetch_master_pos(server)['gtid_executed']
    return fetch_slave_pos(server)['gtid']


def _stop_at(server, gtid, timeout):
    """Bring a replica to exactly ``gtid`` and leave its threads stopped there."""
    server.run('stop_replica')
    flavor = server.flavor
    if parse_gtid(_position(server, False), flavor.name) == parse_gtid(gtid, flavor.name):
        return
    server.run('start_replica_until_gtid', gtid=gtid)
    deadline = time.time() + timeout
    while True:
        status = replica_status(server)
        if status['last_sql_errno']:
            raise ServerError('%s stopped with error %s before reaching %s: %s'
                              % (server, status['last_sql_errno'], gtid, status['last_sql_error']))
        if not status['sql_running_ok']:
            break
        if time.time() > deadline:
            raise ServerError('%s did not reach %s within %ss' % (server, gtid, timeout))
        time.sleep(0.05)
    reached = _position(server, False)
    if parse_gtid(reached, flavor.name) != parse_gtid(gtid, flavor.name):
        raise ServerError('%s stopped at %s, not at %s' % (server, reached, gtid))


def compare_checksums(source, target, source_is_master=False, timeout=120):
    """Checksum every user table of ``source`` and ``target`` at the same GTID position and compare.

    Replicas are stopped at one common position and started again. When the source is the master,
    it is read-locked (FLUSH TABLES WITH READ LOCK) while the tables are checksummed: fine for small
    data, an outage for large; compare against a replica there.
    """
    flavor = source.flavor
    stopped = []
    try:
        if source_is_master:
            flush_and_lock(source, timeout)
            point = _position(source, True)
        else:
            for replica in (source, target):
                replica.run('stop_replica')
                stopped.append(replica)
            point = str(parse_gtid(_position(source, False), flavor.name) |
                        parse_gtid(_position(target, False), flavor.name))
        stopped = [target] + ([] if source_is_master else [source])
        for replica in stopped:
            _stop_at(replica, point, timeout)
        mine, theirs = _checksums(source), _checksums(target)
    finally:
        if source_is_master:
            unlock(source)
        for replica in stopped:
            replica.run('start_replica')
    differences = sorted(t for t in set(mine) | set(theirs) if mine.get(t) != theirs.get(t))
    return dict(match=not differences, differences=differences, tables=len(mine), gtid=point)
