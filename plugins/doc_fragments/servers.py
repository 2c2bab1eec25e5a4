# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The O(servers) option of the modules that talk to every server of an installation at once."""

    # mysql_switchover, mysql_failover
    PROMOTION = r'''
options:
  servers:
    description:
      - Every server of the installation, the (current or failed) master included. The module's own O(login_user),
        O(login_password), ... and O(repl_user), O(repl_password) apply to the entries that leave them out.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the server (its inventory name).
        type: str
        required: true
      host:
        description: Address other servers replicate from (C(replicant_host)).
        type: str
        required: true
      port:
        description: Port other servers replicate from (C(replicant_port)).
        type: int
        default: 3306
      login_host:
        description: Address the module connects to; unset uses O(servers[].login_unix_socket).
        type: str
      login_port:
        description: Port the module connects to.
        type: int
      login_user:
        description: Administrative account.
        type: str
      login_password:
        description: Password of O(servers[].login_user).
        type: str
      login_unix_socket:
        description: Socket of a server on the host the module runs on.
        type: str
      repl_user:
        description: Replication account that replicas of this server use.
        type: str
      repl_password:
        description: Password of O(servers[].repl_user).
        type: str
      promotion:
        description: C(preferred) servers are elected first; C(excluded) ones are never promoted.
        type: str
        choices: [preferred, neutral, excluded]
        default: neutral
'''

    # mysql_topology_info, mysql_relocate
    TOPOLOGY = r'''
options:
  servers:
    description:
      - The servers of the inventory. Each is reached at O(servers[].login_unix_socket), else at
        O(servers[].login_host)/O(servers[].login_port), else at its replication address
        O(servers[].host)/O(servers[].port).
      - The module's own O(login_user), O(login_password), O(config_file), timeouts and TLS
        options apply to every server that does not set its own; the module's O(login_host),
        O(login_port) and O(login_unix_socket) are not used.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The server's inventory name.
        type: str
        required: true
      host:
        description: The address other servers replicate from (C(replicant_host)).
        type: str
      port:
        description: Its port (C(replicant_port)). Defaults to O(servers[].login_port), else 3306.
        type: int
      master:
        description: The inventory name of the master the inventory declares for it (C(replicant_master)).
        type: str
      role:
        description: The inventory group it is in; C(master) declares it the (one writable) master.
        type: str
        choices: [master, replica, spare]
      login_host:
        description: Address to connect to, when not O(servers[].host).
        type: str
      login_port:
        description: Port to connect to with O(servers[].login_host).
        type: int
      login_unix_socket:
        description: Socket to connect to (only for servers on the host the module runs on).
        type: str
      login_user:
        description: Account to connect as; defaults to O(login_user).
        type: str
      login_password:
        description: Password of O(servers[].login_user); defaults to O(login_password).
        type: str
'''
