"""TLS for replication and for the collection's own connections (issue 16, items 4 and 5).

One lab built with lab_tls=true (a throw-away CA, a certificate per server): the replication account requires
TLS (REQUIRE SSL), so a repoint that forgot the installation's TLS settings could not connect at all. Every
procedure - setup_replication, switchover and back, relocate, failover, rejoin, clone_slave - must leave every
replica replicating with Master_SSL_Allowed and the master's certificate verified; and every connection the
procedures make to a server is a TLS one (each server's general log says so of every login), so the modules use
the inventory's TLS settings.

Real servers (127.0.80.11-14: lab1-lab3 and the spare lab4) and real ansible-playbook runs; the tests run in order.
"""
import os
import signal
import shutil
import tempfile
import time

import pytest
import yaml

from conftest import Lab, lab_vars, run_playbook


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-tls-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.80.11', lab_tls=True, lab_spares=1,
                                      lab_extra_config={'general_log': 'ON', 'general_log_file': 'general.log'}))
    run = the_lab.up()
    assert run.rc == 0, run.output
    try:
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


@pytest.fixture(scope='module')
def inventory(lab, tmp_path_factory):
    """The inventory the procedures write as they go, started from the lab's."""
    path = str(tmp_path_factory.mktemp('tls') / 'inventory.yml')
    shutil.copy(lab.inventory, path)
    return path


def tls_server(lab, name):
    """An admin session over TLS (the lab's CA, the server's name checked)."""
    from ansible_collections.replicant.mysql.plugins.module_utils.server import Server
    h = lab.hosts()[name]
    return Server(unix_socket=h['replicant_login_unix_socket'], user=h['replicant_login_user'],
                  password=h['replicant_login_password'], ssl_ca=h['replicant_login_ca_cert'], name=name)


def declared(inventory):
    """{host: its master} of the replicas an inventory declares (replicant_role/replicant_master, else the groups)."""
    with open(inventory) as handle:
        inv = yaml.safe_load(handle)
    out = {}
    for group, body in inv['all']['children']['mysql']['children'].items():
        for name, hv in ((body or {}).get('hosts') or {}).items():
            role = (hv or {}).get('replicant_role') or {'mysql_master': 'master', 'mysql_replicas': 'replica'}.get(group)
            if role == 'replica':
                out[name] = hv['replicant_master']
    return out


def assert_replicating_over_tls(lab, replicas, timeout=30):
    """Every replica in ``replicas`` ({name: master}) runs both threads, connected over TLS to that master with its
    certificate verified by the lab's CA."""
    hosts = lab.hosts()
    deadline = time.time() + timeout
    for name, master in sorted(replicas.items()):
        with tls_server(lab, name) as s:
            while True:
                row = s.one('SHOW SLAVE STATUS')
                if row and row['Slave_IO_Running'] == 'Yes' and row['Slave_SQL_Running'] == 'Yes' or time.time() > deadline:
                    break
                time.sleep(0.2)
        assert row, '%s is no replica' % name
        what = (name, row['Master_Host'], row['Slave_IO_Running'], row['Last_IO_Error'])
        assert row['Master_Host'] == hosts[master]['replicant_host'], what
        assert row['Slave_IO_Running'] == 'Yes' and row['Slave_SQL_Running'] == 'Yes', what
        assert row['Master_SSL_Allowed'] == 'Yes', what
        assert row['Master_SSL_Verify_Server_Cert'] == 'Yes', what
        assert row['Master_SSL_CA_File'] == hosts[name]['replicant_repl_ssl_ca'], what


def general_log(lab, name):
    return os.path.join(lab.hosts()[name]['replicant_datadir'], 'general.log')


def log_marks(lab):
    """Where each server's general log ends now."""
    return dict((name, os.path.getsize(general_log(lab, name)) if os.path.exists(general_log(lab, name)) else 0)
                for name in lab.hosts())


def assert_only_tls_connections(lab, marks, expect=()):
    """Every client connection to a server since ``marks`` was a TLS one (its general log says 'using SSL/TLS'),
    and the servers ``expect`` got some from the procedure's modules (the admin account)."""
    for name, offset in sorted(marks.items()):
        if not os.path.exists(general_log(lab, name)):
            continue
        with open(general_log(lab, name), 'rb') as handle:
            handle.seek(offset)
            logins = [line.decode('utf-8', 'replace').strip() for line in handle.read().splitlines()
                      if b' Connect\t' in line]
        plaintext = [line for line in logins if 'using SSL/TLS' not in line and ' as anonymous on' not in line]
        assert not plaintext, '%s: connections without TLS: %s' % (name, plaintext)
        if name in expect:
            assert [line for line in logins if 'admin@' in line], '%s: no connection of the modules' % name


