"""The K2 installer failing at each of its knobs, through playbooks/k2_reinstall.yml; and the test reinstall gate (K2-18).

One lab, gaia.12.3 -> ori.09 (a generation change), the lab's stand-in installer (method installer, classic) on every site:

* ``rmv`` fails half-way through the removal of the old installation, ``cpf`` half-way through the copy of the new files,
  ``hng`` hangs in a child process before the copy and is stopped at its timeout (10 s, a host variable), ``cnv`` meets a
  real server error in batch 3 of the one-time conversion of FIRMA2, ``ini`` fails in version initialization;
* ``prd`` has no fault and no waiver: the production run of a generation change. Before the first run
  k2_test_environment.yml makes its test copy; the inventory host ``tst`` is that copy (its folder and CONF), and nothing
  else links the two.

The fault sites waive the test reinstall (a host variable). The first run takes every site at once: the faults fail,
``prd`` is no-go (no test reinstall recorded when its gate is read), ``tst`` is the test reinstall. Then each fault is
fixed the runbook's way (``cnv``: the printed restore of databases and folder, then the data fixed) and a second run
finishes the fault sites and ``prd``. What happened is read in the databases, the folders and the sites' state.
"""

import glob
import json
import os
import re
import shutil
import tempfile

import pytest

from conftest import run_playbook
from lab_snapshot import folder_version
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import installer as lab_installer
from tools.k2lab import release as k2release

TARGET = "ori.09"
MARKER = "K2LAB_KONVERZE"
HANG_SECONDS = 900
TIMEOUT = 10
# site: (installer knobs, the step the verdict names, words of the message, words of the next step, restore needed)
FAULTS = {
    "rmv": ({"fail_at": "removal"}, "removal", "the old installation could not be removed", "back to K2-01", False),
    "cpf": ({"fail_at": "copy"}, "copy", "copying the new files failed", "back to K2-01", False),
    "hng": ({"hang": HANG_SECONDS, "hang_at": "copy"}, "copy", "did not finish within the timeout", "back to K2-01", False),
    "cnv": ({}, "conversions", "cnv_FIRMA2 K2_D509Lab.sql batch 3", "restore the databases AND the K2 folder", True),
    "ini": ({"fail_at": "initialization_2"}, "initialization", "version initialization has not run in FIRMA2", "resumes at the step install",
            False),
}


@pytest.fixture(scope="module")
def lab():
    lab_dir = tempfile.mkdtemp(prefix="erpops-faults-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    common = {"company_tables": 4, "mandants": ["FIRMA", "FIRMA2"], "licence_sessions": []}
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [dict(common, name=name, installer_faults=fault[0]) for name, fault in FAULTS.items()]
                   + [dict(common, name="prd")]}, handle)
    inventory = k2lab.up(lab_dir, fleet_path)["inventory"]
    with open(inventory, encoding="utf-8") as handle:
        data = json.load(handle)
    hosts = data["all"]["children"]["k2_sites"]["hosts"]
    for name in FAULTS:
        hosts[name]["k2_reinstall_waive_test_reinstall"] = True
    hosts["hng"]["k2_reinstall_installer_timeout"] = TIMEOUT
    # The test copy of prd (made by k2_test_environment.yml before the first run): its folder and CONF, no web client.
    hosts["tst"] = dict(hosts["prd"], k2_folder=hosts["prd"]["k2_folder"] + "_TESTENV", k2_conf_database="prd_CONF_TESTENV",
                        k2_webconfig_path="")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    cluster = k2cluster.load(lab_dir)
    # The data of cnv's FIRMA2 already holds what the one-time conversion creates: a real server error at its batch 3.
    k2cluster.psql(cluster, 'SET ROLE "%s"; CREATE TABLE "K2LAB_V509_D" ("CIS" integer)' % cluster.login, database="cnv_FIRMA2")
    yield {"dir": lab_dir, "inventory": inventory, "cluster": cluster, "hosts": hosts,
           "release": k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=4)["archive"]}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def reinstall(lab, limit=None, **extra):
    extravars = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": lab["release"], "k2_session_login": "k2",
                 "k2_reinstall_state_dir": os.path.join(lab["dir"], "state"), "fleet_report_dir": os.path.join(lab["dir"], "reports"),
                 "k2_reinstall_restore_inventory": lab["inventory"]}
    extravars.update(extra)
    return run_playbook("playbooks/k2_reinstall.yml", lab["inventory"], extravars=extravars, limit=limit, fresh_home=True)


