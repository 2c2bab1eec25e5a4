# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication account: least privilege, idempotent password, kept out of the binary log.

The account is created on every server of an installation (each may become a master), so its
statements run with ``sql_log_bin`` off: they must not add transactions that only one server has
(which GTID replication would see as errant).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import check_account, sql

MYSQL_MAX_USER_LENGTH = 32


def _granted(server, user, host):
    """Global privileges of an account, upper case, from SHOW GRANTS."""
    found = set()
    for row in server.sql(sql(server.flavor, 'show_grants', user=user, host=host, quote=server.quote)):
        text = list(row.values())[0]
        match = re.match(r'^GRANT (.+?) ON \*\.\* TO ', text)
        if match:
            found.update(p.strip().upper() for p in match.group(1).split(','))
    return found


def ensure_replication_user(server, user, host, password, monitoring=False, check_mode=False, require_ssl=None):
    """Create or update the account; returns (changed, statements shown with the password masked).

    ``require_ssl``: True makes the account connect over TLS only (REQUIRE SSL; an account that already requires
    a certificate is left so), False lifts any requirement (REQUIRE NONE), None leaves it as it is.

    Every check comes before the first change: a bad name or an empty password raises ValueError
    (naming the server) and nothing is run. Values are quoted for the session's own sql_mode.
    """
    try:
        check_account(user, host)
        if not isinstance(password, str) or not password:
            raise ValueError('the replication account needs a non-empty password (an account without one '
                             'lets anybody replicate the whole installation)')
        if '\0' in password:
            raise ValueError('the password must not contain a NUL character')
        flavor = server.flavor
        if flavor.is_mysql and len(user) > MYSQL_MAX_USER_LENGTH:
            raise ValueError('the account user name is %d characters long; %s allows at most %d'
                             % (len(user), flavor, MYSQL_MAX_USER_LENGTH))
    except ValueError as exc:
        raise ValueError('%s: %s; nothing was changed' % (server, exc))
    quote = server.quote
    wanted = [p.strip() for p in sql(flavor, 'replication_privileges').split(',')]
    if monitoring:
        wanted += [p.strip() for p in sql(flavor, 'monitoring_privileges').split(',')]
    plan = []
    exists = server.value(sql(flavor, 'user_exists', user=user, host=host, quote=quote))
    if not exists:
        plan.append('create_user')
    elif not server.value(sql(flavor, 'password_matches', user=user, host=host, password=password, quote=quote),
                          secrets=[password]):
        plan.append('set_password')
    missing = [p for p in wanted if p.upper() not in (_granted(server, user, host) if exists else set())]
    if missing:
        plan.append('grant')
    if require_ssl is not None:
        ssl_type = str(server.value(sql(flavor, 'account_ssl_type', user=user, host=host, quote=quote)) or '') if exists else ''
        if bool(require_ssl) != bool(ssl_type.strip()):
            plan.append('require_ssl')
    args = dict(user=user, host=host, password=password, privileges=missing, on=bool(require_ssl))
    shown = [sql(flavor, key, mask=True, **_args_for(key, args)) for key in plan]
    if plan and not check_mode:
        server.sql(sql(flavor, 'sql_log_bin', on=False))
        try:
            for key in plan:
                server.sql(sql(flavor, key, quote=quote, **_args_for(key, args)), secrets=[password])
        finally:
            server.sql(sql(flavor, 'sql_log_bin', on=True))
    return bool(plan), shown


def _args_for(key, args):
    names = {'create_user': ('user', 'host', 'password'), 'set_password': ('user', 'host', 'password'),
             'grant': ('user', 'host', 'privileges'), 'require_ssl': ('user', 'host', 'on')}[key]
    return {name: args[name] for name in names}
