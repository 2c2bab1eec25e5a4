"""--check --diff of every playbook, with inputs that would change something, changes nothing.

A lab of its own (lab1 master, lab2 lab3 replicas, lab4 an empty spare; 127.0.50.11-14). Before and
after each run: every server's read_only, GTID positions, replication settings and threads, databases,
held metadata locks (FLUSH TABLES WITH READ LOCK included) and process; every file of the lab (option
files, inventory) by content; the files the collection could leave in /tmp. Each run must also complete
(rc 0), since a user runs --check to see the plan.
"""
import glob
import hashlib
import os
import tempfile

import pytest

from conftest import Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication

NAMES = ['lab1', 'lab2', 'lab3', 'lab4']


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-check-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.50.11', lab_spares=1))
    run = the_lab.up()
    assert run.rc == 0, run.output
    for name in NAMES:
        with the_lab.server(name) as s:
            s.sql('SET SESSION sql_log_bin = 0')
            if not s.value("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO'"):
                s.sql("INSTALL SONAME 'metadata_lock_info'")
    with the_lab.server('lab1') as s:
        s.sql('CREATE DATABASE shop')
        s.sql('CREATE TABLE shop.t (id INT PRIMARY KEY)')
        s.sql('INSERT INTO shop.t VALUES (1), (2)')
    try:
        yield the_lab
    finally:
        run = the_lab.down()
        assert run.rc == 0, run.output


def digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def snapshot(lab):
    state = {}
    for name in NAMES:
        with lab.server(name) as s:
            st = replication.replica_status(s)
            state[name] = dict(
                read_only=s.value('SELECT @@GLOBAL.read_only'),
                gtid=s.one('SELECT @@GLOBAL.gtid_binlog_pos AS b, @@GLOBAL.gtid_slave_pos AS s, '
                           '@@GLOBAL.gtid_current_pos AS c'),
                replication=st and dict((k, st[k]) for k in ('master_host', 'master_port', 'master_user',
                                                             'using_gtid', 'io_running', 'sql_running')),
                databases=sorted(r['Database'] for r in s.sql('SHOW DATABASES')),
                locks=sorted(str(r) for r in s.sql('SELECT LOCK_MODE, LOCK_TYPE, TABLE_SCHEMA, TABLE_NAME FROM '
                                                   'information_schema.METADATA_LOCK_INFO')),
                max_connections=s.value('SELECT @@GLOBAL.max_connections'))
        with open(os.path.join(lab.dir, name, 'mysqld.pid')) as handle:
            state[name]['pid'] = handle.read().strip()
    files = {}
    for path in sorted(glob.glob(os.path.join(lab.dir, '**'), recursive=True)):
        if os.path.isfile(path) and '/data/' not in path and not path.endswith(('.log', '.err')) and '/tmp-host/' not in path:
            files[path] = digest(path)
    state['files'] = files
    # what the collection once left in /tmp under fixed names (other tests and benches have their own)
    state['tmp'] = sorted(glob.glob('/tmp/replicant-clone-*') + glob.glob('/tmp/*lab[1-4]*'))
    return state


