#!/usr/bin/env bash
# Build the documentation site with antsibull-docs: the module and role reference generated from the
# collection's own docs, and the guides of docs/ (rendered to docs/docsite/rst by scripts/docs_rst.py)
# as extra docs. Lints first (antsibull-docs lint-collection-docs) and fails on any error or Sphinx
# warning.
#   bash scripts/docs.sh [DEST]     # the HTML site goes to DEST (default: docs/build/html)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$here/scripts/publish_venv.sh" | tail -n 1)
export PATH="$bin:$PATH"
dest=${1:-$here/docs/build/html}
work=$(mktemp -d /tmp/replicant-docs-XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== docs: the RST guides are current (scripts/docs_rst.py)"
python "$here/scripts/docs_rst.py" --check

# The collection alone on the collections path, as the tracked files (a work tree's venvs, labs and
# caches stay out), so that ansible-doc sees what a user installs.
col=$work/collections/ansible_collections/replicant/mysql
mkdir -p "$col"
(cd "$here" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$col")
export ANSIBLE_COLLECTIONS_PATH=$work/collections

echo "== docs: antsibull-docs lint-collection-docs"
antsibull-docs lint-collection-docs --plugin-docs --validate-collection-refs=self "$col"

echo "== docs: antsibull-docs site"
mkdir -m 0755 "$work/site" "$work/site/rst"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$work/site" \
  --project replicant.mysql --title 'replicant.mysql' --no-add-antsibull-docs-version replicant.mysql
cd "$work/site"
# Offline: no intersphinx downloads; docs.ansible.com labels resolve to links (scripts/sphinx_offline_links.py).
cat >> conf.py <<PY

# added by scripts/docs.sh
import sys
sys.path.insert(0, '$here/scripts')
intersphinx_mapping = {}
extensions.append('sphinx_offline_links')
PY
antsibull-docs collection --use-current --fail-on-error --dest-dir rst --no-add-antsibull-docs-version \
  replicant.mysql
sphinx-build -M html rst build -c . -W --keep-going -q
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
cp -r build/html "$dest"
echo "docs: site written to $dest ($(find "$dest" -name '*.html' | wc -l) pages)"
