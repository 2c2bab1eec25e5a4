"""The returning old master (issues 13 and 14): option files that start every server read-only, kept true by the
promotions; topology.yml flagging a returned master's errant transactions; rejoin.yml bringing it back - by GTID
when it has nothing of its own, else saving its errant transactions to a file and rebuilding it.

Real servers (three, on 127.0.74.11-13) and real ansible-playbook runs; the tests run in order on one lab.
"""
import os
import re
import signal
import tempfile
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook


REJOIN_TASK = 'Plan, fence, and save the errant transactions or repoint (one module run on the controller)'


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-rejoin-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.74.11'))
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
def inventory(tmp_path_factory):
    """The inventory the procedures write as they go (the first test starts it from the lab's)."""
    return str(tmp_path_factory.mktemp('rejoin') / 'inventory.yml')


def write(lab, name, ids, via):
    h = lab.hosts()[name]
    with lab.tcp_server(name, user=h['replicant_app_user'], password=h['replicant_app_password']) as s:
        for i in ids:
            s.sql('INSERT INTO w.t VALUES (%s, %s)', (i, via))


def value(lab, name, statement):
    with lab.server(name) as s:
        return s.value(statement)


def server(lab, name, state):
    result = lab.module(name, 'mysql_server', state=state, defaults_file=lab.hosts()[name]['replicant_defaults_file'])
    assert not result.get('failed'), result


