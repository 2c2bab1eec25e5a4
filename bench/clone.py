# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: clone_slave's methods against a raw copy of the datadir, in one run.

Brings up a lab (master, one replica, one spare target; 127.0.5.11..), loads about --mb MB into the
master, waits until the replica has it, then times:

* ``cp -a`` of the source replica's datadir (the raw baseline; the server keeps running);
* ``ansible-playbook playbooks/clone_slave.yml -e target=lab3 -e method=M`` for each method, whole
  procedure (stop target, copy, prepare, start, point at the master, configure, catch up, verify
  checksums) and the copy step alone (bytes and seconds reported by mysql_clone_copy).

Prints a markdown table (MB/s = datadir size / seconds; ratio to the raw copy); tears the lab down.

    .venv/bin/python bench/clone.py [--mb 1000] [--methods physical,logical,cold,snapshot]
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

_SPEC = importlib.util.spec_from_file_location('integration_conftest', os.path.join(REPO, 'tests', 'integration', 'conftest.py'))
playbooks = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(playbooks)


def du(path):
    return int(subprocess.run(['du', '-sb', path], stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout.split()[0])


def load(lab, megabytes):
    """About ``megabytes`` MB of InnoDB rows on the master, by doubling a table of 1 KB rows."""
    with lab.server('lab1') as m:
        m.sql('CREATE DATABASE IF NOT EXISTS bench')
        m.sql('CREATE TABLE IF NOT EXISTS bench.rows1k (id BIGINT AUTO_INCREMENT PRIMARY KEY, a CHAR(250), b CHAR(250),'
              ' c VARCHAR(500), n INT, KEY (n))')
        m.sql("INSERT INTO bench.rows1k (a, b, c, n) VALUES (REPEAT('a', 250), REPEAT('b', 250), REPEAT(MD5(RAND()), 15), 1)")
        while m.value('SELECT COUNT(*) FROM bench.rows1k') * 1100 < megabytes * 1e6:
            m.sql('INSERT INTO bench.rows1k (a, b, c, n) SELECT a, b, REPEAT(MD5(RAND()), 15), FLOOR(RAND() * 1e6) '
                  'FROM bench.rows1k')
        gtid = m.value('SELECT @@gtid_binlog_pos')
    with lab.server('lab2') as r:
        r.sql('SELECT MASTER_GTID_WAIT(%s, 900)', (gtid,))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--mb', type=int, default=1000)
    parser.add_argument('--methods', default='physical,logical,cold,snapshot')
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix='replicant-bench-clone-', dir='/var/tmp')
    os.rmdir(directory)
    lab = playbooks.Lab(directory, playbooks.lab_vars(directory, '127.0.5.11', lab_servers=2, lab_spares=1,
                                                      lab_timeout=900,
                                                      lab_extra_config={'innodb_buffer_pool_size': '256M'}))
    rows = []
    try:
        run = lab.up()
        assert run.rc == 0, run.output
        load(lab, args.mb)
        source_dir = lab.hosts()['lab2']['replicant_datadir']
        size = du(source_dir)
        copy_to = os.path.join(directory, 'raw-copy')
        started = time.time()
        subprocess.run(['cp', '-a', source_dir, copy_to], check=True)
        raw = time.time() - started
        shutil.rmtree(copy_to)
        rows.append(('raw `cp -a` of the replica datadir', raw, dict(bytes=size, seconds=raw)))
        variants = [(m, {}) for m in args.methods.split(',')] + [('physical', {'clone_slave_verify': False})]
        for method, more in variants:
            started = time.time()
            run = playbooks.run_playbook('playbooks/clone_slave.yml', inventory=lab.inventory,
                                         extra_vars=dict(target='lab3', source='lab2', method=method, force=True, **more),
                                         timeout=3600)
            total = time.time() - started
            assert run.rc == 0, run.output[-3000:]
            copy = run.result('replicant.mysql.clone_slave : Check the copy', 'lab3')
            rows.append(('clone_slave method=%s%s' % (method, ', no checksum verification' if more else ''), total, copy))
    finally:
        lab.down()
    raw_rate = size / raw / 1e6
    print('\nDatadir of the source replica: %.0f MB (%d MB of rows loaded; the rest is binary and relay logs)\n'
          % (size / 1e6, args.mb))
    print('| what | whole procedure (s) | copy step: MB streamed | copy step (s) | copy step MB/s | copy MB/s / raw MB/s '
          '| datadir MB / whole procedure (s) |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    for name, total, copy in rows:
        rate = copy['bytes'] / max(copy['seconds'], 1e-6) / 1e6
        print('| %s | %.1f | %.0f | %.1f | %.0f | %.2f | %.0f |' % (
            name, total, copy['bytes'] / 1e6, copy['seconds'], rate, rate / raw_rate, size / total / 1e6))


if __name__ == '__main__':
    main()
