# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routing: moving the clients' way in (a proxy, a VIP, a DNS name) as a step of a promotion.

A promotion calls its router at four instants (the phases), each call bounded by the router's timeout
and journaled with its milliseconds:

- ``demote``: the instant the old master is read-only (before its sessions are killed, it is locked and the
  candidate waited for). Clients that reconnect now reach no server instead of a read-only one (which would
  answer ERROR 1290 to a tight reconnect loop while it is being locked).
- ``promote``: the instant the new master is writable, before any replica is repointed.
- ``undo``: the switchover was undone (before the point of no return): route back to the old master.
- ``failed``: something failed past the point of no return: route to the server that is writable
  (passed as the new master).

Routers: ``HAProxyRouter`` (HAProxy's runtime API over its admin socket: ``set server B/S state
ready|maint`` and ``shutdown sessions server B/S`` for every server that must no longer take clients) and
``CommandRouter`` (an argv run with the phase and both masters in its environment: a VIP script, a DNS
update, a service-discovery call). ``Router`` itself routes nothing (``type: none``).

Usable without Ansible::

    from ansible_collections.replicant.mysql.plugins.module_utils.router import make_router
    router = make_router(dict(type='haproxy', socket='/run/haproxy/admin.sock', backend='mysql'))
    print(router.check(['db1', 'db2']))        # [] when the backend has both servers
    router.route('promote', Endpoint('db1', '10.0.0.11', 3306), Endpoint('db2', '10.0.0.12', 3306))
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time

PHASES = ('demote', 'promote', 'undo', 'failed')
TYPES = ('none', 'haproxy', 'command')
DEFAULT_TIMEOUT = 2.0

# The module option (documented by the doc fragment replicant.mysql.promotion).
ROUTER_OPTION = dict(type='dict', options=dict(
    type=dict(type='str', choices=list(TYPES), default='none'),
    socket=dict(type='path'),
    backend=dict(type='str'),
    server_names=dict(type='dict'),
    command=dict(type='list', elements='str'),
    timeout=dict(type='float', default=DEFAULT_TIMEOUT),
))

# HAProxy's srv_admin_state bits (show servers state): forced, inherited, resolution and hostname maintenance.
_MAINT_BITS = 0x01 | 0x02 | 0x20 | 0x40
_DRAIN_BITS = 0x08 | 0x10


class RouterError(Exception):
    """A router call failed or did not answer in time; the message says which phase and why."""


class Endpoint:
    """What a router is told of a master: its inventory name and its address."""

    def __init__(self, name, host=None, port=None):
        self.name, self.host, self.port = name, host, port

    @classmethod
    def of(cls, node):
        return node if isinstance(node, cls) else cls(node.name, getattr(node, 'host', None), getattr(node, 'port', None))

    def __repr__(self):
        return 'Endpoint(%r, %r, %r)' % (self.name, self.host, self.port)


class Router:
    """Routes nothing; the base of the routers (timing, bounds and the record of every call)."""

    kind = 'none'

    def __init__(self, timeout=DEFAULT_TIMEOUT, journal=None):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
            raise ValueError('router timeout must be a number of seconds above 0 and at most 3600, not %r' % (timeout,))
        self.timeout = float(timeout)
        self.journal = journal
        self.calls = []

    @property
    def enabled(self):
        return self.kind != 'none'

    def describe(self):
        return 'no router'

    def check(self, names):
        """Why routing to ``names`` (inventory names) could not work ([] when it can); reads, changes nothing."""
        return []

    def route(self, phase, old, new, others=()):
        """Run one phase: ``old``/``new`` the masters (Instances or Endpoints), ``others`` the rest of the servers.

        Returns the call's record (phase, ok, ms, detail); raises RouterError (after recording it) on failure.
        """
        if phase not in PHASES:
            raise ValueError('router phase must be one of %s, not %r' % (', '.join(PHASES), phase))
        old, new, others = self._endpoints(old, new, others)
        started = time.time()
        record = dict(phase=phase, router=self.kind, old_master=old.name, new_master=new.name, ok=True, detail='')
        try:
            if self.enabled:
                record['detail'] = self._route(phase, old, new, others, started + self.timeout) or ''
        except RouterError as exc:
            record.update(ok=False, detail=str(exc))
        except Exception as exc:  # a router must never leave the procedure without a record
            record.update(ok=False, detail='%s: %s' % (type(exc).__name__, exc))
        record['ms'] = round((time.time() - started) * 1000, 2)
        self.calls.append(record)
        if self.journal is not None and self.enabled:
            self.journal.step('router', '%s %s: %s (%s ms)%s' % (
                self.kind, phase, 'ok' if record['ok'] else 'FAILED', record['ms'],
                ': %s' % record['detail'] if record['detail'] else ''))
        if not record['ok']:
            raise RouterError('router %s, phase %s: %s' % (self.kind, phase, record['detail']))
        return record

    def _route(self, phase, old, new, others, deadline):
        return ''

    def by_hand(self, phase, old, new, others=()):
        """What a DBA runs to do ``phase`` by hand when the router failed (a shell line; '' for no router)."""
        return ''

    @staticmethod
    def _endpoints(old, new, others):
        old, new = Endpoint.of(old), Endpoint.of(new)
        return old, new, [Endpoint.of(o) for o in others if o is not None and o.name not in (old.name, new.name)]


