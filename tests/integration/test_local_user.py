"""A second, unprivileged local account against the collection (issue 15).

``replicant-evil`` (created here with useradd, removed afterwards) pre-creates or symlinks the files the
collection uses: the old lock state file in /tmp, option files and their temporary files, a lab
directory. Nothing of root's may be overwritten, no forged state trusted, no process signalled for it,
and no password readable by that account.
"""
import grp
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from conftest import Lab, lab_address, lab_vars, run_playbook, run_tasks

from ansible_collections.replicant.mysql.plugins.module_utils import lock_holder

EVIL = 'replicant-evil'
ADDRESS = lab_address('127.0.30.21')


@pytest.fixture(scope='module')
def evil():
    created = False
    try:
        pwd.getpwnam(EVIL)
    except KeyError:
        subprocess.run(['useradd', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin',
                        '--user-group', EVIL], check=True)
        created = True
    try:
        yield pwd.getpwnam(EVIL)
    finally:
        if created:
            subprocess.run(['userdel', EVIL], check=False)
            try:
                grp.getgrnam(EVIL)
                subprocess.run(['groupdel', EVIL], check=False)
            except KeyError:
                pass


def as_evil(user, *argv, check=False):
    """Run ``argv`` as the unprivileged account; return the CompletedProcess."""
    return subprocess.run(['setpriv', '--reuid=%d' % user.pw_uid, '--regid=%d' % user.pw_gid, '--clear-groups',
                           '--reset-env', '--'] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=check, cwd='/')


@pytest.fixture(scope='module')
def lab():
    directory = tempfile.mkdtemp(prefix='replicant-hard-evil-', dir='/var/tmp')
    os.rmdir(directory)  # the lab creates it (and removes it)
    the_lab = Lab(directory, lab_vars(directory, ADDRESS, lab_name_prefix='hard', lab_servers=2))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        yield the_lab
    finally:
        run = the_lab.down()
    assert run.rc == 0, run.output
    assert not os.path.exists(directory)


@pytest.fixture
def evil_dir(evil):
    """A directory of the unprivileged account that everybody can write (as its own would be)."""
    path = tempfile.mkdtemp(prefix='replicant-evil-', dir='/tmp')
    os.chown(path, evil.pw_uid, evil.pw_gid)
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def victim(tmp_path):
    """A file of root's that nothing may overwrite."""
    path = tmp_path / 'victim.txt'
    path.write_text('root data\n')
    os.chmod(str(tmp_path), 0o755)
    return path


