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


def test_apply_sets_dynamic_options_that_differ_on_the_server(tmp_path):
    path = cnf_file(tmp_path)
    server = FakeServer(values={'read_only': 'OFF', 'log_bin': 'ON'})
    result = run_module(mysql_cnf, dict(path=str(path), options=dict(read_only=True, log_bin='binlog'), apply=True),
                        server=server)
    assert [s for s in result['statements'] if 'read_only' in s], result
    assert any(s.startswith('SET GLOBAL') and 'read_only' in s for s in server.ran())
    assert server.closed


def test_apply_in_check_mode_sets_nothing(tmp_path):
    path = cnf_file(tmp_path)
    server = FakeServer(values={'read_only': 'OFF'})
    result = run_module(mysql_cnf, dict(path=str(path), options=dict(read_only=True), apply=True), check_mode=True,
                        server=server)
    assert result['statements'] and not any(s.startswith('SET') for s in server.ran())
    assert not path.exists()
