"""clone_slave, logical method: a complete copy - accounts, roles, grants, routines, events, triggers and views - that
keeps replicating through later account changes on the master, also into a stopped target whose datadir was wiped."""
import os
import shutil
import tempfile

import pytest

from conftest import Lab, lab_vars, run_playbook
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_master_pos, fetch_slave_pos

PLAYBOOK = 'playbooks/clone_slave.yml'
TARGET = 'lab3'  # a spare: the installation's lab1 (master) and lab2 (replica) keep running throughout
ACCOUNTS = ["'clerk'@'%'", "'auditor'@'%'"]
SETUP = [
    'CREATE DATABASE shop',
    'CREATE DATABASE crm',
    'CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(10,2))',
    'CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, order_id INT, at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)',
    'CREATE TABLE crm.people (id INT PRIMARY KEY, name VARCHAR(50))',
    'CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (order_id) VALUES (NEW.id)',
    'CREATE VIEW shop.big_orders AS SELECT id, amount FROM shop.orders WHERE amount > 100',
    'CREATE PROCEDURE shop.add_order(IN a DECIMAL(10,2)) SQL SECURITY INVOKER INSERT INTO shop.orders (amount) VALUES (a)',
    'CREATE FUNCTION shop.order_count() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM shop.orders)',
    'CREATE EVENT shop.trim_audit ON SCHEDULE EVERY 1 DAY DO DELETE FROM shop.audit WHERE at < NOW() - INTERVAL 30 DAY',
    'CREATE ROLE reporting',
    'GRANT SELECT ON shop.* TO reporting',
    "CREATE USER 'clerk'@'%' IDENTIFIED BY 'clerk-secret' WITH MAX_USER_CONNECTIONS 5",
    "GRANT reporting TO 'clerk'@'%'",
    "SET DEFAULT ROLE reporting FOR 'clerk'@'%'",
    "GRANT SELECT, UPDATE ON crm.* TO 'clerk'@'%'",                       # database level
    "GRANT INSERT ON shop.orders TO 'clerk'@'%'",                          # table level
    "GRANT EXECUTE ON PROCEDURE shop.add_order TO 'clerk'@'%'",
    "CALL shop.add_order(150)",
    "INSERT INTO crm.people VALUES (1, 'Ann'), (2, 'Bo')",
]
OBJECTS = [('PROCEDURE', 'shop.add_order'), ('FUNCTION', 'shop.order_count'), ('EVENT', 'shop.trim_audit'),
           ('TRIGGER', 'shop.orders_audit'), ('VIEW', 'shop.big_orders')]


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-test-clone-logical-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.78.11', lab_servers=2, lab_spares=1))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        with the_lab.server('lab1') as m:
            for statement in SETUP:
                m.sql(statement)
        yield the_lab
    finally:
        the_lab.down()


def clone(lab, **extra):
    return run_playbook(PLAYBOOK, inventory=lab.inventory, extra_vars=dict(target=TARGET, method='logical', **extra))


def caught_up(lab, name=TARGET):
    with lab.server('lab1') as master, lab.server(name) as replica:
        gtid = fetch_master_pos(master)['gtid_executed']
        assert replica.value('SELECT MASTER_GTID_WAIT(%s, 30)', (gtid,)) == 0
        status = fetch_slave_pos(replica)['status']
        assert status['io_running_ok'] and status['sql_running_ok'] and not status['last_sql_errno'], status
        return gtid


def accounts(server):
    """Every account and role with its SHOW GRANTS (sorted) and, for accounts, SHOW CREATE USER; but the replication
    account configure makes on each server outside the binary log (repl@%: the lab's master has repl@127.% only)."""
    out = {}
    for row in server.sql("SELECT User AS u, Host AS h, is_role AS r FROM mysql.user WHERE (User, Host) <> ('repl', '%')"):
        if row['r'] == 'Y':
            grants = server.sql('SHOW GRANTS FOR %s', (row['u'],))
            created = []
        else:
            grants = server.sql('SHOW GRANTS FOR %s@%s', (row['u'], row['h']))
            created = [list(r.values())[0] for r in server.sql('SHOW CREATE USER %s@%s', (row['u'], row['h']))]
        out[(row['u'], row['h'])] = created + sorted(list(r.values())[0] for r in grants)
    return out


def objects(server):
    out = {}
    for kind, name in OBJECTS:
        row = server.one('SHOW CREATE %s %s' % (kind, name))
        out[name] = {k: v for k, v in row.items() if k != 'Created'}
    return out


