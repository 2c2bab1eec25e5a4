#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_master_pos
short_description: Read a server's binary log position and executed GTID set
description:
  - The C(fetch_master_pos) primitive. Reads where the server's own binary log stands (file and
    position), its executed GTID set (C(gtid_executed) on MySQL, C(gtid_binlog_pos) on MariaDB), its
    server_id and uuid, flavor and version.
  - Only reads; never changes anything.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  replica:
    description:
      - Also read the server's own replication, as M(replicant.mysql.mysql_slave_pos) does, into RV(replica), in the
        same run (one module run where a role needs both).
    type: bool
    default: false
    version_added: 0.4.0
attributes:
  check_mode:
    support: full
    description: Reads the server in check mode too.
seealso:
  - module: replicant.mysql.mysql_slave_pos
  - module: replicant.mysql.mysql_replication
  - module: community.mysql.mysql_replication
    description: C(mode=getprimary) there reads the master's status too (as C(SHOW MASTER STATUS) returns it).
'''

EXAMPLES = r'''
- name: Where is the master's binary log?
  replicant.mysql.mysql_master_pos:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: admin
    login_password: "{{ admin_password }}"
  register: master

- name: Show it
  ansible.builtin.debug:
    msg: "{{ master.file }}:{{ master.pos }} gtid {{ master.gtid_executed }}"

- name: Read a server's log settings and its replication in one run
  replicant.mysql.mysql_master_pos:
    replica: true
  register: server

- name: Show whether it replicates
  ansible.builtin.debug:
    msg: "{{ server.flavor }} {{ server.version }} replicates: {{ server.replica.is_replica }}"
'''

RETURN = r'''
binlog_enabled:
  description: Whether the server writes a binary log. When false, RV(file) and RV(pos) are null.
  returned: always
  type: bool
  sample: true
file:
  description: Current binary log file.
  returned: always
  type: str
  sample: binlog.000003
pos:
  description: Position in RV(file).
  returned: always
  type: int
  sample: 1234
position:
  description: RV(file) and RV(pos) as C(file:pos).
  returned: always
  type: str
  sample: binlog.000003:1234
gtid_executed:
  description: The executed GTID set (MySQL) or binlog GTID position (MariaDB), without white space.
  returned: always
  type: str
  sample: 0-1-42
server_id:
  description: The server's server_id.
  returned: always
  type: int
  sample: 1
server_uuid:
  description: The server's uuid (MySQL); null on MariaDB, which has none.
  returned: always
  type: str
flavor:
  description: C(mysql) or C(mariadb).
  returned: always
  type: str
  sample: mariadb
gtid_current_pos:
  description:
    - Every GTID the server has executed, its own and replicated (MariaDB C(gtid_current_pos); MySQL C(gtid_executed)),
      without white space. What a replica's errant-transaction check compares (O(replicant.mysql.mysql_change_master#module:replica_gtid)).
  returned: always
  type: str
  sample: 0-1-42
  version_added: 0.2.0
binlog_basename:
  description: Base name of the binary log files, relative to the datadir when below it; null when the server writes none.
  returned: always
  type: str
  sample: mysql-bin
  version_added: 0.2.0
relay_log_basename:
  description: Base name of the relay log files, relative to the datadir when below it.
  returned: always
  type: str
  sample: relay-bin
  version_added: 0.2.0
gtid_domain_id:
  description: The server's GTID domain (MariaDB); null on MySQL.
  returned: always
  type: int
  sample: 0
  version_added: 0.2.0
version:
  description: Server version.
  returned: always
  type: str
  sample: 10.11.19
replica:
  description:
    - The server's replication (default channel), with the keys M(replicant.mysql.mysql_slave_pos) returns
      (C(is_replica), C(file), C(pos), C(position), C(gtid), C(status)).
  returned: when O(replica=true)
  type: dict
  sample: {is_replica: true, status: {master_host: 10.0.0.11, master_port: 3306, io_running_ok: true}}
  version_added: 0.4.0
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_master_pos, fetch_slave_pos, log_settings


def read(server, replica):
    result = dict(fetch_master_pos(server), **log_settings(server))
    if replica:
        result['replica'] = fetch_slave_pos(server)
    return dict(result, changed=False)


def main():
    module = AnsibleModule(argument_spec=argument_spec(replica=dict(type='bool', default=False)), supports_check_mode=True)
    run_module(module, lambda server: read(server, module.params['replica']))


if __name__ == '__main__':
    main()
