#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_switchover
short_description: Planned switchover of a MySQL/MariaDB master to one of its replicas, with no lost writes
description:
  - Moves the master role from O(master) to O(new_master) (or to an elected replica) in one module run that
    talks to every server of O(servers) itself, over connections opened before anything changes, so that the
    time no one can write is a matter of milliseconds rather than of Ansible tasks.
  - "Prechecks first, each refusal naming the server and the check: C(reachable) (every server answers),
    C(candidate_eligible) (not marked excluded, a direct replica of the master), C(replica_of_master) and
    C(replication_running) (every replica replicates from its declared master - the master, or the relay its
    O(servers[].master) names - both threads running), C(candidate_binlog) (log_bin and log_slave_updates on the
    candidate), C(candidate_version) (same flavor, same or newer version), C(replication_filters) (the candidate
    filters what the other replicas filter, its binlog filters are the master's), C(candidate_lag) (at most
    O(max_lag) seconds behind), C(errant_transactions) (no replica has transactions the master lacks),
    C(long_transactions) (no transaction on the master older than O(long_transaction) seconds),
    C(replication_account) (the servers that will replicate from the candidate can log in to it as the replication
    account with the configured password, and the account has REPLICATION SLAVE), C(router) (O(router) can reach
    both servers, e.g. the HAProxy backend has them)."
  - "Then: the old master gets read_only (super_read_only on MySQL), the router is told C(demote) at once, the old
    master's client sessions are killed, it is locked with FLUSH TABLES WITH READ LOCK (bounded by
    O(lock_wait_timeout)) and its final GTID set and position are read; the candidate executes up to them (bounded by O(wait_timeout); on timeout the old
    master is made writable again, the router C(undo)ne and the task fails); the candidate becomes writable, the
    router is told C(promote) at once, then the candidate stops and resets its replication; the old master is
    unlocked (it stays read-only); the old master's other direct replicas and the old master replicate from the new
    master (concurrently, with O(connect_retry) and O(heartbeat_period)), and each is checked to replicate."
  - "A declared tree is kept (O(servers[].master), the inventory's C(replicant_master)): the new master keeps its
    own replicas (promoting a relay is allowed), and a relay's replicas stay below their relay, replicating all
    along - never stopped, waited for or repointed. C(tree) in RV(topology) is the tree afterwards."
  - The lock is released in every outcome. A failure before the candidate is writable leaves the old master the
    only writable server (and the router on it); after that, the new master - whatever fails then (the router, a
    repoint), the router is told C(failed) (route to the writable server) and the task fails with RV(promoted)
    true and RV(state) (who is writable, who does not replicate and why).
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
  - replicant.mysql.servers
  - replicant.mysql.promotion
options:
  master:
    description: Name (in O(servers)) of the current master.
    type: str
    required: true
  new_master:
    description:
      - Name of the replica to promote. Unset elects one among the replicas of O(master) that run and are not
        excluded, the preferred ones first, then the most advanced.
      - Equal to O(master), the module connects and checks that O(master) is the writable master and every other
        server of O(servers) replicates from it; then nothing is done (changed false), else it refuses naming what
        differs (a stale inventory).
    type: str
  repl_user:
    description: Replication account, for the servers that do not name their own.
    type: str
  repl_password:
    description: Password of O(repl_user).
    type: str
  force:
    description: Checks to skip by name (see the description). Skipped failures are reported as warnings and in RV(forced_checks).
    type: list
    elements: str
    default: []
    choices: [reachable, candidate_eligible, replica_of_master, replication_running, candidate_binlog,
              candidate_version, replication_filters, candidate_lag, errant_transactions, long_transactions,
              replication_account, router]
  max_lag:
    description: Seconds the candidate may be behind the master.
    type: int
    default: 5
  long_transaction:
    description: Refuse when a transaction on the master has run longer than this many seconds; 0 turns the check off.
    type: int
    default: 10
  lock_wait_timeout:
    description: Seconds FLUSH TABLES WITH READ LOCK (and read_only) may wait for running statements.
    type: int
    default: 5
  wait_timeout:
    description:
      - Seconds the candidate (and, without GTID, each replica) may take to execute the master's last transaction.
      - The critical section (the old master read-only until the candidate is writable) ends within
        O(lock_wait_timeout) + O(wait_timeout) + 1 seconds even when the old master or the candidate hangs. Every
        statement on them runs with a read/write timeout of the time left, and the candidate turns writable only
        if it runs that statement before the deadline (its own clock). Past it the switchover is undone within 5 s.
    type: float
    default: 10
  verify_timeout:
    description: Seconds each repointed server may take until both replication threads run.
    type: float
    default: 10
  include_old_master:
    description: Make the old master a replica of the new one; false leaves it read-only and not replicating.
    type: bool
    default: true
  kill_connections:
    description: Kill the old master's client sessions (not the replication threads) before and after the lock.
    type: bool
    default: true
  gtid:
    description:
      - Repoint by GTID (C(MASTER_USE_GTID=slave_pos) on MariaDB, C(MASTER_AUTO_POSITION=1) on MySQL) or by the new
        master's binlog coordinates read when it has caught up. Unset uses GTID when every server has it.
    type: bool
