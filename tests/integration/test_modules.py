"""The thin replication modules, run through ansible-playbook against the lab's real servers."""
import os
import threading
import time
import uuid

from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_slave_pos


def app(lab, name):
    h = lab.hosts()[name]
    return lab.tcp_server(name, user=h['replicant_app_user'], password=h['replicant_app_password'])


def write_row(lab, value=None):
    key = value or str(uuid.uuid4())
    with app(lab, 'lab1') as master:
        master.sql('CREATE DATABASE IF NOT EXISTS modtest')
        master.sql('CREATE TABLE IF NOT EXISTS modtest.t (k VARCHAR(64) PRIMARY KEY, v INT)')
        master.sql('INSERT INTO modtest.t VALUES (%s, 1)', (key,))
    return key


def arrives(lab, name, key, timeout=10):
    deadline = time.time() + timeout
    with lab.server(name) as s:
        while time.time() < deadline:
            if s.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'modtest'") and \
                    s.value('SELECT COUNT(*) FROM modtest.t WHERE k = %s', (key,)):
                return True
            time.sleep(0.05)
    return False


def master_of(lab, name):
    with lab.server(name) as s:
        status = fetch_slave_pos(s)['status']
    return status and (status['master_host'], status['master_port'])


def point(lab, replica, master, **more):
    h = lab.hosts()
    args = dict(master_host=h[master]['replicant_host'], master_port=h[master]['replicant_port'],
                master_user=h[master]['replicant_repl_user'], master_password=h[master]['replicant_repl_password'],
                master_use_gtid='slave_pos')
    args.update(more)
    return lab.module(replica, 'mysql_change_master', **args)


def test_change_master_redirects_and_back_idempotent_and_check_mode(lab):
    h = lab.hosts()
    # check mode: reports the statements, changes nothing
    res = point(lab, 'lab3', 'lab2', check=True)
    assert res['changed'] is True and not res.get('failed'), res
    assert any('CHANGE MASTER' in s and "'********'" in s for s in res['statements'])
    assert 'lab-repl-secret' not in res.run.output
    assert master_of(lab, 'lab3') == (h['lab1']['replicant_host'], 23306)

    # redirect lab3 under lab2 (a relay: binlog + log_slave_updates); rows still arrive
    res = point(lab, 'lab3', 'lab2')
    assert res['changed'] is True and not res.get('failed'), res
    assert master_of(lab, 'lab3') == (h['lab2']['replicant_host'], 23306)
    assert arrives(lab, 'lab3', write_row(lab))
    res = point(lab, 'lab3', 'lab2')
    assert res['changed'] is False, res

    # and back, waiting in the same run until it has what the master had
    write_row(lab)
    master = lab.module('lab1', 'mysql_master_pos')
    res = point(lab, 'lab3', 'lab1', wait_gtid=master['gtid_executed'], wait_timeout=20)
    assert res['changed'] is True and res['caught_up']['gtid'] == master['gtid_executed'], res
    assert master_of(lab, 'lab3') == (h['lab1']['replicant_host'], 23306)
    assert arrives(lab, 'lab3', write_row(lab))
    # a GTID it can never reach: the wait fails at its timeout saying how far the replica is
    domain, server_id, seq = master['gtid_executed'].split('-')
    res = point(lab, 'lab3', 'lab1', wait_gtid='%s-%s-%d' % (domain, server_id, int(seq) + 1000), wait_timeout=1)
    assert res.get('failed') and 'did not reach' in res['msg'] and res['changed'] is False, res
    res = point(lab, 'lab3', 'lab1')
    assert res['changed'] is False and res['statements'] == [], res


def test_master_pos_and_slave_pos_agree(lab):
    write_row(lab)
    master = lab.module('lab1', 'mysql_master_pos')
    assert master['binlog_enabled'] and master['flavor'] == 'mariadb' and master['server_id'] == 1
    waited = lab.module('lab2', 'mysql_replication', state='caught_up', gtid=master['gtid_executed'], timeout=20)
    assert not waited.get('failed'), waited
    replica = lab.module('lab2', 'mysql_slave_pos')
    assert replica['is_replica'] is True
    assert replica['gtid'] == master['gtid_executed']
    assert (replica['file'], replica['pos']) == (master['file'], master['pos'])
    assert replica['status']['io_running_ok'] and replica['status']['sql_running_ok']
    assert replica['status']['using_gtid'] == 'Slave_Pos'
    both = lab.module('lab2', 'mysql_master_pos', replica=True)  # one run for both (the configure role's read)
    assert both['replica']['is_replica'] is True and both['replica']['gtid'] == replica['gtid']
    assert both['server_id'] == 2 and 'replica' not in lab.module('lab2', 'mysql_master_pos')


