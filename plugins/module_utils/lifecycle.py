# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop a server: through its service manager, or by direct mysqld control.

Direct control reads the server's own option file (``--defaults-file``) for its datadir,
pid file, socket and address, starts ``mariadbd``/``mysqld`` detached as the ``mysql`` user and
waits until the server greets a client; stopping sends SIGTERM (a clean InnoDB shutdown) and
waits until the process has gone.

A pid file alone is never trusted: the process it names must also be this server - a server binary
whose command line names this option file (``--defaults-file``) or this datadir. A stale pid file
(its process is gone or is something else) means the server is not running, and nothing is signalled.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

SERVER_SECTIONS = ('mysqld', 'server', 'mariadbd', 'mariadb')


class LifecycleError(Exception):
    pass


def read_server_options(defaults_file):
    """The [mysqld]-like options of a my.cnf file as a dict (later sections win, '_' == '-')."""
    options = {}
    section = None
    with open(defaults_file) as handle:
        for raw in handle:
            line = raw.strip()
            if not line or line[0] in '#;!':
                continue
            if line.startswith('['):
                section = line.strip('[]').strip().lower()
                continue
            if section not in SERVER_SECTIONS:
                continue
            key, value = line.partition('=')[::2]
            options[key.strip().replace('_', '-')] = value.strip().strip('"\'')
    return options


