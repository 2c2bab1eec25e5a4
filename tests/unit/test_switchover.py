# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""promote_master's decisions that need no server: election, checks bookkeeping, session filtering, options."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import failover, promotion, switchover as sw
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance, instance_from_spec, instances_from_params
from ansible_collections.replicant.mysql.plugins.module_utils.position import Position
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

MARIADB = Flavor('mariadb', '10.11.19')
MYSQL = Flavor('mysql', '8.0.36')


def status(master_id=1, io='Yes', sql='Yes', lag=0, file='binlog.000002', exec_pos=500, read_pos=None,
           io_pos='', sql_errno=0):
    return dict(master_server_id=master_id, master_host='10.0.0.1', master_port=3306, io_running=io, sql_running=sql,
                io_running_ok=io == 'Yes', sql_running_ok=sql == 'Yes', last_io_errno=0, last_io_error='',
                last_sql_errno=sql_errno, last_sql_error='boom' if sql_errno else '', seconds_behind=lag,
                relay_master_log_file=file, exec_master_log_pos=exec_pos, master_log_file=file,
                read_master_log_pos=exec_pos if read_pos is None else read_pos, gtid_io_pos=io_pos)


def node(name, gtid='', promotion=None, flavor=MARIADB, binlog=True, **st):
    n = Instance(name, '10.0.0.%d' % (len(name) + 10), 3306, None, 'repl', 'pw', promotion)
    n.facts = dict(flavor=flavor, gtid=parse_gtid(gtid, flavor.name), status=status(**st) if st is not None else None,
                   log_bin=binlog, log_replica_updates=binlog, server_id=int(name[-1]))
    return n


def master_node():
    m = node('db1')
    m.facts['status'] = None
    return m


# -- switchover election -----------------------------------------------------------------------------
def test_switchover_elects_the_most_advanced_running_replica():
    replicas = [node('db2', '0-1-90', exec_pos=90), node('db3', '0-1-100', exec_pos=100), node('db4', '0-1-80')]
    assert sw.elect_switchover(replicas, master_node()).name == 'db3'


def test_switchover_election_prefers_preferred_and_never_takes_excluded_or_broken():
    old = master_node()
    replicas = [node('db2', '0-1-100', promotion='excluded'), node('db3', '0-1-90', promotion='preferred'),
                node('db4', '0-1-95')]
    assert sw.elect_switchover(replicas, old).name == 'db3'
    replicas = [node('db2', '0-1-100', promotion='excluded'), node('db3', '0-1-99', sql='No'),
                node('db4', '0-1-95', master_id=7)]
    assert sw.elect_switchover(replicas, old) is None


def test_switchover_election_ties_go_to_the_first_in_inventory_order():
    replicas = [node('db2', '0-1-100'), node('db3', '0-1-100')]
    assert sw.elect_switchover(replicas, master_node()).name == 'db2'


def test_replicates_from_uses_the_server_id_then_the_address():
    old = master_node()
    old.host = '10.0.0.1'
    assert sw.replicates_from(status(master_id=1), old)
    assert not sw.replicates_from(status(master_id=9), old)
    assert sw.replicates_from(status(master_id=0), old)  # IO thread never connected: compare addresses
    assert not sw.replicates_from(None, old)


# -- failover election ---------------------------------------------------------------------------------
def test_failover_elects_on_what_replicas_will_have_after_their_relay_logs():
    a = node('db2', '0-1-100', io_pos='0-1-100')
    b = node('db3', '0-1-90', io_pos='0-1-105', read_pos=900)  # relay log holds 91..105
    sets = {n.name: failover.predicted_set(n) for n in (a, b)}
    assert str(sets['db3']) == '0-1-105'
    assert failover.elect([a, b], sets, read=True).name == 'db3'


def test_failover_prefers_preferred_never_excluded_and_needs_a_binlog():
    nodes = [node('db2', '0-1-100', promotion='excluded'), node('db3', '0-1-50', promotion='preferred'),
             node('db4', '0-1-99'), node('db5', '0-1-120', binlog=False)]
    sets = {n.name: n.facts['gtid'] for n in nodes}
    assert failover.elect(nodes, sets).name == 'db3'
    nodes[1].promotion = 'neutral'
    assert failover.elect(nodes, sets).name == 'db4'
    assert failover.elect(nodes[:1], sets) is None


