"""comarch_sync_verify and comarch_update.yml against lab Comarch sites on the lab's real PostgreSQL.

Every site has a stand-in Automatic Operations Service (syncing every 2 s) and a loopback HRM
domain; the fixture stops them and the cluster at the end and checks that none is left.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident
from ansible_collections.erpops.upgrade.plugins.module_utils.server_slots import SlotSql

from conftest import run_playbook
from tools.comarchlab import cli as comarchlab
from tools.comarchlab import common
from tools.k2lab import cluster as k2cluster
from tools.k2lab.site import SHARED_DATABASE, shared_database

VERIFY = "tests/integration/playbooks/comarch_verify.yml"
UPDATE = "playbooks/comarch_update.yml"
TASK = "Verify the phase"
FAST = {"comarch_update_timeout": 20, "comarch_update_poll_interval": 1, "comarch_update_sync_tolerance": 20}
# The database server's limit on heavy operations, as an inventory sets it once per server (comarch_db_server_*).
ONE_SLOT = {"comarch_db_server_limit": 1, "comarch_db_server_slots_database": SHARED_DATABASE}
SLOTS = '"ERPOPS_SERVER_SLOTS"'

SITES = [
    {"name": "healthy"},
    {"name": "stopped", "service_stopped": True},
    {"name": "failing", "failing_syncs": True},
    {"name": "pending", "hrm_pending": 3},
    {"name": "restored", "restored": True, "companies": ["FIRMA", "KOPIA"]},
    {"name": "upd_ok", "full_sync_seconds": 2},
    {"name": "upd_fail", "full_sync_seconds": 1, "full_sync_fails": True},
    {"name": "manual", "manual_update": True},
    {"name": "hrm", "domain_locked_seconds": 3},
    {"name": "conv_fail", "companies": ["FIRMA", "KOPIA"], "conversion_fails": True},
]
RESTORE = "playbooks/comarch_restore.yml"
TABLES = {"version": '"CDN"."SystemCDN"', "schedule": '"CDN"."SOA_Harmonogram"', "history": '"CDN"."SOA_Historia"'}


@pytest.fixture(scope="module")
def comarch_lab():
    lab_dir = tempfile.mkdtemp(prefix="erpops-comarch-lab-")
    os.chmod(lab_dir, 0o755)
    fleet = os.path.join(lab_dir, "comarch_fleet.json")
    with open(fleet, "w", encoding="utf-8") as handle:
        json.dump({"sites": [dict(site, lifetime_seconds=1200) for site in SITES]}, handle)
    try:
        result = comarchlab.up(lab_dir, fleet)
        time.sleep(2.5)  # let the stand-in services run their first syncs
        yield {"dir": lab_dir, "inventory": result["inventory"], "cluster": k2cluster.load(lab_dir)}
    finally:
        comarchlab.down(lab_dir, with_cluster=True)
        pid_files = [os.path.join(common.site_root(lab_dir, s["name"]), name) for s in SITES for name in (common.SERVICE_PID, common.DOMAIN_PID)]
        left = [path for path in pid_files if comarchlab._alive(path)]  # pylint: disable=protected-access
        shutil.rmtree(lab_dir, ignore_errors=True)
        assert not left, "stand-ins left running: %s" % left


def _sql(lab, database, sql):
    return k2cluster.psql(lab["cluster"], sql, database).strip()


def _schedule(lab, database):
    rows = _sql(lab, database, 'SELECT "SOH_Operacja", "SOH_Aktywne" FROM "CDN"."SOA_Harmonogram" ORDER BY 1')
    return dict(line.split("|") for line in rows.splitlines())


def _codes(result):
    return [r["code"] for r in result.get("reasons", [])]


def test_before_update_passes_on_a_healthy_site_and_names_every_knob(comarch_lab):
    run = run_playbook(VERIFY, comarch_lab["inventory"], extravars={"comarch_phase": "before_update"},
                       limit="healthy,stopped,failing,pending,restored")
    results = run.results(TASK)
    assert results["healthy"]["failed"] is False and results["healthy"]["passed"] is True, results["healthy"]
    assert results["healthy"]["facts"]["service_state"] == "running"
    assert results["healthy"]["facts"]["schedule"]["differential"] == {"enabled": True, "interval_seconds": 2, "next_run": None}
    assert results["healthy"]["facts"]["last_successful_differential"]["status"] == "success"
    expected = {"stopped": "service_not_running", "failing": "failed_sync_since", "pending": "hrm_changes_pending",
                "restored": "differential_sync_off"}
    for host, code in expected.items():
        assert results[host]["failed"] is True, results[host]
        assert code in _codes(results[host]), (host, results[host]["reasons"])
        assert "Do not update Comarch ERP yet" in results[host]["msg"]
    assert results["stopped"]["facts"]["service_state"] == "stopped"
    assert "HRM rejected" not in results["failing"]["msg"] and "connection to Comarch HRM refused" in results["failing"]["msg"]
    assert run.changed() == 0


def test_after_update_fails_before_the_update_and_changes_nothing(comarch_lab):
    run = run_playbook(VERIFY, comarch_lab["inventory"], extravars={"comarch_phase": "after_update"}, limit="healthy")
    result = run.results(TASK)["healthy"]
    assert result["failed"] is True
    assert "database_not_converted" in _codes(result) and "service_not_reported_version" in _codes(result)
    stages = {s["name"]: s for s in result["stages"]}
    assert stages["database_converted"]["passed"] is False
    assert "2024.5100" in stages["database_converted"]["detail"] and "2025.5000" in stages["database_converted"]["detail"]
    assert stages["domain_open"]["passed"] is True
    assert _sql(comarch_lab, "comarch_healthy_FIRMA", 'SELECT "SYS_Wartosc" FROM "CDN"."SystemCDN" WHERE "SYS_ID" = 3') == "2024.5100"


def test_after_restore_refuses_to_guess_then_enables_exactly_the_chosen_database(comarch_lab):
    first = run_playbook(VERIFY, comarch_lab["inventory"], extravars={"comarch_phase": "after_restore"}, limit="restored,healthy")
    restored, healthy = first.results(TASK)["restored"], first.results(TASK)["healthy"]
    assert restored["failed"] is True and _codes(restored) == ["syncs_switched_off"]
    assert restored["configured"] == ["comarch_restored_FIRMA", "comarch_restored_KOPIA"] and restored["syncing"] == []
    assert "comarch_restored_FIRMA, comarch_restored_KOPIA" in restored["msg"]
    assert healthy["failed"] is False and healthy["syncing"] == ["comarch_healthy_FIRMA"]

    chosen = {"comarch_phase": "after_restore", "comarch_sync_database": "comarch_restored_FIRMA"}
    checked = run_playbook(VERIFY, comarch_lab["inventory"], extravars=chosen, limit="restored", check=True, diff=True)
    result = checked.results(TASK)["restored"]
    assert result["changed"] is True and result["failed"] is False
    assert result["diff"]["before"]["schedule"]["differential"]["enabled"] is False
    assert result["diff"]["after"]["schedule"]["differential"]["enabled"] is True
    assert _schedule(comarch_lab, "comarch_restored_FIRMA")["HRM_ROZNICOWA"] == "0"

    applied = run_playbook(VERIFY, comarch_lab["inventory"], extravars=chosen, limit="restored")
    assert applied.results(TASK)["restored"]["changed"] is True and applied.changed() == 1
    assert _schedule(comarch_lab, "comarch_restored_FIRMA") == {"HRM_PELNA": "0", "HRM_ROZNICOWA": "1"}
    assert _schedule(comarch_lab, "comarch_restored_KOPIA") == {"HRM_PELNA": "0", "HRM_ROZNICOWA": "0"}

    again = run_playbook(VERIFY, comarch_lab["inventory"], extravars=chosen, limit="restored")
    assert again.rc == 0 and again.changed() == 0
    assert again.results(TASK)["restored"]["syncing"] == ["comarch_restored_FIRMA"]

    other = run_playbook(VERIFY, comarch_lab["inventory"], extravars=dict(chosen, comarch_sync_database="comarch_restored_KOPIA"),
                         limit="restored")
    assert _codes(other.results(TASK)["restored"]) == ["another_database_syncs"]
    assert _schedule(comarch_lab, "comarch_restored_KOPIA")["HRM_ROZNICOWA"] == "0"


def test_update_playbook_updates_waits_and_reruns_unchanged(comarch_lab):
    shared_database(comarch_lab["cluster"])
    run = run_playbook(UPDATE, comarch_lab["inventory"], extravars=dict(FAST, **ONE_SLOT), limit="upd_ok,upd_fail,manual")
    assert run.failed_hosts() == ["manual", "upd_fail"], run.stdout

    ok = run.results("Wait for the conversion, the version report, the full sync and the HRM domain (CM-03 to CM-05)")["upd_ok"]
    assert ok["passed"] is True
    assert [s["name"] for s in ok["stages"] if s["passed"]] == ["database_converted", "service_reported_version", "full_sync_scheduled",
                                                                "full_sync_completed", "domain_open"]
    assert all(s["seen_at"] for s in ok["stages"])
    polls = [line for line in run.stdout.splitlines() if line.startswith("upd_ok: stage reached: ")]
    assert len(polls) >= 2, run.stdout
    assert "waiting for" in polls[0] and polls[0].endswith("elapsed of 20s")
    assert "stage reached: domain_open (5 of 5); all stages passed" in polls[-1]
    backup = run.results("Back up every database the conversion touches (CM-03, it cannot be undone)")["upd_ok"]
    assert backup["changed"] is True and [b["database"] for b in backup["backups"]] == ["comarch_upd_ok_FIRMA"]
    assert all(b["verified"] for b in backup["backups"])
    assert _sql(comarch_lab, "comarch_upd_ok_FIRMA", 'SELECT "SYS_Wartosc" FROM "CDN"."SystemCDN" WHERE "SYS_ID" = 3') == "2025.5000"
    assert _schedule(comarch_lab, "comarch_upd_ok_FIRMA") == {"HRM_PELNA": "0", "HRM_ROZNICOWA": "1"}

    fail = run.results("Wait for the conversion, the version report, the full sync and the HRM domain (CM-03 to CM-05)")["upd_fail"]
    assert "full_sync_failed" in _codes(fail) and "domain_locked" in _codes(fail)
    # a failed full sync ends the wait: it never runs into the timeout
    assert fail["waited_seconds"] < FAST["comarch_update_timeout"], fail["waited_seconds"]
    assert "HRM rejected the data" in fail["msg"]

    manual = run.results("Stop when the operator has not confirmed the update")["manual"]
    assert manual["failed"] is True and "comarch_update_operator_confirmed=true" in manual["msg"]
    assert "install Comarch ERP 2025.3.0" in manual["msg"]
    assert _sql(comarch_lab, "comarch_manual_FIRMA", 'SELECT "SYS_Wartosc" FROM "CDN"."SystemCDN" WHERE "SYS_ID" = 3') == "2024.5100"

    rerun = run_playbook(UPDATE, comarch_lab["inventory"], extravars=FAST, limit="upd_ok")
    assert rerun.rc == 0 and rerun.changed() == 0, rerun.stdout
    # The backups took the server's slot (the module made the slot table) and gave it back.
    assert _sql(comarch_lab, SHARED_DATABASE, "SELECT count(*) FROM %s WHERE \"HOLDER_TOKEN\" <> '#gate'" % SLOTS) == "0"


def test_backup_waits_for_the_servers_slot_and_gives_up_before_the_update(comarch_lab):
    """Another job holds the server's only slot: the backup waits, names the holder, and the update never starts."""
    shared_database(comarch_lab["cluster"])
    # this test may run first: the slot table, owned by the login the jobs use, as the first job would create it
    _sql(comarch_lab, SHARED_DATABASE, "SET ROLE %s; %s" % (quote_ident("lab", comarch_lab["cluster"].login), SlotSql("lab").create_table()))
    holder = ("INSERT INTO %s VALUES ('other-job', 'backup', 'K2_CONF', 'K2_FIRMA', 'r-other', 'awx-7', "
              "now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' + interval '1 hour')" % SLOTS)
    _sql(comarch_lab, SHARED_DATABASE, holder)
    try:
        run = run_playbook(UPDATE, comarch_lab["inventory"], limit="healthy",
                           extravars=dict(FAST, comarch_update_server_slot_wait=3, **ONE_SLOT))
    finally:
        _sql(comarch_lab, SHARED_DATABASE, "DELETE FROM %s WHERE \"HOLDER_TOKEN\" = 'other-job'" % SLOTS)
    assert run.failed_hosts() == ["healthy"], run.stdout
    backup = run.results("Back up every database the conversion touches (CM-03, it cannot be undone)")["healthy"]
    assert "no slot on the database server within 3 s" in backup["msg"], backup["msg"]
    assert "backup of K2_FIRMA (site K2_CONF, run r-other, controller awx-7)" in backup["msg"], backup["msg"]
    assert not run.results("Update Comarch ERP with the installer command (CM-01, CM-03)").get("healthy"), run.stdout
    assert _sql(comarch_lab, "comarch_healthy_FIRMA", 'SELECT "SYS_Wartosc" FROM "CDN"."SystemCDN" WHERE "SYS_ID" = 3') == "2024.5100"
    assert _sql(comarch_lab, SHARED_DATABASE, "SELECT count(*) FROM %s WHERE \"HOLDER_TOKEN\" <> '#gate'" % SLOTS) == "0"


