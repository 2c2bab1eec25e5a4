# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication topology of an installation: discover it, check it, draw it.

``discover(specs)`` queries every server of the inventory at once (one thread and one connection
per server), follows what they reveal (the master each replica reads from, the replicas each
server has registered, the binlog dump connections it serves) to servers the inventory does not
list, and returns a ``Topology``: per server its role, master, replication state, GTID position
and identity, plus the problems found, an ASCII tree, Graphviz DOT and Mermaid text.

The servers are ``Instance`` objects (module_utils/instance.py), built from the modules'
``servers`` option by ``instance.instances_from_params``.

Discovery only reads.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, rejoin, semisync
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import divergence, parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance, can_replicate_from
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


# -- addresses ---------------------------------------------------------------------------------
_RESOLVED = {}


def _resolve(host):
    """The IPv4 address of ``host`` (cached), or the name itself when it does not resolve."""
    if host not in _RESOLVED:
        try:
            _RESOLVED[host] = socket.gethostbyname(host)
        except (socket.error, UnicodeError):
            _RESOLVED[host] = host
    return _RESOLVED[host]


def _address_keys(host, port):
    if not host or not port:
        return set()
    host = str(host).lower().strip('[]')
    return {(host, int(port)), (_resolve(host), int(port))}


def _column(row, name):
    """A column of a SHOW result, whatever the case of its name (Server_id / Server_Id)."""
    return dict((str(k).lower(), v) for k, v in row.items()).get(name.lower())


# -- one server --------------------------------------------------------------------------------
def query(node):
    """Read everything discovery needs in one connection; remember the error instead of raising."""
    node.read(discovery=True)
    if node.facts and node.semisync is not None:   # the inventory speaks of semi-sync for it: what it runs with
        try:
            node.facts['semisync'] = semisync.state(node.server)
        except ServerError as exc:
            node.facts['semisync'] = dict(error=str(exc))
    node.close()
    if node.facts and node.expected_server_id is not None and node.facts['server_id'] != node.expected_server_id:
        node.error = ('%s answers as server_id %s, not as the replica registered with server_id %s'
                      % (node.address, node.facts['server_id'], node.expected_server_id))
        node.facts = {}


def address_keys(node):
    keys = _address_keys(node.host, node.port)
    if node.facts:
        keys |= _address_keys(node.host, node.facts['port'])
    for host, port in node.aliases:
        keys |= _address_keys(host, port)
    return keys


def fingerprint(node):
    f = node.facts
    return f and (f['hostname'], f['port'], f['datadir'], f['server_id'])


def discovered(name, host, port, login, found_by, via, server_id=None, from_processlist=False):
    """An Instance for a server found through another one (not in the inventory)."""
    node = Instance(name, host, port, login)
    node.in_inventory, node.found_by, node.via = False, found_by, via
    node.expected_server_id, node.from_processlist = server_id, from_processlist
    return node


# -- discovery ---------------------------------------------------------------------------------
def query_all(nodes, workers):
    """Query ``nodes`` with up to ``workers`` threads (1: one after the other)."""
    nodes = list(nodes)
    if workers <= 1 or len(nodes) <= 1:
        for node in nodes:
            query(node)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(nodes))) as pool:
        list(pool.map(query, nodes))


def discover(servers, follow=True, workers=32, lag_threshold=60, max_servers=256):
    """Discover the topology of ``servers`` (Instances of the inventory); see the module docstring.

    ``follow``: also query the servers found through the others (with the credentials of the
    server they were found on). ``workers``: how many servers are queried at once.
    """
    started = time.time()
    nodes = collections.OrderedDict()
    for node in servers:
        if node.name in nodes:
            raise ValueError('server %s is listed twice' % node.name)
        nodes[node.name] = node
    notes = []
    pending, seen = list(nodes.values()), set()
    while pending:
        query_all([n for n in pending if follow or n.in_inventory], workers)
        _fold_aliases(nodes, notes)
        _link(nodes)
        pending = []
        for node in _candidates(nodes, seen):
            if len(nodes) >= max_servers:
                notes.append('stopped following at %d servers (max_servers)' % max_servers)
                break
            nodes[node.name] = node
            pending.append(node)
    _drop_unconfirmed(nodes, notes)
    _link(nodes)
    topology = Topology(nodes, lag_threshold, notes)
    topology.check(workers)
    topology.elapsed = time.time() - started
    return topology


