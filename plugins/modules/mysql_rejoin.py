#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_rejoin
short_description: Bring a former master back as a replica, saving its errant transactions first
description:
  - For a server that left the installation - typically the old master after a failover, which restarts read-only
    and may hold transactions it never shipped - and is to replicate from the current master O(master) again.
  - "Refuses, before any change: a target that is the master, that cannot be reached, that other servers replicate
    from, or of another flavor than the master; a master that cannot be reached, is read-only, replicates, or has
    no binary log."
  - Finds what the target has that the master lacks. For MariaDB it compares the two servers' histories
    (C(gtid_binlog_state), and the master's C(gtid_slave_pos)) per domain and server, which sees a former master's
    unreplicated transactions even after the new master wrote higher sequence numbers of its own (a comparison
    of positions does not).
  - Nothing to do (no change, RV(action) C(none)) when the target already replicates from the master, read-only, and has
    nothing the master lacks.
  - Otherwise it first fences the target (C(read_only), client sessions killed). Without errant transactions it
    points the target at the master by GTID (a former MariaDB master first sets C(gtid_slave_pos) from all it has
    executed, as with C(MASTER_USE_GTID=current_pos)) and waits until it has what the master has.
  - With errant transactions it saves them into a new file in O(save_dir) on the host the module runs on
    (RV(errant_file)), with C(mariadb-binlog) reading the target's binary log from the server by GTID (from the last
    transaction both have to the target's last one; row events with their C(--verbose) pseudo-SQL), checks
    that the file holds the last errant GTID of every domain, and returns RV(action) C(rebuild) - the target must
    then be rebuilt from the installation (playbooks/rejoin.yml runs the clone_slave role on it). Saving is done
    for MariaDB only.
  - Run it once, on the controller (like the promotion modules, it talks to both servers itself).
version_added: 0.2.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
  - replicant.mysql.servers
options:
  target:
    description: Name (in O(servers)) of the server to bring back.
    type: str
    required: true
  master:
    description: Name (in O(servers)) of the current master.
    type: str
    required: true
  repl_user:
    description: Replication account, for the servers that do not name their own.
    type: str
  repl_password:
    description: Password of O(repl_user).
    type: str
  save_dir:
    description:
      - Directory (created with mode 0700 when missing) for the file of errant transactions; required when there are any.
    type: path
  binlog_tool:
    description: The C(mariadb-binlog) (or C(mysqlbinlog)) command of the host the module runs on.
    type: str
    default: mariadb-binlog
  timeout:
    description: Seconds the target may take to replicate and catch up.
    type: int
    default: 60
  connect_retry:
    description: MASTER_CONNECT_RETRY of the target (seconds).
    type: int
    default: 3
  heartbeat_period:
    description: MASTER_HEARTBEAT_PERIOD of the target (seconds).
    type: float
    default: 2.0
attributes:
  check_mode:
    support: full
    description: Reads both servers and returns RV(action), RV(errant) and RV(plan); changes and saves nothing.
notes:
  - The file of errant transactions is for a person to review; the transactions are not applied anywhere.
seealso:
  - module: replicant.mysql.mysql_failover
  - module: replicant.mysql.mysql_topology_info
    description: Reports a server with errant transactions or writable outside the master role.
'''

EXAMPLES = r'''
- name: Bring the old master db1 back under db2 (saving what only db1 has)
  replicant.mysql.mysql_rejoin:
    login_user: admin
    login_password: "{{ admin_password }}"
    repl_user: repl
    repl_password: "{{ repl_password }}"
    servers:
      - {name: db1, host: 10.0.0.11}
      - {name: db2, host: 10.0.0.12}
    target: db1
    master: db2
    save_dir: /var/backups/replicant/errant
  delegate_to: localhost
  register: rejoin
'''

RETURN = r'''
semisync:
  description: What semi-synchronous replication was changed on the target before it was repointed (the master side
    off, the replica side on; docs/semisync.md), variable to value; only for a target with semi-sync settings.
  returned: when the target was repointed
  type: dict
  sample: {rpl_semi_sync_master_enabled: 'OFF'}
action:
  description: C(none) (already a replica of the master), C(repoint) (pointed at the master by GTID) or C(rebuild)
    (errant transactions saved; rebuild the target with clone_slave).
  returned: always
  type: str
  sample: rebuild
errant:
  description: The target's errant transactions (per domain the last GTID both have and the target's last), or null.
  returned: always
  type: str
  sample: 0-1-100 after 0-1-95
errant_file:
  description: The file the errant transactions were saved to (on the host the module runs on), or null.
  returned: always
  type: str
  sample: /var/backups/replicant/errant/db1-errant-20260101T120000Z.binlog.sql
plan:
  description: The steps, as text.
  returned: always
  type: list
  elements: str
steps:
  description: What was done.
  returned: always
  type: list
  elements: str
target:
  description: The target's name.
  returned: always
  type: str
master:
  description: The master's name.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.instance import SERVERS_OPTION, instances_from_params
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, check_ranges
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import module_result
from ansible_collections.replicant.mysql.plugins.module_utils.rejoin import RejoinError, rejoin
from ansible_collections.replicant.mysql.plugins.module_utils.server import HAS_PYMYSQL, MISSING_PYMYSQL, ServerError


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            servers=SERVERS_OPTION,
            target=dict(type='str', required=True),
            master=dict(type='str', required=True),
            repl_user=dict(type='str'),
            repl_password=dict(type='str', no_log=True),
            save_dir=dict(type='path'),
            binlog_tool=dict(type='str', default='mariadb-binlog'),
            timeout=dict(type='int', default=60),
            connect_retry=dict(type='int', default=3),
            heartbeat_period=dict(type='float', default=2.0),
        ),
        supports_check_mode=True,
    )
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    check_ranges(module)
    p = module.params
    try:
        nodes = dict((n.name, n) for n in instances_from_params(p, require_host=True))
        for name in (p['target'], p['master']):
            if name not in nodes:
                raise ValueError('%s is not one of the servers (%s)' % (name, ', '.join(nodes)))
        result = rejoin(nodes[p['target']], nodes[p['master']], check_mode=module.check_mode, save_dir=p['save_dir'],
                        binlog_tool=p['binlog_tool'], timeout=p['timeout'], connect_retry=p['connect_retry'],
                        heartbeat_period=p['heartbeat_period'])
    except RejoinError as exc:
        module.fail_json(msg=str(exc), **module_result(exc.result))
    except (ServerError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
