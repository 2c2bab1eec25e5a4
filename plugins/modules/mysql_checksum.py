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
  - Both servers checksum at the same time, each through O(parallel) connections that take its tables one after
    the other, so the comparison costs about the time of the larger side's tables spread over O(parallel) threads;
    RV(seconds) reports it.
  - A table larger than O(chunk_size) MB whose primary key is one integer column is split into key ranges of about
    that size, which the connections share (row count and XOR of 64-bit row hashes per range, instead of
    C(CHECKSUM TABLE)), so that one large table does not keep one connection busy while the others wait; a difference
    then names the range (C(db.table rows id > 1000 and id <= 2000)).
  - The replica is reached with the usual connection options, the source with the C(other_*) ones; the TLS
    options (O(ca_cert), O(client_cert), O(client_key), O(check_hostname)) apply to both.
  - With O(compare_definitions) (clone_slave sets it) it also compares, at that position, every account and role (its
    C(SHOW CREATE USER) and its sorted C(SHOW GRANTS) - authentication, limits, privileges, roles, default role) and
    every routine, event, trigger and view of the user schemas (C(SHOW CREATE), an event disabled on a replica
    counting as enabled); RV(differences) names each one that differs or is on one side only.
  - Only reads; it fails when a table or a definition differs (unless O(fail_on_difference=false)).
  - O(timeout) must be from 1 to 86400 seconds; O(other_port) a port number; O(parallel) and O(chunk_size) in their
    ranges. All are checked before either server is touched.
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
    description: Fail when a table or a definition differs.
    type: bool
    default: true
  compare_definitions:
    description:
      - Also compare the accounts, roles and grants, and the routines, events, triggers and views of the user schemas.
      - Off by default, as before - servers set up one by one often differ in accounts each got on its own (list
        those in O(skip_accounts)).
    type: bool
    default: false
  skip_accounts:
    description:
      - Accounts (C(user@host), as in C(repl@%)) O(compare_definitions) leaves out - those each server gets on its own,
        such as the replication account M(replicant.mysql.mysql_replication_user) makes outside the binary log.
    type: list
    elements: str
    default: []
  parallel:
    description: Connections per server that share the checksums (1 to 64).
    type: int
    default: 2
    version_added: 0.4.0
  chunk_size:
    description:
      - Megabytes (data and indexes, as C(information_schema.tables) estimates them) above which a table with a
        one-column integer primary key is checksummed in key ranges of about this size (at most 256 ranges); 1 to
        1048576.
    type: int
    default: 256
    version_added: 0.4.0
attributes:
  check_mode:
    support: full
    description:
      - Takes no lock and stops no replication. It lists the tables it would compare on both servers
        (RV(would_compare), RV(only_on_one_side)) and the positions it would start from; RV(match) is null.
seealso:
  - module: replicant.mysql.mysql_clone_copy
  - module: replicant.mysql.mysql_query
'''

EXAMPLES = r'''
- name: Compare the new replica with its source
  replicant.mysql.mysql_checksum:
    login_unix_socket: /run/mysqld/mysqld.sock
    other_host: 10.0.0.12
    other_port: 3306

- name: The same on a server with a few large tables, eight connections per server sharing 64 MB chunks
  replicant.mysql.mysql_checksum:
    login_unix_socket: /run/mysqld/mysqld.sock
    other_host: 10.0.0.12
    parallel: 8
    chunk_size: 64
'''

RETURN = r'''
match:
  description: Whether every table has the same checksum (null in check mode, where nothing is compared).
  returned: always
  type: bool
would_compare:
  description: In check mode, the tables (C(db.table)) both servers have, that a run would checksum.
  returned: in check mode
  type: list
  elements: str
only_on_one_side:
  description: In check mode, the tables that exist on one server only (a run reports them as differences).
  returned: in check mode
  type: list
  elements: str
positions:
  description: In check mode, the GTID positions of both servers now (keys C(this), C(other)).
  returned: in check mode
  type: dict
