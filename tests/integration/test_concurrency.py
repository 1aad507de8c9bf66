"""Concurrency on the lab's real PostgreSQL: a server limit across two sites' jobs, and one database's failure kept alone.

Two sites of their own ("par_a", "par_b": CONF, DEMO, INIT, FIRMA, FIRMA2 each) on the session's cluster. The server's
slot table lives in the lab's shared database (``k2_db_server_slots_database``). What overlapped is read from the times
the manifests record and, while the jobs run, from the server itself (its pg_dump and pg_restore sessions).
"""

import json
import os
import shutil
import threading
import time

import ansible_runner
import pytest

from conftest import PlaybookRun, run_playbook, runner_kwargs
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import konverze
from tools.k2lab.site import SHARED_DATABASE, SiteSpec, build, database_name, shared_database, site_dir

SITES = ("par_a", "par_b")
CODES = ("CONF", "DEMO", "INIT", "FIRMA", "FIRMA2")
BACKUP = "tests/integration/playbooks/backup_take.yml"
CONVERT = "tests/integration/playbooks/convert_run.yml"
RESTORE = "tests/integration/playbooks/backup_restore.yml"
SLOTS_TABLE = "ERPOPS_SERVER_SLOTS"


@pytest.fixture(scope="module")
def pair(lab, tmp_path_factory):
    cluster = lab["cluster"]
    specs = [SiteSpec(name=name, mandants=["FIRMA", "FIRMA2"], company_tables=4, licence_sessions=[]) for name in SITES]
    for spec in specs:
        build(lab["dir"], cluster, spec)
    shared_database(cluster)
    inventory = os.path.join(lab["dir"], "par_inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(k2lab.inventory(lab["dir"], cluster, specs), handle)
    work = str(tmp_path_factory.mktemp("par"))
    return {"cluster": cluster, "inventory": inventory, "work": work, "lab_dir": lab["dir"]}


def manifest_path(pair, site, run):
    return os.path.join(pair["work"], run, site + ".json")


def backup_vars(pair, site, run, **extra):
    variables = {"k2_hosts": site, "backup_manifest": manifest_path(pair, site, run),
                 "backup_dir": os.path.join(pair["work"], run, site + "-backups"), "backup_run_id": run, "backup_parallel": 4}
    variables.update(extra)
    return variables


def entries(pair, site, run):
    with open(manifest_path(pair, site, run), encoding="utf-8") as handle:
        return json.load(handle)["entries"]


def psql(pair, text, database=SHARED_DATABASE):
    return k2cluster.psql(pair["cluster"], text, database=database).strip()


class ServerWatch:
    """Samples, every 50 ms, how many pg_dump and pg_restore sessions the server has at once, and the slot rows
    (holders, and jobs waiting in the queue)."""

    def __init__(self, pair):
        self.pair = pair
        self.most_tools = 0
        self.most_slots = 0
        self.most_waiting = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        tools_sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('pg_dump', 'pg_restore')"
        while not self._stop.is_set():
            try:
                line = psql(self.pair, "SELECT (%s), count(*) FILTER (WHERE \"STATE\" = 'holding'), count(*) FILTER (WHERE \"STATE\" = 'waiting') "
                                       "FROM \"%s\"" % (tools_sql, SLOTS_TABLE))
            except k2cluster.LabError:  # the first job has not created the slot table yet
                line = psql(self.pair, "SELECT (%s), 0, 0" % tools_sql)
            tools, slots, waiting = (int(value) for value in line.split("|"))
            self.most_tools, self.most_slots = max(self.most_tools, tools), max(self.most_slots, slots)
            self.most_waiting = max(self.most_waiting, waiting)
            self.samples += 1
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(10)


def start_job(pair, playbook, extravars):
    private = os.path.join(pair["work"], "job-" + extravars["k2_hosts"] + "-" + str(time.monotonic_ns()))
    os.makedirs(private)
    thread, runner = ansible_runner.run_async(**runner_kwargs(private, playbook, pair["inventory"], extravars, fresh_home=True))
    return thread, runner, private


def finish_job(job, timeout=600):
    thread, runner, private = job
    thread.join(timeout)
    assert not thread.is_alive(), "the job did not end in %d s" % timeout
    run = PlaybookRun(runner)
    shutil.rmtree(private, ignore_errors=True)
    return run


def test_two_sites_on_one_server_with_a_limit_of_one_never_back_up_at_once_and_both_finish(pair):
    limit = {"limit": 1, "database": SHARED_DATABASE, "wait": 600, "lease_seconds": 30}
    with ServerWatch(pair) as watch:
        jobs = [start_job(pair, BACKUP, backup_vars(pair, site, "lim1", backup_server_slots=limit)) for site in SITES]
        runs = [finish_job(job) for job in jobs]
    for site, run in zip(SITES, runs):
        assert run.rc == 0, run.stdout
        assert "4 at a time, at most 1 at once on the database server" in run.stdout
    found = [dict(e, site=site) for site in SITES for e in entries(pair, site, "lim1")]
    assert sorted((e["site"], e["code"]) for e in found) == sorted((site, code) for site in SITES for code in CODES)
    assert all(e["verified"] and e["finished_at"] for e in found)
    # never two at once: in start order, each backup starts after the one before it ended (times from the manifests)
    found.sort(key=lambda e: e["taken_at"])
    for before, after in zip(found, found[1:]):
        assert after["taken_at"] >= before["finished_at"], (before, after)
    # the backups of both sites took turns: some waited for the slot, and said so while they waited
    assert sum(1 for e in found if e["slot_wait_seconds"]) >= len(found) // 2
    assert any("waiting for a slot on the database server (limit 1)" in run.stdout for run in runs)
    # the server itself never had two dumps or test restores at once, nor two slot rows; all are free at the end
    assert watch.samples > 20 and watch.most_tools == 1 and watch.most_slots == 1, (watch.samples, watch.most_tools, watch.most_slots)
    # the jobs that waited stood in the server's queue (first come, first served)
    assert watch.most_waiting >= 1, watch.most_waiting
    assert psql(pair, 'SELECT count(*) FROM "%s" WHERE "HOLDER_TOKEN" <> \'#gate\'' % SLOTS_TABLE) == "0"

    # restores hold the server's slots too: two sites restoring at once, one restore at a time on the server
    with ServerWatch(pair) as watch:
        jobs = [start_job(pair, RESTORE, {"k2_hosts": site, "backup_manifest": manifest_path(pair, site, "lim1"), "restore_run_id": "lim1",
                                          "restore_databases": ["FIRMA", "FIRMA2"], "backup_server_slots": limit}) for site in SITES]
        runs = [finish_job(job) for job in jobs]
    for site, run in zip(SITES, runs):
        assert run.rc == 0, run.stdout
        assert [e["database"] for e in run.results("Restore")[site]["restored"]] == [database_name(site, "FIRMA"), database_name(site, "FIRMA2")]
    # a lab restore's pg_restore can end between two samples, so the tools are bounded, not required to be seen; the slot
    # row is held for the whole restore and must be seen
    assert watch.samples > 5 and watch.most_tools <= 1 and watch.most_slots == 1, (watch.samples, watch.most_tools, watch.most_slots)


def test_check_mode_takes_no_slot_and_waits_for_none(pair):
    """Another job holds the server's only slot: a backup and a restore in check mode say what they would do at once."""
    psql(pair, "INSERT INTO \"%s\" VALUES ('other-job', 'backup', 'K2_CONF', 'K2_FIRMA', 'r-other', 'awx-7', "
               "now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' + interval '1 hour')" % SLOTS_TABLE)
    limit = {"limit": 1, "database": SHARED_DATABASE, "wait": 5, "lease_seconds": 30}
    try:
        backup = run_playbook(BACKUP, pair["inventory"], check=True,
                              extravars=backup_vars(pair, "par_a", "checked", backup_server_slots=limit))
        restore = run_playbook(RESTORE, pair["inventory"], check=True, diff=True,
                               extravars={"k2_hosts": "par_a", "backup_manifest": manifest_path(pair, "par_a", "lim1"),
                                          "restore_run_id": "lim1", "restore_databases": ["FIRMA"], "backup_server_slots": limit})
        holders = psql(pair, 'SELECT string_agg("HOLDER_TOKEN", \',\') FROM "%s" WHERE "HOLDER_TOKEN" <> \'#gate\'' % SLOTS_TABLE)
    finally:
        psql(pair, 'DELETE FROM "%s" WHERE "HOLDER_TOKEN" = \'other-job\'' % SLOTS_TABLE)
    assert backup.rc == 0 and backup.changed() >= 1, backup.stdout
    assert restore.rc == 0 and restore.changed() >= 1, restore.stdout
    assert "waiting for a slot" not in backup.stdout + restore.stdout
    assert holders == "other-job", "check mode took no slot of its own"
    assert not os.path.exists(manifest_path(pair, "par_a", "checked")), "check mode wrote no manifest"


def test_without_a_limit_a_sites_backups_run_at_once(pair):
    with ServerWatch(pair) as watch:
        run = run_playbook(BACKUP, pair["inventory"], extravars=backup_vars(pair, "par_a", "free"))
    assert run.rc == 0, run.stdout
    found = sorted(entries(pair, "par_a", "free"), key=lambda e: e["taken_at"])
    overlapping = [(a["code"], b["code"]) for a, b in zip(found, found[1:]) if b["taken_at"] < a["finished_at"]]
    assert overlapping and watch.most_tools >= 2, (found, watch.most_tools)
    assert all(e["slot_wait_seconds"] is None for e in found)


# pg_dump restores the data of "AA_CHECKED" before the table its CHECK reads: the dump is written, but its test restore
# fails, so that database's backup is never verified (a real pitfall of CHECK constraints that call functions).
RESTORE_TRAP = """\
SET ROLE k2;
CREATE TABLE "ZZ_ALLOWED" (id int);
INSERT INTO "ZZ_ALLOWED" VALUES (1);
CREATE FUNCTION allowed(value int) RETURNS boolean LANGUAGE sql AS 'SELECT EXISTS (SELECT 1 FROM public."ZZ_ALLOWED" WHERE id = value)';
CREATE TABLE "AA_CHECKED" (id int CHECK (allowed(id)));
INSERT INTO "AA_CHECKED" VALUES (1);
"""


def test_one_databases_failed_backup_and_conversion_leave_the_others_reported(pair):
    firma2 = database_name("par_a", "FIRMA2")
    psql(pair, RESTORE_TRAP, database=firma2)
    try:
        run = run_playbook(BACKUP, pair["inventory"], extravars=backup_vars(pair, "par_a", "trap"))
    finally:
        psql(pair, 'SET ROLE k2; DROP TABLE "AA_CHECKED"; DROP TABLE "ZZ_ALLOWED"; DROP FUNCTION allowed(int)', database=firma2)
    result = run.results("Back up")["par_a"]
    assert run.rc != 0 and result["failed"], run.stdout
    assert result["not_backed_up"] == [firma2], result
    assert sorted(b["code"] for b in result["backups"]) == ["CONF", "DEMO", "FIRMA", "INIT"]
    assert all(b["verified"] and b["verification"] == "lab-restore-compare" for b in result["backups"])
    assert result["msg"].startswith("backup failed for 1 database(s): %s: verification of " % firma2), result["msg"]
    assert "Backed up and verified: " in result["msg"]
    recorded = {e["code"]: e for e in entries(pair, "par_a", "trap")}
    assert recorded["FIRMA2"]["verified"] is False and "test restore failed" in recorded["FIRMA2"]["message"]
    assert all(recorded[code]["verified"] for code in ("CONF", "DEMO", "INIT", "FIRMA"))
    assert "%s: backup FAILED after" % firma2 in run.stdout

    # conversions: the Additional file fails where its fix table is missing (FIRMA2 only); the other databases convert
    folder = os.path.join(site_dir(pair["lab_dir"], "par_a"), "SQL", "konverze")
    shutil.rmtree(folder)
    os.makedirs(folder)
    for name, text in konverze.render_conversions("lab", ["510"], failing=["K2_D510LabAdditional.sql"]).items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    for code in ("DEMO", "INIT", "FIRMA"):
        psql(pair, 'SET ROLE k2; CREATE TABLE IF NOT EXISTS "K2LAB_OPRAVA" ("SOUBOR" varchar(260))', database=database_name("par_a", code))
    converted = run_playbook(CONVERT, pair["inventory"], extravars={
        "k2_hosts": "par_a", "convert_run_id": "trap", "convert_kind": "build", "convert_target": "ori.09",
        "convert_server_slots": {"limit": 2, "database": SHARED_DATABASE, "lease_seconds": 30}})
    outcome = converted.results("Convert")["par_a"]
    assert outcome["failed"], outcome
    by_code = {d["code"]: d for d in outcome["databases"]}
    assert by_code["FIRMA2"]["stopped"] and "K2_D510LabAdditional.sql failed at batch" in by_code["FIRMA2"]["stopped"]
    for code in ("CONF", "DEMO", "INIT", "FIRMA"):
        assert by_code[code]["stopped"] is None and all(f["status"] == "applied" for f in by_code[code]["files"]), by_code[code]
        assert by_code[code]["started_at"] <= by_code[code]["finished_at"]
    assert "conversion stopped: %s: K2_D510LabAdditional.sql failed" % firma2 in outcome["msg"]
    assert psql(pair, 'SELECT count(*) FROM "K2LAB_KONVERZE"', database=database_name("par_a", "FIRMA")) != "0"
    assert psql(pair, 'SELECT count(*) FROM "%s" WHERE "HOLDER_TOKEN" <> \'#gate\'' % SLOTS_TABLE) == "0"
