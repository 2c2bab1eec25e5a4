"""Configure standalone servers into the topology the inventory declares (setup_replication.yml)."""
import copy
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook, run_tasks
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_slave_pos

PLAYBOOK = 'playbooks/setup_replication.yml'


@pytest.fixture(scope='module')
def standalone():
    directory = tempfile.mkdtemp(prefix='replicant-test-cfg-', dir='/var/tmp')
    os.rmdir(directory)
    lab = Lab(directory, lab_vars(directory, '127.0.3.21', lab_wire=False))
    try:
        run = lab.up()
        assert run.rc == 0, run.output
        yield lab
    finally:
        lab.down()


def inventory(lab, drop=(), **changes):
    """A copy of the lab's inventory with host vars changed as given (host={var: value}), ``drop`` removed."""
    with open(lab.inventory) as handle:
        inv = yaml.safe_load(handle)
    inv = copy.deepcopy(inv)
    for group in inv['all']['children']['mysql']['children'].values():
        for name, hv in ((group or {}).get('hosts') or {}).items():
            if name in changes:
                for var in drop:
                    hv.pop(var, None)
                hv.update(changes[name])
    fd, path = tempfile.mkstemp(prefix='replicant-inv-', suffix='.yml')
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump(inv, handle)
    return path


def cnf_files(lab):
    out = {}
    for name, hv in lab.hosts().items():
        path = hv['replicant_cnf_file']
        out[name] = open(path).read() if os.path.exists(path) else None
    return out


def arrives_everywhere(lab, names):
    h = lab.hosts()
    key = str(uuid.uuid4())
    with lab.tcp_server('lab1', user=h['lab1']['replicant_app_user'], password=h['lab1']['replicant_app_password']) as m:
        m.sql('CREATE DATABASE IF NOT EXISTS cfgtest')
        m.sql('CREATE TABLE IF NOT EXISTS cfgtest.t (k VARCHAR(64) PRIMARY KEY)')
        m.sql('INSERT INTO cfgtest.t VALUES (%s)', (key,))
    for name in names:
        deadline = time.time() + 15
        with lab.server(name) as s:
            while not (s.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='cfgtest'")
                       and s.value('SELECT COUNT(*) FROM cfgtest.t WHERE k = %s', (key,))):
                assert time.time() < deadline, '%s did not get the row' % name
                time.sleep(0.05)


def master_address(lab, name):
    with lab.server(name) as s:
        status = fetch_slave_pos(s)['status']
    return status and status['master_host']


# Standalone servers write no binary log: the master needs a restart to get one, which the procedure does in place
# only when told (a writable master is never restarted in place otherwise).
RESTART_MASTER = dict(restart_master=True)


def test_a_master_without_binary_log_is_restarted_only_when_told(standalone):
    run = run_playbook(PLAYBOOK, inventory=standalone.inventory)
    assert run.rc != 0
    assert 'lab1 is the master and writes no binary log' in run.output and 'restart_master=true' in run.output
    assert cnf_files(standalone) == {'lab1': None, 'lab2': None, 'lab3': None}


def test_check_mode_changes_nothing_and_shows_the_lines(standalone):
    run = run_playbook(PLAYBOOK, inventory=standalone.inventory, check=True, diff=True, extra_vars=RESTART_MASTER)
    assert run.rc == 0, run.output
    assert '+server_id = 2' in run.output and '+log_bin = binlog' in run.output
    assert cnf_files(standalone) == {'lab1': None, 'lab2': None, 'lab3': None}
    assert master_address(standalone, 'lab2') is None


def test_converge_to_master_and_replicas_then_nothing_to_do(standalone):
    run = run_playbook(PLAYBOOK, inventory=standalone.inventory, extra_vars=RESTART_MASTER)
    assert run.rc == 0, run.output
    restarted = [r['host'] for r in run.records if r['action'] == 'replicant.mysql.mysql_server' and r['status'] == 'ok']
    assert restarted == ['lab2', 'lab3', 'lab1'], restarted   # one at a time, replicas first, the master when told
    h = standalone.hosts()
    for name in ('lab2', 'lab3'):
        assert master_address(standalone, name) == h['lab1']['replicant_host']
        with standalone.server(name) as s:
            assert s.value('SELECT @@read_only') == 1 and s.value('SELECT @@log_bin') == 1
            assert s.value('SELECT @@server_id') == h[name]['replicant_server_id']
    arrives_everywhere(standalone, ['lab2', 'lab3'])
    run = run_playbook(PLAYBOOK, inventory=standalone.inventory)
    assert run.rc == 0, run.output
    assert run.changed == [], run.changed


