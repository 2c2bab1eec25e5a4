"""Adoption that respects what is there: setup_replication.yml on servers that already hold data and take writes.

Three servers (127.0.75.31-33) built as someone else's installation - binary log ``mysql-bin``, GTID domain 5 -
hold data; a client writes to the master throughout. The inventory declares lab2 a relay with lab3 below it.
"""
import contextlib
import os
import tempfile
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook
import test_promote_master as promote

PLAYBOOK = 'playbooks/setup_replication.yml'
NAMES = ['lab1', 'lab2', 'lab3']


@contextlib.contextmanager
def lab_with_data(prefix, address, **more):
    """A lab (removed at the end) whose master has the table w.t the client writes to, caught up everywhere."""
    directory = tempfile.mkdtemp(prefix=prefix, dir='/var/tmp')
    os.rmdir(directory)
    lab = Lab(directory, lab_vars(directory, address, **more))
    try:
        run = lab.up()
        assert run.rc == 0, run.output
        with lab.server('lab1') as master:
            master.sql('CREATE DATABASE w')
            master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))')
            master.sql("INSERT INTO w.t VALUES (1, 'before'), (2, 'before')")
        promote.caught_up(lab, 'lab1', [n for n in lab.hosts() if n != 'lab1'])
        yield lab
    finally:
        run = lab.down()
    assert run.rc == 0, run.output


def declare(lab, path, **masters):
    """Write a copy of the lab's inventory at ``path`` with replicant_master changed as given (host=master)."""
    with open(lab.inventory) as handle:
        inv = yaml.safe_load(handle)
    for host, master in masters.items():
        inv['all']['children']['mysql']['children']['mysql_replicas']['hosts'][host]['replicant_master'] = master
    with open(path, 'w') as handle:
        yaml.safe_dump(inv, handle)
    return path


def Writer(lab):  # pylint: disable=invalid-name
    return promote.Writer(lab, NAMES)


@pytest.fixture(scope='module')
def adopted(tmp_path_factory):
    with lab_with_data('replicant-adopt-', '127.0.75.31',
                       lab_extra_config={'log-bin': 'mysql-bin', 'gtid-domain-id': 5}) as lab:
        lab.chain = declare(lab, str(tmp_path_factory.mktemp('adopt') / 'chain.yml'), lab3='lab2')
        yield lab


def state(lab, name):
    with lab.server(name) as s:
        return dict(uptime=int(s.one("SHOW GLOBAL STATUS LIKE 'Uptime'")['Value']),
                    binlogs=[r['Log_name'] for r in s.sql('SHOW BINARY LOGS')],
                    domain=s.value('SELECT @@GLOBAL.gtid_domain_id'), basename=s.value('SELECT @@GLOBAL.log_bin_basename'),
                    server_id=s.value('SELECT @@GLOBAL.server_id'), read_only=s.value('SELECT @@GLOBAL.read_only'))


def restarts(run):
    return [r['host'] for r in run.records if r['action'] == 'replicant.mysql.mysql_server' and r['status'] == 'ok']


def test_setup_replication_adopts_a_busy_installation_without_harm(adopted):
    before = {name: state(adopted, name) for name in NAMES}
    writer = Writer(adopted)
    writer.start()
    time.sleep(0.3)
    started = time.time()
    first = run_playbook(PLAYBOOK, inventory=adopted.chain)
    second = run_playbook(PLAYBOOK, inventory=adopted.chain)   # still under writes: no false errant transaction
    elapsed = time.time() - started
    time.sleep(0.3)
    writer.stop()
    assert first.rc == 0, first.output
    assert second.rc == 0, second.output
    assert second.changed == [], second.changed
    assert restarts(first) == [] and writer.acked, restarts(first)
    after = {name: state(adopted, name) for name in NAMES}
    # the master: not restarted, same binary log (its first file is still there), same GTID domain and server_id
    assert after['lab1']['uptime'] >= before['lab1']['uptime'] + int(elapsed) - 1
    assert after['lab1']['binlogs'][0] == before['lab1']['binlogs'][0] == 'mysql-bin.000001'
    for name in NAMES:
        assert after[name]['basename'].endswith('/mysql-bin') and after[name]['domain'] == 5, (name, after[name])
        assert after[name]['server_id'] == before[name]['server_id']
    assert [n for n in NAMES if after[n]['read_only'] == 0] == ['lab1']
    # the declared tree: lab3 below the relay lab2; every acknowledged write everywhere
    assert promote.address(adopted, 'lab2') == replica_of(adopted, 'lab3')
    assert promote.address(adopted, 'lab1') == replica_of(adopted, 'lab2')
    promote.caught_up(adopted, 'lab1', ['lab2'])
    promote.caught_up(adopted, 'lab2', ['lab3'])
    acked = set(writer.acked) | {1, 2}
    for name in NAMES:
        assert not acked - promote.ids(adopted, name), name
    assert len({promote.checksum(adopted, name) for name in NAMES}) == 1


def replica_of(lab, name):
    with lab.server(name) as s:
        status = promote.replication.replica_status(s)
    return status['master_host'], status['master_port']


def test_a_static_change_restarts_replicas_one_at_a_time_and_defers_the_master(adopted):
    with open(adopted.chain) as handle:
        inv = yaml.safe_load(handle)
    inv['all']['children']['mysql']['vars']['replicant_extra_options'] = {'performance_schema': 'ON', 'max_connections': 222}
    static = adopted.chain + '.static.yml'
    with open(static, 'w') as handle:
        yaml.safe_dump(inv, handle)
    writer = Writer(adopted)
    writer.start()
    run = run_playbook(PLAYBOOK, inventory=static)
    writer.stop()
    assert run.rc == 0, run.output
    assert restarts(run) == ['lab3', 'lab2'], restarts(run)   # the leaf before its relay, never the master
    assert 'DEFERRED: lab1 is the writable master' in run.output and 'rolling_restart.yml' in run.output
    for name in NAMES:
        with adopted.server(name) as s:
            assert s.value('SELECT @@GLOBAL.max_connections') == 222   # dynamic: applied everywhere, no restart
            assert s.value('SELECT @@GLOBAL.performance_schema') == (0 if name == 'lab1' else 1)
    promote.caught_up(adopted, 'lab1', ['lab2'])
    promote.caught_up(adopted, 'lab2', ['lab3'])
    for name in NAMES:
        assert not set(writer.acked) - promote.ids(adopted, name), name
