#!/usr/bin/env bash
# The test command. With no mode it runs everything, as CI does (.ci/run): installs what is missing,
# then unit tests, integration tests against real lab servers (the publishing and community.mysql
# tests among them), ansible-lint (production profile, at the collection root) and ansible-test
# sanity. Exits non-zero on any failure. See TESTING.md.
#
#   bash scripts/test.sh [PYTEST-ARGS]            everything
#   bash scripts/test.sh unit [PYTEST-ARGS]       unit tests only: no server, no apt (a few seconds)
#   bash scripts/test.sh integration [PATHS|ARGS] integration tests: all, or the files/tests given
#   bash scripts/test.sh lint                     ansible-lint --profile production at the root
#   bash scripts/test.sh sanity [ANSIBLE-TEST-ARGS]  ansible-test sanity (e.g. --test validate-modules)
#   bash scripts/test.sh publish [PYTEST-ARGS]    tarball, galaxy-importer, changelog, docs site,
#                                                 ansible-builder, community.mysql side by side
#   bash scripts/test.sh docs [DEST]              build the documentation site (scripts/docs.sh)
#   bash scripts/test.sh floor [PYTEST-ARGS]      the controller-side playbook tests on the oldest supported
#                                                 ansible-core (scripts/floor.sh, a venv of its own)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

mode=all
case "${1:-}" in
  all|unit|integration|lint|sanity|publish|docs|floor) mode=$1; shift ;;
esac

venv_bin() {
  # The unit loop skips the apt check when the venv is current (same stamp as scripts/bootstrap.sh).
  local venv=${VENV:-$here/.venv}
  local want
  want=$(cat "$here/requirements.txt" "$here/requirements-test.txt" | sha1sum | cut -d' ' -f1)
  if [ "$1" = quick ] && [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha1" 2>/dev/null)" = "$want" ]; then
    mkdir -p "$here/.collections/ansible_collections/replicant"
    ln -sfn ../../.. "$here/.collections/ansible_collections/replicant/mysql"
    echo "$venv/bin"
  else
    bash "$here/scripts/bootstrap.sh" | tail -n 1
  fi
}

lint() {
  echo "== ansible-lint (production profile, collection root)"
  ansible-lint --offline --profile production
}

sanity() {
  echo "== ansible-test sanity"
  bash "$here/scripts/sanity.sh" "$@"
}

case $mode in
  unit)
    bin=$(venv_bin quick); export PATH="$bin:$PATH"
    echo "== pytest: unit tests"
    python -m pytest tests/unit "$@"
    ;;
  integration)
    bin=$(venv_bin full); export PATH="$bin:$PATH"
    echo "== pytest: integration tests"
    if [ $# -gt 0 ] && [ -e "${1%%::*}" ]; then
      python -m pytest "$@"
    else
      python -m pytest tests/integration "$@"
    fi
    ;;
  lint)
    bin=$(venv_bin quick); export PATH="$bin:$PATH"
    lint
    ;;
  sanity)
    bin=$(venv_bin quick); export PATH="$bin:$PATH"
    sanity "$@"
    ;;
  publish)
    bin=$(venv_bin full); export PATH="$bin:$PATH"
    echo "== pytest: publishing checks"
    python -m pytest tests/integration/test_publish.py tests/integration/test_community_mysql.py "$@"
    ;;
  docs)
    bin=$(venv_bin quick); export PATH="$bin:$PATH"
    bash "$here/scripts/docs.sh" "$@"
    ;;
  floor)
    bash "$here/scripts/floor.sh" "$@"
    ;;
  all)
    bin=$(venv_bin full); export PATH="$bin:$PATH"
    # Test files run side by side in REPLICANT_TEST_WORKERS processes (default 2), a whole file per process:
    # every file's lab has an address range of its own, the shared session lab one per process.
    echo "== pytest: unit and integration tests (${REPLICANT_TEST_WORKERS:-2} processes)"
    python -m pytest -n "${REPLICANT_TEST_WORKERS:-2}" --dist loadfile tests/unit tests/integration "$@"
    bash "$here/scripts/floor.sh"
    lint
    sanity
    ;;
esac
