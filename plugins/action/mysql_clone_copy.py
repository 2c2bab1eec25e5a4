# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of replicant.mysql.mysql_clone_copy: run the copy in the background and follow it cheaply.

With ``async`` on the task (and ``poll: 0``), the module starts under Ansible's async wrapper on the
source host, and this plugin then looks at it every O(poll) seconds with one plain shell command over
the task's connection (which waits on the host, a fifth of a second at a time, for the job's result file to say it
has finished, then prints it and the last line of the copy's own progress file; no Python started on the host, and
the end of the copy is seen within 0.2 s), shows the progress line, renews the source's read lock when asked
(O(renew_lock), snapshot copies), and returns the copy's result once it has finished: a single task
for the whole copy. Without ``async`` (or in check mode) the module simply runs.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import shlex
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.vars.clean import remove_internal_keys

display = Display()

MARK = '--replicant-progress--'


class ActionModule(ActionBase):
    _supports_async = True
    _supports_check_mode = True

    def _shell(self, command):
        res = self._low_level_execute_command(command, sudoable=True)
        return res.get('rc'), res.get('stdout', '')

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        poll = int(args.pop('poll', None) or 10)
        renew = {k: v for k, v in (args.pop('renew_lock', None) or {}).items()
                 if not (isinstance(v, str) and v.startswith('__omit_place_holder__'))}
        if not self._task.async_val or self._task.check_mode:
            return dict(result, **self._execute_module(module_args=args, task_vars=task_vars))
        private = None
        if not args.get('progress_file'):
            rc, out = self._shell('umask 077 && mktemp -d "${TMPDIR:-/tmp}/replicant-clone-XXXXXXXX"')
            if rc == 0 and out.strip():
                private = out.strip()
                args['progress_file'] = private + '/progress'
        where = '%s -> %s' % (task_vars.get('inventory_hostname'), args.get('target_dir') or 'target server')
        try:
            started = self._execute_module(module_args=args, task_vars=task_vars, wrap_async=True)
            if started.get('failed') or not started.get('results_file'):
                return dict(result, **started)
            every = min(poll, max(1, int(renew.get('lease', 15)) // 3)) if renew else poll
            # one look: on the host, wait (a fifth of a second at a time) until the job has finished or ``every``
            # seconds have passed, then print the job's record and the copy's last progress line; the end of the copy
            # is seen within 0.2 s.
            look = ('f=%s; i=0; while [ "$i" -lt %d ] && { [ ! -s "$f" ] || grep -q \'"started"\' "$f"; }; do '
                    'sleep 0.2; i=$((i+1)); done; cat "$f" 2>/dev/null; echo; echo %s; tail -n 1 %s 2>/dev/null'
                    % (shlex.quote(started['results_file']), every * 5, MARK, shlex.quote(args['progress_file'])))
            deadline = time.time() + self._task.async_val
            next_show = 0.0
            while True:
                _rc, out = self._shell(look)
                job, _mark, progress = out.partition(MARK)
                final = _job_result(job)
                if final is not None:
                    self._shell('rm -f %s' % shlex.quote(started['results_file']))
                    return dict(result, **final)
                if renew:
                    renewed = self._execute_module(module_name='replicant.mysql.mysql_flush_lock',
                                                   module_args=dict(renew, state='locked'), task_vars=task_vars)
                    if renewed.get('failed'):
                        display.warning('%s: renewing the read lock failed: %s' % (where, renewed.get('msg')))
                if time.time() >= next_show:
                    display.display('%s %s' % (where, progress.strip() or 'starting'))
                    next_show = time.time() + poll - 0.5
                if time.time() > deadline:
                    return dict(result, failed=True, msg='the copy did not finish within %ss (job %s on the source host)'
                                % (self._task.async_val, started.get('ansible_job_id')))
        finally:
            if private:
                self._shell('rm -rf %s' % shlex.quote(private))


def _job_result(text):
    """The module's result once the async job has finished, else None."""
    try:
        data = json.loads(text.strip() or '{}')
    except ValueError:
        return None  # being written
    if not data or 'started' in data:  # the async wrapper's "running" record, or nothing written yet
        return None
    remove_internal_keys(data)
    return data
