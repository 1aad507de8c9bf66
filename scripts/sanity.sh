#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection in its own ansible_collections tree.
# ansible-test needs that layout, and it must not sit inside this git checkout
# (ansible-test would then only see files git tracks there). Extra arguments go
# to ansible-test, e.g. scripts/sanity.sh --test pep8 --test validate-modules
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
base=$(mktemp -d "${TMPDIR:-/tmp}/erpops-sanity.XXXXXX")
trap 'rm -rf "$base"' EXIT
tree=$base/ansible_collections/erpops/upgrade
mkdir -p "$tree"
rsync -a --exclude .venv --exclude collections --exclude .lab --exclude tests/output --exclude .git \
  --exclude __pycache__ --exclude .pytest_cache --exclude .hypothesis ./ "$tree/"
cd "$tree"
"$ROOT/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"
