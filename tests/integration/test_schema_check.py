"""k2_schema_check through real playbooks against the lab's real PostgreSQL (RUNBOOK K2-08)."""

import json
import os
import re
import shutil

import pytest

from conftest import run_playbook

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column, PrimaryKey, Schema, Table, key, loads_snapshot
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import KINDS
from tools.k2lab import cli as k2lab_cli
from tools.k2lab import cluster as k2cluster
from tools.k2lab import drift, render, site

PLAYBOOK = "tests/integration/playbooks/schema_check.yml"
OFFLINE = "tests/integration/playbooks/schema_check_offline.yml"
TASK = "Check the structure"
OFFLINE_TASK = "Check the snapshot"
DRIFT = site.SiteSpec(name="scdrift", mandants=["FIRMA", "FIRMA2"], drift_mandants=["FIRMA"], company_tables=40, drift_seed=3)
MEND = site.SiteSpec(name="scmend", mandants=["FIRMA"])
REPAIRABLE = ["create_table", "create_index", "add_primary_key", "drop_column", "konverze"]
QUOTED_TABLE = 'Tab"le \'x] y'


@pytest.fixture(scope="module")
def sites(lab):
    """Two more sites on the lab's cluster, with an inventory of their own (the shared one stays as it is)."""
    cluster = lab["cluster"]
    for spec in (DRIFT, MEND):
        site.build(lab["dir"], cluster, spec)
    inventory = os.path.join(lab["dir"], "schema_check_inventory.json")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(k2lab_cli.inventory(lab["dir"], cluster, [DRIFT, MEND]), handle)
    return {"inventory": inventory, "cluster": cluster, "dir": lab["dir"]}


def psql(sites, sql, database):
    return k2cluster.psql(sites["cluster"], sql, database=database)


def injected_on_lab(spec):
    """What the lab injected into a drifted company database (the site builds it the same way)."""
    live = render.platform_model(site.expected_model("company", spec), "lab")
    for table in site._private_tables("company"):  # pylint: disable=protected-access
        live.tables.pop(key(table.name), None)
    return drift.inject_all(live, seed=spec.drift_seed)


def identities(findings):
    return sorted((f["kind"], key(f["table"]) if f["table"] else None, key(f["column"]) if f["column"] else None,
                   key(f["index"]) if f["index"] else None) for f in findings)


def expected_identities(injected):
    # missing_table, extra_column, ... carry no index; key findings carry the key's name
    return sorted(i.identity() for i in injected)


def only(run, host):
    result = run.results(TASK)[host]
    assert not result["failed"], result
    return result


def test_every_drift_kind_is_found_on_the_live_lab_and_the_rest_is_clean(sites, tmp_path):
    report = tmp_path / "report.html"
    run = run_playbook(PLAYBOOK, sites["inventory"], limit=DRIFT.name,
                       extravars={"k2_check_report": str(report), "k2_check_save_snapshots_to": str(tmp_path / "snapshots"),
                                  "k2_check_parallel": 3, "k2_check_progress_after": 0})
    assert run.rc == 0, run.stdout
    result = only(run, DRIFT.name)
    # progress while it ran (every step counts as long with progress_after 0): each database's start and end with the time
    for database in result["databases"]:
        prefix = r"\[%s\] structure check: database %s " % (DRIFT.name, database["database"])
        assert re.search(prefix + r"started at \d\d:\d\d:\d\d UTC", run.stdout), run.stdout
        assert re.search(prefix + r"done at \d\d:\d\d:\d\d UTC after \d+\.\d s; %d finding\(s\)" % database["findings"], run.stdout)
    assert result["changed"] is False and result["consistent"] is False
    firma = "%s_FIRMA" % DRIFT.name
    assert [d["database"] for d in result["databases"]] == ["%s_%s" % (DRIFT.name, c) for c in ("CONF", "DEMO", "FIRMA", "FIRMA2", "INIT")]
    assert all(d["round_trips"] == 3 for d in result["databases"]), result["databases"]
    # exactly what was injected, on the drifted database only: every kind but unreadable_statement
    assert identities(result["findings"]) == expected_identities(injected_on_lab(DRIFT))
    assert set(f["kind"] for f in result["findings"]) == set(KINDS) - {"unreadable_statement"}
    per_database = {d["database"]: (len(result["findings"]) if d["database"] == firma else 0) for d in result["databases"]}
    assert result["counts"]["by_database"] == per_database
    assert all(f["database"] == firma and not f["custom"] for f in result["findings"])
    # the repair plan is a plan: nothing ran
    assert result["applied"] == [] and any(s["kind"] == "create_table" and s["sql"] for s in result["repair_plan"])
    # the human report and the saved snapshots
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "NOT consistent" in text and firma in text
    saved = loads_snapshot((tmp_path / "snapshots" / (firma + ".json")).read_text(encoding="utf-8"))
    assert saved.platform == "lab" and saved.database == firma and len(saved.tables) > 40


