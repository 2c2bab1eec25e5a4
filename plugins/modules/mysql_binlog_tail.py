#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_binlog_tail
short_description: Recover what a dead master wrote that no replica received, from its binary log files
description:
  - For a failover after the master's server process died while its host stayed up (kill -9, a crash of
    C(mariadbd)). Run on the B(old master's host) before the failover, it reads the transactions that master
    wrote into its binary log but no replica received, and applies them to the most advanced replica, so that
    asynchronous replication loses nothing a client was told was committed.
  - Does nothing (RV(not_read) says why) when the old master's server still runs on the host (a hung server may
    write again; the failover decides about it).
  - "Steps: finds the replica that has (or has received) the most; stops its IO thread and waits until it applied
    its relay log (O(timeout)), then stops its replication (its master is dead); runs C(mariadb-binlog
    --start-position=<that replica's GTID position>) over the old master's binary log files (from its index file,
    found in the datadir the option file O(defaults_file) names, or O(binlog_index)); applies the output to that
    replica with the C(mariadb) client (the transactions keep their GTIDs and land in the replica's binary log);
    checks that they arrived and sets the replica's C(gtid_slave_pos) to everything it has, so that the failover
    elects it or catches its candidate up from it."
  - A last transaction the crash cut in half is not applied (the server rolls it back) and is listed in
    RV(incomplete); it was never acknowledged to a client.
  - MariaDB only (GTIDs and C(mariadb-binlog)); with MySQL replicas it reads nothing and RV(not_read) says that what
    the old master wrote that no replica received may be lost. The replicas are reached from the old master's host with the
    login of O(servers). Only the master's direct replicas (by O(servers[].master)) are considered; a relay's
    replicas stay below their relay.
version_added: 0.3.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
  - replicant.mysql.servers
options:
  master:
    description: Name (in O(servers)) of the failed master, whose host this runs on.
    type: str
    required: true
  defaults_file:
    description: The failed master's option file (its C([mysqld]) section names the datadir and the pid file).
    type: path
    required: true
  binlog_index:
    description: The failed master's binary log index file, when it is not the one C(*.index) file of its datadir.
    type: path
  binlog_tool:
    description: The C(mariadb-binlog) command of this host.
    type: str
    default: mariadb-binlog
  client_tool:
    description: The C(mariadb) client command of this host.
    type: str
    default: mariadb
  timeout:
    description: Seconds the chosen replica may take to apply its relay log first.
    type: int
    default: 60
  save_dir:
    description: Keep a copy of the recovered events (mariadb-binlog text, mode 0600) in a new file in this directory.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads the binary log and the replicas and returns how many transactions would be recovered, and where
      to; stops and applies nothing.
notes:
  - Run it with C(delegate_to) the failed master's inventory host (its connection is the way to that host);
    playbooks/failover.yml does, when the host can be reached.
seealso:
  - module: replicant.mysql.mysql_failover
'''

EXAMPLES = r'''
- name: Recover what db1 wrote that no replica received (db1's mariadbd died, its host is up)
  replicant.mysql.mysql_binlog_tail:
    login_user: admin
    login_password: "{{ admin_password }}"
    servers:
      - {name: db1, host: 10.0.0.11}
      - {name: db2, host: 10.0.0.12}
      - {name: db3, host: 10.0.0.13}
    master: db1
    defaults_file: /etc/mysql/my.cnf
  delegate_to: db1
  register: tail
'''

RETURN = r'''
recovered:
  description: Transactions applied to RV(applied_to) (in check mode, found to apply).
  returned: always
  type: int
  sample: 12
gtids:
  description: Their GTIDs, in order.
  returned: always
  type: list
  elements: str
incomplete:
  description: The last transaction's GTID when the crash cut it off (not applied, never acknowledged), else empty.
  returned: always
  type: list
  elements: str
applied_to:
  description: The replica that got them (the most advanced), or null.
  returned: always
  type: str
  sample: db2
start:
  description: The GTID position the binary log was read from (what RV(applied_to) had).
  returned: always
  type: str
  sample: 0-1-4711
not_read:
  description: Why the binary log was not read (the server still runs), or null.
  returned: always
  type: str
tail_file:
  description: The copy of the recovered events (with O(save_dir)), or null.
  returned: always
  type: str
steps:
  description: What was done, as text.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.replicant.mysql.plugins.module_utils.binlog_tail import TailError, recover_tail
from ansible_collections.replicant.mysql.plugins.module_utils.instance import SERVERS_OPTION, instances_from_params
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import LifecycleError
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, check_ranges
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import declared_tree, direct_replicas
from ansible_collections.replicant.mysql.plugins.module_utils.server import HAS_PYMYSQL, MISSING_PYMYSQL, ServerError


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            servers=SERVERS_OPTION,
            master=dict(type='str', required=True),
            defaults_file=dict(type='path', required=True),
            binlog_index=dict(type='path'),
            binlog_tool=dict(type='str', default='mariadb-binlog'),
            client_tool=dict(type='str', default='mariadb'),
            timeout=dict(type='int', default=60),
            save_dir=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    check_ranges(module)
    p = module.params
    nodes = []
    try:
        nodes = instances_from_params(p, require_host=True)
        old = [n for n in nodes if n.name == p['master']]
        if not old:
            raise ValueError('%s is not one of the servers (%s)' % (p['master'], ', '.join(n.name for n in nodes)))
        # the master's direct replicas (a relay's replicas are never ahead of their relay, and stay below it)
        replicas = direct_replicas(nodes, declared_tree(nodes, old[0].name))
        for node in replicas:
            node.read()
        result = recover_tail(old[0], replicas, p['defaults_file'], binlog_index=p['binlog_index'],
                              binlog_tool=p['binlog_tool'], client_tool=p['client_tool'], timeout=p['timeout'],
                              check_mode=module.check_mode, save_dir=p['save_dir'])
    except (TailError, ServerError, LifecycleError, ValueError) as exc:
        module.fail_json(msg='%s: %s (playbooks/failover.yml: -e promote_master_recover_tail=false fails over without recovering)'
                         % (p['master'], exc))
    finally:
        for node in nodes:
            node.close()
    changed = bool(result['recovered']) and not result['not_read']
    module.exit_json(changed=changed, msg='; '.join(result['steps']) or result['not_read'] or 'nothing to recover',
                     **result)


if __name__ == '__main__':
    main()
