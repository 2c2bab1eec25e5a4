"""Bad and hostile input across the modules, against real servers (issue 15).

Every bad input must fail with a message that names the host (the task's host, and the server or file)
and what to fix, and must change nothing: accounts, binary log positions, replication, option files,
lock state and server processes are compared before and after. Hostile but valid input (quotes,
backticks, ``#``, ``--``, newlines, non-ASCII) must be taken literally, also on a server running with
NO_BACKSLASH_ESCAPES.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, REPO, Lab, ansible_env, lab_address, lab_vars, run_tasks

from ansible_collections.replicant.mysql.plugins.module_utils import lock_holder
from ansible_collections.replicant.mysql.plugins.module_utils.server import SESSION_SQL_MODE, Server, ServerError

ADDRESS = lab_address('127.0.30.41')
ELSEWHERE = lab_address('127.0.30.49')  # no server there


@pytest.fixture(scope='module')
def hard():
    directory = tempfile.mkdtemp(prefix='replicant-hard-', dir='/var/tmp')
    the_lab = Lab(directory, lab_vars(directory, ADDRESS, lab_name_prefix='hard', lab_servers=2))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        yield the_lab
    finally:
        run = the_lab.down()
        if os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)
    assert run.rc == 0, run.output
    assert not os.path.exists(directory)


def sha(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def snapshot(lab, files=()):
    """Everything a bad input must leave as it was."""
    state = {}
    for name, h in lab.hosts().items():
        with lab.server(name) as s:
            state[name] = dict(
                users=sorted((r['User'], r['Host']) for r in s.sql('SELECT User, Host FROM mysql.user')),
                gtid=s.value('SELECT @@GLOBAL.gtid_binlog_pos'), sql_mode=s.value('SELECT @@GLOBAL.sql_mode'),
                read_only=s.value('SELECT @@GLOBAL.read_only'),
                replica=[(r['Master_Host'], r['Slave_IO_Running'], r['Slave_SQL_Running']) for r in s.sql('SHOW SLAVE STATUS')],
                cnf=sha(h['replicant_defaults_file']))
        with open(os.path.join(os.path.dirname(h['replicant_defaults_file']), 'mysqld.pid')) as handle:
            state[name]['pid'] = handle.read().strip()
    state['files'] = {path: sha(path) if os.path.exists(path) else None for path in files}
    state['lock_states'] = [os.path.exists(_state_file(lab, name)) for name in sorted(lab.hosts())]
    return state


def differences(before, after):
    """What differs between two snapshots, one line per server and key."""
    out = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if isinstance(old, dict) and isinstance(new, dict):
            out += ['%s %s: %r -> %r' % (name, k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
                    if old.get(k) != new.get(k)]
        elif old != new:
            out.append('%s: %r -> %r' % (name, old, new))
    return out


def not_locked(lab, name='hard1'):
    """A write through the unprivileged account goes through at once (no read lock is held)."""
    h = lab.hosts()[name]
    with lab.server(name, user=h['replicant_app_user'], password=h['replicant_app_password']) as s:
        s.sql('SET SESSION lock_wait_timeout = 3')
        s.sql('CREATE DATABASE IF NOT EXISTS hardtest')
        s.sql('CREATE TABLE IF NOT EXISTS hardtest.t (k INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200))')
        s.sql("INSERT INTO hardtest.t (v) VALUES ('probe')")
    return True


def cases(cnf_path, defaults_file):
    """(task name, module, arguments, fragments the message must contain)."""
    sock = '%s/hard1/mysqld.sock'
    repl = dict(master_user='hardrepl', master_password='hard-repl-pw')
    return [
        # wrong types and out-of-range numbers
        ('lock timeout 0', 'mysql_flush_lock', dict(timeout=0), ['timeout must be a whole number', 'not 0', sock]),
        ('lock timeout negative', 'mysql_flush_lock', dict(timeout=-5), ['timeout', 'not -5']),
        ('lock timeout too long', 'mysql_flush_lock', dict(timeout=86401), ['from 1 to 86400', 'not 86401']),
        ('lock timeout not a number', 'mysql_flush_lock', dict(timeout='soon'), ['timeout', 'int']),
        ('lock wait 0', 'mysql_flush_lock', dict(lock_wait_timeout=0), ['lock_wait_timeout', 'not 0']),
        ('lock lease over timeout', 'mysql_flush_lock', dict(timeout=10, lease=20), ['lease (20)', 'timeout (10)']),
        ('lock empty command', 'mysql_flush_lock', dict(command=[]), ['command must name a program']),
        ('lock state file in /tmp', 'mysql_flush_lock', dict(state_file='/tmp/replicant-hard-lock.json'),
         ['/tmp can be written by other users', 'nothing was locked']),
        ('server timeout 0', 'mysql_server', dict(defaults_file=defaults_file, state='stopped', timeout=0),
         ['timeout must be a whole number', 'not 0']),
        ('server service option', 'mysql_server', dict(service='--help', state='stopped'), ['service must be a unit name']),
        ('checksum timeout', 'mysql_checksum', dict(other_host=ADDRESS, other_port=23306, timeout=-1), ['timeout', 'not -1']),
        ('checksum port', 'mysql_checksum', dict(other_host=ADDRESS, other_port=70000), ['other_port must be a port']),
        ('connect timeout 0', 'mysql_master_pos', dict(connect_timeout=0), ['connect_timeout must be', sock]),
        # option files: names and values that would inject lines
        ('cnf value newline', 'mysql_cnf', dict(path=cnf_path, options={'server_id': '1\n[client]\npassword = x'}),
         [cnf_path, 'option server_id', 'newline', 'was not changed']),
        ('cnf init_file injection', 'mysql_cnf', dict(path=cnf_path, options={'x': 'y\ninit_file = /tmp/evil.sql'}),
         ['option x', 'newline']),
        ('cnf value CR', 'mysql_cnf', dict(path=cnf_path, options={'x': 'a\rb'}), ['carriage return']),
        ('cnf value NUL', 'mysql_cnf', dict(path=cnf_path, options={'x': 'a\x00b'}), ['NUL']),
        ('cnf name with newline', 'mysql_cnf', dict(path=cnf_path, options={'a\ninit_file': '/tmp/x'}),
         ['cannot be written safely']),
        ('cnf name section', 'mysql_cnf', dict(path=cnf_path, options={'[client]': None}), ["'[client]'", 'brackets']),
        ('cnf name dashes', 'mysql_cnf', dict(path=cnf_path, options={'--init-file': '/tmp/x'}), ['no leading - or --']),
        ('cnf section brackets', 'mysql_cnf', dict(path=cnf_path, section='mysqld]\n[client', options={'x': 1}),
         ['section name', 'must not contain']),
        ('cnf value list', 'mysql_cnf', dict(path=cnf_path, options={'x': ['a', 'b']}), ['must be a string, a number']),
        # accounts
        ('account empty user', 'mysql_replication_user', dict(user='', password='pw'), ['user name must not be empty', sock]),
        ('account empty password', 'mysql_replication_user', dict(user='hardrepl', password=''), ['non-empty password']),
        ('account long user', 'mysql_replication_user', dict(user='u' * 81, password='pw'), ['at most 80']),
        ('account empty host', 'mysql_replication_user', dict(user='hardrepl', host='', password='pw'), ['host pattern']),
        ('query empty database', 'mysql_query', dict(query=['SELECT 1'], database=''), ['invalid SQL identifier', "''"]),
        # more of the same kind
        ('lock lease 0', 'mysql_flush_lock', dict(lease=0), ['lease must be', 'not 0']),
        ('lock lease too long', 'mysql_flush_lock', dict(timeout=86400, lease=86401), ['lease must be']),
        ('lock wait too long', 'mysql_flush_lock', dict(lock_wait_timeout=3601), ['lock_wait_timeout', 'from 1 to 3600']),
        ('lock timeout float', 'mysql_flush_lock', dict(timeout=1.5), ['timeout']),
        ('lock state file dotted /tmp', 'mysql_flush_lock', dict(state_file='/var/tmp/../tmp/x.json', state='unlocked'),
         ['/tmp can be written by other users', 'nothing was locked or released']),
        ('server timeout too long', 'mysql_server', dict(defaults_file=defaults_file, timeout=86401), ['from 1 to 86400']),
        ('server timeout list', 'mysql_server', dict(defaults_file=defaults_file, timeout=[1]), ['timeout']),
        ('server service space', 'mysql_server', dict(service='a b'), ['service must be a unit name']),
        ('server service slash', 'mysql_server', dict(service='../x'), ['service must be a unit name']),
        ('server service newline', 'mysql_server', dict(service='a\nb'), ['service must be a unit name']),
        ('server no option file', 'mysql_server', dict(defaults_file='/nonexistent/my.cnf'),
         ['/nonexistent/my.cnf does not exist']),
        ('checksum port 0', 'mysql_checksum', dict(other_host=ADDRESS, other_port=0), ['other_port must be a port']),
        ('checksum timeout too long', 'mysql_checksum', dict(other_host=ADDRESS, timeout=86401), ['from 1 to 86400']),
        ('connect timeout negative', 'mysql_query', dict(query=['SELECT 1'], connect_timeout=-1), ['connect_timeout must be']),
        ('read timeout 0', 'mysql_query', dict(query=['SELECT 1'], read_timeout=0), ['read_timeout must be']),
        ('cnf name space', 'mysql_cnf', dict(path=cnf_path, options={'x y': 1}), ["'x y'", 'cannot be written safely']),
        ('cnf name equals', 'mysql_cnf', dict(path=cnf_path, options={'a=b': 1}), ["'a=b'"]),
        ('cnf name include', 'mysql_cnf', dict(path=cnf_path, options={'!include': '/etc/shadow'}), ["'!include'"]),
        ('cnf name comment', 'mysql_cnf', dict(path=cnf_path, options={'#x': 1}), ["'#x'"]),
        ('cnf name too long', 'mysql_cnf', dict(path=cnf_path, options={'x' * 129: 1}), ['at most 128']),
        ('cnf section empty', 'mysql_cnf', dict(path=cnf_path, section='', options={'x': 1}), ['non-empty string']),
        ('cnf section comment', 'mysql_cnf', dict(path=cnf_path, section='a#b', options={'x': 1}), ["must not contain '#'"]),
        ('cnf section semicolon', 'mysql_cnf', dict(path=cnf_path, section='a;b', options={'x': 1}), ["must not contain ';'"]),
        ('cnf no options', 'mysql_cnf', dict(path=cnf_path, options={}), ['non-empty dict']),
        ('cnf options not a dict', 'mysql_cnf', dict(path=cnf_path, options='x'), ['options']),
        ('cnf absent bad name', 'mysql_cnf', dict(path=cnf_path, options={'--x': None}, state='absent'), ["'--x'"]),
        ('cnf a directory', 'mysql_cnf', dict(path=os.path.dirname(cnf_path), options={'x': 1}), ['not a regular file']),
        ('account NUL user', 'mysql_replication_user', dict(user='a\x00b', password='pw'), ['NUL']),
        ('account NUL password', 'mysql_replication_user', dict(user='hardrepl', password='a\x00b'), ['NUL']),
        ('account long host', 'mysql_replication_user', dict(user='hardrepl', host='h' * 256, password='pw'), ['at most 255']),
        ('query NUL database', 'mysql_query', dict(query=['SELECT 1'], database='a\x00b'), ['invalid SQL identifier']),
        # replication settings: a server pointed at itself, values out of range or that cannot be written
        ('change master to itself', 'mysql_change_master', dict(master_host=ADDRESS, master_port=23306, **repl),
         ['cannot replicate from %s:23306' % ADDRESS, 'point it at another server', 'Nothing was changed', sock]),
        ('change master port 0', 'mysql_change_master', dict(master_host=ELSEWHERE, master_port=0, **repl), ['master_port']),
        ('change master port too high', 'mysql_change_master', dict(master_host=ELSEWHERE, master_port=70000, **repl),
         ['master_port']),
        ('change master host newline', 'mysql_change_master', dict(master_host='h\nMASTER_USER=x', **repl), ['master_host']),
        ('change master host empty', 'mysql_change_master', dict(master_host='', **repl), ['master_host']),
        ('change master retry 0', 'mysql_change_master', dict(master_host=ELSEWHERE, master_connect_retry=0, **repl),
         ['connect_retry']),
        ('change master heartbeat negative', 'mysql_change_master',
         dict(master_host=ELSEWHERE, master_heartbeat_period=-1, **repl), ['heartbeat_period']),
        ('change master delay negative', 'mysql_change_master', dict(master_host=ELSEWHERE, master_delay=-1, **repl),
         ['master_delay']),
        ('change master log pos negative', 'mysql_change_master',
         dict(master_host=ELSEWHERE, master_log_file='binlog.000001', master_log_pos=-4, **repl), ['master_log_pos']),
        ('change master log file newline', 'mysql_change_master',
         dict(master_host=ELSEWHERE, master_log_file='binlog.000001\n', master_log_pos=4, **repl), ['master_log_file']),
        ('change master start gtid garbage', 'mysql_change_master',
         dict(master_host=ELSEWHERE, start_gtid="0-1-2'; DROP DATABASE mysql; --", **repl), ['GTID']),
        ('replica wait timeout 0', 'mysql_replication', dict(state='caught_up', gtid='0-1-1', timeout=0),
         ['timeout must be']),
        ('replica wait gtid garbage', 'mysql_replication', dict(state='caught_up', gtid='soon'), ['GTID']),
        ('replica wait pos negative', 'mysql_replication',
         dict(state='caught_up', master_log_file='binlog.000001', master_log_pos=-1), ['invalid binlog position: -1']),
        ('replica channel newline', 'mysql_slave_pos', dict(channel='a\nb'), ["no master connection 'a\nb'", sock]),
        ('clone copy margin negative', 'mysql_clone_copy', dict(method='cold', datadir='/nonexistent', target_dir='/x',
                                                                space_margin=-1), ['space_margin must be from 0']),
        ('clone copy timeout 0', 'mysql_clone_copy', dict(method='cold', datadir='/nonexistent', target_dir='/x',
                                                          timeout=0), ['timeout must be']),
        ('clone copy no stream', 'mysql_clone_copy', dict(method='cold', datadir='/nonexistent', target_dir='/x',
                                                          streams=0), ['streams must be from 1']),
        ('clone copy bandwidth negative', 'mysql_clone_copy', dict(method='cold', datadir='/nonexistent',
                                                                   target_dir='/x', bandwidth=-1),
         ['bandwidth must be from 0']),
        ('query failing password', 'mysql_query',
         dict(query=["CREATE USER 'hardq'@'%' IDENTIFIED BY 'pa''rt-of-secret' garbage"]),
         ['1064', 'withheld']),
    ]


def test_bad_inputs_fail_clearly_and_change_nothing(hard, tmp_path):
    cnf_path = str(tmp_path / 'replication.cnf')
    with open(cnf_path, 'w') as handle:
        handle.write('[mysqld]\nserver_id = 1\n')
    defaults_file = hard.hosts()['hard2']['replicant_defaults_file']
    table = cases(cnf_path, defaults_file)
    before = snapshot(hard, [cnf_path])
    started = time.time()
    run = run_tasks(hard.inventory, 'hard1', [
        {'name': name, 'replicant.mysql.%s' % module: args, 'ignore_errors': True} for name, module, args, _f in table])
    elapsed = time.time() - started
    after = snapshot(hard, [cnf_path])
    problems = ['a bad input changed %s' % change for change in differences(before, after)]
    for name, module, _args, fragments in table:
        result = run.result(name, 'hard1')
        msg = result.get('msg', '')
        if not result.get('failed'):
            problems.append('%s was accepted: %s' % (name, result))
            continue
        missing = [f for f in fragments if (f % hard.dir if '%s' in f else f) not in msg]
        if missing:
            problems.append('%s: message %r lacks %s' % (name, msg, missing))
        if 'Traceback' in msg or 'MODULE FAILURE' in msg:
            problems.append('%s crashed: %s' % (name, msg))
        if 'rt-of-secret' in msg:
            problems.append('%s leaked a secret: %s' % (name, result))
    assert not problems, '\n'.join(problems)
    assert not_locked(hard)
    print('%d bad inputs in one play: %.1f s' % (len(table), elapsed))


HOSTILE_ACCOUNTS = [
    ("x'#", "p'w\\d#"),
    ('bt`q', 'p\u00e4ssw\u00f6rd\u20ac'),
    ('--x', "--'; DROP USER admin; --"),
    ('n\u00e9w', "quote\"and'back\\slash"),
]


def test_hostile_names_are_literal_also_with_no_backslash_escapes(hard):
    with hard.server('hard1') as s:
        s.sql("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')")
    try:
        tasks = [{'name': 'account %d' % i, 'replicant.mysql.mysql_replication_user': dict(user=u, password=p, host='127.%')}
                 for i, (u, p) in enumerate(HOSTILE_ACCOUNTS)]
        tasks.append({'name': 'query with hostile args', 'replicant.mysql.mysql_query': dict(
            query=['CREATE DATABASE IF NOT EXISTS hardtest',
                   'CREATE TABLE IF NOT EXISTS hardtest.v (v VARCHAR(200))',
                   'INSERT INTO hardtest.v VALUES (%s)', 'SELECT COUNT(*) AS n FROM hardtest.v WHERE v = %s'],
            positional_args=["it's \\ a `test` -- #"])})
        run = run_tasks(hard.inventory, 'hard1', tasks)
        assert not run.failed, run.output
        again = run_tasks(hard.inventory, 'hard1', tasks[:-1])
        assert not again.failed and not again.changed, 'hostile names are not idempotent: %s' % again.changed
        assert run.result('query with hostile args', 'hard1')['query_result'][3] == [{'n': 1}]
        with hard.server('hard1') as s:
            assert 'NO_BACKSLASH_ESCAPES' in s.value('SELECT @@GLOBAL.sql_mode')
            for user, password in HOSTILE_ACCOUNTS:
                rows = s.sql('SELECT Host FROM mysql.user WHERE User = %s', (user,))
                assert rows == [{'Host': '127.%'}], (user, rows)
                for statement in run.result('account 0', 'hard1')['statements']:
                    assert HOSTILE_ACCOUNTS[0][1] not in statement
        for user, password in HOSTILE_ACCOUNTS:  # the password is exactly what was given, non-ASCII included
            with Server(host=ADDRESS, port=23306, user=user, password=password) as replica_login:
                assert replica_login.value('SELECT CURRENT_USER()') == "%s@127.%%" % user
            with pytest.raises(ServerError):
                Server(host=ADDRESS, port=23306, user=user, password=password + 'x').connect()
        # nothing beyond the named accounts was created (the x'# of the issue made a passwordless 'x\')
        with hard.server('hard1') as s:
            assert s.value("SELECT COUNT(*) FROM mysql.user WHERE authentication_string = '' AND User NOT IN "
                           "('mariadb.sys', 'root', 'mysql', 'PUBLIC', '')") == 0
    finally:
        with hard.server('hard1') as s:
            s.sql(SESSION_SQL_MODE.replace('SESSION', 'GLOBAL'))
            s.sql('SET SESSION sql_log_bin = 0')
            for user, _password in HOSTILE_ACCOUNTS:
                s.sql("DROP USER IF EXISTS %s@'127.%%'" % s.quote(user))
            s.sql('DROP DATABASE IF EXISTS hardtest')
            s.sql('SET SESSION sql_log_bin = 1')


def test_option_values_with_comment_characters_are_read_whole_by_the_server(hard, tmp_path):
    path = str(tmp_path / 'client.cnf')
    run = run_tasks(hard.inventory, 'hard1', [{'name': 'write', 'replicant.mysql.mysql_cnf': dict(
        path=path, section='client', options={'password': 'ab#cd "q" \\ e', 'user': 'admin'}, mode='0600')}],
        diff=True)
    assert not run.failed, run.output
    assert 'ab#cd' not in run.output, 'the password appeared in --diff'
    assert os.stat(path).st_mode & 0o777 == 0o600
    printed = subprocess.run(['my_print_defaults', '--defaults-file=%s' % path, 'client'], stdout=subprocess.PIPE,
                             universal_newlines=True, check=True).stdout.splitlines()
    assert '--password=ab#cd "q" \\ e' in printed and '--user=admin' in printed, printed
    assert [p for p in os.listdir(str(tmp_path)) if p != 'client.cnf'] == [], 'a temporary file was left behind'


def test_check_mode_changes_nothing(hard, tmp_path):
    cnf_path = str(tmp_path / 'check.cnf')
    with open(cnf_path, 'w') as handle:
        handle.write('[mysqld]\nserver_id = 1\n')
    h = hard.hosts()
    outfile = os.path.join(os.path.dirname(h['hard2']['replicant_defaults_file']), 'tmp', 'check-outfile.txt')
    before = snapshot(hard, [cnf_path])
    run = run_tasks(hard.inventory, 'hard2', [
        {'name': 'checksum', 'replicant.mysql.mysql_checksum': dict(
            other_unix_socket=h['hard1']['replicant_login_unix_socket'], other_is_master=True)},
        {'name': 'lock', 'replicant.mysql.mysql_flush_lock': dict(state='locked')},
        {'name': 'lock around a command', 'replicant.mysql.mysql_flush_lock': dict(command=['true'])},
        {'name': 'account', 'replicant.mysql.mysql_replication_user': dict(user='hardcheck', password='pw')},
        {'name': 'cnf', 'replicant.mysql.mysql_cnf': dict(path=cnf_path, options={'read_only': True}, apply=True)},
        {'name': 'stop', 'replicant.mysql.mysql_server': dict(
            defaults_file=h['hard2']['replicant_defaults_file'], state='stopped')},
        {'name': 'repoint', 'replicant.mysql.mysql_change_master': dict(
            master_host=ELSEWHERE, master_port=23306, master_user='hardrepl', master_password='pw')},
        {'name': 'stop replication', 'replicant.mysql.mysql_replication': dict(state='stopped')},
        {'name': 'reset replication', 'replicant.mysql.mysql_replication': dict(state='reset_all')},
        {'name': 'reset binlog', 'replicant.mysql.mysql_replication': dict(state='binlog_reset')},
        {'name': 'restart', 'replicant.mysql.mysql_server': dict(
            defaults_file=h['hard2']['replicant_defaults_file'], state='restarted')},
        {'name': 'copy', 'replicant.mysql.mysql_clone_copy': dict(
            method='cold', datadir=os.path.dirname(outfile), target_dir=str(tmp_path / 'copy'))},
        {'name': 'outfile', 'replicant.mysql.mysql_query': dict(
            query=["SELECT 1 INTO OUTFILE '%s'" % outfile, 'SELECT GET_LOCK("hard", 1)', 'SELECT 2 AS two'])},
    ], check=True)
    assert not run.failed, run.output
    assert snapshot(hard, [cnf_path]) == before
    checksum = run.result('checksum', 'hard2')
    assert checksum['match'] is None and checksum['would_compare'] is not None and 'would read-lock' in checksum['msg']
    for name in ('lock', 'account', 'repoint', 'stop replication', 'reset replication', 'restart', 'copy'):
        assert run.result(name, 'hard2')['changed'], (name, run.result(name, 'hard2'))
    assert not os.path.exists(str(tmp_path / 'copy'))
    query = run.result('outfile', 'hard2')
    assert query['changed'] and query['executed'] == ['SELECT 2 AS two'] and not os.path.exists(outfile), query
    assert not_locked(hard)


def test_stale_pid_file_is_reported_and_nothing_is_killed(hard, tmp_path):
    bystander = subprocess.Popen(['sleep', '120'])
    try:
        datadir = tmp_path / 'data'
        (datadir / 'mysql').mkdir(parents=True)
        defaults = tmp_path / 'my.cnf'
        defaults.write_text('[mysqld]\ndatadir = %s\npid-file = %s/x.pid\nbind-address = %s\nport = 23399\n'
                            % (datadir, tmp_path, ADDRESS))
        (tmp_path / 'x.pid').write_text('%d\n' % bystander.pid)
        run = run_tasks(hard.inventory, 'hard1', [{'name': 'stop', 'replicant.mysql.mysql_server': dict(
            defaults_file=str(defaults), state='stopped')}])
        result = run.result('stop', 'hard1')
        assert not run.failed and not result['changed'] and result['was_running'] is False, result
        assert any('names pid %d, which is not this server' % bystander.pid in w for w in result.get('warnings', []))
        assert bystander.poll() is None, 'mysql_server killed the process a stale pid file named'
    finally:
        bystander.kill()
        bystander.wait()


def _state_file(lab, name='hard1'):
    sock = lab.hosts()[name]['replicant_login_unix_socket']
    return lock_holder.state_file_for('%s|None|3306' % sock)


def test_lock_follows_its_play_and_is_released_when_the_play_dies(hard):
    # While the play runs, the holder keeps the lock past its lease; a later task finds it still held.
    run = run_tasks(hard.inventory, 'hard1', [
        {'name': 'lock', 'replicant.mysql.mysql_flush_lock': dict(state='locked', timeout=120, lease=2)},
        {'name': 'work', 'ansible.builtin.command': 'sleep 5', 'changed_when': False},
        {'name': 'still locked', 'replicant.mysql.mysql_flush_lock': dict(state='locked', timeout=120, lease=2)},
        {'name': 'unlock', 'replicant.mysql.mysql_flush_lock': dict(state='unlocked')},
    ])
    assert not run.failed, run.output
    lock = run.result('lock', 'hard1')
    assert lock['changed'] and lock['bound_to_play'], lock
    still = run.result('still locked', 'hard1')
    assert not still['changed'] and still['renewed'] and still['holder_pid'] == lock['holder_pid'], still
    assert run.result('unlock', 'hard1')['changed']
    assert not_locked(hard)

    # A play killed while it holds the lock: the lock goes within its lease, not at its timeout.
    play = [dict(name='interrupted', hosts='hard1', gather_facts=False, tasks=[
        {'name': 'lock', 'replicant.mysql.mysql_flush_lock': dict(
            state='locked', timeout=3600, lease=3, login_unix_socket='{{ replicant_login_unix_socket }}',
            login_user='{{ replicant_login_user }}', login_password='{{ replicant_login_password }}')},
        {'name': 'long copy', 'ansible.builtin.command': 'sleep 300', 'changed_when': False}])]
    import yaml
    fd, path = tempfile.mkstemp(prefix='replicant-hard-play-', suffix='.yml')
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump(play, handle)
    proc = subprocess.Popen([os.path.join(BIN, 'ansible-playbook'), '-i', hard.inventory, path], cwd=REPO,
                            env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        state_file = _state_file(hard)
        deadline = time.time() + 60
        while lock_holder.read_state(state_file) is None and time.time() < deadline:
            time.sleep(0.2)
        state = lock_holder.read_state(state_file)
        assert state and state['play_pid'] == proc.pid, state
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.time()
        for worker in plays_processes(path):  # the play's workers die with it, as an interrupted play's would
            os.killpg(worker, signal.SIGKILL)
        while lock_holder.read_state(state_file) is not None and time.time() < killed + 15:
            time.sleep(0.2)
        released_after = time.time() - killed
        assert lock_holder.read_state(state_file) is None, 'the lock outlived its killed play'
        assert released_after < 6, released_after
        assert not_locked(hard)
        print('lock released %.1f s after its play was killed (lease 3 s)' % released_after)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # ansible-playbook's workers run in sessions of their own: end the ones of this play too
        for worker in plays_processes(path):
            try:
                os.killpg(worker, signal.SIGKILL)
            except OSError:
                pass
        os.unlink(path)
        lock_holder.release(_state_file(hard))


def plays_processes(play_path):
    """Pids of the processes whose command line names ``play_path`` (the play this test started)."""
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                    if play_path.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_two_plays_locking_one_server_at_once_share_one_holder(hard):
    import threading
    results = []

    def lock():
        run = run_tasks(hard.inventory, 'hard2', [
            {'name': 'lock', 'replicant.mysql.mysql_flush_lock': dict(state='locked', timeout=30, bind_to_play=False)}])
        results.append(run.result('lock', 'hard2'))
    threads = [threading.Thread(target=lock) for _unused in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(results) == 2 and not [r for r in results if r.get('failed')], results
        assert results[0]['holder_pid'] == results[1]['holder_pid'], 'two holders for one server'
        assert sorted(r['changed'] for r in results) == [False, True]
    finally:
        run = run_tasks(hard.inventory, 'hard2', [
            {'name': 'unlock', 'replicant.mysql.mysql_flush_lock': dict(state='unlocked')}])
    assert run.result('unlock', 'hard2')['changed']
    assert lock_holder.read_state(_state_file(hard, 'hard2')) is None


LAB_CASES = [
    (dict(lab_servers=100), 'lab_servers must be at least 1 and at most 32 (got 100)'),
    (dict(lab_servers=0), 'lab_servers must be at least 1'),
    (dict(lab_servers='many'), "and we were unable to convert to int"),  # the role's argument spec
    (dict(lab_servers=20, lab_spares=20), 'lab_servers + lab_spares at most 32'),
    (dict(lab_base_address='127.0.30.250', lab_servers=10), 'last octet stays within 1..254'),
    (dict(lab_base_address='10.0.0.1'), 'must be a loopback address'),
    (dict(lab_base_address='127.0.30.x; rm -rf /'), 'must be a loopback address'),
    (dict(lab_base_port=3306), 'never 3306'),
    (dict(lab_base_port=3300, lab_port_step=3), 'never 3306'),
    (dict(lab_base_port=65535, lab_port_step=1), 'from 1024 to 65535'),
    (dict(lab_timeout=0), 'lab_timeout must be from 1 to 3600'),
    (dict(lab_name_prefix='../x'), 'lab_name_prefix must be a letter'),
    (dict(lab_admin_password='a\nb'), 'must not be empty nor hold a line break'),
    (dict(lab_repl_password=''), 'must not be empty nor hold a line break'),
    (dict(lab_app_user="app'"), 'must be 1 to 32 letters'),
    (dict(lab_extra_config={'init_file = /tmp/x\nlog': 1}), 'lab_extra_config names'),
    (dict(lab_extra_config={'general_log': 'ON\ninit_file = /tmp/x'}), 'lab_extra_config names'),
]


@pytest.mark.parametrize('bad, message', LAB_CASES, ids=[str(sorted(b))[:40] for b, _m in LAB_CASES])
def test_lab_bad_parameters_fail_first_and_create_nothing(bad, message):
    from conftest import run_playbook
    parent = tempfile.mkdtemp(prefix='replicant-hard-labparam-', dir='/var/tmp')
    os.chmod(parent, 0o755)
    directory = os.path.join(parent, 'lab')
    try:
        run = run_playbook('playbooks/lab.yml', extra_vars=lab_vars(directory, '127.0.30.81', **dict(
            dict(lab_name_prefix='hard'), **bad)))
        assert run.rc != 0
        assert message in run.output, run.output
        assert 'Bad lab parameters on localhost, nothing was changed' in run.output or 'Validation of arguments failed' in run.output
        assert not os.path.exists(directory)
    finally:
        shutil.rmtree(parent)


def test_lab_refuses_a_directory_that_is_not_its_own_and_leaves_it(tmp_path):
    from conftest import run_playbook
    os.chmod(str(tmp_path), 0o755)
    precious = tmp_path / 'precious.txt'
    precious.write_text('not a lab\n')
    for state in ('present', 'absent'):
        run = run_playbook('playbooks/lab.yml', extra_vars=lab_vars(str(tmp_path), '127.0.30.81', lab_state=state))
        assert run.rc != 0 and 'lab_dir %s cannot be used' % tmp_path in run.output, run.output
        assert 'has no .replicant-lab marker' in run.output and 'Nothing was changed' in run.output
    assert sorted(os.listdir(str(tmp_path))) == ['precious.txt'] and precious.read_text() == 'not a lab\n'