def test_custom_tables_are_reported_apart(sites):
    injected = injected_on_lab(DRIFT)
    custom = next(i.table for i in injected if i.kind == "extra_column")
    run = run_playbook(PLAYBOOK, sites["inventory"], limit=DRIFT.name,
                       extravars={"k2_check_databases": ["FIRMA"], "k2_check_custom_tables": [custom.lower()]})
    result = only(run, DRIFT.name)
    assert [d["code"] for d in result["databases"]] == ["FIRMA"]
    custom_findings = [f for f in result["findings"] if f["custom"]]
    assert [(f["kind"], f["table"]) for f in custom_findings] == [("extra_column", custom)]
    assert result["counts"]["custom"] == {"total": 1, "by_kind": {"extra_column": 1}}
    assert [s["kind"] for s in result["repair_plan"] if s["table"] == custom] == ["deploy_project"]


def _scripts_copy(sites, spec, tmp_path):
    copy = tmp_path / "SQL"
    shutil.copytree(os.path.join(site.site_dir(sites["dir"], spec.name), "SQL"), str(copy))
    return copy


def test_repair_on_the_lab_then_it_checks_clean(sites, tmp_path):
    firma = "%s_FIRMA" % MEND.name
    scripts = _scripts_copy(sites, MEND, tmp_path)
    clean = run_playbook(PLAYBOOK, sites["inventory"], limit=MEND.name, extravars={"k2_check_scripts_dir": str(scripts)})
    result = only(clean, MEND.name)
    assert result["consistent"] is True and result["findings"] == [] and result["counts"]["total"] == 0

    # A table with quotes and a bracket in its name is in the script but not in the database.
    model = Schema("lab")
    model.add(Table(QUOTED_TABLE, [Column("Cis", "int4", nullable=False), Column("Naz", "varchar", 30)],
                    primary_key=PrimaryKey("PK " + QUOTED_TABLE, ("Cis",))))
    with open(str(scripts / "K2t_FIRMA_Lab.SQL"), "a", encoding="utf-8") as handle:
        handle.write("\n" + render._render_lab(model))  # pylint: disable=protected-access
    tables = render.platform_model(site.expected_model("company", MEND), "lab")
    protected = set(key(t.name) for t in site._private_tables("company"))  # pylint: disable=protected-access
    candidates = [tables.tables[n] for n in sorted(tables.tables) if n not in protected]

    def nullable_varchar(table):
        return next((c for c in table.columns if c.nullable and c.type == "varchar" and c.length and key(c.name) not in ("CIS", "ZKR")
                     and not (table.fulltext and key(c.name) in set(key(f) for f in table.fulltext.columns))
                     and not any(key(c.name) in set(key(x) for x in ix.columns + ix.include) for ix in table.indexes)), None)

    no_column = next(t for t in candidates if nullable_varchar(t) is not None)
    column = nullable_varchar(no_column)
    rest = [t for t in candidates if t is not no_column]
    no_index = next(t for t in rest if t.indexes)
    no_key = next(t for t in rest if t.primary_key is not None and t is not no_index)
    gone, extra = [t for t in rest if t not in (no_index, no_key)][:2]
    q = quote_ident
    psql(sites, ";\n".join([
        "DROP TABLE %s" % q("lab", gone.name),
        "DROP INDEX %s" % q("lab", no_index.indexes[0].name),
        "ALTER TABLE %s DROP CONSTRAINT %s" % (q("lab", no_key.name), q("lab", no_key.primary_key.name)),
        "ALTER TABLE %s ADD COLUMN %s int4 NULL" % (q("lab", extra.name), q("lab", "Extra 'col\"")),
        "ALTER TABLE %s DROP COLUMN %s" % (q("lab", no_column.name), q("lab", column.name)),
    ]) + ";", firma)
    # the conversion that adds the column back, as the vendor ships it, among the others
    (scripts / "konverze" / "K2_D413Lab.sql").write_text(
        "-- K2 konverze 413\nALTER TABLE %s ADD COLUMN IF NOT EXISTS %s varchar(%d) NULL\nGO\n" % (
            q("lab", no_column.name), q("lab", column.name), column.length), encoding="utf-8")
    extravars = {"k2_check_scripts_dir": str(scripts), "k2_check_apply": True, "k2_check_repair_kinds": REPAIRABLE}

    preview = run_playbook(PLAYBOOK, sites["inventory"], limit=MEND.name, extravars=extravars, check=True)
    before = only(preview, MEND.name)
    assert before["changed"] is True and before["applied"] == []
    kinds = {(f["kind"], f["table"]) for f in before["findings"]}
    assert {("missing_table", gone.name), ("missing_index", no_index.name), ("missing_primary_key", no_key.name),
            ("extra_column", extra.name), ("missing_column", no_column.name), ("missing_table", QUOTED_TABLE)} <= kinds
    # INIT and DEMO got the quoted table too: they are recreated, never repaired
    assert {s["kind"] for s in before["repair_plan"] if s["database"] in ("%s_INIT" % MEND.name, "%s_DEMO" % MEND.name)} == {"recreate_database"}
    would_run = before["would_run"]
    assert all(s["database"] == firma and s["sql"] for s in would_run)
    konverze = [s for s in would_run if s["kind"] == "konverze"]
    assert len(konverze) == 1 and konverze[0]["source"] == "K2_D413Lab.sql:2"
    assert psql(sites, "SELECT count(*) FROM pg_class WHERE relname = %s" % quote_literal("lab", gone.name), firma).strip() == "0"

    applied = run_playbook(PLAYBOOK, sites["inventory"], limit=MEND.name, extravars=extravars)
    after = only(applied, MEND.name)
    assert after["changed"] is True
    assert [(s["kind"], s["sql"]) for s in after["applied"]] == [(s["kind"], s["sql"]) for s in would_run]
    firma_state = next(d for d in after["databases"] if d["database"] == firma)
    assert firma_state["consistent"] is True and firma_state["findings_before_apply"] >= 6
    assert psql(sites, "SELECT count(*) FROM pg_class WHERE relname = %s" % quote_literal("lab", QUOTED_TABLE), firma).strip() == "1"

    again = run_playbook(PLAYBOOK, sites["inventory"], limit=MEND.name, extravars=dict(extravars, k2_check_databases=["FIRMA"]))
    second = only(again, MEND.name)
    assert again.changed() == 0 and second["consistent"] is True and second["findings"] == []