def changes(before, after, path=''):
    """Where two snapshots differ: [(path, before, after)]."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            out += changes(before.get(key), after.get(key), '%s/%s' % (path, key))
        return out
    return [] if before == after else [(path, before, after)]


CASES = [
    ('lab', dict(lab_spares=2)),
    ('setup_replication', {'configure_extra_options': {'max_connections': 321}}),
    ('clone_slave', dict(target='lab4', method='physical')),
    ('clone_slave', dict(target='lab4', method='logical')),
    ('clone_slave', dict(target='lab4', method='cold')),
    ('clone_slave', dict(target='lab4', method='snapshot')),
    ('clone_slave', dict(target='lab3', method='logical', force=True)),
    ('promote_master', dict(new_master='lab2', write_inventory='INVENTORY')),
    ('failover', dict(force=['split_brain'], write_inventory='INVENTORY')),
    ('relocate', dict(replica='lab3', new_master='lab2')),
    ('rejoin', dict(server='lab3', save_dir='DOT')),
    ('check_replication', {}),
    ('topology', dict(topology_dot='DOT')),
]


IDS = ['%s-%s' % (p, '-'.join(str(v) for v in e.values()))[:60] for p, e in CASES]


@pytest.mark.parametrize('playbook, extra', CASES, ids=IDS)
def test_check_diff_changes_nothing(lab, playbook, extra):
    extra = dict(extra)
    for key, value in list(extra.items()):
        if value == 'INVENTORY':
            extra[key] = lab.inventory
        elif value == 'DOT':
            extra[key] = os.path.join(lab.dir, 'tree.dot')
    before = snapshot(lab)
    if playbook == 'lab':
        run = run_playbook('playbooks/lab.yml', extra_vars=dict(lab.extra_vars, **extra), check=True, diff=True)
    else:
        run = run_playbook('playbooks/%s.yml' % playbook, inventory=lab.inventory, extra_vars=extra, check=True,
                           diff=True)
    after = snapshot(lab)
    assert after == before, (changes(before, after), run.output[-3000:])
    assert run.rc == 0, run.output
    leaked = [line for line in run.output.splitlines() if 'lab-admin-secret' in line or 'lab-repl-secret' in line]
    assert not leaked, leaked[:5]


# Bad input to the playbooks: each is refused with a message naming the host or the option and what to
# fix, and nothing changes (real runs, not --check).
BAD = [
    ('clone_slave', dict(), 'Give the host to provision'),
    ('clone_slave', dict(target='lab9'), 'Give the host to provision'),
    ('clone_slave', dict(target='lab4', source='lab9'), "lab9 for target lab4: it is not a server of the target's"),
    ('clone_slave', dict(target='lab1'), 'the target is the master'),
    ('clone_slave', dict(target='lab2'), 'clone_slave refuses target lab2: it has data'),
    ('clone_slave', dict(target='lab4', method='rsync'), 'rsync'),
    ('clone_slave', dict(target='lab4', method='cold', source='lab1'), 'the cold method stops its donor'),
    ('clone_slave', dict(target='lab4', method='physical', clone_slave_transport=['false']),
     'mbstream is not installed on the target host'),
    ('promote_master', dict(new_master='lab9'), 'lab9 is not a server of the inventory'),
    ('promote_master', dict(installation='crm'), 'no installation named crm'),
    ('promote_master', dict(new_master='lab2', force=['lag']), 'lag'),
    ('promote_master', dict(new_master='lab4'), 'lab4'),
    ('promote_master', dict(new_master='lab2', write_inventory='/proc/replicant.yml'), 'not writable'),
    ('promote_master', dict(new_master='lab2', promote_master_wait_timeout=0), 'wait_timeout must be'),
    ('failover', dict(), 'split_brain'),
    ('relocate', dict(), 'Give the replica to move'),
    ('relocate', dict(replica='lab9', new_master='lab2'), 'lab9 is not a server of the inventory'),
    ('relocate', dict(replica='lab3', new_master='lab3'), 'cannot replicate from itself'),
    ('relocate', dict(replica='lab3', new_master='lab4'), 'lab4'),
    ('relocate', dict(replica='lab3', new_master='lab2', relocate_timeout=0), 'timeout must be from 1'),
    ('topology', dict(installation='crm'), 'no installation named crm'),
    ('topology', dict(topology_workers=0), 'workers must be from 1'),
    ('setup_replication', dict(installation='crm'), 'no installation named crm'),
    ('check_replication', dict(installation='crm'), 'no installation named crm'),
]


@pytest.mark.parametrize('playbook, extra, message', BAD, ids=['%s-%d' % (b[0], i) for i, b in enumerate(BAD)])
def test_bad_input_is_refused_and_changes_nothing(lab, playbook, extra, message):
    before = snapshot(lab)
    run = run_playbook('playbooks/%s.yml' % playbook, inventory=lab.inventory, extra_vars=extra)
    after = snapshot(lab)
    assert run.rc != 0 and message in run.output, run.output[-3000:]
    assert after == before, (changes(before, after), run.output[-3000:])
