# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Topology discovery, checks, pictures and relocation plans, on described (not live) servers.

The servers are dicts of what ``read_facts`` returns; ``server_from_params`` is replaced by a fake
that answers from them, so the discovery loop, the checks and the drawing run unchanged.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import instance, relocate, topology
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor, normalize_replica_status
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

MARIADB = Flavor('mariadb', '10.11.19')
MYSQL = Flavor('mysql', '8.4.0')
UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562'
UUID_B = '4f22fa47-71ca-11e1-9e33-c80aa9429562'


def status(master, port=3306, io='Yes', sql='Yes', lag=0, io_errno=0, sql_errno=0, using_gtid='Slave_Pos', flavor=MARIADB):
    row = {'Master_Host': master, 'Master_Port': port, 'Master_User': 'repl', 'Slave_IO_Running': io,
           'Slave_SQL_Running': sql, 'Seconds_Behind_Master': lag if io == sql == 'Yes' else None,
           'Last_IO_Errno': io_errno, 'Last_IO_Error': 'io trouble' if io_errno else '',
           'Last_SQL_Errno': sql_errno, 'Last_SQL_Error': 'sql trouble' if sql_errno else ''}
    if flavor.is_mariadb:
        row['Using_Gtid'] = using_gtid
    else:
        row['Auto_Position'] = 1 if using_gtid != 'No' else 0
    return normalize_replica_status(flavor, row)


def facts(server_id, replicates=None, read_only=None, gtid='0-1-10', flavor=MARIADB, uuid=None, log_bin=True,
          log_slave_updates=True, registered=(), dump_clients=None, datadir=None, **status_args):
    """What read_facts would return. ``replicates``: the master's host (port 3306)."""
    repl = status(replicates, flavor=flavor, **status_args) if replicates else None
    return dict(flavor=flavor, version='.'.join(str(v) for v in flavor.version), server_id=server_id,
                server_uuid=uuid, hostname='host%d' % server_id, port=3306, datadir=datadir or '/data/%d/' % server_id,
                log_bin=log_bin, log_replica_updates=log_slave_updates,
                read_only=bool(replicates) if read_only is None else read_only,
                gtid_executed=gtid, gtid_current_pos=gtid, gtid=parse_gtid(gtid, flavor.name), status=repl,
                registered_replicas=[dict(server_id=sid, host=host, port=3306) for sid, host in registered],
                dump_clients=list(dump_clients if dump_clients is not None else [h for _sid, h in registered]))


class FakeServer:
    """Answers for one address of INSTALLATION, like a connected Server."""

    def __init__(self, installation, host):
        self.installation, self.host = installation, host

    def connect(self):
        if self.host not in self.installation:
            raise ServerError('cannot connect to %s' % self.host)
        return self

    __enter__ = connect

    def close(self):
        pass

    def __exit__(self, *exc):
        return False

    @property
    def flavor(self):
        f = self.installation[self.host]
        return f['flavor']

    def value(self, statement):
        f = self.installation[self.host]
        return f.get('later_gtid', f['gtid_current_pos'])


def read_facts(described):
    """What read_facts returns for a described server (the parsed GTID follows edits of the text)."""
    described['gtid'] = parse_gtid(described['gtid_current_pos'], described['flavor'].name)
    return described


@pytest.fixture
def installation(monkeypatch):
    """{host: facts}; servers are reached by login_host (or login_unix_socket) = their host."""
    servers = {}
    monkeypatch.setattr(topology, '_resolve', lambda host: host)
    monkeypatch.setattr(instance, 'server_from_params', lambda params, name=None: FakeServer(
        servers, params.get('login_unix_socket') or params.get('login_host')))
    monkeypatch.setattr(instance, 'read_facts', lambda server, discovery=False: read_facts(server.installation[server.host]))
    return servers


def spec(name, host, master=None, role=None):
    """An entry of the modules' servers option."""
    return dict(name=name, host=host, port=3306, master=master, role=role or ('replica' if master else 'master'),
                login_user='admin', login_password='pw')


def discover(specs, **options):
    """Discovery as the modules run it: fresh Instances from the servers option every time."""
    return topology.discover(instance.instances_from_params(dict(servers=specs)), **options)


