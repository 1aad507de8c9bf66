"""A fresh clone where a root user would put it: a 0700 home folder, a path with spaces.

The clone is made with ``git clone`` of this repository (its committed tree plus the tracked changes not yet
committed, as ``git stash create`` records them), under a temporary HOME whose folders are 0700. It reuses this
checkout's virtualenv through a ``.venv`` link, so nothing is installed. ``make lab-up`` twice (the second changes
nothing) and ``make lab-down`` run there as a user would run them: no warning, the user's folders keep their
permissions, and the lab's PostgreSQL answers on its socket outside the clone.
"""

import hashlib
import os
import re
import shutil
import stat
import subprocess
import tempfile

import pytest

from tools.k2lab import cluster as k2cluster

from conftest import REPO


def _git(*args, cwd=REPO):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _recap(output):
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


@pytest.fixture(scope="module")
def clone():
    top = tempfile.mkdtemp(prefix="erpops-clone-")  # 0700, as mkdtemp makes it
    home = os.path.join(top, "home")
    os.mkdir(home, 0o700)
    parent = os.path.join(home, "erp work")
    os.mkdir(parent, 0o700)
    path = os.path.join(parent, "erpops upgrade")
    revision = _git("stash", "create") or _git("rev-parse", "HEAD")
    _git("clone", "-q", REPO, path, cwd=top)
    _git("checkout", "-q", revision, cwd=path)
    venv = os.path.realpath(os.path.join(REPO, ".venv"))
    os.symlink(venv, os.path.join(path, ".venv"))
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "MAKE", "PYTHON", "VIRTUAL_ENV", "K2LAB_")) and key not in ("MFLAGS",)}
    env["HOME"] = home
    try:
        yield {"top": top, "home": home, "parent": parent, "path": path, "env": env}
    finally:
        k2cluster.remove(os.path.join(path, ".lab"))
        shutil.rmtree(top, ignore_errors=True)


def _make(clone, target):
    result = subprocess.run(["make", "--no-print-directory", target], cwd=clone["path"], env=clone["env"],
                            capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_the_shared_venv_is_ready_for_the_clone(clone):
    """The clone's bootstrap must find the venv up to date (else it would install into the shared venv)."""
    stamp = os.path.join(clone["path"], ".venv", ".requirements.sha256")
    with open(stamp, encoding="utf-8") as handle:
        recorded = handle.read().strip()
    requirements = b"".join(open(os.path.join(clone["path"], name), "rb").read()
                            for name in ("requirements.txt", "requirements-dev.txt"))
    assert recorded == hashlib.sha256(requirements).hexdigest(), "run `make setup` in this checkout first"


def test_lab_up_down_in_a_private_folder_with_spaces(clone):
    first = _make(clone, "lab-up")
    assert "WARNING" not in first, first
    assert _recap(first)["changed"] == 1

    lab_dir = os.path.join(clone["path"], ".lab")
    cluster = k2cluster.load(lab_dir)
    assert cluster is not None and k2cluster.is_running(cluster)
    # The cluster lives in a folder of its own, keyed by the lab folder, that the postgres user reaches.
    assert os.path.dirname(cluster.data_dir) == k2cluster.cluster_home(lab_dir)
    assert not cluster.data_dir.startswith(clone["top"]) and " " not in cluster.socket_dir
    databases = k2cluster.psql(cluster, "SELECT datname FROM pg_database WHERE datname LIKE 'alfa_%' ORDER BY 1").split()
    assert "alfa_CONF" in databases, databases
    # The user's folders keep their permissions.
    assert (_mode(clone["top"]), _mode(clone["home"]), _mode(clone["parent"])) == (0o700, 0o700, 0o700)

    again = _make(clone, "lab-up")
    assert "WARNING" not in again, again
    assert _recap(again)["changed"] == 0

    down = _make(clone, "lab-down")
    assert "WARNING" not in down, down
    assert _recap(down)["changed"] == 1
    assert not k2cluster.is_running(cluster)
    assert (_mode(clone["top"]), _mode(clone["home"]), _mode(clone["parent"])) == (0o700, 0o700, 0o700)
