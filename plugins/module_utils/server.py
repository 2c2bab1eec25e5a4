# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection to one MySQL or MariaDB server: run SQL, get rows back.

Usable from plain Python::

    from ansible_collections.replicant.mysql.plugins.module_utils.server import Server
    with Server(unix_socket='/path/mysqld.sock', user='admin', password='pw') as s:
        print(s.flavor, s.value('SELECT @@server_id'))
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import re
import time

try:
    import pymysql
    import pymysql.cursors
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised on hosts without PyMySQL
    pymysql = None
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = exc

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import (
    Flavor, is_sensitive, mask_statement, quote_string, sql as dialect_sql)

MISSING_PYMYSQL = ("PyMySQL is not installed for the Python that runs this module "
                   "(install it on the database host: pip install PyMySQL, or apt-get install python3-pymysql)")


# Every connection of the collection runs with this change to the server's sql_mode: statements are
# rendered with backslash escapes (dialect.quote_string), which NO_BACKSLASH_ESCAPES would turn into
# literal backslashes (a quote in a value would then end the string early). The rest of the server's
# sql_mode is kept.
SESSION_SQL_MODE = ("SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), "
                    "',NO_BACKSLASH_ESCAPES,', ','))")
# PyMySQL's server status flag for a session with NO_BACKSLASH_ESCAPES (SERVER_STATUS_NO_BACKSLASH_ESCAPES).
_STATUS_NO_BACKSLASH_ESCAPES = 512
_VARIABLE_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
MAX_TIMEOUT = 31536000


class ServerError(Exception):
    """Any failure talking to a server; the message names the server and never carries a secret."""


