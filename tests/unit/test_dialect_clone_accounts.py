# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dialect.py statements of a complete logical clone: accounts, stored objects and their verification (collected by
test_dialect.all_cases)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from test_dialect import UNAVAILABLE, every

NOT_SYSTEM = "NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'replicant')"
ROLE = "IF(JSON_EXTRACT(Priv, '$.is_role') = 'true', 'Y', 'N')"
DROP = ("BEGIN NOT ATOMIC FOR a IN (SELECT User AS u, Host AS h, %s AS r FROM mysql.global_priv "
        "WHERE CONCAT(User, '@', Host) <> CURRENT_USER() AND (User, Host) NOT IN "
        "(SELECT User, Host FROM mysql.proxies_priv)) DO EXECUTE IMMEDIATE "
        "IF(a.r = 'Y', CONCAT('DROP ROLE ', QUOTE(a.u)), CONCAT('DROP USER ', QUOTE(a.u), '@', QUOTE(a.h))); "
        "END FOR; END" % ROLE)
OBJECTS = ("SELECT routine_type AS kind, routine_schema AS db, routine_name AS name FROM information_schema.routines "
           "WHERE routine_schema {0} UNION ALL "
           "SELECT 'EVENT', event_schema, event_name FROM information_schema.events WHERE event_schema {0} UNION ALL "
           "SELECT 'TRIGGER', trigger_schema, trigger_name FROM information_schema.triggers WHERE trigger_schema {0} "
           "UNION ALL SELECT 'VIEW', table_schema, table_name FROM information_schema.views WHERE table_schema {0} "
           "ORDER BY 1, 2, 3").format(NOT_SYSTEM)

CASES = [
    ('accounts', {}, every(*["SELECT User AS user, Host AS host, 'N' AS is_role FROM mysql.user ORDER BY 1, 2"] * 6
                           + ['SELECT User AS user, Host AS host, %s AS is_role FROM mysql.global_priv ORDER BY 1, 2' % ROLE] * 4)),
    ('show_create_user', dict(user="o'k", host='%'), every(*["SHOW CREATE USER 'o\\'k'@'%'"] * 10)),
    ('show_role_grants', dict(user='r1'), every(*["SHOW GRANTS FOR 'r1'"] * 10)),
    ('stored_objects', {}, every(*[OBJECTS] * 10)),
    ('show_create_object', dict(kind='procedure', db='a`b', name='p'), every(*['SHOW CREATE PROCEDURE `a``b`.`p`'] * 10)),
    ('show_create_object', dict(kind='TABLE; DROP', db='a', name='p'), every(*[UNAVAILABLE] * 10)),
    ('drop_other_accounts', {}, every(*[UNAVAILABLE] * 6 + [DROP] * 4)),
]
