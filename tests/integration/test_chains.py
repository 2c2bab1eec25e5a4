"""Promotions of an installation with a relay: the declared tree is kept, under a client that writes all along.

lab1 the master, lab2 a direct replica, lab3 a relay (a direct replica with lab4 below it) (127.0.76.11-14).
One writer (the unprivileged application account, always at the writable server) runs from the first test to
the last; each step checks that exactly one server is writable, the tree the servers form and the inventory the
playbook wrote, that every acknowledged write is on every server and the servers agree, and that lab4's
replication was never stopped or repointed (its IO thread is the same thread all along).
"""
import os
import signal
import time

import pytest
import yaml

from conftest import run_playbook
from test_adoption import declare, lab_with_data
import test_promote_master as promote

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

NAMES = tuple(promote.NAMES)
ROLE = 'replicant.mysql.promote_master : '
SWITCH = ROLE + 'Switch the master (one module run holds the whole critical section)'
FAIL_OVER = ROLE + 'Fail over to the elected replica (one module run)'
TREE = {'lab2': 'lab1', 'lab3': 'lab1', 'lab4': 'lab3'}


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    with lab_with_data('replicant-chains-', '127.0.76.11', lab_servers=4) as the_lab:
        host, port = promote.address(the_lab, 'lab3')
        with the_lab.server('lab4') as leaf:   # lab4 below the relay lab3
            leaf.sql('STOP SLAVE')
            leaf.sql("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USE_GTID = slave_pos", (host, port))
            leaf.sql('START SLAVE')
        the_lab.dir_inventories = tmp_path_factory.mktemp('chains')
        the_lab.tree = declare(the_lab, str(the_lab.dir_inventories / 'tree.yml'), lab4='lab3')
        the_lab.writer = Writer(the_lab)
        the_lab.writer.start()
        the_lab.io_thread = io_thread(the_lab)
        try:
            yield the_lab
        finally:
            the_lab.writer.stop()


def io_thread(lab, name='lab4'):
    """The id of the server's replication IO thread (a new one after any STOP/START SLAVE or CHANGE MASTER)."""
    with lab.server(name) as s:
        return s.value("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'")


def writable(lab, names=NAMES):
    out = []
    for name in names:
        with lab.server(name) as s:
            if s.value('SELECT @@GLOBAL.read_only') == 0:
                out.append(name)
    return out


def assert_tree(lab, master, tree, names=NAMES):
    """``master`` the only writable server; every server of ``tree`` replicates from its master, threads running."""
    assert writable(lab, names) == [master]
    for name in names:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            if name == master:
                assert st is None, (name, st)
            else:
                got = (st['master_host'], st['master_port'], st['io_running'], st['sql_running'])
                assert got == promote.address(lab, tree[name]) + ('Yes', 'Yes'), (name, got, tree)


def declared(path):
    """(master, {replica: its replicant_master}) of the inventory file at ``path``."""
    groups = yaml.safe_load(open(path))['all']['children']['mysql']['children']
    return list(groups['mysql_master']['hosts'])[0], dict(
        (name, entry['replicant_master']) for name, entry in groups['mysql_replicas']['hosts'].items())


class Writer(promote.Writer):
    """promote.Writer that can be paused (while the servers are compared)."""

    paused = False

    def run(self):
        server = None
        while not self.done.is_set():
            if self.paused and server:
                server.close()
                server = None
            server = server or (None if self.paused else self.connect())
            if server is None:
                time.sleep(0.002)
                continue
            self.next_id += 1
            try:
                server.sql('INSERT INTO w.t VALUES (%s, %s)', (self.next_id, server.name))
                self.acked.append(self.next_id)
                self.times.append(time.time())
            except ServerError:
                self.errors += 1
                server.close()
                server = None
        if server:
            server.close()


def assert_nothing_lost(lab, master, names=NAMES, since=0):
    """Every write the client saw acknowledged (from the ``since``-th on) is on every server of ``names``, and they
    have executed the same GTIDs and hold the same data (the client pauses while they are compared)."""
    lab.writer.paused = True
    try:
        time.sleep(0.2)
        acked = set(lab.writer.acked[since:])
        assert acked, 'the client wrote nothing'
        with lab.server(master) as s:
            final = s.value('SELECT @@GLOBAL.gtid_binlog_pos')
        gtids = {}
        for name in names:
            with lab.server(name) as s:
                if name != master:
                    replication.wait_for_pos(s, gtid=final, timeout=120)   # through the relay for its replica
                gtids[name] = s.value('SELECT @@GLOBAL.gtid_current_pos')
            assert not acked - promote.ids(lab, name), name
        assert len(set(gtids.values())) == 1, gtids
        assert len({promote.checksum(lab, name) for name in names}) == 1
    finally:
        lab.writer.paused = False
    time.sleep(0.2)


