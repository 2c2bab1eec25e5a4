"""Quoting under both NO_BACKSLASH_ESCAPES modes, account checks and masking of secrets (issue 15)."""
import pytest

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import (
    Flavor, check_account, is_sensitive, mask_statement, quote_string, sql)
from ansible_collections.replicant.mysql.plugins.module_utils.server import Server, _NEAR

MARIADB = Flavor('mariadb', '10.11.19')
MYSQL = Flavor('mysql', '8.0.36')
HOSTILE = ["x'#", "bt`q", "--x", "a\\'b", "'; DROP USER root; --", "p\u00e4ss\u20ac", "nl\nx", "\\", "''", "#", "/*"]


def read_literal(literal, no_backslash_escapes):
    """What a server in the given mode reads from ``literal`` (and that the literal ends where it should)."""
    assert literal[0] == "'" and literal[-1] == "'"
    body, out, i = literal[1:-1], [], 0
    escapes = {'0': '\0', 'n': '\n', 'r': '\r', 'Z': '\x1a'}
    while i < len(body):
        char = body[i]
        if char == '\\' and not no_backslash_escapes:
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        elif char == "'":
            assert body[i + 1] == "'", 'the literal ends early at %d in %r' % (i, literal)
            out.append("'")
            i += 2
        else:
            out.append(char)
            i += 1
    return ''.join(out)


@pytest.mark.parametrize('value', HOSTILE)
@pytest.mark.parametrize('nbe', [False, True])
def test_quote_round_trips_in_its_own_mode(value, nbe):
    assert read_literal(quote_string(value, nbe), nbe) == value


def test_backslash_literal_is_wrong_under_no_backslash_escapes():
    """The bug of the issue: a backslash-escaped quote ends the string early under NO_BACKSLASH_ESCAPES."""
    with pytest.raises(AssertionError):
        read_literal(quote_string("x'#"), True)


def nbe(value):
    return quote_string(value, True)


def test_statements_take_the_session_quoting():
    assert sql(MARIADB, 'create_user', user="x'#", host='%', password="p'w", quote=nbe) == \
        "CREATE USER 'x''#'@'%' IDENTIFIED BY 'p''w'"
    assert sql(MARIADB, 'create_user', user="x'#", host='%', password="p'w") == \
        "CREATE USER 'x\\'#'@'%' IDENTIFIED BY 'p\\'w'"
    shown = sql(MYSQL, 'change_master', options={'master_host': "h'", 'master_password': "s'"}, quote=nbe, mask=True)
    assert "MASTER_HOST = 'h'''" in shown or "SOURCE_HOST = 'h'''" in shown
    assert "s'" not in shown


class FakeConn:
    def __init__(self, status):
        self.server_status = status


def test_server_quote_follows_the_session_mode():
    server = Server(unix_socket='/nonexistent')
    server._conn = FakeConn(512)  # SERVER_STATUS_NO_BACKSLASH_ESCAPES
    assert server.quote("a'\\") == "'a''\\'"
    server._conn = FakeConn(2)
    assert server.quote("a'\\") == "'a\\'\\\\'"
    server._conn = None


@pytest.mark.parametrize('user, host, fragment', [
    ('', '%', 'must not be empty'),
    ('x' * 81, '%', 'at most 80'),
    ('a\0b', '%', 'NUL'),
    ('repl', '', 'host pattern must not be empty'),
    ('repl', 'h' * 256, 'at most 255'),
    (5, '%', 'must be a string'),
])
def test_bad_account_names(user, host, fragment):
    with pytest.raises(ValueError, match=fragment):
        check_account(user, host)


@pytest.mark.parametrize('statement, secret', [
    ("CREATE USER 'u'@'%' IDENTIFIED BY 'top-secret'", 'top-secret'),
    ("ALTER USER 'u'@'%' IDENTIFIED BY 'it\\'s-secret'", "it\\'s-secret"),
    ("CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('top-secret')", 'top-secret'),
    ("CHANGE MASTER TO MASTER_HOST = 'h', MASTER_PASSWORD = 'top-secret', MASTER_PORT = 1", 'top-secret'),
    ("SELECT authentication_string = PASSWORD('top-secret') FROM mysql.user", 'top-secret'),
    ("SET PASSWORD FOR 'u'@'%' = PASSWORD('top-secret')", 'top-secret'),
])
def test_mask_statement(statement, secret):
    masked = mask_statement(statement)
    assert secret not in masked and '********' in masked
    assert is_sensitive(statement)


def test_near_fragment_of_a_sensitive_error_is_dropped():
    message = "(1064) You have an error in your SQL syntax; ... near 'cret' garbage' at line 1"
    assert 'cret' not in _NEAR.sub('near (withheld)', message)


def test_scrub_removes_the_login_password_and_given_secrets():
    server = Server(unix_socket='/nonexistent', password="lo'gin")
    text = server._scrub("failed: lo\\'gin and lo'gin and other-secret", secrets=['other-secret'])
    assert "lo'gin" not in text and "lo\\'gin" not in text and 'other-secret' not in text


@pytest.mark.parametrize('value', [0, -1, 'x', True, 10 ** 9])
def test_connect_timeout_out_of_range_is_a_clear_error(value):
    from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError
    with pytest.raises(ServerError, match='connect_timeout must be a number of seconds'):
        Server(unix_socket='/nonexistent', connect_timeout=value).connect()


def test_variable_names_are_checked():
    from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError
    with pytest.raises(ServerError, match='invalid server variable name'):
        Server(unix_socket='/nonexistent').variable('version, (SELECT 1)')


class RecordingServer:
    """Stands in for a Server: records every statement; none may run for a bad account."""

    def __init__(self, flavor):
        self.flavor = flavor
        self.statements = []

    def __str__(self):
        return 'db1 (/run/mysqld/mysqld.sock) as admin'

    def quote(self, value):
        return quote_string(value)

    def sql(self, statement, args=None, secrets=()):
        self.statements.append(statement)
        return []

    def value(self, statement, args=None, secrets=()):
        self.statements.append(statement)
        return None


@pytest.mark.parametrize('flavor, user, password, fragment', [
    (MARIADB, 'repl', '', 'non-empty password'),
    (MARIADB, 'repl', 'a\0b', 'NUL'),
    (MARIADB, '', 'pw', 'must not be empty'),
    (MYSQL, 'u' * 33, 'pw', 'MySQL 8.0.36 allows at most 32'),
])
def test_a_bad_replication_account_runs_nothing_and_names_the_server(flavor, user, password, fragment):
    from ansible_collections.replicant.mysql.plugins.module_utils.accounts import ensure_replication_user
    server = RecordingServer(flavor)
    with pytest.raises(ValueError) as failure:
        ensure_replication_user(server, user, '%', password)
    assert fragment in str(failure.value) and str(failure.value).startswith('db1 (/run/mysqld/mysqld.sock)')
    assert 'nothing was changed' in str(failure.value) and server.statements == []


def test_a_hostile_account_is_quoted_in_every_statement():
    from ansible_collections.replicant.mysql.plugins.module_utils.accounts import ensure_replication_user
    server = RecordingServer(MARIADB)
    changed, shown = ensure_replication_user(server, "x'#", '%', "p'w")
    assert changed and "x\\'#" in shown[0] and "p'w" not in ' '.join(shown)
    assert server.statements[0] == "SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'x\\'#' AND Host = '%'"
    assert "CREATE USER 'x\\'#'@'%' IDENTIFIED BY 'p\\'w'" in server.statements
