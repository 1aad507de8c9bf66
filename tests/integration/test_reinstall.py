"""playbooks/k2_reinstall.yml end to end on a lab fleet, through ansible-runner.

Sites: ``gen`` (gaia.12.3, a dropped index the structure repair puts back, an outdated
extension, a web client, an idle psql session of the K2 login), ``torso`` (no K2
executable: takeover) and ``far`` (luna.05: ori.09 is not reachable in one reinstall).
The runs follow each other as an ops team would run them:

1. ``--check``: nothing changes (catalog snapshots and file hashes);
2. the release archive is missing and the inputs check is turned off (with it on, every site
   would be no-go before the ban: test_inputs_check.py): ``far`` is no-go and untouched, the
   others stop at the install step with the maintenance window still on;
3. the archive is there, but K2 of ``torso`` fails after its one-time conversions: ``gen``
   resumes at the install and ends consistent on ori.09, ``torso`` says that a rerun resumes
   at the extensions update (no restore required) and names the restore that goes back;
4. K2 fixed: ``torso`` resumes at the extensions update, ``gen`` changes nothing (databases,
   folder and its run state compared).

Every job runs with a fresh private data dir and a fresh HOME, as AWX runs it: what a rerun
knows comes from the site's own run state (beside the K2 folder).
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, run_playbook
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import snapshot_to_dict

PLAYBOOK = "playbooks/k2_reinstall.yml"
WEB_CONFIG = os.path.join(REPO, "tests", "unit", "fixtures", "webconfig", "web.config")
TARGET = "ori.09"


@pytest.fixture(scope="module")
def fleet():
    lab_dir = tempfile.mkdtemp(prefix="erpops-reinstall-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [
            {"name": "gen", "company_tables": 5, "mandants": ["FIRMA", "FIRMA2"], "outdated_extensions": ["Sklad"],
             "legacy_format_extensions": ["Dochazka"], "licence_sessions": [{"user": "NOVAK", "host": "PC-1", "program": "K2", "app_server": False}]},
            {"name": "torso", "company_tables": 5, "mandants": ["HOLDING"], "torso": True, "outdated_extensions": ["Dochazka"]},
            {"name": "far", "company_tables": 5, "version": "luna.05", "mandants": ["FIRMA"]},
            {"name": "gates", "company_tables": 5, "mandants": ["FIRMA"], "missing_inits": ["FIRMA"], "preparation_done": False},
            # findings the repairs cannot fix: no-go at the structure check before the ban, in every run
            {"name": "drift", "company_tables": 30, "mandants": ["FIRMA"], "drift_mandants": ["FIRMA"]},
        ]}, handle)
    inventory_path = k2lab.up(lab_dir, fleet_path)["inventory"]
    with open(inventory_path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    hosts = inventory["all"]["children"]["k2_sites"]["hosts"]
    # gen's web client gets the real-world web.config (comments, CRLF, BOM), to be restored byte for byte
    shutil.copy(WEB_CONFIG, hosts["gen"]["k2_webconfig_path"])
    # the installer has a record of gen: the file copy is a needless takeover, with the seed's warning
    hosts["gen"]["k2_reinstall_installer_record"] = True
    with open(inventory_path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    cluster = k2cluster.load(lab_dir)
    # Drift the repair can fix (K2-08): a unique index of the K2t script is missing in FIRMA.
    index = k2cluster.psql(cluster, "SELECT indexname FROM pg_indexes WHERE indexname LIKE '%ByAbbr' ORDER BY indexname LIMIT 1",
                           database="gen_FIRMA").strip()
    k2cluster.psql(cluster, 'DROP INDEX "%s"' % index, database="gen_FIRMA")
    yield {"dir": lab_dir, "inventory": inventory_path, "cluster": cluster, "hosts": hosts, "dropped_index": index,
           "release": k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=5)["archive"]}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def reinstall(fleet, archive, check=False, **more):
    extravars = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": archive, "k2_session_login": "k2",
                 # A copied K2 (the collection converts); the generation change goes on without a test reinstall, waived.
                 "k2_install_method": "copy", "k2_reinstall_waive_test_reinstall": True,
                 "k2_reinstall_state_dir": os.path.join(fleet["dir"], "state"),
                 "fleet_report_dir": os.path.join(fleet["dir"], "reports"), "k2_reinstall_restore_inventory": fleet["inventory"],
                 # far and gates stay no-go through every run; without this each run would end failed for them too
                 "k2_nogo_ok": True,
                 # the fleet's sites share the lab's database server: one heavy operation at a time on it
                 "k2_db_server_limit": 1}
    extravars.update(more)
    return run_playbook(PLAYBOOK, fleet["inventory"], extravars=extravars, check=check, fresh_home=True)


def sql(fleet, text, database):
    return k2cluster.psql(fleet["cluster"], text, database=database).strip()


def catalogs(fleet, site):
    host = fleet["hosts"][site]
    params = db_params({"db_platform": "lab", "login_host": host["k2_db_host"], "login_port": host["k2_db_port"],
                        "login_user": host["k2_db_user"], "login_password": host["k2_db_password"]})
    names = sql(fleet, "SELECT datname FROM pg_database WHERE datname LIKE '%s\\_%%' ORDER BY 1" % site, "postgres").split()
    found = {}
    for name in names:
        database = k2db.connect(params, name)
        try:
            snapshot = snapshot_to_dict(database.catalog())
            snapshot.pop("taken_at", None)
            # The run lock's table (created in CONF by the first run, its row freed at the end) is compared apart.
            snapshot["tables"] = [table for table in snapshot["tables"] if table["name"] != "ERPOPS_RUN_LOCK"]
            found[name] = (snapshot, database.query('SELECT * FROM "K2VERZE"'))
        finally:
            database.close()
    return found


def folder_hashes(path):
    hashes = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                hashes[os.path.relpath(full, path)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def site_state(fleet, site):
    return {
        "catalogs": catalogs(fleet, site),
        "folder": folder_hashes(fleet["hosts"][site]["k2_folder"]),
        "conf": sql(fleet, 'SELECT * FROM "REINSTALACE"; SELECT * FROM "LICSESSION" ORDER BY 1; SELECT * FROM "ROZSIRENI" ORDER BY 1',
                    "%s_CONF" % site),
    }


def per_host_changed(run, host):
    return run.stats.get("changed", {}).get(host, 0)


def result_of(run, host):
    return run.results("Sum up the run").get(host) or run.results("Say what failed and what to do").get(host) \
        or run.results("Say why the site is not reinstalled").get(host) or run.results("Say that the site is already reinstalled").get(host)


def reinstall_result(run, host):
    return result_of(run, host)["ansible_facts"]["k2_reinstall_result"]


def k2_info(fleet, site):
    return run_playbook("tests/integration/playbooks/k2_info.yml", fleet["inventory"], limit=site)


class IdleClient:
    """A psql process holding an idle session of the K2 login to gen_FIRMA."""

    def __init__(self, fleet):
        cluster = fleet["cluster"]
        env = dict(os.environ, PGAPPNAME="K2@PC-IDLE", PGPASSWORD=cluster.password)
        argv = [os.path.join(cluster.bin_dir, "psql"), "-X", "-q"] + cluster.dsn_args("gen_FIRMA", superuser=False)
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
        self.process.stdin.write("SELECT 1;\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + 10
        self.pid = None
        while self.pid is None:
            assert time.monotonic() < deadline, "the idle psql session did not show up"
            found = sql(fleet, "SELECT pid FROM pg_stat_activity WHERE application_name = 'K2@PC-IDLE' AND state = 'idle'", "postgres")
            self.pid = int(found) if found else None
            time.sleep(0.1)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def runs(fleet):
    """The four runs, in order; each entry keeps what was observed right after it."""
    observed = {"before": {site: site_state(fleet, site) for site in ("gen", "torso", "far", "drift")}}
    observed["check"] = reinstall(fleet, fleet["release"], check=True)
    observed["after_check"] = {site: site_state(fleet, site) for site in ("gen", "torso", "far", "drift")}

    client = IdleClient(fleet)
    try:
        observed["idle_pid"] = client.pid
        # The inputs check would make every site no-go before the ban (tests/integration/test_inputs_check.py); turned
        # off, the archive goes missing only at the install, which is how a failure inside the window is reached here.
        observed["missing"] = reinstall(fleet, os.path.join(fleet["dir"], "releases", "no-such-release.zip"), k2_preflight_inputs_check=False)
        observed["after_missing"] = {site: site_state(fleet, site) for site in ("far", "drift")}
        observed["ban_after_missing"] = sql(fleet, 'SELECT "ZakazPrihlaseni" FROM "REINSTALACE"', "gen_CONF")
        observed["idle_after_missing"] = sql(fleet, "SELECT count(*) FROM pg_stat_activity WHERE pid = %d" % client.pid, "postgres")
        observed["state_after_missing"] = run_state_of(fleet, "gen")
    finally:
        client.close()

    knobs_path = os.path.join(fleet["hosts"]["torso"]["k2_folder"], "Conf", "Special", "k2lab.json")
    with open(knobs_path, encoding="utf-8") as handle:
        knobs = json.load(handle)
    with open(knobs_path, "w", encoding="utf-8") as handle:
        json.dump(dict(knobs, fail="licence server not reachable"), handle)
    observed["broken_k2"] = reinstall(fleet, fleet["release"])
    observed["missing_kill"] = observed["missing"].results("Log users off")
    observed["gen_after"] = site_state(fleet, "gen")
    observed["gen_state_after_broken"] = run_state_of(fleet, "gen")
    with open(os.path.join(fleet["dir"], "state", "k2_reinstall", "gen-backups.json"), encoding="utf-8") as handle:
        observed["gen_manifest_after_broken"] = json.load(handle)
    observed["torso_state_after_broken"] = run_state_of(fleet, "torso")
    with open(knobs_path, "w", encoding="utf-8") as handle:
        json.dump(knobs, handle)
    with open(run_state_path(fleet, "gen"), "rb") as handle:
        observed["gen_state_before_rerun"] = handle.read()
    observed["fixed"] = reinstall(fleet, fleet["release"])
    observed["gen_after_rerun"] = site_state(fleet, "gen")
    with open(run_state_path(fleet, "gen"), "rb") as handle:
        observed["gen_state_after_rerun"] = handle.read()
    return observed


def run_state_path(fleet, site):
    return fleet["hosts"][site]["k2_folder"].rstrip("/") + ".erpops-run.json"


def run_state_of(fleet, site):
    with open(run_state_path(fleet, site), encoding="utf-8") as handle:
        return json.load(handle)


def lock_row(fleet, site):
    return sql(fleet, 'SELECT coalesce("RUN_ID", \'free\') FROM "ERPOPS_RUN_LOCK"', "%s_CONF" % site)


def test_check_mode_changes_nothing(runs):
    check = runs["check"]
    assert check.rc == 0, check.stdout[-3000:]
    assert runs["after_check"] == runs["before"]


def test_unreachable_target_is_no_go_and_untouched(fleet, runs):
    result = reinstall_result(runs["missing"], "far")
    assert result["status"] == "no-go"
    assert "install gaia.13 first (K2-10)" in result["msg"]
    assert runs["after_missing"]["far"] == runs["before"]["far"]
    assert lock_row(fleet, "far") == "free"
    assert reinstall_result(runs["missing"], "gates")["status"] == "no-go"
    assert per_host_changed(runs["missing"], "far") == 0


def test_needless_takeover_prints_the_orphan_record_warning(runs):
    warning = runs["missing"].results("Warn about the orphan installer record a needless takeover leaves (K2-10)")
    assert list(warning) == ["gen"]
    assert "orphan" in warning["gen"]["msg"] and "1.7 GB" in warning["gen"]["msg"] and "100" in warning["gen"]["msg"]


def precheck(fleet, target, **extravars):
    run = run_playbook("playbooks/k2_precheck.yml", fleet["inventory"], limit="gates",
                       extravars=dict({"k2_target_version": target, "fleet_report_dir": os.path.join(fleet["dir"], "reports-pre")}, **extravars))
    return run.results("Decide go or no-go"), run.results("Compare free space with the needs (K2-09)")


def test_preparation_initialization_and_disk_gates(fleet):
    decided, disk = precheck(fleet, TARGET)
    reasons = disk["gates"]["ansible_facts"]["k2_preflight_result"]["reasons"]
    assert [r.split(")")[0] for r in reasons] == ["pre-install preparation (K2-06", "mandatory initializations (K2-07"]
    assert "FIRMA: Prepocet skladu" in reasons[1]
    assert decided["gates"]["ansible_facts"]["k2_preflight_result"]["upgrade_kind"] == "generation"
    # a build-only reinstall needs no preparation and may waive the initializations; a disk too small is no-go
    _decided, disk = precheck(fleet, "gaia.12.5", k2_preflight_waive_initializations=True, k2_preflight_installer_bytes=10 ** 15)
    result = disk["gates"]["ansible_facts"]["k2_preflight_result"]
    assert [r.split(":")[0] for r in result["reasons"]] == ["disk space (K2-09)"]
    assert any("waived for a build-only reinstall" in note for note in result["notes"])
    assert result["disk"][0]["need"] == 3 * 10 ** 15 and result["disk"][0]["free"] < 10 ** 15


def test_missing_archive_stops_at_the_staging_before_the_ban(fleet, runs):
    missing = runs["missing"]
    assert missing.failed_hosts() == ["gen", "torso"]
    result = reinstall_result(missing, "gen")
    assert result["step"] == "Stage the release archive on the K2 host"
    assert result["restore_command"] is None and result["restore_required"] is False
    assert "resumes at the step stage" in result["next"] and "The maintenance window was not opened" in result["next"]
    assert runs["ban_after_missing"] != "1"
    # users work on: the idle session of the K2 login is still there (K2-04 happens only inside the window)
    assert runs["idle_after_missing"] == "1", runs["missing_kill"]
    state = runs["state_after_missing"]
    # the site's state holds each step with its start, end, result and window: the structure check ran before the ban
    assert [(step["name"], step["result"], step["window"]) for step in state["steps"]] == [
        ("preflight", "ok", "before"), ("structure_check", "ok", "before"), ("stage", "failed", "before")]
    assert state["status"] == "failed" and state["outage"]["ban_on"] is None
    assert state["structure_to_repair"] == ["gen_FIRMA"] and {"gen_CONF", "gen_FIRMA2"} <= set(state["structure_baseline"])
    assert not [entry for entry in state["backups"] if entry.get("run_id") == state["run_id"]]
    assert lock_row(fleet, "gen") == "free"


def test_a_site_the_structure_check_finds_unrepairable_is_no_go_and_never_banned(fleet, runs):
    result = reinstall_result(runs["missing"], "drift")
    assert result["status"] == "no-go" and "drift_FIRMA has" in result["msg"] and "cannot repair" in result["msg"]
    assert runs["after_missing"]["drift"] == runs["before"]["drift"]  # ban row, sessions, catalogs, folder
    state = run_state_of(fleet, "drift")
    assert [(step["name"], step["result"]) for step in state["steps"]] == [("preflight", "ok"), ("structure_check", "ok")]
    assert state["status"] == "no-go" and state["outage"]["ban_on"] is None and state["backups"] == []
    assert lock_row(fleet, "drift") == "free"
    assert per_host_changed(runs["missing"], "drift") == 0


def test_one_repaired_database_is_backed_up_twice_the_gate_takes_the_others_first_backup(fleet, runs):
    state = runs["gen_state_after_broken"]
    steps = [(step["name"], step["result"], step["window"]) for step in state["steps"]]
    assert steps[:5] == [("preflight", "ok", "before"), ("structure_check", "ok", "before"), ("stage", "failed", "before"),
                         ("stage", "ok", "before"), ("disk", "ok", "before")]
    assert [name for name, _result, window in steps[5:] if window != "inside"] == []
    assert state["repaired"] >= 1 and state["structure_changed"] == ["gen_FIRMA"]
    assert set(state["structure_unchanged"]) >= {"gen_CONF", "gen_FIRMA2"}
    backups = [entry for entry in state["backups"] if entry.get("run_id") == state["run_id"]]
    assert all(entry["verified"] for entry in backups)
    assert [entry["kind"] for entry in backups if entry.get("kind")] == ["folder"], "the K2 folder is in the backup"
    first = {entry["database"] for entry in backups if entry["position"] == "before_check"}
    assert {"gen_CONF", "gen_FIRMA", "gen_FIRMA2"} <= first
    assert [entry["database"] for entry in backups if entry["position"] == "after_check"] == ["gen_FIRMA"]
    guards = runs["gen_manifest_after_broken"]["guards"]
    assert guards["run_id"] == state["run_id"] and guards == state["backup_guards"]
    assert {name: guard["position"] for name, guard in guards["databases"].items() if name in ("gen_CONF", "gen_FIRMA", "gen_FIRMA2")} == {
        "gen_CONF": "before_check", "gen_FIRMA": "after_check", "gen_FIRMA2": "before_check"}
    # the one-time conversions ran on every production database: the gate took CONF's and FIRMA2's first backup
    assert state["one_time_started"] is True and state["status"] == "done"
    outage = state["outage"]
    assert outage["seconds"] > 0 and outage["windows"]["inside"] > 0 and outage["windows"]["before"] > 0
    # only the two steps that open and close the window straddle its edges
    assert {step["name"] for step in outage["misplaced"]} <= {"maintenance_on", "maintenance_off"}


def test_resumed_generation_upgrade_ends_consistent_on_the_new_version(fleet, runs):
    broken = runs["broken_k2"]
    gen = reinstall_result(broken, "gen")
    assert gen["status"] == "done", gen
    assert gen["steps_run"] == ["stage", "disk", "maintenance_on", "backup", "gates", "structure", "backup_after_check", "install",
                                "conversions", "extensions", "post_checks", "maintenance_off"]
    assert gen["state"]["status"] == "done" and gen["state"]["outage"]["seconds"] >= 0
    info = k2_info(fleet, "gen").results("Read the site")["gen"]["k2"]
    assert info["version"] == TARGET and info["kind"] == "runnable"
    assert info["databases_match_version"]
    assert info["outdated_extensions"] == []
    assert info["reinstall_manager"]["ban_enabled"] is False
    with open(fleet["hosts"]["gen"]["k2_webconfig_path"], "rb") as handle, open(WEB_CONFIG, "rb") as original:
        assert handle.read() == original.read()
    gen_after = runs["gen_after"]
    # the dropped index is back and the new version's column was added by its conversion
    firma = gen_after["catalogs"]["gen_FIRMA"][0]
    tables = {t["name"]: t for t in firma["tables"]}
    assert any(index["name"] == runs_dropped(fleet) for t in tables.values() for index in t.get("indexes", []))
    added = k2release.added_tables(5)["D"]
    assert k2release.ADDED_COLUMN in [c["name"] for c in tables[added]["columns"]]


def runs_dropped(fleet):
    return fleet["dropped_index"]


def test_failure_after_one_time_conversions_names_the_restore(fleet, runs):
    torso = reinstall_result(runs["broken_k2"], "torso")
    assert torso["status"] == "failed"
    manifest = os.path.join(fleet["dir"], "state", "k2_reinstall", "torso-backups.json")
    assert torso["backup_manifest"] == manifest
    # the extensions update failed after the one-time conversions: a rerun resumes there, a restore only goes back
    assert torso["restore_required"] is False
    assert "resumes at the step extensions" in torso["next"]
    assert torso["restore_command"] == (
        "ansible-playbook erpops.upgrade.k2_restore -i %s -l torso -e k2_restore_run_id=%s -e k2_restore_folder=true"
        % (fleet["inventory"], torso["run_id"]))
    assert torso["restore_command"] in torso["next"]
    state = runs["torso_state_after_broken"]
    assert state["one_time_started"] is True and state["status"] == "failed" and state["restore_required"] is False
    report = json.load(open(sorted(glob.glob(os.path.join(fleet["dir"], "reports", "k2-reinstall-*.json")))[-2], encoding="utf-8"))
    assert manifest in json.dumps(report)


def test_torso_takes_the_takeover_branch_and_resumes(fleet, runs):
    fixed = runs["fixed"]
    assert fixed.failed_hosts() == []
    torso = reinstall_result(fixed, "torso")
    assert torso["mode"] == "takeover"
    assert torso["steps_run"] == ["extensions", "post_checks", "maintenance_off"]
    state = run_state_of(fleet, "torso")
    assert state["decisions"]["site_kind"] == "torso" and "torso" in " ".join(state["decisions"]["takeover_reasons"])
    assert [step["result"] for step in state["steps"] if step["name"] == "structure"] == ["skipped"]
    assert state["status"] == "done"
    assert os.path.exists(os.path.join(fleet["hosts"]["torso"]["k2_folder"], "k2"))


def test_second_run_after_success_changes_nothing(fleet, runs):
    fixed = runs["fixed"]
    assert per_host_changed(fixed, "gen") == 0
    assert reinstall_result(fixed, "gen")["msg"].startswith("already reinstalled to ori.09")
    # databases (catalogs, K2VERZE), the folder, the ban, sessions, extensions and the run state: all as before
    assert runs["gen_after_rerun"] == runs["gen_after"]
    assert runs["gen_state_after_rerun"] == runs["gen_state_before_rerun"]
    assert lock_row(fleet, "gen") == "free"


def test_sites_sharing_a_server_with_a_limit_of_one_never_back_up_at_once(fleet, runs):
    """gen and torso were backed up in the same fleet runs (forks > 1); their states record when each backup ran."""
    backups = [dict(entry, site=site) for site in ("gen", "torso") for entry in run_state_of(fleet, site).get("backups") or []
               if entry.get("kind", "database") == "database" and entry.get("finished_at")]
    assert all(len([entry for entry in backups if entry["site"] == site]) >= 3 for site in ("gen", "torso")), backups
    backups.sort(key=lambda entry: entry["taken_at"])
    overlaps = [(a["database"], b["database"]) for a, b in zip(backups, backups[1:]) if b["taken_at"] < a["finished_at"]]
    assert overlaps == [], overlaps
    # the backup task runs on both sites at once (the linear strategy): one of them waited for the other's slot
    assert any(entry.get("slot_wait_seconds") for entry in backups), backups
    assert sql(fleet, 'SELECT count(*) FROM "ERPOPS_SERVER_SLOTS" WHERE "HOLDER_TOKEN" <> \'#gate\'', "erpops") == "0"
