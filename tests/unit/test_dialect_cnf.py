# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dialect row mysql_cnf adds: which variables are dynamic, per flavor and version."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import sql

from test_dialect_promote import expected

SYSTEM_VARIABLES = ('SELECT VARIABLE_NAME AS name, READ_ONLY AS read_only, VARIABLE_TYPE AS type, '
                    'GLOBAL_VALUE AS value FROM information_schema.SYSTEM_VARIABLES')
LOG_SETTINGS = ('SELECT @@GLOBAL.log_bin_basename AS binlog_basename, @@GLOBAL.relay_log_basename AS relay_log_basename, '
                '@@GLOBAL.datadir AS datadir')

# Picked up by test_dialect.py's coverage check: every key for every server.
CASES = [
    ('system_variables', {}, expected([ValueError] * 6, [SYSTEM_VARIABLES] * 4)),
    ('log_settings', {}, expected([LOG_SETTINGS] * 6, [LOG_SETTINGS + ', @@GLOBAL.gtid_domain_id AS gtid_domain_id'] * 4)),
]


def test_only_mariadb_says_which_variables_are_read_only():
    texts = CASES[0][2]
    assert [sql(f, 'system_variables') for f in texts if f.is_mariadb] == [SYSTEM_VARIABLES] * 4
    for flavor in [f for f in texts if not f.is_mariadb]:
        with pytest.raises(ValueError, match='not available on'):
            sql(flavor, 'system_variables')


def test_log_settings_are_read_the_same_way_everywhere():
    for flavor, text in CASES[1][2].items():
        assert sql(flavor, 'log_settings') == text
