# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep FLUSH TABLES WITH READ LOCK across Ansible tasks, bound to the play that took it.

A lock dies with its connection, and a module's process ends with its task. ``hold()`` therefore
forks a small detached holder process that opens the connection, takes the lock, reports the
position read under it, and keeps the session until ``release()`` signals it, or until it expires:

* ``timeout``: the longest it ever holds the lock;
* ``lease``: it lets go ``lease`` seconds after the last sign that the play still runs - the
  ``ansible-playbook`` process the module ran under, when the play runs on this host (looked at every
  half second), or a renewal (``renew()``, a later task asking for the same lock).

The holder records its state (pid, process start time, connection id, position, expiry) in a JSON
file in a directory only the running user can use (``private_dir()``). A state file is trusted only
when it lies in such a directory, belongs to the running user, and its pid is alive, runs as the same
user, started at the recorded time and is a holder (its process name). Nothing else is signalled.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import select
import signal
import stat
import time

from ansible_collections.replicant.mysql.plugins.module_utils.replication import (
    flush_and_lock, replica_status, start_replication, stop_replication, unlock)
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

MAX_TIMEOUT = 86400
DEFAULT_LEASE = 60
HOLDER_NAME = b'replicant-lock'


class LockError(Exception):
    pass


# -- private directories and files ---------------------------------------------------------------
def default_private_dir():
    """Where the running user keeps state: /run/replicant for root, else a directory of its own."""
    if os.geteuid() == 0:
        return '/run/replicant'
    runtime = os.environ.get('XDG_RUNTIME_DIR')
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, 'replicant')
    return os.path.join(os.path.expanduser('~'), '.ansible', 'replicant-run')


