# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup: manifest, freshness, gate, selection, space, and the SQL per dialect (sqlglot)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from ansible_collections.erpops.upgrade.plugins.module_utils import backup

NOW = datetime(2025, 3, 5, 17, 0, tzinfo=timezone.utc)
MANDANTS = [
    {"code": "DEMO", "database": "K2_DEMO", "role": "system"},
    {"code": "INIT", "database": "K2_INIT", "role": "system"},
    {"code": "FIRMA", "database": "K2_FIRMA", "role": "production"},
    {"code": "FIRMA_TEST", "database": "K2_FIRMA_TEST", "role": "test"},
]


def entry(database="K2_FIRMA", position="before_check", run_id="r1", age_minutes=10, verified=True):
    item = backup.new_entry(database, "FIRMA", "lab", "/b/%s.dump" % database, position, run_id, NOW - timedelta(minutes=age_minutes))
    item["verified"] = verified
    return item


def manifest(*entries):
    data = backup.empty_manifest()
    data["entries"].extend(entries)
    return data


def test_manifest_round_trip_and_refusals():
    data = manifest(entry())
    assert backup.load_manifest(backup.dump_manifest(data)) == data
    assert backup.load_manifest(None) == backup.empty_manifest() == backup.load_manifest("  ")
    with pytest.raises(backup.BackupError, match="not valid JSON"):
        backup.load_manifest("{")
    with pytest.raises(backup.BackupError, match="format 1"):
        backup.load_manifest(json.dumps({"entries": []}))
    with pytest.raises(ValueError, match="position"):
        backup.new_entry("x", "X", "lab", "f", "whenever", None, NOW)


def test_freshness_position_run_and_age():
    fresh = entry()
    assert backup.fresh_backup(manifest(fresh), "K2_FIRMA", "before_check", 3600, NOW, "r1") == fresh
    assert backup.fresh_backup(manifest(fresh), "K2_FIRMA", "before_check", 300, NOW, "r1") is None, "too old"
    assert backup.fresh_backup(manifest(fresh), "K2_FIRMA", "before_check", None, NOW) is None, "no max_age: never reused"
    assert backup.fresh_backup(manifest(fresh), "K2_FIRMA", "after_check", 3600, NOW) is None, "before_check does not satisfy after_check"
    after = entry(position="after_check")
    assert backup.fresh_backup(manifest(after), "K2_FIRMA", "before_check", 3600, NOW) == after
    assert backup.fresh_backup(manifest(fresh), "K2_FIRMA", "before_check", 3600, NOW, "r2") is None, "another run"
    assert backup.fresh_backup(manifest(entry(verified=False)), "K2_FIRMA", "before_check", 3600, NOW) is None
    newest = entry(age_minutes=1)
    assert backup.fresh_backup(manifest(fresh, newest), "K2_FIRMA", "before_check", 3600, NOW) == newest


def test_gate_needs_after_check_of_the_same_run_and_verified():
    assert backup.gate_backup(manifest(entry(position="after_check")), "K2_FIRMA", "r1") is not None
    assert backup.gate_backup(manifest(entry()), "K2_FIRMA", "r1") is None
    assert backup.gate_backup(manifest(entry(position="after_check", run_id="r0")), "K2_FIRMA", "r1") is None
    assert backup.gate_backup(manifest(entry(position="after_check", verified=False)), "K2_FIRMA", "r1") is None
    assert backup.gate_backup(manifest(entry(position="after_check")), "K2_CONF", "r1") is None


def test_restore_choice_newest_verified_per_database():
    old, new, failed = entry(age_minutes=60), entry(age_minutes=5, run_id="r2"), entry(age_minutes=1, verified=False)
    conf = entry("K2_CONF")
    data = manifest(old, conf, new, failed)
    assert backup.restore_choice(data) == [new, conf]
    assert backup.restore_choice(data, ["K2_FIRMA"], run_id="r1") == [old]
    with pytest.raises(backup.BackupError, match="no verified backup of K2_CONF in run r2"):
        backup.restore_choice(data, ["K2_CONF"], run_id="r2")


def test_select_databases_conf_and_production_unless_named():
    assert [d["code"] for d in backup.select_databases("K2_CONF", MANDANTS)] == ["CONF", "FIRMA"]
    assert [d["code"] for d in backup.select_databases("K2_CONF", MANDANTS, ["firma_test", "K2_DEMO"])] == ["FIRMA_TEST", "DEMO"]
    with pytest.raises(backup.BackupError, match="NOPE"):
        backup.select_databases("K2_CONF", MANDANTS, ["NOPE"])


def test_space_and_names():
    assert backup.space_needed({"a": 1000, "b": 3000}, 1.5) == 6000
    with pytest.raises(ValueError):
        backup.space_needed({"a": 1}, 0.5)
    assert backup.check_space(6000, 6000, "/b") is None and backup.check_space(6000, None, "/b") is None
    assert "not enough free space in /b" in backup.check_space(6000, 5000, "/b")
    assert backup.backup_file_name("K2 FIRMA/x", "mssql", NOW, "run 1") == "K2_FIRMA_x_20250305T170000Z_run_1.bak"
    assert backup.join_target("E:\\Backup\\", "a.bak") == "E:\\Backup\\a.bak"
    assert backup.join_target("/srv/b", "a.dump") == "/srv/b/a.dump"
    rows = [{"drive": "C", "MB free": 100}, {"drive": "E", "MB free": 2048}]
    assert backup.mssql_free_bytes(rows, "e:\\Backup") == 2048 * 1024 * 1024
    assert backup.mssql_free_bytes(rows, "\\\\nas\\k2") is None


