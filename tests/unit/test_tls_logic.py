# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TLS (issue 16): the change_master options of a repoint, the inventory's TLS variables, the replication
account's REQUIRE SSL, and the TLS of the collection's own connections (module options, client option file)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, inventory, server as server_mod
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor, replication_tls_options, sql
from ansible_collections.replicant.mysql.plugins.module_utils.instance import instance_from_spec, instances_from_params
from ansible_collections.replicant.mysql.plugins.module_utils.replication import change_master_plan

MARIADB = Flavor('mariadb', '10.11.19')
MYSQL = Flavor('mysql', '8.0.36')
CA = '/etc/mysql/tls/ca.pem'


# -- the options of a repoint ----------------------------------------------------------------------
@pytest.mark.parametrize('given, expected', [
    ({}, {}),
    (dict(ssl=True), dict(master_ssl=True, master_ssl_verify_server_cert=False)),
    (dict(ssl_ca=CA), dict(master_ssl=True, master_ssl_ca=CA, master_ssl_verify_server_cert=True)),
    (dict(ssl_ca=CA, ssl_verify_server_cert=False), dict(master_ssl=True, master_ssl_ca=CA, master_ssl_verify_server_cert=False)),
    (dict(ssl_ca=CA, ssl_cert='/c.pem', ssl_key='/k.pem'),
     dict(master_ssl=True, master_ssl_ca=CA, master_ssl_cert='/c.pem', master_ssl_key='/k.pem', master_ssl_verify_server_cert=True)),
    (dict(ssl=False, ssl_ca=CA), dict(master_ssl=False)),
])
def test_replication_tls_options(given, expected):
    assert replication_tls_options(**given) == expected


def test_verifying_the_master_without_a_ca_is_refused():
    with pytest.raises(ValueError, match='needs the CA'):
        replication_tls_options(ssl=True, ssl_verify_server_cert=True)


@pytest.mark.parametrize('flavor, prefix', [(MARIADB, 'MASTER'), (MYSQL, 'SOURCE')])
def test_every_repoint_carries_the_masters_tls_settings(flavor, prefix):
    """Instance.follow is where every procedure's repoint gets its options (switchover, failover, rejoin, lease)."""
    master = instance_from_spec(dict(name='db1', host='10.0.0.1', repl_user='repl', repl_password='pw', repl_ssl_ca=CA))
    options = master.follow(flavor)
    assert options['master_ssl'] is True and options['master_ssl_ca'] == CA and options['master_ssl_verify_server_cert'] is True
    statement = sql(flavor, 'change_master', options=options, mask=True)
    for part in ('%s_SSL = 1' % prefix, "%s_SSL_CA = '%s'" % (prefix, CA), '%s_SSL_VERIFY_SERVER_CERT = 1' % prefix):
        assert part in statement
    plain = instance_from_spec(dict(name='db2', host='10.0.0.2', repl_user='repl', repl_password='pw'))
    assert not [k for k in plain.follow(flavor) if 'ssl' in k]   # no TLS given: a replica's own settings stay


def test_the_servers_option_carries_tls_per_server():
    params = dict(servers=[dict(name='db1', host='10.0.0.1', repl_ssl_ca=CA, ca_cert=CA, check_hostname=False),
                           dict(name='db2', host='10.0.0.2')],
                  repl_user='repl', repl_password='pw', ca_cert='/other/ca.pem', check_hostname=None)
    db1, db2 = instances_from_params(params)
    assert db1.repl_tls['master_ssl_ca'] == CA and db2.repl_tls == {}
    assert db1.server.ssl == dict(ca=CA, check_hostname=False)
    assert db2.server.ssl == dict(ca='/other/ca.pem')


def test_a_changed_tls_setting_is_seen_as_a_difference():
    status = dict(master_host='10.0.0.1', master_port=3306, master_user='repl', ssl=True, ssl_ca=CA, ssl_cert='',
                  ssl_key='', ssl_verify_server_cert=False, last_io_errno=0)
    options = dict(master_host='10.0.0.1', master_port=3306, master_user='repl', master_ssl=True, master_ssl_ca=CA)
    assert change_master_plan(status, options) == []
    assert change_master_plan(status, dict(options, master_ssl_verify_server_cert=True)) == ['master_ssl_verify_server_cert']
    assert change_master_plan(status, dict(options, master_ssl_ca='/new/ca.pem')) == ['master_ssl_ca']


# -- the inventory ---------------------------------------------------------------------------------
def hostvars(**more):
    return dict(db1=dict(dict(replicant_host='10.0.0.1', replicant_login_unix_socket='/run/db1.sock',
                              ansible_connection='local', replicant_login_user='admin'), **more))


def test_the_inventorys_tls_variables_reach_the_servers_entries():
    hv = hostvars(replicant_repl_ssl_ca=CA, replicant_login_ca_cert=CA, replicant_login_check_hostname=False,
                  replicant_login_client_cert='/c.pem', replicant_login_client_key='/k.pem')
    entry = inventory.server_entry(hv, {'mysql_master': ['db1']}, 'db1')
    assert (entry['repl_ssl'], entry['repl_ssl_ca'], entry['repl_ssl_verify_server_cert']) == (True, CA, True)
    assert (entry['ca_cert'], entry['client_cert'], entry['client_key'], entry['check_hostname']) == (CA, '/c.pem', '/k.pem', False)
    plain = inventory.server_entry(hostvars(), {'mysql_master': ['db1']}, 'db1')
    assert not [k for k in plain if 'ssl' in k or k in inventory.LOGIN_TLS]


