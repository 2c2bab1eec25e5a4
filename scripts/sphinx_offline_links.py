"""Sphinx extension for building the docs site offline (scripts/docs.sh).

The generated reference pages link to labels of docs.ansible.com (ansible-core's pages and other
collections' modules), which intersphinx resolves only with network access. This resolves those
labels to their docs.ansible.com addresses instead; any other unresolved reference stays a warning,
which the build turns into an error.
"""
import re

from docutils import nodes

BASE = 'https://docs.ansible.com/ansible/latest/'
# the docs.ansible.com labels antsibull-docs' page templates refer to
CORE = {
    'action_plugins': 'plugins/action.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
    'callback_plugins': 'plugins/callback.html',
    'collections_keyword': 'collections_guide/collections_using_playbooks.html',
    'common_return_values': 'reference_appendices/common_return_values.html',
    'list_of_callback_plugins': 'collections/callback_index_callback.html',
    'list_of_collections': 'collections/index.html',
    'module_defaults': 'playbook_guide/playbooks_module_defaults.html',
}
PLUGIN = re.compile(r'^ansible_collections\.([a-z0-9_]+)\.([a-z0-9_]+)\.([a-z0-9_]+)_(module|role)$')


def resolve(app, env, node, contnode):
    if node.get('refdomain') != 'std' or node.get('reftype') != 'ref':
        return None
    target = node.get('reftarget', '')
    url = None
    if target in CORE:
        url = BASE + CORE[target]
    else:
        match = PLUGIN.match(target)
        if match and (match.group(1), match.group(2)) != ('replicant', 'mysql'):
            url = BASE + 'collections/%s/%s/%s_%s.html' % match.groups()
    if url is None:
        return None
    reference = nodes.reference('', '', internal=False, refuri=url)
    reference += contnode
    return reference


def setup(app):
    app.connect('missing-reference', resolve)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