def _fold_aliases(nodes, notes):
    """A discovered address that leads to a server already known is that server under another name."""
    known = {}
    for node in nodes.values():
        if node.reachable and node.in_inventory:
            known.setdefault(fingerprint(node), node)
    for name, node in list(nodes.items()):
        twin = node.reachable and not node.in_inventory and known.get(fingerprint(node))
        if twin:
            twin.aliases.add((node.host, node.port))
            notes.append('%s is %s' % (name, twin.name))
            del nodes[name]
        elif node.reachable:
            known.setdefault(fingerprint(node), node)


def _index(nodes):
    index = {}
    for node in nodes.values():
        for key in address_keys(node):
            index.setdefault(key, node.name)
    return index


def _link(nodes):
    """Set each node's master (by the address its replication reads from) and replicas."""
    index = _index(nodes)
    for node in nodes.values():
        node.master, node.master_address, node.replicas = None, None, []
    for node in nodes.values():
        status = node.status
        if status and status['master_host']:
            node.master_address = (status['master_host'], status['master_port'] or 3306)
            node.master = next((index[k] for k in _address_keys(*node.master_address) if k in index), None)
        elif not node.reachable and node.expected_server_id is not None:
            node.master = node.via  # a registered replica that could not be queried
    for node in nodes.values():
        if node.master in nodes:
            nodes[node.master].replicas.append(node.name)


def _candidates(nodes, seen):
    """New nodes for the servers the known ones point at but nobody has listed yet."""
    index = _index(nodes)
    found = []

    def add(host, port, found_by, via, server_id=None, from_processlist=False):
        keys = _address_keys(host, port)
        tagged = set((key, server_id) for key in keys) or {('server_id', server_id, via.name)}
        if keys & set(index) or tagged & seen:
            return
        seen.update(tagged)
        name = '%s:%s' % (host, port) if host else 'server_id %s on %s' % (server_id, via.name)
        if name in nodes or name in [n.name for n in found]:
            name = '%s#%s' % (name, server_id)
        login = dict((k, v) for k, v in via.login.items() if k not in ('login_unix_socket', 'login_host', 'login_port'))
        found.append(discovered(name, host, port, dict(login, login_host=host, login_port=port) if host else login,
                                found_by, via.name, server_id, from_processlist))

    for node in list(nodes.values()):
        if not node.reachable:
            continue
        if node.master_address and node.master is None:
            add(node.master_address[0], node.master_address[1], 'master of %s' % node.name, node)
        unmatched = _unmatched_registrations(nodes, node)
        for row in unmatched:
            add(row['host'], row['port'], 'registered on %s with server_id %s' % (node.name, row['server_id']), node,
                server_id=row['server_id'])
        connected = [r for r in node.replicas if nodes[r].status and nodes[r].status['io_running_ok']]
        if len(node.facts['dump_clients']) > len(connected) + len(unmatched):
            replica_ips = set(_resolve(h) for r in node.replicas for h, _p in address_keys(nodes[r]))
            for ip in node.facts['dump_clients']:
                if ip not in replica_ips:
                    add(ip, node.facts['port'], 'binlog dump connection on %s' % node.name, node, from_processlist=True)
    return found


