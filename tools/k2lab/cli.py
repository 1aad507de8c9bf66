"""The lab's command line: ``python -m tools.k2lab.cli up|down|status|remove [--lab-dir DIR]``.

``up`` starts the PostgreSQL cluster, builds the sites of a fleet file (JSON:
``{"sites": [{"name": "site01", ...SiteSpec fields...}]}``, default: the demo
fleet) and writes ``<lab-dir>/inventory.yml`` with one host per site. It prints
one JSON line: ``{"changed": bool, "sites": [...], "inventory": path}``.
``down`` stops the cluster (its data stays for the next ``up``); ``remove``
stops it and deletes its data, which lives outside the lab folder (see
``tools/k2lab/cluster.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from tools.k2lab import cluster as pg
from tools.k2lab.site import SHARED_DATABASE, SiteSpec, build, database_name, installer_records_path, site_dir, web_config_path

INSTALLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "installer.py")
LAB_INSTALLER_COMMAND = ("{{ k2_installer_program }} --mode {{ k2_reinstall_installer_mode }} --folder {{ k2_reinstall_folder | quote }} "
                         "--archive {{ k2_reinstall_release_archive | quote }} --records {{ k2_installer_records | quote }}")

DEMO_FLEET = [
    {"name": "alfa", "version": "gaia.12.3"},
    {"name": "beta", "version": "gaia.12.3", "mandants": ["FIRMA"], "outdated_extensions": ["Sklad"], "missing_inits": ["FIRMA"]},
    {"name": "gama", "version": "gaia.12.3", "torso": True},
]


def load_fleet(path):
    if not path:
        return [SiteSpec(**site) for site in DEMO_FLEET]
    with open(path, encoding="utf-8") as handle:
        return [SiteSpec(**site) for site in json.load(handle)["sites"]]


def inventory(lab_dir, cluster, specs):
    hosts = {}
    for spec in specs:
        hosts[spec.name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "k2_folder": site_dir(lab_dir, spec.name),
            "k2_db_platform": "lab",
            "k2_db_host": cluster.socket_dir,
            "k2_db_port": cluster.port,
            "k2_db_user": cluster.login,
            "k2_db_password": cluster.password,
            "k2_conf_database": database_name(spec.name, "CONF"),
            # The database of the server's slot table (server_slots); the limit itself is the inventory's choice.
            "k2_db_server_slots_database": SHARED_DATABASE,
            "k2_webconfig_path": web_config_path(lab_dir, spec.name),
            # The lab host's K2 installer (installer.py) and its installation records; a shell command line, quoted
            # because the clone may live in a path with spaces.
            "k2_installer_program": "%s %s" % (shlex.quote(sys.executable), shlex.quote(INSTALLER)),
            "k2_installer_records": installer_records_path(lab_dir),
            "k2_install_method": spec.install_method,
            # The installer command a user configures (k2_reinstall_installer_command); the role fills in mode and archive.
            "k2_installer_command": LAB_INSTALLER_COMMAND,
        }
    return {"all": {"children": {"k2_sites": {"hosts": hosts}}}}


def write_if_changed(path, text):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)
    return True


def up(lab_dir, fleet_path=None):
    os.makedirs(lab_dir, exist_ok=True)
    cluster, changed = pg.ensure_running(lab_dir)
    specs = load_fleet(fleet_path)
    for spec in specs:
        changed = build(lab_dir, cluster, spec) or changed
    inventory_path = os.path.join(lab_dir, "inventory.yml")
    # JSON is valid YAML; ansible reads it with the yaml inventory plugin.
    changed = write_if_changed(inventory_path, json.dumps(inventory(lab_dir, cluster, specs), indent=2, sort_keys=True) + "\n") or changed
    return {"changed": changed, "sites": [s.name for s in specs], "inventory": inventory_path}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="k2lab")
    parser.add_argument("command", choices=["up", "down", "status", "remove"])
    parser.add_argument("--lab-dir", default=os.path.join(os.getcwd(), ".lab"))
    parser.add_argument("--fleet", help="fleet file (JSON); default: the demo fleet")
    args = parser.parse_args(argv)
    lab_dir = os.path.abspath(args.lab_dir)
    try:
        if args.command == "up":
            result = up(lab_dir, args.fleet)
        elif args.command == "down":
            result = {"changed": pg.stop(lab_dir)}
        elif args.command == "remove":
            result = {"changed": pg.remove(lab_dir)}
        else:
            cluster = pg.load(lab_dir)
            result = {"changed": False, "running": bool(cluster and pg.is_running(cluster))}
    except pg.LabError as exc:
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
