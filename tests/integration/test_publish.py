"""The collection as a publisher ships it: the tarball, the Galaxy/Automation Hub importer, the
changelog, the documentation site and an execution-environment build context.

The tools live in .venv-publish (scripts/publish_venv.sh, requirements-publish.txt), not in .venv.
"""
import glob
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

from conftest import BIN, REPO, ansible_env

IMPORTER_CONFIG = """[galaxy-importer]
# offline: ansible-test (it needs containers) and flake8 are not run; ansible-lint runs offline
run_ansible_test = False
run_flake8 = False
run_ansible_lint = True
offline_ansible_lint = True
run_ansible_doc = True
check_changelog = True
tmp_root_dir = {tmp}
"""


def sh(cmd, env=None, cwd=None, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd or REPO, env=env or ansible_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=timeout)
    assert proc.returncode == 0, '%s failed:\n%s' % (' '.join(cmd), proc.stdout)
    return proc.stdout


@pytest.fixture(scope='module')
def publish_bin():
    out = sh(['bash', os.path.join(REPO, 'scripts', 'publish_venv.sh')])
    return out.strip().splitlines()[-1]


def publish_env(publish_bin, **more):
    env = ansible_env()
    env['PATH'] = publish_bin + os.pathsep + env['PATH']
    env.update(more)
    return env


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('build')
    sh([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', REPO, '--output-path', str(out)])
    found = glob.glob(str(out / 'replicant-mysql-*.tar.gz'))
    assert len(found) == 1
    return found[0]


def test_tarball_ships_the_collection_and_nothing_of_the_work_tree(tarball):
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    top = {n.split('/', 1)[0] for n in names}
    assert {'plugins', 'roles', 'playbooks', 'meta', 'docs', 'changelogs', 'README.md', 'LICENSE',
            'bindep.txt', 'MANIFEST.json', 'FILES.json'} <= top, sorted(top)
    for unwanted in ('tests', 'bench', 'scripts', '.venv', '.venv-publish', '.pytest_cache', '.hypothesis',
                     '.collections', '.lab', '.ci', 'ansible.cfg', 'requirements-test.txt', 'requirements-publish.txt'):
        assert unwanted not in top, unwanted
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    for role in os.listdir(os.path.join(REPO, 'roles')):
        assert 'roles/%s/README.md' % role in names, role
    assert 'meta/execution-environment.yml' in names and 'meta/ee-requirements.txt' in names
    assert 'changelogs/changelog.yaml' in names and 'changelogs/config.yaml' in names


def test_role_readmes_are_generated_from_the_current_argument_specs():
    # the importer needs a README per role; they are generated so that they say what the specs say
    proc = subprocess.run([sys.executable, os.path.join(REPO, 'scripts', 'role_readmes.py'), '--check'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_galaxy_importer_imports_it_without_a_warning(tarball, publish_bin, tmp_path):
    config = tmp_path / 'galaxy-importer.cfg'
    config.write_text(IMPORTER_CONFIG.format(tmp=tmp_path))
    out = sh([os.path.join(publish_bin, 'python'), '-m', 'galaxy_importer.main', tarball], cwd=str(tmp_path),
             env=publish_env(publish_bin, GALAXY_IMPORTER_CONFIG=str(config)))
    problems = [line for line in out.splitlines() if line.startswith(('WARNING', 'ERROR'))]
    assert not problems, out
    assert 'Importer processing completed successfully' in out, out
    assert '...ansible-lint run complete' in out, out


def test_changelog_lints(publish_bin):
    sh([os.path.join(publish_bin, 'antsibull-changelog'), 'lint'], env=publish_env(publish_bin))
    with open(os.path.join(REPO, 'changelogs', 'changelog.yaml')) as handle:
        changelog = yaml.safe_load(handle)
    with open(os.path.join(REPO, 'galaxy.yml')) as handle:
        version = yaml.safe_load(handle)['version']

    def key(v):
        return tuple(int(p) for p in v.split('-')[0].split('.'))
    released = sorted((changelog.get('releases') or {}).keys(), key=key)
    # galaxy.yml carries the last release or the next one, never an older one
    assert not released or key(version) >= key(released[-1]), (version, released)


def test_docs_site_builds_without_errors(publish_bin, tmp_path):
    out = sh(['bash', os.path.join(REPO, 'scripts', 'docs.sh'), str(tmp_path / 'html')], env=publish_env(publish_bin))
    assert 'docs: site written' in out, out
    pages = tmp_path / 'html' / 'collections' / 'replicant' / 'mysql'
    for module in glob.glob(os.path.join(REPO, 'plugins', 'modules', '*.py')):
        assert (pages / ('%s_module.html' % os.path.basename(module)[:-3])).exists(), module
    for role in os.listdir(os.path.join(REPO, 'roles')):
        assert (pages / ('%s_role.html' % role)).exists(), role
    for guide in ('community_mysql', 'execution_environment', 'promote_master', 'clone_slave'):
        assert (pages / 'docsite' / ('%s.html' % guide)).exists(), guide


def test_ansible_builder_context_installs_pymysql_and_the_debian_packages(tarball, publish_bin, tmp_path):
    # the definition users copy (docs/ee/execution-environment.yml), with the tarball next to it
    with open(os.path.join(REPO, 'docs', 'ee', 'execution-environment.yml')) as handle:
        definition = yaml.safe_load(handle)
    name = os.path.basename(tarball)
    definition['dependencies']['galaxy']['collections'][0]['name'] = '/tmp/collections/%s' % name
    definition['additional_build_files'][0]['src'] = name
    (tmp_path / 'execution-environment.yml').write_text(yaml.safe_dump(definition))
    os.symlink(tarball, str(tmp_path / name))
    env = publish_env(publish_bin)
    sh([os.path.join(publish_bin, 'ansible-builder'), 'create', '-f', 'execution-environment.yml', '-c', 'context'],
       env=env, cwd=str(tmp_path))
    context = tmp_path / 'context'
    assert (context / '_build' / 'collections' / name).exists()
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert requirements['collections'][0]['type'] == 'file'
    containerfile = [p for p in ('Containerfile', 'Dockerfile') if (context / p).exists()]
    assert containerfile, sorted(os.listdir(str(context)))
    assert 'introspect.py introspect' in (context / containerfile[0]).read_text()

    # the build's galaxy stage (install the collection) and introspection, run here with the
    # context's own script: what the image will get
    collections = tmp_path / 'share'
    sh([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', str(context / '_build' / 'collections' / name),
        '-p', str(collections)], env=dict(env, ANSIBLE_COLLECTIONS_PATH=str(collections)), cwd=str(tmp_path))
    assert (collections / 'ansible_collections' / 'replicant' / 'mysql' / 'MANIFEST.json').exists()
    sh([os.path.join(publish_bin, 'python'), str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect',
        str(collections), '--write-pip', str(context / 'requirements.txt'), '--write-bindep', str(context / 'bindep.txt')],
       env=env, cwd=str(tmp_path))
    pip = (context / 'requirements.txt').read_text()
    bindep = (context / 'bindep.txt').read_text()
    assert 'PyMySQL' in pip and 'ansible-core' not in pip, pip
    for package in ('mariadb-client [platform:dpkg]', 'mariadb-backup [platform:dpkg]', 'mariadb [platform:rpm]'):
        assert package in bindep, bindep
