# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing a new topology back into a YAML inventory (module_utils/inventory_file.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import yaml

from ansible_collections.replicant.mysql.plugins.plugin_utils import inventory_file

VAULT = '''!vault |
          $ANSIBLE_VAULT;1.1;AES256
          62313365396662343061393464336163383764373764613633653634306231386433626436623361
          6134333665353966363534333632666535333761666131620a663537646436643839616531643561
          6336'''

FLEET = '''all:
  children:
    mysql:
      vars:
        replicant_login_user: admin
        replicant_login_password: %s
      children:
        mysql_master:
          hosts:
            s1: {replicant_host: 10.0.1.1}
            c1: {replicant_host: 10.0.2.1}
        mysql_replicas:
          hosts:
            s2: {replicant_host: 10.0.1.2, replicant_master: s1}
            s3: {replicant_host: 10.0.1.3, replicant_master: s1}
            c2: {replicant_host: 10.0.2.2, replicant_master: c1}
        shop:
          vars: {replicant_installation: shop}
          hosts: {s1: null, s2: null, s3: null}
        crm:
          vars: {replicant_installation: crm}
          hosts: {c1: null, c2: null}
''' % VAULT


def plain(text):
    """The document with vaulted values as their ciphertext (for comparisons)."""
    class Loader(yaml.SafeLoader):
        pass
    Loader.add_constructor('!vault', lambda loader, node: 'VAULT:' + loader.construct_scalar(node))
    return yaml.load(text, Loader=Loader)


def test_rewrite_moves_one_installation_and_keeps_the_rest():
    topology = dict(master='s2', replicas={'s1': 's2', 's3': 's2'}, spares=[])
    out = plain(inventory_file.rewrite(FLEET, topology))
    groups = out['all']['children']['mysql']['children']
    assert list(groups['mysql_master']['hosts']) == ['c1', 's2']
    assert groups['mysql_master']['hosts']['s2'] == {'replicant_host': '10.0.1.2'}
    assert groups['mysql_replicas']['hosts']['s1'] == {'replicant_host': '10.0.1.1', 'replicant_master': 's2'}
    assert groups['mysql_replicas']['hosts']['c2'] == {'replicant_host': '10.0.2.2', 'replicant_master': 'c1'}
    assert groups['shop'] == {'vars': {'replicant_installation': 'shop'}, 'hosts': {'s1': None, 's2': None, 's3': None}}
    before = plain(FLEET)['all']['children']['mysql']['vars']['replicant_login_password']
    assert out['all']['children']['mysql']['vars']['replicant_login_password'] == before
    assert before.startswith('VAULT:$ANSIBLE_VAULT;1.1;AES256')


def test_a_left_out_master_becomes_a_spare_and_a_rerun_changes_nothing():
    topology = dict(master='s2', replicas={'s3': 's2'}, spares=['s1'])
    once = inventory_file.rewrite(FLEET, topology)
    groups = plain(once)['all']['children']['mysql']['children']
    assert groups['mysql_spares']['hosts'] == {'s1': {'replicant_host': '10.0.1.1'}}
    assert inventory_file.rewrite(once, topology) == once


def test_check_says_what_keeps_a_file_from_being_rewritten():
    topology = dict(master='s2', replicas={'s1': 's2'}, spares=[])
    assert inventory_file.check(FLEET, topology) == ''
    assert 'no top-level "all"' in inventory_file.check('mysql: {}\n', topology)
    assert 'does not define the group mysql_master' in inventory_file.check('all:\n  hosts: {s1: {}}\n', topology)
    assert 'x9 is not listed' in inventory_file.check(FLEET, dict(topology, spares=['x9']))
    assert 'not YAML' in inventory_file.check('all: [\n', topology)


def test_fragment_is_host_variables():
    text = inventory_file.fragment(dict(master='s2', replicas={'s1': 's2'}, spares=['s3']), 'shop')
    hosts = yaml.safe_load(text)['all']['hosts']
    assert hosts == {'s2': {'replicant_role': 'master', 'replicant_master': None},
                     's1': {'replicant_role': 'replica', 'replicant_master': 's2'},
                     's3': {'replicant_role': 'spare', 'replicant_master': None}}
    assert 'installation shop' in text


def test_diffs_show_no_secret():
    shown = inventory_file.masked(FLEET + '    replicant_repl_password: "lab-repl-secret"\n    - db_token: abc\n')
    assert 'lab-repl-secret' not in shown and 'abc' not in shown and '6134333665' not in shown
    assert 'replicant_login_password: ********' in shown and 'replicant_login_user: admin' in shown