def assert_complete_copy(lab):
    """The target has exactly the master's accounts, grants and stored objects, and they work."""
    with lab.server('lab1') as master, lab.server(TARGET) as target:
        theirs, mine = accounts(master), accounts(target)
        assert ('clerk', '%') in mine and ('reporting', '') in mine
        assert mine == theirs
        master_objects, target_objects = objects(master), objects(target)
        # replication disables an event on a replica; so does the clone
        event = target_objects['shop.trim_audit']['Create Event']
        assert 'DISABLE ON SLAVE' in event and ' ENABLE ' in master_objects['shop.trim_audit']['Create Event']
        master_objects['shop.trim_audit']['Create Event'] = event
        assert target_objects == master_objects
        assert target.value('SELECT shop.order_count()') == master.value('SELECT shop.order_count()')
        assert target.value('SELECT COUNT(*) FROM shop.audit') == master.value('SELECT COUNT(*) FROM shop.audit')
    h = lab.hosts()[TARGET]
    with lab.tcp_server(TARGET, user='clerk', password='clerk-secret') as clerk:  # its password and default role
        assert clerk.value('SELECT CURRENT_ROLE()') == 'reporting'
        assert clerk.value('SELECT COUNT(*) FROM shop.big_orders') >= 1
    assert h['replicant_host']


def test_logical_clone_from_the_master_has_its_accounts_grants_and_stored_objects(lab):
    run = clone(lab, source='lab1')
    assert run.rc == 0, run.output[-3000:]
    assert '%s cloned from lab1 (logical)' % TARGET in run.output
    assert 'accounts, roles, routines, events, triggers and views' in run.output
    copy = run.result('replicant.mysql.clone_slave : Stream the copy from the source host and follow its progress '
                      '(every clone_slave_poll seconds)')
    assert copy['system_bytes'] > 0 and copy['streams'] == 1, copy  # a view: the tables go in one stream
    assert any('--system=users' in command for command in copy['commands']), copy['commands']
    checksum = run.result('replicant.mysql.clone_slave : Compare every table with the source at one GTID position')
    assert checksum['match'] and checksum['objects'] >= len(OBJECTS) + 8, checksum  # 5 objects, 8 accounts or more
    caught_up(lab)
    assert_complete_copy(lab)


def test_grant_and_create_user_on_the_master_afterwards_replicate_to_the_clone(lab):
    with lab.server('lab1') as m:
        m.sql("GRANT DELETE ON shop.orders TO 'clerk'@'%'")
        m.sql("CREATE USER 'auditor'@'%' IDENTIFIED BY 'auditor-secret'")
        m.sql("GRANT SELECT ON shop.audit TO 'auditor'@'%'")
        m.sql("GRANT reporting TO 'auditor'@'%'")
        m.sql('CALL shop.add_order(300)')
    caught_up(lab)
    assert_complete_copy(lab)
    with lab.server(TARGET) as target:
        assert any('DELETE' in line for line in accounts(target)[('clerk', '%')])
        assert target.value("SELECT COUNT(*) FROM mysql.user WHERE User = 'auditor'") == 1


def test_the_verification_names_an_account_that_differs(lab):
    with lab.server(TARGET) as target:
        target.sql('SET SESSION sql_log_bin = 0')
        target.sql("GRANT SELECT ON crm.people TO 'auditor'@'%'")
    try:
        h = lab.hosts()['lab2']
        result = lab.module(TARGET, 'mysql_checksum', other_host=h['replicant_host'], other_port=h['replicant_port'],
                            compare_definitions=True, skip_accounts=['repl@%'])
        assert result.get('failed') and "account 'auditor'@'%'" in result['msg'], result
        assert "account 'auditor'@'%'" in result['differences'] and result['tables'] >= 3
    finally:
        with lab.server(TARGET) as target:
            target.sql('SET SESSION sql_log_bin = 0')
            target.sql("REVOKE SELECT ON crm.people FROM 'auditor'@'%'")


