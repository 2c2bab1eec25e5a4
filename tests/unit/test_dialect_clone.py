# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dialect.py statements of clone_slave's parallel logical copy (collected by test_dialect.all_cases)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from test_dialect import every

from ansible_collections.replicant.mysql.plugins.module_utils import dialect

CASES = [
    ('table_sizes', {}, every(*["SELECT table_schema AS db, table_name AS name, table_type AS type, "
                                "COALESCE(data_length, 0) + COALESCE(index_length, 0) AS bytes FROM information_schema.tables "
                                "WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"] * 10)),
    ('open_transactions', {}, every(*["SELECT t.trx_mysql_thread_id AS id FROM information_schema.innodb_trx t "
                                      "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                                      "WHERE p.user = SUBSTRING_INDEX(USER(), '@', 1) AND p.id <> CONNECTION_ID()"] * 10)),
    # mysql_checksum's chunks of large tables
    ('chunkable_tables', {}, every(*[dialect._CHUNKABLE_TABLES] * 10)),  # pylint: disable=protected-access
    ('table_columns', dict(db='shop', name='big'), every(*[
        "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'shop' AND table_name = 'big' "
        "ORDER BY ordinal_position"] * 10)),
    ('key_bounds', dict(db='shop', name='big', column='id'), every(*[
        'SELECT MIN(`id`) AS lo, MAX(`id`) AS hi FROM `shop`.`big`'] * 10)),
    ('checksum_chunk', dict(db='shop', name='big', column='id', columns=['id', 'pad'], lo=100, hi=200), every(*[
        "SELECT COUNT(*) AS n, COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(CONCAT_WS('#', `id`, `pad`, CONCAT(ISNULL(`id`), "
        "ISNULL(`pad`)))), 16), 16, 10) AS UNSIGNED)), 0) AS crc FROM `shop`.`big` WHERE `id` > 100 AND `id` <= 200"] * 10)),
]


@pytest.mark.parametrize('key', ['table_columns', 'key_bounds', 'checksum_chunk'])
def test_checksum_chunk_statements(key):
    for case_key, kwargs, expected in CASES:
        if case_key == key:
            for flavor, text in expected.items():
                assert dialect.sql(flavor, key, **kwargs) == text


def test_chunk_ranges_cover_every_key_in_about_equal_widths():
    from ansible_collections.replicant.mysql.plugins.module_utils.clone import chunk_ranges
    assert chunk_ranges(1, 100, 4) == [(None, 25), (25, 50), (50, 75), (75, None)]
    assert chunk_ranges(-50, 50, 2) == [(None, 0), (0, None)]
    # too few keys, one chunk, or an empty table: the whole table in one range
    assert chunk_ranges(1, 3, 4) == [(None, None)]
    assert chunk_ranges(1, 100, 1) == [(None, None)]
    assert chunk_ranges(None, None, 4) == [(None, None)]
    ranges = chunk_ranges(0, 10 ** 12, 7)
    assert len(ranges) == 7 and all(lo < hi for lo, hi in ranges[1:-1])


def test_checksum_chunk_statement_quotes_and_bounds():
    flavor = dialect.Flavor('mariadb', (10, 11, 6))
    text = dialect.sql(flavor, 'checksum_chunk', db='sh`op', name='big', column='id', columns=['id', 'pad'], lo=-5, hi=10)
    assert 'FROM `sh``op`.`big` WHERE `id` > -5 AND `id` <= 10' in text
    assert "CONCAT_WS('#', `id`, `pad`, CONCAT(ISNULL(`id`), ISNULL(`pad`)))" in text
    assert dialect.sql(flavor, 'checksum_chunk', db='s', name='t', column='id', columns=['id']).endswith('WHERE TRUE')
    assert dialect.sql(flavor, 'table_columns', db="o'k", name='t').endswith("table_schema = 'o\\'k' AND table_name = 't' "
                                                                             "ORDER BY ordinal_position")
    with pytest.raises(ValueError):
        dialect.sql(flavor, 'checksum_chunk', db='s', name='t', column='id', columns=['id'], lo='1; DROP TABLE x')
