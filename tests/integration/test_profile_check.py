"""k2_profile_check.yml and comarch_profile_check.yml on lab sites, and the prechecks that run them first.

``std`` (K2) and ``cstd`` (Comarch, its service stopped so that nothing writes) have the labs' own default
layout, which the default profiles agree with (tests/unit/lab/test_vendor_layouts.py). ``odd`` (K2) and
``codd`` (Comarch) are built with their own layout of the private tables (the labs' ``layout`` and
``extra_columns`` knobs): renamed tables and columns, one extra column, and on ``codd`` one missing column.
The inventory does not carry those layouts: the collection learns them from the check's proposed override.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time

import pytest
import yaml

from conftest import run_playbook
from tools.comarchlab import cli as comarchlab
from tools.comarchlab import common as comarchcommon
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

K2_CHECK, COMARCH_CHECK = "playbooks/k2_profile_check.yml", "playbooks/comarch_profile_check.yml"
K2_TASK = "Check every entry of the K2 profile against the site's catalog and rows (docs/profiles.md)"
COMARCH_TASK = "Check every entry of the Comarch profile against the site's catalog and rows (docs/profiles.md)"
K2_LAYOUT = {"reinstall_manager": {"table": "SPRAVCE_REINSTALACE"}, "licence_sessions": {"host_column": "PocitacNazev"},
             "extensions": {"current_column": "JeAktualni"}}
K2_EXTRA = {"version_init": ["Poznamka"]}
COMARCH_LAYOUT = {"schedule": {"table": "SOA_Plan", "enabled_column": "SOH_Wlaczone"},
                  "history": {"status_column": "SOHI_Stan", "message_column": None}}
COMARCH_EXTRA = {"schedule": ["SOH_Opis"]}
TARGET = "gaia.12.4"
FAST = {"comarch_update_timeout": 20, "comarch_update_poll_interval": 1, "comarch_update_sync_tolerance": 20}

# Every table's rows and the catalog, as one checksum per table, in one query per database.
CHECKSUMS_SQL = """SELECT t.table_schema || '.' || t.table_name || '=' ||
  md5(query_to_xml(format('SELECT * FROM %I.%I ORDER BY 1', t.table_schema, t.table_name), true, false, '')::text) || '/' ||
  (SELECT md5(string_agg(c.column_name || ':' || c.data_type || ':' || c.is_nullable, ',' ORDER BY c.ordinal_position))
   FROM information_schema.columns c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name)
