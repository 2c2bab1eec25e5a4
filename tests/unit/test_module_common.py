# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module shares (module_utils/module_common.py): the ranges of its options."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.replicant.mysql.plugins.module_utils.module_common import range_problems


def test_option_ranges_are_checked_before_anything_runs():
    assert range_problems(dict(timeout=60, workers=4, lag_threshold=0)) == []
    assert range_problems(dict(timeout=0)) == ['timeout must be from 1 to 86400, not 0']
    assert range_problems(dict(timeout=True, workers=0, wait_timeout=-1)) == [
        'timeout must be from 1 to 86400, not True', 'wait_timeout must be from 0.001 to 86400, not -1',
        'workers must be from 1 to 256, not 0']
