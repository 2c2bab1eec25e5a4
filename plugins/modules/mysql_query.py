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
    other does, and is not run in check mode. So does a reading statement with a side effect
    (C(INTO OUTFILE), C(INTO DUMPFILE), C(GET_LOCK()), C(RELEASE_LOCK()), sequence values, C(FOR UPDATE)).
  - "Like every connection of the collection, the session runs without C(NO_BACKSLASH_ESCAPES) (the rest of
    the server's C(sql_mode) is kept): a backslash in a literal of O(query) is an escape character. Values
    passed as arguments are quoted correctly either way."
  - Password literals (C(IDENTIFIED BY '...'), C(PASSWORD('...')), C(MASTER_PASSWORD = '...')) are masked
    in RV(executed) and in error messages; the server's quote of a failed statement that carries one is left out.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  query:
    description:
      - One statement (a string) or a list of statements.
      - A string is one statement even when it has commas in it.
    type: raw
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
    description:
      - Default database for the statements.
      - C(login_db) is the name community.mysql's M(community.mysql.mysql_query) uses for it.
    type: str
    aliases: [login_db]
attributes:
  check_mode:
    support: full
    description: Runs only statements that read; reports the others without running them.
seealso:
  - module: community.mysql.mysql_query
    description: The same job in community.mysql, with single transactions and session variables, and no check
      mode.
  - module: replicant.mysql.mysql_checksum
  - ref: ansible_collections.replicant.mysql.docsite.community_mysql
    description: Which module of replicant.mysql or community.mysql to use for what.
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
  description: The statements that ran (in check mode only the reading ones), password literals masked.
  returned: always
  type: list
  elements: str
executed_queries:
  description: The same as RV(executed), under the name community.mysql's M(community.mysql.mysql_query) uses.
  returned: always
  type: list
  elements: str
rowcount:
  description:
    - For each statement of O(query), in order, the number of rows it returned (statements that read, and others
      with a result) or changed (the others); 0 for a statement check mode did not run.
  returned: always
  type: list
  elements: int
  sample: [42, 1]
'''

import decimal
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import mask_statement, quote_identifier
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module

READS = ('select', 'show', 'describe', 'desc', 'explain', 'with')
# Reading statements that still change something: files written, locks taken, sequences advanced.
SIDE_EFFECTS = re.compile(r'(?i)\bINTO\s+(OUTFILE|DUMPFILE)\b|\b(GET_LOCK|RELEASE_LOCK|RELEASE_ALL_LOCKS|SETVAL|NEXTVAL)\s*\('
                          r'|\bNEXT\s+VALUE\s+FOR\b|\bFOR\s+UPDATE\b')


def only_reads(statement):
    """Whether a statement only reads (so it runs in check mode and is no change)."""
    words = statement.strip().split(None, 1)
    if not words:
        return True
    return words[0].lower() in READS and not SIDE_EFFECTS.search(statement)


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
    if p['database'] is not None:
        server.sql('USE %s' % quote_identifier(p['database']))
    results, executed, counts, changed = [], [], [], False
    for statement in statements(p['query']):
        reads = only_reads(statement)
        if not reads:
            changed = True
            if module.check_mode:
                results.append([])
                counts.append(0)
                continue
        rows = server.sql(statement, args if '%' in statement else None)
        results.append([{k: jsonable(v) for k, v in row.items()} for row in rows])
        # rows returned (a read, or a statement with a result such as SELECT ... FOR UPDATE), else rows changed
        counts.append(len(rows) if reads or rows else max(0, int(server.value('SELECT ROW_COUNT()') or 0)))
        executed.append(mask_statement(statement))
    return dict(changed=changed, query_result=results, executed=executed, executed_queries=list(executed),
                rowcount=counts)


def statements(query):
    """O(query) as a list of statements: a string is one statement, a list is taken as it is."""
    if isinstance(query, str):
        return [query]
    if isinstance(query, (list, tuple)) and all(isinstance(q, str) for q in query):
        return list(query)
    raise ValueError('query must be a statement (a string) or a list of statements, not %r' % (query,))


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            query=dict(type='raw', required=True),
            positional_args=dict(type='list', elements='raw'),
            named_args=dict(type='dict'),
            database=dict(type='str', aliases=['login_db']),
        ),
        mutually_exclusive=[('positional_args', 'named_args')],
        supports_check_mode=True,
    )
    run_module(module, lambda server: run(module, server))


if __name__ == '__main__':
    main()
