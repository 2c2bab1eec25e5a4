# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover soak: N rounds of kill -9 of the master under a writer, replicas at different positions.

    .venv/bin/python bench/failover_soak.py [--rounds 10] [--threads 4] [--rate 200] [--budget 780] [--no-docs]

Each round builds a fresh lab (playbooks/lab.yml: lab1 master, lab2-lab4 replicas; 127.0.77.11-14), starts a
writer process (--threads connections of the unprivileged app account, --rate inserts per second in all, each
to whichever server is writable; every acknowledged insert is recorded with its id and the GTID the server gave
it, read in the same round trip), and puts the replicas at different positions: one replicates normally, one's
IO thread is stopped 0.6 s before the kill (it received less), one's SQL thread is stopped 1.5 s before the kill
(it received everything but applied less); the roles rotate from round to round. Then kill -9 of lab1's mariadbd;
once every replica's IO thread has seen it die, each replica's received GTIDs (Gtid_IO_Pos) are read, and
`ansible-playbook playbooks/failover.yml` runs against the lab's inventory while the writer keeps going. Checks:
the play succeeds; exactly one surviving server is writable and every other replicates from it (both threads
running); every transaction any replica had received (the union of their Gtid_IO_Pos) is in every survivor's
gtid_current_pos, and every acknowledged insert it carried is on every survivor; every insert the new master
acknowledged is on every survivor. Acknowledged inserts that no replica had received are lost by asynchronous
replication (expected) and are counted apart. The lab is torn down after each round.

Prints a per-round table and a summary (and writes it into docs/benchmarks.md, "## Failover soak"). Exit status:
1 when a received transaction was lost or a failover failed, 2 when --budget seconds ran out before --rounds
rounds (no new round starts when the slowest round so far would not fit), else 0.
"""
import argparse
import multiprocessing
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import switchover as bench  # noqa: E402  (sets up the collection path, the lab and the playbook runner)

import pymysql  # noqa: E402
from pymysql.constants import CLIENT  # noqa: E402

from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid  # noqa: E402

BASE_ADDRESS = '127.0.77.11'
SERVERS = 4
HEADING = '## Failover soak'
ROLES = ('current', 'io stopped', 'sql stopped')
PLAY_TIMEOUT = 300


def gtid(text):
    return parse_gtid(text or '', 'mariadb')


# -- the writer ----------------------------------------------------------------------------------
def writer(addresses, user, password, stop, out, threads, rate):
    """``threads`` connections inserting into whichever server is writable, ``rate`` inserts/s in all.

    Each acknowledged insert is recorded as (time, server, id, GTID); the GTID is read in the same round trip
    (INSERT; SELECT @@last_gtid), so an insert counts as acknowledged only with its GTID.
    """
    acked, lock = [], threading.Lock()
    interval = float(threads) / rate

    def one(number):
        conn, server, next_id = None, None, number * 10 ** 8
        due = time.time() + interval * number / threads
        while not stop.is_set():
            time.sleep(max(0, due - time.time()))
            if conn is None:
                conn, server = bench.connect_writable(addresses, user, password, read_timeout=10, write_timeout=10,
                                                      client_flag=CLIENT.MULTI_STATEMENTS)
                if conn is None:
                    time.sleep(0.01)
                    due = time.time()
                    continue
            next_id += 1
            try:
                with conn.cursor() as cur:
                    cur.execute('INSERT INTO bench.t VALUES (%s, %s); SELECT @@last_gtid', (next_id, server))
                    cur.nextset()
                    last = cur.fetchone()[0]
                with lock:
                    acked.append((time.time(), server, next_id, last))
                due = max(due + interval, time.time() - interval)
            except pymysql.MySQLError:
                try:
                    conn.close()
                except Exception:
                    pass
                conn, due = None, time.time()
    out.put(bench.in_threads(one, threads, acked))


# -- one round -----------------------------------------------------------------------------------
def query(lab, name, sql, *args, dictionary=False):
    conn = lab.admin(name)
    try:
        with conn.cursor(pymysql.cursors.DictCursor if dictionary else None) as cur:
            cur.execute(sql, args or None)
            return cur.fetchall()
    finally:
        conn.close()


def slave_status(lab, name):
    rows = query(lab, name, 'SHOW SLAVE STATUS', dictionary=True)
    return rows[0] if rows else {}


def kill_master(lab, master):
    with open(os.path.join(os.path.dirname(lab.hosts[master]['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)


def received_after_kill(lab, replicas, timeout=10):
    """Each replica's Gtid_IO_Pos once its IO thread no longer runs (it has seen the master die)."""
    deadline = time.time() + timeout
    while True:
        status = {n: slave_status(lab, n) for n in replicas}
        if all(s.get('Slave_IO_Running') != 'Yes' for s in status.values()) or time.time() > deadline:
            return {n: s.get('Gtid_IO_Pos') or '' for n, s in status.items()}
        time.sleep(0.05)


