#!/usr/bin/env bash
# Set up everything `make demo` and `make test` need on a fresh Debian machine.
# Idempotent: each step is skipped when what it builds is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

DEB_PACKAGES=(postgresql unixodbc odbc-postgresql tdsodbc rsync shellcheck chromium)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: needs root to install Debian packages: ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=$VENV/.requirements.sha256
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements.txt -r requirements-dev.txt
  echo "$want" >"$stamp"
fi

# The collection is found by ansible through collections/ (a link to this checkout).
mkdir -p collections/ansible_collections/erpops
ln -sfn ../../.. collections/ansible_collections/erpops/upgrade

# ansible-test sanity downloads a pip bootstrap script from a host this
# environment cannot reach; a local stand-in does the same job with ensurepip.
cache=$HOME/.ansible/test/cache
if [ ! -s "$cache/get_pip_24_2.py" ]; then
  mkdir -p "$cache"
  cp scripts/get_pip_standin.py "$cache/get_pip_24_2.py"
fi
echo "bootstrap: ready ($VENV)"
