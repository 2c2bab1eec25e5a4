# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: appends every task result as one JSON line to $REPLICANT_RECORD."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: record
    type: aggregate
    short_description: write task results as JSON lines for the tests
    description: Appends one JSON object per task result to the file named by REPLICANT_RECORD.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'record'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status, result):
        path = os.environ.get('REPLICANT_RECORD')
        if not path:
            return
        res = dict(result._result)
        res['failed'] = status in ('failed', 'ignored', 'item_failed', 'unreachable')
        entry = dict(status=status, host=result._host.get_name(), task=result._task.get_name(),
                     action=result._task.action, changed=bool(res.get('changed')), result=res, time=time.time())
        with open(path, 'a') as handle:
            handle.write(json.dumps(entry, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._write('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write('ignored' if ignore_errors else 'failed', result)

    def v2_runner_on_skipped(self, result):
        self._write('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._write('unreachable', result)

    def v2_runner_item_on_ok(self, result):
        self._write('item_ok', result)

    def v2_runner_item_on_failed(self, result):
        self._write('item_failed', result)
