# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GTID sets of MySQL and GTID position lists of MariaDB, with one common set algebra.

* ``MySQLGtidSet``: ``uuid:1-5:7,uuid2:1-10``, including MySQL 8.3+ tagged GTIDs
  (``uuid:1-5:tag:1-3``). A real set of transactions.
* ``MariaDBGtidList``: ``domain-server_id-seq`` lists such as ``0-1-100,1-2-5``: per replication
  domain, the last applied GTID. The algebra works per domain on the sequence numbers.

Both are immutable and hashable and share: ``union`` (``|``), ``intersection`` (``&``),
``difference`` (``-``), ``issubset`` (``<=``), ``issuperset`` (``>=``), ``is_ahead_of``
(``>``: contains everything the other has, and more), ``count()``, ``to_dict()``, ``str()``,
``bool()``. Methods and operators also accept the other operand as a string of the same kind.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z')
_TAG_RE = re.compile(r'^[a-z_][a-z0-9_]{0,31}\Z')
_INTERVAL_RE = re.compile(r'^([0-9]+)(?:-([0-9]+))?\Z')
_MARIADB_RE = re.compile(r'^([0-9]+)-([0-9]+)-([0-9]+)\Z')
_MAX_GNO = 2 ** 63 - 1


def _compact(text):
    if text is None:
        return ''
    if not isinstance(text, str):
        raise ValueError('a GTID set must be a string, not %r' % (text,))
    return ''.join(text.split())


def _binary_operator(method):
    """Wrap a set method as an operator that accepts the same type or its text form."""
    def operator(self, other):
        if not isinstance(other, (type(self), str)):
            return NotImplemented
        return method(self, other)
    operator.__name__ = method.__name__
    return operator


class _GtidBase:
    """What both kinds share; subclasses hold ``_data`` and define the per-kind operations."""

    __slots__ = ('_data',)

    def __init__(self, text=''):
        object.__setattr__(self, '_data', self._parse(text))

    @classmethod
    def parse(cls, text):
        return cls(text)

    @classmethod
    def _from_data(cls, data):
        obj = cls.__new__(cls)
        object.__setattr__(obj, '_data', data)
        return obj

    def __setattr__(self, name, value):
        raise AttributeError('%s is immutable' % type(self).__name__)

    def _coerce(self, other):
        if isinstance(other, str):
            return type(self)(other)
        if isinstance(other, type(self)):
            return other
        raise TypeError('cannot combine %s with %r' % (type(self).__name__, other))

    # -- the algebra -------------------------------------------------------------------------
    def union(self, other):
        return self._from_data(self._union(self._coerce(other)._data))

    def intersection(self, other):
        return self._from_data(self._intersection(self._coerce(other)._data))

    def difference(self, other):
        """What self has that other lacks."""
        return self._from_data(self._difference(self._coerce(other)._data))

    def issubset(self, other):
        return self._issubset(self._coerce(other)._data)

    def issuperset(self, other):
        return self._coerce(other).issubset(self)

    def is_ahead_of(self, other):
        """Strict superset: self contains everything other has, and more."""
        other = self._coerce(other)
        return other.issubset(self) and self != other

    __or__ = _binary_operator(union)
    __and__ = _binary_operator(intersection)
    __sub__ = _binary_operator(difference)
    __le__ = _binary_operator(issubset)
    __ge__ = _binary_operator(issuperset)
    __gt__ = _binary_operator(is_ahead_of)
    __lt__ = _binary_operator(lambda self, other: self._coerce(other).is_ahead_of(self))

    def __eq__(self, other):
        if not isinstance(other, type(self)):
            return NotImplemented
        return self._data == other._data

    def __hash__(self):
        return hash((type(self).__name__, str(self)))

    def __bool__(self):
        return bool(self._data)

    def __repr__(self):
        return '%s(%r)' % (type(self).__name__, str(self))


