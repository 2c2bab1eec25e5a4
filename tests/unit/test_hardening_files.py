"""Option files that cannot be injected into, lock state that cannot be forged, pid files that cannot
make the collection kill another process (issue 15)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import cnf, lock_holder
from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import ServerProcess

BASE = '[mysqld]\nserver_id = 1\n'


@pytest.mark.parametrize('section, options, fragment', [
    ('mysqld', {'init_file': '/tmp/x\n[client]'}, 'newline'),
    ('mysqld', {'x': 'a\rb'}, 'carriage return'),
    ('mysqld', {'x': 'a\0b'}, 'NUL'),
    ('mysqld', {'a\ninit_file': '/tmp/x'}, 'cannot be written safely'),
    ('mysqld', {'[client]': None}, 'cannot be written safely'),
    ('mysqld', {'--init-file': '/tmp/x'}, 'no leading - or --'),
    ('mysqld', {'a = b': 'c'}, 'cannot be written safely'),
    ('mysqld', {'': 'c'}, 'cannot be written safely'),
    ('mysqld', {'x': ['a']}, 'must be a string, a number'),
    ('mysqld', {'x': float('nan')}, 'is not a value'),
    ('mysqld', {}, 'non-empty dict'),
    ('mysqld]\n[client', {'x': 1}, 'must not contain'),
    ('client]', {'x': 1}, "must not contain ']'"),
    ('', {'x': 1}, 'non-empty string'),
])
def test_unsafe_names_and_values_are_refused_before_any_edit(section, options, fragment):
    with pytest.raises(ValueError, match=fragment.replace('[', r'\[').replace(']', r'\]')):
        cnf.edit(BASE, section, options)


def test_values_with_comment_characters_or_quotes_are_written_quoted_and_stay_idempotent():
    new, changed = cnf.edit(BASE, 'client', {'password': 'ab#cd"e', 'x': ' lead'})
    assert 'password = "ab#cd\\"e"' in new and 'x = " lead"' in new and changed == ['password', 'x']
    again, changed = cnf.edit(new, 'client', {'password': 'ab#cd"e', 'x': ' lead'})
    assert again == new and changed == []


def test_absent_checks_names_only():
    new, changed = cnf.edit(BASE, 'mysqld', {'server_id': ['ignored']}, state='absent')
    assert changed == ['server_id']
    with pytest.raises(ValueError):
        cnf.edit(BASE, 'mysqld', {'--server_id': None}, state='absent')


def test_diff_masks_password_like_values():
    text = '[client]\nuser = admin\npassword = "s3cret"\nssl-key = /k\nreplicant_secret=x\n'
    masked = cnf.mask_secrets(text)
    assert 's3cret' not in masked and 'password = ********' in masked and 'ssl-key = /k' in masked
    assert 'replicant_secret = ********' in masked


# -- lock state ----------------------------------------------------------------------------------
def test_times_are_checked():
    for bad in (0, -1, 86401, True, 1.5, '10'):
        with pytest.raises(ValueError, match='timeout must be a whole number'):
            lock_holder.check_times(bad)
    with pytest.raises(ValueError, match='lock_wait_timeout'):
        lock_holder.check_times(10, None, 0)
    with pytest.raises(ValueError, match='lease'):
        lock_holder.check_times(10, 20)
    assert lock_holder.check_times(10, 5) == 5


def test_private_dir_is_created_0700_and_others_are_refused(tmp_path):
    mine = lock_holder.private_dir(str(tmp_path / 'run'))
    assert os.stat(mine).st_mode & 0o777 == 0o700
    open_dir = tmp_path / 'open'
    open_dir.mkdir()
    os.chmod(str(open_dir), 0o777)
    with pytest.raises(lock_holder.LockError, match='can be written by other users'):
        lock_holder.private_dir(str(open_dir))
    link = tmp_path / 'link'
    os.symlink(mine, str(link))
    with pytest.raises(lock_holder.LockError, match='symbolic link'):
        lock_holder.private_dir(str(link))


def _forge(path, **state):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, json.dumps(state).encode())
    os.close(fd)


@pytest.fixture
def bystander():
    """A live process of ours that is no lock holder: nothing may signal it."""
    proc = subprocess.Popen(['sleep', '60'])
    yield proc
    proc.kill()
    proc.wait()


def test_forged_state_is_never_trusted_nor_signalled(tmp_path, bystander):
    directory = lock_holder.private_dir(str(tmp_path / 'run'))
    path = os.path.join(directory, 'lock.json')
    start = lock_holder.process_start(bystander.pid)
    cases = [
        (dict(pid=bystander.pid, start_time=start, server_key='k', expires=time.time() + 60), 'no lock holder'),
        (dict(pid=bystander.pid, start_time=start + 1, server_key='k', expires=time.time() + 60), 'another process'),
        (dict(pid=bystander.pid, start_time=start, server_key='other', expires=time.time() + 60), 'another server'),
        (dict(pid=1, start_time=0, server_key='k', expires=time.time() + 60), 'no valid process'),
        (dict(pid='1; kill', server_key='k'), 'no valid process'),
    ]
    for state, why in cases:
        _forge(path, **state)
        problems = []
        assert lock_holder.read_state(path, 'k', problems) is None
        assert why in problems[0], problems
        assert lock_holder.release(path, server_key='k') is None
        assert bystander.poll() is None, 'a forged state file got a process signalled'
    os.chmod(path, 0o644)
    problems = []
    assert lock_holder.read_state(path, 'k', problems) is None and 'not a private file' in problems[0]
    os.unlink(path)
    os.symlink('/etc/passwd', path)
    problems = []
    assert lock_holder.read_state(path, 'k', problems) is None and 'not a private file' in problems[0]


def test_hold_refuses_a_state_file_in_a_shared_directory(tmp_path):
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o1777)
    with pytest.raises(lock_holder.LockError, match='can be written by other users'):
        lock_holder.hold(lambda: None, str(shared / 'x.json'), 10)
    with pytest.raises(ValueError, match='timeout'):
        lock_holder.hold(lambda: None, str(shared / 'x.json'), 0)


def test_find_play_sees_no_play_outside_ansible():
    assert lock_holder.find_play() is None


# -- pid files -----------------------------------------------------------------------------------
def _instance(tmp_path, pid):
    datadir = tmp_path / 'data'
    datadir.mkdir(exist_ok=True)
    defaults = tmp_path / 'my.cnf'
    defaults.write_text('[mysqld]\ndatadir = %s\npid-file = %s\n' % (datadir, tmp_path / 'x.pid'))
    (tmp_path / 'x.pid').write_text('%d\n' % pid)
    return ServerProcess(str(defaults), binary='/usr/sbin/mariadbd')


def test_a_stale_pid_file_naming_another_process_is_not_the_server(tmp_path, bystander):
    instance = _instance(tmp_path, bystander.pid)
    assert instance.pid() is None and not instance.running() and instance.stale_pid() == bystander.pid
    assert instance.stop(timeout=2) is False
    assert bystander.poll() is None, 'stop killed the process a stale pid file named'


def test_a_process_that_is_this_server_is_recognised(tmp_path):
    defaults = tmp_path / 'my.cnf'
    proc = subprocess.Popen(['mariadbd', '-c', 'import time; time.sleep(60)', '--defaults-file=%s' % defaults],
                            executable=sys.executable)
    try:
        time.sleep(0.2)
        instance = _instance(tmp_path, proc.pid)
        assert instance.pid() == proc.pid and instance.stale_pid() is None
        other = tmp_path / 'other'
        other.mkdir()
        (other / 'my.cnf').write_text('[mysqld]\ndatadir = %s\npid-file = %s\n' % (other, tmp_path / 'x.pid'))
        assert ServerProcess(str(other / 'my.cnf'), binary='/usr/sbin/mariadbd').pid() is None
        assert instance.stop(timeout=5) is True
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
