# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model of one server of an installation, shared by every procedure.

An ``Instance`` is what the collection knows of one server: how to reach it (``login``), the address
its replicas use (``host``/``port``), what the inventory says of it (declared master and role,
installation, promotion mark) and, once read, what the server reported (``facts``, one dict with one
set of keys, read by ``read_facts``). ``instance_from_spec`` builds one from an entry of the modules'
``servers`` option; ``can_replicate_from`` says why one server cannot replicate from another.

Usable without Ansible::

    from ansible_collections.replicant.mysql.plugins.module_utils.instance import instance_from_spec, can_replicate_from
    db2 = instance_from_spec(dict(name='db2', host='10.0.0.12', login_user='admin', login_password='pw'))
    db1 = instance_from_spec(dict(name='db1', host='10.0.0.11', login_user='admin', login_password='pw'))
    for inst in (db1, db2):
        inst.read()
    print(can_replicate_from(db2, db1))   # [] when it can
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import divergence, parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.semisync import settings as semisync_settings
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError, server_from_params

# Defaults every procedure shares (the modules' argument specs take them from here).
DEFAULTS = dict(
    port=3306,
    connect_timeout=10,   # seconds to open a connection (TCP connect, then handshake and login)
    read_timeout=30,      # seconds a procedure waits for any read or write of one statement (unless set)
    max_lag=5,            # seconds a promotion candidate may be behind its master
)
PROMOTION_CHOICES = ('preferred', 'neutral', 'excluded')
ROLES = ('master', 'replica', 'spare')

# Per-server keys of a ``servers`` entry that say how to log in, and the module options a server inherits.
LOGIN_KEYS = ('login_host', 'login_port', 'login_unix_socket', 'login_user', 'login_password')
SHARED_KEYS = ('login_user', 'login_password', 'config_file', 'connect_timeout', 'read_timeout',
               'ca_cert', 'client_cert', 'client_key', 'check_hostname')

# Per-server keys of a ``servers`` entry that say how replicas reach the server over TLS.
REPL_TLS_KEYS = ('repl_ssl', 'repl_ssl_ca', 'repl_ssl_cert', 'repl_ssl_key', 'repl_ssl_verify_server_cert')

# The ``servers`` option of the installation-wide modules (documented by the doc fragment replicant.mysql.servers).
SERVERS_OPTION = dict(type='list', elements='dict', required=True, options=dict(
    name=dict(type='str', required=True),
    host=dict(type='str'),
    port=dict(type='int'),
    master=dict(type='str'),
    role=dict(type='str', choices=list(ROLES)),
    installation=dict(type='str'),
    promotion=dict(type='str', choices=list(PROMOTION_CHOICES), default='neutral'),
    login_host=dict(type='str'),
    login_port=dict(type='int'),
    login_unix_socket=dict(type='str'),
    login_user=dict(type='str'),
    login_password=dict(type='str', no_log=True),
    repl_user=dict(type='str'),
    repl_password=dict(type='str', no_log=True),
    semisync=dict(type='dict'),
    repl_ssl=dict(type='bool'),
    repl_ssl_ca=dict(type='str'),
    repl_ssl_cert=dict(type='str'),
    repl_ssl_key=dict(type='str', no_log=False),
    repl_ssl_verify_server_cert=dict(type='bool'),
    ca_cert=dict(type='path'),
    client_cert=dict(type='path'),
    client_key=dict(type='path', no_log=False),
    check_hostname=dict(type='bool'),
))

# SHOW SLAVE STATUS / SHOW MASTER STATUS columns that filter what is replicated or logged.
REPLICA_FILTERS = ('Replicate_Do_DB', 'Replicate_Ignore_DB', 'Replicate_Do_Table', 'Replicate_Ignore_Table',
                   'Replicate_Wild_Do_Table', 'Replicate_Wild_Ignore_Table', 'Replicate_Do_Domain_Ids',
                   'Replicate_Ignore_Domain_Ids')