def tsql_tokens(sql):
    return [(token.token_type.name, token.text) for token in sqlglot.tokenize(sql, read="tsql")]


def test_mssql_backup_verify_restore_texts_quote_names_and_paths():
    name, path = "K2 ]FIRMA", "E:\\Backup\\it's.bak"
    tokens = tsql_tokens(backup.mssql_backup_sql(name, path, True))
    assert ("IDENTIFIER", name) in tokens and ("NATIONAL_STRING", path) in tokens
    words = [text.upper() for _kind, text in tokens]
    assert words[:2] == ["BACKUP", "DATABASE"] and {"COPY_ONLY", "CHECKSUM", "COMPRESSION"} <= set(words)
    assert "COMPRESSION" not in [t.upper() for _k, t in tsql_tokens(backup.mssql_backup_sql(name, path, False))]
    verify = tsql_tokens(backup.mssql_verify_sql(path))
    assert [t for _k, t in verify][:3] == ["RESTORE", "VERIFYONLY", "FROM"] and ("NATIONAL_STRING", path) in verify
    restore = tsql_tokens(backup.mssql_restore_sql(name, path))
    assert ("IDENTIFIER", name) in restore and "REPLACE" in [t for _k, t in restore]
    assert ("NATIONAL_STRING", "E:\\x") in tsql_tokens(backup.mssql_mkdir_sql("E:\\x"))


@pytest.mark.parametrize("sql,dialect", [
    (backup.MSSQL_SIZE_SQL, "tsql"), (backup.MSSQL_BACKUP_SIZE_SQL, "tsql"), (backup.MSSQL_CONNECTED_SQL, "tsql"),
    (backup.MSSQL_EDITION_SQL, "tsql"), (backup.ORACLE_SIZE_SQL, "oracle"), (backup.ORACLE_DIRECTORY_SQL, "oracle"),
    (backup.ORACLE_CONNECTED_SQL, "oracle"), (backup.LAB_SIZE_SQL, "postgres"), (backup.LAB_CONNECTED_SQL, "postgres"),
])
def test_queries_parse(sql, dialect):
    assert sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE) is not None


@pytest.mark.parametrize("build,operation", [(backup.oracle_export, "'EXPORT'"), (backup.oracle_verify, "'SQL_FILE'"),
                                             (backup.oracle_import, "'IMPORT'")])
def test_oracle_datapump_blocks_bind_every_name(build, operation):
    sql, binds = build("K2_FIRMA", "DP_DIR", "K2_FIRMA_x.dmp", "ERPOPS_EXP_1")
    tokens = sqlglot.tokenize(sql, read="oracle")
    assert tokens[0].text == "DECLARE" and tokens[-2].text == "END" and tokens[-1].text == ";"
    assert operation in sql and "job_mode => 'SCHEMA'" in sql
    placeholders = {token.text for previous, token in zip(tokens, tokens[1:]) if previous.text == ":"}
    assert placeholders == set(binds)
    assert binds["schema_expr"] == "IN ('K2_FIRMA')" and binds["directory"] == "DP_DIR"
    if build is backup.oracle_import:
        assert "'TABLE_EXISTS_ACTION', value => 'REPLACE'" in sql
    assert backup.oracle_export("O'HARA", "D", "f.dmp", "J")[1]["schema_expr"] == "IN ('O''HARA')"


def test_lab_commands_keep_the_password_out_of_argv():
    params = {"login_host": "/run/pg", "login_port": 5433, "login_user": "k2", "login_password": "s3cret", "connect_timeout": 7}
    dump = backup.lab_dump_argv("/bin/pg_dump", params, "K2_FIRMA", "/b/f.dump")
    restore = backup.lab_restore_argv("/bin/pg_restore", params, "K2_FIRMA", "/b/f.dump")
    assert dump[:4] == ["/bin/pg_dump", "--format=custom", "--file", "/b/f.dump"]
    assert "--no-password" in dump and "s3cret" not in " ".join(dump + restore)
    assert restore[-1] == "/b/f.dump" and "--single-transaction" in restore and "--clean" in restore
    assert dump[dump.index("--username") + 1] == "k2" and dump[dump.index("--dbname") + 1] == "K2_FIRMA"
    assert backup.lab_verify_argv("/bin/pg_restore", "/b/f.dump") == ["/bin/pg_restore", "--list", "/b/f.dump"]
    env = backup.lab_env(params, {"PATH": "/bin", "PGPASSWORD": "old", "PGSERVICE": "x"})
    assert env == {"PATH": "/bin", "PGPASSWORD": "s3cret", "PGCONNECT_TIMEOUT": "7", "PGSSLMODE": "disable"}
    assert backup.lab_env({"login_host": "db"}, {})["PGSSLMODE"] == "verify-full"
