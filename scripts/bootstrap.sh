#!/usr/bin/env bash
# Install what replicant.mysql needs on a Debian machine, only what is missing:
# the MariaDB server, client and backup tool, Python's venv, OpenSSH (the lab's SSH mode), HAProxy (the routing tests and the
# bench start private ones; the package's own service is not used), and a virtualenv (.venv, or $VENV)
# with requirements-test.txt. Safe to run again; prints the venv's bin directory last.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
packages=(mariadb-server mariadb-client mariadb-backup python3-venv openssh-server openssh-client haproxy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

stamp=$venv/.requirements.sha1
want=$(cat "$here/requirements.txt" "$here/requirements-test.txt" | sha1sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: preparing the virtualenv $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$here/requirements-test.txt" >&2
  echo "$want" > "$stamp"
fi
mkdir -p "$here/.collections/ansible_collections/replicant"
ln -sfn ../../.. "$here/.collections/ansible_collections/replicant/mysql"
echo "$venv/bin"