FROM information_schema.tables t WHERE t.table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"""


@pytest.fixture(scope="module")
def lab():
    lab_dir = tempfile.mkdtemp(prefix="erpops-profile-")
    os.chmod(lab_dir, 0o755)
    k2_fleet, comarch_fleet = os.path.join(lab_dir, "k2.json"), os.path.join(lab_dir, "comarch.json")
    with open(k2_fleet, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": "std", "company_tables": 5, "mandants": ["FIRMA"]},
                             {"name": "odd", "company_tables": 5, "mandants": ["FIRMA"], "layout": K2_LAYOUT, "extra_columns": K2_EXTRA,
                              "licence_sessions": [{"user": "NOVAK", "host": "PC-1", "program": "K2", "app_server": False}]}]}, handle)
    with open(comarch_fleet, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": "cstd", "service_stopped": True, "lifetime_seconds": 1200},
                             {"name": "codd", "layout": COMARCH_LAYOUT, "extra_columns": COMARCH_EXTRA, "full_sync_seconds": 1,
                              "lifetime_seconds": 1200}]}, handle)
    try:
        k2 = k2lab.up(lab_dir, k2_fleet)
        comarch = comarchlab.up(lab_dir, comarch_fleet)
        time.sleep(2.5)  # the stand-in service of codd runs its first sync
        with open(k2["inventory"], encoding="utf-8") as handle:
            hosts = json.load(handle)["all"]["children"]["k2_sites"]["hosts"]
        yield {"dir": lab_dir, "k2": k2["inventory"], "comarch": comarch["inventory"], "cluster": k2cluster.load(lab_dir), "hosts": hosts}
    finally:
        comarchlab.down(lab_dir, with_cluster=False)
        k2cluster.stop(lab_dir)
        shutil.rmtree(lab_dir, ignore_errors=True)


def folder_hashes(path):
    hashes = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                hashes[os.path.relpath(os.path.join(root, name), path)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def _sql(lab, database, text):
    return k2cluster.psql(lab["cluster"], text, database).strip()


def _checksums(lab, prefix):
    names = _sql(lab, "postgres", "SELECT datname FROM pg_database WHERE datname LIKE '%s%%' ORDER BY 1" % prefix).split()
    assert names
    return {name: _sql(lab, name, CHECKSUMS_SQL) for name in names}


def _mismatches(result):
    return sorted(f["entry"] for f in result["findings"] if f["severity"] == "mismatch")


def test_standard_sites_fit_and_nothing_changes(lab):
    k2_before, comarch_before = _checksums(lab, "std_"), _checksums(lab, "comarch_cstd_")
    k2_run = run_playbook(K2_CHECK, lab["k2"], limit="std")
    comarch_run = run_playbook(COMARCH_CHECK, lab["comarch"], limit="cstd")
    assert k2_run.rc == 0 and comarch_run.rc == 0, k2_run.stdout + comarch_run.stdout
    k2_result, comarch_result = k2_run.results(K2_TASK)["std"], comarch_run.results(COMARCH_TASK)["cstd"]
    for result in (k2_result, comarch_result):
        assert result["fits"] is True and result["mismatches"] == 0 and result["override_yaml"] == ""
        assert result["changed"] is False
    assert k2_result["databases"] == ["std_CONF", "std_DEMO", "std_FIRMA", "std_INIT"]
    assert comarch_result["databases"] == ["comarch_cstd_FIRMA"]
    assert k2_run.changed() == 0 and comarch_run.changed() == 0
    assert _checksums(lab, "std_") == k2_before and _checksums(lab, "comarch_cstd_") == comarch_before
    print("GOAL-INFO profile check seconds: K2 std %.2f s (%d databases), Comarch cstd %.2f s"
          % (k2_result["seconds"], len(k2_result["databases"]), comarch_result["seconds"]))


def _reinstall(lab, archive, extravars=None):
    # A copied K2 (the collection converts), as test_reinstall runs it.
    variables = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": archive, "k2_session_login": "k2",
                 "k2_install_method": "copy",
                 "k2_reinstall_state_dir": os.path.join(lab["dir"], "state"), "fleet_report_dir": os.path.join(lab["dir"], "reports"),
                 "k2_reinstall_restore_inventory": lab["k2"]}
    variables.update(extravars or {})
    return run_playbook("playbooks/k2_reinstall.yml", lab["k2"], extravars=variables, limit="odd")


ODD_CONF_SQL = ('SELECT * FROM "SPRAVCE_REINSTALACE"; SELECT * FROM "LICSESSION" ORDER BY 1; SELECT * FROM "ROZSIRENI" ORDER BY 1; '
                'SELECT * FROM "K2VERZE"')


def _odd_state(lab):
    return {"conf": _sql(lab, "odd_CONF", ODD_CONF_SQL), "folder": folder_hashes(lab["hosts"]["odd"]["k2_folder"])}


def test_k2_site_of_another_layout_is_named_stopped_and_then_reinstalled_with_the_override(lab):
    check = run_playbook(K2_CHECK, lab["k2"], limit="odd")
    result = check.results(K2_TASK)["odd"]
    assert result["failed"] is True and result["fits"] is False
    assert _mismatches(result) == ["extensions.current_column", "licence_sessions.host_column", "reinstall_manager.table"]
    table = next(f for f in result["findings"] if f["entry"] == "reinstall_manager.table")
    assert table["expected"] == "table public.REINSTALACE" and table["found"] == "no such table"
    assert table["candidates"][0] == "SPRAVCE_REINSTALACE (6 columns)"
    extra = [f for f in result["findings"] if f["severity"] == "info" and "Poznamka" in f["found"]]
    assert [f["database"] for f in extra] == ["odd_DEMO", "odd_FIRMA", "odd_INIT"]
    override = yaml.safe_load(result["override_yaml"])
    assert override == {"k2_profile": K2_LAYOUT}
    assert "licence_sessions.host_column [odd_CONF, K2-04]: expected column LICSESSION.Pocitac" in result["msg"]
    assert "override that makes the site fit (k2_profile):" in result["msg"]

    archive = k2release.build_release(os.path.join(lab["dir"], "releases"), TARGET, company_tables=5,
                                      layout=K2_LAYOUT, extra_columns=K2_EXTRA)["archive"]
    before = _odd_state(lab)
    refused = _reinstall(lab, archive)
    assert refused.failed_hosts() == ["odd"]
    assert refused.results(K2_TASK)["odd"]["failed"] is True
    assert _odd_state(lab) == before

    precheck = run_playbook("playbooks/k2_precheck.yml", lab["k2"], limit="odd", extravars=override)
    assert precheck.rc == 0, precheck.stdout
    assert precheck.results(K2_TASK)["odd"]["fits"] is True
    decision = precheck.results("Decide go or no-go")["odd"]["ansible_facts"]["k2_preflight_result"]
    assert decision["kind"] == "runnable" and decision["version"] == "gaia.12.3"

    done = _reinstall(lab, archive, override)
    assert done.rc == 0, done.stdout
    assert _sql(lab, "odd_CONF", 'SELECT "Verze" FROM "K2VERZE"') == TARGET
    assert _sql(lab, "odd_CONF", 'SELECT "ZakazPrihlaseni" FROM "SPRAVCE_REINSTALACE"') == "0"
    assert _sql(lab, "odd_CONF", 'SELECT COUNT(*) FROM "LICSESSION"') == "0"


def test_comarch_site_of_another_layout_is_named_stopped_and_then_updated_with_the_override(lab):
    check = run_playbook(COMARCH_CHECK, lab["comarch"], limit="codd")
    result = check.results(COMARCH_TASK)["codd"]
    assert result["failed"] is True
    assert _mismatches(result) == ["history.message_column", "history.status_column", "schedule.enabled_column", "schedule.table"]
    missing = next(f for f in result["findings"] if f["entry"] == "history.message_column")
    assert missing["override"] == {"message_column": None} and "does without it" in missing["note"]
    assert any(f["severity"] == "info" and "SOH_Opis" in f["found"] for f in result["findings"])
    override = yaml.safe_load(result["override_yaml"])
    assert override == {"comarch_profile": COMARCH_LAYOUT}

    database = "comarch_codd_FIRMA"
    site_root = comarchcommon.site_root(lab["dir"], "codd")
    state_sql = 'SELECT * FROM "CDN"."SOA_Plan" ORDER BY 1; SELECT * FROM "CDN"."SystemCDN" ORDER BY 1'
    before = _sql(lab, database, state_sql)
    refused = run_playbook("playbooks/comarch_update.yml", lab["comarch"], limit="codd", extravars=FAST)
    assert refused.failed_hosts() == ["codd"] and refused.results(COMARCH_TASK)["codd"]["failed"] is True
    assert _sql(lab, database, state_sql) == before
    assert not os.path.exists(os.path.join(site_root, "backups"))
    assert comarchcommon.read_text(os.path.join(site_root, comarchcommon.VERSION_FILE)) == "2024.5.1"

    updated = run_playbook("playbooks/comarch_update.yml", lab["comarch"], limit="codd", extravars=dict(FAST, **override))
    assert updated.rc == 0, updated.stdout
    assert _sql(lab, database, 'SELECT "SYS_Wartosc" FROM "CDN"."SystemCDN" WHERE "SYS_ID" = 3') == "2025.5000"
    assert _sql(lab, database, 'SELECT "SOH_Wlaczone" FROM "CDN"."SOA_Plan" ORDER BY "SOH_Id"') == "1\n0"
    again = run_playbook("playbooks/comarch_update.yml", lab["comarch"], limit="codd", extravars=dict(FAST, **override))
    assert again.rc == 0 and again.changed() == 0, again.stdout
