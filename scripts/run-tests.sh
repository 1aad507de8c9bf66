#!/usr/bin/env bash
# The whole gate: sanity, lint, unit tests, lab integration tests, the built collection, molecule.
# Every stage runs; the script fails at the end if any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
failed=()
stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== $name"
  if "$@"; then
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
    failed+=("$name")
  fi
}
stage sanity make --no-print-directory sanity
stage lint make --no-print-directory lint
stage units make --no-print-directory units
stage integration make --no-print-directory integration
stage packaging make --no-print-directory packaging
stage molecule make --no-print-directory molecule
if ((${#failed[@]})); then
  echo "make test: FAILED stages: ${failed[*]}"
  exit 1
fi
echo "make test: all stages passed"