def check_survivors(lab, survivors, acked, received, master_name):
    """The checks of a round: a list of problems (empty when all is well) and the new master's name."""
    problems = []
    writable = [n for n in survivors if query(lab, n, 'SELECT @@GLOBAL.read_only')[0][0] == 0]
    if len(writable) != 1:
        return ['writable servers after the failover: %s (want exactly one)' % (writable or 'none')], None, None
    new = writable[0]
    host, port = lab.address(new)
    final = query(lab, new, 'SELECT @@GLOBAL.gtid_binlog_pos')[0][0]
    for name in survivors:
        if name == new:
            continue
        status = slave_status(lab, name)
        if (status.get('Master_Host'), int(status.get('Master_Port') or 0)) != (host, port):
            problems.append('%s replicates from %s:%s, not from %s' % (
                name, status.get('Master_Host'), status.get('Master_Port'), new))
        elif query(lab, name, 'SELECT MASTER_GTID_WAIT(%s, 30)', final)[0][0] != 0:
            status = slave_status(lab, name)
            problems.append('%s did not catch up with %s within 30 s (IO %s, SQL %s, %s)' % (
                name, new, status.get('Slave_IO_Running'), status.get('Slave_SQL_Running'),
                status.get('Last_Error') or status.get('Last_IO_Error') or 'no error'))
    # what must be everywhere: every received transaction, and every insert the new master acknowledged
    must = {i for _t, server, i, g in acked if (server == master_name and gtid(g) <= received) or server == new}
    lost = set()
    for name in survivors:
        current = gtid(query(lab, name, 'SELECT @@GLOBAL.gtid_current_pos')[0][0])
        if not received <= current:
            problems.append('%s lacks received transactions: gtid_current_pos %s, received %s' % (
                name, current, received))
        have = {row[0] for row in query(lab, name, 'SELECT id FROM bench.t')}
        missing = sorted(must - have)
        lost.update(missing)
        if missing:
            problems.append('%s lacks %d acknowledged inserts that must survive (ids %s%s)' % (
                name, len(missing), missing[:10], ' ...' if len(missing) > 10 else ''))
    return problems, new, len(lost)


