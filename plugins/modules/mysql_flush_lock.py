#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_flush_lock
short_description: Hold FLUSH TABLES WITH READ LOCK across tasks, or around one command
description:
  - The C(flush_and_lock_database) / C(unlock_database) primitives.
  - A lock lives only as long as its connection, and a module's process ends with its task. With
    O(state=locked) the module therefore starts a small detached holder process on the host that takes
    the lock, reports the binlog position and GTID read under it, and keeps the session until a task
    with O(state=unlocked) ends it, or until O(timeout) seconds have passed, whichever comes first.
    A failed play never leaves the server locked longer than O(timeout).
  - With O(command), the module takes the lock, reads the position, runs the command on the host and
    unlocks, all in one task (the lock is held only while the command runs).
  - Idempotent. O(state=locked) while a holder for the same server already holds the lock changes
    nothing and returns the position recorded under it; O(state=unlocked) with no holder changes nothing.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  state:
    description: C(locked) takes (and keeps) the lock; C(unlocked) releases it.
    type: str
    choices: [locked, unlocked]
    default: locked
  timeout:
    description: Seconds after which the holder releases the lock by itself.
    type: int
    default: 300
  lock_wait_timeout:
    description: Seconds FLUSH TABLES WITH READ LOCK may wait for running statements before the task fails.
    type: int
    default: 10
  command:
    description: Run this command (argv list) on the host while the lock is held, then unlock.
    type: list
    elements: str
  state_file:
    description:
      - File on the host where the holder records its pid, connection id and position.
        By default one per server under C(/tmp), derived from the connection options.
    type: path
attributes:
  check_mode:
    support: full
    description: Reports whether a lock is held and what would be done; takes no lock.
'''

EXAMPLES = r'''
- name: Lock the source and read its position
  replicant.mysql.mysql_flush_lock:
    login_unix_socket: /run/mysqld/mysqld.sock
    state: locked
    timeout: 600
  register: lock

- name: Copy while locked (the seed's snapshot procedure)
  ansible.builtin.command: tar -C /var/lib -czf /backup/mysql.tgz mysql
  changed_when: true

- name: Unlock
  replicant.mysql.mysql_flush_lock:
    login_unix_socket: /run/mysqld/mysqld.sock
    state: unlocked

- name: Lock, snapshot and unlock in one task
  replicant.mysql.mysql_flush_lock:
    login_unix_socket: /run/mysqld/mysqld.sock
    command: [lvcreate, --snapshot, --name, mysql-snap, --size, 10G, /dev/vg0/mysql]
'''

RETURN = r'''
locked:
  description: Whether a holder keeps the lock after the task.
  returned: always
  type: bool
  sample: true
position:
  description:
    - The master position read under the lock (keys file, pos, position, gtid_executed, server_id,
      server_uuid, flavor, version, binlog_enabled).
  returned: when a lock was taken or is held
  type: dict
holder_pid:
  description: Process id of the holder on the host.
  returned: when locked
  type: int
expires:
  description: Unix time at which the holder releases the lock by itself.
  returned: when locked
  type: float
command_rc:
  description: Exit code of O(command).
  returned: when command is given
  type: int
command_stdout:
  description: Output of O(command).
  returned: when command is given
  type: str
command_stderr:
  description: Error output of O(command).
  returned: when command is given
  type: str
'''

import hashlib

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.lock_holder import LockError, hold, read_state, release
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import flush_and_lock, unlock
from ansible_collections.replicant.mysql.plugins.module_utils.server import server_from_params


def default_state_file(params):
    key = '%s|%s|%s' % (params['login_unix_socket'], params['login_host'], params['login_port'])
    return '/tmp/replicant-flush-lock-%s.json' % hashlib.sha1(key.encode('utf-8')).hexdigest()[:16]


def with_command(module, server):
    p = module.params
    if module.check_mode:
        return dict(changed=False, locked=False, command_rc=None)
    try:
        position = flush_and_lock(server, p['lock_wait_timeout'])
        rc, out, err = module.run_command(p['command'])
    finally:
        unlock(server)
    if rc != 0:
        module.fail_json(msg='%s failed (exit %s) while %s was locked; the lock is released: %s'
                         % (' '.join(p['command']), rc, server, err.strip()),
                         command_rc=rc, command_stdout=out, command_stderr=err, position=position)
    return dict(changed=True, locked=False, position=position, command_rc=rc, command_stdout=out, command_stderr=err)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            state=dict(type='str', default='locked', choices=['locked', 'unlocked']),
            timeout=dict(type='int', default=300),
            lock_wait_timeout=dict(type='int', default=10),
            command=dict(type='list', elements='str'),
            state_file=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p['command']:
        run_module(module, lambda server: with_command(module, server))
    state_file = p['state_file'] or default_state_file(p)
    held = read_state(state_file)
    result = dict(changed=False, locked=held is not None, state_file=state_file)
    try:
        if p['state'] == 'locked' and held is None:
            if not module.check_mode:
                held = hold(lambda: server_from_params(p), state_file, p['timeout'], p['lock_wait_timeout'])
            result.update(changed=True, locked=True)
        elif p['state'] == 'unlocked' and held is not None:
            if not module.check_mode:
                release(state_file, make_server=lambda: server_from_params(p))
            result.update(changed=True, locked=False)
    except LockError as exc:
        module.fail_json(msg='%s: %s' % (server_from_params(p), exc))
    if held is not None and result['locked']:
        result.update(position=held['position'], holder_pid=held['pid'], expires=held['expires'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