def test_a_large_table_is_verified_in_chunks_that_name_a_differing_range(lab):
    """A table above chunk_size MB (primary key one integer column) is checksummed in key ranges shared by the
    connections; a row changed on the clone alone fails the verification naming its range, the others match."""
    with lab.server('lab1') as m:
        m.sql('CREATE TABLE shop.big (id INT AUTO_INCREMENT PRIMARY KEY, pad CHAR(200), note VARCHAR(20) NULL)')
        m.sql("INSERT INTO shop.big (pad) VALUES ('a'), ('b'), ('c'), ('d')")
        for _doubling in range(12):  # 16384 rows, about 4 MB
            m.sql('INSERT INTO shop.big (pad, note) SELECT REPEAT(MD5(RAND()), 6), IF(RAND() < 0.5, NULL, \'n\') FROM shop.big')
        m.sql('ANALYZE TABLE shop.big')  # the size estimate the plan reads (replicated)
    caught_up(lab)
    caught_up(lab, 'lab2')
    h = lab.hosts()['lab2']
    verify = dict(other_host=h['replicant_host'], other_port=h['replicant_port'], parallel=3, chunk_size=1)
    try:
        result = lab.module(TARGET, 'mysql_checksum', **verify)
        assert not result.get('failed') and result['match'] and result['chunks'] >= 2, result
        assert result['tables'] >= 4, result  # shop.big counted once
        with lab.server(TARGET) as target:
            target.sql('SET SESSION sql_log_bin = 0')
            target.sql('UPDATE shop.big SET note = NULL WHERE id = 7 AND note IS NOT NULL')
            target.sql("UPDATE shop.big SET note = '' WHERE id = 7 AND note IS NULL")  # NULL and '' told apart
        result = lab.module(TARGET, 'mysql_checksum', **verify)
        assert result.get('failed') and len(result['differences']) == 1, result  # only the range of id 7
        assert result['differences'][0].startswith('shop.big rows id <= '), result
    finally:
        with lab.server('lab1') as m:
            m.sql('DROP TABLE shop.big')
        caught_up(lab)


def test_a_rerun_refuses_the_replicating_clone_and_changes_nothing(lab):
    before = caught_up(lab)
    with lab.server(TARGET) as target:
        gtid = fetch_slave_pos(target)['gtid']
    run = clone(lab)
    assert run.rc != 0 and 'clone_slave refuses target %s' % TARGET in run.output and 'force=true' in run.output
    assert caught_up(lab) == before
    with lab.server(TARGET) as target:
        assert fetch_slave_pos(target)['gtid'] == gtid


def test_a_source_whose_account_for_the_login_differs_is_refused_before_the_copy(lab):
    """The load gives the target the source's accounts: a source whose admin@localhost differs (here its limits) would
    leave the procedure unable to log in to the target, so the clone is refused before anything is copied."""
    before = caught_up(lab)
    with lab.server('lab2') as source:
        source.sql('SET SESSION sql_log_bin = 0')
        source.sql("ALTER USER 'admin'@'localhost' WITH MAX_USER_CONNECTIONS 1000")
    try:
        run = clone(lab, source='lab2', force=True)
    finally:
        with lab.server('lab2') as source:
            source.sql('SET SESSION sql_log_bin = 0')
            source.sql("ALTER USER 'admin'@'localhost' WITH MAX_USER_CONNECTIONS 0")
    assert run.rc != 0 and "login account admin@localhost is defined otherwise (authentication, TLS or limits) on " \
        "the source" in run.output, run.output[-3000:]
    assert 'Nothing was copied' in run.output
    assert caught_up(lab) == before  # still replicating, nothing dropped
    assert_complete_copy(lab)


def test_logical_clone_into_a_stopped_wiped_target_initialises_and_starts_it(lab):
    h = lab.hosts()[TARGET]
    result = lab.module(TARGET, 'mysql_server', state='stopped', defaults_file=h['replicant_defaults_file'])
    assert not result.get('failed'), result
    for name in os.listdir(h['replicant_datadir']):  # the datadir emptied, as after a disk replacement
        path = os.path.join(h['replicant_datadir'], name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    with lab.server('lab1') as m:
        m.sql("CREATE USER 'late'@'%' IDENTIFIED BY 'late-secret'")
    run = clone(lab)  # from the replica lab2 (a healthy one is preferred to the master)
    assert run.rc == 0, run.output[-3000:]
    assert '%s cloned from lab2 (logical)' % TARGET in run.output
    assert run.result('replicant.mysql.clone_slave : Initialise the datadir (the target\'s option file first, so that '
                      'nothing else is read)')['changed']
    caught_up(lab)
    assert_complete_copy(lab)
    with lab.server('lab1') as m:
        m.sql("GRANT SELECT ON crm.people TO 'late'@'%'")
    caught_up(lab)
    assert_complete_copy(lab)
