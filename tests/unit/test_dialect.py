# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import os
import sys

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import dialect
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import (
    Flavor, normalize_replica_status, quote_identifier, quote_string, sql, wait_succeeded)

MYSQL_SERVERS = ['5.7.44', '8.0.22', '8.0.23', '8.0.26', '8.4.0', '9.1.0']
MARIADB_SERVERS = ['10.4.34', '10.5.2', '10.11.19', '11.4.3']
SERVERS = [Flavor('mysql', v) for v in MYSQL_SERVERS] + [Flavor('mariadb', v) for v in MARIADB_SERVERS]
UNAVAILABLE = ValueError


def mysql(*texts):
    """Expected statements for MYSQL_SERVERS, in that order."""
    assert len(texts) == len(MYSQL_SERVERS)
    return dict(zip(SERVERS[:6], texts))


def mariadb(*texts):
    """Expected statements for MARIADB_SERVERS, in that order."""
    assert len(texts) == len(MARIADB_SERVERS)
    return dict(zip(SERVERS[6:], texts))


def every(*texts):
    expected = mysql(*texts[:6])
    expected.update(mariadb(*texts[6:]))
    return expected


GTID_MY = '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5'
MY_OPTIONS = dict(master_host='db1.example.com', master_port=3306, master_user='repl',
                  master_password='a\'b"c\\d', master_auto_position=True, master_ssl=True,
                  master_ssl_ca='/etc/ssl/ca.pem', master_ssl_verify_server_cert=False,
                  master_heartbeat_period=1.5, master_connect_retry=10, master_delay=0, master_ssl_key=None)
MA_OPTIONS = dict(master_use_gtid='slave_pos', master_password='pw', master_host='db1', master_port=3307,
                  master_user='repl', master_delay=3600)
MY_CHANGE_OLD = ("CHANGE MASTER TO MASTER_HOST = 'db1.example.com', MASTER_PORT = 3306, MASTER_USER = 'repl', "
                 "MASTER_PASSWORD = 'a\\'b\\\"c\\\\d', MASTER_AUTO_POSITION = 1, MASTER_SSL = 1, "
                 "MASTER_SSL_CA = '/etc/ssl/ca.pem', MASTER_SSL_VERIFY_SERVER_CERT = 0, "
                 "MASTER_HEARTBEAT_PERIOD = 1.5, MASTER_CONNECT_RETRY = 10, MASTER_DELAY = 0")
MY_CHANGE_NEW = ("CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'db1.example.com', SOURCE_PORT = 3306, "
                 "SOURCE_USER = 'repl', SOURCE_PASSWORD = 'a\\'b\\\"c\\\\d', SOURCE_AUTO_POSITION = 1, SOURCE_SSL = 1, "
                 "SOURCE_SSL_CA = '/etc/ssl/ca.pem', SOURCE_SSL_VERIFY_SERVER_CERT = 0, "
                 "SOURCE_HEARTBEAT_PERIOD = 1.5, SOURCE_CONNECT_RETRY = 10, SOURCE_DELAY = 0")
MA_CHANGE = ("MASTER_HOST = 'db1', MASTER_PORT = 3307, MASTER_USER = 'repl', MASTER_PASSWORD = 'pw', "
             "MASTER_USE_GTID = slave_pos, MASTER_DELAY = 3600")

