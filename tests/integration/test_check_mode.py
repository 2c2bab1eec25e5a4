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
import subprocess
import tempfile

import pytest
import yaml

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
        gtid = s.value('SELECT @@GLOBAL.gtid_binlog_pos')
    for name in ('lab2', 'lab3'):  # the first test's "before" must not catch a replica still applying these
        with the_lab.server(name) as s:
            assert s.value('SELECT MASTER_GTID_WAIT(%s, 60)', (gtid,)) == 0, name
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
                # held locks (FLUSH TABLES WITH READ LOCK shows as MDL_BACKUP_*); not the moment's shared reads of
                # the mysql schema by the server's own threads (the replica updating gtid_slave_pos, statistics)
                locks=sorted(str(r) for r in s.sql("SELECT LOCK_MODE, LOCK_TYPE, TABLE_SCHEMA, TABLE_NAME FROM "
                                                   "information_schema.METADATA_LOCK_INFO WHERE NOT "
                                                   "(LOCK_MODE = 'MDL_SHARED' AND TABLE_SCHEMA = 'mysql')")),
                max_connections=s.value('SELECT @@GLOBAL.max_connections'))
        with open(os.path.join(lab.dir, name, 'mysqld.pid')) as handle:
            state[name]['pid'] = handle.read().strip()
    files = {}
    for path in sorted(glob.glob(os.path.join(lab.dir, '**'), recursive=True)):
        if os.path.isfile(path) and '/data/' not in path and not path.endswith(('.log', '.err')) and '/tmp-host/' not in path:
            files[path] = digest(path)
    state['files'] = files
    # what the collection once left in /tmp under fixed names (/tmp/replicant-clone-<target>.cnf, ...); the private
    # run directories (/tmp/replicant-clone-XXXXXXXX) of other runs on the machine may come and go meanwhile
    # (not Ansible's own module payloads of concurrent runs, whose random names may contain 'lab2')
    state['tmp'] = sorted(p for p in glob.glob('/tmp/*lab[1-4]*') if not os.path.basename(p).startswith('ansible_'))
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
    # -v: every task's result is printed (as the oneline callback would), so a secret in a fact or a result shows
    if playbook == 'lab':
        run = run_playbook('playbooks/lab.yml', extra_vars=dict(lab.extra_vars, **extra), check=True, diff=True,
                           more_args=['-v'])
    else:
        run = run_playbook('playbooks/%s.yml' % playbook, inventory=lab.inventory, extra_vars=extra, check=True,
                           diff=True, more_args=['-v'])
    after = snapshot(lab)
    assert after == before, (changes(before, after), run.output[-3000:])
    assert run.rc == 0, run.output
    leaked = [line for line in run.output.splitlines() if any(
        secret in line for secret in ('lab-admin-secret', 'lab-repl-secret', 'lab-app-secret'))]
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
    ('clone_slave', dict(target='lab4', clone_slave_timeout=0), 'clone_slave_timeout must be a whole number from 1 to 86400, not 0'),
    ('clone_slave', dict(target='lab4', clone_slave_poll=-2), 'clone_slave_poll must be a whole number from 1 to 3600'),
    ('clone_slave', dict(target='lab4', method='snapshot', clone_slave_lock_lease=0), 'clone_slave_lock_lease must be'),
    ('clone_slave', dict(target='lab4', clone_slave_lock_lease=90, clone_slave_timeout=60),
     'clone_slave_lock_lease (90) must not exceed clone_slave_timeout (60)'),
    ('clone_slave', dict(target='lab4', clone_slave_catch_up_timeout=0), 'clone_slave_catch_up_timeout must be'),
    ('clone_slave', dict(target='lab4', clone_slave_max_lag=-1), 'clone_slave_max_lag must be'),
    ('clone_slave', dict(target='lab4', clone_slave_space_margin=1001), 'clone_slave_space_margin must be a whole number from 0'),
    ('promote_master', dict(new_master='lab9'), 'lab9 is not a server of the inventory'),
    ('promote_master', dict(installation='crm'), 'no installation named crm'),
    ('promote_master', dict(new_master='lab2', force=['lag']), 'lag'),
    ('promote_master', dict(new_master='lab4'), 'lab4'),
    ('promote_master', dict(new_master='lab2', write_inventory='/proc/replicant.yml'), 'not writable'),
    ('promote_master', dict(new_master='lab2', promote_master_wait_timeout=0), 'wait_timeout must be'),
    ('promote_master', dict(new_master='lab2', promote_master_connect_retry=0), 'connect_retry must be from 1'),
    ('promote_master', dict(new_master='lab2', promote_master_heartbeat_period=-1), 'heartbeat_period must be from 0'),
    ('failover', dict(force=['split_brain'], promote_master_heartbeat_period=-1), 'heartbeat_period must be from 0'),
    ('failover', dict(), 'split_brain'),
    ('relocate', dict(), 'Give the replica to move'),
    ('relocate', dict(replica='lab9', new_master='lab2'), 'lab9 is not a server of the inventory'),
    ('relocate', dict(replica='lab3', new_master='lab3'), 'cannot replicate from itself'),
    ('relocate', dict(replica='lab3', new_master='lab4'), 'lab4'),
    ('relocate', dict(replica='lab3', new_master='lab2', relocate_timeout=0), 'timeout must be from 1'),
    ('topology', dict(installation='crm'), 'no installation named crm'),
    ('topology', dict(topology_workers=0), 'workers must be from 1'),
    ('setup_replication', dict(installation='crm'), 'no installation named crm'),
    ('setup_replication', dict(configure_restart_timeout=0), 'configure_restart_timeout must be a whole number from 1'),
    ('setup_replication', dict(configure_server_id=0), 'configure_server_id must be a whole number from 1 to 4294967295'),
    ('setup_replication', dict(configure_gtid_domain_id=-1), 'configure_gtid_domain_id must be a whole number from 0'),
    ('check_replication', dict(installation='crm'), 'no installation named crm'),
]


