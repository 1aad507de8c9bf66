"""The recovery path an operator follows after a failed one-time conversion, through the reinstall playbook.

One site, reinstalled for the first time by the collection (no conversion journal at backup time), from gaia.12.3 to
ori.09, whose release holds a one-time company conversion that moves the customer's rows of ``K2LAB_DATA`` and then
fails. The operator runs the restore command the failed run printed. Every job has a fresh HOME (as AWX runs it): what
the restore knows comes from the site's own run state.

The printed command restores the databases and the K2 folder (the folder already held the new version). The operator
then fixes the cause and runs the reinstall again: it starts afresh (the state says the site was restored), converts
the restored data, every one-time conversion exactly once since the restore, and ends on the target with every moved
row in place.
"""

import json
import os
import shutil
import tempfile

import pytest

from conftest import run_playbook
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_site
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

TARGET = "ori.09"
ONE_TIME = "K2_D509Lab.sql"
JOURNAL = "ERPOPS_CONVERSION_JOURNAL"
COMPANY = ["rec_DEMO", "rec_FIRMA", "rec_INIT"]
ROWS = "1:zákazník 1,2:zákazník 2,3:zákazník 3"


@pytest.fixture(scope="module")
def fleet():
    lab_dir = tempfile.mkdtemp(prefix="erpops-recovery-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": "rec", "company_tables": 5, "mandants": ["FIRMA"], "licence_sessions": []}]}, handle)
    inventory = k2lab.up(lab_dir, fleet_path)["inventory"]
    cluster = k2cluster.load(lab_dir)
    release = k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=5, failing=[ONE_TIME],
                                      data_table="K2LAB_DATA")["archive"]
    yield {"dir": lab_dir, "inventory": inventory, "cluster": cluster, "release": release}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def sql(fleet, text, database):
    return k2cluster.psql(fleet["cluster"], text, database=database).strip()


def reinstall(fleet):
    extravars = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": fleet["release"], "k2_session_login": "k2",
                 "k2_reinstall_state_dir": os.path.join(fleet["dir"], "state"), "fleet_report_dir": os.path.join(fleet["dir"], "reports"),
                 "k2_reinstall_restore_inventory": fleet["inventory"],
                 # A copied K2 (the collection converts); the generation change goes on without a test reinstall, waived (K2-18).
                 "k2_install_method": "copy", "k2_reinstall_waive_test_reinstall": True}
    return run_playbook("playbooks/k2_reinstall.yml", fleet["inventory"], extravars=extravars, fresh_home=True)


def reinstall_result(run):
    for task in ("Sum up the run", "Say what failed and what to do"):
        found = run.results(task).get("rec")
        if found:
            return found["ansible_facts"]["k2_reinstall_result"]
    raise AssertionError(run.stdout)


def data_everywhere(fleet):
    return {name: (sql(fleet, 'SELECT coalesce(string_agg("CIS" || \':\' || "TEXT", \',\' ORDER BY "CIS"), \'\') FROM "K2LAB_DATA"', name),
                   sql(fleet, "SELECT to_regclass('\"%s\"') IS NOT NULL" % JOURNAL, name)) for name in COMPANY}


