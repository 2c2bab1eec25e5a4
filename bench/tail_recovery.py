# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kill -9 of the master with its host up and every replica's IO thread behind: how many acknowledged commits
does a failover lose - asynchronous replication with and without recovering the old master's binary-log tail, and
semi-synchronous replication (AFTER_SYNC) without it?

    .venv/bin/python bench/tail_recovery.py [--rounds 5] [--modes recover,async,semisync] [--threads 4] [--rate 400]
        [--no-docs]

Each round builds a fresh lab (playbooks/lab.yml: lab1 master, lab2 and lab3 replicas; 127.0.70.21-23), starts
the soak bench's writer (--threads connections of the unprivileged app account, --rate inserts/s in all, each
acknowledged insert recorded with its GTID), stops the IO thread of both replicas one after the other (0.8 s and
0.4 s before the kill: neither received the last commits, one less than the other), kills lab1's mariadbd with
SIGKILL and runs `ansible-playbook playbooks/failover.yml`. The modes take turns, round by round, in one run:
`recover` (asynchronous, the default: mysql_binlog_tail reads lab1's binary log on its host), `async` (the
baseline: `-e promote_master_recover_tail=false`) and `semisync` (a lab built with `-e lab_semisync=true`, without
the recovery: a commit returns once a replica acknowledged it). Lost: acknowledged inserts of lab1 missing from a
surviving server afterwards. Also checks that exactly one server is writable and the other replicates from it;
reports the writer's inserts/s in the second before the IO threads stop (what semi-sync costs at that rate).
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

BASE_ADDRESS = '127.0.70.21'
HEADING = '## Failover after kill -9: the old master\'s binary-log tail'


MODES = {'recover': 'async, tail recovered', 'async': 'async (baseline)', 'semisync': 'semi-sync AFTER_SYNC'}


def one_round(lab, number, mode, opts):
    recover = mode == 'recover'
    lab.vars = json.dumps(dict(json.loads(lab.vars), lab_semisync=mode == 'semisync'))
    bench.fresh(lab, again=number > 0)
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    user, password = lab.common['replicant_app_user'], lab.common['replicant_app_password']
    client = multiprocessing.Process(target=soak.writer, args=({n: lab.address(n) for n in lab.names}, user, password,
                                                               stop, out, opts.threads, opts.rate), daemon=True)
    client.start()
    row = dict(round=number + 1, mode=mode, problems=[])
    try:
        time.sleep(1.0)
        steady = time.time()
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
    row['rate'] = sum(1 for a in before if steady - 1.0 <= a[0] < steady)
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
    lines = ['| round | replication | acknowledged by lab1 | inserts/s before the IO threads stopped | of them received '
             'by no replica at the kill | lost after the failover | failover.yml (s) | result |',
             '| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |']
    for r in rows:
        lines.append('| %d | %s | %d | %d | %d | %s | %.1f | %s |' % (
            r['round'], MODES[r['mode']], r['acked'], r['rate'], r['unreceived'], r.get('lost', '-'),
            r.get('play', float('nan')), 'FAIL: ' + r['problems'][0][:80] if r['problems'] else 'ok'))
    per = []
    for mode in opts.modes:
        group = [r for r in rows if r['mode'] == mode]
        per.append('%s: lost per round %s, writer %s inserts/s (median), failover.yml %.1f s (median)' % (
            MODES[mode], ', '.join(str(r.get('lost', '-')) for r in group) or '-',
            statistics.median([r['rate'] for r in group]) if group else '-',
            statistics.median([r['play'] for r in group if 'play' in r] or [float('nan')])))
    return '\n'.join(lines) + '\n\n' + (
        '%d rounds in %.0f s, %d writer connections at %d inserts/s in all; load average %s at the start, %s at the '
        'end. %s.\n' % (len(rows), elapsed, opts.threads, opts.rate, loads[0], loads[1], '; '.join(per)))


def write_docs(text):
    section = '\n'.join([
        HEADING, '',
        'Issue 16: kill -9 of the master\'s mariadbd while its host stays up, with both replicas\' IO threads stopped',
        'shortly before (neither received the last acknowledged commits). Each round a fresh 3-server lab',
        '(127.0.70.21-23), a writer through the unprivileged account, then `playbooks/failover.yml`. The modes take',
        'turns in one run: asynchronous replication with the default (the old master\'s binary-log tail recovered on',
        'its host by `mysql_binlog_tail`), asynchronous with `-e promote_master_recover_tail=false` (the baseline:',
        'the host might as well be gone), and semi-synchronous replication (AFTER_SYNC, `-e lab_semisync=true`)',
        'without the recovery:', '',
        '    %s' % bench.command_line(), '',
        'Measured %s on %d cores shared with other work.' % (time.strftime('%Y-%m-%d'), os.cpu_count()), '',
        text.rstrip(), ''])
    bench.replace_section(os.path.join(bench.REPO, 'docs', 'benchmarks.md'), HEADING, section)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=5, help='failovers per mode (default 5)')
    parser.add_argument('--modes', default='recover,async,semisync', type=lambda v: v.split(','),
                        help='comma-separated, of %s (default all)' % ', '.join(MODES))
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
        for number in range(len(opts.modes) * opts.rounds):
            row = one_round(lab, number, opts.modes[number % len(opts.modes)], opts)
            rows.append(row)
            print('round %d (%s): lost %s of %d acknowledged, %d received by no replica, %d inserts/s%s' % (
                row['round'], MODES[row['mode']], row.get('lost', '-'), row['acked'], row['unreceived'], row['rate'],
                ''.join('\n  ' + p for p in row['problems'])), file=sys.stderr)
    finally:
        bench.run_playbook('lab.yml', '-e', lab.vars, '-e', 'lab_state=absent')
        shutil.rmtree(directory, ignore_errors=True)
    loads[1] = '%.1f' % os.getloadavg()[0]
    text = report(rows, opts, loads, time.time() - started)
    print(text)
    if not opts.no_docs:
        write_docs(text)
    bad = [r for r in rows if r['problems'] or (r['mode'] != 'async' and r.get('lost'))]
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
