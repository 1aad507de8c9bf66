"""The lab's stand-in K2 installer on real databases, and the collection's modules around it.

k2_reinstall_mode sets the mode the installer demands; the installer (tools/k2lab/installer.py,
which shares no code with the collection) runs the seed's install steps; k2_install_verdict
judges the result from evidence; k2_convert records what the installer ran (baseline) and
never runs a one-time conversion again, by the journal or by the database's version.
What ran is checked in the databases (the conversions' marker table), not in the modules' answers.
"""

import json
import os
import subprocess
import sys

import pytest

import lab_snapshot
from conftest import run_playbook
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import installer as lab_installer
from tools.k2lab import release as k2release
from tools.k2lab.site import SiteSpec, build, database_name, installer_records_path, site_dir

STEPS = "tests/integration/playbooks/installer_steps.yml"
TARGET = "ori.09"
FROM = "gaia.12.3"
MARKER = "K2LAB_KONVERZE"
INSTALLER = os.path.join(os.path.dirname(k2lab.__file__), "installer.py")


@pytest.fixture(scope="module")
def lab_release(lab):
    return k2release.build_release(os.path.join(lab["dir"], "releases"), TARGET, company_tables=4)["archive"]


def make_site(lab, name, **spec):
    spec = SiteSpec(name=name, version=FROM, mandants=["FIRMA", "FIRMA2"], company_tables=4, licence_sessions=[], **spec)
    build(lab["dir"], lab["cluster"], spec)
    inventory = os.path.join(lab["dir"], "%s_inventory.yml" % name)
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(k2lab.inventory(lab["dir"], lab["cluster"], [spec]), handle)
    return {"name": name, "folder": site_dir(lab["dir"], name), "inventory": inventory, "cluster": lab["cluster"],
            "records": installer_records_path(lab["dir"])}


def sql(site, text, code="CONF"):
    return k2cluster.psql(site["cluster"], text, database=database_name(site["name"], code)).strip()


def markers(site, code):
    if sql(site, "SELECT to_regclass('\"%s\"') IS NOT NULL" % MARKER, code) != "t":
        return {}
    found = {}
    for line in sql(site, 'SELECT "SOUBOR", count(*) FROM "%s" GROUP BY 1 ORDER BY 1' % MARKER, code).splitlines():
        name, count = line.split("|")
        found[name] = int(count)
    return found


def install(site, archive, mode="classic", timeout=120):
    argv = [sys.executable, INSTALLER, "--mode", mode, "--folder", site["folder"], "--archive", archive, "--records", site["records"]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def steps(site, names, **extra):
    variables = {"steps": names, "target": TARGET, "from": FROM}
    variables.update(extra)
    return run_playbook(STEPS, site["inventory"], extravars=variables)


def ban(site):
    sql(site, 'UPDATE "REINSTALACE" SET "ZakazPrihlaseni" = 1')


def reinstall_mode(site):
    """As k2_reinstall_mode sets it (proven in the first test), without a playbook run."""
    sql(site, 'UPDATE "REINSTALACE" SET "ZakazPrihlaseni" = 1, "ReinstalacePovolena" = 1')


def test_classic_install_judged_and_baselined_never_converted_twice(lab, lab_release):
    site = make_site(lab, "inclassic", missing_inits=["FIRMA2"])
    refused = install(site, lab_release)
    assert refused.returncode == 2 and "not in reinstall mode" in refused.stdout

    # Reinstall mode: refused with every reason while FIRMA2 lacks an initialization and logins are open; nothing changes.
    run = steps(site, ["mode"])
    result = run.results("Reinstall mode")[site["name"]]
    assert result["failed"] and len(result["reasons"]) == 2 and "FIRMA2: Prepocet skladu" in result["reasons"][0]
    assert sql(site, 'SELECT "ReinstalacePovolena" FROM "REINSTALACE"') == "0"
    sql(site, 'UPDATE "INICIALIZACE" SET "Provedeno" = now()', "FIRMA2")
    ban(site)
    check = run_playbook(STEPS, site["inventory"], extravars={"steps": ["mode"], "target": TARGET}, check=True, diff=True)
    assert check.changed() == 1 and sql(site, 'SELECT "ReinstalacePovolena" FROM "REINSTALACE"') == "0"
    assert steps(site, ["mode"]).changed() == 1
    assert sql(site, 'SELECT "ReinstalacePovolena" FROM "REINSTALACE"') == "1"
    assert steps(site, ["mode"]).changed() == 0

    done = install(site, lab_release)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line[5:] for line in done.stdout.splitlines() if line.startswith("STEP ")] == list(lab_installer.STEPS)
    assert sql(site, 'SELECT "ReinstalacePovolena" FROM "REINSTALACE"') == "0", "the installer clears reinstall mode, as K2 does"
    record = lab_installer.find_record(lab_installer.load_records(site["records"]), site["folder"])
    assert record["version"] == TARGET and "SQL/konverze/K2_D509Lab.sql" in record["files"]
    # The old version's installed files were removed; the site's own files stayed.
    assert not os.path.exists(os.path.join(site["folder"], "SQL", "konverze", "K2_D412Lab.sql"))
    assert os.path.exists(os.path.join(site["folder"], "k2.ini")) and os.path.isdir(os.path.join(site["folder"], "extensions"))
    for code in ("CONF", "FIRMA", "FIRMA2"):
        kind = "C" if code == "CONF" else "D"
        assert markers(site, code) == {"K2_%s509Lab.sql" % kind: 1, "K2_%s509LabAdditional.sql" % kind: 1}
        assert sql(site, 'SELECT "Verze" FROM "K2VERZE"', code) == TARGET
    # DEMO and INIT were recreated by the data import: new version, no conversion markers.
    assert markers(site, "DEMO") == {} and sql(site, 'SELECT "Verze" FROM "K2VERZE"', "DEMO") == TARGET

    # Judged from evidence; then, without a baseline, the database's version alone stops the one-time files (the journal
    # knows nothing of what the installer ran).
    judged = steps(site, ["verdict", "convert"], exit_code=0, run_id="r1")
    verdict = judged.results("Verdict")[site["name"]]
    assert verdict["ok"] and verdict["checks"] == {"exit_code": 0, "folder_at_target": True, "log_errors": 0,
                                                   "databases_at_target": True, "version_initialized": True}
    guarded = judged.results("Convert")[site["name"]]
    assert guarded["failed"] and "is a one-time conversion to version 509, and the database is already at ori.09" in guarded["msg"]
    assert markers(site, "FIRMA")["K2_D509Lab.sql"] == 1

    # Check mode of the baseline and of clearing reinstall mode: says what it would do, changes no file, catalog or row.
    before = lab_snapshot.snapshot(site["cluster"], [site["name"] + "_"], site["folder"], site["records"])
    dry = run_playbook(STEPS, site["inventory"], check=True, diff=True,
                       extravars={"steps": ["baseline", "mode"], "mode_state": "absent", "target": TARGET, "from": FROM, "run_id": "r1"})
    assert dry.results("Baseline")[site["name"]]["changed"] and not dry.failed_hosts(), dry.stdout[-2000:]
    assert lab_snapshot.differences(before, lab_snapshot.snapshot(site["cluster"], [site["name"] + "_"], site["folder"],
                                                                  site["records"])) == []

    baseline = steps(site, ["baseline"], run_id="r1")
    statuses = {f["file"]: f["status"] for d in baseline.results("Baseline")[site["name"]]["databases"] for f in d["files"]}
    assert set(statuses.values()) == {"recorded (installer)"} and baseline.changed() == 1
    again = steps(site, ["mode", "baseline", "convert"], mode_state="absent", run_id="r1")
    assert again.changed() == 0 and not again.failed_hosts()
    for code in ("CONF", "FIRMA", "FIRMA2"):
        assert sorted(markers(site, code).values()) == [1, 1], "each conversion applied exactly once in total"


