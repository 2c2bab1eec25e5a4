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
    with O(state=unlocked) ends it, or until it expires, whichever comes first.
  - The lock is bound to its play. It expires O(lease) seconds after the last sign that the play still
    runs, and at the latest O(timeout) seconds after it was taken. Signs of life are the
    C(ansible-playbook) process the task ran under, when the play runs on the host itself (a local
    connection; see O(bind_to_play)), and every later task with O(state=locked) for the same server,
    which renews the lease. So an interrupted or failed play leaves the server locked for at most
    O(lease) seconds.
  - The holder's state lives in a directory only the running user can use (C(/run/replicant) for root,
    mode 0700, created without following symbolic links). A state file is trusted only when it is the
    user's own private file and its pid is a live lock holder of the same user, started at the recorded
    time, for the same server; any other file is ignored with a warning and no process is signalled.
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
    description:
      - Seconds after which the holder releases the lock by itself, however often it was renewed.
      - From 1 to 86400 (one day); anything else fails the task before anything is locked.
    type: int
    default: 300
  lease:
    description:
      - Seconds the lock outlives the last sign of life of its play (see the description). From 1 to O(timeout).
      - Default 60 seconds (or O(timeout) when shorter) when the task found its play on the host, else
        O(timeout) (a play on another machine cannot be seen; give a lease and renew the lock with further
        O(state=locked) tasks while it should last).
    type: int
  bind_to_play:
    description:
      - Follow the C(ansible-playbook) process the task runs under, when it runs on the host, as a sign of
        life of the play. false leaves only renewals and O(timeout).
    type: bool
    default: true
  pause_replication:
    description:
      - On a replica, stop replication before the lock (so that its data and position stand still) and start it
        again when the lock is let go, by the holder itself, whatever ends it (O(state=unlocked), the lease or
        O(timeout) over, the play gone). An interrupted play thus leaves the replica unlocked and replicating.
      - Only with O(state=locked) and no O(command). Nothing happens on a server that is no replica.
    type: bool
    default: false
  lock_wait_timeout:
    description: Seconds FLUSH TABLES WITH READ LOCK may wait for running statements before the task fails (1 to 3600).
    type: int
    default: 10
  command:
    description: Run this command (argv list) on the host while the lock is held, then unlock.
    type: list
    elements: str
  state_file:
    description:
      - File on the host where the holder records its pid, connection id and position.
        By default one per server in C(/run/replicant) (root) or a private directory of the user, derived
        from the connection options.
      - Its directory must belong to the running user and be writable by nobody else (no symbolic link);
        otherwise the task fails and nothing is locked or released.
    type: path
attributes:
  check_mode:
    support: full
    description: Reports whether a lock is held and what would be done; takes, renews and releases no lock.
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
  description: Unix time at which the holder releases the lock by itself unless renewed (the play's signs of life renew it).
  returned: when locked
  type: float
bound_to_play:
  description: Process id of the C(ansible-playbook) whose life renews the lock, or null when none was found on the host.
  returned: when locked
  type: int
renewed:
  description: Whether the task renewed the lease of a lock already held.
  returned: always
  type: bool
state_file:
  description: The holder's state file.
  returned: always
  type: str
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

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils import lock_holder
from ansible_collections.replicant.mysql.plugins.module_utils.lock_holder import LockError
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, run_module
from ansible_collections.replicant.mysql.plugins.module_utils.replication import flush_and_lock, unlock
from ansible_collections.replicant.mysql.plugins.module_utils.server import server_from_params


def server_key(params):
    """What names the server of the connection options (its socket, or address and port)."""
    return '%s|%s|%s' % (params['login_unix_socket'], params['login_host'], params['login_port'])


def default_state_file(params, create=True):
    return lock_holder.state_file_for(server_key(params), create=create)


def with_command(module, server):
    p = module.params
    if module.check_mode:
        return dict(changed=True, locked=False, command_rc=None,
                    msg='would lock %s, run %s and unlock' % (server, ' '.join(p['command'])))
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
            lease=dict(type='int'),
            bind_to_play=dict(type='bool', default=True),
            pause_replication=dict(type='bool', default=False),
            lock_wait_timeout=dict(type='int', default=10),
            command=dict(type='list', elements='str'),
            state_file=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    where = server_from_params(p)
    try:
        lock_holder.check_times(p['timeout'], p['lease'], p['lock_wait_timeout'])
    except ValueError as exc:
        module.fail_json(msg='%s: %s; nothing was locked' % (where, exc))
    if p['command'] is not None and not p['command']:
        module.fail_json(msg='%s: command must name a program (an empty list was given); nothing was locked' % where)
    if p['command']:
        run_module(module, lambda server: with_command(module, server))
    key = server_key(p)
    problems = []
    try:
        if p['state_file']:
            state_file = p['state_file']
            lock_holder.check_private_dir(os.path.dirname(os.path.abspath(state_file)))
        else:
            state_file = default_state_file(p, create=p['state'] == 'locked' and not module.check_mode)
    except LockError as exc:
        module.fail_json(msg='%s: %s; nothing was locked or released' % (where, exc))
    if os.path.isdir(os.path.dirname(state_file)) and not module.check_mode:
        with lock_holder.exclusive(state_file):
            result = act(module, state_file, key, where, problems)
    else:
        result = act(module, state_file, key, where, problems)
    for problem in problems:
        module.warn(problem)
    module.exit_json(**result)


def act(module, state_file, key, where, problems):
    p = module.params
    held = lock_holder.read_state(state_file, key, problems)
    result = dict(changed=False, locked=held is not None, state_file=state_file, renewed=False)
    try:
        if p['state'] == 'locked' and held is None:
            if not module.check_mode:
                play = lock_holder.find_play() if p['bind_to_play'] else None
                held = lock_holder.hold(lambda: server_from_params(p), state_file, p['timeout'], p['lock_wait_timeout'],
                                        lease=p['lease'], play=play, server_key=key,
                                        pause_replication=p['pause_replication'])
            result.update(changed=True, locked=True)
        elif p['state'] == 'locked':
            if not module.check_mode:
                held = lock_holder.renew(state_file, key) or held
                result['renewed'] = True
        elif p['state'] == 'unlocked' and held is not None:
            if not module.check_mode:
                lock_holder.release(state_file, make_server=lambda: server_from_params(p), server_key=key)
            result.update(changed=True, locked=False)
    except (LockError, OSError) as exc:
        module.fail_json(msg='%s: %s' % (where, exc))
    if held is not None and result['locked']:
        result.update(position=held['position'], holder_pid=held['pid'], expires=held['expires'],
                      bound_to_play=held.get('play_pid'))
    return result


if __name__ == '__main__':
    main()
