#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_replication
short_description: Start, stop or reset replication on a replica, or wait until it has caught up
description:
  - C(started) / C(stopped) start or stop the replication threads (both, or only O(thread)); nothing is
    done when they already are in that state.
  - C(reset) forgets the relay logs and position (C(RESET SLAVE)/C(RESET REPLICA)); C(reset_all) also
    forgets the master (C(... ALL)), so the server is no replica any more. Both stop the threads first.
  - C(binlog_reset) forgets the server's own binary logs and GTID history (C(RESET MASTER); C(RESET BINARY LOGS
    AND GTIDS) on MySQL 8.2 and later), for a server about to be loaded from a copy. It always runs (changed).
  - C(read_only) / C(writable) set the server's C(read_only) (C(super_read_only) on MySQL) at run time only, when it
    differs; the option file is M(replicant.mysql.mysql_cnf)'s (every server's file says C(read_only=ON), the
    procedures make the master writable at run time).
  - C(caught_up) waits until the replica has executed up to O(gtid) or O(master_log_file)/O(master_log_pos)
    with both threads running, using the server's own wait function (C(MASTER_GTID_WAIT),
    C(WAIT_FOR_EXECUTED_GTID_SET), C(MASTER_POS_WAIT)/C(SOURCE_POS_WAIT)). It fails early when the
    SQL thread stops with an error and, after O(timeout), says how far behind the replica is.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  state:
    description: What to do.
    type: str
    required: true
    choices: [started, stopped, reset, reset_all, caught_up, binlog_reset, read_only, writable]
  thread:
    description: Only this thread, with C(started) and C(stopped).
    type: str
    choices: [io, sql]
  channel:
    description:
      - Replication channel (MySQL) or connection name (MariaDB multi-source).
      - C(connection_name) is community.mysql's name for it on MariaDB.
    type: str
    default: ''
    aliases: [connection_name]
  gtid:
    description: GTID set (MySQL) or GTID position (MariaDB) to wait for, with C(caught_up).
    type: str
  master_log_file:
    description: Master binlog file to wait for, with C(caught_up) (with O(master_log_pos)).
    type: str
    aliases: [primary_log_file]
  master_log_pos:
    description: Position in O(master_log_file) to wait for.
    type: int
    aliases: [primary_log_pos]
  timeout:
    description: Seconds C(caught_up) waits before failing.
    type: int
    default: 60
  binlog_reset:
    description:
      - With C(reset_all) only, also forget the server's own binary logs and GTID history in the same run, as
        C(binlog_reset) does (a server that starts over from a copy).
    type: bool
    default: false
    version_added: 0.4.0
attributes:
  check_mode:
    support: full
    description: Reports the statements it would run; changes nothing. C(caught_up) only reads the position.
notes:
  - "The states and community.mysql's M(community.mysql.mysql_replication) modes: C(started) is C(mode=startreplica),
    C(stopped) C(stopreplica), C(reset) C(resetreplica), C(reset_all) C(resetreplicaall), C(binlog_reset)
    C(resetprimary). Reading positions is M(replicant.mysql.mysql_master_pos) and M(replicant.mysql.mysql_slave_pos)
    (C(getprimary), C(getreplica)); pointing a replica at a master is M(replicant.mysql.mysql_change_master)
    (C(changeprimary))."
seealso:
  - module: replicant.mysql.mysql_change_master
  - module: replicant.mysql.mysql_master_pos
  - module: replicant.mysql.mysql_slave_pos
  - module: community.mysql.mysql_replication
    description: One module for all of it in community.mysql, with O(state) there called C(mode).
  - ref: ansible_collections.replicant.mysql.docsite.community_mysql
    description: Which module of replicant.mysql or community.mysql to use for what.
'''

EXAMPLES = r'''
- name: Read the master's position
  replicant.mysql.mysql_master_pos:
    login_host: db1
  register: master

- name: Wait until the replica has executed everything the master had
  replicant.mysql.mysql_replication:
    login_host: db2
    state: caught_up
    gtid: "{{ master.gtid_executed }}"
    timeout: 300

- name: Make the master accept writes (at run time; its option file keeps read_only=ON)
  replicant.mysql.mysql_replication:
    login_host: db1
    state: writable

- name: Stop only the SQL thread
  replicant.mysql.mysql_replication:
    login_host: db2
    state: stopped
    thread: sql

- name: A server about to be loaded from a dump forgets its master and its own binary log history
  replicant.mysql.mysql_replication:
    login_host: db3
    state: reset_all
    binlog_reset: true
'''

RETURN = r'''
statements:
  description: Statements run (or that would run in check mode).
  returned: always
  type: list
  elements: str
  sample: [START SLAVE]
queries:
  description: The same as RV(statements), under the name community.mysql's M(community.mysql.mysql_replication) uses.
  returned: always
  type: list
  elements: str
gtid:
  description: The replica's GTID position when it caught up.
  returned: when state is caught_up
  type: str
position:
  description: The replica's executed position in its master's binlog when it caught up.
  returned: when state is caught_up
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils import replication


def act(module, server):
    p = module.params
    check, channel = module.check_mode, p['channel']
    if p['state'] == 'caught_up':
        position = Position(p['master_log_file'], p['master_log_pos']) if p['master_log_file'] else None
        if check:
            now = replication.fetch_slave_pos(server, channel)
            return dict(changed=False, statements=[], queries=[], gtid=now['gtid'], position=now['position'])
        now = replication.wait_for_pos(server, gtid=p['gtid'], position=position, timeout=p['timeout'],
                                       channel=channel)
        return dict(changed=False, statements=[], queries=[], gtid=now['gtid'], position=now['position'])
    if p['state'] == 'started':
        statements = replication.start_replication(server, p['thread'], channel, check_mode=check)
    elif p['state'] == 'binlog_reset':
        statements = replication.reset_binlog(server, check_mode=check)
    elif p['state'] in ('read_only', 'writable'):
        statements = replication.set_read_only(server, p['state'] == 'read_only', check_mode=check)
    elif p['state'] == 'stopped':
        statements = replication.stop_replication(server, p['thread'], channel, check_mode=check)
    else:
        statements = replication.reset_replication(server, all=p['state'] == 'reset_all', channel=channel,
                                                   check_mode=check)
        if p['binlog_reset']:
            statements += replication.reset_binlog(server, check_mode=check)
    return dict(changed=bool(statements), statements=statements, queries=list(statements))


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            state=dict(type='str', required=True, choices=['started', 'stopped', 'reset', 'reset_all', 'caught_up',
                                                           'binlog_reset', 'read_only', 'writable']),
            thread=dict(type='str', choices=['io', 'sql']),
            channel=dict(type='str', default='', aliases=['connection_name']),
            gtid=dict(type='str'),
            master_log_file=dict(type='str', aliases=['primary_log_file']),
            master_log_pos=dict(type='int', aliases=['primary_log_pos']),
            timeout=dict(type='int', default=60),
            binlog_reset=dict(type='bool', default=False),
        ),
        required_together=[('master_log_file', 'master_log_pos')],
        mutually_exclusive=[('gtid', 'master_log_file')],
        required_if=[('state', 'caught_up', ('gtid', 'master_log_file'), True)],
        supports_check_mode=True,
    )
    if module.params['binlog_reset'] and module.params['state'] != 'reset_all':
        module.fail_json(msg='binlog_reset goes with state=reset_all only (state=binlog_reset does it alone); '
                         'nothing was done')
    run_module(module, lambda server: act(module, server))


if __name__ == '__main__':
    main()
