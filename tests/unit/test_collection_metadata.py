"""The collection's metadata, without building anything: galaxy.yml, meta/, the changelog and the
README's layout (the checks with the real tools, and of the generated role READMEs and RST guides,
are in tests/integration/test_publish.py)."""
import os
import re
import subprocess

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(*path):
    with open(os.path.join(REPO, *path)) as handle:
        return yaml.safe_load(handle)


def tracked(folder):
    out = subprocess.run(['git', 'ls-files', folder], cwd=REPO, stdout=subprocess.PIPE, universal_newlines=True,
                         check=False).stdout.split()
    return out or [os.path.join(folder, f) for f in os.listdir(os.path.join(REPO, folder))]


def test_galaxy_yml_has_real_links_and_keeps_the_work_tree_out():
    galaxy = load('galaxy.yml')
    for key in ('repository', 'documentation', 'homepage', 'issues'):
        assert galaxy[key].startswith('https://') and 'example.invalid' not in galaxy[key], key
    ignored = set(galaxy['build_ignore'])
    assert {'tests', 'bench', 'scripts', '.pytest_cache', '.hypothesis', '.venv', '.venv-*', '.collections-*',
            '__pycache__', '*.tar.gz', 'docs/build'} <= ignored, ignored


def test_the_action_group_extends_community_mysql():
    group = load('meta', 'runtime.yml')['action_groups']['mysql']
    metadata = [entry['metadata'] for entry in group if isinstance(entry, dict)]
    assert metadata == [{'extend_group': ['community.mysql.all']}]
    for module in (entry for entry in group if isinstance(entry, str)):
        assert os.path.exists(os.path.join(REPO, 'plugins', 'modules', module + '.py')), module


def test_execution_environment_metadata_names_files_that_exist_and_agree_with_requirements():
    ee = load('meta', 'execution-environment.yml')
    assert ee['version'] == 1
    python, system = ee['dependencies']['python'], ee['dependencies']['system']
    with open(os.path.join(REPO, python)) as handle:
        ee_python = [line.split('#')[0].strip() for line in handle if line.split('#')[0].strip()]
    with open(os.path.join(REPO, 'requirements.txt')) as handle:
        runtime = [line.split('#')[0].strip() for line in handle if line.split('#')[0].strip()]
    assert ee_python == [r for r in runtime if not r.lower().startswith('ansible')]
    with open(os.path.join(REPO, system)) as handle:
        bindep = [line.split('#')[0].strip() for line in handle if line.split('#')[0].strip()]
    assert 'mariadb-client [platform:dpkg]' in bindep and 'mariadb-backup [platform:dpkg]' in bindep


def test_changelog_starts_cleanly():
    changelog = load('changelogs', 'changelog.yaml')
    config = load('changelogs', 'config.yaml')
    assert 'ancestor' in changelog and isinstance(changelog.get('releases'), dict)
    assert config['notesdir'] == 'fragments' and os.path.isdir(os.path.join(REPO, 'changelogs', 'fragments'))
    for name in os.listdir(os.path.join(REPO, 'changelogs', 'fragments')):
        if name.startswith('.'):
            continue
        assert name.endswith(('.yml', '.yaml')), name
        fragment = load('changelogs', 'fragments', name)
        sections = {s[0] for s in config['sections']} | {config['prelude_section_name'], config['trivial_section_name']}
        assert set(fragment) <= sections, (name, set(fragment) - sections)


def test_readme_layout_names_every_library_file():
    with open(os.path.join(REPO, 'README.md')) as handle:
        readme = handle.read()
    layout = readme[readme.index('## Layout'):]
    layout = layout[:layout.index('\n## ', 1)] if '\n## ' in layout[1:] else layout
    for path in tracked('plugins/module_utils'):
        name = os.path.basename(path)
        if name.endswith('.py') and name != '__init__.py':
            assert re.search(r'`%s`' % re.escape(name), layout), '%s is not in the README layout' % name
