"""Semi-synchronous replication (issue 16): a lab with lab_semisync=true, a switchover and back that moves the master
side of semi-sync with the master role (at run time and in the option files), topology showing it active, and a
kill -9 failover under a multi-threaded writer with the replicas' SQL threads behind that loses no acknowledged commit.

Real servers (three, on 127.0.79.11-13) and real ansible-playbook runs; the tests run in order on one lab.
"""
import os
import signal
import tempfile
import threading
import time

import pytest

from conftest import Lab, lab_address, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import semisync
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-semisync-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.79.11', lab_semisync=True))
    run = the_lab.up()
    assert run.rc == 0, run.output
    with the_lab.server('lab1') as master:
        master.sql('CREATE DATABASE w')
        master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(32))')
    try:
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


@pytest.fixture(scope='module')
def inventory(tmp_path_factory, lab):
    """The inventory the procedures write as they go (starts as the lab's)."""
    path = str(tmp_path_factory.mktemp('semisync') / 'inventory.yml')
    with open(lab.inventory) as source, open(path, 'w') as target:
        target.write(source.read())
    return path


def state(lab, name):
    with lab.server(name) as server:
        return semisync.state(server)


def write(lab, name, ids):
    h = lab.hosts()[name]
    with lab.tcp_server(name, user=h['replicant_app_user'], password=h['replicant_app_password']) as server:
        for i in ids:
            server.sql('INSERT INTO w.t VALUES (%s, %s)', (i, name))


def option(lab, name, key):
    """The value the server starts with: the role's option file (conf.d, read last) over the lab's my.cnf."""
    h = lab.hosts()[name]
    for path in (h['replicant_cnf_file'], h['replicant_defaults_file']):
        if os.path.exists(path):
            with open(path) as handle:
                for line in handle:
                    if line.split('=')[0].strip().replace('-', '_') == key:
                        return line.split('=', 1)[1].strip()
    return None


def assert_master_side_on(lab, master, replicas, first_id):
    """``master`` has the master side (active, every replica connected as semi-sync) and acknowledges the writer's
    commits semi-synchronously; the replicas have only the replica side; the option files say the same."""
    before = state(lab, master)
    write(lab, master, range(first_id, first_id + 20))
    after = state(lab, master)
    assert after['master_enabled'] and after['master_active'], after
    assert after['clients'] == len(replicas), after
    assert after['yes_tx'] - before['yes_tx'] == 20 and after['no_tx'] == before['no_tx'], (before, after)
    assert option(lab, master, 'rpl_semi_sync_master_enabled') == 'ON'
    for name in replicas:
        found = state(lab, name)
        assert found['replica_enabled'] and not found['master_enabled'] and found['replica_active'], (name, found)
        assert option(lab, name, 'rpl_semi_sync_master_enabled') == 'OFF'
        assert option(lab, name, 'rpl_semi_sync_slave_enabled') == 'ON'


def topology(inventory):
    run = run_playbook('playbooks/topology.yml', inventory=inventory)
    assert run.rc == 0, run.output
    return run.result('Discover the topology')


def test_the_lab_starts_with_semisync_active_on_its_master(lab):
    assert lab.hosts()['lab1']['replicant_semisync'] is True
    assert_master_side_on(lab, 'lab1', ['lab2', 'lab3'], 1)


def test_switchover_and_back_move_the_master_side_and_commits_stay_acknowledged(lab, inventory):
    for new, old, first in (('lab2', 'lab1', 100), ('lab1', 'lab2', 200)):
        run = run_playbook('playbooks/promote_master.yml', inventory=inventory,
                           extra_vars=dict(new_master=new, write_inventory=inventory))
        assert run.rc == 0, run.output
        result = run.result('replicant.mysql.promote_master : Switch the master (one module run holds the whole critical section)')
        assert result['semisync'][new] == {'rpl_semi_sync_master_enabled': 'ON'}, result['semisync']
        assert result['semisync'][old] == {'rpl_semi_sync_master_enabled': 'OFF'}, result['semisync']
        assert_master_side_on(lab, new, [old, 'lab3'], first)
        found = topology(inventory)
        assert found['servers'][new]['semisync']['master_active'] is True
        assert not [p for p in found['problems'] if p['kind'].startswith('semisync')], found['problems']


def test_topology_flags_a_master_that_fell_back_to_async(lab, inventory):
    with lab.server('lab1') as master:
        master.sql('SET GLOBAL rpl_semi_sync_master_timeout = 100')
        for name in ('lab2', 'lab3'):
            with lab.server(name) as replica:
                replica.sql('STOP SLAVE IO_THREAD')
        try:
            write(lab, 'lab1', [300])
            found = topology(inventory)
            kinds = [p['kind'] for p in found['problems']]
            assert 'semisync_async' in kinds, found['problems']
        finally:
            for name in ('lab2', 'lab3'):
                with lab.server(name) as replica:
                    replica.sql('START SLAVE IO_THREAD')
            master.sql('SET GLOBAL rpl_semi_sync_master_timeout = 10000')
    deadline = time.time() + 30
    while not state(lab, 'lab1')['master_active'] and time.time() < deadline:
        write(lab, 'lab1', [int(time.time() * 1000) % 10 ** 9 + 10 ** 9])   # semi-sync resumes once a replica caught up
        time.sleep(0.2)
    assert state(lab, 'lab1')['master_active']