BINLOG_FILTERS = ('Binlog_Do_DB', 'Binlog_Ignore_DB')
# Flavor-neutral statements (the dialect table holds the ones that differ).
INSTANCE_SQL = 'SELECT @@GLOBAL.hostname AS hostname, @@GLOBAL.port AS port, @@GLOBAL.datadir AS datadir'
DUMP_THREADS_SQL = ("SELECT HOST AS host FROM information_schema.PROCESSLIST "
                    "WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')")


class ProcedureError(Exception):
    """A refusal or a failure of a procedure; ``result`` holds what was found and done up to then."""

    def __init__(self, msg, result=None):
        Exception.__init__(self, msg)
        self.result = result or {}


class Instance:
    """One server: how to reach it, what the inventory declares, and (after ``read``) what it reported.

    ``login``: the connection options (login_host/login_port or login_unix_socket, login_user, ...);
    without an address the replication address is used. ``repl_user`` / ``repl_password``: the account
    replicas of this server connect with; ``repl_tls``: how they reach it over TLS (the keyword arguments of
    ``dialect.replication_tls_options``). ``promotion``: preferred, neutral or excluded.
    """

    def __init__(self, name, host=None, port=None, login=None, repl_user=None, repl_password=None,
                 promotion=None, master=None, role=None, installation=None, semisync=None, repl_tls=None):
        if promotion not in (None, '') + PROMOTION_CHOICES:
            raise ValueError('%s: promotion must be one of %s, not %r' % (name, ', '.join(PROMOTION_CHOICES), promotion))
        if role not in (None, '') + ROLES:
            raise ValueError('%s: role must be one of %s, not %r' % (name, ', '.join(ROLES), role))
        self.name = name
        self.login = dict(login or {})
        self.host = host or self.login.get('login_host')
        self.port = int(port or self.login.get('login_port') or DEFAULTS['port'])
        if not self.login.get('login_unix_socket') and not self.login.get('login_host'):
            self.login.update(login_host=self.host, login_port=self.port)
        self.login.setdefault('connect_timeout', DEFAULTS['connect_timeout'])
        if not self.login.get('read_timeout'):
            self.login['read_timeout'] = DEFAULTS['read_timeout']
        self.repl_user = repl_user
        self.repl_password = repl_password
        self.repl_tls = dialect.replication_tls_options(**(repl_tls or {}))
        self.promotion = promotion or 'neutral'
        self.declared_master = master
        self.declared_role = role or None
        self.installation = installation
        self.semisync = semisync_settings(semisync, name)
        self.server = server_from_params(self.login, name=name) if self.reachable_by_login else None
        self.facts = {}
        self.error = None if self.server else '%s: no address is known (the replica registered without report_host)' % name
        # Set by discovery (topology): where it was found and how it is linked.
        self.in_inventory = True
        self.found_by = 'inventory'
        self.expected_server_id = None
        self.via = None
        self.from_processlist = False
        self.aliases = set()
        self.queried = False
        self.master = None
        self.master_address = None
        self.replicas = []
        self.problems = []
        self.gtid_errant = None

    def __repr__(self):
        return 'Instance(%r)' % self.name

    @property
    def reachable_by_login(self):
        return bool(self.login.get('login_unix_socket') or self.login.get('login_host'))

    @property
    def address(self):
        return '%s:%s' % (self.host, self.port) if self.host else None

    @property
    def reachable(self):
        return bool(self.facts)

    @property
    def status(self):
        """The normalised replica status, or None (no replica, or not read)."""
        return self.facts.get('status')

    @property
    def server_id(self):
        return self.facts['server_id'] if self.facts else self.expected_server_id

    @property
    def flavor(self):
        return self.facts.get('flavor')

    def connect(self):
        """Open the connection; remember the error (``.error``) instead of raising. Returns success."""
        if self.server is None:
            return False
        try:
            self.server.connect()
            self.error = None
            return True
        except ServerError as exc:
            self.error = str(exc)
            return False

    def read(self, discovery=False):
        """Read the facts (``read_facts``) on the open or a new connection; errors land in ``.error``."""
        self.queried = True
        if not self.connect():
            return None
        try:
            self.facts = read_facts(self.server, discovery)
        except (ServerError, LookupError, TypeError, ValueError) as exc:
            self.error = str(exc) if isinstance(exc, ServerError) else '%s: unexpected answer: %r' % (self.name, exc)
            self.facts = {}
            return None
        return self.facts

    def close(self):
        if self.server is not None:
            self.server.close()

    def gtid(self, key='gtid_current_pos'):
        return parse_gtid(self.facts[key], self.facts['flavor'].name)

    def follow(self, replica_flavor, gtid=True, position=None):
        """change_master options that make a replica (of ``replica_flavor``) replicate from this server."""
        if not self.repl_user:
            raise ValueError('%s: no replication account given (repl_user) for its replicas' % self.name)
        options = dict(master_host=self.host, master_port=self.port, master_user=self.repl_user,
                       master_password=self.repl_password)
        options.update(dialect.follow_options(replica_flavor, gtid=gtid))
        options.update(self.repl_tls)
        if not gtid:
            options.update(master_log_file=position.file, master_log_pos=position.pos)
        return options


