#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_slave_pos
short_description: Read a replica's position in its master's binary log and its replication state
description:
  - The C(fetch_slave_pos) primitive. Reads how far the replica has executed its master's binary log
    (file and position in the master's binlog), its replicated GTID position, and its replication status
    normalised to one set of keys for MySQL and MariaDB (master, thread states, lag, last errors, GTID mode).
  - On a server that is not a replica the task succeeds with RV(is_replica) false.
  - Only reads; never changes anything.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  channel:
    description: Replication channel (MySQL) or connection name (MariaDB multi-source). Empty is the default one.
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    description: Reads the server in check mode too.
seealso:
  - module: replicant.mysql.mysql_master_pos
  - module: replicant.mysql.mysql_change_master
  - module: community.mysql.mysql_replication
    description: C(mode=getreplica) there returns the replica's status (as C(SHOW REPLICA STATUS) returns it).
'''

EXAMPLES = r'''
- name: How far is this replica?
  replicant.mysql.mysql_slave_pos:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: admin
    login_password: "{{ admin_password }}"
  register: replica

- name: Stop if replication is broken
  ansible.builtin.assert:
    that: not replica.is_replica or (replica.status.io_running_ok and replica.status.sql_running_ok)
    fail_msg: "{{ inventory_hostname }}: {{ replica.status.last_sql_error or replica.status.last_io_error }}"
'''

RETURN = r'''
is_replica:
  description: Whether the server has replication configured (for O(channel)).
  returned: always
  type: bool
  sample: true
file:
  description: The master's binlog file the replica has executed up to (C(Relay_Master_Log_File)).
  returned: always
  type: str
  sample: binlog.000003
pos:
  description: Position in RV(file) executed so far (C(Exec_Master_Log_Pos)).
  returned: always
  type: int
  sample: 1234
position:
  description: RV(file) and RV(pos) as C(file:pos).
  returned: always
  type: str
gtid:
  description: The replicated GTID position (C(gtid_slave_pos) on MariaDB, C(Executed_Gtid_Set) on MySQL).
  returned: always
  type: str
  sample: 0-1-42
status:
  description:
    - Normalised replica status; null when RV(is_replica) is false. Keys include master_host,
      master_port, master_user, io_running, sql_running, io_running_ok, sql_running_ok, seconds_behind,
      master_log_file, read_master_log_pos, relay_master_log_file, exec_master_log_pos, last_io_errno,
      last_io_error, last_sql_errno, last_sql_error, master_server_id, master_uuid, auto_position,
      using_gtid, gtid_io_pos, executed_gtid_set, sql_delay, io_state, channel, connect_retry, ssl, ssl_ca,
      ssl_cert, ssl_key, ssl_verify_server_cert.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_slave_pos


def main():
    module = AnsibleModule(argument_spec=argument_spec(channel=dict(type='str', default='')),
                           supports_check_mode=True)
    run_module(module, lambda server: dict(changed=False, **fetch_slave_pos(server, module.params['channel'])))


if __name__ == '__main__':
    main()
