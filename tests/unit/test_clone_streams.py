# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/clone.py: sharing tables among dump streams, several pipes at once, compression, bandwidth cap."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import shutil
import time

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import clone
from ansible_collections.replicant.mysql.plugins.module_utils.server import Flavor


def test_tables_are_shared_among_streams_by_size_largest_first():
    tables = [dict(db='shop', name=n, bytes=b) for n, b in (('orders', 900), ('items', 500), ('customers', 400),
                                                            ('notes', 50), ('empty', None))]
    groups = clone.dump_groups(tables, 2)
    assert groups == [{('shop', 'orders'), ('shop', 'notes')}, {('shop', 'items'), ('shop', 'customers'), ('shop', 'empty')}]
    assert clone.dump_groups(tables[:1], 4) == [{('shop', 'orders')}]  # no empty streams


def test_each_dump_stream_leaves_out_the_other_streams_tables_and_none_has_routines_or_events():
    groups = [{('shop', 'orders')}, {('shop', 'items'), ('crm', 'people')}]
    first, second = clone.parallel_producers('mariadb', '/run/x.cnf', ['crm', 'shop'], groups)
    assert '--ignore-table=crm.people' in first and '--ignore-table=shop.items' in first
    assert '--ignore-table=shop.orders' in second
    for command in (first, second):
        assert '--single-transaction' in command and not any(w.startswith('--master-data') for w in command)
        assert '--triggers' in command and '--skip-routines' in command and '--skip-events' in command
        assert command[-3:] == ['--', 'crm', 'shop']


def test_the_system_dump_has_the_accounts_routines_and_events_and_no_rows():
    command = clone.system_producer('mariadb', '/run/x.cnf', ['crm', 'shop'])
    for word in ('--system=users', '--insert-ignore', '--routines', '--events', '--no-data', '--no-create-info',
                 '--skip-triggers', '--skip-lock-tables'):  # under the copy's own read lock: no LOCK TABLES
        assert word in command
    assert command[-3:] == ['--', 'crm', 'shop'] and command[1] == '--defaults-file=/run/x.cnf'
    assert '--databases' not in clone.system_producer('mariadb', '/run/x.cnf', [])  # the accounts alone
    assert '--system=users' not in clone.system_producer('mysql', '/run/x.cnf', ['shop'])  # mysqldump has no such dump


EVENT = ("/*!50106 CREATE*/ /*!50117 DEFINER=`admin`@`localhost`*/ /*!50106 EVENT `tick` ON SCHEDULE EVERY 1 HOUR "
         "STARTS '2026-12-07 05:39:26' ON COMPLETION NOT PRESERVE %s DO INSERT INTO t VALUES ('PRESERVE ENABLE ')\n")


def test_the_system_load_drops_the_other_accounts_first_and_sets_the_position_last():
    dump = ('CREATE USER IF NOT EXISTS `bob`@`%`;\nGRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION;\n'
            + EVENT % 'ENABLE' + EVENT % 'DISABLE').encode()
    load = clone.system_load(Flavor('mariadb', '10.11.19'), dump, '0-1-42').decode()
    drop, account, position = load.index('DROP USER'), load.index('CREATE USER IF'), load.index('gtid_slave_pos')
    assert drop < account < position
    assert load.startswith('DELIMITER ;;\nBEGIN NOT ATOMIC') and "<> CURRENT_USER()" in load  # the loading account stays
    assert 'GRANT PROXY' not in load and 'mysql.proxies_priv' in load  # root@localhost stays: no one else can grant it
    assert 'mysql.global_priv' in load  # not the view mysql.user, whose definer mariadb.sys is dropped too
    # an enabled event is disabled on the replica, as replicating its CREATE EVENT does; its body and others are kept
    assert EVENT % 'DISABLE ON SLAVE' in load and EVENT % 'DISABLE' in load and EVENT % 'ENABLE' not in load
    assert load.endswith("SET GLOBAL gtid_slave_pos = '0-1-42';\n")
    mysql = clone.system_load(Flavor('mysql', '8.0.36'), b'', 'u:1-5').decode()
    assert 'DROP USER' not in mysql and "gtid_purged = 'u:1-5'" in mysql