def star(installation, n=3, gtid='0-1-10'):
    """db1 (10.0.0.1) with replicas db2.. (10.0.0.2..), all in the inventory."""
    installation['10.0.0.1'] = facts(1, gtid=gtid, registered=[(i, '10.0.0.%d' % i) for i in range(2, n + 1)])
    for i in range(2, n + 1):
        installation['10.0.0.%d' % i] = facts(i, replicates='10.0.0.1', gtid=gtid)
    return [spec('db1', '10.0.0.1')] + [spec('db%d' % i, '10.0.0.%d' % i, 'db1') for i in range(2, n + 1)]


def kinds(topo):
    return {(p.kind, tuple(p.servers)) for p in topo.problems}


# -- shape and pictures --------------------------------------------------------------------------
def test_star_roles_tree_dot_mermaid(installation):
    topo = discover(star(installation, 4), workers=4)
    assert kinds(topo) == set()
    assert [topo.role(n) for n in ('db1', 'db2', 'db3', 'db4')] == ['master', 'replica', 'replica', 'replica']
    assert topo.roots() == ['db1'] and topo.replicas_of('db1') == ['db2', 'db3', 'db4']
    assert topo.ascii_lines() == [
        'db1 (10.0.0.1:3306) master rw id=1 gtid=0-1-10 mariadb 10.11.19',
        '+-- db2 (10.0.0.2:3306) replica ro id=2 io=Yes sql=Yes lag=0s gtid=0-1-10 mariadb 10.11.19',
        '+-- db3 (10.0.0.3:3306) replica ro id=3 io=Yes sql=Yes lag=0s gtid=0-1-10 mariadb 10.11.19',
        '`-- db4 (10.0.0.4:3306) replica ro id=4 io=Yes sql=Yes lag=0s gtid=0-1-10 mariadb 10.11.19']
    assert '"db1" -> "db2" [label="lag 0s"];' in topo.dot()
    assert '"db1" [label="db1\\n10.0.0.1:3306\\nmaster rw id 1"];' in topo.dot()
    assert topo.mermaid().splitlines()[:2] == ['graph TD', '  s0["db1<br/>10.0.0.1:3306<br/>master rw id 1"]']
    assert '  s0 -->|lag 0s| s3' in topo.mermaid()
    result = topo.result()
    assert result['ok'] and list(result['servers']) == ['db1', 'db2', 'db3', 'db4']
    assert result['servers']['db2']['using_gtid'] == 'Slave_Pos' and result['servers']['db2']['master'] == 'db1'


def test_chain_tree_prefixes_and_descendants(installation):
    specs = star(installation, 5)
    installation['10.0.0.3'] = facts(3, replicates='10.0.0.2', registered=[(4, '10.0.0.4')])
    installation['10.0.0.4'] = facts(4, replicates='10.0.0.3')
    installation['10.0.0.2']['registered_replicas'] = [dict(server_id=3, host='10.0.0.3', port=3306)]
    installation['10.0.0.1']['registered_replicas'] = [dict(server_id=i, host='10.0.0.%d' % i, port=3306) for i in (2, 5)]
    topo = discover(specs, workers=1)
    assert [line.split(' (')[0] for line in topo.ascii_lines()] == [
        'db1', '+-- db2', '|   `-- db3', '|       `-- db4', '`-- db5']
    assert topo.role('db2') == topo.role('db3') == 'relay'
    assert topo.descendants('db2') == ['db3', 'db4'] and topo.descendants('db4') == []
    assert kinds(topo) == {('drift', ('db3',)), ('drift', ('db4',))}
    assert 'declares db3 a replica of db1, but it replicates from db2' in topo.problems[0].message


def test_cycle_is_drawn_once(installation):
    installation['10.0.0.1'] = facts(1, replicates='10.0.0.2', read_only=False)
    installation['10.0.0.2'] = facts(2, replicates='10.0.0.1')
    topo = discover([spec('db1', '10.0.0.1'), spec('db2', '10.0.0.2', 'db1')])
    assert [line.split(' (')[0] for line in topo.ascii_lines()] == ['db1', '`-- db2']
    assert ('drift', ('db1',)) in kinds(topo) and ('writable_replica', ('db1',)) in kinds(topo)