def one_round(lab, number, opts, logdir):
    replicas = lab.names[1:]
    shift = number % len(replicas)
    roles = dict(zip(replicas[shift:] + replicas[:shift], ROLES))
    by_role = {role: name for name, role in roles.items()}
    bench.fresh(lab, again=number > 0)
    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    user, password = lab.common['replicant_app_user'], lab.common['replicant_app_password']
    client = multiprocessing.Process(target=writer, args=({n: lab.address(n) for n in lab.names}, user, password,
                                                          stop, out, opts.threads, opts.rate), daemon=True)
    client.start()
    row = dict(round=number + 1, roles=roles, problems=[])
    try:
        time.sleep(1.0)
        query(lab, by_role['sql stopped'], 'STOP SLAVE SQL_THREAD')
        time.sleep(0.9)
        query(lab, by_role['io stopped'], 'STOP SLAVE IO_THREAD')
        time.sleep(0.6)
        row['master_semisync'] = dict((str(k), str(v)) for k, v in query(
            lab, 'lab1', "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'"))   # empty sets with async replication
        kill_master(lab, 'lab1')
        killed = time.time()
        received_by = received_after_kill(lab, replicas)
        received = gtid('')
        for text in received_by.values():
            received = received | gtid(text)
        row['received'] = {n: gtid(t).to_dict().get(0, {}).get('seq', 0) for n, t in received_by.items()}
        started = time.time()
        cmd, returncode, output = bench.run_playbook('failover.yml', '-i', lab.inventory, '-v', timeout=PLAY_TIMEOUT)
        row['play'] = time.time() - started
        with open(os.path.join(logdir, 'round-%02d-failover.log' % (number + 1)), 'w') as handle:
            handle.write(' '.join(cmd) + '\n' + output)
        if returncode != 0:
            row['problems'].append('failover.yml exited %s; its output ends:\n%s' % (returncode, output[-3000:]))
        time.sleep(1.0)  # the writer goes on against the new master
    finally:
        stop.set()
        acked = out.get(timeout=60)
        client.join(10)
    before = [a for a in acked if a[1] == 'lab1']
    row['acked'] = len(before)
    row['rate'] = len(before) / max(1e-3, before[-1][0] - before[0][0]) if len(before) > 1 else 0.0
    row['must'] = sum(1 for a in before if gtid(a[3]) <= received)
    row['async_lost'] = len(before) - row['must']
    row['after'] = sum(1 for a in acked if a[1] != 'lab1')
    if not row['problems']:
        problems, row['new'], row['lost'] = check_survivors(lab, replicas, acked, received, 'lab1')
        row['problems'] += problems
    return row


