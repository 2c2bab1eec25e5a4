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

_SECTION = re.compile(r'^\s*\[([^\]]+)\]\s*(?:[#;].*)?$')
_OPTION = re.compile(r'^\s*([A-Za-z0-9_.-]+)\s*(?:=\s*(.*?))?\s*$')

# Server options the collection sets, and whether the server can change them at run time.
# Anything not listed is treated as static (a restart applies it).
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


def _comparable(value):
    text = 'ON' if value is None else _text(value)
    upper = text.strip().upper()
    return {'ON': '1', 'TRUE': '1', 'OFF': '0', 'FALSE': '0'}.get(upper, upper)


def pending_restart(server, options, state='present'):
    """Static options whose running value differs from ``options`` (a restart is still owed).

    Covers a restart that an earlier run wanted but did not get (it failed after writing the file).
    ``log_bin`` compares as on/off: its file value is a base name, the server reports whether it logs.
    """
    pending = []
    for name, value in sorted(options.items()):
        key = canonical(name)
        if is_dynamic(key) or key not in DYNAMIC:
            continue
        running = server.value(dialect_sql(server.flavor, 'get_global', name=key))
        if key == 'log_bin' or state == 'absent':
            differs = _comparable(running) != ('0' if state == 'absent' else '1')
        else:
            differs = _comparable(running) != _comparable(value)
        if differs:
            pending.append(key)
    return pending


def apply_dynamic(server, options, persist=False, check_mode=False):
    """Set the dynamic ``options`` whose running value differs; returns the statements run."""
    statements = []
    for name, value in sorted(options.items()):
        if not is_dynamic(name):
            continue
        key = canonical(name)
        running = server.value(dialect_sql(server.flavor, 'get_global', name=key))
        if _comparable(running) == _comparable(value):
            continue
        wanted = 'ON' if value is None else value
        statements.append(dialect_sql(server.flavor, 'persist_global' if persist else 'set_global', name=key, value=wanted))
    if not check_mode:
        for statement in statements:
            server.sql(statement)
    return statements
