# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installations from an Ansible inventory, for plain Python on the controller (ansible-core's inventory API).

The rules are module_utils/inventory.py's (the same as the filter replicant.mysql.installations); this file
only reads the inventory, which needs controller code, and so lives in plugin_utils, not module_utils.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecret
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.replicant.mysql.plugins.module_utils.inventory import Installation, installations


def load(sources, name=None, vault_password_file=None, where='controller'):
    """Installations from an Ansible inventory (a path or a list of paths), through ansible-core's inventory API.

    Returns {name: Installation}, or the one Installation ``name``. Variables are templated as in a play
    (vaulted ones too, with ``vault_password_file``).
    """
    loader = DataLoader()
    if vault_password_file:
        with open(vault_password_file, 'rb') as handle:
            loader.set_vault_secrets([('default', VaultSecret(handle.read().strip()))])
    manager = InventoryManager(loader=loader, sources=sources)
    variables = VariableManager(loader=loader, inventory=manager)
    groups = dict((g, [h.name for h in group.get_hosts()]) for g, group in manager.groups.items())
    hostvars = HostVars(inventory=manager, variable_manager=variables, loader=loader)
    found = installations(hostvars, groups, where=where)
    out = dict((k, Installation(v)) for k, v in found.items())
    if name is None:
        return out
    if name not in out:
        raise ValueError('no installation named %s in %s; the installations are: %s' % (name, sources, ', '.join(out)))
    return out[name]
