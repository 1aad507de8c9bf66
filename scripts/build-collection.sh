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
url=${url:-file://$ROOT}
stage=$(mktemp -d "${TMPDIR:-/tmp}/erpops-build.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# The staging copy holds what git tracks plus the working changes; build_ignore then leaves out the rest.
git -C "$ROOT" ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 cp --parents -t "$stage" 2>/dev/null || true)
grep -q '^repository:' "$stage/galaxy.yml" || printf 'repository: %s\n' "$url" >>"$stage/galaxy.yml"
"$ROOT/.venv/bin/ansible-galaxy" collection build --force --output-path "$OUT" "$stage" >&2
ls -t "$OUT"/erpops-upgrade-*.tar.gz | head -1