def test_failover_breaks_gtid_ties_by_executed_coordinates():
    nodes = [node('db2', '0-1-100', file='binlog.000002', exec_pos=700),
             node('db3', '0-1-100', file='binlog.000003', exec_pos=4)]
    sets = {n.name: n.facts['gtid'] for n in nodes}
    assert failover.elect(nodes, sets).name == 'db3'


def test_mysql_gtid_sets_elect_the_superset():
    uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562'
    nodes = [node('db2', uuid + ':1-100', flavor=MYSQL), node('db3', uuid + ':1-120', flavor=MYSQL)]
    sets = {n.name: n.facts['gtid'] for n in nodes}
    assert failover.elect(nodes, sets).name == 'db3'
    assert str(sets['db3'].difference(sets['db2'])) == uuid + ':101-120'


def test_relay_applied_compares_read_and_executed_coordinates():
    assert failover.relay_applied(status(exec_pos=10, read_pos=10))
    assert not failover.relay_applied(status(exec_pos=10, read_pos=20))


def test_catch_up_refuses_a_donor_without_binlog(monkeypatch):
    candidate = node('db2', '0-1-90')
    donor = node('db3', '0-1-100', binlog=False)
    sets = {'db2': candidate.facts['gtid'], 'db3': donor.facts['gtid']}
    with pytest.raises(promotion.PromotionError, match='cannot catch up'):
        failover.catch_up(candidate, [donor], sets, promotion.Journal(), 5)


def test_catch_up_skips_donors_with_nothing_new(monkeypatch):
    calls = []
    monkeypatch.setattr(failover, 'point_at', lambda *a, **k: calls.append('change'))
    candidate = node('db2', '0-1-100')
    sets = {'db2': candidate.facts['gtid'], 'db3': parse_gtid('0-1-90', 'mariadb')}
    failover.catch_up(candidate, [node('db3', '0-1-90')], sets, promotion.Journal(), 5)
    assert calls == []


# -- checks bookkeeping -------------------------------------------------------------------------------
def test_forced_checks_are_reported_not_silenced():
    journal = promotion.Journal()
    journal.check('candidate_lag', 'db2', False, '30 s behind', force=('candidate_lag',))
    journal.check('errant_transactions', 'db3', False, 'has 0-3-7', force=('candidate_lag',))
    journal.check('reachable', 'db1', True, 'reachable')
    assert [c['check'] for c in journal.forced()] == ['candidate_lag']
    assert [c['check'] for c in journal.refusals()] == ['errant_transactions']
    assert promotion.describe(journal.refusals()) == 'db3: errant_transactions: has 0-3-7'


def test_force_names_must_be_known():
    assert promotion.validate_force(['candidate_lag'], sw.CHECKS) == ('candidate_lag',)
    with pytest.raises(ValueError, match='unknown checks lag'):
        promotion.validate_force(['lag'], sw.CHECKS)
    with pytest.raises(ValueError, match='unknown checks'):
        failover.failover([node('db1'), node('db2')], 'db1', force=['candidate_lag'])


# -- sessions to kill --------------------------------------------------------------------------------
class Processlist:
    def __init__(self, rows, gone=()):
        self.rows, self.gone, self.killed = rows, gone, []

    def sql(self, statement, args=None):
        if statement.startswith('KILL'):
            pid = int(statement.split()[-1])
            if pid in self.gone:
                raise ServerError('Unknown thread id: %d' % pid)
            self.killed.append(pid)
            return []
        return self.rows


def test_kill_clients_spares_replication_system_and_own_sessions():
    rows = [dict(id=1, user='repl', command='Binlog Dump'), dict(id=2, user='repl', command='Binlog Dump GTID'),
            dict(id=3, user='system user', command='Slave_SQL'), dict(id=4, user='event_scheduler', command='Daemon'),
            dict(id=5, user='admin', command='Query'), dict(id=6, user='app', command='Sleep'),
            dict(id=7, user='app', command='Query'), dict(id=8, user='admin', command='Sleep')]
    server = Processlist(rows, gone=(7,))
    assert promotion.kill_clients(server, {5}) == [6, 8]
    assert server.killed == [6, 8]


