# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit my.cnf-style option files line by line, keeping everything not asked to change.

Comments, blank lines, ``!include``/``!includedir`` lines, bare options (``skip-name-resolve``) and
the order of lines stay as they are. Option names compare with ``-`` and ``_`` as the same
character, as the server reads them. A changed option is rewritten in place; a new one is added at
the end of its section (the section is created at the end of the file when missing).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import re

from ansible_collections.replicant.mysql.plugins.module_utils.dialect import sql as dialect_sql
from ansible_collections.replicant.mysql.plugins.module_utils.server import ServerError

_SECTION = re.compile(r'^\s*\[([^\]]+)\]\s*(?:[#;].*)?$')
_OPTION = re.compile(r'^\s*([A-Za-z0-9_.-]+)\s*(?:=\s*(.*?))?\s*$')

# What the collection assumes when it cannot ask the server which variables are dynamic (a MySQL server, or no
# connection: mysql_cnf without ``apply``). A MariaDB server is asked (information_schema.SYSTEM_VARIABLES, its
# READ_ONLY column), so this table decides nothing there. Anything not listed is treated as static.
DYNAMIC = {
    'server_id': True,
    'read_only': True,
    'super_read_only': True,
    'binlog_format': True,
    'gtid_strict_mode': True,
    'gtid_domain_id': True,
    'sync_binlog': True,
    'expire_logs_days': True,
    'binlog_expire_logs_seconds': True,
    'slave_parallel_threads': True,
    'slave_net_timeout': True,
    'max_connections': True,
    'max_allowed_packet': True,
    'log_bin': False,
    'log_slave_updates': False,
    'log_replica_updates': False,
    'relay_log': False,
    'gtid_mode': False,
    'enforce_gtid_consistency': True,
    'skip_slave_start': False,
    'bind_address': False,
    'port': False,
}
# Options whose file value is a base name while the variable of the same name says ON/OFF (log_bin) or repeats
# the option: the running base name is in this variable (a path, below the datadir for a relative name).
BASENAME_OF = {'log_bin': 'log_bin_basename', 'relay_log': 'relay_log_basename'}
_SIZE = re.compile(r'^\s*(-?\d+)\s*([kmgtpe]?)\s*$', re.I)
_NUMERIC_TYPES = ('INT', 'BIGINT', 'INT UNSIGNED', 'BIGINT UNSIGNED', 'SMALLINT', 'TINYINT')


def canonical(name):
    return name.strip().lower().replace('-', '_')


def is_dynamic(name):
    return DYNAMIC.get(canonical(name), False)


_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')
_UNSAFE = {'\n': 'a newline', '\r': 'a carriage return', '\0': 'a NUL character'}
SECRET_NAME = re.compile(r'(?i)(password|passwd|pwd|secret)')


def check_section(section):
    """Raise ValueError unless ``section`` can be written as ``[section]``."""
    if not isinstance(section, str) or not section.strip():
        raise ValueError('the section name must be a non-empty string, not %r' % (section,))
    for char in '[]#;' + ''.join(_UNSAFE):
        if char in section:
            raise ValueError('the section name %r must not contain %s' % (section, _UNSAFE.get(char, repr(char))))


def check_option(name, value):
    """Raise ValueError unless option ``name`` = ``value`` can be written as one line that means just that."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError('the option name %r cannot be written safely: use letters, digits, _, - and . only '
                         '(no leading - or --, no =, spaces, brackets, newlines; at most 128 characters)' % (name,))
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError('option %s: %r is not a value' % (name, value))
    if not isinstance(value, (str, int, float)):
        raise ValueError('option %s: the value must be a string, a number, a boolean or null (a bare option), '
                         'not %s' % (name, type(value).__name__))
    for char, what in _UNSAFE.items():
        if char in str(value):
            raise ValueError('option %s: the value contains %s, which would start a new line (another option or '
                             'section) in the file; remove it' % (name, what))


def check(section, options):
    """Check a whole request before anything is read or written (ValueError names what to fix)."""
    check_section(section)
    if not isinstance(options, dict) or not options:
        raise ValueError('options must be a non-empty dict of option names and values')
    for name, value in options.items():
        check_option(name, value)


def render_value(value):
    """The text after ``=``: as it is, or double-quoted when it holds # or quotes or edge spaces."""
    if value == '' or '#' in value or value != value.strip() or value[:1] in '"\'' or value[-1:] in '"\'':
        return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')
    return value


