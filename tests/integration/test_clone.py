"""clone_slave: provision replicas from a live installation while a client keeps writing to the master."""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN, REPO, Lab, ansible_env, lab_vars, run_playbook
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_master_pos, fetch_slave_pos
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

PLAYBOOK = 'playbooks/clone_slave.yml'
# The start of a transport (sh -c ... NAME RECEIVER) that runs what clone_slave checks before anything changes (are the
# tools there, how much space is free) on the target host, as a real one would; the rest decides what the copy gets.
CHECKS_ONLY = 'case "$1" in "command -v "*|*"df -Pk"*) exec sh -c "$1";; esac; '


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-test-clone-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.4.11', lab_spares=1))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        with app(the_lab) as m:
            m.sql('CREATE DATABASE shop')
            m.sql('CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100), amount DECIMAL(10,2))')
            m.sql('CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB')
            for start in range(0, 2000, 500):
                m.sql('INSERT INTO shop.customers VALUES ' + ','.join("(%d, 'c%d')" % (i, i) for i in range(start, start + 500)))
        yield the_lab
    finally:
        the_lab.down()


def app(lab):
    h = lab.hosts()['lab1']
    return lab.tcp_server('lab1', user=h['replicant_app_user'], password=h['replicant_app_password'])


def source_replicates_unlocked(lab, source, note, timeout=30):
    """A new write on the master reaches ``source`` within ``timeout`` s, and nothing there waits for a lock."""
    with app(lab) as m:
        m.sql('INSERT INTO shop.orders (note) VALUES (%s)', (note,))
    with lab.server('lab1') as master:
        gtid = fetch_master_pos(master)['gtid_executed']
    with lab.server(source) as s:
        assert s.value('SELECT MASTER_GTID_WAIT(%s, %s)', (gtid, timeout)) == 0
        assert not [r for r in s.sql('SHOW PROCESSLIST') if 'lock' in (r['State'] or '').lower()]
        assert s.value('SELECT COUNT(*) FROM shop.orders WHERE note = %s', (note,)) == 1


class Writer:
    """An application writing to the master without pause until stopped."""

    def __init__(self, lab):
        self.lab, self.stop, self.count, self.errors = lab, threading.Event(), 0, []
        self.thread = threading.Thread(target=self.run)

    def run(self):
        with app(self.lab) as m:
            while not self.stop.is_set():
                try:
                    m.sql("INSERT INTO shop.orders (note, amount) VALUES ('it''s \"quoted\"', 9.99)")
                    self.count += 1
                except ServerError as exc:
                    self.errors.append(str(exc))
                time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def same_data_and_replicating(lab, target):
    with lab.server('lab1') as master, lab.server(target) as replica:
        gtid = fetch_master_pos(master)['gtid_executed']
        replica.sql("SELECT MASTER_GTID_WAIT(%s, 30)", (gtid,))
        status = fetch_slave_pos(replica)['status']
        assert status['master_host'] == lab.hosts()['lab1']['replicant_host']
        assert status['io_running_ok'] and status['sql_running_ok'], status
        for table in ('shop.orders', 'shop.customers'):
            assert master.one('CHECKSUM TABLE %s' % table)['Checksum'] == replica.one('CHECKSUM TABLE %s' % table)['Checksum']
        assert replica.value('SELECT @@read_only') == 1
        return master.value('SELECT COUNT(*) FROM shop.orders')


def clone(lab, **extra):
    return run_playbook(PLAYBOOK, inventory=lab.inventory, extra_vars=dict(target='lab4', **extra))


