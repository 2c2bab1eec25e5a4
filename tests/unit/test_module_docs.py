"""Every module's DOCUMENTATION, EXAMPLES and RETURN parse as YAML (a stray ': ' breaks ansible-doc and the
galaxy import, which only the slow publish tests would otherwise notice)."""
import ast
import pathlib

import pytest
import yaml

MODULES = sorted(pathlib.Path(__file__).resolve().parents[2].joinpath('plugins', 'modules').glob('*.py'))


def blocks(path):
    for node in ast.parse(path.read_text()).body:
        name = getattr(node.targets[0], 'id', None) if isinstance(node, ast.Assign) else None
        if name in ('DOCUMENTATION', 'EXAMPLES', 'RETURN'):
            yield node.targets[0].id, node.value.value


@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.stem)
def test_documentation_examples_and_return_parse(path):
    found = dict(blocks(path))
    assert set(found) == {'DOCUMENTATION', 'EXAMPLES', 'RETURN'}, path
    for name, text in found.items():
        assert yaml.safe_load(text), '%s %s is empty' % (path.stem, name)
