"""promote_master: switchover and failover on a real 4-server lab, with a client writing all along."""
import os
import signal
import tempfile
import threading
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication, switchover as sw
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import ServerProcess
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, ServerError

NAMES = ['lab1', 'lab2', 'lab3', 'lab4']
ROLE = 'replicant.mysql.promote_master : '


@pytest.fixture(scope='module')
def lab():
    """Four servers on 127.0.40.21-24: lab1 the master, lab2-lab4 its replicas."""
    directory = tempfile.mkdtemp(prefix='replicant-promote-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.40.21', lab_servers=4))
    run = the_lab.up()
    assert run.rc == 0, run.output
    with the_lab.server('lab1') as master:
        master.sql('CREATE DATABASE w')
        master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))')
        final = master.value('SELECT @@GLOBAL.gtid_binlog_pos')
    for name in NAMES[1:]:   # every replica has it before the first test snapshots the servers
        with the_lab.server(name) as replica:
            assert replica.value('SELECT MASTER_GTID_WAIT(%s, 60)', (final,)) == 0, name
    try:
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


# -- helpers ---------------------------------------------------------------------------------------
class Writer(threading.Thread):
    """The application: inserts increasing ids as the unprivileged account into whichever server is writable.

    On any error it reconnects, re-resolving the master (the server with read_only off). ``acked`` holds
    every id the server confirmed, ``times`` when.
    """

    def __init__(self, lab, names=None):
        threading.Thread.__init__(self, daemon=True)
        hosts = lab.hosts()
        self.servers = [(name, hosts[name]) for name in names or NAMES]
        self.acked, self.times, self.errors = [], [], 0
        self.done = threading.Event()
        self.next_id = 1000000

    def connect(self):
        for name, h in self.servers:
            server = Server(host=h['replicant_host'], port=h['replicant_port'], user=h['replicant_app_user'],
                            password=h['replicant_app_password'], connect_timeout=1, name=name)
            try:
                if server.value('SELECT @@GLOBAL.read_only') == 0:
                    return server
            except ServerError:
                pass
            server.close()
        return None

    def run(self):
        server = None
        while not self.done.is_set():
            server = server or self.connect()
            if server is None:
                time.sleep(0.002)
                continue
            self.next_id += 1
            try:
                server.sql('INSERT INTO w.t VALUES (%s, %s)', (self.next_id, server.name))
                self.acked.append(self.next_id)
                self.times.append(time.time())
            except ServerError:
                self.errors += 1
                server.close()
                server = None
        if server:
            server.close()

    def stop(self):
        self.done.set()
        self.join(10)
        gaps = [b - a for a, b in zip(self.times, self.times[1:])]
        return max(gaps) if gaps else None


def snapshot(lab):
    """Per server: read_only, whom it replicates from, thread states, executed GTIDs."""
    out = {}
    for name in NAMES:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            out[name] = dict(read_only=s.value('SELECT @@GLOBAL.read_only'),
                             gtid=s.value('SELECT @@GLOBAL.gtid_current_pos'),
                             master=st and (st['master_host'], st['master_port'], st['io_running'], st['sql_running']))
    return out


def address(lab, name):
    h = lab.hosts()[name]
    return h['replicant_host'], h['replicant_port']


def assert_topology(lab, master, replicas):
    """Exactly one writable server; every replica replicates from it with both threads running."""
    state = snapshot(lab)
    assert [n for n in state if state[n]['read_only'] == 0] == [master], state
    for name in replicas:
        assert state[name]['master'] == address(lab, master) + ('Yes', 'Yes'), (name, state)
    assert state[master]['master'] is None, state


def caught_up(lab, master, replicas, timeout=20):
    with lab.server(master) as m:
        gtid = m.value('SELECT @@GLOBAL.gtid_binlog_pos')
    for name in replicas:
        with lab.server(name) as s:
            replication.wait_for_pos(s, gtid=gtid, timeout=timeout)


def ids(lab, name):
    with lab.server(name) as s:
        return {row['id'] for row in s.sql('SELECT id FROM w.t')}


def checksum(lab, name):
    with lab.server(name) as s:
        return s.one('CHECKSUM TABLE w.t')['Checksum']


