"""Run a module's main() in this process, without ansible-playbook, and get its JSON result.

The module gets its arguments the way AnsibleModule reads them, runs unchanged (argument checks,
aliases, no_log masking, check and diff mode are AnsibleModule's own), and its exit_json/fail_json
output is parsed. The database connection is replaced by FakeServer, which answers from a script
and records every statement.
"""
import contextlib
import io
import json
from unittest import mock

from ansible.module_utils import basic

from ansible_collections.replicant.mysql.plugins.module_utils import module_common
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor


@contextlib.contextmanager
def module_args(args):
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19 and later
    except ImportError:
        patch_module_args = None
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
    else:
        with mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode()):
            yield


def run_module(module, args, check_mode=False, diff=False, server=None):
    """``module.main()`` with ``args``; returns its result dict (``failed`` set when it failed)."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    out = io.StringIO()
    patches = []
    if server is not None:
        patches.append(mock.patch.object(module_common, 'connect', return_value=server))
        if hasattr(module, 'connect'):
            patches.append(mock.patch.object(module, 'connect', return_value=server))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        stack.enter_context(module_args(args))
        stack.enter_context(contextlib.redirect_stdout(out))
        try:
            module.main()
        except SystemExit:
            pass
        else:
            raise AssertionError('%s returned without exit_json or fail_json' % module.__name__)
    text = out.getvalue().strip()
    return json.loads(text[text.index('{'):])


class FakeServer:
    """Stands in for module_utils.server.Server: scripted rows and values, every statement recorded."""

    def __init__(self, rows=None, values=None, flavor=None):
        self.rows = rows or {}        # statement prefix -> rows
        self.values = values or {}    # substring of a statement -> its single value
        self.flavor = flavor or Flavor('mariadb', '10.11.19')
        self.statements = []          # (statement, args) in order
        self.closed = False

    def sql(self, statement, args=None, **kwargs):  # pylint: disable=unused-argument
        self.statements.append((statement, args))
        for prefix, rows in self.rows.items():
            if statement.startswith(prefix):
                return [dict(row) for row in rows]
        return []

    def value(self, statement, args=None, **kwargs):  # pylint: disable=unused-argument
        self.statements.append((statement, args))
        for part, value in self.values.items():
            if part in statement:
                return value
        return None

    def one(self, statement, args=None, **kwargs):  # pylint: disable=unused-argument
        rows = self.sql(statement, args)
        return rows[0] if rows else None

    def variable(self, name):
        return self.value('SELECT @@GLOBAL.%s' % name)

    def close(self):
        self.closed = True

    def ran(self):
        return [entry[0] for entry in self.statements]