# -- problems ------------------------------------------------------------------------------------
def test_identity_and_read_only_problems(installation):
    specs = star(installation, 4)
    installation['10.0.0.4']['server_id'] = 3
    installation['10.0.0.2']['read_only'] = False
    assert kinds(discover(specs)) == {('duplicate_server_id', ('db3', 'db4')), ('writable_replica', ('db2',))}


def test_duplicate_uuid_on_mysql(installation):
    installation['10.0.0.1'] = facts(1, flavor=MYSQL, uuid=UUID_A, gtid=UUID_A + ':1-5', registered=[(2, '10.0.0.2')])
    installation['10.0.0.2'] = facts(2, flavor=MYSQL, uuid=UUID_A, gtid=UUID_A + ':1-5', replicates='10.0.0.1')
    topo = discover([spec('db1', '10.0.0.1'), spec('db2', '10.0.0.2', 'db1')])
    assert kinds(topo) == {('duplicate_server_uuid', ('db1', 'db2'))}
    assert topo.result()['servers']['db2']['using_gtid'] is True


def test_multiple_writable_masters(installation):
    specs = star(installation, 2)
    installation['10.0.0.9'] = facts(9)
    specs.append(spec('db9', '10.0.0.9', role='master'))
    assert kinds(discover(specs)) == {('multiple_writable_masters', ('db1', 'db9'))}
    installation['10.0.0.9']['read_only'] = True
    assert kinds(discover(specs)) == set()


def test_thread_and_lag_problems(installation):
    specs = star(installation, 5)
    installation['10.0.0.2'] = facts(2, replicates='10.0.0.1', io='Connecting', io_errno=1045)
    installation['10.0.0.3'] = facts(3, replicates='10.0.0.1', sql='No')
    installation['10.0.0.4'] = facts(4, replicates='10.0.0.1', lag=61)
    installation['10.0.0.5'] = facts(5, replicates='10.0.0.1', lag=60)
    topo = discover(specs, lag_threshold=60)
    assert kinds(topo) == {('replication_broken', ('db2',)), ('replication_stopped', ('db3',)), ('lag', ('db4',))}
    messages = [p.message for p in topo.problems]
    assert 'db2: IO thread error 1045: io trouble' in messages and 'db3: SQL thread is No' in messages
    assert '"db1" -> "db2" [label="broken"];' in topo.dot() and '"db1" -> "db3" [label="stopped"];' in topo.dot()
    assert 'io=Connecting sql=Yes lag=-' in topo.ascii_lines()[1]
    assert topo.ascii_lines()[1].endswith('!! replication_broken')


def test_errant_mariadb_and_mysql_and_diverged(installation):
    specs = star(installation, 3)
    installation['10.0.0.2']['gtid_current_pos'] = '0-2-11'      # a write of its own after 0-1-10
    installation['10.0.0.3']['gtid_current_pos'] = '0-1-9'       # merely behind
    topo = discover(specs)
    assert kinds(topo) == {('errant_transactions', ('db2',))}
    assert topo.nodes['db2'].gtid_errant == '0-2-11'
    installation['10.0.0.2']['gtid_current_pos'] = '0-2-10'      # same seq, other server: diverged
    assert discover(specs).nodes['db2'].gtid_errant == 'diverged in domain 0'

    installation.clear()
    installation['10.0.0.1'] = facts(1, flavor=MYSQL, uuid=UUID_A, gtid=UUID_A + ':1-5', registered=[(2, '10.0.0.2')])
    installation['10.0.0.2'] = facts(2, flavor=MYSQL, uuid=UUID_B, gtid=UUID_A + ':1-5,' + UUID_B + ':1', replicates='10.0.0.1')
    topo = discover([spec('db1', '10.0.0.1'), spec('db2', '10.0.0.2', 'db1')])
    assert kinds(topo) == {('errant_transactions', ('db2',))} and topo.nodes['db2'].gtid_errant == UUID_B + ':1'


