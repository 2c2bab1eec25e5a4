"""Topology discovery, its problems and relocating replicas, on a 5-server lab (127.0.1.11-15) of real servers."""
import os
import tempfile
import time
import uuid

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import ServerProcess

NAMES = ['lab1', 'lab2', 'lab3', 'lab4', 'lab5']
STAR = {'lab1': None, 'lab2': 'lab1', 'lab3': 'lab1', 'lab4': 'lab1', 'lab5': 'lab1'}


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-topology-lab-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.1.11', lab_servers=5))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        with the_lab.tcp_server('lab1', user='app', password='lab-app-secret') as master:
            master.sql('CREATE DATABASE IF NOT EXISTS topotest')
            master.sql('CREATE TABLE IF NOT EXISTS topotest.t (k VARCHAR(64) PRIMARY KEY, v INT)')
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


# -- helpers -------------------------------------------------------------------------------------
def topology(lab, inventory=None, check=False, **extra):
    """Run playbooks/topology.yml; return the run and the discovery's result."""
    run = run_playbook('playbooks/topology.yml', inventory=inventory or lab.inventory, extra_vars=extra, check=check)
    return run, run.result('Discover the topology')


def relocate(lab, check=False, **extra):
    run = run_playbook('playbooks/relocate.yml', inventory=lab.inventory, extra_vars=extra, check=check)
    return run, run.result('Check and move')


def problems(result):
    return {(p['kind'], tuple(p['servers'])) for p in result['problems']}


def shape(result):
    return {name: server['master'] for name, server in result['servers'].items()}


def write_row(lab, value=1):
    key = str(uuid.uuid4())
    with lab.tcp_server('lab1', user='app', password='lab-app-secret') as master:
        master.sql('INSERT INTO topotest.t VALUES (%s, %s)', (key, value))
    return key


def arrives_everywhere(lab, key, value=1, timeout=15):
    """Whether the row reached every lab server with the master's value."""
    deadline = time.time() + timeout
    for name in NAMES:
        with lab.server(name) as server:
            while server.value('SELECT v FROM topotest.t WHERE k = %s', (key,)) != value:
                if time.time() > deadline:
                    return False
                time.sleep(0.05)
    return True


def wait_status(lab, name, ready, timeout=15):
    deadline = time.time() + timeout
    with lab.server(name) as server:
        while True:
            status = replication.replica_status(server)
            if ready(status):
                return status
            assert time.time() < deadline, 'timed out waiting on %s: %s' % (name, status)
            time.sleep(0.1)


def write_inventory(lab, drop=(), add=None):
    """A copy of the lab's inventory without the hosts in ``drop`` and with ``add`` (replicas)."""
    with open(lab.inventory) as handle:
        inv = yaml.safe_load(handle)
    for group in inv['all']['children']['mysql']['children'].values():
        for name in drop:
            (group.get('hosts') or {}).pop(name, None)
    inv['all']['children']['mysql']['children']['mysql_replicas']['hosts'].update(add or {})
    path = os.path.join(lab.dir, 'inventory-%s.yml' % uuid.uuid4().hex[:8])
    with open(path, 'w') as handle:
        yaml.safe_dump(inv, handle)
    return path


# -- the tree ------------------------------------------------------------------------------------
def test_tree_of_master_and_replicas(lab):
    assert arrives_everywhere(lab, write_row(lab))
    run, result = topology(lab)
    assert run.rc == 0, run.output
    assert shape(result) == STAR
    assert result['ok'] and result['problems'] == [] and 'no problems' in run.output
    servers = result['servers']
    assert servers['lab1']['role'] == 'master' and servers['lab1']['read_only'] is False
    assert servers['lab1']['replicas'] == ['lab2', 'lab3', 'lab4', 'lab5']
    for index, name in enumerate(NAMES, 1):
        s = servers[name]
        assert (s['server_id'], s['flavor'], s['address'], s['reachable']) == (index, 'mariadb', '127.0.1.%d:23306' % (10 + index), True)
        assert s['gtid_current_pos'] == servers['lab1']['gtid_current_pos'] != ''
    for name in NAMES[1:]:
        s = servers[name]
        assert (s['role'], s['read_only'], s['io_running'], s['sql_running'], s['seconds_behind']) == ('replica', True, 'Yes', 'Yes', 0)
        assert s['using_gtid'] == 'Slave_Pos'
    lines = result['tree_lines']
    assert lines[0].startswith('lab1 (127.0.1.11:23306) master rw id=1 ')
    assert [line[:9] for line in lines[1:]] == ['+-- lab2 ', '+-- lab3 ', '+-- lab4 ', '`-- lab5 ']
    assert 'replica ro id=3 io=Yes sql=Yes lag=0s' in lines[2]
    assert '"lab1" -> "lab3" [label="lag 0s"];' in result['dot']
    assert 's0 -->|lag 0s| s4' in result['mermaid']
    # check mode reads the same
    run, checked = topology(lab, check=True)
    assert run.rc == 0 and shape(checked) == STAR and checked['ok'], run.output


