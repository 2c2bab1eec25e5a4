#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_query
short_description: Run SQL on a server and get the rows back
description:
  - The per-server "run SQL, get rows back" primitive. Runs the statements in O(query) in order on one
    connection and returns the rows of each.
  - Values are passed to the server as parameters (O(named_args) or O(positional_args)), never pasted into
    the SQL text, so quotes in them are safe.
  - A statement that only reads (SELECT, SHOW, DESCRIBE, EXPLAIN, WITH) does not count as a change; any
    other does, and is not run in check mode.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  query:
    description: One statement or a list of statements.
    type: list
    elements: str
    required: true
  positional_args:
    description:
      - Values for C(%s) placeholders, given to every statement that has a C(%) in it (write C(%%) for
        a literal C(%) there). Statements without C(%) run as they are.
    type: list
    elements: raw
  named_args:
    description: Values for C(%(name)s) placeholders, given like O(positional_args).
    type: dict
  database:
    description: Default database for the statements.
    type: str
attributes:
  check_mode:
    support: full
    description: Runs only statements that read; reports the others without running them.
'''

EXAMPLES = r'''
- name: Count rows on a replica
  replicant.mysql.mysql_query:
    login_unix_socket: /run/mysqld/mysqld.sock
    query: SELECT COUNT(*) AS n FROM shop.orders
  register: count

- name: Insert safely quoted values
  replicant.mysql.mysql_query:
    login_host: db1
    query:
      - CREATE TABLE IF NOT EXISTS ops.notes (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT)
      - INSERT INTO ops.notes (note) VALUES (%(note)s)
    named_args:
      note: "It's \"quoted\""
'''

RETURN = r'''
query_result:
  description: The rows of each statement (a list of lists of dicts), in order.
  returned: always
  type: list
  elements: list
  sample: [[{"n": 42}]]
executed:
  description: The statements that ran (in check mode only the reading ones).
  returned: always
  type: list
  elements: str
'''

import decimal

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module

READS = ('select', 'show', 'describe', 'desc', 'explain', 'with')


def jsonable(value):
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def run(module, server):
    p = module.params
    args = p['named_args'] if p['named_args'] is not None else p['positional_args']
    if p['database']:
        server.sql('USE `%s`' % p['database'].replace('`', '``'))
    results, executed, changed = [], [], False
    for statement in p['query']:
        reads = statement.strip().split(None, 1)[0].lower() in READS if statement.strip() else True
        if not reads:
            changed = True
            if module.check_mode:
                results.append([])
                continue
        results.append([{k: jsonable(v) for k, v in row.items()} for row in server.sql(statement, args if '%' in statement else None)])
        executed.append(statement)
    return dict(changed=changed, query_result=results, executed=executed)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            query=dict(type='list', elements='str', required=True),
            positional_args=dict(type='list', elements='raw'),
            named_args=dict(type='dict'),
            database=dict(type='str'),
        ),
        mutually_exclusive=[('positional_args', 'named_args')],
        supports_check_mode=True,
    )
    run_module(module, lambda server: run(module, server))


if __name__ == '__main__':
    main()