def test_errant_suspect_is_cleared_when_the_master_has_moved_on(installation):
    specs = star(installation, 2)
    installation['10.0.0.2']['gtid_current_pos'] = '0-1-11'      # read after the master wrote 0-1-11
    installation['10.0.0.1']['later_gtid'] = '0-1-11'
    assert kinds(discover(specs)) == set()


def test_drift_and_relay_without_log_slave_updates(installation):
    specs = star(installation, 3)
    installation['10.0.0.3'] = facts(3, replicates='10.0.0.2')
    installation['10.0.0.2'] = facts(2, replicates='10.0.0.1', log_slave_updates=False, registered=[(3, '10.0.0.3')])
    installation['10.0.0.1']['registered_replicas'] = [dict(server_id=2, host='10.0.0.2', port=3306)]
    topo = discover(specs)
    assert kinds(topo) == {('drift', ('db3',)), ('relay_without_log_slave_updates', ('db2',))}
    installation['10.0.0.1'] = facts(1, replicates='10.0.0.2', read_only=True)
    installation['10.0.0.3'] = facts(3, read_only=False)
    topo = discover(specs)
    assert ('drift', ('db1',)) in kinds(topo) and ('drift', ('db3',)) in kinds(topo)
    assert 'but it is no replica' in ' '.join(p.message for p in topo.problems)


def test_unreachable_inventory_server(installation):
    specs = star(installation, 2) + [spec('db7', '10.0.0.7', 'db1')]
    topo = discover(specs)
    assert kinds(topo) == {('unreachable', ('db7',))}
    assert topo.role('db7') == 'unknown' and topo.ascii_lines()[-1] == 'db7 (10.0.0.7:3306) UNREACHABLE !! unreachable'


# -- discovery beyond the inventory --------------------------------------------------------------
def test_registered_replica_and_unlisted_master_are_followed(installation):
    specs = star(installation, 3)
    installation['10.0.0.1']['registered_replicas'].append(dict(server_id=4, host='10.0.0.4', port=3306))
    installation['10.0.0.1']['dump_clients'].append('10.0.0.4')
    installation['10.0.0.4'] = facts(4, replicates='10.0.0.1')
    installation['10.0.0.1']['status'] = status('10.0.0.100')  # db1 itself replicates from an unlisted server
    installation['10.0.0.1']['read_only'] = True
    installation['10.0.0.100'] = facts(100, registered=[(1, '10.0.0.1')])
    topo = discover(specs)
    assert topo.nodes['10.0.0.4:3306'].master == 'db1' and not topo.nodes['10.0.0.4:3306'].in_inventory
    assert topo.nodes['db1'].master == '10.0.0.100:3306' and topo.roots() == ['10.0.0.100:3306']
    assert kinds(topo) == {('not_in_inventory', ('10.0.0.4:3306',)), ('not_in_inventory', ('10.0.0.100:3306',)),
                           ('drift', ('db1',))}
    assert topo.nodes['10.0.0.4:3306'].found_by == 'registered on db1 with server_id 4'
    assert topo.nodes['10.0.0.100:3306'].found_by == 'master of db1'
    no_follow = discover(specs, follow=False)
    assert not no_follow.nodes['10.0.0.4:3306'].queried
    assert 'not queried' in no_follow.summary('10.0.0.4:3306')
    assert ('unreachable', ('10.0.0.4:3306',)) not in kinds(no_follow)


def test_registration_answered_by_another_server(installation):
    specs = star(installation, 2)
    installation['10.0.0.1']['registered_replicas'].append(dict(server_id=4, host='10.0.0.4', port=3306))
    installation['10.0.0.4'] = facts(44)
    topo = discover(specs)
    assert kinds(topo) == {('not_in_inventory', ('10.0.0.4:3306',)), ('unreachable', ('10.0.0.4:3306',))}
    assert 'answers as server_id 44, not as the replica registered with server_id 4' in topo.nodes['10.0.0.4:3306'].error


def test_registration_without_address(installation):
    specs = star(installation, 2)
    installation['10.0.0.1']['registered_replicas'].append(dict(server_id=4, host=None, port=3306))
    topo = discover(specs)
    node = topo.nodes['server_id 4 on db1']
    assert node.master == 'db1' and 'report_host' in node.error