def render(name, value):
    if value is None:
        return name
    return '%s = %s' % (name, render_value(value))


def mask_secrets(text):
    """The file ``text`` with the values of password-like options replaced (for --diff)."""
    out = []
    for line in text.splitlines(True):
        match = _OPTION.match(line.rstrip('\r\n'))
        if match and match.group(2) is not None and SECRET_NAME.search(match.group(1)):
            line = '%s = ********%s' % (match.group(1), '\n' if line.endswith('\n') else '')
        out.append(line)
    return ''.join(out)


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return 'ON' if value else 'OFF'
    return str(value)


def _value_of(line):
    match = _OPTION.match(line)
    return None if match.group(2) is None else match.group(2).strip().strip('"\'')


def _same_value(line, value):
    match = _OPTION.match(line)
    if (value is None) != (match.group(2) is None):
        return False
    if value is None:
        return True
    return match.group(2).strip() == render_value(value) or _value_of(line) == value


def edit(text, section, options, state='present'):
    """Return (new_text, changed_names). ``options`` maps names to values (None = a bare option).

    With ``state='absent'`` every line of each named option in the section is removed.
    Raises ValueError (before any change) for a section, name or value that cannot be written safely.
    """
    check(section, options if state == 'present' else dict.fromkeys(options or {}))
    lines = text.splitlines()
    wanted = {canonical(k): (k, _text(v)) for k, v in options.items()}
    section = section.strip().lower()
    current, start, end = None, None, None
    seen = {}
    out = []
    changed = []
    for line in lines:
        stripped = line.strip()
        head = _SECTION.match(line)
        if head:
            if current == section:
                end = len(out)
            current = head.group(1).strip().lower()
            if current == section:
                start = len(out) + 1
            out.append(line)
            continue
        if current == section and stripped and stripped[0] not in '#;!':
            match = _OPTION.match(line)
            key = canonical(match.group(1)) if match else None
            if key in wanted:
                name, value = wanted[key]
                if state == 'absent' or key in seen:
                    changed.append(key)
                    continue
                seen[key] = True
                if not _same_value(line, value):
                    changed.append(key)
                    line = render(match.group(1), value)
        out.append(line)
    if current == section and end is None:
        end = len(out)
    if state == 'present':
        missing = [wanted[k] for k in wanted if k not in seen]
        if missing:
            if start is None:
                if out and out[-1].strip():
                    out.append('')
                out.append('[%s]' % section)
                end = len(out)
            else:
                while end > start and not out[end - 1].strip():
                    end -= 1
            out[end:end] = [render(name, value) for name, value in missing]
            changed.extend(canonical(name) for name, _value in missing)
    new_text = '\n'.join(out) + ('\n' if out else '')
    return new_text, sorted(set(changed))


def read_options(text, section):
    """The options of ``section`` as {canonical name: value} (None for bare options)."""
    found, current = {}, None
    for line in text.splitlines():
        head = _SECTION.match(line)
        if head:
            current = head.group(1).strip().lower()
            continue
        stripped = line.strip()
        if current == section.lower() and stripped and stripped[0] not in '#;!':
            match = _OPTION.match(line)
            if match:
                found[canonical(match.group(1))] = _value_of(line)
    return found


def variable_name(option):
    """The server variable an option sets: its canonical name without a ``loose_`` prefix."""
    key = canonical(option)
    return key[len('loose_'):] if key.startswith('loose_') else key


def server_variables(server, names):
    """What the running server says of the variables ``names``: {name: dict(dynamic, type, value)}.

    MariaDB answers from information_schema.SYSTEM_VARIABLES (``READ_ONLY`` = YES: only a restart changes it;
    a name it lacks is no variable of this server, e.g. an option of a plugin that is not loaded). Other
    flavors: the value of each name, and the table DYNAMIC for whether it is dynamic (type unknown).
    """
    names = set(names)
    if server.flavor.is_mariadb:
        return dict((row['name'].lower(), dict(dynamic=row['read_only'] == 'NO', type=row['type'], value=row['value']))
                    for row in server.sql(dialect_sql(server.flavor, 'system_variables')) if row['name'].lower() in names)
    found = {}
    for name in sorted(names):
        try:
            value = server.value(dialect_sql(server.flavor, 'get_global', name=name))
        except ServerError:
            continue
        found[name] = dict(dynamic=DYNAMIC.get(name, False), type=None, value=value)
    return found


