"""The lab: real MariaDB servers brought up, wired, described in an inventory, and removed."""
import os
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import Lab, lab_vars, run_playbook


def lab_processes(directory):
    out = subprocess.run(['pgrep', '-f', directory], stdout=subprocess.PIPE, universal_newlines=True,
                         check=False).stdout
    return [int(pid) for pid in out.split()]


def new_dir():
    directory = tempfile.mkdtemp(prefix='replicant-lab-test-', dir='/var/tmp')
    os.rmdir(directory)
    return directory


def wait_for_row(server, table, key, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        row = server.one('SELECT v FROM %s WHERE k = %%s' % table, (key,))
        if row:
            return row['v']
        time.sleep(0.05)
    return None


def test_lab_up_replicates_is_idempotent_grows_and_goes_away():
    directory = new_dir()
    lab = Lab(directory, lab_vars(directory, '127.0.0.51'))
    try:
        started = time.time()
        run = lab.up()
        assert run.rc == 0, run.output
        assert time.time() - started < 120  # ~20 s here; generous for a machine shared with other test processes
        hosts = lab.hosts()
        assert sorted(hosts) == ['lab1', 'lab2', 'lab3']
        assert hosts['lab1']['group'] == 'mysql_master'
        assert {hosts[h]['group'] for h in ('lab2', 'lab3')} == {'mysql_replicas'}
        assert {hosts[h]['replicant_master'] for h in ('lab2', 'lab3')} == {'lab1'}
        assert len({h['replicant_server_id'] for h in hosts.values()}) == 3

        # A row written on the master by the unprivileged application account arrives everywhere.
        key = str(uuid.uuid4())
        with lab.tcp_server('lab1', user='app', password=hosts['lab1']['replicant_app_password']) as master:
            master.sql('CREATE DATABASE IF NOT EXISTS labtest')
            master.sql('CREATE TABLE IF NOT EXISTS labtest.t (k VARCHAR(64) PRIMARY KEY, v INT)')
            master.sql('INSERT INTO labtest.t VALUES (%s, 42)', (key,))
        for name in ('lab2', 'lab3'):
            with lab.tcp_server(name) as replica:
                assert wait_for_row(replica, 'labtest.t', key) == 42, name
                assert replica.value('SELECT @@read_only') == 1

        # Each server is its own: own server_id, socket, datadir; binlog ROW with GTID.
        with lab.server('lab2') as replica:
            assert replica.value('SELECT @@server_id') == hosts['lab2']['replicant_server_id']
            assert replica.value('SELECT @@binlog_format') == 'ROW'
            assert replica.value('SELECT @@datadir').rstrip('/') == hosts['lab2']['replicant_datadir']

        # Second run: nothing to change.
        run = lab.up()
        assert run.rc == 0, run.output
        assert run.changed == [], run.changed

        # One more, empty and standalone server for clone targets.
        run = lab.up(lab_spares=1)
        assert run.rc == 0, run.output
        hosts = lab.hosts()
        assert hosts['lab4']['group'] == 'mysql_spares'
        with lab.server('lab4') as spare:
            assert spare.sql('SHOW SLAVE STATUS') == []
            assert spare.value("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'labtest'") == 0
    finally:
        run = lab.down()
    assert run.rc == 0, run.output
    assert not os.path.exists(directory)
    assert lab_processes(directory) == []


def test_standalone_lab_is_not_wired():
    directory = new_dir()
    lab = Lab(directory, lab_vars(directory, '127.0.0.55', lab_servers=2, lab_wire=False))
    try:
        run = lab.up()
        assert run.rc == 0, run.output
        with lab.server('lab2') as server:
            assert server.sql('SHOW SLAVE STATUS') == []
            assert server.value('SELECT @@read_only') == 0
    finally:
        run = lab.down()
    assert run.rc == 0 and not os.path.exists(directory)


@pytest.mark.parametrize('bad, message', [
    (dict(lab_servers=0), 'lab_servers must be at least 1'),
    (dict(lab_server_binary='/nonexistent/mariadbd'), '/nonexistent/mariadbd not found'),
])
def test_bad_input_fails_clearly_and_leaves_nothing(bad, message):
    directory = new_dir()
    run = run_playbook('playbooks/lab.yml', extra_vars=lab_vars(directory, '127.0.0.58', **bad))
    assert run.rc != 0
    assert message in run.output
    assert not os.path.exists(directory)
    assert lab_processes(directory) == []


def test_port_taken_fails_clearly_and_leaves_nothing_started():
    directory = new_dir()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(('127.0.0.62', 23306))
    squatter.listen(1)
    try:
        run = run_playbook('playbooks/lab.yml', extra_vars=lab_vars(directory, '127.0.0.61'))
    finally:
        squatter.close()
    assert run.rc != 0
    assert '127.0.0.62:23306 is already in use' in run.output
    assert lab_processes(directory) == []
    assert not os.path.exists(directory)


def test_unreachable_lab_dir_fails_clearly():
    parent = tempfile.mkdtemp(prefix='replicant-private-', dir='/var/tmp')  # mode 0700: mysql cannot enter
    directory = os.path.join(parent, 'lab')
    try:
        run = run_playbook('playbooks/lab.yml', extra_vars=lab_vars(directory, '127.0.0.58'))
        assert run.rc != 0
        assert 'The mysql user cannot reach %s' % directory in run.output
        assert not os.path.exists(directory) and lab_processes(directory) == []
    finally:
        os.rmdir(parent)
