# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dialect rows semi-synchronous replication adds: statements and variable names per flavor and version."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor, semisync_names, sql

from test_dialect_promote import expected

STATUS = "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'"
PLUGINS = ("SELECT PLUGIN_NAME AS name FROM information_schema.PLUGINS "
           "WHERE PLUGIN_NAME LIKE 'rpl_semi_sync_%' AND PLUGIN_STATUS = 'ACTIVE'")
INSTALL = "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'"

# Picked up by test_dialect.py's coverage check: every key for every server.
CASES = [
    ('semisync_status', {}, expected([STATUS] * 6, [STATUS] * 4)),
    ('semisync_plugins', {}, expected([PLUGINS] * 6, [PLUGINS] * 4)),
    ('install_plugin', dict(plugin='rpl_semi_sync_source', soname='semisync_source.so'),
     expected([INSTALL] * 6, [INSTALL] * 4)),
]


def test_mysql_names_change_with_the_source_replica_plugins_of_8_0_26():
    old, new = semisync_names(Flavor('mysql', '8.0.25')), semisync_names(Flavor('mysql', '8.0.26'))
    assert (old['master_enabled'], old['wait_for_count']) == ('rpl_semi_sync_master_enabled',
                                                              'rpl_semi_sync_master_wait_for_slave_count')
    assert (new['master_enabled'], new['replica_enabled'], new['wait_for_count']) == (
        'rpl_semi_sync_source_enabled', 'rpl_semi_sync_replica_enabled', 'rpl_semi_sync_source_wait_for_replica_count')
    assert new['plugins'] == (('rpl_semi_sync_source', 'semisync_source.so'), ('rpl_semi_sync_replica', 'semisync_replica.so'))
    assert new['yes_tx'] == 'Rpl_semi_sync_source_yes_tx'


def test_mariadb_has_it_built_in_since_10_3_3_and_waits_for_one_acknowledgement():
    assert semisync_names(Flavor('mariadb', '10.3.2'))['plugins'][0] == ('rpl_semi_sync_master', 'semisync_master.so')
    names = semisync_names(Flavor('mariadb', '10.11.19'))
    assert names['plugins'] == () and names['wait_for_count'] is None
    assert (names['master_enabled'], names['replica_enabled'], names['wait_point']) == (
        'rpl_semi_sync_master_enabled', 'rpl_semi_sync_slave_enabled', 'rpl_semi_sync_master_wait_point')


def test_a_plugin_name_must_be_an_identifier():
    import pytest
    with pytest.raises(ValueError):
        sql(Flavor('mysql', '8.4.0'), 'install_plugin', plugin='x; DROP', soname='a.so')
