from ansible_collections.replicant.mysql.plugins.module_utils.cnf import (
    edit, is_dynamic, read_options, same_basename, same_value, settable, variable_name)

BASE = """# my server
!includedir /etc/mysql/conf.d/

[client]
port = 3306

[mysqld]
# keep me
skip-name-resolve
server-id = 1
log_bin=binlog

[mysqldump]
quick
"""


def test_set_existing_option_in_place_keeps_everything_else():
    new, changed = edit(BASE, 'mysqld', {'server_id': 7})
    assert changed == ['server_id']
    assert 'server-id = 7' in new and 'server-id = 1' not in new
    for kept in ('# my server', '!includedir /etc/mysql/conf.d/', '# keep me', 'skip-name-resolve', 'quick', 'port = 3306'):
        assert kept in new
    assert new.index('server-id = 7') < new.index('[mysqldump]')


def test_idempotent_and_dash_underscore_equivalent():
    new, changed = edit(BASE, 'mysqld', {'server-id': '1', 'log-bin': 'binlog', 'skip_name_resolve': None})
    assert changed == [] and new == BASE


def test_new_option_goes_to_the_end_of_its_section():
    new, changed = edit(BASE, 'mysqld', {'binlog_format': 'ROW', 'read_only': True})
    assert changed == ['binlog_format', 'read_only']
    body = new.split('[mysqld]')[1].split('[mysqldump]')[0]
    assert body.strip().splitlines()[-2:] == ['binlog_format = ROW', 'read_only = ON']


def test_missing_section_is_created_and_empty_file_works():
    new, changed = edit('', 'mysqld', {'server_id': 3})
    assert new == '[mysqld]\nserver_id = 3\n' and changed == ['server_id']
    new, _unused = edit(BASE, 'mariadb', {'gtid_strict_mode': 'ON'})
    assert new.endswith('\n[mariadb]\ngtid_strict_mode = ON\n')


def test_absent_removes_only_the_option_and_duplicates_collapse():
    new, changed = edit(BASE, 'mysqld', {'log-bin': None}, state='absent')
    assert changed == ['log_bin'] and 'log_bin' not in new and 'server-id = 1' in new
    twice = BASE.replace('server-id = 1', 'server-id = 1\nserver_id = 2')
    new, changed = edit(twice, 'mysqld', {'server_id': 1})
    assert changed == ['server_id'] and 'server_id = 2' not in new and new.count('server-id = 1') == 1


def test_bare_option_set_and_read():
    new, changed = edit(BASE, 'mysqld', {'log_slave_updates': None})
    assert changed == ['log_slave_updates'] and 'log_slave_updates\n' in new
    assert read_options(new, 'mysqld')['log_slave_updates'] is None
    assert read_options(new, 'mysqld')['server_id'] == '1'


def test_dynamic_table():
    assert is_dynamic('server-id') and is_dynamic('read_only')
    assert not is_dynamic('log_bin') and not is_dynamic('some_unknown_option')


def test_running_values_compare_as_the_server_reads_the_file():
    assert same_value('67108864', '64M', 'BIGINT UNSIGNED') and not same_value('67108864', '32M', 'BIGINT UNSIGNED')
    assert same_value('ON', None, 'BOOLEAN') and same_value('1', 'ON') and same_value('OFF', False, 'BOOLEAN')
    assert same_value('10.000000', '10', 'DOUBLE') and same_value('ROW', 'row', 'ENUM')
    assert same_value('STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', 'no_engine_substitution,strict_trans_tables', 'SET')
    assert not same_value('/a/B', '/a/b', 'VARCHAR') and same_value('ROW', 'row')


def test_log_base_names_compare_below_the_datadir():
    running = '/var/lib/mysql/mysql-bin'
    assert same_basename(running, 'mysql-bin') and same_basename(running, 'mysql-bin.log')
    assert same_basename(running, None) and same_basename(running, 'ON') and same_basename(running, running)
    assert not same_basename(running, 'binlog') and not same_basename(None, 'mysql-bin')
    assert not same_basename(running, '/var/log/mysql/mysql-bin')


def test_values_as_set_global_takes_them():
    assert settable('64M', 'BIGINT UNSIGNED') == 67108864 and settable(None) == 'ON' and settable('x', 'VARCHAR') == 'x'
    assert variable_name('loose-performance-schema') == 'performance_schema'
