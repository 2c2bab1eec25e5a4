# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Asynchronous replication, kill -9 of the master with its host up, every replica's IO thread behind: how many
acknowledged commits does a failover lose, with and without recovering the old master's binary-log tail?

    .venv/bin/python bench/tail_recovery.py [--rounds 5] [--threads 4] [--rate 400] [--no-docs]

Each round builds a fresh lab (playbooks/lab.yml: lab1 master, lab2 and lab3 replicas; 127.0.70.21-23), starts
the soak bench's writer (--threads connections of the unprivileged app account, --rate inserts/s in all, each
acknowledged insert recorded with its GTID), stops the IO thread of both replicas one after the other (0.8 s and
0.4 s before the kill: neither received the last commits, one less than the other), kills lab1's mariadbd with
SIGKILL and runs `ansible-playbook playbooks/failover.yml`. Rounds alternate between the recovery on (the
default: mysql_binlog_tail reads lab1's binary log on its host) and off (`-e promote_master_recover_tail=false`,
the baseline: plain asynchronous failover), in the same run. Lost: acknowledged inserts of lab1 missing from a
surviving server afterwards. Also checks that exactly one server is writable and the other replicates from it.
"""
import argparse
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

BASE_ADDRESS = '127.0.70.21'
HEADING = '## Failover after kill -9: the old master\'s binary-log tail'


def one_round(lab, number, recover, opts):
    bench.fresh(lab, again=number > 0)
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    user, password = lab.common['replicant_app_user'], lab.common['replicant_app_password']
    client = multiprocessing.Process(target=soak.writer, args=({n: lab.address(n) for n in lab.names}, user, password,
                                                               stop, out, opts.threads, opts.rate), daemon=True)
    client.start()
    row = dict(round=number + 1, recover=recover, problems=[])
    try:
        time.sleep(1.0)
        soak.query(lab, 'lab2', 'STOP SLAVE IO_THREAD')
        time.sleep(0.4)
        soak.query(lab, 'lab3', 'STOP SLAVE IO_THREAD')
        time.sleep(0.4)
        soak.kill_master(lab, 'lab1')
        received = soak.gtid('')
        for text in soak.received_after_kill(lab, ['lab2', 'lab3']).values():
            received = received | soak.gtid(text)
        started = time.time()
        _cmd, returncode, output = bench.run_playbook('failover.yml', '-i', lab.inventory, '-e',
                                                      'promote_master_recover_tail=%s' % str(recover).lower(),
                                                      timeout=soak.PLAY_TIMEOUT)
        row['play'] = time.time() - started
        if returncode != 0:
            row['problems'].append('failover.yml exited %s; its output ends:\n%s' % (returncode, output[-3000:]))
        time.sleep(0.5)
    finally:
        stop.set()
        acked = out.get(timeout=60)
        client.join(10)
    before = [a for a in acked if a[1] == 'lab1']
    row['acked'] = len(before)
    row['unreceived'] = sum(1 for a in before if not soak.gtid(a[3]) <= received)
    if not row['problems']:
        # every acknowledged insert of lab1 is what must survive here (with the recovery): count what is missing
        problems, row['new'], _lost = soak.check_survivors(lab, ['lab2', 'lab3'], acked, received, 'lab1')
        row['problems'] += [p for p in problems if 'acknowledged inserts' not in p]
        have = None
        for name in ('lab2', 'lab3'):
            ids = {r[0] for r in soak.query(lab, name, 'SELECT id FROM bench.t')}
            have = ids if have is None else have & ids
        row['lost'] = sum(1 for a in before if a[2] not in have)
    return row


def report(rows, opts, loads, elapsed):
    lines = ['| round | tail recovery | acknowledged by lab1 | of them received by no replica at the kill | lost after '
             'the failover | failover.yml (s) | result |', '| ---: | --- | ---: | ---: | ---: | ---: | --- |']
    for r in rows:
        lines.append('| %d | %s | %d | %d | %s | %.1f | %s |' % (
            r['round'], 'on' if r['recover'] else 'off (baseline)', r['acked'], r['unreceived'],
            r.get('lost', '-'), r.get('play', float('nan')), 'FAIL: ' + r['problems'][0][:80] if r['problems'] else 'ok'))
    on = [r for r in rows if r['recover']]
    off = [r for r in rows if not r['recover']]

    def lost(group):
        return ', '.join(str(r.get('lost', '-')) for r in group) or '-'
    plays = {k: statistics.median([r['play'] for r in g if 'play' in r] or [float('nan')]) for k, g in (('on', on),
                                                                                                     ('off', off))}
    return '\n'.join(lines) + '\n\n' + (
        '%d rounds in %.0f s, %d writer connections at %d inserts/s in all; load average %s at the start, %s at the '
        'end. Lost acknowledged commits per round: with the recovery %s; without it (the baseline) %s. failover.yml '
        'took %.1f s (median) with the recovery, %.1f s without.\n' % (
            len(rows), elapsed, opts.threads, opts.rate, loads[0], loads[1], lost(on), lost(off), plays['on'],
            plays['off']))


def write_docs(text):
    section = '\n'.join([
        HEADING, '',
        'Issue 16: asynchronous replication, kill -9 of the master\'s mariadbd while its host stays up, with both',
        'replicas\' IO threads stopped shortly before (neither received the last acknowledged commits). Each round a',
        'fresh 3-server lab (127.0.70.21-23), a writer through the unprivileged account, then `playbooks/failover.yml`;',
        'the rounds alternate between the default (the old master\'s binary-log tail recovered on its host by',
        '`mysql_binlog_tail`) and `-e promote_master_recover_tail=false` (the baseline), in one run:', '',
        '    %s' % bench.command_line(), '',
        'Measured %s on %d cores shared with other work.' % (time.strftime('%Y-%m-%d'), os.cpu_count()), '',
        text.rstrip(), ''])
    bench.replace_section(os.path.join(bench.REPO, 'docs', 'benchmarks.md'), HEADING, section)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=5, help='failovers with the recovery (and as many without)')
    parser.add_argument('--threads', type=int, default=4, help='writer connections (default 4)')
    parser.add_argument('--rate', type=int, default=400, help='inserts per second in all (default 400)')
    parser.add_argument('--no-docs', action='store_true', help='do not update docs/benchmarks.md')
    opts = parser.parse_args()
    loads = ['%.1f' % os.getloadavg()[0], '-']
    directory = tempfile.mkdtemp(prefix='replicant-bench-tail-', dir='/var/tmp')
    os.rmdir(directory)
    lab = bench.Lab(directory, base_address=BASE_ADDRESS, servers=3)
    rows, started = [], time.time()
    try:
        for number in range(2 * opts.rounds):
            row = one_round(lab, number, number % 2 == 0, opts)
            rows.append(row)
            print('round %d (recovery %s): lost %s of %d acknowledged, %d received by no replica%s' % (
                row['round'], 'on' if row['recover'] else 'off', row.get('lost', '-'), row['acked'], row['unreceived'],
                ''.join('\n  ' + p for p in row['problems'])), file=sys.stderr)
    finally:
        bench.run_playbook('lab.yml', '-e', lab.vars, '-e', 'lab_state=absent')
        shutil.rmtree(directory, ignore_errors=True)
    loads[1] = '%.1f' % os.getloadavg()[0]
    text = report(rows, opts, loads, time.time() - started)
    print(text)
    if not opts.no_docs:
        write_docs(text)
    bad = [r for r in rows if r['problems'] or (r['recover'] and r.get('lost'))]
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
