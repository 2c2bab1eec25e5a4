"""The lease's pure logic: lock names, the holder's description, what a rerun does with an interrupted record."""
import json

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import lease
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import PromotionError


def record(phase, procedure='switchover', **progress):
    return dict(name='replicant.default', owner='ctl1 pid 10 (ansible-playbook pid 9)', procedure_name=procedure,
                started=1800000000.0, expires=1800000900.0, updated=1800000001.0, phase=phase, progress=progress)


def node(name, read_only=True, status=None, error=None):
    inst = Instance(name, host='10.0.0.%d' % (len(name) + 10), login=dict(login_host='10.0.0.1', login_user='a'))
    inst.facts = {} if error else dict(read_only=read_only, status=status, gtid_enabled=True)
    inst.error = error
    return inst


def test_lock_names_fit_the_servers_limit():
    assert lease.lock_name('shop') == 'replicant.shop'
    assert lease.lock_name(None) == 'replicant.default'
    long_name = lease.lock_name('x' * 100)
    assert len(long_name) <= 64 and long_name.startswith('replicant.') and long_name == lease.lock_name('x' * 100)


def test_the_holder_is_named_with_its_procedure_owner_start_and_masters():
    text = lease.describe_holder(record('promoted', old_master='db1', new_master='db2'))
    assert text.startswith('switchover by ctl1 pid 10 (ansible-playbook pid 9) since 2027-01-15 08:00:00 UTC')
    assert 'phase promoted, old master db1, new master db2' in text


@pytest.mark.parametrize('phase, new_read_only, expected', [
    ('started', True, 'undo'),            # nothing was changed
    ('demoting', True, 'undo'),           # the old master may be read-only; the candidate never became writable
    ('demoting', False, 'complete'),      # killed between "writable" and the record of it
    ('promoted', False, 'complete'),
])
def test_a_rerun_completes_what_became_the_master_and_undoes_the_rest(phase, new_read_only, expected):
    nodes = {'db1': node('db1'), 'db2': node('db2', read_only=new_read_only)}
    progress = dict(old_master='db1', new_master='db2') if phase != 'started' else {}
    assert lease.resume_action(record(phase, **progress), nodes)[0] == expected


def test_a_failover_whose_candidate_lost_its_replication_is_completed():
    nodes = {'db2': node('db2', read_only=True, status=None)}
    rec = record('promoting', procedure='failover', old_master='db1', new_master='db2')
    assert lease.resume_action(rec, nodes)[0] == 'complete'


def test_an_unreachable_candidate_is_neither_completed_nor_undone():
    nodes = {'db1': node('db1'), 'db2': node('db2', error='cannot connect')}
    action, why = lease.resume_action(record('demoting', old_master='db1', new_master='db2'), nodes)
    assert action == 'refuse' and 'db2' in why
    with pytest.raises(PromotionError, match='nothing was changed'):
        lease.resume(record('demoting', old_master='db1', new_master='db2'), list(nodes.values()), None, None)


def test_an_undo_never_makes_a_second_server_writable():
    nodes = [node('db1'), node('db2'), node('db3', read_only=False)]
    with pytest.raises(PromotionError, match='db3 accept writes'):
        lease.resume(record('demoting', old_master='db1', new_master='db2'), nodes, None, None, check_mode=True)


def test_check_mode_plans_the_undo_first():
    nodes = [node('db1'), node('db2'), node('db3')]
    outcome = lease.resume(record('demoting', old_master='db1', new_master='db2'), nodes, None, None, check_mode=True)
    assert outcome['action'] == 'undo' and outcome['master'] == 'db1' and outcome['writable']
    assert outcome['done'][0].startswith('undo the interrupted switchover by ctl1')
    assert outcome['done'][1] == 'db1: SET GLOBAL read_only = OFF (the master again)'


class Session:
    def __init__(self):
        self.statements = []

    def sql(self, statement, args=None):
        self.statements.append((statement, args))
        return []


