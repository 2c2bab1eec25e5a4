"""replicant.mysql next to community.mysql, against real servers (docs/community_mysql.md).

community.mysql comes from the `ansible` package on PyPI (Galaxy is out of reach here): the wheel is
downloaded once with pip (pip's cache keeps it) and only ansible_collections/community/mysql is
unpacked, into .collections-community/ in the checkout. The tests are skipped when that fails.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import pytest
import yaml

from conftest import REPO, Lab, lab_vars, run_playbook

ANSIBLE_PACKAGE = 'ansible==12.3.0'  # carries community.mysql 3.16.1
COMMUNITY = os.path.join(REPO, '.collections-community')
MEMBER = 'ansible_collections/community/mysql/'


def community_mysql():
    """The directory holding ansible_collections/community/mysql, fetched when missing; None if it cannot be."""
    if os.path.exists(os.path.join(COMMUNITY, MEMBER, 'MANIFEST.json')):
        return COMMUNITY
    download = tempfile.mkdtemp(prefix='replicant-ansible-wheel-')
    try:
        proc = subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:',
                               ANSIBLE_PACKAGE, '-d', download], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=600, check=False)
        wheels = [f for f in os.listdir(download) if f.endswith('.whl')]
        if proc.returncode != 0 or not wheels:
            return None
        staging = COMMUNITY + '.tmp'
        shutil.rmtree(staging, ignore_errors=True)
        with zipfile.ZipFile(os.path.join(download, wheels[0])) as wheel:
            wheel.extractall(staging, [n for n in wheel.namelist() if n.startswith(MEMBER)])
        shutil.rmtree(COMMUNITY, ignore_errors=True)
        os.rename(staging, COMMUNITY)
        return COMMUNITY
    finally:
        shutil.rmtree(download, ignore_errors=True)


@pytest.fixture(scope='module')
def collections_paths():
    """(path with replicant.mysql and community.mysql, path with replicant.mysql alone)."""
    community = community_mysql()
    if community is None:
        pytest.skip('community.mysql could not be fetched from the ansible package on PyPI')
    work = tempfile.mkdtemp(prefix='replicant-community-')
    both, alone = os.path.join(work, 'both'), os.path.join(work, 'alone')
    for root in (both, alone):
        os.makedirs(os.path.join(root, 'ansible_collections', 'replicant'))
        os.symlink(REPO, os.path.join(root, 'ansible_collections', 'replicant', 'mysql'))
    os.makedirs(os.path.join(both, 'ansible_collections', 'community'))
    os.symlink(os.path.join(community, 'ansible_collections', 'community', 'mysql'),
               os.path.join(both, 'ansible_collections', 'community', 'mysql'))
    yield both, alone
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope='module')
def pub_lab(collections_paths):
    directory = tempfile.mkdtemp(prefix='replicant-pub-lab-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, '127.0.20.11', lab_servers=2, lab_name_prefix='pub'))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        yield the_lab
    finally:
        run = the_lab.down()
    assert run.rc == 0, run.output


SHARED = {
    'login_user': '{{ replicant_login_user }}',
    'login_password': '{{ replicant_login_password }}',
    'login_unix_socket': '{{ replicant_login_unix_socket }}',
}


def play(monkeypatch, lab, collections, plays):
    monkeypatch.setenv('ANSIBLE_COLLECTIONS_PATH', collections)
    fd, path = tempfile.mkstemp(prefix='replicant-community-play-', suffix='.yml')
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump(plays, handle)
    try:
        return run_playbook(path, inventory=lab.inventory)
    finally:
        os.unlink(path)


def test_one_module_defaults_block_serves_both_collections(monkeypatch, pub_lab, collections_paths):
    both = collections_paths[0]
    master = {
        'name': 'master', 'hosts': 'pub1', 'gather_facts': False,
        'module_defaults': {'group/replicant.mysql.mysql': SHARED},
        'tasks': [
            {'name': 'community query', 'community.mysql.mysql_query': {'query': 'SELECT @@server_id AS id'}},
            {'name': 'community database', 'community.mysql.mysql_db': {'name': 'pubtest'}},
            {'name': 'replicant query', 'replicant.mysql.mysql_query': {
                'login_db': 'pubtest',
                'query': ['CREATE TABLE IF NOT EXISTS t (k INT PRIMARY KEY, v VARCHAR(20))',
                          "INSERT INTO t VALUES (1, 'a, b'), (2, 'c')", 'SELECT k, v FROM t ORDER BY k']}},
            {'name': 'master position', 'replicant.mysql.mysql_master_pos': {}, 'register': 'master'},
        ],
    }
    replica = {
        'name': 'replica', 'hosts': 'pub2', 'gather_facts': False,
        'module_defaults': {'group/replicant.mysql.mysql': SHARED},
        'tasks': [
            {'name': 'caught up', 'replicant.mysql.mysql_replication': {
                'state': 'caught_up', 'gtid': "{{ hostvars['pub1'].master.gtid_executed }}", 'timeout': 20}},
            {'name': 'community replica status', 'community.mysql.mysql_replication': {'mode': 'getreplica'}},
            {'name': 'community rows', 'community.mysql.mysql_query': {
                'login_db': 'pubtest', 'query': 'SELECT COUNT(*) AS n FROM t'}},
            # community.mysql's vocabulary: primary_* names and replica_pos; the replica already
            # replicates from pub1 by GTID, so nothing is to change
            {'name': 'same master in community words', 'replicant.mysql.mysql_change_master': {
                'primary_host': "{{ hostvars['pub1'].replicant_host }}",
                'primary_port': "{{ hostvars['pub1'].replicant_port }}",
                'primary_user': '{{ replicant_repl_user }}',
                'primary_password': '{{ replicant_repl_password }}',
                'primary_use_gtid': 'replica_pos'}},
        ],
    }
    run = play(monkeypatch, pub_lab, both, [master, replica])
    assert run.rc == 0, run.output
    assert run.result('community query', 'pub1')['query_result'] == [[{'id': 1}]]
    mine = run.result('replicant query', 'pub1')
    assert mine['rowcount'] == [0, 2, 2], mine
    assert mine['executed_queries'] == mine['executed'] and len(mine['executed_queries']) == 3
    assert mine['query_result'][2] == [{'k': 1, 'v': 'a, b'}, {'k': 2, 'v': 'c'}]
    status = run.result('community replica status', 'pub2')
    assert status['Is_Replica'] is True, status
    assert run.result('community rows', 'pub2')['query_result'] == [[{'n': 2}]]
    same = run.result('same master in community words', 'pub2')
    assert same['changed'] is False and same['queries'] == [], same


def test_read_timeout_goes_to_replicant_modules_by_name(monkeypatch, pub_lab, collections_paths):
    both = collections_paths[0]
    shared_with_timeout = dict(SHARED, read_timeout=30)
    plays = [
        {'name': 'read_timeout in the shared block', 'hosts': 'pub1', 'gather_facts': False,
         'module_defaults': {'group/replicant.mysql.mysql': shared_with_timeout},
         'tasks': [{'name': 'community with read_timeout', 'community.mysql.mysql_query': {'query': 'SELECT 1'},
                    'ignore_errors': True}]},
        {'name': 'read_timeout by module name', 'hosts': 'pub1', 'gather_facts': False,
         'module_defaults': {'group/replicant.mysql.mysql': SHARED,
                             'replicant.mysql.mysql_query': {'read_timeout': 30}},
         'tasks': [{'name': 'community without', 'community.mysql.mysql_query': {'query': 'SELECT 1 AS one'}},
                   {'name': 'replicant with', 'replicant.mysql.mysql_query': {'query': 'SELECT 2 AS two'}}]},
    ]
    run = play(monkeypatch, pub_lab, both, plays)
    assert run.rc == 0, run.output
    assert 'read_timeout' in run.result('community with read_timeout', 'pub1')['msg']
    assert run.result('community without', 'pub1')['query_result'] == [[{'one': 1}]]
    assert run.result('replicant with', 'pub1')['query_result'] == [[{'two': 2}]]


def test_the_group_works_without_community_mysql(monkeypatch, pub_lab, collections_paths):
    alone = collections_paths[1]
    plays = [{'name': 'alone', 'hosts': 'pub1', 'gather_facts': False,
              'module_defaults': {'group/replicant.mysql.mysql': SHARED},
              'tasks': [{'name': 'master position', 'replicant.mysql.mysql_master_pos': {}}]}]
    run = play(monkeypatch, pub_lab, alone, plays)
    assert run.rc == 0, run.output
    assert run.result('master position', 'pub1')['server_id'] == 1
    assert 'community' not in run.output and '[WARNING]' not in run.output, run.output