def _unmatched_registrations(nodes, master):
    """SHOW SLAVE HOSTS rows of ``master`` that no known replica of it accounts for."""
    remaining = [nodes[r] for r in master.replicas]
    unmatched, known = [], set(_index(nodes))
    known_ids = set(n.server_id for n in nodes.values())
    for row in master.facts['registered_replicas']:
        keys = _address_keys(row['host'], row['port'])
        match = next((r for r in remaining if r.server_id == row['server_id']), None) or \
            next((r for r in remaining if keys & address_keys(r)), None)
        if match:
            remaining.remove(match)
        elif not keys & known and row['server_id'] not in known_ids:
            # (a known server_id registered here has just moved to another master: the row is stale)
            unmatched.append(row)
    # A replica whose server_id changed since it connected is still registered under the old one.
    running = [r for r in remaining if r.status and r.status['io_running_ok']]
    return unmatched[len(running):]


def _drop_unconfirmed(nodes, notes):
    """Binlog dump clients that are not replicas of the server they were seen on are other tools."""
    for name, node in list(nodes.items()):
        if node.from_processlist and not (node.status and node.via in nodes and node.master == node.via):
            notes.append('a binlog dump client at %s (on %s) is no replica reachable with these credentials'
                         % (node.host, node.via))
            del nodes[name]


# -- the result --------------------------------------------------------------------------------
Problem = collections.namedtuple('Problem', 'kind servers message')