def test_hrm_only_waits_for_the_domain(comarch_lab):
    run = run_playbook(UPDATE, comarch_lab["inventory"], extravars=dict(FAST, comarch_update_case="hrm_only"), limit="hrm")
    assert run.rc == 0, run.stdout
    assert run.results("Wait for the HRM domain after Comarch updates HRM (CM-01)")["hrm"]["status"] == 200
    assert run.changed() == 0


def _rows(lab, database, table, columns="*"):
    return _sql(lab, database, "SELECT %s FROM %s ORDER BY 1" % (columns, table))


def _backup_rows(lab, entry, table, columns="*"):
    """The rows of ``table`` in the backup file itself, restored into a scratch database."""
    scratch = "scratch_" + entry["database"].lower()
    cluster = lab["cluster"]
    k2cluster.psql(cluster, 'DROP DATABASE IF EXISTS "%s"' % scratch)
    k2cluster.psql(cluster, 'CREATE DATABASE "%s"' % scratch)
    try:
        argv = [os.path.join(cluster.bin_dir, "pg_restore"), "--no-owner", entry["file"]] + cluster.dsn_args(scratch)
        subprocess.run(k2cluster._as_owner(cluster.owner, argv), check=True, capture_output=True)  # pylint: disable=protected-access
        return _rows(lab, scratch, table, columns)
    finally:
        k2cluster.psql(cluster, 'DROP DATABASE IF EXISTS "%s"' % scratch)


