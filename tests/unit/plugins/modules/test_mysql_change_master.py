"""plugins/modules/mysql_change_master.py, run in-process: option names, value synonyms, return keys."""
from unittest import mock

from ansible_collections.replicant.mysql.plugins.modules import mysql_change_master

from module_harness import FakeServer, run_module

DONE = dict(changed=True, statements=["CHANGE MASTER TO MASTER_HOST = '10.0.0.11', MASTER_PASSWORD = '********'"],
            changed_options=['master_host'], diff=dict(before={}, after={}))


def run(args, check_mode=False, result=None):
    change = mock.Mock(return_value=dict(result or DONE))
    with mock.patch.object(mysql_change_master, 'change_master', change):
        out = run_module(mysql_change_master, args, check_mode=check_mode, server=FakeServer())
    return out, change


def test_primary_names_and_replica_pos_mean_master_names_and_slave_pos():
    out, change = run(dict(primary_host='10.0.0.11', primary_port=3307, primary_user='repl',
                           primary_password='pw', primary_use_gtid='replica_pos', connection_name='src2'))
    wanted = change.call_args.args[1]
    assert wanted['master_host'] == '10.0.0.11' and wanted['master_port'] == 3307
    assert wanted['master_user'] == 'repl' and wanted['master_password'] == 'pw'
    assert wanted['master_use_gtid'] == 'slave_pos'
    assert change.call_args.kwargs['channel'] == 'src2'
    assert out['queries'] == out['statements'] == DONE['statements']


def test_disabled_means_no():
    change = run(dict(master_host='db1', master_use_gtid='disabled'))[1]
    assert change.call_args.args[1]['master_use_gtid'] == 'no'


def test_own_names_pass_through_unchanged():
    change = run(dict(master_host='db1', master_use_gtid='current_pos', start=False, master_gtid_executed='0-1-5'))[1]
    assert change.call_args.args[1]['master_use_gtid'] == 'current_pos'
    assert change.call_args.kwargs['start'] is False and change.call_args.kwargs['master_gtid_executed'] == '0-1-5'


def test_check_mode_is_passed_down():
    change = run(dict(master_host='db1'), check_mode=True)[1]
    assert change.call_args.kwargs['check_mode'] is True


def test_the_password_never_appears_in_the_result():
    out = run(dict(master_host='db1', primary_password='very-secret-pw'))[0]
    assert 'very-secret-pw' not in str(out)


def test_an_unknown_gtid_mode_is_refused():
    out, change = run(dict(master_host='db1', master_use_gtid='own_pos'))
    assert out['failed'] and not change.called


def test_a_file_position_excludes_gtid_mode_in_either_vocabulary():
    out, change = run(dict(primary_host='db1', primary_log_file='b.1', primary_log_pos=4, primary_use_gtid='replica_pos'))
    assert out['failed'] and 'mutually exclusive' in out['msg'] and not change.called
