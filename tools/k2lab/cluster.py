"""A real PostgreSQL cluster for the lab, started by the lab itself.

initdb refuses to run as root, so the cluster belongs to the ``postgres`` user
when the lab runs as root. It listens only on a unix socket, on a free port,
with password authentication for the K2 login (so that a wrong password is a
real failure) and trust for the cluster owner.

Where the cluster lives. The lab folder (``.lab`` in the clone) may sit where
the ``postgres`` user cannot go (root's home and ``mktemp -d`` folders are
0700) and its path may hold spaces or be too long for a unix socket (107
bytes). So the cluster's data and socket folders live in a folder of their own,
one per lab folder, named by a hash of the lab folder's real path:

* ``/var/lib/erpops-lab/<hash>/`` when the lab runs as root (kept across
  reboots, unlike /tmp, whose cleaners may delete part of a data folder);
* ``/tmp/erpops-lab-<uid>/<hash>/`` (0700, the user's own) otherwise;
* ``$K2LAB_PG_ROOT/<hash>/`` when that variable is set.

The lab folder keeps ``cluster.json`` (where the cluster is); the cluster's
folder keeps ``lab_dir`` (whose cluster it is). The permissions of the user's
folders are never changed. A cluster whose lab folder no longer exists is
stopped and removed the next time a cluster is created, so deleting a lab
folder is enough to clean up; ``remove`` does it at once.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass

K2_LOGIN = "k2"
K2_PASSWORD = "k2-lab-secret"
STATE_FILE = "cluster.json"
OWNER_FILE = "lab_dir"
SYSTEM_PG_ROOT = "/var/lib/erpops-lab"


class LabError(RuntimeError):
    """The lab cannot be built; the message says why."""


@dataclass
class Cluster:
    data_dir: str
    socket_dir: str
    port: int
    bin_dir: str
    owner: str
    login: str = K2_LOGIN
    password: str = K2_PASSWORD

    def dsn_args(self, database: str = "postgres", superuser: bool = True):
        user = self.owner if superuser else self.login
        return ["-h", self.socket_dir, "-p", str(self.port), "-U", user, "-d", database]


def find_bin_dir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    for path in candidates:
        if os.path.exists(os.path.join(path, "initdb")):
            return path
    raise LabError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run `make setup` (installs Debian's postgresql)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(owner: str, argv):
    if os.geteuid() == 0 and owner != "root":
        return ["runuser", "-u", owner, "--"] + argv
    return argv


def _run(argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise LabError("%s failed: %s" % (" ".join(argv[:4]), (result.stderr or result.stdout).strip()[-800:]))
    return result.stdout


def _chown_tree(path: str, owner: str) -> None:
    entry = pwd.getpwnam(owner)
    for root, dirs, files in os.walk(path):
        for name in [root] + [os.path.join(root, d) for d in dirs] + [os.path.join(root, f) for f in files]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def load(lab_dir: str):
    path = os.path.join(lab_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return Cluster(**json.load(handle))


def _socket(cluster: Cluster) -> str:
    return os.path.join(cluster.socket_dir, ".s.PGSQL.%d" % cluster.port)


def is_running(cluster: Cluster) -> bool:
    """The server runs and answers on its socket (a stale postmaster.pid alone does not count)."""
    status = subprocess.run(_as_owner(cluster.owner, [os.path.join(cluster.bin_dir, "pg_ctl"), "-D", cluster.data_dir, "status"]),
                            capture_output=True, text=True, check=False)
    return status.returncode == 0 and os.path.exists(_socket(cluster))


def _clear_stale_pid(cluster: Cluster) -> None:
    """pg_ctl believes a server runs (its pid was reused) but no socket exists: drop the stale pid file."""
    pid_file = os.path.join(cluster.data_dir, "postmaster.pid")
    if os.path.exists(pid_file) and not os.path.exists(_socket(cluster)):
        subprocess.run(_as_owner(cluster.owner, [os.path.join(cluster.bin_dir, "pg_ctl"), "-D", cluster.data_dir, "-m", "fast", "-w", "-t", "10", "stop"]),
                       capture_output=True, check=False)
        if os.path.exists(pid_file):
            os.unlink(pid_file)


def ensure_running(lab_dir: str):
    """Start (creating if needed) the lab cluster; returns (cluster, changed)."""
    cluster = load(lab_dir)
    changed = False
    if cluster is None or not os.path.exists(os.path.join(cluster.data_dir, "PG_VERSION")):
        cluster = _init(lab_dir)
        changed = True
    if not is_running(cluster):
        _clear_stale_pid(cluster)
        if _port_taken(cluster.port):
            cluster.port = _free_port()
            _save(lab_dir, cluster)
        _run(_as_owner(cluster.owner, [
            os.path.join(cluster.bin_dir, "pg_ctl"), "-D", cluster.data_dir, "-l", os.path.join(cluster.data_dir, "server.log"),
            "-o", "-k %s -p %d -c listen_addresses='' -c fsync=off -c max_connections=200" % (cluster.socket_dir, cluster.port),
            "-w", "-t", "60", "start"]))
        changed = True
    return cluster, changed


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pg_root() -> str:
    """The folder that holds one cluster folder per lab folder (see the module's docstring)."""
    root = os.environ.get("K2LAB_PG_ROOT")
    if root:
        return os.path.abspath(root)
    return SYSTEM_PG_ROOT if os.geteuid() == 0 else "/tmp/erpops-lab-%d" % os.geteuid()


def cluster_home(lab_dir: str) -> str:
    """The cluster folder of a lab folder: the same lab folder always gets the same one."""
    key = hashlib.sha256(os.path.realpath(lab_dir).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(pg_root(), key)


def _make_pg_root(root: str) -> None:
    if any(ch.isspace() for ch in root):
        raise LabError("the cluster folder %r must not contain spaces (PostgreSQL's socket option cannot hold them); "
                       "set K2LAB_PG_ROOT to another folder" % root)
    os.makedirs(root, exist_ok=True)
    info = os.lstat(root)
    if info.st_uid != os.geteuid() or not os.path.isdir(root) or os.path.islink(root):
        raise LabError("the cluster folder %s is not a folder of this user; remove it or set K2LAB_PG_ROOT" % root)
    # Under root the postgres user must pass through; another user's folder stays private.
    os.chmod(root, 0o755 if os.geteuid() == 0 else 0o700)


def _pid_of(data_dir: str):
    try:
        with open(os.path.join(data_dir, "postmaster.pid"), encoding="utf-8") as handle:
            return int(handle.readline().strip())
    except (OSError, ValueError):
        return None


def _stop_data_dir(data_dir: str, owner: str) -> None:
    """Stop whatever server runs on a data folder whose lab is gone (fast shutdown, then its pid if it stays)."""
    if _pid_of(data_dir) is None:
        return
    for bin_dir in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        pg_ctl = os.path.join(bin_dir, "pg_ctl")
        if os.path.exists(pg_ctl):
            subprocess.run(_as_owner(owner, [pg_ctl, "-D", data_dir, "-m", "fast", "-w", "-t", "30", "stop"]),
                           capture_output=True, check=False)
            break


def collect_orphans() -> list:
    """Stop and remove the cluster folders whose lab folder no longer exists; returns the removed folders."""
    root = pg_root()
    removed = []
    try:
        entries = os.listdir(root)
    except OSError:
        return removed
    for entry in entries:
        home = os.path.join(root, entry)
        try:
            with open(os.path.join(home, OWNER_FILE), encoding="utf-8", errors="surrogateescape") as handle:
                lab_dir = handle.read()
        except OSError:
            continue  # not a lab cluster folder (or being created): leave it alone
        if os.path.isdir(lab_dir):
            continue
        data_dir = os.path.join(home, "data")
        owner = pwd.getpwuid(os.stat(data_dir).st_uid).pw_name if os.path.isdir(data_dir) else "root"
        _stop_data_dir(data_dir, owner)
        shutil.rmtree(home, ignore_errors=True)
        removed.append(home)
    return removed


def _init(lab_dir: str) -> Cluster:
    owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    root = pg_root()
    _make_pg_root(root)
    collect_orphans()
    base = cluster_home(lab_dir)
    if os.path.exists(base):
        _stop_data_dir(os.path.join(base, "data"), owner)
        shutil.rmtree(base)
    os.makedirs(base)
    os.chmod(base, 0o755)
    with open(os.path.join(base, OWNER_FILE), "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(os.path.realpath(lab_dir))
    data_dir, socket_dir = os.path.join(base, "data"), os.path.join(base, "run")
    os.makedirs(socket_dir)
    os.makedirs(data_dir, mode=0o700)
    if os.geteuid() == 0:
        for path in (data_dir, socket_dir):
            _chown_tree(path, owner)
        reach = subprocess.run(_as_owner(owner, ["test", "-w", data_dir]), check=False)
        if reach.returncode != 0:
            raise LabError("the cluster folder %s must be reachable by the %s user (every parent folder needs o+x)" % (base, owner))
    cluster = Cluster(data_dir=data_dir, socket_dir=socket_dir, port=_free_port(), bin_dir=find_bin_dir(), owner=owner)
    _run(_as_owner(owner, [os.path.join(cluster.bin_dir, "initdb"), "-D", data_dir, "-U", owner, "-E", "UTF8",
                           "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=reject"]))
    with open(os.path.join(data_dir, "pg_hba.conf"), "w", encoding="utf-8") as hba:
        hba.write("local all %s trust\nlocal all all scram-sha-256\n" % owner)
    _save(lab_dir, cluster)
    return cluster


def _save(lab_dir: str, cluster: Cluster) -> None:
    with open(os.path.join(lab_dir, STATE_FILE), "w", encoding="utf-8") as handle:
        json.dump(asdict(cluster), handle, indent=1)


def stop(lab_dir: str) -> bool:
    cluster = load(lab_dir)
    if cluster is None or not is_running(cluster):
        return False
    _run(_as_owner(cluster.owner, [os.path.join(cluster.bin_dir, "pg_ctl"), "-D", cluster.data_dir, "-m", "fast", "-w", "stop"]))
    return True


def remove(lab_dir: str) -> bool:
    """Stop the lab's cluster and delete its folders (data and socket); the lab folder itself stays."""
    cluster = load(lab_dir)
    if cluster is None:
        return False
    stop(lab_dir)
    home = os.path.dirname(cluster.data_dir)
    if os.path.exists(os.path.join(home, OWNER_FILE)):
        shutil.rmtree(home, ignore_errors=True)
    else:  # a cluster made before the cluster folder moved out of the lab folder
        shutil.rmtree(cluster.data_dir, ignore_errors=True)
    os.unlink(os.path.join(lab_dir, STATE_FILE))
    return True


def psql(cluster: Cluster, sql: str, database: str = "postgres") -> str:
    """Run SQL as the cluster owner; returns unaligned, tuples-only output."""
    argv = [os.path.join(cluster.bin_dir, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + cluster.dsn_args(database)
    return _run(_as_owner(cluster.owner, argv), input=sql)