def test_hostile_scripts_and_a_database_that_is_gone(sites, tmp_path):
    conf = "%s_CONF" % DRIFT.name
    scripts = _scripts_copy(sites, DRIFT, tmp_path)
    text, _injected, line = drift.inject_unreadable((scripts / "K2t_FIRMA_Lab.SQL").read_text(encoding="utf-8"), "lab")
    (scripts / "K2t_FIRMA_Lab.SQL").write_text(text + "FROBNICATE THE TABLES\nGO\n", encoding="utf-8")
    (scripts / "K2t_CONF_Lab.SQL").write_bytes(b"\xff\xfe\x00\xd8")  # UTF-16 BOM, then half a surrogate pair
    ghost = "%s_GONE" % DRIFT.name
    psql(sites, "INSERT INTO \"FIRMY\" (\"Cis\", \"Zkr\", \"Naz\", \"DatabaseName\") VALUES (99, 'GONE', 'Gone', %s)" % quote_literal("lab", ghost), conf)
    try:
        run = run_playbook(PLAYBOOK, sites["inventory"], limit=DRIFT.name,
                           extravars={"k2_check_scripts_dir": str(scripts), "k2_check_databases": ["CONF", "GONE", "FIRMA2", "INIT"]})
    finally:
        psql(sites, "DELETE FROM \"FIRMY\" WHERE \"Zkr\" = 'GONE'", conf)
    result = only(run, DRIFT.name)
    state = dict((d["code"], d) for d in result["databases"])
    assert result["consistent"] is False
    assert "K2t_CONF_Lab.SQL" in state["CONF"]["error"] and "cannot read" in state["CONF"]["error"]
    assert "database missing" in state["GONE"]["error"] and ghost in state["GONE"]["error"]
    assert result["counts"]["errors"] == 2
    # the company databases that exist are still checked: only the two unreadable statements
    for code in ("FIRMA2", "INIT"):
        assert state[code]["error"] is None and state[code]["findings"] == 2
    unreadable = [f for f in result["findings"] if f["kind"] == "unreadable_statement"]
    assert len(unreadable) == 4 and all(f["table"] is None for f in unreadable)
    assert any("K2t_FIRMA_Lab.SQL:%d" % line in f["message"] for f in unreadable)
    assert any("FROBNICATE" in f["message"] for f in unreadable)
    assert {s["kind"] for s in result["repair_plan"] if s["database"].endswith("FIRMA2")} == {"review_script"}