def test_takeover_of_a_torso(lab, lab_release):
    site = make_site(lab, "intorso", torso=True)
    assert lab_installer.find_record(lab_installer.load_records(site["records"]), site["folder"]) is None
    reinstall_mode(site)
    refused = install(site, lab_release, mode="classic")
    assert refused.returncode == 2 and "install by takeover" in refused.stdout
    done = install(site, lab_release, mode="takeover")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "structure check: consistent" in done.stdout, "no k2 before: the installer checks the structures itself"
    assert os.path.exists(os.path.join(site["folder"], "k2"))
    assert steps(site, ["verdict"], exit_code=0).results("Verdict")[site["name"]]["ok"]


def test_installer_failures_are_judged_with_their_step(lab, lab_release):
    """A site per fault, all judged in one playbook run (host variables carry each installer's exit code and output)."""
    faults = {"inremoval": ({"fail_at": "removal"}, 11, "removal"), "incopy": ({"fail_at": "copy"}, 12, "copy"),
              "ininit": ({"fail_at": "initialization_2"}, 18, "initialization"), "inconv": ({}, 13, "conversions")}
    sites, hosts = {}, {}
    for name, (knobs, exit_code, _step) in faults.items():
        site = sites[name] = make_site(lab, name, installer_faults=knobs)
        log = os.path.join(site["folder"], "sql_inst.log")
        with open(log, "w", encoding="utf-8") as handle:
            handle.write("2020-01-01 00:00:00 UTC  old  K2_D100Lab.sql  batch 1, line 1: an error of an earlier install\n")
        if name == "inconv":
            # The data already holds what the one-time conversion creates: a real server error in its third batch.
            sql(site, 'SET ROLE "%s"; CREATE TABLE "K2LAB_V509_D" ("CIS" integer)' % site["cluster"].login, "FIRMA2")
        reinstall_mode(site)
        offset = os.path.getsize(log)
        failed = install(site, lab_release)
        assert failed.returncode == exit_code, failed.stdout
        with open(site["inventory"], encoding="utf-8") as handle:
            host = json.load(handle)["all"]["children"]["k2_sites"]["hosts"][name]
        hosts[name] = dict(host, exit_code=failed.returncode, output=failed.stdout, log_offset=offset)
    inventory = os.path.join(lab["dir"], "infaults_inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump({"all": {"children": {"k2_sites": {"hosts": hosts}}}}, handle)
    run = run_playbook(STEPS, inventory, extravars={"steps": ["verdict"], "target": TARGET, "from": FROM})
    verdicts = run.results("Verdict")
    assert sorted(run.failed_hosts()) == sorted(faults)
    for name, (_knobs, _exit_code, step) in faults.items():
        assert verdicts[name]["step"] == step, (name, verdicts[name]["reasons"])
    for name in ("inremoval", "incopy"):
        assert "K2-01" in verdicts[name]["next"] and not verdicts[name]["checks"]["folder_at_target"]
    assert verdicts["ininit"]["not_initialized"] == ["FIRMA2"] and "Povinné" in verdicts["ininit"]["next"]
    conversion = verdicts["inconv"]
    assert conversion["restore_needed"] and "restore the databases AND the K2 folder" in conversion["next"]
    assert [(e["database"], e["file"], e["batch"]) for e in conversion["log"]] == [("inconv_FIRMA2", "K2_D509Lab.sql", 3)]
    assert 'relation "K2LAB_V509_D" already exists' in conversion["log"][0]["message"]
    assert "FIRMA2" in conversion["behind"]
