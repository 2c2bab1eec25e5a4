#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_failover
short_description: Promote a replica after the MySQL/MariaDB master failed, losing nothing any replica received
description:
  - For a master that is down. In one module run that talks to every server of O(servers) itself.
  - "Checks first, each refusal naming the server and the check: C(split_brain) (the old master, if it can be
    reached, must be read-only), C(reachable) (every replica answers), C(replication_running) (no direct replica's
    SQL thread stopped with an error; a relay's replicas replicate from their relay), C(gtid) (every replica has
    GTIDs), C(candidate_eligible), C(candidate_binlog) (log_bin and log_slave_updates on the candidate),
    C(diverged) (no two replicas have different transactions under one GTID), C(replication_account) (the other
    replicas can log in to the candidate as the replication account), C(router) (O(router) can reach the
    candidate), C(master_lost) (an old master that does not answer within O(master_connect_timeout) - dead or
    hung - must be lost for its direct replicas too: no IO thread still connected to it, waited for up to
    O(master_connect_timeout))."
  - "Then: the old master, when reachable, is fenced (read_only, client sessions killed) and never made writable
    again; every replica stops its IO thread and applies its relay log, waited for while it makes progress (check
    C(relay_log): a complete transaction a replica received is never dropped unless forced); the most advanced replica is elected (GTID
    transactions, then executed coordinates; C(preferred) replicas first, C(excluded) ones never) unless
    O(new_master) names one; if another replica has transactions the candidate lacks, the candidate replicates from
    it until it has them; the candidate is promoted (replication reset, writable) and the router is told
    C(promote) at once; every other replica replicates from it by GTID (with O(connect_retry) and
    O(heartbeat_period)) and is checked to do so. Whatever fails once the candidate is writable, the router is told
    C(failed) (route to it) and the task fails with RV(promoted) true and RV(state)."
  - The old master is left out of the new topology; bring it back by cloning it from the new master.
  - "A declared tree is kept (O(servers[].master), the inventory's C(replicant_master)): only the old master's
    direct replicas are drained, elected among and repointed; the new master keeps its own replicas, and a relay's
    replicas stay below their relay, replicating all along. C(tree) in RV(topology) is the tree afterwards."
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
  - replicant.mysql.servers
  - replicant.mysql.promotion
