# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Promotions of a declared tree (a relay and its replicas): who is repointed where, and the tree written afterwards.

The installation of these tests: db1 the master; db2 and db3 its direct replicas; db3 a relay with db4 below it.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import failover, lease, promotion, switchover as sw
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance
from ansible_collections.replicant.mysql.plugins.module_utils.inventory import promoted, tree_problems

MARIADB = Flavor('mariadb', '10.11.19')
TREE = dict(master='db1', replicas={'db2': 'db1', 'db3': 'db1', 'db4': 'db3'}, spares=['db9'])


# -- the one rule ------------------------------------------------------------------------------------
def test_a_direct_replica_promoted_takes_the_old_master_and_its_siblings_the_relay_keeps_its_replica():
    assert promoted(TREE, 'db2') == dict(master='db2', replicas={'db3': 'db2', 'db4': 'db3', 'db1': 'db2'},
                                         spares=['db9'])


def test_a_relay_promoted_keeps_its_replicas_and_takes_the_old_master_and_the_other_direct_replicas():
    assert promoted(TREE, 'db3') == dict(master='db3', replicas={'db2': 'db3', 'db4': 'db3', 'db1': 'db3'},
                                         spares=['db9'])


def test_switching_back_gives_the_tree_declared_before():
    back = promoted(promoted(TREE, 'db2'), 'db1')
    assert back['master'] == 'db1' and back['replicas'] == TREE['replicas'] and back['spares'] == ['db9']


def test_switching_back_from_a_promoted_relay_takes_its_replicas_along():
    """The relay's replica became a direct replica of the master (the relay): the next promotion moves it like any
    other direct replica (relocate.yml puts it below the relay again)."""
    back = promoted(promoted(TREE, 'db3'), 'db1')
    assert back['replicas'] == {'db2': 'db1', 'db4': 'db1', 'db3': 'db1'}


def test_an_old_master_left_out_and_servers_left_behind_become_spares():
    after = promoted(TREE, 'db2', include_old_master=False, left_out=['db3'])
    assert after == dict(master='db2', replicas={'db4': 'db3'}, spares=['db9', 'db1', 'db3'])


def test_a_replica_of_a_relay_promoted_takes_its_relay_below_it():
    """Refused unless candidate_eligible is forced; the rule still gives a tree (no loop)."""
    after = promoted(TREE, 'db4')
    assert after['replicas'] == {'db2': 'db4', 'db3': 'db4', 'db1': 'db4'}
    assert tree_problems(after) == []


def test_a_declared_tree_must_reach_the_master():
    assert tree_problems(TREE) == []
    assert tree_problems(dict(master='db1', replicas={'db2': 'db3', 'db3': 'db2'})) == [
        'db2: replicant_master makes a loop (db2 -> db3 -> db2) that never reaches the master db1',
        'db3: replicant_master makes a loop (db3 -> db2 -> db3) that never reaches the master db1']
    assert tree_problems(dict(master='db1', replicas={'db2': 'db7'})) == [
        'db2: its replicant_master db7 is not a server of the installation (master db1, replicas db2)']


# -- the tree of the servers given to a promotion -------------------------------------------------------------
def status(master_id, io='Yes', sql='Yes', sql_errno=0):
    return dict(master_server_id=master_id, master_host='10.0.0.%d' % master_id, master_port=3306, io_running=io,
                sql_running=sql, io_running_ok=io == 'Yes', sql_running_ok=sql == 'Yes', last_io_errno=0,
                last_io_error='', last_sql_errno=sql_errno, last_sql_error='boom' if sql_errno else '', seconds_behind=0,
                relay_master_log_file='binlog.000002', exec_master_log_pos=500, master_log_file='binlog.000002',
                read_master_log_pos=500, gtid_io_pos='')


def node(name, master=None, source=None, gtid='0-1-100', promotion=None):
    """db<N> (server_id N) declared below ``master`` (None: the master), replicating from server ``source``."""
    n = Instance(name, '10.0.0.%s' % name[-1], 3306, dict(login_host='192.0.2.1'), 'repl', 'pw', promotion, master)
    n.facts = dict(flavor=MARIADB, version='10.11.19', gtid=parse_gtid(gtid, 'mariadb'), gtid_executed='',
                   gtid_enabled=True, status=status(source) if source else None, log_bin=True, log_replica_updates=True,
                   server_id=int(name[-1]), filters={}, binlog_filters={}, read_only=source is not None)
    n.read = lambda discovery=False: n.facts
    return n


def installation(db4_source=3, db4_master='db3'):
    return [node('db1'), node('db2', source=1), node('db3', source=1), node('db4', db4_master, source=db4_source)]


def checks(monkeypatch, nodes, candidate=None, force=()):
    monkeypatch.setattr(sw, 'read_all', lambda ns: [n for n in ns if not n.error])
    monkeypatch.setattr(sw, 'replication_account_problem', lambda source, followers: '')
    journal = promotion.Journal()
    chosen = sw.prechecks(nodes, 'db1', candidate, journal, force=force, long_transaction=0)
    return chosen, journal