def test_slave_pos_on_a_non_replica_is_not_a_failure(lab):
    res = lab.module('lab1', 'mysql_slave_pos')
    assert not res.get('failed') and res['is_replica'] is False and res['status'] is None


def test_wait_times_out_clearly(lab):
    master = lab.module('lab1', 'mysql_master_pos')
    domain, server_id, seq = master['gtid_executed'].split('-')
    unreachable = '%s-%s-%d' % (domain, server_id, int(seq) + 1000)
    started = time.time()
    res = lab.module('lab2', 'mysql_replication', state='caught_up', gtid=unreachable, timeout=2)
    assert res.get('failed') and 'did not reach %s within 2s' % unreachable in res['msg'], res
    assert 'it has executed %s' % master['gtid_executed'] in res['msg']
    assert time.time() - started < 15


def test_stop_start_replication_idempotent(lab):
    res = lab.module('lab2', 'mysql_replication', state='stopped', thread='io')
    assert res['changed'] and res['statements'] == ['STOP SLAVE IO_THREAD'], res
    res = lab.module('lab2', 'mysql_replication', state='stopped', thread='io')
    assert not res['changed']
    res = lab.module('lab2', 'mysql_replication', state='started', check=True)
    assert res['changed'] and res['statements'] == ['START SLAVE']
    with lab.server('lab2') as s:
        assert fetch_slave_pos(s)['status']['io_running'] == 'No'
    res = lab.module('lab2', 'mysql_replication', state='started')
    assert res['changed']
    res = lab.module('lab2', 'mysql_replication', state='started')
    assert not res['changed']
    assert arrives(lab, 'lab2', write_row(lab))


def test_flush_lock_blocks_writers_until_unlocked_and_times_out_by_itself(lab):
    res = lab.module('lab1', 'mysql_flush_lock', state='locked', timeout=60)
    assert res['changed'] and res['locked'] and res['position']['file'], res
    try:
        again = lab.module('lab1', 'mysql_flush_lock', state='locked', timeout=60)
        assert again['changed'] is False and again['position'] == res['position']
        done = []
        writer = threading.Thread(target=lambda: done.append(write_row(lab)))
        writer.start()
        writer.join(2)
        assert writer.is_alive() and not done, 'a write went through while the master was locked'
    finally:
        unlocked = lab.module('lab1', 'mysql_flush_lock', state='unlocked')
    assert unlocked['changed'] is True
    writer.join(10)
    assert done, 'the writer did not complete after unlock'
    unlocked = lab.module('lab1', 'mysql_flush_lock', state='unlocked')
    assert unlocked['changed'] is False

    # A holder nobody releases lets go by itself after its timeout.
    res = lab.module('lab1', 'mysql_flush_lock', state='locked', timeout=3)
    assert res['locked']
    time.sleep(4)
    with lab.server('lab1') as s:
        s.sql('SET SESSION lock_wait_timeout = 5')
        s.sql('CREATE DATABASE IF NOT EXISTS modtest')
        assert not [r for r in s.sql('SHOW PROCESSLIST') if (r['State'] or '').startswith('Waiting for')]


def test_flush_lock_around_a_command(lab):
    res = lab.module('lab1', 'mysql_flush_lock', command=['sh', '-c', 'echo locked-run'])
    assert res['changed'] and res['command_rc'] == 0 and 'locked-run' in res['command_stdout']
    assert res['position']['gtid_executed']
    write_row(lab)  # not locked any more


def test_wrong_password_names_the_server(lab):
    res = lab.module('lab1', 'mysql_master_pos', login_password='wrong')
    assert res.get('failed') and 'cannot connect to' in res['msg'] and '1045' in res['msg'] and 'admin' in res['msg']
    assert 'wrong' not in res['msg']


def test_unreachable_port_names_host_and_port(lab):
    res = lab.module('lab1', 'mysql_master_pos', login_unix_socket=None, login_host='127.0.0.1', login_port=1,
                     connect_timeout=2)
    assert res.get('failed') and '127.0.0.1:1' in res['msg'] and '2003' in res['msg'], res


def test_broken_sql_thread_is_reported_and_nothing_changes(lab):
    key = write_row(lab)
    assert arrives(lab, 'lab2', key)
    with lab.server('lab2') as s:  # a row only on the replica: the master's next insert collides
        s.sql('SET SESSION sql_log_bin = 0')
        s.sql('INSERT INTO modtest.t VALUES (%s, 2)', ('collide-' + key,))
    with app(lab, 'lab1') as m:
        m.sql('INSERT INTO modtest.t VALUES (%s, 1)', ('collide-' + key,))
    try:
        master = lab.module('lab1', 'mysql_master_pos')
        res = lab.module('lab2', 'mysql_replication', state='caught_up', gtid=master['gtid_executed'], timeout=20)
        assert res.get('failed') and 'SQL thread stopped with error 1062' in res['msg'], res
        st = lab.module('lab2', 'mysql_slave_pos')
        assert st['status']['sql_running'] == 'No' and st['status']['last_sql_errno'] == 1062
        # pointing it at the same master again does not hide the error by restarting blindly
        cm = point(lab, 'lab2', 'lab1', check=True)
        assert 'START SLAVE' in cm['statements']
    finally:
        with lab.server('lab2') as s:
            s.sql('SET SESSION sql_log_bin = 0')
            s.sql('DELETE FROM modtest.t WHERE k = %s', ('collide-' + key,))
            s.sql('START SLAVE SQL_THREAD')
    res = lab.module('lab2', 'mysql_replication', state='caught_up', gtid=master['gtid_executed'], timeout=20)
    assert not res.get('failed'), res


