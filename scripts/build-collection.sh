#!/usr/bin/env bash
# Build the collection tarball (ansible-galaxy collection build) into OUT (default .build/).
# Galaxy and Automation Hub require galaxy.yml's `repository`; this project has no public repository yet,
# so galaxy.yml names none and the build fills in where the source really is, in this order:
#   ERPOPS_REPOSITORY_URL, the git remote `origin`, or the file:// URL of this checkout.
# Prints the tarball's path as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/.build}
mkdir -p "$OUT"
url=${ERPOPS_REPOSITORY_URL:-$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)}
url=${url:-file://${ROOT// /%20}}
stage=$(mktemp -d "${TMPDIR:-/tmp}/erpops-build.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# The staging copy holds what git tracks plus the working changes; build_ignore then leaves out the rest.
git -C "$ROOT" ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -e "$ROOT/$file" ] || continue # tracked, but deleted in the working tree
  mkdir -p "$stage/$(dirname "$file")"
  cp -P "$ROOT/$file" "$stage/$file"
done
if ! grep -q '^repository:' "$stage/galaxy.yml"; then
  printf 'repository: %s\n' "$url" >>"$stage/galaxy.yml"
fi
built=$("$ROOT/.venv/bin/ansible-galaxy" collection build --force --output-path "$OUT" "$stage")
echo "$built" >&2
echo "${built##* at }"
