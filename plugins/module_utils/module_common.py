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
    check_ranges(module)
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


# What a whole number of seconds, a count of threads or of servers may be (the modules' options).
RANGES = dict(timeout=(1, 86400), wait_timeout=(0.001, 86400), verify_timeout=(0.001, 86400),
              lock_wait_timeout=(1, 3600), relay_log_timeout=(0.001, 86400), stall_timeout=(0.001, 86400),
              catch_up_timeout=(0.001, 86400), master_connect_timeout=(1, 3600), lag_threshold=(0, 31536000),
              max_lag=(0, 31536000), long_transaction=(0, 31536000), workers=(1, 256), max_servers=(1, 100000),
              space_margin=(0, 1000), connect_retry=(1, 86400), heartbeat_period=(0, 4294967), streams=(1, 256),
              bandwidth=(0, 1000000))


def range_problems(params, names=None):
    """Messages for the options among ``names`` (default: every one in RANGES) whose value is out of range."""
    problems = []
    for name in names or RANGES:
        value = params.get(name)
        if value is None or name not in RANGES:
            continue
        low, high = RANGES[name]
        if isinstance(value, bool) or not low <= value <= high:
            problems.append('%s must be from %s to %s, not %r' % (name, low, high, value))
    return problems


def check_ranges(module, names=None):
    """Fail the module, before anything runs, when an option is out of range (the messages name each)."""
    problems = range_problems(module.params, names)
    if problems:
        module.fail_json(msg='; '.join(problems) + '; nothing was done')
