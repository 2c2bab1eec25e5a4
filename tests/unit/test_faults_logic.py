# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded waits (issue 13) without a server: relay-log progress, the hung-master judgement, the deadlines."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import failover, switchover as sw
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import Journal, PromotionError
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, ServerError

IDLE = 'Slave has read all relay log; waiting for more updates'
BUSY = 'Reading event from the relay log'


def sample(executed='0-1-10', received='0-1-10', pos=500, end=500, trx=0, rows=0, state=IDLE):
    executed, received = parse_gtid(executed, 'mariadb'), parse_gtid(received, 'mariadb')
    status = dict(relay_master_log_file='binlog.000002', exec_master_log_pos=pos, master_log_file='binlog.000002',
                  read_master_log_pos=end, last_sql_errno=0, sql_state=state)
    return dict(status=status, executed=executed, missing=received.difference(executed), position=('binlog.000002', pos),
                applied=pos == end, trx=trx, rows=rows, sql_state=state)


# -- relay_log_progress ---------------------------------------------------------------------------------
def test_everything_executed_is_applied():
    assert failover.relay_log_progress(None, sample()) == 'applied'
    # the position short of the end, but only an incomplete transaction left and the SQL thread idle, no open trx
    assert failover.relay_log_progress(None, sample(pos=400, end=500)) == 'applied'


def test_a_big_transaction_whose_rows_grow_is_progress_though_no_position_moves():
    before = sample(executed='0-1-9', received='0-1-10', pos=400, trx=1, rows=1000)
    assert failover.relay_log_progress(before, dict(before, rows=5000)) == 'progress'
    assert failover.relay_log_progress(before, dict(before)) == 'stalled'


def test_a_busy_sql_thread_is_progress_even_when_nothing_moved():
    before = sample(executed='0-1-9', received='0-1-10', pos=400, trx=1, rows=10, state=BUSY)
    assert failover.relay_log_progress(before, dict(before)) == 'progress'
    assert failover.relay_log_progress(before, dict(before, sql_state='Waiting for table metadata lock')) == 'progress'


def test_executed_gtids_or_position_moving_is_progress():
    before = sample(executed='0-1-8', received='0-1-10', pos=300)
    assert failover.relay_log_progress(before, sample(executed='0-1-9', received='0-1-10', pos=300)) == 'progress'
    assert failover.relay_log_progress(before, sample(executed='0-1-8', received='0-1-10', pos=350)) == 'progress'
    assert failover.relay_log_progress(None, before) == 'progress'  # the first look


def test_an_incomplete_tail_with_an_open_transaction_is_not_applied_but_stalls():
    tail = sample(pos=400, end=500, trx=1, rows=30)
    assert failover.relay_log_progress(None, tail) == 'progress'
    assert failover.relay_log_progress(tail, dict(tail)) == 'stalled'


# -- apply_relay_logs -----------------------------------------------------------------------------------
def replica(name):
    node = Instance(name, '10.0.0.2', 3306)
    node.facts = dict(flavor=None)
    return node


def scripted(monkeypatch, script):
    """applier_sample answers from ``script`` (name -> samples; the last repeats)."""
    calls = dict((name, 0) for name in script)

    def fake(server, flavor):
        name = server.name
        i = min(calls[name], len(script[name]) - 1)
        calls[name] += 1
        return script[name][i]
    monkeypatch.setattr(failover, 'applier_sample', fake)
    monkeypatch.setattr(Server, 'run', lambda *a, **k: [])
    monkeypatch.setattr(failover.replication, 'start_replication', lambda *a, **k: None)
    monkeypatch.setattr(failover.replication, 'replica_status', lambda server: dict(io_running='Yes'))
    return calls


def test_apply_waits_while_a_long_transaction_applies_then_finishes(monkeypatch):
    rows = [sample(executed='0-1-9', received='0-1-10', pos=400, trx=1, rows=r * 100) for r in range(1, 8)]
    scripted(monkeypatch, dict(db2=rows + [sample(executed='0-1-10', received='0-1-10')]))
    journal = Journal()
    notes = failover.apply_relay_logs([replica('db2')], journal, timeout=30, stall_timeout=0.12)
    assert notes == {}
    assert journal.steps[-1]['action'].startswith('relay log applied')


