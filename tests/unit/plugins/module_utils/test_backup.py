# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup: manifest, freshness, gate, selection, space, and the SQL per dialect (sqlglot)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlglot
from hypothesis import given
from hypothesis import strategies as st
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
    assert backup.restore_choice(data, run_id="r2") == [new], "a run's set is the databases that run backed up"


def test_select_databases_every_converted_database_unless_named_or_excluded():
    assert [d["code"] for d in backup.select_databases("K2_CONF", MANDANTS)] == ["CONF", "DEMO", "INIT", "FIRMA", "FIRMA_TEST"]
    assert [d["code"] for d in backup.select_databases("K2_CONF", MANDANTS, roles=("conf", "production"))] == ["CONF", "FIRMA"]
    assert [d["code"] for d in backup.select_databases("K2_CONF", MANDANTS, exclude=["demo", "K2_INIT"])] == ["CONF", "FIRMA", "FIRMA_TEST"]
    assert [d["code"] for d in backup.excluded_databases("K2_CONF", MANDANTS, ["INIT"])] == ["INIT"]
    with pytest.raises(backup.BackupError, match="NOPE"):
        backup.select_databases("K2_CONF", MANDANTS, exclude=["NOPE"])
    exact = [{"code": "A", "database": "K2_Účetní", "role": "production"}, {"code": "B", "database": "K2_ÚČETNÍ", "role": "production"}]
    assert [d["code"] for d in backup.select_databases("K2_CONF", exact, ["K2_ÚČETNÍ"])] == ["B"], "an exact name wins over a case-insensitive one"
    assert [d["code"] for d in backup.select_databases("K2_CONF", MANDANTS, ["firma_test", "K2_DEMO"])] == ["FIRMA_TEST", "DEMO"]
    with pytest.raises(backup.BackupError, match="NOPE"):
        backup.select_databases("K2_CONF", MANDANTS, ["NOPE"])


def test_space_and_names():
    assert backup.space_needed({"a": 1000, "b": 3000}, 1.5) == 6000
    with pytest.raises(ValueError):
        backup.space_needed({"a": 1}, 0.5)
    assert backup.check_space(6000, 6000, "/b") is None and backup.check_space(6000, None, "/b") is None
    assert "not enough free space in /b" in backup.check_space(6000, 5000, "/b")
    assert backup.backup_file_name("K2 FIRMA/x", "mssql", NOW, "run 1", "after_check") == \
        "K2_FIRMA_x_%s_20250305T170000000Z_after_run_1.bak" % backup.name_hash("K2 FIRMA/x")
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
        assert "TABLE_EXISTS_ACTION" not in sql, "the schema is emptied first: nothing is replaced, nothing created later survives"
        assert "name => 'EXCLUDE_PATH_EXPR', value => 'IN (''USER'')'" in sql
    assert backup.oracle_export("O'HARA", "D", "f.dmp", "J")[1]["schema_expr"] == "IN ('O''HARA')"


def test_lab_commands_keep_the_password_out_of_argv_and_give_the_database_as_a_name():
    params = {"login_host": "/run/pg", "login_port": 5433, "login_user": "k2", "login_password": "s3cret", "connect_timeout": 7}
    dump = backup.lab_dump_argv("/bin/pg_dump", params, "K2_FIRMA", "/b/f.dump", snapshot="00000003-0000000A-1")
    restore = backup.lab_restore_argv("/bin/pg_restore", params, "ERPOPS_VERIFY_x", "/b/f.dump")
    assert dump[:4] == ["/bin/pg_dump", "--format=custom", "--file", "/b/f.dump"]
    assert dump[dump.index("--snapshot") + 1] == "00000003-0000000A-1"
    assert "--no-password" in dump and "s3cret" not in " ".join(dump + restore)
    assert restore[-1] == "/b/f.dump" and "--single-transaction" in restore and "--exit-on-error" in restore
    assert "--clean" not in restore and "--no-owner" not in restore, "into a fresh database, owners as dumped"
    assert dump[dump.index("--dbname") + 1] == "host='/run/pg' port='5433' dbname='K2_FIRMA' user='k2'"
    assert backup.lab_verify_argv("/bin/pg_restore", "/b/f.dump") == ["/bin/pg_restore", "--list", "/b/f.dump"]
    env = backup.lab_env(params, {"PATH": "/bin", "PGPASSWORD": "old", "PGSERVICE": "x", "PGDATABASE": "other"})
    assert env == {"PATH": "/bin", "PGPASSWORD": "s3cret", "PGCONNECT_TIMEOUT": "7", "PGSSLMODE": "disable"}
    assert backup.lab_env({"login_host": "db"}, {})["PGSSLMODE"] == "verify-full"


def libpq_conninfo(text):
    """The keyword/value pairs libpq reads from a connection string (its documented quoting: '...' with \\ escapes)."""
    pairs, position = {}, 0
    while position < len(text):
        while position < len(text) and text[position] == " ":
            position += 1
        key_end = text.index("=", position)
        key, position = text[position:key_end].strip(), key_end + 1
        value = ""
        if text[position] == "'":
            position += 1
            while text[position] != "'":
                if text[position] == "\\":
                    position += 1
                value += text[position]
                position += 1
            position += 1
        else:
            while position < len(text) and text[position] != " ":
                value += text[position]
                position += 1
        pairs[key] = value
    return pairs


