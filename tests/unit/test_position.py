# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, strategies as st

from ansible_collections.replicant.mysql.plugins.module_utils.position import Position

P = Position.parse


def test_parse_and_str():
    pos = P('mysql-bin.000003:1234')
    assert (pos.file, pos.pos) == ('mysql-bin.000003', 1234)
    assert str(pos) == 'mysql-bin.000003:1234'
    assert repr(pos) == "Position('mysql-bin.000003', 1234)"
    assert pos.to_dict() == {'file': 'mysql-bin.000003', 'pos': 1234}
    assert (pos.basename, pos.index) == ('mysql-bin', 3)
    assert P(' mariadb-bin.000001:4\n') == Position('mariadb-bin.000001', 4)


def test_order_across_rotation():
    assert P('mysql-bin.000010:4') > P('mysql-bin.000009:999999')
    assert P('mysql-bin.1000000:4') > P('mysql-bin.999999:4')
    assert P('mysql-bin.000009:5') < P('mysql-bin.000009:6')
    assert P('mysql-bin.000009:5') <= P('mysql-bin.000009:5')
    assert max(P('b.000002:4'), P('b.000010:4'), P('b.000003:900')) == P('b.000010:4')


def test_different_basenames_do_not_order():
    with pytest.raises(ValueError, match='different logs'):
        P('mysql-bin.000001:4') < P('relay-bin.000002:4')
    assert P('mysql-bin.000001:4') != P('relay-bin.000001:4')


def test_immutable_and_hashable():
    pos = P('mysql-bin.000001:4')
    with pytest.raises(AttributeError):
        pos.pos = 5
    assert len({pos, P('mysql-bin.000001:4'), Position('mysql-bin.000001', '4')}) == 1


@pytest.mark.parametrize('text', ['', 'mysql-bin.000001', 'mysql-bin.000001:', ':4', 'mysql-bin.000001:-4',
                                  'mysql-bin.000001:x', 'mysql-bin.000001:\u00b2', None])
def test_bad_text(text):
    with pytest.raises(ValueError):
        P(text)


@pytest.mark.parametrize('file,pos', [('', 4), ('a.1', -1), ('a.1', True), ('a.1', None), (3, 4)])
def test_bad_values(file, pos):
    with pytest.raises(ValueError):
        Position(file, pos)


coords = st.tuples(st.integers(1, 2000000), st.integers(0, 2 ** 40))


@given(coords, coords)
def test_order_matches_numbers(a, b):
    pa = Position('mysql-bin.%06d' % a[0], a[1])
    pb = Position('mysql-bin.%06d' % b[0], b[1])
    assert (pa < pb) == (a < b)
    assert (pa == pb) == (a == b)
    assert P(str(pa)) == pa