def test_a_complete_transaction_left_unapplied_is_refused_not_dropped(monkeypatch):
    stuck = sample(executed='0-1-9', received='0-1-10', pos=400, trx=1, rows=100)
    scripted(monkeypatch, dict(db2=[stuck]))
    with pytest.raises(PromotionError) as refused:
        failover.apply_relay_logs([replica('db2')], Journal(), timeout=30, stall_timeout=0.1)
    text = str(refused.value)
    assert 'db2: relay_log: did not apply the complete transactions 0-1-10' in text
    assert 'force relay_log' in text and 'Nothing was promoted' in text


def test_forcing_relay_log_goes_on_and_names_what_that_replica_did_not_apply(monkeypatch):
    stuck = sample(executed='0-1-9', received='0-1-10', pos=400, trx=1, rows=100)
    scripted(monkeypatch, dict(db2=[stuck], db3=[sample(pos=400, end=500, trx=1, rows=7)]))
    journal = Journal()
    notes = failover.apply_relay_logs([replica('db2'), replica('db3')], journal, 30, 0.1, force=('relay_log',))
    assert '0-1-10' in notes['db2'] and 'incomplete transaction' in notes['db3']
    assert journal.forced()[0]['check'] == 'relay_log'


def test_the_overall_bound_holds_while_a_replica_keeps_applying(monkeypatch):
    busy = sample(executed='0-1-9', received='0-1-10', pos=400, trx=1, rows=1, state=BUSY)
    scripted(monkeypatch, dict(db2=[busy]))
    started = time.time()
    with pytest.raises(PromotionError, match='relay_log_timeout'):
        failover.apply_relay_logs([replica('db2')], Journal(), timeout=0.3, stall_timeout=10)
    assert time.time() - started < 2


def test_lost_transactions_are_those_received_somewhere_and_applied_nowhere():
    received = dict(db2=parse_gtid('0-1-10', 'mariadb'), db3=parse_gtid('0-1-12', 'mariadb'))
    assert not failover.lost_transactions(received, dict(db2=parse_gtid('0-1-10', 'mariadb'),
                                                         db3=parse_gtid('0-1-12', 'mariadb')))
    lost = failover.lost_transactions(received, dict(db2=parse_gtid('0-1-10', 'mariadb'),
                                                     db3=parse_gtid('0-1-11', 'mariadb')))
    assert str(lost) == '0-1-12'


# -- the hung master ------------------------------------------------------------------------------------
def test_io_connected_needs_a_running_io_thread_without_error():
    assert failover.io_connected(dict(io_running_ok=True, last_io_errno=0))
    assert not failover.io_connected(dict(io_running_ok=False, last_io_errno=0))   # Connecting / No
    assert not failover.io_connected(dict(io_running_ok=True, last_io_errno=2013))
    assert not failover.io_connected(None)


def test_master_lost_fails_for_a_replica_still_connected_and_says_what_to_do(monkeypatch):
    old = Instance('db1', '10.0.0.1', 3306)
    old.error = 'cannot connect to db1: timed out'
    still, gone = replica('db2'), replica('db3')
    still.facts['status'] = dict(io_running_ok=True, last_io_errno=0, io_running='Yes', last_io_error='')
    gone.facts['status'] = dict(io_running_ok=False, last_io_errno=2003, io_running='Connecting',
                                last_io_error='error reconnecting to master')
    monkeypatch.setattr(failover.replication, 'replica_status', lambda server: still.facts['status'])
    journal = Journal()
    started = time.time()
    failover._master_lost(old, [still, gone], journal, (), 0.5)
    assert 0.4 < time.time() - started < 2
    by_host = dict((c['host'], c) for c in journal.checks)
    assert not by_host['db2']['ok'] and 'still connected to db1' in by_host['db2']['message']
    assert 'force master_lost' in by_host['db2']['message']
    assert by_host['db3']['ok'] and 'Connecting' in by_host['db3']['message']


# -- deadlines --------------------------------------------------------------------------------------------
def test_a_statement_past_its_deadline_fails_at_once_without_connecting():
    server = Server(unix_socket='/nonexistent/socket', name='db9')
    started = time.time()
    with server.deadline(time.time() - 1):
        with pytest.raises(ServerError, match='out of time'):
            server.sql('SELECT 1')
    assert time.time() - started < 0.5