def test_alias_of_an_inventory_server_is_folded(installation):
    specs = star(installation, 2)
    installation['10.0.0.2']['status'] = status('db1.example')   # its master by another name
    installation['db1.example'] = installation['10.0.0.1']
    topo = discover(specs)
    assert list(topo.nodes) == ['db1', 'db2'] and topo.nodes['db2'].master == 'db1'
    assert kinds(topo) == set() and topo.notes == ['db1.example:3306 is db1']


def test_stale_and_renumbered_registrations_are_no_new_servers(installation):
    specs = star(installation, 4)
    installation['10.0.0.4']['server_id'] = 44        # changed at run time: still registered as 4
    installation['10.0.0.3'] = facts(3, replicates='10.0.0.2')   # moved: db1 still lists it for a moment
    installation['10.0.0.2']['registered_replicas'] = [dict(server_id=3, host='10.0.0.3', port=3306)]
    topo = discover(specs)
    assert sorted(topo.nodes) == ['db1', 'db2', 'db3', 'db4']
    assert kinds(topo) == {('drift', ('db3',))}


def test_binlog_reader_that_is_no_server_is_only_a_note(installation):
    specs = star(installation, 2)
    installation['10.0.0.1']['dump_clients'].append('10.0.0.50')   # e.g. mysqlbinlog --read-from-remote-server
    topo = discover(specs)
    assert list(topo.nodes) == ['db1', 'db2'] and kinds(topo) == set()
    assert topo.notes == ['a binlog dump client at 10.0.0.50 (on db1) is no replica reachable with these credentials']


def test_one_by_one_and_concurrent_agree_and_limits(installation):
    specs = star(installation, 12)
    one = discover(specs, workers=1).result()
    many = discover(specs, workers=8).result()
    for result in (one, many):
        result.pop('elapsed')
    assert one == many
    with pytest.raises(ValueError, match='listed twice'):
        discover(specs + specs[:1])
    installation['10.0.0.1']['registered_replicas'].append(dict(server_id=99, host='10.0.0.99', port=3306))
    topo = discover(specs, max_servers=12)
    assert len(topo.nodes) == 12 and 'max_servers' in topo.notes[0]


# -- module parameters ---------------------------------------------------------------------------
def test_instances_from_params():
    params = dict(login_user='admin', login_password='pw', login_host='ignored', login_unix_socket='/ignored',
                  config_file=None, connect_timeout=3, read_timeout=None, ca_cert=None, client_cert=None,
                  client_key=None, check_hostname=None,
                  servers=[dict(name='db1', host='10.0.0.1', port=None, master=None, role='master', login_host=None,
                                login_port=None, login_unix_socket='', login_user=None, login_password=None),
                           dict(name='db2', host='10.0.0.2', port=3307, master='db1', role='replica', login_host=None,
                                login_port=None, login_unix_socket='/run/db2.sock', login_user='other', login_password='x')])
    one, two = instance.instances_from_params(params)
    assert (one.name, one.host, one.port, one.declared_role, one.declared_master) == ('db1', '10.0.0.1', 3306, 'master', None)
    assert one.login['login_user'] == 'admin' and one.login['connect_timeout'] == 3
    assert (one.login['login_host'], one.login['login_port']) == ('10.0.0.1', 3306)
    assert 'login_unix_socket' not in one.login
    assert two.login['login_unix_socket'] == '/run/db2.sock' and two.login['login_user'] == 'other'
    assert 'login_host' not in two.login and two.declared_master == 'db1' and two.port == 3307


# -- relocation plans ----------------------------------------------------------------------------
def chain(installation):
    """db1 -> db2 -> db3, and db1 -> db4."""
    specs = star(installation, 4)
    installation['10.0.0.3'] = facts(3, replicates='10.0.0.2')
    installation['10.0.0.2']['registered_replicas'] = [dict(server_id=3, host='10.0.0.3', port=3306)]
    installation['10.0.0.1']['registered_replicas'] = [dict(server_id=i, host='10.0.0.%d' % i, port=3306) for i in (2, 4)]
    return specs