def test_the_record_is_written_outside_the_binlog_and_skips_the_locked_old_master():
    held = lease.Lease([node('db1'), node('db2')], 'switchover')
    held.sessions = {'db1': Session(), 'db2': Session()}
    held.held, held.recording = ['db1', 'db2'], {'db1', 'db2'}
    held.binding = dict(play=[9, 1])
    assert held.record('promoted', skip=('db1',), new_master='db2') == ['db2']
    assert held.sessions['db1'].statements == []
    statement, args = held.sessions['db2'].statements[0]
    assert statement.startswith('REPLACE INTO replicant.lease') and args[6] == 'promoted'
    assert json.loads(args[7]) == dict(new_master='db2', procedure='switchover', play=[9, 1])
    assert lease.SETUP[0] == 'SET SESSION sql_log_bin = 0'


def test_a_refusal_for_a_changed_topology_names_the_last_procedure():
    held = lease.Lease([node('db1')], 'switchover')
    held.previous = dict(record('done', master='db2'), updated=1800000100.0)
    note = held.last_procedure([dict(check='replica_of_master')])
    assert 'the last procedure on installation default: switchover by ctl1' in note and 'with db2 the master' in note
    assert held.last_procedure([dict(check='candidate_lag')]) == ''


# -- what the end of a procedure leaves -----------------------------------------------------------------
class Releases:
    def __init__(self):
        self.calls = []

    def release(self, **kwargs):
        self.calls.append(kwargs)


def test_an_undone_switchover_leaves_nothing_to_resume_and_names_the_old_master():
    holder = Releases()
    lease.end(holder, dict(changed=True, undone=True, old_master='db1', topology=dict(master='db2')))
    assert holder.calls == [dict(keep=False, changed=True, master='db1')]


def test_a_procedure_stopped_half_way_keeps_its_record_and_a_finished_one_names_its_master():
    holder = Releases()
    lease.end(holder, dict(changed=True, undone=False, old_master='db1', topology=dict(master='db2')))
    lease.end(holder, dict(changed=True, old_master='db1', msg='done', topology=dict(master='db2')))
    lease.end(holder, dict(changed=False, old_master='db1'))
    assert holder.calls == [
        dict(keep=True, changed=True, master=None),
        dict(keep=False, changed=True, master='db2'),
        dict(keep=False, changed=False, master=None),
    ]


class LockSession:
    """A lease session: IS_USED_LOCK answers ``holder``; the record READ answers the next of ``answers`` (the last
    repeats; an exception is raised), as a server would while the holder writes its record."""

    def __init__(self, holder, answers):
        self.holder, self.answers = holder, list(answers)

    def value(self, sql, args=None):
        return self.holder

    def one(self, sql, args=None):
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer and dict(answer, progress=json.dumps(answer['progress']))


def refusal(monkeypatch, sessions):
    monkeypatch.setattr(lease.time, 'sleep', lambda s: None)
    held = lease.Lease([node('db1'), node('db2')], 'switchover')
    held.sessions = sessions
    return held._refusal(['db1'])


def test_a_refusal_waits_for_the_holders_own_record_not_the_previous_procedures(monkeypatch):
    """A record left by an earlier procedure is not the holder: the refusal waits until the record whose lock
    connection holds the lock now is there, and names that one."""
    old = dict(record(lease.DONE, old_master='db0', new_master='db1', connections=dict(db1=7)), owner='ctl0 pid 1')
    new = dict(record('demoting', old_master='db1', new_master='db2', connections=dict(db1=42)), owner='ctl2 pid 20')
    text = refusal(monkeypatch, dict(db1=LockSession(42, [old, old, new])))
    assert 'in the hands of another procedure: switchover by ctl2 pid 20' in text and 'ctl0' not in text


def test_a_refusal_skips_a_session_the_holder_killed(monkeypatch):
    """The winner of two switchovers kills the client sessions of the old master, the loser's lease session there
    among them: the holder is named from another server's record."""
    new = dict(record('demoting', old_master='db1', new_master='db2', connections=dict(db1=42, db2=43)),
               owner='ctl2 pid 20')
    killed = lease.ServerError('(2013) Lost connection to server during query')
    text = refusal(monkeypatch, dict(db1=LockSession(42, [killed]), db2=LockSession(None, [new])))
    assert 'another procedure: switchover by ctl2 pid 20' in text


def test_a_refusal_does_not_wait_when_the_lock_was_let_go_in_between(monkeypatch):
    text = refusal(monkeypatch, dict(db1=LockSession(None, [None])))
    assert 'a procedure whose lease record is not written yet' in text
