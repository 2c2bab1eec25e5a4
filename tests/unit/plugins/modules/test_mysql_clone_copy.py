"""plugins/modules/mysql_clone_copy.py, run in-process: the commands it builds, and a real cold copy with tar."""
import glob
import os
import shlex

from ansible_collections.replicant.mysql.plugins.module_utils import clone
from ansible_collections.replicant.mysql.plugins.modules import mysql_clone_copy

from module_harness import FakeServer, run_module


def datadir(tmp_path):
    source = tmp_path / 'source'
    (source / 'shop').mkdir(parents=True)
    (source / 'ibdata1').write_bytes(b'\0' * 65536)
    (source / 'shop' / 'orders.ibd').write_bytes(os.urandom(4096))
    return source


def test_cold_copy_streams_a_datadir_with_tar(tmp_path):
    source, target = datadir(tmp_path), tmp_path / 'target'
    target.mkdir()
    result = run_module(mysql_clone_copy, dict(method='cold', datadir=str(source), target_dir=str(target), owner=''))
    assert result['changed'] is True, result
    assert result['commands'][0] == 'tar -C %s -cf - .' % source
    assert result['commands'][1].startswith('sh -c ') and result['commands'][1].endswith('tar -C %s -xf -' % target)
    assert (target / 'shop' / 'orders.ibd').read_bytes() == (source / 'shop' / 'orders.ibd').read_bytes()
    assert result['bytes'] > 65536 and result['gtid'] is None


def test_the_receiver_refuses_a_directory_with_files_before_it_writes(tmp_path):
    # what a wrong transport shows it: another host's (e.g. the source's own) datadir at the same path
    source, target = datadir(tmp_path), tmp_path / 'target'
    target.mkdir()
    (target / 'ibdata1').write_text('a live server of another host')
    result = run_module(mysql_clone_copy, dict(method='cold', datadir=str(source), target_dir=str(target), owner=''))
    assert result.get('failed') and 'is missing or not empty on' in result['msg'], result
    assert sorted(os.listdir(str(target))) == ['ibdata1'] and (target / 'ibdata1').read_text() == 'a live server of another host'


def test_check_mode_only_reports_the_commands(tmp_path):
    source, target = datadir(tmp_path), tmp_path / 'target'
    result = run_module(mysql_clone_copy, dict(method='snapshot', datadir=str(source), target_dir=str(target)),
                        check_mode=True)
    assert result['changed'] is True and len(result['commands']) == 2 and not target.exists()


def test_a_transport_gets_the_receiver_quoted_for_the_remote_shell(tmp_path):
    result = run_module(mysql_clone_copy, dict(method='cold', datadir='/data', target_dir='/var/lib/my sql',
                                               transport=['ssh', 'root@db2']), check_mode=True)
    # ssh hands its last word to the remote shell, so the target directory is quoted in it
    words = shlex.split(result['commands'][1])
    assert words[:2] == ['ssh', 'root@db2'] and len(words) == 3
    remote = shlex.split(words[2])
    assert remote[:2] == ['sh', '-c'] and remote[-5:] == ['tar', '-C', '/var/lib/my sql', '-xf', '-']
    assert remote[4] == '/var/lib/my sql' and remote[5] == 'mysql'


def test_a_target_directory_that_could_wipe_the_host_is_refused():
    for bad in ('/', 'relative/dir', '/var/..'):
        result = run_module(mysql_clone_copy, dict(method='cold', datadir='/data', target_dir=bad), check_mode=True)
        assert result.get('failed') and 'absolute path other than /' in result['msg'], (bad, result)


def reachable_with_tools(monkeypatch):
    """Check mode asks the source and looks for the tools: a source that answers, tools that are there."""
    monkeypatch.setattr(mysql_clone_copy, 'connect', lambda module: FakeServer())
    monkeypatch.setattr(mysql_clone_copy.clone, 'missing_tools', lambda *args, **kwargs: [])


