"""k2_backup and k2_convert through real playbooks against the lab's real PostgreSQL.

A site of its own ("conv": CONF, DEMO, INIT, FIRMA and the test copy FIRMA_TEST) on the
session's cluster, so the other tests' sites are not touched. What ran is checked in the
databases (the conversions' marker table and the journal), not in the module's answer.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import run_playbook
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import konverze
from tools.k2lab.site import SiteSpec, build, database_name, site_dir

SITE = "conv"
BACKUP = "tests/integration/playbooks/backup_take.yml"
CONVERT = "tests/integration/playbooks/convert_run.yml"
RESTORE = "tests/integration/playbooks/backup_restore.yml"
MARKER = "K2LAB_KONVERZE"
JOURNAL = "ERPOPS_CONVERSION_JOURNAL"
CODES = ["CONF", "DEMO", "INIT", "FIRMA", "FIRMA_TEST"]


def sql(site, text, code="FIRMA"):
    return k2cluster.psql(site["cluster"], text, database=database_name(site.get("name", SITE), code)).strip()


@pytest.fixture(scope="module")
def site(lab):
    cluster = lab["cluster"]
    spec = SiteSpec(name=SITE, version="gaia.12.3", mandants=["FIRMA", "FIRMA_TEST"], company_tables=4, licence_sessions=[])
    build(lab["dir"], cluster, spec)
    inventory = os.path.join(lab["dir"], "conv_inventory.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(k2lab.inventory(lab["dir"], cluster, [spec]), handle)
    folder = site_dir(lab["dir"], SITE)
    work = os.path.join(lab["dir"], "conv_work")
    os.makedirs(work, exist_ok=True)
    return {"cluster": cluster, "inventory": inventory, "folder": folder, "manifest": os.path.join(work, "manifest.json"),
            "backups": os.path.join(work, "backups"), "work": work}


def set_konverze(site, versions, failing=(), extra=None, data_table=None):
    """Replace SQL/konverze with the files of ``versions`` for all three platforms (as a new K2 copies them)."""
    folder = os.path.join(site["folder"], "SQL", "konverze")
    shutil.rmtree(folder)
    os.makedirs(folder)
    for platform in ("mssql", "oracle", "lab"):
        rendered = konverze.render_conversions(platform, versions, failing=failing if platform == "lab" else (), data_table=data_table)
        for name, text in rendered.items():
            with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                handle.write(text)
    for name, text in (extra or {}).items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)


def markers(site, code):
    """{file: [DAVKA, ...]} of the marker table; {} when no conversion ever ran."""
    if sql(site, "SELECT to_regclass('\"%s\"') IS NOT NULL" % MARKER, code) != "t":
        return {}
    found = {}
    for line in sql(site, 'SELECT "SOUBOR", "DAVKA" FROM "%s" ORDER BY 1, 2' % MARKER, code).splitlines():
        name, batch = line.split("|")
        found.setdefault(name, []).append(int(batch))
    return found


def backup(site, **extra):
    variables = {"backup_manifest": site["manifest"], "backup_dir": site["backups"]}
    variables.update(extra)
    return run_playbook(BACKUP, site["inventory"], extravars=variables)


def convert(site, run_id, kind, check=False, **extra):
    variables = {"convert_run_id": run_id, "convert_kind": kind, "backup_manifest": site["manifest"], "convert_target": "ori.09"}
    variables.update(extra)
    return run_playbook(CONVERT, site["inventory"], extravars=variables, check=check)


def one(run, task):
    return run.results(task)[SITE]


def k2lab_databases(site):
    return sql(site, "SELECT datname FROM pg_database ORDER BY 1", "CONF").splitlines()


def by_name(database):
    """A database name for psql's -d as a name, never read as a connection string (it may hold ``=``)."""
    return "dbname='%s'" % database.replace("\\", "\\\\").replace("'", "\\'")


