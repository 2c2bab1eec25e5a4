# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, strategies as st

from ansible_collections.replicant.mysql.plugins.module_utils.gtid import (
    MariaDBGtidList, MySQLGtidSet, errant, parse_gtid)

U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562'
U2 = 'b5a2e3c4-0f1d-11ef-8a3b-0242ac120002'
U3 = 'f0000000-0000-0000-0000-000000000001'


# -- MySQL examples ------------------------------------------------------------------------------
def test_mysql_show_output_is_normalised():
    text = '%s:1-5:7,\n%s:1-10:12' % (U2.upper(), U1)
    gtids = MySQLGtidSet(text)
    assert str(gtids) == '%s:1-10:12,%s:1-5:7' % (U1, U2)
    assert gtids.count() == 17
    assert gtids.to_dict() == {U1: '1-10:12', U2: '1-5:7'}


def test_mysql_merges_and_writes_single_numbers():
    assert str(MySQLGtidSet('%s:1-3:4:6-6:5,%s:10-12' % (U1, U1))) == '%s:1-6:10-12' % U1


def test_mysql_tags():
    gtids = MySQLGtidSet('%s:Beta:3:1-2:alpha:1-4,%s:2' % (U1, U1))
    assert str(gtids) == '%s:2:alpha:1-4:beta:1-3' % U1
    assert gtids.count() == 8
    assert gtids.to_dict() == {U1: '2', U1 + ':alpha': '1-4', U1 + ':beta': '1-3'}
    assert gtids - MySQLGtidSet('%s:1-5' % U1) == MySQLGtidSet('%s:alpha:1-4:beta:1-3' % U1)


def test_mysql_empty():
    assert str(MySQLGtidSet('')) == ''
    assert not MySQLGtidSet(' \n')
    assert MySQLGtidSet(None) == MySQLGtidSet('')
    assert MySQLGtidSet('').count() == 0


def test_mysql_algebra_examples():
    master = MySQLGtidSet('%s:1-100' % U1)
    replica = MySQLGtidSet('%s:1-90,%s:1-2' % (U1, U2))
    assert str(master | replica) == '%s:1-100,%s:1-2' % (U1, U2)
    assert str(master & replica) == '%s:1-90' % U1
    assert str(replica - master) == '%s:1-2' % U2
    assert str(errant(replica, master)) == '%s:1-2' % U2
    assert not errant(MySQLGtidSet('%s:1-90' % U1), master)
    assert MySQLGtidSet('%s:1-90' % U1) <= master
    assert master.is_ahead_of('%s:1-90' % U1) and master > MySQLGtidSet('%s:1-90' % U1)
    assert not master.is_ahead_of(master) and master.issuperset(master)
    assert str(master.difference('%s:10-20:50' % U1)) == '%s:1-9:21-49:51-100' % U1


@pytest.mark.parametrize('text', [
    'nonsense', U1, U1 + ':', U1 + ':0', U1 + ':5-3', U1 + ':1-x', U1 + ':tag', U1 + ':a:b:1',
    U1 + ':1,', U1[:-1] + ':1', U1 + ':1-5:9tag:1', U1 + ':' + 'x' * 33 + ':1', U1 + ':%d' % 2 ** 63,
])
def test_mysql_bad_input(text):
    with pytest.raises(ValueError) as info:
        MySQLGtidSet(text)
    assert repr(text) in str(info.value)


# -- MariaDB examples ----------------------------------------------------------------------------
def test_mariadb_examples():
    pos = MariaDBGtidList(' 1-2-5,\n0-1-100')
    assert str(pos) == '0-1-100,1-2-5'
    assert pos.to_dict() == {0: {'server_id': 1, 'seq': 100}, 1: {'server_id': 2, 'seq': 5}}
    assert pos.count() == 105
    other = MariaDBGtidList('0-3-120,2-1-7')
    assert str(pos | other) == '0-3-120,1-2-5,2-1-7'
    assert str(pos & other) == '0-1-100'
    assert str(pos - other) == '1-2-5'
    assert str(other - pos) == '0-3-120,2-1-7'
    assert MariaDBGtidList('0-1-90') <= pos
    assert pos.is_ahead_of('0-1-90') and not pos.is_ahead_of(pos)
    assert not MariaDBGtidList('0-1-90,3-1-1').issubset(pos)


def test_mariadb_binlog_state_keeps_highest_per_domain():
    assert str(MariaDBGtidList('0-1-10,0-2-12,0-3-11')) == '0-2-12'


def test_mariadb_conflicts_and_errant():
    replica = MariaDBGtidList('0-2-100,1-1-7')
    master = MariaDBGtidList('0-1-100,1-1-5')
    assert replica.conflicts(master) == [0]
    assert str(errant(replica, master)) == '1-1-7'
    assert not replica.issubset(master) and not master.issubset(replica)
    assert not errant(MariaDBGtidList('0-1-99'), master)


def test_mariadb_empty():
    assert str(MariaDBGtidList('')) == '' and not MariaDBGtidList('')