def digest(path):
    with open(str(path), 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def sock(lab, name='hard1'):
    return lab.hosts()[name]['replicant_login_unix_socket']


def test_forged_lock_state_is_not_trusted_and_nothing_is_signalled(lab, evil, evil_dir):
    bystander = subprocess.Popen(['sleep', '120'])  # a process of root's the forgery names
    key = '%s|None|3306' % sock(lab)
    old_default = '/tmp/replicant-flush-lock-%s.json' % hashlib.sha1(key.encode()).hexdigest()[:16]
    forged = dict(pid=bystander.pid, connection_id=1, expires=4102444800, timeout=1, server='forged',
                  position=dict(file='forged-bin.000001', pos=4, gtid_executed='0-666-666'))
    try:
        # the old default place of the state file, and a state_file below a directory of the account
        for path in (old_default, os.path.join(evil_dir, 'lock.json')):
            as_evil(evil, 'python3', '-c', 'import sys; open(sys.argv[1], "w").write(sys.argv[2])', path,
                    json.dumps(forged), check=True)
        # the account cannot plant anything where the holder keeps its state
        assert as_evil(evil, 'ls', '/run/replicant').returncode != 0
        assert as_evil(evil, 'touch', '/run/replicant/flush-lock-x.json').returncode != 0

        run = run_tasks(lab.inventory, 'hard1', [
            {'name': 'unlock', 'replicant.mysql.mysql_flush_lock': dict(state='unlocked')},
            {'name': 'evil state file', 'replicant.mysql.mysql_flush_lock': dict(
                state='unlocked', state_file=os.path.join(evil_dir, 'lock.json')), 'ignore_errors': True},
            {'name': 'lock', 'replicant.mysql.mysql_flush_lock': dict(state='locked', timeout=60)},
            {'name': 'unlock again', 'replicant.mysql.mysql_flush_lock': dict(state='unlocked')},
        ])
        assert bystander.poll() is None, 'a forged state file got a process of root signalled'
        assert run.result('unlock', 'hard1')['changed'] is False
        refused = run.result('evil state file', 'hard1')
        assert refused['failed'] and 'belongs to uid %d' % evil.pw_uid in refused['msg'], refused
        lock = run.result('lock', 'hard1')
        assert lock['changed'] and lock['holder_pid'] != bystander.pid
        assert lock['position']['gtid_executed'] != '0-666-666' and lock['position']['file'] != 'forged-bin.000001'
        with lab.server('hard1') as s:
            assert lock['position']['gtid_executed'] == s.value('SELECT @@GLOBAL.gtid_binlog_pos')
        assert lock['state_file'].startswith('/run/replicant/')
        assert run.result('unlock again', 'hard1')['changed'] is True
        assert lock_holder.read_state(lock['state_file']) is None
    finally:
        bystander.kill()
        bystander.wait()
        if os.path.exists(old_default):
            os.unlink(old_default)


def test_symlinks_of_another_user_cannot_make_root_overwrite_a_file(lab, evil, evil_dir, victim):
    before = digest(victim)
    link = os.path.join(evil_dir, 'replication.cnf')
    as_evil(evil, 'ln', '-s', str(victim), link, check=True)
    # in /tmp (sticky): the account pre-creates the target as a link, or the temporary file of old
    shared = '/tmp/replicant-hard-%s.cnf' % os.getpid()
    shared_new = '/tmp/replicant-hard-new-%s.cnf' % os.getpid()
    as_evil(evil, 'ln', '-s', str(victim), shared, check=True)
    as_evil(evil, 'ln', '-s', str(victim), shared_new + '.replicant-tmp', check=True)
    try:
        run = run_tasks(lab.inventory, 'hard1', [
            {'name': 'in the account directory', 'replicant.mysql.mysql_cnf': dict(path=link, options={'server_id': 9}),
             'ignore_errors': True},
            {'name': 'link in tmp', 'replicant.mysql.mysql_cnf': dict(path=shared, options={'server_id': 9}),
             'ignore_errors': True},
            {'name': 'new file in tmp', 'replicant.mysql.mysql_cnf': dict(
                path=shared_new, section='client', options={'password': 'hard-secret-pw'})},
        ])
        assert digest(victim) == before, "root's file was overwritten through a link"
        first = run.result('in the account directory', 'hard1')
        assert first['failed'] and 'symbolic link of another user' in first['msg'] and 'was not changed' in first['msg']
        second = run.result('link in tmp', 'hard1')
        assert second['failed'] and 'symbolic link of another user' in second['msg'], second
        assert run.result('new file in tmp', 'hard1')['changed']
        info = os.lstat(shared_new)
        assert info.st_uid == 0 and oct(info.st_mode & 0o777) == oct(0o600), 'a password file others can read'
        assert as_evil(evil, 'cat', shared_new).returncode != 0
        assert os.path.islink(shared_new + '.replicant-tmp'), 'the planted link was used'
    finally:
        for path in (shared, shared_new, shared_new + '.replicant-tmp'):
            if os.path.lexists(path):
                os.unlink(path)


def test_lab_refuses_a_directory_another_user_prepared(evil, evil_dir, victim):
    victim_dir = os.path.dirname(str(victim))
    prepared = os.path.join(evil_dir, 'lab')
    as_evil(evil, 'mkdir', prepared, check=True)
    as_evil(evil, 'sh', '-c', 'echo replicant.mysql lab > %s/.replicant-lab' % prepared, check=True)
    as_evil(evil, 'ln', '-s', victim_dir, os.path.join(prepared, 'hard1'), check=True)
    before = digest(victim)
    for state in ('present', 'absent'):
        for directory in (prepared, os.path.join(evil_dir, 'empty')):
            run = run_playbook('playbooks/lab.yml', extra_vars=lab_vars(directory, '127.0.30.31', lab_state=state,
                                                                        lab_name_prefix='hard', lab_servers=1))
            assert run.rc != 0, run.output
            assert 'lab_dir %s cannot be used' % directory in run.output and 'Nothing was changed' in run.output
    assert digest(victim) == before and os.path.isdir(victim_dir)
    assert os.path.islink(os.path.join(prepared, 'hard1')) and not os.path.exists(os.path.join(evil_dir, 'empty'))


def test_no_password_is_readable_by_another_user(lab, evil):
    hosts = lab.hosts()
    secrets = {h['replicant_login_password'] for h in hosts.values()} | {h['replicant_repl_password'] for h in hosts.values()}
    run = run_tasks(lab.inventory, 'hard1', [
        {'name': 'lock', 'replicant.mysql.mysql_flush_lock': dict(state='locked', timeout=60)}])
    try:
        assert not run.failed, run.output
        lock = run.result('lock', 'hard1')
        # what every user sees: the command lines of all processes (the holder's among them)
        ps = as_evil(evil, 'ps', '-eo', 'pid,args', check=True).stdout
        assert str(lock['holder_pid']) in ps
        leaked = [s for s in secrets if s in ps]
        assert not leaked, 'a password is in a command line'
        # every file of the lab and of the lock state the account can read
        readable = as_evil(evil, 'find', lab.dir, '/run/replicant', '-type', 'f', '-readable').stdout.split()
        for path in readable:
            with open(path, 'rb') as handle:
                data = handle.read()
            assert not [s for s in secrets if s.encode() in data], '%s is readable by %s and has a password' % (path, EVIL)
        assert as_evil(evil, 'cat', lock['state_file']).returncode != 0
    finally:
        run_tasks(lab.inventory, 'hard1', [
            {'name': 'unlock', 'replicant.mysql.mysql_flush_lock': dict(state='unlocked')}])


def test_a_server_is_not_started_from_an_option_file_another_user_can_change(lab, evil, evil_dir):
    own = lab.hosts()['hard2']['replicant_defaults_file']
    planted = os.path.join(evil_dir, 'my.cnf')
    shutil.copy(own, planted)
    os.chown(planted, evil.pw_uid, evil.pw_gid)
    run = run_tasks(lab.inventory, 'hard2', [
        {'name': 'start', 'replicant.mysql.mysql_server': dict(defaults_file=planted, state='restarted'),
         'ignore_errors': True}])
    result = run.result('start', 'hard2')
    assert result['failed'] and 'refusing to start a server from %s' % planted in result['msg'], result
    assert 'belongs to uid %d' % evil.pw_uid in result['msg']
    with lab.server('hard2') as s:  # still the same, running server
        assert s.value('SELECT 1') == 1
