"""The recovery path an operator follows after a failed one-time conversion, through the reinstall playbook.

Two sites on one lab cluster, each with a generation upgrade whose release holds a one-time company conversion that
moves the customer's rows of ``K2LAB_DATA`` and then fails:

* ``rec``, reinstalled for the first time by the collection (no conversion journal at backup time), gaia.12.3 to ori.09;
* ``again``, reinstalled before by the collection (gaia.12.3 to ori.09, which moved the rows of that day and left the
  journal and a run in the site's state history); customers then enter new rows, and the reinstall to iris.05 fails.
  Its first restore is cut off by the database server stopping after CONF: the report and the site's state name what
  is restored and what is not, the reinstall refuses the half-restored site, and the command the state gives finishes it.

The operator runs the restore command the failed run printed. Every job has a fresh HOME (as AWX runs it): what the
restore knows comes from the site's own run state. The printed command restores the databases and the K2 folder (the
folder already held the new version). The operator then fixes the cause and runs the reinstall again: it starts afresh
(the state says the site was restored), converts the restored data, every one-time conversion exactly once since the
restore, and ends on the target with every moved row in place.
"""

import json
import os
import shlex
import shutil
import stat
import tempfile

import pytest

from conftest import run_playbook
from lab_snapshot import differences, folder_version, snapshot
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

JOURNAL = "ERPOPS_CONVERSION_JOURNAL"
MARKERS = "K2LAB_KONVERZE"
CODES = ["CONF", "DEMO", "FIRMA", "INIT"]
COMPANY = ["DEMO", "FIRMA", "INIT"]
CASES = {
    # site, the collection's earlier reinstall (None: none), the failing target, its lab conversion token, the rows then
    "first": {"site": "rec", "earlier": None, "from": "gaia.12.3", "target": "ori.09", "token": "509",
              "rows": "1:zákazník 1,2:zákazník 2,3:zákazník 3"},
    "before": {"site": "again", "earlier": "ori.09", "from": "ori.09", "target": "iris.05", "token": "605",
               "rows": "4:nový 4,5:nový 5"},
}
EARLIER_ROWS = "1:zákazník 1,2:zákazník 2,3:zákazník 3"


@pytest.fixture(scope="module")
def fleet():
    lab_dir = tempfile.mkdtemp(prefix="erpops-recovery-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": case["site"], "company_tables": 5, "mandants": ["FIRMA"], "licence_sessions": []}
                             for case in CASES.values()]}, handle)
    inventory = k2lab.up(lab_dir, fleet_path)["inventory"]
    cluster = k2cluster.load(lab_dir)
    releases = os.path.join(lab_dir, "releases")

    def release(version, failing=(), name=None):
        return k2release.build_release(releases, version, company_tables=5, failing=list(failing), data_table="K2LAB_DATA",
                                       name=name)["archive"]
    archives = {"ori.09 ok": release("ori.09", name="k2-ori.09-ok.zip")}
    for case in CASES.values():
        archives[case["target"]] = release(case["target"], failing=["K2_D%sLab.sql" % case["token"]])
    yield {"dir": lab_dir, "inventory": inventory, "cluster": cluster, "releases": archives}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def sql(fleet, text, database):
    return k2cluster.psql(fleet["cluster"], text, database=database).strip()


def reinstall(fleet, site, target, release):
    extravars = {"k2_target_version": target, "k2_exempt_user": "ADMIN", "k2_release_archive": release, "k2_session_login": "k2",
                 "k2_reinstall_state_dir": os.path.join(fleet["dir"], "state"), "fleet_report_dir": os.path.join(fleet["dir"], "reports"),
                 "k2_reinstall_restore_inventory": fleet["inventory"],
                 # A copied K2 (the collection converts); the generation change goes on without a test reinstall, waived (K2-18).
                 "k2_install_method": "copy", "k2_reinstall_waive_test_reinstall": True}
    return run_playbook("playbooks/k2_reinstall.yml", fleet["inventory"], extravars=extravars, limit=site, fresh_home=True)