def test_a_bad_tls_variable_names_the_host():
    with pytest.raises(ValueError, match='db1: replicant_repl_ssl must be true or false'):
        inventory.server_entry(hostvars(replicant_repl_ssl='maybe'), {}, 'db1')
    with pytest.raises(ValueError, match='db1: .*needs the CA'):
        inventory.server_entry(hostvars(replicant_repl_ssl_verify_server_cert='yes'), {}, 'db1')
    assert inventory.server_entry(hostvars(replicant_repl_ssl='no'), {}, 'db1')['repl_ssl'] is False


# -- the replication account -----------------------------------------------------------------------
class AccountServer:
    """Answers the account's queries: it exists with the password and privilege, and ``ssl_type``."""

    def __init__(self, ssl_type):
        self.flavor, self.ssl_type, self.statements = MARIADB, ssl_type, []

    def __str__(self):
        return 'db1'

    def quote(self, value):
        return dialect.quote_string(value)

    def value(self, statement, args=None, secrets=()):
        return self.ssl_type if 'ssl_type' in statement else 1

    def sql(self, statement, args=None, secrets=()):
        if statement.startswith('SHOW GRANTS'):
            return [{'g': "GRANT REPLICATION SLAVE ON *.* TO `repl`@`%`"}]
        self.statements.append(statement)
        return []


@pytest.mark.parametrize('ssl_type, require_ssl, expected', [
    ('', True, ["ALTER USER 'repl'@'%' REQUIRE SSL"]),
    ('ANY', True, []),
    ('X509', True, []),          # a stronger requirement stays
    ('ANY', False, ["ALTER USER 'repl'@'%' REQUIRE NONE"]),
    ('ANY', None, []),           # unset: left as it is
    ('', False, []),
])
def test_the_replication_account_requires_tls_when_asked(ssl_type, require_ssl, expected):
    from ansible_collections.replicant.mysql.plugins.module_utils.accounts import ensure_replication_user
    server = AccountServer(ssl_type)
    changed, shown = ensure_replication_user(server, 'repl', '%', 'pw', require_ssl=require_ssl)
    assert shown == expected and changed == bool(expected)
    assert [s for s in server.statements if s.startswith('ALTER USER')] == expected


# -- the collection's own connections --------------------------------------------------------------
def option_file(tmp_path, *lines):
    path = tmp_path / 'client.cnf'
    path.write_text('\n'.join(('[client]',) + lines) + '\n')
    return str(path)


@pytest.mark.parametrize('lines, expected', [
    ((), {}),
    (('ssl-ca = "%s"' % CA,), dict(ca=CA)),
    (('ssl_ca=%s' % CA, 'ssl-cert=/c.pem', 'ssl-key=/k.pem', 'ssl-verify-server-cert'),
     dict(ca=CA, cert='/c.pem', key='/k.pem', check_hostname=True)),
    (('ssl',), dict(check_hostname=False)),
    (('ssl = 1',), dict(check_hostname=False)),
    (('ssl = 0', 'ssl-ca=%s' % CA), {}),
    (('skip-ssl', 'ssl-ca=%s' % CA), {}),
])
def test_tls_of_a_client_option_file(tmp_path, lines, expected):
    assert server_mod.option_file_tls(option_file(tmp_path, *lines)) == expected


class Captured(Exception):
    pass


@pytest.fixture
def connect_args(monkeypatch):
    """The keyword arguments Server.connect hands to pymysql.connect."""
    seen = {}

    def fake_connect(**kwargs):
        seen.update(kwargs)
        raise Captured()
    monkeypatch.setattr(server_mod.pymysql, 'connect', fake_connect)

    def connect(**kwargs):
        seen.clear()
        with pytest.raises(Captured):
            server_mod.Server(**kwargs).connect()
        return dict(seen)
    return connect


def test_no_tls_option_turns_tls_off(connect_args, tmp_path):
    args = connect_args(unix_socket='/run/x.sock', user='u', password='p', config_file=option_file(tmp_path, 'user=x'))
    assert args['ssl_disabled'] is True and 'ssl' not in args


def test_check_hostname_alone_turns_tls_on(connect_args):
    args = connect_args(host='10.0.0.1', user='u', password='p', check_hostname=False)
    assert args['ssl'] == dict(check_hostname=False) and 'ssl_disabled' not in args


def test_tls_of_the_config_file_is_honoured_and_the_modules_options_win(connect_args, tmp_path):
    path = option_file(tmp_path, 'user=x', 'ssl-ca=%s' % CA, 'ssl-cert=/c.pem')
    args = connect_args(unix_socket='/run/x.sock', config_file=path)
    assert args['ssl'] == dict(ca=CA, cert='/c.pem') and 'ssl_disabled' not in args
    args = connect_args(unix_socket='/run/x.sock', config_file=path, ssl_ca='/mine.pem', check_hostname=True)
    assert args['ssl'] == dict(ca='/mine.pem', cert='/c.pem', check_hostname=True)
