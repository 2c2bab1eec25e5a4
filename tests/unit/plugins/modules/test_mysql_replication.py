"""plugins/modules/mysql_replication.py, run in-process: its own logic over the replication library."""
from unittest import mock

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.modules import mysql_replication

from module_harness import FakeServer, run_module


def run(args, check_mode=False, **patched):
    # every library call the module could make is a Mock, so that nothing reaches the FakeServer unseen
    calls = dict(start_replication=mock.Mock(), stop_replication=mock.Mock(), reset_replication=mock.Mock(),
                 reset_binlog=mock.Mock(), wait_for_pos=mock.Mock(), fetch_slave_pos=mock.Mock())
    calls.update(patched)
    with mock.patch.multiple(replication, **calls):
        return run_module(mysql_replication, args, check_mode=check_mode, server=FakeServer())


def test_started_returns_statements_and_queries():
    start = mock.Mock(return_value=['START SLAVE'])
    result = run(dict(state='started'), start_replication=start)
    assert result['changed'] is True
    assert result['statements'] == result['queries'] == ['START SLAVE']
    assert start.call_args.args[1:] == (None, '') and start.call_args.kwargs == {'check_mode': False}


def test_nothing_to_do_is_no_change():
    result = run(dict(state='stopped', thread='sql'), stop_replication=mock.Mock(return_value=[]))
    assert result['changed'] is False and result['queries'] == []


def test_connection_name_is_channel():
    stop = mock.Mock(return_value=['STOP SLAVE \'src2\''])
    run(dict(state='stopped', connection_name='src2'), stop_replication=stop)
    assert stop.call_args.args[2] == 'src2'


def test_check_mode_is_passed_down():
    reset = mock.Mock(return_value=['STOP SLAVE', 'RESET SLAVE ALL'])
    result = run(dict(state='reset_all'), check_mode=True, reset_replication=reset)
    assert reset.call_args.kwargs == {'all': True, 'channel': '', 'check_mode': True}
    assert result['changed'] is True


def test_caught_up_waits_for_a_position_given_in_community_words():
    wait = mock.Mock(return_value=dict(gtid='0-1-9', position='binlog.000002:400'))
    result = run(dict(state='caught_up', primary_log_file='binlog.000002', primary_log_pos=400, timeout=5),
                 wait_for_pos=wait)
    assert wait.call_args.kwargs['position'] == Position('binlog.000002', 400)
    assert wait.call_args.kwargs['gtid'] is None and wait.call_args.kwargs['timeout'] == 5
    assert result['changed'] is False and result['gtid'] == '0-1-9' and result['queries'] == []


def test_caught_up_in_check_mode_only_reads_the_position():
    wait = mock.Mock()
    fetch = mock.Mock(return_value=dict(gtid='0-1-5', position='binlog.000001:100'))
    result = run(dict(state='caught_up', gtid='0-1-9'), check_mode=True, wait_for_pos=wait, fetch_slave_pos=fetch)
    assert not wait.called and result['gtid'] == '0-1-5' and result['changed'] is False


def test_caught_up_needs_a_target():
    result = run(dict(state='caught_up'))
    assert result['failed'] and 'gtid' in result['msg']


def test_gtid_and_file_position_exclude_each_other():
    result = run(dict(state='caught_up', gtid='0-1-1', master_log_file='b.1', master_log_pos=4))
    assert result['failed'] and 'mutually exclusive' in result['msg']


def test_read_only_and_writable_set_read_only_at_run_time_only_when_it_differs():
    set_ro = mock.Mock(return_value=['SET GLOBAL read_only = OFF'])
    with mock.patch.object(replication, 'set_read_only', set_ro):
        result = run(dict(state='writable'), check_mode=True)
    assert result['changed'] is True and set_ro.call_args.args[1] is False
    assert set_ro.call_args.kwargs == {'check_mode': True}
    with mock.patch.object(replication, 'set_read_only', mock.Mock(return_value=[])) as same:
        result = run(dict(state='read_only'))
    assert result['changed'] is False and same.call_args.args[1] is True
