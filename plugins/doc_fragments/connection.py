# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options shared by every replicant.mysql module."""

    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host name or address of the server. Leave unset to use O(login_unix_socket)
        (or the default socket of the client library).
    type: str
  login_port:
    description: TCP port of the server, used with O(login_host).
    type: int
    default: 3306
  login_user:
    description:
      - Account to connect as. Unset takes the user from O(config_file).
    type: str
  login_password:
    description:
      - Password of O(login_user). Never logged. Prefer O(config_file) so that it does not
        appear in inventories.
    type: str
  login_unix_socket:
    description: Path of the server's unix socket, for a server on the same host as the module.
    type: str
  config_file:
    description:
      - A my.cnf-style client option file whose C([client]) section supplies defaults
        (user, password, host, port, socket, and TLS - C(ssl-ca), C(ssl-capath), C(ssl-cert), C(ssl-key),
        C(ssl-cipher), C(ssl), C(ssl-verify-server-cert), C(skip-ssl)); the module's own options win.
        Ignored when the file does not exist.
    type: path
    default: ~/.my.cnf
  connect_timeout:
    description:
      - Seconds to wait for the connection to be established, and again for the handshake and login. A
        server that accepts connections but does not answer (hung, stopped) fails within twice this.
    type: int
    default: 10
  read_timeout:
    description:
      - Seconds to wait for each read and each write of one statement (a reply, or the server taking the
        statement). Unset, the modules that act on a list of C(servers) (promotions, relocation, topology) wait 30 s;
        the others as long as the server needs.
    type: int
  ca_cert:
    description: CA certificate to verify the server with; setting any TLS option turns TLS on.
    type: path
    aliases: [ssl_ca]
  client_cert:
    description: Client certificate for TLS.
    type: path
    aliases: [ssl_cert]
  client_key:
    description: Private key of O(client_cert).
    type: path
    aliases: [ssl_key]
  check_hostname:
    description:
      - Whether TLS verifies that the server's certificate matches O(login_host) (with O(ca_cert); by default it
        does). Setting it, to either value, turns TLS on, as O(ca_cert) does.
      - Without any TLS option (here or in O(config_file)) the connection is plaintext.
    type: bool
requirements:
  - PyMySQL on the host the module runs on.
notes:
  - Supports MariaDB 10.4 and later and MySQL 5.7 and later (Percona Server counts as MySQL).
    MariaDB 10.11 is exercised against live servers by the collection's tests; MySQL syntax is
    covered by unit tests of the exact statements.
'''