def reinstall_result(run, site):
    for task in ("Sum up the run", "Say what failed and what to do"):
        found = run.results(task).get(site)
        if found:
            return found["ansible_facts"]["k2_reinstall_result"]
    raise AssertionError(run.stdout)


def run_state(fleet, site):
    with open(os.path.join(fleet["dir"], "sites", "%s.erpops-run.json" % site), encoding="utf-8") as handle:
        return json.load(handle)


def table_exists(fleet, table, database):
    return sql(fleet, "SELECT to_regclass('\"%s\"') IS NOT NULL" % table, database) == "t"


def data_everywhere(fleet, site):
    """Per company database: its K2LAB_DATA rows, and whether the conversion journal exists."""
    return {name: (sql(fleet, 'SELECT coalesce(string_agg("CIS" || \':\' || "TEXT", \',\' ORDER BY "CIS"), \'\') FROM "K2LAB_DATA"', name),
                   table_exists(fleet, JOURNAL, name))
            for name in ("%s_%s" % (site, code) for code in COMPANY)}


def moved_rows(fleet, token, database):
    return sql(fleet, 'SELECT string_agg("CIS" || \':\' || "Go Sloupec]x", \',\' ORDER BY "CIS") FROM "K2LAB_V%s_D" '
                      'WHERE "Go Sloupec]x" NOT LIKE \'K2_%%\'' % token, database)


def marker_count(fleet, file_name, database):
    """How many times the one-time file's second batch ran in this database (its marker row)."""
    if not table_exists(fleet, MARKERS, database):
        return 0
    return int(sql(fleet, 'SELECT count(*) FROM "%s" WHERE "SOUBOR" = \'%s\' AND "DAVKA" = 2' % (MARKERS, file_name), database))


def journal_rows(fleet, token, database):
    if not table_exists(fleet, JOURNAL, database):
        return 0
    return int(sql(fleet, 'SELECT count(*) FROM "%s" WHERE "FILE_NAME" LIKE \'K2\\__%sLab%%\'' % (JOURNAL, token), database))


def stopping_tools(fleet, site):
    """pg_dump/pg_restore of the lab, but the second database's restore stops the cluster as it starts (a server lost)."""
    cluster = fleet["cluster"]
    folder = os.path.join(fleet["dir"], "stopping-tools")
    os.makedirs(folder, exist_ok=True)
    for tool in ("pg_dump",):
        if not os.path.exists(os.path.join(folder, tool)):
            os.symlink(os.path.join(cluster.bin_dir, tool), os.path.join(folder, tool))
    counter = os.path.join(fleet["dir"], "%s-restores.count" % site)
    stop = [os.path.join(cluster.bin_dir, "pg_ctl"), "-D", cluster.data_dir, "-m", "immediate", "stop"]
    if os.geteuid() == 0:
        stop = ["runuser", "-u", cluster.owner, "--"] + stop
    body = ('if [ "$1" != "--list" ]; then echo x >> {c}; if [ "$(wc -l < {c})" -eq 2 ]; then {stop} >/dev/null; fi; fi\n'
            'exec {real} "$@"\n').format(c=shlex.quote(counter), stop=" ".join(shlex.quote(p) for p in stop),
                                         real=shlex.quote(os.path.join(cluster.bin_dir, "pg_restore")))
    path = os.path.join(folder, "pg_restore")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return folder


def scratch_databases(fleet):
    return [name for name in sql(fleet, "SELECT datname FROM pg_database", "postgres").splitlines() if name.startswith("ERPOPS_VERIFY")]


def restore(fleet, command, extravars=None, check=False):
    """The printed restore command as an ansible-runner job: its -l and -e parts, in a fresh HOME."""
    words = shlex.split(command)
    assert words[:2] == ["ansible-playbook", "erpops.upgrade.k2_restore"], command
    limit, variables = None, {}
    pairs = iter(words[2:])
    for flag in pairs:
        value = next(pairs)
        if flag in ("-l", "--limit"):
            limit = value
        elif flag == "-i":
            assert value == fleet["inventory"], command
        elif flag == "-e":
            if value.startswith("{"):
                variables.update(json.loads(value))
            else:
                key, text = value.split("=", 1)
                variables[key] = {"true": True}.get(text, text)
        else:
            raise AssertionError("unexpected %s in %s" % (flag, command))
    variables.update(extravars or {})
    return run_playbook("playbooks/k2_restore.yml", fleet["inventory"], limit=limit, fresh_home=True, extravars=variables,
                        check=check, diff=check)