class Topology:
    """Discovered nodes, their tree and their problems."""

    def __init__(self, nodes, lag_threshold=60, notes=None):
        self.nodes = nodes
        self.lag_threshold = lag_threshold
        self.notes = list(notes or [])
        self.problems = []
        self.elapsed = None

    # -- shape ---------------------------------------------------------------------------------
    def role(self, name):
        node = self.nodes[name]
        if not node.reachable:
            return 'unknown'
        if node.status:
            return 'relay' if node.replicas else 'replica'
        return 'master' if node.replicas else 'standalone'

    def replicas_of(self, name):
        return list(self.nodes[name].replicas)

    def descendants(self, name):
        out, todo = [], list(self.nodes[name].replicas)
        while todo:
            child = todo.pop(0)
            if child not in out and child != name:
                out.append(child)
                todo.extend(self.nodes[child].replicas)
        return out

    def roots(self):
        return [n.name for n in self.nodes.values() if n.master not in self.nodes]

    def order(self):
        """(depth, name) in tree order; the members of a replication cycle are listed once."""
        out, visited = [], set()

        def walk(name, depth):
            visited.add(name)
            out.append((depth, name))
            for child in self.nodes[name].replicas:
                if child not in visited:
                    walk(child, depth + 1)

        for name in self.roots() + list(self.nodes):
            if name not in visited:
                walk(name, 0)
        return out

    # -- checks --------------------------------------------------------------------------------
    def check(self, workers=32):
        """Find the problems (sets ``self.problems`` and each node's ``problems``)."""
        self._confirm_errant(workers)
        found = []
        found += self._identity_problems()
        for node in self.nodes.values():
            found += self._node_problems(node)
        found += self._stray_problems()
        master = self.current_master()
        for node in self.nodes.values():
            if node.reachable and (node.status or node is master):
                found += [Problem(kind, [node.name], message) for kind, message in semisync.problems(
                    node.name, node.semisync, node.facts.get('semisync'), 'replica' if node.status else 'master')]
        writable_masters = [n.name for n in self.nodes.values()
                            if n.reachable and not n.status and not n.facts['read_only']
                            and (n.replicas or n.declared_role == 'master')]
        if len(writable_masters) > 1:
            found.append(Problem('multiple_writable_masters', writable_masters,
                                 'more than one writable master: %s' % ', '.join(writable_masters)))
        self.problems = found
        for problem in found:
            for name in problem.servers:
                if problem.kind not in self.nodes[name].problems:
                    self.nodes[name].problems.append(problem.kind)
        return found

    def _identity_problems(self):
        found = []
        for key, kind in (('server_id', 'duplicate_server_id'), ('server_uuid', 'duplicate_server_uuid')):
            groups = collections.OrderedDict()
            for node in self.nodes.values():
                if node.reachable and node.facts[key] is not None:
                    groups.setdefault(node.facts[key], []).append(node.name)
            for value, names in groups.items():
                if len(names) > 1:
                    found.append(Problem(kind, names, '%s share %s %s' % (', '.join(names), key, value)))
        return found

    def _node_problems(self, node):
        name = node.name
        if not node.in_inventory:
            where = 'found as %s' % node.found_by
            yield Problem('not_in_inventory', [name], '%s is not in the inventory (%s)' % (name, where))
        if not node.reachable:
            if node.queried or node.in_inventory:
                yield Problem('unreachable', [name], node.error or '%s was not queried' % name)
            return
        status = node.status
        if node.declared_master and node.declared_master != node.master:
            actual = 'replicates from %s' % (node.master or '%s:%s' % node.master_address) if status else 'is no replica'
            yield Problem('drift', [name], 'the inventory declares %s a replica of %s, but it %s'
                          % (name, node.declared_master, actual))
        elif node.declared_role == 'master' and status:
            yield Problem('drift', [name], 'the inventory declares %s the master, but it replicates from %s'
                          % (name, node.master or '%s:%s' % node.master_address))
        if not status:
            return
        if not node.facts['read_only']:
            yield Problem('writable_replica', [name], '%s is a replica and read_only is OFF' % name)
        for thread in ('io', 'sql'):
            if status['last_%s_errno' % thread]:
                yield Problem('replication_broken', [name], '%s: %s thread error %s: %s' % (
                    name, thread.upper(), status['last_%s_errno' % thread], status['last_%s_error' % thread]))
            elif not status['%s_running_ok' % thread]:
                yield Problem('replication_stopped', [name], '%s: %s thread is %s' % (
                    name, thread.upper(), status['%s_running' % thread]))
        lag = status['seconds_behind']
        if lag is not None and lag > self.lag_threshold:
            yield Problem('lag', [name], '%s is %ss behind its master (threshold %ss)' % (name, lag, self.lag_threshold))
        if node.gtid_errant:
            yield Problem('errant_transactions', [name], '%s has transactions its master %s lacks: %s'
                          % (name, node.master, node.gtid_errant))
        if node.replicas and any(k == 'binlog' for k, _m in can_replicate_from(self.nodes[node.replicas[0]], node)):
            yield Problem('relay_without_log_slave_updates', [name],
                          '%s has replicas but does not write what it replicates to its binary log' % name)

    def current_master(self):
        """The server the installation writes to: the one server with replicas that replicates from nobody, else
        the declared master when it replicates from nobody (None when neither is clear)."""
        roots = [n for n in self.nodes.values() if n.reachable and not n.status and n.replicas]
        declared = [n for n in self.nodes.values() if n.reachable and not n.status and n.declared_role == 'master']
        return roots[0] if len(roots) == 1 else declared[0] if len(declared) == 1 else None

    def _stray_problems(self):
        """Servers outside replication (a returned old master, a spare), whatever the inventory says: writable,
        or holding transactions the current master lacks (a former master's unreplicated writes)."""
        master = self.current_master()
        for node in self.nodes.values():
            if not node.reachable or node.status or node is master or not (node.facts['gtid_current_pos'] or node.replicas):
                continue   # (an empty spare waits for a clone)
            if not node.facts['read_only'] and master is not None and node.declared_role != 'master':
                # (a declared master that is writable is one of multiple_writable_masters)
                yield Problem('writable_outside_master', [node.name],
                              '%s is writable but is not the master%s: make it read-only, or bring it back with '
                              'playbooks/rejoin.yml' % (node.name, ' (%s is)' % master.name if master else ''))
            if master is not None and not node.replicas:
                try:
                    with node.server, master.server:
                        found = rejoin.errant(node, master)
                except (ServerError, ValueError):
                    continue
                if found:
                    node.gtid_errant = found['text']
                    yield Problem('errant_transactions', [node.name],
                                  '%s has transactions the master %s lacks: %s; playbooks/rejoin.yml saves them and '
                                  'rebuilds it' % (node.name, master.name, found['text']))

    def _errant(self, node, master_gtid=None):
        master = self.nodes.get(node.master)
        if not (node.reachable and master is not None and master.reachable and node.status):
            return ''
        try:
            mine = node.gtid()
            theirs = master.gtid() if master_gtid is None else parse_gtid(master_gtid, master.facts['flavor'].name)
        except ValueError:
            return ''
        return ', '.join(detail if kind == 'errant' else 'diverged in domain %s' % detail
                         for kind, detail in divergence(mine, theirs))

    def _confirm_errant(self, workers):
        """Masters were read at the same time as their replicas: a replica may look ahead of a master
        that has since written more. Read the suspects' masters again before calling it errant."""
        suspects = [n for n in self.nodes.values() if self._errant(n)]
        masters = dict((n.master, self.nodes[n.master]) for n in suspects)
        fresh = {}

        def reread(master):
            try:
                with master.server as server:
                    return master.name, ''.join(str(server.value(dialect.sql(server.flavor, 'gtid_current_pos'))).split())
            except (ServerError, AttributeError):
                return master.name, None

        if masters:
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(masters)))) as pool:
                fresh = dict(pool.map(reread, masters.values()))
        for node in suspects:
            node.gtid_errant = self._errant(node, fresh.get(node.master)) if fresh.get(node.master) is not None \
                else self._errant(node)

    # -- pictures ------------------------------------------------------------------------------
    def summary(self, name):
        """One line of state for a server."""
        node = self.nodes[name]
        parts = ['%s (%s)' % (name, node.address or 'address unknown')]
        f = node.facts
        if not node.reachable:
            parts.append('UNREACHABLE' if node.queried else 'not queried')
            if node.server_id is not None:
                parts.append('id=%s' % node.server_id)
        else:
            parts += [self.role(name), 'ro' if f['read_only'] else 'rw', 'id=%s' % f['server_id']]
        status = node.status
        if status:
            parts += ['io=%s' % status['io_running'], 'sql=%s' % status['sql_running'],
                      'lag=%s' % ('-' if status['seconds_behind'] is None else '%ss' % status['seconds_behind'])]
        if f:
            parts += ['gtid=%s' % (f['gtid_current_pos'] or '-'), '%s %s' % (f['flavor'].name, f['version'])]
            if 'semisync' in f:
                parts.append(semisync.summary(f['semisync']))
        if not node.in_inventory:
            parts.append('(not in inventory)')
        if node.problems:
            parts.append('!! ' + ', '.join(node.problems))
        return ' '.join(parts)

    def ascii_lines(self):
        order = self.order()
        lines = []
        for i, (depth, name) in enumerate(order):
            if depth == 0:
                lines.append(self.summary(name))
                continue
            prefix = ''
            for level in range(1, depth):
                prefix += '|   ' if self._more_at(order, i, level) else '    '
            prefix += '+-- ' if self._more_at(order, i, depth) else '`-- '
            lines.append(prefix + self.summary(name))
        return lines

    @staticmethod
    def _more_at(order, i, level):
        """Whether another node at ``level`` follows entry i before the tree climbs above it."""
        for depth, _name in order[i + 1:]:
            if depth < level:
                return False
            if depth == level:
                return True
        return False

    def _edge_label(self, node):
        status = node.status
        if not status:
            return 'registered'
        if status['last_io_errno'] or status['last_sql_errno']:
            return 'broken'
        if not (status['io_running_ok'] and status['sql_running_ok']):
            return 'stopped'
        return 'lag %ss' % ('?' if status['seconds_behind'] is None else status['seconds_behind'])

    def _label_lines(self, name):
        node = self.nodes[name]
        lines = [name, node.address or 'address unknown']
        if node.reachable:
            lines.append('%s %s id %s' % (self.role(name), 'ro' if node.facts['read_only'] else 'rw', node.facts['server_id']))
        else:
            lines.append('unreachable')
        if node.problems:
            lines.append(', '.join(node.problems))
        return lines

    def _edges(self):
        return [(n.master, n.name, self._edge_label(n)) for n in self.nodes.values() if n.master in self.nodes]

    def dot(self):
        out = ['digraph replication {', '  rankdir=TB;', '  node [shape=box, fontname="monospace"];']
        for name, node in self.nodes.items():
            style = ', color=red' if node.problems else ''
            out.append('  "%s" [label="%s"%s];' % (_dot(name), '\\n'.join(_dot(t) for t in self._label_lines(name)), style))
        for master, replica, label in self._edges():
            out.append('  "%s" -> "%s" [label="%s"];' % (_dot(master), _dot(replica), _dot(label)))
        out.append('}')
        return '\n'.join(out)

    def mermaid(self):
        ids = dict((name, 's%d' % i) for i, name in enumerate(self.nodes))
        out = ['graph TD']
        for name in self.nodes:
            out.append('  %s["%s"]' % (ids[name], '<br/>'.join(_mermaid(t) for t in self._label_lines(name))))
        for master, replica, label in self._edges():
            out.append('  %s -->|%s| %s' % (ids[master], _mermaid(label), ids[replica]))
        bad = [ids[n] for n, node in self.nodes.items() if node.problems]
        if bad:
            out.append('  classDef problem stroke:#d00,stroke-width:2px')
            out.append('  class %s problem' % ','.join(bad))
        return '\n'.join(out)

    # -- as data -------------------------------------------------------------------------------
    def server_dict(self, name):
        node = self.nodes[name]
        f = node.facts or {}
        status = node.status or {}
        return dict(
            name=name, address=node.address, host=node.host, port=node.port, in_inventory=node.in_inventory,
            found_by=node.found_by, reachable=node.reachable, error=node.error, role=self.role(name),
            master=node.master, master_address='%s:%s' % node.master_address if node.master_address else None,
            replicas=list(node.replicas), declared_master=node.declared_master, declared_role=node.declared_role,
            server_id=f.get('server_id'), server_uuid=f.get('server_uuid'), flavor=f['flavor'].name if f else None,
            version=f.get('version'), read_only=f.get('read_only'), super_read_only=f.get('super_read_only'),
            log_bin=f.get('log_bin'), log_slave_updates=f.get('log_replica_updates'),
            gtid_executed=f.get('gtid_executed'), gtid_current_pos=f.get('gtid_current_pos'),
            io_running=status.get('io_running'), sql_running=status.get('sql_running'),
            seconds_behind=status.get('seconds_behind'), last_io_error=status.get('last_io_error') or None,
            last_sql_error=status.get('last_sql_error') or None,
            using_gtid=status.get('using_gtid') if status.get('auto_position') is None else status.get('auto_position'),
            errant=node.gtid_errant or None, problems=list(node.problems), semisync=f.get('semisync'))

    def result(self):
        """Everything, as plain data for a module's result."""
        lines = self.ascii_lines()
        return dict(
            servers=collections.OrderedDict((name, self.server_dict(name)) for _depth, name in self.order()),
            roots=self.roots(), problems=[p._asdict() for p in self.problems], ok=not self.problems,
            tree='\n'.join(lines), tree_lines=lines, dot=self.dot(), mermaid=self.mermaid(), notes=self.notes,
            elapsed=round(self.elapsed or 0, 4))


def _dot(text):
    return str(text).replace('\\', '\\\\').replace('"', '\\"')


def _mermaid(text):
    return str(text).replace('"', '#quot;').replace('|', '#124;')
