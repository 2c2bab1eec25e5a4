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

import copy
import errno
import fcntl
import os
import queue
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time

from ansible_collections.replicant.mysql.plugins.module_utils import dialect
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.replication import (
    SCHEMA_BYTES, fetch_master_pos, fetch_slave_pos, flush_and_lock, replica_status, unlock)
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

# Client programs per flavor.
TOOLS = {
    'mariadb': {'backup': 'mariadb-backup', 'unpack': 'mbstream', 'dump': 'mariadb-dump', 'client': 'mariadb'},
    'mysql': {'backup': 'xtrabackup', 'unpack': 'xbstream', 'dump': 'mysqldump', 'client': 'mysql'},
}
# Compressors for the stream between hosts: (compress on the source host, decompress on the target host).
COMPRESSORS = {'zstd': (['zstd', '-q', '-1', '-T0', '-c'], 'zstd -q -d -c'),
               'lz4': (['lz4', '-q', '-1', '-c'], 'lz4 -q -d -c'),
               'gzip': (['gzip', '-1', '-c'], 'gzip -d -c')}
MAX_PACKET = '1G'  # the largest statement a logical copy writes and loads
PROXY_GRANT = 'GRANT PROXY ON '
# The head of an enabled event's CREATE EVENT in a dump (its status comes right after ON COMPLETION, before DO).
EVENT_ENABLED = re.compile(r'^(/\*!50106 CREATE\*/ .*?/\*!50106 EVENT .*? ON COMPLETION (?:NOT )?PRESERVE) ENABLE ', re.M)


class CopyError(Exception):
    pass


def option_text(user, password, socket=None, host=None, port=None, include=None, sections=('client',)):
    """The text of an option file with the connection settings (values quoted by the option file's rules)."""
    lines = ['!include %s' % include] if include else []
    for section in sections:
        lines.append('[%s]' % section)
        for key, value in (('user', user), ('password', password), ('socket', socket), ('host', host), ('port', port)):
            if value is not None:
                lines.append('%s = "%s"' % (key, str(value).replace('\\', '\\\\').replace('"', '\\"')))
    return '\n'.join(lines) + '\n'


def option_file(user, password, socket=None, host=None, port=None, include=None, sections=('client',),
                directory=None):
    """Write a private (0600) option file with the connection settings; returns its path."""
    fd, path = tempfile.mkstemp(prefix='replicant-', suffix='.cnf', dir=directory)
    with os.fdopen(fd, 'w') as handle:
        handle.write(option_text(user, password, socket, host, port, include, sections))
    os.chmod(path, 0o600)
    return path


# On the target host: a private directory of the run (0700) holding the client options (0600) read from the input.
_TARGET_OPTIONS = ('umask 077 && d=$(mktemp -d "${TMPDIR:-/tmp}/replicant-load-XXXXXXXX") && cat > "$d/client.cnf" '
                   '&& echo "$d"')


def on_target(command, transport=()):
    """``command`` (a list) as run on the target host: through ``transport`` as one shell word, or as it is."""
    return list(transport) + [' '.join(shlex.quote(word) for word in command)] if transport else list(command)


def target_option_file(login, transport=(), timeout=60):
    """Write the target server's client options (``login``: user, password, unix_socket, host, port) into a private
    directory of its own on the target host, through ``transport`` (the password travels on the command's input,
    never on a command line); returns that directory (remove it with remove_on_target())."""
    login = {key: value for key, value in login.items() if value not in (None, '')}  # unset (older Ansible gives '')
    text = option_text(login.get('user'), login.get('password'), socket=login.get('unix_socket'), host=login.get('host'),
                       port=login.get('port') if login.get('host') else None)
    out = _run(on_target(['sh', '-c', _TARGET_OPTIONS], transport), text.encode(), timeout,
               "writing the target's client options").decode().strip()
    if not out.startswith('/'):
        raise CopyError("writing the target's client options gave no directory (%r)" % out[-200:])
    return out


