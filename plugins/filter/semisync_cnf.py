# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option file lines of semi-synchronous replication for a server's place (the rule lives in module_utils/semisync.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: semisync_cnf
short_description: The semi-synchronous replication options of a server for its place (master or replica)
version_added: 0.1.0
description:
  - Turns a server's semi-sync settings (the inventory's C(replicant_semisync*) variables) into the options its
    option file holds in a place, by the one rule of C(plugins/module_utils/semisync.py) that the promotions also
    apply at run time - the replica side on every server that takes part, the master side on the master only - and
    the plugins to load first where semi-sync is no built-in (MySQL). See docs/semisync.md.
  - Fails with the host's name and what to fix for a bad setting.
options:
  _input:
    description: The settings, a dict with C(enabled), C(wait_point), C(timeout), C(wait_for_count); C(enabled) null gives nothing.
    type: dict
    required: true
  place:
    description: The server's place.
    type: str
    choices: [master, replica]
    required: true
  flavor:
    description: The server's flavor and, for MySQL, version (C(mariadb), C(mysql), C(mysql 8.0.20)).
    type: str
    default: mariadb
  host:
    description: The host named in an error.
    type: str
    default: server
'''

EXAMPLES = r'''
- name: Write the semi-sync options of the master
  replicant.mysql.mysql_cnf:
    path: /etc/mysql/mariadb.conf.d/60-replicant.cnf
    options: "{{ ({'enabled': true, 'timeout': 5000} | replicant.mysql.semisync_cnf('master')).options }}"
'''

RETURN = r'''
_value:
  description: C(options) (option name to value; empty without settings) and C(plugins) (pairs of plugin name and library).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.replicant.mysql.plugins.module_utils import semisync


def semisync_cnf(given, place, flavor='mariadb', host='server'):
    given = dict((k, v) for k, v in (given or {}).items() if v not in (None, ''))
    try:
        return semisync.cnf(semisync.settings(given, host) if 'enabled' in given else None, place, flavor)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'semisync_cnf': semisync_cnf}
