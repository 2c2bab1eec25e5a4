"""plugins/modules/mysql_cnf.py, run in-process on real files (and a FakeServer for apply)."""
import os

from ansible_collections.replicant.mysql.plugins.modules import mysql_cnf

from module_harness import FakeServer, run_module

EXISTING = """# managed by hand
!includedir /etc/mysql/conf.d/
[client]
port = 3306

[mysqld]
# keep this comment
skip-name-resolve
server_id = 3
"""


def cnf_file(tmp_path, text=None):
    path = tmp_path / 'my.cnf'
    if text is not None:
        path.write_text(text)
    return path


def test_creates_the_file_and_reports_static_and_dynamic_options(tmp_path):
    path = cnf_file(tmp_path)
    result = run_module(mysql_cnf, dict(path=str(path), options=dict(log_bin='binlog', read_only=True)))
    assert result['changed'] is True
    assert sorted(result['changed_options']) == ['log_bin', 'read_only']
    assert result['static_options'] == ['log_bin'] and result['dynamic_options'] == ['read_only']
    assert result['restart_required'] is True
    text = path.read_text()
    assert '[mysqld]' in text and 'log_bin = binlog' in text.replace('log-bin', 'log_bin') and 'ON' in text
    assert oct(os.stat(str(path)).st_mode & 0o777) == '0o644'


def test_a_second_run_changes_nothing(tmp_path):
    path = cnf_file(tmp_path)
    args = dict(path=str(path), options=dict(server_id=11, log_slave_updates=None))
    assert run_module(mysql_cnf, args)['changed'] is True
    again = run_module(mysql_cnf, args)
    assert again['changed'] is False and again['changed_options'] == [] and again['restart_required'] is False


def test_comments_includes_and_other_sections_stay(tmp_path):
    path = cnf_file(tmp_path, EXISTING)
    result = run_module(mysql_cnf, dict(path=str(path), options={'server-id': 12}))
    assert result['changed_options'] == ['server_id']
    text = path.read_text()
    for kept in ('# managed by hand', '!includedir /etc/mysql/conf.d/', '[client]', 'port = 3306',
                 '# keep this comment', 'skip-name-resolve'):
        assert kept in text, kept
    assert 'server_id = 3' not in text and '12' in text


def test_check_mode_reports_and_writes_nothing(tmp_path):
    path = cnf_file(tmp_path, EXISTING)
    result = run_module(mysql_cnf, dict(path=str(path), options=dict(server_id=99)), check_mode=True)
    assert result['changed'] is True and result['changed_options'] == ['server_id']
    assert path.read_text() == EXISTING
    missing = tmp_path / 'new.cnf'
    assert run_module(mysql_cnf, dict(path=str(missing), options=dict(a=1)), check_mode=True)['changed'] is True
    assert not missing.exists()


def test_absent_removes_only_the_named_options(tmp_path):
    path = cnf_file(tmp_path, EXISTING)
    result = run_module(mysql_cnf, dict(path=str(path), options={'skip_name_resolve': None}, state='absent'))
    assert result['changed'] is True
    text = path.read_text()
    assert 'skip-name-resolve' not in text and 'server_id = 3' in text


def test_diff_masks_password_like_values(tmp_path):
    path = cnf_file(tmp_path)
    result = run_module(mysql_cnf, dict(path=str(path), section='client', options=dict(password='hunter2-secret')),
                        diff=True)
    assert 'hunter2-secret' not in result['diff']['after'] and '********' in result['diff']['after']
    assert 'hunter2-secret' in path.read_text()


def test_an_unsafe_name_fails_before_the_file_is_touched(tmp_path):
    path = cnf_file(tmp_path, EXISTING)
    for options in ({'--skip-grant-tables': None}, {'a b': 1}, {'ok': 'two\nlines'}):
        result = run_module(mysql_cnf, dict(path=str(path), options=options))
        assert result['failed'] and 'the file was not changed' in result['msg'], options
    assert path.read_text() == EXISTING


