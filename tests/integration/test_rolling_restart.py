"""rolling_restart.yml: a static option changed on every server of a 4-server installation with a relay, under writes.

lab1 the master, lab2 and lab3 its replicas, lab4 below the relay lab3 (127.0.75.21-24). A client writes to
whichever server is writable throughout.
"""
import os
import re
import time

import pytest

from conftest import run_playbook
from test_adoption import declare, lab_with_data
import test_promote_master as promote

PLAYBOOK = 'playbooks/rolling_restart.yml'
NAMES = promote.NAMES
STATIC = {'options': {'performance_schema': 'ON'}}
ROLE = 'replicant.mysql.rolling_restart : '


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    with lab_with_data('replicant-rolling-', '127.0.75.21', lab_servers=4) as the_lab:
        host, port = promote.address(the_lab, 'lab3')
        with the_lab.server('lab4') as leaf:   # lab4 below the relay lab3
            leaf.sql('STOP SLAVE')
            leaf.sql("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USE_GTID = slave_pos", (host, port))
            leaf.sql('START SLAVE')
        the_lab.tree = declare(the_lab, str(tmp_path_factory.mktemp('rolling') / 'tree.yml'), lab4='lab3')
        yield the_lab


def starts(lab):
    """How many times each server has started (its error log's 'ready for connections' lines)."""
    return {name: open(os.path.join(lab.dir, name, 'error.log')).read().count('ready for connections') for name in NAMES}


def values(lab, statement):
    out = {}
    for name in NAMES:
        with lab.server(name) as s:
            out[name] = s.value(statement)
    return out


def read_only_in_files(lab, name):
    """read_only as the server reads it at start: the lab's my.cnf, then conf.d/ (included last) wins."""
    h = lab.hosts()[name]
    found = 'OFF'
    for path in (h['replicant_defaults_file'], h['replicant_cnf_file']):
        for line in open(path).read().splitlines():
            match = re.match(r'^\s*read[-_]only\s*=\s*(\S+)', line)
            if match:
                found = match.group(1).upper()
    return found


def assert_tree(lab):
    """lab1 the only writable server; lab2, lab3 replicate from it, lab4 from lab3, threads running."""
    state = promote.snapshot(lab)
    assert [n for n in NAMES if state[n]['read_only'] == 0] == ['lab1'], state
    for name, master in (('lab2', 'lab1'), ('lab3', 'lab1'), ('lab4', 'lab3')):
        assert state[name]['master'] == promote.address(lab, master) + ('Yes', 'Yes'), (name, state)


def test_an_unhealthy_installation_is_refused_with_nothing_changed(lab):
    with lab.server('lab4') as leaf:
        leaf.sql('STOP SLAVE')
    try:
        before = starts(lab)
        run = run_playbook(PLAYBOOK, inventory=lab.tree, extra_vars=STATIC)
        assert run.rc != 0
        assert 'is not healthy, so no server is restarted (nothing was changed)' in run.output and 'lab4' in run.output
        assert starts(lab) == before and not [r for r in run.records if r['action'] == 'replicant.mysql.mysql_cnf']
    finally:
        with lab.server('lab4') as leaf:
            leaf.sql('START SLAVE')


def test_check_mode_lists_the_order_and_the_restarts_and_changes_nothing(lab):
    before = starts(lab)
    run = run_playbook(PLAYBOOK, inventory=lab.tree, extra_vars=STATIC, check=True)
    assert run.rc == 0, run.output
    plan = run.result(ROLE + 'Report the order and the restarts')['msg']
    assert re.search(r'lab4: would restart.*lab2: would restart.*lab3: would restart.*lab1: would switch over to lab2'
                     r'.*lab1: would restart', plan), plan
    assert starts(lab) == before
    assert set(values(lab, 'SELECT @@GLOBAL.performance_schema').values()) == {0}
    assert not os.path.exists(lab.hosts()['lab1']['replicant_cnf_file'])
    assert_tree(lab)


def test_a_static_option_rolls_through_with_one_switchover_and_no_lost_write(lab):
    before = starts(lab)
    writer = promote.Writer(lab)
    writer.start()
    time.sleep(0.5)
    started = time.time()
    run = run_playbook(PLAYBOOK, inventory=lab.tree, extra_vars=dict(STATIC, switch_back=True))
    elapsed = time.time() - started
    time.sleep(0.5)
    longest_gap = writer.stop()
    assert run.rc == 0, run.output
    switches = [run.result(ROLE + 'Switch the master over to a replica (the whole write outage inside one module run)'),
                run.result(ROLE + 'Switch the master back (the second write outage, as short as the first)')]
    outages = [s['outage_ms'] for s in switches]
    print('\nrolling_restart: %.1f s for 4 servers; switchover outages %s ms; writer longest gap %.3f s; %d writes'
          % (elapsed, outages, longest_gap, len(writer.acked)))
    # every server restarted exactly once; the option active everywhere; the tree as it was (lab4 below lab3)
    assert {n: starts(lab)[n] - before[n] for n in NAMES} == dict.fromkeys(NAMES, 1)
    assert set(values(lab, 'SELECT @@GLOBAL.performance_schema').values()) == {1}
    assert_tree(lab)
    # every acknowledged write on every server, the servers agree
    promote.caught_up(lab, 'lab1', ['lab2', 'lab3'], timeout=180)   # a loaded machine lets the leaf lag
    promote.caught_up(lab, 'lab3', ['lab4'], timeout=180)
    acked = set(writer.acked)
    assert acked
    for name in NAMES:
        assert not acked - promote.ids(lab, name), name
    assert len({promote.checksum(lab, name) for name in NAMES}) == 1
    # the option files say what the servers are: a restart of any of them keeps exactly one writable master
    for name in NAMES:
        assert read_only_in_files(lab, name) == ('OFF' if name == 'lab1' else 'ON'), name
        assert 'performance_schema = ON' in open(lab.hosts()[name]['replicant_cnf_file']).read()
    # the writer waited no longer than one switchover (the outage itself is ms; the margin is for a loaded machine)
    assert longest_gap < 5, longest_gap
    again = run_playbook(PLAYBOOK, inventory=lab.tree, extra_vars=dict(STATIC, switch_back=True))
    assert again.rc == 0, again.output
    assert starts(lab) == {n: before[n] + 1 for n in NAMES}
    assert 'switch' not in again.result(ROLE + 'Report the order and the restarts')['msg']
    assert_tree(lab)