def check_private_dir(path):
    """Raise LockError unless ``path`` is a real directory of the running user that nobody else can write."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise LockError('%s cannot be used for the lock state: %s' % (path, exc.strerror))
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise LockError('%s is not a directory (it is a symbolic link or a file): refusing to keep the lock state '
                        'there; remove it or choose another state_file' % path)
    if info.st_uid != os.geteuid():
        raise LockError('%s belongs to uid %d, not to the user running the module (uid %d): refusing to trust or '
                        'write lock state there; remove it or choose another state_file'
                        % (path, info.st_uid, os.geteuid()))
    if info.st_mode & 0o022:
        raise LockError('%s can be written by other users (mode %04o): refusing to keep the lock state there; '
                        'chmod go-w it or choose another state_file' % (path, stat.S_IMODE(info.st_mode)))


def private_dir(path=None):
    """Create (mode 0700, never through a symbolic link) or check the private directory; return it."""
    path = path or default_private_dir()
    parent = os.path.dirname(path.rstrip('/')) or '/'
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise LockError('cannot create %s for the lock state: %s' % (path, exc.strerror))
    check_private_dir(path)
    return path


def state_file_for(server_key, directory=None, create=True):
    """The default state file of the holder for one server (``server_key`` names its connection).

    With ``create=False`` (check mode) the private directory is only named, not created.
    """
    digest = hashlib.sha256(server_key.encode('utf-8')).hexdigest()[:20]
    directory = private_dir(directory) if create else (directory or default_private_dir())
    return os.path.join(directory, 'flush-lock-%s.json' % digest)


@contextlib.contextmanager
def exclusive(state_file):
    """Hold an exclusive lock on ``state_file``.lock while deciding whether to lock, so that two tasks for
    one server at once cannot both start a holder (the second waits, then finds the first's)."""
    fd = os.open(state_file + '.lock', os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_private(path, data):
    """Write ``data`` to ``path`` atomically: a new file (O_EXCL, no symlink followed, 0600), then a rename."""
    tmp = '%s.%d.tmp' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
    try:
        os.write(fd, json.dumps(data).encode('utf-8'))
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _read_private(path):
    """The JSON in ``path`` when the file is the running user's own regular file (0600), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            return None
        data = b''
        while len(data) < 1 << 20:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        state = json.loads(data.decode('utf-8'))
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


# -- processes -----------------------------------------------------------------------------------
def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError as exc:
        return exc.errno == errno.EPERM


def process_start(pid):
    """The start time of ``pid`` (clock ticks since boot, /proc/<pid>/stat field 22), or None."""
    try:
        with open('/proc/%d/stat' % int(pid), 'rb') as handle:
            fields = handle.read().rsplit(b')', 1)[1].split()
        return int(fields[19])
    except (IOError, OSError, ValueError, IndexError):
        return None


def _process_uid(pid):
    try:
        with open('/proc/%d/status' % int(pid)) as handle:
            for line in handle:
                if line.startswith('Uid:'):
                    return [int(v) for v in line.split()[1:3]]
    except (IOError, OSError, ValueError):
        return None
    return None


def _process_name(pid):
    try:
        with open('/proc/%d/comm' % int(pid), 'rb') as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def _parent(pid):
    try:
        with open('/proc/%d/stat' % int(pid), 'rb') as handle:
            return int(handle.read().rsplit(b')', 1)[1].split()[1])
    except (IOError, OSError, ValueError, IndexError):
        return None


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % int(pid), 'rb') as handle:
            return [a.decode('utf-8', 'replace') for a in handle.read().split(b'\0') if a]
    except (IOError, OSError):
        return []


def find_play(pid=None):
    """The ansible-playbook process this process runs under (outermost), as (pid, start) or None.

    Found when the play runs on this host (connection local); over SSH the play is on another machine.
    """
    found = None
    pid = pid or os.getpid()
    for _unused in range(64):
        pid = _parent(pid)
        if not pid or pid <= 1:
            break
        if any(os.path.basename(arg) == 'ansible-playbook' for arg in _cmdline(pid)[:3]):
            found = (pid, process_start(pid))
    return found


def play_alive(play):
    return bool(play) and _alive(play[0]) and process_start(play[0]) == play[1]


def verify_holder(state, server_key=None):
    """Why ``state`` cannot be trusted (a sentence), or None when its pid really is our live holder."""
    pid = state.get('pid')
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 1:
        return 'it names no valid process'
    if server_key is not None and state.get('server_key') != server_key:
        return 'it is the lock of another server'
    if not _alive(pid):
        return 'its holder (pid %d) is gone' % pid
    uid = _process_uid(pid)
    if uid is None or uid[0] != os.geteuid() or uid[1] != os.geteuid():
        return 'pid %d runs as another user' % pid
    if process_start(pid) != state.get('start_time'):
        return 'pid %d is another process than the holder that wrote it' % pid
    if _process_name(pid) != HOLDER_NAME:
        return 'pid %d is no lock holder' % pid
    return None


def read_state(state_file, server_key=None, problems=None):
    """The running holder's state, or None when no trusted holder runs for ``state_file``.

    A file that cannot be trusted is ignored (never acted on); why is appended to ``problems``.
    """
    if not os.path.lexists(state_file):
        return None
    state = _read_private(state_file)
    why = None
    if state is None:
        why = 'it is not a private file of this user (owner, mode or symbolic link) or not valid JSON'
    else:
        why = verify_holder(state, server_key)
        if why is None and state.get('expires', 0) + 2 < time.time():
            why = 'it has expired'
    if why is not None:
        if problems is not None:
            problems.append('ignored the lock state file %s: %s' % (state_file, why))
        return None
    return state


# -- holding -------------------------------------------------------------------------------------
def check_times(timeout, lease=None, lock_wait_timeout=10):
    """Raise ValueError unless the times are whole seconds in range; return the lease to use."""
    for what, value, top in (('timeout', timeout, MAX_TIMEOUT), ('lock_wait_timeout', lock_wait_timeout, 3600),
                             ('lease', lease, MAX_TIMEOUT)):
        if value is None and what == 'lease':
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise ValueError('%s must be a whole number of seconds from 1 to %d, not %r' % (what, top, value))
    if lease is not None and lease > timeout:
        raise ValueError('lease (%s) must not be longer than timeout (%s)' % (lease, timeout))
    return lease


def hold(make_server, state_file, timeout, lock_wait_timeout=10, ready_timeout=60, lease=None, play=None,
         server_key='', pause_replication=False):
    """Start a holder; return its state (with the position read under the lock) once it holds the lock.

    ``make_server`` is a callable returning a fresh, unconnected Server. ``play`` is (pid, start) of
    the play to follow (see ``find_play``); without one and without ``lease`` the lock lasts ``timeout``.
    ``pause_replication``: a replica's replication is stopped before the lock and started again by the
    holder itself when it lets go (unlocked, lease or timeout over, play gone), so that an interrupted play
    leaves the replica replicating as well as unlocked.
    """
    check_times(timeout, lease, lock_wait_timeout)
    check_private_dir(os.path.dirname(os.path.abspath(state_file)))
    if lease is None:
        lease = min(DEFAULT_LEASE, timeout) if play else timeout
    # the holder reports within its connect timeout plus lock_wait_timeout; wait that long and a margin
    report = spawn(lambda write_fd: _holder(make_server, state_file, timeout, lease, play, server_key,
                                            lock_wait_timeout, write_fd, pause_replication),
                   max(ready_timeout, lock_wait_timeout + 40))
    if 'error' in report:
        raise LockError(report['error'])
    return report


def spawn(body, wait, what='the lock holder'):
    """Run ``body(write_fd)`` in a detached process (a session of its own, reparented to init, nothing inherited
    left open but ``write_fd``); return the JSON object it writes to ``write_fd`` (then closes) within ``wait`` s."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the detached holder
        os.close(read_fd)
        # nothing inherited stays open: not the task's pipes, not the lock of exclusive()
        os.closerange(3, write_fd)
        os.closerange(write_fd + 1, 65536)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        try:
            body(write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    chunks = []
    deadline = time.time() + wait
    try:
        while True:
            left = deadline - time.time()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                raise LockError('%s did not report within %ds; if it takes the lock later, it releases it by itself '
                                '(lease or timeout), or with state=unlocked' % (what, wait))
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    try:
        return json.loads(b''.join(chunks).decode('utf-8'))
    except ValueError:
        raise LockError('%s ended without reporting (see the server error log)' % what)


def set_name(name):  # pragma: no cover - runs in the holder
    try:
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
    except Exception:
        pass


def _holder(make_server, state_file, timeout, lease, play, server_key, lock_wait_timeout, write_fd,  # pragma: no cover
            pause_replication=False):
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    set_name(HOLDER_NAME)
    stop, renewals = [], []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: renewals.append(True))
    server = make_server()
    written = False
    paused = False
    try:
        try:
            if pause_replication and replica_status(server):
                stop_replication(server)
                paused = True
            position = flush_and_lock(server, lock_wait_timeout)
        except ServerError as exc:
            os.write(write_fd, json.dumps({'error': str(exc)}).encode('utf-8'))
            return
        now = time.time()
        hard = now + timeout
        state = dict(pid=os.getpid(), start_time=process_start(os.getpid()), connection_id=server.connection_id,
                     locked_at=now, renewed_at=now, timeout=timeout, lease=lease, hard_expiry=hard,
                     expires=min(hard, now + lease), server=str(server), server_key=server_key,
                     play_pid=play[0] if play else None, position=position)
        try:
            _write_private(state_file, state)
            written = True
        except OSError as exc:
            os.write(write_fd, json.dumps({'error': 'cannot write the lock state %s: %s' % (state_file, exc)}).encode('utf-8'))
            return
        os.write(write_fd, json.dumps(state).encode('utf-8'))
        os.close(write_fd)
        last_ping = now
        while not stop:
            now = time.time()
            alive = play_alive(play)
            if renewals or (alive and now - state['renewed_at'] >= 1):
                del renewals[:]
                state['renewed_at'] = now
                state['expires'] = min(hard, now + lease)
                _write_private(state_file, state)
            if now >= state['expires']:
                break
            if now - last_ping >= 5:
                last_ping = now
                try:
                    server.value('SELECT 1')
                except ServerError:
                    break  # the session (and its lock) is gone
            time.sleep(0.1)
        try:
            unlock(server)
        except ServerError:
            pass
    finally:
        if paused:
            try:
                start_replication(server)
            except ServerError:
                pass
        server.close()
        if written:
            mine = _read_private(state_file)
            if mine and mine.get('pid') == os.getpid():
                try:
                    os.unlink(state_file)
                except OSError:
                    pass


def renew(state_file, server_key=None, wait=5):
    """Ask the (verified) holder of ``state_file`` to extend its lease; return its new state, or None."""
    state = read_state(state_file, server_key)
    if state is None:
        return None
    renewed_at = state.get('renewed_at', 0)
    os.kill(state['pid'], signal.SIGUSR1)
    deadline = time.time() + wait
    while time.time() < deadline:
        current = read_state(state_file, server_key)
        if current is None:
            return None
        if current.get('renewed_at', 0) > renewed_at:
            return current
        time.sleep(0.05)
    return read_state(state_file, server_key)


def release(state_file, make_server=None, wait=10, server_key=None, problems=None):
    """Stop the verified holder of ``state_file``; returns its last state, or None when none was running.

    When ``make_server`` is given, the holder's session is also killed on the server should the
    holder fail to end in time, so that the lock is gone for certain. A state file that cannot be
    trusted is ignored: no process is signalled for it.
    """
    state = read_state(state_file, server_key, problems)
    if state is None:
        return None
    os.kill(state['pid'], signal.SIGTERM)
    deadline = time.time() + wait
    while _alive(state['pid']) and time.time() < deadline:
        time.sleep(0.02)
    if _alive(state['pid']) and make_server is not None:
        with make_server() as server:
            server.sql('KILL %d' % int(state['connection_id']))
    if _alive(state['pid']):
        raise LockError('the lock holder (pid %s) did not end within %ss' % (state['pid'], wait))
    return state
