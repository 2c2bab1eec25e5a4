"""Failover after kill -9 of the master's mariadbd (its host still up) with every replica's IO thread behind:
playbooks/failover.yml recovers the acknowledged transactions no replica received from the old master's binary
log (mysql_binlog_tail on its host), so that asynchronous replication loses nothing (issue 16).

One 3-server lab (127.0.70.11-13) for the file.
"""
import os
import signal
import tempfile
import threading
import time

import pytest

from conftest import Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import ServerProcess
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, ServerError

ROLE = 'replicant.mysql.promote_master : '
TAIL = ROLE + 'Recover what the old master wrote that no replica received (its binary log, read on its host)'


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-tail-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.70.11'))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        with the_lab.server('lab1') as master:
            master.sql('CREATE DATABASE w')
            master.sql('CREATE TABLE w.t (id INT PRIMARY KEY, via VARCHAR(16))')
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


class Writer(threading.Thread):
    """The application, unprivileged, committing on lab1 as fast as it can: which commits were acknowledged?"""

    def __init__(self, lab, threads=3):
        threading.Thread.__init__(self, daemon=True)
        h = lab.hosts()['lab1']
        self.args = dict(host=h['replicant_host'], port=h['replicant_port'], user=h['replicant_app_user'],
                         password=h['replicant_app_password'], connect_timeout=1, read_timeout=10)
        self.threads, self.acked, self.done = threads, [], threading.Event()

    def one(self, number):
        server, next_id = None, number * 10 ** 6
        while not self.done.is_set():
            try:
                server = server or Server(**self.args).connect()
                next_id += 1
                server.sql('INSERT INTO w.t VALUES (%s, %s)', (next_id, 'writer'))
                self.acked.append(next_id)
            except ServerError:
                if server:
                    server.close()
                server = None
                time.sleep(0.01)

    def run(self):
        workers = [threading.Thread(target=self.one, args=(n + 1,), daemon=True) for n in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)

    def stop(self):
        self.done.set()
        self.join(40)
        return set(self.acked)


def ids(lab, name):
    with lab.server(name) as s:
        return {r['id'] for r in s.sql('SELECT id FROM w.t')}


def state(lab, names):
    out = {}
    for name in names:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            out[name] = (s.value('SELECT @@GLOBAL.gtid_binlog_pos'), s.value('SELECT @@GLOBAL.gtid_slave_pos'),
                         s.value('SELECT @@GLOBAL.read_only'), st and (st['io_running'], st['sql_running']))
    return out


def test_kill_9_with_every_replica_behind_loses_no_acknowledged_commit(lab):
    writer = Writer(lab)
    writer.start()
    time.sleep(1.0)
    for name in ('lab2', 'lab3'):  # both replicas stop receiving; the master goes on acknowledging
        with lab.server(name) as s:
            s.sql('STOP SLAVE IO_THREAD')
    time.sleep(1.0)
    os.kill(ServerProcess(lab.hosts()['lab1']['replicant_defaults_file']).pid(), signal.SIGKILL)
    acked = writer.stop()
    for name in ('lab2', 'lab3'):  # what they received is applied (the snapshot then stays still by itself)
        with lab.server(name) as s:
            replication.wait_for_pos(s, gtid=replication.replica_status(s)['gtid_io_pos'], timeout=60,
                                     require_running=False)
    behind = {name: len(acked - ids(lab, name)) for name in ('lab2', 'lab3')}
    assert all(behind.values()), behind  # every replica lacks acknowledged commits: only lab1's binary log has them
    before = state(lab, ['lab2', 'lab3'])
    check = run_playbook('playbooks/failover.yml', inventory=lab.inventory, check=True)
    assert check.rc == 0, check.output
    planned = check.result(TAIL)
    assert planned['recovered'] >= min(behind.values()), planned  # would be recovered (changed=true in --check)
    assert state(lab, ['lab2', 'lab3']) == before  # --check read the binary log and changed nothing

    after = os.path.join(lab.dir, 'after-tail.yml')
    run = run_playbook('playbooks/failover.yml', inventory=lab.inventory, extra_vars=dict(write_inventory=after),
                       timeout=300)
    assert run.rc == 0, run.output
    tail = run.result(TAIL)
    assert tail['recovered'] >= min(behind.values()) and tail['changed'] and not tail['not_read'], tail
    result = run.result(ROLE + 'Fail over to the elected replica (one module run)')
    new = result['new_master']
    assert new == tail['applied_to'] and not result.get('lost_transactions'), (tail, result)
    assert 'transaction(s) recovered from its binary log into %s' % new in run.output
    other = 'lab3' if new == 'lab2' else 'lab2'
    with lab.server(new) as s:
        final = s.value('SELECT @@GLOBAL.gtid_binlog_pos')
    with lab.server(other) as s:
        replication.wait_for_pos(s, gtid=final, timeout=60)
    for name in (new, other):
        missing = acked - ids(lab, name)
        assert not missing, (name, len(missing), sorted(missing)[:5])
    with lab.server(new) as s:
        assert s.value('SELECT @@GLOBAL.read_only') == 0
    with lab.server(other) as s:
        assert s.value('SELECT @@GLOBAL.read_only') == 1
        assert replication.replica_status(s)['master_host'] == lab.hosts()[new]['replicant_host']
    print('kill -9 with both replicas behind by %s acknowledged commits: recovered %d from the binary log into %s'
          % (behind, tail['recovered'], new))
