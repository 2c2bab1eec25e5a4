"""Adoption that respects what is there: setup_replication.yml on servers that already hold data and take writes.

Three servers (127.0.75.31-33) built as someone else's installation - binary log ``mysql-bin``, GTID domain 5 -
hold data; a client writes to the master throughout. The inventory declares lab2 a relay with lab3 below it.
"""
import os
import tempfile
import threading
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook
import test_promote_master as promote

PLAYBOOK = 'playbooks/setup_replication.yml'
NAMES = ['lab1', 'lab2', 'lab3']


class Writer(promote.Writer):
    """promote_master's client, on this lab's servers."""

    def __init__(self, lab):  # pylint: disable=super-init-not-called
        threading.Thread.__init__(self, daemon=True)
        hosts = lab.hosts()
        self.servers = [(name, hosts[name]) for name in NAMES]
        self.acked, self.times, self.errors = [], [], 0
        self.done = threading.Event()
        self.next_id = 1000000


@pytest.fixture(scope='module')
def adopted(tmp_path_factory):
    directory = tempfile.mkdtemp(prefix='replicant-adopt-', dir='/var/tmp')
    os.rmdir(directory)
    lab = Lab(directory, lab_vars(directory, '127.0.75.31', lab_extra_config={'log-bin': 'mysql-bin', 'gtid-domain-id': 5}))
    try:
        run = lab.up()
        assert run.rc == 0, run.output
        with lab.server('lab1') as master:
            master.sql('CREATE DATABASE w')
            master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))')
            master.sql("INSERT INTO w.t VALUES (1, 'before'), (2, 'before')")
        promote.caught_up(lab, 'lab1', NAMES[1:])
        with open(lab.inventory) as handle:
            inv = yaml.safe_load(handle)
        inv['all']['children']['mysql']['children']['mysql_replicas']['hosts']['lab3']['replicant_master'] = 'lab2'
        chain = str(tmp_path_factory.mktemp('adopt') / 'chain.yml')
        with open(chain, 'w') as handle:
            yaml.safe_dump(inv, handle)
        lab.chain = chain
        yield lab
    finally:
        lab.down()


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
