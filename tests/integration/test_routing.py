"""Routing: switchover and failover with the clients writing through a real HAProxy that the module moves.

A 3-server lab (r1 master, r2 and r3 replicas on 127.0.40.11-13) and HAProxy 2.6 (Debian) listening on
127.0.40.100, its admin socket in a private directory; both are stopped at the end, even on failure.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication, switchover as sw
from ansible_collections.replicant.mysql.plugins.module_utils.router import HAProxyRouter
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, ServerError

NAMES = ['r1', 'r2', 'r3']
PROXY = ('127.0.40.100', 23306)
BACKEND = 'rw'
ROLE = 'replicant.mysql.promote_master : '
SWITCH = ROLE + 'Switch the master (one module run holds the whole critical section)'
HAPROXY = shutil.which('haproxy')

pytestmark = pytest.mark.skipif(HAPROXY is None, reason='haproxy is not installed (Debian package haproxy)')


class HAProxy:
    """A private HAProxy: TCP mode, one listen section with the lab's servers, r1 ready, the others disabled."""

    def __init__(self, directory, servers):
        self.dir = directory
        self.socket = os.path.join(directory, 'admin.sock')
        self.config = os.path.join(directory, 'haproxy.cfg')
        lines = ['global', '    stats socket %s mode 600 level admin' % self.socket, '    stats timeout 1m',
                 'defaults', '    mode tcp', '    timeout connect 1s', '    timeout client 1h', '    timeout server 1h',
                 'listen %s' % BACKEND, '    bind %s:%d' % PROXY]
        for i, (name, (host, port)) in enumerate(servers):
            lines.append('    server %s %s:%d%s' % (name, host, port, '' if i == 0 else ' disabled'))
        with open(self.config, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        self.proc = subprocess.Popen([HAPROXY, '-db', '-f', self.config], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.socket):
            assert self.proc.poll() is None and time.time() < deadline, 'haproxy did not start'
            time.sleep(0.02)
        self.router = HAProxyRouter(self.socket, BACKEND)

    def states(self):
        return {name: s['state'] for name, s in self.router.states().items()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Interposer(threading.Thread):
    """A unix socket in front of HAProxy's admin socket: forwards every request; before the first one that
    ``trigger`` matches it calls ``inject`` once (a fault injected inside the module's run)."""

    def __init__(self, directory, target, trigger, inject):
        threading.Thread.__init__(self, daemon=True)
        self.path = os.path.join(directory, 'interposer.sock')
        self.target, self.trigger, self.inject = target, trigger, inject
        self.injected = threading.Event()
        self.requests, self.upstream_timeout = [], 5
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.start()

    def run(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b''
                while not data.endswith(b'\n'):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if self.trigger(data.decode()) and not self.injected.is_set():
                    self.inject()
                    self.injected.set()
                self.requests.append(data.decode().strip())
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:  # the request is passed on even when its sender gave up (as HAProxy reads it later)
                    upstream.settimeout(self.upstream_timeout)
                    upstream.connect(self.target)
                    upstream.sendall(data)
                    while True:
                        chunk = upstream.recv(65536)
                        if not chunk:
                            break
                        conn.sendall(chunk)
                except OSError:
                    pass
                finally:
                    upstream.close()

    def stop(self):
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class Writer(threading.Thread):
    """The application: inserts increasing ids through the proxy only, reconnecting at once on any error."""

    def __init__(self, lab, first_id):
        threading.Thread.__init__(self, daemon=True)
        h = lab.hosts()['r1']
        self.user, self.password = h['replicant_app_user'], h['replicant_app_password']
        self.acked, self.times, self.errors = [], [], []
        self.done = threading.Event()
        self.next_id = first_id

    def run(self):
        server = None
        while not self.done.is_set():
            if server is None:
                server = Server(host=PROXY[0], port=PROXY[1], user=self.user, password=self.password,
                                connect_timeout=1, name='proxy')
            self.next_id += 1
            try:
                server.sql('INSERT INTO w.t VALUES (%s, %s)', (self.next_id, 'proxy'))
                self.acked.append(self.next_id)
                self.times.append(time.time())
            except ServerError as exc:
                self.errors.append(str(exc)[:120])
                server.close()
                server = None
                time.sleep(0.001)
        if server:
            server.close()

    def stop(self):
        self.done.set()
        self.join(10)
        gaps = [b - a for a, b in zip(self.times, self.times[1:])]
        return max(gaps) if gaps else None


@pytest.fixture(scope='module')
def env():
    """The lab, HAProxy in front of it, and an inventory that routes through it."""
    directory = tempfile.mkdtemp(prefix='replicant-routing-', dir='/var/tmp')
    os.rmdir(directory)
    private = tempfile.mkdtemp(prefix='replicant-haproxy-')
    the_lab = Lab(directory, lab_vars(directory, '127.0.40.11', lab_servers=3, lab_name_prefix='r'))
    proxy = None
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        hosts = the_lab.hosts()
        proxy = HAProxy(private, [(n, (hosts[n]['replicant_host'], hosts[n]['replicant_port'])) for n in NAMES])
        with the_lab.server('r1') as master:
            master.sql('CREATE DATABASE w')
            master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))')
        inventory = routed_inventory(the_lab, private, proxy.socket)
        yield dict(lab=the_lab, proxy=proxy, inventory=inventory, dir=private)
    finally:
        if proxy is not None:
            proxy.stop()
        run = the_lab.down()
        shutil.rmtree(private, ignore_errors=True)
        assert run.rc == 0, run.output


def routed_inventory(lab, directory, admin_socket, name='routed.yml'):
    with open(lab.inventory) as handle:
        doc = yaml.safe_load(handle)
    doc['all']['children']['mysql']['vars'].update(replicant_router='haproxy', replicant_haproxy_socket=admin_socket,
                                                   replicant_haproxy_backend=BACKEND, replicant_router_timeout=2)
    path = os.path.join(directory, name)
    with open(path, 'w') as handle:
        yaml.safe_dump(doc, handle)
    return path


def inventory_with_master(env, master, name):
    """The routed inventory with ``master`` in mysql_master and the others its replicas."""
    with open(env['inventory']) as handle:
        doc = yaml.safe_load(handle)
    groups = doc['all']['children']['mysql']['children']
    hosts = {}
    for body in groups.values():
        hosts.update((body or {}).get('hosts') or {})
    for h in hosts.values():
        h.pop('replicant_master', None)
    groups['mysql_master'] = dict(hosts={master: hosts[master]})
    groups['mysql_replicas'] = dict(hosts={n: dict(hosts[n], replicant_master=master) for n in NAMES if n != master})
    path = os.path.join(env['dir'], name)
    with open(path, 'w') as handle:
        yaml.safe_dump(doc, handle)
    return path


# -- helpers ---------------------------------------------------------------------------------------
def nodes(lab):
    """The lab's servers, each a direct replica of whichever is the master (the inventory's replicant_master names
    lab1, which the switchovers here do not keep true)."""
    out = lab.instances()
    for node in out:
        node.declared_master = None
    return out


def snapshot(lab):
    out = {}
    for name in NAMES:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            out[name] = dict(read_only=s.value('SELECT @@GLOBAL.read_only'),
                             gtid=s.value('SELECT @@GLOBAL.gtid_current_pos'),
                             master=st and (st['master_host'], st['master_port'], st['io_running'], st['sql_running']))
    return out


def writable(lab):
    state = snapshot(lab)
    return [n for n in NAMES if state[n]['read_only'] == 0]


def address(lab, name):
    h = lab.hosts()[name]
    return h['replicant_host'], h['replicant_port']


def wait_topology(lab, master, timeout=20):
    """Until exactly ``master`` is writable and the others replicate from it, both threads running."""
    deadline = time.time() + timeout
    while True:
        state = snapshot(lab)
        ok = [n for n in NAMES if state[n]['read_only'] == 0] == [master] and all(
            state[n]['master'] == address(lab, master) + ('Yes', 'Yes') for n in NAMES if n != master)
        if ok:
            return state
        assert time.time() < deadline, state
        time.sleep(0.1)


def caught_up(lab, master, timeout=20):
    with lab.server(master) as m:
        gtid = m.value('SELECT @@GLOBAL.gtid_binlog_pos')
    for name in NAMES:
        if name != master:
            with lab.server(name) as s:
                replication.wait_for_pos(s, gtid=gtid, timeout=timeout)


def ids(lab, name):
    with lab.server(name) as s:
        return {row['id'] for row in s.sql('SELECT id FROM w.t')}


def proxy_write(row_id):
    """One insert through the proxy as the application; returns the server that took it."""
    with Server(host=PROXY[0], port=PROXY[1], user='app', password='lab-app-secret', connect_timeout=2) as s:
        s.sql('INSERT INTO w.t VALUES (%s, %s)', (row_id, 'test'))
        return s.value('SELECT @@GLOBAL.server_id')


def restore(env):
    """r1 the master again (the library, routed), every replica running, HAProxy on r1."""
    lab, proxy = env['lab'], env['proxy']
    for name in NAMES:
        with lab.server(name) as s:
            if replication.replica_status(s):
                replication.start_replication(s)
    master = writable(lab)[0]
    if master != 'r1':
        sw.switchover(nodes(lab), master, 'r1', router=dict(type='haproxy', socket=proxy.socket, backend=BACKEND))
    wait_topology(lab, 'r1')
    caught_up(lab, 'r1')
    assert proxy.states() == dict(r1='ready', r2='maint', r3='maint')


def set_repl_password(lab, name, password):
    """Change the replication account on one server only (outside the binary log)."""
    with lab.server(name) as s:
        s.sql('SET SESSION sql_log_bin = 0')
        s.sql("ALTER USER 'repl'@'127.%%' IDENTIFIED BY %s", (password,))


# -- tests -------------------------------------------------------------------------------------------
def test_check_mode_routes_nothing(env):
    lab, proxy = env['lab'], env['proxy']
    before, routes = snapshot(lab), proxy.states()
    run = run_playbook('playbooks/promote_master.yml', inventory=env['inventory'], extra_vars=dict(new_master='r2'),
                       check=True)
    assert run.rc == 0, run.output
    plan = run.result(ROLE + 'Check and plan the switchover (nothing changes, nothing is routed)')
    assert plan['routing'] == [] and any(c['check'] == 'router' and c['ok'] for c in plan['checks']), plan['checks']
    assert 'demote (clients no longer reach r1)' in plan['plan'][0]
    assert snapshot(lab) == before and proxy.states() == routes == dict(r1='ready', r2='maint', r3='maint')


def test_switchover_and_back_through_haproxy_loses_no_write_and_never_stops_for_a_second(env, tmp_path):
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    written = str(tmp_path / 'inventory.yml')
    shutil.copy(env['inventory'], written)
    writer = Writer(lab, 1000000)
    writer.start()
    time.sleep(0.5)
    run = run_playbook('playbooks/promote_master.yml', inventory=written,
                       extra_vars=dict(new_master='r2', write_inventory=written))
    assert run.rc == 0, run.output
    first = run.result(SWITCH)
    assert proxy.states() == dict(r1='maint', r2='ready', r3='maint')
    assert [c['phase'] for c in first['routing']] == ['demote', 'promote'] and all(c['ok'] for c in first['routing'])
    assert first['outage_ms'] <= first['routed_ms'] < 1000, first
    time.sleep(0.5)
    on_r2 = len(writer.acked)
    run = run_playbook('playbooks/promote_master.yml', inventory=written,
                       extra_vars=dict(new_master='r1', write_inventory=written))
    assert run.rc == 0, run.output
    back = run.result(SWITCH)
    assert 'clients routed to the new master' in run.output
    time.sleep(0.5)
    longest_gap = writer.stop()
    assert len(writer.acked) > on_r2 > 0
    assert proxy.states() == dict(r1='ready', r2='maint', r3='maint')
    assert longest_gap < 1.0, (longest_gap, first['outage_ms'], back['outage_ms'], writer.errors[-5:])
    wait_topology(lab, 'r1')
    caught_up(lab, 'r1')
    for name in NAMES:
        assert not set(writer.acked) - ids(lab, name), name
    # the repointed servers reconnect fast: MASTER_CONNECT_RETRY and the heartbeat were set
    with lab.server('r2') as s:
        st = s.one('SHOW SLAVE STATUS')
        assert int(st['Connect_Retry']) == 3
        assert float(s.value("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                             "WHERE VARIABLE_NAME = 'Slave_heartbeat_period'")) == 2.0
    print('client-observed longest gap %.1f ms; module outage %s / %s ms, routed %s / %s ms' % (
        longest_gap * 1000, first['outage_ms'], back['outage_ms'], first['routed_ms'], back['routed_ms']))


def test_refused_switchover_leaves_the_routing_where_it_was(env):
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    with lab.server('r2') as s:
        s.run('stop_replica', thread='sql')
    proxy_write(2)
    before, routes = snapshot(lab), proxy.states()
    run = run_playbook('playbooks/promote_master.yml', inventory=env['inventory'], extra_vars=dict(new_master='r2'))
    assert run.rc != 0
    assert 'r2: candidate_lag: unknown' in run.output
    assert snapshot(lab) == before and proxy.states() == routes == dict(r1='ready', r2='maint', r3='maint')
    with lab.server('r2') as s:
        replication.start_replication(s)
    assert proxy_write(3) == 1  # the clients still reach r1 (server_id 1)


def test_candidate_without_the_replication_account_is_refused_before_anything_changes(env):
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    with lab.server('r2') as s:
        s.sql('SET SESSION sql_log_bin = 0')
        s.sql("DROP USER 'repl'@'127.%'")
    try:
        before = snapshot(lab)
        run = run_playbook('playbooks/promote_master.yml', inventory=env['inventory'], extra_vars=dict(new_master='r2'))
        assert run.rc != 0
        assert 'r2: replication_account: has no account repl: r1, r3 would be refused' in run.output, run.output[-3000:]
        assert snapshot(lab) == before and proxy.states()['r1'] == 'ready'
        with lab.server('r2') as s:
            s.sql('SET SESSION sql_log_bin = 0')
            s.sql("CREATE USER 'repl'@'127.%' IDENTIFIED BY 'another-password'")
            s.sql("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.%'")
        with pytest.raises(sw.PromotionError, match='r2: replication_account: refuses repl with the configured password'):
            sw.switchover(nodes(lab), 'r1', 'r2')
        assert snapshot(lab) == before
    finally:
        set_repl_password(lab, 'r2', 'lab-repl-secret')


def test_stale_inventory_is_refused(env):
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    sw.switchover(nodes(lab), 'r1', 'r2', router=dict(type='haproxy', socket=proxy.socket, backend=BACKEND))
    wait_topology(lab, 'r2')
    before = snapshot(lab)
    # the inventory still says r1 is the master: "switch to r1" must not report done
    run = run_playbook('playbooks/promote_master.yml', inventory=env['inventory'], extra_vars=dict(new_master='r1'))
    assert run.rc != 0
    assert 'r1 is to stay the master, but the servers are not as the inventory says: r1 is read-only' in run.output
    assert 'Done' not in run.output
    assert snapshot(lab) == before and proxy.states()['r2'] == 'ready'
    restore(env)


def test_failure_past_the_point_of_no_return_routes_to_the_writable_master_and_writes_the_inventory(env, tmp_path):
    """After the prechecks (at the router's demote call, the old master locked) r2's replication account gets
    another password: every repoint is refused. The proxy must still be on r2, the inventory written."""
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    interposer = Interposer(env['dir'], proxy.socket, lambda line: 'r1 state maint' in line,
                            lambda: set_repl_password(lab, 'r2', 'changed-behind-our-back'))
    try:
        written = routed_inventory(lab, str(tmp_path), interposer.path, 'inventory.yml')
        hook = 'env | grep ^REPLICANT_ | sort > %s/post' % tmp_path
        started = time.time()
        run = run_playbook('playbooks/promote_master.yml', inventory=written,
                           extra_vars=dict(new_master='r2', write_inventory=written, post_hook=hook,
                                           promote_master_verify_timeout=5))
        assert interposer.injected.is_set()
        assert run.rc != 0 and time.time() - started < 60
        result = run.result(SWITCH)
        assert result['promoted'] is True and result['state']['writable'] == ['r2']
        assert sorted(result['state']['not_replicating']) == ['r1', 'r3']
        assert 'Access denied' in result['state']['not_replicating']['r3']
        assert [c['phase'] for c in result['routing']] == ['demote', 'promote', 'failed']
        assert 'did not finish' in run.output and 'replicant.mysql.setup_replication -e installation=default' in run.output
        # the proxy is on the writable master; clients write there
        assert proxy.states() == dict(r1='maint', r2='ready', r3='maint')
        assert writable(lab) == ['r2'] and proxy_write(4) == 2
        # the inventory says what the servers must be; the post-hook ran and was told
        inv = yaml.safe_load(open(written))['all']['children']['mysql']['children']
        assert list(inv['mysql_master']['hosts']) == ['r2']
        assert {h['replicant_master'] for h in inv['mysql_replicas']['hosts'].values()} == {'r2'}
        assert 'REPLICANT_OUTCOME=failed\n' in (tmp_path / 'post').read_text()
    finally:
        interposer.stop()
        set_repl_password(lab, 'r2', 'lab-repl-secret')
    # with the account repaired the replicas reconnect by themselves within seconds (connect retry 3 s)
    repaired = time.time()
    wait_topology(lab, 'r2', timeout=15)
    assert time.time() - repaired < 10
    restore(env)


def test_candidate_missing_from_the_haproxy_backend_is_refused_before_anything_changes(env, tmp_path):
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    with open(env['inventory']) as handle:
        doc = yaml.safe_load(handle)
    for body in doc['all']['children']['mysql']['children'].values():
        if 'r2' in ((body or {}).get('hosts') or {}):
            body['hosts']['r2']['replicant_haproxy_server'] = 'db-two'
    written = str(tmp_path / 'renamed.yml')
    with open(written, 'w') as handle:
        yaml.safe_dump(doc, handle)
    before, routes = snapshot(lab), proxy.states()
    run = run_playbook('playbooks/promote_master.yml', inventory=written, extra_vars=dict(new_master='r2'))
    assert run.rc != 0
    assert 'backend rw has no server for r2 (server db-two)' in run.output, run.output[-3000:]
    assert snapshot(lab) == before and proxy.states() == routes


def test_inventory_naming_a_replica_as_the_master_is_refused(env):
    """The servers moved behind the inventory's back (r2 is the master; the inventory still says r1): a
    switchover to r3 is refused before anything changes, naming what differs."""
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    sw.switchover(nodes(lab), 'r1', 'r2', router=dict(type='haproxy', socket=proxy.socket, backend=BACKEND))
    wait_topology(lab, 'r2')
    try:
        before, routes = snapshot(lab), proxy.states()
        run = run_playbook('playbooks/promote_master.yml', inventory=env['inventory'], extra_vars=dict(new_master='r3'))
        assert run.rc != 0
        assert 'switchover refused, nothing was changed' in run.output, run.output[-3000:]
        assert 'r3: replica_of_master: does not replicate from r1 (its master is %s:%d, which is r2' % address(
            lab, 'r2') in run.output
        assert 'with r2 the master; update the inventory' in run.output
        assert snapshot(lab) == before and proxy.states() == routes
    finally:
        restore(env)


def hung_haproxy(env, trigger):
    """An interposer that stops HAProxy (SIGSTOP: a hang, not a death) just before passing on the first request
    ``trigger`` matches; HAProxy keeps every request it was sent and answers them once continued."""
    proxy = env['proxy']
    return Interposer(env['dir'], proxy.socket, trigger, lambda: os.kill(proxy.proc.pid, signal.SIGSTOP))


def continue_haproxy(env, interposer, expected, timeout=20):
    """SIGCONT, then until HAProxy has worked through what it was sent and its states are ``expected``."""
    os.kill(env['proxy'].proc.pid, signal.SIGCONT)
    deadline = time.time() + timeout
    while True:
        try:
            states = env['proxy'].states()
        except Exception as exc:  # still busy with the backlog
            states = str(exc)
        if states == expected:
            interposer.stop()
            return
        assert time.time() < deadline, (states, interposer.requests)
        time.sleep(0.2)


def switch_with_a_hung_haproxy(env, interposer, tmp_path):
    """promote_master.yml r1 -> r2 through ``interposer`` (writing the inventory back); it must fail, the hang
    injected, well within its bounds (the router's timeout is 2 s a call). Returns the run and the inventory."""
    written = routed_inventory(env['lab'], str(tmp_path), interposer.path, 'inventory.yml')
    started = time.time()
    run = run_playbook('playbooks/promote_master.yml', inventory=written,
                       extra_vars=dict(new_master='r2', write_inventory=written))
    assert interposer.injected.is_set() and run.rc != 0
    assert time.time() - started < 45
    return run, written


def test_router_hanging_at_demote_undoes_the_switchover_within_its_timeout(env, tmp_path):
    """HAProxy stops answering just as the module demotes r1: the switchover is undone within the router's
    timeout (r1 writable and unlocked, r2 its replica again), and the play says how to point HAProxy back by
    hand. Once HAProxy runs again it works through what it was sent, in order: the clients reach r1."""
    lab = env['lab']
    restore(env)
    interposer = hung_haproxy(env, lambda line: 'r1 state maint' in line)
    try:
        run, _written = switch_with_a_hung_haproxy(env, interposer, tmp_path)
        assert 'failed and was undone' in run.output and 'phase demote' in run.output, run.output[-3000:]
        assert 'did not answer' in run.output
        assert "point it back by hand: echo 'set server rw/r1 state ready" in run.output
        assert writable(lab) == ['r1']
        with lab.server('r1') as s:  # not locked: a write straight to r1 goes through at once
            s.sql('SET SESSION lock_wait_timeout = 2')
            s.sql('INSERT INTO w.t VALUES (%s, %s)', (106, 'direct'))
        wait_topology(lab, 'r1')
    finally:
        continue_haproxy(env, interposer, dict(r1='ready', r2='maint', r3='maint'))
    assert proxy_write(107) == 1
    restore(env)


def test_router_hanging_at_promote_fails_safe_with_the_new_master_writable(env, tmp_path):
    """HAProxy stops answering just as the module promotes r2 (past the point of no return): r2 stays the only
    writable server, the replicas are repointed, the inventory is written and the play ends with the state and
    the HAProxy commands to run by hand; once HAProxy runs again the clients reach r2."""
    lab = env['lab']
    restore(env)
    interposer = hung_haproxy(env, lambda line: 'r2 state ready' in line)
    try:
        run, written = switch_with_a_hung_haproxy(env, interposer, tmp_path)
        result = run.result(SWITCH)
        assert result['promoted'] is True and result['state']['writable'] == ['r2']
        assert result['state']['not_replicating'] == {}
        calls = [(c['phase'], c['ok']) for c in result['routing']]
        assert calls == [('demote', True), ('promote', False), ('failed', False)]
        assert "route them by hand: echo 'set server rw/r2 state ready" in result['state']['summary']
        assert writable(lab) == ['r2']
        wait_topology(lab, 'r2')
        inv = yaml.safe_load(open(written))['all']['children']['mysql']['children']
        assert list(inv['mysql_master']['hosts']) == ['r2']
    finally:
        continue_haproxy(env, interposer, dict(r1='maint', r2='ready', r3='maint'))
    assert proxy_write(108) == 2
    restore(env)


def test_failover_routes_the_clients_to_the_new_master(env):
    """Last (r1 is gone afterwards): kill -9 of the master; the failover moves HAProxy the instant r2/r3 is writable."""
    lab, proxy = env['lab'], env['proxy']
    restore(env)
    proxy_write(5)
    caught_up(lab, 'r1')
    with open(os.path.join(os.path.dirname(lab.hosts()['r1']['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    time.sleep(0.2)
    run = run_playbook('playbooks/failover.yml', inventory=env['inventory'])
    assert run.rc == 0, run.output
    result = run.result(ROLE + 'Fail over to the elected replica (one module run)')
    new = result['new_master']
    assert new in ('r2', 'r3') and [c['phase'] for c in result['routing']] == ['promote']
    assert result['promoted_ms'] <= result['routed_ms'], result
    assert proxy.states()[new] == 'ready' and proxy.states()['r1'] == 'maint'
    assert proxy_write(6) == int(new[-1])
