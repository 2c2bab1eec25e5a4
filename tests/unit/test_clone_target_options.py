# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""clone.target_option_file: the logical load's client options, private on the target host (here: no transport)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

from ansible_collections.replicant.mysql.plugins.module_utils import clone


def test_private_directory_and_file_quoted_then_removed(tmp_path, monkeypatch):
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    login = dict(user='admin', password='a"b\\c d', unix_socket='/run/mysqld/mysqld.sock', host='', port='')
    directory = clone.target_option_file(login)
    try:
        assert os.path.dirname(directory) == str(tmp_path) and os.path.basename(directory).startswith('replicant-load-')
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        path = os.path.join(directory, 'client.cnf')
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            text = handle.read()
        # '' (an unset value on older Ansible) is left out, the password quoted by the option file's rules
        assert text == '[client]\nuser = "admin"\npassword = "a\\"b\\\\c d"\nsocket = "/run/mysqld/mysqld.sock"\n'
    finally:
        clone.remove_on_target(directory)
    assert not os.path.exists(directory)


def test_through_a_transport_the_password_is_on_the_input_not_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    seen = tmp_path / 'argv'
    transport = ['sh', '-c', 'printf "%s" "$*" > ' + str(seen) + '; exec sh -c "$1"', 'transport']
    directory = clone.target_option_file(dict(user='admin', password='s3cret-pw'), transport)
    try:
        assert 's3cret-pw' not in seen.read_text() and 'mktemp' in seen.read_text()
        with open(os.path.join(directory, 'client.cnf')) as handle:
            assert 's3cret-pw' in handle.read()
    finally:
        clone.remove_on_target(directory, transport)
    assert not os.path.exists(directory)
