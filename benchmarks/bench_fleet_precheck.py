# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_precheck.yml on lab fleets of 1, 10 and 30 sites with forks 10, through ansible-runner.

Reports the wall time of the playbook and per site, and how it grows with the fleet.
Then, in one run over the largest fleet, the per-task cost of two tasks that each open a
database connection, like with like: ``erpops.upgrade.k2_info`` reading the folder and every
database (an action plugin on the controller) against ``erpops.upgrade.k2_firmy`` in check
mode (a module: one connection, one query of FIRMY). The cost is the time from the first
host's start to the last host's end of each looped item, from ansible-runner's event
timestamps; ``ansible.builtin.ping`` is printed as the floor of a task. Target: k2_info at
most 1.3 x k2_firmy, printed as ``GOAL``.

Usage: ``python benchmarks/bench_fleet_precheck.py [--sizes 1,10,30] [--forks 10] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (REPO, os.path.join(REPO, "collections")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

import ansible_runner  # noqa: E402

from tools.k2lab import cli as k2lab  # noqa: E402
from tools.k2lab import cluster as k2cluster  # noqa: E402

TARGET_RATIO = 1.3


def run(playbook, inventory, forks, extravars):
    private = tempfile.mkdtemp(prefix="erpops-bench-runner-")
    try:
        started = time.perf_counter()
        runner = ansible_runner.run(
            private_data_dir=private, playbook=os.path.join(REPO, playbook), inventory=inventory, forks=forks,
            extravars=extravars, quiet=True,
            envvars={"ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, "collections"), "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
                     "PYTHONPATH": os.pathsep.join([REPO, os.path.join(REPO, "collections")])})
        elapsed = time.perf_counter() - started
        return runner, elapsed, list(runner.events)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def build_fleet(lab_dir, size):
    fleet = os.path.join(lab_dir, "fleet-%d.json" % size)
    with open(fleet, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": "site%02d" % i, "company_tables": 5, "mandants": ["FIRMA"]} for i in range(size)]}, handle)
    started = time.perf_counter()
    inventory = k2lab.up(lab_dir, fleet)["inventory"]
    return inventory, time.perf_counter() - started


def task_times(events, task_name, rounds):
    """(task wall, median per host) of one looped task, per loop round, in seconds.

    Task wall runs from the first host's start to the last host's end; per host is each
    host's own start to end. ansible-runner gives start and end per host and task.
    """
    spans = []
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") == task_name:
            spans.append((datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])))
    if not spans:
        raise RuntimeError("no results of task %r" % task_name)
    wall = (max(end for _start, end in spans) - min(start for start, _end in spans)).total_seconds()
    per_host = statistics.median((end - start).total_seconds() for start, end in spans)
    return wall / rounds, per_host / rounds


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,30")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    lab_dir = tempfile.mkdtemp(prefix="erpops-bench-fleet-")
    os.chmod(lab_dir, 0o755)
    try:
        rows, inventory = [], None
        for size in sizes:
            inventory, build = build_fleet(lab_dir, size)
            runner, wall, _events = run("playbooks/k2_precheck.yml", inventory, args.forks,
                                        {"k2_target_version": "ori.09", "fleet_report_dir": os.path.join(lab_dir, "reports")})
            if runner.rc != 0:
                print("k2_precheck.yml failed on %d sites (rc=%s)" % (size, runner.rc))
                return 1
            rows.append((size, build, wall))

        print("k2_precheck.yml, forks %d (lab sites with 5 company tables, lab build time excluded)" % args.forks)
        print("%6s %12s %10s %14s %12s" % ("sites", "lab build s", "wall s", "per site s", "growth"))
        base = rows[0]
        for size, build, wall in rows:
            growth = (wall / base[2]) if base[2] else float("nan")
            print("%6d %12.1f %10.2f %14.3f %11.2fx" % (size, build, wall, wall / size, growth))
        if len(rows) > 1:
            first, last = rows[0], rows[-1]
            print("sites x%.0f -> wall x%.2f" % (last[0] / first[0], last[2] / first[2]))

        runner, _wall, events = run("benchmarks/playbooks/task_overhead.yml", inventory, args.forks, {"bench_rounds": args.rounds})
        if runner.rc != 0:
            print("task_overhead.yml failed (rc=%s)" % runner.rc)
            return 1
        ping, ping_host = task_times(events, "Measure ping", args.rounds)
        info, info_host = task_times(events, "Measure k2_info", args.rounds)
        firmy, firmy_host = task_times(events, "Measure k2_firmy", args.rounds)
        print()
        print("per-task cost on %d sites, forks %d, averaged over %d loop rounds" % (sizes[-1], args.forks, args.rounds))
        print("%-44s %12s %14s" % ("task", "task wall s", "per host s"))
        print("%-44s %12.3f %14.3f" % ("ansible.builtin.ping (floor, not the peer)", ping, ping_host))
        print("%-44s %12.3f %14.3f" % ("erpops.upgrade.k2_firmy (check mode, 1 DB)", firmy, firmy_host))
        print("%-44s %12.3f %14.3f" % ("erpops.upgrade.k2_info (folder + every DB)", info, info_host))
        ratio, host_ratio = info / firmy, info_host / firmy_host
        print("GOAL k2_info_vs_db_module: %.2fx task wall, %.2fx per host (target <= %.1fx) %s"
              % (ratio, host_ratio, TARGET_RATIO, "PASS" if ratio <= TARGET_RATIO else "FAIL"))
        return 0
    finally:
        k2cluster.stop(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
