#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_change_master
short_description: Point a replica at a master (CHANGE MASTER TO / CHANGE REPLICATION SOURCE TO)
description:
  - The C(change_master) primitive. Compares the wanted settings with the replica's current ones and
    changes only what differs; the replication threads are stopped and started again only when needed.
  - Uses the statement the server understands (C(CHANGE MASTER TO) on MariaDB and MySQL before 8.0.23,
    C(CHANGE REPLICATION SOURCE TO) with C(SOURCE_*) option names after).
  - The password cannot be read back from a server, so a changed O(master_password) alone is applied
    only when the replica's IO thread reports that the master refused the current one; it is always
    sent along with any other change.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  master_host:
    description: Address of the master as the replica reaches it.
    type: str
  master_port:
    description: Port of the master.
    type: int
  master_user:
    description: Replication account on the master.
    type: str
  master_password:
    description: Password of O(master_user). Never logged; masked in RV(statements).
    type: str
  master_log_file:
    description: Binlog file to start from (positional replication); needs O(master_log_pos).
    type: str
  master_log_pos:
    description: Position in O(master_log_file).
    type: int
  master_use_gtid:
    description: MariaDB GTID mode. C(slave_pos) for a replica, C(current_pos) for a former master.
    type: str
    choices: ['no', current_pos, slave_pos]
  master_auto_position:
    description: MySQL GTID auto-positioning (C(MASTER_AUTO_POSITION) / C(SOURCE_AUTO_POSITION)).
    type: bool
  master_ssl:
    description: Use TLS for the replication connection.
    type: bool
  master_ssl_ca:
    description: CA file for the replication connection.
    type: str
  master_ssl_cert:
    description: Client certificate for the replication connection.
    type: str
  master_ssl_key:
    description: Client key for the replication connection.
    type: str
  master_ssl_verify_server_cert:
    description: Verify the master's certificate.
    type: bool
  master_heartbeat_period:
    description: Seconds between heartbeats from the master.
    type: float
  master_connect_retry:
    description: Seconds between reconnection attempts.
    type: int
  master_delay:
    description: Seconds the replica stays behind the master on purpose (delayed replica).
    type: int
  channel:
    description: Replication channel (MySQL) or connection name (MariaDB multi-source). Empty is the default one.
    type: str
    default: ''
  master_gtid_executed:
    description:
      - The master's executed GTID set (RV(replicant.mysql.mysql_master_pos#module:gtid_executed)). When given and the
        replica is to be (re)pointed, it is refused, with nothing changed, if it has transactions the master lacks
        (errant), a diverged history, or data but no replication history (it then needs clone_slave).
    type: str
  start_gtid:
    description:
      - For a fresh replica (a clone), the GTID position to start replicating from (the one the copy was taken
        at). Set as C(gtid_slave_pos) on MariaDB, C(gtid_purged) on MySQL, when the master is (re)set and the
        server's position differs.
    type: str
  start:
    description: Leave replication started (the default) or stopped after the change.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reports the statements it would run; changes nothing.
'''

EXAMPLES = r'''
- name: Replicate from db1 by GTID (MariaDB)
  replicant.mysql.mysql_change_master:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: admin
    login_password: "{{ admin_password }}"
    master_host: db1.example.com
    master_port: 3306
    master_user: repl
    master_password: "{{ repl_password }}"
    master_use_gtid: slave_pos

- name: Replicate from a position (MySQL 8.4), left stopped
  replicant.mysql.mysql_change_master:
    login_host: 10.0.0.12
    login_user: admin
    login_password: "{{ admin_password }}"
    master_host: 10.0.0.11
    master_user: repl
    master_password: "{{ repl_password }}"
    master_log_file: binlog.000042
    master_log_pos: 4
    start: false
'''

RETURN = r'''
statements:
  description: Statements run (or, in check mode, that would run), the password masked.
  returned: always
  type: list
  elements: str
  sample: ["STOP SLAVE", "CHANGE MASTER TO MASTER_HOST = '10.0.0.11', MASTER_PASSWORD = '********'", "START SLAVE"]
changed_options:
  description: The options that differed from the replica's settings.
  returned: always
  type: list
  elements: str
  sample: [master_host]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import CHANGE_MASTER_OPTIONS
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import change_master

OPTION_TYPES = dict(master_port='int', master_log_pos='int', master_auto_position='bool', master_ssl='bool',
                    master_ssl_verify_server_cert='bool', master_heartbeat_period='float',
                    master_connect_retry='int', master_delay='int', master_ssl_ca='str', master_ssl_cert='str',
                    master_ssl_key='str')


def main():
    options = {name: dict(type=OPTION_TYPES.get(name, 'str')) for name in CHANGE_MASTER_OPTIONS}
    options['master_password']['no_log'] = True
    options['master_use_gtid']['choices'] = ['no', 'current_pos', 'slave_pos']
    options['master_ssl_key']['no_log'] = False
    module = AnsibleModule(
        argument_spec=argument_spec(channel=dict(type='str', default=''), start=dict(type='bool', default=True),
                                    master_gtid_executed=dict(type='str'), start_gtid=dict(type='str'), **options),
        required_together=[('master_log_file', 'master_log_pos')],
        mutually_exclusive=[('master_log_file', 'master_use_gtid'), ('master_log_file', 'master_auto_position')],
        supports_check_mode=True,
    )
    wanted = {name: module.params[name] for name in CHANGE_MASTER_OPTIONS}
    run_module(module, lambda server: change_master(server, wanted, channel=module.params['channel'],
                                                    start=module.params['start'], check_mode=module.check_mode,
                                                    master_gtid_executed=module.params['master_gtid_executed'],
                                                    start_gtid=module.params['start_gtid']))


if __name__ == '__main__':
    main()