def test_offline_snapshot_through_the_playbook(sites, tmp_path):
    """A support engineer checks a saved MS SQL export against the site's scripts, without any database."""
    model = site.expected_model("company", DRIFT)
    live = render.platform_model(model, "mssql")
    injected = drift.inject_all(live, seed=11)
    live.database = "K2_FIRMA"
    snapshot = tmp_path / "K2_FIRMA.json"
    from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import dumps_snapshot
    snapshot.write_text(dumps_snapshot(live), encoding="utf-8")
    scripts = _scripts_copy(sites, DRIFT, tmp_path)
    run = run_playbook(OFFLINE, "localhost,", extravars={"k2_check_scripts_dir": str(scripts), "k2_check_snapshot": str(snapshot),
                                                         "k2_check_report": str(tmp_path / "offline.md")})
    result = run.results(OFFLINE_TASK)["localhost"]
    assert not result["failed"], result
    assert result["platform"] == "mssql" and result["databases"][0]["database"] == "K2_FIRMA"
    assert identities(result["findings"]) == expected_identities(injected)
    assert "| K2_FIRMA | company | snapshot |" in (tmp_path / "offline.md").read_text(encoding="utf-8")


def test_the_preflight_role_fails_on_inconsistency_unless_told_to_only_report(sites, tmp_path):
    role = "tests/integration/playbooks/schema_check_role.yml"
    failing = run_playbook(role, sites["inventory"], limit=DRIFT.name)
    assert failing.failed_hosts() == [DRIFT.name]
    stop = failing.results("Stop when the structure is not consistent (K2-08)")[DRIFT.name]
    assert stop["failed"] and "%s_FIRMA" % DRIFT.name in stop["msg"]

    report = tmp_path / "role.md"
    reporting = run_playbook(role, sites["inventory"], limit=DRIFT.name,
                             extravars={"k2_preflight_schema_check_fail": False, "k2_preflight_schema_check_report": str(report)})
    assert reporting.rc == 0 and reporting.changed() == 0
    result = reporting.results("Show the preflight result")[DRIFT.name]["k2_preflight_result"]
    assert result["go"] is False and result["structure"]["consistent"] is False
    assert any("structure check (K2-08)" in reason and "%s_FIRMA" % DRIFT.name in reason for reason in result["reasons"])
    assert result["structure"]["report"] == str(report) and report.exists()

    clean = run_playbook(role, sites["inventory"], limit=MEND.name, extravars={"k2_preflight_schema_check_fail": True})
    assert clean.rc == 0, clean.stdout
