# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection to one MySQL or MariaDB server: run SQL, get rows back.

Usable from plain Python::

    from ansible_collections.replicant.mysql.plugins.module_utils.server import Server
    with Server(unix_socket='/path/mysqld.sock', user='admin', password='pw') as s:
        print(s.flavor, s.value('SELECT @@server_id'))
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

try:
    import pymysql
    import pymysql.cursors
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised on hosts without PyMySQL
    pymysql = None
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = exc

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor, sql as dialect_sql

MISSING_PYMYSQL = ("PyMySQL is not installed for the Python that runs this module "
                   "(install it on the database host: pip install PyMySQL, or apt-get install python3-pymysql)")


class ServerError(Exception):
    """Any failure talking to a server; the message names the server."""


class Server:
    """One server reached through PyMySQL (unix socket or TCP, optional TLS)."""

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
        self.ssl = {k: v for k, v in (('ca', ssl_ca), ('cert', ssl_cert), ('key', ssl_key)) if v}
        if check_hostname is not None and self.ssl:
            self.ssl['check_hostname'] = check_hostname
        self.name = name
        self._conn = None
        self._flavor = None

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
        kwargs = dict(connect_timeout=self.connect_timeout, autocommit=True, charset='utf8mb4',
                      cursorclass=pymysql.cursors.DictCursor)
        if self.read_timeout:
            kwargs['read_timeout'] = self.read_timeout
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
        if self.ssl:
            kwargs['ssl'] = self.ssl
        else:
            # PyMySQL builds a TLS context on every connect otherwise (tens of ms).
            kwargs['ssl_disabled'] = True
        try:
            self._conn = pymysql.connect(**kwargs)
        except pymysql.err.MySQLError as exc:
            raise ServerError('cannot connect to %s: %s' % (self, _reason(exc)))
        return self

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
    def sql(self, statement, args=None):
        """Run one statement; return its rows as a list of dicts (empty for none)."""
        self.connect()
        try:
            with self._conn.cursor() as cur:
                cur.execute(statement, args)
                return list(cur.fetchall() or [])
        except pymysql.err.MySQLError as exc:
            raise ServerError('%s: %s failed: %s' % (self, _first_words(statement), _reason(exc)))

    def one(self, statement, args=None):
        rows = self.sql(statement, args)
        return rows[0] if rows else None

    def value(self, statement, args=None):
        row = self.one(statement, args)
        return None if row is None else list(row.values())[0]

    def run(self, key, **kwargs):
        """Render statement ``key`` from the dialect table for this server and run it."""
        return self.sql(dialect_sql(self.flavor, key, **kwargs))

    # -- facts ----------------------------------------------------------------
    @property
    def flavor(self):
        if self._flavor is None:
            row = self.one('SELECT @@GLOBAL.version AS version, @@GLOBAL.version_comment AS comment')
            self._flavor = Flavor.from_server(row['version'], row['comment'] or '')
        return self._flavor

    def variable(self, name):
        return self.value('SELECT @@GLOBAL.%s' % name.replace('`', ''))


def _reason(exc):
    args = getattr(exc, 'args', ())
    if len(args) >= 2:
        return '(%s) %s' % (args[0], args[1])
    return str(exc)


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
