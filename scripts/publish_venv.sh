#!/usr/bin/env bash
# The publishing tools (galaxy-importer, antsibull-changelog, antsibull-docs, ansible-builder, Sphinx,
# pandoc) in a virtualenv of their own, .venv-publish (or $VENV_PUBLISH), so that the test venv
# .venv stays lean. Installs from requirements-publish.txt when missing or changed; safe to run
# again (a no-op then). Prints the venv's bin directory last.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV_PUBLISH:-$here/.venv-publish}
stamp=$venv/.requirements.sha1
want=$(sha1sum < "$here/requirements-publish.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "publish_venv: preparing the virtualenv $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$here/requirements-publish.txt" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin"
