#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_replication_user
short_description: Create or update the replication account with least privilege
description:
  - Creates the account replicas connect with, granting only C(REPLICATION SLAVE) (and, with
    O(monitoring), the privilege to read replication status - C(REPLICATION CLIENT) on MySQL,
    C(BINLOG MONITOR) and C(SLAVE MONITOR) on MariaDB 10.5 and later).
  - Idempotent from the server's state, password included (compared with the stored hash; on MySQL
    only C(mysql_native_password) hashes can be compared, other plugins get the password set again).
  - Runs with C(sql_log_bin) off, so creating the account on every server of an installation adds no
    transactions that only one server has (GTID replication would see those as errant).
  - The password is never logged and is masked in RV(statements) and in error messages.
  - Names and the password are quoted for the session's own C(sql_mode) (also with
    C(NO_BACKSLASH_ESCAPES)), so quotes, backticks, C(#), C(--) and non-ASCII characters in them are
    taken literally. Checked before anything runs - an empty O(user) or O(password), a NUL character, or a
    name longer than the server allows fail the task and nothing changes.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  user:
    description: Account name (at most 80 characters on MariaDB, 32 on MySQL; any character but NUL).
    type: str
    required: true
  host:
    description: Host pattern replicas connect from (e.g. C(10.0.0.%)); not empty, at most 255 characters.
    type: str
    default: '%'
  password:
    description: The account's password; must not be empty (UTF-8, any character but NUL).
    type: str
    required: true
  monitoring:
    description: Also grant the privilege to read replication status.
    type: bool
    default: false
  require_ssl:
    description:
      - V(true) lets the account connect over TLS only (C(REQUIRE SSL)); an account that already requires a
        client certificate is left as it is. V(false) lifts any TLS requirement (C(REQUIRE NONE)).
        Unset, the account's requirement is left as it is.
    type: bool
    version_added: 0.2.0
attributes:
  check_mode:
    support: full
    description: Reports the statements it would run; changes nothing.
seealso:
  - module: community.mysql.mysql_user
    description: General account management in community.mysql; this module does the one replication account.
'''

EXAMPLES = r'''
- name: Replication account on every server
  replicant.mysql.mysql_replication_user:
    login_unix_socket: /run/mysqld/mysqld.sock
    user: repl
    host: 10.0.0.%
    password: "{{ vault_repl_password }}"

- name: Replication account that connects over TLS only
  replicant.mysql.mysql_replication_user:
    login_unix_socket: /run/mysqld/mysqld.sock
    user: repl
    password: "{{ vault_repl_password }}"
    require_ssl: true
'''

RETURN = r'''
statements:
  description: Statements run (or that would run), the password masked.
  returned: always
  type: list
  elements: str
  sample: ["CREATE USER 'repl'@'10.0.0.%' IDENTIFIED BY '********'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'10.0.0.%'"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.accounts import ensure_replication_user
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module


def act(module, server):
    p = module.params
    changed, statements = ensure_replication_user(server, p['user'], p['host'], p['password'], p['monitoring'],
                                                  check_mode=module.check_mode, require_ssl=p['require_ssl'])
    return dict(changed=changed, statements=statements)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            user=dict(type='str', required=True),
            host=dict(type='str', default='%'),
            password=dict(type='str', required=True, no_log=True),
            monitoring=dict(type='bool', default=False),
            require_ssl=dict(type='bool'),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda server: act(module, server))


if __name__ == '__main__':
    main()
