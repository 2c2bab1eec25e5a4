# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One promotion at a time per installation, and the record a rerun resumes an interrupted one from.

The lease is held on the servers themselves, so that every controller sees it:

* ``GET_LOCK('replicant.<installation>', 0)`` on a dedicated connection to every reachable server of the
  installation, for the whole module run (prechecks, critical section, repointing). A second procedure
  finds the lock taken on the first server they share and refuses. The lock dies with its connection:
  a controller that is killed (or loses its network) lets go at once.
* a lease record in the table ``replicant.lease`` on every reachable server: owner (controller host, module
  pid and ``ansible-playbook`` pid), procedure, start time, expiry, and the progress of the procedure (phase
  reached, old and new master, final GTID). It is written with ``sql_log_bin = 0``: it never reaches a binary
  log, creates no GTID (nothing errant under ``gtid_strict_mode``) and each server keeps its own copy; the
  admin account writes it on a read-only replica (``read_only`` does not apply to it). The record names the
  holder in a refusal; its expiry lets a lock whose controller hangs (a stopped process keeps its connection)
  be taken over once it has lapsed.

A record left behind by a procedure that did not finish (its controller died, or it failed past the point of
no return) is found by the next procedure (any controller) once the lock is free, and the interrupted
promotion is first completed (the new master became writable: it stays the master, every other server is
repointed to it) or undone (it did not: the old master is made writable again after a switchover, the replicas
replicate again after a failover) - ``resume()``. Then the lease is the new procedure's.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import socket
import time

import signal

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, lock_holder, replication
from ansible_collections.replicant.mysql.plugins.module_utils.inventory import promoted
from ansible_collections.replicant.mysql.plugins.module_utils.promotion import (
    PromotionError, declared_tree, point_at, read_all, replicates_from, run_parallel, running_ok, verify_replicating,
    writable_servers)
from ansible_collections.replicant.mysql.plugins.module_utils.router import RouterError
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError, server_from_params

# How long a record vouches for its holder without being renewed (every phase renews it). A holder whose
# lock is still taken past its expiry is taken as hung: its connections are killed and the lease taken over.
LEASE_TTL = 900
# Seconds a refusal waits for the holder's record, to name it: the holder writes it right after taking its locks,
# which on a loaded host (a 2-core machine running several test streams) took more than 10 s.
RECORD_WAIT = 30
# The lease sessions never wait long for an answer (their statements return at once).
READ_TIMEOUT = 30
TABLE = 'replicant.lease'
SETUP = ('SET SESSION sql_log_bin = 0',
         'CREATE DATABASE IF NOT EXISTS replicant',
         'CREATE TABLE IF NOT EXISTS replicant.lease (name VARCHAR(64) NOT NULL PRIMARY KEY, '
         'owner VARCHAR(255) NOT NULL, procedure_name VARCHAR(32) NOT NULL, started DOUBLE NOT NULL, '
         'expires DOUBLE NOT NULL, updated DOUBLE NOT NULL, phase VARCHAR(32) NOT NULL, progress TEXT NOT NULL) '
         'ENGINE=InnoDB')
DELETE = 'DELETE FROM replicant.lease WHERE name = %s'
COLUMNS = ('name', 'owner', 'procedure_name', 'started', 'expires', 'updated', 'phase', 'progress')
WRITE = ('REPLACE INTO replicant.lease (name, owner, procedure_name, started, expires, updated, phase, progress) '
         'VALUES (%s, %s, %s, %s, %s, %s, %s, %s)')
READ = ('SELECT name, owner, procedure_name, started, expires, updated, phase, progress FROM replicant.lease '
        'WHERE name = %s')
NO_TABLE = ('(1146)', '(1049)')  # no such table / database: no record was ever written there
# The phase of a procedure that ended as it should (kept to name it should a procedure started before it refuse).
DONE = 'done'
# What a record keeps of the play that holds the lease (not progress of the procedure).
BINDING = ('play', 'connections', 'previous')
# Refusals that say the servers are not as the inventory says.
TOPOLOGY_CHECKS = ('replica_of_master', 'replication_running', 'split_brain')
# Phases past which the new master may be writable (a rerun must look at it before undoing anything).
PROMOTING = ('demoting', 'promoting', 'promoted')


