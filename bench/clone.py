# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: clone_slave's methods against what a DBA types by hand, like for like, in one run.

Brings up a lab (master lab1, source replica lab2, spare target lab3; --address, default 127.0.76.11),
loads about --mb MB of InnoDB rows into the master (--tables tables of 1 KB rows), waits until the
replica has them and purges its binary logs (so that every method copies the same data). Then, for
--samples rounds, in a rotated (interleaved) order, times from lab2 into lab3:

* ``cp -a`` of the source replica's datadir (the raw baseline; the server keeps running);
* by hand: ``mariadb-backup --backup --stream | mbstream -x`` + ``mariadb-backup --prepare``;
* by hand: ``mariadb-dump --single-transaction --gtid | mariadb`` into the running target;
* by hand: ``mydumper -t 2`` + ``myloader -t 2`` (when installed);
* ``ansible-playbook playbooks/clone_slave.yml -e method=M`` for each method: the whole procedure
  (checks, copy, prepare, start, point at the master, catch up, verify) and, from its results, the
  copy step, the verification and the number of tasks it ran (``logical@4``: the logical method with 4 dump streams).

Every timing ends with ``sync`` (and the page cache is flushed with ``sync`` before it starts).
Prints a markdown table of medians (and minimum) per method; tears the lab down.

    .venv/bin/python bench/clone.py [--mb 400] [--samples 3] [--methods physical,logical,cold,snapshot,logical@4]
    .venv/bin/python bench/clone.py --from-log LOG     # the table from the sample lines of a run's output
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import ast
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
from ansible_collections.replicant.mysql.plugins.module_utils.clone import option_file  # noqa: E402

_SPEC = importlib.util.spec_from_file_location('integration_conftest', os.path.join(REPO, 'tests', 'integration', 'conftest.py'))
playbooks = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(playbooks)

SHOP_SCHEMAS = ('bench',)