# -- nodes and options -------------------------------------------------------------------------------
def test_node_from_spec_fills_in_defaults_and_follows_by_flavor():
    n = instance_from_spec(dict(name='db2', host='10.0.0.2', port=None, login_host=None, login_user='root'),
                           dict(login_user='admin', login_password='pw', repl_user='repl', repl_password='rpw'))
    assert (n.name, n.host, n.port, n.server.user, n.server.password, n.promotion) == (
        'db2', '10.0.0.2', 3306, 'root', 'pw', 'neutral')
    assert n.follow(MARIADB) == dict(master_host='10.0.0.2', master_port=3306, master_user='repl',
                                     master_password='rpw', master_use_gtid='slave_pos')
    pos = Position('binlog.000004', 120)
    assert n.follow(MYSQL, gtid=False, position=pos)['master_log_pos'] == 120
    assert n.follow(MYSQL, gtid=False, position=pos)['master_auto_position'] is False


def test_node_needs_name_address_and_known_promotion():
    with pytest.raises(ValueError, match='replication address'):
        instances_from_params(dict(servers=[dict(name='db2')]), require_host=True)
    with pytest.raises(ValueError, match='listed twice'):
        instances_from_params(dict(servers=[dict(name='db2', host='h'), dict(name='db2', host='i')]))
    with pytest.raises(ValueError, match='needs a name'):
        instance_from_spec(dict(host='h'))
    with pytest.raises(ValueError, match='promotion'):
        Instance('db2', 'h', promotion='maybe')
    with pytest.raises(ValueError, match='no replication account'):
        Instance('db2', 'h').follow(MARIADB)


def _as_read(monkeypatch, facts):
    """Make verify_current see ``facts`` ({name: (read_only, status or None)}) without a server."""
    def read(nodes):
        for n in nodes:
            read_only, st = facts[n.name]
            n.facts = dict(read_only=read_only, status=st, server_id=int(n.name[-1]))
        return nodes
    monkeypatch.setattr(sw, 'connect_all', lambda nodes, journal=None: [])
    monkeypatch.setattr(sw, 'read_all', read)


def test_switchover_to_the_current_master_checks_it_and_does_nothing(monkeypatch):
    nodes = [instance_from_spec(dict(name=n, host='10.0.0.%s' % n[-1], login_host='192.0.2.1', connect_timeout=1))
             for n in ('db1', 'db2', 'db3')]
    _as_read(monkeypatch, dict(db1=(False, None), db2=(True, status(master_id=1)), db3=(True, status(master_id=1))))
    result = sw.switchover(nodes, 'db1', 'db1')
    assert result['changed'] is False and result['topology']['master'] == 'db1'


def test_switchover_to_the_current_master_refuses_a_stale_inventory(monkeypatch):
    """The inventory says db1; db1 is in fact a read-only replica of db2."""
    nodes = [instance_from_spec(dict(name=n, host='10.0.0.%s' % n[-1], login_host='192.0.2.1', connect_timeout=1))
             for n in ('db1', 'db2', 'db3')]
    _as_read(monkeypatch, dict(db1=(True, status(master_id=2)), db2=(False, None), db3=(True, status(master_id=2))))
    with pytest.raises(promotion.PromotionError) as refused:
        sw.switchover(nodes, 'db1', 'db1')
    msg = str(refused.value)
    assert msg.startswith('switchover refused, nothing was changed: db1 is to stay the master')
    assert 'db1 is read-only' in msg and 'db1 replicates from 10.0.0.1:3306' in msg
    assert 'db2 does not replicate from anyone' in msg and 'db2 is writable' in msg
    assert 'db3 replicates from 10.0.0.1:3306, not from db1' in msg  # by server_id: it follows db2
    assert refused.value.result['changed'] is False


def test_switchover_to_the_current_master_refuses_unreachable_servers():
    nodes = [instance_from_spec(dict(name=n, host='127.0.0.1', login_host='192.0.2.1', login_port=9, connect_timeout=1))
             for n in ('db1', 'db2')]
    with pytest.raises(promotion.PromotionError, match='db2: unreachable'):
        sw.switchover(nodes, 'db1', 'db1')


def test_switchover_rejects_unknown_servers_and_options():
    nodes = [instance_from_spec(dict(name='db1', host='h'))]
    with pytest.raises(ValueError, match='db9 is not one of the servers'):
        sw.switchover(nodes, 'db1', 'db9')
    with pytest.raises(TypeError, match='unknown options'):
        sw.switchover(nodes, 'db1', 'db1', wait=3)


