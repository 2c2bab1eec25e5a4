"""plugins/module_utils/rejoin.py: what a returning server has that the master lacks, the refusals and the plan."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils import rejoin
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.gtid import parse_gtid
from ansible_collections.replicant.mysql.plugins.module_utils.instance import Instance

MARIADB = Flavor('mariadb', '10.11.19')
MYSQL = Flavor('mysql', '8.0.36')
UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562'


class Globals:
    """Answers SELECT @@GLOBAL.<name> from a dict, as a connected Server."""

    def __init__(self, flavor, **values):
        self.flavor, self.values = flavor, values

    def value(self, statement):
        return self.values.get(statement.split('@@GLOBAL.')[1].split()[0], '')


def node(name, flavor=MARIADB, gtid='', read_only=True, status=None, **globals_):
    inst = Instance(name, '10.0.0.%d' % (len(name) + 1), 3306, dict(login_user='admin', login_password='pw'),
                    repl_user='repl', repl_password='pw')
    inst.server = Globals(flavor, **globals_)
    inst.facts = dict(flavor=flavor, server_id=int(name[-1]), hostname=name, port=3306, datadir='/d', log_bin=True,
                      read_only=read_only, gtid_executed=gtid, gtid_current_pos=gtid, gtid=parse_gtid(gtid, flavor.name),
                      status=status, registered_replicas=[], dump_clients=[])
    return inst


def test_errant_sees_what_a_failed_master_never_shipped_and_bounds_it_for_mariadb_binlog():
    old = node('db1', gtid='0-1-100', gtid_binlog_state='0-1-100')
    new = node('db2', gtid='0-2-110', read_only=False, gtid_binlog_state='0-1-95,0-2-110', gtid_slave_pos='0-1-95')
    assert rejoin.errant(old, new) == dict(text='0-1-100 after 0-1-95', start='0-1-95', stop='0-1-100')
    clean = node('db1', gtid='0-2-105', gtid_binlog_state='0-1-95,0-2-105')
    assert rejoin.errant(clean, new) is None
    assert rejoin.plan(clean, new, None)[-1].startswith('db1: stop replication, gtid_slave_pos from all it has executed')


def test_errant_on_mysql_is_a_set_difference():
    old = node('db1', MYSQL, gtid=UUID + ':1-12')
    new = node('db2', MYSQL, gtid=UUID + ':1-10', read_only=False)
    assert rejoin.errant(old, new) == dict(text=UUID + ':11-12', start=None, stop=None)


@pytest.mark.parametrize('change, message', [
    (lambda t, m: m.facts.update(read_only=True), 'db2, the master, is read-only'),
    (lambda t, m: m.facts.update(log_bin=False), 'db2, the master, has no binary log'),
    (lambda t, m: t.facts.update(flavor=MYSQL), 'db1 is MySQL 8.0.36 and the master db2 is MariaDB'),
    (lambda t, m: t.facts.update(dump_clients=['10.0.0.9']), 'db1 has replicas of its own (10.0.0.9)'),
    (lambda t, m: m.facts.clear() or setattr(m, 'error', 'refused'), 'db2 cannot be reached (refused): start it first'),
])
def test_refusals_name_the_server_and_what_to_do(change, message):
    target, master = node('db1', gtid='0-1-5'), node('db2', gtid='0-1-5', read_only=False)
    assert rejoin.refusals(target, master) == []
    change(target, master)
    assert any(message in problem for problem in rejoin.refusals(target, master)), rejoin.refusals(target, master)
    assert 'db2 is the master' in rejoin.refusals(master, master)[0]