@pytest.mark.parametrize("case", list(CASES))
def test_failed_one_time_conversion_then_the_printed_restore_gives_the_exact_backup_state(fleet, case):
    site, target, token = CASES[case]["site"], CASES[case]["target"], CASES[case]["token"]
    one_time, rows = "K2_D%sLab.sql" % token, CASES[case]["rows"]
    databases = ["%s_%s" % (site, code) for code in CODES]
    company = databases[1:]
    for name in company:
        sql(fleet, 'SET ROLE k2; CREATE TABLE "K2LAB_DATA" ("CIS" integer, "TEXT" varchar(40)); '
                   'INSERT INTO "K2LAB_DATA" VALUES (1, \'zákazník 1\'), (2, \'zákazník 2\'), (3, \'zákazník 3\')', name)
    if CASES[case]["earlier"]:
        earlier = reinstall(fleet, site, CASES[case]["earlier"], fleet["releases"]["ori.09 ok"])
        assert earlier.rc == 0 and reinstall_result(earlier, site)["status"] == "done", earlier.stdout
        for name in company:
            assert moved_rows(fleet, "509", name) == EARLIER_ROWS, name
            sql(fleet, 'INSERT INTO "K2LAB_DATA" VALUES (4, \'nový 4\'), (5, \'nový 5\')', name)
    journal_at_backup = bool(CASES[case]["earlier"])
    assert data_everywhere(fleet, site) == {name: (rows, journal_at_backup) for name in company}

    failed = reinstall(fleet, site, target, fleet["releases"][target])
    result = reinstall_result(failed, site)
    assert result["status"] == "failed", result
    assert "%s failed at batch" % one_time in json.dumps(result), result
    assert data_everywhere(fleet, site)["%s_FIRMA" % site] == ("", True), "the failed conversion moved the rows half-way"
    command = result["restore_command"]
    assert command and command in result["next"], result
    prefix = "ansible-playbook erpops.upgrade.k2_restore -i %s -l %s -e k2_restore_run_id=" % (fleet["inventory"], site)
    assert command.startswith(prefix) and command.endswith(" -e k2_restore_folder=true"), command

    if case == "before":
        # The database server stops as the second database's restore starts: CONF is restored, the others are not.
        try:
            cut = restore(fleet, command, {"k2_pg_bin_dir": stopping_tools(fleet, site)})
        finally:
            k2cluster.ensure_running(fleet["dir"])
        assert cut.rc != 0, cut.stdout
        said = cut.results("Stop the site")[site]["msg"]
        assert "Restored to their backup state: %s. NOT restored: %s." % (databases[0], ", ".join(company)) in said, said
        state = run_state(fleet, site)
        assert state["status"] == "partly-restored", state["status"]
        record = state["restores"][-1]
        assert record["databases"] == databases[:1] and record["not_restored"] == company and not record["folder_restored"], record
        finish = record["next_command"]
        assert finish in said and finish in state["advice"], (finish, said)
        assert json.dumps({"k2_restore_databases": company}) in finish and "k2_restore_folder=true" in finish, finish
        assert sql(fleet, 'SELECT "Verze" FROM "K2VERZE"', databases[0]) == CASES[case]["from"]
        assert data_everywhere(fleet, site)["%s_FIRMA" % site] == ("", True), "FIRMA is not restored, as the report says"
        refused = reinstall(fleet, site, target, fleet["releases"][target])
        assert refused.rc != 0 and "partly restored" in refused.stdout and finish in refused.stdout, refused.stdout
        assert run_state(fleet, site)["status"] == "partly-restored", "the refusal changed nothing"
        left = scratch_databases(fleet)
        assert len(left) == 1, "the fresh copy the cut-off restore had made: %s" % left
        command = finish

    if case == "first":
        # The printed command in check mode: it says what it would restore and changes nothing, databases nor files.
        before = snapshot(fleet["cluster"], [site + "_"], os.path.join(fleet["dir"], "sites"))
        preview = restore(fleet, command, check=True)
        assert preview.rc == 0 and preview.changed() >= 1, preview.stdout
        assert differences(before, snapshot(fleet["cluster"], [site + "_"], os.path.join(fleet["dir"], "sites"))) == []
        assert scratch_databases(fleet) == [], "check mode made no scratch copy"

    restored = restore(fleet, command)
    assert restored.rc == 0, restored.stdout
    assert data_everywhere(fleet, site) == {name: (rows, journal_at_backup) for name in company}, \
        "the databases are back: rows in place, the journal as it was at backup time (none on a first reinstall)"
    for name in databases:
        assert not table_exists(fleet, "K2LAB_V%s_D" % token, name), "nothing the failed conversion created survives: " + name
        assert journal_rows(fleet, token, name) == 0 and marker_count(fleet, one_time, name) == 0, name
        assert sql(fleet, 'SELECT "Verze" FROM "K2VERZE"', name) == CASES[case]["from"], name
    for number, name in enumerate(databases if case == "first" else company, start=1):
        assert "k2_backup [%s] %s: restore %d/%d started from " % (site, name, number, 4 if case == "first" else 3) in restored.stdout
        assert "k2_backup [%s] %s: restored in " % (site, name) in restored.stdout
    assert site_folder_version(fleet, site) == CASES[case]["from"], "the K2 folder is back at the old version with the databases"
    if case == "before":
        assert "k2_backup [%s] %s: dropped %s, a scratch copy of %s" % (site, company[0], left[0], company[0]) in restored.stdout
    assert scratch_databases(fleet) == [], "no scratch database is left behind"

    # The fix: the table the failing batch writes into exists now (in the restored databases).
    for name in company:
        sql(fleet, 'SET ROLE k2; CREATE TABLE "K2LAB_OPRAVA" ("SOUBOR" varchar(260))', name)
    rerun = reinstall(fleet, site, target, fleet["releases"][target])
    result = reinstall_result(rerun, site)
    assert rerun.rc == 0 and result["status"] == "done", rerun.stdout
    state = run_state(fleet, site)
    assert state["status"] == "done" and state["history"][-1]["status"] == "restored", state
    assert [run["status"] for run in state["history"]] == (["restored"] if case == "first" else ["done", "restored"]), state["history"]
    assert [r["databases"] for r in state["restores"]] == ([databases] if case == "first" else [databases[:1], company])
    assert "starts afresh: the databases were restored" in json.dumps(state["events"]), "the new run says why it starts afresh"
    assert sql(fleet, 'SELECT "Verze" FROM "K2VERZE"', databases[0]) == target
    assert site_folder_version(fleet, site) == target
    for name in company:
        assert sql(fleet, 'SELECT count(*) FROM "K2LAB_DATA"', name) == "0", "the one-time file moved the rows"
        assert moved_rows(fleet, token, name) == rows, "every moved row is there: " + name
        assert marker_count(fleet, one_time, name) == 1, "the one-time conversion ran exactly once since the restore: " + name
        once = sql(fleet, 'SELECT count(*) > 0 AND count(*) = count(DISTINCT "BATCH_INDEX") FROM "%s" WHERE "FILE_NAME" = \'%s\' '
                          'AND "RUN_SCOPE" = \'ONCE\' AND "SUCCESS" = 1' % (JOURNAL, one_time), name)
        assert once == "t", "the journal holds each batch of the one-time file once: " + name
        if CASES[case]["earlier"]:
            assert moved_rows(fleet, "509", name) == EARLIER_ROWS and marker_count(fleet, "K2_D509Lab.sql", name) == 1, \
                "the earlier reinstall's one-time conversion was not run again: " + name


def site_folder_version(fleet, site):
    return folder_version(os.path.join(fleet["dir"], "sites", site))
