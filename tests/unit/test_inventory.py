# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory -> installations mapping (module_utils/inventory.py), on plain dicts as hostvars/groups."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import inventory

COMMON = dict(replicant_login_user='admin', replicant_login_password='pw', replicant_repl_user='repl',
              replicant_repl_password='rpw', ansible_connection='local')


def host(address, **more):
    return dict(COMMON, replicant_host=address, replicant_port=3306,
                replicant_login_unix_socket='/run/%s.sock' % address, **more)


def two_installations():
    """shop (s1 master, s2 s3 replicas; s3 under s2) and crm (c1 master, c2 replica, c3 spare), one inventory."""
    hostvars = {
        's1': host('10.0.1.1', replicant_installation='shop', replicant_server_id=1),
        's2': host('10.0.1.2', replicant_installation='shop', replicant_master='s1', replicant_server_id=2),
        's3': host('10.0.1.3', replicant_installation='shop', replicant_master='s2', replicant_server_id=3,
                   replicant_promotion='excluded'),
        'c1': host('10.0.2.1', replicant_installation='crm', replicant_server_id=1),
        'c2': host('10.0.2.2', replicant_installation='crm', replicant_master='c1', replicant_server_id=2),
        'c3': host('10.0.2.3', replicant_installation='crm', replicant_server_id=3),
    }
    groups = {'all': list(hostvars), 'mysql': list(hostvars), 'mysql_master': ['s1', 'c1'],
              'mysql_replicas': ['s2', 's3', 'c2'], 'mysql_spares': ['c3'], 'shop': ['s1', 's2', 's3'],
              'crm': ['c1', 'c2', 'c3'], 'ungrouped': []}
    return hostvars, groups


def test_two_installations_in_one_inventory():
    hostvars, groups = two_installations()
    found = inventory.installations(hostvars, groups)
    assert list(found) == ['shop', 'crm']
    shop, crm = found['shop'], found['crm']
    assert (shop['master'], shop['replicas'], shop['spares'], shop['problems']) == ('s1', ['s2', 's3'], [], [])
    assert (crm['master'], crm['replicas'], crm['spares'], crm['problems']) == ('c1', ['c2'], ['c3'], [])
    assert [s['name'] for s in shop['servers']] == ['s1', 's2', 's3']
    s3 = shop['servers'][2]
    assert s3 == dict(name='s3', host='10.0.1.3', port=3306, installation='shop', master='s2', role='replica',
                      promotion='excluded', repl_user='repl', repl_password='rpw', login_unix_socket='/run/10.0.1.3.sock',
                      login_user='admin', login_password='pw')
    assert None not in [v for s in shop['servers'] for v in s.values()]


def test_servers_without_an_installation_form_the_default_one():
    hostvars = {'db1': host('10.0.0.1'), 'db2': host('10.0.0.2', replicant_master='db1')}
    groups = {'mysql': ['db1', 'db2'], 'mysql_master': ['db1'], 'mysql_replicas': ['db2']}
    found = inventory.installations(hostvars, groups)
    assert list(found) == ['default'] and found['default']['master'] == 'db1'


def test_one_rule_for_socket_or_tcp():
    hv = {'db1': host('10.0.0.1'), 'db2': dict(host('10.0.0.2'), ansible_connection='ssh'),
          'db3': dict(host('10.0.0.3'), ansible_connection='ssh', replicant_login_host='192.0.2.3',
                      replicant_login_port=3307),
          'db4': dict(host('10.0.0.4'), replicant_login_via='tcp'),
          'db5': dict(host('10.0.0.5'), ansible_connection='ssh', replicant_login_via='socket')}
    login = dict((h, inventory.login_of(hv, h)) for h in hv)
    assert login['db1']['login_unix_socket'] == '/run/10.0.0.1.sock' and 'login_host' not in login['db1']
    assert (login['db2']['login_host'], login['db2']['login_port']) == ('10.0.0.2', 3306)
    assert (login['db3']['login_host'], login['db3']['login_port']) == ('192.0.2.3', 3307)
    assert 'login_unix_socket' not in login['db4'] and login['db4']['login_host'] == '10.0.0.4'
    assert login['db5']['login_unix_socket'] == '/run/10.0.0.5.sock'
    # A module that runs on the server's own host always takes the socket.
    assert inventory.login_of(hv, 'db2', where='host')['login_unix_socket'] == '/run/10.0.0.2.sock'
    with pytest.raises(ValueError, match='db1: replicant_login_via'):
        inventory.login_of(dict(db1=dict(replicant_login_via='ipc')), 'db1')


def test_replicant_role_overrides_the_groups():
    hostvars, groups = two_installations()
    hostvars['s1']['replicant_role'] = 'replica'
    hostvars['s2']['replicant_role'] = 'master'
    shop = inventory.installations(hostvars, groups)['shop']
    assert shop['master'] == 's2' and shop['replicas'] == ['s1', 's3']


