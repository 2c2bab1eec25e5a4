#!/usr/bin/env bash
# The test command: installs what is missing, then runs unit tests, integration tests against real
# lab servers, ansible-lint (production profile) and ansible-test sanity. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$here/scripts/bootstrap.sh" | tail -n 1)
export PATH="$bin:$PATH"
cd "$here"

echo "== pytest: unit and integration tests"
python -m pytest tests/unit tests/integration "$@"

echo "== ansible-lint (production profile)"
ansible-lint --offline --profile production roles playbooks

echo "== ansible-test sanity"
bash "$here/scripts/sanity.sh"
