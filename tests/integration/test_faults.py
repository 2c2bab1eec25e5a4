"""Faults during promotions (issue 13): a hung master, a hung candidate, replicas still applying a long transaction.

One 3-server lab (127.0.72.11-13: lab1 the master, lab2 and lab3 its replicas) for the file; the tests run in
order and each leaves lab1 the master, except the last (kill -9 of the master).
"""
import os
import signal
import socket
import tempfile
import threading
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import ServerProcess
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, ServerError

NAMES = ['lab1', 'lab2', 'lab3']
# w.t: the application's rows; w.nokey: no primary key, so that a row-format UPDATE of all its rows takes a
# full table scan per row on a replica (seconds of apply for one statement on the master).
NOKEY_ROWS = 3000
SCHEMA = ('CREATE DATABASE w', 'CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))',
          'CREATE TABLE w.nokey (n INT, v INT) ENGINE=InnoDB',
          'INSERT INTO w.nokey SELECT seq, 0 FROM w.seq_1_to_%d' % NOKEY_ROWS)
ROLE = 'replicant.mysql.promote_master : '


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-faults-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.72.11'))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        with the_lab.server('lab1') as master:
            for statement in SCHEMA:
                master.sql(statement)
        yield the_lab
    finally:
        for name in NAMES:  # never leave a stopped server behind
            pid = process(the_lab, name).pid()
            if pid:
                os.kill(pid, signal.SIGCONT)
        run = the_lab.down()
        assert run.rc == 0, run.output


def after_kill(lab):
    """The inventory the kill -9 failover writes (the last test starts from it)."""
    return os.path.join(lab.dir, 'after-kill.yml')


def process(lab, name):
    return ServerProcess(lab.hosts()[name]['replicant_defaults_file'])


def read_only(lab):
    out = {}
    for name in NAMES:
        try:
            with lab.server(name) as s:
                out[name] = s.value('SELECT @@GLOBAL.read_only')
        except ServerError:
            out[name] = None
    return out


def app_write(lab, name, row_id):
    """An acknowledged commit of the application (fails, rather than waits, on a locked server)."""
    h = lab.hosts()[name]
    with Server(host=h['replicant_host'], port=h['replicant_port'], user=h['replicant_app_user'],
                password=h['replicant_app_password'], connect_timeout=2, read_timeout=10) as s:
        s.sql('INSERT INTO w.t VALUES (%s, %s)', (row_id, 'test'))


def gtid_binlog_pos(lab, name):
    with lab.server(name) as s:
        return s.value('SELECT @@GLOBAL.gtid_binlog_pos')


def wait_caught_up(lab, master, replicas, timeout=60):
    gtid = gtid_binlog_pos(lab, master)
    for name in replicas:
        with lab.server(name) as s:
            replication.wait_for_pos(s, gtid=gtid, timeout=timeout)


def playbook(lab, name, inventory=None, **extra):
    return run_playbook('playbooks/%s.yml' % name, inventory=inventory or lab.inventory, extra_vars=extra,
                        timeout=300)


class Writer(threading.Thread):
    """The application on lab1 (unprivileged account, reconnecting): when did its commits succeed?"""

    def __init__(self, lab):
        threading.Thread.__init__(self, daemon=True)
        h = lab.hosts()['lab1']
        self.args = dict(host=h['replicant_host'], port=h['replicant_port'], user=h['replicant_app_user'],
                         password=h['replicant_app_password'], connect_timeout=1, read_timeout=30)
        self.times, self.acked = [], []
        self.done = threading.Event()

    def run(self):
        server, next_id = None, 5000000
        while not self.done.is_set():
            try:
                server = server or Server(**self.args).connect()
                next_id += 1
                server.sql('INSERT INTO w.t VALUES (%s, %s)', (next_id, 'writer'))
                self.acked.append(next_id)
                self.times.append(time.time())
            except ServerError:
                if server:
                    server.close()
                server = None
                time.sleep(0.005)

    def stop(self):
        self.done.set()
        self.join(40)
        gaps = [b - a for a, b in zip(self.times, self.times[1:])]
        return max(gaps) if gaps else None


