"""Restores that give the exact backup state, all or nothing, and backups that are what they claim, on the lab's real PostgreSQL.

Two sites of their own: "rest" (CONF, DEMO, INIT, FIRMA) and "names" (mandant databases renamed
to names that collided under the old file-name scheme, and one holding ``=``). Faults are injected from
outside the collection: a damaged file on disk, and a pg_restore wrapper (given as ``pg_bin_dir``) that
damages a file just before it is read or stops the cluster between two databases. Every outcome is
checked in the databases (catalog and row checksums per table, read with psql) and the files.
"""

import json
import os
import shlex
import stat
import sys

import pytest

from conftest import run_playbook
from test_backup_convert import by_name, database_state, flip_byte, markers, set_konverze
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab.site import SiteSpec, build, database_name, site_dir

BACKUP = "tests/integration/playbooks/backup_take.yml"
RESTORE_TEST = "tests/integration/playbooks/backup_restore.yml"
CONVERT = "tests/integration/playbooks/convert_run.yml"
JOURNAL = "ERPOPS_CONVERSION_JOURNAL"
CODES = ["CONF", "DEMO", "FIRMA", "INIT"]
COMPANY = ["DEMO", "FIRMA", "INIT"]


def make_site(lab, name, mandants):
    cluster = lab["cluster"]
    spec = SiteSpec(name=name, version="gaia.12.3", mandants=mandants, company_tables=3, licence_sessions=[])
    build(lab["dir"], cluster, spec)
    inventory = os.path.join(lab["dir"], "%s_inventory.yml" % name)
    with open(inventory, "w", encoding="utf-8") as handle:
        json.dump(k2lab.inventory(lab["dir"], cluster, [spec]), handle)
    work = os.path.join(lab["dir"], "%s_work" % name)
    os.makedirs(work, exist_ok=True)
    return {"name": name, "lab": lab["dir"], "cluster": cluster, "inventory": inventory, "folder": site_dir(lab["dir"], name),
            "manifest": os.path.join(work, "manifest.json"), "backups": os.path.join(work, "backups"), "work": work}


@pytest.fixture(scope="module")
def rest(lab):
    return make_site(lab, "rest", ["FIRMA"])


def psql(site, text, database):
    return k2cluster.psql(site["cluster"], text, database=by_name(database)).strip()


def db(site, code):
    return database_name(site["name"], code)


def state(site, databases):
    return {name: database_state(site["cluster"], name) for name in databases}


def backup(site, run_id, **extra):
    variables = {"backup_manifest": site["manifest"], "backup_dir": site["backups"], "backup_run_id": run_id}
    variables.update(extra)
    return run_playbook(BACKUP, site["inventory"], extravars=variables)


def restore(site, run_id, **extra):
    variables = {"backup_manifest": site["manifest"], "restore_run_id": run_id}
    variables.update(extra)
    return run_playbook(RESTORE_TEST, site["inventory"], extravars=variables)


def result(run, task, site):
    return run.results(task)[site["name"]]


def entries(site, run_id):
    with open(site["manifest"], encoding="utf-8") as handle:
        return [e for e in json.load(handle)["entries"] if e["run_id"] == run_id]


def scratch_databases(site):
    return [name for name in psql(site, "SELECT datname FROM pg_database", "postgres").splitlines() if name.startswith("ERPOPS_VERIFY")]


def change_everything(site, databases, tag):
    """What happens after a backup: a new table with a row in every database, and a changed row."""
    for name in databases:
        psql(site, 'SET ROLE k2; CREATE TABLE "PO_ZALOZE_%s" ("CIS" integer); INSERT INTO "PO_ZALOZE_%s" VALUES (1); '
                   'UPDATE "K2VERZE" SET "Verze" = \'zmeneno %s\'' % (tag, tag, tag), name)


def wrapper(site, name, body):
    """A tool folder whose pg_restore runs ``body`` (shell) first; pg_dump is the real one."""
    folder = os.path.join(site["work"], name)
    os.makedirs(folder, exist_ok=True)
    real = site["cluster"].bin_dir
    os.symlink(os.path.join(real, "pg_dump"), os.path.join(folder, "pg_dump")) if not os.path.exists(os.path.join(folder, "pg_dump")) else None
    path = os.path.join(folder, "pg_restore")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n%s\nexec %s \"$@\"\n" % (body, os.path.join(real, "pg_restore")))
    os.chmod(path, stat.S_IRWXU)
    return folder