@pytest.mark.parametrize('text', ['0-1', '0-1-x', '0-1-2-3', '0-1-5,', 'a-b-c', '-1-1-1', '%d-1-1' % 2 ** 32])
def test_mariadb_bad_input(text):
    with pytest.raises(ValueError) as info:
        MariaDBGtidList(text)
    assert repr(text) in str(info.value)


# -- common --------------------------------------------------------------------------------------
def test_parse_gtid():
    assert isinstance(parse_gtid('', 'mysql'), MySQLGtidSet)
    assert isinstance(parse_gtid('0-1-1', 'MariaDB'), MariaDBGtidList)
    with pytest.raises(ValueError, match='0-1-1'):
        parse_gtid('0-1-1', 'mysql')
    with pytest.raises(ValueError, match='oracle'):
        parse_gtid('', 'oracle')


def test_types_do_not_mix():
    with pytest.raises(TypeError):
        MySQLGtidSet('') | MariaDBGtidList('')
    with pytest.raises(TypeError):
        MySQLGtidSet('').union(5)
    assert MySQLGtidSet('') != MariaDBGtidList('')
    assert MySQLGtidSet('') != ''


def test_immutable_and_hashable():
    gtids = MySQLGtidSet('%s:1' % U1)
    with pytest.raises(AttributeError):
        gtids._data = {}
    assert len({gtids, MySQLGtidSet(U1.upper() + ':1'), MariaDBGtidList('0-1-1'), MariaDBGtidList('0-1-1')}) == 2


# -- properties ----------------------------------------------------------------------------------
intervals = st.tuples(st.integers(1, 40), st.integers(0, 6)).map(lambda t: (t[0], t[0] + t[1]))
mysql_keys = st.tuples(st.sampled_from([U1, U2, U3]), st.sampled_from(['', '', 'a', 'zz_9']))
mysql_sets = st.lists(st.tuples(mysql_keys, intervals), max_size=8).map(
    lambda items: MySQLGtidSet(','.join('%s:%s%d-%d' % (u, t + ':' if t else '', s, e) for (u, t), (s, e) in items)))
# Conflict-free MariaDB lists: one server wrote each (domain, seq), as in one consistent history.
mariadb_lists = st.dictionaries(st.integers(0, 4), st.integers(0, 30), max_size=5).map(
    lambda d: MariaDBGtidList(','.join('%d-%d-%d' % (dom, (dom * 7 + seq) % 5 + 1, seq) for dom, seq in d.items())))
both = st.sampled_from([mysql_sets, mariadb_lists]).flatmap(lambda s: st.tuples(s, s, s))


@given(both)
def test_union_laws(abc):
    a, b, c = abc
    assert a | b == b | a
    assert (a | b) | c == a | (b | c)
    assert a | a == a
    assert a <= a | b and b <= a | b
    assert (a & b) <= a


@given(both)
def test_intersection_laws(abc):
    a, b, c = abc
    assert a & b == b & a
    assert (a & b) & c == a & (b & c)
    assert a & a == a


@given(both)
def test_subset_consistent_with_union(abc):
    a, b, _c = abc
    assert (a <= b) == (a | b == b)
    assert (a >= b) == (b <= a)
    assert a.is_ahead_of(b) == (b <= a and a != b)


@given(both)
def test_difference_laws(abc):
    a, b, _c = abc
    assert (a - b) | b == a | b
    assert not (a - a)
    assert (a - b) <= a
    assert bool(a - b) == (not a <= b)
    assert not (a - b) or not (a - b) <= b


@given(mysql_sets, mysql_sets)
def test_mysql_difference_partition(a, b):
    assert not ((a - b) & b)
    assert (a - b) | (a & b) == a
    assert (a - b).count() + (a & b).count() == a.count()


@given(both)
def test_round_trip(abc):
    for x in abc:
        assert type(x)(str(x)) == x
        assert str(type(x)(str(x))) == str(x)
        assert parse_gtid(str(x), 'mysql' if isinstance(x, MySQLGtidSet) else 'mariadb') == x


def test_unshared_sees_a_former_masters_lost_transactions_behind_higher_sequence_numbers():
    from ansible_collections.replicant.mysql.plugins.module_utils.gtid import mariadb_history, unshared
    old = mariadb_history('0-1-100')                          # the old master wrote up to 100
    new = mariadb_history('0-1-95,0-2-110', '0-1-95')         # its replicas got 95; the new master wrote 96-110
    assert parse_gtid('0-1-100', 'mariadb') <= parse_gtid('0-2-110', 'mariadb')   # positions hide it
    assert unshared(old, new) == {0: dict(fork=(1, 95), last=(1, 100))}
    # a demoted master that followed the new one and stopped: nothing of its own
    assert unshared(mariadb_history('0-1-100,0-2-120'), mariadb_history('0-1-100,0-2-125')) == {}
    # a server cloned from a point the other's binlog no longer lists (only its gtid_slave_pos does)
    assert unshared(mariadb_history('0-1-50'), mariadb_history('0-2-60', '0-1-50')) == {}
    # a domain the other never saw is unshared from its start
    assert unshared(mariadb_history('0-1-10,1-1-3'), mariadb_history('0-1-10')) == {1: dict(fork=(0, 0), last=(1, 3))}