def nodes(lab):
    """The lab's servers, each a direct replica of whichever is the master (the inventory's replicant_master names
    lab1, which the switchovers here do not keep true)."""
    out = lab.instances()
    for node in out:
        node.declared_master = None
    return out


def current_master(lab):
    state = snapshot(lab)
    return next(n for n in NAMES if state[n]['read_only'] == 0)


def restore(lab):
    """lab1 the master again, every replica running (the library directly: fast)."""
    for name in NAMES[1:]:
        with lab.server(name) as s:
            if replication.replica_status(s):
                replication.start_replication(s)
    master = current_master(lab)
    if master != 'lab1':
        sw.switchover(nodes(lab), master, 'lab1')
    caught_up(lab, 'lab1', NAMES[1:])
    assert_topology(lab, 'lab1', NAMES[1:])


def app_write(lab, name, row_id):
    h = lab.hosts()[name]
    with lab.tcp_server(name, user=h['replicant_app_user'], password=h['replicant_app_password']) as s:
        s.sql('INSERT INTO w.t VALUES (%s, %s)', (row_id, 'test'))


def playbook(lab, name, inventory=None, check=False, **extra):
    return run_playbook('playbooks/%s.yml' % name, inventory=inventory or lab.inventory, extra_vars=extra, check=check)


# -- switchover --------------------------------------------------------------------------------------
def test_check_mode_reports_the_plan_and_changes_nothing(lab):
    before = snapshot(lab)
    run = playbook(lab, 'promote_master', check=True, new_master='lab2')
    assert run.rc == 0, run.output
    plan = run.result(ROLE + 'Check and plan the switchover (nothing changes, nothing is routed)')
    assert plan['new_master'] == 'lab2' and all(c['ok'] for c in plan['checks'])
    assert plan['plan'][0].startswith('lab1: SET GLOBAL read_only = ON')
    assert plan['topology'] == dict(master='lab2', replicas=['lab3', 'lab4', 'lab1'], left_out=[], unreachable=[],
                                    tree=dict(lab3='lab2', lab4='lab2', lab1='lab2'))
    assert 'lab-repl-secret' not in run.output and 'lab-admin-secret' not in run.output
    assert snapshot(lab) == before


def test_switchover_and_back_while_a_client_writes_loses_nothing(lab, tmp_path):
    restore(lab)
    hook = 'env | grep ^REPLICANT_ | sort > %s/$REPLICANT_NEW_MASTER.%s'
    written = str(tmp_path / 'inventory.yml')
    writer = Writer(lab)
    writer.start()
    time.sleep(0.3)
    run = playbook(lab, 'promote_master', new_master='lab2', write_inventory=written,
                   pre_hook=hook % (tmp_path, 'pre'), post_hook=hook % (tmp_path, 'post'))
    assert run.rc == 0, run.output
    result = run.result(ROLE + 'Switch the master (one module run holds the whole critical section)')
    assert result['new_master'] == 'lab2' and result['outage_ms'] < 1000, result
    time.sleep(0.3)
    with_lab2 = len(writer.acked)
    # back, from the inventory the first run wrote (lab2 is the master there)
    run = playbook(lab, 'promote_master', inventory=written, new_master='lab1')
    assert run.rc == 0, run.output
    time.sleep(0.3)
    longest_gap = writer.stop()
    assert len(writer.acked) > with_lab2 > 0

    # every write the client saw acknowledged is on every server, and the servers agree
    caught_up(lab, 'lab1', NAMES[1:])
    acked = set(writer.acked)
    for name in NAMES:
        assert not acked - ids(lab, name), name
    assert len({checksum(lab, name) for name in NAMES}) == 1
    assert_topology(lab, 'lab1', NAMES[1:])
    app_write(lab, 'lab1', 1)
    caught_up(lab, 'lab1', NAMES[1:])
    assert all(1 in ids(lab, name) for name in NAMES)
    assert longest_gap < 5, longest_gap  # the outage itself is ms; the margin is for a loaded machine

    # the hooks saw old and new master; the inventory describes what the first run made
    pre = (tmp_path / 'lab2.pre').read_text()
    assert 'REPLICANT_OLD_MASTER=lab1\n' in pre and 'REPLICANT_NEW_MASTER_HOST=%s\n' % address(lab, 'lab2')[0] in pre
    assert (tmp_path / 'lab2.post').exists()
    inv = yaml.safe_load(open(written))['all']['children']['mysql']
    assert list(inv['children']['mysql_master']['hosts']) == ['lab2']
    assert 'replicant_master' not in inv['children']['mysql_master']['hosts']['lab2']
    replicas = inv['children']['mysql_replicas']['hosts']
    assert sorted(replicas) == ['lab1', 'lab3', 'lab4']
    assert {h['replicant_master'] for h in replicas.values()} == {'lab2'}
    assert inv['vars']['replicant_repl_user'] == 'repl'


