"""Two installations in ONE inventory: every procedure acts within exactly one of them.

Installation ``a``: a1 master, a2 a3 replicas (127.0.10.11-13). Installation ``b``: b1 master, b2 replica,
b3 an empty spare (127.0.10.21-23). Both labs number their servers 1, 2, 3 (the same server_ids in both:
fine across installations). Before and after each procedure the servers of the other installation are
read (GTIDs, read_only, replication), and must be unchanged.
"""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import yaml

from conftest import BIN, Lab, lab_vars, run_playbook

from ansible_collections.replicant.mysql.plugins.module_utils import replication
from ansible_collections.replicant.mysql.plugins.plugin_utils import inventory_loader as inventory

A = ['a1', 'a2', 'a3']
B = ['b1', 'b2', 'b3']


@pytest.fixture(scope='module')
def labs():
    made = []
    try:
        for prefix, address, more in (('a', '127.0.10.11', {}), ('b', '127.0.10.21', dict(lab_servers=2, lab_spares=1))):
            directory = tempfile.mkdtemp(prefix='replicant-inst-%s-' % prefix, dir='/var/tmp')
            os.rmdir(directory)
            lab = Lab(directory, lab_vars(directory, address, lab_name_prefix=prefix, **more))
            made.append(lab)
            run = lab.up()
            assert run.rc == 0, run.output
        yield dict(a=made[0], b=made[1])
    finally:
        for lab in made:
            lab.down()


def combined(labs, path):
    """One inventory with both labs, each installation a group carrying replicant_installation."""
    doc = {'all': {'children': {'mysql': {'vars': None, 'children': {
        'mysql_master': {'hosts': {}}, 'mysql_replicas': {'hosts': {}}, 'mysql_spares': {'hosts': {}},
        'inst_a': {'vars': {'replicant_installation': 'a'}, 'hosts': {}},
        'inst_b': {'vars': {'replicant_installation': 'b'}, 'hosts': {}}}}}}}
    mysql = doc['all']['children']['mysql']
    for name, lab in sorted(labs.items()):
        with open(lab.inventory) as handle:
            inv = yaml.safe_load(handle)['all']['children']['mysql']
        mysql['vars'] = inv['vars']
        for group, body in inv['children'].items():
            for host, hv in ((body or {}).get('hosts') or {}).items():
                mysql['children'][group]['hosts'][host] = hv
                mysql['children']['inst_' + name]['hosts'][host] = None
    with open(path, 'w') as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)
    return path


@pytest.fixture(scope='module')
def inv(labs, tmp_path_factory):
    return combined(labs, str(tmp_path_factory.mktemp('inv') / 'fleet.yml'))


def server(labs, name):
    return labs[name[0]].server(name)


def state(labs, names):
    """What a DBA compares: executed GTIDs, read_only, whom each replicates from and its threads."""
    out = {}
    for name in names:
        with server(labs, name) as s:
            st = replication.replica_status(s)
            out[name] = dict(gtid=s.value('SELECT @@GLOBAL.gtid_current_pos'),
                             binlog=s.value('SELECT @@GLOBAL.gtid_binlog_pos'),
                             read_only=s.value('SELECT @@GLOBAL.read_only'),
                             master=st and (st['master_host'], st['master_port'], st['io_running'], st['sql_running']))
    return out


def writable(labs, names):
    return [n for n, s in state(labs, names).items() if s['read_only'] == 0]


def play(name, inventory_path, check=False, **extra):
    return run_playbook('playbooks/%s.yml' % name, inventory=inventory_path, extra_vars=extra or None, check=check)


def test_the_model_from_plain_python(inv):
    found = inventory.load(inv)
    assert list(found) == ['a', 'b']
    a, b = found['a'], found['b']
    assert (a.master.name, [r.name for r in a.replicas]) == ('a1', ['a2', 'a3'])
    assert (b.master.name, [r.name for r in b.replicas], [s.name for s in b.spares]) == ('b1', ['b2'], ['b3'])
    assert a.master.login['login_unix_socket'].endswith('a1/mysqld.sock') and a.master.repl_user == 'repl'