CASES = [
    ('start_replica', {}, every(
        'START SLAVE', 'START REPLICA', 'START REPLICA', 'START REPLICA', 'START REPLICA', 'START REPLICA',
        'START SLAVE', 'START SLAVE', 'START SLAVE', 'START SLAVE')),
    ('start_replica', dict(thread='io', channel='ch1'), every(
        "START SLAVE IO_THREAD FOR CHANNEL 'ch1'", "START REPLICA IO_THREAD FOR CHANNEL 'ch1'",
        "START REPLICA IO_THREAD FOR CHANNEL 'ch1'", "START REPLICA IO_THREAD FOR CHANNEL 'ch1'",
        "START REPLICA IO_THREAD FOR CHANNEL 'ch1'", "START REPLICA IO_THREAD FOR CHANNEL 'ch1'",
        "START SLAVE 'ch1' IO_THREAD", "START SLAVE 'ch1' IO_THREAD", "START SLAVE 'ch1' IO_THREAD",
        "START SLAVE 'ch1' IO_THREAD")),
    ('stop_replica', dict(thread='sql'), every(
        'STOP SLAVE SQL_THREAD', 'STOP REPLICA SQL_THREAD', 'STOP REPLICA SQL_THREAD', 'STOP REPLICA SQL_THREAD',
        'STOP REPLICA SQL_THREAD', 'STOP REPLICA SQL_THREAD',
        'STOP SLAVE SQL_THREAD', 'STOP SLAVE SQL_THREAD', 'STOP SLAVE SQL_THREAD', 'STOP SLAVE SQL_THREAD')),
    ('stop_replica', dict(thread='io', channel='ch1'), every(
        "STOP SLAVE IO_THREAD FOR CHANNEL 'ch1'", "STOP REPLICA IO_THREAD FOR CHANNEL 'ch1'",
        "STOP REPLICA IO_THREAD FOR CHANNEL 'ch1'", "STOP REPLICA IO_THREAD FOR CHANNEL 'ch1'",
        "STOP REPLICA IO_THREAD FOR CHANNEL 'ch1'", "STOP REPLICA IO_THREAD FOR CHANNEL 'ch1'",
        "STOP SLAVE 'ch1' IO_THREAD", "STOP SLAVE 'ch1' IO_THREAD", "STOP SLAVE 'ch1' IO_THREAD",
        "STOP SLAVE 'ch1' IO_THREAD")),
    ('stop_replica', dict(channel=''), every(
        'STOP SLAVE', 'STOP REPLICA', 'STOP REPLICA', 'STOP REPLICA', 'STOP REPLICA', 'STOP REPLICA',
        'STOP SLAVE', 'STOP SLAVE', 'STOP SLAVE', 'STOP SLAVE')),
    ('reset_replica', {}, every(
        'RESET SLAVE', 'RESET REPLICA', 'RESET REPLICA', 'RESET REPLICA', 'RESET REPLICA', 'RESET REPLICA',
        'RESET SLAVE', 'RESET SLAVE', 'RESET SLAVE', 'RESET SLAVE')),
    ('reset_replica', dict(all=True, channel='ch1'), every(
        "RESET SLAVE ALL FOR CHANNEL 'ch1'", "RESET REPLICA ALL FOR CHANNEL 'ch1'",
        "RESET REPLICA ALL FOR CHANNEL 'ch1'", "RESET REPLICA ALL FOR CHANNEL 'ch1'",
        "RESET REPLICA ALL FOR CHANNEL 'ch1'", "RESET REPLICA ALL FOR CHANNEL 'ch1'",
        "RESET SLAVE 'ch1' ALL", "RESET SLAVE 'ch1' ALL", "RESET SLAVE 'ch1' ALL", "RESET SLAVE 'ch1' ALL")),
    ('show_replica_status', {}, every(
        'SHOW SLAVE STATUS', 'SHOW REPLICA STATUS', 'SHOW REPLICA STATUS', 'SHOW REPLICA STATUS',
        'SHOW REPLICA STATUS', 'SHOW REPLICA STATUS',
        'SHOW SLAVE STATUS', 'SHOW SLAVE STATUS', 'SHOW SLAVE STATUS', 'SHOW SLAVE STATUS')),
    ('show_replica_status', dict(channel='ch1'), every(
        "SHOW SLAVE STATUS FOR CHANNEL 'ch1'", "SHOW REPLICA STATUS FOR CHANNEL 'ch1'",
        "SHOW REPLICA STATUS FOR CHANNEL 'ch1'", "SHOW REPLICA STATUS FOR CHANNEL 'ch1'",
        "SHOW REPLICA STATUS FOR CHANNEL 'ch1'", "SHOW REPLICA STATUS FOR CHANNEL 'ch1'",
        "SHOW SLAVE 'ch1' STATUS", "SHOW SLAVE 'ch1' STATUS", "SHOW SLAVE 'ch1' STATUS", "SHOW SLAVE 'ch1' STATUS")),
    ('show_master_status', {}, every(
        'SHOW MASTER STATUS', 'SHOW MASTER STATUS', 'SHOW MASTER STATUS', 'SHOW MASTER STATUS',
        'SHOW BINARY LOG STATUS', 'SHOW BINARY LOG STATUS',
        'SHOW MASTER STATUS', 'SHOW BINLOG STATUS', 'SHOW BINLOG STATUS', 'SHOW BINLOG STATUS')),
    ('reset_master', {}, every(
        'RESET MASTER', 'RESET MASTER', 'RESET MASTER', 'RESET MASTER',
        'RESET BINARY LOGS AND GTIDS', 'RESET BINARY LOGS AND GTIDS',
        'RESET MASTER', 'RESET MASTER', 'RESET MASTER', 'RESET MASTER')),
    ('show_replicas', {}, every(
        'SHOW SLAVE HOSTS', 'SHOW REPLICAS', 'SHOW REPLICAS', 'SHOW REPLICAS', 'SHOW REPLICAS', 'SHOW REPLICAS',
        'SHOW SLAVE HOSTS', 'SHOW SLAVE HOSTS', 'SHOW SLAVE HOSTS', 'SHOW SLAVE HOSTS')),
    ('pos_wait', dict(file='mysql-bin.000003', pos=1234, timeout=5), every(
        "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)", "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)",
        "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)", "SELECT SOURCE_POS_WAIT('mysql-bin.000003', 1234, 5)",
        "SELECT SOURCE_POS_WAIT('mysql-bin.000003', 1234, 5)", "SELECT SOURCE_POS_WAIT('mysql-bin.000003', 1234, 5)",
        "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)", "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)",
        "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)", "SELECT MASTER_POS_WAIT('mysql-bin.000003', 1234, 5)")),
    ('pos_wait', dict(file='b.000001', pos=4, timeout=0.5, channel='ch1'), every(
        "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')", "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')",
        "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')", "SELECT SOURCE_POS_WAIT('b.000001', 4, 0.5, 'ch1')",
        "SELECT SOURCE_POS_WAIT('b.000001', 4, 0.5, 'ch1')", "SELECT SOURCE_POS_WAIT('b.000001', 4, 0.5, 'ch1')",
        "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')", "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')",
        "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')", "SELECT MASTER_POS_WAIT('b.000001', 4, 0.5, 'ch1')")),
    ('gtid_wait', dict(gtid=GTID_MY, timeout=5), mysql(*["SELECT WAIT_FOR_EXECUTED_GTID_SET('%s', 5)" % GTID_MY] * 6)),
    ('gtid_wait', dict(gtid='0-1-5,1-2-7', timeout=5), mariadb(*["SELECT MASTER_GTID_WAIT('0-1-5,1-2-7', 5)"] * 4)),
    ('gtid_executed', {}, every(*['SELECT @@GLOBAL.gtid_executed'] * 6 + ['SELECT @@GLOBAL.gtid_binlog_pos'] * 4)),
    ('gtid_current_pos', {}, every(*['SELECT @@GLOBAL.gtid_executed'] * 6 + ['SELECT @@GLOBAL.gtid_current_pos'] * 4)),
    ('gtid_slave_pos', {}, every(*[UNAVAILABLE] * 6 + ['SELECT @@GLOBAL.gtid_slave_pos'] * 4)),
    ('set_global', dict(name='read-only', value=True), every(*['SET GLOBAL read_only = ON'] * 10)),
    ('set_global', dict(name='binlog_format', value='row'), every(*["SET GLOBAL binlog_format = 'row'"] * 10)),
    ('set_global', dict(name='server_id', value='7'), every(*['SET GLOBAL server_id = 7'] * 10)),
    ('get_global', dict(name='server_id'), every(*['SELECT @@GLOBAL.server_id AS value'] * 10)),
    ('user_exists', dict(user="r'e", host='10.%'),
     every(*["SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'r\\'e' AND Host = '10.%'"] * 10)),
    ('password_matches', dict(user='repl', host='%', password='p'), every(
        *["SELECT authentication_string = CONCAT('*', UPPER(SHA1(UNHEX(SHA1('p'))))) AS ok "
          "FROM mysql.user WHERE User = 'repl' AND Host = '%'"] * 6 +
        ["SELECT authentication_string = PASSWORD('p') AS ok FROM mysql.user WHERE User = 'repl' AND Host = '%'"] * 4)),
    ('create_user', dict(user='repl', host='%', password='a"b'), every(*["CREATE USER 'repl'@'%' IDENTIFIED BY 'a\\\"b'"] * 10)),
    ('set_password', dict(user='repl', host='%', password='x'), every(*["ALTER USER 'repl'@'%' IDENTIFIED BY 'x'"] * 10)),
    ('show_grants', dict(user='repl', host='%'), every(*["SHOW GRANTS FOR 'repl'@'%'"] * 10)),
    ('grant', dict(user='repl', host='%', privileges=['replication slave', 'REPLICATION CLIENT']),
     every(*["GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%'"] * 10)),
    ('replication_privileges', {}, every(*['REPLICATION SLAVE'] * 10)),
    ('monitoring_privileges', {}, every(*['REPLICATION CLIENT'] * 7 + ['BINLOG MONITOR'] + ['BINLOG MONITOR, SLAVE MONITOR'] * 2)),
    ('sql_log_bin', dict(on=False), every(*['SET SESSION sql_log_bin = OFF'] * 10)),
    ('set_gtid_slave_pos', dict(gtid='0-1-5'), every(
        *["SET GLOBAL gtid_purged = '0-1-5'"] * 6 + ["SET GLOBAL gtid_slave_pos = '0-1-5'"] * 4)),
    ('start_replica_until_gtid', dict(gtid='0-1-5'), every(
        "START SLAVE SQL_THREAD UNTIL SQL_AFTER_GTIDS = '0-1-5'",
        *["START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS = '0-1-5'"] * 5 +
        ["START SLAVE UNTIL master_gtid_pos = '0-1-5'"] * 4)),
    ('checksum_tables', dict(tables=[('shop', 'orders'), ('a`b', 't')]),
     every(*['CHECKSUM TABLE `shop`.`orders`, `a``b`.`t`'] * 10)),
    ('user_tables', {}, every(*["SELECT table_schema AS db, table_name AS name FROM information_schema.tables WHERE "
                                "table_type = 'BASE TABLE' AND table_schema NOT IN "
                                "('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant') ORDER BY 1, 2"] * 10)),
    ('persist_global', dict(name='read_only', value='on'), every(
        *[UNAVAILABLE] + ['SET PERSIST read_only = ON'] * 5 + [UNAVAILABLE] * 4)),
    ('server_identity', {}, every(
        *['SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid'] * 6
        + ['SELECT @@GLOBAL.server_id AS server_id'] * 4)),
    ('set_read_only', dict(on=True), every(
        *['SET GLOBAL super_read_only = ON'] * 6 + ['SET GLOBAL read_only = ON'] * 4)),
    ('set_read_only', dict(on=False), every(*['SET GLOBAL read_only = OFF'] * 10)),
    ('set_writable_until', dict(until=1765000000.5), every(
        *["SET GLOBAL read_only = IF(UNIX_TIMESTAMP(NOW(6)) < 1765000000.500000, 'OFF', 'past_the_deadline')"] * 10)),
    ('read_only_vars', {}, every(
        *['SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only'] * 6
        + ['SELECT @@GLOBAL.read_only AS read_only'] * 4)),
    ('change_master', dict(options=MY_OPTIONS), mysql(
        MY_CHANGE_OLD, MY_CHANGE_OLD, MY_CHANGE_NEW, MY_CHANGE_NEW, MY_CHANGE_NEW, MY_CHANGE_NEW)),
    ('change_master', dict(options=dict(master_log_file='mysql-bin.000003', master_log_pos=4), channel='ch1'), mysql(
        "CHANGE MASTER TO MASTER_LOG_FILE = 'mysql-bin.000003', MASTER_LOG_POS = 4 FOR CHANNEL 'ch1'",
        "CHANGE MASTER TO MASTER_LOG_FILE = 'mysql-bin.000003', MASTER_LOG_POS = 4 FOR CHANNEL 'ch1'",
        "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = 'mysql-bin.000003', SOURCE_LOG_POS = 4 FOR CHANNEL 'ch1'",
        "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = 'mysql-bin.000003', SOURCE_LOG_POS = 4 FOR CHANNEL 'ch1'",
        "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = 'mysql-bin.000003', SOURCE_LOG_POS = 4 FOR CHANNEL 'ch1'",
        "CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE = 'mysql-bin.000003', SOURCE_LOG_POS = 4 FOR CHANNEL 'ch1'")),
    ('change_master', dict(options=MA_OPTIONS), mariadb(*['CHANGE MASTER TO ' + MA_CHANGE] * 4)),
    ('change_master', dict(options=MA_OPTIONS, channel='ch1'), mariadb(*["CHANGE MASTER 'ch1' TO " + MA_CHANGE] * 4)),
]