def wait_stopped(pid, timeout=5.0):
    """Until the kernel reports ``pid`` stopped (state T): kill() returns before a process running on another
    core has taken the signal."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open('/proc/%d/stat' % pid) as handle:
            if handle.read().rsplit(')', 1)[1].split()[0] in ('T', 't'):
                return
        time.sleep(0.001)
    raise AssertionError('process %d did not stop within %s s' % (pid, timeout))


class StallingProxy(threading.Thread):
    """A unix-socket proxy in front of a server: SIGSTOPs that server when a client sends ``trigger``.

    The statement is forwarded after the stop: it waits in the stopped server's socket, as a statement
    sent to a server that hangs at that instant.
    """

    def __init__(self, path, target, trigger, pid):
        threading.Thread.__init__(self, daemon=True)
        self.path, self.target, self.trigger, self.pid = path, target, trigger, pid
        self.stopped_at = None
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)

    def run(self):
        while True:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            threading.Thread(target=self.pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(upstream, client, False), daemon=True).start()

    def pipe(self, source, sink, from_client):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_client and self.stopped_at is None and self.trigger in data:
                    os.kill(self.pid, signal.SIGSTOP)
                    wait_stopped(self.pid)  # a busy server on the other core runs on until the signal lands
                    self.stopped_at = time.time()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


def inventory_with(lab, path, **hostvars):
    doc = yaml.safe_load(open(lab.inventory))
    groups = doc['all']['children']['mysql']['children']
    for name, values in hostvars.items():
        for body in groups.values():
            if name in ((body or {}).get('hosts') or {}):
                body['hosts'][name].update(values)
    with open(path, 'w') as handle:
        yaml.safe_dump(doc, handle)
    return path


# -- a hung master -----------------------------------------------------------------------------------
def test_failover_on_a_sigstopped_master_ends_within_its_bound_and_refuses(lab):
    """The master's mariadbd stopped: connects are accepted, nothing answers, and its replicas are still
    connected to it: the failover must neither hang nor promote beside a master that may wake up."""
    master = process(lab, 'lab1')
    pid = master.pid()
    os.kill(pid, signal.SIGSTOP)
    started = time.time()
    try:
        run = playbook(lab, 'failover')
    finally:
        elapsed = time.time() - started
        os.kill(pid, signal.SIGCONT)
    print('failover against a SIGSTOPped master: refused after %.1f s' % elapsed)
    assert run.rc != 0, run.output
    # the role's two module runs (plan, then the run) each wait at most 2 x master_connect_timeout (3 s) for
    # lab1 and its replicas; the rest is ansible-playbook's own time
    assert elapsed < 45, elapsed
    assert 'master_lost' in run.output and 'still connected to lab1' in run.output, run.output
    assert 'nothing was changed' in run.output
    assert read_only(lab) == {'lab1': 0, 'lab2': 1, 'lab3': 1}
    app_write(lab, 'lab1', 1)
    wait_caught_up(lab, 'lab1', ['lab2', 'lab3'])


# -- a hung candidate during the switchover's critical section ----------------------------------------
def test_switchover_undone_within_its_bound_when_the_candidate_hangs_before_its_promotion(lab, tmp_path):
    hosts = lab.hosts()
    candidate = process(lab, 'lab2')
    pid = candidate.pid()
    proxy_path = os.path.join(lab.dir, 'lab2-proxy.sock')
    proxy = StallingProxy(proxy_path, hosts['lab2']['replicant_login_unix_socket'], b'IF(UNIX_TIMESTAMP(NOW(6))', pid)
    proxy.start()
    inventory = inventory_with(lab, str(tmp_path / 'inventory.yml'), lab2=dict(replicant_login_unix_socket=proxy_path))
    writer = Writer(lab)
    writer.start()
    time.sleep(0.3)
    started = time.time()
    try:
        run = playbook(lab, 'promote_master', inventory=inventory, new_master='lab2',
                       promote_master_wait_timeout=3, promote_master_lock_wait_timeout=2)
    finally:
        elapsed = time.time() - started
        outage = writer.stop()
        proxy.close()
        os.kill(pid, signal.SIGCONT)
    print('switchover with the candidate SIGSTOPped before its promotion: write outage %.1f s, play %.1f s'
          % (outage or -1, elapsed))
    assert proxy.stopped_at, 'the candidate was never asked to become writable'
    assert run.rc != 0, run.output
    assert 'failed and was undone' in run.output and 'lab1 is writable again' in run.output, run.output
    # critical section bound: lock_wait_timeout 2 + wait_timeout 3 + 1 s, then at most 5 s to undo
    assert outage is not None and outage < 2 + 3 + 1 + 5, outage
    assert elapsed < 90, elapsed
    # lab2 woke up with the promotion in its socket: it ran it after the deadline, so it stays read-only
    time.sleep(1)
    assert read_only(lab) == {'lab1': 0, 'lab2': 1, 'lab3': 1}
    app_write(lab, 'lab1', 2)  # writable and nothing locked
    wait_caught_up(lab, 'lab1', ['lab2', 'lab3'])
    for name in ('lab2', 'lab3'):
        with lab.server(name) as s:
            assert not set(writer.acked) - {r['id'] for r in s.sql('SELECT id FROM w.t')}


# -- kill -9 while every replica applies a long transaction ---------------------------------------------
def test_failover_after_kill_9_waits_for_the_long_transaction_every_replica_is_applying(lab):
    """A row-format UPDATE of a table without primary key: one statement on the master, one full table scan
    per row on a replica (no position moves until it commits). So that its apply lasts well beyond
    stall_timeout whatever the machine's speed, a session on each replica holds a lock its first row
    needs until the failover has been waiting for 6 s (the SQL thread waits inside the transaction)."""
    rows = NOKEY_ROWS
    wait_caught_up(lab, 'lab1', ['lab2', 'lab3'])
    lockers = {}
    for name in ('lab2', 'lab3'):
        lockers[name] = lab.server(name).connect()
        lockers[name].sql('START TRANSACTION')
        lockers[name].sql('SELECT COUNT(*) FROM w.nokey WHERE n = 1 FOR UPDATE')
    with lab.server('lab1') as m:
        m.sql('UPDATE w.nokey SET v = v + 1')
    for i in range(10, 15):  # acknowledged behind the long transaction
        app_write(lab, 'lab1', i)
    final = gtid_binlog_pos(lab, 'lab1')
    for name in ('lab2', 'lab3'):  # every replica received it all, and is applying the UPDATE
        with lab.server(name) as s:
            deadline = time.time() + 30
            while replication.replica_status(s)['gtid_io_pos'] != final and time.time() < deadline:
                time.sleep(0.02)
            assert replication.replica_status(s)['gtid_io_pos'] == final
            assert s.value('SELECT @@GLOBAL.gtid_slave_pos') != final
    os.kill(process(lab, 'lab1').pid(), signal.SIGKILL)
    released = []

    def release_once_the_failover_waits():
        with lab.server('lab2') as s:  # the failover stops the IO threads, then waits for the SQL threads
            deadline = time.time() + 90
            while replication.replica_status(s)['io_running'] != 'No' and time.time() < deadline:
                time.sleep(0.1)
            waiting = replication.replica_status(s)['io_running'] == 'No'
        time.sleep(6)
        for locker in lockers.values():
            locker.sql('ROLLBACK')
            locker.close()
        released.append((time.time(), waiting))
    releaser = threading.Thread(target=release_once_the_failover_waits, daemon=True)
    releaser.start()
    started = time.time()
    run = playbook(lab, 'failover', write_inventory=after_kill(lab), promote_master_relay_log_timeout=120)
    elapsed = time.time() - started
    releaser.join(130)
    assert released and released[0][1], 'the failover never stopped the IO threads'
    assert run.rc == 0, run.output
    result = run.result(ROLE + 'Fail over to the elected replica (one module run)')
    new = result['new_master']
    other = 'lab3' if new == 'lab2' else 'lab2'
    assert not result.get('lost_transactions') and not result.get('relay_log_notes'), result
    applied = [step['ms'] for step in result['steps'] if 'relay log applied' in step['action']]
    assert len(applied) == 2, result['steps']
    wait_caught_up(lab, new, [other])
    for name in (new, other):
        with lab.server(name) as s:
            assert s.value('SELECT COUNT(*) FROM w.nokey WHERE v = 1') == rows, name
            assert {10, 11, 12, 13, 14} <= {r['id'] for r in s.sql('SELECT id FROM w.t')}, name
            assert s.value('SELECT @@GLOBAL.gtid_current_pos') == final, name
    states = read_only(lab)
    assert states == {'lab1': None, new: 0, other: 1}, states
    print('failover after kill -9 with replicas applying: %.1f s; relay logs applied %s ms after the module started; '
          'steps %s' % (elapsed, applied, [(step['ms'], step['host'], step['action'][:40]) for step in result['steps']]))


# -- a hung master that its replicas lost too ------------------------------------------------------------
def test_failover_proceeds_within_its_bound_when_the_replicas_lost_the_hung_master_too(lab):
    """Last: the master from the kill -9 failover hangs (SIGSTOP); its replica's IO thread times out on it
    (slave_net_timeout 3 s): the failover proceeds without force and promotes the replica."""
    inventory = after_kill(lab)
    assert os.path.exists(inventory), 'needs the kill -9 failover before it'
    master = yaml.safe_load(open(inventory))['all']['children']['mysql']['children']['mysql_master']['hosts']
    old = list(master)[0]
    new = 'lab3' if old == 'lab2' else 'lab2'
    with lab.server(new) as s:
        s.sql('SET GLOBAL slave_net_timeout = 3')
        s.run('stop_replica', thread='io')
        s.run('start_replica', thread='io')
    pid = process(lab, old).pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        with lab.server(new) as s:  # the replica notices within slave_net_timeout
            deadline = time.time() + 30
            while replication.replica_status(s)['io_running'] == 'Yes' and time.time() < deadline:
                time.sleep(0.2)
        started = time.time()
        run = playbook(lab, 'failover', inventory=inventory)
        elapsed = time.time() - started
    finally:
        os.kill(pid, signal.SIGKILL)
        os.kill(pid, signal.SIGCONT)
    print('failover from a SIGSTOPped master its replica lost: %.1f s' % elapsed)
    assert run.rc == 0, run.output
    result = run.result(ROLE + 'Fail over to the elected replica (one module run)')
    assert result['new_master'] == new and 'was unreachable (NOT fenced' in result['msg'], result
    assert any(c['check'] == 'master_lost' and c['ok'] for c in result['checks']), result['checks']
    assert elapsed < 60, elapsed
    assert read_only(lab)[new] == 0
    app_write(lab, new, 20)
