"""What change_master decides to change, from the replica's status (pure logic)."""
from ansible_collections.replicant.mysql.plugins.module_utils.replication import change_master_plan


def test_new_master_gets_its_coordinates_even_when_they_look_unchanged():
    status = dict(master_host='10.0.0.1', master_port=3306, master_user='repl', relay_master_log_file='binlog.000002',
                  exec_master_log_pos=900, last_io_errno=0)
    wanted = dict(master_host='10.0.0.2', master_port=3306, master_log_file='binlog.000002', master_log_pos=900)
    assert change_master_plan(status, wanted) == ['master_host', 'master_log_file', 'master_log_pos']
    assert change_master_plan(status, dict(wanted, master_host='10.0.0.1')) == []