def database_state(cluster, database):
    """{table: (columns, rows, md5 of the sorted row md5s)} of every user table, read with psql."""
    database = by_name(database)
    tables = k2cluster.psql(cluster, "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                                     "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", database=database).split()
    if not tables:
        return {}
    query = " UNION ALL ".join(
        "SELECT %s, (SELECT string_agg(attname || ':' || atttypid::regtype::text, ',' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped), count(*), md5(coalesce(string_agg(md5(r::text), '' "
        "ORDER BY md5(r::text)), '')) FROM %s AS r" % ("'" + t.replace("'", "''") + "'", "'" + t.replace("'", "''") + "'", t)
        for t in tables)
    rows = k2cluster.psql(cluster, query, database=database).splitlines()
    return {line.split("|")[0]: tuple(line.split("|")[1:]) for line in rows}


def databases_state(site, codes=tuple(CODES)):
    return {code: database_state(site["cluster"], database_name(SITE, code)) for code in codes}


def files_state(site):
    found = {}
    for name in sorted(os.listdir(site["backups"])):
        path = os.path.join(site["backups"], name)
        with open(path, "rb") as handle:
            found[name] = (hashlib.sha256(handle.read()).hexdigest(), os.stat(path).st_mtime_ns)
    with open(site["manifest"], "rb") as handle:
        found["manifest"] = handle.read()
    return found


def flip_byte(path, position):
    with open(path, "r+b") as handle:
        handle.seek(position)
        value = handle.read(1)[0]
        handle.seek(position)
        handle.write(bytes([value ^ 0xFF]))


def test_backup_refusals_check_mode_and_reuse(site):
    refused = one(backup(site, backup_dir="/etc/hostname/backups"), "Back up")
    assert refused["failed"] and "cannot write backups to /etc/hostname/backups" in refused["msg"], refused
    assert "k2-lab-secret" not in json.dumps(refused)
    full = one(backup(site, backup_space_margin=1e12), "Back up")
    assert full["failed"] and "not enough free space" in full["msg"], full
    assert not os.path.exists(site["manifest"]), "a refused backup wrote the manifest"

    check = run_playbook(BACKUP, site["inventory"], check=True, extravars={"backup_manifest": site["manifest"], "backup_dir": site["backups"]})
    planned = one(check, "Back up")
    assert check.rc == 0 and planned["changed"], check.stdout
    # every database the reinstall converts: DEMO, INIT and the test copy too
    assert sorted(b["code"] for b in planned["backups"]) == sorted(CODES)
    assert all(b["file"].startswith(site["backups"] + "/") for b in planned["backups"])
    assert planned["space"]["needed"] > 0 and planned["space"]["free"] > planned["space"]["needed"]
    assert not os.path.exists(site["manifest"]) and not os.listdir(site["backups"]) if os.path.exists(site["backups"]) else True

    first = backup(site, backup_run_id="warmup", backup_max_age=60)
    taken = one(first, "Back up")
    assert first.rc == 0 and taken["changed"], first.stdout
    with open(site["manifest"], encoding="utf-8") as handle:
        entries = json.load(handle)["entries"]
    assert sorted((e["code"], e["verified"], e["verification"], e["position"], e["run_id"], e["k2_version"]) for e in entries) == [
        (code, True, "lab-restore-compare", "before_check", "warmup", "gaia.12.3") for code in sorted(CODES)]
    for entry in entries:
        listing = subprocess.run([os.path.join(site["cluster"].bin_dir, "pg_restore"), "--list", entry["file"]],
                                 capture_output=True, text=True, check=True).stdout
        assert "TABLE DATA public K2VERZE" in listing
        assert os.path.getsize(entry["file"]) == entry["size"] and len(entry["checksum"]) == 64
        assert entry["fingerprint"]["public.K2VERZE"]["rows"] == 1
    # progress while it runs: one line when each database starts and one when it ends, with size and time
    assert re.search(r"k2_backup \[conv\] 5 backup\(s\) to take, 4 at a time: ", first.stdout), first.stdout
    for entry in entries:
        assert re.search(r"k2_backup \[conv\] %s: backup started \(database [\d.]+ (KiB|MiB)\)" % entry["database"],
                         first.stdout), first.stdout
        assert re.search(r"k2_backup \[conv\] %s: backup done after [\d.]+ s, file [\d.]+ (B|KiB|MiB), verified \(lab-restore-compare\)"
                         % entry["database"], first.stdout), first.stdout
        assert entry["taken_at"] <= entry["finished_at"] and entry["slot_wait_seconds"] is None
    assert not [name for name in k2lab_databases(site) if name.startswith("ERPOPS_VERIFY")], "a scratch database was left behind"

    # reuse: nothing changes, in the databases or in the files, not only in the answer
    databases_before, files_before = databases_state(site), files_state(site)
    again = backup(site, backup_run_id="warmup", backup_max_age=60)
    reused = one(again, "Back up")
    assert again.rc == 0 and again.changed() == 0 and all(b["reused"] for b in reused["backups"]), again.stdout
    assert databases_state(site) == databases_before and files_state(site) == files_before

    # a reused file is checked again: a damaged one is not reused, a new backup of that database is taken
    firma = [e for e in entries if e["code"] == "FIRMA"][0]
    flip_byte(firma["file"], os.path.getsize(firma["file"]) // 2)
    damaged = one(backup(site, backup_run_id="warmup", backup_max_age=60), "Back up")
    assert damaged["changed"] and [b["code"] for b in damaged["backups"] if not b["reused"]] == ["FIRMA"], damaged
    assert any("%s of conv_FIRMA is not reused" % firma["file"] in note and "checksum" in note for note in damaged["notes"]), damaged
    fresh = [b for b in damaged["backups"] if b["code"] == "FIRMA"][0]
    assert fresh["file"] != firma["file"] and fresh["verified"]

    # DEMO and INIT can be left out, and the result says so
    excluded = backup(site, backup_run_id="warmup-x", backup_exclude=["DEMO", "INIT"])
    result = one(excluded, "Back up")
    assert excluded.rc == 0 and sorted(b["code"] for b in result["backups"]) == ["CONF", "FIRMA", "FIRMA_TEST"]
    assert [(d["code"], d["database"]) for d in result["excluded"]] == [("DEMO", "conv_DEMO"), ("INIT", "conv_INIT")]
    assert "not backed up (excluded): DEMO (conv_DEMO), INIT (conv_INIT)" in excluded.stdout

    # an after_check request is not met by a before_check backup
    later = one(backup(site, backup_run_id="warmup", backup_max_age=60, backup_position="after_check", backup_databases=["FIRMA"]), "Back up")
    assert later["changed"] and [b["position"] for b in later["backups"]] == ["after_check"]


def test_generation_release_build_with_gate_failure_and_resume(site):
    set_konverze(site, ["509"], failing=["K2_D509Lab.sql"])
    log = os.path.join(site["folder"], "sql_inst.log")

    preview = convert(site, "gen", "generation", check=True, convert_force=False)
    planned = one(preview, "Convert")
    assert planned["plan"] == ["K2_C509Lab.sql", "K2_C509LabAdditional.sql", "K2_D509Lab.sql", "K2_D509LabAdditional.sql"]
    assert planned["failed"] and "needs a verified backup" in planned["msg"], planned
    assert all(markers(site, code) == {} for code in CODES)

    refused = one(convert(site, "gen", "generation"), "Convert")
    assert refused["failed"] and "refused before anything ran" in refused["msg"]
    assert all(markers(site, code) == {} for code in CODES)

    taken = backup(site, backup_run_id="gen", backup_position="after_check", backup_max_age=60)
    assert taken.rc == 0, taken.stdout

    check = one(convert(site, "gen", "generation", check=True), "Convert")
    assert not check["failed"] and check["changed"], check
    firma = [d for d in check["databases"] if d["code"] == "FIRMA"][0]
    assert [(f["file"], f["status"], f["batches"]) for f in firma["files"]] == [
        ("K2_D509Lab.sql", "would run", 6), ("K2_D509LabAdditional.sql", "would run", 3)]
    assert all(markers(site, code) == {} for code in CODES)
    forced = one(convert(site, "gen", "generation", check=True, convert_force=True, backup_manifest=""), "Convert")
    assert not forced["failed"] and any("FORCED WITHOUT BACKUP: one-time conversion K2_D509Lab.sql runs on conv_FIRMA" in w
                                        for w in forced["warnings"]), forced
    assert not any("conv_DEMO" in w or "conv_FIRMA_TEST" in w for w in forced["warnings"]), "DEMO and test copies are not gated"

    failing = one(convert(site, "gen", "generation"), "Convert")
    assert failing["failed"] and "K2_D509Lab.sql failed at batch 4" in failing["msg"], failing["msg"]
    with open(log, encoding="utf-8") as handle:
        logged = handle.read()
    assert "conv_FIRMA  K2_D509Lab.sql  batch 4, line" in logged and "K2LAB_OPRAVA" in logged
    assert markers(site, "CONF") == {"K2_C509Lab.sql": [2], "K2_C509LabAdditional.sql": [1]}
    assert markers(site, "FIRMA") == {"K2_D509Lab.sql": [2]}

    for code in CODES[1:]:
        sql(site, 'SET ROLE k2; CREATE TABLE "K2LAB_OPRAVA" ("SOUBOR" varchar(260))', code)
    resumed = convert(site, "gen", "generation")
    result = one(resumed, "Convert")
    assert resumed.rc == 0, resumed.stdout
    firma = [d for d in result["databases"] if d["code"] == "FIRMA"][0]
    assert firma["files"][0]["action"] == "resume" and firma["files"][0]["applied"] == [4, 5, 6]
    for code in CODES[1:]:
        assert markers(site, code) == {"K2_D509Lab.sql": [2], "K2_D509LabAdditional.sql": [1]}, code
        assert sql(site, 'SELECT count(*) FROM "K2LAB_V509_D"', code) == "1"
    assert markers(site, "CONF") == {"K2_C509Lab.sql": [2], "K2_C509LabAdditional.sql": [1]}

    second = convert(site, "gen", "generation")
    assert second.rc == 0 and second.changed() == 0, second.stdout
    assert all(f["status"] == "skipped" for d in one(second, "Convert")["databases"] for f in d["files"])

    # release: Additional only, the one-time file of 510 is not selected; no backup needed
    set_konverze(site, ["509", "510"])
    release = convert(site, "rel", "release")
    assert release.rc == 0 and release.changed() == 1, release.stdout
    assert {"file": "K2_D510Lab.sql", "reason": "one-time conversion, runs only on a generation upgrade (this is a release upgrade)"} \
        in one(release, "Convert")["not_selected"]
    build_run = convert(site, "bld", "build")
    assert build_run.rc == 0, build_run.stdout
    for code in CODES[1:]:
        assert markers(site, code) == {"K2_D509Lab.sql": [2], "K2_D509LabAdditional.sql": [1, 1, 1],
                                       "K2_D510LabAdditional.sql": [1, 1]}, code
    assert sql(site, 'SELECT count(*) FROM "%s" WHERE "RUN_SCOPE" = \'ONCE\' AND "SUCCESS" = 1' % JOURNAL) == "6"


SLEEPER = """\
-- lab: a conversion whose third batch sleeps until the test has killed its connection
CREATE TABLE "K2LAB_SPANEK" ("CIS" integer)
GO
INSERT INTO "K2LAB_SPANEK" VALUES (1)
GO
DO $$
BEGIN
  IF to_regclass('"K2LAB_PROBUZENI"') IS NULL THEN PERFORM pg_sleep(60); END IF;
END
$$
GO
INSERT INTO "K2LAB_SPANEK" VALUES (4)
GO
"""


def test_killed_connection_leaves_a_journal_to_resume_from(site):
    set_konverze(site, ["510"], extra={"K2_D511LabAdditional.sql": SLEEPER})
    outcome = {}

    def run():
        outcome["run"] = convert(site, "kill", "build", convert_databases=["FIRMA"])

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 40
    pid = ""
    while not pid and time.monotonic() < deadline:
        pid = k2cluster.psql(site["cluster"], "SELECT pid FROM pg_stat_activity WHERE datname = 'conv_FIRMA' AND query LIKE '%pg_sleep(60)%' "
                                              "AND pid <> pg_backend_pid()").strip()
        time.sleep(0.2)
    assert pid, "the sleeping batch never started"
    k2cluster.psql(site["cluster"], "SELECT pg_terminate_backend(%s)" % pid.split()[0])
    thread.join(60)
    killed = one(outcome["run"], "Convert")
    assert killed["failed"] and "K2_D511LabAdditional.sql failed at batch 3" in killed["msg"], killed["msg"]
    assert sql(site, 'SELECT "CIS" FROM "K2LAB_SPANEK" ORDER BY 1') == "1"
    assert sql(site, 'SELECT string_agg("BATCH_INDEX"::text, \',\' ORDER BY "BATCH_INDEX") FROM "%s" '
                     'WHERE "FILE_NAME" = \'K2_D511LabAdditional.sql\' AND "SUCCESS" = 1' % JOURNAL) == "1,2"

    sql(site, 'SET ROLE k2; CREATE TABLE "K2LAB_PROBUZENI" ()')
    rerun = convert(site, "kill", "build", convert_databases=["FIRMA"])
    assert rerun.rc == 0, rerun.stdout
    files = {f["file"]: f for d in one(rerun, "Convert")["databases"] if d["code"] == "FIRMA" for f in d["files"]}
    assert files["K2_D511LabAdditional.sql"]["action"] == "resume" and files["K2_D511LabAdditional.sql"]["applied"] == [3, 4]
    assert sql(site, 'SELECT string_agg("CIS"::text, \',\' ORDER BY "CIS") FROM "K2LAB_SPANEK"') == "1,4"


def table_rows(site, table):
    return sql(site, 'SELECT * FROM "%s" ORDER BY 1, 2' % table)


def test_backup_damage_restore(site):
    before = {table: table_rows(site, table) for table in ("INICIALIZACE", MARKER, JOURNAL)}
    assert before[MARKER] and before["INICIALIZACE"]
    taken = backup(site, backup_run_id="restore-test", backup_databases=["FIRMA"], backup_position="after_check")
    assert taken.rc == 0, taken.stdout

    sql(site, 'DELETE FROM "INICIALIZACE"; DROP TABLE "%s"; UPDATE "%s" SET "MESSAGE" = \'damaged\'' % (MARKER, JOURNAL))
    sql(site, 'SET ROLE k2; CREATE TABLE "PO_ZALOZE" ("CIS" integer)')
    variables = {"backup_manifest": site["manifest"], "restore_run_id": "restore-test", "restore_databases": ["FIRMA"]}

    cluster = site["cluster"]
    env = dict(os.environ, PGPASSWORD=cluster.password)
    user = subprocess.Popen([os.path.join(cluster.bin_dir, "psql"), "-X", "-q"] + cluster.dsn_args("conv_FIRMA", superuser=False),
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        user.stdin.write("SELECT 1;\n")
        user.stdin.flush()
        deadline = time.monotonic() + 10
        while sql(site, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'conv_FIRMA' AND usename = 'k2'", "CONF") == "0":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        busy = one(run_playbook(RESTORE, site["inventory"], extravars=variables), "Restore")
        assert busy["failed"] and "users are connected (conv_FIRMA: 1 session(s))" in busy["msg"], busy
        assert sql(site, 'SELECT count(*) FROM "INICIALIZACE"') == "0"
    finally:
        user.kill()
        user.wait()
    time.sleep(0.3)
    restored = run_playbook(RESTORE, site["inventory"], extravars=variables)
    assert restored.rc == 0, restored.stdout
    assert [e["database"] for e in one(restored, "Restore")["restored"]] == ["conv_FIRMA"]
    assert {table: table_rows(site, table) for table in before} == before
    assert sql(site, "SELECT to_regclass('\"PO_ZALOZE\"') IS NULL") == "t", "a table created after the backup does not survive"