# -- HAProxy ------------------------------------------------------------------------------------------
class HAProxyRouter(Router):
    """HAProxy's runtime API on its admin socket (``stats socket PATH level admin``), one TCP-mode backend.

    ``server_names``: inventory name -> server name in the backend (default: the inventory name).
    The server clients must reach is set ``ready``; every other server of the installation that the
    backend has is set ``maint`` and its proxied sessions are shut down (no client keeps writing into a
    former master). All commands of a phase go in one request.
    """

    kind = 'haproxy'

    def __init__(self, socket_path, backend, server_names=None, timeout=DEFAULT_TIMEOUT, journal=None):
        Router.__init__(self, timeout, journal)
        if not socket_path:
            raise ValueError('the haproxy router needs the admin socket (router.socket, replicant_haproxy_socket)')
        if not backend:
            raise ValueError('the haproxy router needs the backend (router.backend, replicant_haproxy_backend)')
        self.socket_path = socket_path
        self.backend = backend
        self.server_names = dict(server_names or {})
        for name, value in list(self.server_names.items()) + [('backend', backend)]:
            if not isinstance(value, str) or not value or any(c in value for c in ' ;/\n\r\t'):
                raise ValueError('haproxy %s name %r of %s must be a word (no spaces, ";" or "/")'
                                 % ('backend' if name == 'backend' else 'server', value, name))
        self.known = None   # server names the backend has (read by check)

    def describe(self):
        return 'haproxy backend %s at %s' % (self.backend, self.socket_path)

    def name_of(self, name):
        return self.server_names.get(name) or name

    def command(self, line, deadline=None):
        """Send one request (commands separated by ';') and return the answer (the socket closes after it)."""
        deadline = deadline or time.time() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        chunks = []
        try:
            sock.settimeout(max(deadline - time.time(), 0.001))
            sock.connect(self.socket_path)
            sock.sendall(line.encode('ascii') + b'\n')
            while True:
                sock.settimeout(max(deadline - time.time(), 0.001))
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except socket.timeout:
            raise RouterError('HAProxy at %s did not answer %r within %s s' % (self.socket_path, line, self.timeout))
        except (OSError, socket.error) as exc:
            raise RouterError('cannot talk to HAProxy at %s: %s' % (self.socket_path, exc))
        finally:
            sock.close()
        return b''.join(chunks).decode('utf-8', 'replace')

    def states(self, deadline=None):
        """{server name: dict(address, state)} of the backend (``show servers state``); raises RouterError."""
        text = self.command('show servers state %s' % self.backend, deadline)
        lines = [line for line in text.splitlines() if line.strip()]
        rows = [line.split() for line in lines if not line.startswith('#')][1:]  # the first line is a version
        if not lines or not lines[0].strip().isdigit():
            raise RouterError('HAProxy at %s: %s' % (self.socket_path, ' '.join(lines) or 'no answer'))
        out = {}
        for row in rows:
            if len(row) < 7 or row[1] != self.backend:
                continue
            admin = int(row[6])
            state = 'maint' if admin & _MAINT_BITS else 'drain' if admin & _DRAIN_BITS else \
                'ready' if row[5] == '2' else 'down'
            out[row[3]] = dict(address=row[4], state=state)
        return out

    def check(self, names):
        try:
            self.known = self.states()
        except RouterError as exc:
            return [str(exc)]
        if not self.known:
            return ['HAProxy at %s has no backend %s (or it has no servers)' % (self.socket_path, self.backend)]
        missing = ['%s (server %s)' % (n, self.name_of(n)) for n in names if self.name_of(n) not in self.known]
        if missing:
            return ['backend %s has no server for %s: set replicant_haproxy_server on the host, or add it to the '
                    'backend (it has %s)' % (self.backend, ', '.join(missing), ', '.join(sorted(self.known)))]
        return []

    def _route(self, phase, old, new, others, deadline):
        commands = self._commands(phase, old, new, others)
        answer = self.command('; '.join(commands), deadline)
        problems = [line.strip() for line in answer.splitlines() if line.strip()]
        if problems:
            raise RouterError('HAProxy refused %r: %s' % ('; '.join(commands), ' '.join(problems)))
        return '; '.join(commands)

    def by_hand(self, phase, old, new, others=()):
        line = '; '.join(self._commands(phase, *self._endpoints(old, new, others)))
        return "echo '%s' | socat stdio %s" % (line, shlex.quote(self.socket_path))

    def _commands(self, phase, old, new, others):
        target = old if phase == 'undo' else None if phase == 'demote' else new
        away = [old] if phase == 'demote' else [n for n in [old, new] + list(others) if n is not target]
        commands = []
        if target is not None:
            commands.append('set server %s/%s state ready' % (self.backend, self.name_of(target.name)))
        for node in away:
            server = self.name_of(node.name)
            if node not in (old, new) and self.known is not None and server not in self.known:
                continue  # another server of the installation that this backend does not serve
            commands += ['set server %s/%s state maint' % (self.backend, server),
                         'shutdown sessions server %s/%s' % (self.backend, server)]
        return commands


