"""The reinstall with each install method on the lab, through playbooks/k2_reinstall.yml (ansible-runner, fresh HOME).

One lab of four sites, gaia.12.3 -> ori.09 (a generation change, the test reinstall waived):
``cls`` installer, classic (the lab host's installer has its record); ``tko`` installer, takeover of a torso;
``opr`` operator (two runs, the test runs the installer in between); ``cpy`` copy (a copied K2).
What happened is checked in the databases and folders: versions, the conversions' marker table (each
one-time conversion exactly once in total), the Reinstall manager's row, the installer's records.
The installer failing at each of its knobs is test_installer_faults.py.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import lab_snapshot
from conftest import run_playbook
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import installer as lab_installer
from tools.k2lab import release as k2release

PLAYBOOK = "playbooks/k2_reinstall.yml"
TARGET = "ori.09"
SITES = ("cls", "tko", "opr", "cpy")
MARKER = "K2LAB_KONVERZE"


@pytest.fixture(scope="module")
def lab():
    lab_dir = tempfile.mkdtemp(prefix="erpops-methods-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    common = {"company_tables": 4, "mandants": ["FIRMA", "FIRMA2"], "licence_sessions": []}
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [
            dict(common, name="cls", outdated_extensions=["Sklad"]),
            dict(common, name="tko", torso=True),
            dict(common, name="opr", install_method="operator"),
            dict(common, name="cpy", install_method="copy"),
        ]}, handle)
    inventory = k2lab.up(lab_dir, fleet_path)["inventory"]
    cluster = k2cluster.load(lab_dir)
    with open(inventory, encoding="utf-8") as handle:
        data = json.load(handle)
    # The copied K2 is reinstalled in the outage mode conservative: every step inside the window, two full backups.
    data["all"]["children"]["k2_sites"]["hosts"]["cpy"]["k2_outage_mode"] = "conservative"
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    hosts = data["all"]["children"]["k2_sites"]["hosts"]
    yield {"dir": lab_dir, "inventory": inventory, "cluster": cluster, "hosts": hosts,
           "release": k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=4)["archive"]}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def reinstall(lab, limit=None, check=False, **extra):
    extravars = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": lab["release"], "k2_session_login": "k2",
                 "k2_reinstall_waive_test_reinstall": True, "k2_reinstall_installer_timeout": 600,
                 "k2_reinstall_state_dir": os.path.join(lab["dir"], "state"), "fleet_report_dir": os.path.join(lab["dir"], "reports")}
    extravars.update(extra)
    return run_playbook(PLAYBOOK, lab["inventory"], extravars=extravars, limit=limit, check=check, fresh_home=True)


def sql(lab, text, site, code="CONF"):
    return k2cluster.psql(lab["cluster"], text, database="%s_%s" % (site, code)).strip()


def manager(lab, site):
    """(login ban, reinstall mode) of the Reinstall manager."""
    return tuple(sql(lab, 'SELECT "ZakazPrihlaseni", "ReinstalacePovolena" FROM "REINSTALACE"', site).split("|"))


def markers(lab, site, code):
    if sql(lab, "SELECT to_regclass('\"%s\"') IS NOT NULL" % MARKER, site, code) != "t":
        return {}
    rows = sql(lab, 'SELECT "SOUBOR", count(*) FROM "%s" GROUP BY 1 ORDER BY 1' % MARKER, site, code).splitlines()
    return {name: int(count) for name, count in (row.split("|") for row in rows)}


def result(run, host):
    for task in ("Sum up the run", "Say what failed and what to do", "Say what the operator does now", "Say that the site is already reinstalled"):
        found = run.results(task).get(host)
        if found:
            return found["ansible_facts"]["k2_reinstall_result"]
    raise AssertionError("no result for %s" % host)


def assert_reinstalled(lab, site):
    for code in ("CONF", "FIRMA", "FIRMA2"):
        assert sql(lab, 'SELECT "Verze" FROM "K2VERZE"', site, code) == TARGET, (site, code)
        kind = "C" if code == "CONF" else "D"
        assert markers(lab, site, code).get("K2_%s509Lab.sql" % kind) == 1, (site, code, "one-time conversion exactly once")
    assert manager(lab, site) == ("0", "0"), "ban lifted and reinstall mode cleared at the end"
    with open(os.path.join(lab["hosts"][site]["k2_folder"], "K2VERSION.txt"), encoding="utf-8") as handle:
        assert handle.read().strip() == TARGET


def site_snapshot(lab):
    """Every site's folder, run state and backups beside it, the installer's records; every database: catalog and rows."""
    return lab_snapshot.snapshot(lab["cluster"], ["%s_" % site for site in SITES], os.path.join(lab["dir"], "sites"),
                                 os.path.join(lab["dir"], "installer"))


@pytest.fixture(scope="module")
def runs(lab):
    observed = {"before_check": site_snapshot(lab)}
    # Every method in check mode: installer classic and takeover, operator's first run, copy.
    observed["check"] = reinstall(lab, check=True)
    observed["after_check"] = site_snapshot(lab)
    observed["first"] = reinstall(lab)
    observed["opr_waiting"] = manager(lab, "opr")
    # The operator runs the K2 installer between the two runs (classic: the lab host has the record of opr).
    host = lab["hosts"]["opr"]
    observed["operator_install"] = subprocess.run(
        [sys.executable, k2lab.INSTALLER, "--mode", "classic", "--folder", host["k2_folder"], "--archive", lab["release"],
         "--records", host["k2_installer_records"]], capture_output=True, text=True, timeout=600, check=False)
    observed["second"] = reinstall(lab, limit="opr", k2_reinstall_operator_done=True)
    return observed


def test_check_mode_changes_nothing(runs):
    assert runs["check"].rc == 0, runs["check"].stdout[-3000:]
    for site in SITES:
        assert result(runs["check"], site)["status"] in ("dry run", "waiting for the operator"), result(runs["check"], site)
    installer = runs["check"].results("Run the K2 installer")
    assert sorted(installer) == ["cls", "tko"] and all(r["changed"] and r["skipped_in_check_mode"] for r in installer.values()), installer
    unpack = runs["check"].results("Copy the release into the K2 folder")["cpy"]
    assert unpack["changed"] and unpack["replaced"], "check mode says what the copy would replace"
    assert runs["before_check"]["databases"] and len(runs["before_check"]["files"]) > 100
    assert lab_snapshot.differences(runs["before_check"], runs["after_check"]) == []


def test_installer_classic_and_takeover(lab, runs):
    for site in ("cls", "tko"):
        assert result(runs["first"], site)["status"] == "done", result(runs["first"], site)
        assert_reinstalled(lab, site)
    records = lab_installer.load_records(lab["hosts"]["cls"]["k2_installer_records"])["records"]
    mine = {os.path.basename(r["folder"]): r["version"] for r in records}
    assert mine["cls"] == TARGET and mine["tko"] == TARGET, "classic updates its record, a takeover writes one"
    # The installer's conversions are in the journal as the installer's; k2_convert ran none of them.
    journal = sql(lab, 'SELECT DISTINCT "MESSAGE" FROM "ERPOPS_CONVERSION_JOURNAL"', "cls", "FIRMA")
    assert journal.startswith("applied by the K2 installer (baseline of run cls-ori.09-")


def test_copy_method(lab, runs):
    assert result(runs["first"], "cpy")["status"] == "done", result(runs["first"], "cpy")
    assert_reinstalled(lab, "cpy")
    # K2 ran version initialization at its first start on the new version (the extensions update started it).
    assert sql(lab, "SELECT count(*) FROM \"INICIALIZACE\" WHERE \"Funkce\" = 'Inicializace verze ori.09' AND \"Provedeno\" IS NOT NULL",
               "cpy", "FIRMA") == "1"
    with open(lab["hosts"]["cpy"]["k2_folder"].rstrip("/") + ".erpops-run.json", encoding="utf-8") as handle:
        state = json.load(handle)
    assert state["decisions"]["outage_mode"] == "conservative"
    steps = [(step["name"], step["result"], step["window"]) for step in state["steps"]]
    assert steps[0] == ("preflight", "ok", "before") and {window for _name, _result, window in steps[1:]} == {"inside"}
    assert [name for name, _result, _window in steps] == [
        "preflight", "maintenance_on", "backup", "gates", "structure_check", "structure", "backup_after_check", "disk", "stage", "install",
        "conversions", "extensions", "post_checks", "maintenance_off"]
    assert dict((name, result) for name, result, _window in steps)["structure_check"] == "skipped"
    backups = [entry for entry in state["backups"] if entry.get("run_id") == state["run_id"] and entry.get("kind", "database") == "database"]
    first = sorted(entry["database"] for entry in backups if entry["position"] == "before_check")
    assert sorted(entry["database"] for entry in backups if entry["position"] == "after_check") == first
    assert {"cpy_CONF", "cpy_FIRMA", "cpy_FIRMA2"} <= set(first)
    assert {guard["position"] for guard in state["backup_guards"]["databases"].values()} == {"after_check"}
    assert state["outage"]["seconds"] > 0 and state["outage"]["windows"]["before"] > 0


def test_operator_two_runs(lab, runs):
    waiting = result(runs["first"], "opr")
    assert waiting["status"] == "waiting for the operator" and "k2_reinstall_operator_done=true" in waiting["msg"]
    assert runs["opr_waiting"] == ("1", "1"), "window open and reinstall mode set while the operator installs"
    assert runs["operator_install"].returncode == 0, runs["operator_install"].stdout
    done = result(runs["second"], "opr")
    assert done["status"] == "done", done
    assert done["steps_run"][0] == "install"
    assert_reinstalled(lab, "opr")