# -- problems ------------------------------------------------------------------------------------
def test_duplicate_server_id_and_writable_replica_found_and_gone(lab):
    with lab.server('lab4') as server:
        server.sql('SET GLOBAL server_id = 3')
        try:
            run, result = topology(lab)
            assert problems(result) == {('duplicate_server_id', ('lab3', 'lab4'))}, result['problems']
            assert 'duplicate_server_id' in result['servers']['lab4']['problems']
        finally:
            server.sql('SET GLOBAL server_id = 4')
    with lab.server('lab2') as server:
        server.sql('SET GLOBAL read_only = 0')
        try:
            run, result = topology(lab, topology_fail_on_problems=True)
            assert run.rc != 0 and 'lab2 is a replica and read_only is OFF' in run.output
            assert problems(result) == {('writable_replica', ('lab2',))}
            assert [line for line in result['tree_lines'] if 'lab2' in line][0].endswith('!! writable_replica')
        finally:
            server.sql('SET GLOBAL read_only = 1')
    run, result = topology(lab, topology_fail_on_problems=True)
    assert run.rc == 0 and result['ok'], result['problems']


def test_broken_sql_thread_found_and_gone(lab):
    key = str(uuid.uuid4())
    with lab.server('lab3') as replica:
        # a conflicting row the master does not know of: the master's insert then breaks the SQL thread
        replica.sql('SET SESSION sql_log_bin = 0')
        replica.sql('INSERT INTO topotest.t VALUES (%s, 0)', (key,))
        with lab.tcp_server('lab1', user='app', password='lab-app-secret') as master:
            master.sql('INSERT INTO topotest.t VALUES (%s, 1)', (key,))
        try:
            wait_status(lab, 'lab3', lambda status: status['last_sql_errno'])
            run, result = topology(lab)
            assert problems(result) == {('replication_broken', ('lab3',))}, result['problems']
            assert 'SQL thread error 1062' in result['problems'][0]['message']
            assert result['servers']['lab3']['sql_running'] == 'No'
            assert '"lab1" -> "lab3" [label="broken"];' in result['dot']
        finally:
            replica.sql('DELETE FROM topotest.t WHERE k = %s', (key,))
            replication.start_replication(replica)
    assert arrives_everywhere(lab, key) and arrives_everywhere(lab, write_row(lab))
    run, result = topology(lab)
    assert result['ok'], result['problems']


def test_errant_transaction_found_and_gone(lab):
    key = 'errant-' + str(uuid.uuid4())
    with lab.server('lab2') as replica:
        replica.sql('INSERT INTO topotest.t VALUES (%s, 2)', (key,))  # admin ignores read_only; binlogged as 0-2-N
        try:
            run, result = topology(lab)
            assert problems(result) == {('errant_transactions', ('lab2',))}, result['problems']
            assert result['servers']['lab2']['errant'].startswith('0-2-')
        finally:
            # undo it: remove the row unlogged and forget the replica's own binary log
            replication.stop_replication(replica)
            replica.sql('SET SESSION sql_log_bin = 0')
            replica.sql('DELETE FROM topotest.t WHERE k = %s', (key,))
            replica.sql('RESET MASTER')
            replication.start_replication(replica)
    assert arrives_everywhere(lab, write_row(lab))
    run, result = topology(lab)
    assert result['ok'], result['problems']


