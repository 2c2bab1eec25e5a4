#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_relocate
short_description: Re-direct replicas inside a replication topology (by GTID)
description:
  - Discovers the topology of O(servers) like M(replicant.mysql.mysql_topology_info), then moves
    replicas. Moves O(replica) under O(new_master), which then becomes a relay, or up to its grandparent
    with O(up), or moves every replica of O(replicas_of) under O(new_master).
  - Checks every move before any change. The new master must be reachable, have a binary log,
    and, when it is itself a replica, C(log_slave_updates); it must not be the replica or one
    of its descendants, and neither server may have errant transactions.
  - Each move stops the replica, waits until the new master has executed what the replica has (when
    the new master is a replica too), checks that it has all of it, points the replica at it by GTID
    (keeping the replica's mode, C(MASTER_USE_GTID) on MariaDB, C(MASTER_AUTO_POSITION) on MySQL),
    and waits until the replica has caught up with it. When a step fails before the change, the
    replica is started again under its old master.
  - A replica that replicates by binlog position is refused (no positional fallback). Switch it to GTID
    first with M(replicant.mysql.mysql_change_master).
  - Replicas that already replicate from the new master are left alone, so a second run changes nothing.
  - Run it once (for example on localhost), not once per database host.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
  - replicant.mysql.servers
options:
  replica:
    description: The replica to move (a name of the topology).
    type: str
  new_master:
    description: Where the replica, or the replicas of O(replicas_of), go.
    type: str
  up:
    description: Move O(replica) up, under the master of its master.
    type: bool
    default: false
  replicas_of:
    description: Move every replica of this server (except O(new_master) itself) under O(new_master).
    type: str
  master_user:
    description: Replication account on the new master; defaults to the account the replica uses now.
    type: str
  master_password:
    description: Password of O(master_user); unset keeps the replica's current one.
    type: str
  timeout:
    description: Seconds to wait for the new master and then for the replica to catch up, per move.
    type: int
    default: 60
  lag_threshold:
    description: As for M(replicant.mysql.mysql_topology_info), for the problems reported after the moves.
    type: int
    default: 60
  workers:
    description: How many servers discovery queries at once.
    type: int
    default: 32
attributes:
  check_mode:
    support: full
    description: Checks the moves and reports the statements each would run; changes nothing.
'''

EXAMPLES = r'''
- name: Make db3 a replica of db2 (db2 becomes a relay)
  replicant.mysql.mysql_relocate:
    servers: "{{ servers }}"
    replica: db3
    new_master: db2
    master_user: repl
    master_password: "{{ repl_password }}"
  run_once: true
  delegate_to: localhost

- name: Move db3 back up to the master of db2
  replicant.mysql.mysql_relocate:
    servers: "{{ servers }}"
    replica: db3
    up: true
  run_once: true
  delegate_to: localhost

- name: Hang every replica of db1 under db2
  replicant.mysql.mysql_relocate:
    servers: "{{ servers }}"
    replicas_of: db1
    new_master: db2
  run_once: true
  delegate_to: localhost
'''

RETURN = r'''
moves:
  description: Each move made (or, in check mode, planned), with the statements it ran.
  returned: always
  type: list
  elements: dict
  sample:
    - replica: db3
      old_master: db1
      new_master: db2
      changed: true
      gtid: 0-11-42
      caught_up: 0-11-42
      statements: ["STOP SLAVE", "CHANGE MASTER TO MASTER_HOST = '10.0.0.12', ...", "START SLAVE"]
tree:
  description: The ASCII tree after the moves (before them in check mode).
  returned: always
  type: str
tree_lines:
  description: RV(tree) as a list of lines.
  returned: always
  type: list
  elements: str
servers:
  description: The servers after the moves, as RV(replicant.mysql.mysql_topology_info#module:servers) describes them.
  returned: always
  type: dict
problems:
  description: Problems found after the moves, as RV(replicant.mysql.mysql_topology_info#module:problems) lists them.
  returned: always
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, check_ranges
from ansible_collections.replicant.mysql.plugins.module_utils.relocate import move, plan
from ansible_collections.replicant.mysql.plugins.module_utils.server import HAS_PYMYSQL, MISSING_PYMYSQL, ServerError
from ansible_collections.replicant.mysql.plugins.module_utils.instance import SERVERS_OPTION, instances_from_params
from ansible_collections.replicant.mysql.plugins.module_utils.topology import discover


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            servers=SERVERS_OPTION,
            replica=dict(type='str'),
            new_master=dict(type='str'),
            up=dict(type='bool', default=False),
            replicas_of=dict(type='str'),
            master_user=dict(type='str'),
            master_password=dict(type='str', no_log=True),
            timeout=dict(type='int', default=60),
            lag_threshold=dict(type='int', default=60),
            workers=dict(type='int', default=32),
        ),
        required_one_of=[('replica', 'replicas_of')],
        mutually_exclusive=[('replica', 'replicas_of')],
        required_by={'replicas_of': 'new_master'},
        supports_check_mode=True,
    )
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    check_ranges(module)
    p = module.params
    moves = []
    try:
        topology = discover(instances_from_params(p), workers=p['workers'], lag_threshold=p['lag_threshold'])
        for replica, new_master in plan(topology, replica=p['replica'], new_master=p['new_master'], up=p['up'],
                                        replicas_of=p['replicas_of']):
            moves.append(move(topology, replica, new_master, master_user=p['master_user'],
                              master_password=p['master_password'], timeout=p['timeout'], check_mode=module.check_mode))
        if moves and not module.check_mode:
            topology = discover(instances_from_params(p), workers=p['workers'], lag_threshold=p['lag_threshold'])
    except (ServerError, ValueError) as exc:
        module.fail_json(msg=str(exc), moves=moves, changed=bool(moves) and not module.check_mode)
    result = topology.result()
    module.exit_json(changed=any(m['changed'] for m in moves), moves=moves, **result)


if __name__ == '__main__':
    main()
