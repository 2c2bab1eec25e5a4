#!/usr/bin/env bash
# The declared ansible-core floor (meta/runtime.yml: requires_ansible): run the controller-side playbook
# tests with the oldest supported ansible-core, from a venv of its own ($FLOOR_VENV, default .venv-floor,
# made from requirements-floor.txt). Arguments go to pytest (default: the multi-installation tests, which
# run topology, clone_slave, relocate, setup_replication, check_replication, promote_master and failover).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash "$here/scripts/bootstrap.sh" > /dev/null   # the Debian packages and the collection link
venv=${FLOOR_VENV:-$here/.venv-floor}
stamp=$venv/.requirements.sha1
want=$(sha1sum < "$here/requirements-floor.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "floor: preparing the virtualenv $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$here/requirements-floor.txt" >&2
  echo "$want" > "$stamp"
fi
echo "== pytest on the ansible-core floor: $("$venv/bin/ansible" --version | sed -n 1p)"
paths=()
for arg in "$@"; do [ -e "${arg%%::*}" ] && paths+=("$arg"); done
[ ${#paths[@]} -gt 0 ] || set -- tests/integration/test_installations.py "$@"
PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