def test_replica_missing_from_inventory_and_unreachable_server(lab):
    bogus = {'lab9': dict(replicant_host='127.0.1.19', replicant_port=23306, replicant_master='lab1')}
    partial = write_inventory(lab, drop=['lab5'], add=bogus)
    run, result = topology(lab, inventory=partial)
    # lab5 has no report_host: MariaDB registers it at its connection's address, where nothing answers
    assert problems(result) == {('not_in_inventory', ('127.0.0.1:23306',)), ('unreachable', ('127.0.0.1:23306',)),
                                ('unreachable', ('lab9',))}, result['problems']
    found = result['servers']['127.0.0.1:23306']
    assert (found['server_id'], found['master'], found['found_by']) == (None, 'lab1', 'registered on lab1 with server_id 5')
    assert 'UNREACHABLE id=5 (not in inventory)' in result['tree']
    run, result = topology(lab, inventory=partial, topology_follow=False)
    assert problems(result) == {('not_in_inventory', ('127.0.0.1:23306',)), ('unreachable', ('lab9',))}

    # with report_host, the replica the inventory misses is found and queried
    cnf = os.path.join(lab.dir, 'lab5', 'my.cnf')
    with open(cnf, 'a') as handle:
        handle.write('report-host = 127.0.1.15\n')
    instance = ServerProcess(cnf)
    instance.stop(timeout=60)
    instance.start(timeout=60)
    wait_status(lab, 'lab5', lambda status: status['io_running_ok'] and status['sql_running_ok'])
    with lab.server('lab1') as master:
        deadline = time.time() + 15
        while {r['Host'] for r in master.sql('SHOW SLAVE HOSTS') if r['Server_id'] == 5} != {'127.0.1.15'}:
            assert time.time() < deadline
            time.sleep(0.1)
    run, result = topology(lab, inventory=write_inventory(lab, drop=['lab5']))
    assert problems(result) == {('not_in_inventory', ('127.0.1.15:23306',))}, result['problems']
    found = result['servers']['127.0.1.15:23306']
    assert (found['server_id'], found['master'], found['role'], found['read_only']) == (5, 'lab1', 'replica', True)
    assert '127.0.1.15:23306' in result['servers']['lab1']['replicas']
    run, result = topology(lab)
    assert result['ok'] and shape(result) == STAR, result['problems']


# -- relocating ----------------------------------------------------------------------------------
def test_relocate_chain_up_and_repoint_all(lab):
    # check mode: the statements, no change
    run, res = relocate(lab, check=True, replica='lab3', new_master='lab2')
    assert run.rc == 0 and res['changed'], run.output
    assert any("CHANGE MASTER TO MASTER_HOST = '127.0.1.12'" in s for s in res['moves'][0]['statements'])
    assert 'lab-repl-secret' not in run.output
    assert shape(res) == STAR

    # lab3 under lab2 (a relay now), then lab4 under lab3: a chain lab1 -> lab2 -> lab3 -> lab4
    run, res = relocate(lab, replica='lab3', new_master='lab2')
    assert run.rc == 0 and res['changed'] and shape(res)['lab3'] == 'lab2', run.output
    assert res['servers']['lab2']['role'] == 'relay'
    assert problems(res) == {('drift', ('lab3',))}  # the inventory still declares lab1
    run, res = relocate(lab, replica='lab3', new_master='lab2')
    assert run.rc == 0 and not res['changed'] and res['moves'] == [], run.output
    run, res = relocate(lab, replica='lab4', new_master='lab3')
    assert run.rc == 0 and shape(res) == dict(STAR, lab3='lab2', lab4='lab3'), run.output
    assert [line[:20] for line in res['tree_lines']] == [
        'lab1 (127.0.1.11:233', '+-- lab2 (127.0.1.12', '|   `-- lab3 (127.0.', '|       `-- lab4 (12', '`-- lab5 (127.0.1.15']
    assert arrives_everywhere(lab, write_row(lab))
    run, result = topology(lab)
    assert shape(result) == shape(res) and result['servers']['lab3']['role'] == 'relay'

    # refused before anything changes
    run, res = relocate(lab, replica='lab2', new_master='lab4')
    assert run.rc != 0 and 'would make a cycle' in res['msg'], run.output
    run, res = relocate(lab, replica='lab2', new_master='lab2')
    assert run.rc != 0 and 'cannot replicate from itself' in res['msg'], run.output

    # lab4 up to its grandparent lab2
    run, res = relocate(lab, replica='lab4', up=True)
    assert run.rc == 0 and shape(res) == dict(STAR, lab3='lab2', lab4='lab2'), run.output
    assert res['moves'][0]['summary'] == 'lab4: lab3 -> lab2'
    assert arrives_everywhere(lab, write_row(lab))

    # every replica of lab2 back to lab1; every replica of lab1 under lab5; and back
    run, res = relocate(lab, **{'from': 'lab2', 'to': 'lab1'})
    assert run.rc == 0 and shape(res) == STAR and res['ok'], run.output
    run, res = relocate(lab, **{'from': 'lab1', 'to': 'lab5'})
    assert run.rc == 0 and shape(res) == dict(lab1=None, lab2='lab5', lab3='lab5', lab4='lab5', lab5='lab1'), run.output
    assert sorted(m['replica'] for m in res['moves']) == ['lab2', 'lab3', 'lab4']
    assert arrives_everywhere(lab, write_row(lab))
    run, res = relocate(lab, **{'from': 'lab5', 'to': 'lab1'})
    assert run.rc == 0 and shape(res) == STAR and res['ok'], run.output
    assert arrives_everywhere(lab, write_row(lab))
