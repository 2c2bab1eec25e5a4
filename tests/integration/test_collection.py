"""The collection as a user gets it: built, installed, documented, its playbooks run by name."""
import glob
import os
import shutil
import subprocess
import tempfile

from conftest import BIN, REPO, ansible_env

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, 'plugins', 'modules', '*.py')))


def sh(cmd, env, cwd):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False, timeout=300)
    assert proc.returncode == 0, '%s failed:\n%s' % (' '.join(cmd), proc.stdout)
    return proc.stdout


def test_build_install_document_and_run_a_playbook_by_name():
    work = tempfile.mkdtemp(prefix='replicant-build-', dir='/var/tmp')
    os.chmod(work, 0o755)  # the lab's servers run as mysql
    try:
        build_install_and_run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_install_and_run(work):
    env = ansible_env()
    env['ANSIBLE_COLLECTIONS_PATH'] = os.path.join(work, 'collections')
    sh([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', REPO, '--output-path', work], env, work)
    tarball = glob.glob(os.path.join(work, 'replicant-mysql-*.tar.gz'))
    assert len(tarball) == 1
    listing = sh(['tar', 'tzf', tarball[0]], env, work)
    assert 'plugins/modules/mysql_change_master.py' in listing and '.lab' not in listing
    sh([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', tarball[0], '-p',
        os.path.join(work, 'collections')], env, work)

    for module in MODULES:
        doc = sh([os.path.join(BIN, 'ansible-doc'), 'replicant.mysql.%s' % module], env, work)
        assert 'EXAMPLES' in doc and 'RETURN VALUES' in doc, module
    for role in sorted(os.listdir(os.path.join(REPO, 'roles'))):
        doc = sh([os.path.join(BIN, 'ansible-doc'), '-t', 'role', 'replicant.mysql.%s' % role], env, work)
        assert 'ENTRY POINT' in doc and 'main' in doc, role

    lab_dir = os.path.join(work, 'lab')
    common = ['-e', 'lab_dir=%s' % lab_dir, '-e', 'lab_base_address=127.0.0.71', '-e', 'lab_servers=2']
    try:
        sh([os.path.join(BIN, 'ansible-playbook'), 'replicant.mysql.lab'] + common, env, work)
        out = sh([os.path.join(BIN, 'ansible-playbook'), '-i', os.path.join(lab_dir, 'inventory.yml'),
                  'replicant.mysql.check_replication'], env, work)
        assert "lab2 has the master's marker" in out
    finally:
        sh([os.path.join(BIN, 'ansible-playbook'), 'replicant.mysql.lab', '-e', 'lab_state=absent'] + common, env, work)
    assert not os.path.exists(lab_dir)