def test_refusals_name_host_and_check_and_change_nothing(lab):
    restore(lab)
    # an errant transaction on a replica (its own GTID domain, so that its replication keeps running)
    with lab.server('lab4') as s:
        s.sql('SET SESSION gtid_domain_id = 9')
        s.sql('CREATE DATABASE errant')
    before = snapshot(lab)
    run = playbook(lab, 'promote_master', new_master='lab2')
    assert run.rc != 0
    assert 'lab4: errant_transactions: has transactions lab1 lacks: 9-4-1' in run.output
    assert snapshot(lab) == before
    with lab.server('lab4') as s:
        s.sql('DROP DATABASE errant')  # (domain 9 again) and forget the replica's own binlog history
        s.sql('RESET MASTER')

    # a lagging candidate
    with lab.server('lab2') as s:
        s.run('stop_replica', thread='sql')
    app_write(lab, 'lab1', 2)
    before = snapshot(lab)
    run = playbook(lab, 'promote_master', new_master='lab2')
    assert run.rc != 0
    assert 'lab2: candidate_lag: unknown' in run.output and 'lab2: replication_running: IO thread Yes, SQL thread No' in run.output
    assert snapshot(lab) == before
    with lab.server('lab2') as s:
        replication.start_replication(s)

    # a broken replica (its SQL thread stopped on an error)
    with lab.server('lab3') as s:
        s.sql('SET SESSION sql_log_bin = 0')
        s.sql("INSERT INTO w.t VALUES (7, 'clash')")
    app_write(lab, 'lab1', 7)
    with lab.server('lab3') as s:
        deadline = time.time() + 10
        while not replication.replica_status(s)['last_sql_errno'] and time.time() < deadline:
            time.sleep(0.02)
    with pytest.raises(sw.PromotionError, match='lab3: replication_running: IO thread Yes, SQL thread No; SQL error 1062'):
        sw.switchover(nodes(lab), 'lab1', 'lab2')
    with lab.server('lab3') as s:
        s.sql('SET SESSION sql_log_bin = 0')
        s.sql('DELETE FROM w.t WHERE id = 7')
        s.run('start_replica')

    # a transaction open on the master for longer than allowed (it would hold up the lock)
    h = lab.hosts()['lab1']
    with lab.tcp_server('lab1', user=h['replicant_app_user'], password=h['replicant_app_password']) as client:
        client.sql('BEGIN')
        client.sql("INSERT INTO w.t VALUES (8, 'open')")
        time.sleep(2.2)  # trx_started has whole seconds
        with pytest.raises(sw.PromotionError, match=r'lab1: long_transactions: transactions running for \d+ s'):
            sw.switchover(nodes(lab), 'lab1', 'lab2', long_transaction=1)
        client.sql('ROLLBACK')
    restore(lab)


def test_candidate_wait_timeout_leaves_the_old_master_writable_and_unlocked(lab, monkeypatch):
    restore(lab)
    with lab.server('lab2') as s:
        s.run('stop_replica', thread='sql')
    app_write(lab, 'lab1', 3)
    # Skip the catch-up before the lock, so that the wait under the lock is the one that times out.
    monkeypatch.setattr(sw._Switch, 'presync', lambda self: None)
    started = time.time()
    with pytest.raises(sw.PromotionError) as failure:
        sw.switchover(nodes(lab), 'lab1', 'lab2', wait_timeout=1, force=['candidate_lag', 'replication_running'])
    assert time.time() - started < 5
    assert 'failed and was undone' in str(failure.value) and 'lab1 is writable again' in str(failure.value)
    assert failure.value.result['forced_checks'][0]['check'] == 'replication_running'
    app_write(lab, 'lab1', 4)  # writable and not locked: the unprivileged account commits at once
    state = snapshot(lab)
    assert [n for n in NAMES if state[n]['read_only'] == 0] == ['lab1']
    assert state['lab2']['master'] == address(lab, 'lab1') + ('Yes', 'No')  # left as it was
    with lab.server('lab2') as s:
        replication.start_replication(s)
    restore(lab)
    assert {3, 4} <= ids(lab, 'lab2')