def _expand(cases):
    for key, kwargs, expected in cases:
        for flavor, text in expected.items():
            label = '%s-%s' % (key, str(flavor).replace(' ', '-'))
            yield pytest.param(flavor, key, kwargs, text, id=label)


@pytest.mark.parametrize('flavor,key,kwargs,expected', list(_expand(CASES)))
def test_statement_text(flavor, key, kwargs, expected):
    if expected is UNAVAILABLE:
        with pytest.raises(ValueError, match='not available on'):
            sql(flavor, key, **kwargs)
    else:
        assert sql(flavor, key, **kwargs) == expected


def all_cases():
    """CASES of this file and of every tests/unit/test_dialect_<topic>.py beside it."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    cases = list(CASES)
    for name in sorted(os.listdir(here)):
        if name.startswith('test_dialect_') and name.endswith('.py'):
            cases.extend(getattr(importlib.import_module(name[:-3]), 'CASES', []))
    return cases


@pytest.mark.parametrize('key', sorted(dialect.ARGUMENTS))
def test_every_key_is_covered_for_every_server(key):
    covered = set()
    for case_key, _kwargs, expected in all_cases():
        if case_key == key:
            covered.update(expected)
    assert covered == set(SERVERS)


def test_every_key_has_rows_for_both_flavors():
    for key in dialect.ARGUMENTS:
        flavors = {row.flavor for row in dialect.STATEMENTS if row.key == key}
        only = dialect.ONE_FLAVOR_KEYS
        assert flavors == ({only[key]} if key in only else {'mysql', 'mariadb'}), key


def test_version_boundaries():
    assert sql(Flavor('mysql', '8.0.21'), 'start_replica') == 'START SLAVE'
    assert sql(Flavor('mysql', '8.0.22'), 'change_master', options={'master_delay': 1}) == \
        'CHANGE MASTER TO MASTER_DELAY = 1'
    assert sql(Flavor('mysql', '8.0.25'), 'pos_wait', file='f', pos=1, timeout=1) == "SELECT MASTER_POS_WAIT('f', 1, 1)"
    assert sql(Flavor('mysql', '8.1.0'), 'show_master_status') == 'SHOW MASTER STATUS'
    assert sql(Flavor('mysql', '8.2.0'), 'show_master_status') == 'SHOW BINARY LOG STATUS'
    assert sql(Flavor('mariadb', '10.5.1'), 'show_master_status') == 'SHOW MASTER STATUS'


def test_mask_password():
    flavor = Flavor('mysql', '8.4.0')
    options = dict(master_host='h', master_password='secret')
    assert sql(flavor, 'change_master', options=options, mask=True) == \
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST = 'h', SOURCE_PASSWORD = '********'"
    assert 'secret' in sql(flavor, 'change_master', options=options)


@pytest.mark.parametrize('flavor,options,message', [
    (Flavor('mysql', '8.0.36'), {'master_use_gtid': 'slave_pos'}, "'master_use_gtid' is not valid on MySQL 8.0.36"),
    (Flavor('mysql', '5.7.44'), {'master_use_gtid': 'current_pos'}, "'master_use_gtid' is not valid on MySQL"),
    (Flavor('mariadb', '10.11.19'), {'master_auto_position': True}, "'master_auto_position' is not valid on MariaDB"),
    (Flavor('mariadb', '10.11.19'), {'master_bogus': 1}, "unknown change_master option 'master_bogus'"),
    (Flavor('mysql', '8.4.0'), {'source_host': 'x'}, "unknown change_master option 'source_host'"),
    (Flavor('mariadb', '10.11.19'), {'master_use_gtid': 'yes'}, 'master_use_gtid must be one of'),
    (Flavor('mysql', '8.4.0'), {'master_port': '3306'}, 'master_port must be a port number'),
    (Flavor('mariadb', '10.11.19'), {'master_port': 0}, 'master_port must be a port number'),
    (Flavor('mariadb', '10.11.19'), {'master_host': ''}, 'master_host must be a host name'),
    (Flavor('mariadb', '10.11.19'), {'master_host': 'a b'}, 'master_host must be a host name'),
    (Flavor('mariadb', '10.11.19'), {'master_host': 'db1\nx'}, 'must not hold a newline'),
    (Flavor('mariadb', '10.11.19'), {'master_log_file': 'binlog.000001\x00'}, 'must not hold a newline, NUL'),
    (Flavor('mariadb', '10.11.19'), {'master_password': 'a\x00b'}, 'NUL'),
    (Flavor('mariadb', '10.11.19'), {'master_connect_retry': 0}, 'master_connect_retry must be a number >= 1'),
    (Flavor('mariadb', '10.11.19'), {'master_heartbeat_period': 4294968}, 'from 0 to 4294967'),
    (Flavor('mysql', '8.4.0'), {'master_port': 70000}, 'master_port must be a port'),
    (Flavor('mysql', '8.4.0'), {'master_log_pos': -1}, 'master_log_pos must be a number >= 0'),
    (Flavor('mysql', '8.4.0'), {'master_delay': True}, 'master_delay must be a number'),
    (Flavor('mysql', '8.4.0'), {'master_heartbeat_period': float('nan')}, 'master_heartbeat_period'),
    (Flavor('mysql', '8.4.0'), {'master_ssl': 'yes'}, 'master_ssl must be a boolean'),
    (Flavor('mysql', '8.4.0'), {'master_host': 5}, 'master_host must be a string'),
    (Flavor('mysql', '8.4.0'), {'master_host': None}, 'at least one option'),
    (Flavor('mysql', '8.4.0'), {}, 'at least one option'),
])
def test_change_master_errors(flavor, options, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(')):
        sql(flavor, 'change_master', options=options)


def test_change_master_use_gtid_keyword_is_unquoted_and_lower_case():
    assert sql(Flavor('mariadb', '10.4.34'), 'change_master', options={'master_use_gtid': 'Current_Pos'}) == \
        'CHANGE MASTER TO MASTER_USE_GTID = current_pos'


def test_sql_argument_errors():
    flavor = Flavor('mysql', '8.0.36')
    with pytest.raises(ValueError, match='unknown statement'):
        sql(flavor, 'drop_everything')
    with pytest.raises(TypeError, match='thread'):
        sql(flavor, 'show_master_status', thread='io')
    with pytest.raises(TypeError, match='timeout'):
        sql(flavor, 'pos_wait', file='f', pos=4)
    with pytest.raises(ValueError, match='thread'):
        sql(flavor, 'start_replica', thread='both')
    with pytest.raises(ValueError, match='on must be a boolean'):
        sql(flavor, 'set_read_only', on='yes')
    assert sql(flavor, 'start_replica', thread='SQL', channel=None) == 'START REPLICA SQL_THREAD'


def test_channel_names_are_quoted():
    assert sql(Flavor('mysql', '8.4.0'), 'start_replica', channel="it's") == "START REPLICA FOR CHANNEL 'it\\'s'"
    assert sql(Flavor('mariadb', '11.4.3'), 'start_replica', channel="it's") == "START SLAVE 'it\\'s'"


# -- wait results --------------------------------------------------------------------------------
@pytest.mark.parametrize('name,key,value,ok', [
    ('mysql', 'pos_wait', 0, True), ('mysql', 'pos_wait', 12, True), ('mysql', 'pos_wait', -1, False),
    ('mysql', 'pos_wait', None, False), ('mariadb', 'pos_wait', 3, True), ('mariadb', 'pos_wait', -1, False),
    ('mysql', 'gtid_wait', 0, True), ('mysql', 'gtid_wait', 1, False), ('mysql', 'gtid_wait', None, False),
    ('mariadb', 'gtid_wait', 0, True), ('mariadb', 'gtid_wait', -1, False),
])
def test_wait_succeeded(name, key, value, ok):
    assert wait_succeeded(Flavor(name, '10.11.19' if name == 'mariadb' else '8.0.36'), key, value) is ok


def test_wait_succeeded_rejects_other_keys():
    with pytest.raises(ValueError):
        wait_succeeded(Flavor('mysql', '8.0.36'), 'start_replica', 0)


# -- flavors -------------------------------------------------------------------------------------
@pytest.mark.parametrize('version,comment,name,numbers,text', [
    ('10.11.19-MariaDB-0+deb12u1', 'Debian 12', 'mariadb', (10, 11, 19), 'MariaDB 10.11.19'),
    ('8.0.36', 'MySQL Community Server - GPL', 'mysql', (8, 0, 36), 'MySQL 8.0.36'),
    ('8.0.36-28', 'Percona Server (GPL), Release 28, Revision 47601f19', 'mysql', (8, 0, 36), 'MySQL 8.0.36'),
    ('5.5.5-10.11.6-MariaDB', '', 'mariadb', (10, 11, 6), 'MariaDB 10.11.6'),
    ('11.4.3-MariaDB-log', '', 'mariadb', (11, 4, 3), 'MariaDB 11.4.3'),
    ('10.6.18', 'mariadb.org binary distribution', 'mariadb', (10, 6, 18), 'MariaDB 10.6.18'),
    ('5.7.44-log', 'MySQL Community Server (GPL)', 'mysql', (5, 7, 44), 'MySQL 5.7.44'),
    ('9.1.0', None, 'mysql', (9, 1, 0), 'MySQL 9.1.0'),
])
def test_flavor_from_server(version, comment, name, numbers, text):
    flavor = Flavor.from_server(version, comment)
    assert (flavor.name, flavor.version, str(flavor)) == (name, numbers, text)
    assert flavor.is_mariadb == (name == 'mariadb') and flavor.is_mysql == (name == 'mysql')


def test_flavor_constructor():
    assert Flavor('mysql', '8.0.23') == Flavor('MySQL', (8, 0, 23)) == Flavor('mysql', [8, 0, 23])
    assert Flavor('mysql', (8, 4)).version == (8, 4, 0)
    assert Flavor('mysql', '8.4').version == (8, 4, 0)
    assert Flavor('mysql', '8.0.23') != Flavor('mariadb', '8.0.23')
    assert repr(Flavor('mariadb', '10.11.19')) == "Flavor('mariadb', '10.11.19')"
    assert len({Flavor('mysql', '8.0.23'), Flavor('mysql', (8, 0, 23))}) == 1
    bad = [('oracle', '8.0'), ('mysql', 'eight'), ('mysql', ()), ('mysql', (1, 2, 3, 4)), ('mysql', None)]
    for name, version in bad:
        with pytest.raises(ValueError):
            Flavor(name, version)


# -- quoting -------------------------------------------------------------------------------------
@pytest.mark.parametrize('value,literal', [
    ('plain', "'plain'"),
    ('a\'b"c\\d', "'a\\'b\\\"c\\\\d'"),
    ('nul\0nl\ncr\rsub\x1a', "'nul\\0nl\\ncr\\rsub\\Z'"),
    ('', "''"),
    ('p\u00e4ss', "'p\u00e4ss'"),
])
def test_quote_string(value, literal):
    assert quote_string(value) == literal


def _unquote(literal):
    """What the server reads from a literal made by quote_string (backslash escapes)."""
    escapes = {'0': '\0', 'n': '\n', 'r': '\r', 'Z': '\x1a'}
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        if body[i] == '\\':
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            assert body[i] != "'"
            out.append(body[i])
            i += 1
    return ''.join(out)


@pytest.mark.parametrize('password', ['a\'b"c\\d', "'; DROP TABLE t; --", '\\\'', 'x\0\n\r\x1ay'])
def test_password_round_trips(password):
    assert _unquote(quote_string(password)) == password


def test_quote_errors_and_identifiers():
    with pytest.raises(TypeError):
        quote_string(5)
    assert quote_identifier('my`db') == '`my``db`'
    assert quote_identifier('t') == '`t`'
    for bad in ('', 'a\0b', None):
        with pytest.raises(ValueError):
            quote_identifier(bad)


# -- SHOW SLAVE / REPLICA STATUS -----------------------------------------------------------------
STATUS_KEYS = ['master_host', 'master_port', 'master_user', 'io_running', 'sql_running', 'io_running_ok',
               'sql_running_ok', 'seconds_behind', 'master_log_file', 'read_master_log_pos', 'relay_master_log_file',
               'exec_master_log_pos', 'last_io_errno', 'last_io_error', 'last_sql_errno', 'last_sql_error',
               'master_server_id', 'master_uuid', 'auto_position', 'using_gtid', 'gtid_io_pos', 'executed_gtid_set',
               'sql_delay', 'io_state', 'channel', 'connect_retry', 'ssl', 'ssl_ca', 'ssl_cert', 'ssl_key',
               'ssl_verify_server_cert', 'sql_state']
NO_TLS_FILES = dict(ssl_ca='', ssl_cert='', ssl_key='', ssl_verify_server_cert=False)

MARIADB_ROW = {
    'Connection_name': '', 'Connection_name_ignored': None, 'Slave_SQL_State': 'Slave has read all relay log',
    'Slave_IO_State': 'Waiting for master to send event', 'Master_Host': '10.0.0.1', 'Master_User': 'repl',
    'Master_Port': 3306, 'Connect_Retry': 60, 'Master_Log_File': 'mariadb-bin.000012',
    'Read_Master_Log_Pos': 4711, 'Relay_Log_File': 'relay-bin.000003', 'Relay_Log_Pos': 900,
    'Relay_Master_Log_File': 'mariadb-bin.000012', 'Slave_IO_Running': 'Yes', 'Slave_SQL_Running': 'Yes',
    'Last_Errno': 0, 'Last_Error': '', 'Skip_Counter': 0, 'Exec_Master_Log_Pos': 4711,
    'Seconds_Behind_Master': 0, 'Master_SSL_Allowed': 'No', 'Last_IO_Errno': 0, 'Last_IO_Error': '',
    'Last_SQL_Errno': 0, 'Last_SQL_Error': '', 'Master_Server_Id': 1, 'Using_Gtid': 'Slave_Pos',
    'Gtid_IO_Pos': '0-1-1234', 'Parallel_Mode': 'optimistic', 'SQL_Delay': 0, 'SQL_Remaining_Delay': None,
    'Slave_SQL_Running_State': 'Slave has read all relay log; waiting for more updates',
    'Slave_DDL_Groups': 3, 'Gtid_Slave_Pos': '0-1-1234',
}

MYSQL57_ROW = {
    'Slave_IO_State': 'Connecting to master', 'Master_Host': 'db1', 'Master_User': 'repl', 'Master_Port': 3306,
    'Connect_Retry': 60, 'Master_Log_File': 'mysql-bin.000003', 'Read_Master_Log_Pos': 154,
    'Relay_Log_File': 'relay.000001', 'Relay_Log_Pos': 4, 'Relay_Master_Log_File': 'mysql-bin.000003',
    'Slave_IO_Running': 'Connecting', 'Slave_SQL_Running': 'Yes', 'Exec_Master_Log_Pos': 154,
    'Seconds_Behind_Master': None, 'Master_SSL_Allowed': 'Yes', 'Last_IO_Errno': 1045,
    'Last_IO_Error': "error connecting to master 'repl@db1:3306' - retry-time: 60  retries: 1",
    'Last_SQL_Errno': 0, 'Last_SQL_Error': '', 'Master_Server_Id': 0, 'Master_UUID': '', 'SQL_Delay': 0,
    'Retrieved_Gtid_Set': '', 'Executed_Gtid_Set': '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n'
                                                   'b5a2e3c4-0f1d-11ef-8a3b-0242ac120002:1-2',
    'Auto_Position': 0, 'Channel_Name': '',
}

MYSQL8_ROW = {
    'Replica_IO_State': 'Waiting for source to send event', 'Source_Host': 'db1', 'Source_User': 'repl',
    'Source_Port': 3306, 'Connect_Retry': 10, 'Source_Log_File': 'binlog.000007', 'Read_Source_Log_Pos': 197,
    'Relay_Log_File': 'relay.000002', 'Relay_Log_Pos': 373, 'Relay_Source_Log_File': 'binlog.000007',
    'Replica_IO_Running': 'Yes', 'Replica_SQL_Running': 'Yes', 'Exec_Source_Log_Pos': 197,
    'Seconds_Behind_Source': 0, 'Source_SSL_Allowed': 'Yes', 'Last_IO_Errno': 0, 'Last_IO_Error': '',
    'Last_SQL_Errno': 0, 'Last_SQL_Error': '', 'Source_Server_Id': 1,
    'Source_UUID': '3e11fa47-71ca-11e1-9e33-c80aa9429562', 'SQL_Delay': 30,
    'Replica_SQL_Running_State': 'Replica has read all relay log; waiting for more updates',
    'Retrieved_Gtid_Set': '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9',
    'Executed_Gtid_Set': '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9', 'Auto_Position': 1, 'Channel_Name': 'ch1',
}


def test_normalize_mariadb_row():
    status = normalize_replica_status(Flavor('mariadb', '10.11.19'), MARIADB_ROW)
    assert list(status) == STATUS_KEYS
    assert status == dict(
        master_host='10.0.0.1', master_port=3306, master_user='repl', io_running='Yes', sql_running='Yes',
        io_running_ok=True, sql_running_ok=True, seconds_behind=0, master_log_file='mariadb-bin.000012',
        read_master_log_pos=4711, relay_master_log_file='mariadb-bin.000012', exec_master_log_pos=4711,
        last_io_errno=0, last_io_error='', last_sql_errno=0, last_sql_error='', master_server_id=1,
        master_uuid=None, auto_position=None, using_gtid='Slave_Pos', gtid_io_pos='0-1-1234',
        executed_gtid_set='0-1-1234', sql_delay=0, io_state='Waiting for master to send event', channel='',
        connect_retry=60, ssl=False, **NO_TLS_FILES, sql_state='Slave has read all relay log; waiting for more updates')


def test_normalize_mariadb_row_without_gtid_slave_pos():
    row = dict(MARIADB_ROW, Connection_name='east', Seconds_Behind_Master=None, Slave_IO_Running='No')
    del row['Gtid_Slave_Pos']
    status = normalize_replica_status(Flavor('mariadb', '10.4.34'), row)
    assert (status['executed_gtid_set'], status['channel'], status['seconds_behind']) == (None, 'east', None)
    assert (status['io_running'], status['io_running_ok']) == ('No', False)


def test_normalize_old_mysql_row():
    status = normalize_replica_status(Flavor('mysql', '5.7.44'), MYSQL57_ROW)
    assert list(status) == STATUS_KEYS
    assert status == dict(
        master_host='db1', master_port=3306, master_user='repl', io_running='Connecting', sql_running='Yes',
        io_running_ok=False, sql_running_ok=True, seconds_behind=None, master_log_file='mysql-bin.000003',
        read_master_log_pos=154, relay_master_log_file='mysql-bin.000003', exec_master_log_pos=154,
        last_io_errno=1045, last_io_error=MYSQL57_ROW['Last_IO_Error'], last_sql_errno=0, last_sql_error='',
        master_server_id=0, master_uuid='', auto_position=False, using_gtid=None, gtid_io_pos='',
        executed_gtid_set='3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,b5a2e3c4-0f1d-11ef-8a3b-0242ac120002:1-2',
        sql_delay=0, io_state='Connecting to master', channel='', connect_retry=60, ssl=True, **NO_TLS_FILES, sql_state=None)


def test_normalize_new_mysql_row():
    status = normalize_replica_status(Flavor('mysql', '8.4.0'), MYSQL8_ROW)
    assert status == dict(
        master_host='db1', master_port=3306, master_user='repl', io_running='Yes', sql_running='Yes',
        io_running_ok=True, sql_running_ok=True, seconds_behind=0, master_log_file='binlog.000007',
        read_master_log_pos=197, relay_master_log_file='binlog.000007', exec_master_log_pos=197,
        last_io_errno=0, last_io_error='', last_sql_errno=0, last_sql_error='', master_server_id=1,
        master_uuid='3e11fa47-71ca-11e1-9e33-c80aa9429562', auto_position=True, using_gtid=None,
        gtid_io_pos='3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9',
        executed_gtid_set='3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9', sql_delay=30,
        io_state='Waiting for source to send event', channel='ch1', connect_retry=10, ssl=True, **NO_TLS_FILES,
        sql_state='Replica has read all relay log; waiting for more updates')