def remove_on_target(directory, transport=(), timeout=60):
    """Remove a private directory target_option_file() made (errors are not raised: it is cleanup)."""
    try:
        _run(on_target(['rm', '-rf', '--', directory], transport), None, timeout, 'removing ' + directory)
    except CopyError:
        pass


def producer(method, flavor, options_file, datadir=None, schemas=None, work_dir=None):
    """The command that writes the copy to its standard output."""
    tools = TOOLS[flavor]
    if method == 'physical':
        return [tools['backup'], '--defaults-file=%s' % options_file, '--backup', '--stream=xbstream',
                '--target-dir=%s' % (work_dir or tempfile.gettempdir())]
    if method == 'logical':  # one stream of every table (see logical_copy())
        return parallel_producers(flavor, options_file, schemas or [], [set()])[0]
    if method in ('cold', 'snapshot'):
        return ['tar', '-C', datadir, '-cf', '-', '.']
    raise ValueError('unknown copy method %r' % (method,))


# What the receiver runs on the target host around the unpacking of a file copy: refuse a target directory
# that is missing or not empty (the procedure empties it on the target host first: a directory with files in
# it here means the receiver is on the wrong host, e.g. the source, through a wrong transport), unpack, and
# then (physical) prepare the backup, give the files to the server's user and print the position the copy
# was taken at: one command line, so one round through the transport.
_RECEIVE_FILES = ('set -e; dir="$1"; owner="$2"; prepare="$3"; shift 3; '
                  'if [ ! -d "$dir" ] || [ -n "$(ls -A "$dir")" ]; then echo "the target directory $dir is missing or '
                  'not empty on $(hostname): the copy only goes into the empty datadir the procedure made on the '
                  'target host (is the transport right?)" >&2; exit 1; fi; "$@"; '
                  'if [ -n "$prepare" ]; then "$prepare" --prepare --target-dir="$dir" >&2; fi; '
                  'if [ -n "$owner" ]; then chown -R "$owner" "$dir"; fi; '
                  'cat "$dir/xtrabackup_binlog_info" 2>/dev/null || true')
# Session settings of a logical load: nothing of it in the target's binary log, no per-row unique or
# foreign key checks (the source enforced them), statements as large as the dump writes them.
LOAD_INIT = 'SET SESSION sql_log_bin = 0, SESSION unique_checks = 0, SESSION foreign_key_checks = 0'


def dump_groups(tables, streams):
    """Share the base tables among ``streams`` dump streams, about equal bytes each (largest first); returns the
    non-empty groups as sets of (db, name)."""
    groups = [[0, set()] for _stream in range(max(1, streams))]
    for table in sorted(tables, key=lambda t: (-int(t['bytes'] or 0), t['db'], t['name'])):
        group = min(groups, key=lambda g: g[0])
        group[0] += int(table['bytes'] or 0)
        group[1].add((table['db'], table['name']))
    return [g[1] for g in groups if g[1]]


def parallel_producers(flavor, options_file, schemas, groups):
    """One dump per group (tables with their triggers, views), all in one consistent state when they start under a
    read lock (see consistent_start()): every schema, the other groups' tables left out. None writes a position, nor
    the accounts, routines and events (see system_producer())."""
    everything = set().union(*groups)
    commands = []
    for group in groups:
        command = [TOOLS[flavor]['dump'], '--defaults-file=%s' % options_file, '--max-allowed-packet=%s' % MAX_PACKET,
                   '--single-transaction', '--triggers', '--skip-routines', '--skip-events']
        command += ['--ignore-table=%s.%s' % table for table in sorted(everything - group)]
        commands.append(command + ['--databases', '--'] + list(schemas))
    return commands


def system_producer(flavor, options_file, schemas):
    """The dump of what is not in the tables' snapshot (the mysql schema): the accounts, roles and their grants
    (MariaDB: --system=users, as CREATE USER IF NOT EXISTS and GRANT), the routines and events of ``schemas``.
    It runs to its end under the read lock, so that it is of the position the copy carries."""
    command = [TOOLS[flavor]['dump'], '--defaults-file=%s' % options_file, '--max-allowed-packet=%s' % MAX_PACKET,
               '--skip-lock-tables', '--no-data', '--no-create-info', '--skip-triggers', '--routines', '--events']
    if flavor == 'mariadb':
        command += ['--system=users', '--insert-ignore']
    return command + (['--databases', '--'] + list(schemas) if schemas else [])


