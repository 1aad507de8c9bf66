# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_backup's module code for MS SQL and Oracle against stand-in servers that record every statement.

The lab engine runs against the real PostgreSQL in tests/integration (test_backup_convert,
test_backup_restore); SQL Server and Oracle are not available here, so what the module sends
them, and in which order, is the thing under test: the verification levels, the file checks
before reuse and before any restore, and the report of a restore that stopped part-way.
"""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.erpops.upgrade.plugins.module_utils import backup
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.modules import k2_backup

MANDANTS = [{"code": "DEMO", "name": "Demo", "dbname": "K2_DEMO"}, {"code": "FIRMA", "name": "Firma", "dbname": "K2 ]FIRMA"},
            {"code": "INIT", "name": "Init", "dbname": "K2_INIT"}]


class Server:
    """One database server: the statements it received, in order, and the faults to raise."""

    def __init__(self, fail_on=(), sessions=0, scratch=()):
        self.executed = []
        self.fail_on = list(fail_on)
        self.sessions = sessions
        self.scratch = list(scratch)

    def connect(self, _params, database):
        return Connection(self, database)


class Connection:
    def __init__(self, server, database):
        self.server = server
        self.database = database

    def query(self, sql, params=()):
        if "FIRMY" in sql:
            return [dict(row) for row in MANDANTS]
        if "K2VERZE" in sql:
            return [{"version": "gaia.12.3"}]
        if "sys.master_files" in sql or "dba_segments" in sql:
            return [{"bytes": 8 * 1024 * 1024}]
        if "dm_exec_sessions" in sql or "gv$session" in sql:
            return [{"sessions": self.server.sessions}]
        if "EngineEdition" in sql:
            return [{"edition": 3}]
        if "xp_fixeddrives" in sql:
            return [{"drive": "E", "MB free": 100000}]
        if "msdb.dbo.backupset" in sql:
            return [{"bytes": 4096, "checksums": 1}]
        if "FILELISTONLY" in sql:
            self.server.executed.append(sql)
            return [{"LogicalName": "K2_FIRMA", "PhysicalName": "D:\\Data\\K2_FIRMA.mdf"},
                    {"LogicalName": "K2_FIRMA_log", "PhysicalName": "L:\\Log\\K2_FIRMA_log.ldf"}]
        if "all_directories" in sql:
            return [{"directory_path": "/u01/dp"}]
        if sql == backup.SCRATCH_LIST_SQL["mssql"] or sql == backup.SCRATCH_LIST_SQL["oracle"]:
            return [{"name": name} for name in self.server.scratch]
        raise AssertionError("unexpected query: %s" % sql)

    def execute(self, sql, params=()):
        self.server.executed.append(sql if not params else (sql, params))
        for needle in list(self.server.fail_on):
            if needle in sql or (isinstance(params, dict) and needle in json.dumps(params)):
                self.server.fail_on.remove(needle)
                raise k2db.DatabaseError(k2db.SQL_FAILED, "stand-in server: %s" % needle)
        return -1

    def close(self):
        pass


def run_module(monkeypatch, capsys, server, platform="mssql", check=False, **args):
    monkeypatch.setattr(k2_backup.k2db, "connect", server.connect)
    base = dict(conf_database="K2_CONF", db_platform=platform, login_host="sql01", login_user="k2", login_password="pw",
                oracle_service_name="K2", _ansible_check_mode=check)
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            k2_backup.main()
    return json.loads(capsys.readouterr().out)


def statements(server, prefix):
    return [s for s in server.executed if isinstance(s, str) and s.startswith(prefix)]


def test_mssql_backs_up_every_converted_database_and_test_restores_it_under_another_name(tmp_path, monkeypatch, capsys):
    server = Server()
    manifest = str(tmp_path / "m.json")
    result = run_module(monkeypatch, capsys, server, manifest=manifest, target_dir="E:\\Backup", run_id="r1", verify_level="test_restore",
                        exclude=["INIT"])
    assert not result.get("failed"), result
    assert [b["code"] for b in result["backups"]] == ["CONF", "DEMO", "FIRMA"]
    assert [(d["code"], d["database"]) for d in result["excluded"]] == [("INIT", "K2_INIT")]
    with open(manifest, encoding="utf-8") as handle:
        entries = json.load(handle)["entries"]
    # backups run in parallel; the manifest keeps them in the planned order
    assert [(e["database"], e["verified"], e["verification"]) for e in entries] == [
        ("K2_CONF", True, "mssql-test-restore"), ("K2_DEMO", True, "mssql-test-restore"), ("K2 ]FIRMA", True, "mssql-test-restore")]
    firma = entries[2]["file"]
    assert firma.startswith("E:\\Backup\\K2_FIRMA_") and "_before_r1.bak" in firma
    sent = [s for s in server.executed if "K2 ]]FIRMA" in s or firma in s or "ERPOPS_VERIFY_%s" % backup.name_hash("K2 ]FIRMA") in s]
    kinds = [" ".join(s.split()[:2]) for s in sent]
    assert kinds == ["BACKUP DATABASE", "RESTORE VERIFYONLY", "RESTORE FILELISTONLY", "RESTORE DATABASE", "DBCC CHECKDB", "DROP DATABASE"]
    restore_as = sent[3]
    assert restore_as.startswith("RESTORE DATABASE [ERPOPS_VERIFY_") and "WITH MOVE N'K2_FIRMA' TO N'D:\\Data\\ERPOPS_VERIFY_" in restore_as
    assert "[K2 ]]FIRMA]" not in restore_as, "the test restore never overwrites the database itself"
    assert sent[4].split("(")[1].split(")")[0] == sent[5].split(" ", 2)[2], "CHECKDB runs on the test copy that is dropped"


def test_mssql_reuse_checks_the_file_again_and_a_failed_check_takes_a_new_backup(tmp_path, monkeypatch, capsys):
    manifest = str(tmp_path / "m.json")
    args = dict(manifest=manifest, target_dir="E:\\Backup", run_id="r1", max_age=60, databases=["FIRMA"])
    first = run_module(monkeypatch, capsys, Server(), **args)
    assert first["changed"]
    checked = Server()
    again = run_module(monkeypatch, capsys, checked, **args)
    assert again["changed"] is False and again["backups"][0]["reused"]
    assert statements(checked, "RESTORE VERIFYONLY") and not statements(checked, "BACKUP")
    damaged = Server(fail_on=["RESTORE VERIFYONLY"])
    retaken = run_module(monkeypatch, capsys, damaged, **args)
    assert retaken["changed"] and not retaken["backups"][0]["reused"] and len(statements(damaged, "BACKUP DATABASE")) == 1
    assert any("is not reused" in note for note in retaken["notes"])


def test_mssql_restore_checks_every_file_first_and_one_bad_file_restores_nothing(tmp_path, monkeypatch, capsys):
    manifest = str(tmp_path / "m.json")
    run_module(monkeypatch, capsys, Server(), manifest=manifest, target_dir="E:\\Backup", run_id="r1")
    with open(manifest, encoding="utf-8") as handle:
        files = [e["file"] for e in json.load(handle)["entries"]]
    bad = Server(fail_on=[files[2].split("\\")[-1]])
    refused = run_module(monkeypatch, capsys, bad, manifest=manifest, state="restored", run_id="r1")
    assert refused["failed"] and "nothing was restored" in refused["msg"] and files[2] in refused["msg"]
    assert statements(bad, "RESTORE DATABASE") == [] and len(statements(bad, "RESTORE VERIFYONLY")) == 4

    busy = Server(sessions=1)
    refused = run_module(monkeypatch, capsys, busy, manifest=manifest, state="restored")
    assert refused["failed"] and "users are connected" in refused["msg"] and statements(busy, "RESTORE") == []

    gone = Server(fail_on=["RESTORE DATABASE [K2_DEMO]"])
    partial = run_module(monkeypatch, capsys, gone, manifest=manifest, state="restored", run_id="r1")
    assert partial["failed"] and partial["restored_databases"] == ["K2_CONF"]
    assert partial["not_restored"] == ["K2_DEMO", "K2 ]FIRMA", "K2_INIT"]
    assert "Restored to their backup state: K2_CONF. NOT restored: K2_DEMO, K2 ]FIRMA, K2_INIT." in partial["msg"]
    assert "k2_restore_run_id=r1" in partial["msg"] and '"k2_restore_databases": ["K2_DEMO", "K2 ]FIRMA", "K2_INIT"]' in partial["msg"]
    restores = statements(gone, "RESTORE DATABASE")
    assert [s.split(" FROM")[0] for s in restores] == ["RESTORE DATABASE [K2_CONF]", "RESTORE DATABASE [K2_DEMO]"]
    assert all("WITH REPLACE" in s for s in restores)


def test_oracle_restore_empties_the_schema_then_imports_and_verification_levels(tmp_path, monkeypatch, capsys):
    manifest = str(tmp_path / "m.json")
    server = Server()
    taken = run_module(monkeypatch, capsys, server, platform="oracle", manifest=manifest, oracle_directory="DP_DIR", databases=["FIRMA"],
                       verify_level="test_restore")
    assert not taken.get("failed"), taken
    with open(manifest, encoding="utf-8") as handle:
        entry = json.load(handle)["entries"][0]
    assert entry["verification"] == "oracle-test-import" and entry["file"].startswith("DP_DIR:")
    jobs = [(params.get("job_name", "")[:10], params.get("new_schema")) for sql, params in
            (s for s in server.executed if isinstance(s, tuple))]
    assert [name for name, _schema in jobs] == ["ERPOPS_EXP", "ERPOPS_VFY", "ERPOPS_TST"]
    scratch = jobs[2][1]
    assert scratch.startswith("ERPOPS_VERIFY_") and statements(server, "DROP USER") == ['DROP USER "%s" CASCADE' % scratch]

    restoring = Server()
    done = run_module(monkeypatch, capsys, restoring, platform="oracle", manifest=manifest, oracle_directory="DP_DIR", state="restored")
    assert done["changed"] and [e["database"] for e in done["restored"]] == ["K2 ]FIRMA"]
    sent = [(sql.split()[0], params.get("owner") or params.get("job_name", "")[:10]) for sql, params in
            (s for s in restoring.executed if isinstance(s, tuple))]
    assert sent == [("DECLARE", "ERPOPS_VFY"), ("DECLARE", "K2 ]FIRMA"), ("DECLARE", "ERPOPS_IMP")], \
        "the file read whole, the schema emptied, the import"


def test_check_mode_changes_nothing(tmp_path, monkeypatch, capsys):
    server = Server()
    manifest = str(tmp_path / "m.json")
    planned = run_module(monkeypatch, capsys, server, check=True, manifest=manifest, target_dir="E:\\Backup")
    assert planned["changed"] and all(b["would_take"] for b in planned["backups"]) and len(planned["backups"]) == 4
    assert server.executed == [] and not (tmp_path / "m.json").exists()


def test_named_databases_of_another_product_are_backed_up_without_reading_firmy(tmp_path, monkeypatch, capsys):
    class NoK2(Server):
        def connect(self, _params, database):
            connection = Connection(self, database)
            query = connection.query

            def guarded(sql, params=()):
                assert "FIRMY" not in sql and "K2VERZE" not in sql, sql
                return query(sql, params)
            connection.query = guarded
            return connection

    manifest = str(tmp_path / "m.json")
    args = dict(manifest=manifest, target_dir="E:\\Backup", read_firmy=False, conf_database=None)
    refused = run_module(monkeypatch, capsys, NoK2(), **args)
    assert refused["failed"] and "name the databases" in refused["msg"] and not os.path.exists(manifest)
    taken = run_module(monkeypatch, capsys, NoK2(), databases=["CDN_Firma", "CDN_KNF_Konfiguracja", "CDN_Firma"], **args)
    assert not taken.get("failed"), taken
    assert [(b["database"], b["code"], b["verified"], b["k2_version"]) for b in taken["backups"]] == [
        ("CDN_Firma", "CDN_Firma", True, None), ("CDN_KNF_Konfiguracja", "CDN_KNF_Konfiguracja", True, None)]
    missing_conf = run_module(monkeypatch, capsys, NoK2(), manifest=manifest, target_dir="E:\\Backup", conf_database=None)
    assert missing_conf["failed"] and "conf_database" in missing_conf["msg"]


@pytest.mark.parametrize("platform, drop", [("mssql", "DROP DATABASE [%s]"), ("oracle", 'DROP USER "%s" CASCADE')])
def test_scratch_copies_a_lost_server_left_are_dropped_before_the_next_backup_and_said(tmp_path, monkeypatch, capsys, platform, drop):
    firma = "K2 ]FIRMA"
    upper = (lambda name: name.upper()) if platform == "oracle" else (lambda name: name)
    left = upper(backup.scratch_name(firma, "0a1b2c3d"))
    replaced = upper(backup.scratch_name(firma, "o1a2b3c4d"))
    other = upper(backup.scratch_name("K2_DEMO", "0a1b2c3d"))
    server = Server(scratch=[left, replaced, other])
    result = run_module(monkeypatch, capsys, server, platform=platform, manifest=str(tmp_path / "m.json"), target_dir="E:\\Backup",
                        oracle_directory="DP", run_id="r1", databases=["FIRMA"])
    assert not result.get("failed"), result
    drops = statements(server, "DROP")
    assert drops == [drop % left], "only the leftover of the database backed up"
    assert "dropped %s, a scratch copy of %s an earlier verification or restore left behind" % (left, firma) in result["notes"]
    assert any(note.startswith("%s holds %s as it was before an earlier restore" % (replaced, firma)) for note in result["notes"])
    first_backup = next(i for i, s in enumerate(server.executed) if "BACKUP DATABASE" in str(s) or "DBMS_DATAPUMP" in str(s))
    assert server.executed.index(drops[0]) < first_backup, "dropped before the backup"
