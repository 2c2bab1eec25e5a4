# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep FLUSH TABLES WITH READ LOCK across Ansible tasks.

A lock dies with its connection, and a module's process ends with its task. ``hold()`` therefore
forks a small detached holder process that opens the connection, takes the lock, reports the
position read under it, and then keeps the session until ``release()`` signals it or until its own
``timeout`` runs out: a failed play can never leave a server locked for longer than that.
The holder writes a JSON state file (pid, connection id, position, expiry) that ``release()`` and a
second ``hold()`` read.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import time

from ansible_collections.replicant.mysql.plugins.module_utils.replication import flush_and_lock, unlock
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


class LockError(Exception):
    pass


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def read_state(state_file):
    """The running holder's state, or None when no holder runs for ``state_file``."""
    try:
        with open(state_file) as handle:
            state = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not _alive(state.get('pid', 0)) or state.get('expires', 0) < time.time():
        return None
    return state


def hold(make_server, state_file, timeout, lock_wait_timeout=10, ready_timeout=60):
    """Start a holder; return its state (with the position read under the lock) once it holds the lock.

    ``make_server`` is a callable returning a fresh, unconnected Server.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the detached holder
        os.close(read_fd)
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        _holder(make_server, state_file, timeout, lock_wait_timeout, write_fd)
        os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    chunks = []
    deadline = time.time() + ready_timeout
    with os.fdopen(read_fd, 'rb') as pipe:
        while time.time() < deadline:
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    try:
        report = json.loads(b''.join(chunks).decode('utf-8'))
    except ValueError:
        raise LockError('the lock holder ended without reporting (see the server error log)')
    if 'error' in report:
        raise LockError(report['error'])
    return report


def _holder(make_server, state_file, timeout, lock_wait_timeout, write_fd):  # pragma: no cover
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    server = make_server()
    try:
        try:
            position = flush_and_lock(server, lock_wait_timeout)
        except ServerError as exc:
            os.write(write_fd, json.dumps({'error': str(exc)}).encode('utf-8'))
            return
        state = dict(pid=os.getpid(), connection_id=server.connection_id, locked_at=time.time(),
                     expires=time.time() + timeout, timeout=timeout, server=str(server), position=position)
        tmp = state_file + '.tmp'
        with open(tmp, 'w') as handle:
            json.dump(state, handle)
        os.chmod(tmp, 0o600)
        os.rename(tmp, state_file)
        os.write(write_fd, json.dumps(state).encode('utf-8'))
        os.close(write_fd)
        deadline = time.time() + timeout
        while not stop and time.time() < deadline:
            time.sleep(0.05)
        try:
            unlock(server)
        except ServerError:
            pass
    finally:
        server.close()
        try:
            with open(state_file) as handle:
                mine = json.load(handle).get('pid') == os.getpid()
            if mine:
                os.unlink(state_file)
        except (IOError, OSError, ValueError):
            pass


def release(state_file, make_server=None, wait=10):
    """Stop the holder of ``state_file``; returns its last state, or None when none was running.

    When ``make_server`` is given, the holder's session is also killed on the server should the
    holder fail to end in time, so that the lock is gone for certain.
    """
    state = read_state(state_file)
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