class Server:
    """One server reached through PyMySQL (unix socket or TCP, optional TLS).

    Every wait is bounded: ``connect_timeout`` bounds the TCP connect and, separately, the handshake and
    login (a server that accepts the connection but does not answer, e.g. stopped by SIGSTOP, fails within
    it); ``read_timeout`` (None: no limit) bounds each read and each write of a statement; ``deadline()``
    bounds a step (connects and statements) by the time left. A connection lost on a timeout is dropped: the next
    statement opens a new one.
    """

    def __init__(self, host=None, port=3306, user=None, password=None, unix_socket=None,
                 config_file=None, connect_timeout=10, read_timeout=None,
                 ssl_ca=None, ssl_cert=None, ssl_key=None, check_hostname=None, name=None):
        self.host = host
        self.port = int(port or 3306)
        self.user = user
        self.password = password
        self.unix_socket = unix_socket
        self.config_file = config_file
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # Any TLS option turns TLS on, check_hostname alone too (as community.mysql does).
        self.ssl = {k: v for k, v in (('ca', ssl_ca), ('cert', ssl_cert), ('key', ssl_key)) if v}
        if check_hostname is not None:
            self.ssl['check_hostname'] = bool(check_hostname)
        self.name = name
        self._conn = None
        self._flavor = None
        self._deadline = None

    # -- identity -------------------------------------------------------------
    def __str__(self):
        where = self.unix_socket if self.unix_socket and not self.host else '%s:%s' % (self.host or 'localhost', self.port)
        label = '%s (%s)' % (self.name, where) if self.name else where
        return '%s as %s' % (label, self.user or 'the configured user')

    # -- connection -----------------------------------------------------------
    def connect(self):
        if self._conn is not None:
            return self
        if not HAS_PYMYSQL:
            raise ServerError('%s: %s' % (self, MISSING_PYMYSQL))
        # The handshake, the login and the session setup are bounded like the connect (PyMySQL's
        # connect_timeout covers only the TCP connect; its read timeout would be unbounded).
        handshake = self.connect_timeout
        left = self._remaining()
        if left is not None and isinstance(handshake, (int, float)) and not isinstance(handshake, bool):
            handshake = min(handshake, left)
        kwargs = dict(connect_timeout=handshake, autocommit=True, charset='utf8mb4',
                      cursorclass=pymysql.cursors.DictCursor, read_timeout=handshake, write_timeout=handshake)
        if self.config_file and os.path.exists(os.path.expanduser(self.config_file)):
            kwargs['read_default_file'] = os.path.expanduser(self.config_file)
        if self.unix_socket:
            kwargs['unix_socket'] = self.unix_socket
        if self.host:
            kwargs['host'] = self.host
        if self.port and (self.host or not self.unix_socket):
            kwargs['port'] = self.port
        if self.user is not None:
            kwargs['user'] = self.user
        if self.password is not None:
            kwargs['password'] = self.password
        tls = dict(self.ssl)
        if 'read_default_file' in kwargs:
            tls = dict(option_file_tls(kwargs['read_default_file']), **tls)  # the module's own options win
        if tls:
            kwargs['ssl'] = tls
        else:
            # PyMySQL builds a TLS context on every connect otherwise (tens of ms).
            kwargs['ssl_disabled'] = True
        for what, value in (('connect_timeout', self.connect_timeout), ('read_timeout', self.read_timeout)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 < value <= MAX_TIMEOUT):
                raise ServerError('%s: %s must be a number of seconds above 0 and at most %d, not %r'
                                  % (self, what, MAX_TIMEOUT, value))
        # The handshake and every statement in utf8mb4: PyMySQL would send a str password as latin-1
        # (a non-ASCII password then never matches; one outside latin-1 cannot even be sent).
        password = self.password
        if password is None and 'read_default_file' in kwargs:
            password = _option_file_password(kwargs['read_default_file'])
        if isinstance(password, str):
            kwargs['password'] = password.encode('utf-8')
        kwargs['init_command'] = SESSION_SQL_MODE
        try:
            self._conn = pymysql.connect(**kwargs)
            self._set_timeout(self.read_timeout)
        except pymysql.err.MySQLError as exc:
            raise ServerError('cannot connect to %s: %s' % (self, self._scrub(_reason(exc))))
        except (ValueError, TypeError, OSError) as exc:
            raise ServerError('cannot connect to %s: %s' % (self, self._scrub(str(exc))))
        return self

    def _set_timeout(self, seconds):
        """Bound each read and write of this connection by ``seconds`` (None: no bound)."""
        self._conn._read_timeout = self._conn._write_timeout = seconds

    def _remaining(self):
        """Seconds left until the deadline (``deadline()``), None without one; ServerError once it has passed."""
        if self._deadline is None:
            return None
        left = self._deadline - time.time()
        if left <= 0:
            raise ServerError('%s: out of time (the bound of this step has passed)' % self)
        return max(0.05, left)

    @contextlib.contextmanager
    def deadline(self, at):
        """Within the block, a connect and every statement must be done by ``at`` (a ``time.time()``): each
        read and write waits at most until then; past it a statement fails at once (ServerError)."""
        saved = self._deadline
        self._deadline = at if saved is None else min(at, saved)
        try:
            yield self
        finally:
            self._deadline = saved
            if self._conn is not None:
                self._set_timeout(self.read_timeout)

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    @property
    def connection_id(self):
        return self.connect()._conn.thread_id()

    # -- running SQL ----------------------------------------------------------
    def sql(self, statement, args=None, secrets=()):
        """Run one statement; return its rows as a list of dicts (empty for none).

        A failure raises ServerError. Its message shows the statement's first words with any password
        literal masked; for a statement that may carry a secret, the part of the server's message that
        quotes the statement (``near '...'``) is left out, and ``secrets`` (and the login password)
        never appear in it.
        """
        self.connect()
        left = self._remaining()
        if left is not None:
            self._set_timeout(min(left, self.read_timeout or left))
        try:
            with self._conn.cursor() as cur:
                cur.execute(statement, args)
                return list(cur.fetchall() or [])
        except pymysql.err.MySQLError as exc:
            reason = _reason(exc)
            if not self._conn.open:
                self._conn = None  # lost (a timeout, a kill): the next statement connects again
            if is_sensitive(statement) or secrets:
                reason = _NEAR.sub("near (the statement's text is withheld: it carries a secret)", reason)
            raise ServerError('%s: %s failed: %s' % (self, _first_words(mask_statement(statement)),
                                                     self._scrub(reason, secrets)))

    def _scrub(self, text, secrets=()):
        """``text`` without the login password or ``secrets`` (also in their quoted forms)."""
        for secret in [self.password] + list(secrets or ()):
            if isinstance(secret, bytes):
                secret = secret.decode('utf-8', 'replace')
            if not secret or not isinstance(secret, str):
                continue
            for form in sorted({secret, quote_string(secret)[1:-1], quote_string(secret, True)[1:-1]}, key=len, reverse=True):
                if len(form) >= 3:
                    text = text.replace(form, '********')
        return text

    def quote(self, value):
        """``value`` as a string literal for this session (its NO_BACKSLASH_ESCAPES mode).

        The collection's sessions run without that mode (``SESSION_SQL_MODE``); should a session
        have it anyway, the literal follows it.
        """
        self.connect()
        return quote_string(value, bool(self._conn.server_status & _STATUS_NO_BACKSLASH_ESCAPES))

    def one(self, statement, args=None, secrets=()):
        rows = self.sql(statement, args, secrets=secrets)
        return rows[0] if rows else None

    def value(self, statement, args=None, secrets=()):
        row = self.one(statement, args, secrets=secrets)
        return None if row is None else list(row.values())[0]

    def run(self, key, **kwargs):
        """Render statement ``key`` from the dialect table for this server and run it."""
        return self.sql(dialect_sql(self.flavor, key, quote=self.quote, **kwargs))

    # -- facts ----------------------------------------------------------------
    @property
    def flavor(self):
        if self._flavor is None:
            row = self.one('SELECT @@GLOBAL.version AS version, @@GLOBAL.version_comment AS comment')
            self._flavor = Flavor.from_server(row['version'], row['comment'] or '')
        return self._flavor

    def variable(self, name):
        if not isinstance(name, str) or not _VARIABLE_NAME.match(name.replace('-', '_')):
            raise ServerError('%s: invalid server variable name %r' % (self, name))
        return self.value('SELECT @@GLOBAL.%s' % name.replace('-', '_'))