class Writer:
    """``threads`` connections of the app account inserting into ``name`` as fast as they can; every insert the
    server acknowledged is recorded."""

    def __init__(self, lab, name, threads=4):
        self.lab, self.name, self.acked, self.stop = lab, name, [], threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(threads)]

    def run(self, number):
        h = self.lab.hosts()[self.name]
        next_id = (number + 1) * 10 ** 7
        try:
            with self.lab.tcp_server(self.name, user=h['replicant_app_user'], password=h['replicant_app_password']) as s:
                while not self.stop.is_set():
                    next_id += 1
                    s.sql('INSERT INTO w.t VALUES (%s, %s)', (next_id, 'writer'))
                    self.acked.append(next_id)
        except ServerError:
            pass   # the master died

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def kill_9(lab, name):
    with open(os.path.join(os.path.dirname(lab.hosts()[name]['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)


def test_kill_9_failover_under_a_writer_loses_no_acknowledged_commit(lab, inventory):
    assert lab_address('127.0.79.11') == lab.hosts()['lab1']['replicant_host']
    start = state(lab, 'lab1')
    with Writer(lab, 'lab1') as writer:
        time.sleep(1.0)
        with lab.server('lab2') as replica:
            replica.sql('STOP SLAVE SQL_THREAD')      # behind: it receives (and acknowledges) but applies nothing
        time.sleep(0.5)
        with lab.server('lab3') as replica:
            replica.sql('STOP SLAVE SQL_THREAD')
        time.sleep(0.5)
        before = state(lab, 'lab1')
        kill_9(lab, 'lab1')
    assert before['master_active'] and before['no_tx'] == start['no_tx'], (start, before)   # it never fell back to async
    assert len(writer.acked) > 50, len(writer.acked)
    print('acknowledged commits at the kill:', len(writer.acked))
    run = run_playbook('playbooks/failover.yml', inventory=inventory, extra_vars=dict(write_inventory=inventory))
    assert run.rc == 0, run.output
    result = run.result('replicant.mysql.promote_master : Fail over to the elected replica (one module run)')
    new = result['new_master']
    other = 'lab3' if new == 'lab2' else 'lab2'
    assert result['semisync'][new] == {'rpl_semi_sync_master_enabled': 'ON'}, result['semisync']
    for name in (new, other):
        with lab.server(name) as server:
            if name == other:
                assert server.value('SELECT MASTER_GTID_WAIT(%s, 30)', (state_gtid(lab, new),)) == 0
            ids = set(row['id'] for row in server.sql("SELECT id FROM w.t WHERE via = 'writer'"))
        lost = set(writer.acked) - ids
        assert not lost, '%s lacks %d acknowledged commits: %s' % (name, len(lost), sorted(lost)[:10])
    assert option(lab, 'lab1', 'rpl_semi_sync_master_enabled') == 'OFF'   # it restarts on the replica side
    assert option(lab, 'lab1', 'loose_init_rpl_role') == 'SLAVE'          # and cuts its unacknowledged tail
    assert option(lab, new, 'rpl_semi_sync_master_enabled') == 'ON'
    assert_master_side_on(lab, new, [other], 400)


def state_gtid(lab, name):
    with lab.server(name) as server:
        return server.value('SELECT @@GLOBAL.gtid_binlog_pos')


def test_the_killed_master_restarts_on_the_replica_side_and_rejoins_with_nothing_of_its_own(lab, inventory, tmp_path):
    """Its option file (rewritten by the failover) starts it with the replica side only and init_rpl_role=SLAVE:
    MariaDB's crash recovery then rolls back and cuts from its binary log the transactions its engine had not
    committed (AFTER_SYNC: no client was told they were committed); the rejoin finds nothing errant and repoints it."""
    h = lab.hosts()['lab1']
    result = lab.module('lab1', 'mysql_server', state='started', defaults_file=h['replicant_defaults_file'])
    assert not result.get('failed'), result
    found = state(lab, 'lab1')
    assert found['replica_enabled'] and not found['master_enabled'], found
    with open(os.path.join(os.path.dirname(h['replicant_datadir']), 'error.log')) as handle:
        recovery = [line.strip() for line in handle if 'truncat' in line.lower()]
    run = run_playbook('playbooks/rejoin.yml', inventory=inventory,
                       extra_vars=dict(server='lab1', save_dir=str(tmp_path / 'errant'), write_inventory=inventory))
    assert run.rc == 0, run.output
    rejoined = run.result('Plan, fence, and save the errant transactions or repoint (one module run on the controller)')
    assert rejoined['action'] == 'repoint', (rejoined, recovery)
    found = state(lab, 'lab1')
    assert found['replica_enabled'] and found['replica_active'] and not found['master_enabled'], found