# -- a command ----------------------------------------------------------------------------------------
class CommandRouter(Router):
    """Runs ``argv`` (no shell) for each phase, with in its environment REPLICANT_ROUTER_PHASE,
    REPLICANT_PROMOTION, REPLICANT_OLD_MASTER, REPLICANT_OLD_MASTER_HOST, REPLICANT_OLD_MASTER_PORT,
    REPLICANT_NEW_MASTER, REPLICANT_NEW_MASTER_HOST, REPLICANT_NEW_MASTER_PORT (for ``failed``: the
    writable server) and REPLICANT_ROUTE_TO (the server clients must reach now; empty for ``demote``).
    A non-zero exit or the timeout (the process group is killed) fails the phase."""

    kind = 'command'

    def __init__(self, argv, timeout=DEFAULT_TIMEOUT, journal=None, promotion='switchover'):
        Router.__init__(self, timeout, journal)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError('the command router needs router.command: a list of strings (argv, no shell)')
        self.argv = list(argv)
        self.promotion = promotion

    def describe(self):
        return 'command %s' % self.argv[0]

    def check(self, names):
        program = self.argv[0]
        found = shutil.which(program) if os.sep not in program else (program if os.access(program, os.X_OK) else None)
        return [] if found else ['router command %s is not an executable file' % program]

    def environment(self, phase, old, new):
        target = old if phase == 'undo' else None if phase == 'demote' else new
        env = dict(os.environ, REPLICANT_ROUTER_PHASE=phase, REPLICANT_PROMOTION=self.promotion,
                   REPLICANT_ROUTE_TO=target.name if target else '')
        for key, node in (('OLD', old), ('NEW', new)):
            env['REPLICANT_%s_MASTER' % key] = node.name or ''
            env['REPLICANT_%s_MASTER_HOST' % key] = str(node.host or '')
            env['REPLICANT_%s_MASTER_PORT' % key] = str(node.port or '')
        return env

    def by_hand(self, phase, old, new, others=()):
        old, new, _others = self._endpoints(old, new, others)
        variables = sorted((k, v) for k, v in self.environment(phase, old, new).items()
                           if k.startswith('REPLICANT_') and os.environ.get(k) != v)
        return 'env %s %s' % (' '.join('%s=%s' % (k, shlex.quote(v)) for k, v in variables),
                              ' '.join(shlex.quote(a) for a in self.argv))

    def _route(self, phase, old, new, others, deadline):
        try:
            proc = subprocess.Popen(self.argv, env=self.environment(phase, old, new), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise RouterError('cannot run %s: %s' % (self.argv[0], exc))
        try:
            output, _err = proc.communicate(timeout=max(deadline - time.time(), 0.001))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.communicate()
            raise RouterError('%s did not finish within %s s (killed)' % (self.argv[0], self.timeout))
        text = output.decode('utf-8', 'replace').strip()
        if proc.returncode != 0:
            raise RouterError('%s exited with %s: %s' % (self.argv[0], proc.returncode, text[-500:] or 'no output'))
        return text[-500:]


def make_router(spec=None, journal=None, promotion='switchover'):
    """A Router from the module option ``router`` (a dict; None or type none: no routing)."""
    if isinstance(spec, Router):
        spec.journal = spec.journal or journal
        return spec
    spec = dict((k, v) for k, v in (spec or {}).items() if v not in (None, ''))
    kind = spec.get('type') or 'none'
    timeout = spec.get('timeout', DEFAULT_TIMEOUT)
    if kind == 'none':
        return Router(timeout, journal)
    if kind == 'haproxy':
        return HAProxyRouter(spec.get('socket'), spec.get('backend'), spec.get('server_names'), timeout, journal)
    if kind == 'command':
        return CommandRouter(spec.get('command'), timeout, journal, promotion)
    raise ValueError('router type must be one of %s, not %r' % (', '.join(TYPES), kind))