class Definitions:
    """A server's answers to what definitions() asks."""

    flavor = Flavor('mariadb', '10.11.19')

    def __init__(self, hash_of_bob='*AA', event='ENABLE'):
        self.hash_of_bob, self.event = hash_of_bob, event

    def run(self, key, **args):
        if key == 'accounts':
            return [dict(user='bob', host='%', is_role='N'), dict(user='r1', host='', is_role='Y')]
        if key == 'show_create_user':
            return [{'CREATE USER for bob@%': "CREATE USER `bob`@`%` IDENTIFIED BY PASSWORD '" + self.hash_of_bob + "'"}]
        if key == 'show_grants':
            return [{'Grants for bob@%': 'GRANT INSERT ON `shop`.`t` TO `bob`@`%`'}, {'Grants for bob@%': 'GRANT `r1` TO `bob`@`%`'}]
        if key == 'show_role_grants':
            return [{'Grants for r1': 'GRANT SELECT ON `shop`.* TO `r1`'}]
        if key == 'stored_objects':
            return [dict(kind='EVENT', db='shop', name='tick'), dict(kind='TRIGGER', db='shop', name='trg')]
        if key == 'show_create_object' and args['kind'] == 'EVENT':
            return [{'Event': 'tick', 'Create Event': 'CREATE EVENT `tick` ON SCHEDULE EVERY 1 HOUR %s DO SELECT 1' % self.event}]
        return [{'Trigger': 'trg', 'SQL Original Statement': 'CREATE TRIGGER trg ...', 'Created': str(id(self))}]


def test_definitions_name_each_account_role_and_object_and_ignore_what_a_copy_cannot_keep():
    mine = clone.definitions(Definitions())
    assert sorted(mine) == ["account 'bob'@'%'", 'event `shop`.`tick`', "role 'r1'", 'trigger `shop`.`trg`']
    assert mine["account 'bob'@'%'"].splitlines()[1:] == ['GRANT INSERT ON `shop`.`t` TO `bob`@`%`', 'GRANT `r1` TO `bob`@`%`']
    # when a trigger was created, and an event disabled on a replica (as replication does), are no differences
    assert clone.differing(mine, clone.definitions(Definitions(event='DISABLE ON SLAVE'))) == []
    assert clone.differing(mine, clone.definitions(Definitions(hash_of_bob='*BB'))) == ["account 'bob'@'%'"]
    assert clone.differing({'a': 1}, {'b': 1}) == ['a', 'b']
    assert "account 'bob'@'%'" not in clone.definitions(Definitions(), skip_accounts=['bob@%'])


def test_several_pipes_at_once_add_up_and_each_gets_its_epilogue(tmp_path):
    outs = [tmp_path / 'a', tmp_path / 'b']
    pipes = [(['printf', 'x' * 10], ['sh', '-c', 'cat > %s' % outs[0]], b'-end'),
             (['printf', 'y' * 5], ['sh', '-c', 'cat > %s' % outs[1]], b'')]
    seen = []
    result = clone.stream_many(pipes, progress_file=str(tmp_path / 'progress'), started=seen.append)
    assert result['bytes'] == 15 and len(seen[0]) == 2
    assert outs[0].read_bytes() == b'x' * 10 + b'-end' and outs[1].read_bytes() == b'y' * 5
    assert (tmp_path / 'progress').read_text().splitlines()[-1].startswith('done: 15.0 B copied')


def test_a_failing_pipe_fails_the_copy_and_names_it(tmp_path):
    pipes = [(['printf', 'x'], ['sh', '-c', 'cat > /dev/null'], b''), (['printf', 'y'], ['sh', '-c', 'exit 3'], b'')]
    with pytest.raises(clone.CopyError, match='sh exited 3'):
        clone.stream_many(pipes)


@pytest.mark.skipif(not shutil.which('zstd'), reason='zstd is not installed')
def test_a_compressed_stream_arrives_as_it_left(tmp_path):
    data = tmp_path / 'data'
    data.write_bytes(b'0123456789' * 100000)
    out = tmp_path / 'out'
    receive = clone.compressed(['sh', '-c', 'cat > %s' % out], 'zstd')
    result = clone.stream(['cat', str(data)], receive, compress='zstd')
    assert out.read_bytes() == data.read_bytes()
    assert result['bytes'] < 100000  # what crossed between the hosts: compressed


def test_the_bandwidth_cap_holds_the_rate():
    started = time.time()
    result = clone.stream(['head', '-c', '3000000', '/dev/zero'], ['sh', '-c', 'cat > /dev/null'], chunk=1 << 18, bandwidth=2)
    assert result['bytes'] == 3000000 and time.time() - started >= 1.2  # 3 MB at 2 MB/s: about 1.5 s


def test_the_action_takes_the_copys_result_only_once_the_job_has_finished():
    from ansible_collections.replicant.mysql.plugins.action.mysql_clone_copy import _job_result
    assert _job_result('') is None and _job_result('{"started": true, "finished": false}') is None
    assert _job_result('{"chang') is None  # being written
    assert _job_result('{"changed": true, "bytes": 5, "_ansible_no_log": false}') == {'changed': True, 'bytes': 5}


