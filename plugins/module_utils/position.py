# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Binary log coordinates (file, pos) with an ordering that survives binlog rotation.

``mysql-bin.000010:4`` comes after ``mysql-bin.000009:999999`` and ``mysql-bin.1000000`` after
``mysql-bin.999999``: files compare by basename, then by their numeric suffix as an integer,
then by position. Ordering positions of different basenames raises ValueError.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools
import re

_SUFFIX_RE = re.compile(r'^(.*)\.([0-9]+)$')
_DIGITS_RE = re.compile(r'^[0-9]+$')


def _int(value, what):
    if isinstance(value, bool):
        raise ValueError('invalid binlog %s: %r' % (what, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError('invalid binlog %s: %r' % (what, value))
    if number < 0:
        raise ValueError('invalid binlog %s: %r' % (what, value))
    return number


@functools.total_ordering
class Position:
    """An immutable, hashable binlog coordinate."""

    __slots__ = ('_file', '_pos')

    def __init__(self, file, pos):
        if not isinstance(file, str) or not file.strip() or file != file.strip():
            raise ValueError('invalid binlog file name: %r' % (file,))
        object.__setattr__(self, '_file', file)
        object.__setattr__(self, '_pos', _int(pos, 'position'))

    @classmethod
    def parse(cls, text):
        """``'mysql-bin.000003:1234'`` -> Position('mysql-bin.000003', 1234)."""
        if not isinstance(text, str):
            raise ValueError('invalid binlog position: %r' % (text,))
        file, sep, pos = text.strip().rpartition(':')
        if not sep or not file or not _DIGITS_RE.match(pos):
            raise ValueError('invalid binlog position %r: expected FILE:POS' % (text,))
        return cls(file, int(pos))

    file = property(lambda self: self._file)
    pos = property(lambda self: self._pos)

    def __setattr__(self, name, value):
        raise AttributeError('Position is immutable')

    def __delattr__(self, name):
        raise AttributeError('Position is immutable')

    @property
    def basename(self):
        """The file name without its numeric suffix (the whole name when there is none)."""
        return self._split()[0]

    @property
    def index(self):
        """The numeric suffix of the file as an int, or -1 when the name has none."""
        return self._split()[1]

    def _split(self):
        match = _SUFFIX_RE.match(self._file)
        return (match.group(1), int(match.group(2))) if match else (self._file, -1)

    def _key(self, other):
        if self.basename != other.basename:
            raise ValueError('cannot order binlog positions of different logs: %s and %s' % (self, other))
        # The file name breaks ties between e.g. "log.10" and "log.010" to keep the order total.
        return (self.index, self._pos, self._file), (other.index, other._pos, other._file)

    def __eq__(self, other):
        if not isinstance(other, Position):
            return NotImplemented
        return (self._file, self._pos) == (other._file, other._pos)

    def __lt__(self, other):
        if not isinstance(other, Position):
            return NotImplemented
        mine, theirs = self._key(other)
        return mine < theirs

    def __hash__(self):
        return hash((self._file, self._pos))

    def __str__(self):
        return '%s:%d' % (self._file, self._pos)

    def __repr__(self):
        return 'Position(%r, %d)' % (self._file, self._pos)

    def to_dict(self):
        return {'file': self._file, 'pos': self._pos}
