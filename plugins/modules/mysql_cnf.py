#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_cnf
short_description: Set or remove options in a my.cnf-style file, and apply the dynamic ones at run time
description:
  - The seed's "add a line to the configuration file" primitive. Sets (or, with O(state=absent), removes)
    options in one section of an option file, changing nothing else - comments, C(!include) and
    C(!includedir) lines, bare options such as C(skip-name-resolve) and the order of lines stay as they are.
    Option names compare with C(-) and C(_) as the same, as the server reads them.
  - Reports which changed options the server can take at run time and whether a restart is needed
    (a static option changed), so that a handler can restart only then.
  - With O(apply=true), dynamic options whose running value differs are set with C(SET GLOBAL)
    (C(SET PERSIST) on MySQL 8 with O(persist=true)); this needs the connection options.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  path:
    description: The option file.
    type: path
    required: true
  section:
    description: Section of the file, without brackets.
    type: str
    default: mysqld
  options:
    description:
      - Option names and values. A null value writes a bare option (C(log-slave-updates)); booleans are
        written as C(ON)/C(OFF). With O(state=absent) only the names count.
    type: dict
    required: true
  state:
    description: Whether the options should be present with these values, or absent.
    type: str
    choices: [present, absent]
    default: present
  apply:
    description:
      - Also set the dynamic options on the running server when its value differs.
      - And compare the static options with the running server, so that a restart an earlier run owed
        (it wrote the file, then failed) is still reported in RV(restart_required) (the task then reports a change).
    type: bool
    default: false
  persist:
    description: With O(apply), use C(SET PERSIST) (MySQL 8 and later) instead of C(SET GLOBAL).
    type: bool
    default: false
  mode:
    description: Permissions of the file when the module creates it.
    type: raw
    default: '0644'
attributes:
  check_mode:
    support: full
    description: Reports the lines it would change and the statements it would run; changes nothing.
  diff_mode:
    support: full
    description: Shows the file before and after.
'''

EXAMPLES = r'''
- name: Make a server a replica-ready master
  replicant.mysql.mysql_cnf:
    path: /etc/mysql/mariadb.conf.d/60-replication.cnf
    options:
      server_id: 11
      log_bin: binlog
      binlog_format: ROW
      log_slave_updates:
      gtid_strict_mode: "ON"
    apply: true
  notify: Restart the server

- name: Remove an option
  replicant.mysql.mysql_cnf:
    path: /etc/mysql/my.cnf
    options:
      skip-slave-start:
    state: absent
'''

RETURN = r'''
changed_options:
  description: Canonical names (with C(_)) of the options whose line changed.
  returned: always
  type: list
  elements: str
  sample: [server_id, log_bin]
restart_required:
  description: Whether a changed option is static, so that only a restart applies it.
  returned: always
  type: bool
  sample: true
static_options:
  description: The changed options that need a restart.
  returned: always
  type: list
  elements: str
dynamic_options:
  description: The changed (or, with O(apply), differing) options the server can change at run time.
  returned: always
  type: list
  elements: str
statements:
  description: Statements run (or, in check mode, that would run) to apply dynamic options.
  returned: always
  type: list
  elements: str
  sample: ["SET GLOBAL read_only = ON"]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils import cnf
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, connect
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            path=dict(type='path', required=True),
            section=dict(type='str', default='mysqld'),
            options=dict(type='dict', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            apply=dict(type='bool', default=False),
            persist=dict(type='bool', default=False),
            mode=dict(type='raw', default='0644'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    before = ''
    if os.path.exists(p['path']):
        with open(p['path']) as handle:
            before = handle.read()
    after, changed_options = cnf.edit(before, p['section'], p['options'], p['state'])
    result = dict(changed=after != before, changed_options=changed_options,
                  static_options=[o for o in changed_options if not cnf.is_dynamic(o)],
                  dynamic_options=[o for o in changed_options if cnf.is_dynamic(o)], statements=[])
    result['restart_required'] = bool(result['static_options'])
    if module._diff:
        result['diff'] = dict(before=before, after=after, before_header=p['path'], after_header=p['path'])
    if result['changed'] and not module.check_mode:
        tmp = p['path'] + '.replicant-tmp'
        with open(tmp, 'w') as handle:
            handle.write(after)
        if before == '' and not os.path.exists(p['path']):
            module.set_mode_if_different(tmp, p['mode'], False)
        module.atomic_move(tmp, p['path'])
    if p['apply']:
        server = connect(module)
        try:
            pending = cnf.pending_restart(server, p['options'], p['state'])
            result['static_options'] = sorted(set(result['static_options']) | set(pending))
            result['restart_required'] = bool(result['static_options'])
            if p['state'] == 'present':
                result['statements'] = cnf.apply_dynamic(server, p['options'], persist=p['persist'], check_mode=module.check_mode)
        except (ServerError, ValueError) as exc:
            module.fail_json(msg='%s (the file %s was %s)' % (exc, p['path'], 'updated' if result['changed'] else 'unchanged'))
        finally:
            server.close()
        result['dynamic_options'] = sorted(set(result['dynamic_options']) | {s.split()[2] for s in result['statements']})
        result['changed'] = result['changed'] or bool(result['statements']) or result['restart_required']
    module.exit_json(**result)


if __name__ == '__main__':
    main()
