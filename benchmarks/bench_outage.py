# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outage of a K2 reinstall (login ban in force -> ban lifted), in both outage modes, on one lab.

Two identical lab sites (``short`` and ``conservative``), each with CONF and ``--mandants`` company
databases of ``--tables`` tables, every company table filled with ``--rows`` rows. The structure of
the databases is as the release expects (the common case); with ``--drift`` the first mandant lacks
a unique index the structure repair adds, so that the short mode backs that database up again inside
the window (the unavoidable work below does not count that second backup).

Each site is reinstalled to a generation (``copy`` method: the collection unpacks the release and
runs the conversions) by ``playbooks/k2_reinstall.yml`` through ansible-runner, one site after the
other (the machine is shared by both runs otherwise), each with its outage mode.

From each site's run state it prints the outage and every step's seconds with its window, and:

- the unavoidable work of the short run: install + conversions + the first backup (one backup of
  each database, after the users were logged off);
- ``GOAL outage_vs_unavoidable``: the short mode's outage / that sum (target <= 1.3);
- ``GOAL outage_vs_conservative``: the short mode's outage / the conservative mode's (target <= 0.5).

Usage: ``python benchmarks/bench_outage.py [--mandants 10] [--tables 200] [--rows 400] [--drift] [--keep]``.
It takes a few minutes; the lab cluster is stopped and its folder removed at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (REPO, os.path.join(REPO, "collections")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

import ansible_runner  # noqa: E402

from tools.k2lab import cli as k2lab  # noqa: E402
from tools.k2lab import cluster as k2cluster  # noqa: E402
from tools.k2lab import release as k2release  # noqa: E402
from tools.k2lab import schema_gen  # noqa: E402

TARGET = "ori.09"
GOALS = {"outage_vs_unavoidable": 1.3, "outage_vs_conservative": 0.5}
UNAVOIDABLE = ("install", "conversions", "backup")
MODES = ("short", "conservative")


def value_sql(column, table_number):
    """An SQL expression of row number ``g`` fitting the column (the lab's types for the model's MS SQL types)."""
    name, kind, length = column.name, column.type.lower(), column.length
    if name == "FUzivatel":
        return "1"
    if name == "Cis":
        return "g"
    if name == "Zkr":
        return "'z' || g"
    if kind in ("int", "smallint", "bigint", "tinyint"):
        return "g %% 97 + %d" % table_number
    if kind in ("numeric", "decimal"):
        return "(g % 900) / 10.0"
    if kind in ("datetime", "date", "smalldatetime"):
        return "timestamp '2024-01-01' + g * interval '1 minute'"
    if kind == "image":
        return "decode(md5(g::text), 'hex')"
    if kind in ("text", "ntext") or length in (None, -1):
        return "'Položka ' || g || ' ' || repeat('k2 ', g % 20)"
    return "left('v' || g || ' ' || md5(g::text), %d)" % length


def fill_sql(tables, rows):
    """INSERT ... SELECT of ``rows`` rows into every company table of the lab's model."""
    statements = []
    for number, table in enumerate(tables):
        columns = list(table.columns)
        names = ", ".join('"%s"' % c.name for c in columns)
        values = ", ".join(value_sql(c, number) for c in columns)
        overriding = " OVERRIDING SYSTEM VALUE" if any(c.identity for c in columns) else ""
        statements.append('INSERT INTO "%s" (%s)%s SELECT %s FROM generate_series(1, %d) AS g;' % (table.name, names, overriding, values, rows))
    return "\n".join(statements)


def build(lab_dir, mandants, tables, rows, drift):
    codes = ["F%02d" % number for number in range(1, mandants + 1)]
    fleet = os.path.join(lab_dir, "fleet.json")
    with open(fleet, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": mode[:5], "company_tables": tables, "mandants": codes} for mode in MODES]}, handle)
    started = time.perf_counter()
    inventory = k2lab.up(lab_dir, fleet)["inventory"]
    cluster = k2cluster.load(lab_dir)
    model = schema_gen.company_schema(tables)
    fill = fill_sql(list(model.tables.values()), rows)
    for mode in MODES:
        for code in codes:
            k2cluster.psql(cluster, fill, database="%s_%s" % (mode[:5], code))
        if not drift:
            continue
        # the drift the structure repair fixes (K2-08): a unique index of the K2t script missing in the first mandant
        database = "%s_%s" % (mode[:5], codes[0])
        index = k2cluster.psql(cluster, "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%ByAbbr' ORDER BY indexname LIMIT 1",
                               database=database).strip()
        k2cluster.psql(cluster, 'DROP INDEX "%s"' % index, database=database)
    size = k2cluster.psql(cluster, "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database WHERE datname LIKE 'short\\_%'")
    release = k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=tables)["archive"]
    print("lab: 2 sites x (CONF, DEMO, INIT + %d mandants of %d tables x %d rows), %s per site, built in %.0f s"
          % (mandants, tables, rows, size.strip(), time.perf_counter() - started))
    return inventory, release


def reinstall(lab_dir, inventory, release, mode):
    private = tempfile.mkdtemp(prefix="erpops-bench-runner-")
    home = tempfile.mkdtemp(prefix="erpops-bench-home-")
    extravars = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": release, "k2_session_login": "k2",
                 "k2_install_method": "copy", "k2_reinstall_waive_test_reinstall": True, "k2_reinstall_outage_mode": mode,
                 "k2_reinstall_state_dir": os.path.join(lab_dir, "state"), "fleet_report_dir": os.path.join(lab_dir, "reports")}
    try:
        started = time.perf_counter()
        runner = ansible_runner.run(
            private_data_dir=private, playbook=os.path.join(REPO, "playbooks", "k2_reinstall.yml"), inventory=inventory,
            extravars=extravars, limit=mode[:5], quiet=True,
            envvars={"ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, "collections"), "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
                     "PYTHONPATH": os.pathsep.join([REPO, os.path.join(REPO, "collections")]), "HOME": home})
        elapsed = time.perf_counter() - started
        if runner.rc != 0:
            raise SystemExit("the %s reinstall failed (rc %s):\n%s" % (mode, runner.rc, runner.stdout.read()[-4000:]))
        return elapsed
    finally:
        shutil.rmtree(private, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def run_state(inventory, site):
    with open(inventory, encoding="utf-8") as handle:
        folder = json.load(handle)["all"]["children"]["k2_sites"]["hosts"][site]["k2_folder"]
    with open(folder.rstrip("/") + ".erpops-run.json", encoding="utf-8") as handle:
        return json.load(handle)


def step_seconds(state):
    """Seconds per step name (the last attempt), from the outage the state measured."""
    return {step["name"]: step["seconds"] for step in state["outage"]["steps"]}


def report(mode, state, elapsed):
    outage = state["outage"]
    print("\n== %s: outage %.1f s (ban in force %s -> lifted %s); playbook %.1f s; before the ban %.1f s, inside %.1f s"
          % (mode, outage["seconds"], outage["ban_on"], outage["ban_off"], elapsed, outage["windows"]["before"], outage["windows"]["inside"]))
    for step in outage["steps"]:
        print("   %-20s %-7s %7.1f s" % (step["name"], step["window"], step["seconds"]))
    backups = [entry for entry in state["backups"] if entry.get("run_id") == state["run_id"] and entry.get("kind", "database") == "database"]
    after = sorted(entry["database"] for entry in backups if entry["position"] == "after_check")
    print("   backups: %d after the logoff, %d after the structure step (%s)" % (
        sum(1 for entry in backups if entry["position"] == "before_check"), len(after), ", ".join(after) or "none"))


def goal(name, measured):
    target = GOALS[name]
    print("GOAL %s: %.2f (target \u2264%s) %s" % (name, measured, target, "PASS" if measured <= target else "FAIL"))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--mandants", type=int, default=10)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--drift", action="store_true", help="one database the structure repair changes (a second backup of it)")
    parser.add_argument("--keep", action="store_true", help="keep the lab (its folder is printed)")
    options = parser.parse_args(argv)
    random.seed(0)
    lab_dir = tempfile.mkdtemp(prefix="erpops-bench-outage-")
    os.chmod(lab_dir, 0o755)  # PostgreSQL runs as its own user
    try:
        inventory, release = build(lab_dir, options.mandants, options.tables, options.rows, options.drift)
        states = {}
        for mode in MODES:
            elapsed = reinstall(lab_dir, inventory, release, mode)
            states[mode] = run_state(inventory, mode[:5])
            report(mode, states[mode], elapsed)
        short = step_seconds(states["short"])
        unavoidable = sum(short.get(name, 0.0) for name in UNAVOIDABLE)
        outage = {mode: states[mode]["outage"]["seconds"] for mode in MODES}
        print("\nunavoidable (short run): install %.1f s + conversions %.1f s + one backup of each database %.1f s = %.1f s"
              % (short.get("install", 0.0), short.get("conversions", 0.0), short.get("backup", 0.0), unavoidable))
        print("outage: short %.1f s, conservative %.1f s" % (outage["short"], outage["conservative"]))
        goal("outage_vs_unavoidable", outage["short"] / unavoidable)
        goal("outage_vs_conservative", outage["short"] / outage["conservative"])
    finally:
        if options.keep:
            print("lab kept in %s" % lab_dir)
        else:
            k2cluster.stop(lab_dir)
            shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
