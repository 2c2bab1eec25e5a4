# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MySQL Replicant's own example as a script: point every replica of an installation at its master.

    python3 docs/examples/repoint_replicas.py <inventory> [installation]

The installation comes from the Ansible inventory (the same model the playbooks use); the primitives
are the collection's library. Run it with the collection importable as ansible_collections.replicant.mysql
(e.g. installed with ansible-galaxy, or this checkout's .collections directory on PYTHONPATH).
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, '..', '..', '.collections'))  # a checkout of the collection

from ansible_collections.replicant.mysql.plugins.module_utils import dialect, replication  # noqa: E402
from ansible_collections.replicant.mysql.plugins.plugin_utils import inventory_loader  # noqa: E402


def main(path, name=None):
    found = inventory_loader.load(path)
    installation = found[name] if name else next(iter(found.values()))
    master = installation.master
    master.read()
    for replica in installation.replicas:
        replica.read()
        options = master.follow(replica.flavor)           # by GTID, with the master's replication account
        options.update(dialect.follow_options(replica.flavor, gtid=True))
        replication.change_master(replica.server, options)
        replication.wait_for_pos(replica.server, gtid=master.facts['gtid_executed'], timeout=60)
        print('%s replicates from %s' % (replica.name, master.name))
    installation.close()


if __name__ == '__main__':
    main(*sys.argv[1:])