def test_the_docs_example_repoints_every_replica(inv, labs):
    """docs/installations.md: MySQL Replicant's example, every replica pointed at the master, as a script."""
    script = os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'examples', 'repoint_replicas.py')
    before = state(labs, B)
    proc = subprocess.run([os.path.join(BIN, 'python'), script, inv, 'a'], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout
    assert 'a2 replicates from a1' in proc.stdout and 'a3 replicates from a1' in proc.stdout, proc.stdout
    assert state(labs, B) == before


def test_topology_of_both_at_once_judges_each_on_its_own(inv):
    run = play('topology', inv)
    assert run.rc == 0, run.output
    assert 'share server_id' not in run.output and 'more than one writable master' not in run.output
    trees = [r['result']['tree_lines'] for r in run.results('Discover the topology') if 'tree_lines' in r['result']]
    assert len(trees) == 2 and all(not r['result']['problems'] for r in run.results('Discover the topology')
                                   if 'problems' in r['result'])
    assert any(line.startswith('a1 ') for tree in trees for line in tree)
    assert any(line.startswith('b1 ') for tree in trees for line in tree)
    run = play('topology', inv, installation='b')
    assert run.rc == 0 and len([r for r in run.results('Discover the topology') if 'tree_lines' in r['result']]) == 1


def test_check_replication_follows_each_masters_marker(inv, labs):
    run = play('check_replication', inv)
    assert run.rc == 0, run.output
    assert 'a3 has the master' in run.output and 'b2 has the master' in run.output


def test_a_promotion_refuses_to_guess_the_installation(inv, labs):
    before = state(labs, A + B)
    run = play('promote_master', inv)
    assert run.rc != 0 and 'name the one to act on with -e installation=NAME' in run.output, run.output
    run = play('promote_master', inv, installation='c')
    assert run.rc != 0 and 'no installation named c' in run.output, run.output
    run = play('promote_master', inv, installation='a', new_master='b2')
    assert run.rc != 0 and 'b2 belongs to installation b, not a' in run.output, run.output
    assert state(labs, A + B) == before


def test_clone_slave_stays_in_the_targets_installation(inv, labs):
    before = state(labs, A)
    run = play('clone_slave', inv, target='b3', source='a2')
    assert run.rc != 0 and 'not a server of the target\'s installation b' in run.output, run.output
    run = play('clone_slave', inv, target='b3', method='logical')
    assert run.rc == 0, run.output
    with server(labs, 'b3') as s:
        st = replication.replica_status(s)
        assert (st['master_host'], st['io_running'], st['sql_running']) == ('127.0.10.21', 'Yes', 'Yes')
    assert state(labs, A) == before
    declare_replica(inv, 'b3', 'b1')   # what the DBA records after the clone


def declare_replica(path, host, master):
    with open(path) as handle:
        doc = yaml.safe_load(handle)
    groups = doc['all']['children']['mysql']['children']
    entry = groups['mysql_spares']['hosts'].pop(host)
    groups['mysql_replicas']['hosts'][host] = dict(entry, replicant_master=master)
    with open(path, 'w') as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)


def test_relocate_stays_in_the_replicas_installation(inv, labs):
    before = state(labs, B)
    run = play('relocate', inv, replica='a3', new_master='b1')
    assert run.rc != 0 and 'b1' in run.output, run.output
    run = play('relocate', inv, replica='a3', new_master='a2')
    assert run.rc == 0, run.output
    run = play('relocate', inv, replica='a3', up=True)
    assert run.rc == 0, run.output
    assert state(labs, B) == before


def test_setup_replication_of_one_installation(inv, labs):
    before = state(labs, B)
    run = play('setup_replication', inv, installation='a')
    assert run.rc == 0, run.output
    assert not [c for c in run.changed if c[0].startswith('b')], run.changed
    assert state(labs, B) == before