differences:
  description:
    - Tables whose checksums differ (or that exist on one side only), as C(db.table), or the key range of a table
      checksummed in chunks (C(db.table rows id > 1000 and id <= 2000)); then the definitions that differ
      (or exist on one side only), as C(account 'user'@'host'), C(role 'name'), C(procedure `db`.`name`),
      C(function ...), C(event ...), C(trigger ...), C(view ...).
  returned: always
  type: list
  elements: str
tables:
  description: Number of tables compared.
  returned: always
  type: int
chunks:
  description: Number of key ranges the large tables were checksummed in (0 when no table was larger than O(chunk_size)).
  returned: success, not in check mode
  type: int
  version_added: 0.4.0
objects:
  description: Number of accounts, roles, routines, events, triggers and views of the other server compared
    (0 without O(compare_definitions)).
  returned: success, not in check mode
  type: int
seconds:
  description: How long the checksums took (both servers at once), apart from bringing them to one position.
  returned: success, not in check mode
  type: float
gtid:
  description: The GTID position at which both were compared.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.clone import compare_checksums
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_master_pos, fetch_slave_pos
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server


def _tables(server):
    return {'%s.%s' % (row['db'], row['name']) for row in server.run('user_tables')}


def _gtid(server, is_master):
    try:
        return fetch_master_pos(server)['gtid_executed'] if is_master else fetch_slave_pos(server)['gtid']
    except Exception as exc:  # a plan must not fail on a position it only shows
        return 'unknown (%s)' % exc


def plan(server, other, other_is_master):
    """What a run would compare, read without any lock or stop."""
    mine, theirs = _tables(server), _tables(other)
    both = sorted(mine & theirs)
    return dict(changed=False, match=None, differences=[], tables=len(both), would_compare=both,
                only_on_one_side=sorted(mine ^ theirs), gtid='',
                positions=dict(this=_gtid(server, False), other=_gtid(other, other_is_master)),
                msg='would %s %s, stop %s at one GTID position and checksum %d tables on both'
                    % ('read-lock' if other_is_master else 'stop replication on', other,
                       server, len(both)))


def act(module, server):
    p = module.params
    other = Server(host=p['other_host'], port=p['other_port'], unix_socket=p['other_unix_socket'],
                   user=p['other_user'] or p['login_user'], password=p['other_password'] or p['login_password'],
                   connect_timeout=p['connect_timeout'], ssl_ca=p['ca_cert'], ssl_cert=p['client_cert'],
                   ssl_key=p['client_key'], check_hostname=p['check_hostname']).connect()
    try:
        if module.check_mode:
            return plan(server, other, p['other_is_master'])
        result = compare_checksums(other, server, source_is_master=p['other_is_master'], timeout=p['timeout'],
                                   compare_definitions=p['compare_definitions'], skip_accounts=p['skip_accounts'],
                                   parallel=p['parallel'], chunk_bytes=p['chunk_size'] << 20)
    finally:
        other.close()
    if p['fail_on_difference'] and not result['match']:
        module.fail_json(msg='%s and %s differ at %s in: %s' % (server, other, result['gtid'], ', '.join(result['differences'][:20])),
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
            compare_definitions=dict(type='bool', default=False),
            skip_accounts=dict(type='list', elements='str', default=[]),
            parallel=dict(type='int', default=2),
            chunk_size=dict(type='int', default=256),
        ),
        required_one_of=[('other_host', 'other_unix_socket')],
        supports_check_mode=True,
    )
    p = module.params
    if isinstance(p['timeout'], bool) or not 1 <= p['timeout'] <= 86400:
        module.fail_json(msg='timeout must be a whole number of seconds from 1 to 86400, not %r; nothing was done'
                         % (p['timeout'],))
    for name, top in (('parallel', 64), ('chunk_size', 1048576)):
        if isinstance(p[name], bool) or not 1 <= p[name] <= top:
            module.fail_json(msg='%s must be a whole number from 1 to %d, not %r; nothing was done' % (name, top, p[name]))
    if not 1 <= p['other_port'] <= 65535:
        module.fail_json(msg='other_port must be a port number (1 to 65535), not %r; nothing was done' % (p['other_port'],))
    run_module(module, lambda server: act(module, server))


if __name__ == '__main__':
    main()
