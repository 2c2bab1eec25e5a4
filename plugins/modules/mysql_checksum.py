#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_checksum
short_description: Compare the checksums of every table of two servers at the same GTID position
description:
  - Verifies a clone (or any replica, the server of the connection options) against its source (the other
    server). Both are brought to one GTID position
    (replicas stop there with C(START SLAVE UNTIL); when O(other_is_master) the source is read-locked with
    C(FLUSH TABLES WITH READ LOCK) instead while its tables are checksummed), every user table gets a
    C(CHECKSUM TABLE) on both, and the replicas are started again - whatever happens.
  - The replica is reached with the usual connection options, the source with the C(other_*) ones.
  - Only reads; it fails when a table differs (unless O(fail_on_difference=false)).
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  other_host:
    description: Address of the other server.
    type: str
  other_port:
    description: Port of the other server.
    type: int
    default: 3306
  other_unix_socket:
    description: Socket of the other server (when it is on the same host).
    type: str
  other_user:
    description: Account on the other server; default O(login_user).
    type: str
  other_password:
    description: Password on the other server; default O(login_password).
    type: str
  other_is_master:
    description: The other server (the source) is the master; it gets a read lock while checksummed, instead of being stopped.
    type: bool
    default: false
  timeout:
    description: Seconds to reach the common position, and to wait for the read lock.
    type: int
    default: 120
  fail_on_difference:
    description: Fail when a table differs.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Runs as usual; it only reads (it stops and restarts replication on replicas).
'''

EXAMPLES = r'''
- name: Compare the new replica with its source
  replicant.mysql.mysql_checksum:
    login_unix_socket: /run/mysqld/mysqld.sock
    other_host: 10.0.0.12
    other_port: 3306
'''

RETURN = r'''
match:
  description: Whether every table has the same checksum.
  returned: always
  type: bool
differences:
  description: Tables whose checksums differ (or that exist on one side only).
  returned: always
  type: list
  elements: str
tables:
  description: Number of tables compared.
  returned: always
  type: int
gtid:
  description: The GTID position at which both were compared.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.clone import compare_checksums
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server


def act(module, server):
    p = module.params
    other = Server(host=p['other_host'], port=p['other_port'], unix_socket=p['other_unix_socket'],
                   user=p['other_user'] or p['login_user'], password=p['other_password'] or p['login_password'],
                   connect_timeout=p['connect_timeout']).connect()
    try:
        result = compare_checksums(other, server, source_is_master=p['other_is_master'], timeout=p['timeout'])
    finally:
        other.close()
    if p['fail_on_difference'] and not result['match']:
        module.fail_json(msg='%s and %s differ at %s in: %s' % (server, other, result['gtid'], ', '.join(result['differences'])),
                         **result)
    return dict(changed=False, **result)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            other_host=dict(type='str'),
            other_port=dict(type='int', default=3306),
            other_unix_socket=dict(type='str'),
            other_user=dict(type='str'),
            other_password=dict(type='str', no_log=True),
            other_is_master=dict(type='bool', default=False),
            timeout=dict(type='int', default=120),
            fail_on_difference=dict(type='bool', default=True),
        ),
        required_one_of=[('other_host', 'other_unix_socket')],
        supports_check_mode=True,
    )
    run_module(module, lambda server: act(module, server))


if __name__ == '__main__':
    main()