def test_relocate_plans(installation):
    topo = discover(chain(installation))
    assert relocate.plan(topo, replica='db4', new_master='db3') == [('db4', 'db3')]
    assert relocate.plan(topo, replica='db3', up=True) == [('db3', 'db1')]
    assert relocate.plan(topo, replica='db3', new_master='db2') == []           # already there
    assert relocate.plan(topo, replicas_of='db1', new_master='db4') == [('db2', 'db4')]
    assert relocate.plan(topo, replicas_of='db2', new_master='db1') == [('db3', 'db1')]


@pytest.mark.parametrize('request_args, message', [
    (dict(replica='db2', new_master='db3'), 'would make a cycle'),
    (dict(replica='db2', new_master='db2'), 'cannot replicate from itself'),
    (dict(replica='db2', up=True), 'no grandparent'),
    (dict(replica='db3', up=True, new_master='db4'), 'not both'),
    (dict(replica='db1', new_master='db2'), 'db1 is not a replica'),
    (dict(replica='db9', new_master='db2'), 'db9 is not a server of the topology'),
    (dict(replica='db4'), 'say where db4 goes'),
    (dict(replicas_of='db1'), 'needs the new master'),
    (dict(replicas_of='db1', new_master='db3'), 'would make a cycle'),
])
def test_relocate_refusals(installation, request_args, message):
    topo = discover(chain(installation))
    with pytest.raises(ValueError, match=message):
        relocate.plan(topo, **request_args)


@pytest.mark.parametrize('change, message', [
    (('10.0.0.2', 'log_bin', False), 'db2 has no binary log'),
    (('10.0.0.2', 'log_replica_updates', False), 'without log_slave_updates'),
    (('10.0.0.4', 'status', status('10.0.0.1', using_gtid='No')), 'replicates by binlog position'),
    (('10.0.0.4', 'gtid_current_pos', '0-4-11'), 'db4 has errant transactions'),
    (('10.0.0.2', 'gtid_current_pos', '0-2-11'), 'db2 has errant transactions'),
])
def test_relocate_checks_of_the_servers(installation, change, message):
    specs = star(installation, 4)
    host, key, value = change
    installation[host][key] = value
    topo = discover(specs)
    with pytest.raises(ValueError, match=message):
        relocate.plan(topo, replica='db4', new_master='db2')


def test_gtid_mode_is_kept():
    assert relocate.gtid_mode(status('h', using_gtid='Slave_Pos')) == {'master_use_gtid': 'slave_pos'}
    assert relocate.gtid_mode(status('h', using_gtid='Current_Pos')) == {'master_use_gtid': 'current_pos'}
    assert relocate.gtid_mode(status('h', using_gtid='No')) is None
    assert relocate.gtid_mode(status('h', flavor=MYSQL)) == {'master_auto_position': True}
    assert relocate.gtid_mode(status('h', flavor=MYSQL, using_gtid='No')) is None


def test_a_returned_old_master_is_flagged_whatever_the_inventory_says(installation):
    # after a lossy failover: db1 (the new master) wrote 0-2-96..110; the old master db9 restarted with 0-1-100,
    # of which db1 got only up to 0-1-95 - positions alone (0-1-100 <= 0-2-110) hide it
    specs = star(installation, 2, gtid='0-2-110')
    installation['10.0.0.1']['later_gtid'] = '0-1-95,0-2-110'     # db1's gtid_binlog_state
    installation['10.0.0.9'] = facts(9, gtid='0-1-100', read_only=False)
    specs.append(spec('db9', '10.0.0.9', role='spare'))          # the inventory the failover wrote
    found = kinds(discover(specs))
    assert found == {('writable_outside_master', ('db9',)), ('errant_transactions', ('db9',))}
    installation['10.0.0.9']['read_only'] = True                  # it restarted read-only: still errant
    topo = discover(specs)
    assert kinds(topo) == {('errant_transactions', ('db9',))}
    assert topo.result()['servers']['db9']['errant'] == '0-1-100 after 0-1-95'
    installation['10.0.0.9'].update(gtid_current_pos='0-1-95', later_gtid='0-1-95')   # nothing of its own
    assert kinds(discover(specs)) == set()
    installation['10.0.0.9'].update(gtid_current_pos='', later_gtid='', read_only=False)   # an empty spare
    assert kinds(discover(specs)) == set()