@pytest.mark.parametrize("name", ["dbname=K2_CONF", "a'b", "a]b", "K2_Účetní", "back\\slash 'quoted' = x", "host=evil port=1"])
def test_lab_conninfo_carries_any_database_name_as_a_name(name):
    parsed = libpq_conninfo(backup.lab_conninfo({"login_host": "/run/pg", "login_port": 5433, "login_user": "k2"}, name))
    assert parsed == {"host": "/run/pg", "port": "5433", "dbname": name, "user": "k2"}


@pytest.mark.parametrize("one,other", [("K2_Účetní", "K2_Ůčetní"), ("a'b", "a]b"), ("K2 FIRMA", "K2_FIRMA"), ("x", "X")])
def test_file_names_differ_for_names_that_differ(one, other):
    assert backup.backup_file_name(one, "lab", NOW, "r1") != backup.backup_file_name(other, "lab", NOW, "r1")


@given(st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t), st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t))
def test_file_names_are_unique_per_exact_name_and_file_name_safe(one, other):
    first, second = backup.backup_file_name(one, "mssql", NOW, "r 1"), backup.backup_file_name(other, "mssql", NOW, "r 1")
    assert (first == second) == (one == other)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", first) and len(first) < 120


def test_the_manifest_refuses_a_second_claim_on_a_file():
    data = manifest(entry())
    with pytest.raises(backup.BackupError, match="already has a backup in /b/K2_FIRMA.dump"):
        backup.add_entry(data, entry("K2_OTHER") | {"file": "/b/K2_FIRMA.dump"})
    windows = manifest(backup.new_entry("K2_A", "A", "mssql", "E:\\B\\a.bak", "before_check", "r1", NOW))
    with pytest.raises(backup.BackupError, match="same file"):
        backup.add_entry(windows, backup.new_entry("K2_B", "B", "mssql", "e:\\b\\A.BAK", "before_check", "r1", NOW))
    backup.add_entry(data, entry("K2_OTHER") | {"file": "/b/other.dump"})
    assert [e["database"] for e in data["entries"]] == ["K2_FIRMA", "K2_OTHER"]


def test_fingerprints_compare_tables_columns_rows_and_checksums():
    tables = [{"schema_name": "public", "table_name": "A", "columns": "x integer"}, {"schema_name": "public", "table_name": "B", "columns": "y text"}]
    source = backup.fingerprint_from_rows(tables, {"public.A": {"row_count": 2, "checksum": "c1"}, "public.B": {"row_count": 0, "checksum": "e"}})
    assert backup.compare_fingerprints(source, dict(source)) == []
    damaged = json.loads(json.dumps(source))
    damaged["public.A"]["checksum"] = "c2"
    damaged["public.C"] = damaged.pop("public.B")
    assert backup.compare_fingerprints(source, damaged) == [
        "table public.B is missing from the restored copy", "table public.C is in the restored copy but not in the source",
        "table public.A: checksum differ (source c1, restored c2)"]
    sql = backup.lab_table_fingerprint_sql("public", 'we"ird')
    assert sqlglot.parse_one(sql, read="postgres") is not None and 'FROM "public"."we""ird" AS r' in sql


def test_lab_restore_swap_and_scratch_texts():
    assert backup.lab_create_sql("ERPOPS_VERIFY_1") == 'CREATE DATABASE "ERPOPS_VERIFY_1" TEMPLATE template0'
    like = backup.lab_create_sql("new", {"encoding": "UTF8", "collate": "C.UTF-8", "ctype": "C.UTF-8", "owner": "k2"})
    assert like == "CREATE DATABASE \"new\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' OWNER \"k2\""
    assert backup.lab_swap_sql('a"b', "fresh", "old") == ['ALTER DATABASE "a""b" RENAME TO "old"', 'ALTER DATABASE "fresh" RENAME TO "a""b"']
    assert backup.lab_swap_sql("gone", "fresh", None) == ['ALTER DATABASE "fresh" RENAME TO "gone"']
    for sql in (backup.LAB_TABLES_SQL, backup.LAB_DATABASE_PROPERTIES_SQL.replace("?", "'x'")):
        assert sqlglot.parse_one(sql, read="postgres", error_level=ErrorLevel.RAISE) is not None
    assert [t.text for t in sqlglot.tokenize(backup.lab_drop_sql('a"b'), read="postgres")] == [
        "DROP", "DATABASE", "IF", "EXISTS", 'a"b', "WITH", "(", "FORCE", ")"]
    scratch = backup.scratch_name("K2_Účetní" * 10, "r1234567")
    assert scratch.startswith("ERPOPS_VERIFY_%s_r" % backup.name_hash("K2_Účetní" * 10)) and len(scratch) <= 63


