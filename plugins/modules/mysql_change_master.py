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
    aliases: [primary_host]
  master_port:
    description: Port of the master.
    type: int
    aliases: [primary_port]
  master_user:
    description: Replication account on the master.
    type: str
    aliases: [primary_user]
  master_password:
    description: Password of O(master_user). Never logged; masked in RV(statements).
    type: str
    aliases: [primary_password]
  master_log_file:
    description: Binlog file to start from (positional replication); needs O(master_log_pos).
    type: str
    aliases: [primary_log_file]
  master_log_pos:
    description: Position in O(master_log_file).
    type: int
    aliases: [primary_log_pos]
  master_use_gtid:
    description:
      - MariaDB GTID mode. C(slave_pos) for a replica, C(current_pos) for a former master.
      - C(replica_pos) and C(disabled) are community.mysql's names for C(slave_pos) and C(no), accepted
        so that the same values serve both collections.
    type: str
    choices: ['no', current_pos, slave_pos, replica_pos, disabled]
    aliases: [primary_use_gtid]
  master_auto_position:
    description: MySQL GTID auto-positioning (C(MASTER_AUTO_POSITION) / C(SOURCE_AUTO_POSITION)).
    type: bool
    aliases: [primary_auto_position]
  master_ssl:
    description: Use TLS for the replication connection.
    type: bool
    aliases: [primary_ssl]
  master_ssl_ca:
    description: CA file for the replication connection.
    type: str
    aliases: [primary_ssl_ca]
  master_ssl_cert:
    description: Client certificate for the replication connection.
    type: str
    aliases: [primary_ssl_cert]
  master_ssl_key:
    description: Client key for the replication connection.
    type: str
    aliases: [primary_ssl_key]
  master_ssl_verify_server_cert:
    description: Verify the master's certificate.
    type: bool
    aliases: [primary_ssl_verify_server_cert]
  master_heartbeat_period:
    description: Seconds between heartbeats from the master.
    type: float
    aliases: [primary_heartbeat_period]
  master_connect_retry:
    description: Seconds between reconnection attempts.
    type: int
    aliases: [primary_connect_retry]
  master_delay:
    description: Seconds the replica stays behind the master on purpose (delayed replica).
    type: int
    aliases: [primary_delay]
  channel:
    description:
      - Replication channel (MySQL) or connection name (MariaDB multi-source). Empty is the default one.
      - C(connection_name) is community.mysql's name for it on MariaDB.
    type: str
    default: ''
    aliases: [connection_name]
  master_gtid_executed:
    description:
      - The master's executed GTID set (RV(replicant.mysql.mysql_master_pos#module:gtid_executed)). When given and the
        replica is to be (re)pointed, it is refused, with nothing changed, if it has transactions the master lacks
        (errant), a diverged history, or data but no replication history (it then needs clone_slave).
    type: str
  replica_gtid:
    description:
      - The replica's GTID position (RV(replicant.mysql.mysql_master_pos#module:gtid_current_pos)) read B(before)
        O(master_gtid_executed) was read. The check for errant transactions then compares these two, which is exact
        while both servers take writes (a transaction the replica got from the master after the master was read
        cannot look errant). By default the replica's position is read when the module runs.
    type: str
    version_added: 0.2.0
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
  wait_gtid:
    description:
      - With O(start), then wait in the same run until both replication threads run and the replica has executed
        this GTID set (MySQL) or position (MariaDB), as M(replicant.mysql.mysql_replication) C(state=caught_up)
        does; an empty string waits for the running threads only. Fails early when the SQL thread stops with an
        error, and at O(wait_timeout) saying how far behind the replica is.
      - Not in check mode (nothing was started to wait for).
    type: str
    version_added: 0.3.0
  wait_timeout:
    description: Seconds O(wait_gtid) waits before failing.
    type: int
    default: 60
    version_added: 0.3.0
attributes:
  check_mode:
    support: full
    description: Reports the statements it would run; changes nothing.
notes:
  - Every C(master_*) option also answers to the C(primary_*) name community.mysql uses
    (O(master_host) is O(primary_host), ...).
seealso:
  - module: replicant.mysql.mysql_master_pos
  - module: replicant.mysql.mysql_replication
  - module: replicant.mysql.mysql_relocate
  - module: community.mysql.mysql_replication
    description: C(mode=changeprimary) there changes the same settings, without the comparison with the replica's
      current ones and the checks of O(master_gtid_executed).
  - ref: ansible_collections.replicant.mysql.docsite.community_mysql
    description: Which module of replicant.mysql or community.mysql to use for what.
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