def test_replication_password_with_quotes_works_end_to_end(lab):
    tricky = 'q\'uo"te\\back`tick'
    with lab.server('lab1') as m:
        m.sql("CREATE USER IF NOT EXISTS 'repl_tricky'@'127.%%' IDENTIFIED BY %s", (tricky,))
        m.sql("GRANT REPLICATION SLAVE ON *.* TO 'repl_tricky'@'127.%'")
    try:
        res = point(lab, 'lab3', 'lab1', master_user='repl_tricky', master_password=tricky)
        assert res['changed'] and not res.get('failed'), res
        assert tricky not in res.run.output
        assert arrives(lab, 'lab3', write_row(lab))
        with lab.server('lab3') as s:
            assert fetch_slave_pos(s)['status']['master_user'] == 'repl_tricky'
    finally:
        point(lab, 'lab3', 'lab1')
        with lab.server('lab1') as m:
            m.sql("DROP USER 'repl_tricky'@'127.%'")
    assert arrives(lab, 'lab3', write_row(lab))


def test_credentials_from_a_client_option_file(lab):
    h = lab.hosts()['lab1']
    client_cnf = os.path.join(os.path.dirname(h['replicant_defaults_file']), 'client.cnf')
    res = lab.module('lab1', 'mysql_master_pos', login_user=None, login_password=None, login_unix_socket=None,
                     config_file=client_cnf)
    assert not res.get('failed') and res['server_id'] == 1, res


def test_server_empty_datadir_refuses_another_directory_before_stopping(lab, tmp_path):
    """empty_datadir must be the server's own datadir (checked before the stop) and goes with state=stopped only."""
    keep = tmp_path / 'keep'
    keep.mkdir()
    (keep / 'precious').write_text('x')
    h = lab.hosts()['lab2']
    res = lab.module('lab2', 'mysql_server', state='stopped', defaults_file=h['replicant_defaults_file'],
                     empty_datadir=str(keep))
    assert res.get('failed') and 'is not the datadir of' in res['msg'], res
    assert os.listdir(str(keep)) == ['precious']
    res = lab.module('lab2', 'mysql_server', state='started', defaults_file=h['replicant_defaults_file'],
                     empty_datadir=h['replicant_datadir'])
    assert res.get('failed') and 'state=stopped only' in res['msg'], res
    with lab.server('lab2') as server:  # still running, still replicating
        assert server.value('SELECT 1') == 1
    res = lab.module('lab2', 'mysql_server', check=True, state='stopped', defaults_file=h['replicant_defaults_file'],
                     empty_datadir=h['replicant_datadir'])
    assert res['changed'] and res['actions'] == ['stop', 'empty'], res
    with lab.server('lab2') as server:  # check mode: nothing stopped, nothing removed
        assert server.value('SELECT 1') == 1


def test_cnf_file_only_options_are_written_but_left_alone_on_the_running_server(lab):
    """What the configure role does on a master: read_only=ON into its file while it stays writable at run time,
    the other options applied in the same run."""
    path = os.path.join(lab.dir, 'file-only.cnf')
    with lab.server('lab1') as s:
        connections = s.value('SELECT @@GLOBAL.max_connections')
    try:
        res = lab.module('lab1', 'mysql_cnf', path=path, options=dict(read_only='ON', max_connections=connections + 7),
                         file_only=['read_only'], apply=True)
        assert res['changed'] and not res.get('failed'), res
        assert 'read_only' not in res['dynamic_options'] and res['restart_required'] is False, res
        assert 'read_only = ON' in open(path).read()
        with lab.server('lab1') as s:
            assert s.value('SELECT @@GLOBAL.read_only') == 0
            assert s.value('SELECT @@GLOBAL.max_connections') == connections + 7
        again = lab.module('lab1', 'mysql_cnf', path=path, options=dict(read_only='ON', max_connections=connections + 7),
                           file_only=['read_only'], apply=True)
        assert again['changed'] is False, again
    finally:
        with lab.server('lab1') as s:
            s.sql('SET GLOBAL max_connections = %d' % connections)