def test_physical_copy_uses_a_private_option_file_and_never_shows_the_password(tmp_path, monkeypatch):
    reachable_with_tools(monkeypatch)
    before = set(glob.glob('/tmp/replicant-*.cnf'))
    result = run_module(mysql_clone_copy, dict(method='physical', source_defaults_file='/etc/mysql/lab1.cnf',
                                               target_dir='/srv/new', login_user='backup',
                                               login_password='backup-secret-pw', login_unix_socket='/run/lab1.sock',
                                               check_space=False),
                        check_mode=True)
    producer, receiver = result['commands']
    assert producer.startswith('mariadb-backup --defaults-file=/tmp/replicant-') and '--stream=xbstream' in producer
    words = shlex.split(receiver)
    assert words[-4:] == ['mbstream', '-x', '-C', '/srv/new'] and words[6] == 'mariadb-backup'  # unpacks, then prepares
    assert 'backup-secret-pw' not in str(result)
    assert set(glob.glob('/tmp/replicant-*.cnf')) == before  # the option file is gone again


def test_mysql_flavor_uses_xtrabackup(tmp_path, monkeypatch):
    reachable_with_tools(monkeypatch)
    result = run_module(mysql_clone_copy, dict(method='physical', flavor='mysql', source_defaults_file='/etc/my.cnf',
                                               target_dir='/srv/new', check_space=False), check_mode=True)
    assert result['commands'][0].startswith('xtrabackup ') and 'xbstream -x' in result['commands'][1]
    assert shlex.split(result['commands'][1])[6] == 'xtrabackup'


def test_logical_copy_of_no_schema_still_copies_the_accounts(monkeypatch):
    server, calls = FakeServer(rows={'SELECT': []}), []

    def logical_copy(source, flavor, options_file, schemas, receive, streams, **how):
        calls.append(schemas)
        return dict(bytes=7, seconds=0.1, mb_per_s=0, gtid='0-1-5', said=b'', system_bytes=7,
                    producers=[clone.system_producer(flavor, options_file, schemas)])
    monkeypatch.setattr(clone, 'logical_copy', logical_copy)
    result = run_module(mysql_clone_copy, dict(method='logical', target_options_file='/tmp/t.cnf'), server=server)
    assert calls == [[]] and result['changed'] is True and result['system_bytes'] == 7 and result['gtid'] == '0-1-5'
    assert '--system=users' in result['commands'][0] and result['streams'] == 1
    assert server.closed


def test_each_method_names_what_it_needs():
    for args, needed in ((dict(method='physical'), 'source_defaults_file'), (dict(method='cold'), 'datadir'),
                         (dict(method='logical'), 'target_options_file')):
        result = run_module(mysql_clone_copy, args)
        assert result['failed'] and needed in result['msg'], (args, result)


def test_check_mode_fails_when_a_tool_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(mysql_clone_copy, 'connect', lambda module: FakeServer())
    result = run_module(mysql_clone_copy, dict(method='physical', flavor='mysql', source_defaults_file='/etc/my.cnf',
                                               target_dir='/srv/new', check_space=False), check_mode=True)
    assert result.get('failed') and 'xtrabackup is not installed on the source host' in result['msg'], result
    assert 'xbstream is not installed on the target host' in result['msg'] and 'Nothing was changed' in result['msg']


def test_check_mode_measures_the_copy_and_the_free_space_of_the_target(tmp_path):
    source, target = datadir(tmp_path), tmp_path / 'target'
    (target / 'old').mkdir(parents=True)
    (target / 'old' / 'x.ibd').write_bytes(b'\1' * 200000)
    result = run_module(mysql_clone_copy, dict(method='cold', datadir=str(source), target_dir=str(target / 'data')),
                        check_mode=True)
    space = result['space']
    assert not result.get('failed') and space['problem'] is None, result
    assert space['data'] == 65536 + 4096 and space['needed'] == int(69632 * 1.1) and space['free'] > 0
    assert space['held'] == 0  # target/data does not exist yet: its nearest directory's filesystem is measured
    held = run_module(mysql_clone_copy, dict(method='cold', datadir=str(source), target_dir=str(target)),
                      check_mode=True)['space']['held']
    assert held >= 200000  # what an emptied datadir frees counts as free
    # the same measure through a transport (the target host's shell)
    through = run_module(mysql_clone_copy, dict(method='cold', datadir=str(source), target_dir=str(target),
                                                transport=['sh', '-c']), check_mode=True)
    assert through['space']['held'] == held and through['space']['mount'] == space['mount'], through


