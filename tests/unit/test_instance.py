# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server model (module_utils/instance.py): the facts reader and can_replicate_from, without a server."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, instance, replication
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid

MARIADB = Flavor('mariadb', '10.11.19')
MYSQL = Flavor('mysql', '8.4.0')
UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562'


class Answers:
    """A connected Server that answers the statements read_facts sends, by statement text."""

    def __init__(self, flavor, replica_row=None, **values):
        self.flavor = flavor
        self.replica_row = replica_row
        self.values = dict(server_id=7, server_uuid=UUID if flavor.is_mysql else None, read_only=1, log_bin=1,
                           log_replica_updates=0, gtid='0-7-42' if flavor.is_mariadb else UUID + ':1-42')
        self.values.update(values)

    def run(self, key, **kwargs):
        if key == 'show_replica_status':
            return [self.replica_row] if self.replica_row else []
        if key == 'show_master_status':
            return [dict(File='binlog.000003', Position=1234, Binlog_Do_DB='', Binlog_Ignore_DB='b,a')]
        if key == 'show_replicas':
            return [dict(Server_id=8, Host='10.0.0.8', Port=3306)]
        raise AssertionError(key)

    def sql(self, statement, args=None):
        if statement == replication.USER_SCHEMAS:
            return [dict(name='shop')]
        assert statement == instance.DUMP_THREADS_SQL
        return [dict(host='10.0.0.8:40000')]

    def one(self, statement, args=None):
        v = self.values
        if statement == dialect.sql(self.flavor, 'server_identity'):
            return dict(server_id=v['server_id'], server_uuid=v['server_uuid'])
        if statement == instance.INSTANCE_SQL:
            return dict(hostname=b'db7', port=3306, datadir='/var/lib/mysql/')
        if statement == dialect.sql(self.flavor, 'binlog_settings'):
            return dict(log_bin=v['log_bin'], log_replica_updates=v['log_replica_updates'])
        if statement == instance.OWN_ADDRESSES:
            return dict(bind_address=v.get('bind_address', '127.0.0.12'), report_host=None)
        if statement == dialect.sql(self.flavor, 'read_only_vars'):
            return dict(read_only=v['read_only'], **({'super_read_only': 1} if self.flavor.is_mysql else {}))
        raise AssertionError(statement)

    def value(self, statement, args=None):
        if statement in (dialect.sql(self.flavor, 'gtid_current_pos'), dialect.sql(self.flavor, 'gtid_executed')):
            return ' %s\n' % self.values['gtid']
        if statement == dialect.sql(self.flavor, 'gtid_enabled'):
            return 1
        raise AssertionError(statement)


@pytest.mark.parametrize('flavor', [MARIADB, MYSQL])
def test_read_facts_has_one_set_of_keys(flavor):
    row = {'Master_Host': '10.0.0.1', 'Master_Port': 3306, 'Slave_IO_Running': 'Yes', 'Slave_SQL_Running': 'Yes',
           'Replicate_Do_DB': 'b, a', 'Seconds_Behind_Master': 0}
    facts = instance.read_facts(Answers(flavor, row), discovery=True)
    assert facts['flavor'] is flavor and facts['server_id'] == 7 and facts['hostname'] == 'db7'
    assert (facts['log_bin'], facts['log_replica_updates'], facts['read_only']) == (True, False, True)
    assert facts['gtid'] == parse_gtid(facts['gtid_current_pos'], flavor.name) and ' ' not in facts['gtid_executed']
    assert facts['status']['master_host'] == '10.0.0.1' and facts['filters'] == {'Replicate_Do_DB': 'a,b'}
    assert facts['binlog_filters'] == {'Binlog_Ignore_DB': 'a,b'}
    assert facts['master_pos']['position'] == 'binlog.000003:1234'
    assert facts['registered_replicas'] == [dict(server_id=8, host='10.0.0.8', port=3306)]
    assert facts['dump_clients'] == ['10.0.0.8']
    assert 'registered_replicas' not in instance.read_facts(Answers(flavor))
    assert instance.read_facts(Answers(flavor))['status'] is None


def described(name, host, gtid='0-1-10', replica=True, log_bin=True, log_replica_updates=True, flavor=MARIADB,
              server_id=None, **facts):
    inst = instance.Instance(name, host, 3306, dict(login_user='admin'))
    inst.facts = dict(flavor=flavor, server_id=server_id or int(host.split('.')[-1]), hostname=name, port=3306,
                      datadir='/data/', gtid=parse_gtid(gtid, flavor.name), log_bin=log_bin,
                      log_replica_updates=log_replica_updates, status={'master_host': 'x'} if replica else None)
    inst.facts.update(facts)
    return inst