def test_chain_master_relay_leaf(standalone):
    chain = inventory(standalone, lab3={'replicant_master': 'lab2'})
    try:
        run = run_playbook(PLAYBOOK, inventory=chain)
        assert run.rc == 0, run.output
        h = standalone.hosts()
        assert master_address(standalone, 'lab3') == h['lab2']['replicant_host']
        assert master_address(standalone, 'lab2') == h['lab1']['replicant_host']
        arrives_everywhere(standalone, ['lab2', 'lab3'])
        run = run_playbook(PLAYBOOK, inventory=chain)
        assert run.changed == [], run.changed
    finally:
        os.unlink(chain)


def test_a_server_keeps_its_server_id_unless_another_has_it(standalone):
    kept = inventory(standalone, drop=['replicant_server_id'], lab3={})
    try:
        run = run_playbook(PLAYBOOK, inventory=kept)
        assert run.rc == 0, run.output
    finally:
        os.unlink(kept)
    with standalone.server('lab3') as s:
        assert s.value('SELECT @@server_id') == 3
    derived = int(hashlib.md5(b'lab3').hexdigest()[:7], 16) + 1
    taken = inventory(standalone, drop=['replicant_server_id'], lab3={}, lab2={'replicant_server_id': 3})
    taken_back = inventory(standalone, lab2={'replicant_server_id': 2}, lab3={'replicant_server_id': 3})
    try:
        run = run_playbook(PLAYBOOK, inventory=taken)
        assert run.rc == 0, run.output
        with standalone.server('lab3') as s:
            assert s.value('SELECT @@server_id') == derived
        arrives_everywhere(standalone, ['lab2', 'lab3'])
        run = run_playbook(PLAYBOOK, inventory=taken_back)
        assert run.rc == 0, run.output
    finally:
        os.unlink(taken)
        os.unlink(taken_back)
    arrives_everywhere(standalone, ['lab2', 'lab3'])


def test_duplicate_server_id_fails_and_changes_nothing(standalone):
    before = cnf_files(standalone)
    bad = inventory(standalone, lab3={'replicant_server_id': 2})
    try:
        run = run_playbook(PLAYBOOK, inventory=bad)
    finally:
        os.unlink(bad)
    assert run.rc != 0
    assert 'lab2 and lab3 share replicant_server_id 2' in run.output
    assert cnf_files(standalone) == before


def test_errant_replica_stops_the_play_and_changes_nothing(standalone):
    run = run_playbook(PLAYBOOK, inventory=standalone.inventory)
    assert run.rc == 0, run.output
    with standalone.server('lab3') as s:  # a write on a replica, in its own binlog: errant
        s.sql('SET SESSION gtid_domain_id = 9')
        s.sql('CREATE DATABASE errant_on_lab3')
    before = cnf_files(standalone)
    run = run_playbook(PLAYBOOK, inventory=standalone.inventory)
    assert run.rc != 0
    assert 'lab3' in run.output and 'lacks: 9-3-1' in run.output and 'clone_slave' in run.output
    assert cnf_files(standalone) == before
    assert not [r for r in run.records if r['changed'] and r['status'] == 'ok' and 'Check each replica' not in r['task']]


def test_a_stop_that_does_not_finish_fails_clearly():
    work = tempfile.mkdtemp(prefix='replicant-test-stop-', dir='/var/tmp')
    cnf = os.path.join(work, 'my.cnf')
    with open(cnf, 'w') as handle:
        handle.write('[mysqld]\ndatadir = %s\npid-file = %s/mysqld.pid\n' % (work, work))
    # A "server" that ignores SIGTERM: named mariadbd and started with this option file, as the real one would be.
    stubborn = subprocess.Popen(['bash', '-c', 'exec -a mariadbd "$0" -c "import signal, time; '
                                 'signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)" --defaults-file="$1"',
                                 sys.executable, cnf])
    time.sleep(0.5)
    try:
        with open(os.path.join(work, 'mysqld.pid'), 'w') as handle:
            handle.write('%d\n' % stubborn.pid)
        run = run_tasks('localhost,', 'localhost', [{
            'name': 'stop', 'replicant.mysql.mysql_server': {
                'defaults_file': os.path.join(work, 'my.cnf'), 'state': 'stopped', 'timeout': 2},
            'ignore_errors': True}], extra_vars={'ansible_connection': 'local'})
        res = run.result('stop')
        assert res['failed'] and 'did not finish its shutdown within 2s; it is still running' in res['msg'], res
        assert stubborn.poll() is None
    finally:
        stubborn.send_signal(signal.SIGKILL)
        stubborn.wait()
        subprocess.run(['rm', '-rf', work], check=True)