def _reason(exc):
    args = getattr(exc, 'args', ())
    if len(args) >= 2:
        return '(%s) %s' % (args[0], args[1])
    return str(exc)


_NEAR = re.compile(r"near '.*' at line \d+", re.S)


def _option_file_client(path):
    """The [client] section of a client option file as a dict (read as PyMySQL reads it: names in lower case with
    dashes, quotes removed, '' for an option without a value); {} when unreadable."""
    try:
        from pymysql.optionfile import Parser
        parser = Parser()
        parser.read(path)
        if not parser.has_section('client'):
            return {}
        return dict((name, _unquote(value)) for name, value in parser.items('client', raw=True))
    except Exception:
        return {}


def _unquote(value):
    """An option file's value without its quotes ('' for an option without a value)."""
    value = value or ''
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in '"\'' else value


def _option_file_password(path):
    """The [client] password of a client option file, or None."""
    return _option_file_client(path).get('password')


# The TLS options of a client option file, as keys of PyMySQL's ``ssl`` dict.
_OPTION_FILE_TLS = (('ssl-ca', 'ca'), ('ssl-capath', 'capath'), ('ssl-cert', 'cert'), ('ssl-key', 'key'),
                    ('ssl-cipher', 'cipher'))


def _on(value):
    return str(value).strip().lower() in ('', '1', 'on', 'true', 'yes')


def option_file_tls(path):
    """PyMySQL's ``ssl`` dict for the TLS that a client option file's [client] section asks for ({}: none).

    ``ssl-ca``, ``ssl-capath``, ``ssl-cert``, ``ssl-key`` and ``ssl-cipher`` are taken as they are; ``ssl`` alone
    (or ``ssl=1``) asks for TLS without verifying the server; ``ssl-verify-server-cert`` verifies its name;
    ``skip-ssl`` or ``ssl=0`` turns TLS off.
    """
    client = _option_file_client(path)
    if 'skip-ssl' in client or ('ssl' in client and not _on(client['ssl'])):
        return {}
    tls = dict((key, client[name]) for name, key in _OPTION_FILE_TLS if client.get(name))
    if 'ssl-verify-server-cert' in client:
        tls['check_hostname'] = _on(client['ssl-verify-server-cert'])
    elif not tls and 'ssl' in client:
        tls['check_hostname'] = False
    return tls


def _first_words(statement, n=4):
    words = statement.split()
    return ' '.join(words[:n]) + (' ...' if len(words) > n else '')


def server_from_params(params, name=None):
    """Build a Server from the shared connection options (see the doc fragment)."""
    return Server(host=params.get('login_host'), port=params.get('login_port'),
                  user=params.get('login_user'), password=params.get('login_password'),
                  unix_socket=params.get('login_unix_socket'), config_file=params.get('config_file'),
                  connect_timeout=params.get('connect_timeout'), read_timeout=params.get('read_timeout'),
                  ssl_ca=params.get('ca_cert'), ssl_cert=params.get('client_cert'),
                  ssl_key=params.get('client_key'), check_hostname=params.get('check_hostname'),
                  name=name)
