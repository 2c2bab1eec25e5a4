# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of replicant.mysql.mysql_inventory: rewrite a YAML inventory (or write a fragment) on the controller.

It runs on the controller because it reads and writes the controller's files with Ansible's own YAML
loader and dumper (which keep vaulted values as they are); see the module's documentation.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import os
import tempfile

from ansible.plugins.action import ActionBase

from ansible_collections.replicant.mysql.plugins.plugin_utils import inventory_file

ARGUMENTS = dict(
    path=dict(type='path'),
    source=dict(type='path'),
    fragment=dict(type='path'),
    installation=dict(type='str'),
    topology=dict(type='dict', required=True, options=dict(
        master=dict(type='str', required=True),
        replicas=dict(type='dict', default={}),
        spares=dict(type='list', elements='str', default=[]),
    )),
    mode=dict(type='str', default='0600'),
)


class Refusal(Exception):
    pass


def _read(path, what):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise Refusal('cannot read the %s %s: %s. Nothing was changed.' % (what, path, exc))


def _writable(path):
    """Whether ``path`` can be replaced: a file can be created in its directory (tried, and removed at once:
    permission bits say little to root or on special file systems) and an existing one is a regular file."""
    directory = os.path.dirname(os.path.abspath(path)) or '.'
    if os.path.exists(path) and not os.path.isfile(path):
        return False
    try:
        fd, probe = tempfile.mkstemp(prefix='.replicant-probe-', dir=directory)
    except (IOError, OSError):
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def _write(path, text, mode):
    """Atomically: a private temporary file in the same directory (mkstemp: 0600, exclusive), then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.replicant-', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        os.chmod(tmp, int(mode, 8))
        os.rename(tmp, path)
    except (IOError, OSError) as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise Refusal('cannot write %s: %s' % (path, exc))


class _locked:
    """An exclusive lock on the directory of ``path`` (flock), for the read-change-write of a file in it."""

    def __init__(self, path):
        self.directory = os.path.dirname(os.path.abspath(path)) if path else None
        self.fd = None

    def __enter__(self):
        if self.directory and os.path.isdir(self.directory):
            self.fd = os.open(self.directory, os.O_RDONLY)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
        return False


def plan(args):
    """(result, [(path, text)]) for the arguments; raises Refusal with what to fix."""
    topology = args['topology']
    result = dict(changed=False, fragment_text=inventory_file.fragment(topology, args['installation']))
    writes = []
    if args['path']:
        source = args['source'] or args['path']
        before = _read(source, 'inventory')
        problem = inventory_file.check(before, topology)
        if problem:
            raise Refusal('the inventory %s cannot be rewritten: %s. Nothing was changed; write the topology as a '
                          'fragment instead (write_inventory_fragment) or update the inventory by hand.'
                          % (source, problem))
        if not _writable(args['path']):
            raise Refusal('the inventory %s is not writable here. Nothing was changed.' % args['path'])
        after = inventory_file.rewrite(before, topology)
        current = _read(args['path'], 'inventory') if os.path.exists(args['path']) else ''
        result.update(path=args['path'], diff=dict(before=current, after=after, before_header=args['path'],
                                                   after_header=args['path']))
        if after != current:
            writes.append((args['path'], after))
    if args['fragment']:
        if not _writable(args['fragment']):
            raise Refusal('the fragment %s is not writable here. Nothing was changed.' % args['fragment'])
        current = _read(args['fragment'], 'fragment') if os.path.exists(args['fragment']) else ''
        if current != result['fragment_text']:
            writes.append((args['fragment'], result['fragment_text']))
    result['changed'] = bool(writes)
    return result, writes


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENTS)
        try:
            if self._task.check_mode:
                outcome, _writes = plan(args)
            else:
                # Several installations may be promoted at once, each writing its part of one file: read, change
                # and write under a lock on the file's directory, one writer after the other.
                with _locked(args['path'] or args['fragment']):
                    outcome, writes = plan(args)
                    for path, text in writes:
                        _write(path, text, args['mode'])
        except (Refusal, ValueError) as exc:
            result.update(failed=True, msg=str(exc), fragment_text=inventory_file.fragment(
                args['topology'], args['installation']))
            return result
        if not self._task.diff:
            outcome.pop('diff', None)
        else:
            for side in ('before', 'after'):
                outcome['diff'][side] = inventory_file.masked(outcome['diff'][side])
        result.update(outcome)
        return result
