# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A filter that says which of a role's numeric options are out of range (the roles check them before any change)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: out_of_range
short_description: Which options are not whole numbers within their range
version_added: 0.2.0
description:
  - Takes a dict of option name to C([value, lowest, highest]) and returns a message for each option whose value is
    not a whole number from C(lowest) to C(highest) (a boolean or a fraction is not one). The roles check their
    options with it before anything changes.
options:
  _input:
    description: Option name to C([value, lowest, highest]).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Refuse options out of range before anything runs
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}. Nothing was changed."
  vars:
    problems: "{{ {'my_timeout': [my_timeout, 1, 86400]} | replicant.mysql.out_of_range }}"
'''

RETURN = r'''
_value:
  description: One message per option out of range (C(my_timeout must be a whole number from 1 to 86400, not 0)).
  type: list
  elements: str
'''


def _whole(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.lstrip('-').isdigit() else None


def out_of_range(options):
    problems = []
    for name in sorted(options):
        value, low, high = options[name]
        number = _whole(value)
        if number is None or not low <= number <= high:
            problems.append('%s must be a whole number from %s to %s, not %s' % (name, low, high, value))
    return problems


class FilterModule(object):
    def filters(self):
        return {'out_of_range': out_of_range}
