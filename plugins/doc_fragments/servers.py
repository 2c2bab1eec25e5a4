# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The O(servers) option of the modules that talk to every server of an installation at once.

    Paired with ``instance.SERVERS_OPTION`` (the argument spec) and ``instance.instance_from_spec`` (its meaning);
    the filter ``replicant.mysql.installation`` builds it from the inventory.
    """

    DOCUMENTATION = r'''
options:
  servers:
    description:
      - 'The servers of one installation (see the filter P(replicant.mysql.installations#filter), which builds this
        list from the inventory: C(servers: "{{ installation.servers }}")).'
      - Each is reached at O(servers[].login_unix_socket), else at O(servers[].login_host)/O(servers[].login_port),
        else at its replication address O(servers[].host)/O(servers[].port).
      - The module's own O(login_user), O(login_password), O(config_file), timeouts and TLS options, and
        C(repl_user)/C(repl_password) where the module has them, apply to every server that does not set its own;
        the module's O(login_host), O(login_port) and O(login_unix_socket) are not used for these servers.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The server's inventory name.
        type: str
        required: true
      host:
        description:
          - The address other servers replicate from (C(replicant_host)).
          - Required by the promotion modules, which point replicas at it.
        type: str
      port:
        description: Its port (C(replicant_port)). Defaults to O(servers[].login_port), else 3306.
        type: int
      master:
        description:
          - The inventory name of the master the inventory declares for it (C(replicant_master)); none means the
            installation's master. The promotions keep this tree (a relay's replicas stay below their relay), and
            refuse declared masters that never lead to the installation's master.
        type: str
      role:
        description: Its place in the inventory (group C(mysql_master), C(mysql_replicas), C(mysql_spares)).
        type: str
        choices: [master, replica, spare]
      installation:
        description: The installation it belongs to (C(replicant_installation)); informational.
        type: str
      promotion:
        description: C(preferred) servers are elected first; C(excluded) ones are never promoted (C(replicant_promotion)).
        type: str
        choices: [preferred, neutral, excluded]
        default: neutral
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
      repl_user:
        description: Replication account that replicas of this server use; defaults to the module's C(repl_user) where it has one.
        type: str
      repl_password:
        description: Password of O(servers[].repl_user).
        type: str
      semisync:
        description:
          - The server's semi-synchronous replication settings (the inventory's C(replicant_semisync*) variables,
            docs/semisync.md), with the keys C(enabled) (bool), C(wait_point) (C(AFTER_SYNC) or C(AFTER_COMMIT)),
            C(timeout) (milliseconds) and C(wait_for_count) (MySQL).
          - The promotion and rejoin modules give the new master the master side and the other servers the replica
            side; mysql_topology_info reports a master that has it off or has fallen back to asynchronous replication.
            Without it semi-sync is left as it is.
        type: dict
      repl_ssl:
        description:
          - Whether replicas of this server connect to it over TLS (C(MASTER_SSL)). Implied by a file below; V(false)
            repoints replicas without TLS. Unset with no file, a repoint leaves a replica's TLS settings as they are.
        type: bool
      repl_ssl_ca:
        description:
          - CA that signed this server's certificate, as a path on its replicas' hosts (C(MASTER_SSL_CA)); the
            replicas then verify the certificate and its name against O(servers[].host) unless
            O(servers[].repl_ssl_verify_server_cert=false).
        type: str
      repl_ssl_cert:
        description: Client certificate its replicas present (C(MASTER_SSL_CERT)), a path on their hosts.
        type: str
      repl_ssl_key:
        description: Key of O(servers[].repl_ssl_cert) (C(MASTER_SSL_KEY)), a path on the replicas' hosts.
        type: str
      repl_ssl_verify_server_cert:
        description: Whether replicas verify this server's certificate (C(MASTER_SSL_VERIFY_SERVER_CERT)); default true with a CA.
        type: bool
      ca_cert:
        description: CA to verify this server with, for the module's own connection; defaults to O(ca_cert).
        type: path
      client_cert:
        description: Client certificate of the module's own connection; defaults to O(client_cert).
        type: path
      client_key:
        description: Key of O(servers[].client_cert); defaults to O(client_key).
        type: path
      check_hostname:
        description: Whether the module's own connection verifies the server's name; defaults to O(check_hostname).
        type: bool
'''