def test_plan_names_every_step_in_order():
    old, new, other = node('db1'), node('db2'), node('db3')
    steps = sw.plan(old, new, [other, old], True, dict(sw.DEFAULTS))
    assert steps[0].startswith('db1: SET GLOBAL read_only = ON; kill client connections')
    assert steps[1].startswith('db2: wait until') and steps[2].startswith('db2: SET GLOBAL read_only = OFF')
    assert steps[3] == 'db1: UNLOCK TABLES (read_only stays on)'
    assert steps[4].startswith('db3: replicate from db2') and 'former master' in steps[5]
    steps = sw.plan(old, new, [other], False, dict(sw.DEFAULTS, kill_connections=False))
    assert 'kill' not in steps[0] and steps[-1].startswith('db1: left out')
    assert "binlog position" in steps[4]


# -- catching up before the lock ------------------------------------------------------------------------
def presync_run(monkeypatch, durations, wait_timeout=10):
    """A _Switch whose candidate takes ``durations`` (seconds; an exception is raised) per catch-up round."""
    run = sw._Switch([node('db1'), node('db2')], node('db1'), node('db2'), promotion.Journal(),
                     dict(sw.DEFAULTS, gtid=True, wait_timeout=wait_timeout), None, None)
    clock, rounds = [1000.0], []
    monkeypatch.setattr(sw.time, 'time', lambda: clock[0])
    monkeypatch.setattr(sw.replication, 'fetch_master_pos', lambda server: dict(gtid_executed='0-1-%d' % len(rounds)))

    def wait(pos, locked=False, timeout=None):
        took = durations[len(rounds)]
        rounds.append((pos['gtid_executed'], locked, timeout))
        if isinstance(took, Exception):
            raise took
        clock[0] += took
    monkeypatch.setattr(run, 'wait_candidate', wait)
    return run, rounds


def test_presync_catches_up_again_while_the_rounds_shrink(monkeypatch):
    run, rounds = presync_run(monkeypatch, [1.5, 0.4, 0.1, 0.03, 0.01])
    run.presync()
    assert [r[0] for r in rounds] == ['0-1-0', '0-1-1', '0-1-2', '0-1-3'] and not any(r[1] for r in rounds)
    assert rounds[0][2] is None and rounds[1][2] == 8  # later rounds within what is left of wait_timeout
    assert 'caught up with db1 before the lock (4 rounds, the last 30 ms)' in run.journal.steps[-1]['action']


def test_presync_stops_when_a_round_is_short_or_does_not_shrink(monkeypatch):
    run, rounds = presync_run(monkeypatch, [0.01, 5])
    run.presync()
    assert len(rounds) == 1
    run, rounds = presync_run(monkeypatch, [0.5, 0.45, 0.01])  # the replica barely keeps up: lock now
    run.presync()
    assert len(rounds) == 2


def test_presync_refuses_only_when_the_first_round_fails(monkeypatch):
    run, rounds = presync_run(monkeypatch, [ServerError('db2 did not reach 0-1-0 within 10s')])
    with pytest.raises(promotion.PromotionError, match='switchover refused, nothing was changed: db2: candidate_lag'):
        run.presync()
    run, rounds = presync_run(monkeypatch, [0.5, ServerError('db2 did not reach 0-1-1')])
    run.presync()  # it did catch up once: the lock goes ahead (the wait under it is bounded and undone on timeout)
    assert len(rounds) == 2


class Answers:
    """A server that answers value() from a list and records the statements."""

    flavor = MARIADB

    def __init__(self, *answers):
        self.answers, self.statements = list(answers), []

    def value(self, statement, args=None):
        self.statements.append(statement)
        return self.answers.pop(0)


def test_quick_wait_is_one_round_trip_when_the_replica_is_there(monkeypatch):
    server = Answers(0)
    assert sw.replication.wait_for_pos(server, gtid='0-1-5', timeout=10, require_running=False, quick=True) is None
    assert server.statements == ["SELECT MASTER_GTID_WAIT('0-1-5', 1)"]
    # not there at once: the usual wait, which reads the status (and fails early on a stopped SQL thread)
    monkeypatch.setattr(sw.replication, 'replica_status', lambda server, channel='': status(sql='No', sql_errno=1062))
    with pytest.raises(ServerError, match='SQL thread stopped with error 1062'):
        sw.replication.wait_for_pos(Answers(-1), gtid='0-1-5', timeout=10, require_running=False, quick=True)