def test_mssql_test_restore_texts():
    filelist = tsql_tokens(backup.mssql_filelist_sql("E:\\it's.bak"))
    assert [t for _k, t in filelist][:3] == ["RESTORE", "FILELISTONLY", "FROM"] and ("NATIONAL_STRING", "E:\\it's.bak") in filelist
    checkdb = [t for _k, t in tsql_tokens(backup.mssql_checkdb_sql("a]b"))]
    assert checkdb == ["DBCC", "CHECKDB", "(", "a]b", ")", "WITH", "NO_INFOMSGS", ",", "ALL_ERRORMSGS"]
    restore = [t for _k, t in tsql_tokens(backup.mssql_restore_sql("K2", "E:\\k.bak"))]
    assert restore[-5:] == ["REPLACE", ",", "CHECKSUM", ",", "RECOVERY"]


def test_oracle_empty_schema_drops_only_the_schema_objects_by_quoted_name():
    sql = backup.ORACLE_EMPTY_SCHEMA_SQL
    tokens = sqlglot.tokenize(sql, read="oracle")
    assert [t.text for t in tokens[:1]] == ["DECLARE"] and [t.text for t in tokens[-2:]] == ["END", ";"]
    placeholders = {token.text for previous, token in zip(tokens, tokens[1:]) if previous.text == ":"}
    assert placeholders == {"owner"}, "the schema is a bind, never SQL text"
    assert sql.count("DBMS_ASSERT.ENQUOTE_NAME(") == 2 and "WHERE owner = :owner" in sql
    assert "CASCADE CONSTRAINTS PURGE" in sql and "RAISE_APPLICATION_ERROR(-20002" in sql
    words = [t.text.upper() for t in tokens]
    assert words.count("BEGIN") == 2 and words.count("EXCEPTION") == 1, "one block, one guarded drop per object"
    loop = sqlglot.parse_one(sql[sql.index("(SELECT") + 1:sql.index(") LOOP")], read="oracle", error_level=ErrorLevel.RAISE)
    assert loop is not None


def test_restore_advice_names_the_exact_command():
    text = backup.partial_restore_message("K2_B", "server gone", ["K2_A"], ["K2_B", "it's"], "r1", "site01")
    assert text.startswith("restore stopped at K2_B: server gone. Restored to their backup state: K2_A. NOT restored: K2_B, it's.")
    assert "ansible-playbook erpops.upgrade.k2_restore --limit site01 -e k2_restore_run_id=r1 -e '{\"k2_restore_databases\": [\"K2_B\", \"it'\\''s\"]}'" in text
    assert backup.partial_restore_message("K2_A", "x", [], ["K2_A"], None).count("Restored to their backup state: none") == 1


def test_leftover_scratch_copies_are_those_of_the_database_and_a_swapped_out_one_is_kept():
    mine = [backup.scratch_name("K2_FIRMA", token) for token in ("0a1b2c3d", "r1234abcd", "o1234abcd")]
    theirs = backup.scratch_name("K2_FIRMA2", "0a1b2c3d")
    drop, keep = backup.leftover_scratch(mine + [theirs, "K2_FIRMA", "ERPOPS_VERIFY_x"], "K2_FIRMA")
    assert drop == sorted(mine[:2]) and keep == [mine[2]]
    oracle = [backup.scratch_name("K2FIRMA", "0a1b2c3d", 128).upper(), backup.scratch_name("K2FIRMA", "o1234abcd").upper()]
    assert backup.leftover_scratch(oracle, "K2FIRMA") == ([oracle[0]], [oracle[1]]), "Oracle keeps its schema names upper case"
    assert backup.leftover_scratch([], "K2_FIRMA") == ([], [])


def like_regex(pattern, escape=None):
    """A LIKE pattern as a regular expression: % and _ wildcards, ``escape`` + char literal, T-SQL's [x] a literal x."""
    out, chars = [], iter(pattern)
    for char in chars:
        if escape and char == escape:
            out.append(re.escape(next(chars)))
        elif char == "[":
            out.append(re.escape(next(chars)))
            assert next(chars) == "]"
        else:
            out.append({"%": ".*", "_": "."}.get(char, re.escape(char)))
    return re.compile("".join(out) + r"\Z", re.S)


@pytest.mark.parametrize("platform, dialect", [("lab", "postgres"), ("mssql", "tsql"), ("oracle", "oracle")])
def test_scratch_list_sql_finds_only_scratch_names_by_a_literal_prefix(platform, dialect):
    parsed = sqlglot.parse_one(backup.SCRATCH_LIST_SQL[platform], read=dialect, error_level=ErrorLevel.RAISE)
    like = parsed.find(sqlglot.exp.Like)
    escape = parsed.find(sqlglot.exp.Escape)
    # PostgreSQL's LIKE escapes with a backslash by default; Oracle's only with ESCAPE; T-SQL uses [_]
    matcher = like_regex(like.expression.this, {"lab": "\\", "oracle": escape and escape.expression.this, "mssql": None}[platform])
    assert matcher.match(backup.scratch_name("K2_FIRMA", "0a1b2c3d")) and matcher.match(backup.scratch_name("K2", "o1").upper())
    assert not matcher.match("ERPOPSxVERIFYx1") and not matcher.match("K2_FIRMA")
