"""plugins/module_utils/binlog_tail.py: finding a dead master's binary log files, the replica to recover into,
what arrived, and the private client option file."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import binlog_tail
from ansible_collections.replicant.mysql.plugins.module_utils.binlog_tail import TailError
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance

MARIADB = Flavor('mariadb', '10.11.19')


def write(path, text):
    with open(str(path), 'w') as handle:
        handle.write(text)


def test_binlog_files_come_from_the_one_index_that_is_not_a_relay_logs(tmp_path):
    for name in ('binlog.000001', 'binlog.000002', 'relay-bin.000007'):
        write(tmp_path / name, '')
    write(tmp_path / 'binlog.index', './binlog.000001\n./binlog.000002\n')
    write(tmp_path / 'lab1-relay-bin.index', './relay-bin.000007\n')
    assert binlog_tail.binlog_files(str(tmp_path)) == [str(tmp_path / 'binlog.000001'), str(tmp_path / 'binlog.000002')]


@pytest.mark.parametrize('files, index, expected', [
    ({}, None, r'holds 0 binary log index file\(s\)'),
    ({'a.index': '', 'b.index': ''}, None, 'name it with binlog_index'),
    ({'binlog.index': './binlog.000001\n'}, None, 'files that are gone'),
    ({'binlog.index': ''}, None, 'names no file'),
    ({}, 'elsewhere.index', 'cannot read the binary log index'),
])
def test_binlog_files_refuse_what_they_cannot_trust(tmp_path, files, index, expected):
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(TailError, match=expected):
        binlog_tail.binlog_files(str(tmp_path), index and str(tmp_path / index))


def replica(name, gtid, received=''):
    node = Instance(name, '10.0.0.1', 3306, dict(login_user='admin', login_password='pw'))
    node.facts = dict(flavor=MARIADB, gtid=parse_gtid(gtid, 'mariadb'), status=dict(gtid_io_pos=received))
    return node


def test_the_most_advanced_counts_what_a_replica_received_but_did_not_apply_yet():
    a, b, gone = replica('a', '0-1-100', '0-1-180'), replica('b', '0-1-150'), replica('gone', '')
    gone.error, gone.facts = 'unreachable', {}
    node, have = binlog_tail.most_advanced([gone, b, a])
    assert node is a and str(have) == '0-1-180'
    assert binlog_tail.most_advanced([gone]) is None


class Answers:
    """A connected Server answering the two GTID positions and recording statements."""

    def __init__(self, binlog, slave):
        self.values = {'gtid_binlog_pos': binlog, 'gtid_slave_pos': slave}
        self.statements = []

    def value(self, statement):
        return self.values[statement.split('@@GLOBAL.')[1].split()[0]]

    def sql(self, statement):
        self.statements.append(statement)


def test_applied_and_cut_off_and_the_slave_position_takes_them_in():
    node = replica('b', '0-1-150')
    node.server = Answers('0-1-152,1-5-9', '0-1-150,2-7-3')
    applied, cut = binlog_tail._applied(node, ['0-1-151', '0-1-152', '0-1-153'])
    assert (applied, cut) == (['0-1-151', '0-1-152'], ['0-1-153'])  # the last one, cut by the crash
    assert node.server.statements == ["SET GLOBAL gtid_slave_pos = '0-1-152,1-5-9,2-7-3'"]


def test_a_missing_transaction_before_the_last_is_an_error():
    node = replica('b', '0-1-150')
    node.server = Answers('0-1-150', '0-1-150')
    with pytest.raises(TailError, match='lacks 0-1-151, 0-1-152'):
        binlog_tail._applied(node, ['0-1-151', '0-1-152'])


def test_the_client_option_file_is_private_and_quoted(tmp_path):
    path = binlog_tail.client_option_file(str(tmp_path), dict(login_user='ad"min', login_password='p#w d',
                                                              login_host='10.0.0.2', login_port=3307))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as handle:
        assert handle.read() == '[client]\nuser="ad\\"min"\npassword="p#w d"\nhost="10.0.0.2"\nport=3307\n'
    with pytest.raises(ValueError, match='line break'):
        binlog_tail.option_value('a\nb')


def test_a_mysql_installation_is_not_read_and_says_what_may_be_lost():
    old, mysql = replica('old', ''), replica('r1', '')
    mysql.facts['flavor'] = Flavor('mysql', '8.0.36')
    why = binlog_tail.unsupported(old, [mysql])
    assert 'MariaDB only' in why and 'may be lost' in why and 'old' in why
    assert binlog_tail.unsupported(old, [replica('r2', '0-1-5')]) is None