def clone_until_the_copy(lab, extra, output):
    """ansible-playbook clone_slave.yml in a session of its own, read until the copy task has started (its lines
    appended to ``output``); returns the process (to be interrupted or killed)."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join(REPO, PLAYBOOK), '-i', lab.inventory, '-e',
           json.dumps(dict(target='lab4', force=True, **extra))]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, start_new_session=True)
    deadline = time.time() + 120
    for line in proc.stdout:
        output.append(line)
        if 'Stream the copy' in line or time.time() > deadline:
            break
    time.sleep(1)
    return proc


DURABILITY = 'SELECT @@GLOBAL.innodb_flush_log_at_trx_commit AS flush, @@GLOBAL.sync_binlog AS sync'
COPY = 'replicant.mysql.clone_slave : Stream the copy from the source host and follow its progress (every clone_slave_poll seconds)'
# cold goes through a compressed, bandwidth-capped stream (the options a WAN copy uses)
MORE = {'cold': dict(clone_slave_compress='zstd', clone_slave_bandwidth=500)}


@pytest.mark.parametrize('method', ['physical', 'logical', 'cold', 'snapshot'])
def test_each_method_while_the_master_takes_writes(lab, method):
    durability = None
    if method == 'logical':  # a running target: its durability is relaxed for the load, then restored
        with lab.server('lab4') as s:
            durability = s.one(DURABILITY)
    with Writer(lab) as writer:
        run = clone(lab, method=method, force=(method != 'physical'), **MORE.get(method, {}))
        time.sleep(0.2)
    assert run.rc == 0, run.output[-3000:]
    assert 'lab4 cloned from lab' in run.output and 'tables identical at' in run.output
    copy = run.result(COPY)
    assert copy['streams'] == (2 if method == 'logical' else 1), copy  # two tables: two dump streams at once
    if durability:
        with lab.server('lab4') as s:
            assert s.one(DURABILITY) == durability
    if method in MORE:
        assert 'zstd' in copy['commands'][0] and 'zstd' in copy['commands'][1]
    h = lab.hosts()['lab1']
    for secret in (h['replicant_login_password'], h['replicant_repl_password']):
        assert secret not in run.output  # never on a command line shown, nor in a task result
    assert copy['bytes'] > 0 and not any(h['replicant_login_password'] in c for c in copy['commands'])
    assert writer.count > 0 and not writer.errors, writer.errors[:3]
    rows = same_data_and_replicating(lab, 'lab4')
    assert rows >= writer.count


HOSTILE_SCHEMAS = ['mysql`#', '--no-data', "it's"]


def test_hostile_schema_names_are_copied_and_dropped_literally(lab):
    """A logical clone of a source whose schemas are named like an identifier escape (mysql`#), a dump option
    (--no-data) and a quote, onto a target with such a schema of its own: the target's schemas are dropped by their
    exact names (its mysql schema stays), and the hostile ones arrive with their rows."""
    def q(name):
        return '`%s`' % name.replace('`', '``')
    with app(lab) as m:
        for name in HOSTILE_SCHEMAS:
            m.sql('CREATE DATABASE %s' % q(name))
            m.sql('CREATE TABLE %s.t (v VARCHAR(20))' % q(name))
            m.sql('INSERT INTO %s.t VALUES (%%s)' % q(name), (name,))
    try:
        with lab.server('lab4') as s:
            s.sql('SET SESSION sql_log_bin = 0')
            s.sql('CREATE DATABASE IF NOT EXISTS `only``here`')
        run = clone(lab, method='logical', force=True)
        assert run.rc == 0, run.output[-3000:]
        with lab.server('lab4') as s:
            schemas = [r['Database'] for r in s.sql('SHOW DATABASES')]
            assert 'mysql' in schemas and 'only`here' not in schemas, schemas
            assert s.value('SELECT COUNT(*) FROM mysql.user') > 0
            for name in HOSTILE_SCHEMAS:
                assert s.value('SELECT v FROM %s.t' % q(name)) == name
        same_data_and_replicating(lab, 'lab4')
    finally:
        with app(lab) as m:
            for name in HOSTILE_SCHEMAS:
                m.sql('DROP DATABASE IF EXISTS %s' % q(name))


def test_refuses_the_master_and_a_target_with_data(lab):
    run = clone(lab, method='physical')  # lab4 has data (from the cloning tests) and replicates
    assert run.rc != 0 and 'clone_slave refuses target lab4: it has data (shop)' in run.output
    assert 'force=true' in run.output
    run = run_playbook(PLAYBOOK, inventory=lab.inventory, extra_vars=dict(target='lab1'))
    assert run.rc != 0 and 'the target is the master' in run.output
    same_data_and_replicating(lab, 'lab4')


def test_rebuilds_a_broken_replica_with_force(lab):
    with lab.server('lab4') as s:  # a row only the replica has: the master's next insert of it breaks replication
        s.sql('SET SESSION sql_log_bin = 0')
        s.sql("INSERT INTO shop.customers VALUES (999999, 'only on lab4')")
    with app(lab) as m:
        m.sql("INSERT INTO shop.customers VALUES (999999, 'from the master')")
    deadline = time.time() + 10
    with lab.server('lab4') as s:
        while fetch_slave_pos(s)['status']['last_sql_errno'] != 1062:
            assert time.time() < deadline
            time.sleep(0.05)
    run = clone(lab, force=True)
    assert run.rc == 0, run.output[-3000:]
    same_data_and_replicating(lab, 'lab4')
    with lab.server('lab4') as s:
        assert s.value('SELECT name FROM shop.customers WHERE id = 999999') == 'from the master'


@pytest.mark.parametrize('method, source', [('logical', 'lab2'), ('snapshot', 'lab2'), ('cold', 'lab3')])
def test_an_interrupted_clone_leaves_nothing_locked_and_the_source_running(lab, method, source):
    # a transport that runs the checks (tools, free space) on the target but fails the copy itself
    failing = ['sh', '-c', CHECKS_ONLY + 'exit 1', 'transport']
    if method == 'logical':
        with lab.server('lab4') as s:
            durability = s.one(DURABILITY)
    run = clone(lab, method=method, source=source, force=True, clone_slave_transport=failing)
    assert run.rc != 0 and 'copy from' in run.output
    if method == 'logical':
        with lab.server('lab4') as s:  # a failed load leaves the target's durability as it was
            assert s.one(DURABILITY) == durability
    # the source replicates (not locked, not stopped): a new write reaches it
    source_replicates_unlocked(lab, source, 'after the interrupted %s clone' % method, timeout=20)


def test_a_snapshot_clone_interrupted_with_ctrl_c_leaves_the_source_unlocked_and_replicating(lab):
    """SIGINT of ansible-playbook while the source is locked (the copy stalls in its transport): within
    seconds of the play's death the source's lock is gone and its replication runs again."""
    seen = []
    proc = clone_until_the_copy(lab, dict(method='snapshot', source='lab2', clone_slave_lock_lease=5,
                                          clone_slave_transport=['sh', '-c', CHECKS_ONLY + 'sleep 120.25', 'stall']), seen)
    try:
        with lab.server('lab2') as s:
            status = fetch_slave_pos(s)['status']
            assert not status['sql_running_ok'], ''.join(seen)     # paused under the lock
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    interrupted = time.time()
    source_replicates_unlocked(lab, 'lab2', 'after ctrl-c')
    assert time.time() - interrupted < 25
    subprocess.run(['pkill', '-f', '^sleep 120.25$'], check=False)  # the stalled transport of this test only


def test_a_cold_clone_whose_controller_is_killed_leaves_the_donor_running(lab):
    """kill -9 of ansible-playbook (its whole process group) while the cold copy runs with the donor stopped:
    the copy's background job starts the donor again when the copy ends, and the donor replicates."""
    # the copy itself waits 3 s on the target side, then receives for real
    slow = ['sh', '-c', CHECKS_ONLY + 'sleep 3; exec sh -c "$1"', 'slow']
    seen = []
    proc = clone_until_the_copy(lab, dict(method='cold', source='lab3', clone_slave_transport=slow), seen)
    try:
        with pytest.raises(Exception):  # the donor is stopped for the copy
            with lab.server('lab3') as s:
                s.value('SELECT 1')
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = time.time()
    with app(lab) as m:
        m.sql("INSERT INTO shop.orders (note) VALUES ('after kill -9 of the controller')")
    with lab.server('lab1') as master:
        gtid = fetch_master_pos(master)['gtid_executed']
    while True:  # the donor comes back by itself once the copy has ended
        try:
            with lab.server('lab3') as s:
                assert s.value('SELECT MASTER_GTID_WAIT(%s, 30)', (gtid,)) == 0
                status = fetch_slave_pos(s)['status']
                assert status['io_running_ok'] and status['sql_running_ok'], status
                break
        except ServerError:
            assert time.time() - killed < 60, ''.join(seen)
            time.sleep(0.5)
    # a rerun rebuilds the half-made target
    run = clone(lab, method='cold', source='lab3', force=True)
    assert run.rc == 0, run.output[-3000:]
    same_data_and_replicating(lab, 'lab4')


def test_a_logical_clone_whose_controller_is_killed_puts_the_targets_durability_back(lab):
    """kill -9 of ansible-playbook while the target's durability is relaxed for the load: the copy's background
    job puts it back when the load ends."""
    with lab.server('lab4') as s:
        s.sql('SET GLOBAL innodb_flush_log_at_trx_commit = 1, GLOBAL sync_binlog = 1')
        durability = s.one(DURABILITY)
    slow = ['sh', '-c', CHECKS_ONLY + 'sleep 1; exec sh -c "$1"', 'slow']  # every command on the target waits 1 s
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join(REPO, PLAYBOOK), '-i', lab.inventory, '-e',
           json.dumps(dict(target='lab4', method='logical', source='lab2', force=True, clone_slave_transport=slow))]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:  # until the load has relaxed the target
            with lab.server('lab4') as s:
                if s.one(DURABILITY) == dict(flush=2, sync=0):
                    break
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.time() + 60
    while True:
        with lab.server('lab4') as s:
            if s.one(DURABILITY) == durability:
                break
        assert time.time() < deadline, 'the durability of lab4 was not put back'
        time.sleep(0.2)
    run = clone(lab, method='logical', source='lab2', force=True)
    assert run.rc == 0, run.output[-3000:]
    same_data_and_replicating(lab, 'lab4')
    with lab.server('lab4') as s:
        assert s.one(DURABILITY) == durability


def test_a_copy_whose_target_hangs_fails_within_the_stall_bound_and_unlocks_the_source(lab):
    """The receiving side hangs (a transport that never reads) during a snapshot copy, the source read-locked:
    the play fails after clone_slave_stall_timeout seconds without a byte moved (not clone_slave_timeout), says
    what to run next, and the source is unlocked and replicating."""
    started = time.time()
    run = clone(lab, method='snapshot', source='lab2', force=True, clone_slave_stall_timeout=4,
                clone_slave_transport=['sh', '-c', CHECKS_ONLY + 'exec sleep 120.5', 'hang'])
    assert run.rc != 0
    assert time.time() - started < 60
    assert 'no byte of the copy has moved for 4.0s' in run.output, run.output[-3000:]
    assert 'Fix the cause and run again' in run.output and '-e target=lab4 -e source=lab2 -e method=snapshot' in run.output
    subprocess.run(['pkill', '-f', '^sleep 120.5$'], check=False)
    source_replicates_unlocked(lab, 'lab2', 'after a stalled copy')