def _flag(value):
    return {'ON': '1', 'TRUE': '1', 'YES': '1', '1': '1', 'OFF': '0', 'FALSE': '0', 'NO': '0', '0': '0'}.get(
        _text(value).strip().upper())


def _size(value):
    """An integer option value, with the K, M, G, T, P, E suffixes the server reads (powers of 1024), or None."""
    match = _SIZE.match(_text(value))
    if not match:
        return None
    return int(match.group(1)) * 1024 ** ' kmgtpe'.index(match.group(2).lower() or ' ')


def same_value(running, wanted, vtype=None):
    """Whether the running value (as the server shows it) is what the option file's ``wanted`` means.

    ``vtype`` is SYSTEM_VARIABLES' VARIABLE_TYPE (None when unknown): booleans compare as on/off (a bare option
    means ON), numbers with their size suffixes (64M) and as decimals, enums and sets without case and order.
    """
    running = '' if running is None else _text(running)
    wanted = 'ON' if wanted is None else _text(wanted)
    vtype = (vtype or '').upper()
    if vtype == 'BOOLEAN' or (not vtype and _flag(wanted) is not None and _flag(running) is not None):
        return _flag(running) == _flag(wanted)
    numbers = _size(running), _size(wanted)
    if None not in numbers:
        return numbers[0] == numbers[1]
    try:
        return float(running) == float(wanted)
    except ValueError:
        pass
    if vtype == 'SET':
        return set(v.strip().upper() for v in running.split(',') if v.strip()) == \
            set(v.strip().upper() for v in wanted.split(',') if v.strip())
    if vtype in ('', 'ENUM'):
        return running.strip().upper() == wanted.strip().upper()
    return running == wanted


def same_basename(running, wanted):
    """Whether a log written at base name ``running`` (a path, None when off) is the one ``wanted`` names.

    A bare or ON-like ``wanted`` asks only that the log is on; a relative name is below the datadir; an
    extension is ignored, as the server does.
    """
    if not running:
        return False
    if wanted is None or _flag(wanted) == '1':
        return True
    path = _text(wanted).strip()
    head, tail = path.rsplit('/', 1) if '/' in path else ('', path)
    path = (head + '/' if head else '') + (tail.split('.', 1)[0] or tail)
    return running == path if path.startswith('/') else running.endswith('/' + path) or running == path


def settable(value, vtype=None):
    """The value as SET GLOBAL takes it: a bare option as ON, a size with its suffix as a number."""
    if value is None:
        return 'ON'
    if (vtype or '').upper() in _NUMERIC_TYPES and _size(value) is not None:
        return _size(value)
    return value


def compare(server, options, state='present'):
    """Compare ``options`` (as for edit()) with the running server, asking it which variables are dynamic.

    Returns dict(set={variable: value} (dynamic ones whose running value differs, as SET GLOBAL takes them),
    restart=[static options whose running value differs: only a restart applies them], dynamic=[options the
    server can change at run time], unknown=[options that are no variable of the server: their running value
    cannot be compared]). With ``state='absent'`` a static on/off option differs while it runs ON (``log_bin``).
    """
    names = dict((canonical(o), variable_name(o)) for o in options)
    info = server_variables(server, set(names.values()) | set(BASENAME_OF.values()))
    out = dict(set={}, restart=[], dynamic=[], unknown=[])
    for option, value in sorted(options.items()):
        key, var = canonical(option), names[canonical(option)]
        known = info.get(var)
        if known is None or (state == 'absent' and not known['dynamic'] and _flag(known['value']) is None):
            out['unknown'].append(key)
            continue
        if known['dynamic']:
            out['dynamic'].append(key)
        if state == 'absent':
            differs = not known['dynamic'] and _flag(known['value']) == '1'
        elif var in BASENAME_OF:
            differs = not same_basename((info.get(BASENAME_OF[var]) or {}).get('value'), value)
        else:
            differs = not same_value(known['value'], value, known['type'])
        if differs and known['dynamic']:
            out['set'][var] = settable(value, known['type'])
        elif differs:
            out['restart'].append(key)
    return out


def apply_dynamic(server, values, persist=False, check_mode=False):
    """Run SET GLOBAL (SET PERSIST) for ``values`` ({variable: value}, compare()'s ``set``); returns the statements."""
    statements = [dialect_sql(server.flavor, 'persist_global' if persist else 'set_global', name=name, value=value)
                  for name, value in sorted(values.items())]
    if not check_mode:
        for statement in statements:
            server.sql(statement)
    return statements
