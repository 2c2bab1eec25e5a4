# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Re-direct replicas inside a discovered topology: move one replica under another server, up to
its grandparent, or every replica of one server to another, by GTID.

``plan(topology, ...)`` turns a request into moves and checks each one before anything changes;
``move(topology, replica, new_master, ...)`` performs one: stop the replica, let the new master reach
what the replica has executed (when the new master is itself a replica), check that it has all of
it, point the replica at it with the replica's own GTID mode, and wait until it has caught up.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import can_replicate_from
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


def gtid_mode(status):
    """The change_master options that keep a replica's GTID mode, or None when it replicates by position."""
    using = str(status.get('using_gtid') or 'no').lower()
    if using != 'no':
        return {'master_use_gtid': using}
    if status.get('auto_position'):
        return {'master_auto_position': True}
    return None


def _known(topology, name, what):
    if name not in topology.nodes:
        raise ValueError('%s %s is not a server of the topology (known: %s)' % (what, name, ', '.join(topology.nodes)))
    node = topology.nodes[name]
    if not node.reachable:
        raise ValueError('%s %s cannot be queried: %s' % (what, name, node.error))
    return node


def check_move(topology, replica, new_master):
    """Raise ValueError when ``replica`` cannot safely replicate from ``new_master``."""
    node = _known(topology, replica, 'replica')
    target = _known(topology, new_master, 'new master')
    if not node.status:
        raise ValueError('%s is not a replica: there is nothing to re-direct' % replica)
    if new_master in topology.descendants(replica):
        raise ValueError('%s replicates (indirectly) from %s: moving %s under it would make a cycle'
                         % (new_master, replica, replica))
    if gtid_mode(node.status) is None:
        raise ValueError('%s replicates by binlog position; re-direct it by GTID: switch it to GTID first '
                         '(mysql_change_master master_use_gtid=slave_pos, or master_auto_position=true on MySQL)'
                         % replica)
    reasons = ['%s %s' % (replica, m) for k, m in can_replicate_from(node, target)
               if k not in ('errant', 'diverged') or not (target.status or node.gtid_errant)]
    # The new master may still be behind what the replica has: the move waits for it (``move``). What
    # it lacks for good are transactions its own master lacks too: errant on one of them.
    if node.gtid_errant:
        reasons.append('%s has errant transactions (%s): it would diverge from %s' % (replica, node.gtid_errant, new_master))
    if target.gtid_errant:
        reasons.append('%s has errant transactions (%s) that %s would receive' % (new_master, target.gtid_errant, replica))
    if reasons:
        raise ValueError('; '.join(reasons))


def plan(topology, replica=None, new_master=None, up=False, replicas_of=None):
    """The moves [(replica, new_master)] of a request, every one checked; moves already done are left out."""
    if replicas_of:
        _known(topology, replicas_of, 'server')
        if not new_master:
            raise ValueError('moving the replicas of %s needs the new master' % replicas_of)
        moves = [(name, new_master) for name in topology.replicas_of(replicas_of) if name != new_master]
    else:
        node = _known(topology, replica, 'replica')
        if up and new_master:
            raise ValueError('say either new_master or up, not both')
        if up:
            parent = topology.nodes.get(node.master)
            if parent is None or parent.master not in topology.nodes:
                raise ValueError('%s has no grandparent to move up to (its master is %s)' % (replica, node.master or 'unknown'))
            new_master = parent.master
        if not new_master:
            raise ValueError('say where %s goes: new_master, or up' % replica)
        moves = [(replica, new_master)]
    for name, target in moves:
        check_move(topology, name, target)
    return [(name, target) for name, target in moves if topology.nodes[name].master != target]


def move(topology, replica, new_master, master_user=None, master_password=None, timeout=60, check_mode=False):
    """Re-direct one checked replica; returns what was done."""
    node, target = topology.nodes[replica], topology.nodes[new_master]
    options = dict(master_host=target.host, master_port=target.port,
                   master_user=master_user or node.status['master_user'], master_password=master_password)
    options.update(gtid_mode(node.status))
    options.update(target.repl_tls)  # the installation's TLS for replication (none given: the replica's stay)
    done = dict(replica=replica, old_master=node.master, new_master=new_master, changed=True,
                summary='%s: %s -> %s' % (replica, node.master, new_master))
    with node.server as server, target.server as new:
        if check_mode:
            done['statements'] = replication.change_master(server, options, check_mode=True)['statements']
            return done
        statements = replication.stop_replication(server)
        try:
            executed = replication.fetch_slave_pos(server)['gtid']
            if target.status:
                replication.wait_for_pos(new, gtid=executed, timeout=timeout)
            have = _current_pos(new)
            missing = parse_gtid(executed, new.flavor) - parse_gtid(have, new.flavor)
            if missing:
                raise ServerError('%s lacks transactions %s has executed (%s): not moving it' % (new_master, replica, missing))
        except (ServerError, ValueError):
            replication.start_replication(server)
            raise
        statements += replication.change_master(server, options)['statements']
        done.update(gtid=executed, statements=statements)
        done['caught_up'] = replication.wait_for_pos(server, gtid=_current_pos(new), timeout=timeout)['gtid']
    return done


def _current_pos(server):
    return ''.join(str(server.value(dialect.sql(server.flavor, 'gtid_current_pos')) or '').split())
