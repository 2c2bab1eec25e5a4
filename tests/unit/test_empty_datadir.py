# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lifecycle.empty_datadir: what clone_slave's target stop leaves for the copy (pure file-system logic)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd

import pytest

from ansible_collections.replicant.mysql.plugins.module_utils.lifecycle import LifecycleError, empty_datadir

ME = pwd.getpwuid(os.geteuid()).pw_name


def test_empties_and_is_idempotent(tmp_path):
    datadir = tmp_path / 'data'
    (datadir / 'mysql').mkdir(parents=True)
    (datadir / 'mysql' / 'user.MAD').write_text('x')
    (datadir / 'ibdata1').write_text('x')
    os.symlink('/etc', str(datadir / 'link'))  # a link inside goes, its target stays
    assert empty_datadir(str(datadir), ME) is True
    assert os.listdir(str(datadir)) == []
    assert os.path.isdir('/etc')
    assert oct(os.stat(str(datadir)).st_mode & 0o7777) == oct(0o750)
    assert empty_datadir(str(datadir), ME) is False  # nothing left to do


def test_creates_a_missing_datadir(tmp_path):
    datadir = tmp_path / 'new' / 'data'
    assert empty_datadir(str(datadir), ME) is True
    assert os.path.isdir(str(datadir)) and os.listdir(str(datadir)) == []


def test_check_mode_changes_nothing(tmp_path):
    datadir = tmp_path / 'data'
    datadir.mkdir()
    (datadir / 'ibdata1').write_text('x')
    assert empty_datadir(str(datadir), ME, check_mode=True) is True
    assert os.listdir(str(datadir)) == ['ibdata1']


@pytest.mark.parametrize('path', ['', 'relative/data', '/', '/tmp/../'])
def test_refuses_dangerous_paths(path):
    with pytest.raises(LifecycleError, match='absolute path other than /'):
        empty_datadir(path, ME)


def test_refuses_a_symbolic_link_or_a_file(tmp_path):
    real = tmp_path / 'real'
    real.mkdir()
    (real / 'keep').write_text('x')
    link = tmp_path / 'link'
    os.symlink(str(real), str(link))
    with pytest.raises(LifecycleError, match='not a directory'):
        empty_datadir(str(link), ME)
    assert os.listdir(str(real)) == ['keep']
    afile = tmp_path / 'file'
    afile.write_text('x')
    with pytest.raises(LifecycleError, match='not a directory'):
        empty_datadir(str(afile), ME)


def test_refuses_an_unknown_user(tmp_path):
    with pytest.raises(LifecycleError, match='no such system user'):
        empty_datadir(str(tmp_path), 'no-such-user-here')
