"""What change_master decides to change, from the replica's status (pure logic)."""
from unittest import mock

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.replication import change_master_plan


def test_new_master_gets_its_coordinates_even_when_they_look_unchanged():
    status = dict(master_host='10.0.0.1', master_port=3306, master_user='repl', relay_master_log_file='binlog.000002',
                  exec_master_log_pos=900, last_io_errno=0)
    wanted = dict(master_host='10.0.0.2', master_port=3306, master_log_file='binlog.000002', master_log_pos=900)
    assert change_master_plan(status, wanted) == ['master_host', 'master_log_file', 'master_log_pos']
    assert change_master_plan(status, dict(wanted, master_host='10.0.0.1')) == []


@pytest.mark.parametrize('io_running, stops', [('Connecting', True), ('Yes', True), ('No', False)])
def test_an_io_thread_still_connecting_is_stopped_and_a_stopped_one_is_left_alone(monkeypatch, io_running, stops):
    monkeypatch.setattr(replication, 'replica_status', lambda server, channel='': dict(io_running=io_running,
                                                                                       sql_running='Yes'))
    monkeypatch.setattr(replication.dialect, 'sql', lambda flavor, key, **kw: 'STOP SLAVE IO_THREAD')
    server = mock.Mock(flavor=None)
    assert replication.stop_replication(server, thread='io', check_mode=True) == (
        ['STOP SLAVE IO_THREAD'] if stops else [])


@pytest.mark.parametrize('status, behind', [
    (dict(last_io_errno=1236, io_running='No', last_io_error="Got fatal error 1236 from master when reading data from "
          "binary log: 'Error: connecting slave requested to start from GTID 5-1-21563, which is not in the master's "
          "binlog'"), True),
    (dict(last_io_errno=1236, io_running='No', last_io_error='Could not find first log file name in binary log index'),
     False),
    (dict(last_io_errno=0, io_running='Yes', last_io_error=''), False),
    (None, False),
])
def test_a_master_behind_its_replica_is_told_from_other_io_errors(status, behind):
    assert replication.master_behind(status) is behind