def du(path):
    return int(subprocess.run(['du', '-sb', path], stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout.split()[0])


def load(lab, megabytes, tables):
    """About ``megabytes`` MB of InnoDB rows on the master in ``tables`` tables of 1 KB rows (a secondary key each)."""
    with lab.server('lab1') as m:
        m.sql('CREATE DATABASE IF NOT EXISTS bench')
        for t in range(tables):
            m.sql('CREATE TABLE IF NOT EXISTS bench.rows%d (id BIGINT AUTO_INCREMENT PRIMARY KEY, a CHAR(250), b CHAR(250),'
                  ' c VARCHAR(500), n INT, KEY (n))' % t)
            m.sql("INSERT INTO bench.rows%d (a, b, c, n) VALUES (REPEAT('a', 250), REPEAT('b', 250), REPEAT(MD5(RAND()), 15), 1)" % t)
            while m.value('SELECT COUNT(*) FROM bench.rows%d' % t) * 1100 * tables < megabytes * 1e6:
                m.sql('INSERT INTO bench.rows%d (a, b, c, n) SELECT a, b, REPEAT(MD5(RAND()), 15), FLOOR(RAND() * 1e6) '
                      'FROM bench.rows%d LIMIT 200000' % (t, t))
        gtid = m.value('SELECT @@gtid_binlog_pos')
    with lab.server('lab2') as r:
        r.sql('SELECT MASTER_GTID_WAIT(%s, 1800)', (gtid,))
        r.sql('FLUSH RELAY LOGS')  # the applied relay log goes once the replica applies the next event
        r.sql('FLUSH BINARY LOGS')
        with lab.server('lab1') as m:  # that next event
            m.sql('FLUSH TABLES')
        deadline = time.time() + 60
        while True:  # a binary log goes once the binlog checkpoint has passed it: try again until it has
            r.sql('PURGE BINARY LOGS TO %s', (r.one('SHOW MASTER STATUS')['File'],))
            if len(r.sql('SHOW BINARY LOGS')) == 1 or time.time() > deadline:
                break
            time.sleep(1)


def sh(command):
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def timed(command):
    sh('sync')
    started = time.time()
    sh(command)
    sh('sync')
    return time.time() - started


def empty_target(lab):
    """lab3 running, replicating nothing, without the bench schema (for the hand-typed logical loads)."""
    with lab.server('lab3') as t:
        t.sql('STOP ALL SLAVES')
        t.sql('RESET SLAVE ALL')
        t.sql('SET SESSION sql_log_bin = 0')
        t.sql('DROP DATABASE IF EXISTS bench')
        t.sql('RESET MASTER')


class Bench:
    def __init__(self, lab, work):
        self.lab, self.work = lab, work
        hosts = lab.hosts()
        self.src, self.dst = hosts['lab2'], hosts['lab3']
        self.src_cnf = option_file(self.src['replicant_login_user'], self.src['replicant_login_password'],
                                   socket=self.src['replicant_login_unix_socket'], include=self.src['replicant_defaults_file'],
                                   sections=('client', 'mariadb-backup', 'mydumper'), directory=work)
        self.dst_cnf = option_file(self.dst['replicant_login_user'], self.dst['replicant_login_password'],
                                   socket=self.dst['replicant_login_unix_socket'], sections=('client', 'myloader'),
                                   directory=work)

    def raw_copy(self):
        dest = os.path.join(self.work, 'raw')
        seconds = timed('cp -a %s %s' % (self.src['replicant_datadir'], dest))
        size = du(dest)
        shutil.rmtree(dest)
        return dict(whole=seconds, copy=seconds, bytes=size)

    def hand_stream(self):
        dest = os.path.join(self.work, 'stream')
        os.mkdir(dest)
        seconds = timed('mariadb-backup --defaults-file=%s --backup --stream=xbstream --target-dir=%s | mbstream -x -C %s'
                        ' && mariadb-backup --prepare --target-dir=%s' % (self.src_cnf, self.work, dest, dest))
        size = du(dest)
        shutil.rmtree(dest)
        return dict(whole=seconds, copy=seconds, bytes=size)

    def hand_dump(self):
        empty_target(self.lab)
        seconds = timed('mariadb-dump --defaults-file=%s --single-transaction --master-data=2 --gtid --routines --triggers'
                        ' --events --databases %s | mariadb --defaults-file=%s' % (self.src_cnf, ' '.join(SHOP_SCHEMAS), self.dst_cnf))
        return dict(whole=seconds, copy=seconds)

    def hand_mydumper(self):
        empty_target(self.lab)
        dest = os.path.join(self.work, 'mydumper')
        seconds = timed('mydumper --defaults-file=%s -t 2 -B bench -o %s && myloader --defaults-file=%s -t 2 -d %s'
                        % (self.src_cnf, dest, self.dst_cnf, dest))
        shutil.rmtree(dest)
        return dict(whole=seconds, copy=seconds)

    def clone_slave(self, method):
        """``method``, or ``method@N`` for N logical dump streams (clone_slave_streams)."""
        method, _at, streams = method.partition('@')
        more = dict(clone_slave_streams=int(streams)) if streams else {}
        sh('sync')
        started = time.time()
        run = playbooks.run_playbook('playbooks/clone_slave.yml', inventory=self.lab.inventory,
                                     extra_vars=dict(target='lab3', source='lab2', method=method, force=True, **more),
                                     timeout=3600)
        sh('sync')
        whole = time.time() - started
        assert run.rc == 0, run.output[-3000:]
        copy = next(r['result'] for r in reversed(run.records)
                    if r['status'] == 'ok' and 'commands' in r['result'] and 'seconds' in r['result'])
        check = [r['result'] for r in run.records if r['action'].endswith('mysql_checksum') and r['status'] == 'ok']
        ran = [r for r in run.records if r['status'] != 'skipped']
        # where the time went: each task's end minus the previous task's end (the first from the playbook's start)
        ends = [started] + [r['time'] for r in run.records]
        slowest = sorted(((round(end - before, 1), r['task'].split(' : ')[-1][:40]) for before, end, r
                          in zip(ends, ends[1:], run.records)), reverse=True)[:4]
        return dict(whole=whole, copy=copy['seconds'], bytes=copy['bytes'],
                    verify=check[0].get('seconds') if check else None, tasks=len(ran), records=len(run.records),
                    slowest=slowest)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--mb', type=int, default=400)
    parser.add_argument('--tables', type=int, default=4)
    parser.add_argument('--samples', type=int, default=3)
    parser.add_argument('--address', default='127.0.76.11')
    parser.add_argument('--methods', default='physical,logical,cold,snapshot')
    parser.add_argument('--hand', default='raw,stream,dump,mydumper')
    parser.add_argument('--from-log', help='only print the table from the sample lines of an earlier run')
    args = parser.parse_args()
    if args.from_log:
        return report_from_log(args.from_log)
    directory = tempfile.mkdtemp(prefix='replicant-bench-clone-', dir='/var/tmp')
    os.rmdir(directory)
    lab = playbooks.Lab(directory, playbooks.lab_vars(directory, args.address, lab_servers=2, lab_spares=1,
                                                      lab_timeout=900,
                                                      lab_extra_config={'innodb_buffer_pool_size': '256M'}))
    work = tempfile.mkdtemp(prefix='replicant-bench-work-', dir='/var/tmp')
    samples = {}
    try:
        run = lab.up()
        assert run.rc == 0, run.output
        load(lab, args.mb, args.tables)
        bench = Bench(lab, work)
        hand = {'raw': ('raw `cp -a` of the source datadir', bench.raw_copy),
                'stream': ('by hand: mariadb-backup --stream | mbstream -x + --prepare', bench.hand_stream),
                'dump': ('by hand: mariadb-dump | mariadb', bench.hand_dump),
                'mydumper': ('by hand: mydumper -t 2 + myloader -t 2', bench.hand_mydumper)}
        plan = [hand[h] for h in args.hand.split(',') if h and (h != 'mydumper' or shutil.which('mydumper'))]
        plan += [('clone_slave method=%s' % m, lambda m=m: bench.clone_slave(m)) for m in args.methods.split(',') if m]
        for sample in range(args.samples):
            order = plan[sample % len(plan):] + plan[:sample % len(plan)]
            for name, measure in order:
                result = measure()
                print('sample %d: %s: %s' % (sample + 1, name, result), flush=True)
                samples.setdefault(name, []).append(result)
        datadir = du(lab.hosts()['lab2']['replicant_datadir'])
    finally:
        lab.down()
        shutil.rmtree(work, ignore_errors=True)
    print('\nSource datadir %.0f MB (%d MB of rows in %d tables loaded)' % (datadir / 1e6, args.mb, args.tables))
    report(samples, [step[0] for step in plan])


def report(samples, names):
    """The markdown table of the samples (medians, minimum in brackets), in the order of ``names``."""
    stream = [n for n in names if n.startswith('by hand: mariadb-backup')]
    stream = statistics.median(s['whole'] for s in samples[stream[0]]) if stream and stream[0] in samples else 0
    print('\n%s samples per method, interleaved; medians (min)\n' % '/'.join(
        sorted({str(len(samples[n])) for n in names if n in samples})))
    print('| what | whole procedure (s) | copy step (s) | MB copied | verification (s) | tasks run (of listed) | '
          'whole / hand stream+prepare |')
    print('| --- | --- | --- | --- | --- | --- | --- |')

    def cell(values, fmt='%.1f'):
        values = [v for v in values if v is not None]
        return (fmt + ' (' + fmt + ')') % (statistics.median(values), min(values)) if values else '-'
    for name in names:
        got = samples.get(name)
        if not got:
            continue
        whole = statistics.median(s['whole'] for s in got)
        print('| %s | %s | %s | %s | %s | %s | %s |' % (
            name.replace('|', '\\|'), cell([s['whole'] for s in got]), cell([s['copy'] for s in got]),
            '%.0f' % (statistics.median(s['bytes'] for s in got) / 1e6) if got[0].get('bytes') else '-', cell([s.get('verify') for s in got]),
            '%d (%d)' % (got[0]['tasks'], got[0]['records']) if 'tasks' in got[0] else '-',
            '%.2f' % (whole / stream) if stream else '-'))


def report_from_log(path):
    """The table again from the ``sample N: name: {...}`` lines a (possibly interrupted) run printed."""
    samples, names = {}, []
    with open(path) as handle:
        for line in handle:
            match = re.match(r'sample \d+: (.*): (\{.*\})$', line.strip())
            if match:
                name = match.group(1)
                names += [] if name in names else [name]
                samples.setdefault(name, []).append(ast.literal_eval(match.group(2)))
    report(samples, names)


if __name__ == '__main__':
    main()