class ServerProcess:
    """A server controlled directly through its option file."""

    def __init__(self, defaults_file, binary=None, user='mysql'):
        if not os.path.exists(defaults_file):
            raise LifecycleError('option file %s does not exist' % defaults_file)
        self.defaults_file = defaults_file
        self.options = read_server_options(defaults_file)
        self.user = user
        self.binary = binary or find_server_binary()
        datadir = self.options.get('datadir')
        if not datadir:
            raise LifecycleError('%s sets no datadir in its [mysqld] section' % defaults_file)
        self.datadir = datadir
        self.pid_file = self.options.get('pid-file') or os.path.join(datadir, socket.gethostname() + '.pid')
        self.socket = self.options.get('socket')
        self.address = self.options.get('bind-address', '127.0.0.1')
        self.port = int(self.options.get('port', 3306))
        self.log_error = self.options.get('log-error')

    def __str__(self):
        return 'server of %s (%s:%s)' % (self.defaults_file, self.address, self.port)

    # -- state ----------------------------------------------------------------
    def pid_file_pid(self):
        """The number in the pid file, or None (no file, or no number in it)."""
        try:
            with open(self.pid_file) as handle:
                pid = int(handle.read(64).strip() or 0)
        except (IOError, OSError, ValueError):
            return None
        return pid if pid > 1 else None

    def is_this_server(self, pid):
        """Whether process ``pid`` is this server: a server binary started with this option file or datadir."""
        argv = _cmdline(pid)
        if not argv:
            return False
        names = {os.path.basename(argv[0]), os.path.basename((_exe(pid) or '').replace(' (deleted)', ''))}
        if not names & (set(SERVER_BINARIES) | {os.path.basename(self.binary or 'mysqld')}):
            return False
        for arg in argv[1:]:
            for flag, wanted in (('--defaults-file=', self.defaults_file), ('--datadir=', self.datadir)):
                if arg.startswith(flag) and _same_path(arg[len(flag):], wanted):
                    return True
        return False

    def stale_pid(self):
        """The pid a stale pid file names (alive but not this server), or None."""
        pid = self.pid_file_pid()
        if pid and _alive(pid) and not self.is_this_server(pid):
            return pid
        return None

    def pid(self):
        """The pid of the running server, or None (a pid file naming another process does not count)."""
        pid = self.pid_file_pid()
        if pid and _alive(pid) and self.is_this_server(pid):
            return pid
        return None

    def greets(self):
        """True when the server answers a client connection with its handshake."""
        if self.socket and os.path.exists(self.socket):
            target, family = self.socket, socket.AF_UNIX
        else:
            target, family = (self.address, self.port), socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect(target)
            return len(sock.recv(8)) > 4
        except (OSError, socket.error):
            return False
        finally:
            sock.close()

    def running(self):
        return self.pid() is not None

    # -- actions --------------------------------------------------------------
    def start(self, timeout=60):
        if self.running():
            return False
        self._check_address_free()
        if not os.path.isdir(os.path.join(self.datadir, 'mysql')):
            raise LifecycleError('%s: datadir %s holds no initialised server (no mysql/ schema); '
                                 'initialise it (mariadb-install-db) or restore a copy first'
                                 % (self, self.datadir))
        cmd = [self.binary, '--defaults-file=%s' % self.defaults_file]
        if os.geteuid() == 0:
            cmd.append('--user=%s' % self.user)
        with open(os.devnull, 'rb') as devnull_in, open(os.devnull, 'ab') as devnull_out:
            proc = subprocess.Popen(cmd, stdin=devnull_in, stdout=devnull_out, stderr=devnull_out,
                                    close_fds=True, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise LifecycleError('%s exited with code %s while starting; last lines of its error log:\n%s'
                                     % (self, proc.returncode, self.log_tail()))
            if self.greets() and self.running():
                return True
            time.sleep(0.05)
        raise LifecycleError('%s did not accept connections within %ss; last lines of its error log:\n%s'
                             % (self, timeout, self.log_tail()))

    def stop(self, timeout=120):
        pid = self.pid()
        if pid is None:
            if self.greets():
                named = self.pid_file_pid()
                what = ('names pid %s, which is not this server (%s)' % (named, ' '.join(_cmdline(named)[:2]) or 'gone')
                        if named else 'names no process')
                raise LifecycleError('%s answers clients, but its pid file %s %s; nothing was stopped. Find the '
                                     'server process and repair the pid file' % (self, self.pid_file, what))
            return False
        if not self.is_this_server(pid):  # checked again right before the signal
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not _alive(pid):
                return True
            time.sleep(0.05)
        raise LifecycleError('%s (pid %s) did not finish its shutdown within %ss; it is still running. '
                             'Look at its error log, or raise the timeout' % (self, pid, timeout))

    def _check_address_free(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # as the server does: connections of an earlier run in TIME_WAIT must not count, a listener does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.address, self.port))
        except (OSError, socket.error) as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LifecycleError('%s cannot start: %s:%s is already in use by another process; '
                                     'choose another address or port' % (self, self.address, self.port))
            raise LifecycleError('%s cannot start: cannot bind %s:%s (%s)' % (self, self.address, self.port, exc))
        finally:
            sock.close()

    def log_tail(self, lines=15):
        if not self.log_error or not os.path.exists(self.log_error):
            return '(no error log)'
        with open(self.log_error, 'rb') as handle:
            data = handle.read()[-8192:].decode('utf-8', 'replace')
        return '\n'.join(data.splitlines()[-lines:])


class ServiceUnit:
    """A server its host's service manager (systemd) controls; the same running/start/stop as ServerProcess."""

    def __init__(self, service):
        if not service or service.startswith('-') or any(c in service for c in '\0\n/ '):
            raise LifecycleError('service must be a unit name (no leading -, no /, space, newline or NUL), not %r'
                                 % (service,))
        self.service = service

    def __str__(self):
        return 'service %s' % self.service

    def _systemctl(self, *args):
        proc = subprocess.run(['systemctl'] + list(args) + [self.service], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        return proc.returncode, proc.stdout.decode('utf-8', 'replace').strip()

    def running(self):
        return self._systemctl('is-active', '--quiet')[0] == 0

    def _act(self, action, wanted):
        if self.running() == wanted:
            return False
        rc, out = self._systemctl(action)
        if rc != 0:
            raise LifecycleError('systemctl %s %s failed: %s' % (action, self.service, out))
        return True

    def start(self, timeout=60):
        return self._act('start', True)

    def stop(self, timeout=120):
        return self._act('stop', False)


def server_control(defaults_file=None, service=None, binary=None, user='mysql'):
    """The server's control: its service (``service``) or the server run directly from ``defaults_file``."""
    if service:
        return ServiceUnit(service)
    if not defaults_file:
        raise LifecycleError('controlling a server needs its service or its option file (defaults_file)')
    return ServerProcess(defaults_file, binary=binary, user=user)


def empty_datadir(path, user='mysql', check_mode=False):
    """Leave ``path`` an empty directory owned by ``user`` (and its group), mode 0750, for a copy to go into.

    Everything in it goes (a mount point stays: only its contents are removed). Returns whether anything changed.
    Refuses a relative path and the root directory. The caller has stopped the server that uses it.
    """
    if not path or not os.path.isabs(path) or os.path.realpath(path) == '/':
        raise LifecycleError('refusing to empty %r: the datadir must be an absolute path other than /' % (path,))
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise LifecycleError('cannot give %s to %s: no such system user' % (path, user))
    owner = (account.pw_uid, account.pw_gid) if os.geteuid() == 0 else (os.geteuid(), os.getegid())
    if os.path.lexists(path) and not os.path.isdir(path) or os.path.islink(path):
        raise LifecycleError('refusing to empty %s: it is not a directory (a symbolic link or a file)' % path)
    exists = os.path.isdir(path)
    entries = os.listdir(path) if exists else []
    info = os.stat(path) if exists else None
    changed = not exists or bool(entries) or (info.st_uid, info.st_gid) != owner or (info.st_mode & 0o7777) != 0o750
    if check_mode or not changed:
        return changed
    if not exists:
        os.makedirs(path, 0o750)
    for name in entries:
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)
    os.chown(path, *owner)
    os.chmod(path, 0o750)
    return True


SERVER_BINARIES = ('mysqld', 'mariadbd')


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % int(pid), 'rb') as handle:
            return [a.decode('utf-8', 'replace') for a in handle.read().split(b'\0') if a]
    except (IOError, OSError, ValueError):
        return []


def _exe(pid):
    try:
        return os.readlink('/proc/%d/exe' % int(pid))
    except (IOError, OSError, ValueError):
        return None


def _same_path(a, b):
    try:
        return os.path.samefile(a, b)
    except (IOError, OSError):
        return os.path.realpath(a) == os.path.realpath(b)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    # a zombie child of ours counts as gone
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().split(')')[-1].split()[0] != 'Z'
    except (IOError, OSError):
        return True


def find_server_binary():
    for name in ('mariadbd', 'mysqld'):
        path = shutil.which(name) or next((p for p in ('/usr/sbin/' + name, '/usr/libexec/' + name)
                                           if os.path.exists(p)), None)
        if path:
            return path
    raise LifecycleError('no server binary found: neither mariadbd nor mysqld is installed on this host '
                         '(apt-get install mariadb-server)')