def lock_name(installation):
    """The GET_LOCK name of an installation (at most 64 characters, as the servers require)."""
    name = 'replicant.%s' % (installation or 'default')
    return name if len(name) <= 64 else 'replicant.%s' % hashlib.sha256(name.encode('utf-8')).hexdigest()[:40]


def owner_of_this_run(play=None):
    """Who holds the lease: the controller's host name, this process and the play it runs under."""
    play = play or lock_holder.find_play()
    return '%s pid %d%s' % (socket.gethostname(), os.getpid(), ' (ansible-playbook pid %d)' % play[0] if play else '')


def _when(stamp):
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(stamp))


def describe_holder(record):
    """One sentence naming the holder of a lease record."""
    progress = record.get('progress') or {}
    what = ', '.join('%s %s' % (k.replace('_', ' '), progress[k]) for k in ('old_master', 'new_master') if progress.get(k))
    return '%s by %s since %s (phase %s%s; its lease expires %s)' % (
        progress.get('procedure') or record['procedure_name'], record['owner'], _when(record['started']), record['phase'],
        ', ' + what if what else '', _when(record['expires']))


class Lease:
    """The lease of one procedure on the servers of one installation (``nodes``: Instances)."""

    def __init__(self, nodes, procedure, journal=None, ttl=LEASE_TTL):
        self.nodes = nodes
        self.procedure = procedure
        self.journal = journal
        self.ttl = ttl
        self.installation = next((n.installation for n in nodes if n.installation), None) or 'default'
        self.name = lock_name(self.installation)
        self.owner = owner_of_this_run()
        self.sessions = {}   # node name -> Server (its own connection, holding GET_LOCK once acquired)
        self.recording = set()   # the servers the record can be written on (its session runs with sql_log_bin 0)
        self.held = []
        self.pending = False   # an interrupted procedure's record, not resumed yet
        self.previous = None   # the record of the last procedure that ended (put back when this one changes nothing)
        self.binding = {}      # play (pid, start), connections of its holder, previous: kept in every record
        self.adopted = False   # the locks are held by the play's holder process, not by this Lease
        self.started = None
        self.phase = None
        self.progress = {}

    # -- connections -------------------------------------------------------------------------------
    def _connect(self, setup):
        def open_session(node):
            server = server_from_params(node.login, name=node.name)
            server.connect_timeout = node.server.connect_timeout
            server.read_timeout = node.server.read_timeout or READ_TIMEOUT
            server.connect()
            if setup:
                try:
                    for statement in SETUP:
                        server.sql(statement)
                    self.recording.add(node.name)
                except ServerError:
                    pass  # no record there (e.g. super_read_only on MySQL); the lock is held all the same
            self.sessions[node.name] = server
        # the servers the procedure found unreachable are not waited for twice
        outcome = run_parallel(open_session, [n for n in self.nodes if n.server is not None and not n.error])
        if not self.sessions:
            raise PromotionError('%s refused, nothing was changed: no server of installation %s could be reached to '
                                 'take its lease: %s' % (self.procedure, self.installation, '; '.join(
                                     str(e) for e in outcome.values() if e) or 'no server has an address'))
        return outcome

    def connection_ids(self, name):
        """The lease's connection ids on server ``name``, the play's holder's too (for kill_clients to spare)."""
        server = self.sessions.get(name)
        held = (self.binding.get('connections') or {}).get(name)
        return ({server.connection_id} if server is not None else set()) | ({int(held)} if held else set())

    def close(self):
        for server in self.sessions.values():
            server.close()
        self.sessions = {}
        self.held = []

    # -- the record --------------------------------------------------------------------------------
    def records(self, tolerant=False):
        """The lease record of this installation on every server that has one: {server name: record}; ``tolerant``:
        a server that fails to answer is skipped."""
        found = {}
        for name, server in sorted(self.sessions.items()):
            try:
                row = server.one(READ, (self.name,))
            except ServerError as exc:
                if tolerant or any(code in str(exc) for code in NO_TABLE):
                    continue
                raise
            if row:
                row = dict(row)
                try:
                    row['progress'] = json.loads(row['progress'])
                except ValueError:
                    row['progress'] = {}
                found[name] = row
        return found

    def latest(self, done=False, tolerant=False):
        """The newest lease record of the installation on the servers reached (``done``: of a finished procedure,
        else of one that did not finish; None: either), or None."""
        found = [r for r in self.records(tolerant).values() if done is None or (r['phase'] == DONE) == done]
        return max(found, key=lambda r: r['updated']) if found else None

    def last_procedure(self, refusals):
        """When the prechecks refused because the servers are not as the inventory says: a sentence naming the last
        procedure that changed the installation (e.g. one started at the same time as this one), else ''."""
        record = self.previous
        if not record or not any(c['check'] in TOPOLOGY_CHECKS for c in refusals):
            return ''
        return ' (the last procedure on installation %s: %s, ended %s%s; update the inventory)' % (
            self.installation, describe_holder(record).split(' (phase')[0], _when(record['updated']),
            ' with %s the master' % record['progress']['master'] if record['progress'].get('master') else '')

    def record(self, phase, skip=(), **progress):
        """Write the phase reached (and ``progress``) on every server holding the lease, except ``skip``.

        Best effort: a server that cannot take the write (e.g. super_read_only on MySQL) keeps its older record.
        Returns the names written to.
        """
        self.phase = phase
        self.progress.update(progress)
        self.progress.setdefault('procedure', self.procedure)
        now = time.time()
        args = (self.name, self.owner[:255], self.procedure, self.started or now, now + self.ttl, now, phase,
                json.dumps(dict(self.progress, **self.binding), sort_keys=True))
        written = []
        for name in self.held:
            if name in skip or name not in self.recording:
                continue
            try:
                self.sessions[name].sql(WRITE, args)
                written.append(name)
            except ServerError:
                pass
        return written

    # -- taking and giving back --------------------------------------------------------------------
    def peek(self, play=None):
        """Check mode: refuse (PromotionError) when another procedure holds the lease (the holder of this ``play``
        is no other procedure); else return the record of an interrupted procedure (or None). Nothing is written,
        nothing is created; ``release()`` closes the sessions."""
        self._connect(setup=False)
        busy = [name for name, server in sorted(self.sessions.items())
                if server.value('SELECT IS_FREE_LOCK(%s)', (self.name,)) != 1]
        if busy:
            record = self._play_record(play)[0] if play else None
            if record is None:
                raise PromotionError(self._refusal(busy))
            self.previous = record['progress'].get('previous')
            return record if record['phase'] not in ('started', DONE) else None
        self.previous = self.latest(done=True)
        return self.latest()

    def acquire(self, play=None):
        """Take the lease (GET_LOCK on every reachable server); return the interrupted procedure's record or None.

        Refuses (PromotionError, naming the holder) when another procedure holds it; a holder whose record has
        expired is taken as hung: its lock connections are killed and the lease is taken over.
        """
        self._connect(setup=True)
        busy = self._lock_all()
        if busy:
            record = self.latest()
            if record and record['expires'] < time.time():
                for name in busy:
                    server = self.sessions[name]
                    holder = server.value('SELECT IS_USED_LOCK(%s)', (self.name,))
                    if holder:
                        try:
                            server.sql('KILL CONNECTION %d' % int(holder))
                        except ServerError:
                            pass
                time.sleep(0.2)
                busy = self._lock_all()
                if not busy and self.journal:
                    self.journal.step('*', 'took over the lapsed lease of %s' % describe_holder(record))
            if busy:
                message = self._refusal(busy)
                self.release(keep=True)
                raise PromotionError(message)
        interrupted = self.latest()
        self.previous = self.latest(done=True)
        self.started = time.time()
        # the lock connections in every record: a refusal names the holder by them (IS_USED_LOCK)
        self.binding = dict(connections=dict((name, self.sessions[name].connection_id) for name in self.held))
        if play:
            previous = self.previous and dict(self.previous, progress=dict(
                (k, v) for k, v in self.previous['progress'].items() if k != 'previous'))
            self.binding.update(play=list(play), previous=previous)
        self.pending = bool(interrupted)
        if interrupted:
            # kept, under this owner, until it is resumed (should this run die too, the next one finds it)
            self.progress = dict((k, v) for k, v in interrupted['progress'].items() if k not in BINDING)
            self.progress['procedure'] = procedure_of(interrupted)
            self.record(interrupted['phase'])
        else:
            self.record('started')
        if self.journal:
            self.journal.step('*', 'lease %s taken on %s' % (self.name, ', '.join(self.held)))
        return interrupted

    def for_play(self, play):
        """Hold the lease for the whole play ``play`` ((pid, start) of ansible-playbook): adopt the lease of its holder
        process, or start one (it lets go when the play ends, within a tenth of a second). Returns the record of an
        interrupted procedure, or None; refuses (PromotionError, naming the holder) when another procedure holds it."""
        self._connect(setup=True)
        record = self.adopt(play)
        if record is None:
            report = lock_holder.spawn(lambda write_fd: self._hold(play, write_fd), 60, 'the lease holder')
            if 'error' in report:
                raise PromotionError(report['error'])
            record = self.adopt(play)
            if record is None:
                raise PromotionError('%s refused, nothing was changed: the lease holder (pid %s) of installation %s '
                                     'holds no lock any more' % (self.procedure, report.get('pid'), self.installation))
        if self.journal:
            self.journal.step('*', 'lease %s held for the play by %s on %s' % (self.name, record['owner'],
                                                                               ', '.join(self.held)))
        interrupted = record if record['phase'] not in ('started', DONE) else None
        self.pending = bool(interrupted)
        return interrupted

    def _play_record(self, play):
        """The record of ``play``'s holder and the servers where its locks are still held, or (None, [])."""
        record = self.latest(done=None)
        if not record or record['progress'].get('play') != list(play):
            return None, []
        connections = record['progress'].get('connections') or {}
        held = [name for name, server in sorted(self.sessions.items()) if connections.get(name) and
                server.value('SELECT IS_USED_LOCK(%s)', (self.name,)) == connections[name]]
        return (record, held) if held else (None, [])

    def adopt(self, play):
        """Take over the lease record of ``play``'s holder when its locks are still held; returns the record or None."""
        record, held = self._play_record(play)
        if record is None:
            return None
        progress = dict(record['progress'])
        self.binding = dict((k, progress.pop(k, None)) for k in BINDING)
        self.held, self.adopted, self.owner, self.started = held, True, record['owner'], record['started']
        self.previous, self.progress, self.phase = self.binding['previous'], progress, record['phase']
        return record

    def _hold(self, play, write_fd):  # pragma: no cover - runs in the detached holder
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        lock_holder.set_name(b'replicant-lease')
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        holder = Lease(self.nodes, self.procedure, ttl=self.ttl)
        holder.owner = owner_of_this_run(play)
        try:
            holder.acquire(play)
        except (PromotionError, ServerError) as exc:
            os.write(write_fd, json.dumps({'error': str(exc)}).encode('utf-8'))
            holder.close()
            return
        os.write(write_fd, json.dumps({'pid': os.getpid()}).encode('utf-8'))
        os.close(write_fd)
        while not stop and lock_holder.play_alive(play):
            time.sleep(0.1)
        try:
            record = holder.latest(done=False)
        except ServerError:
            record = None
        # a play that changed nothing leaves the record as it found it; else the procedures' record stays
        untouched = record is not None and record['phase'] == 'started' and record['progress'].get('play') == list(play)
        holder.pending = False
        holder.release(keep=not untouched, changed=False)

    def resumed(self):
        """The interrupted procedure is completed or undone: the record is this procedure's own from now on."""
        self.pending = False
        self.progress = {}
        self.record('started')

    def _lock_all(self):
        """GET_LOCK server after server, in name order (as every controller does): the first to get the first
        server gets them all; the others stop at the first one taken. Returns the servers where it is taken."""
        for name, server in sorted(self.sessions.items()):
            if name in self.held:
                continue
            if server.value('SELECT GET_LOCK(%s, 0)', (self.name,)) != 1:
                return [name]
            self.held.append(name)
        return []

    def _refusal(self, busy):
        """The refusal naming the holder: the record whose lock connections hold the lock now (IS_USED_LOCK), waited
        for up to RECORD_WAIT (the holder writes it right after its locks; an older record, such as the previous
        procedure's, is not taken for it). A server that does not answer (e.g. the holder killed this run's
        session there in a switchover) is skipped."""
        holders = {}
        for name in busy:
            try:
                holders[name] = self.sessions[name].value('SELECT IS_USED_LOCK(%s)', (self.name,))
            except ServerError:
                pass
        record = None
        deadline = time.time() + RECORD_WAIT if any(holders.values()) else 0  # else let go in between: none to wait
        while record is None and time.time() < deadline:
            found = self.records(tolerant=True)
            record = next((r for _n, r in sorted(found.items()) for name, holder in holders.items()
                           if holder and str((r['progress'].get('connections') or {}).get(name)) == str(holder)), None)
            if record is None:
                time.sleep(0.1)
        if record is None:  # no record names the holder's connections: the newest unfinished one, if any
            record = self.latest(done=False, tolerant=True)
        holder = describe_holder(record) if record else 'a procedure whose lease record is not written yet'
        return (
            '%s refused, nothing was changed: installation %s is in the hands of another procedure: %s (the lock %s '
            'is taken on %s). Wait until it ends and run this again; a controller that died lets go at once, a hung '
            'one when its lease expires' % (self.procedure, self.installation, holder, self.name, ', '.join(busy)))

    def release(self, keep=False, changed=True, master=None):
        """Give the lease back and free the lock. The record: left as it is with ``keep`` (or when an interrupted
        procedure's record was not resumed): the next procedure resumes from it; else marked done when the procedure
        ``changed`` the installation (``progress['master']``: the master it left); else the previous one is put back."""
        if self.adopted:
            if not (keep or self.pending):
                self.ttl = 0 if changed else LEASE_TTL
                self.progress = {}
                self.record(DONE, master=master) if changed else self.record('started')
            self.close()
            return
        if self.held and not (keep or self.pending):
            self.ttl = 0
            if changed:
                self.record(DONE, master=master)
            else:
                previous = self.previous
                for name in self.held:
                    try:
                        if previous:
                            self.sessions[name].sql(WRITE, tuple(previous[k] for k in COLUMNS[:-1]) + (
                                json.dumps(previous['progress'], sort_keys=True),))
                        else:
                            self.sessions[name].sql(DELETE, (self.name,))
                    except ServerError:
                        pass
        for name in list(self.held):
            try:
                self.sessions[name].sql('DO RELEASE_LOCK(%s)', (self.name,))
            except ServerError:
                pass
        self.close()