def test_declared_tree_of_the_servers_and_its_direct_replicas():
    nodes = installation()
    declared = promotion.declared_tree(nodes, 'db1')
    assert declared['replicas'] == {'db2': 'db1', 'db3': 'db1', 'db4': 'db3'}
    assert [n.name for n in promotion.direct_replicas(nodes, declared)] == ['db2', 'db3']
    nodes[1].declared_master = 'db4'
    nodes[3].declared_master = 'db2'
    with pytest.raises(ValueError, match='the servers declare no tree below the master db1: db2: replicant_master makes '
                                         'a loop'):
        promotion.declared_tree(nodes, 'db1')


def test_switchover_prechecks_accept_a_relay_with_its_replica(monkeypatch):
    chosen, journal = checks(monkeypatch, installation(), 'db2')
    assert chosen.name == 'db2' and journal.refusals() == []
    by = dict(((c['check'], c['host']), c['message']) for c in journal.checks)
    assert by[('replica_of_master', 'db4')] == 'replicates from db3'
    assert by[('replication_account', 'db2')].startswith('db1, db3 can log in')   # db4 is not repointed


def test_switchover_elects_a_direct_replica_never_a_replica_of_a_relay(monkeypatch):
    nodes = installation()
    nodes[3].promotion = 'preferred'   # preferred, but below the relay
    chosen, journal = checks(monkeypatch, nodes)
    assert chosen.name in ('db2', 'db3') and journal.refusals() == []


def test_switchover_refuses_a_replica_of_a_relay_as_candidate(monkeypatch):
    chosen, journal = checks(monkeypatch, installation(), 'db4')
    assert [(c['check'], c['host']) for c in journal.refusals()] == [('candidate_eligible', 'db4')]
    assert 'a replica of db3, not of the master db1: promote db3' in journal.refusals()[0]['message']


def test_switchover_refuses_a_replica_that_is_not_where_the_inventory_declares_it(monkeypatch):
    chosen, journal = checks(monkeypatch, installation(db4_master=None), 'db2')
    refused = journal.refusals()
    assert [(c['check'], c['host']) for c in refused] == [('replica_of_master', 'db4')]
    assert refused[0]['message'] == ('does not replicate from db1 (its master is 10.0.0.3:3306, which is db3: if that '
                                     'is meant, declare it in the inventory (replicant_master: db3))')
    chosen, journal = checks(monkeypatch, installation(db4_source=1), 'db2')   # declared below db3, replicates from db1
    assert [(c['check'], c['host']) for c in journal.refusals()] == [('replica_of_master', 'db4')]


def test_switchover_plan_says_who_stays_below_the_relay():
    nodes = installation()
    old, new = nodes[0], nodes[1]
    steps = sw.plan(old, new, [nodes[2], old], True, dict(sw.DEFAULTS), kept=[('db4', 'db3')])
    assert [s for s in steps if s.startswith('db4')] == ['db4: stays a replica of db3 (not stopped, not repointed)']
    assert [s.split(':')[0] for s in steps if 'replicate from db2' in s] == ['db3', 'db1']


def test_the_current_master_with_its_tree_is_nothing_to_do(monkeypatch):
    nodes = installation()
    monkeypatch.setattr(sw, 'connect_all', lambda nodes, journal=None: [])
    monkeypatch.setattr(sw, 'read_all', lambda ns: ns)
    result = sw.switchover(nodes, 'db1', 'db1')
    assert result['changed'] is False and result['topology']['tree'] == {'db2': 'db1', 'db3': 'db1', 'db4': 'db3'}
    assert sw.verify_current(nodes, 'db1') == ['db4 replicates from 10.0.0.3:3306, not from db1']  # flat: not so


def test_failover_refuses_a_replica_of_a_relay_as_candidate_and_plans_it_stays():
    nodes = installation()
    journal = promotion.Journal()
    declared = promotion.declared_tree(nodes, 'db1')
    sets = dict((n.name, n.facts['gtid']) for n in nodes)
    assert failover._choose(nodes[1:3], 'db4', sets, journal, (), nodes[0], True, declared) is None
    assert 'a replica of db3, not of the master db1: fail over to db3' in journal.refusals()[0]['message']
    tree = promoted(declared, 'db3', include_old_master=False)['replicas']
    steps = failover._plan(nodes[0], nodes[2], nodes[1:3], [], tree)
    assert steps[-2:] == ['db2: replicate from db3 (10.0.0.3:3306) by GTID, then check that it does',
                          'db4: stays a replica of db3 (not stopped, not repointed)']


def test_an_interrupted_switchover_is_completed_without_moving_the_relays_replica():
    nodes = installation()
    for n in nodes:
        n.facts['read_only'] = n.name != 'db2'
    record = dict(name='replicant.default', owner='ctl1 pid 10', procedure_name='switchover', started=1800000000.0,
                  expires=1800000900.0, updated=1800000001.0, phase='promoted',
                  progress=dict(old_master='db1', new_master='db2'))
    outcome = lease.resume(record, nodes, promotion.Journal(), None, check_mode=True)
    assert outcome['action'] == 'complete' and outcome['replicas'] == ['db1', 'db3']
    assert outcome['tree'] == {'db3': 'db2', 'db4': 'db3', 'db1': 'db2'} and outcome['left_out'] == []
