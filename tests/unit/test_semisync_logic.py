# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Semi-sync settings, what each place runs with, and how a promotion moves them (no server)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import inventory, semisync
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.instance import instance_from_spec
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

MARIADB = Flavor('mariadb', '10.11.19')
ON = semisync.settings(dict(enabled=True), 'db1')


def test_settings_take_defaults_and_refuse_bad_values_naming_the_host():
    assert ON == dict(enabled=True, wait_point='AFTER_SYNC', timeout=10000, wait_for_count=1)
    assert semisync.settings(dict(enabled='yes', wait_point='after_commit', timeout='500'), 'x')['timeout'] == 500
    assert semisync.settings(None) is None
    for bad, what in ((dict(enabled='maybe'), 'replicant_semisync '), (dict(wait_point='AFTER_X'), 'wait_point'),
                      (dict(timeout=-1), 'timeout'), (dict(wait_for_count=0), 'wait_for_count'),
                      (dict(timeout=True), 'timeout'), (dict(colour=1), 'unknown')):
        with pytest.raises(ValueError, match='db7: .*%s' % what):
            semisync.settings(bad, 'db7')


def test_only_the_master_has_the_master_side_and_every_server_the_replica_side():
    master = semisync.variables(MARIADB, ON, 'master')
    replica = semisync.variables(MARIADB, ON, 'replica')
    assert master == {'rpl_semi_sync_master_enabled': 'ON', 'rpl_semi_sync_slave_enabled': 'ON',
                      'rpl_semi_sync_master_timeout': 10000, 'rpl_semi_sync_master_wait_point': 'AFTER_SYNC'}
    assert replica == dict(master, rpl_semi_sync_master_enabled='OFF')
    off = semisync.variables(MARIADB, dict(ON, enabled=False), 'master')
    assert off == {'rpl_semi_sync_master_enabled': 'OFF', 'rpl_semi_sync_slave_enabled': 'OFF'}


def test_mysql_waits_for_the_number_of_acknowledgements_and_loads_its_plugins():
    found = semisync.cnf(dict(ON, wait_for_count=2), 'master', 'mysql 8.0.36')
    assert found['options']['rpl_semi_sync_source_wait_for_replica_count'] == 2
    assert found['plugins'] == [['rpl_semi_sync_source', 'semisync_source.so'], ['rpl_semi_sync_replica', 'semisync_replica.so']]
    assert 'rpl_semi_sync_master_wait_for_slave_count' in semisync.cnf(ON, 'master', 'mysql 5.7.44')['options']
    assert semisync.cnf(None, 'master') == dict(options={}, plugins=[])
    assert semisync.cnf(ON, 'replica')['plugins'] == []


def test_a_mariadb_replica_restarts_after_a_crash_as_a_replica_and_cuts_its_unacknowledged_tail():
    assert semisync.cnf(ON, 'replica')['options']['loose_init_rpl_role'] == 'SLAVE'
    assert semisync.cnf(ON, 'master')['options']['loose_init_rpl_role'] == 'MASTER'
    assert 'loose_init_rpl_role' not in semisync.cnf(ON, 'replica', 'mariadb 10.5.20')['options']
    assert 'loose_init_rpl_role' not in semisync.cnf(dict(ON, enabled=False), 'replica')['options']
    assert 'loose_init_rpl_role' not in semisync.cnf(ON, 'replica', 'mysql 8.4.0')['options']


def test_the_inventory_gives_each_server_entry_its_settings_host_over_group():
    hostvars = dict(db1=dict(replicant_semisync=True, replicant_semisync_timeout=2000),
                    db2=dict(replicant_semisync=False, replicant_semisync_timeout=2000), db3={})
    groups = dict(mysql_master=['db1'], mysql_replicas=['db2', 'db3'])
    entries = dict((e['name'], e) for e in inventory.installations(hostvars, groups)['default']['servers'])
    assert entries['db1']['semisync'] == dict(ON, timeout=2000)
    assert entries['db2']['semisync']['enabled'] is False
    assert 'semisync' not in entries['db3']
    with pytest.raises(ValueError, match='db1: replicant_semisync_wait_point'):
        inventory.installations(dict(db1=dict(replicant_semisync_wait_point='SOON')), dict(mysql_master=['db1']))
    assert instance_from_spec(entries['db1']).semisync == dict(ON, timeout=2000)