def system_load(flavor, dump, gtid):
    """What the target loads after every table: its other accounts dropped (the loading one stays), the source's
    accounts, grants, routines and events (``dump``; enabled events disabled on the target, as replicating their
    CREATE EVENT does), and the position of the copy."""
    statements = []
    if flavor.name == 'mariadb':
        statements.append('DELIMITER ;;\n%s;;\nDELIMITER ;\n' % dialect.sql(flavor, 'drop_other_accounts'))
    dump = dump.decode('utf-8', 'surrogateescape') if isinstance(dump, bytes) else dump
    # PROXY grants need PROXY ... WITH GRANT OPTION, which the loading account has not (root's): the accounts holding
    # one stay as the target has them (see drop_other_accounts), and the verification compares them.
    dump = ''.join(line for line in dump.splitlines(True) if not line.startswith(PROXY_GRANT))
    statements.append(EVENT_ENABLED.sub(r'\1 DISABLE ON SLAVE ', dump))
    statements.append('%s;\n' % dialect.sql(flavor, 'set_gtid_slave_pos', gtid=gtid))
    return ''.join(statements).encode('utf-8', 'surrogateescape')


def consistent_start(server, before, pipes, timeout=60):
    """With ``server`` read-locked (nothing commits), wait until every dump stream of ``pipes`` has opened its
    consistent snapshot (a new transaction, not in ``before``; or it has already dumped everything and ended
    well), then unlock."""
    deadline = time.time() + timeout
    while True:
        ended = [pipe for pipe in pipes if pipe.prod.poll() is not None]
        failed = [pipe for pipe in ended if pipe.prod.returncode != 0]
        if failed:
            raise CopyError('a dump stream (%s) failed before every stream had opened its snapshot' % failed[0].produce[0])
        if len({row['id'] for row in server.run('open_transactions')} - before) >= len(pipes) - len(ended):
            break
        if time.time() > deadline:
            raise CopyError('the %d dump streams did not all open their snapshot within %ss' % (len(pipes), timeout))
        time.sleep(0.12)  # InnoDB refreshes its transaction list for information_schema when unread for 0.1 s
    unlock(server)


