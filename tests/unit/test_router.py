# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routers (module_utils/router.py): the phases, the HAProxy runtime API commands, the command router, bounds."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import sys
import tempfile
import threading
import time

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, promotion, router
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor, sql
from ansible_collections.replicant.mysql.plugins.module_utils.router import Endpoint, RouterError, make_router

STATE = ('1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight\n'
         '2 mysql 1 db1 10.0.0.1 2 0 1 1 1 1 0 2 0 0 0 0 - 3306 - 0 0 - - 0\n'
         '2 mysql 2 db2 10.0.0.2 0 5 1 1 1 1 0 0 8 0 0 0 - 3306 - 0 0 - - 0\n'
         '2 mysql 3 r3 10.0.0.3 0 1 1 1 1 1 0 0 8 0 0 0 - 3306 - 0 0 - - 0\n\n')
DB1, DB2, DB3 = Endpoint('db1', '10.0.0.1', 3306), Endpoint('db2', '10.0.0.2', 3306), Endpoint('db3', '10.0.0.3', 3306)


class FakeHAProxy(threading.Thread):
    """A unix socket that answers like HAProxy's runtime API (one request per connection) and records requests."""

    def __init__(self, answer=None, delay=0):
        threading.Thread.__init__(self, daemon=True)
        self.dir = tempfile.mkdtemp(prefix='replicant-fake-haproxy-')
        self.path = os.path.join(self.dir, 'admin.sock')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.requests = []
        self.answer = answer or self.default_answer
        self.delay = delay
        self.start()

    @staticmethod
    def default_answer(line):
        if line.startswith('show servers state'):
            return STATE if line.split()[-1] == 'mysql' else "Can't find backend.\n\n"
        return ''.join('No such server.\n' if '/nope' in part else '\n' for part in line.split(';')) + '\n'

    def run(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            data = b''
            while not data.endswith(b'\n'):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            line = data.decode().strip()
            self.requests.append(line)
            time.sleep(self.delay)
            try:
                conn.sendall(self.answer(line).encode())
            except OSError:
                pass
            conn.close()

    def stop(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def haproxy():
    fake = FakeHAProxy()
    yield fake
    fake.stop()


def test_no_router_routes_nothing_and_records_the_call():
    r = make_router(None)
    assert not r.enabled and r.check(['db1']) == []
    record = r.route('promote', DB1, DB2)
    assert record['ok'] and record['router'] == 'none' and r.calls == [record]
    with pytest.raises(ValueError, match='phase must be one of'):
        r.route('switch', DB1, DB2)


def test_haproxy_check_reads_the_backend_and_names_missing_servers(haproxy):
    r = make_router(dict(type='haproxy', socket=haproxy.path, backend='mysql', server_names=dict(db3='r3')))
    assert r.check(['db1', 'db2', 'db3']) == []
    assert r.known == {'db1': dict(address='10.0.0.1', state='ready'), 'db2': dict(address='10.0.0.2', state='maint'),
                       'r3': dict(address='10.0.0.3', state='maint')}
    problems = r.check(['db1', 'db4'])
    assert problems and 'backend mysql has no server for db4 (server db4)' in problems[0]
    other = make_router(dict(type='haproxy', socket=haproxy.path, backend='other'))
    assert "Can't find backend" in other.check(['db1'])[0]
    assert haproxy.requests == ['show servers state mysql'] * 2 + ['show servers state other']


def test_haproxy_phases_send_ready_for_the_target_and_maint_plus_shutdown_for_the_rest(haproxy):
    r = make_router(dict(type='haproxy', socket=haproxy.path, backend='mysql', server_names=dict(db3='r3')))
    r.check(['db1', 'db2', 'db3'])
    r.route('demote', DB1, DB2, [DB3])
    r.route('promote', DB1, DB2, [DB3])
    r.route('undo', DB1, DB2, [DB3])
    r.route('failed', DB1, DB2, [])
    assert haproxy.requests[1:] == [
        'set server mysql/db1 state maint; shutdown sessions server mysql/db1',
        'set server mysql/db2 state ready; set server mysql/db1 state maint; shutdown sessions server mysql/db1; '
        'set server mysql/r3 state maint; shutdown sessions server mysql/r3',
        'set server mysql/db1 state ready; set server mysql/db2 state maint; shutdown sessions server mysql/db2; '
        'set server mysql/r3 state maint; shutdown sessions server mysql/r3',
        'set server mysql/db2 state ready; set server mysql/db1 state maint; shutdown sessions server mysql/db1']
    assert [c['phase'] for c in r.calls] == ['demote', 'promote', 'undo', 'failed']
    assert all(c['ok'] and c['ms'] < 1000 for c in r.calls)


def test_haproxy_skips_servers_the_backend_does_not_have(haproxy):
    r = make_router(dict(type='haproxy', socket=haproxy.path, backend='mysql'))
    r.check(['db1', 'db2'])
    r.route('promote', DB1, DB2, [DB3])   # db3 is no server of the backend (it has r3)
    assert 'db3' not in haproxy.requests[-1]


def test_haproxy_refusal_is_a_failed_phase_with_the_answer(haproxy):
    r = make_router(dict(type='haproxy', socket=haproxy.path, backend='mysql', server_names=dict(db2='nope')))
    with pytest.raises(RouterError, match='phase promote: HAProxy refused .*No such server'):
        r.route('promote', DB1, DB2)
    assert r.calls[-1]['ok'] is False and 'No such server' in r.calls[-1]['detail']


def test_haproxy_calls_are_bounded_by_the_timeout():
    fake = FakeHAProxy(delay=2)
    try:
        r = make_router(dict(type='haproxy', socket=fake.path, backend='mysql', timeout=0.3))
        started = time.time()
        with pytest.raises(RouterError, match='did not answer'):
            r.route('promote', DB1, DB2)
        assert time.time() - started < 1.5
    finally:
        fake.stop()


def test_haproxy_without_a_socket_fails_the_phase_and_the_check():
    r = make_router(dict(type='haproxy', socket='/nonexistent/admin.sock', backend='mysql'))
    assert 'cannot talk to HAProxy' in r.check(['db1'])[0]
    with pytest.raises(RouterError, match='cannot talk to HAProxy at /nonexistent/admin.sock'):
        r.route('demote', DB1, DB2)


def test_haproxy_names_must_be_words():
    with pytest.raises(ValueError, match='needs the admin socket'):
        make_router(dict(type='haproxy', backend='mysql'))
    with pytest.raises(ValueError, match='needs the backend'):
        make_router(dict(type='haproxy', socket='/s'))
    with pytest.raises(ValueError, match='must be a word'):
        make_router(dict(type='haproxy', socket='/s', backend='mysql', server_names=dict(db1='a; shutdown')))
    with pytest.raises(ValueError, match='router type must be one of'):
        make_router(dict(type='f5'))
    with pytest.raises(ValueError, match='timeout'):
        make_router(dict(type='none', timeout=0))


def test_journal_gets_every_call_with_its_ms(haproxy):
    journal = promotion.Journal()
    r = make_router(dict(type='haproxy', socket=haproxy.path, backend='mysql'), journal)
    r.route('demote', DB1, DB2)
    assert journal.steps[-1]['host'] == 'router' and journal.steps[-1]['action'].startswith('haproxy demote: ok (')


# -- command router --------------------------------------------------------------------------------
def script(tmp_path, body):
    path = tmp_path / 'route.sh'
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(0o755)
    return str(path)


def test_command_router_gets_the_phase_and_both_masters(tmp_path):
    out = tmp_path / 'env'
    r = make_router(dict(type='command', command=[script(tmp_path, 'env | grep ^REPLICANT_ | sort >> %s\necho moved\n'
                                                         % out)]), promotion='failover')
    assert r.check(['db1']) == []
    record = r.route('promote', DB1, DB2)
    assert record['ok'] and record['detail'] == 'moved'
    env = out.read_text()
    for line in ('REPLICANT_ROUTER_PHASE=promote', 'REPLICANT_PROMOTION=failover', 'REPLICANT_ROUTE_TO=db2',
                 'REPLICANT_OLD_MASTER=db1', 'REPLICANT_OLD_MASTER_HOST=10.0.0.1', 'REPLICANT_OLD_MASTER_PORT=3306',
                 'REPLICANT_NEW_MASTER=db2', 'REPLICANT_NEW_MASTER_HOST=10.0.0.2', 'REPLICANT_NEW_MASTER_PORT=3306'):
        assert line + '\n' in env, env
    r.route('demote', DB1, DB2)
    r.route('undo', DB1, DB2)
    assert 'REPLICANT_ROUTE_TO=\n' in out.read_text() and 'REPLICANT_ROUTE_TO=db1\n' in out.read_text()


def test_command_router_failure_and_timeout(tmp_path):
    r = make_router(dict(type='command', command=[script(tmp_path, 'echo no route >&2; exit 3\n')]))
    with pytest.raises(RouterError, match='exited with 3: no route'):
        r.route('promote', DB1, DB2)
    r = make_router(dict(type='command', command=[sys.executable, '-c', 'import time; time.sleep(10)'], timeout=0.3))
    started = time.time()
    with pytest.raises(RouterError, match='did not finish within 0.3 s'):
        r.route('promote', DB1, DB2)
    assert time.time() - started < 3
    assert 'not an executable' in make_router(dict(type='command', command=['/nonexistent/route'])).check(['db1'])[0]
    with pytest.raises(ValueError, match='needs router.command'):
        make_router(dict(type='command'))


# -- what the promotion does with a failure past the point of no return -------------------------
def test_route_failed_goes_to_the_writable_server(haproxy):
    r = make_router(dict(type='haproxy', socket=haproxy.path, backend='mysql'))
    assert promotion.route_failed(r, DB1, DB2, ['db2'])['route_to'] == 'db2'
    assert haproxy.requests[-1].startswith('set server mysql/db2 state ready')
    assert promotion.route_failed(r, DB1, DB2, ['db1'])['route_to'] == 'db1'
    assert haproxy.requests[-1].startswith('set server mysql/db1 state ready')
    assert promotion.route_failed(make_router(None), DB1, DB2, ['db2']) is None


def test_fail_safe_state_says_who_is_writable_who_does_not_replicate_and_why():
    state = promotion.fail_safe_state(['db2'], {'db3': 'Access denied for user repl'}, {}, dict(
        route_to='db2', ok=True, detail=''), 'db2')
    assert state['summary'] == ('writable: db2; not replicating from db2: db3 (Access denied for user repl); '
                                'router: clients routed to db2')
    state = promotion.fail_safe_state([], {}, {'router': 'HAProxy refused'}, None, 'db2')
    assert state['summary'] == 'writable: NO SERVER; routing at the promotion failed: HAProxy refused'


# -- repointing: short connect retry and heartbeat (dialect) ------------------------------------
@pytest.mark.parametrize('flavor, expected', [
    (Flavor('mariadb', '10.11.19'), 'MASTER_HEARTBEAT_PERIOD = 2.0, MASTER_CONNECT_RETRY = 3'),
    (Flavor('mysql', '8.0.36'), 'SOURCE_HEARTBEAT_PERIOD = 2.0, SOURCE_CONNECT_RETRY = 3'),
    (Flavor('mysql', '5.7.44'), 'MASTER_HEARTBEAT_PERIOD = 2.0, MASTER_CONNECT_RETRY = 3'),
])
def test_reconnect_options_render_per_flavor(flavor, expected):
    options = dict(master_host='10.0.0.2', master_port=3306)
    options.update(dialect.reconnect_options(3, 2.0))
    assert sql(flavor, 'change_master', options=options).endswith(expected)


def test_reconnect_options_leave_out_what_is_unset_and_refuse_nonsense():
    assert dialect.reconnect_options() == {}
    assert dialect.reconnect_options(connect_retry=5) == dict(master_connect_retry=5)
    with pytest.raises(ValueError, match='connect_retry'):
        dialect.reconnect_options(connect_retry=0)
    with pytest.raises(ValueError, match='heartbeat_period'):
        dialect.reconnect_options(heartbeat_period=-1.0)
    assert router.PHASES == ('demote', 'promote', 'undo', 'failed')


def test_a_router_that_failed_says_how_to_route_by_hand(tmp_path):
    """The line a DBA runs once the router answers again: the same commands the phase would have sent."""
    r = make_router(dict(type='haproxy', socket='/run/my haproxy/admin.sock', backend='mysql', timeout=0.3))
    assert r.by_hand('failed', DB1, DB2, [DB3]) == (
        "echo 'set server mysql/db2 state ready; set server mysql/db1 state maint; shutdown sessions server mysql/db1; "
        "set server mysql/db3 state maint; shutdown sessions server mysql/db3' | socat stdio '/run/my haproxy/admin.sock'")
    assert r.by_hand('undo', DB1, DB2).startswith("echo 'set server mysql/db1 state ready; set server mysql/db2 state maint")
    # a router that does not answer: the fail-safe state carries the line
    routed = promotion.route_failed(r, DB1, DB2, ['db2'])
    assert routed['ok'] is False and routed['by_hand'] == r.by_hand('failed', DB1, DB2)
    state = promotion.fail_safe_state(['db2'], {}, {}, routed, 'db2')
    assert 'could NOT route clients to db2' in state['summary'] and routed['by_hand'] in state['summary']
    c = make_router(dict(type='command', command=['/usr/local/bin/move vip', '--fast']))
    line = c.by_hand('promote', DB1, DB2)
    assert line.startswith('env ') and line.endswith(" '/usr/local/bin/move vip' --fast")
    for part in ('REPLICANT_ROUTER_PHASE=promote', 'REPLICANT_ROUTE_TO=db2', 'REPLICANT_NEW_MASTER_HOST=10.0.0.2',
                 'REPLICANT_OLD_MASTER=db1', 'REPLICANT_PROMOTION=switchover'):
        assert ' %s ' % part in line, line
    assert make_router(None).by_hand('promote', DB1, DB2) == ''
