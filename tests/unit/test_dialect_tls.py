# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dialect.py statements of the replication account's TLS requirement (collected by test_dialect.all_cases)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from test_dialect import every

CASES = [
    ('account_ssl_type', dict(user='repl', host='%'),
     every(*["SELECT ssl_type FROM mysql.user WHERE User = 'repl' AND Host = '%'"] * 10)),
    ('require_ssl', dict(user='repl', host='10.%', on=True), every(*["ALTER USER 'repl'@'10.%' REQUIRE SSL"] * 10)),
    ('require_ssl', dict(user='repl', host='%', on=False), every(*["ALTER USER 'repl'@'%' REQUIRE NONE"] * 10)),
]