def kinds(reasons):
    return [k for k, _m in reasons]


def test_can_replicate_from():
    master = described('db1', '10.0.0.1', '0-1-10', replica=False, log_replica_updates=False)
    replica = described('db2', '10.0.0.2', '0-1-9')
    assert instance.can_replicate_from(replica, master) == []
    assert kinds(instance.can_replicate_from(replica, replica)) == ['itself']
    twin = described('db2b', '10.0.0.9', server_id=2, hostname='db2')   # the same server under another name
    assert kinds(instance.can_replicate_from(replica, twin)) == ['itself']
    assert kinds(instance.can_replicate_from(replica, described('db3', '10.0.0.3', log_bin=False))) == ['binlog']
    relay = described('db3', '10.0.0.3', '0-1-10', log_replica_updates=False)
    reasons = instance.can_replicate_from(replica, relay)
    assert kinds(reasons) == ['binlog'] and 'db3 is a replica without log_slave_updates' in reasons[0][1]
    errant = described('db4', '10.0.0.4', '0-1-10,1-4-3')
    reasons = instance.can_replicate_from(errant, master)
    assert reasons == [('errant', 'has transactions db1 lacks: 1-4-3')]
    diverged = described('db5', '10.0.0.5', '0-5-10')
    assert kinds(instance.can_replicate_from(diverged, master)) == ['diverged']
    assert kinds(instance.can_replicate_from(described('db6', '10.0.0.6', flavor=MYSQL, gtid=''), master)) == ['flavor']
    # Judged against what the source will have (a candidate catching up with its master):
    behind = described('db7', '10.0.0.7', '0-1-5')
    assert kinds(instance.can_replicate_from(errant, behind, source_gtid=master.facts['gtid'])) == ['errant']
    assert instance.can_replicate_from(replica, behind, source_gtid=parse_gtid('0-1-10', 'mariadb')) == []
    fresh = described('db8', '10.0.0.8', '', user_schemas=['shop'])
    assert kinds(instance.can_replicate_from(fresh, master)) == ['data']


def test_instance_from_spec_login_rules():
    defaults = dict(login_user='admin', login_password='pw', connect_timeout=3, login_host='ignored')
    tcp = instance.instance_from_spec(dict(name='db1', host='10.0.0.1'), defaults)
    assert (tcp.login['login_host'], tcp.login['login_port'], tcp.login['connect_timeout']) == ('10.0.0.1', 3306, 3)
    sock = instance.instance_from_spec(dict(name='db2', host='10.0.0.2', login_unix_socket='/s', login_user='me'),
                                       defaults)
    assert sock.login == dict(login_unix_socket='/s', login_user='me', login_password='pw', connect_timeout=3,
                              read_timeout=30)
    assert sock.server.unix_socket == '/s' and sock.server.host is None
    other = instance.instance_from_spec(dict(name='db3', host='10.0.0.3', port=3307, login_host='192.0.2.3',
                                             login_port=3310, master='db1', role='replica', installation='shop'))
    assert (other.host, other.port, other.login['login_host'], other.login['login_port']) == ('10.0.0.3', 3307, '192.0.2.3', 3310)
    assert (other.declared_master, other.declared_role, other.installation) == ('db1', 'replica', 'shop')
    with pytest.raises(ValueError, match='role must be one of'):
        instance.instance_from_spec(dict(name='db4', host='h', role='boss'))


def test_change_master_conflicts_come_from_the_same_predicate():
    """A server pointed at itself (its own bind address and port), errant transactions, data without history."""
    replica = Answers(MARIADB, gtid='0-1-5,9-7-1')
    assert [k for k, _m in instance.conflicts_of(replica, None, '127.0.0.12', 3306)] == ['itself']
    assert instance.conflicts_of(replica, None, '127.0.0.11', 3306) == []
    assert instance.conflicts_of(replica, None, '127.0.0.12', 3307) == []
    assert [k for k, _m in instance.conflicts_of(replica, '0-1-10', '127.0.0.11', 3306)] == ['errant']
    wildcard = Answers(MARIADB, bind_address='0.0.0.0')
    assert [k for k, _m in instance.conflicts_of(wildcard, None, '127.0.0.1', 3306)] == ['itself']
    empty = Answers(MARIADB, gtid='')
    assert [k for k, _m in instance.conflicts_of(empty, '0-1-10', '127.0.0.11', 3306)] == ['data']