# -- resuming an interrupted promotion --------------------------------------------------------------
def procedure_of(record):
    """The procedure a record's progress belongs to (a rerun keeps the interrupted one's under its own name)."""
    return record['progress'].get('procedure') or record['procedure_name']


def resume_action(record, by_name):
    """What a rerun does with an interrupted procedure's record: ('complete' | 'undo' | 'refuse', why)."""
    progress = record['progress']
    new = by_name.get(progress.get('new_master') or '')
    if record['phase'] not in PROMOTING or new is None:
        return 'undo', 'it had not made any server the master'
    if new.error or not new.facts:
        return 'refuse', ('%s, the server it was promoting, cannot be reached (%s): whether it became the master '
                          'cannot be told' % (new.name, new.error))
    if record['phase'] == 'promoted' or not new.facts['read_only'] or \
            (procedure_of(record) == 'failover' and record['phase'] == 'promoting' and not new.status):
        return 'complete', '%s had become the master' % new.name
    return 'undo', '%s had not become writable' % new.name


def resume(record, nodes, journal, router, check_mode=False, connect_retry=3, heartbeat_period=2.0,
           verify_timeout=10):
    """Complete or undo the interrupted procedure of ``record`` (nodes connected and read). Returns
    dict(action, master, replicas, left_out, done: [what was done or would be]); raises PromotionError when
    neither can be done safely."""
    by_name = {n.name: n for n in nodes}
    progress = record['progress']
    action, why = resume_action(record, by_name)
    holder = describe_holder(record)
    if action == 'refuse':
        raise PromotionError('an interrupted %s: %s; nothing was changed. Bring it back and run this again' % (
            holder, why))
    old = by_name.get(progress.get('old_master') or '')
    new = by_name.get(progress.get('new_master') or '')
    live = [n for n in nodes if not n.error and n.facts]
    writable = [n.name for n in live if not n.facts['read_only']]
    done = ['%s the interrupted %s (%s)' % ('complete' if action == 'complete' else 'undo', holder, why)]
    if action == 'undo':
        return _undo(record, old, live, writable, done, journal, check_mode)
    strays = [name for name in writable if name != new.name]
    if strays:
        raise PromotionError('an interrupted %s: %s, but %s accept%s writes too: two writable servers; nothing was '
                             'changed. Make the one that is not the master read-only, then run this again'
                             % (holder, why, ', '.join(strays), 's' if len(strays) == 1 else ''))
    if not all(n.facts['gtid_enabled'] for n in live):
        raise PromotionError('an interrupted %s: %s, but not every server uses GTIDs: repoint them to %s with '
                             'playbooks/setup_replication.yml' % (holder, why, new.name))
    include_old = procedure_of(record) == 'switchover' and progress.get('include_old_master', True)
    # The declared tree's rule: the old master and its direct replicas follow the new master, the others stay.
    try:
        tree = promoted(declared_tree(nodes, old.name), new.name, include_old)['replicas'] if old else None
    except ValueError:  # the servers declare no tree below that old master: every server follows the new one
        tree = None
    followers = [n for n in live if n is not new and (n is not old or include_old)
                 and (tree is None or tree.get(n.name, new.name) == new.name)]
    todo = [n for n in followers if not (replicates_from(n.status, new) and running_ok(n.status))]
    done += ['%s: stop and reset replication, SET GLOBAL read_only = OFF' % new.name] + \
        ['%s: replicate from %s by GTID' % (n.name, new.name) for n in todo]
    result = dict(action=action, master=new.name, replicas=[n.name for n in followers],
                  left_out=[n.name for n in nodes if n is not new and n not in followers
                            and (tree is None or n.name not in tree)], done=done)
    if tree is not None:
        result['tree'] = tree
    if check_mode:
        return result
    if new.status:
        new.server.run('stop_replica')
        new.server.run('reset_replica', all=True)
    replication.set_read_only(new.server, False)
    journal.step(new.name, 'resumed: the master (replication reset, writable)')
    others = [n for n in nodes if n is not old and n is not new]
    if router is not None and router.enabled:
        try:
            router.route('promote', old, new, others)
        except RouterError as exc:
            result['router_problem'] = str(exc)
    reconnect = dialect.reconnect_options(connect_retry, heartbeat_period)

    def follow(node):
        if node is old:
            replication.set_read_only(node.server, True)
            replication.stop_replication(node.server)
            for statement in dialect.former_master_statements(node.facts['flavor']):
                node.server.sql(statement)
        options = new.follow(node.facts['flavor'], gtid=True)
        options.update(reconnect)
        point_at(node.server, options)
        verify_replicating(node.server, verify_timeout)
        journal.step(node.name, 'resumed: replicates from %s' % new.name)
    failures = {name: exc for name, exc in run_parallel(follow, todo).items() if exc is not None}
    if failures:
        raise PromotionError('the interrupted %s was completed up to %s being the writable master, but %s; fix the '
                             'cause and run this again' % (holder, new.name, '; '.join(
                                 '%s does not replicate from it: %s' % kv for kv in sorted(failures.items()))))
    return result