def test_candidate_dying_during_the_wait_leaves_one_writable_master_and_no_lock(lab, monkeypatch):
    restore(lab)
    with lab.server('lab2') as s:
        s.run('stop_replica', thread='sql')
    app_write(lab, 'lab1', 1005)
    monkeypatch.setattr(sw._Switch, 'presync', lambda self: None)
    candidate = ServerProcess(lab.hosts()['lab2']['replicant_defaults_file'])

    def locked():
        try:  # a new connection each time: the switchover kills the old master's client sessions
            with lab.server('lab1') as master:
                return master.value('SELECT @@read_only') == 1
        except ServerError:
            return True

    def kill_candidate_once_the_master_is_locked():
        deadline = time.time() + 20
        while time.time() < deadline and not locked():
            time.sleep(0.01)
        killed.append(time.time())
        pid = candidate.pid()
        os.kill(pid, signal.SIGKILL)
        gone = time.time() + 10  # SIGKILL is asynchronous: the port is free once the process is gone
        while time.time() < gone:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.02)

    killed = []

    killer = threading.Thread(target=kill_candidate_once_the_master_is_locked)
    killer.start()
    started = time.time()
    try:
        with pytest.raises((sw.PromotionError, ServerError)) as failure:
            sw.switchover(nodes(lab), 'lab1', 'lab2', wait_timeout=15, force=['candidate_lag', 'replication_running'])
        assert time.time() - started < 12, 'the dead candidate was only noticed by the wait timeout'
    finally:
        killer.join(30)
        candidate.start(timeout=60)
    assert killed and time.time() - killed[0] < 30
    assert 'lab1 is writable again' in str(failure.value), str(failure.value)
    app_write(lab, 'lab1', 1006)  # writable and not locked: the unprivileged account commits at once
    state = snapshot(lab)
    assert [n for n in NAMES if state[n]['read_only'] == 0] == ['lab1']
    restore(lab)
    assert {1005, 1006} <= ids(lab, 'lab2')


def test_switchover_by_binlog_coordinates_without_gtid(lab):
    """gtid=false: every server follows the new master at its binlog position read when it had caught up."""
    restore(lab)
    writer = Writer(lab)
    writer.start()
    time.sleep(0.2)
    result = sw.switchover(nodes(lab), 'lab1', 'lab2', gtid=False)
    assert result['gtid'] is False and 'binlog position' in result['plan'][-1]
    time.sleep(0.2)
    writer.stop()
    assert_topology(lab, 'lab2', ['lab1', 'lab3', 'lab4'])
    for name in ('lab1', 'lab3', 'lab4'):
        with lab.server(name) as s:
            assert replication.replica_status(s)['using_gtid'] == 'No'
    caught_up(lab, 'lab2', ['lab1', 'lab3', 'lab4'])
    for name in NAMES:
        assert not set(writer.acked) - ids(lab, name), name
    restore(lab)  # back to lab1, by GTID again
    with lab.server('lab3') as s:
        assert replication.replica_status(s)['using_gtid'] == 'Slave_Pos'