def test_one_run_switches_over_both_installations(inv, labs):
    """Each switchover writes the new topology back into the one inventory (both at once, each its part)."""
    started = time.time()
    run = play('promote_master', inv, installation='a', new_master='a2', write_inventory=inv)
    one = time.time() - started
    assert run.rc == 0, run.output
    assert writable(labs, A) == ['a2'] and writable(labs, B) == ['b1']
    assert inventory.load(inv)['a'].master.name == 'a2'
    started = time.time()
    run = play('promote_master', inv, installation='all', write_inventory=inv)   # elections in a and in b
    both = time.time() - started
    assert run.rc == 0, run.output
    found = inventory.load(inv)
    assert writable(labs, A) == [found['a'].master.name] != ['a2'], run.output
    assert writable(labs, B) == [found['b'].master.name] != ['b1'], run.output
    assert sorted(r.name for r in found['b'].replicas) == sorted(set(B) - {found['b'].master.name})
    assert both < 1.6 * one, (both, one)
    # Back where the other tests expect them, both at once again.
    run = play('promote_master', inv, installation='a,b', write_inventory=inv)
    assert run.rc == 0, run.output
    for name, master in (('a', 'a1'), ('b', 'b1')):
        if inventory.load(inv)[name].master.name != master:
            run = play('promote_master', inv, installation=name, new_master=master, write_inventory=inv)
            assert run.rc == 0, run.output
    assert writable(labs, A) == ['a1'] and writable(labs, B) == ['b1']
    run = play('topology', inv, topology_fail_on_problems=True)
    assert run.rc == 0, run.output


def test_a_vaulted_inventory_is_written_keeping_the_vaulted_value(inv, labs, tmp_path):
    secret = tmp_path / 'vault-pass'
    secret.write_text('replicant-test-vault\n')
    proc = subprocess.run([os.path.join(BIN, 'ansible-vault'), 'encrypt_string', '--vault-password-file', str(secret),
                           'lab-app-secret', '--name', 'replicant_app_password'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=True)
    vaulted = proc.stdout
    ciphertext = [line.strip() for line in vaulted.splitlines() if line.strip() and not line.strip().startswith(('replicant_', '$'))]
    with open(inv) as handle:
        text = handle.read()
    text = text.replace("    replicant_app_password: lab-app-secret\n",
                        ''.join('    ' + line + '\n' for line in vaulted.rstrip('\n').splitlines()))
    assert '!vault' in text
    source = tmp_path / 'vaulted.yml'
    source.write_text(text)
    written = tmp_path / 'written.yml'
    env_before = state(labs, B)
    run = run_playbook('playbooks/promote_master.yml', inventory=str(source),
                       extra_vars=dict(installation='a', new_master='a2', write_inventory=str(written)),
                       more_args=['--vault-password-file', str(secret)])
    assert run.rc == 0, run.output
    out = written.read_text()
    assert all(part in out for part in ciphertext) and '!vault' in out
    doc = inventory.load(str(written), vault_password_file=str(secret))
    assert doc['a'].master.name == 'a2' and doc['b'].master.name == 'b1'
    assert state(labs, B) == env_before
    # An inventory that cannot be written is refused before anything changes.
    before = state(labs, A)
    run = run_playbook('playbooks/promote_master.yml', inventory=str(written),
                       extra_vars=dict(installation='a', new_master='a1', write_inventory='/proc/replicant.yml'),
                       more_args=['--vault-password-file', str(secret)])
    assert run.rc != 0 and 'not writable' in run.output, run.output
    assert state(labs, A) == before
    run = run_playbook('playbooks/promote_master.yml', inventory=str(written),
                       extra_vars=dict(installation='a', new_master='a1'),
                       more_args=['--vault-password-file', str(secret)])
    assert run.rc == 0, run.output
    assert writable(labs, A) == ['a1']
    shutil.rmtree(str(tmp_path), ignore_errors=True)


def test_failover_of_one_installation_leaves_the_other_alone(inv, labs, tmp_path):
    before = state(labs, A)
    with open(os.path.join(labs['b'].dir, 'b1', 'mysqld.pid')) as handle:
        os.kill(int(handle.read().strip()), 9)
    written = str(tmp_path / 'after.yml')
    run = play('failover', inv, installation='b', write_inventory=written)
    assert run.rc == 0, run.output
    assert writable(labs, ['b2', 'b3']) == ['b2']
    with server(labs, 'b3') as s:
        assert replication.replica_status(s)['master_host'] == '127.0.10.22'
    assert state(labs, A) == before
    found = inventory.load(written)
    assert found['b'].master.name == 'b2' and found['a'].master.name == 'a1'
