# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one table of MySQL / MariaDB syntax differences, and the server flavor they depend on.

``sql(flavor, key, **kwargs)`` renders a statement: of the ``STATEMENTS`` rows for that key and
flavor it picks the one with the highest minimum version not above the server's version, and
fills its template. Templates only use the named fragments of ``_FRAGMENTS`` (quoted values,
optional clauses), so the table itself stays declarative.

Passwords: ``sql(..., mask=True)`` renders the password of ``change_master`` as
``'********'``, for statements that are reported back to the user.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import math
import re

MYSQL = 'mysql'
MARIADB = 'mariadb'
_VERSION_RE = re.compile(r'(\d+)\.(\d+)(?:\.(\d+))?')


class Flavor:
    """A server kind ('mysql' or 'mariadb'; Percona Server counts as MySQL) and its version."""

    def __init__(self, name, version):
        name = str(name).lower()
        if name not in (MYSQL, MARIADB):
            raise ValueError('unknown server flavor %r: expected mysql or mariadb' % (name,))
        self.name = name
        self.version = _version_tuple(version)

    @classmethod
    def from_server(cls, version_string, version_comment=''):
        """From ``SELECT @@version, @@version_comment``.

        ``'10.11.19-MariaDB-0+deb12u1'`` -> MariaDB 10.11.19; ``'5.5.5-10.11.6-MariaDB'`` (the
        prefix that old replication clients need) -> MariaDB 10.11.6; ``'8.0.36-28'`` -> MySQL.
        """
        text = str(version_string or '')
        is_mariadb = 'mariadb' in text.lower() or 'mariadb' in str(version_comment or '').lower()
        if is_mariadb and text.startswith('5.5.5-'):
            text = text[len('5.5.5-'):]
        return cls(MARIADB if is_mariadb else MYSQL, text)

    @property
    def is_mariadb(self):
        return self.name == MARIADB

    @property
    def is_mysql(self):
        return self.name == MYSQL

    def __str__(self):
        return '%s %s' % ('MariaDB' if self.is_mariadb else 'MySQL', '.'.join(str(v) for v in self.version))

    def __repr__(self):
        return 'Flavor(%r, %r)' % (self.name, '.'.join(str(v) for v in self.version))

    def __eq__(self, other):
        if not isinstance(other, Flavor):
            return NotImplemented
        return (self.name, self.version) == (other.name, other.version)

    def __hash__(self):
        return hash((self.name, self.version))


def _version_tuple(version):
    if isinstance(version, str):
        match = _VERSION_RE.match(version.strip())
        if not match:
            raise ValueError('cannot read a server version from %r' % (version,))
        return tuple(int(part or 0) for part in match.groups())
    try:
        parts = tuple(int(part) for part in version)
    except (TypeError, ValueError):
        raise ValueError('invalid server version %r' % (version,))
    if not 1 <= len(parts) <= 3:
        raise ValueError('invalid server version %r' % (version,))
    return parts + (0,) * (3 - len(parts))