def playbook(name, inventory, **extra):
    run = run_playbook('playbooks/%s.yml' % name, inventory=inventory, extra_vars=extra)
    assert run.rc == 0, run.output
    return run


def test_setup_replication_makes_every_replica_replicate_over_tls_with_an_account_that_requires_it(lab, inventory):
    for name in ('lab2', 'lab3'):    # the lab wired them over TLS: the configure role must do it again itself
        with tls_server(lab, name) as s:
            s.sql('STOP SLAVE')
            s.sql('RESET SLAVE ALL')
    playbook('setup_replication', inventory)
    assert_replicating_over_tls(lab, {'lab2': 'lab1', 'lab3': 'lab1'})
    for name in ('lab1', 'lab2', 'lab3'):
        with tls_server(lab, name) as s:
            # the lab's account (127.%) and the one the configure role made (replicant_repl_host, default %)
            accounts = s.sql("SELECT Host AS host, ssl_type FROM mysql.user WHERE User = 'repl' ORDER BY Host")
            assert accounts == [dict(host='%', ssl_type='ANY'), dict(host='127.%', ssl_type='ANY')], (name, accounts)
            option_file = open(lab.hosts()[name]['replicant_cnf_file']).read()
            assert 'ssl_cert' in option_file and lab.hosts()[name]['replicant_ssl_cert'] in option_file, option_file
    # a plaintext login of the replication account is refused: only TLS gets through
    from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, ServerError
    h = lab.hosts()['lab1']
    with pytest.raises(ServerError, match='Access denied'):
        Server(host=h['replicant_host'], port=h['replicant_port'], user='repl', password=h['replicant_repl_password']).connect()


def test_the_modules_connect_with_the_inventorys_tls_settings(lab, inventory):
    marks = log_marks(lab)
    playbook('check_replication', inventory)          # modules on each server's host (module_defaults)
    playbook('topology', inventory)                   # modules on the controller (the servers list)
    assert_only_tls_connections(lab, marks, expect=('lab1', 'lab2', 'lab3'))
    with tls_server(lab, 'lab1') as s:
        assert s.one("SHOW SESSION STATUS LIKE 'Ssl_cipher'")['Value']


def test_switchover_and_back_keep_replication_over_tls(lab, inventory):
    marks = log_marks(lab)
    playbook('promote_master', inventory, new_master='lab2', write_inventory=inventory)
    assert_replicating_over_tls(lab, {'lab1': 'lab2', 'lab3': 'lab2'})
    assert declared(inventory) == {'lab1': 'lab2', 'lab3': 'lab2'}
    playbook('promote_master', inventory, new_master='lab1', write_inventory=inventory)
    assert_replicating_over_tls(lab, {'lab2': 'lab1', 'lab3': 'lab1'})
    assert_only_tls_connections(lab, marks, expect=('lab1', 'lab2', 'lab3'))


def test_relocate_keeps_replication_over_tls(lab, inventory):
    marks = log_marks(lab)
    playbook('relocate', inventory, replica='lab3', new_master='lab2')
    assert_replicating_over_tls(lab, {'lab2': 'lab1', 'lab3': 'lab2'})
    playbook('relocate', inventory, replica='lab3', up=True)
    assert_replicating_over_tls(lab, {'lab2': 'lab1', 'lab3': 'lab1'})
    assert_only_tls_connections(lab, marks, expect=('lab1', 'lab2', 'lab3'))


def kill_9(lab, name):
    with open(os.path.join(os.path.dirname(lab.hosts()[name]['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    time.sleep(0.3)


def test_failover_and_rejoin_keep_replication_over_tls(lab, inventory):
    kill_9(lab, 'lab1')
    marks = log_marks(lab)
    playbook('failover', inventory, write_inventory=inventory)
    replicas = declared(inventory)
    new_master = ({'lab2', 'lab3'} - set(replicas)).pop()
    assert replicas == {({'lab2', 'lab3'} - {new_master}).pop(): new_master}
    assert_replicating_over_tls(lab, replicas)
    assert_only_tls_connections(lab, marks, expect=(new_master,))

    result = lab.module('lab1', 'mysql_server', state='started', defaults_file=lab.hosts()['lab1']['replicant_defaults_file'])
    assert not result.get('failed'), result
    playbook('rejoin', inventory, server='lab1', write_inventory=inventory)
    replicas = declared(inventory)
    assert replicas.get('lab1') == new_master, replicas
    assert_replicating_over_tls(lab, replicas)


def test_clone_slave_makes_a_replica_over_tls(lab, inventory):
    master = (set(lab.hosts()) - set(declared(inventory)) - {'lab4'}).pop()
    marks = log_marks(lab)
    playbook('clone_slave', inventory, target='lab4')
    assert_only_tls_connections(lab, marks, expect=(master,))
    assert_replicating_over_tls(lab, dict(declared(inventory), lab4=master))
