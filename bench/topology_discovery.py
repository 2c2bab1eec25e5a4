# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: topology discovery of a 10-20 server lab, all servers at once versus one after the other.

Brings up a lab of real MariaDB servers (default 16 at 127.0.1.31.., small buffer pools), hangs
some replicas under relays, and times in the same run:

* the library (``topology.discover``) with ``workers=1`` and ``workers=32``, over plain loopback TCP
  and through delay proxies that add a network round trip (loopback has almost none, so it shows
  the CPU cost; the proxies show what a real network adds per server);
* the module through ``ansible-playbook playbooks/topology.yml`` with ``topology_workers=1`` and 32.

Prints a markdown table; tears the lab down at the end.

    .venv/bin/python bench/topology_discovery.py [--servers 16] [--repeats 15] [--rtt-ms 1,10]
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))
# tests/conftest.py makes the collection importable as ansible_collections.replicant.mysql
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.replicant.mysql.plugins.module_utils import relocate, topology  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)
# the integration tests' ansible-playbook runner, which records every task's result
_SPEC = importlib.util.spec_from_file_location('integration_conftest', os.path.join(REPO, 'tests', 'integration', 'conftest.py'))
playbooks = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(playbooks)
PROXY_PORT_OFFSET = 1000


# -- a proxy that delays every chunk by half the round trip, each way ----------------------------
async def _pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def send():
        while True:
            due, data = await queue.get()
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(receive(), send(), return_exceptions=True)


async def _serve(targets, delay):
    async def handle(client_reader, client_writer, target):
        try:
            server_reader, server_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, server_writer, delay), _pipe(server_reader, client_writer, delay))

    for host, port in targets:
        await asyncio.start_server(lambda r, w, t=(host, port): handle(r, w, t), host, port + PROXY_PORT_OFFSET)
    print('ready', flush=True)
    await asyncio.Event().wait()


def start_proxies(targets, rtt_ms):
    proc = subprocess.Popen([sys.executable, __file__, '--serve-proxy', json.dumps(targets), str(rtt_ms)],
                            stdout=subprocess.PIPE, universal_newlines=True)
    if proc.stdout.readline().strip() != 'ready':
        proc.kill()
        raise RuntimeError('the delay proxies did not start')
    return proc


# -- the lab -------------------------------------------------------------------------------------
def lab(directory, servers, address, state='present'):
    extra = dict(lab_dir=directory, lab_servers=servers, lab_base_address=address, lab_state=state, lab_timeout=120,
                 lab_extra_config={'innodb-buffer-pool-size': '8M', 'innodb-log-file-size': '8M'})
    out = playbooks.run_playbook('playbooks/lab.yml', extra_vars=extra)
    if out.rc:
        raise RuntimeError('lab %s failed:\n%s' % (state, out.output[-3000:]))


def hosts(inventory):
    with open(inventory) as handle:
        inv = yaml.safe_load(handle)
    mysql = inv['all']['children']['mysql']
    found = {}
    for group, body in mysql['children'].items():
        for name, hv in ((body or {}).get('hosts') or {}).items():
            found[name] = dict(mysql['vars'], group=group, **hv)
    return inv, found


def specs(found, proxied=False):
    out = []
    for name, h in found.items():
        login = dict(login_user=h['replicant_login_user'], login_password=h['replicant_login_password'],
                     login_host=h['replicant_host'], login_port=h['replicant_port'] + (PROXY_PORT_OFFSET if proxied else 0))
        out.append(dict(name=name, host=h['replicant_host'], port=h['replicant_port'], master=h.get('replicant_master'),
                        role='master' if h['group'] == 'mysql_master' else 'replica', login=login))
    return out


def tcp_inventory(inventory, directory, proxied):
    """The lab's inventory with TCP logins (through the proxies when ``proxied``) instead of sockets."""
    inv, found = hosts(inventory)
    for body in inv['all']['children']['mysql']['children'].values():
        for name, hv in ((body or {}).get('hosts') or {}).items():
            hv.pop('replicant_login_unix_socket', None)
            hv['replicant_login_host'] = hv['replicant_host']
            hv['replicant_login_port'] = hv['replicant_port'] + (PROXY_PORT_OFFSET if proxied else 0)
    path = os.path.join(directory, 'inventory-tcp%s.yml' % ('-proxied' if proxied else ''))
    with open(path, 'w') as handle:
        yaml.safe_dump(inv, handle)
    return path, found


def make_relays(found):
    """lab2 and lab3 become relays of four replicas each (a tree, not only a star)."""
    tree = topology.discover(specs(found))
    names = sorted(found, key=lambda n: int(n[3:]))
    for i, name in enumerate(names[3:11]):
        for replica, new_master in relocate.plan(tree, replica=name, new_master=names[1 + i % 2]):
            relocate.move(tree, replica, new_master, timeout=60)
    return topology.discover(specs(found))