def test_a_target_without_room_is_refused_with_the_numbers(tmp_path, monkeypatch):
    source, target = datadir(tmp_path), tmp_path / 'target'
    monkeypatch.setattr(mysql_clone_copy.clone, 'target_space', lambda *a, **k: dict(free=50000, held=25000, mount='/small'))
    result = run_module(mysql_clone_copy, dict(method='snapshot', datadir=str(source), target_dir=str(target)),
                        check_mode=True)
    assert result['failed'], result
    for part in ('needs 76595 bytes', '/small has 50000 bytes free', '+ 25000 bytes its datadir holds',
                 'clone_slave_skip_space_check=true', 'Nothing was changed'):
        assert part in result['msg'], (part, result['msg'])
    assert run_module(mysql_clone_copy, dict(method='snapshot', datadir=str(source), target_dir=str(target),
                                             check_space=False), check_mode=True)['changed']
    assert not run_module(mysql_clone_copy, dict(method='snapshot', datadir=str(source), target_dir=str(target),
                                                 space_margin=0), check_mode=True).get('failed')


def test_a_logical_copy_needs_the_size_of_its_schemas_and_a_physical_one_skips_the_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(mysql_clone_copy.clone, 'missing_tools', lambda *args, **kwargs: [])
    monkeypatch.setattr(mysql_clone_copy.clone, 'target_space', lambda *a, **k: dict(free=10 ** 6, held=0, mount='/'))
    server = FakeServer(rows={'SELECT schema_name': [{'name': 'shop'}, {'name': 'crm'}],
                              'SELECT table_schema': [{'name': 'shop', 'bytes': 700000}, {'name': 'crm', 'bytes': 300000},
                                                      {'name': 'mysql', 'bytes': 5 * 10 ** 6}]})
    result = run_module(mysql_clone_copy, dict(method='logical', target_options_file='/x.cnf', target_dir='/srv'),
                        check_mode=True, server=server)
    assert result['failed'] and 'needs 1100000 bytes' in result['msg'], result
    source = datadir(tmp_path)
    for name in ('ib_logfile0', 'binlog.000001', 'binlog.index', 'relay-bin.000002'):
        (source / name).write_bytes(b'\0' * 10 ** 6)
    monkeypatch.setattr(mysql_clone_copy.clone, 'target_space', lambda *a, **k: dict(free=10 ** 8, held=0, mount='/'))
    server = FakeServer(values={'@@GLOBAL.datadir': str(source)})
    result = run_module(mysql_clone_copy, dict(method='physical', source_defaults_file='/etc/my.cnf', target_dir='/srv'),
                        check_mode=True, server=server)
    assert result['space']['data'] == 65536 + 4096 + 10 ** 6 and result['space']['problem'] is None, result  # the redo log counts


def test_space_margin_out_of_range_is_refused_first():
    result = run_module(mysql_clone_copy, dict(method='cold', datadir='/data', target_dir='/srv', space_margin=-1),
                        check_mode=True)
    assert result['failed'] and 'space_margin must be from 0 to 1000' in result['msg'], result


def test_streams_and_bandwidth_out_of_range_are_refused_first():
    for bad, said in ((dict(streams=0), 'streams must be from 1 to 256'), (dict(bandwidth=-1.5), 'bandwidth must be from 0')):
        result = run_module(mysql_clone_copy, dict(dict(method='logical', target_options_file='/x.cnf', schemas=['a']),
                                                   **bad))
        assert result['failed'] and said in result['msg'] and 'nothing was done' in result['msg'], result
