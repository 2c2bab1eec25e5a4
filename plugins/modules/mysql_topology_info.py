#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_topology_info
short_description: Discover a replication topology, check it, and draw it
description:
  - Queries every server of O(servers) at once (one thread and one connection per server, so
    twenty servers take about the time of the slowest one) and builds the real replication tree.
  - Follows what the servers reveal to servers the inventory does not list, and queries them with the
    credentials of the server they were found on; the master each replica reads from,
    the replicas a server has registered (C(SHOW SLAVE HOSTS) / C(SHOW REPLICAS)), and the
    binlog dump connections in its process list.
  - Per server it reports its role (master, relay, replica, standalone), master, replication thread
    state, lag, GTID position, read_only, server_id and uuid, flavor and version.
  - Reports problems, such as duplicate server_id or server_uuid, a writable replica, more than one writable
    master, broken or stopped replication threads, lag over O(lag_threshold), errant transactions
    (a replica has GTIDs its master lacks), a relay without C(log_slave_updates), a server
    unreachable, a replica not in the inventory, and drift between the master the inventory
    declares and the one a server replicates from.
  - Returns the data, an ASCII tree (one line per server), Graphviz DOT and Mermaid text.
  - Run it once (for example on localhost), not once per database host.
  - Only reads.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
  - replicant.mysql.servers
options:
  follow:
    description: Also query the servers found through the others (not only those of O(servers)).
    type: bool
    default: true
  lag_threshold:
    description: Seconds behind its master above which a replica is reported as lagging.
    type: int
    default: 60
  fail_on_problems:
    description: Fail (with the whole result) when any problem is found.
    type: bool
    default: false
  workers:
    description: How many servers are queried at once; C(1) queries them one after the other.
    type: int
    default: 32
  max_servers:
    description: Stop following new servers after this many.
    type: int
    default: 256
attributes:
  check_mode:
    support: full
    description: Only reads, in check mode too.
notes:
  - MariaDB multi-source replication is not shown; only the default connection of each replica is read.
  - MariaDB 10.5.1 and later list a replica started without C(report_host) in C(SHOW SLAVE HOSTS) at the
    address its connection comes from and its own port; MySQL and older MariaDB leave the address blank.
    Set C(report_host) on the replicas so that the ones missing from the inventory can be queried.
'''

EXAMPLES = r'''
- name: Discover the topology of the mysql group
  replicant.mysql.mysql_topology_info:
    login_user: admin
    login_password: "{{ admin_password }}"
    servers:
      - {name: db1, host: 10.0.0.11, role: master}
      - {name: db2, host: 10.0.0.12, role: replica, master: db1}
      - {name: db3, host: 10.0.0.13, role: replica, master: db1}
  run_once: true
  delegate_to: localhost
  register: topology

- name: Show the tree
  ansible.builtin.debug:
    var: topology.tree_lines

- name: The same, failing when anything is wrong
  replicant.mysql.mysql_topology_info:
    servers: "{{ servers }}"
    lag_threshold: 10
    fail_on_problems: true
'''

RETURN = r'''
servers:
  description:
    - Every server found, in tree order, by name (servers not in the inventory are named C(host:port)).
    - C(semisync) is its semi-synchronous replication state when O(servers[].semisync) is set for it (else null) -
      whether the master and replica sides are on, whether the master side is active or fell back to asynchronous
      replication, its semi-sync clients and acknowledged / unacknowledged commits (docs/semisync.md).
  returned: always
  type: dict
  sample:
    db2:
      name: db2
      address: 10.0.0.12:3306
      role: replica
      master: db1
      replicas: []
      in_inventory: true
      found_by: inventory
      reachable: true
      error: null
      declared_master: db1
      server_id: 12
      server_uuid: null
      flavor: mariadb
      version: 10.11.19
      read_only: true
      log_bin: true
      log_slave_updates: true
      gtid_executed: 0-11-42
      gtid_current_pos: 0-11-42
      io_running: 'Yes'
      sql_running: 'Yes'
      seconds_behind: 0
      using_gtid: Slave_Pos
      errant: null
      problems: []
      semisync: {master_enabled: false, replica_enabled: true, master_active: false, replica_active: true,
                 clients: 0, yes_tx: 0, no_tx: 0, wait_point: AFTER_SYNC, timeout: 10000}
roots:
  description: The servers that replicate from none of the others (normally the master).
  returned: always
  type: list
  elements: str
problems:
  description:
    - Each problem with its kind, the servers concerned and a message. Kinds are C(unreachable), C(not_in_inventory),
      C(duplicate_server_id), C(duplicate_server_uuid), C(writable_replica), C(multiple_writable_masters),
      C(replication_broken), C(replication_stopped), C(lag), C(errant_transactions), C(drift),
      C(relay_without_log_slave_updates), and when the inventory asks for semi-synchronous replication (docs/semisync.md)
      C(semisync_async) (the master fell back to asynchronous replication), C(semisync_off), C(semisync_misplaced),
      C(semisync_unknown).
  returned: always
  type: list
  elements: dict
  sample: [{kind: writable_replica, servers: [db3], message: db3 is a replica and read_only is OFF}]
ok:
  description: Whether no problem was found.
  returned: always
  type: bool
tree:
  description: The ASCII tree, one line per server with its state and problems.
  returned: always
  type: str
tree_lines:
  description: RV(tree) as a list of lines (readable in C(debug) output).
  returned: always
  type: list
  elements: str
  sample:
    - db1 (10.0.0.11:3306) master rw id=11 gtid=0-11-42 mariadb 10.11.19
    - "+-- db2 (10.0.0.12:3306) replica ro id=12 io=Yes sql=Yes lag=0s gtid=0-11-42 mariadb 10.11.19"
    - "`-- db3 (10.0.0.13:3306) replica ro id=13 io=Yes sql=Yes lag=0s gtid=0-11-42 mariadb 10.11.19"
dot:
  description: The tree as a Graphviz digraph (C(dot -Tsvg)).
  returned: always
  type: str
mermaid:
  description: The tree as a Mermaid flowchart.
  returned: always
  type: str
notes:
  description: Things discovery noticed that are not problems (aliases, binlog readers that are no servers).
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds discovery took.
  returned: always
  type: float
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, check_ranges
from ansible_collections.replicant.mysql.plugins.module_utils.server import HAS_PYMYSQL, MISSING_PYMYSQL
from ansible_collections.replicant.mysql.plugins.module_utils.instance import SERVERS_OPTION, instances_from_params
from ansible_collections.replicant.mysql.plugins.module_utils.topology import discover


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            servers=SERVERS_OPTION,
            follow=dict(type='bool', default=True),
            lag_threshold=dict(type='int', default=60),
            fail_on_problems=dict(type='bool', default=False),
            workers=dict(type='int', default=32),
            max_servers=dict(type='int', default=256),
        ),
        supports_check_mode=True,
    )
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    check_ranges(module)
    p = module.params
    try:
        topology = discover(instances_from_params(p), follow=p['follow'], workers=p['workers'],
                            lag_threshold=p['lag_threshold'], max_servers=p['max_servers'])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = topology.result()
    if p['fail_on_problems'] and topology.problems:
        module.fail_json(msg='%d problem(s): %s' % (len(topology.problems), '; '.join(x.message for x in topology.problems)),
                         changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