# -- quoting -------------------------------------------------------------------------------------
_ESCAPES = {'\\': '\\\\', "'": "\\'", '"': '\\"', '\0': '\\0', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z'}


def quote_string(value, no_backslash_escapes=False):
    """A single-quoted SQL string literal for a session with the given ``NO_BACKSLASH_ESCAPES`` mode.

    Without that mode (the default, and what every connection of the collection sets, see
    ``server.Server``) it escapes like mysql_real_escape_string; with it only the quote can be
    escaped (doubled) and a backslash is an ordinary character. A literal made for the one mode is
    wrong in the other: ``Server.quote()`` picks the mode the session really has.
    """
    if not isinstance(value, str):
        raise TypeError('quote_string needs a str, not %r' % (value,))
    if no_backslash_escapes:
        return "'%s'" % value.replace("'", "''")
    return "'%s'" % ''.join(_ESCAPES.get(char, char) for char in value)


def quote_identifier(name):
    """A backtick-quoted identifier (backticks doubled)."""
    if not isinstance(name, str) or not name or '\0' in name:
        raise ValueError('invalid SQL identifier: %r' % (name,))
    return '`%s`' % name.replace('`', '``')


# Account names: what the servers accept (MariaDB 80 characters for the user, MySQL 32; hosts 255).
MAX_USER_LENGTH = 80
MAX_HOST_LENGTH = 255


def check_account(user, host):
    """Raise ValueError unless ``user``@``host`` can be an account name (any character but NUL)."""
    for what, value, limit in (('user name', user, MAX_USER_LENGTH), ('host pattern', host, MAX_HOST_LENGTH)):
        if not isinstance(value, str):
            raise ValueError('the account %s must be a string, not %r' % (what, value))
        if '\0' in value:
            raise ValueError('the account %s must not contain a NUL character' % what)
        if len(value) > limit:
            raise ValueError('the account %s is %d characters long; the server allows at most %d'
                             % (what, len(value), limit))
    if not user:
        raise ValueError('the account user name must not be empty (an empty name is the anonymous account)')
    if not host:
        raise ValueError("the account host pattern must not be empty (use '%' for any host)")


# Where a statement carries a secret: the literal after these is masked in anything reported.
_LITERAL = r"'(?:[^'\\]|\\.|'')*'"
_SECRET_RE = re.compile(r"(?is)((?:\bIDENTIFIED\s+(?:VIA|WITH)\s+\w+\s+(?:USING|AS|BY)\s+(?:PASSWORD\s*\(\s*)?)"
                        r"|(?:\bIDENTIFIED\s+BY\s+(?:PASSWORD\s+)?)"
                        r"|(?:\b(?:MASTER|SOURCE)_PASSWORD\s*=\s*)"
                        r"|(?:\bPASSWORD\s*\(\s*)"
                        r"|(?:\bSET\s+PASSWORD\b[^=]*=\s*(?:PASSWORD\s*\(\s*)?))" + _LITERAL)
_SENSITIVE_RE = re.compile(r'(?i)\b(IDENTIFIED|PASSWORD|MASTER_PASSWORD|SOURCE_PASSWORD)\b')


def mask_statement(statement):
    """``statement`` with every password literal shown as '********' (for messages and results)."""
    if not isinstance(statement, str):
        return statement
    return _SECRET_RE.sub(lambda m: m.group(1) + MASKED_PASSWORD, statement)


def is_sensitive(statement):
    """Whether a statement may carry a secret (a password literal): its text must not be reported."""
    return isinstance(statement, str) and bool(_SENSITIVE_RE.search(statement))


def _number(value, what, minimum=0, kind=int, maximum=math.inf):
    ok_type = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise ValueError('%s must be a number (%s), not %r' % (what, kind.__name__, value))
    if (isinstance(value, float) and not math.isfinite(value)) or value < minimum:
        raise ValueError('%s must be a number >= %s, not %r' % (what, minimum, value))
    if value > maximum:
        raise ValueError('%s must be a number from %s to %s, not %r' % (what, minimum, maximum, value))
    return repr(value)


# -- change master options -----------------------------------------------------------------------
# Canonical option name -> (value kind, flavors that know it). The order is the output order.
CHANGE_MASTER_OPTIONS = collections.OrderedDict([
    ('master_host', ('str', (MYSQL, MARIADB))),
    ('master_port', ('port', (MYSQL, MARIADB))),
    ('master_user', ('str', (MYSQL, MARIADB))),
    ('master_password', ('password', (MYSQL, MARIADB))),
    ('master_log_file', ('str', (MYSQL, MARIADB))),
    ('master_log_pos', ('int', (MYSQL, MARIADB))),
    ('master_use_gtid', ('use_gtid', (MARIADB,))),
    ('master_auto_position', ('bool', (MYSQL,))),
    ('master_ssl', ('bool', (MYSQL, MARIADB))),
    ('master_ssl_ca', ('str', (MYSQL, MARIADB))),
    ('master_ssl_cert', ('str', (MYSQL, MARIADB))),
    ('master_ssl_key', ('str', (MYSQL, MARIADB))),
    ('master_ssl_verify_server_cert', ('bool', (MYSQL, MARIADB))),
    ('master_heartbeat_period', ('float', (MYSQL, MARIADB))),
    ('master_connect_retry', ('int', (MYSQL, MARIADB))),
    ('master_delay', ('int', (MYSQL, MARIADB))),
])
USE_GTID_VALUES = ('no', 'current_pos', 'slave_pos')
MASKED_PASSWORD = "'********'"


# What the server takes for each numeric option (lowest, highest); the others: from 0.
OPTION_BOUNDS = dict(master_port=(1, 65535), master_connect_retry=(1, 31536000), master_heartbeat_period=(0, 4294967),
                     master_delay=(0, 2147483647))
_CONTROL = re.compile('[\x00-\x1f\x7f]')


def _option_value(name, kind, value, mask, quote=quote_string):
    if kind in ('str', 'password'):
        if not isinstance(value, str):
            raise ValueError('option %s must be a string, not %r' % (name, value))
        if kind == 'str' and _CONTROL.search(value) or '\x00' in value:
            raise ValueError('option %s must not hold a newline, NUL or other control character' % name)
        if name == 'master_host' and not (value.strip() == value and 0 < len(value) <= 255 and ' ' not in value):
            raise ValueError('option master_host must be a host name or address (1 to 255 characters, no spaces), '
                             'not %r' % value)
        return MASKED_PASSWORD if kind == 'password' and mask else quote(value)
    if kind == 'bool':
        if value not in (True, False):  # also accepts 0 and 1
            raise ValueError('option %s must be a boolean, not %r' % (name, value))
        return '1' if value else '0'
    if kind == 'use_gtid':
        if str(value).lower() not in USE_GTID_VALUES:
            raise ValueError('option %s must be one of %s, not %r' % (name, ', '.join(USE_GTID_VALUES), value))
        return str(value).lower()
    low, high = OPTION_BOUNDS.get(name, (0, math.inf))
    if kind == 'port' and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
        raise ValueError('option %s must be a port number (%s to %s), not %r' % (name, low, high, value))
    return _number(value, 'option %s' % name, kind=float if kind == 'float' else int, minimum=low, maximum=high)


def _change_master_options(flavor, args, mask, prefix):
    options = args['options']
    if not isinstance(options, dict):
        raise ValueError('change_master options must be a dict, not %r' % (options,))
    for name in options:
        if name not in CHANGE_MASTER_OPTIONS:
            raise ValueError('unknown change_master option %r' % (name,))
        if flavor.name not in CHANGE_MASTER_OPTIONS[name][1]:
            raise ValueError('change_master option %r is not valid on %s' % (name, flavor))
    quote = args.get('_quote') or quote_string
    rendered = ['%s = %s' % (prefix + name[len('master_'):].upper(), _option_value(name, kind, options[name], mask, quote))
                for name, (kind, _flavors) in CHANGE_MASTER_OPTIONS.items() if options.get(name) is not None]
    if not rendered:
        raise ValueError('change_master needs at least one option')
    return ', '.join(rendered)


# -- fragments the templates use -----------------------------------------------------------------
def _channel(args):
    channel = args['channel'] or ''
    if not isinstance(channel, str):
        raise ValueError('a channel / connection name must be a string, not %r' % (channel,))
    return channel


def _thread(args):
    thread = args['thread']
    names = {None: '', 'io': ' IO_THREAD', 'sql': ' SQL_THREAD'}
    key = thread.lower() if isinstance(thread, str) else thread
    if key not in names:
        raise ValueError("thread must be None, 'io' or 'sql', not %r" % (thread,))
    return names[key]


def _on(args):
    if args['on'] not in (True, False):
        raise ValueError('on must be a boolean, not %r' % (args['on'],))
    return bool(args['on'])


def _privileges(privileges):
    names = [privileges] if isinstance(privileges, str) else list(privileges)
    for name in names:
        if not isinstance(name, str) or not re.match(r'^[A-Za-z][A-Za-z ]*$', name):
            raise ValueError('invalid privilege name %r' % (name,))
    return ', '.join(name.upper() for name in names)


def _variable_name(name):
    if not isinstance(name, str) or not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', name.replace('-', '_')):
        raise ValueError('invalid server variable name %r' % (name,))
    return name.replace('-', '_')


def _variable_value(value, quote=quote_string):
    """Numbers and ON/OFF as they are, True/False as ON/OFF, anything else a quoted string."""
    if isinstance(value, bool):
        return 'ON' if value else 'OFF'
    if isinstance(value, (int, float)):
        return _number(value, 'value', minimum=-math.inf, kind=float)
    text = str(value)
    if re.match(r'^-?\d+(\.\d+)?$', text) or text.upper() in ('ON', 'OFF', 'DEFAULT'):
        return text.upper()
    return quote(text)


OBJECT_KINDS = ('PROCEDURE', 'FUNCTION', 'EVENT', 'TRIGGER', 'VIEW')


def _object_kind(kind):
    if str(kind).upper() not in OBJECT_KINDS:
        raise ValueError('kind must be one of %s, not %r' % (', '.join(OBJECT_KINDS), kind))
    return str(kind).upper()


def _row_hash(columns):
    """64 bits of the MD5 of a row's values (NULL told apart from '' by a flag per column), as an unsigned integer."""
    quoted = [quote_identifier(c) for c in columns]
    if not quoted:
        raise ValueError('a row hash needs at least one column')
    return ("CAST(CONV(LEFT(MD5(CONCAT_WS('#', %s, CONCAT(%s))), 16), 16, 10) AS UNSIGNED)"
            % (', '.join(quoted), ', '.join('ISNULL(%s)' % c for c in quoted)))


def _key_range(column, lo, hi):
    """``lo < column <= hi`` (either side open when None): one chunk of a table keyed by an integer column."""
    parts = ['%s > %s' % (quote_identifier(column), _number(lo, 'lo', minimum=-math.inf))] if lo is not None else []
    parts += ['%s <= %s' % (quote_identifier(column), _number(hi, 'hi', minimum=-math.inf))] if hi is not None else []
    return ' AND '.join(parts) or 'TRUE'


def _q(args):
    """The quoting function of the statement being rendered."""
    return args.get('_quote') or quote_string


_FRAGMENTS = {
    # fragment name: function(flavor, kwargs, mask) -> text
    'thread': lambda f, a, m: _thread(a),
    'for_channel': lambda f, a, m: ' FOR CHANNEL %s' % _q(a)(_channel(a)) if _channel(a) else '',
    'connection': lambda f, a, m: ' %s' % _q(a)(_channel(a)) if _channel(a) else '',
    'all': lambda f, a, m: ' ALL' if a['all'] else '',
    'file': lambda f, a, m: _q(a)(a['file']),
    'pos': lambda f, a, m: _number(a['pos'], 'pos'),
    'timeout': lambda f, a, m: _number(a['timeout'], 'timeout', kind=float),
    'until': lambda f, a, m: '%.6f' % float(_number(a['until'], 'until', kind=float)),
    'channel_arg': lambda f, a, m: ', %s' % _q(a)(_channel(a)) if _channel(a) else '',
    'gtid': lambda f, a, m: _q(a)(str(a['gtid'])),
    'on_off': lambda f, a, m: 'ON' if _on(a) else 'OFF',
    'ssl_or_none': lambda f, a, m: 'SSL' if _on(a) else 'NONE',
    'read_only_var': lambda f, a, m: 'super_read_only' if _on(a) else 'read_only',
    'account': lambda f, a, m: '%s@%s' % (_q(a)(a['user']), _q(a)(a['host'])),
    'user': lambda f, a, m: _q(a)(a['user']),
    'host': lambda f, a, m: _q(a)(a['host']),
    'password': lambda f, a, m: MASKED_PASSWORD if m else _q(a)(a['password']),
    'privileges': lambda f, a, m: _privileges(a['privileges']),
    'object': lambda f, a, m: '%s.%s' % (quote_identifier(a['db']), quote_identifier(a['name'])),
    'kind': lambda f, a, m: _object_kind(a['kind']),
    'tables': lambda f, a, m: ', '.join('%s.%s' % (quote_identifier(db), quote_identifier(name)) for db, name in a['tables']),
    'in_table': lambda f, a, m: 'table_schema = %s AND table_name = %s' % (_q(a)(a['db']), _q(a)(a['name'])),
    'column': lambda f, a, m: quote_identifier(a['column']),
    'row_hash': lambda f, a, m: _row_hash(a['columns']),
    'key_range': lambda f, a, m: _key_range(a['column'], a['lo'], a['hi']),
    'variable': lambda f, a, m: _variable_name(a['name']),
    'value': lambda f, a, m: _variable_value(a['value'], _q(a)),
    'plugin': lambda f, a, m: _variable_name(a['plugin']),
    'soname': lambda f, a, m: _q(a)(a['soname']),
    'master_options': lambda f, a, m: _change_master_options(f, a, m, 'MASTER_'),
    'source_options': lambda f, a, m: _change_master_options(f, a, m, 'SOURCE_'),
}

REQUIRED = object()
# Statement key -> its keyword arguments and their defaults.
ARGUMENTS = {
    'start_replica': {'thread': None, 'channel': ''},
    'stop_replica': {'thread': None, 'channel': ''},
    'reset_replica': {'all': False, 'channel': ''},
    'show_replica_status': {'channel': ''},
    'show_master_status': {},
    'reset_master': {},
    'show_replicas': {},
    'pos_wait': {'file': REQUIRED, 'pos': REQUIRED, 'timeout': REQUIRED, 'channel': ''},
    'gtid_wait': {'gtid': REQUIRED, 'timeout': REQUIRED},
    'gtid_executed': {},
    'gtid_current_pos': {},
    'gtid_slave_pos': {},
    'server_identity': {},
    'set_read_only': {'on': REQUIRED},
    'set_writable_until': {'until': REQUIRED},
    'read_only_vars': {},
    'change_master': {'options': REQUIRED, 'channel': ''},
    'set_global': {'name': REQUIRED, 'value': REQUIRED},
    'persist_global': {'name': REQUIRED, 'value': REQUIRED},
    'get_global': {'name': REQUIRED},
    'user_exists': {'user': REQUIRED, 'host': REQUIRED},
    'password_matches': {'user': REQUIRED, 'host': REQUIRED, 'password': REQUIRED},
    'create_user': {'user': REQUIRED, 'host': REQUIRED, 'password': REQUIRED},
    'set_password': {'user': REQUIRED, 'host': REQUIRED, 'password': REQUIRED},
    'show_grants': {'user': REQUIRED, 'host': REQUIRED},
    'grant': {'user': REQUIRED, 'host': REQUIRED, 'privileges': REQUIRED},
    'account_ssl_type': {'user': REQUIRED, 'host': REQUIRED},
    'require_ssl': {'user': REQUIRED, 'host': REQUIRED, 'on': REQUIRED},
    'replication_privileges': {},
    'monitoring_privileges': {},
    'sql_log_bin': {'on': REQUIRED},
    'set_gtid_slave_pos': {'gtid': REQUIRED},
    'start_replica_until_gtid': {'gtid': REQUIRED, 'channel': ''},
    'checksum_tables': {'tables': REQUIRED},
    'chunkable_tables': {},
    'table_columns': {'db': REQUIRED, 'name': REQUIRED},
    'key_bounds': {'db': REQUIRED, 'name': REQUIRED, 'column': REQUIRED},
    'checksum_chunk': {'db': REQUIRED, 'name': REQUIRED, 'column': REQUIRED, 'columns': REQUIRED, 'lo': None, 'hi': None},
    'user_tables': {},
    'table_sizes': {},
    'open_transactions': {},
    'accounts': {},
    'show_create_user': {'user': REQUIRED, 'host': REQUIRED},
    'show_role_grants': {'user': REQUIRED},
    'stored_objects': {},
    'show_create_object': {'kind': REQUIRED, 'db': REQUIRED, 'name': REQUIRED},
    'drop_other_accounts': {},
    'binlog_settings': {},
    'gtid_enabled': {},
    'gtid_slave_pos_from_binlog': {},
    'system_variables': {},
    'log_settings': {},
    'semisync_status': {},
    'semisync_plugins': {},
    'install_plugin': {'plugin': REQUIRED, 'soname': REQUIRED},
}

# Keys that exist for one flavor only (the others must have rows for both).
ONE_FLAVOR_KEYS = {'gtid_slave_pos': MARIADB, 'persist_global': MYSQL, 'gtid_slave_pos_from_binlog': MARIADB,
                   'system_variables': MARIADB, 'drop_other_accounts': MARIADB}

Statement = collections.namedtuple('Statement', 'key flavor since template')
_ANY = (0, 0, 0)

_TABLE_SIZES = ("SELECT table_schema AS db, table_name AS name, table_type AS type, "
                "COALESCE(data_length, 0) + COALESCE(index_length, 0) AS bytes FROM information_schema.tables "
                "WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant')")

# mysql_checksum: the user tables that can be checksummed in chunks (a primary key of one integer column) and their
# size, their columns, the bounds of that key, and one chunk's row count and XOR of row hashes
_CHUNKABLE_TABLES = (
    "SELECT t.table_schema AS db, t.table_name AS name, MIN(k.column_name) AS pk, "
    "MIN(COALESCE(t.data_length, 0) + COALESCE(t.index_length, 0)) AS bytes "
    "FROM information_schema.tables t JOIN information_schema.key_column_usage k ON k.table_schema = t.table_schema "
    "AND k.table_name = t.table_name AND k.constraint_name = 'PRIMARY' JOIN information_schema.columns c "
    "ON c.table_schema = k.table_schema AND c.table_name = k.table_name AND c.column_name = k.column_name "
    "WHERE t.table_type = 'BASE TABLE' AND t.table_schema NOT IN "
    "('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant') GROUP BY t.table_schema, t.table_name "
    "HAVING COUNT(*) = 1 AND MIN(c.data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint')) = 1 ORDER BY 1, 2")
_TABLE_COLUMNS = "SELECT column_name AS name FROM information_schema.columns WHERE {in_table} ORDER BY ordinal_position"
_KEY_BOUNDS = "SELECT MIN({column}) AS lo, MAX({column}) AS hi FROM {object}"
_CHECKSUM_CHUNK = "SELECT COUNT(*) AS n, COALESCE(BIT_XOR({row_hash}), 0) AS crc FROM {object} WHERE {key_range}"

_NOT_SYSTEM = "NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant')"
# the stored programs and views of the user schemas (clone_slave copies them and its verification compares them)
_STORED_OBJECTS = ("SELECT routine_type AS kind, routine_schema AS db, routine_name AS name FROM information_schema.routines "
                   "WHERE routine_schema {0} UNION ALL "
                   "SELECT 'EVENT', event_schema, event_name FROM information_schema.events WHERE event_schema {0} UNION ALL "
                   "SELECT 'TRIGGER', trigger_schema, trigger_name FROM information_schema.triggers WHERE trigger_schema {0} "
                   "UNION ALL SELECT 'VIEW', table_schema, table_name FROM information_schema.views WHERE table_schema {0} "
                   "ORDER BY 1, 2, 3").format(_NOT_SYSTEM.replace('{', '{{').replace('}', '}}'))
# A logical load gives the target the source's accounts: first every account of the target but the one loading
# (which keeps working; clone_slave checks that the source's is the same) and those holding a PROXY grant (root@localhost:
# a loading account without PROXY ... WITH GRANT OPTION cannot give it again) goes, roles included, unlogged.
# (From 10.4 the accounts are in mysql.global_priv; the view mysql.user needs its definer mariadb.sys, dropped too.)
_DROP_OTHER_ACCOUNTS = ("BEGIN NOT ATOMIC FOR a IN (SELECT User AS u, Host AS h, {0} AS r FROM {1} "
                        "WHERE CONCAT(User, '@', Host) <> CURRENT_USER() AND (User, Host) NOT IN "
                        "(SELECT User, Host FROM mysql.proxies_priv)) DO EXECUTE IMMEDIATE "
                        "IF(a.r = 'Y', CONCAT('DROP ROLE ', QUOTE(a.u)), CONCAT('DROP USER ', QUOTE(a.u), '@', QUOTE(a.h))); "
                        "END FOR; END")
_GLOBAL_PRIV_ROLE = "IF(JSON_EXTRACT(Priv, '$.is_role') = 'true', 'Y', 'N')"

# sessions of this connection's user (the dump streams log in as it) with an open InnoDB transaction
_OPEN_TRANSACTIONS = ("SELECT t.trx_mysql_thread_id AS id FROM information_schema.innodb_trx t "
                      "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
                      "WHERE p.user = SUBSTRING_INDEX(USER(), '@', 1) AND p.id <> CONNECTION_ID()")

_SEMISYNC_PLUGINS = ("SELECT PLUGIN_NAME AS name FROM information_schema.PLUGINS "
                     "WHERE PLUGIN_NAME LIKE 'rpl_semi_sync_%' AND PLUGIN_STATUS = 'ACTIVE'")

STATEMENTS = [Statement(*row) for row in [
    # key, flavor, minimum version, template
    ('start_replica', MYSQL, _ANY, 'START SLAVE{thread}{for_channel}'),
    ('start_replica', MYSQL, (8, 0, 22), 'START REPLICA{thread}{for_channel}'),
    ('start_replica', MARIADB, _ANY, 'START SLAVE{connection}{thread}'),
    ('stop_replica', MYSQL, _ANY, 'STOP SLAVE{thread}{for_channel}'),
    ('stop_replica', MYSQL, (8, 0, 22), 'STOP REPLICA{thread}{for_channel}'),
    ('stop_replica', MARIADB, _ANY, 'STOP SLAVE{connection}{thread}'),
    ('reset_replica', MYSQL, _ANY, 'RESET SLAVE{all}{for_channel}'),
    ('reset_replica', MYSQL, (8, 0, 22), 'RESET REPLICA{all}{for_channel}'),
    ('reset_replica', MARIADB, _ANY, 'RESET SLAVE{connection}{all}'),
    ('show_replica_status', MYSQL, _ANY, 'SHOW SLAVE STATUS{for_channel}'),
    ('show_replica_status', MYSQL, (8, 0, 22), 'SHOW REPLICA STATUS{for_channel}'),
    ('show_replica_status', MARIADB, _ANY, 'SHOW SLAVE{connection} STATUS'),
    ('show_master_status', MYSQL, _ANY, 'SHOW MASTER STATUS'),
    ('show_master_status', MYSQL, (8, 2, 0), 'SHOW BINARY LOG STATUS'),
    ('show_master_status', MARIADB, _ANY, 'SHOW MASTER STATUS'),
    ('show_master_status', MARIADB, (10, 5, 2), 'SHOW BINLOG STATUS'),
    ('reset_master', MYSQL, _ANY, 'RESET MASTER'),
    ('reset_master', MYSQL, (8, 2, 0), 'RESET BINARY LOGS AND GTIDS'),
    ('reset_master', MARIADB, _ANY, 'RESET MASTER'),
    ('show_replicas', MYSQL, _ANY, 'SHOW SLAVE HOSTS'),
    ('show_replicas', MYSQL, (8, 0, 22), 'SHOW REPLICAS'),
    ('show_replicas', MARIADB, _ANY, 'SHOW SLAVE HOSTS'),
    ('pos_wait', MYSQL, _ANY, 'SELECT MASTER_POS_WAIT({file}, {pos}, {timeout}{channel_arg})'),
    ('pos_wait', MYSQL, (8, 0, 26), 'SELECT SOURCE_POS_WAIT({file}, {pos}, {timeout}{channel_arg})'),
    ('pos_wait', MARIADB, _ANY, 'SELECT MASTER_POS_WAIT({file}, {pos}, {timeout}{channel_arg})'),
    ('gtid_wait', MYSQL, _ANY, 'SELECT WAIT_FOR_EXECUTED_GTID_SET({gtid}, {timeout})'),
    ('gtid_wait', MARIADB, _ANY, 'SELECT MASTER_GTID_WAIT({gtid}, {timeout})'),
    ('gtid_executed', MYSQL, _ANY, 'SELECT @@GLOBAL.gtid_executed'),
    ('gtid_executed', MARIADB, _ANY, 'SELECT @@GLOBAL.gtid_binlog_pos'),
    ('gtid_current_pos', MYSQL, _ANY, 'SELECT @@GLOBAL.gtid_executed'),
    ('gtid_current_pos', MARIADB, _ANY, 'SELECT @@GLOBAL.gtid_current_pos'),
    ('gtid_slave_pos', MARIADB, _ANY, 'SELECT @@GLOBAL.gtid_slave_pos'),
    ('server_identity', MYSQL, _ANY, 'SELECT @@GLOBAL.server_id AS server_id, @@GLOBAL.server_uuid AS server_uuid'),
    ('server_identity', MARIADB, _ANY, 'SELECT @@GLOBAL.server_id AS server_id'),
    # MySQL: super_read_only = ON implies read_only; read_only = OFF also clears super_read_only.
    ('set_read_only', MYSQL, _ANY, 'SET GLOBAL {read_only_var} = {on_off}'),
    ('set_read_only', MARIADB, _ANY, 'SET GLOBAL read_only = {on_off}'),
    # Writable only if the server runs it before ``until`` (its own clock, UNIX time): a statement that waited
    # in a hung server's socket until after the bound fails (no value of read_only; a NULL would count as OFF).
    ('set_writable_until', MYSQL, _ANY,
     "SET GLOBAL read_only = IF(UNIX_TIMESTAMP(NOW(6)) < {until}, 'OFF', 'past_the_deadline')"),
    ('set_writable_until', MARIADB, _ANY,
     "SET GLOBAL read_only = IF(UNIX_TIMESTAMP(NOW(6)) < {until}, 'OFF', 'past_the_deadline')"),
    ('read_only_vars', MYSQL, _ANY,
     'SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only'),
    ('read_only_vars', MARIADB, _ANY, 'SELECT @@GLOBAL.read_only AS read_only'),
    ('change_master', MYSQL, _ANY, 'CHANGE MASTER TO {master_options}{for_channel}'),
    ('change_master', MYSQL, (8, 0, 23), 'CHANGE REPLICATION SOURCE TO {source_options}{for_channel}'),
    ('change_master', MARIADB, _ANY, 'CHANGE MASTER{connection} TO {master_options}'),
    ('set_global', MYSQL, _ANY, 'SET GLOBAL {variable} = {value}'),
    ('set_global', MARIADB, _ANY, 'SET GLOBAL {variable} = {value}'),
    ('persist_global', MYSQL, (8, 0, 0), 'SET PERSIST {variable} = {value}'),
    ('get_global', MYSQL, _ANY, 'SELECT @@GLOBAL.{variable} AS value'),
    ('get_global', MARIADB, _ANY, 'SELECT @@GLOBAL.{variable} AS value'),
    # accounts (replication user)
    ('user_exists', MYSQL, _ANY, 'SELECT COUNT(*) AS n FROM mysql.user WHERE User = {user} AND Host = {host}'),
    ('user_exists', MARIADB, _ANY, 'SELECT COUNT(*) AS n FROM mysql.user WHERE User = {user} AND Host = {host}'),
    # MySQL: only mysql_native_password hashes can be compared; other plugins read as "differs"
    ('password_matches', MYSQL, _ANY, "SELECT authentication_string = CONCAT('*', UPPER(SHA1(UNHEX(SHA1({password}))))) AS ok "
                                      'FROM mysql.user WHERE User = {user} AND Host = {host}'),
    ('password_matches', MARIADB, _ANY, 'SELECT authentication_string = PASSWORD({password}) AS ok '
                                        'FROM mysql.user WHERE User = {user} AND Host = {host}'),
    ('create_user', MYSQL, _ANY, 'CREATE USER {account} IDENTIFIED BY {password}'),
    ('create_user', MARIADB, _ANY, 'CREATE USER {account} IDENTIFIED BY {password}'),
    ('set_password', MYSQL, _ANY, 'ALTER USER {account} IDENTIFIED BY {password}'),
    ('set_password', MARIADB, _ANY, 'ALTER USER {account} IDENTIFIED BY {password}'),
    ('show_grants', MYSQL, _ANY, 'SHOW GRANTS FOR {account}'),
    ('show_grants', MARIADB, _ANY, 'SHOW GRANTS FOR {account}'),
    ('grant', MYSQL, _ANY, 'GRANT {privileges} ON *.* TO {account}'),
    ('grant', MARIADB, _ANY, 'GRANT {privileges} ON *.* TO {account}'),
    # what TLS the account must connect with: '' (none), ANY (REQUIRE SSL), X509, SPECIFIED
    ('account_ssl_type', MYSQL, _ANY, 'SELECT ssl_type FROM mysql.user WHERE User = {user} AND Host = {host}'),
    ('account_ssl_type', MARIADB, _ANY, 'SELECT ssl_type FROM mysql.user WHERE User = {user} AND Host = {host}'),
    ('require_ssl', MYSQL, _ANY, 'ALTER USER {account} REQUIRE {ssl_or_none}'),
    ('require_ssl', MARIADB, _ANY, 'ALTER USER {account} REQUIRE {ssl_or_none}'),
    # privilege lists (as SHOW GRANTS prints them), not statements
    ('replication_privileges', MYSQL, _ANY, 'REPLICATION SLAVE'),
    ('replication_privileges', MARIADB, _ANY, 'REPLICATION SLAVE'),
    ('monitoring_privileges', MYSQL, _ANY, 'REPLICATION CLIENT'),
    ('monitoring_privileges', MARIADB, _ANY, 'REPLICATION CLIENT'),
    ('monitoring_privileges', MARIADB, (10, 5, 2), 'BINLOG MONITOR'),
    ('monitoring_privileges', MARIADB, (10, 5, 9), 'BINLOG MONITOR, SLAVE MONITOR'),
    ('sql_log_bin', MYSQL, _ANY, 'SET SESSION sql_log_bin = {on_off}'),
    ('sql_log_bin', MARIADB, _ANY, 'SET SESSION sql_log_bin = {on_off}'),
    # where a fresh replica starts: MySQL records it as purged (needs an empty gtid_executed)
    ('set_gtid_slave_pos', MYSQL, _ANY, 'SET GLOBAL gtid_purged = {gtid}'),
    ('set_gtid_slave_pos', MARIADB, _ANY, 'SET GLOBAL gtid_slave_pos = {gtid}'),
    ('start_replica_until_gtid', MYSQL, _ANY, 'START SLAVE SQL_THREAD UNTIL SQL_AFTER_GTIDS = {gtid}{for_channel}'),
    ('start_replica_until_gtid', MYSQL, (8, 0, 22), 'START REPLICA SQL_THREAD UNTIL SQL_AFTER_GTIDS = {gtid}{for_channel}'),
    ('start_replica_until_gtid', MARIADB, _ANY, 'START SLAVE{connection} UNTIL master_gtid_pos = {gtid}'),
    ('checksum_tables', MYSQL, _ANY, 'CHECKSUM TABLE {tables}'),
    ('checksum_tables', MARIADB, _ANY, 'CHECKSUM TABLE {tables}'),
    ('chunkable_tables', MYSQL, _ANY, _CHUNKABLE_TABLES),
    ('chunkable_tables', MARIADB, _ANY, _CHUNKABLE_TABLES),
    ('table_columns', MYSQL, _ANY, _TABLE_COLUMNS),
    ('table_columns', MARIADB, _ANY, _TABLE_COLUMNS),
    ('key_bounds', MYSQL, _ANY, _KEY_BOUNDS),
    ('key_bounds', MARIADB, _ANY, _KEY_BOUNDS),
    ('checksum_chunk', MYSQL, _ANY, _CHECKSUM_CHUNK),
    ('checksum_chunk', MARIADB, _ANY, _CHECKSUM_CHUNK),
    ('user_tables', MYSQL, _ANY, "SELECT table_schema AS db, table_name AS name FROM information_schema.tables WHERE "
                                 "table_type = 'BASE TABLE' AND table_schema NOT IN "
                                 "('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant') ORDER BY 1, 2"),
    ('user_tables', MARIADB, _ANY, "SELECT table_schema AS db, table_name AS name FROM information_schema.tables WHERE "
                                   "table_type = 'BASE TABLE' AND table_schema NOT IN "
                                   "('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant') ORDER BY 1, 2"),
    # clone_slave: the user tables and views with their size (to share them among dump streams), and the sessions
    # of its user with an open transaction (to see the dump streams' consistent snapshots start)
    ('table_sizes', MYSQL, _ANY, _TABLE_SIZES),
    ('table_sizes', MARIADB, _ANY, _TABLE_SIZES),
    ('open_transactions', MYSQL, _ANY, _OPEN_TRANSACTIONS),
    ('open_transactions', MARIADB, _ANY, _OPEN_TRANSACTIONS),
    # accounts (roles included) and stored objects: clone_slave's logical copy and its verification
    ('accounts', MYSQL, _ANY, "SELECT User AS user, Host AS host, 'N' AS is_role FROM mysql.user ORDER BY 1, 2"),
    ('accounts', MARIADB, _ANY, 'SELECT User AS user, Host AS host, is_role FROM mysql.user ORDER BY 1, 2'),
    ('accounts', MARIADB, (10, 4, 0), 'SELECT User AS user, Host AS host, %s AS is_role FROM mysql.global_priv '
                                      'ORDER BY 1, 2' % _GLOBAL_PRIV_ROLE),
    ('show_create_user', MYSQL, _ANY, 'SHOW CREATE USER {account}'),
    ('show_create_user', MARIADB, _ANY, 'SHOW CREATE USER {account}'),
    ('show_role_grants', MYSQL, _ANY, 'SHOW GRANTS FOR {user}'),
    ('show_role_grants', MARIADB, _ANY, 'SHOW GRANTS FOR {user}'),
    ('stored_objects', MYSQL, _ANY, _STORED_OBJECTS),
    ('stored_objects', MARIADB, _ANY, _STORED_OBJECTS),
    ('show_create_object', MYSQL, _ANY, 'SHOW CREATE {kind} {object}'),
    ('show_create_object', MARIADB, _ANY, 'SHOW CREATE {kind} {object}'),
    ('drop_other_accounts', MARIADB, _ANY, _DROP_OTHER_ACCOUNTS.format('is_role', 'mysql.user')),
    ('drop_other_accounts', MARIADB, (10, 4, 0), _DROP_OTHER_ACCOUNTS.format(_GLOBAL_PRIV_ROLE, 'mysql.global_priv')),
    # promote_master: a candidate master writes replicated transactions to its own binary log
    ('binlog_settings', MYSQL, _ANY, 'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates'),
    ('binlog_settings', MYSQL, (8, 0, 26),
     'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_replica_updates AS log_replica_updates'),
    ('binlog_settings', MARIADB, _ANY, 'SELECT @@GLOBAL.log_bin AS log_bin, @@GLOBAL.log_slave_updates AS log_replica_updates'),
    # MariaDB always has GTIDs; MySQL only with gtid_mode = ON
    ('gtid_enabled', MYSQL, _ANY, "SELECT @@GLOBAL.gtid_mode = 'ON' AS enabled"),
    ('gtid_enabled', MARIADB, _ANY, 'SELECT 1 AS enabled'),
    # a former MariaDB master's gtid_slave_pos is stale: start from all it has executed (its binlog's and, for a
    # server whose binlog lacks what it replicated or was cloned with, its gtid_slave_pos: gtid_current_pos)
    ('gtid_slave_pos_from_binlog', MARIADB, _ANY, 'SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos'),
    # configure keeps what a server has: where its binary and relay logs are, its GTID domain
    ('log_settings', MYSQL, _ANY, 'SELECT @@GLOBAL.log_bin_basename AS binlog_basename, '
                                  '@@GLOBAL.relay_log_basename AS relay_log_basename, @@GLOBAL.datadir AS datadir'),
    ('log_settings', MARIADB, _ANY, 'SELECT @@GLOBAL.log_bin_basename AS binlog_basename, '
                                    '@@GLOBAL.relay_log_basename AS relay_log_basename, @@GLOBAL.datadir AS datadir, '
                                    '@@GLOBAL.gtid_domain_id AS gtid_domain_id'),
    # mysql_cnf: which variables a restart alone changes (READ_ONLY = YES), their type and running value
    ('system_variables', MARIADB, _ANY, 'SELECT VARIABLE_NAME AS name, READ_ONLY AS read_only, VARIABLE_TYPE AS type, '
                                        'GLOBAL_VALUE AS value FROM information_schema.SYSTEM_VARIABLES'),
    # semi-synchronous replication (semisync.py): its status counters, the plugins that provide it where it is no
    # built-in (MySQL; MariaDB before 10.3.3), and loading one (kept in mysql.plugin: loaded again at every start)
    ('semisync_status', MYSQL, _ANY, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'"),
    ('semisync_status', MARIADB, _ANY, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'"),
    ('semisync_plugins', MYSQL, _ANY, _SEMISYNC_PLUGINS),
    ('semisync_plugins', MARIADB, _ANY, _SEMISYNC_PLUGINS),
    ('install_plugin', MYSQL, _ANY, 'INSTALL PLUGIN {plugin} SONAME {soname}'),
    ('install_plugin', MARIADB, _ANY, 'INSTALL PLUGIN {plugin} SONAME {soname}'),
]]


# Semi-synchronous replication, per flavor and version (the row with the highest minimum version not above the
# server's wins): the variables of the master side and of the replica side, the status counters, and the plugins
# to load first (none where it is built in). MariaDB has no number of acknowledgements to wait for (one replica's
# acknowledgement releases a commit): wait_for_count is None there. recovery_role: the startup option (no variable)
# that makes MariaDB's crash recovery roll back and cut from the binary log what its engine had not committed when
# the server restarts as a replica (--init-rpl-role=SLAVE, MDEV-33465; 'loose_' so that a server without it only warns).
_SEMISYNC_OLD = dict(
    master_enabled='rpl_semi_sync_master_enabled', replica_enabled='rpl_semi_sync_slave_enabled',
    timeout='rpl_semi_sync_master_timeout', wait_point='rpl_semi_sync_master_wait_point',
    wait_for_count='rpl_semi_sync_master_wait_for_slave_count',
    master_status='Rpl_semi_sync_master_status', clients='Rpl_semi_sync_master_clients',
    yes_tx='Rpl_semi_sync_master_yes_tx', no_tx='Rpl_semi_sync_master_no_tx', replica_status='Rpl_semi_sync_slave_status',
    plugins=(('rpl_semi_sync_master', 'semisync_master.so'), ('rpl_semi_sync_slave', 'semisync_slave.so')),
    recovery_role=None)
SEMISYNC = [
    (MYSQL, _ANY, _SEMISYNC_OLD),
    (MYSQL, (8, 0, 26), dict(
        master_enabled='rpl_semi_sync_source_enabled', replica_enabled='rpl_semi_sync_replica_enabled',
        timeout='rpl_semi_sync_source_timeout', wait_point='rpl_semi_sync_source_wait_point',
        wait_for_count='rpl_semi_sync_source_wait_for_replica_count',
        master_status='Rpl_semi_sync_source_status', clients='Rpl_semi_sync_source_clients',
        yes_tx='Rpl_semi_sync_source_yes_tx', no_tx='Rpl_semi_sync_source_no_tx',
        replica_status='Rpl_semi_sync_replica_status', recovery_role=None,
        plugins=(('rpl_semi_sync_source', 'semisync_source.so'), ('rpl_semi_sync_replica', 'semisync_replica.so')))),
    (MARIADB, _ANY, dict(_SEMISYNC_OLD, wait_for_count=None)),
    (MARIADB, (10, 3, 3), dict(_SEMISYNC_OLD, wait_for_count=None, plugins=())),
    (MARIADB, (10, 6, 0), dict(_SEMISYNC_OLD, wait_for_count=None, plugins=(), recovery_role='loose_init_rpl_role')),
]


def semisync_names(flavor):
    """The semi-sync variable, status and plugin names of ``flavor`` (a dict, see ``SEMISYNC``)."""
    rows = [row for row in SEMISYNC if row[0] == flavor.name and row[1] <= flavor.version]
    return dict(max(rows, key=lambda row: row[1])[2])


# How a replica follows a (new) master, per flavor: the change_master options for GTID and for
# positional replication, and the statements a former master runs before it follows one by GTID.
FOLLOW = {
    MARIADB: dict(gtid={'master_use_gtid': 'slave_pos'}, positional={'master_use_gtid': 'no'},
                  former_master=('gtid_slave_pos_from_binlog',)),
    MYSQL: dict(gtid={'master_auto_position': True}, positional={'master_auto_position': False},
                former_master=()),
}


def follow_options(flavor, gtid=True):
    """The change_master options that make a replica of ``flavor`` follow by GTID (or by position)."""
    return dict(FOLLOW[flavor.name]['gtid' if gtid else 'positional'])


def replication_tls_options(ssl=None, ssl_ca=None, ssl_cert=None, ssl_key=None, ssl_verify_server_cert=None):
    """The change_master options that make a replica reach its master over TLS (the installation's settings,
    inventory variables replicant_repl_ssl*): TLS on when ``ssl`` is true or a file is given, the master's
    certificate verified (name included) when a CA is given unless ``ssl_verify_server_cert`` is false. ``ssl``
    false: plaintext. Nothing given: {} (a repoint leaves the replica's TLS settings as they are)."""
    files = dict((k, v) for k, v in (('master_ssl_ca', ssl_ca), ('master_ssl_cert', ssl_cert),
                                     ('master_ssl_key', ssl_key)) if v)
    verify = bool(ssl_ca) if ssl_verify_server_cert is None else bool(ssl_verify_server_cert)
    if verify and not ssl_ca:
        raise ValueError('verifying the master\'s certificate (ssl_verify_server_cert) needs the CA that signed it (ssl_ca)')
    if ssl is None and not files:
        return {}
    if ssl is not None and not ssl:
        return dict(master_ssl=False)
    return dict(master_ssl=True, master_ssl_verify_server_cert=verify, **files)


def reconnect_options(connect_retry=None, heartbeat_period=None):
    """The change_master options that make a replica notice a lost master and reconnect fast (rendered as
    MASTER_CONNECT_RETRY / MASTER_HEARTBEAT_PERIOD, or SOURCE_... on MySQL 8.0.23+); None leaves one out."""
    out = {}
    if connect_retry is not None:
        _number(connect_retry, 'connect_retry', minimum=1)
        out['master_connect_retry'] = connect_retry
    if heartbeat_period is not None:
        _number(heartbeat_period, 'heartbeat_period', kind=float)
        out['master_heartbeat_period'] = heartbeat_period
    return out


def former_master_statements(flavor):
    """Statements (rendered) a former master runs before it replicates by GTID from a new master."""
    return [sql(flavor, key) for key in FOLLOW[flavor.name]['former_master']]


class _Fragments(dict):
    """The mapping a template is formatted with: computes only the fragments it names."""

    def __init__(self, flavor, args, mask):
        dict.__init__(self)
        self.flavor, self.args, self.mask = flavor, args, mask

    def __missing__(self, name):
        return _FRAGMENTS[name](self.flavor, self.args, self.mask)


def sql(flavor, key, mask=False, quote=None, **kwargs):
    """Render statement ``key`` for ``flavor`` (a Flavor); see ``ARGUMENTS`` for the kwargs.

    ``mask=True`` shows the change_master password as '********' (for reporting only).
    ``quote`` turns a str into a string literal; by default ``quote_string`` (a session without
    NO_BACKSLASH_ESCAPES). ``Server.run()`` passes the quoting of its own session.
    Raises ValueError for an unknown key, a key the flavor lacks, or bad values, and TypeError
    for missing or unexpected keyword arguments.
    """
    if key not in ARGUMENTS:
        raise ValueError('unknown statement %r' % (key,))
    unexpected = sorted(set(kwargs) - set(ARGUMENTS[key]))
    if unexpected:
        raise TypeError('statement %s takes no argument %s' % (key, ', '.join(unexpected)))
    args = dict(ARGUMENTS[key], **kwargs)
    missing = sorted(name for name, value in args.items() if value is REQUIRED)
    if missing:
        raise TypeError('statement %s needs the argument %s' % (key, ', '.join(missing)))
    rows = [row for row in STATEMENTS
            if row.key == key and row.flavor == flavor.name and row.since <= flavor.version]
    if not rows:
        raise ValueError('statement %s is not available on %s' % (key, flavor))
    template = max(rows, key=lambda row: row.since).template
    args['_quote'] = quote or quote_string
    return template.format_map(_Fragments(flavor, args, mask))


def wait_succeeded(flavor, key, value):
    """Whether the result of a ``pos_wait`` / ``gtid_wait`` query means the position was reached.

    * pos_wait (MASTER_POS_WAIT / SOURCE_POS_WAIT, both flavors): the number of events waited
      for (>= 0) when reached, -1 on timeout, NULL when the SQL thread is not running or the
      server is no replica.
    * gtid_wait, MariaDB MASTER_GTID_WAIT: 0 when reached, -1 on timeout.
    * gtid_wait, MySQL WAIT_FOR_EXECUTED_GTID_SET: 0 when reached, 1 on timeout.
    """
    if value is None:
        return False
    if key == 'pos_wait':
        return int(value) >= 0
    if key == 'gtid_wait':
        return int(value) == 0
    raise ValueError('%s is not a wait statement' % (key,))


# -- SHOW SLAVE / REPLICA STATUS -----------------------------------------------------------------
def _text(value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    return value


def _to_int(value):
    value = _text(value)
    return None if value is None or value == '' else int(value)


def _yes(value):
    value = _text(value)
    return None if value is None else str(value).lower() in ('yes', '1', 'on', 'true')


def _gtid_text(value):
    value = _text(value)
    return None if value is None else ''.join(str(value).split())


_ALL = (MYSQL, MARIADB)
# Normalised key -> (source columns, first one present wins; converter; default; flavors).
STATUS_COLUMNS = collections.OrderedDict([
    ('master_host', (('Source_Host', 'Master_Host'), _text, None, _ALL)),
    ('master_port', (('Source_Port', 'Master_Port'), _to_int, None, _ALL)),
    ('master_user', (('Source_User', 'Master_User'), _text, None, _ALL)),
    ('io_running', (('Replica_IO_Running', 'Slave_IO_Running'), _text, None, _ALL)),
    ('sql_running', (('Replica_SQL_Running', 'Slave_SQL_Running'), _text, None, _ALL)),
    ('io_running_ok', (('Replica_IO_Running', 'Slave_IO_Running'), _yes, False, _ALL)),
    ('sql_running_ok', (('Replica_SQL_Running', 'Slave_SQL_Running'), _yes, False, _ALL)),
    ('seconds_behind', (('Seconds_Behind_Source', 'Seconds_Behind_Master'), _to_int, None, _ALL)),
    ('master_log_file', (('Source_Log_File', 'Master_Log_File'), _text, None, _ALL)),
    ('read_master_log_pos', (('Read_Source_Log_Pos', 'Read_Master_Log_Pos'), _to_int, None, _ALL)),
    ('relay_master_log_file', (('Relay_Source_Log_File', 'Relay_Master_Log_File'), _text, None, _ALL)),
    ('exec_master_log_pos', (('Exec_Source_Log_Pos', 'Exec_Master_Log_Pos'), _to_int, None, _ALL)),
    ('last_io_errno', (('Last_IO_Errno',), _to_int, 0, _ALL)),
    ('last_io_error', (('Last_IO_Error',), _text, '', _ALL)),
    ('last_sql_errno', (('Last_SQL_Errno',), _to_int, 0, _ALL)),
    ('last_sql_error', (('Last_SQL_Error',), _text, '', _ALL)),
    ('master_server_id', (('Source_Server_Id', 'Master_Server_Id'), _to_int, None, _ALL)),
    ('master_uuid', (('Source_UUID', 'Master_UUID'), _text, None, (MYSQL,))),
    ('auto_position', (('Auto_Position',), _yes, False, (MYSQL,))),
    ('using_gtid', (('Using_Gtid',), _text, 'No', (MARIADB,))),
    ('gtid_io_pos', (('Retrieved_Gtid_Set', 'Gtid_IO_Pos'), _gtid_text, None, _ALL)),
    ('executed_gtid_set', (('Executed_Gtid_Set', 'Gtid_Slave_Pos'), _gtid_text, None, _ALL)),
    ('sql_delay', (('SQL_Delay',), _to_int, None, _ALL)),
    ('io_state', (('Replica_IO_State', 'Slave_IO_State'), _text, None, _ALL)),
    ('channel', (('Channel_Name', 'Connection_name'), _text, '', _ALL)),
    ('connect_retry', (('Connect_Retry',), _to_int, None, _ALL)),
    ('ssl', (('Source_SSL_Allowed', 'Master_SSL_Allowed'), _yes, False, _ALL)),
    ('ssl_ca', (('Source_SSL_CA_File', 'Master_SSL_CA_File'), _text, '', _ALL)),
    ('ssl_cert', (('Source_SSL_Cert', 'Master_SSL_Cert'), _text, '', _ALL)),
    ('ssl_key', (('Source_SSL_Key', 'Master_SSL_Key'), _text, '', _ALL)),
    ('ssl_verify_server_cert', (('Source_SSL_Verify_Server_Cert', 'Master_SSL_Verify_Server_Cert'), _yes, False, _ALL)),
    ('sql_state', (('Replica_SQL_Running_State', 'Slave_SQL_Running_State'), _text, None, _ALL)),
])


def normalize_replica_status(flavor, row):
    """One row of SHOW SLAVE / REPLICA STATUS -> a dict with the keys of ``STATUS_COLUMNS``.

    Column names are matched case-insensitively. Keys that do not apply to the flavor
    (master_uuid, auto_position on MariaDB; using_gtid on MySQL) are None; missing columns give
    the default. GTID sets lose the whitespace that SHOW wraps them with.
    """
    columns = {str(name).lower(): value for name, value in row.items()}
    result = {}
    for key, (sources, convert, default, flavors) in STATUS_COLUMNS.items():
        if flavor.name not in flavors:
            result[key] = None
            continue
        present = [columns[name.lower()] for name in sources if name.lower() in columns]
        value = convert(present[0]) if present else None
        result[key] = default if value is None else value
    return result