def instance_from_spec(spec, defaults=None):
    """An Instance from an entry of a module's ``servers`` option.

    ``defaults``: the module's own options (login_*, config_file, timeouts, TLS, repl_*) for what the
    entry leaves out; per-server login options win. The entry's ``host``/``port`` are the replication
    address; without login_host/login_unix_socket the server is reached there.
    """
    merged = dict((k, v) for k, v in (defaults or {}).items() if v not in (None, ''))
    given = dict((k, v) for k, v in spec.items() if v not in (None, ''))
    if not given.get('name'):
        shown = dict((k, v) for k, v in spec.items() if 'password' not in k)
        raise ValueError('every server needs a name: %r' % (shown,))
    for key in ('login_unix_socket', 'login_host', 'login_port'):
        merged.pop(key, None)
    merged.update(given)
    login = dict((k, merged[k]) for k in LOGIN_KEYS + SHARED_KEYS if k in merged)
    return Instance(merged['name'], merged.get('host'), merged.get('port'), login, merged.get('repl_user'),
                    merged.get('repl_password'), merged.get('promotion'), merged.get('master'), merged.get('role'),
                    merged.get('installation'), merged.get('semisync'),
                    dict((k[len('repl_'):], merged.get(k)) for k in REPL_TLS_KEYS))


def instances_from_params(params, require_host=False):
    """Instances from a module's ``servers`` and its shared options."""
    defaults = dict((k, params.get(k)) for k in SHARED_KEYS + ('repl_user', 'repl_password'))
    out = [instance_from_spec(spec, defaults) for spec in params['servers']]
    names = [i.name for i in out]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise ValueError('server %s is listed twice' % ', '.join(twice))
    if require_host:
        for inst in out:
            if not inst.host:
                raise ValueError('server %s: the replication address (host) is missing' % inst.name)
    return out


# -- facts ---------------------------------------------------------------------------------------
def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def _compact(value):
    return ''.join(str(_text(value) or '').split())


def _column(row, name):
    """A column of a SHOW result, whatever the case of its name (Server_id / Server_Id)."""
    return dict((str(k).lower(), v) for k, v in row.items()).get(name.lower())


def _filters(row, columns):
    lowered = dict((str(k).lower(), v) for k, v in row.items())
    return dict((c, _clean(lowered.get(c.lower()))) for c in columns if _clean(lowered.get(c.lower())))


def _clean(value):
    value = _text(value)
    return ','.join(sorted(part.strip() for part in str(value or '').split(',') if part.strip()))


def _client_ip(processlist_host):
    """'10.0.0.5:51234' -> '10.0.0.5' (IPv6 hosts keep their colons)."""
    host = str(processlist_host or '')
    return host.rsplit(':', 1)[0].strip('[]') if ':' in host else host