@pytest.mark.parametrize('playbook, extra, message', BAD, ids=['%s-%d' % (b[0], i) for i, b in enumerate(BAD)])
def test_bad_input_is_refused_and_changes_nothing(lab, playbook, extra, message):
    before = snapshot(lab)
    run = run_playbook('playbooks/%s.yml' % playbook, inventory=lab.inventory, extra_vars=extra)
    after = snapshot(lab)
    assert run.rc != 0 and message in run.output, run.output[-3000:]
    assert after == before, (changes(before, after), run.output[-3000:])


def test_a_target_without_room_for_the_copy_is_refused_before_anything_changes(lab, tmp_path):
    """lab4's datadir on a real small filesystem (a 64 KB tmpfs): the copy does not fit, clone_slave says so
    (host, bytes needed and free, what to do) before it changes anything; the margin and the skip option work."""
    small = tempfile.mkdtemp(prefix='replicant-check-small-', dir='/var/tmp')
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'replicant-small', small], check=True)
    try:
        with open(lab.inventory) as handle:
            inventory = yaml.safe_load(handle)
        for group in inventory['all']['children']['mysql']['children'].values():
            if 'lab4' in ((group or {}).get('hosts') or {}):
                group['hosts']['lab4']['replicant_datadir'] = os.path.join(small, 'data')
        moved = str(tmp_path / 'inventory.yml')
        with open(moved, 'w') as handle:
            yaml.safe_dump(inventory, handle)
        before = snapshot(lab)
        runs = {}
        for key, extra, check in (('physical', dict(method='physical'), False),
                                  ('logical', dict(method='logical', clone_slave_space_margin=1000), False),
                                  ('logical fits', dict(method='logical'), True),
                                  ('skipped', dict(method='cold', clone_slave_skip_space_check=True), True)):
            runs[key] = run_playbook('playbooks/clone_slave.yml', inventory=moved, check=check,
                                     extra_vars=dict(extra, target='lab4', source='lab2'))
        assert snapshot(lab) == before and os.listdir(small) == []
        for key in ('physical', 'logical'):
            out = runs[key].output
            assert runs[key].rc != 0, out[-3000:]
            for part in ('clone_slave refuses target lab4 from source lab2 (%s)' % key, 'not enough free space on the '
                         'target host', 'in %s/data, but the filesystem %s has' % (small, small), 'clone_slave_space_margin',
                         'clone_slave_skip_space_check=true', 'Nothing was changed'):
                assert part in out, (key, part, [line for line in out.splitlines() if 'fatal:' in line or 'msg' in line])
        assert '1000% margin' in runs['logical'].output
        for key in ('logical fits', 'skipped'):
            assert runs[key].rc == 0, runs[key].output[-3000:]
        assert 'space on lab4: the copy needs' in runs['logical fits'].output
        assert 'space on lab4 not checked' in runs['skipped'].output
    finally:
        subprocess.run(['umount', small], check=True)
        os.rmdir(small)
