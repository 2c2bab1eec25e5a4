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
  - Reports which changed options the server can take at run time and whether a restart is needed,
    so that a handler can restart only then.
  - With O(apply=true) the running server decides (this needs the connection options). It is asked which
    variables are dynamic (MariaDB C(information_schema.SYSTEM_VARIABLES), its C(READ_ONLY) column; MySQL, which
    has no such column, and runs without O(apply) use a short built-in table), and each option's running value is
    compared with the wanted one (C(64M) equals C(67108864), C(ON) equals C(1), C(log_bin) compares its base name).
    Dynamic options whose running value differs are set with C(SET GLOBAL) (C(SET PERSIST) on MySQL 8 with
    O(persist=true)); a restart is required only for a static option whose running value differs, or for an
    option that is no variable of the server and whose line changed. A line that moved from another file, with
    the value the server already runs, requires no restart.
  - Everything is checked before the file is read or written. A name that is not letters, digits,
    C(_), C(-) and C(.) (so no leading C(--), C(=), spaces or brackets), a section with brackets, C(#),
    C(;) or a line break, or a value with a newline, carriage return or NUL fail the task, naming the
    file, the host and the option, and nothing changes. A value with C(#), quotes or leading or trailing
    spaces is written double-quoted, so that the server reads it whole.
  - Refuses a file that another user could swap (their symbolic link, or their file in a directory others
    can write, or a directory every user can write without the sticky bit). The new content goes to a
    private temporary file in the same directory (created exclusively, mode 0600), then replaces the file
    in one rename.
  - In diff mode (C(--diff)) the values of options whose name contains C(password), C(passwd), C(pwd) or C(secret)
    are shown as C(********).
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
    description: Section of the file, without brackets (no C([), C(]), C(#), C(;) or line breaks).
    type: str
    default: mysqld
  options:
    description:
      - Option names and values. A null value writes a bare option (C(log-slave-updates)); booleans are
        written as C(ON)/C(OFF). With O(state=absent) only the names count.
      - Names of letters, digits, C(_), C(-) and C(.) (not starting with C(-)); values without line breaks or NUL.
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
  file_only:
    description:
      - Options among O(options) that go into the file (or out of it) only. With O(apply) they are neither set nor
        compared on the running server, e.g. C(read_only=ON) in a master's file, whose server is made writable at
        run time only.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
  persist:
    description: With O(apply), use C(SET PERSIST) (MySQL 8 and later) instead of C(SET GLOBAL).
    type: bool
    default: false
  mode:
    description:
      - Permissions of the file when the module creates it.
      - Default C(0644), or C(0600) when an option's name contains C(password), C(passwd), C(pwd) or C(secret).
        The new file has these permissions from its first byte on (it is written as a private temporary file first).
    type: raw
attributes:
  check_mode:
    support: full
    description: Reports the lines it would change and the statements it would run; changes nothing.
  diff_mode:
    support: full
    description: Shows the file before and after, with the values of password-like options masked.
seealso:
  - module: community.mysql.mysql_variables
    description: Sets a server variable at run time (and, on MySQL 8, persists it); this module writes the option
      file and applies the dynamic options.
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

- name: A master's file says read_only=ON (it restarts read-only) while it stays writable at run time
  replicant.mysql.mysql_cnf:
    path: /etc/mysql/mariadb.conf.d/60-replication.cnf
    options:
      server_id: 11
      read_only: "ON"
    file_only: [read_only]
    apply: true
'''

RETURN = r'''
changed_options:
  description: Canonical names (with C(_)) of the options whose line changed.
  returned: always
  type: list
  elements: str
  sample: [server_id, log_bin]
restart_required:
  description:
    - Whether a static option must still be applied by a restart. With O(apply), when its running value differs
      from the wanted one; without, when its line changed.
  returned: always
  type: bool
  sample: true
static_options:
  description: The options that need a restart (see RV(restart_required)).
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
import socket
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils import cnf
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, connect
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


def unsafe_target(path):
    """Why writing ``path`` could be turned against the file's owner (a sentence), or None."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        dir_info = os.stat(directory)
    except OSError as exc:
        return 'its directory %s cannot be used (%s)' % (directory, exc.strerror)
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    me = os.geteuid()
    if info is not None and stat.S_ISLNK(info.st_mode) and info.st_uid not in (0, me):
        return 'it is a symbolic link of another user (uid %d)' % info.st_uid
    if info is not None and not stat.S_ISLNK(info.st_mode) and not stat.S_ISREG(info.st_mode):
        return 'it is not a regular file'
    if dir_info.st_mode & 0o002 and not dir_info.st_mode & stat.S_ISVTX:
        return 'its directory %s can be written by every user' % directory
    if info is not None and dir_info.st_mode & 0o022 and info.st_uid not in (0, me):
        return 'it belongs to another user (uid %d) in a directory others can write' % info.st_uid
    return None


def read_file(path):
    """The file's text ('' when missing), never through another user's symbolic link."""
    if not os.path.lexists(path):
        return ''
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8')


def write_file(module, path, text, mode):
    """Write ``text`` to a new private temporary file next to ``path`` (O_EXCL, 0600), then move it into place."""
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.replicant-tmp',
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(text.encode('utf-8'))
        if os.path.lexists(path):
            module.atomic_move(tmp, path)  # keeps the file's owner, mode and context
        else:
            module.set_mode_if_different(tmp, mode, False)
            os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            path=dict(type='path', required=True),
            section=dict(type='str', default='mysqld'),
            options=dict(type='dict', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            apply=dict(type='bool', default=False),
            file_only=dict(type='list', elements='str', default=[]),
            persist=dict(type='bool', default=False),
            mode=dict(type='raw'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p['mode'] is None:
        secret = any(cnf.SECRET_NAME.search(str(name)) for name in (p['options'] or {}))
        p['mode'] = '0600' if secret else '0644'
    here = '%s on %s' % (p['path'], socket.gethostname())
    try:
        cnf.check(p['section'], p['options'] if p['state'] == 'present' else dict.fromkeys(p['options'] or {}))
    except ValueError as exc:
        module.fail_json(msg='%s, section [%s]: %s; the file was not changed' % (here, p['section'], exc))
    unsafe = unsafe_target(p['path'])
    if unsafe:
        module.fail_json(msg='%s: refusing to read or write the file: %s; the file was not changed' % (here, unsafe))
    try:
        before = read_file(p['path'])
    except (IOError, OSError, UnicodeDecodeError) as exc:
        module.fail_json(msg='%s: cannot read the file: %s; it was not changed' % (here, exc))
    after, changed_options = cnf.edit(before, p['section'], p['options'], p['state'])
    result = dict(changed=after != before, changed_options=changed_options,
                  static_options=[o for o in changed_options if not cnf.is_dynamic(o)],
                  dynamic_options=[o for o in changed_options if cnf.is_dynamic(o)], statements=[])
    if module._diff:
        result['diff'] = dict(before=cnf.mask_secrets(before), after=cnf.mask_secrets(after),
                              before_header=p['path'], after_header=p['path'])
    if result['changed'] and not module.check_mode:
        try:
            write_file(module, p['path'], after, p['mode'])
        except (IOError, OSError) as exc:
            module.fail_json(msg='%s: cannot write the file: %s; it was not changed' % (here, exc))
    if p['apply']:
        server = connect(module)
        try:
            running = dict((k, v) for k, v in p['options'].items() if k not in p['file_only'])
            found = cnf.compare(server, running, p['state'])
            result['statements'] = cnf.apply_dynamic(server, found['set'], persist=p['persist'],
                                                     check_mode=module.check_mode) if p['state'] == 'present' else []
        except (ServerError, ValueError) as exc:
            module.fail_json(msg='%s (the file %s was %s)' % (exc, p['path'], 'updated' if result['changed'] else 'unchanged'))
        finally:
            server.close()
        # The running server decides: a static option owes a restart only while its running value differs (a line
        # that moved or was spelled otherwise does not); an option that is no server variable, when its line changed.
        unknown = set(found['unknown']) & set(changed_options)
        result['static_options'] = sorted(set(found['restart']) | set(o for o in unknown if not cnf.is_dynamic(o)))
        result['dynamic_options'] = sorted(set(found['dynamic']) & set(changed_options) | set(found['set'])
                                           | set(o for o in unknown if cnf.is_dynamic(o)))
        result['changed'] = result['changed'] or bool(result['statements']) or bool(result['static_options'])
    result['restart_required'] = bool(result['static_options'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
