"""The Comarch lab's command line: ``python -m tools.comarchlab.cli up|down [--lab-dir DIR] [--fleet FILE]``.

``up`` starts (or reuses) the K2 lab's PostgreSQL cluster in the same lab folder, builds the
Comarch sites of a fleet file (JSON: ``{"sites": [{"name": "c1", ...ComarchSiteSpec fields...}]}``,
default: one healthy site), starts each site's stand-in service (unless ``service_stopped``)
and HRM domain on 127.0.0.1, and writes ``<lab-dir>/comarch_inventory.yml`` with the group
``comarch_sites``. ``down`` stops the stand-ins it started (by their pid files); the cluster
is left to ``tools.k2lab.cli down`` unless ``--with-cluster``. Both print one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

from tools.comarchlab import common
from tools.comarchlab.site import ComarchSiteSpec, build, is_built
from tools.k2lab import cluster as pg

DEMO_FLEET = [{"name": "optima1"}]
TARGET_VERSION = "2025.3.0"
INVENTORY = "comarch_inventory.yml"


def load_fleet(path):
    if not path:
        return [ComarchSiteSpec(**site) for site in DEMO_FLEET]
    with open(path, encoding="utf-8") as handle:
        return [ComarchSiteSpec(**site) for site in json.load(handle)["sites"]]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid_file):
    """The pid in ``pid_file`` when it is a live stand-in of this lab, else None."""
    text = common.read_text(pid_file)
    if not text.isdigit():
        return None
    pid = int(text)
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    return pid if "tools.comarchlab." in cmdline and os.path.dirname(pid_file) in cmdline else None


def _start(root, module, extra, pid_file):
    if _alive(pid_file):
        return False
    # The stand-ins run on the lab's code alone: the collection is not on their path.
    env = dict(os.environ, PYTHONPATH=common.REPO)
    with open(os.path.join(root, module.rsplit(".", 1)[-1] + ".log"), "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", module, "--site-dir", root] + extra, cwd=common.REPO, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    common.write_text(pid_file, str(process.pid))
    return True


def _wait_for_port(port, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise pg.LabError("the lab HRM domain did not start on 127.0.0.1:%d" % port)


def start_site(lab_dir, spec):
    root = common.site_root(lab_dir, spec.name)
    site = common.read_json(os.path.join(root, common.SITE_FILE))
    changed = False
    service_pid = os.path.join(root, common.SERVICE_PID)
    if spec.service_stopped:
        # installed but stopped: the pid file is there, no process behind it
        if not os.path.exists(service_pid):
            common.write_text(service_pid, "")
            changed = True
    else:
        changed = _start(root, "tools.comarchlab.service", [], service_pid) or changed
    domain_pid = os.path.join(root, common.DOMAIN_PID)
    if not _alive(domain_pid):
        site["domain_port"] = _free_port()
        common.write_text(os.path.join(root, common.SITE_FILE), json.dumps(site, indent=1))
        _start(root, "tools.comarchlab.domain", ["--port", str(site["domain_port"])], domain_pid)
        _wait_for_port(site["domain_port"])
        changed = True
    return changed, site


def host_vars(lab_dir, site):
    root = common.site_root(lab_dir, site["name"])
    hostvars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "comarch_product": site["product"],
        "comarch_db_platform": "lab",
        "comarch_db_host": site["db_host"],
        "comarch_db_port": site["db_port"],
        "comarch_db_user": site["db_user"],
        "comarch_db_password": site["db_password"],
        "comarch_database": site["databases"][0],
        "comarch_databases": site["databases"],
        "comarch_service_pid_file": os.path.join(root, common.SERVICE_PID),
        "comarch_domain_url": "http://127.0.0.1:%d/" % site["domain_port"],
        "comarch_program_version": TARGET_VERSION,
        "comarch_backup_manifest": os.path.join(root, "backups", "manifest.json"),
        "comarch_backup_dir": os.path.join(root, "backups"),
        # a shell command line, quoted: the clone may live in a path with spaces
        "comarch_installer_command": "cd %s && PYTHONPATH=%s %s -m tools.comarchlab.installer --site-dir %s --version %s" % tuple(
            shlex.quote(part) for part in (common.REPO, common.REPO, sys.executable, root, TARGET_VERSION)),
    }
    if site.get("manual_update"):
        del hostvars["comarch_installer_command"]
    return hostvars


def up(lab_dir, fleet_path=None):
    os.makedirs(lab_dir, exist_ok=True)
    cluster, changed = pg.ensure_running(lab_dir)
    specs = load_fleet(fleet_path)
    hosts = {}
    for spec in specs:
        if not is_built(lab_dir, cluster, spec):
            stop_site(lab_dir, spec.name)
            build(lab_dir, cluster, spec)
            changed = True
        started, site = start_site(lab_dir, spec)
        changed = started or changed
        hosts[spec.name] = host_vars(lab_dir, site)
    inventory = {"all": {"children": {"comarch_sites": {"hosts": hosts}}}}
    path = os.path.join(lab_dir, INVENTORY)
    text = json.dumps(inventory, indent=2, sort_keys=True) + "\n"
    if common.read_text(path) != text.strip():
        common.write_text(path, text)
        changed = True
    return {"changed": changed, "sites": [s.name for s in specs], "inventory": path}


def _stop(pid_file):
    pid = _alive(pid_file)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid_file):
        time.sleep(0.05)
    if _alive(pid_file):
        os.kill(pid, signal.SIGKILL)
    return True


def stop_site(lab_dir, name):
    root = common.site_root(lab_dir, name)
    stopped = False
    for pid_file in (common.SERVICE_PID, common.DOMAIN_PID):
        stopped = _stop(os.path.join(root, pid_file)) or stopped
    return stopped


def stop_service(lab_dir, name):
    """A knob for tests: stop the site's service, leaving it installed."""
    return _stop(os.path.join(common.site_root(lab_dir, name), common.SERVICE_PID))


def down(lab_dir, with_cluster=False):
    changed = False
    base = os.path.join(lab_dir, "comarch")
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        changed = stop_site(lab_dir, name) or changed
    if with_cluster:
        changed = pg.stop(lab_dir) or changed
    return {"changed": changed}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="comarchlab")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--lab-dir", default=os.path.join(os.getcwd(), ".lab"))
    parser.add_argument("--fleet", help="fleet file (JSON); default: one healthy Optima site")
    parser.add_argument("--with-cluster", action="store_true", help="down: stop the PostgreSQL cluster too")
    args = parser.parse_args(argv)
    lab_dir = os.path.abspath(args.lab_dir)
    try:
        result = up(lab_dir, args.fleet) if args.command == "up" else down(lab_dir, args.with_cluster)
    except pg.LabError as exc:
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
