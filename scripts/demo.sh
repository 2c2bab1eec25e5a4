#!/usr/bin/env bash
# The main job on the embedded default: install what is missing, bring up the local lab of real
# MariaDB servers (master lab1, replicas lab2 and lab3, one empty spare lab4) and run procedures on it:
# a write followed to every replica, clone_slave onto the spare, a switchover to lab2 and back, and
# the topology at the end.
# Extra arguments go to every ansible-playbook call (e.g. -v).
# LAB_SSH=1 bash scripts/demo.sh: the same with every lab host reached over SSH (docs/ssh_lab.md);
# a later run without it turns the lab back to local connections.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$here/scripts/bootstrap.sh" | tail -n 1)
export PATH="$bin:$PATH"
cd "$here"
lab_dir=${LAB_DIR:-/var/tmp/replicant-lab}
inventory=$lab_dir/inventory.yml
lab_ssh=false
if [ "${LAB_SSH:-0}" = 1 ]; then lab_ssh=true; fi
ansible-playbook playbooks/lab.yml -e lab_dir="$lab_dir" -e lab_spares=1 -e lab_ssh=$lab_ssh "$@"
ansible-playbook -i "$inventory" playbooks/check_replication.yml "$@"
ansible-playbook -i "$inventory" playbooks/clone_slave.yml -e target=lab4 -e force=true "$@"
# planned switchover to lab2 (its view of the new topology written to a second inventory), and back
ansible-playbook -i "$inventory" playbooks/promote_master.yml -e new_master=lab2 \
  -e write_inventory="$lab_dir/after-switchover.yml" "$@"
ansible-playbook -i "$lab_dir/after-switchover.yml" playbooks/promote_master.yml -e new_master=lab1 "$@"
ansible-playbook -i "$inventory" playbooks/topology.yml "$@"
echo "The lab runs; its inventory is $inventory. Remove it with:"
echo "  ansible-playbook playbooks/lab.yml -e lab_dir=$lab_dir -e lab_state=absent"