# -- report --------------------------------------------------------------------------------------
def table(rows):
    lines = ['| round | replicas at the kill (received seq) | new master | failover play (s) | acknowledged by the '
             'old master | of them received by a replica (must survive) | lost of those | acknowledged, never '
             'received (async loss) | acknowledged by the new master | result |',
             '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
    for r in rows:
        positions = ', '.join('%s %s %d' % (n, r['roles'][n], r['received'].get(n, 0)) for n in sorted(r['roles']))
        lines.append('| %d | %s | %s | %.1f | %d | %d | %s | %d | %d | %s |' % (
            r['round'], positions, r.get('new') or '-', r.get('play', float('nan')), r['acked'], r['must'],
            '-' if r.get('lost') is None else r['lost'], r['async_lost'], r['after'],
            'FAIL' if r['problems'] else 'ok'))
    return '\n'.join(lines)


def summary(rows, opts, elapsed, loads):
    plays = [r['play'] for r in rows if 'play' in r] or [float('nan')]
    return ('%d of %d rounds in %.0f s (budget %d s), %d writer connections at %d inserts/s in all; load average %s '
            'at the start, %s at the end. Rounds that failed a check: %d. Acknowledged inserts that must survive '
            '(carried by a transaction some replica had received, or acknowledged by the new master) but were '
            'missing afterwards from a surviving server: %d; transactions received by some replica and missing '
            'from a survivor\'s gtid_current_pos: %d round(s). Acknowledged inserts no replica had received (lost '
            'by asynchronous replication, expected): %d in all (per round %s). failover.yml took %.1f s median '
            '(%.1f-%.1f).' % (
                len(rows), opts.rounds, elapsed, opts.budget, opts.threads, opts.rate, loads[0], loads[1],
                sum(1 for r in rows if r['problems']), sum(r.get('lost') or 0 for r in rows),
                sum(1 for r in rows if any('lacks received transactions' in p for p in r['problems'])),
                sum(r['async_lost'] for r in rows), ', '.join(str(r['async_lost']) for r in rows),
                statistics.median(plays), min(plays), max(plays)))


def write_docs(text):
    section = '\n'.join([
        HEADING, '',
        'Repeated unplanned failovers under a writer, with the replicas at different positions when the master dies',
        '(issue 13). Each round builds a fresh 4-server MariaDB 10.11 lab (lab1 master, lab2-lab4 replicas,',
        '127.0.77.11-14), writes through the unprivileged app account (every acknowledged insert recorded with the',
        'GTID the server gave it), stops one replica\'s IO thread 0.6 s before the kill (it received less) and',
        'another\'s SQL thread 1.5 s before it (it received everything but applied less; the roles rotate), kills',
        'lab1\'s mariadbd with SIGKILL, reads every replica\'s Gtid_IO_Pos once its IO thread has seen the master die,',
        'and runs `ansible-playbook playbooks/failover.yml` while the writer goes on:', '',
        '    %s' % bench.command_line(), '',
        'A round passes when the play succeeds, exactly one server is writable, every other replicates from it, and',
        'every transaction any replica had received (and every acknowledged insert it carried, and every insert the',
        'new master acknowledged) is on every surviving server. "received seq" is the replica\'s Gtid_IO_Pos',
        'sequence number at the kill. Measured %s on %d cores shared with other work.' % (
            time.strftime('%Y-%m-%d'), os.cpu_count()), '',
        text.rstrip(), '',
        'Reading it: the replica whose SQL thread was stopped received as much as the current one; when the failover',
        'elects it (a tie), it first applies its relay log (about 1.5 s of writes, some 300 transactions) before it',
        'becomes writable, so those rounds exercise the failover\'s relay-log draining. The replica whose IO thread',
        'was stopped received about 120 transactions less and catches up from the new master. The writer commits at',
        'a rate the replicas keep up with, so a transaction is almost always on a replica before the client has its',
        'acknowledgement: asynchronous loss is possible (counted apart) but rare at this rate.', ''])
    bench.replace_section(os.path.join(bench.REPO, 'docs', 'benchmarks.md'), HEADING, section)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--rounds', type=int, default=10, help='failovers, each on a fresh lab (default 10)')
    parser.add_argument('--threads', type=int, default=4, help='writer connections (default 4)')
    parser.add_argument('--rate', type=int, default=200, help='inserts per second in all (default 200, which the '
                        'replicas keep up with on the shared machine)')
    parser.add_argument('--budget', type=int, default=780, help='seconds; no round starts that would not end '
                        'within it, judged by the slowest round so far (default 780)')
    parser.add_argument('--no-docs', action='store_true', help='do not update docs/benchmarks.md')
    opts = parser.parse_args()
    loads = ['%.1f' % os.getloadavg()[0], '-']
    directory = tempfile.mkdtemp(prefix='replicant-bench-soak-', dir='/var/tmp')
    os.rmdir(directory)
    logdir = tempfile.mkdtemp(prefix='replicant-bench-soak-logs-')
    lab = bench.Lab(directory, base_address=BASE_ADDRESS, servers=SERVERS)
    rows, started, slowest = [], time.time(), 0.0
    try:
        for number in range(opts.rounds):
            if time.time() - started + slowest > opts.budget:
                print('time budget: stopping after %d rounds' % number, file=sys.stderr)
                break
            begun = time.time()
            row = one_round(lab, number, opts, logdir)
            slowest = max(slowest, time.time() - begun)
            rows.append(row)
            print('round %d: %s in %.0f s%s' % (row['round'], 'ok' if not row['problems'] else 'FAIL',
                                                time.time() - begun, ''.join('\n  ' + p for p in row['problems'])),
                  file=sys.stderr)
    finally:
        bench.run_playbook('lab.yml', '-e', lab.vars, '-e', 'lab_state=absent')
        shutil.rmtree(directory, ignore_errors=True)
    loads[1] = '%.1f' % os.getloadavg()[0]
    text = table(rows) + '\n\n' + summary(rows, opts, time.time() - started, loads) + '\n'
    print(text)
    failed = [r for r in rows if r['problems']]
    for r in failed:
        print('round %d failed:\n  %s' % (r['round'], '\n  '.join(r['problems'])))
    if failed:
        print('failover logs kept in %s' % logdir)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    if not opts.no_docs:
        write_docs(text)
    sys.exit(1 if failed else 2 if len(rows) < opts.rounds else 0)


if __name__ == '__main__':
    main()