# -- measuring -----------------------------------------------------------------------------------
def time_library(found, workers, repeats, proxied):
    times = []
    for _i in range(repeats):
        result = topology.discover(specs(found, proxied), workers=workers)
        assert result.problems == [] or all(p.kind == 'drift' for p in result.problems), result.problems
        times.append(result.elapsed)
    return times


def time_playbook(inventory, workers, repeats):
    walls, inside = [], []
    for _i in range(repeats):
        started = time.time()
        out = playbooks.run_playbook('playbooks/topology.yml', inventory=inventory, extra_vars=dict(topology_workers=workers))
        walls.append(time.time() - started)
        if out.rc:
            raise RuntimeError(out.output[-3000:])
        inside.append(out.result('Discover the topology', 'localhost')['elapsed'])
    return walls, inside


def round_trip(found, proxied, samples=50):
    """Median time of one trivial query on lab1 (the network's round trip plus the server's reply)."""
    spec = specs(found, proxied)[0]
    node = topology.Node.from_spec(spec)
    with node.server() as server:
        times = []
        for _i in range(samples):
            started = time.time()
            server.value('SELECT 1')
            times.append(time.time() - started)
    return times


def ms(values):
    return '%.1f' % (1000 * statistics.median(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--servers', type=int, default=16)
    parser.add_argument('--address', default='127.0.1.31')
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--playbook-repeats', type=int, default=3)
    parser.add_argument('--rtt-ms', default='1,10', help='added round trips to measure, comma separated')
    parser.add_argument('--serve-proxy', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        targets = [tuple(t) for t in json.loads(args.serve_proxy[0])]
        asyncio.run(_serve(targets, float(args.serve_proxy[1]) / 2000.0))
        return

    directory = tempfile.mkdtemp(prefix='replicant-bench-topology-', dir='/var/tmp')
    os.rmdir(directory)
    rows, proxies = [], None
    started = time.time()
    try:
        lab(directory, args.servers, args.address)
        built = time.time() - started
        inventory, found = tcp_inventory(os.path.join(directory, 'inventory.yml'), directory, proxied=False)
        tree = make_relays(found)
        print('\n'.join(tree.ascii_lines()), file=sys.stderr)
        one, many = time_library(found, 1, args.repeats, False), time_library(found, 32, args.repeats, False)
        rows.append(('library', 'loopback', one, many))
        rtts = {'loopback': round_trip(found, False)}
        walls1, in1 = time_playbook(inventory, 1, args.playbook_repeats)
        walls32, in32 = time_playbook(inventory, 32, args.playbook_repeats)
        rows.append(('module (inside)', 'loopback', in1, in32))
        rows.append(('ansible-playbook topology.yml (wall)', 'loopback', walls1, walls32))
        proxied_inventory, found = tcp_inventory(os.path.join(directory, 'inventory.yml'), directory, proxied=True)
        for rtt in [float(r) for r in args.rtt_ms.split(',') if r]:
            proxies = start_proxies([(h['replicant_host'], h['replicant_port']) for h in found.values()], rtt)
            try:
                one, many = time_library(found, 1, args.repeats, True), time_library(found, 32, args.repeats, True)
                rows.append(('library', '+%g ms RTT' % rtt, one, many))
                rtts['+%g ms RTT' % rtt] = round_trip(found, True)
                if rtt == max(float(r) for r in args.rtt_ms.split(',') if r):
                    walls1, in1 = time_playbook(proxied_inventory, 1, args.playbook_repeats)
                    walls32, in32 = time_playbook(proxied_inventory, 32, args.playbook_repeats)
                    rows.append(('module (inside)', '+%g ms RTT' % rtt, in1, in32))
                    rows.append(('ansible-playbook topology.yml (wall)', '+%g ms RTT' % rtt, walls1, walls32))
            finally:
                proxies.kill()
                proxies.wait()
                proxies = None
    finally:
        if proxies:
            proxies.kill()
        lab(directory, args.servers, args.address, state='absent')
    print('%d servers (MariaDB %s, one master, two relays with four replicas each), lab built in %.0f s; '
          'medians of %d runs (library) and %d runs (playbook), milliseconds.\n'
          % (args.servers, tree.nodes['lab1'].facts['version'], built, args.repeats, args.playbook_repeats))
    print('One `SELECT 1` round trip, measured (median): %s.\n'
          % ', '.join('%s %.2f ms' % (k, 1000 * statistics.median(v)) for k, v in rtts.items()))
    print('| what is timed | network | one by one (workers=1) | all at once (workers=32) | speed-up |')
    print('| --- | --- | ---: | ---: | ---: |')
    for what, network, one, many in rows:
        print('| %s | %s | %s | %s | %.1fx |' % (what, network, ms(one), ms(many), statistics.median(one) / statistics.median(many)))


if __name__ == '__main__':
    main()