attributes:
  check_mode:
    support: full
    description: Connects, runs the prechecks and reports the plan (RV(plan)); changes nothing and routes nothing.
notes:
  - Run it where every server can be reached (in a playbook, typically on the controller); the playbook
    C(replicant.mysql.promote_master) builds O(servers) from the inventory.
  - MariaDB has no super_read_only, so an account with SUPER could still write on the old master in the
    milliseconds between the unlock and its repointing; the sessions are killed before and after the lock.
seealso:
  - module: replicant.mysql.mysql_failover
'''

EXAMPLES = r'''
- name: Switch the master from db1 to db2
  replicant.mysql.mysql_switchover:
    login_user: admin
    login_password: "{{ admin_password }}"
    repl_user: repl
    repl_password: "{{ repl_password }}"
    master: db1
    new_master: db2
    servers:
      - {name: db1, host: 10.0.0.11, login_host: 10.0.0.11}
      - {name: db2, host: 10.0.0.12, login_host: 10.0.0.12}
      - {name: db3, host: 10.0.0.13, login_host: 10.0.0.13, promotion: excluded}
  register: switch

- name: Switch through HAProxy, routed by the module the instant db2 is writable
  replicant.mysql.mysql_switchover:
    master: db1
    new_master: db2
    servers: "{{ servers }}"
    router:
      type: haproxy
      socket: /run/haproxy/admin.sock
      backend: mysql_write
    connect_retry: 3

- name: Switch and move a VIP with a script of your own
  replicant.mysql.mysql_switchover:
    master: db1
    new_master: db2
    servers: "{{ servers }}"
    router:
      type: command
      command: [/usr/local/bin/vip-route]
      timeout: 5

- name: Only check and show the plan
  replicant.mysql.mysql_switchover:
    master: db1
    servers: "{{ servers }}"
  check_mode: true
  register: plan
'''

RETURN = r'''
semisync:
  description:
    - What semi-synchronous replication was changed at run time, per server (variable to value; empty when nothing;
      a message when it could not be set); only for servers with semi-sync settings (O(servers[].semisync),
      docs/semisync.md) - the master side on the new master, off on the others.
  returned: when the promotion was done
  type: dict
  sample: {db2: {rpl_semi_sync_master_enabled: 'ON'}, db1: {rpl_semi_sync_master_enabled: 'OFF'}}
old_master:
  description: The master before.
  returned: always
  type: str
  sample: db1
new_master:
  description: The promoted (or, in check mode and on refusal, the chosen) replica.
  returned: always
  type: str
  sample: db2
checks:
  description: Every precheck with its server, outcome and message; C(forced) when a failure was skipped with O(force).
  returned: always
  type: list
  elements: dict
  sample: [{check: candidate_lag, host: db2, ok: true, message: "0 s behind (limit 5 s)", forced: false}]
