# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory -> installations mapping: the one place that turns Ansible's inventory into installations.

Used by the filter ``replicant.mysql.installations`` (playbooks and roles) and by
``plugin_utils/inventory_loader.load()`` (plain Python, through ansible-core's own inventory API). The rules:

- A server is a host of the group ``mysql`` or of one of the role groups ``mysql_master``,
  ``mysql_replicas``, ``mysql_spares``.
- Its installation is its variable ``replicant_installation`` (set as a group var on one group per
  installation); servers without it form the installation ``default``.
- Its role is its variable ``replicant_role`` (master, replica, spare) when set (a fragment written by a
  procedure, or an inventory that prefers host vars), else the role group it is in.
- Each installation needs exactly one master; ``problems`` lists what keeps one from being acted on.
- How a module reaches a server (one rule): at its socket ``replicant_login_unix_socket`` when the
  module runs on the server's own host (``where='host'``) or, for modules that run on the controller
  (``where='controller'``), when that host is the controller (``ansible_connection: local``);
  otherwise over TCP at ``replicant_login_host`` / ``replicant_login_port``, defaulting to the
  replication address ``replicant_host`` / ``replicant_port``. ``replicant_login_via: socket|tcp``
  on a host overrides the rule.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections

from ansible_collections.replicant.mysql.plugins.module_utils import semisync
from ansible_collections.replicant.mysql.plugins.module_utils.dialect import replication_tls_options

DEFAULT_INSTALLATION = 'default'
ALL_GROUP = 'mysql'
ROLE_GROUPS = collections.OrderedDict([('master', 'mysql_master'), ('replica', 'mysql_replicas'),
                                       ('spare', 'mysql_spares')])
WHERE = ('controller', 'host')
LOGIN_VIA = ('auto', 'socket', 'tcp')
# The modules' TLS options (doc fragment replicant.mysql.connection), from replicant_login_<option> of each host.
LOGIN_TLS = ('ca_cert', 'client_cert', 'client_key', 'check_hostname')
# How replicas reach a master over TLS: replicant_repl_ssl* of the master (the paths are on the replicas' hosts).
REPL_TLS = ('repl_ssl', 'repl_ssl_ca', 'repl_ssl_cert', 'repl_ssl_key', 'repl_ssl_verify_server_cert')


def _get(hostvars, host, name, default=None):
    try:
        value = hostvars[host][name]
    except (KeyError, TypeError):
        return default
    if value is None or (hasattr(value, '_undefined_name')):
        return default
    return value


def server_hosts(groups):
    """Every server of the inventory, in inventory order (the group mysql first, then the role groups)."""
    seen = collections.OrderedDict()
    for group in (ALL_GROUP,) + tuple(ROLE_GROUPS.values()):
        for host in groups.get(group) or ():
            seen[host] = True
    return list(seen)


def role_of(hostvars, groups, host):
    role = _get(hostvars, host, 'replicant_role')
    if role:
        return str(role)
    for name, group in ROLE_GROUPS.items():
        if host in (groups.get(group) or ()):
            return name
    return None


def installation_of(hostvars, host):
    return str(_get(hostvars, host, 'replicant_installation') or DEFAULT_INSTALLATION)


def login_of(hostvars, host, where='controller'):
    """The login_* options that reach ``host`` from where the module runs (see the module docstring)."""
    if where not in WHERE:
        raise ValueError('where must be one of %s, not %r' % (', '.join(WHERE), where))
    via = str(_get(hostvars, host, 'replicant_login_via') or 'auto')
    if via not in LOGIN_VIA:
        raise ValueError('%s: replicant_login_via must be one of %s, not %r' % (host, ', '.join(LOGIN_VIA), via))
    socket = _get(hostvars, host, 'replicant_login_unix_socket')
    local = where == 'host' or str(_get(hostvars, host, 'ansible_connection') or '') == 'local'
    login = {}
    if socket and (via == 'socket' or (via == 'auto' and local)):
        login['login_unix_socket'] = socket
    else:
        login['login_host'] = _get(hostvars, host, 'replicant_login_host') or _get(hostvars, host, 'replicant_host') or host
        login['login_port'] = int(_get(hostvars, host, 'replicant_login_port') or _get(hostvars, host, 'replicant_port')
                                  or 3306)
    for key in ('login_user', 'login_password'):
        value = _get(hostvars, host, 'replicant_' + key)
        if value is not None:
            login[key] = value
    login.update((key, _get(hostvars, host, 'replicant_login_' + key)) for key in LOGIN_TLS
                 if _get(hostvars, host, 'replicant_login_' + key) not in (None, ''))
    return login


def _boolean(value, name):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on'):
        return True
    if text in ('0', 'false', 'no', 'off'):
        return False
    raise ValueError('%s must be true or false, not %r' % (name, value))


def repl_tls_of(hostvars, host):
    """The repl_ssl* keys of ``host``'s entry: how its replicas reach it over TLS, completed by the one rule
    (``dialect.replication_tls_options``: a file implies TLS, a CA implies verifying the certificate)."""
    given = dict((key[len('repl_'):], _get(hostvars, host, 'replicant_' + key)) for key in REPL_TLS)
    given = dict((k, v) for k, v in given.items() if v not in (None, ''))
    try:
        for key in ('ssl', 'ssl_verify_server_cert'):
            if key in given:
                given[key] = _boolean(given[key], 'replicant_repl_' + key)
        options = replication_tls_options(**given)
    except ValueError as exc:
        raise ValueError('%s: %s' % (host, exc))
    return dict(('repl_' + key[len('master_'):], value) for key, value in options.items())


def server_entry(hostvars, groups, host, where='controller'):
    """The entry of the modules' ``servers`` option for ``host`` (no key without a value)."""
    entry = dict(name=host, host=str(_get(hostvars, host, 'replicant_host') or host),
                 port=int(_get(hostvars, host, 'replicant_port') or 3306),
                 installation=installation_of(hostvars, host))
    optional = dict(master=_get(hostvars, host, 'replicant_master'), role=role_of(hostvars, groups, host),
                    promotion=_get(hostvars, host, 'replicant_promotion'),
                    repl_user=_get(hostvars, host, 'replicant_repl_user'),
                    repl_password=_get(hostvars, host, 'replicant_repl_password'))
    entry.update((k, v) for k, v in optional.items() if v not in (None, ''))
    wanted = semisync.from_vars(lambda var: _get(hostvars, host, var), host)
    if wanted is not None:
        entry['semisync'] = wanted
    entry.update(repl_tls_of(hostvars, host))
    entry.update(login_of(hostvars, host, where))
    return entry


def installations(hostvars, groups, play_hosts=None, where='controller'):
    """{name: installation} of every installation with a server among ``play_hosts`` (default: all).

    An installation is a dict: name, master (its one master, or None), masters, replicas, spares,
    members (every server, inventory order), in_play (the members among ``play_hosts``), complete
    (every member is in play), leader (the first member in play: the host that runs its
    controller-side tasks), servers (the ``servers`` option of the modules: every member),
    replication (the entries of the master and the replicas only: what a promotion acts on), router
    (the promotion modules' ``router`` option, from ``replicant_router`` and its variables), leaves_first
    (the declared replicas deepest first, then the master: the order of rolling changes) and
    problems (why a procedure must refuse it).
    """
    hosts = server_hosts(groups)
    play = list(hosts if play_hosts is None else [h for h in hosts if h in set(play_hosts)])
    out = {}   # plain dicts (ordered): before ansible-core 2.19 a filter's result must survive repr() + literal_eval
    for host in hosts:
        name = installation_of(hostvars, host)
        inst = out.setdefault(name, dict(name=name, master=None, masters=[], replicas=[], spares=[], members=[],
                                         in_play=[], servers=[], problems=[]))
        inst['members'].append(host)
        if host in play:
            inst['in_play'].append(host)
        role = role_of(hostvars, groups, host)
        if role not in (None,) + tuple(ROLE_GROUPS):
            inst['problems'].append('%s: replicant_role must be one of %s, not %r' % (host, ', '.join(ROLE_GROUPS), role))
        elif role:
            inst[{'master': 'masters', 'replica': 'replicas', 'spare': 'spares'}[role]].append(host)
        inst['servers'].append(server_entry(hostvars, groups, host, where))
    for inst in out.values():
        inst['replication'] = [e for e in inst['servers'] if e.get('role') in ('master', 'replica')]
        inst['router'] = router_of(hostvars, inst)
        _judge(inst, hostvars)
    return dict((k, v) for k, v in out.items() if v['in_play'])


ROUTER_VARS = (('type', 'replicant_router'), ('socket', 'replicant_haproxy_socket'),
               ('backend', 'replicant_haproxy_backend'), ('command', 'replicant_router_command'),
               ('timeout', 'replicant_router_timeout'))


def router_of(hostvars, inst):
    """The promotion modules' ``router`` option of an installation: the router variables (group vars of the
    installation; its servers must agree) and, per server, its name in the HAProxy backend
    (``replicant_haproxy_server``, default the inventory name)."""
    router = dict(type='none')
    seen = {}
    for host in inst['members']:
        for key, var in ROUTER_VARS:
            value = _get(hostvars, host, var)
            if value in (None, ''):
                continue
            if key in seen and seen[key][1] != value:
                inst['problems'].append('%s and %s of installation %s disagree on %s: set it once for the installation'
                                        % (seen[key][0], host, inst['name'], var))
                continue
            seen.setdefault(key, (host, value))
            router[key] = value
    if router['type'] != 'none':
        router['server_names'] = dict((h, str(_get(hostvars, h, 'replicant_haproxy_server') or h))
                                      for h in inst['members'])
    if isinstance(router.get('command'), str):
        router['command'] = [router['command']]
    if router.get('timeout') is not None:
        try:
            router['timeout'] = float(router['timeout'])
        except (TypeError, ValueError):
            inst['problems'].append('replicant_router_timeout must be a number of seconds, not %r' % (router['timeout'],))
            del router['timeout']
    return router


def _judge(inst, hostvars):
    name, members = inst['name'], inst['members']
    inst['leader'] = inst['in_play'][0] if inst['in_play'] else None
    inst['complete'] = len(inst['in_play']) == len(members)
    if len(inst['masters']) == 1:
        inst['master'] = inst['masters'][0]
    elif not inst['masters']:
        inst['problems'].append('installation %s has no master: put one of its servers (%s) in the group %s'
                                % (name, ', '.join(members), ROLE_GROUPS['master']))
    else:
        inst['problems'].append('installation %s has %d masters (%s): exactly one of them belongs in the group %s '
                                '(or set replicant_installation to tell the installations apart)'
                                % (name, len(inst['masters']), ', '.join(inst['masters']), ROLE_GROUPS['master']))
    masters = dict((e['name'], e.get('master')) for e in inst['servers'])
    inst['declared'] = dict(master=inst['master'], spares=list(inst['spares']), replicas=dict(
        (r, masters.get(r) or inst['master']) for r in inst['replicas']))
    inst['leaves_first'] = leaves_first(inst['declared'])
    for entry in inst['servers']:
        master = entry.get('master')
        if master and master not in members:
            inst['problems'].append('%s: replicant_master %s is not a server of its installation %s (%s)'
                                    % (entry['name'], master, name, ', '.join(members)))
    ids = {}
    for host in members:
        sid = _get(hostvars, host, 'replicant_server_id')
        if sid not in (None, ''):
            ids.setdefault(str(sid), []).append(host)
    for sid, hosts in ids.items():
        if len(hosts) > 1:
            inst['problems'].append('%s share replicant_server_id %s in installation %s: give each a unique one'
                                    % (' and '.join(hosts), sid, name))


def leaves_first(declared):
    """The servers of a declared tree (``declared``: master and replicas {replica: its master}) in the order a rolling
    procedure takes them: the deepest replicas first (a leaf before the relay it replicates from, inventory order
    among equals), the master last."""
    replicas = declared['replicas']

    def depth(host):
        seen = set()
        while host in replicas and host not in seen:
            seen.add(host)
            host = replicas[host]
        return len(seen)
    order = sorted(replicas, key=lambda host: -depth(host))
    return order + ([declared['master']] if declared.get('master') else [])


def promoted(declared, new_master, include_old_master=True, left_out=()):
    """The declared tree after ``new_master`` takes the master's place: the one rule of every promotion.

    ``declared``: dict(master, replicas={replica: its master}, spares) as ``installations()`` gives it. The old
    master (a replica of the new one, unless ``include_old_master`` is false) and the old master's other direct
    replicas replicate from ``new_master``; every other replica keeps its master: the new master's own replicas stay
    below it, a relay's replicas below their relay. ``left_out`` (and a left-out old master) become spares.
    Returns a new dict of the same shape, in the order of ``declared`` (the old master last among the replicas).
    """
    old = declared['master']
    out = set(left_out)
    replicas = collections.OrderedDict()
    for host, master in declared['replicas'].items():
        if host != new_master and host not in out:
            replicas[host] = new_master if master == old else master
    if include_old_master and old not in out:
        replicas[old] = new_master
    else:
        out.add(old)
    spares = list(declared.get('spares') or []) + [h for h in [old] + list(declared['replicas']) if h in out]
    return dict(master=new_master, replicas=dict(replicas), spares=spares)


def tree_problems(declared):
    """Why ``declared`` (dict(master, replicas={replica: its master})) is no tree below its master ([] when it is):
    a replica whose declared master is no server of it, or a chain of replicas that never reaches the master."""
    master, replicas = declared['master'], declared['replicas']
    problems = []
    for host in replicas:
        seen = [host]
        up = replicas[host]
        while up != master and up in replicas and up not in seen:
            seen.append(up)
            up = replicas[up]
        if up == master:
            continue
        if up in seen:
            problems.append('%s: replicant_master makes a loop (%s -> %s) that never reaches the master %s'
                            % (host, ' -> '.join(seen), up, master))
        else:
            problems.append('%s: its replicant_master %s is not a server of the installation (master %s, replicas %s)'
                            % (seen[-1], up, master, ', '.join(replicas) or 'none'))
    return problems


def select(found, names=None, host=None, default='all'):
    """The installations a procedure acts on, by name, from ``installations()``'s result.

    ``host``: the installation of that server (a clone's target, a replica to move, a new master).
    ``names``: a name, a list or comma-separated names, or ``all``. Without either, ``default``:
    ``all`` (read-only and converging procedures) or ``one`` (promotions: refuse to guess among several).
    Raises ValueError with what to fix.
    """
    known = ', '.join(found) or 'none'
    if host:
        owner = [n for n, inst in found.items() if host in inst['members']]
        if not owner:
            raise ValueError('%s is not a server of the inventory (or is outside --limit): the installations in this '
                             'run are %s' % (host, known))
        chosen = owner
        if names and names != 'all' and _names(names) != owner:
            raise ValueError('%s belongs to installation %s, not %s' % (host, owner[0], ', '.join(_names(names))))
    elif names and names != 'all':
        chosen = _names(names)
        unknown = [n for n in chosen if n not in found]
        if unknown:
            raise ValueError('no installation named %s in this run (inventory and --limit); the installations are: %s'
                             % (', '.join(unknown), known))
    elif names == 'all' or default == 'all':
        chosen = list(found)
    elif len(found) > 1:
        raise ValueError('this inventory holds %d installations (%s): name the one to act on with -e installation=NAME '
                         '(several: -e installation=a,b; every one: -e installation=all)' % (len(found), known))
    else:
        chosen = list(found)
    if not chosen:
        raise ValueError('no installation to act on: no server of the groups %s is in this run'
                         % ', '.join((ALL_GROUP,) + tuple(ROLE_GROUPS.values())))
    return chosen


def _names(names):
    if isinstance(names, (list, tuple)):
        return [str(n).strip() for n in names if str(n).strip()]
    return [n.strip() for n in str(names).split(',') if n.strip()]


def plan(hostvars, groups, play_hosts=None, names=None, host=None, default='all', where='controller',
         require_complete=False, strict=True):
    """What a playbook acts on: {installations: {name: installation}, selected: [names], leaders: [hosts],
    by_host: {host: name}}. Refuses (ValueError) a selected installation with problems (unless not
    ``strict``: a report shows them), and, with ``require_complete``, one that ``--limit`` cuts in part."""
    found = installations(hostvars, groups, play_hosts, where)
    chosen = select(found, names, host, default)
    problems = []
    for name in chosen:
        inst = found[name]
        problems += inst['problems'] if strict else []
        if require_complete and not inst['complete']:
            problems.append('--limit leaves out %s of installation %s: this procedure changes every server of an '
                            'installation, so limit to whole installations (e.g. --limit a group of each)'
                            % (', '.join(h for h in inst['members'] if h not in inst['in_play']), name))
    if problems:
        raise ValueError('; '.join(problems) + '. Nothing was changed.')
    return dict(installations=found, selected=chosen, leaders=[found[n]['leader'] for n in chosen],
                by_host=dict((h, n) for n, inst in found.items() for h in inst['members']))


# -- plain Python ------------------------------------------------------------------------------------
class Installation:
    """One installation as Instances (module_utils/instance.py): ``master``, ``replicas``, ``spares``, ``servers``."""

    def __init__(self, described):
        from ansible_collections.replicant.mysql.plugins.module_utils.instance import instance_from_spec
        self.name = described['name']
        self.problems = list(described['problems'])
        self.servers = [instance_from_spec(entry) for entry in described['servers']]
        self.by_name = dict((s.name, s) for s in self.servers)
        self.master = self.by_name.get(described['master'])
        self.replicas = [self.by_name[n] for n in described['replicas']]
        self.spares = [self.by_name[n] for n in described['spares']]

    def __repr__(self):
        return 'Installation(%r, master=%r, replicas=%r)' % (self.name, self.master, self.replicas)

    def close(self):
        for server in self.servers:
            server.close()
