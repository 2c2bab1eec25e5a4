#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: mysql_clone_copy
short_description: Stream a copy of a server from its host to another host (the copy step of clone_slave)
description:
  - Runs on the source host. Starts the producer of the copy and pipes it into the receiver on the target
    host, counting the bytes as they pass and appending a progress line per second to O(progress_file).
    Nothing is staged on the Ansible controller or on disk on the source host.
  - C(physical) streams a hot backup (C(mariadb-backup --backup --stream=xbstream); C(xtrabackup) on MySQL)
    into C(mbstream -x) in O(target_dir) (which must exist and be empty), then prepares the backup there,
    gives the files to O(owner) and returns the position the backup was taken at (RV(position)) - the whole
    physical copy on the target side in one command through the transport.
  - C(logical) streams C(mariadb-dump --single-transaction) of the user schemas (tables, triggers, views) into
    the target server's client, in O(streams) streams at once, with C(sql_log_bin), C(unique_checks) and
    C(foreign_key_checks) off for the load session and a large C(max_allowed_packet). Then it loads what is not
    in a table snapshot, dumped while the source was read-locked - the accounts, roles and grants
    (C(mariadb-dump --system=users); the target's other accounts are dropped first, the account loading keeps
    working), the routines and events (enabled events are disabled on the target, as replication does) - and
    sets the target's GTID position to the one read under that lock.
  - C(cold) and C(snapshot) stream a tar of O(datadir) into O(target_dir) (existing and empty) and give the files to
    O(owner). The caller holds a read lock around a C(snapshot). A C(cold) copy stops the source server itself with
    O(stop_source) and starts it again when the copy ends, whatever happens - in the same background job, so even a
    controller that dies during the copy leaves the source running again.
  - Run with C(async) and C(poll=0), the action plugin follows the copy itself - it looks at the job and at the
    copy's progress file every O(poll) seconds with one shell command (no module started on the host), shows
    the progress line, renews the source's read lock with O(renew_lock), and returns the copy's result when it
    has finished. Without O(progress_file) it uses a private directory on the source host, removed afterwards.
  - The target host is reached through O(transport), the command prefix that runs the receiver there
    (for example C([ssh, -o, BatchMode=yes, dbadmin@10.0.0.12])); empty when both are on the same host.
  - Credentials go into private option files (mode 0600) that the module removes afterwards; no password
    appears on a command line.
version_added: 0.1.0
author: replicant.mysql developers (@replicant-mysql)
extends_documentation_fragment:
  - replicant.mysql.connection
