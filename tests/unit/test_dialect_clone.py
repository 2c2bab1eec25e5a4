# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dialect.py statements of clone_slave's parallel logical copy (collected by test_dialect.all_cases)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from test_dialect import every

CASES = [
    ('table_sizes', {}, every(*["SELECT table_schema AS db, table_name AS name, table_type AS type, "
                                "COALESCE(data_length, 0) + COALESCE(index_length, 0) AS bytes FROM information_schema.tables "
                                "WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"] * 10)),
    ('open_transactions', {}, every(*["SELECT t.trx_mysql_thread_id AS id FROM information_schema.innodb_trx t "
                                      "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                                      "WHERE p.user = SUBSTRING_INDEX(USER(), '@', 1) AND p.id <> CONNECTION_ID()"] * 10)),
]