def _undo(record, old, live, writable, done, journal, check_mode):
    progress = record['progress']
    result = dict(action='undo', master=old.name if old else None, done=done)
    if procedure_of(record) == 'failover':
        # The old master stays fenced; the replicas take up replication again (their IO threads were stopped).
        stopped = [n for n in live if n is not old and n.status and not running_ok(n.status)]
        done += ['%s: START SLAVE' % n.name for n in stopped]
        if not check_mode:
            for node in stopped:
                replication.start_replication(node.server)
                journal.step(node.name, 'resumed: replicates again')
        return result
    if old is None or old.error or not old.facts:
        raise PromotionError('an interrupted %s: the switchover must be undone, but its old master %s cannot be '
                             'reached (%s); %s' % (describe_holder(record), progress.get('old_master'),
                                                   old.error if old else 'unknown',
                                                   'run playbooks/failover.yml' if not writable else
                                                   '%s accept writes: check the installation with playbooks/topology.yml'
                                                   % ', '.join(writable)))
    strays = [name for name in writable if name != old.name]
    if strays:
        raise PromotionError('an interrupted %s: the switchover must be undone, but %s accept writes: nothing was '
                             'changed; check the installation with playbooks/topology.yml'
                             % (describe_holder(record), ', '.join(strays)))
    if old.facts['read_only']:
        done.append('%s: SET GLOBAL read_only = OFF (the master again)' % old.name)
        if not check_mode:
            replication.set_read_only(old.server, False)
            old.facts['read_only'] = False
            journal.step(old.name, 'resumed: writable again (the interrupted switchover is undone)')
    result['writable'] = True
    return result


