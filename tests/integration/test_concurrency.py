"""One procedure at a time, and crash-resumable promotions: two promote_master runs at once, and the controller
killed with SIGKILL right after the lock and right after the promotion, then a rerun (real servers, real
ansible-playbook)."""
import json
import os
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, REPO, Lab, ansible_env, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication

NAMES = ['lab1', 'lab2', 'lab3']
# The router hook (type command) the runs get: it notes every phase it is called at; at the phase named in the
# file ``block`` it says so (file ``reached``) and blocks, so that the test can kill the controller at exactly that
# instant; with the file ``slow`` its promote phase takes 3 s (the first procedure then certainly still holds its
# lease when the second one looks).
HOOK = """#!/bin/sh
d=%s
echo "$REPLICANT_ROUTER_PHASE $REPLICANT_NEW_MASTER" >> "$d/phases"
if [ -f "$d/block" ] && [ "$(cat "$d/block")" = "$REPLICANT_ROUTER_PHASE" ]; then
    rm -f "$d/block"; touch "$d/reached"; exec sleep 300
fi
if [ -f "$d/slow" ] && [ "$REPLICANT_ROUTER_PHASE" = promote ]; then sleep 3; fi
exit 0
"""


@pytest.fixture(scope='module')
def lab():
    """Three servers on 127.0.73.11-13: lab1 the master, lab2 and lab3 its replicas; a router hook in its directory."""
    directory = tempfile.mkdtemp(prefix='replicant-concurrency-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.73.11', lab_servers=3))
    run = the_lab.up()
    assert run.rc == 0, run.output
    hook = os.path.join(directory, 'router-hook')
    with open(hook, 'w') as handle:
        handle.write(HOOK % directory)
    os.chmod(hook, stat.S_IRWXU)
    the_lab.router = dict(type='command', command=[hook], timeout=600)
    with the_lab.server('lab1') as master:
        master.sql('CREATE DATABASE w')
        master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))')
    try:
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


# -- helpers ---------------------------------------------------------------------------------------
def state(lab):
    """Per server: read_only and (host, port, IO, SQL) of its master, or None."""
    hosts = lab.hosts()
    out = {}
    for name in NAMES:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            out[name] = dict(read_only=s.value('SELECT @@GLOBAL.read_only'),
                             master=st and ([n for n in NAMES if (hosts[n]['replicant_host'], hosts[n]['replicant_port'])
                                             == (st['master_host'], st['master_port'])] + ['?'])[0],
                             threads=st and (st['io_running'], st['sql_running']))
    return out


def master_of(lab):
    """The master the lab's inventory declares."""
    return next(name for name, h in lab.hosts().items() if h['group'] == 'mysql_master')


def assert_one_master(lab, master):
    """Exactly one writable server, every other one replicates from it, and a write reaches them all (nothing locked)."""
    now = state(lab)
    assert [n for n in NAMES if now[n]['read_only'] == 0] == [master], now
    assert now[master]['master'] is None, now
    for name in NAMES:
        if name != master:
            assert now[name]['master'] == master and now[name]['threads'] == ('Yes', 'Yes'), (name, now)
    h = lab.hosts()[master]
    with lab.tcp_server(master, user=h['replicant_app_user'], password=h['replicant_app_password']) as app:
        app.sql('INSERT INTO w.t VALUES (%s, %s)', (int(time.time() * 1000) % 2000000000, master))
    with lab.server(master) as m:
        gtid = m.value('SELECT @@GLOBAL.gtid_binlog_pos')
    for name in NAMES:
        if name != master:
            with lab.server(name) as s:
                replication.wait_for_pos(s, gtid=gtid, timeout=20)
    assert master_of(lab) == master, 'the inventory was not written with the new master'


def start(lab, playbook, **extra):
    """Start ansible-playbook (in a session of its own) with the lab's router hook; return the Popen."""
    extra = dict(dict(router=lab.router, write_inventory=lab.inventory), **extra)
    return subprocess.Popen([os.path.join(BIN, 'ansible-playbook'), os.path.join(REPO, 'playbooks/%s.yml' % playbook),
                             '-i', lab.inventory, '-e', json.dumps(extra)], cwd=REPO, env=ansible_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            start_new_session=True)