def test_a_receiver_gone_at_once_fails_the_copy_instead_of_leaving_its_producer_blocked(tmp_path):
    # the producer writes more than a pipe holds: if nobody stopped it, waiting for it would never end
    pipes = [(['head', '-c', '5000000', '/dev/zero'], ['sh', '-c', 'exit 1'], b'') for _pipe in range(2)]
    started = time.time()
    with pytest.raises(clone.CopyError):
        clone.stream_many(pipes, started=lambda running: time.sleep(0.5))
    assert time.time() - started < 10


def _fake_client(tmp_path, answer='durability 1 1'):
    """A stand-in for the target's client: logs every input, answers the durability read."""
    log = tmp_path / 'sql.log'
    return ['sh', '-c', 'cat >> "$0"; echo; echo "%s"' % answer, str(log)], log


def test_relaxed_puts_the_durability_back_after_the_load_and_after_a_failed_one(tmp_path):
    client, log = _fake_client(tmp_path)
    assert clone.relaxed(client, lambda: dict(bytes=5))['durability'] == dict(innodb_flush_log_at_trx_commit=1,
                                                                              sync_binlog=1)
    statements = log.read_text().splitlines()
    assert statements[1:] == ['SET GLOBAL innodb_flush_log_at_trx_commit = 2, GLOBAL sync_binlog = 0;',
                              'SET GLOBAL innodb_flush_log_at_trx_commit = 1, GLOBAL sync_binlog = 1;']

    def broken():
        raise clone.CopyError('the load failed')
    log.unlink()
    with pytest.raises(clone.CopyError, match='the load failed'):
        clone.relaxed(client, broken)
    assert log.read_text().splitlines()[-1] == 'SET GLOBAL innodb_flush_log_at_trx_commit = 1, GLOBAL sync_binlog = 1;'


def test_relaxed_refuses_a_durability_it_cannot_read(tmp_path):
    client, log = _fake_client(tmp_path, answer='nothing useful')
    with pytest.raises(clone.CopyError, match="could not read the target's durability"):
        clone.relaxed(client, lambda: dict(bytes=5))
    assert 'SET' not in log.read_text()  # nothing was relaxed


def test_a_copy_in_which_no_byte_moves_fails_within_the_stall_bound():
    """A producer that hangs after its first bytes (a stopped source): the copy fails after ``stall`` seconds of no
    byte moved, not at its whole timeout, and its processes are gone."""
    started = time.time()
    with pytest.raises(clone.CopyError, match=r'no byte of the copy has moved for 1\.0s'):
        clone.stream(['sh', '-c', 'echo first; exec sleep 60'], ['sh', '-c', 'cat > /dev/null'], timeout=60, stall=1.0)
    assert time.time() - started < 10
    # bytes that keep moving, slowly, are no stall
    result = clone.stream(['sh', '-c', 'for i in 1 2 3 4; do echo $i; sleep 0.4; done'], ['sh', '-c', 'cat > /dev/null'],
                          timeout=60, stall=1.0)
    assert result['bytes'] == 8


class _Donor:
    def __init__(self, running=True, start_error=None):
        self.calls, self.up, self.start_error = [], running, start_error

    def running(self):
        return self.up

    def stop(self, timeout):
        self.calls.append('stop')
        self.up = False

    def start(self, timeout):
        self.calls.append('start')
        if self.start_error:
            raise self.start_error
        self.up = True


def test_the_donor_is_started_again_whatever_the_copy_does():
    donor = _Donor()
    assert clone.with_source_stopped(donor, lambda: dict(bytes=1))['source'] == dict(stopped=True, started=True)
    assert donor.calls == ['stop', 'start']

    def broken():
        raise clone.CopyError('the copy failed')
    donor = _Donor()
    with pytest.raises(clone.CopyError, match='the copy failed'):
        clone.with_source_stopped(donor, broken)
    assert donor.calls == ['stop', 'start'] and donor.up
    donor = _Donor(start_error=RuntimeError('port in use'))
    with pytest.raises(clone.CopyError, match='the copy ended, but the source .* did NOT start again: port in use'):
        clone.with_source_stopped(donor, lambda: dict(bytes=1))
    donor = _Donor(running=False)  # a donor that was down stays down
    assert clone.with_source_stopped(donor, lambda: dict(bytes=1))['source'] == dict(stopped=False, started=False)
    assert donor.calls == []