def test_failed_conversion_is_restored_and_the_operator_chooses_the_database_that_syncs(comarch_lab):
    databases = ["comarch_conv_fail_FIRMA", "comarch_conv_fail_KOPIA"]
    update = run_playbook(UPDATE, comarch_lab["inventory"], extravars=FAST, limit="conv_fail")
    assert update.failed_hosts() == ["conv_fail"]
    backup = update.results("Back up every database the conversion touches (CM-03, it cannot be undone)")["conv_fail"]
    assert [b["database"] for b in backup["backups"]] == databases and all(b["verified"] for b in backup["backups"])
    installer = update.results("Update Comarch ERP with the installer command (CM-01, CM-03)")["conv_fail"]
    assert installer["failed"] is True and "conversion of database comarch_conv_fail_KOPIA failed" in installer["stderr"]
    version_sql = 'SELECT "SYS_Wartosc" FROM "CDN"."SystemCDN" WHERE "SYS_ID" = 3'
    assert _sql(comarch_lab, databases[0], version_sql) == "2025.5000"  # half converted

    # The operator stops the Automatic Operations Service before restoring (the restore refuses connected sessions).
    comarchlab.stop_service(comarch_lab["dir"], "conv_fail")
    checked = run_playbook(RESTORE, comarch_lab["inventory"], limit="conv_fail", check=True, diff=True)
    assert _sql(comarch_lab, databases[0], version_sql) == "2025.5000", checked.stdout

    first = run_playbook(RESTORE, comarch_lab["inventory"], limit="conv_fail")
    assert first.failed_hosts() == ["conv_fail"]
    stop = first.results("Stop until the operator chooses the database that keeps the HRM sync (CM-06)")["conv_fail"]
    assert "comarch_sync_database=<one of comarch_conv_fail_FIRMA, comarch_conv_fail_KOPIA>" in stop["msg"], stop["msg"]
    switched = first.results("Switch the HRM syncs of the restored databases off, then on for the chosen database (CM-06)")["conv_fail"]
    assert switched["switched_off"] == databases and switched["syncing"] == []
    for entry in backup["backups"]:
        for name, table in TABLES.items():
            columns = '"SOH_Id", "SOH_Operacja", "SOH_InterwalSek", "SOH_NastepneUruchomienie"' if name == "schedule" else "*"
            restored = _rows(comarch_lab, entry["database"], table, columns)
            assert restored and restored == _backup_rows(comarch_lab, entry, table, columns), (entry["database"], name)
        assert _schedule(comarch_lab, entry["database"]) == {"HRM_PELNA": "0", "HRM_ROZNICOWA": "0"}
    assert _sql(comarch_lab, databases[0], version_sql) == "2024.5100"

    chosen = run_playbook(RESTORE, comarch_lab["inventory"], limit="conv_fail", extravars={"comarch_sync_database": databases[1]})
    assert chosen.rc == 0 and chosen.changed() == 1, chosen.stdout
    assert _schedule(comarch_lab, databases[1]) == {"HRM_PELNA": "0", "HRM_ROZNICOWA": "1"}
    assert _schedule(comarch_lab, databases[0]) == {"HRM_PELNA": "0", "HRM_ROZNICOWA": "0"}
    again = run_playbook(RESTORE, comarch_lab["inventory"], limit="conv_fail", extravars={"comarch_sync_database": databases[1]})
    assert again.rc == 0 and again.changed() == 0, again.stdout