def test_failed_one_time_conversion_then_the_printed_restore_gives_the_exact_backup_state(fleet):
    for name in COMPANY:
        sql(fleet, 'SET ROLE k2; CREATE TABLE "K2LAB_DATA" ("CIS" integer, "TEXT" varchar(40)); '
                   'INSERT INTO "K2LAB_DATA" VALUES (1, \'zákazník 1\'), (2, \'zákazník 2\'), (3, \'zákazník 3\')', name)
    assert data_everywhere(fleet) == {name: (ROWS, "f") for name in COMPANY}, "no journal before the first reinstall"

    failed = reinstall(fleet)
    result = reinstall_result(failed)
    assert result["status"] == "failed", result
    assert "%s failed at batch" % ONE_TIME in json.dumps(result), result
    assert data_everywhere(fleet)["rec_FIRMA"] == ("", "t"), "the failed conversion moved the rows half-way"
    command = result["restore_command"]
    assert command and command in result["next"], result
    prefix = "ansible-playbook erpops.upgrade.k2_restore -i %s -l rec -e k2_restore_run_id=" % fleet["inventory"]
    suffix = " -e k2_restore_folder=true"
    assert command.startswith(prefix) and command.endswith(suffix), command

    restored = run_playbook("playbooks/k2_restore.yml", fleet["inventory"], limit="rec", fresh_home=True,
                            extravars={"k2_restore_run_id": command[len(prefix):-len(suffix)], "k2_restore_folder": True})
    assert restored.rc == 0, restored.stdout
    assert data_everywhere(fleet) == {name: (ROWS, "f") for name in COMPANY}, \
        "the databases are back: rows in place, no journal (it did not exist at backup time)"
    for name in COMPANY:
        assert sql(fleet, "SELECT to_regclass('\"K2LAB_V509_D\"') IS NULL AND to_regclass('\"K2LAB_KONVERZE\"') IS NULL", name) == "t", \
            "nothing the failed conversion created survives"
    assert sql(fleet, 'SELECT "Verze" FROM "K2VERZE"', "rec_CONF") == "gaia.12.3"
    for number, name in enumerate(["rec_CONF", "rec_DEMO", "rec_FIRMA", "rec_INIT"], start=1):
        assert "k2_backup [rec] %s: restore %d/4 started from " % (name, number) in restored.stdout
        assert "k2_backup [rec] %s: restored in " % name in restored.stdout
    assert folder_version(fleet) == "gaia.12.3", "the K2 folder is back at the old version with the databases"

    # The fix: the table the failing batch writes into exists now (in the restored databases).
    for name in COMPANY:
        sql(fleet, 'SET ROLE k2; CREATE TABLE "K2LAB_OPRAVA" ("SOUBOR" varchar(260))', name)
    rerun = reinstall(fleet)
    result = reinstall_result(rerun)
    assert rerun.rc == 0 and result["status"] == "done", rerun.stdout
    with open(os.path.join(fleet["dir"], "sites", "rec.erpops-run.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    assert state["status"] == "done" and state["history"][-1]["status"] == "restored", state
    assert "starts afresh: the databases were restored" in json.dumps(state["events"]), "the new run says why it starts afresh"
    assert sql(fleet, 'SELECT "Verze" FROM "K2VERZE"', "rec_CONF") == TARGET
    assert folder_version(fleet) == TARGET
    for name in COMPANY:
        assert sql(fleet, 'SELECT count(*) FROM "K2LAB_DATA"', name) == "0", "the one-time file moved the rows"
        assert sql(fleet, 'SELECT string_agg("CIS" || \':\' || "Go Sloupec]x", \',\' ORDER BY "CIS") FROM "K2LAB_V509_D" '
                          'WHERE "Go Sloupec]x" LIKE \'zákazník %\'', name) == ROWS, "every moved row is there: " + name
        assert sql(fleet, 'SELECT count(*) FROM "K2LAB_KONVERZE" WHERE "SOUBOR" = \'%s\' AND "DAVKA" = 2' % ONE_TIME, name) == "1", \
            "the one-time conversion ran exactly once since the restore: " + name


def folder_version(fleet):
    """The version the K2 folder holds, as the collection reads it (the release's version file, else k2.ini)."""
    folder = os.path.join(fleet["dir"], "sites", "rec")
    files = os.listdir(folder)

    def read(name):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            return None
        with open(path, "rb") as handle:
            return handle.read()
    version_file = read("K2VERSION.txt")
    if version_file is not None:
        return version_file.decode("utf-8").strip().lower().replace("k2 ", "")
    return k2_site.read_site(files, read("k2.ini"), read("sysk2.ini")).version
