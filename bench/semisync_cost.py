# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What semi-synchronous replication (AFTER_SYNC) costs the writers on the lab, against asynchronous, in one run.

    .venv/bin/python bench/semisync_cost.py [--samples 3] [--seconds 10] [--threads 1,8] [--no-docs]

Per sample and mode (the modes take turns, a fresh 3-server lab each time on 127.0.71.21-23; semi-sync labs
built with -e lab_semisync=true), for each writer size in --threads: that many connections of the
unprivileged account insert as fast as they can into the master for --seconds; the figure is the inserts
acknowledged per second. One connection gives the commit latency (1 / its rate). For the semi-sync lab the
master's Rpl_semi_sync_master_status must still be ON at the end, with no commit that went unacknowledged
(Rpl_semi_sync_master_no_tx 0): else the sample is marked (it measured asynchronous commits).
Writes "## Semi-synchronous replication: what it costs the writers" into docs/benchmarks.md.
"""
import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_soak as soak  # noqa: E402
import switchover as bench  # noqa: E402

BASE_ADDRESS = '127.0.71.21'
HEADING = '## Semi-synchronous replication: what it costs the writers'
MODES = ('async', 'semisync')
LABEL = {'async': 'asynchronous', 'semisync': 'semi-sync AFTER_SYNC'}
UNCAPPED = 10 ** 6   # inserts per second: no pacing


def measure(lab, threads, seconds):
    """Inserts per second acknowledged by ``threads`` connections writing flat out for ``seconds``."""
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    user, password = lab.common['replicant_app_user'], lab.common['replicant_app_password']
    client = multiprocessing.Process(target=soak.writer, args=({n: lab.address(n) for n in lab.names}, user, password,
                                                               stop, out, threads, UNCAPPED), daemon=True)
    client.start()
    time.sleep(1.0 + seconds)   # the first second is the warm-up (connections, first pages)
    stop.set()
    acked = out.get(timeout=120)
    client.join(10)
    start = acked[0][0] + 1.0 if acked else 0
    return sum(1 for a in acked if start <= a[0] < start + seconds) / float(seconds)


def semisync_status(lab):
    rows = dict(soak.query(lab, 'lab1', "SHOW GLOBAL STATUS WHERE Variable_name IN "
                                        "('Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_no_tx', "
                                        "'Rpl_semi_sync_master_yes_tx')"))
    return rows.get('Rpl_semi_sync_master_status', '-'), int(rows.get('Rpl_semi_sync_master_no_tx', 0) or 0), \
        int(rows.get('Rpl_semi_sync_master_yes_tx', 0) or 0)


def sample(lab, number, mode, opts, first):
    lab.vars = json.dumps(dict(json.loads(lab.vars), lab_semisync=mode == 'semisync'))
    bench.fresh(lab, again=not first)
    row = dict(sample=number + 1, mode=mode, rates={})
    for threads in opts.threads:
        row['rates'][threads] = measure(lab, threads, opts.seconds)
    row['status'], row['no_tx'], row['yes_tx'] = semisync_status(lab)
    row['ok'] = mode == 'async' or (row['status'] == 'ON' and row['no_tx'] == 0 and row['yes_tx'] > 0)
    return row


def report(rows, opts, loads, elapsed):
    head = ' | '.join('%d connection%s (inserts/s)' % (t, '' if t == 1 else 's') for t in opts.threads)
    lines = ['| sample | replication | %s | semi-sync status at the end (acknowledged / not) |' % head,
             '| ---: | --- | %s | --- |' % ' | '.join('---:' for _t in opts.threads)]
    for r in rows:
        lines.append('| %d | %s | %s | %s |' % (
            r['sample'], LABEL[r['mode']], ' | '.join('%.0f' % r['rates'][t] for t in opts.threads),
            '-' if r['mode'] == 'async' else '%s (%d / %d)%s' % (
                r['status'], r['yes_tx'], r['no_tx'], '' if r['ok'] else ' FELL BACK')))
    medians = {}
    for mode in MODES:
        for t in opts.threads:
            values = [r['rates'][t] for r in rows if r['mode'] == mode and r['ok']]
            medians[mode, t] = statistics.median(values) if values else float('nan')
    parts = []
    for t in opts.threads:
        a, s = medians['async', t], medians['semisync', t]
        parts.append('%d connection%s: %.0f inserts/s asynchronous, %.0f semi-sync (%.0f %% of it; a commit takes '
                     '%.2f ms against %.2f ms per connection)' % (
                         t, '' if t == 1 else 's', a, s, 100.0 * s / a, 1000.0 * t / s, 1000.0 * t / a))
    return '\n'.join(lines) + '\n\n' + (
        'Medians over %d samples per mode, %d s each, %.0f s in all; load average %s at the start, %s at the end. '
        '%s.\n' % (opts.samples, opts.seconds, elapsed, loads[0], loads[1], '; '.join(parts)))


def write_docs(text):
    section = '\n'.join([
        HEADING, '',
        'Issue 16: the price of AFTER_SYNC. Writers of the unprivileged account insert flat out into the master of a',
        '3-server lab (127.0.71.21-23), asynchronous and semi-synchronous (`-e lab_semisync=true`: both replicas',
        'acknowledge, one acknowledgement per commit, 10 s timeout) taking turns, a fresh lab per sample:', '',
        '    %s' % bench.command_line(), '',
        'Measured %s on %d cores (everything - the writers, the master and both replicas - on the same 2 cores,'
        % (time.strftime('%Y-%m-%d'), os.cpu_count()),
        'so a replica\'s acknowledgement costs CPU the master would otherwise have; over a network the round trip',
        'to the nearest replica is the price instead).', '',
        text.rstrip(), ''])
    bench.replace_section(os.path.join(bench.REPO, 'docs', 'benchmarks.md'), HEADING, section)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--samples', type=int, default=3, help='samples per mode (default 3)')
    parser.add_argument('--seconds', type=int, default=10, help='seconds of writing per measurement (default 10)')
    parser.add_argument('--threads', default=[1, 8], type=lambda v: [int(t) for t in v.split(',')],
                        help='writer sizes, comma-separated (default 1,8)')
    parser.add_argument('--no-docs', action='store_true', help='do not update docs/benchmarks.md')
    opts = parser.parse_args()
    directory = tempfile.mkdtemp(prefix='replicant-bench-semisync-cost-', dir='/var/tmp')
    os.rmdir(directory)
    lab = bench.Lab(directory, base_address=BASE_ADDRESS)
    loads, started, rows = ['%.1f' % os.getloadavg()[0]], time.time(), []
    try:
        for number in range(opts.samples):
            for mode in (MODES if number % 2 == 0 else MODES[::-1]):
                rows.append(sample(lab, number, mode, opts, first=not rows))
                print('sample %d %s: %s' % (number + 1, mode, rows[-1]), flush=True)
    finally:
        if rows:
            lab.down()
        shutil.rmtree(directory, ignore_errors=True)
    loads.append('%.1f' % os.getloadavg()[0])
    text = report(rows, opts, loads, time.time() - started)
    print(text)
    if not opts.no_docs:
        write_docs(text)


if __name__ == '__main__':
    main()
