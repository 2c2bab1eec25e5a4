# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Semi-synchronous replication as part of the installation model: what each server runs with, by its place.

The inventory asks for it per installation (group vars), overridable per host: ``replicant_semisync`` (true/false),
``replicant_semisync_wait_point`` (AFTER_SYNC, the lossless one, or AFTER_COMMIT), ``replicant_semisync_timeout``
(milliseconds a commit waits for an acknowledgement before the master falls back to asynchronous replication) and
``replicant_semisync_wait_for_count`` (MySQL: acknowledgements a commit waits for; MariaDB waits for one). A host
with ``replicant_semisync: false`` in an installation that has it takes no part: it never acknowledges.

One rule for every place (``variables``): a server that takes part has the replica side on wherever it is (a
replica acknowledges; on the master it makes a restart after a crash, MariaDB 10.6+, roll back and truncate the
binary log tail its engine had not committed: transactions no client was told were committed), and the master
side only while it is the master. So a promotion moves just the master side (``move``); the option files say
the same (the configure role's ``read_only`` entry point writes them after every promotion).

Usable without Ansible: ``move(new_master, others)`` with Instances whose ``semisync`` holds the settings.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.replicant.mysql.plugins.module_utils import dialect
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import Flavor
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

WAIT_POINTS = ('AFTER_SYNC', 'AFTER_COMMIT')
DEFAULTS = dict(enabled=False, wait_point='AFTER_SYNC', timeout=10000, wait_for_count=1)
# The inventory variable of each setting.
VARIABLES = dict(enabled='replicant_semisync', wait_point='replicant_semisync_wait_point',
                 timeout='replicant_semisync_timeout', wait_for_count='replicant_semisync_wait_for_count')
PLACES = ('master', 'replica')


def settings(given, name='server'):
    """The semi-sync settings of server ``name`` from ``given`` (a dict of the keys of DEFAULTS, or None: the
    inventory says nothing, and nothing is changed). Raises ValueError naming the server for a bad value."""
    if given is None:
        return None
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError('%s: unknown semi-sync setting %s (known: %s)' % (name, ', '.join(unknown), ', '.join(DEFAULTS)))
    out = dict(DEFAULTS, **dict((k, v) for k, v in given.items() if v is not None))
    enabled = out['enabled']
    if isinstance(enabled, str) and enabled.lower() in ('true', 'yes', 'on', '1', 'false', 'no', 'off', '0'):
        enabled = enabled.lower() in ('true', 'yes', 'on', '1')
    if enabled not in (True, False):
        raise ValueError('%s: %s must be true or false, not %r' % (name, VARIABLES['enabled'], out['enabled']))
    out['enabled'] = bool(enabled)
    out['wait_point'] = str(out['wait_point']).upper()
    if out['wait_point'] not in WAIT_POINTS:
        raise ValueError('%s: %s must be one of %s, not %r' % (name, VARIABLES['wait_point'], ', '.join(WAIT_POINTS),
                                                               given.get('wait_point')))
    for key, low in (('timeout', 0), ('wait_for_count', 1)):
        try:
            value = int(str(out[key]))
        except ValueError:
            value = None
        if isinstance(out[key], bool) or value is None or value < low or value > 4294967295:
            raise ValueError('%s: %s must be a whole number from %d to 4294967295, not %r'
                             % (name, VARIABLES[key], low, out[key]))
        out[key] = value
    return out


def from_vars(get, name='server'):
    """The settings from inventory variables (``get(variable)`` -> value or None); None when none is set."""
    given = dict((key, get(var)) for key, var in VARIABLES.items() if get(var) not in (None, ''))
    return settings(given, name) if given else None


def flavor_of(text):
    """A Flavor from 'mariadb', 'mysql', 'mysql 8.0.20' or a Flavor (without a version: MariaDB 10.11, MySQL 8.4)."""
    if isinstance(text, Flavor):
        return text
    parts = str(text or 'mariadb').replace('-', ' ').split()
    name = parts[0].lower()
    return Flavor(name, parts[1] if len(parts) > 1 else ('10.11' if name == 'mariadb' else '8.4'))


def variables(flavor, wanted, place):
    """{variable: value} a server of ``flavor`` with settings ``wanted`` runs with in ``place`` (master or replica)."""
    if place not in PLACES:
        raise ValueError('place must be one of %s, not %r' % (', '.join(PLACES), place))
    names = dialect.semisync_names(flavor)
    on = wanted['enabled']
    out = {names['master_enabled']: 'ON' if on and place == 'master' else 'OFF',
           names['replica_enabled']: 'ON' if on else 'OFF'}
    if on:
        out[names['timeout']] = wanted['timeout']
        out[names['wait_point']] = wanted['wait_point']
        if names['wait_for_count']:
            out[names['wait_for_count']] = wanted['wait_for_count']
    return out


def cnf(wanted, place, flavor='mariadb'):
    """What the option file says (``variables``) and the plugins to load first ([name, soname]); {} without settings."""
    if wanted is None:
        return dict(options={}, plugins=[])
    flavor = flavor_of(flavor)
    names = dialect.semisync_names(flavor)
    options = variables(flavor, wanted, place)
    if wanted['enabled'] and names['recovery_role']:
        # read at a start only: a replica that crashed (or a master that crashed and was replaced, its file rewritten
        # by the failover) rolls back its unacknowledged tail; a master restarting in place keeps it
        options[names['recovery_role']] = 'MASTER' if place == 'master' else 'SLAVE'
    plugins = [list(p) for p in names['plugins']] if wanted['enabled'] else []
    return dict(options=options, plugins=plugins)


# -- at run time -----------------------------------------------------------------------------------
def _same(running, value):
    flags = {'ON': '1', 'OFF': '0', '1': '1', '0': '0'}
    text = str(running.decode() if isinstance(running, bytes) else running).upper()
    wanted = str(value).upper()
    return flags.get(text, text) == flags.get(wanted, wanted)


def apply(server, wanted, place):
    """Give a connected server the settings of ``place`` at run time; returns the variables changed ({} when none).

    Loads the plugins first where semi-sync is no built-in (MySQL; kept in mysql.plugin). A replica whose replica
    side changed restarts its IO thread: the server reads it when the IO thread connects.
    """
    if wanted is None:
        return {}
    flavor = server.flavor
    names = dialect.semisync_names(flavor)
    if wanted['enabled'] and names['plugins']:
        loaded = set(str(row['name']).lower() for row in server.run('semisync_plugins'))
        for plugin, soname in names['plugins']:
            if plugin not in loaded:
                server.run('install_plugin', plugin=plugin, soname=soname)
    changed = {}
    target = variables(flavor, wanted, place)
    # the master side goes off first and on last: a server never has both on as a replica
    for name in sorted(target, key=lambda n: 1 if n != names['master_enabled'] else 0 if target[n] == 'OFF' else 2):
        try:
            running = server.value(dialect.sql(flavor, 'get_global', name=name))
        except ServerError:
            running = None  # a variable the server lacks (a plugin not loaded and not wanted)
            if not wanted['enabled']:
                continue
        if running is None or not _same(running, target[name]):
            server.run('set_global', name=name, value=target[name])
            changed[name] = target[name]
    if names['replica_enabled'] in changed:
        status = server.run('show_replica_status')
        if status and dialect.normalize_replica_status(flavor, status[0])['io_running_ok']:
            server.run('stop_replica', thread='io')
            server.run('start_replica', thread='io')
    return changed


def move(new_master, others, journal=None):
    """After a promotion: the master side on ``new_master``, the replica side only on ``others`` (Instances with
    their ``semisync`` settings; those without any are left alone). Returns {name: changed variables or error}."""
    done = {}
    for node, place in [(new_master, 'master')] + [(n, 'replica') for n in others]:
        if getattr(node, 'semisync', None) is None or node.server is None:
            continue
        try:
            done[node.name] = apply(node.server, node.semisync, place)
        except ServerError as exc:
            done[node.name] = 'semi-sync not set: %s' % exc
        if journal and done[node.name]:
            journal.step(node.name, 'semi-sync as %s: %s' % (place, done[node.name]))
    return done


def summary(found):
    """A word for the topology's one line of a server: master side active / async, replica side on / off."""
    if not found or found.get('error'):
        return 'semisync=?'
    if found['master_enabled']:
        return 'semisync=master:%s(%s)' % ('active' if found['master_active'] else 'ASYNC', found['clients'])
    return 'semisync=replica:%s' % ('on' if found['replica_enabled'] else 'off')


def state(server):
    """What a connected server runs with: master side / replica side on, whether the master side is active or has
    fallen back to asynchronous replication, its semi-sync replicas and acknowledged / unacknowledged commits."""
    flavor = server.flavor
    names = dialect.semisync_names(flavor)
    status = dict((str(row.get('Variable_name') or row.get('VARIABLE_NAME')).lower(),
                   row.get('Value') if 'Value' in row else row.get('VALUE')) for row in server.run('semisync_status'))

    def var(key):
        try:
            return server.value(dialect.sql(flavor, 'get_global', name=names[key]))
        except ServerError:
            return None

    def number(key):
        value = status.get(names[key].lower())
        return int(value) if value not in (None, '') else None
    return dict(master_enabled=_on(var('master_enabled')), replica_enabled=_on(var('replica_enabled')),
                master_active=_on(status.get(names['master_status'].lower())),
                replica_active=_on(status.get(names['replica_status'].lower())),
                clients=number('clients'), yes_tx=number('yes_tx'), no_tx=number('no_tx'),
                wait_point=_text(var('wait_point')), timeout=var('timeout'))


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _on(value):
    return None if value is None else str(_text(value)).upper() in ('ON', '1')


def problems(name, wanted, found, place):
    """What differs from what the inventory asks of a server in ``place`` (master or replica): [(kind, message)]."""
    if wanted is None or not wanted['enabled'] or not found:
        return []
    if found.get('error'):
        return [('semisync_unknown', '%s: cannot read its semi-sync state: %s' % (name, found['error']))]
    out = []
    if place == 'master':
        if not found['master_enabled']:
            out.append(('semisync_off', '%s is the master and the inventory asks for semi-synchronous replication, but '
                                        'its master side is off' % name))
        elif not found['master_active']:
            out.append(('semisync_async', '%s has fallen back to asynchronous replication (no semi-sync replica '
                                          'acknowledged within %s ms; %s semi-sync replica(s) connected): commits are '
                                          'not acknowledged by any replica' % (name, found['timeout'], found['clients'])))
    elif not found['replica_enabled']:
        out.append(('semisync_off', '%s does not acknowledge (its replica side is off), but the inventory asks for '
                                    'semi-synchronous replication' % name))
    if place == 'replica' and found['master_enabled']:
        out.append(('semisync_misplaced', '%s is a replica with the master side of semi-sync on: only the master has it'
                                          % name))
    return out
