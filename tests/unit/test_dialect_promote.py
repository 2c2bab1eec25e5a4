# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dialect rows promote_master adds: exact statements per flavor and version."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import (
    Flavor, follow_options, former_master_statements, sql)

OLD_BINLOG_VARS = 'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates'
NEW_BINLOG_VARS = 'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_replica_updates AS log_replica_updates'
GTID_MODE = "SELECT @@GLOBAL.gtid_mode = 'ON' AS enabled"
SLAVE_POS_FROM_BINLOG = 'SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos'

# The servers of test_dialect.py (MySQL 5.7.44, 8.0.22, 8.0.23, 8.0.26, 8.4.0, 9.1.0; MariaDB 10.4.34,
# 10.5.2, 10.11.19, 11.4.3) -> the exact statement, or ValueError where the key does not exist.
MYSQL_VERSIONS = ['5.7.44', '8.0.22', '8.0.23', '8.0.26', '8.4.0', '9.1.0']
MARIADB_VERSIONS = ['10.4.34', '10.5.2', '10.11.19', '11.4.3']


def expected(mysql, mariadb):
    out = {Flavor('mysql', v): text for v, text in zip(MYSQL_VERSIONS, mysql)}
    out.update({Flavor('mariadb', v): text for v, text in zip(MARIADB_VERSIONS, mariadb)})
    return out


# Picked up by test_dialect.py's coverage check: every key for every server.
CASES = [
    ('binlog_settings', {}, expected([OLD_BINLOG_VARS] * 3 + [NEW_BINLOG_VARS] * 3, [OLD_BINLOG_VARS] * 4)),
    ('gtid_enabled', {}, expected([GTID_MODE] * 6, ['SELECT 1 AS enabled'] * 4)),
    ('gtid_slave_pos_from_binlog', {}, expected([ValueError] * 6, [SLAVE_POS_FROM_BINLOG] * 4)),
]


@pytest.mark.parametrize('key, kwargs, texts', CASES, ids=[c[0] for c in CASES])
def test_cases(key, kwargs, texts):
    for flavor, text in texts.items():
        if text is ValueError:
            with pytest.raises(ValueError, match='not available on'):
                sql(flavor, key, **kwargs)
        else:
            assert sql(flavor, key, **kwargs) == text, flavor


@pytest.mark.parametrize('flavor, version, expected', [
    ('mysql', '5.7.44', OLD_BINLOG_VARS),
    ('mysql', '8.0.25', OLD_BINLOG_VARS),
    ('mysql', '8.0.26', NEW_BINLOG_VARS),
    ('mysql', '8.4.0', NEW_BINLOG_VARS),
    ('mysql', '9.1.0', NEW_BINLOG_VARS),
    ('mariadb', '10.4.34', OLD_BINLOG_VARS),
    ('mariadb', '10.11.19', OLD_BINLOG_VARS),
    ('mariadb', '11.4.3', OLD_BINLOG_VARS),
])
def test_binlog_settings(flavor, version, expected):
    assert sql(Flavor(flavor, version), 'binlog_settings') == expected


@pytest.mark.parametrize('flavor, version, expected', [
    ('mysql', '5.7.44', "SELECT @@GLOBAL.gtid_mode = 'ON' AS enabled"),
    ('mysql', '8.4.0', "SELECT @@GLOBAL.gtid_mode = 'ON' AS enabled"),
    ('mariadb', '10.4.34', 'SELECT 1 AS enabled'),
    ('mariadb', '11.4.3', 'SELECT 1 AS enabled'),
])
def test_gtid_enabled(flavor, version, expected):
    assert sql(Flavor(flavor, version), 'gtid_enabled') == expected


def test_former_master_takes_its_binlog_position_on_mariadb_only():
    for version in ('10.4.34', '10.11.19', '11.4.3'):
        assert former_master_statements(Flavor('mariadb', version)) == [
            'SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos']
    for version in ('5.7.44', '8.0.36', '8.4.0'):
        assert former_master_statements(Flavor('mysql', version)) == []
        with pytest.raises(ValueError, match='not available'):
            sql(Flavor('mysql', version), 'gtid_slave_pos_from_binlog')


@pytest.mark.parametrize('flavor, version, gtid, expected', [
    ('mariadb', '10.11.19', True,
     "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3306, MASTER_USER = 'repl', "
     "MASTER_PASSWORD = 'pw', MASTER_USE_GTID = slave_pos"),
    ('mariadb', '10.11.19', False,
     "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3306, MASTER_USER = 'repl', "
     "MASTER_PASSWORD = 'pw', MASTER_LOG_FILE = 'binlog.000007', MASTER_LOG_POS = 1234, MASTER_USE_GTID = no"),
    ('mysql', '5.7.44', True,
     "CHANGE MASTER TO MASTER_HOST = '10.0.0.2', MASTER_PORT = 3306, MASTER_USER = 'repl', "
     "MASTER_PASSWORD = 'pw', MASTER_AUTO_POSITION = 1"),
    ('mysql', '8.0.23', True,
     "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '10.0.0.2', SOURCE_PORT = 3306, SOURCE_USER = 'repl', "
     "SOURCE_PASSWORD = 'pw', SOURCE_AUTO_POSITION = 1"),
    ('mysql', '8.4.0', False,
     "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '10.0.0.2', SOURCE_PORT = 3306, SOURCE_USER = 'repl', "
     "SOURCE_PASSWORD = 'pw', SOURCE_LOG_FILE = 'binlog.000007', SOURCE_LOG_POS = 1234, SOURCE_AUTO_POSITION = 0"),
])
def test_follow_a_new_master(flavor, version, gtid, expected):
    f = Flavor(flavor, version)
    options = dict(master_host='10.0.0.2', master_port=3306, master_user='repl', master_password='pw')
    options.update(follow_options(f, gtid=gtid))
    if not gtid:
        options.update(master_log_file='binlog.000007', master_log_pos=1234)
    assert sql(f, 'change_master', options=options) == expected


def test_follow_options_are_copies():
    f = Flavor('mariadb', '10.11.19')
    follow_options(f)['master_use_gtid'] = 'current_pos'
    assert follow_options(f) == {'master_use_gtid': 'slave_pos'}