- name: Point a fresh copy at its master and wait until it has what the master had
  replicant.mysql.mysql_change_master:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: admin
    login_password: "{{ admin_password }}"
    master_host: db1.example.com
    master_user: repl
    master_password: "{{ repl_password }}"
    master_use_gtid: slave_pos
    start_gtid: 0-11-1042
    wait_gtid: "{{ master.gtid_executed }}"
    wait_timeout: 300
'''

RETURN = r'''
statements:
  description: Statements run (or, in check mode, that would run), the password masked.
  returned: always
  type: list
  elements: str
  sample: ["STOP SLAVE", "CHANGE MASTER TO MASTER_HOST = '10.0.0.11', MASTER_PASSWORD = '********'", "START SLAVE"]
queries:
  description: The same as RV(statements), under the name community.mysql's replication module uses.
  returned: always
  type: list
  elements: str
changed_options:
  description: The options that differed from the replica's settings.
  returned: always
  type: list
  elements: str
  sample: [master_host]
caught_up:
  description: Where the replica was once O(wait_gtid) was reached (its executed GTIDs and its position).
  returned: when O(wait_gtid) is given, O(start) is true and not in check mode
  type: dict
  sample: {gtid: 0-11-1080, position: "binlog.000003:4411"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import CHANGE_MASTER_OPTIONS
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, check_ranges, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import change_master, wait_for_pos
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

OPTION_TYPES = dict(master_port='int', master_log_pos='int', master_auto_position='bool', master_ssl='bool',
                    master_ssl_verify_server_cert='bool', master_heartbeat_period='float',
                    master_connect_retry='int', master_delay='int', master_ssl_ca='str', master_ssl_cert='str',
                    master_ssl_key='str')


# community.mysql's names for MariaDB's MASTER_USE_GTID values.
USE_GTID_SYNONYMS = {'replica_pos': 'slave_pos', 'disabled': 'no'}


def wanted_settings(params):
    """The CHANGE MASTER settings asked for, community.mysql's value names translated to the server's."""
    wanted = {name: params.get(name) for name in CHANGE_MASTER_OPTIONS}
    if wanted.get('master_use_gtid') in USE_GTID_SYNONYMS:
        wanted['master_use_gtid'] = USE_GTID_SYNONYMS[wanted['master_use_gtid']]
    return wanted


def main():
    options = {name: dict(type=OPTION_TYPES.get(name, 'str')) for name in CHANGE_MASTER_OPTIONS}
    options['master_password']['no_log'] = True
    options['master_use_gtid']['choices'] = ['no', 'current_pos', 'slave_pos'] + list(USE_GTID_SYNONYMS)
    options['master_ssl_key']['no_log'] = False
    for name, spec in options.items():
        if name.startswith('master_'):
            spec['aliases'] = ['primary_' + name[len('master_'):]]
    module = AnsibleModule(
        argument_spec=argument_spec(channel=dict(type='str', default='', aliases=['connection_name']),
                                    start=dict(type='bool', default=True),
                                    master_gtid_executed=dict(type='str'), start_gtid=dict(type='str'),
                                    replica_gtid=dict(type='str'), wait_gtid=dict(type='str'),
                                    wait_timeout=dict(type='int', default=60), **options),
        required_together=[('master_log_file', 'master_log_pos')],
        mutually_exclusive=[('master_log_file', 'master_use_gtid'), ('master_log_file', 'master_auto_position')],
        supports_check_mode=True,
    )
    check_ranges(module, ['wait_timeout'])
    wanted = wanted_settings(module.params)

    def act(server):
        result = change_master(server, wanted, channel=module.params['channel'], start=module.params['start'],
                               check_mode=module.check_mode, master_gtid_executed=module.params['master_gtid_executed'],
                               start_gtid=module.params['start_gtid'], replica_gtid=module.params['replica_gtid'])
        if 'statements' in result:
            result['queries'] = result['statements']
        p = module.params
        if p['wait_gtid'] is not None and p['start'] and not module.check_mode:
            try:
                now = wait_for_pos(server, gtid=p['wait_gtid'], timeout=p['wait_timeout'], channel=p['channel'])
            except (ServerError, ValueError) as exc:  # what was changed is reported with the failure
                module.fail_json(msg='%s (after the change of master, which %s)' % (
                    exc, 'was made' if result.get('changed') else 'changed nothing'), **result)
            result['caught_up'] = dict(gtid=now['gtid'], position=now['position'])
        return result
    run_module(module, act)


if __name__ == '__main__':
    main()
