#!/usr/bin/env bash
# The main job on the embedded default: install what is missing, bring up the local lab of real
# MariaDB servers and run a procedure on it (a write on the master followed to every replica).
# Extra arguments go to every ansible-playbook call (e.g. -e lab_servers=4).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$here/scripts/bootstrap.sh" | tail -n 1)
export PATH="$bin:$PATH"
cd "$here"
lab_dir=${LAB_DIR:-/var/tmp/replicant-lab}
ansible-playbook playbooks/lab.yml -e lab_dir="$lab_dir" "$@"
ansible-playbook -i "$lab_dir/inventory.yml" playbooks/check_replication.yml "$@"
echo "The lab runs; its inventory is $lab_dir/inventory.yml. Remove it with:"
echo "  ansible-playbook playbooks/lab.yml -e lab_dir=$lab_dir -e lab_state=absent"
