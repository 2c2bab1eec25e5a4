"""The lab in SSH mode: every lab host reached through an sshd of its own, hosts that share no working files.

The primitives' modules and clone_slave run through ssh as they would across machines; a copy that
skips the procedure's own transfer (host-to-host ssh) fails, because the source host cannot see the
target host's files.
"""
import os
import re
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import Lab, lab_vars, run_playbook, run_tasks
from ansible_collections.replicant.mysql.plugins.module_utils.replication import fetch_master_pos, fetch_slave_pos
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

ADDRESSES = ['127.0.6.1', '127.0.6.2', '127.0.6.3', '127.0.6.4']
SSH_PORT = 2222


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-test-ssh-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, ADDRESSES[0], lab_spares=1, lab_ssh=True, lab_ssh_port=SSH_PORT))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output[-3000:]
        with app(the_lab) as m:
            m.sql('CREATE DATABASE shop')
            m.sql('CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100))')
            m.sql('INSERT INTO shop.orders (note) VALUES ' + ','.join("('order %d')" % i for i in range(500)))
        yield the_lab
    finally:
        the_lab.down()


def app(lab):
    h = lab.hosts()['lab1']
    return lab.tcp_server('lab1', user=h['replicant_app_user'], password=h['replicant_app_password'])


def listening(addresses):
    """Listening TCP sockets (address:port) on any of ``addresses``, as ss sees them."""
    out = subprocess.run(['ss', '-Hltn'], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return sorted(line.split()[3] for line in out.splitlines() if line.split()[3].rsplit(':', 1)[0] in addresses)


def sshd_pid(lab, host):
    with open(os.path.join(lab.dir, host, 'ssh', 'sshd.pid')) as handle:
        return int(handle.read())


def commands(lab, host):
    """The commands run on ``host`` over ssh, one per session, as the host's session script logged them."""
    with open(os.path.join(lab.dir, host, 'ssh', 'commands.log')) as handle:
        return [line.split(' ', 2)[2].rstrip('\n') for line in handle]


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except IOError:
        return False


def private_tmp(lab, host):
    return os.path.join(lab.dir, host, 'tmp-host')


def progress_files(lab):
    """Size of clone_slave's progress file for lab4 in each host's private /tmp (None: there is none)."""
    out = {}
    for host in ('lab1', 'lab2', 'lab3', 'lab4'):
        path = os.path.join(private_tmp(lab, host), 'replicant-clone-lab4.progress')
        out[host] = os.path.getsize(path) if os.path.exists(path) else None
    return out


def control(lab, action, host):
    return subprocess.run(['/bin/sh', os.path.join(lab.dir, 'ssh', 'lab-sshd'), action, os.path.join(lab.dir, host)],
                          stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()


def wait_for(server, gtid):
    assert server.value('SELECT MASTER_GTID_WAIT(%s, 30)', (gtid,)) == 0


class Writer:
    """The application writing to the master without pause until stopped."""

    def __init__(self, lab):
        self.lab, self.stop, self.count, self.errors = lab, threading.Event(), 0, []
        self.thread = threading.Thread(target=self.run)

    def run(self):
        with app(self.lab) as m:
            while not self.stop.is_set():
                try:
                    m.sql("INSERT INTO shop.orders (note) VALUES ('while cloning')")
                    self.count += 1
                except ServerError as exc:
                    self.errors.append(str(exc))
                time.sleep(0.005)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)


def test_lab_comes_up_in_ssh_mode_with_private_hosts(lab):
    hosts = lab.hosts()
    assert sorted(hosts) == ['lab1', 'lab2', 'lab3', 'lab4']
    key = os.path.join(lab.dir, 'ssh', 'id_ed25519')
    for name, h in hosts.items():
        assert h['ansible_connection'] == 'ssh' and h['ansible_user'] == 'root' and h['ansible_port'] == SSH_PORT
        assert h['ansible_host'] == h['replicant_host'] and h['ansible_ssh_private_key_file'] == key
        assert 'UserKnownHostsFile=%s/ssh/known_hosts' % lab.dir in h['ansible_ssh_common_args']
        assert h['replicant_transport'][:3] == ['ssh', '-i', key]
        assert h['replicant_transport'][-1] == 'root@%s' % h['ansible_host']
        assert 'BatchMode=yes' in h['replicant_transport']
        assert os.readlink('/proc/%d/exe' % sshd_pid(lab, name)) == '/usr/sbin/sshd'
        assert commands(lab, name)[-1] == 'true'  # the lab's own check that the host answers over ssh
    assert listening(ADDRESSES) == sorted(['%s:%d' % (a, p) for a in ADDRESSES for p in (SSH_PORT, 23306)])

    # Each host is reached on its own address; a file written to /tmp on lab2 is on lab2 only, and lab2
    # sees nothing of the other hosts' directories.
    name = 'boundary-%s' % uuid.uuid4()
    run = run_tasks(lab.inventory, 'mysql', [
        {'name': 'where am I', 'ansible.builtin.shell': 'echo "$SSH_CONNECTION"; ls -A %s/lab1' % lab.dir, 'changed_when': False},
        {'name': 'write', 'ansible.builtin.copy': {'dest': '/tmp/' + name, 'content': 'lab2 only\n', 'mode': '0600'},
         'when': "inventory_hostname == 'lab2'"},
        {'name': 'look', 'ansible.builtin.stat': {'path': '/tmp/' + name}},
    ])
    assert run.rc == 0 and not run.failed, run.output[-3000:]
    for host, h in hosts.items():
        lines = run.result('where am I', host)['stdout'].splitlines()
        assert lines[0].split()[2:] == [h['replicant_host'], str(SSH_PORT)]
        assert (len(lines) > 1) == (host == 'lab1'), lines  # lab1's directory is empty seen from another host
        assert run.result('look', host)['stat']['exists'] == (host == 'lab2')
    assert os.listdir(private_tmp(lab, 'lab2')).count(name) == 1 and not os.path.exists('/tmp/' + name)

    # A host whose sshd is stopped is cut off; started again, it answers.
    assert control(lab, 'stop', 'lab3') == 'stopped'
    assert '%s:%d' % (ADDRESSES[2], SSH_PORT) not in listening(ADDRESSES)
    result = lab.module('lab3', 'mysql_slave_pos')
    assert [r['status'] for r in result.run.records] == ['unreachable']
    assert control(lab, 'start', 'lab3') == 'started'
    assert lab.module('lab3', 'mysql_slave_pos')['is_replica']


def test_primitives_run_through_ssh_redirect_and_back(lab):
    hosts = lab.hosts()
    before = len(commands(lab, 'lab3'))
    repl = dict(master_user=hosts['lab1']['replicant_repl_user'], master_password=hosts['lab1']['replicant_repl_password'],
                master_port=hosts['lab2']['replicant_port'], master_use_gtid='slave_pos')
    run = run_tasks(lab.inventory, 'lab3', [
        {'name': 'redirect', 'replicant.mysql.mysql_change_master': dict(repl, master_host=hosts['lab2']['replicant_host'])},
        {'name': 'state', 'replicant.mysql.mysql_slave_pos': {}},
    ])
    assert run.rc == 0, run.output[-3000:]
    assert run.result('redirect', 'lab3')['changed']
    assert run.result('state', 'lab3')['status']['master_host'] == hosts['lab2']['replicant_host']
    with app(lab) as m:
        m.sql("INSERT INTO shop.orders (note) VALUES ('through lab2')")
    with lab.server('lab1') as master, lab.server('lab3') as replica:
        wait_for(replica, fetch_master_pos(master)['gtid_executed'])
        assert replica.value("SELECT COUNT(*) FROM shop.orders WHERE note = 'through lab2'") == 1

    back = dict(repl, master_host=hosts['lab1']['replicant_host'])
    on_lab3 = "inventory_hostname == 'lab3'"
    run = run_tasks(lab.inventory, 'lab1:lab3', [
        {'name': 'master', 'replicant.mysql.mysql_master_pos': {}, 'register': 'master_pos', 'when': "inventory_hostname == 'lab1'"},
        {'name': 'back', 'replicant.mysql.mysql_change_master': back, 'when': on_lab3},
        {'name': 'again', 'replicant.mysql.mysql_change_master': back, 'when': on_lab3},
        {'name': 'caught up', 'replicant.mysql.mysql_replication': {
            'state': 'caught_up', 'gtid': "{{ hostvars['lab1'].master_pos.gtid_executed }}", 'timeout': 30}, 'when': on_lab3},
        {'name': 'state', 'replicant.mysql.mysql_slave_pos': {}, 'when': on_lab3},
    ])
    assert run.rc == 0, run.output[-3000:]
    assert run.result('back', 'lab3')['changed'] and not run.result('again', 'lab3')['changed']
    status = run.result('state', 'lab3')['status']
    assert status['master_host'] == hosts['lab1']['replicant_host'] and status['io_running_ok'] and status['sql_running_ok']
    assert run.result('master', 'lab1')['gtid_executed']
    assert len(commands(lab, 'lab3')) > before  # the modules came in through lab3's sshd


def test_a_copy_that_skips_the_transfer_between_hosts_fails(lab):
    # Without the transport the receiver runs on the source host, which cannot see the target's datadir:
    # the backup made on the source reaches the target only through the procedure's own ssh stream.
    run = run_playbook('playbooks/clone_slave.yml', inventory=lab.inventory,
                       extra_vars=dict(target='lab4', force=True, clone_slave_transport=[]))
    assert run.rc != 0
    assert 'the target directory %s/lab4/data is missing or not empty on' % lab.dir in run.output, run.output[-3000:]


@pytest.mark.parametrize('method', ['physical', 'logical'])
def test_clone_slave_through_ssh(lab, method):
    progress_before = progress_files(lab)
    with Writer(lab) as writer:
        run = run_playbook('playbooks/clone_slave.yml', inventory=lab.inventory,
                           extra_vars=dict(target='lab4', method=method, force=True))
    assert run.rc == 0, run.output[-3000:]
    assert writer.count > 0 and not writer.errors, writer.errors[:3]
    source = re.search(r'lab4 cloned from (lab\d) \((\w+)\)', run.output).group(1)
    assert 'lab4 cloned from %s (%s)' % (source, method) in run.output and 'tables identical at' in run.output

    with lab.server('lab1') as master, lab.server('lab4') as replica:
        wait_for(replica, fetch_master_pos(master)['gtid_executed'])
        status = fetch_slave_pos(replica)['status']
        assert status['master_host'] == ADDRESSES[0] and status['io_running_ok'] and status['sql_running_ok']
        checksum = 'CHECKSUM TABLE shop.orders'
        assert replica.one(checksum)['Checksum'] == master.one(checksum)['Checksum']
        assert master.value('SELECT COUNT(*) FROM shop.orders') >= 500 + writer.count

    # The stream went from the source host to the target host through the target's sshd: the receiver
    # ran on lab4. No password was ever on a command line run over ssh.
    # (the logical load reads its options from the private directory the copy made on the target)
    receiver = re.compile(r'sh -c .* mbstream -x -C %s/lab4/data' % re.escape(lab.dir) if method == 'physical'
                          else r'mariadb --defaults-file=\S*/replicant-load-[\w.-]+/client\.cnf')
    assert any(receiver.match(command) for command in commands(lab, 'lab4')), commands(lab, 'lab4')[-5:]
    secrets = [value for key, value in lab.hosts()['lab1'].items() if key.endswith('_password')]
    for host in ('lab1', 'lab2', 'lab3', 'lab4'):
        assert not [c for c in commands(lab, host) if any(secret in c for secret in secrets)], host

    # What the procedure keeps on a host stays in the run's private directories there (the progress on the
    # source, the client options on the target), and they are gone afterwards: no fixed /tmp name is used.
    assert progress_files(lab) == progress_before
    for host in ('lab1', 'lab2', 'lab3', 'lab4'):
        assert not [name for name in os.listdir(private_tmp(lab, host))
                    if name.startswith(('replicant-clone-', 'replicant-load-'))], host


def test_second_lab_run_changes_nothing(lab):
    run = lab.up()
    assert run.rc == 0, run.output[-3000:]
    assert run.changed == [], run.changed


def test_tear_down_stops_every_sshd(lab):
    pids = [sshd_pid(lab, host) for host in ('lab1', 'lab2', 'lab3', 'lab4')]
    run = lab.down()
    assert run.rc == 0, run.output[-3000:]
    assert listening(ADDRESSES) == []
    assert [pid for pid in pids if alive(pid)] == []
    assert not os.path.exists(lab.dir)
