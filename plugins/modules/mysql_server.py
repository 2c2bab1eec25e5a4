#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_server
short_description: Start, stop or restart a MySQL/MariaDB server and wait until it is really up or down
description:
  - Brings one server on the target host to O(state) and waits for the result, so that the next
    task can rely on it.
  - With O(service), the host's service manager (systemd) does the work.
  - With O(defaults_file), the server is controlled directly, as the collection's lab does and as
    hosts with several servers and no unit per server need. The option file's C([mysqld]) section gives
    the datadir, pid file, socket, address and port. Starting runs C(mariadbd --defaults-file=...)
    (or C(mysqld)) detached, as the C(mysql) user when run as root, and waits until the server greets
    clients. Stopping sends SIGTERM, a clean shutdown that keeps every committed transaction, and waits
    until the process has gone.
  - Starting refuses an address and port already used by another process, and reports the last lines
    of the server's error log when it does not come up.
  - Starting also refuses an O(defaults_file) that belongs to a user other than root, the running user
    or O(run_as), or that others can write, because its options decide what the server runs.
  - Direct control never trusts the pid file alone. The process it names must also be this server, a
    C(mariadbd)/C(mysqld) (or O(binary)) whose command line names this O(defaults_file) or the server's
    datadir. A stale pid file (its process is gone or is another program) counts as a stopped server; it
    is reported as a warning and no process is signalled. When the server answers clients but its pid file
    names no such process, O(state=stopped) fails and stops nothing.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
options:
  state:
    description: What the server should be.
    type: str
    choices: [started, stopped, restarted]
    default: started
  defaults_file:
    description: The server's own option file, for direct control. One of O(defaults_file) and O(service) is required.
    type: path
  service:
    description: Name of the server's service (systemd unit), when the service manager controls it.
    type: str
  binary:
    description: Server binary for direct control; by default C(mariadbd), else C(mysqld), from the PATH or C(/usr/sbin).
    type: path
  run_as:
    description: System user the server runs as when started by root (a user name).
    type: str
    default: mysql
  timeout:
    description: Seconds to wait for a start or a stop to finish (1 to 86400); past it the task fails and says so.
    type: int
    default: 120
  empty_datadir:
    description:
      - With O(state=stopped) only, once the server has stopped, remove everything in this directory and leave it
        empty, owned by O(run_as) and its group, mode C(0750), creating it when missing (a mount point is kept, only
        its contents go). This is how a clone makes room on its target in the same run as the stop.
      - Under direct control it must be the datadir of O(defaults_file), else the task fails before stopping anything.
      - Refuses a relative path, C(/), a symbolic link and a file.
    type: path
attributes:
  check_mode:
    support: full
    description: Reports whether the server would be started or stopped; does nothing.
notes:
  - Does not need PyMySQL nor credentials.
'''

EXAMPLES = r'''
- name: Start a server controlled by its own option file
  replicant.mysql.mysql_server:
    defaults_file: /srv/mysql/db2/my.cnf
    state: started

- name: Restart the server of a host with systemd
  replicant.mysql.mysql_server:
    service: mariadb
    state: restarted

- name: Stop the server and empty its datadir for a copy (what clone_slave does to its target)
  replicant.mysql.mysql_server:
    defaults_file: /srv/mysql/db3/my.cnf
    state: stopped
    empty_datadir: /srv/mysql/db3/data

- name: Stop every server described in inventory (lab style)
  replicant.mysql.mysql_server:
    defaults_file: "{{ replicant_defaults_file }}"
    state: stopped
    timeout: 300
'''

RETURN = r'''
running:
  description: Whether the server runs after the task.
  returned: always
  type: bool
  sample: true
was_running:
  description: Whether the server ran before the task.
  returned: always
  type: bool
  sample: false
pid:
  description: Process id of the running server (direct control only).
  returned: when running under direct control
  type: int
  sample: 12345
