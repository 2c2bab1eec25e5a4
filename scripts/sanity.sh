#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/replicant/mysql: copy the
# tracked files (and new ones git does not ignore) there (a copy, not a link, so that ansible-test sees a plain tree) and run it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/replicant-sanity-XXXXXX)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/replicant/mysql
mkdir -p "$dest"
(cd "$here" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$dest")
cd "$dest"
# ansible-test bootstraps pip in its per-test venvs with a script it downloads from a host this
# network cannot reach. The same job, done with the standard library's ensurepip and PyPI:
pip_version=$(python -c 'from ansible_test._internal.python_requirements import PIP_VERSION; print(PIP_VERSION)' 2>/dev/null || echo 24.2)
shim=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$shim" ]; then
  mkdir -p "$(dirname "$shim")"
  cat > "$shim" <<'PY'
"""Offline stand-in for get-pip.py, written by replicant.mysql's scripts/sanity.sh."""
import ensurepip
import os
import subprocess
import sys
ensurepip.bootstrap(upgrade=True)
os.environ.pop('PIP_CONFIG_FILE', None)  # ensurepip points it at /dev/null; keep the host's pip config
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
PY
fi
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Tests that need the network, containers or tools not installed here are skipped; see README.md.
# The changelog test (antsibull-changelog lint of changelogs/) runs. Arguments go to ansible-test,
# e.g. `bash scripts/sanity.sh --test changelog` or `--test validate-modules`.
ansible-test sanity --local --python "$python_version" --color no \
  --requirements --skip-test pslint --skip-test shellcheck "$@"