def descendants(root):
    """``root`` and every process below it (ansible-playbook, its workers, the module, the router hook: each may
    run in a session of its own, so they are found by parentage, not by process group)."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry, 'rb') as handle:
                    children.setdefault(int(handle.read().rsplit(b')', 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kill_controller(proc):
    """SIGKILL the whole controller (stopped first, so that nothing forks or cleans up meanwhile)."""
    pids = descendants(proc.pid)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    proc.communicate(timeout=30)


def run_until(lab, proc, phase):
    """Let the run reach the router phase ``phase`` (its hook blocks there), then kill the controller."""
    reached = os.path.join(lab.dir, 'reached')
    deadline = time.time() + 120
    while not os.path.exists(reached) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(reached), proc.communicate(timeout=30)[0] if proc.poll() is not None else 'timeout'
    os.unlink(reached)
    kill_controller(proc)


def others(master):
    return [n for n in NAMES if n != master]


# -- two procedures at once ------------------------------------------------------------------------
@pytest.mark.parametrize('kill_connections', [True, False])
def test_two_switchovers_at_once_one_proceeds_the_other_refuses_naming_the_holder(lab, kill_connections):
    master = master_of(lab)
    first, second = others(master)
    runs = [start(lab, 'promote_master', new_master=target, promote_master_kill_connections=kill_connections)
            for target in (first, second)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    codes = [run.returncode for run in runs]
    assert sorted(code == 0 for code in codes) == [False, True], (codes, outputs)
    winner = (first, second)[codes.index(0)]
    refusal = outputs[1 - codes.index(0)]
    # the holder is named: its procedure, its controller (host, pid and the winning play's pid), since when. Met
    # while the winner holds the lease (its play's holder keeps it to the end of the play), or, had the winner's
    # play ended first, as the last procedure when the prechecks find the servers changed under the inventory.
    assert ('is in the hands of another procedure: switchover by' in refusal
            or 'the last procedure on installation default: switchover by' in refusal), refusal
    assert '(ansible-playbook pid %d) since ' % runs[codes.index(0)].pid in refusal, refusal
    assert 'run the failover' not in refusal, refusal
    assert_one_master(lab, winner)


# -- the controller killed -------------------------------------------------------------------------
def test_controller_killed_right_after_the_lock_a_rerun_undoes_and_switches_over(lab):
    master = master_of(lab)
    target = others(master)[0]
    with open(os.path.join(lab.dir, 'block'), 'w') as handle:
        handle.write('demote')  # the old master is read-only and locked, the candidate not promoted yet
    run_until(lab, start(lab, 'promote_master', new_master=target), 'demote')
    now = state(lab)
    assert all(now[n]['read_only'] == 1 for n in NAMES), now  # nobody writable until a rerun
    rerun = run_playbook('playbooks/promote_master.yml', lab.inventory,
                         dict(new_master=target, router=lab.router, write_inventory=lab.inventory))
    assert rerun.rc == 0, rerun.output
    result = rerun.result('replicant.mysql.promote_master : Switch the master (one module run holds the whole '
                          'critical section)')
    assert any('undo the interrupted switchover' in step for step in result['plan']), result['plan']
    assert_one_master(lab, target)


def test_controller_killed_right_after_the_promotion_a_failover_rerun_completes_it(lab):
    master = master_of(lab)
    target = others(master)[0]
    with open(os.path.join(lab.dir, 'block'), 'w') as handle:
        handle.write('promote')  # the candidate is writable, nobody repointed yet
    run_until(lab, start(lab, 'promote_master', new_master=target), 'promote')
    now = state(lab)
    assert [n for n in NAMES if now[n]['read_only'] == 0] == [target], now
    third = [n for n in NAMES if n not in (master, target)][0]
    assert now[third]['master'] == master, now  # still follows the read-only old master
    assert master_of(lab) == master  # the inventory was never written
    rerun = run_playbook('playbooks/failover.yml', lab.inventory,
                         dict(router=lab.router, write_inventory=lab.inventory))
    assert rerun.rc == 0, rerun.output
    result = rerun.result('replicant.mysql.promote_master : Fail over to the elected replica (one module run)')
    assert result['resumed']['action'] == 'complete' and result['new_master'] == target, result
    assert_one_master(lab, target)
    for name in NAMES:  # nothing is left to resume; the play's lease holder let go when the play ended
        with lab.server(name) as s:
            assert [r['phase'] for r in s.sql('SELECT phase FROM replicant.lease')] == ['done'], name
            deadline = time.time() + 10
            while s.value("SELECT IS_FREE_LOCK('replicant.default')") != 1 and time.time() < deadline:
                time.sleep(0.1)
            assert s.value("SELECT IS_FREE_LOCK('replicant.default')") == 1, name
