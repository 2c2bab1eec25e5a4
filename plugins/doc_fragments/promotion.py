# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """What the promotion modules (mysql_switchover, mysql_failover) share beyond O(servers): routing the clients
    and how fast the repointed replicas reconnect.

    Paired with ``promotion.PROMOTION_OPTIONS`` and ``router.ROUTER_OPTION`` (the argument spec) and
    ``router.make_router`` (its meaning); the filter ``replicant.mysql.installations`` builds O(router) from the
    inventory (C(installation.router)).
    """

    DOCUMENTATION = r'''
options:
  router:
    description:
      - How the clients find the master (a proxy, a VIP, a DNS name), moved by the module itself at the right
        instants, each call bounded by O(router.timeout) and listed in RV(routing) with its milliseconds.
      - "Phases: C(demote) the instant the old master is read-only, before it is locked (switchover), C(promote) the instant the new
        master is writable and before any replica is repointed, C(undo) when a switchover is undone (back to the old
        master), C(failed) after a failure past the point of no return (to the server that is writable)."
      - A failing C(demote) undoes the switchover; a failing C(promote) does not (the new master stays the master),
        the module then fails after C(failed) and reports the exact state.
      - 'From the inventory: C(router: "{{ installation.router }}") (the variables C(replicant_router),
        C(replicant_haproxy_socket), C(replicant_haproxy_backend), C(replicant_haproxy_server),
        C(replicant_router_command), C(replicant_router_timeout)).'
      - In check mode the router is only checked (HAProxy is asked for the backend's servers), never moved.
    type: dict
    suboptions:
      type:
        description:
          - C(none) routes nothing (clients find the master themselves).
          - C(haproxy) uses HAProxy's runtime API on its admin socket (C(stats socket PATH level admin)) - the
            server clients must reach is set C(ready), every other server of the installation in the backend
            C(maint), and its sessions are shut down (C(shutdown sessions server)) so that no client keeps writing
            into a former master.
          - C(command) runs O(router.command) for each phase.
        type: str
        choices: [none, haproxy, command]
        default: none
      socket:
        description: The HAProxy admin socket (C(type=haproxy)); on the host the module runs on.
        type: path
      backend:
        description: The HAProxy backend (or C(listen) section) the clients write through (C(type=haproxy)).
        type: str
      server_names:
        description:
          - Inventory name -> server name in the HAProxy backend, for the servers whose names differ
            (C(replicant_haproxy_server)); default the inventory name.
        type: dict
      command:
        description:
          - The argv run for each phase (C(type=command)), without a shell, on the host the module runs on. Its
            environment has C(REPLICANT_ROUTER_PHASE), C(REPLICANT_PROMOTION), C(REPLICANT_ROUTE_TO) (the server
            clients must reach now; empty for C(demote)), C(REPLICANT_OLD_MASTER), C(REPLICANT_OLD_MASTER_HOST),
            C(REPLICANT_OLD_MASTER_PORT), C(REPLICANT_NEW_MASTER), C(REPLICANT_NEW_MASTER_HOST),
            C(REPLICANT_NEW_MASTER_PORT). A non-zero exit fails the phase.
        type: list
        elements: str
      timeout:
        description: Seconds one router call may take (the command is killed past it).
        type: float
        default: 2.0
  connect_retry:
    description:
      - Seconds a repointed replica waits between attempts to reconnect to its master (C(MASTER_CONNECT_RETRY),
        C(SOURCE_CONNECT_RETRY) on MySQL 8.0.23+); the server default is 60.
    type: int
    default: 3
  heartbeat_period:
    description:
      - Seconds between heartbeats from the new master to each repointed replica (C(MASTER_HEARTBEAT_PERIOD)), so
        that a replica notices a lost master fast; must be below the replicas' C(slave_net_timeout).
    type: float
    default: 2.0
'''