def read_facts(server, discovery=False):
    """Everything a procedure judges a server by, in one dict (one connection, a few statements).

    Keys: flavor (a dialect.Flavor), version, server_id, server_uuid, hostname, port, datadir, log_bin,
    log_replica_updates, read_only, super_read_only, gtid_executed, gtid_current_pos (text), gtid (the
    parsed current position), gtid_enabled, status (normalised replica status or None), filters
    (replication filters), binlog_filters (what its binlog leaves out), master_pos; with ``discovery``
    also registered_replicas and dump_clients (the replicas it knows of).
    """
    flavor = server.flavor
    ident = server.one(dialect.sql(flavor, 'server_identity'))
    instance = server.one(INSTANCE_SQL)
    binlog = server.one(dialect.sql(flavor, 'binlog_settings'))
    read_only = replication.read_only_state(server)
    rows = server.run('show_replica_status')
    master = server.run('show_master_status')
    current = _compact(server.value(dialect.sql(flavor, 'gtid_current_pos')))
    executed = _compact(server.value(dialect.sql(flavor, 'gtid_executed')))
    facts = dict(
        flavor=flavor, version='.'.join(str(v) for v in flavor.version),
        server_id=int(ident['server_id']), server_uuid=ident.get('server_uuid'),
        hostname=_text(instance['hostname']), port=int(instance['port']), datadir=_text(instance['datadir']),
        log_bin=bool(int(binlog['log_bin'] or 0)), log_replica_updates=bool(int(binlog['log_replica_updates'] or 0)),
        read_only=bool(read_only.get('read_only')), super_read_only=read_only.get('super_read_only'),
        gtid_executed=executed, gtid_current_pos=current, gtid=parse_gtid(current, flavor.name),
        gtid_enabled=bool(int(server.value(dialect.sql(flavor, 'gtid_enabled')) or 0)),
        status=dialect.normalize_replica_status(flavor, rows[0]) if rows else None,
        filters=_filters(rows[0], REPLICA_FILTERS) if rows else {},
        binlog_filters=_filters(master[0], BINLOG_FILTERS) if master else {},
        master_pos=replication.master_pos_from(flavor, master[0] if master else None, executed),
    )
    if discovery:
        facts['registered_replicas'] = [
            dict(server_id=int(_column(row, 'server_id')), host=_text(_column(row, 'host')) or None,
                 port=int(_column(row, 'port') or 0) or None)
            for row in server.run('show_replicas')]
        facts['dump_clients'] = [_client_ip(_text(row['host'])) for row in server.sql(DUMP_THREADS_SQL)]
    return facts


# -- the one predicate -----------------------------------------------------------------------------
def same_server(a, b):
    """Whether two instances are the same server: same name; else, when both were read, the same identity
    (server_id, hostname, port, datadir); else the same replication address."""
    if a is b or a.name == b.name:
        return True
    if a.facts.get('server_id') is not None and b.facts.get('server_id') is not None:
        keys = ('server_id', 'hostname', 'port', 'datadir')
        return all(a.facts.get(k) == b.facts.get(k) for k in keys)
    return bool(a.host and (a.host, a.port) == (b.host, b.port))