options:
  method:
    description: How to copy.
    type: str
    choices: [physical, logical, cold, snapshot]
    required: true
  flavor:
    description: Server flavor, which decides the tools (C(mariadb-backup) or C(xtrabackup), ...).
    type: str
    choices: [mariadb, mysql]
    default: mariadb
  source_defaults_file:
    description:
      - The source server's own option file. C(physical) - it tells the backup tool the datadir. C(cold) with
        O(stop_source) - the server is stopped and started directly from it (unless O(source_service)).
    type: path
  relax_durability:
    description:
      - C(logical) only - relax the target server's durability for the load (C(innodb_flush_log_at_trx_commit=2),
        C(sync_binlog=0), global settings) and put back what it had when the load ends, whatever happens, in the same
        background job (so a controller that dies during the load does not leave the target relaxed). RV(durability)
        says what was put back.
    type: bool
    default: false
    version_added: 0.5.0
  source_service:
    description: C(cold) with O(stop_source) - the source server's service (systemd unit), when the service manager
      controls it.
    type: str
    version_added: 0.5.0
  stop_source:
    description:
      - C(cold) only - stop the source server (O(source_service) or O(source_defaults_file)) before the copy and start
        it again after it, succeeded or not. A source that was not running is not started. RV(source) says what was
        done. In check mode the server's control is only checked.
    type: bool
    default: false
    version_added: 0.5.0
  datadir:
    description: The source datadir, for C(cold) and C(snapshot).
    type: path
  schemas:
    description: Schemas to dump with C(logical); by default every schema but the system ones.
    type: list
    elements: str
  target_dir:
    description:
      - Directory on the target host that receives the files (C(physical), C(cold), C(snapshot)). It must exist and
        be empty there; the receiver refuses anything else before it writes a byte (a non-empty directory is what
        it finds when a wrong O(transport) runs it on another host, e.g. the source's own datadir).
    type: path
  target_options_file:
    description:
      - Client option file on the target host with the target server's socket and credentials (C(logical)); or
        O(target_login).
    type: path
  target_login:
    description:
      - How the target server is reached on its host (C(logical)), instead of O(target_options_file) - keys C(user),
        C(password), C(unix_socket), C(host), C(port). The module writes them into a private option file (0600, in
        a directory of its own, 0700) on the target host through O(transport) - the password on the command's
        input, never on a command line - and removes it when the copy ends, whatever happens.
    type: dict
    version_added: 0.4.0
  transport:
    description: Command prefix that runs the receiver on the target host; the receiver is passed as one shell word.
    type: list
    elements: str
    default: []
  progress_file:
    description: File on the source host that gets a progress line (bytes, rate) every second (replaced at the start).
    type: path
  compress:
    description:
      - Compress the stream between the hosts (C(zstd), C(lz4) or C(gzip), fast levels; the tool must be on both
        hosts) - the source host compresses behind the producer, the target host decompresses in front of the
        receiver. Worth it over a slow network; on one host or a fast LAN it only costs CPU.
      - RV(bytes) and the progress then count compressed bytes.
    type: str
    choices: [none, zstd, lz4, gzip]
    default: none
  bandwidth:
    description: Cap of the stream between the hosts in MB/s (10^6 bytes; after compression), to spare a busy source
      or a shared link; 0 is no cap. From 0 to 1000000.
    type: float
    default: 0
  streams:
    description:
      - C(logical) - number of dump streams loaded into the target at once (per table, the tables shared among them
        by size), from 1 to 256. All start from one consistent state - the source is read-locked (C(FLUSH TABLES WITH READ LOCK))
        only until each stream has opened its snapshot, and the GTID position read under that lock is set on the
        target at the end of the first stream.
      - One stream when there are fewer than two tables or any view. The accounts, routines and events are one
        more, short stream loaded after the tables.
    type: int
    default: 1
  owner:
    description: Owner (C(user) or C(user:group)) the receiver gives the copied files to (C(physical), C(cold),
      C(snapshot)); empty leaves them as unpacked.
    type: str
    default: mysql
  poll:
    description: Seconds between two looks at a copy run with C(async) (action plugin).
    type: int
    default: 10
  renew_lock:
    description:
      - Arguments of M(replicant.mysql.mysql_flush_lock) that renew the source's read lock at every look at a copy
        run with C(async) (action plugin; C(snapshot)). The looks then come at least every third of its C(lease).
    type: dict
  timeout:
    description: Seconds the copy may take.
    type: int
    default: 86400
  stall_timeout:
    description:
      - Seconds the copy may go without a byte moved (0.001 to 86400); then it fails and its processes are killed. A
        source or target that hangs (a stopped process, a lock it waits for, a full disk) ends the copy within this
        bound instead of O(timeout). Raise it when a long pause is expected (e.g. a hot backup waiting for a long
        query before its final lock).
    type: float
    default: 600
    version_added: 0.5.0
  check_space:
    description:
      - In check mode, also check that the filesystem of O(target_dir) on the target host (reached through
        O(transport)) has room for the copy, and fail when it has not. The copy is measured on the source host
        (C(cold), C(snapshot) - the datadir; C(physical) - the datadir without binary and relay logs;
        C(logical) - data and indexes of the schemas); the target's free space counts what O(target_dir) holds
        now, except for C(logical) (the target keeps its files while it loads).
    type: bool
    default: true
  space_margin:
    description: Percent added to the measured size of the copy before it is compared with the free space (0 to 1000).
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description:
      - Reports the commands it would run and copies nothing; fails when the copy could not run (the source does not
        answer, a tool is missing on the source host or, through O(transport), on the target host), so that a
        procedure can check this before it changes anything.
      - With O(check_space), also fails when the target host has not enough free space for the copy.
'''

EXAMPLES = r'''
- name: Make a private directory for this run's progress file (no predictable name in /tmp)
  ansible.builtin.tempfile:
    state: directory
    prefix: replicant-clone-
  register: run_dir

- name: Stream a hot backup of db2 into db4's empty datadir
  replicant.mysql.mysql_clone_copy:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: admin
    login_password: "{{ admin_password }}"
    method: physical
    source_defaults_file: /etc/mysql/my.cnf
    target_dir: /var/lib/mysql
    transport: [ssh, -o, BatchMode=yes, root@db4.example.com]
    progress_file: "{{ run_dir.path }}/progress"
    poll: 30
  async: 86400
  poll: 0  # the action plugin follows the copy (progress every 30 s) and returns its result

- name: Load a logical copy of db2 into the running, emptied server of db4 (two dump streams)
  replicant.mysql.mysql_clone_copy:
    login_unix_socket: /run/mysqld/mysqld.sock
    login_user: admin
    login_password: "{{ admin_password }}"
    method: logical
    streams: 2
    target_login:
      unix_socket: /run/mysqld/mysqld.sock
      user: admin
      password: "{{ db4_admin_password }}"
    transport: [ssh, -o, BatchMode=yes, root@db4.example.com]
  async: 86400
  poll: 0

- name: Copy the datadir of the replica db3 while it is stopped (started again when the copy ends, even on failure)
  replicant.mysql.mysql_clone_copy:
    method: cold
    datadir: /var/lib/mysql
    stop_source: true
    source_service: mariadb
    target_dir: /var/lib/mysql
    transport: [ssh, -o, BatchMode=yes, root@db4.example.com]
  async: 86400
  poll: 0
'''

RETURN = r'''
bytes:
  description: Bytes streamed.
  returned: success
  type: int
seconds:
  description: Time the copy took.
  returned: success
  type: float
mb_per_s:
  description: Throughput in MB/s (10^6 bytes).
  returned: success
  type: float
gtid:
  description: The GTID position the copy carries (C(logical), read under the source's lock), or null.
  returned: success
  type: str
durability:
  description: The target's durability settings the load relaxed and put back (O(relax_durability)).
  returned: success, with O(relax_durability)
  type: dict
  sample: {innodb_flush_log_at_trx_commit: 1, sync_binlog: 1}
source:
  description: What O(stop_source) did to the source server (C(cold)).
  returned: success, with O(stop_source)
  type: dict
  contains:
    stopped:
      description: Whether it was running and was stopped for the copy.
      type: bool
    started:
      description: Whether it was started again after the copy.
      type: bool
streams:
  description: Number of dump streams of tables the copy ran (1 but for a parallel C(logical) copy).
  returned: success
  type: int
system_bytes:
  description: Bytes of the accounts, grants, routines and events a C(logical) copy loaded after the tables.
  returned: success, logical
  type: int
position:
  description: The position the hot backup was taken at (C(physical)), as its receiver read it after the prepare.
  returned: success, physical
  type: dict
  contains:
    file:
      description: Binary log file.
      type: str
    pos:
      description: Position in it.
      type: int
    gtid:
      description: GTID position (empty when the server has none).
      type: str
commands:
  description: Producer and receiver command lines (no secrets in them).
  returned: always
  type: list
  elements: str
space:
  description:
    - What the copy needs and what the target host has, in bytes (check mode with O(check_space) and O(target_dir)).
    - C(data) measured on the source, C(needed) with the margin, C(free) on the filesystem C(mount) of O(target_dir),
      C(held) what O(target_dir) holds now, C(margin) in percent, C(problem) the refusal or null.
  returned: check mode with O(check_space)
  type: dict
'''

import os
import shlex

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.replicant.mysql.plugins.module_utils import clone, lifecycle
from ansible_collections.replicant.mysql.plugins.module_utils.module_common import argument_spec, check_ranges, connect
from ansible_collections.replicant.mysql.plugins.module_utils.replication import USER_SCHEMAS
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            method=dict(type='str', required=True, choices=['physical', 'logical', 'cold', 'snapshot']),
            flavor=dict(type='str', default='mariadb', choices=['mariadb', 'mysql']),
            source_defaults_file=dict(type='path'),
            source_service=dict(type='str'),
            stop_source=dict(type='bool', default=False),
            relax_durability=dict(type='bool', default=False),
            datadir=dict(type='path'),
            schemas=dict(type='list', elements='str'),
            target_dir=dict(type='path'),
            target_options_file=dict(type='path'),
            target_login=dict(type='dict', no_log=True),
            transport=dict(type='list', elements='str', default=[]),
            progress_file=dict(type='path'),
            timeout=dict(type='int', default=86400),
            stall_timeout=dict(type='float', default=600),
            check_space=dict(type='bool', default=True),
            space_margin=dict(type='int', default=10),
            owner=dict(type='str', default='mysql'),
            compress=dict(type='str', default='none', choices=['none', 'zstd', 'lz4', 'gzip']),
            bandwidth=dict(type='float', default=0),
            streams=dict(type='int', default=1),
            poll=dict(type='int', default=10),
            renew_lock=dict(type='dict', no_log=True),
        ),
        mutually_exclusive=[('target_options_file', 'target_login')],
        required_if=[('method', 'physical', ('source_defaults_file', 'target_dir')),
                     ('method', 'logical', ('target_options_file', 'target_login'), True),
                     ('method', 'cold', ('datadir', 'target_dir')),
                     ('method', 'snapshot', ('datadir', 'target_dir'))],
        supports_check_mode=True,
    )
    check_ranges(module)
    p = module.params
    options_file = server = target_private = donor = None
    try:
        if p['relax_durability'] and p['method'] != 'logical':
            raise ValueError('relax_durability goes with method logical only')
        if p['stop_source']:  # the server's control must work before anything changes (check mode too)
            if p['method'] != 'cold':
                raise ValueError('stop_source goes with method cold only (the other methods copy a running server)')
            donor = lifecycle.server_control(p['source_defaults_file'], p['source_service'])
        schemas = p['schemas']
        logical = p['method'] == 'logical'
        measure = module.check_mode and p['method'] in ('physical', 'logical')  # the source answers; sizes for the space
        if logical or measure:
            server = connect(module)  # check mode: the source must answer before anything changes
        if p['method'] == 'logical' and schemas is None:
            schemas = sorted(row['name'] for row in server.sql(USER_SCHEMAS))
        if p['method'] in ('physical', 'logical'):
            options_file = clone.option_file(p['login_user'], p['login_password'], socket=p['login_unix_socket'],
                                             host=p['login_host'], port=p['login_port'] if p['login_host'] else None,
                                             include=p['source_defaults_file'],
                                             sections=('client', 'mariadb-backup', 'xtrabackup'))
        produce = clone.producer(p['method'], p['flavor'], options_file, datadir=p['datadir'], schemas=schemas)
        target_options = p['target_options_file']
        if logical and p['target_login'] is not None:  # check mode only shows where it would be
            target_private = (None if module.check_mode else
                              clone.target_option_file(p['target_login'], p['transport']))
            target_options = '%s/client.cnf' % (target_private or '<private directory of the run>')
        receive = clone.receiver(p['method'], p['flavor'], target_dir=p['target_dir'], options_file=target_options,
                                 owner=p['owner'])
        receive = clone.on_target(clone.compressed(receive, p['compress']), p['transport'])
        commands = [' '.join(shlex.quote(word) for word in command) for command in (produce, receive)]
        if p['compress'] != 'none':  # the compressor runs behind the producer, on the source host
            commands[0] += ' | ' + ' '.join(clone.COMPRESSORS[p['compress']][0])
        if module.check_mode:
            # What the copy needs, checked before anything changes: the source answers (above), the tools, the space.
            missing = clone.missing_tools(p['method'], p['flavor'], p['transport'], compress=p['compress'])
            if missing:
                module.fail_json(msg='the %s copy cannot run: %s; install them (e.g. the mariadb-backup and '
                                     'mariadb-client packages). Nothing was changed' % (p['method'], '; '.join(missing)),
                                 commands=commands)
            if not (p['check_space'] and p['target_dir']):
                module.exit_json(changed=True, commands=commands)
            space = clone.check_space(p['method'], p['target_dir'], p['transport'], p['space_margin'],
                                      datadir=p['datadir'], server=server, schemas=schemas)
            if space['problem']:
                module.fail_json(msg='%s. Nothing was changed' % space['problem'], commands=commands, space=space)
            module.exit_json(changed=True, commands=commands, space=space)
        how = dict(progress_file=p['progress_file'], timeout=p['timeout'], compress=p['compress'], bandwidth=p['bandwidth'],
                   stall=p['stall_timeout'])
        if logical:  # the source's session locks it while the streams start
            def load():
                return clone.logical_copy(server, p['flavor'], options_file, schemas, receive, p['streams'], **how)
            if p['relax_durability']:
                client = clone.on_target(clone.receiver('logical', p['flavor'], options_file=target_options), p['transport'])
                result = clone.relaxed(client, load, p['timeout'])
            else:
                result = load()
            commands = [' '.join(shlex.quote(word) for word in command) for command in result.pop('producers')] + commands[-1:]
        elif donor is not None:
            result = clone.with_source_stopped(donor, lambda: clone.stream(produce, receive, **how), p['timeout'])
        else:
            # a snapshot copies files of a running server: tar's "file changed as we read it" (exit 1) is expected
            result = clone.stream(produce, receive, producer_ok=(0, 1) if p['method'] == 'snapshot' else (0,), **how)
        result['streams'] = max(1, len(commands) - 1 - logical)  # (the accounts' short stream not counted)
        said = result.pop('said')
        result.setdefault('gtid', None)  # the GTID a logical copy read under the source's lock
        if p['method'] == 'physical':
            result['position'] = clone.copy_position(said)
    except (clone.CopyError, ValueError, ServerError, lifecycle.LifecycleError) as exc:
        module.fail_json(msg='%s from %s failed: %s%s' % (
            'checking the copy' if module.check_mode else 'copy', p['login_unix_socket'] or p['login_host'] or 'the source',
            exc, '. Nothing was changed' if module.check_mode else ''))
    finally:
        if server is not None:
            server.close()
        if options_file and os.path.exists(options_file):
            os.unlink(options_file)
        if target_private:
            clone.remove_on_target(target_private, p['transport'])
    module.exit_json(changed=True, commands=commands, **result)


if __name__ == '__main__':
    main()