actions:
  description: What was done (or would be done in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [stop, empty]
'''

import os
import pwd
import re
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import LifecycleError, empty_datadir, server_control


def unsafe_defaults_file(path, run_as):
    """Why the server must not be started from ``path`` (a sentence), or None.

    Its options (init_file, plugin_dir, user, ...) decide what the server runs as root starts it: the file
    must belong to root, the running user or the server's user, and be writable by nobody else.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None  # reported by ServerProcess
    allowed = {0, os.geteuid()}
    try:
        allowed.add(pwd.getpwnam(run_as).pw_uid)
    except KeyError:
        pass
    if info.st_uid not in allowed:
        return 'it belongs to uid %d, neither root nor the server user %s' % (info.st_uid, run_as)
    if info.st_mode & 0o022:
        return 'other users can write it (mode %04o)' % stat.S_IMODE(info.st_mode)
    return None


def plan(state, running):
    if state == 'started':
        return [] if running else ['start']
    if state == 'stopped':
        return ['stop'] if running else []
    return (['stop'] if running else []) + ['start']


def empty(module):
    """['empty'] when O(empty_datadir) had to be emptied (or would be, in check mode), else []."""
    if module.params['empty_datadir'] is None:
        return []
    try:
        return ['empty'] if empty_datadir(module.params['empty_datadir'], module.params['run_as'], module.check_mode) else []
    except (LifecycleError, OSError) as exc:
        module.fail_json(msg='the server is stopped, but emptying %s failed: %s' % (module.params['empty_datadir'], exc))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', default='started', choices=['started', 'stopped', 'restarted']),
            defaults_file=dict(type='path'),
            service=dict(type='str'),
            binary=dict(type='path'),
            run_as=dict(type='str', default='mysql'),
            timeout=dict(type='int', default=120),
            empty_datadir=dict(type='path'),
        ),
        required_one_of=[('defaults_file', 'service')],
        mutually_exclusive=[('defaults_file', 'service')],
        supports_check_mode=True,
    )
    p = module.params
    if isinstance(p['timeout'], bool) or not 1 <= p['timeout'] <= 86400:
        module.fail_json(msg='timeout must be a whole number of seconds from 1 to 86400, not %r; nothing was done'
                         % (p['timeout'],))
    if not re.match(r'^[a-z_][a-z0-9_.-]{0,31}$', p['run_as'] or ''):
        module.fail_json(msg='run_as must be a system user name, not %r; nothing was done' % (p['run_as'],))
    if p['empty_datadir'] is not None and p['state'] != 'stopped':
        module.fail_json(msg='empty_datadir goes with state=stopped only (a running server keeps its datadir); '
                         'nothing was done')
    if module.check_mode and p['defaults_file'] and not os.path.exists(p['defaults_file']):
        # An earlier task of the same check-mode run would have written it: say what would happen.
        actions = [] if p['state'] == 'stopped' else ['start']
        module.exit_json(changed=bool(actions), actions=actions, was_running=False, running=bool(actions), pid=None,
                         msg='check mode: %s does not exist yet; %s' % (
                             p['defaults_file'], 'it would be started from it' if actions else 'nothing to stop'))
    if p['defaults_file'] and p['state'] != 'stopped':
        unsafe = unsafe_defaults_file(p['defaults_file'], p['run_as'])
        if unsafe:
            module.fail_json(msg='refusing to start a server from %s: %s (its options decide what the server '
                             'runs); fix its owner and mode. Nothing was done' % (p['defaults_file'], unsafe))
    try:
        instance = server_control(p['defaults_file'], p['service'], binary=p['binary'], user=p['run_as'])
    except LifecycleError as exc:
        module.fail_json(msg='%s; nothing was done' % exc)
    if p['service']:
        was = instance.running()
        actions = plan(p['state'], was)
        try:
            for action in actions if not module.check_mode else []:
                getattr(instance, action)(timeout=p['timeout'])
        except LifecycleError as exc:
            module.fail_json(msg=str(exc))
        actions += empty(module)
        module.exit_json(changed=bool(actions), actions=actions, was_running=was,
                         running=(p['state'] != 'stopped') if actions else was)
    try:
        stale = instance.stale_pid()
        if stale:
            module.warn('%s: the pid file %s names pid %s, which is not this server; it is ignored and nothing '
                        'is signalled' % (instance, instance.pid_file, stale))
        if p['empty_datadir'] is not None and os.path.realpath(p['empty_datadir']) != os.path.realpath(instance.datadir):
            module.fail_json(msg='empty_datadir %s is not the datadir of %s (%s); nothing was stopped or removed'
                             % (p['empty_datadir'], p['defaults_file'], instance.datadir))
        was = instance.running()
        actions = plan(p['state'], was)
        if not module.check_mode:
            for action in actions:
                getattr(instance, action)(timeout=p['timeout'])
        actions += empty(module)
    except LifecycleError as exc:
        module.fail_json(msg=str(exc))
    running = instance.running() if not module.check_mode else (p['state'] != 'stopped')
    module.exit_json(changed=bool(actions), actions=actions, was_running=was, running=running,
                     pid=instance.pid())


if __name__ == '__main__':
    main()
