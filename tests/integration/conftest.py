"""Fixtures for integration tests: real ansible-playbook runs against a real lab."""
import json
import os
import subprocess
import sys
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)


class Run:
    """The outcome of one ansible-playbook run: exit code, output, and every task result."""

    def __init__(self, rc, output, records):
        self.rc = rc
        self.output = output
        self.records = records

    def results(self, task=None, host=None):
        return [r for r in self.records if (task is None or r['task'] == task) and (host is None or r['host'] == host)]

    def result(self, task, host=None):
        """The task's result on ``host`` (default: the last host it ran on, skipped hosts last resort)."""
        found = self.results(task, host)
        if host is None and any(r['status'] != 'skipped' for r in found):
            found = [r for r in found if r['status'] != 'skipped']
        assert found, 'no result for task %r (host %r); tasks seen: %s' % (
            task, host, sorted({r['task'] for r in self.records}))
        return found[-1]['result']

    @property
    def changed(self):
        return [(r['host'], r['task']) for r in self.records if r['changed'] and r['status'] in ('ok', 'item_ok')]

    @property
    def failed(self):
        return [r for r in self.records if r['status'] in ('failed', 'unreachable')]


def ansible_env():
    env = dict(os.environ)
    env.update(
        PATH=BIN + os.pathsep + env.get('PATH', ''),
        ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, 'plugins', 'callback'),
        ANSIBLE_CALLBACKS_ENABLED='record',
        ANSIBLE_HOST_KEY_CHECKING='False',
        ANSIBLE_RETRY_FILES_ENABLED='False',
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_LOCALHOST_WARNING='False',
        ANSIBLE_INVENTORY_UNPARSED_WARNING='False',
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    return env


def run_playbook(playbook, inventory=None, extra_vars=None, check=False, diff=False, timeout=600, more_args=()):
    """Run a playbook (a path, relative paths from the repo root) and return a Run."""
    fd, record = tempfile.mkstemp(prefix='replicant-record-', suffix='.jsonl')
    os.close(fd)
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join(REPO, playbook)]
    if inventory:
        cmd += ['-i', inventory]
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    cmd += list(more_args)
    env = ansible_env()
    env['REPLICANT_RECORD'] = record
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, universal_newlines=True, check=False)
    with open(record) as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    os.unlink(record)
    return Run(proc.returncode, proc.stdout, records)


CONNECTION_DEFAULTS = {
    'group/replicant.mysql.mysql': {
        'login_user': "{{ replicant_login_user | default(omit) }}",
        'login_password': "{{ replicant_login_password | default(omit) }}",
        'login_unix_socket': "{{ replicant_login_unix_socket | default(omit) }}",
    }
}


def run_tasks(inventory, hosts, tasks, check=False, diff=False, extra_vars=None):
    """Run ``tasks`` (a list of task dicts) on ``hosts`` through a generated playbook."""
    play = [dict(name='test play', hosts=hosts, gather_facts=False, module_defaults=CONNECTION_DEFAULTS,
                 tasks=tasks)]
    fd, path = tempfile.mkstemp(prefix='replicant-play-', suffix='.yml')
    with os.fdopen(fd, 'w') as handle:
        yaml.safe_dump(play, handle)
    try:
        return run_playbook(path, inventory=inventory, check=check, diff=diff, extra_vars=extra_vars)
    finally:
        os.unlink(path)


class Result(dict):
    """A task's result; ``.run`` is the whole ansible-playbook Run."""

    run = None


class Lab:
    """A running lab: its directory, inventory and servers."""

    def __init__(self, directory, extra_vars):
        self.dir = directory
        self.extra_vars = extra_vars
        self.inventory = os.path.join(directory, 'inventory.yml')

    def up(self, **more):
        return run_playbook('playbooks/lab.yml', extra_vars=dict(self.extra_vars, **more))

    def down(self):
        return run_playbook('playbooks/lab.yml', extra_vars=dict(self.extra_vars, lab_state='absent'))

    def hosts(self):
        with open(self.inventory) as handle:
            inv = yaml.safe_load(handle)
        mysql = inv['all']['children']['mysql']
        out = {}
        for group, body in mysql['children'].items():
            for name, hv in ((body or {}).get('hosts') or {}).items():
                out[name] = dict(mysql['vars'], group=group, **hv)
        return out

    def module(self, host, module, check=False, diff=False, **args):
        """Run one replicant.mysql module on ``host`` through ansible-playbook; return its Result."""
        name = 'replicant.mysql.%s' % module
        run = run_tasks(self.inventory, host, [{'name': module, name: args, 'ignore_errors': True}],
                        check=check, diff=diff)
        result = Result(run.result(module, host))
        result.run = run
        return result

    def instances(self):
        """The lab's master and replicas as the model's Instances, read from its inventory (the collection's own loader)."""
        from ansible_collections.replicant.mysql.plugins.plugin_utils.inventory_loader import load
        installation = next(iter(load(self.inventory).values()))
        return [s for s in installation.servers if s.declared_role in ('master', 'replica')]

    def server(self, name, user=None, password=None):
        from ansible_collections.replicant.mysql.plugins.module_utils.server import Server
        h = self.hosts()[name]
        return Server(unix_socket=h['replicant_login_unix_socket'], user=user or h['replicant_login_user'],
                      password=password if password is not None else h['replicant_login_password'], name=name)

    def tcp_server(self, name, user=None, password=None):
        from ansible_collections.replicant.mysql.plugins.module_utils.server import Server
        h = self.hosts()[name]
        return Server(host=h['replicant_host'], port=h['replicant_port'], user=user or h['replicant_login_user'],
                      password=password if password is not None else h['replicant_login_password'], name=name)


def lab_address(address):
    """A test's loopback address, moved to the network REPLICANT_LAB_NET (e.g. 127.0.71) when that is set, so
    that two checkouts can run the same test files at once without their labs colliding."""
    net = os.environ.get('REPLICANT_LAB_NET')
    return '%s.%s' % (net, address.rsplit('.', 1)[1]) if net else address


def lab_vars(directory, address, **more):
    return dict(dict(lab_dir=directory, lab_base_address=lab_address(address), lab_timeout=60), **more)


def session_lab_address():
    """The shared lab's first address: one per pytest-xdist worker (gw0 127.0.0.41, gw1 127.0.91.41, ...), since
    every worker process starts its own session lab. Test files already have ranges of their own."""
    worker = int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:] or 0)
    if not worker:
        return '127.0.0.41'
    if os.environ.get('REPLICANT_LAB_NET'):  # lab_address() keeps only the last octet
        return '127.0.0.%d' % (41 + 50 * worker)
    return '127.0.%d.41' % (90 + worker)


@pytest.fixture(scope='session')
def lab():
    """A 3-server lab (master lab1, replicas lab2 and lab3) shared by the tests that leave it as they found it."""
    directory = tempfile.mkdtemp(prefix='replicant-test-lab-', dir='/var/tmp')
    os.rmdir(directory)
    the_lab = Lab(directory, lab_vars(directory, session_lab_address()))
    try:
        run = the_lab.up()
        assert run.rc == 0, run.output
        yield the_lab
    finally:
        run = the_lab.down()
    assert run.rc == 0, run.output
