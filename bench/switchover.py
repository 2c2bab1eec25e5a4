# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write outage of a switchover, four ways, on a 3-server lab of its own, while clients write.

    .venv/bin/python bench/switchover.py [--runs 5] [--failover-runs 1] [--threads 4] [--rate 200] [--one-process]
        [--controller-cpu N] [--no-docs]

(a) ansible-playbook playbooks/promote_master.yml (the module mysql_switchover, one run);
(b) the same library function, module_utils/switchover.switchover(), called from Python;
(c) a minimal hand-written PyMySQL switchover (read_only + kill, MASTER_GTID_WAIT, promote, repoint);
(d) routed: ansible-playbook playbooks/promote_master.yml with the inventory's router set to a real HAProxy
    that the bench starts (127.0.40.101, TCP mode, admin socket in a private directory), moved by the module.

Each run switches lab1 -> lab2 and back. For (a)-(c) a separate writer process inserts rows in a tight
loop as the unprivileged account, reconnecting on any error to whichever server is writable. For (d)
--threads connections, each in a process of its own (--one-process: threads of one process), insert only
through HAProxy, reconnecting to the proxy at once on any error. Per switch: outage = the commit gap of the switch, from the last insert
acknowledged by the old master to the first acknowledged by the new master (any connection); longest = the
longest gap between two acknowledged inserts (any connection) from 1 s before to 1 s after the switch (the
switch's gap or a stall of the machine); first write = from the start of the switch until the first insert acknowledged by the
new master; wall = the switch's own duration. Then failovers: kill -9 of the master,
playbooks/failover.yml, unrouted and routed (each on a fresh lab); time from the play's start until the
first acknowledged write on the new master (routed: through the proxy). At the end every acknowledged
insert must be on every server. Medians go to stdout as a markdown table and into docs/benchmarks.md
("## Switchover write outage").
"""
import argparse
import json
import math
import multiprocessing
import os
import queue
import shutil
import shutil as _shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join('/tmp', 'replicant-collections-%d' % os.getuid())
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'replicant', 'mysql')
os.makedirs(os.path.dirname(LINK), exist_ok=True)
if os.path.realpath(LINK) != REPO:
    if os.path.lexists(LINK):
        os.unlink(LINK)
    os.symlink(REPO, LINK)
sys.path.insert(0, COLLECTIONS)

import pymysql  # noqa: E402
from pymysql.constants import CLIENT  # noqa: E402
import yaml  # noqa: E402

from ansible_collections.replicant.mysql.plugins.module_utils import switchover as sw  # noqa: E402
from ansible_collections.replicant.mysql.plugins.module_utils.instance import instance_from_spec  # noqa: E402
from ansible_collections.replicant.mysql.plugins.module_utils.router import HAProxyRouter  # noqa: E402

BASE_ADDRESS = '127.0.40.31'
PROXY = ('127.0.40.101', 23306)
BACKEND = 'rw'
NAMES = ['lab1', 'lab2', 'lab3']
HEADING = '## Switchover write outage'
LOADS = ['-', '-']
ONE_PROCESS = [False]
SPACING = [float('nan')]   # (d): the usual interval between two acknowledged commits, ms
QUIET = []                 # (d): the longest gap of each 2 s window of the clients' writes with no procedure running
QUIET_SECONDS = 10
CONTROLLER_CPUS = []       # --controller-cpu: the CPUs of the procedures' ansible-playbook (and its modules)
PROCEDURES = ('promote_master.yml', 'failover.yml')


def ansible_env():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='False',
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    return env


def run_playbook(name, *args, timeout=None):
    """ansible-playbook playbooks/``name`` ``args``: (command, return code, output); a timeout is a failure."""
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), os.path.join(REPO, 'playbooks', name)]
    cmd += list(args)
    pin = None
    if CONTROLLER_CPUS and name in PROCEDURES:  # the controller on its own CPU, as on a host of its own
        def pin():
            os.sched_setaffinity(0, CONTROLLER_CPUS)
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False, timeout=timeout, preexec_fn=pin)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors='replace') if isinstance(exc.stdout, bytes) else (exc.stdout or '')
        return cmd, None, output + '\n(killed after %s s)' % timeout
    return cmd, proc.returncode, proc.stdout


def playbook(name, *args):
    cmd, returncode, output = run_playbook(name, *args)
    if returncode != 0:
        raise SystemExit('%s failed:\n%s' % (' '.join(cmd), output[-4000:]))
    return output


class Lab:
    def __init__(self, directory, base_address=BASE_ADDRESS, servers=len(NAMES)):
        self.dir = directory
        self.names = ['lab%d' % n for n in range(1, servers + 1)]
        self.vars = json.dumps(dict(lab_dir=directory, lab_base_address=base_address, lab_servers=servers))
        self.inventory = os.path.join(directory, 'inventory.yml')

    def up(self):
        playbook('lab.yml', '-e', self.vars)
        with open(self.inventory) as handle:
            doc = yaml.safe_load(handle)['all']['children']['mysql']
        self.common = doc['vars']
        self.hosts = {}
        for group in doc['children'].values():
            self.hosts.update((group or {}).get('hosts') or {})

    def down(self):
        playbook('lab.yml', '-e', self.vars, '-e', 'lab_state=absent')

    def routed_inventory(self, admin_socket):
        """The lab's inventory with its router set to the bench's HAProxy."""
        with open(self.inventory) as handle:
            doc = yaml.safe_load(handle)
        doc['all']['children']['mysql']['vars'].update(
            replicant_router='haproxy', replicant_haproxy_socket=admin_socket, replicant_haproxy_backend=BACKEND)
        path = os.path.join(self.dir, 'routed.yml')
        with open(path, 'w') as handle:
            yaml.safe_dump(doc, handle)
        return path

    def admin(self, name):
        return pymysql.connect(unix_socket=self.hosts[name]['replicant_login_unix_socket'], autocommit=True,
                               user=self.common['replicant_login_user'], ssl_disabled=True,
                               password=self.common['replicant_login_password'])

    def address(self, name):
        return self.hosts[name]['replicant_host'], int(self.hosts[name]['replicant_port'])

    def nodes(self):
        c = self.common
        return [instance_from_spec(dict(
            name=n, host=self.hosts[n]['replicant_host'], port=self.hosts[n]['replicant_port'],
            login_unix_socket=self.hosts[n]['replicant_login_unix_socket'], login_user=c['replicant_login_user'],
            login_password=c['replicant_login_password'], repl_user=c['replicant_repl_user'],
            repl_password=c['replicant_repl_password'])) for n in NAMES]


class HAProxy:
    """A private HAProxy in TCP mode in front of the lab: lab1 ready, the others disabled."""

    def __init__(self, lab, directory):
        self.socket = os.path.join(directory, 'admin.sock')
        config = os.path.join(directory, 'haproxy.cfg')
        lines = ['global', '    stats socket %s mode 600 level admin' % self.socket, '    stats timeout 1m',
                 'defaults', '    mode tcp', '    timeout connect 1s', '    timeout client 1h', '    timeout server 1h',
                 'listen %s' % BACKEND, '    bind %s:%d' % PROXY]
        for i, name in enumerate(NAMES):
            lines.append('    server %s %s:%d%s' % ((name,) + lab.address(name) + ('' if i == 0 else ' disabled',)))
        with open(config, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        self.proc = subprocess.Popen([_shutil.which('haproxy') or 'haproxy', '-db', '-f', config],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit('haproxy did not start')
            time.sleep(0.02)
        self.router = HAProxyRouter(self.socket, BACKEND)

    def reset(self):
        """lab1 ready, the others in maintenance (a fresh lab)."""
        self.router.command('set server %s/lab1 state ready; ' % BACKEND + '; '.join(
            'set server %s/%s state maint' % (BACKEND, n) for n in NAMES[1:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- the client ----------------------------------------------------------------------------------
def connect_writable(addresses, user, password, **options):
    """(connection, name) of the first of ``addresses`` ({name: (host, port)}) with read_only off, or (None, None)."""
    for server, (host, port) in addresses.items():
        try:
            c = pymysql.connect(host=host, port=port, user=user, password=password, autocommit=True,
                                connect_timeout=1, ssl_disabled=True, **options)
            with c.cursor() as cur:
                cur.execute('SELECT @@GLOBAL.read_only')
                if cur.fetchone()[0] == 0:
                    return c, server
            c.close()
        except pymysql.MySQLError:
            continue
    return None, None


def writer(addresses, user, password, stop, out, first_id=0):
    """Insert increasing ids into the writable server; on error reconnect to whichever is writable."""
    acked = []
    conn, name, next_id = None, None, first_id
    while not stop.is_set():
        if conn is None:
            conn, name = connect_writable(addresses, user, password)
            if conn is None:
                time.sleep(0.0005)
                continue
        next_id += 1
        try:
            with conn.cursor() as cur:
                cur.execute('INSERT INTO bench.t VALUES (%s, %s)', (next_id, name))
            acked.append((time.time(), name, next_id))
        except pymysql.MySQLError:
            try:
                conn.close()
            except Exception:
                pass
            conn = None
    out.put(acked)


def proxied_connection(user, password, stop, out, threads, rate, number, first_id=0):
    """Connection ``number`` of ``threads`` inserting through the proxy only, ``rate`` commits per second for all
    of them together (a single-threaded replica must keep up); on error it reconnects to the proxy at once.

    Puts its acknowledged inserts on ``out`` as a list of (time, name of the server that took it, id).
    """
    acked = []
    interval = float(threads) / rate
    conn, server_id, next_id = None, None, first_id + number * 10 ** 7
    due = time.time() + interval * number / threads
    while not stop.is_set():
        now = time.time()
        if due > now:
            time.sleep(due - now)
        if conn is None:
            try:  # as an application would: connect, then write at once (no round trip of the bench's own)
                conn = pymysql.connect(host=PROXY[0], port=PROXY[1], user=user, password=password,
                                       autocommit=True, connect_timeout=1, ssl_disabled=True,
                                       client_flag=CLIENT.MULTI_STATEMENTS)
            except pymysql.MySQLError:
                conn = None
                due = time.time()
                time.sleep(0.0005)
                continue
        next_id += 1
        try:
            with conn.cursor() as cur:  # which server took it, in the same round trip
                cur.execute('INSERT INTO bench.t VALUES (%s, %s); SELECT @@GLOBAL.server_id', (next_id, 'proxy'))
                acknowledged = time.time()
                cur.nextset()
                server_id = cur.fetchone()[0]
            acked.append((acknowledged, 'lab%d' % server_id, next_id))
            due = max(due + interval, time.time() - interval)  # paced; no backlog burst after an outage
        except pymysql.MySQLError:
            due = time.time()  # retry at once (through the proxy) after any error
            try:
                conn.close()
            except Exception:
                pass
            conn = None
    out.put(acked)


class ProxiedClients:
    """``threads`` connections writing through the proxy, each in a process of its own (as independent as an
    application's connections; Python threads of one process, ``one_process``, wait for each other's
    interpreter lock, up to 5 ms at a time, exactly when a reconnect races)."""

    def __init__(self, user, password, threads, rate, first_id=0, one_process=False):
        self.stop_event, self.out = multiprocessing.Event(), multiprocessing.Queue()
        self.threads = threads
        target = in_one_process if one_process else proxied_connection
        if one_process:
            args = [(user, password, self.stop_event, self.out, threads, rate, first_id)]
        else:
            args = [(user, password, self.stop_event, self.out, threads, rate, n, first_id) for n in range(threads)]
        self.procs = [multiprocessing.Process(target=target, args=a, daemon=True) for a in args]
        for proc in self.procs:
            proc.start()

    def stop(self):
        """Every acknowledged insert, sorted."""
        self.stop_event.set()
        acked = []
        for _proc in self.procs:
            acked += self.out.get(timeout=60)
        for proc in self.procs:
            proc.join(10)
        return sorted(acked)


def in_one_process(user, password, stop, out, threads, rate, first_id=0):
    """The connections of ProxiedClients as threads of one process."""
    results = queue.Queue()
    workers = [threading.Thread(target=proxied_connection, args=(user, password, stop, results, threads, rate, n,
                                                                 first_id)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    acked = []
    for _w in workers:
        acked += results.get()
    out.put(acked)


def in_threads(one, threads, acked):
    """Run one(0) ... one(threads - 1) in threads until they end; ``acked`` sorted."""
    workers = [threading.Thread(target=one, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sorted(acked)


# -- the three ways to switch ------------------------------------------------------------------------
def via_playbook(lab, old, new):
    output = playbook('promote_master.yml', '-i', lab.inventory, '-e', 'new_master=%s' % new,
                      '-e', 'write_inventory=%s' % lab.inventory, '-v')
    return module_result(output, 'outage_ms')


def routed_playbook(lab, old, new):
    """(d): the module moves HAProxy; returns (outage_ms, routed_ms) as the module reports them."""
    output = playbook('promote_master.yml', '-i', lab.routed, '-e', 'new_master=%s' % new,
                      '-e', 'write_inventory=%s' % lab.routed, '-v')
    return module_result(output, 'outage_ms'), module_result(output, 'routed_ms')


def module_result(output, key):
    """``key`` of the first task result (ansible-playbook -v) that has it."""
    for line in output.splitlines():
        if '"%s"' % key in line and '=> {' in line:
            return json.loads(line[line.index('{'):]).get(key)
    return None


def via_library(lab, old, new):
    return sw.switchover(lab.nodes(), old, new)['outage_ms']


def by_hand(lab, old, new):
    """The baseline: what a DBA would type, with connections opened first."""
    conns = {n: lab.admin(n) for n in NAMES}
    c = lab.common
    host, port = lab.address(new)
    change = ("CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s, "
              "MASTER_USE_GTID = slave_pos")
    args = (host, port, c['replicant_repl_user'], c['replicant_repl_password'])
    try:
        started = time.time()
        with conns[old].cursor() as cur:
            cur.execute('SET GLOBAL read_only = ON')
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (c['replicant_app_user'],))
            for (pid,) in cur.fetchall():
                try:
                    cur.execute('KILL %d' % pid)
                except pymysql.MySQLError:
                    pass
            cur.execute('SELECT @@GLOBAL.gtid_binlog_pos')
            final = cur.fetchone()[0]
        with conns[new].cursor() as cur:
            cur.execute('SELECT MASTER_GTID_WAIT(%s, 10)', (final,))
            if cur.fetchone()[0] != 0:
                raise SystemExit('by hand: %s did not catch up' % new)
            cur.execute('STOP SLAVE')
            cur.execute('RESET SLAVE ALL')
            cur.execute('SET GLOBAL read_only = OFF')
        critical = (time.time() - started) * 1000
        for name in NAMES:
            if name == new:
                continue
            with conns[name].cursor() as cur:
                cur.execute('STOP SLAVE')
                if name == old:
                    cur.execute('SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos')
                cur.execute(change, args)
                cur.execute('START SLAVE')
    finally:
        for conn in conns.values():
            conn.close()
    return critical


METHODS = [('a', 'ansible-playbook promote_master.yml (module mysql_switchover)', via_playbook),
           ('b', 'library switchover() called from Python', via_library),
           ('c', 'hand-written PyMySQL (read_only + kill, MASTER_GTID_WAIT, promote, repoint)', by_hand)]


def wait_replicating(lab, master, timeout=20):
    """Every other server replicates from ``master`` and has executed all it has."""
    with lab.admin(master) as m, m.cursor() as cur:
        cur.execute('SELECT @@GLOBAL.gtid_binlog_pos')
        gtid = cur.fetchone()[0]
    for name in lab.names:
        if name == master:
            continue
        with lab.admin(name) as conn, conn.cursor() as cur:
            cur.execute('SELECT MASTER_GTID_WAIT(%s, %s)', (gtid, timeout))
            if cur.fetchone()[0] != 0:
                raise SystemExit('%s did not catch up with %s' % (name, master))


def measure(acked, window, new):
    """In ms: the switch's commit gap (from the last insert acknowledged by the old master to the first one
    acknowledged by the new master, any connection), the longest gap between two acknowledged inserts anywhere
    from 1 s before to 1 s after the switch (the switch's gap or a stall of the machine), and the time from the
    start of the switch to the first insert on the new master."""
    start, end = window
    times = [t for t, _n, _i in acked if start - 1 <= t <= end + 1]
    before = [t for t in times if t < start]
    inside = [t for t in times if t >= start]
    series = before[-1:] + inside
    gap = max(b - a for a, b in zip(series, series[1:])) if len(series) > 1 else float('nan')
    first_new = next((t for t, n, _i in acked if t >= start and n == new), None)
    last_old = max((t for t, n, _i in acked if n != new and t < (first_new or 0)), default=None)
    return dict(outage=(first_new - last_old) * 1000 if first_new and last_old else float('nan'), longest=gap * 1000,
                first=(first_new - start) * 1000 if first_new else float('nan'), wall=(end - start) * 1000)


def quiet_gaps(acked, start, end, window=2.0):
    """The longest gap (ms) between two acknowledged inserts in each ``window`` s from ``start`` to ``end``."""
    gaps = []
    while start + window <= end:
        times = [t for t, _n, _i in acked if start <= t <= start + window]
        gaps.append(max(b - a for a, b in zip(times, times[1:])) * 1000 if len(times) > 1 else float('nan'))
        start += window
    return gaps


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float('nan')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--runs', type=int, default=5, help='back-and-forth runs per method (default 5)')
    parser.add_argument('--failover-runs', type=int, default=1, help='failovers, unrouted and routed each '
                        '(each on a fresh lab; default 1)')
    parser.add_argument('--threads', type=int, default=4, help='connections of the writer through HAProxy (default 4)')
    parser.add_argument('--rate', type=int, default=200, help='commits per second of the writer through HAProxy, in '
                        'all (default 200: well below what a single-threaded replica applies here even when other '
                        'work shares the cores; at 600 the replicas lagged by seconds under load, and the switch '
                        'waited for that)')
    parser.add_argument('--one-process', action='store_true', help='the writer\'s connections through HAProxy as '
                        'threads of one Python process (they then wait for each other\'s interpreter lock) rather '
                        'than a process each')
    parser.add_argument('--controller-cpu', type=int, help='run the procedures\' ansible-playbook (and so the modules) '
                        'on this CPU only, and everything else (the servers, HAProxy, the clients, the lab\'s set-up) on '
                        'the other CPUs: a controller on a host of its own, as in production, instead of sharing every '
                        'core with the servers and the clients')
    parser.add_argument('--no-docs', action='store_true', help='do not update docs/benchmarks.md')
    opts = parser.parse_args()
    ONE_PROCESS[0] = opts.one_process
    if opts.controller_cpu is not None:
        cpus = os.sched_getaffinity(0)
        if opts.controller_cpu not in cpus or len(cpus) < 2:
            parser.error('--controller-cpu %d: this process may run on CPUs %s; give one of them, and keep one for '
                         'the rest' % (opts.controller_cpu, sorted(cpus)))
        os.sched_setaffinity(0, cpus - {opts.controller_cpu})  # inherited by the lab, HAProxy and the clients
        CONTROLLER_CPUS[:] = [opts.controller_cpu]
    start_load = '%.1f' % os.getloadavg()[0]

    directory = tempfile.mkdtemp(prefix='replicant-bench-switchover-', dir='/var/tmp')
    os.rmdir(directory)
    private = tempfile.mkdtemp(prefix='replicant-bench-haproxy-')
    lab = Lab(directory)
    results = {key: [] for key, _d, _f in METHODS + ROUTED}
    failovers, lost, proxy = dict(unrouted=[], routed=[]), 0, None
    try:
        fresh(lab)
        proxy = HAProxy(lab, private)
        lab.routed = lab.routed_inventory(proxy.socket)
        user, password = lab.common['replicant_app_user'], lab.common['replicant_app_password']
        # (a)-(c): the probing client
        stop, out = multiprocessing.Event(), multiprocessing.Queue()
        client = multiprocessing.Process(target=writer, args=({n: lab.address(n) for n in NAMES}, user, password,
                                                              stop, out), daemon=True)
        client.start()
        time.sleep(0.5)
        windows = run_methods(lab, METHODS, opts.runs)
        stop.set()
        acked = out.get(timeout=60)
        client.join(10)
        collect(results, windows, acked)
        wait_replicating(lab, 'lab1')
        lost += count_lost(lab, acked)
        # (d): the clients write through HAProxy only; the module moves it
        clients = ProxiedClients(user, password, opts.threads, opts.rate, 10 ** 9, opts.one_process)
        time.sleep(0.5)
        quiet = time.time()
        time.sleep(QUIET_SECONDS)  # the control: the same clients, no procedure running
        windows = run_methods(lab, ROUTED, opts.runs)
        acked = clients.stop()
        SPACING[:] = [median([b[0] - a[0] for a, b in zip(acked, acked[1:])]) * 1000]
        QUIET[:] = quiet_gaps(acked, quiet, quiet + QUIET_SECONDS)
        collect(results, windows, acked)
        wait_replicating(lab, 'lab1')
        lost += count_lost(lab, acked)
        for number in range(opts.failover_runs):
            for routed in (False, True):
                if number or routed:
                    fresh(lab, again=True)
                    proxy.reset()
                    lab.routed = lab.routed_inventory(proxy.socket)  # the lab directory was new
                failovers['routed' if routed else 'unrouted'].append(
                    failover(lab, routed, opts.threads, opts.rate, opts.one_process))
    finally:
        if proxy is not None:
            proxy.stop()
        lab.down()
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)

    LOADS[:] = [start_load, '%.1f' % os.getloadavg()[0]]
    table = report(results, failovers, opts, lost)
    print(table)
    if not opts.no_docs:
        write_docs(table)


def fresh(lab, again=False):
    """A new lab (lab1 master) with the bench table."""
    if again:
        lab.down()
    lab.up()
    with lab.admin('lab1') as conn, conn.cursor() as cur:
        cur.execute('CREATE DATABASE bench')
        cur.execute('CREATE TABLE bench.t (id BIGINT PRIMARY KEY, via VARCHAR(16))')
    wait_replicating(lab, 'lab1')


def run_methods(lab, methods, runs):
    windows = []
    for run in range(runs):
        for key, _description, switch in methods:
            for old, new in (('lab1', 'lab2'), ('lab2', 'lab1')):
                start = time.time()
                reported = switch(lab, old, new)
                critical, routed = reported if isinstance(reported, tuple) else (reported, None)
                windows.append((key, (start, time.time()), new, critical, routed))
                wait_replicating(lab, new)
                time.sleep(0.3)
        print('%s: run %d of %d done' % ('/'.join(k for k, _d, _f in methods), run + 1, runs), file=sys.stderr)
    return windows


def collect(results, windows, acked):
    for key, window, new, critical, routed in windows:
        results[key].append(dict(measure(acked, window, new), critical=critical or float('nan'),
                                 routed=routed or float('nan')))


def count_lost(lab, acked):
    want = {i for _t, _n, i in acked}
    lost = 0
    for name in NAMES:
        with lab.admin(name) as conn, conn.cursor() as cur:
            cur.execute('SELECT id FROM bench.t')
            lost += len(want - {row[0] for row in cur.fetchall()})
    return lost


def failover(lab, routed, threads, rate, one_process=False):
    """kill -9 the master (lab1) while the client writes; time the failover play until the new master takes a write.

    Unrouted: the probing client; routed: the clients write through HAProxy, which the module moves.
    """
    user, password = lab.common['replicant_app_user'], lab.common['replicant_app_password']
    if routed:
        clients = ProxiedClients(user, password, threads, rate, 2 * 10 ** 9, one_process)
    else:
        stop, out = multiprocessing.Event(), multiprocessing.Queue()
        client = multiprocessing.Process(target=writer, args=({n: lab.address(n) for n in NAMES}, user, password,
                                                              stop, out, 10 ** 8), daemon=True)
        client.start()
    time.sleep(0.5)
    with open(os.path.join(os.path.dirname(lab.hosts['lab1']['replicant_datadir']), 'mysqld.pid')) as handle:
        os.kill(int(handle.read()), signal.SIGKILL)
    time.sleep(0.2)
    start = time.time()
    output = playbook('failover.yml', '-i', lab.routed if routed else lab.inventory, '-v')
    wall = time.time() - start
    time.sleep(0.5)
    if routed:
        acked = clients.stop()
    else:
        stop.set()
        acked = out.get(timeout=60)
        client.join(10)
    first = next((t for t, n, _i in acked if t >= start and n != 'lab1'), None)
    new = next((n for t, n, _i in acked if t >= start and n != 'lab1'), None)
    return dict(first=(first - start) * 1000 if first else float('nan'), wall=wall * 1000, new=new,
                promoted_ms=module_result(output, 'promoted_ms'), routed_ms=module_result(output, 'routed_ms'))


ROUTED = [('d', 'routed: ansible-playbook promote_master.yml, HAProxy moved by the module; clients write only through '
           'HAProxy', routed_playbook)]


def report(results, failovers, opts, lost):
    lines = ['| Method | commit gap of the switch seen by the clients, median (min-max) | longest commit gap from 1 s '
             'before to 1 s after the switch, median (max) | critical section (read_only on -> new master writable) | '
             'lock -> router switched | first write on the new master after | wall time of the switch |',
             '| --- | --- | --- | --- | --- | --- | --- |']
    for key, description, _f in METHODS + ROUTED:
        rows = results[key]
        outages = [r['outage'] for r in rows]
        longest = [r['longest'] for r in rows]
        routed = median([r['routed'] for r in rows])
        lines.append('| (%s) %s | %.0f ms (%.0f-%.0f) | %.0f ms (%.0f) | %.1f ms | %s | %.0f ms | %.0f ms |' % (
            key, description, median(outages), min(outages), max(outages), median(longest), max(longest),
            median([r['critical'] for r in rows]), '-' if math.isnan(routed) else '%.1f ms' % routed,
            median([r['first'] for r in rows]), median([r['wall'] for r in rows])))
    text = '\n'.join(lines)
    d = results['d']
    gap, critical = median([r['outage'] for r in d]), median([r['critical'] for r in d])
    text += ('\n\n%d switchovers per method (%d back-and-forth runs lab1 -> lab2 -> lab1), medians; (d) with %d '
             'writing connections at %d commits/s in all. (d): the clients\' commit gap of the switch %.0f ms (worst '
             '%.0f ms) against the module\'s critical section %.1f ms: %.1fx (median over median); the longest gap '
             'anywhere around the switch %.0f ms (worst %.0f ms); outside the switches the clients\' commits were %.1f ms '
             'apart (median), and with no procedure running (%d s before the first switch) the longest gap of each '
             '2 s window was %.0f ms (median; max %.0f ms). Acknowledged inserts missing from a server at the end: '
             '%s.\n' % (
                 2 * opts.runs, opts.runs, opts.threads, opts.rate, gap, max(r['outage'] for r in d), critical,
                 gap / critical, median([r['longest'] for r in d]), max(r['longest'] for r in d), SPACING[0],
                 QUIET_SECONDS, median(QUIET), max(QUIET or [float('nan')]), lost))
    for kind, runs in sorted(failovers.items(), reverse=True):
        if not runs:
            continue
        text += ('\nFailover, %s (kill -9 of the master, then `ansible-playbook playbooks/failover.yml`%s), %d run(s): '
                 'the new master (%s) took the first write%s %.0f ms after the play started (median); the play took '
                 '%.0f ms; inside the module, the new master was writable %.0f ms after the module started%s.\n' % (
                     kind, ' with the HAProxy router' if kind == 'routed' else '', len(runs),
                     ', '.join(sorted({f['new'] or '-' for f in runs})),
                     ' through HAProxy' if kind == 'routed' else '', median([f['first'] for f in runs]),
                     median([f['wall'] for f in runs]), median([f['promoted_ms'] or float('nan') for f in runs]),
                     ' and HAProxy pointed at it %.0f ms after' % median([f['routed_ms'] or float('nan') for f in runs])
                     if kind == 'routed' else ''))
    return text


def write_docs(table):
    path = os.path.join(REPO, 'docs', 'benchmarks.md')
    command = command_line()
    section = '\n'.join([
        HEADING, '',
        'A planned switchover lab1 -> lab2 -> lab1 on a 3-server MariaDB 10.11 lab (127.0.40.31-33), four ways in',
        'the same run. For (a)-(c) a separate process inserts rows in a tight loop as the unprivileged account and, on',
        'any error, reconnects to whichever server has read_only off. For (d) the clients (%s) write' % (
            'several connections, threads of one process' if ONE_PROCESS[0] else 'several connections, a process each'),
        'only through HAProxy 2.6 (Debian; TCP mode on %s:%d, started by the bench) and reconnect to' % PROXY,
        'it at once on any error; the inventory sets `replicant_router: haproxy`, so the module itself moves HAProxy',
        '(`demote` the instant the old master is read-only, `promote` the instant the new master is writable):', '',
        '    %s' % command, '',
        'Commit gap of the switch: from the last insert the old master acknowledged to the first one the new master',
        'acknowledged (any connection; no insert is acknowledged in between). Longest gap: the longest interval',
        'between two acknowledged inserts (any connection) from 1 s before the switch (for (a) and (d) the start of',
        '`ansible-playbook`) to 1 s after it: the switch\'s gap or a stall of the shared machine. Critical section:',
        'inside the switch, from read_only on the old master until the new master is writable (for (a), (b) and (d)',
        'the `outage_ms` the module reports); lock -> router switched: the module\'s',
        '`routed_ms`. First write: from the start of the switch (for (a) and (d) the start of `ansible-playbook`) until',
        'the new master acknowledged an insert. Measured %s on %d cores shared with other work (load average %s at'
        % ((time.strftime('%Y-%m-%d'), os.cpu_count()) + (LOADS[0],)),
        'the start, %s at the end); under load the spread widens.%s' % (LOADS[1], (
            ' The procedures\' ansible-playbook (and so their modules) ran on CPU %d alone, everything else (servers, '
            'HAProxy, clients) on the other(s): a controller on a host of its own.' % CONTROLLER_CPUS[0])
            if CONTROLLER_CPUS else ''), '',
        table.rstrip(), '',
        'What shaped (d): the router\'s `demote` runs the instant the old master is read-only. It used to run once the',
        'old master was locked; in between, the clients reconnecting through HAProxy reached the read-only old master',
        'in a tight loop of ERROR 1290 (thousands of connections a second from 4 threads), which slowed its lock on',
        'the 2 shared cores. The longest-gap column also catches stalls of the shared machine that have nothing to',
        'do with the switch (in diagnostic runs the clients saw no error in them); the commit gap of the switch is',
        'what the switch itself costs the application. At 600 commits/s (the earlier default) the replicas lagged',
        'by seconds when other work loaded the machine, and the switch waited for that lag under the lock.', ''])
    replace_section(path, HEADING, section)


def command_line():
    """How this bench was run (for the docs), without --no-docs."""
    return ' '.join(['.venv/bin/python', os.path.relpath(os.path.abspath(sys.argv[0]), REPO)]
                    + [a for a in sys.argv[1:] if a != '--no-docs'])


def replace_section(path, heading, section):
    """Put ``section`` (starting with ``heading``) in the markdown file ``path``, in place of the old one or last."""
    text = open(path).read() if os.path.exists(path) else '# Benchmarks\n'
    if heading in text:
        start = text.index(heading)
        following = text.find('\n## ', start + len(heading))
        text = text[:start] + section + (text[following + 1:] if following >= 0 else '')
    else:
        text = text.rstrip('\n') + '\n\n' + section
    with open(path, 'w') as handle:
        handle.write(text.rstrip('\n') + '\n')


if __name__ == '__main__':
    main()