def can_replicate_from(replica, source, source_gtid=None):
    """Why ``replica`` cannot replicate from ``source``: a list of (kind, message); empty when it can.

    The replica is the subject of each message ("has transactions db1 lacks: ...").

    Both carry facts (``read_facts``). ``source_gtid``: the GTID set the source will have (e.g. a
    candidate that will catch up with its master); default what it has executed. Kinds: itself,
    binlog (the source has no binlog, or does not log what it replicates), flavor, errant (the replica
    has transactions the source lacks), diverged (same GTID, other transaction), data (data but no
    replication history).
    """
    reasons = []
    if same_server(replica, source):
        return [('itself', 'cannot replicate from itself')]
    sf, rf = source.facts, replica.facts
    if not sf.get('log_bin'):
        reasons.append(('binlog', 'cannot read from %s: %s has no binary log' % (source.name, source.name)))
    elif sf.get('status') and not sf.get('log_replica_updates'):
        reasons.append(('binlog', 'would not get what %s replicates: %s is a replica without log_slave_updates'
                        % (source.name, source.name)))
    if rf.get('flavor') and sf.get('flavor') and rf['flavor'].name != sf['flavor'].name:
        reasons.append(('flavor', 'is %s and %s is %s' % (rf['flavor'], source.name, sf['flavor'])))
    if 'gtid' in rf and (source_gtid is not None or 'gtid' in sf) and not any(k == 'flavor' for k, _m in reasons):
        theirs = source_gtid if source_gtid is not None else sf['gtid']
        if not hasattr(theirs, 'count'):
            theirs = parse_gtid(str(theirs or ''), rf['flavor'].name)
        for kind, detail in divergence(rf['gtid'], theirs):
            reasons.append((kind, 'has transactions %s lacks: %s' % (source.name, detail) if kind == 'errant'
                            else 'has diverged from %s in GTID domains %s' % (source.name, detail)))
        if rf.get('user_schemas') and not rf['gtid'] and theirs:
            reasons.append(('data', 'holds data (%s) but no replication history from %s'
                            % (', '.join(sorted(rf['user_schemas'])), source.name)))
    return reasons


OWN_ADDRESSES = 'SELECT @@GLOBAL.bind_address AS bind_address, @@GLOBAL.report_host AS report_host'


def conflicts_of(server, master_gtid=None, master_host=None, master_port=None, replica_gtid=None):
    """can_replicate_from for a connected server about to be pointed at ``master_host``:``master_port``
    (a master known only by its address and, optionally, its executed GTID set). ``replica_gtid``: the server's
    GTID position read before ``master_gtid`` was (exact while both take writes); default: read now."""
    replica = Instance(getattr(server, 'name', None) or str(server))
    replica.server = server
    replica.facts = read_facts(server)
    if replica_gtid is not None:
        replica.facts['gtid'] = parse_gtid(replica_gtid, replica.facts['flavor'].name)
    if master_host and _answers_at(server, replica.facts, master_host, master_port):
        replica.host, replica.port = master_host, int(master_port or DEFAULTS['port'])
    source = Instance('%s:%s' % (master_host, master_port or DEFAULTS['port']), master_host, master_port)
    source.facts = dict(log_bin=True)
    if master_gtid is not None:
        source.facts['gtid'] = parse_gtid(master_gtid or '', replica.facts['flavor'].name)
        if not replica.facts['gtid']:
            replica.facts['user_schemas'] = [row['name'] for row in server.sql(replication.USER_SCHEMAS)]
    return can_replicate_from(replica, source)


def _answers_at(server, facts, host, port):
    """Whether this server listens at ``host``:``port``: its own port, and one of its names or addresses
    (bind_address, report_host, hostname; a wildcard bind_address answers on loopback too)."""
    if int(port or DEFAULTS['port']) != facts['port']:
        return False
    own = server.one(OWN_ADDRESSES) or {}
    bind = str(_text(own.get('bind_address')) or '*').lower()
    names = set(str(_text(v)).lower() for v in (bind, own.get('report_host'), facts['hostname']) if v)
    names -= {'*', '0.0.0.0', '::'}
    if str(host).lower() in names:
        return True
    addresses = set(filter(None, (_address(name) for name in names)))
    if bind in ('*', '0.0.0.0', '::', ''):
        addresses.add('127.0.0.1')
    return _address(str(host)) in addresses


def _address(name):
    try:
        return socket.gethostbyname(name)
    except (socket.error, UnicodeError):
        return None


def reasons_text(reasons, kinds=None):
    """The messages of ``reasons`` (optionally only those of ``kinds``), joined."""
    return '; '.join(m for k, m in reasons if kinds is None or k in kinds)