def switch(inventory, new_master, written):
    run = run_playbook('playbooks/promote_master.yml', inventory=inventory,
                       extra_vars=dict(new_master=new_master, write_inventory=written))
    assert run.rc == 0, run.output
    return run.result(SWITCH)


def test_switchover_to_the_direct_replica_and_back_keeps_the_relay_and_its_replica(lab):
    assert_tree(lab, 'lab1', TREE)
    first = str(lab.dir_inventories / 'to-lab2.yml')
    result = switch(lab.tree, 'lab2', first)
    after = {'lab1': 'lab2', 'lab3': 'lab2', 'lab4': 'lab3'}
    assert result['topology']['tree'] == after and sorted(result['topology']['replicas']) == ['lab1', 'lab3']
    assert not [s for s in result['steps'] if s['host'] == 'lab4'], result['steps']   # never touched
    assert 'lab4: stays a replica of lab3 (not stopped, not repointed)' in result['plan']
    assert_tree(lab, 'lab2', after)
    assert declared(first) == ('lab2', after)
    assert io_thread(lab) == lab.io_thread
    assert_nothing_lost(lab, 'lab2')

    back = str(lab.dir_inventories / 'back-to-lab1.yml')
    result = switch(first, 'lab1', back)
    assert result['topology']['tree'] == {'lab3': 'lab1', 'lab4': 'lab3', 'lab2': 'lab1'}
    assert_tree(lab, 'lab1', TREE)
    assert declared(back) == ('lab1', {'lab2': 'lab1', 'lab3': 'lab1', 'lab4': 'lab3'})
    assert io_thread(lab) == lab.io_thread
    assert_nothing_lost(lab, 'lab1')


def test_switchover_to_the_relay_keeps_its_replica_below_it_and_back(lab):
    to_relay = str(lab.dir_inventories / 'to-lab3.yml')
    result = switch(lab.tree, 'lab3', to_relay)
    after = {'lab2': 'lab3', 'lab4': 'lab3', 'lab1': 'lab3'}
    assert result['topology']['tree'] == after and sorted(result['topology']['replicas']) == ['lab1', 'lab2']
    assert not [s for s in result['steps'] if s['host'] == 'lab4'], result['steps']
    assert_tree(lab, 'lab3', after)
    assert declared(to_relay) == ('lab3', after)
    assert io_thread(lab) == lab.io_thread
    assert_nothing_lost(lab, 'lab3')

    # Back: lab4 is now a direct replica of the master lab3, so it follows lab1 like lab2 (the rule of
    # inventory.promoted; relocate.yml puts it below lab3 again).
    back = str(lab.dir_inventories / 'relay-back.yml')
    result = switch(to_relay, 'lab1', back)
    flat = {'lab2': 'lab1', 'lab4': 'lab1', 'lab3': 'lab1'}
    assert result['topology']['tree'] == flat
    assert_tree(lab, 'lab1', flat)
    assert declared(back) == ('lab1', flat)
    assert_nothing_lost(lab, 'lab1')
    run = run_playbook('playbooks/relocate.yml', inventory=back, extra_vars=dict(replica='lab4', new_master='lab3'))
    assert run.rc == 0, run.output
    assert_tree(lab, 'lab1', TREE)
    assert_nothing_lost(lab, 'lab1')
    lab.io_thread = io_thread(lab)


def test_failover_after_kill_9_keeps_the_relays_replica_below_it(lab):
    assert_tree(lab, 'lab1', TREE)
    with open(os.path.join(os.path.dirname(lab.hosts()['lab1']['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    written = str(lab.dir_inventories / 'failover.yml')
    run = run_playbook('playbooks/failover.yml', inventory=lab.tree, extra_vars=dict(write_inventory=written))
    assert run.rc == 0, run.output
    result = run.result(FAIL_OVER)
    new = result['new_master']
    assert new in ('lab2', 'lab3')
    after = {'lab2': new, 'lab3': new, 'lab4': 'lab3'}
    del after[new]
    assert result['topology']['tree'] == after
    assert not [s for s in result['steps'] if s['host'] == 'lab4'], result['steps']
    survivors = ['lab2', 'lab3', 'lab4']
    assert_tree(lab, new, after, survivors)
    assert io_thread(lab) == lab.io_thread
    master, replicas = declared(written)
    assert (master, replicas) == (new, after)
    assert list(yaml.safe_load(open(written))['all']['children']['mysql']['children']['mysql_spares']['hosts']) == \
        ['lab1']
    since = len(lab.writer.acked)
    time.sleep(0.5)
    assert len(lab.writer.acked) > since   # the client writes to the new master
    # what the client wrote to the new master is everywhere (writes lab1 acknowledged before it was killed
    # and sent to no replica are lost: asynchronous replication)
    assert_nothing_lost(lab, new, survivors, since=since)