options:
  master:
    description: Name (in O(servers)) of the failed master.
    type: str
    required: true
  new_master:
    description: Name of the replica to promote; unset elects one.
    type: str
  repl_user:
    description: Replication account, for the servers that do not name their own.
    type: str
  repl_password:
    description: Password of O(repl_user).
    type: str
  force:
    description:
      - Checks to skip by name (see the description). Skipped failures are reported as warnings and in
        RV(forced_checks). Forcing C(split_brain) fences a master that still accepts writes and goes on;
        forcing C(reachable) or C(replication_running) leaves those replicas behind. Forcing C(master_lost) promotes
        although a replica is still connected to the old master, which cannot be fenced (it is writable if it
        wakes up). Forcing C(relay_log) promotes without the complete transactions a replica could not apply in
        time; RV(lost_transactions) names those no replica applied.
    type: list
    elements: str
    default: []
    choices: [split_brain, reachable, replication_running, gtid, candidate_eligible, candidate_binlog, diverged,
              replication_account, router, master_lost, relay_log]
  master_connect_timeout:
    description:
      - Seconds to wait for the old master, each time - the TCP connect, the handshake and login, each read and
        write of a statement - and then for its replicas to confirm they lost it too (check C(master_lost)). A
        master that accepts connections but does not answer (hung) counts as unreachable within this bound.
    type: int
    default: 3
  relay_log_timeout:
    description:
      - Seconds the replicas may take to apply their relay logs while they make progress (executed GTIDs or
        position moving, the SQL thread's open transaction modifying rows, the SQL thread busy). A complete
        transaction still unapplied then fails the check C(relay_log).
    type: float
    default: 60
  stall_timeout:
    description:
      - Seconds a replica's SQL thread may make no progress at all before the wait for it ends. It is then done when
        only an incomplete last transaction is left (it never completes once the master is gone), reported in
        RV(relay_log_notes); a complete transaction left unapplied fails the check C(relay_log).
    type: float
    default: 2
  catch_up_timeout:
    description: Seconds the candidate may take to fetch what another replica has and it lacks.
    type: float
    default: 60
  verify_timeout:
    description: Seconds each repointed replica may take until both replication threads run.
    type: float
    default: 10
attributes:
  check_mode:
    support: full
    description:
      - Connects, runs the checks and reports the plan, electing on what each replica has executed or received;
        changes nothing and routes nothing.
notes:
  - Needs GTID replication.
seealso:
  - module: replicant.mysql.mysql_switchover
'''

EXAMPLES = r'''
- name: db1 is gone; promote the best replica
  replicant.mysql.mysql_failover:
    login_user: admin
    login_password: "{{ admin_password }}"
    repl_user: repl
    repl_password: "{{ repl_password }}"
    master: db1
    servers:
      - {name: db1, host: 10.0.0.11, login_host: 10.0.0.11}
      - {name: db2, host: 10.0.0.12, login_host: 10.0.0.12, promotion: preferred}
      - {name: db3, host: 10.0.0.13, login_host: 10.0.0.13}
  register: failover

- name: The same, HAProxy moved to the new master the instant it is writable
  replicant.mysql.mysql_failover:
    master: db1
    servers: "{{ servers }}"
    router: {type: haproxy, socket: /run/haproxy/admin.sock, backend: mysql_write}
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
  description: The failed master.
  returned: always
  type: str
  sample: db1
new_master:
  description: The promoted (in check mode and on refusal, the chosen) replica.
  returned: always
  type: str
  sample: db2
checks:
  description: Every check with its server, outcome and message; C(forced) when a failure was skipped with O(force).
  returned: always
  type: list
  elements: dict
forced_checks:
  description: The failed checks that O(force) skipped.
  returned: when the checks ran
  type: list
  elements: dict
plan:
  description: The steps, in order.
  returned: when the checks passed
  type: list
  elements: str
topology:
  description:
    - The installation afterwards (planned one in check mode) - C(master), C(replicas) (the servers repointed to it),
      C(left_out), C(unreachable), C(broken), and C(tree) (every replica and its master afterwards, the declared
      tree kept; what the inventory must say).
  returned: when the checks passed
  type: dict
  sample: {master: db2, replicas: [db3], left_out: [db1], unreachable: [db1], tree: {db3: db2, db4: db3}}
relay_log_notes:
  description:
    - Replicas whose relay log ended in an incomplete transaction, and where they stopped; or (check C(relay_log)
      failed) the complete transactions a replica did not apply.
  returned: after a failover, and when the check relay_log failed
  type: dict
lost_transactions:
  description: With C(relay_log) forced, the transactions some replica received and no replica applied (lost).
  returned: when transactions were lost
  type: str
  sample: 0-1-1042
promoted_ms:
  description: Milliseconds from the start of the run until the new master was writable.
  returned: after a failover
  type: float
routed_ms:
  description: Milliseconds from the start of the run until the router sent the clients to the new master.
  returned: after a failover with a router whose promote phase succeeded
  type: float
routing:
  description: Every router call - C(phase), C(router), C(ok), C(ms), C(detail), C(old_master), C(new_master).
  returned: always
  type: list
  elements: dict
promoted:
  description: Whether a replica was made writable (past the point of no return).
  returned: always
  type: bool
state:
  description:
    - After a failure past the point of no return - C(writable), C(not_replicating) (server -> why), C(problems),
      C(router) (where the clients were routed) and C(summary).
  returned: on failure after the promotion
  type: dict
total_ms:
  description: Milliseconds for the whole run.
  returned: after a failover
  type: float
steps:
  description: What was done, with the time in ms since the start.
  returned: always
  type: list
  elements: dict
failed_repoints:
  description: Replicas that could not be made to replicate from the new master, with the reason.
  returned: on failure after the promotion
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.failover import DEFAULTS, FAILOVER_CHECKS, failover
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import promotion_argument_spec, run_promotion


# This module's own options, beside those it shares with the other promotion module (defaults: the library's).
OPTIONS = dict(
    master_connect_timeout=dict(type='int', default=DEFAULTS['master_connect_timeout']),
    relay_log_timeout=dict(type='float', default=DEFAULTS['relay_log_timeout']),
    stall_timeout=dict(type='float', default=DEFAULTS['stall_timeout']),
    catch_up_timeout=dict(type='float', default=DEFAULTS['catch_up_timeout']),
    verify_timeout=dict(type='float', default=DEFAULTS['verify_timeout']),
)


def main():
    module = AnsibleModule(argument_spec=argument_spec(**promotion_argument_spec(FAILOVER_CHECKS, **OPTIONS)),
                           supports_check_mode=True)
    run_promotion(module, failover, OPTIONS)


if __name__ == '__main__':
    main()