def sql(lab, text, database):
    return k2cluster.psql(lab["cluster"], text, database=database).strip()


def manager(lab, conf):
    """(login ban, reinstall mode) of the Reinstall manager."""
    return tuple(sql(lab, 'SELECT "ZakazPrihlaseni", "ReinstalacePovolena" FROM "REINSTALACE"', conf).split("|"))


def markers(lab, database):
    if sql(lab, "SELECT to_regclass('\"%s\"') IS NOT NULL" % MARKER, database) != "t":
        return {}
    rows = sql(lab, 'SELECT "SOUBOR", count(*) FROM "%s" GROUP BY 1 ORDER BY 1' % MARKER, database).splitlines()
    return {name: int(count) for name, count in (row.split("|") for row in rows)}


def result(run, host):
    for task in ("Sum up the run", "Say what failed and what to do", "Say why the site is not reinstalled"):
        found = run.results(task).get(host)
        if found:
            return found["ansible_facts"]["k2_reinstall_result"]
    raise AssertionError("no result for %s: %s" % (host, run.stdout[-3000:]))


def state(folder):
    with open(folder.rstrip("/") + ".erpops-run.json", encoding="utf-8") as handle:
        return json.load(handle)


def left_running(folder):
    """Processes whose command line names the folder (the installer and anything it started)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if folder in argv and any("installer" in part for part in argv):
            found.append((int(pid), " ".join(argv)))
    return found


def assert_on_target(lab, site, conf=None, codes=("CONF", "FIRMA", "FIRMA2")):
    for code in codes:
        database = conf if conf and code == "CONF" else "%s_%s" % (site, code)
        assert sql(lab, 'SELECT "Verze" FROM "K2VERZE"', database) == TARGET, (site, code)
        kind = "C" if code == "CONF" else "D"
        assert markers(lab, database).get("K2_%s509Lab.sql" % kind) == 1, (site, code, "one-time conversion exactly once in total")


@pytest.fixture(scope="module")
def runs(lab):
    observed = {"testenv": run_playbook("playbooks/k2_test_environment.yml", lab["inventory"], limit="prd",
                                        extravars={"fleet_report_dir": os.path.join(lab["dir"], "reports-testenv")})}
    observed["first"] = reinstall(lab)
    observed["managers_after_first"] = {site: manager(lab, "%s_CONF" % site) for site in list(FAULTS) + ["prd"]}
    observed["left_running"] = left_running(lab["hosts"]["hng"]["k2_folder"])
    observed["states_after_first"] = {site: state(lab["hosts"][site]["k2_folder"]) for site in list(FAULTS) + ["prd"]}

    # cnv: a rerun before the restore is refused; then the printed restore (databases and folder), then the data fixed.
    observed["cnv_markers_after_first"] = {code: markers(lab, "cnv_" + code) for code in ("CONF", "FIRMA", "FIRMA2")}
    observed["cnv_rerun_unrestored"] = reinstall(lab, limit="cnv")
    observed["cnv_after_refusal"] = {code: markers(lab, "cnv_" + code) for code in ("CONF", "FIRMA", "FIRMA2")}
    command = result(observed["first"], "cnv")["restore_command"] or ""
    run_id = re.search(r"-e k2_restore_run_id=(\S+)", command)
    observed["cnv_restore"] = run_playbook("playbooks/k2_restore.yml", lab["inventory"], limit="cnv", fresh_home=True,
                                           extravars={"k2_restore_run_id": run_id.group(1) if run_id else "?",
                                                      "k2_restore_folder": "-e k2_restore_folder=true" in command})
    observed["cnv_after_restore"] = ({code: markers(lab, "cnv_" + code) for code in ("CONF", "FIRMA", "FIRMA2")},
                                     folder_version(lab["hosts"]["cnv"]["k2_folder"]),
                                     sql(lab, 'SELECT "Verze" FROM "K2VERZE"', "cnv_CONF"))
    sql(lab, 'DROP TABLE "K2LAB_V509_D"', "cnv_FIRMA2")
    # The other faults are fixed: the installer's knobs go, and hng's installer gets the usual time again.
    with open(lab["inventory"], encoding="utf-8") as handle:
        data = json.load(handle)
    data["all"]["children"]["k2_sites"]["hosts"]["hng"].pop("k2_reinstall_installer_timeout")
    with open(lab["inventory"], "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    for site in ("rmv", "cpf", "hng", "ini"):
        knobs = os.path.join(lab["hosts"][site]["k2_folder"], "Conf", "Special", "k2lab.json")
        with open(knobs, encoding="utf-8") as handle:
            data = json.load(handle)
        data.pop("installer")
        with open(knobs, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
    observed["second"] = reinstall(lab, limit=",".join(list(FAULTS) + ["prd"]))
    return observed


def test_the_first_run(runs):
    first = runs["first"]
    assert sorted(first.failed_hosts()) == sorted(list(FAULTS) + ["prd"]), first.stdout[-3000:]
    assert result(first, "tst")["status"] == "done"
    assert first.results("Fail the sites that were no-go (set k2_nogo_ok to accept them)")["prd"]["failed"], "no-go fails the site"


@pytest.mark.parametrize("site", sorted(FAULTS))
def test_a_failed_install_keeps_the_site_closed_names_the_step_and_the_way_on(lab, runs, site):
    _knobs, step, words, next_words, restore = FAULTS[site]
    failed = result(runs["first"], site)
    assert failed["status"] == "failed" and failed["failed_step"] == "install", failed
    assert "install step %s failed" % step in failed["msg"] and words in failed["msg"], failed["msg"]
    assert next_words in failed["next"], failed["next"]
    assert failed["restore_required"] is restore
    assert bool(failed["restore_command"]) is (site in ("cnv", "ini")), "a restore is named only where it is a way on or back"
    assert runs["managers_after_first"][site] == ("1", "1"), "the ban stays, reinstall mode stays for the rerun"
    saved = runs["states_after_first"][site]
    assert saved["status"] == "failed" and saved["restore_required"] is restore
    assert [s["result"] for s in saved["steps"] if s["name"] == "install"] == ["failed"]
    assert saved["decisions"]["mode"] == ("takeover" if step in ("removal", "copy") else "upgrade"), saved["decisions"]


def test_a_conversion_error_names_file_batch_and_server_message(runs):
    failed = result(runs["first"], "cnv")
    assert 'relation "K2LAB_V509_D" already exists' in failed["msg"]
    assert failed["restore_command"] in failed["next"] and "-e k2_restore_folder=true" in failed["restore_command"]
    assert runs["cnv_markers_after_first"]["FIRMA"].get("K2_D509Lab.sql") == 1, "FIRMA was converted before FIRMA2 failed"
    assert runs["cnv_markers_after_first"]["FIRMA2"].get("K2_D509Lab.sql") == 1, "the failed batch rolled back; nothing ran twice"


def test_a_rerun_before_the_restore_is_refused_and_changes_nothing(runs):
    refused = runs["cnv_rerun_unrestored"]
    assert refused.failed_hosts() == ["cnv"]
    begin = refused.results("Take the site's lock and read its run state (one run at a time)")["cnv"]
    assert begin["failed"] and "failed after one-time conversions ran; it cannot be resumed" in begin["msg"], begin["msg"]
    assert runs["cnv_after_refusal"] == runs["cnv_markers_after_first"]


def test_the_printed_restore_brings_databases_and_folder_back(runs):
    assert runs["cnv_restore"].rc == 0, runs["cnv_restore"].stdout[-3000:]
    restored_markers, version, conf_version = runs["cnv_after_restore"]
    assert restored_markers == {"CONF": {}, "FIRMA": {}, "FIRMA2": {}}, "no conversion of the failed run survives the restore"
    assert version == "gaia.12.3" and conf_version == "gaia.12.3"


def test_the_hang_ends_by_the_timeout_and_leaves_no_process(lab, runs):
    run = [e for e in runs["first"].events if e.get("event") == "runner_on_ok"
           and e["event_data"].get("task") == "Run the K2 installer" and e["event_data"].get("host") == "hng"]
    assert len(run) == 1
    data = run[0]["event_data"]
    assert data["res"]["timed_out"] is True and data["res"]["exit_code"] != 0
    assert TIMEOUT <= data["duration"] < HANG_SECONDS / 2, "stopped at its timeout, not after the hang"
    assert "(lab) hanging for" in data["res"]["output"]
    assert runs["left_running"] == [], "the installer and the child it waited on were stopped"


@pytest.mark.parametrize("site", sorted(FAULTS))
def test_the_rerun_after_the_fix_finishes_each_one_time_conversion_once(lab, runs, site):
    done = result(runs["second"], site)
    assert done["status"] == "done", done
    assert_on_target(lab, site)
    assert manager(lab, "%s_CONF" % site) == ("0", "0"), "ban lifted and reinstall mode cleared at the end"
    assert folder_version(lab["hosts"][site]["k2_folder"]) == TARGET
    saved = state(lab["hosts"][site]["k2_folder"])
    if site == "cnv":
        assert saved["history"][-1]["status"] == "restored" and done["steps_run"][0] == "preflight", "starts afresh after the restore"
    else:
        assert done["steps_run"][0] == "install", "resumes at the install"
    if FAULTS[site][1] in ("removal", "copy"):
        assert saved["decisions"]["mode"] == "takeover"
        records = lab_installer.load_records(lab["hosts"][site]["k2_installer_records"])["records"]
        mine = [r for r in records if r["folder"] == lab["hosts"][site]["k2_folder"]]
        assert mine[-1]["version"] == TARGET and len(mine) == 2, "the takeover wrote a new record beside the old one"


def test_the_waiver_is_in_the_report(lab, runs):
    reports = sorted(glob.glob(os.path.join(lab["dir"], "reports", "*.json")), key=os.path.getmtime)
    assert reports
    with open(reports[-1], encoding="utf-8") as handle:
        text = json.dumps(json.load(handle))
    assert "WAIVED: generation change to ori.09 without a successful test reinstall of the same target (K2-18)" in text


def test_k2_18_production_needs_the_test_reinstall_which_records_itself(lab, runs):
    nogo = result(runs["first"], "prd")
    assert nogo["status"] == "no-go" and "a generation change needs a successful test reinstall of ori.09 first (K2-18)" in nogo["msg"]
    assert runs["managers_after_first"]["prd"] == ("0", "0") and runs["states_after_first"]["prd"]["status"] == "no-go"

    assert runs["testenv"].rc == 0, runs["testenv"].stdout[-3000:]
    production = lab["hosts"]["prd"]["k2_folder"]
    tested = result(runs["first"], "tst")
    assert tested["status"] == "done", tested
    test_state = state(production + "_TESTENV")
    assert test_state["decisions"]["test_of"] == production and test_state["decisions"]["mode"] == "takeover"
    assert "a test environment (a copy of %s)" % production in test_state["decisions"]["takeover_reasons"][0]
    assert_on_target(lab, "prd", conf="prd_CONF_TESTENV", codes=("CONF",))
    for code in ("FIRMA", "FIRMA2"):
        assert sql(lab, 'SELECT "Verze" FROM "K2VERZE"', "prd_%s_TESTENV" % code) == TARGET
    with open(production + ".erpops-test-reinstall.json", encoding="utf-8") as handle:
        record = json.load(handle)
    assert record["status"] == "done" and record["target_version"] == TARGET and record["folder"] == production + "_TESTENV"
    assert record["run_id"] == test_state["run_id"]

    done = result(runs["second"], "prd")
    assert done["status"] == "done", done
    assert_on_target(lab, "prd")
    production_state = state(production)
    assert production_state["decisions"]["mode"] == "upgrade" and not production_state["decisions"].get("test_of")
    notes = " ".join(production_state["preflight"]["notes"])
    assert "a test reinstall to ori.09 finished" in notes and "WAIVED" not in notes