# -- failover ---------------------------------------------------------------------------------------
def test_failover_refuses_a_live_writable_master_then_promotes_after_kill_9(lab, tmp_path):
    restore(lab)
    before = snapshot(lab)
    run = playbook(lab, 'failover')
    assert run.rc != 0
    assert 'lab1: split_brain: reachable and WRITABLE' in run.output
    assert snapshot(lab) == before

    # Replicas at different positions: lab3 receives everything but applies nothing, lab4 stops
    # receiving after rows A, lab2 after rows B; only lab3's relay log has rows C.
    def write(first):
        for i in range(first, first + 5):
            app_write(lab, 'lab1', i)
    with lab.server('lab3') as s:
        s.run('stop_replica', thread='sql')
    write(100)
    caught_up_io(lab, ['lab2', 'lab4'])
    with lab.server('lab4') as s:
        s.run('stop_replica', thread='io')
    write(200)
    caught_up_io(lab, ['lab2'])
    with lab.server('lab2') as s:
        s.run('stop_replica', thread='io')
    write(300)
    with lab.server('lab1') as s:
        final = s.value('SELECT @@GLOBAL.gtid_binlog_pos')
    wait_received(lab, 'lab3', final)
    with open(os.path.join(os.path.dirname(lab.hosts()['lab1']['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    time.sleep(0.2)

    # check mode: elects lab3, the one whose relay log holds the most; changes nothing
    before = snapshot_replicas(lab)
    run = playbook(lab, 'failover', check=True)
    assert run.rc == 0, run.output
    plan = run.result(ROLE + 'Check and plan the failover (nothing changes, nothing is routed)')
    assert plan['new_master'] == 'lab3', plan
    assert snapshot_replicas(lab) == before

    # lab4 is the preferred candidate: it catches up from lab3 first, then is promoted
    inventory = str(tmp_path / 'inventory.yml')
    doc = yaml.safe_load(open(lab.inventory))
    doc['all']['children']['mysql']['children']['mysql_replicas']['hosts']['lab4']['replicant_promotion'] = 'preferred'
    with open(inventory, 'w') as handle:
        yaml.safe_dump(doc, handle)
    started = time.time()
    run = playbook(lab, 'failover', inventory=inventory, write_inventory=inventory)
    assert run.rc == 0, run.output
    result = run.result(ROLE + 'Fail over to the elected replica (one module run)')
    assert result['new_master'] == 'lab4' and time.time() - started < 30
    assert any('catching up from lab3' in step['action'] for step in result['steps']), result['steps']

    # nothing that reached any replica is lost; the others follow lab4; writes work
    assert set(range(100, 105)) | set(range(200, 205)) | set(range(300, 305)) <= ids(lab, 'lab4')
    app_write(lab, 'lab4', 5)
    caught_up(lab, 'lab4', ['lab2', 'lab3'])
    rows = ids(lab, 'lab4')
    assert 5 in rows
    for name in ('lab2', 'lab3'):
        assert ids(lab, name) == rows
        with lab.server(name) as s:
            st = replication.replica_status(s)
            assert (st['master_host'], st['master_port'], st['io_running'], st['sql_running']) == \
                address(lab, 'lab4') + ('Yes', 'Yes')
            assert s.value('SELECT @@GLOBAL.read_only') == 1
    with lab.server('lab4') as s:
        assert s.value('SELECT @@GLOBAL.read_only') == 0 and replication.replica_status(s) is None
    inv = yaml.safe_load(open(inventory))['all']['children']['mysql']['children']
    assert list(inv['mysql_master']['hosts']) == ['lab4'] and list(inv['mysql_spares']['hosts']) == ['lab1']
    assert {h['replicant_master'] for h in inv['mysql_replicas']['hosts'].values()} == {'lab4'}


def snapshot_replicas(lab):
    out = {}
    for name in NAMES[1:]:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            out[name] = (s.value('SELECT @@GLOBAL.read_only'), s.value('SELECT @@GLOBAL.gtid_current_pos'),
                         st['io_running'], st['sql_running'])
    return out


def caught_up_io(lab, names, timeout=10):
    with lab.server('lab1') as s:
        final = s.value('SELECT @@GLOBAL.gtid_binlog_pos')
    for name in names:
        wait_received(lab, name, final, timeout)


def wait_received(lab, name, gtid, timeout=10):
    """Until the replica's IO thread has received ``gtid`` (its relay log holds it)."""
    deadline = time.time() + timeout
    with lab.server(name) as s:
        while time.time() < deadline:
            if replication.replica_status(s)['gtid_io_pos'] == gtid:
                return
            time.sleep(0.02)
    raise AssertionError('%s did not receive %s' % (name, gtid))
