"""Benchmark: the structure check (K2-08) on lab company databases of 2,000 tables.

Run from the repo root: ``.venv/bin/python benchmarks/bench_schema_check.py [--tables 2000] [--databases 10] [--parallel 8]``.
It starts a private lab PostgreSQL cluster in a temporary folder, builds one site whose mandant
database has ``--tables`` company tables, copies that database (``CREATE DATABASE ... TEMPLATE``)
up to ``--databases`` mandants, and runs the check as the action plugin does (scripts from the
site folder, catalogs over ODBC, ``parallel`` threads), for 1 database and for all of them.
It reports the catalog round trips per database and the wall times. The cluster is stopped and
the folder removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(REPO, "collections"), REPO):
    if path not in sys.path:
        sys.path.insert(0, path)

from ansible_collections.erpops.upgrade.plugins.action.k2_schema_check import ARGUMENT_SPEC, Run  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal  # noqa: E402
from tools.k2lab import cluster as pg  # noqa: E402
from tools.k2lab import site  # noqa: E402


def build(lab_dir, tables, databases):
    cluster, _changed = pg.ensure_running(lab_dir)
    spec = site.SiteSpec(name="bench", mandants=["F01"], company_tables=tables, licence_sessions=[])
    started = time.perf_counter()
    site.build(lab_dir, cluster, spec)
    built = time.perf_counter() - started
    firmy = DEFAULT_PROFILE["firmy"]
    source = site.database_name(spec.name, "F01")
    codes = ["F%02d" % number for number in range(1, databases + 1)]
    for number, code in enumerate(codes[1:], start=2):
        name = site.database_name(spec.name, code)
        names = (quote_ident("lab", name), quote_ident("lab", source), quote_ident("lab", cluster.login))
        pg.psql(cluster, "CREATE DATABASE %s TEMPLATE %s OWNER %s" % names)
        pg.psql(cluster, "INSERT INTO %s (%s, %s, %s, %s) VALUES (%d, %s, %s, %s)" % (
            quote_ident("lab", firmy["table"]), quote_ident("lab", "Cis"), quote_ident("lab", firmy["code_column"]),
            quote_ident("lab", firmy["name_column"]), quote_ident("lab", firmy["database_column"]), 100 + number,
            quote_literal("lab", code), quote_literal("lab", code), quote_literal("lab", name)), database=site.database_name(spec.name, "CONF"))
    return cluster, spec, codes, built


def check(lab_dir, cluster, spec, codes, parallel):
    args = dict((name, option.get("default")) for name, option in ARGUMENT_SPEC.items())
    args.update(scripts_dir=os.path.join(site.site_dir(lab_dir, spec.name), "SQL"), conf_database=site.database_name(spec.name, "CONF"),
                databases=codes, parallel=parallel, db_platform="lab", login_host=cluster.socket_dir, login_port=cluster.port,
                login_user=cluster.login, login_password=cluster.password)
    action = types.SimpleNamespace(_task=types.SimpleNamespace(check_mode=False, delegate_to=None))
    started = time.perf_counter()
    data = Run(action, args, DEFAULT_PROFILE).check()
    return time.perf_counter() - started, data


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--databases", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=8)
    options = parser.parse_args(argv)
    lab_dir = tempfile.mkdtemp(prefix="erpops-bench-schema-")
    os.chmod(lab_dir, 0o755)  # PostgreSQL runs as its own user
    try:
        cluster, spec, codes, built = build(lab_dir, options.tables, options.databases)
        print("lab: site with %d company tables built in %.1f s (CONF, DEMO, INIT, F01); %d mandant databases" % (
            options.tables, built, len(codes)))
        for subset in (codes[:1], codes):
            seconds, data = check(lab_dir, cluster, spec, subset, options.parallel)
            trips = sorted(set(d["round_trips"] for d in data["databases"]))
            print("check of %2d database(s), parallel %d: %6.2f s wall (%.2f s per database); catalog round trips per database: %s; "
                  "findings: %d; errors: %d; consistent: %s" % (
                      len(subset), options.parallel, seconds, seconds / len(subset), "/".join(str(t) for t in trips),
                      data["counts"]["total"], data["counts"]["errors"], data["consistent"]))
            if not data["consistent"]:
                print("  UNEXPECTED: the lab databases are built clean", data["errors"][:3], data["findings"][:3])
    finally:
        pg.stop(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