def _run(command, data=None, timeout=None, what='a command'):
    """Run ``command`` to its end with ``data`` on its input; its output, or CopyError."""
    try:
        done = subprocess.run(command, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CopyError('%s (%s) failed: %s' % (what, command[0], exc))
    if done.returncode != 0:
        raise CopyError('%s (%s) exited %s: %s' % (what, command[0], done.returncode, _last(done.stderr)))
    return done.stdout


def logical_copy(server, flavor, options_file, schemas, receive, streams, compress=None, timeout=None, **stream_args):
    """A logical copy of ``schemas`` and the accounts in up to ``streams`` dump streams loaded at once, all of one
    consistent state: the source is read-locked while the accounts, routines and events are dumped (they are not in
    a transaction's snapshot) and until every table stream has opened its snapshot. The tables (their triggers,
    views) load first, in one stream when there are views (they need every table) or fewer than two tables; then
    the accounts, grants (some name tables and routines), routines, events and the position read under the lock.
    Returns stream_many()'s result (plus ``producers``, ``gtid`` and ``system_bytes``)."""
    objects = [t for t in server.run('table_sizes') if t['db'] in schemas]
    views = any(t['type'] == 'VIEW' for t in objects)
    groups = dump_groups(objects, 1 if views else streams)
    producers = parallel_producers(flavor, options_file, schemas, groups)
    system = system_producer(flavor, options_file, schemas)
    gtid = flush_and_lock(server)['gtid_executed']
    try:
        before = {row['id'] for row in server.run('open_transactions')}  # under the lock: none of them a stream's
        dump = _run(system, timeout=timeout, what='the dump of the accounts, routines and events')
        result = dict(bytes=0, seconds=0, mb_per_s=0, said=b'')
        if groups:
            pipes = [(command, receive, b'') for command in producers]
            result = stream_many(pipes, started=lambda running: consistent_start(server, before, running),
                                 compress=compress, timeout=timeout, **stream_args)
    finally:
        unlock(server)
    load = system_load(server.flavor, dump, gtid)
    if compress and compress != 'none':
        load = _run(COMPRESSORS[compress][0], load, timeout, 'compressing the accounts, routines and events')
    _run(receive, load, timeout, 'loading the accounts, routines and events')
    result['bytes'] += len(load)
    return dict(result, gtid=gtid, producers=producers + [system], system_bytes=len(load))


# What a logical load relaxes on the target (global settings; restored after the load, whatever happens).
RELAXED_DURABILITY = (('innodb_flush_log_at_trx_commit', 2), ('sync_binlog', 0))


def relaxed(client, load, timeout=None):
    """``load()`` with the target server's durability relaxed (RELAXED_DURABILITY), then put back as it was, whatever
    happens; ``client`` runs SQL from its input on the target server. Returns load()'s result plus ``durability``
    (the settings restored)."""
    names = [name for name, _value in RELAXED_DURABILITY]
    out = _run(client, ("SELECT CONCAT_WS(' ', 'durability', %s);\n" % ', '.join('@@GLOBAL.%s' % n for n in names)).encode(),
               timeout, "reading the target's durability")
    words = [line for line in out.decode('utf-8', 'replace').splitlines() if line.startswith('durability ')][-1:]
    values = words[0].split()[1:] if words else []
    if len(values) != len(names) or not all(v.isdigit() for v in values):
        raise CopyError("could not read the target's durability (%s): %r" % (', '.join(names), _last(out)))
    before = dict(zip(names, (int(v) for v in values)))

    def setting(pairs):
        return ('SET %s;\n' % ', '.join('GLOBAL %s = %d' % pair for pair in pairs)).encode()

    _run(client, setting(RELAXED_DURABILITY), timeout, "relaxing the target's durability for the load")
    result = _restoring(load, lambda: _run(client, setting((n, before[n]) for n in names), timeout,
                                           "restoring the target's durability"),
                        "the target's durability was NOT restored (%s; set them by hand)"
                        % ', '.join('%s = %d' % (n, before[n]) for n in names))
    return dict(result, durability=before)


def with_source_stopped(donor, copy, timeout=3600):
    """``copy()`` with the source server stopped (``donor``: a lifecycle control) and started again whatever happens,
    if it ran; returns copy()'s result plus ``source`` (what was done)."""
    was = donor.running()
    if not was:
        return dict(copy(), source=dict(stopped=False, started=False))
    donor.stop(timeout=min(timeout, 3600))
    result = _restoring(copy, lambda: donor.start(timeout=min(timeout, 3600)),
                        'the source %s did NOT start again' % donor)
    return dict(result, source=dict(stopped=True, started=True))


def _restoring(body, restore, not_restored):
    """body(), then restore() - also when body() fails. A restore that fails raises CopyError: ``not_restored``, why,
    and body()'s own failure if it had one."""
    failure = None
    try:
        return body()
    except Exception as exc:
        failure = exc
        raise
    finally:
        try:
            restore()
        except Exception as exc:  # a CopyError, a LifecycleError: said with what it leaves undone
            raise CopyError('%s %s: %s' % ('the copy ended, but' if failure is None else '%s; and' % failure,
                                           not_restored, exc))


def receiver(method, flavor, target_dir=None, options_file=None, owner='mysql'):
    """The command that takes the copy in on the target host (before any transport is put in front)."""
    tools = TOOLS[flavor]
    if method == 'logical':
        return [tools['client'], '--defaults-file=%s' % options_file, '--max-allowed-packet=%s' % MAX_PACKET,
                '--init-command=%s' % LOAD_INIT]
    if method == 'physical':
        unpack, prepare = [tools['unpack'], '-x', '-C', target_dir], tools['backup']
    elif method in ('cold', 'snapshot'):
        unpack, prepare = ['tar', '-C', target_dir, '-xf', '-'], ''
    else:
        raise ValueError('unknown copy method %r' % (method,))
    if not target_dir or not os.path.isabs(target_dir) or os.path.normpath(target_dir) == '/':
        raise ValueError('the target directory must be an absolute path other than / (got %r)' % (target_dir,))
    return ['sh', '-c', _RECEIVE_FILES, 'receive', target_dir, owner or '', prepare] + unpack


def copy_position(text):
    """The GTID and binlog coordinates a receiver printed (xtrabackup_binlog_info: file, position, GTID), or None."""
    fields = (text or b'').decode('utf-8', 'replace').split()
    if not fields:
        return None
    return dict(file=fields[0], pos=int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None,
                gtid=fields[2] if len(fields) > 2 else '')


def compressed(receive, compress):
    """The receiver behind the decompressor of ``compress`` (on the target host, in the same command)."""
    if not compress or compress == 'none':
        return receive
    return ['sh', '-c', '%s | "$@"' % COMPRESSORS[compress][1], 'decompress'] + list(receive)


def missing_tools(method, flavor, transport=(), timeout=30, compress=None):
    """What the copy cannot run without: the producer's program here (the source host), the receiver's (and, for a
    physical copy, the backup tool that prepares it) on the target host, through ``transport`` when given."""
    tools = TOOLS[flavor]
    here = [producer(method, flavor, 'x', datadir='.', schemas=[])[0]]
    there = {'physical': [tools['unpack'], tools['backup']], 'logical': [tools['client']]}.get(method, ['tar'])
    if compress and compress != 'none':
        here.append(COMPRESSORS[compress][0][0])
        there.append(COMPRESSORS[compress][0][0])
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


class _Pipe:
    """One producer (behind an optional compressor) piped through this process into one receiver."""

    def __init__(self, produce, receive, compress=None, epilogue=b''):
        self.produce, self.receive, self.epilogue = produce, receive, epilogue
        self.prod = subprocess.Popen(produce, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.source = self.prod
        if compress and compress != 'none':
            self.source = subprocess.Popen(COMPRESSORS[compress][0], stdin=self.prod.stdout, stdout=subprocess.PIPE)
            self.prod.stdout.close()  # the compressor has it now
        self.recv = subprocess.Popen(receive, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.said, self.copied, self.error = {}, 0, None
        self.readers = [threading.Thread(target=lambda s=s, k=k: self.said.__setitem__(k, s.read()))
                        for k, s in (('producer', self.prod.stderr), ('receiver', self.recv.stderr),
                                     ('stdout', self.recv.stdout))]
        for thread in self.readers:
            thread.daemon = True
            thread.start()

    def pump(self, chunk, meter):
        """Copy until the producer's end (on a thread); an OSError (a receiver gone) is kept in ``error``."""
        try:
            move = _mover(self.source.stdout, self.recv.stdin)
            while True:
                moved = move(chunk)
                if not moved:
                    break
                self.copied += moved
                meter()
            if self.epilogue:
                self.recv.stdin.write(self.epilogue)
            self.recv.stdin.close()
        except (OSError, ValueError) as exc:  # the receiver is gone: stop the producer, which nobody reads now
            self.error = exc
            self.kill()

    def procs(self):
        return [self.prod, self.recv] + ([self.source] if self.source is not self.prod else [])

    def kill(self):
        for proc in self.procs():
            if proc.poll() is None:
                proc.kill()

    def finish(self, producer_ok):
        """Wait for the processes; the reason the pipe failed, or None."""
        prod_rc, recv_rc = self.prod.wait(), self.recv.wait()
        if self.source is not self.prod and self.source.wait() != 0:
            prod_rc = 'its compressor failed (%s)' % self.source.returncode
        for thread in self.readers:
            thread.join(5)
        if prod_rc not in producer_ok or recv_rc != 0:
            return '%s exited %s (%s); %s exited %s (%s)' % (
                self.produce[0], prod_rc, _last(self.said.get('producer')), self.receive[0], recv_rc,
                _last(self.said.get('receiver')))
        return None


def stream(produce, receive, progress_file=None, timeout=None, chunk=1 << 20, producer_ok=(0,), compress=None,
           bandwidth=None, stall=None):
    """Pipe ``produce`` into ``receive``; returns dict(bytes, seconds, mb_per_s, said: what the receiver printed).

    ``compress`` (a COMPRESSORS name) puts its compressor behind the producer here; the receiver must then
    decompress (see compressed()). ``bandwidth`` (MB/s) caps the rate of the bytes sent; bytes, rate and
    progress count what is sent (compressed, if so). ``stall``: seconds without a byte moved after which the copy
    fails (a source or target that hangs), like ``timeout`` for the whole copy.
    """
    return stream_many([(produce, receive, b'')], progress_file, timeout, chunk, producer_ok, compress, bandwidth,
                       stall=stall)


def stream_many(pipes, progress_file=None, timeout=None, chunk=1 << 20, producer_ok=(0,), compress=None,
                bandwidth=None, started=None, stall=None):
    """Run several (produce, receive, epilogue) pipes at once, as stream() runs one; ``epilogue`` (bytes) is written
    to the receiver after the producer's end. ``started`` is called with the pipes once every process has been
    started, before any byte is copied (e.g. to release a lock the producers' consistent start needed). Bytes and progress add the pipes up; said
    comes from the first pipe."""
    begin = time.time()
    moved = [0, begin]  # bytes at the last look that saw bytes move, and when
    if progress_file and os.path.isfile(progress_file) and not os.path.islink(progress_file):
        os.unlink(progress_file)  # a fresh progress file for this copy
    running = []

    def copied():
        return sum(pipe.copied for pipe in running)

    def meter():
        if bandwidth:
            ahead = copied() / (bandwidth * 1e6) - (time.time() - begin)
            if ahead > 0:
                time.sleep(ahead)

    try:
        for produce, receive, epilogue in pipes:
            running.append(_Pipe(produce, receive, compress, epilogue))
        if started:
            started(running)
        pumps = [threading.Thread(target=pipe.pump, args=(chunk, meter)) for pipe in running]
        for pump in pumps:
            pump.daemon = True
            pump.start()
        while any(pump.is_alive() for pump in pumps):
            for pump in pumps:
                pump.join(1.0 / len(pumps))
            broken = [pipe.error for pipe in running if pipe.error]
            if broken:
                raise CopyError(str(broken[0]))
            now = time.time()
            if progress_file:
                _report(progress_file, copied(), now - begin)
            if timeout and now - begin > timeout:
                raise CopyError('the copy did not finish within %ss (%s copied)' % (timeout, _human(copied())))
            if copied() != moved[0]:
                moved[:] = [copied(), now]
            elif stall and now - moved[1] > stall:
                raise CopyError('no byte of the copy has moved for %ss (%s copied): the source or the target hangs (a '
                                'stopped process, a lock it waits for, a full disk); raise the stall timeout if such a '
                                'pause is expected' % (stall, _human(copied())))
        broken = [pipe.error for pipe in running if pipe.error]  # pumps that broke before the loop looked
        if broken:
            raise CopyError(str(broken[0]))
    except (OSError, CopyError, ServerError) as exc:
        for pipe in running:
            pipe.kill()
        failures = [pipe.finish(producer_ok) for pipe in running]
        raise CopyError('%s; %s' % (exc, '; '.join(f for f in failures if f) or 'nothing else failed'))
    failures = [f for f in (pipe.finish(producer_ok) for pipe in running) if f]
    seconds = max(time.time() - begin, 1e-6)
    if progress_file:
        _report(progress_file, copied(), seconds, done=True)
    if failures:
        raise CopyError('the copy failed: %s' % '; '.join(failures))
    first = running[0]
    return dict(bytes=copied(), seconds=round(seconds, 3), mb_per_s=round(copied() / seconds / 1e6, 1),
                said=first.said.get('stdout') or b'')


F_SETPIPE_SZ = 1031  # fcntl: a pipe's capacity (Linux)


def _mover(reader, writer):
    """A function that moves up to n bytes from the pipe ``reader`` to the pipe ``writer`` and returns how many (0 at
    the producer's end): os.splice() between the two pipes (Linux, Python 3.10+; the bytes never pass through
    Python), else read and write. Either way nothing is buffered in between, so an epilogue written afterwards
    follows the last byte."""
    def by_copy(n):
        data = reader.read1(n) if hasattr(reader, 'read1') else reader.read(n)
        if data:
            writer.write(data)
            writer.flush()
        return len(data)

    splice = getattr(os, 'splice', None)
    if splice is None:
        return by_copy
    fds = (reader.fileno(), writer.fileno())
    for fd in fds:  # fewer, larger moves; the default 64 KB is what a pipe holds otherwise
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
        except (OSError, ValueError):
            pass
    use = [True]

    def by_splice(n):
        if use[0]:
            try:
                return splice(fds[0], fds[1], n)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                    raise  # e.g. EPIPE: the receiver is gone
                use[0] = False
        return by_copy(n)
    return by_splice


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
MAX_CHUNKS = 256


def chunk_ranges(lo, hi, count):
    """``count`` key ranges (lo exclusive, hi inclusive; None = open) that split [lo, hi] into about equal widths,
    the first open below and the last open above, so that together they hold every row whatever its key."""
    if lo is None or hi is None or count < 2 or hi - lo < count:
        return [(None, None)]
    cuts = [lo + (hi - lo) * i // count for i in range(1, count)]
    return list(zip([None] + cuts, cuts + [None]))


def chunk_plan(server, chunk_bytes):
    """{(db, name): (key column, columns, [ranges])} for the user tables of ``server`` larger than ``chunk_bytes``
    whose primary key is one integer column: each is checksummed in about bytes / chunk_bytes chunks (at most
    MAX_CHUNKS), so that several connections share a large table. Read at the comparison's position."""
    plan = {}
    for row in server.run('chunkable_tables'):
        count = min(MAX_CHUNKS, -(-int(row['bytes'] or 0) // chunk_bytes))
        if count < 2:
            continue
        bounds = server.run('key_bounds', db=row['db'], name=row['name'], column=row['pk'])[0]
        ranges = chunk_ranges(bounds['lo'], bounds['hi'], count)
        if len(ranges) > 1:
            columns = [c['name'] for c in server.run('table_columns', db=row['db'], name=row['name'])]
            plan[(row['db'], row['name'])] = (row['pk'], columns, ranges)
    return plan


def _chunk_name(db, name, column, lo, hi):
    return '%s.%s rows %s' % (db, name, ' and '.join(
        (['%s > %s' % (column, lo)] if lo is not None else []) + (['%s <= %s' % (column, hi)] if hi is not None else [])))


def _checksums(servers, workers=2, chunks=None):
    """Checksum every user table of each server, all servers at once: ``workers`` connections per server (twins of
    the given one) each take the next piece of that server's work - a table (CHECKSUM TABLE), or one chunk (row
    count and XOR of row hashes of a key range) of a table of ``chunks`` (chunk_plan()) that the server has; returns
    one {table or chunk: checksum} per server."""
    chunks = chunks or {}
    sums = [{} for _server in servers]
    failures = []

    def work(server, pieces, out):
        try:
            while True:
                try:
                    piece = pieces.get_nowait()
                except queue.Empty:
                    return
                if piece[0] == 'table':
                    for row in server.run('checksum_tables', tables=[piece[1]]):
                        out[row['Table']] = row['Checksum']
                    continue
                (db, name), (column, columns, _ranges), lo, hi = piece[1:]
                try:  # the same table with other columns here: that chunk differs
                    row = server.run('checksum_chunk', db=db, name=name, column=column, columns=columns, lo=lo, hi=hi)[0]
                    out[_chunk_name(db, name, column, lo, hi)] = (int(row['n']), int(row['crc']))
                except ServerError as exc:
                    out[_chunk_name(db, name, column, lo, hi)] = 'unreadable: %s' % exc
        except Exception as exc:  # pylint: disable=broad-except
            failures.append(exc)
        finally:
            server.close()

    threads = []
    for server, out in zip(servers, sums):
        pieces = queue.Queue()
        for row in server.run('user_tables'):
            table = (row['db'], row['name'])
            if table in chunks:
                for lo, hi in chunks[table][2]:
                    pieces.put(('chunk', table, chunks[table], lo, hi))
            else:
                pieces.put(('table', table))
        threads += [threading.Thread(target=work, args=(_twin(server), pieces, out)) for _worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sums


def _twin(server):
    """Another connection to the same server, with the same settings."""
    twin = copy.copy(server)
    twin._conn = None  # pylint: disable=protected-access
    return twin.connect()


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


def _first_value(row):
    return list(row.values())[0] if row else None


def definitions(server, skip_accounts=()):
    """What a copy must carry besides the rows, normalized to compare: {name: text} of every account and role (its
    SHOW CREATE USER and its sorted SHOW GRANTS) and of every routine, event, trigger and view of the user schemas
    (SHOW CREATE, but for when it was created; an event disabled on a replica counts as enabled). Accounts named
    (user@host) in ``skip_accounts`` are left out."""
    out = {}
    for row in server.run('accounts'):
        if '%s@%s' % (row['user'], row['host']) in skip_accounts:
            continue
        if row['is_role'] == 'Y':
            name, lines = "role '%s'" % row['user'], []
            grants = server.run('show_role_grants', user=row['user'])
        else:
            name = "account '%s'@'%s'" % (row['user'], row['host'])
            lines = [_first_value(server.run('show_create_user', user=row['user'], host=row['host'])[0])]
            grants = server.run('show_grants', user=row['user'], host=row['host'])
        out[name] = '\n'.join(lines + sorted(_first_value(grant) for grant in grants))
    for row in server.run('stored_objects'):
        shown = server.run('show_create_object', kind=row['kind'], db=row['db'], name=row['name'])[0]
        text = '\n'.join('%s: %s' % (key, value) for key, value in sorted(shown.items()) if key != 'Created')
        if row['kind'] == 'EVENT':
            text = text.replace(' DISABLE ON SLAVE ', ' ENABLE ').replace(' DISABLE ON REPLICA ', ' ENABLE ')
        out['%s %s.%s' % (row['kind'].lower(), dialect.quote_identifier(row['db']), dialect.quote_identifier(row['name']))] = text
    return out


def differing(mine, theirs):
    """The keys of two {name: value} whose values differ, or that are on one side only."""
    return sorted(name for name in set(mine) | set(theirs) if mine.get(name) != theirs.get(name))


def compare_checksums(source, target, source_is_master=False, timeout=120, compare_definitions=True, skip_accounts=(),
                      parallel=2, chunk_bytes=256 << 20):
    """Checksum every user table of ``source`` and ``target`` at the same GTID position and compare them, and (with
    ``compare_definitions``) their accounts, grants, routines, events, triggers and views (see definitions()).

    The tables are checksummed on both servers at once, ``parallel`` connections per server (seconds: how long that
    took); a table larger than ``chunk_bytes`` with a one-column integer primary key is split into key ranges that
    the connections share (chunk_plan(); a difference then names the range).
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
        started = time.time()
        chunks = chunk_plan(source, chunk_bytes)
        mine, theirs = _checksums([source, target], parallel, chunks)
        seconds = time.time() - started
        ours, others = ((definitions(source, skip_accounts), definitions(target, skip_accounts)) if compare_definitions
                        else ({}, {}))
    finally:
        if source_is_master:
            unlock(source)
        for replica in stopped:
            replica.run('start_replica')
    differences = differing(mine, theirs) + differing(ours, others)
    chunked = sum(len(plan[2]) for plan in chunks.values())
    return dict(match=not differences, differences=differences, tables=len(mine) - chunked + len(chunks),
                chunks=chunked, objects=len(ours), gtid=point, seconds=round(seconds, 3))