def other_writable(nodes, exclude):
    """The names of the servers among ``nodes`` (not ``exclude``) that accept writes now."""
    return writable_servers([n for n in nodes if n.name not in exclude])


def take(lease, nodes, journal, router, options, check_mode=False):
    """Take the lease (check mode: only look whether another procedure holds it) and resume what an interrupted
    procedure left behind. ``nodes`` are connected. Returns the resume outcome (see ``resume``), or None."""
    play = lock_holder.find_play()
    if check_mode:
        interrupted = lease.peek(play)
    else:
        interrupted = lease.for_play(play) if play else lease.acquire()
    if not interrupted:
        return None
    read_all(nodes)
    outcome = resume(interrupted, nodes, journal, router, check_mode, options['connect_retry'],
                     options['heartbeat_period'], options['verify_timeout'])
    if not check_mode:
        lease.resumed()
    return outcome


def resumed_result(result, outcome, nodes, check_mode):
    """The procedure's result when the rerun ends with the interrupted promotion completed or undone."""
    master = outcome['master']
    result.update(changed=len(outcome['done']) > 1 or outcome['action'] == 'complete', resumed=outcome,
                  promoted=outcome['action'] == 'complete' and not check_mode, new_master=master,
                  plan=outcome['done'], topology=dict(
                      master=master, left_out=outcome.get('left_out', []),
                      replicas=outcome.get('replicas', [n.name for n in nodes if n.name != master and not n.error]),
                      unreachable=[n.name for n in nodes if n.error]))
    if outcome.get('tree') is not None:
        result['topology']['tree'] = outcome['tree']
    result['msg'] = '%s%s: %s is the master%s' % (
        'check mode: would ' if check_mode else '', outcome['done'][0], master,
        '' if check_mode else ', %s replicate from it' % (', '.join(result['topology']['replicas']) or 'no servers'))
    return result


def end(lease, result):
    """Give the lease back as the procedure's ``result`` says: done (a ``msg``: the record names the master it left;
    or ``undone``: a switchover undone before its point of no return, the old master writable again), nothing
    changed, or stopped half way (the record stays for the next procedure to resume from)."""
    undone = result.get('undone', False)
    done = 'msg' in result or undone
    master = result['old_master'] if undone else (result.get('topology') or {}).get('master')
    lease.release(keep=result['changed'] and not done, changed=result['changed'], master=master if done else None)