forced_checks:
  description: The failed checks that O(force) skipped.
  returned: when the prechecks ran
  type: list
  elements: dict
plan:
  description: The steps, in order.
  returned: when the prechecks passed
  type: list
  elements: str
topology:
  description:
    - The installation afterwards (planned one in check mode) - C(master), C(replicas) (the servers repointed to it),
      C(left_out), C(unreachable), C(broken), and C(tree) (every replica and its master afterwards, the declared
      tree kept; what the inventory must say).
  returned: when the prechecks passed
  type: dict
  sample: {master: db2, replicas: [db3, db1], left_out: [], unreachable: [], tree: {db3: db2, db4: db3, db1: db2}}
final_gtid:
  description: The old master's executed GTID set under the lock (everything the new master has executed).
  returned: after a switchover
  type: str
  sample: 0-1-4242
final_position:
  description: The old master's binlog position under the lock.
  returned: after a switchover
  type: str
  sample: binlog.000003:78243
outage_ms:
  description: Milliseconds from read_only on the old master until the new master was writable (the critical section).
  returned: after a switchover
  type: float
  sample: 14.2
routed_ms:
  description: Milliseconds from read_only on the old master until the router sent the clients to the new master.
  returned: after a switchover with a router whose promote phase succeeded
  type: float
  sample: 15.1
routing:
  description: Every router call - C(phase), C(router), C(ok), C(ms), C(detail), C(old_master), C(new_master).
  returned: always
  type: list
  elements: dict
  sample: [{phase: demote, router: haproxy, ok: true, ms: 0.4, detail: "set server mysql/db1 state maint; ..."}]
undone:
  description:
    - On a failure before the point of no return, whether the switchover was undone completely (the old master writable
      again and unlocked). Then nothing is left for a later procedure to resume.
  returned: when the switchover failed before the point of no return
  type: bool
  sample: true
promoted:
  description: Whether the new master was made writable (past the point of no return).
  returned: always
  type: bool
state:
  description:
    - After a failure past the point of no return - C(writable) (the servers that accept writes), C(not_replicating)
      (server -> why), C(problems), C(router) (where the clients were routed) and C(summary).
  returned: on failure after the promotion
  type: dict
repoint_ms:
  description: Per repointed server, milliseconds until it was seen replicating.
  returned: after a switchover
  type: dict
total_ms:
  description: Milliseconds for the whole run, prechecks included.
  returned: after a switchover
  type: float
steps:
  description: What was done, with the time in ms since the start.
  returned: always
  type: list
  elements: dict
failed_repoints:
  description: Servers that could not be made to replicate from the new master, with the reason.
  returned: on failure after the promotion
  type: dict
gtid:
  description: Whether the servers were repointed by GTID.
  returned: when the prechecks passed
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import promotion_argument_spec, run_promotion
from ansible_collections.replicant.mysql.plugins.module_utils.switchover import CHECKS, DEFAULTS, switchover


# This module's own options, beside those it shares with the other promotion module (defaults: the library's).
OPTIONS = dict(
    max_lag=dict(type='int', default=DEFAULTS['max_lag']),
    long_transaction=dict(type='int', default=DEFAULTS['long_transaction']),
    lock_wait_timeout=dict(type='int', default=DEFAULTS['lock_wait_timeout']),
    wait_timeout=dict(type='float', default=DEFAULTS['wait_timeout']),
    verify_timeout=dict(type='float', default=DEFAULTS['verify_timeout']),
    include_old_master=dict(type='bool', default=DEFAULTS['include_old_master']),
    kill_connections=dict(type='bool', default=DEFAULTS['kill_connections']),
    gtid=dict(type='bool'),
)


def main():
    module = AnsibleModule(argument_spec=argument_spec(**promotion_argument_spec(CHECKS, **OPTIONS)),
                           supports_check_mode=True)
    run_promotion(module, switchover, OPTIONS)


if __name__ == '__main__':
    main()
