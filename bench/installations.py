# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two installations in one inventory: one ansible-playbook run that switches over both, against two runs.

    .venv/bin/python bench/installations.py [--runs 3] [--no-docs]

Two 3-server labs of their own (127.0.10.41-43 and .51-53) described in one inventory as the
installations ``a`` and ``b``. Each round, interleaved: (1) ``promote_master.yml -e installation=a``
and then ``-e installation=b``, two runs, one after the other (the baseline: one inventory per
installation, or a DBA running them in turn); (2) ``promote_master.yml -e installation=a,b``, one run
(the installations switch in parallel, one host of each leading). Every switchover elects a replica and
writes the inventory back. Wall-clock medians go to stdout and to docs/benchmarks.md
("## Several installations in one run").
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import importlib.util

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/conftest.py makes the collection importable; tests/integration/conftest.py has the lab helpers.
_spec = importlib.util.spec_from_file_location('replicant_tests_root', os.path.join(HERE, '..', 'tests', 'conftest.py'))
_spec.loader.exec_module(importlib.util.module_from_spec(_spec))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'integration'))
from conftest import Lab, lab_vars, run_playbook  # noqa: E402

from ansible_collections.replicant.mysql.plugins.plugin_utils import inventory_loader  # noqa: E402

HEADING = '## Several installations in one run'


def fleet(labs, path):
    import yaml
    doc = {'all': {'children': {'mysql': {'vars': None, 'children': {
        'mysql_master': {'hosts': {}}, 'mysql_replicas': {'hosts': {}}}}}}}
    mysql = doc['all']['children']['mysql']
    for name, lab in labs.items():
        with open(lab.inventory) as handle:
            inv = yaml.safe_load(handle)['all']['children']['mysql']
        mysql['vars'] = inv['vars']
        mysql['children']['inst_' + name] = {'vars': {'replicant_installation': name}, 'hosts': {}}
        for group in ('mysql_master', 'mysql_replicas'):
            for host, hv in ((inv['children'].get(group) or {}).get('hosts') or {}).items():
                mysql['children'][group]['hosts'][host] = hv
                mysql['children']['inst_' + name]['hosts'][host] = None
    with open(path, 'w') as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)


def switch(path, names):
    started = time.time()
    run = run_playbook('playbooks/promote_master.yml', inventory=path,
                       extra_vars=dict(installation=names, write_inventory=path))
    if run.rc != 0:
        raise SystemExit(run.output[-4000:])
    return time.time() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--no-docs', action='store_true')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='replicant-bench-inst-', dir='/var/tmp')
    os.chmod(work, 0o755)  # the mysql user must reach the labs below it
    labs = {}
    try:
        for name, address in (('a', '127.0.10.41'), ('b', '127.0.10.51')):
            directory = os.path.join(work, name)
            labs[name] = Lab(directory, lab_vars(directory, address, lab_name_prefix=name))
            run = labs[name].up()
            if run.rc != 0:
                raise SystemExit(run.output[-4000:])
        path = os.path.join(work, 'fleet.yml')
        fleet(labs, path)
        separate, together = [], []
        for _round in range(args.runs):
            separate.append(switch(path, 'a') + switch(path, 'b'))
            together.append(switch(path, 'a,b'))
        found = inventory_loader.load(path)
        assert all(inst.master and len(inst.replicas) == 2 for inst in found.values()), found
    finally:
        for lab in labs.values():
            lab.down()
        shutil.rmtree(work, ignore_errors=True)
    a, b = statistics.median(separate), statistics.median(together)
    table = ['| two installations switched over | median wall clock (s) |', '| --- | --- |',
             '| two runs, one per installation (baseline) | %.1f |' % a,
             '| one run, `-e installation=a,b` | %.1f |' % b,
             '| ratio | %.2f |' % (b / a)]
    print('\n'.join(table))
    if not args.no_docs:
        record(table, args.runs)


def record(table, runs):
    docs = os.path.join(HERE, '..', 'docs', 'benchmarks.md')
    with open(docs) as handle:
        text = handle.read()
    section = '\n'.join([HEADING, '',
                         'Command: `.venv/bin/python bench/installations.py --runs %d` (two 3-server labs in one '
                         'inventory; every switchover elects a replica, repoints the others and writes the '
                         'inventory back; the rounds interleave the two ways).' % runs, ''] + table) + '\n'
    if HEADING in text:
        start = text.index(HEADING)
        end = text.find('\n## ', start + 1)
        text = text[:start] + section + ('\n' + text[end + 1:] if end != -1 else '')
    else:
        text = text.rstrip('\n') + '\n\n' + section
    with open(docs, 'w') as handle:
        handle.write(text)


if __name__ == '__main__':
    main()