def test_a_restore_set_with_one_bad_file_restores_nothing_and_names_it(rest):
    databases = [db(rest, code) for code in CODES]
    taken = backup(rest, "set1")
    assert taken.rc == 0, taken.stdout
    at_backup = state(rest, databases)
    change_everything(rest, databases, "set1")
    changed = state(rest, databases)
    assert changed != at_backup
    bad = [e for e in entries(rest, "set1") if e["code"] == "FIRMA"][0]
    flip_byte(bad["file"], bad["size"] // 2)

    refused = restore(rest, "set1")
    answer = result(refused, "Restore", rest)
    assert refused.rc != 0 and answer["failed"], refused.stdout
    assert "nothing was restored" in answer["msg"] and bad["file"] in answer["msg"] and "checksum" in answer["msg"], answer["msg"]
    assert state(rest, databases) == changed, "a database changed although the set was refused"
    assert scratch_databases(rest) == []


def test_a_server_stopped_between_two_databases_leaves_a_report_naming_the_restored_ones(rest):
    databases = [db(rest, code) for code in CODES]
    taken = backup(rest, "set2")
    assert taken.rc == 0, taken.stdout
    at_backup = state(rest, databases)
    change_everything(rest, databases, "set2")
    changed = state(rest, databases)
    counter = shlex.quote(os.path.join(rest["work"], "restores.count"))
    tools = wrapper(rest, "stopping-tools", 'if [ "$1" != "--list" ]; then echo x >> %s; '
                                            'if [ "$(wc -l < %s)" -eq 2 ]; then %s; fi; fi' % (counter, counter, stop_command(rest)))
    try:
        stopped = restore(rest, "set2", backup_pg_bin_dir=tools)
    finally:
        k2cluster.ensure_running(rest["lab"])
    answer = result(stopped, "Restore", rest)
    assert stopped.rc != 0 and answer["failed"], stopped.stdout
    first, rest_of_them = databases[0], databases[1:]
    assert answer["restored"] and [e["database"] for e in answer["restored"]] == [first]
    assert answer["not_restored"] == rest_of_them
    assert "Restored to their backup state: %s. NOT restored: %s." % (first, ", ".join(rest_of_them)) in answer["msg"], answer["msg"]
    assert "ansible-playbook erpops.upgrade.k2_restore --limit rest -e k2_restore_run_id=set2" in answer["msg"]
    assert json.dumps({"k2_restore_databases": rest_of_them}) in answer["msg"]
    now = state(rest, databases)
    assert now[first] == at_backup[first], "the database restored before the stop is at its backup state"
    assert all(now[name] == changed[name] for name in rest_of_them), "the others are untouched (the swap never happened)"
    assert any("could not be dropped" in note for note in answer["notes"]), answer["notes"]
    leftovers = scratch_databases(rest)
    assert len(leftovers) == 1, "the fresh copy the stopped restore had created is left: %s" % leftovers

    # what the report says to do next; it drops the leftover first and says so
    again = restore(rest, "set2", restore_databases=answer["not_restored"])
    assert again.rc == 0, again.stdout
    assert state(rest, databases) == at_backup
    assert scratch_databases(rest) == []
    dropped = "dropped %s, a scratch copy of %s an earlier verification or restore left behind" % (leftovers[0], rest_of_them[0])
    assert dropped in result(again, "Restore", rest)["notes"] and dropped in again.stdout, again.stdout


def stop_command(site):
    """Shell text that stops the lab cluster at once, as a lost server."""
    cluster = site["cluster"]
    argv = [os.path.join(cluster.bin_dir, "pg_ctl"), "-D", cluster.data_dir, "-m", "immediate", "stop"]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", cluster.owner, "--"] + argv
    return " ".join(shlex.quote(part) for part in argv) + " >/dev/null"


def test_a_verification_cut_off_by_a_lost_server_leaves_no_scratch_database_behind(rest):
    """The server goes away during the test restore of a backup: the next backup of that database drops the scratch copy."""
    firma = db(rest, "FIRMA")
    tools = wrapper(rest, "stopping-verify", 'if [ "$1" != "--list" ]; then %s; fi' % stop_command(rest))
    try:
        lost = backup(rest, "lost", backup_databases=["FIRMA"], backup_pg_bin_dir=tools)
    finally:
        k2cluster.ensure_running(rest["lab"])
    assert lost.rc != 0 and "test restore failed" in result(lost, "Back up", rest)["msg"], lost.stdout
    assert [e["verified"] for e in entries(rest, "lost")] == [False]
    leftovers = scratch_databases(rest)
    assert len(leftovers) == 1, leftovers

    again = backup(rest, "lost-again", backup_databases=["FIRMA"])
    assert again.rc == 0, again.stdout
    assert [e["verified"] for e in entries(rest, "lost-again")] == [True]
    assert scratch_databases(rest) == []
    assert "dropped %s, a scratch copy of %s an earlier verification or restore left behind" % (leftovers[0], firma) \
        in result(again, "Back up", rest)["notes"]


def test_single_byte_damage_anywhere_in_a_dump_is_never_recorded_verified(rest):
    first = backup(rest, "bytes-0", backup_databases=["FIRMA"])
    assert first.rc == 0, first.stdout
    size = entries(rest, "bytes-0")[0]["size"]
    # spread over header, table of contents and data; negative: from the end (each new dump's size may differ by a byte)
    positions = [0, 5, 9, 30, 60, 120, size // 8, size // 4, size // 3, size // 2, 2 * size // 3, 3 * size // 4, 7 * size // 8, -40, -1]
    control = os.path.join(rest["work"], "flip.at")
    flipper = os.path.join(rest["work"], "flip.py")
    with open(flipper, "w", encoding="utf-8") as handle:
        handle.write("import sys\nlines = open(sys.argv[1]).read().split()\nopen(sys.argv[1], 'w').write(' '.join(lines[1:]))\n"
                     "with open(sys.argv[2], 'r+b') as f:\n    f.seek(int(lines[0]), 0 if int(lines[0]) >= 0 else 2)\n"
                     "    at = f.tell(); value = f.read(1)[0]; f.seek(at); f.write(bytes([value ^ 0x5A]))\n")
    with open(control, "w", encoding="utf-8") as handle:
        handle.write(" ".join(str(p) for p in positions))
    # the first read of each new file (pg_restore --list) finds it damaged on disk, as a bad disk or share would leave it
    tools = wrapper(rest, "damaging-tools", 'if [ "$1" = "--list" ] && [ -s %s ]; then %s %s %s "$2"; fi'
                    % tuple(shlex.quote(part) for part in (control, sys.executable, flipper, control)))
    runs = ["bytes-%d" % number for number in range(1, len(positions) + 1)]
    run = run_playbook("tests/integration/playbooks/backup_damaged.yml", rest["inventory"], extravars={
        "backup_manifest": rest["manifest"], "backup_dir": rest["backups"], "backup_databases": ["FIRMA"], "backup_pg_bin_dir": tools,
        "backup_run_ids": runs})
    answers = result(run, "Back up a damaged file", rest)["results"]
    assert len(answers) == len(positions) and all(answer["failed"] for answer in answers), run.stdout
    assert open(control, encoding="utf-8").read() == "", "every position was used"
    caught = {}
    for position, run_id in zip(positions, runs):
        recorded = entries(rest, run_id)
        assert [e["verified"] for e in recorded] == [False], position
        assert not os.path.exists(recorded[0]["file"]), "a file that failed its verification is removed"
        message = recorded[0]["message"]
        kind = ("pg_restore --list" if "pg_restore --list" in message else "test restore" if "test restore failed" in message
                else "compared" if "differs from" in message else "checksum" if "SHA-256" in message else message)
        caught.setdefault(kind, []).append(position)
    print("single-byte damage of a %d-byte dump at %d positions, caught by: %s" % (size, len(positions), json.dumps(caught)))
    assert scratch_databases(rest) == []


NAMES = {"A": "K2_Účetní", "B": "K2_Ůčetní", "C": "a'b", "D": "a]b", "E": "dbname=names_CONF"}


@pytest.fixture(scope="module")
def names(lab):
    site = make_site(lab, "names", list(NAMES))
    conf = db(site, "CONF")
    for code, name in NAMES.items():
        psql(site, 'ALTER DATABASE "%s" RENAME TO "%s"' % (db(site, code), name.replace('"', '""')), "postgres")
        psql(site, 'UPDATE "FIRMY" SET "DatabaseName" = \'%s\' WHERE "Zkr" = \'%s\'' % (name.replace("'", "''"), code), conf)
        psql(site, 'SET ROLE k2; CREATE TABLE "KDO" ("JMENO" text); INSERT INTO "KDO" VALUES (\'%s\')' % name.replace("'", "''"), name)
    return site


def test_names_that_collided_and_a_name_with_an_equals_sign_are_backed_up_and_restored_each_as_itself(names):
    databases = [db(names, "CONF")] + list(NAMES.values())
    taken = backup(names, "n1", backup_exclude=["DEMO", "INIT"])
    assert taken.rc == 0, taken.stdout
    recorded = entries(names, "n1")
    assert sorted(e["database"] for e in recorded) == sorted(databases)
    assert len({e["file"] for e in recorded}) == len(databases), "one file per database"
    for entry in recorded:
        if entry["database"] in NAMES.values():
            data = k2cluster._run([os.path.join(names["cluster"].bin_dir, "pg_restore"), "--data-only", "--table", "KDO", "--file", "-",
                                   entry["file"]])
            assert "\n%s\n" % entry["database"] in data, (entry["database"], data)
    at_backup = state(names, databases)
    for name in NAMES.values():
        psql(names, 'UPDATE "KDO" SET "JMENO" = \'jiny\'; SET ROLE k2; CREATE TABLE "PO_ZALOZE" ()', name)
    restored = restore(names, "n1")
    assert restored.rc == 0, restored.stdout
    assert state(names, databases) == at_backup
    assert {name: psql(names, 'SELECT "JMENO" FROM "KDO"', name) for name in NAMES.values()} == {name: name for name in NAMES.values()}


def test_restore_then_convert_applies_the_one_time_conversions_again_exactly_once(rest):
    """A generation conversion fails half-way on a site whose journal did not exist at backup time; restore; fix; convert."""
    databases = [db(rest, code) for code in CODES]
    set_konverze(rest, ["509"], failing=["K2_D509Lab.sql"], data_table="K2LAB_DATA")
    for code in COMPANY:
        psql(rest, 'SET ROLE k2; DROP TABLE IF EXISTS "K2LAB_DATA"; CREATE TABLE "K2LAB_DATA" ("CIS" integer, "TEXT" varchar(40)); '
                   'INSERT INTO "K2LAB_DATA" VALUES (1, \'zákazník 1\'), (2, \'zákazník 2\'), (3, \'zákazník 3\')', db(rest, code))
    assert all(psql(rest, "SELECT to_regclass('\"%s\"') IS NULL" % JOURNAL, name) == "t" for name in databases)
    taken = backup(rest, "rc", backup_position="after_check")
    assert taken.rc == 0, taken.stdout
    at_backup = state(rest, databases)

    convert = {"convert_run_id": "rc", "convert_kind": "generation", "backup_manifest": rest["manifest"], "convert_target": "ori.09"}
    failed = run_playbook(CONVERT, rest["inventory"], extravars=convert)
    assert failed.rc != 0 and "K2_D509Lab.sql failed at batch" in result(failed, "Convert", rest)["msg"], failed.stdout
    assert psql(rest, 'SELECT count(*) FROM "K2LAB_DATA"', db(rest, "FIRMA")) == "0", "the failed conversion moved the data half-way"

    restored = restore(rest, "rc")
    assert restored.rc == 0, restored.stdout
    assert state(rest, databases) == at_backup, "every database is exactly at its backup state"
    assert all(psql(rest, "SELECT to_regclass('\"%s\"') IS NULL" % JOURNAL, name) == "t" for name in databases), \
        "the journal went back in time with the data: it did not exist at backup time"

    for code in COMPANY:
        psql(rest, 'SET ROLE k2; CREATE TABLE "K2LAB_OPRAVA" ("SOUBOR" varchar(260))', db(rest, code))
    again = run_playbook(CONVERT, rest["inventory"], extravars=convert)
    assert again.rc == 0, again.stdout
    for code in COMPANY:
        name = db(rest, code)
        assert markers(rest, code) == {"K2_D509Lab.sql": [2], "K2_D509LabAdditional.sql": [1]}, code
        moved = psql(rest, 'SELECT string_agg("CIS" || \':\' || "Go Sloupec]x", \',\' ORDER BY "CIS", "Go Sloupec]x") FROM "K2LAB_V509_D"', name)
        assert moved == "1:zákazník 1,2:K2_D509Lab.sql,2:zákazník 2,3:zákazník 3", (code, moved)
        assert psql(rest, 'SELECT count(*) FROM "K2LAB_DATA"', name) == "0"
        once = psql(rest, 'SELECT count(*) > 0 AND count(*) = count(DISTINCT "BATCH_INDEX") FROM "%s" '
                          'WHERE "FILE_NAME" = \'K2_D509Lab.sql\' AND "RUN_SCOPE" = \'ONCE\' AND "SUCCESS" = 1' % JOURNAL, name)
        assert once == "t", "every batch of the one-time file applied exactly once since the restore"
    assert markers(rest, "CONF") == {"K2_C509Lab.sql": [2], "K2_C509LabAdditional.sql": [1]}