def test_the_critical_section_bound_is_the_documented_sum():
    assert sw.critical_bound(dict(lock_wait_timeout=5, wait_timeout=10)) == 16.0


def test_a_replica_with_both_threads_stopped_and_relay_log_left_is_not_started_mariadb_would_discard_it():
    status = dict(using_gtid='Slave_Pos', io_running='No', sql_running_ok=False, relay_master_log_file='b.1',
                  exec_master_log_pos=100, master_log_file='b.1', read_master_log_pos=900)
    assert failover.discards_relay_log(status)
    assert not failover.discards_relay_log(dict(status, io_running='Connecting'))
    assert not failover.discards_relay_log(dict(status, sql_running_ok=True))
    assert not failover.discards_relay_log(dict(status, exec_master_log_pos=900))
    assert not failover.discards_relay_log(dict(status, using_gtid='No'))


def _stopped_with_relay_left(monkeypatch, received):
    status = dict(using_gtid='Slave_Pos', io_running='No', sql_running_ok=False, relay_master_log_file='binlog.000002',
                  exec_master_log_pos=400, master_log_file='binlog.000002', read_master_log_pos=500, last_sql_errno=0)
    calls = scripted(monkeypatch, dict(db2=[sample(executed='0-1-10', received=received, pos=400)]))
    started = []
    monkeypatch.setattr(failover.replication, 'replica_status', lambda server: status)
    monkeypatch.setattr(failover.replication, 'start_replication', lambda *a, **k: started.append(a))
    return calls, started


def test_both_threads_stopped_with_only_a_transaction_cut_in_half_left_is_not_refused(monkeypatch):
    """What the tail recovery leaves when the IO thread stopped in the middle of a transaction: every complete one
    received is executed, so nothing would be discarded; the replica is left as it is, not started."""
    _calls, started = _stopped_with_relay_left(monkeypatch, received='0-1-10')
    journal = Journal()
    notes = failover.apply_relay_logs([replica('db2')], journal, timeout=30, stall_timeout=0.1)
    assert 'transaction cut in half' in notes['db2'] and not journal.refusals() and started == []


def test_both_threads_stopped_with_a_complete_transaction_left_is_refused(monkeypatch):
    _calls, started = _stopped_with_relay_left(monkeypatch, received='0-1-11')
    with pytest.raises(PromotionError, match='would discard that relay log'):
        failover.apply_relay_logs([replica('db2')], Journal(), timeout=30, stall_timeout=0.1)
    assert started == []


def _settle(monkeypatch, received, executed='0-1-10'):
    from ansible_collections.replicant.mysql.plugins.module_utils import binlog_tail
    _calls, started = _stopped_with_relay_left(monkeypatch, received=received)
    node = replica('db2')
    node.facts = dict(flavor=type('F', (), dict(name='mariadb'))())
    monkeypatch.setattr(Server, 'value', lambda *a, **k: executed)
    monkeypatch.setattr(binlog_tail.dialect, 'sql', lambda *a, **k: 'SELECT 1')
    monkeypatch.setattr(binlog_tail.replication, 'stop_replication', lambda *a, **k: None)
    return binlog_tail, node, started


def test_the_tail_recovery_follows_the_failover_rule_for_a_half_transaction(monkeypatch):
    """settle (the tail recovery) and apply_relay_logs judge a stopped replica by one rule: only half a transaction
    left is not refused, nothing is started, and what it executed is what is waited for."""
    binlog_tail, node, started = _settle(monkeypatch, received='0-1-10')
    binlog_tail.settle(node, parse_gtid('0-1-10', 'mariadb'), timeout=1)
    assert started == []


def test_the_tail_recovery_refuses_a_stopped_replica_with_complete_transactions_unapplied(monkeypatch):
    binlog_tail, node, started = _settle(monkeypatch, received='0-1-11')
    with pytest.raises(binlog_tail.TailError, match='db2: both replication threads are stopped.*nothing was recovered'):
        binlog_tail.settle(node, parse_gtid('0-1-11', 'mariadb'), timeout=1)
    assert started == []