# -- MySQL ---------------------------------------------------------------------------------------
def _merge(intervals):
    """Sort closed intervals and merge the overlapping or adjacent ones."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _intersect(a, b):
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        low, high = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if low <= high:
            out.append((low, high))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(a, b):
    out = []
    for start, end in a:
        for b_start, b_end in b:
            if b_end < start:
                continue
            if b_start > end:
                break
            if b_start > start:
                out.append((start, b_start - 1))
            start = b_end + 1
            if start > end:
                break
        if start <= end:
            out.append((start, end))
    return tuple(out)


def _interval_text(interval):
    start, end = interval
    return str(start) if start == end else '%d-%d' % (start, end)


class MySQLGtidSet(_GtidBase):
    """A MySQL GTID set; internally ``{(uuid, tag or ''): ((start, end), ...)}``.

    Whitespace is ignored (SHOW output wraps sets with newlines), uuids and tags are lower-cased.
    ``str()`` is the canonical form: uuids sorted, intervals merged, ``n`` for single numbers,
    untagged intervals first and then the tags in order, members separated by ``,`` only.
    """

    __slots__ = ()

    @staticmethod
    def _parse(text):
        compact = _compact(text)
        if not compact:
            return {}
        data = {}
        for member in compact.split(','):
            parts = member.split(':')
            uuid = parts[0].lower()
            if not _UUID_RE.match(uuid):
                raise ValueError('invalid MySQL GTID set %r: bad UUID %r' % (text, parts[0]))
            tag, has_intervals = '', False
            for part in parts[1:]:
                match = _INTERVAL_RE.match(part)
                if match:
                    start = int(match.group(1))
                    end = int(match.group(2) or start)
                    if not 1 <= start <= end <= _MAX_GNO:
                        raise ValueError('invalid MySQL GTID set %r: bad interval %r' % (text, part))
                    data.setdefault((uuid, tag), []).append((start, end))
                    has_intervals = True
                elif _TAG_RE.match(part.lower()) and (has_intervals or not tag):
                    tag, has_intervals = part.lower(), False
                else:
                    raise ValueError('invalid MySQL GTID set %r: bad part %r in %r' % (text, part, member))
            if not has_intervals:
                raise ValueError('invalid MySQL GTID set %r: no transactions after %r' % (text, member))
        return {key: _merge(intervals) for key, intervals in data.items()}

    def _union(self, other):
        keys = set(self._data) | set(other)
        return {k: _merge(self._data.get(k, ()) + other.get(k, ())) for k in keys}

    def _intersection(self, other):
        both = ((k, _intersect(v, other[k])) for k, v in self._data.items() if k in other)
        return {k: v for k, v in both if v}

    def _difference(self, other):
        rest = ((k, _subtract(v, other.get(k, ()))) for k, v in self._data.items())
        return {k: v for k, v in rest if v}

    def _issubset(self, other):
        return not self._difference(other)

    def count(self):
        """The number of transactions in the set."""
        return sum(end - start + 1 for intervals in self._data.values() for start, end in intervals)

    def _members(self):
        """{uuid: [tag-or-'' sorted]}."""
        members = {}
        for uuid, tag in self._data:
            members.setdefault(uuid, []).append(tag)
        return {uuid: sorted(tags) for uuid, tags in members.items()}

    def __str__(self):
        out = []
        for uuid, tags in sorted(self._members().items()):
            parts = [uuid]
            for tag in tags:
                parts.extend([tag] if tag else [])
                parts.extend(_interval_text(iv) for iv in self._data[(uuid, tag)])
            out.append(':'.join(parts))
        return ','.join(out)

    def to_dict(self):
        """``{'uuid': '1-5:7', 'uuid:tag': '1-3'}``."""
        return {('%s:%s' % (uuid, tag) if tag else uuid): ':'.join(_interval_text(iv) for iv in intervals)
                for (uuid, tag), intervals in self._data.items()}


# -- MariaDB -------------------------------------------------------------------------------------
def _by_seq(entry):
    """Order (server_id, seq) entries by seq; the server_id only breaks ties deterministically."""
    return entry[1], entry[0]


class MariaDBGtidList(_GtidBase):
    """A MariaDB GTID position; internally ``{domain: (server_id, seq)}``.

    It says how far each replication domain has got, so the algebra compares sequence numbers
    per domain: union keeps the higher entry, intersection the lower one, difference the domains
    where self is further (or that other lacks), and self <= other when other has every domain
    at least as far. Equal sequence numbers with different server ids mean diverged histories:
    ``conflicts()`` lists them; such entries are not subsets of each other. A list that repeats a
    domain (like gtid_binlog_state) keeps the highest entry of that domain.
    """

    __slots__ = ()

    @staticmethod
    def _parse(text):
        compact = _compact(text)
        if not compact:
            return {}
        data = {}
        for part in compact.split(','):
            match = _MARIADB_RE.match(part)
            if not match:
                raise ValueError('invalid MariaDB GTID list %r: bad GTID %r' % (text, part))
            domain, server_id, seq = (int(g) for g in match.groups())
            if domain >= 2 ** 32 or server_id >= 2 ** 32 or seq >= 2 ** 64:
                raise ValueError('invalid MariaDB GTID list %r: out of range %r' % (text, part))
            entry = (server_id, seq)
            data[domain] = max(data.get(domain, entry), entry, key=_by_seq)
        return data

    def _union(self, other):
        merged = dict(other)
        for domain, entry in self._data.items():
            merged[domain] = max(merged.get(domain, entry), entry, key=_by_seq)
        return merged

    def _intersection(self, other):
        return {d: min(e, other[d], key=_by_seq) for d, e in self._data.items() if d in other}

    def _difference(self, other):
        return {d: e for d, e in self._data.items() if d not in other or e[1] > other[d][1]}

    def _issubset(self, other):
        return all(d in other and (other[d][1] > e[1] or other[d] == e) for d, e in self._data.items())

    def conflicts(self, other):
        """Domains where both lists have the same seq from different servers (diverged histories)."""
        other = self._coerce(other)._data
        return sorted(d for d, (server_id, seq) in self._data.items()
                      if d in other and other[d][1] == seq and other[d][0] != server_id)

    def count(self):
        """Approximate number of transactions: the sum of the sequence numbers of all domains.

        MariaDB sequence numbers count the transactions of a domain only when one server wrote
        the whole domain history from seq 1; treat the result as an estimate.
        """
        return sum(seq for _server_id, seq in self._data.values())

    def __str__(self):
        return ','.join('%d-%d-%d' % (d, self._data[d][0], self._data[d][1]) for d in sorted(self._data))

    def to_dict(self):
        """``{domain: {'server_id': ..., 'seq': ...}}`` with int domains."""
        return {d: {'server_id': server_id, 'seq': seq} for d, (server_id, seq) in self._data.items()}


GTID_TYPES = {'mysql': MySQLGtidSet, 'mariadb': MariaDBGtidList}


def parse_gtid(text, flavor_name):
    """Parse ``text`` as the GTID set type of ``flavor_name`` ('mysql' / 'mariadb' or a Flavor)."""
    name = str(getattr(flavor_name, 'name', flavor_name)).lower()
    if name not in GTID_TYPES:
        raise ValueError('unknown server flavor %r: expected mysql or mariadb' % (flavor_name,))
    return GTID_TYPES[name](text)


def errant(replica_set, master_set):
    """The errant-transaction check: what the replica has executed that the master has not.

    Empty means the replica can follow the master safely. For MariaDB also check
    ``replica_set.conflicts(master_set)``: equal sequence numbers from different servers are
    diverged histories that a difference of positions cannot show.
    """
    return replica_set.difference(master_set)


def divergence(replica_set, source_set):
    """[(kind, detail)] of what keeps a replica from following a source: 'errant' with the transactions
    the source lacks, 'diverged' with the GTID domains whose histories differ (MariaDB); empty when none."""
    found = []
    extra = errant(replica_set, source_set)
    if extra:
        found.append(('errant', str(extra)))
    domains = getattr(replica_set, 'conflicts', lambda other: [])(source_set)
    if domains:
        found.append(('diverged', ', '.join(str(d) for d in domains)))
    return found


# -- MariaDB histories: what a server has that another lacks, even where positions hide it ------------------------
def mariadb_history(*texts):
    """``{(domain, server_id): highest seq}`` of MariaDB GTID lists such as ``gtid_binlog_state`` (one entry per
    domain and server) and ``gtid_slave_pos``: whose transactions a server has, per domain, and how far."""
    out = {}
    for text in texts:
        for part in _compact(text).split(',') if _compact(text) else ():
            match = _MARIADB_RE.match(part)
            if not match:
                raise ValueError('invalid MariaDB GTID list %r: bad GTID %r' % (text, part))
            domain, server_id, seq = (int(g) for g in match.groups())
            out[(domain, server_id)] = max(out.get((domain, server_id), 0), seq)
    return out


def unshared(mine, theirs):
    """Per domain, what history ``mine`` has past the point where it parted from ``theirs`` (both from
    ``mariadb_history``): ``{domain: dict(fork=(server_id, seq), last=(server_id, seq))}`` (the last GTID both
    have, the last ``mine`` has); empty when ``theirs`` has all of it.

    Under gtid_strict_mode a server that has GTID d-s-q has everything server s had in domain d up to q, so
    the histories agree up to the highest sequence number of a server whose transactions both have; what
    ``mine`` has after it is errant. Unlike a comparison of positions, this sees a former master's
    unreplicated transactions after its replicas' new master wrote higher sequence numbers of its own.
    """
    out = {}
    for domain in sorted(set(d for d, _s in mine)):
        shared = [(s, min(seq, theirs[(d, s)])) for (d, s), seq in mine.items() if d == domain and (d, s) in theirs]
        fork = max(shared or [(0, 0)], key=lambda entry: entry[1])
        last = max(((s, seq) for (d, s), seq in mine.items() if d == domain), key=lambda entry: entry[1])
        if last[1] > fork[1]:
            out[domain] = dict(fork=fork, last=last)
    return out
