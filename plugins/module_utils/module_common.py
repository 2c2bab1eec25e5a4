# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module of the collection shares: connection options and error handling."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.replicant.mysql.plugins.module_utils.server import (
    HAS_PYMYSQL, MISSING_PYMYSQL, ServerError, server_from_params)


def connection_argument_spec():
    """The options documented in the ``replicant.mysql.connection`` doc fragment."""
    return dict(
        login_host=dict(type='str'),
        login_port=dict(type='int', default=3306),
        login_user=dict(type='str'),
        login_password=dict(type='str', no_log=True),
        login_unix_socket=dict(type='str'),
        config_file=dict(type='path', default='~/.my.cnf'),
        connect_timeout=dict(type='int', default=10),
        read_timeout=dict(type='int'),
        ca_cert=dict(type='path', aliases=['ssl_ca']),
        client_cert=dict(type='path', aliases=['ssl_cert']),
        client_key=dict(type='path', aliases=['ssl_key'], no_log=False),
        check_hostname=dict(type='bool'),
    )


def argument_spec(**module_options):
    spec = connection_argument_spec()
    spec.update(module_options)
    return spec


def connect(module):
    """Return a connected Server for the module's options, or fail the module clearly."""
    if not HAS_PYMYSQL:
        module.fail_json(msg=MISSING_PYMYSQL)
    server = server_from_params(module.params)
    try:
        return server.connect()
    except ServerError as exc:
        module.fail_json(msg=str(exc))


def run_module(module, action):
    """Call ``action(server)`` -> result dict, turning ServerError/ValueError into a clean failure."""
    server = connect(module)
    try:
        result = action(server)
    except (ServerError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    finally:
        server.close()
    module.exit_json(**result)