def variables(**running):
    """A FakeServer whose information_schema.SYSTEM_VARIABLES has these variables: name=(read_only, type, value)."""
    rows = [dict(name=name.upper(), read_only=ro, type=vtype, value=value) for name, (ro, vtype, value) in running.items()]
    return FakeServer(rows={'SELECT VARIABLE_NAME': rows})


LAB = dict(read_only=('NO', 'BOOLEAN', 'OFF'), log_bin=('YES', 'BOOLEAN', 'ON'),
           log_bin_basename=('YES', 'VARCHAR', '/var/lib/mysql/mysql-bin'), max_connections=('NO', 'BIGINT UNSIGNED', '151'),
           performance_schema=('YES', 'BOOLEAN', 'OFF'), max_allowed_packet=('NO', 'BIGINT UNSIGNED', '16777216'))


def test_apply_sets_dynamic_options_that_differ_on_the_server(tmp_path):
    path = cnf_file(tmp_path)
    server = variables(**LAB)
    result = run_module(mysql_cnf, dict(path=str(path), options=dict(read_only=True, log_bin='mysql-bin'), apply=True),
                        server=server)
    assert result['statements'] == ['SET GLOBAL read_only = ON'], result
    assert 'SET GLOBAL read_only = ON' in server.ran() and server.closed
    assert result['restart_required'] is False and result['static_options'] == []


def test_apply_asks_the_server_which_options_are_dynamic(tmp_path):
    path = cnf_file(tmp_path)
    result = run_module(mysql_cnf, dict(path=str(path), apply=True,
                                        options=dict(max_connections=500, max_allowed_packet='64M')), server=variables(**LAB))
    assert result['restart_required'] is False and result['static_options'] == []
    assert result['statements'] == ['SET GLOBAL max_allowed_packet = 67108864', 'SET GLOBAL max_connections = 500']
    assert result['dynamic_options'] == ['max_allowed_packet', 'max_connections']


def test_a_static_option_restarts_only_when_its_running_value_differs(tmp_path):
    path = cnf_file(tmp_path)
    same = run_module(mysql_cnf, dict(path=str(path), apply=True, options=dict(performance_schema='OFF', log_bin='mysql-bin')),
                      server=variables(**LAB))
    assert same['changed'] is True and same['restart_required'] is False, same   # the lines moved here: no restart
    other = run_module(mysql_cnf, dict(path=str(path), apply=True, options=dict(log_bin='binlog')), server=variables(**LAB))
    assert other['static_options'] == ['log_bin'] and other['restart_required'] is True
    owed = run_module(mysql_cnf, dict(path=str(path), apply=True, options=dict(performance_schema='ON')),
                      server=variables(**LAB))
    assert owed['static_options'] == ['performance_schema'] and owed['statements'] == []
    again = run_module(mysql_cnf, dict(path=str(path), apply=True, options=dict(performance_schema='ON')),
                       server=variables(**LAB))
    assert again['restart_required'] is True and again['changed'] is True   # still owed until the restart


def test_an_option_the_server_does_not_know_restarts_when_its_line_changes(tmp_path):
    path = cnf_file(tmp_path)
    first = run_module(mysql_cnf, dict(path=str(path), apply=True, options={'plugin-load-add': 'x.so'}), server=variables(**LAB))
    assert first['static_options'] == ['plugin_load_add'] and first['restart_required'] is True
    second = run_module(mysql_cnf, dict(path=str(path), apply=True, options={'plugin-load-add': 'x.so'}), server=variables(**LAB))
    assert second['restart_required'] is False and second['changed'] is False


def test_apply_in_check_mode_sets_nothing(tmp_path):
    path = cnf_file(tmp_path)
    server = variables(**LAB)
    result = run_module(mysql_cnf, dict(path=str(path), options=dict(read_only=True), apply=True), check_mode=True,
                        server=server)
    assert result['statements'] and not any(s.startswith('SET') for s in server.ran())
    assert not path.exists()