def kill_9(lab, name):
    with open(os.path.join(os.path.dirname(lab.hosts()[name]['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    time.sleep(0.3)


def option_file(lab, name):
    with open(lab.hosts()[name]['replicant_cnf_file']) as handle:
        return handle.read()


def rejoin(inventory, name, tmp_path, check=False):
    return run_playbook('playbooks/rejoin.yml', inventory=inventory, check=check,
                        extra_vars=dict(server=name, save_dir=str(tmp_path / 'errant'), write_inventory=inventory))


def checksums_equal(lab, replica, master):
    h = lab.hosts()[master]
    result = lab.module(replica, 'mysql_checksum', other_host=h['replicant_host'], other_port=h['replicant_port'],
                        other_user=h['replicant_login_user'], other_password=h['replicant_login_password'],
                        other_is_master=True)
    assert not result.get('failed') and result['match'] is True, result


def replicating(lab, name):
    with lab.server(name) as s:
        rows = s.run('show_replica_status')
    return rows and rows[0]['Slave_IO_Running'] == 'Yes' and rows[0]['Slave_SQL_Running'] == 'Yes' and rows[0]


def replicating_from(lab, name, master):
    status = replicating(lab, name)
    return status and status['Master_Host'] == lab.hosts()[master]['replicant_host']


def topology_problems(inventory):
    run = run_playbook('playbooks/topology.yml', inventory=inventory)
    assert run.rc == 0, run.output
    return run.result('Discover the topology')['problems']


def test_switchover_leaves_the_demoted_master_read_only_and_a_clean_rejoin_goes_by_gtid(lab, inventory, tmp_path):
    run = run_playbook('playbooks/promote_master.yml', inventory=lab.inventory,
                       extra_vars=dict(new_master='lab2', include_old_master=False, write_inventory=inventory))
    assert run.rc == 0, run.output
    # every server's option file starts it read-only; the new master is writable at run time only
    for name in ('lab1', 'lab2', 'lab3'):
        assert re.search(r'^read_only\s*=\s*ON$', option_file(lab, name), re.M), (name, option_file(lab, name))
    assert value(lab, 'lab2', 'SELECT @@GLOBAL.read_only') == 0
    write(lab, 'lab2', range(1, 6), 'after switchover')

    server(lab, 'lab1', 'restarted')           # the demoted master, left out of replication, restarts read-only
    assert value(lab, 'lab1', 'SELECT @@GLOBAL.read_only') == 1
    problems = topology_problems(inventory)
    assert not [p for p in problems if 'lab1' in p['servers']], problems   # nothing errant, not writable

    run = rejoin(inventory, 'lab2', tmp_path)     # refused before any change: the master itself
    assert run.rc != 0 and 'lab2 is the master' in run.output, run.output
    run = rejoin(inventory, 'lab1', tmp_path)
    assert run.rc == 0, run.output
    done = run.result(REJOIN_TASK)
    assert done['action'] == 'repoint' and done['errant_file'] is None and not os.path.exists(tmp_path / 'errant')
    assert replicating_from(lab, 'lab1', 'lab2')
    checksums_equal(lab, 'lab1', 'lab2')
    assert value(lab, 'lab1', 'SELECT COUNT(*) FROM w.t') == 5
    again = rejoin(inventory, 'lab1', tmp_path)
    assert again.rc == 0 and again.changed == [], (again.changed, again.output)
    assert yaml.safe_load(open(inventory))['all']['children']['mysql']['children']['mysql_replicas']['hosts']['lab1'][
        'replicant_master'] == 'lab2'      # written: lab1 a replica of lab2


def test_after_a_lossy_failover_the_old_master_restarts_read_only_and_rejoin_saves_its_errant_transactions(
        lab, inventory, tmp_path):
    # (the inventory the first test left: lab2 the master, lab1 and lab3 its replicas)
    for name in ('lab1', 'lab3'):                  # the replicas stop receiving; the master takes writes they never get
        with lab.server(name) as s:
            s.run('stop_replica', thread='io')
    write(lab, 'lab2', range(100, 106), 'lost by the failover')
    kill_9(lab, 'lab2')

    # (without the tail recovery, as when the old master's host is gone: its writes are lost to the others)
    run = run_playbook('playbooks/failover.yml', inventory=inventory,
                       extra_vars=dict(write_inventory=inventory, promote_master_recover_tail=False))
    assert run.rc == 0, run.output
    new = run.result('replicant.mysql.promote_master : Fail over to the elected replica (one module run)')['new_master']
    assert new in ('lab1', 'lab3')
    write(lab, new, range(200, 206), 'on the new master')
    assert re.search(r'^read_only\s*=\s*ON$', option_file(lab, 'lab2'), re.M)

    server(lab, 'lab2', 'started')              # the crashed master comes back read-only
    assert value(lab, 'lab2', 'SELECT @@GLOBAL.read_only') == 1
    errant = [p for p in topology_problems(inventory) if p['kind'] == 'errant_transactions']
    assert [p['servers'] for p in errant] == [['lab2']], errant

    run = rejoin(inventory, 'lab2', tmp_path, check=True)     # check mode: the plan, nothing saved or changed
    assert run.rc == 0, run.output
    planned = run.result(REJOIN_TASK)
    assert planned['action'] == 'rebuild' and planned['errant'] and planned['errant_file'] is None, planned
    assert not os.path.exists(tmp_path / 'errant') and not replicating(lab, 'lab2')

    run = rejoin(inventory, 'lab2', tmp_path)
    assert run.rc == 0, run.output
    done = run.result(REJOIN_TASK)
    assert done['action'] == 'rebuild' and done['errant_file'], done
    saved = open(done['errant_file']).read()
    for i in range(100, 106):                   # every lost row's event is in the file
        assert re.search(r'### INSERT INTO `w`\.`t`\n### SET\n###   @1=%d\n' % i, saved), saved[-2000:]
    assert 'on the new master' not in saved
    assert replicating_from(lab, 'lab2', new)
    checksums_equal(lab, 'lab2', new)
    assert value(lab, 'lab2', 'SELECT COUNT(*) FROM w.t WHERE id >= 100') == 6   # the new master's rows, not the lost ones
    again = rejoin(inventory, 'lab2', tmp_path)
    assert again.rc == 0 and again.changed == [], (again.changed, again.output)