class Server:
    """Running values of the variables; records what is set."""

    def __init__(self, running, replicating=True, fail=False):
        self.running, self.flavor, self.done, self.replicating, self.fail = dict(running), MARIADB, [], replicating, fail

    def value(self, statement):
        if self.fail:
            raise ServerError('gone')
        return self.running[statement.split('.')[-1].split()[0]]

    def run(self, key, **kwargs):
        if self.fail:
            raise ServerError('gone')
        self.done.append((key, kwargs))
        if key == 'set_global':
            self.running[kwargs['name']] = kwargs['value']
        if key == 'show_replica_status':
            return [dict(Slave_IO_Running='Yes' if self.replicating else 'No', Slave_SQL_Running='Yes')]
        return []


def running(place):
    return dict(semisync.variables(MARIADB, ON, place))


def test_a_promotion_moves_only_the_master_side_and_restarts_no_io_thread_that_needs_none():
    new, old = Server(running('replica')), Server(running('master'))
    nodes = []
    for name, server in (('db2', new), ('db1', old)):
        node = instance_from_spec(dict(name=name, host=name, semisync=ON))
        node.server = server
        nodes.append(node)
    done = semisync.move(nodes[0], nodes[1:])
    assert done == {'db2': {'rpl_semi_sync_master_enabled': 'ON'}, 'db1': {'rpl_semi_sync_master_enabled': 'OFF'}}
    assert [k for k, _a in old.done] == ['set_global']
    assert semisync.move(nodes[0], nodes[1:]) == {'db2': {}, 'db1': {}}


def test_a_replica_that_starts_acknowledging_reconnects_its_io_thread_and_the_master_side_goes_off_first():
    server = Server(dict(semisync.variables(MARIADB, dict(ON, enabled=False), 'master'),
                         rpl_semi_sync_master_timeout=10000, rpl_semi_sync_master_wait_point='AFTER_COMMIT'))
    server.running['rpl_semi_sync_master_enabled'] = 'ON'
    changed = semisync.apply(server, ON, 'replica')
    assert changed == {'rpl_semi_sync_master_enabled': 'OFF', 'rpl_semi_sync_slave_enabled': 'ON',
                       'rpl_semi_sync_master_wait_point': 'AFTER_SYNC'}
    keys = [(k, a.get('name') or a.get('thread')) for k, a in server.done]
    assert keys[0] == ('set_global', 'rpl_semi_sync_master_enabled')
    assert keys[-2:] == [('stop_replica', 'io'), ('start_replica', 'io')]


def test_an_error_on_one_server_is_reported_not_raised():
    node = instance_from_spec(dict(name='db3', host='db3', semisync=ON))
    node.server = Server({}, fail=True)
    assert 'semi-sync not set' in semisync.move(node, [])['db3']


def test_problems_of_the_master_and_of_replicas():
    active = dict(master_enabled=True, replica_enabled=True, master_active=True, replica_active=False, clients=2,
                  yes_tx=5, no_tx=0, wait_point='AFTER_SYNC', timeout=10000)
    assert semisync.problems('db1', ON, active, 'master') == []
    assert semisync.problems('db1', ON, dict(active, master_active=False), 'master')[0][0] == 'semisync_async'
    assert semisync.problems('db1', ON, dict(active, master_enabled=False), 'master')[0][0] == 'semisync_off'
    assert [k for k, _m in semisync.problems('db2', ON, active, 'replica')] == ['semisync_misplaced']
    assert semisync.problems('db2', ON, dict(active, master_enabled=False, replica_enabled=False), 'replica')[0][0] == \
        'semisync_off'
    assert semisync.problems('db2', dict(ON, enabled=False), dict(active, master_active=False), 'master') == []
    assert semisync.summary(active) == 'semisync=master:active(2)'
