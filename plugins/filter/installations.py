# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the inventory into installations (the rules live in module_utils/inventory.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: installations
short_description: The replication installations of the inventory and what a playbook acts on
version_added: 0.2.0
description:
  - Groups the servers of the inventory into installations (the host variable C(replicant_installation); servers
    without it form the installation C(default)), finds each installation's master, replicas and spares (the
    groups C(mysql_master), C(mysql_replicas), C(mysql_spares), or the host variable C(replicant_role)), builds
    the O(replicant.mysql.mysql_switchover#module:servers) list of the installation-wide modules, and selects the
    installations a procedure acts on.
  - Fails with what to fix when a selected installation has no master or several, when a server's
    C(replicant_master) is outside its installation, when two servers share a C(replicant_server_id), when the
    name or host is unknown, and (O(require_complete)) when C(--limit) cuts an installation.
  - The rules, shared with the plain-Python loader, are in C(plugins/module_utils/inventory.py); see
    docs/installations.md.
options:
  _input:
    description: C(hostvars).
    type: dict
    required: true
  groups:
    description: C(groups).
    type: dict
    required: true
  play_hosts:
    description: The hosts of the play (C(ansible_play_hosts_all)); installations with no server among them are left out.
    type: list
    elements: str
  names:
    description: Installation name(s) to act on (a name, a list, comma-separated names, or C(all)).
    type: raw
  host:
    description: Act on the installation of this server (a clone's target, a replica to move, a new master).
    type: str
  default:
    description: What to select when neither O(names) nor O(host) is given.
    type: str
    choices: [all, one]
    default: all
  where:
    description: Where the modules run, which decides between socket and TCP (C(controller) or C(host)).
    type: str
    choices: [controller, host]
    default: controller
  require_complete:
    description: Refuse an installation that C(--limit) includes only in part.
    type: bool
    default: false
  strict:
    description: Refuse a selected installation with problems (false for reports, which show them).
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Model the installations of this run (once)
  ansible.builtin.set_fact:
    replicant_plan: "{{ hostvars | replicant.mysql.installations(groups, ansible_play_hosts_all, names=installation | default(none)) }}"
  run_once: true
  no_log: true
'''

RETURN = r'''
_value:
  description:
    - C(installations) (name to installation; each with name, master, masters, replicas, spares, members,
      in_play, complete, leader, servers, leaves_first, problems), C(selected) (the names acted on), C(leaders) (one host per
      selected installation, which runs its controller-side tasks) and C(by_host) (host to installation name).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.replicant.mysql.plugins.module_utils import inventory


def installations(hostvars, groups, play_hosts=None, names=None, host=None, default='all', where='controller',
                  require_complete=False, strict=True):
    try:
        return inventory.plan(hostvars, groups, play_hosts, names=names or None, host=host or None, default=default,
                              where=where, require_complete=require_complete, strict=strict)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'installations': installations}
