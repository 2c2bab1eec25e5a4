# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a new topology back into a YAML inventory file, or as a small fragment.

``rewrite(text, topology)`` moves the installation's hosts between the role groups (mysql_master,
mysql_replicas, mysql_spares) wherever those groups are defined in the file, keeps each host's entry
(its variables) with it, and sets ``replicant_master``. Everything else (other installations, other
groups and variables, vaulted values, whose ciphertext is kept as it is) is loaded and dumped again
through Ansible's own YAML loader and dumper; comments are not kept. ``check(text, topology)``
says why a file cannot be rewritten (before anything changes). ``fragment(topology)`` is the same
topology as host variables (``replicant_role``, ``replicant_master``) for inventories that are no
file this collection can rewrite (inventory plugins, AWX): load it after the inventory.

``topology``: dict(master=name, replicas={name: its master}, spares=[names]) of one installation.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

import yaml
from ansible.parsing.yaml.dumper import AnsibleDumper
from ansible.parsing.yaml.loader import AnsibleLoader

from ansible_collections.replicant.mysql.plugins.module_utils.inventory import ROLE_GROUPS


def load(text):
    return AnsibleLoader(text).get_single_data()


def dump(doc):
    return yaml.dump(doc, Dumper=AnsibleDumper, default_flow_style=False, sort_keys=False, indent=2)


def _groups(node, found=None):
    """Every group definition in the tree: [(name, body)] (a group may be defined in several places)."""
    found = [] if found is None else found
    for name, body in (node or {}).items():
        if not isinstance(body, dict):
            continue
        found.append((name, body))
        _groups(body.get('children') or {}, found)
    return found


def _names(topology):
    return [topology['master']] + list(topology['replicas']) + list(topology.get('spares') or [])


def check(text, topology):
    """Why ``text`` cannot be rewritten with ``topology`` ('' when it can)."""
    try:
        doc = load(text)
    except Exception as exc:  # any YAML or vault error: the file is not ours to rewrite
        return 'it is not YAML the collection can read (%s)' % exc
    if not isinstance(doc, dict) or not isinstance(doc.get('all'), dict):
        return 'it has no top-level "all" group (the layout of README.md, "Describing an installation")'
    groups = _groups({'all': doc['all']})
    defined = [name for name, _body in groups if name in ROLE_GROUPS.values()]
    if ROLE_GROUPS['master'] not in defined:
        return 'it does not define the group %s' % ROLE_GROUPS['master']
    listed = set()
    for name, body in groups:
        if name in ROLE_GROUPS.values():
            listed.update((body.get('hosts') or {}).keys())
    missing = [h for h in _names(topology) if h not in listed]
    if missing:
        return ('%s %s not listed in any of the groups %s in this file (host entries elsewhere, e.g. another file or an '
                'inventory plugin)' % (', '.join(missing), 'is' if len(missing) == 1 else 'are',
                                       ', '.join(ROLE_GROUPS.values())))
    return ''


def rewrite(text, topology):
    """The inventory ``text`` with ``topology`` applied (see the module docstring)."""
    problem = check(text, topology)
    if problem:
        raise ValueError(problem)
    doc = load(text)
    groups = _groups({'all': doc['all']})
    role_bodies = {}
    entries = {}
    for name, body in groups:
        if name in ROLE_GROUPS.values():
            role_bodies.setdefault(name, body)
            hosts = body.get('hosts') or {}
            for host in _names(topology):
                if host in hosts:
                    entries.setdefault(host, hosts[host])
                    del hosts[host]
            body['hosts'] = hosts
    master_body = role_bodies[ROLE_GROUPS['master']]
    parent = next((body for _n, body in groups if master_body in (body.get('children') or {}).values()), doc['all'])
    wanted = [('master', [topology['master']]), ('replica', list(topology['replicas'])),
              ('spare', list(topology.get('spares') or []))]
    for role, hosts in wanted:
        group = ROLE_GROUPS[role]
        if hosts and group not in role_bodies:
            parent.setdefault('children', {})[group] = role_bodies[group] = {'hosts': {}}
        for host in hosts:
            entry = entries.get(host)
            entry = dict(entry) if isinstance(entry, dict) else {}
            entry.pop('replicant_role', None)
            if role == 'replica':
                entry['replicant_master'] = topology['replicas'][host]
            else:
                entry.pop('replicant_master', None)
            role_bodies[group].setdefault('hosts', {})[host] = entry or None
    for name, body in groups:
        if name in ROLE_GROUPS.values() and not body.get('hosts'):
            body['hosts'] = None
        for host, entry in ((body.get('hosts') or {}).items() if name not in ROLE_GROUPS.values() else ()):
            if isinstance(entry, dict) and host in topology['replicas'] and 'replicant_master' in entry:
                entry['replicant_master'] = topology['replicas'][host]
    return dump(doc)


_SECRET = re.compile(r'^(\s*(?:-\s+)?[\w.-]*(?:password|passwd|secret|token|_key)[\w.-]*\s*:\s*)(?!\s*$)(.*)$',
                     re.IGNORECASE)
_VAULT_BODY = re.compile(r'^\s+(?:\$ANSIBLE_VAULT|[0-9a-f]{20,}\s*$)')


def masked(text):
    """``text`` (an inventory) with the values of password-like variables and vault bodies masked, for --diff."""
    out = []
    for line in (text or '').splitlines(True):
        if _VAULT_BODY.match(line):
            continue
        match = _SECRET.match(line.rstrip('\n'))
        out.append('%s********\n' % match.group(1) if match else line)
    return ''.join(out)


def fragment(topology, installation=None):
    """The topology as a YAML inventory of host variables, to be loaded after the inventory."""
    hosts = {topology['master']: {'replicant_role': 'master', 'replicant_master': None}}
    for host, master in topology['replicas'].items():
        hosts[host] = {'replicant_role': 'replica', 'replicant_master': master}
    for host in topology.get('spares') or []:
        hosts[host] = {'replicant_role': 'spare', 'replicant_master': None}
    comment = '# The topology of installation %s written by replicant.mysql; load it after the inventory\n' \
        '# (ansible-playbook -i <inventory> -i <this file>): replicant_role wins over the groups.\n' % (installation or '-')
    return comment + dump({'all': {'hosts': hosts}})
