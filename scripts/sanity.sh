#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/replicant/mysql: copy the
# tracked files there (a copy, not a link, so that ansible-test sees a plain tree) and run it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/replicant-sanity-XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/replicant/mysql
mkdir -p "$dest"
(cd "$here" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$dest")
cd "$dest"
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Tests that need the network, containers or tools not installed here are skipped; see README.md.
ansible-test sanity --local --python "$python_version" --color no \
  --skip-test pylint --skip-test validate-modules-deprecation 2>&1 | tail -n 40
