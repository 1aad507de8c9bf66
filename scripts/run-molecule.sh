#!/usr/bin/env bash
# Run every molecule scenario of the collection (extensions/molecule/*).
set -euo pipefail
cd "$(dirname "$0")/.."
export MOLECULE_PYTHON="$PWD/.venv/bin/python"
cd extensions
status=0
for config in molecule/*/molecule.yml; do
  name=$(basename "$(dirname "$config")")
  echo "--- molecule scenario $name"
  molecule test -s "$name" || status=1
done
exit $status