@pytest.mark.parametrize('change, message', [
    (lambda hv, g: g.update(mysql_master=['s1', 's2', 'c1']), 'installation shop has 2 masters (s1, s2)'),
    (lambda hv, g: g.update(mysql_master=['c1']), 'installation shop has no master'),
    (lambda hv, g: hv['s2'].update(replicant_master='c1'), 's2: replicant_master c1 is not a server of its installation shop'),
    (lambda hv, g: hv['s3'].update(replicant_server_id=2), 's2 and s3 share replicant_server_id 2 in installation shop'),
    (lambda hv, g: hv['s3'].update(replicant_role='boss'), "s3: replicant_role must be one of master, replica, spare"),
])
def test_problems_name_the_host_and_what_to_fix(change, message):
    hostvars, groups = two_installations()
    change(hostvars, groups)
    found = inventory.installations(hostvars, groups)
    assert any(message in p for p in found['shop']['problems']), found['shop']['problems']
    assert found['crm']['problems'] == []          # judged on its own
    with pytest.raises(ValueError, match='Nothing was changed'):
        inventory.plan(hostvars, groups, names='shop')
    assert inventory.plan(hostvars, groups, names='crm')['selected'] == ['crm']


def test_same_server_ids_in_different_installations_are_fine():
    hostvars, groups = two_installations()
    assert inventory.plan(hostvars, groups)['selected'] == ['shop', 'crm']


def test_select_by_name_host_all_or_one():
    hostvars, groups = two_installations()
    found = inventory.installations(hostvars, groups)
    assert inventory.select(found) == ['shop', 'crm']
    assert inventory.select(found, names='crm') == ['crm']
    assert inventory.select(found, names='crm, shop') == ['crm', 'shop']
    assert inventory.select(found, names=['shop']) == ['shop']
    assert inventory.select(found, names='all', default='one') == ['shop', 'crm']
    assert inventory.select(found, host='c3') == ['crm']
    with pytest.raises(ValueError, match='name the one to act on with -e installation=NAME'):
        inventory.select(found, default='one')
    with pytest.raises(ValueError, match='no installation named hr'):
        inventory.select(found, names='hr')
    with pytest.raises(ValueError, match='x9 is not a server of the inventory'):
        inventory.select(found, host='x9')
    with pytest.raises(ValueError, match='c3 belongs to installation crm, not shop'):
        inventory.select(found, names='shop', host='c3')


def test_limit_selects_installations_and_leaders():
    hostvars, groups = two_installations()
    plan = inventory.plan(hostvars, groups, play_hosts=['s2', 's3'])
    assert plan['selected'] == ['shop'] and plan['leaders'] == ['s2']
    assert plan['installations']['shop']['complete'] is False
    with pytest.raises(ValueError, match='--limit leaves out s1 of installation shop'):
        inventory.plan(hostvars, groups, play_hosts=['s2', 's3'], require_complete=True)
    plan = inventory.plan(hostvars, groups, play_hosts=['c1', 'c2', 'c3', 's1', 's2', 's3'], require_complete=True)
    assert plan['leaders'] == ['s1', 'c1'] and plan['by_host']['c2'] == 'crm'


def test_installation_objects_from_the_mapping():
    hostvars, groups = two_installations()
    shop = inventory.Installation(inventory.installations(hostvars, groups)['shop'])
    assert shop.master.name == 's1' and [r.name for r in shop.replicas] == ['s2', 's3']
    assert shop.by_name['s3'].declared_master == 's2' and shop.by_name['s3'].promotion == 'excluded'
    assert shop.master.login['login_unix_socket'] == '/run/10.0.1.1.sock' and shop.master.repl_user == 'repl'


# -- routing (issue 12) ----------------------------------------------------------------------------
def test_no_router_variables_give_router_none():
    hostvars, groups = two_installations()
    found = inventory.installations(hostvars, groups)
    assert found['shop']['router'] == dict(type='none')


def test_router_variables_of_an_installation_become_the_router_option():
    hostvars, groups = two_installations()
    for h in ('s1', 's2', 's3'):
        hostvars[h].update(replicant_router='haproxy', replicant_haproxy_socket='/run/haproxy/admin.sock',
                           replicant_haproxy_backend='shop_write', replicant_router_timeout='1.5')
    hostvars['s2']['replicant_haproxy_server'] = 'shop-db2'
    found = inventory.installations(hostvars, groups)
    assert found['shop']['router'] == dict(type='haproxy', socket='/run/haproxy/admin.sock', backend='shop_write',
                                           timeout=1.5, server_names=dict(s1='s1', s2='shop-db2', s3='s3'))
    assert found['shop']['problems'] == []
    assert found['crm']['router'] == dict(type='none')  # another installation, its own routing


def test_router_command_and_disagreeing_servers():
    hostvars, groups = two_installations()
    for h in ('c1', 'c2', 'c3'):
        hostvars[h].update(replicant_router='command', replicant_router_command=['/usr/local/bin/vip', 'crm'])
    hostvars['c3']['replicant_router_command'] = ['/usr/local/bin/other']
    crm = inventory.installations(hostvars, groups)['crm']
    assert crm['router']['command'] == ['/usr/local/bin/vip', 'crm']
    assert crm['problems'] == ['c1 and c3 of installation crm disagree on replicant_router_command: set it once for '
                               'the installation']


def test_leaves_first_takes_the_deepest_replicas_first_and_the_master_last():
    from ansible_collections.replicant.mysql.plugins.module_utils.inventory import leaves_first
    tree = dict(master='s1', replicas={'s2': 's1', 's3': 's2', 's4': 's1', 's5': 's3'})
    assert leaves_first(tree) == ['s5', 's3', 's2', 's4', 's1']
    assert leaves_first(dict(master='s1', replicas={'s2': 's1', 's3': 's1'})) == ['s2', 's3', 's1']
    assert leaves_first(dict(master=None, replicas={'a': 'b', 'b': 'a'})) == ['a', 'b']   # a cycle ends
