# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The documentation of the action plugin plugins/action/mysql_inventory.py (it runs on the controller).
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: mysql_inventory
short_description: Write an installation's new topology back into a YAML inventory, or as a fragment
version_added: 0.2.0
description:
  - Moves the servers of one installation between the groups C(mysql_master), C(mysql_replicas) and C(mysql_spares)
    of a YAML inventory file, keeping each host's variables with it, and sets C(replicant_master) on the replicas.
    Everything else is kept; vaulted values keep their ciphertext. Comments are not kept (the file is loaded and
    dumped with Ansible's YAML loader and dumper).
  - In check mode it only says whether the file can be rewritten (readable YAML in the README's layout, every server
    listed in a role group there, the destination writable) and what would change. The promotion role runs it
    before the switchover, so that a file that cannot be written is refused before anything changes.
  - For inventories that are no file this module can rewrite (inventory plugins, AWX/AAP sources), O(fragment) writes
    the same topology as host variables (C(replicant_role), C(replicant_master)) in a small YAML file, to be loaded
    after the inventory (C(-i inventory -i fragment)); the text is returned as RV(fragment_text) too.
  - Runs on the controller (an action plugin, which reads and writes files there, whatever host the task is for).
author: replicant.mysql developers (@replicant-mysql)
options:
  path:
    description: The inventory file to write. Without it only O(fragment) is written (or nothing).
    type: path
  source:
    description: The inventory file to start from; defaults to O(path).
    type: path
  fragment:
    description: A file to write the topology to as host variables (see the description).
    type: path
  installation:
    description: The installation's name (for the fragment's comment and messages).
    type: str
  topology:
    description: The installation's topology.
    type: dict
    required: true
    suboptions:
      master:
        description: The master.
        type: str
        required: true
      replicas:
        description: Each replica and the server it replicates from.
        type: dict
        default: {}
      spares:
        description: Servers in no replication (a former master left out, for instance).
        type: list
        elements: str
        default: []
  mode:
    description: File mode of what is written.
    type: str
    default: '0600'
notes:
  - Supports check mode and diff mode.
seealso:
  - module: replicant.mysql.mysql_switchover
  - module: replicant.mysql.mysql_failover
'''

EXAMPLES = r'''
- name: Can the inventory be rewritten? (before the switchover)
  replicant.mysql.mysql_inventory:
    path: inventories/prod.yml
    topology: {master: db2, replicas: {db1: db2, db3: db2}}
  check_mode: true

- name: Write it
  replicant.mysql.mysql_inventory:
    path: inventories/prod.yml
    topology: {master: db2, replicas: {db1: db2, db3: db2}}

- name: Inventory from a plugin or AWX, write a fragment to load after it
  replicant.mysql.mysql_inventory:
    fragment: /srv/ansible/shop-topology.yml
    installation: shop
    topology: {master: db2, replicas: {db1: db2, db3: db2}}
'''

RETURN = r'''
changed:
  description: Whether a file was (or, in check mode, would be) written.
  returned: always
  type: bool
path:
  description: The inventory file written.
  returned: when O(path) is given
  type: str
fragment_text:
  description: The topology as host variables (YAML), whether or not O(fragment) is written.
  returned: always
  type: str
diff:
  description: Before and after of O(path) (with C(--diff)).
  returned: when O(path) is given
  type: dict
'''
