# -*- coding: utf-8 -*-
"""db_copy: what a test environment copies, the refusal rule, and the SQL per dialect (parsed with sqlglot)."""

from datetime import datetime, timezone

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from ansible_collections.erpops.upgrade.plugins.module_utils import backup, db_copy
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE

MANDANTS = [
    {"code": "DEMO", "database": "K2_DEMO", "role": "system"},
    {"code": "FIRMA", "database": "K2_FIRMA", "role": "production"},
    {"code": "FIRMA2", "database": "K2_FIRMA2", "role": "production"},
    {"code": "FIRMA2_TEST", "database": "K2_FIRMA2_TEST", "role": "test"},
    {"code": "INIT", "database": "K2_INIT", "role": "system"},
]


def test_plan_copies_conf_and_production_mandants_only():
    plan = db_copy.plan_copies("K2_CONF", MANDANTS, "mssql")
    assert [(p["code"], p["source"], p["target"]) for p in plan] == [
        ("CONF", "K2_CONF", "K2_CONF_TESTENV"), ("FIRMA", "K2_FIRMA", "K2_FIRMA_TESTENV"), ("FIRMA2", "K2_FIRMA2", "K2_FIRMA2_TESTENV")]
    assert db_copy.summary(plan) == {"FIRMA": "K2_FIRMA_TESTENV", "FIRMA2": "K2_FIRMA2_TESTENV"}


def test_plan_with_names_by_code_or_database_and_chosen_codes():
    plan = db_copy.plan_copies("K2_CONF", MANDANTS, "lab", suffix="_T", names={"conf": "TCONF", "K2_FIRMA": "TFIRMA"}, codes=["FIRMA"])
    assert [(p["source"], p["target"]) for p in plan] == [("K2_CONF", "TCONF"), ("K2_FIRMA", "TFIRMA")]
    with pytest.raises(backup.BackupError, match="NOPE"):
        db_copy.plan_copies("K2_CONF", MANDANTS, "lab", codes=["NOPE"])
    with pytest.raises(db_copy.CopyError, match="longer than lab"):
        db_copy.plan_copies("K2_CONF", MANDANTS, "lab", suffix="_" + "X" * 60)
    with pytest.raises(db_copy.CopyError, match="empty"):
        db_copy.plan_copies("K2_CONF", MANDANTS, "lab", names={"FIRMA": " "})


def test_refusal_rule_same_server_any_site_database_ignoring_case():
    site = db_copy.site_databases("K2_CONF", MANDANTS)
    assert site == ["K2_CONF", "K2_DEMO", "K2_FIRMA", "K2_FIRMA2", "K2_FIRMA2_TEST", "K2_INIT"]
    same_names = db_copy.plan_copies("K2_CONF", MANDANTS, "mssql", suffix="")
    reasons = db_copy.refusals(same_names, site, same_server=True)
    assert len(reasons) == 3 and "K2_CONF, a database of the production site" in reasons[0]
    assert db_copy.refusals(same_names, site, same_server=False) == []  # another server may keep the names
    onto_demo = db_copy.plan_copies("K2_CONF", MANDANTS, "mssql", names={"FIRMA": "k2_demo"})
    assert db_copy.refusals(onto_demo, site, same_server=True) == [
        "the copy of K2_FIRMA would be K2_DEMO, a database of the production site on the same server"]
    assert db_copy.refusals(db_copy.plan_copies("K2_CONF", MANDANTS, "mssql"), site, same_server=True) == []


def test_refusal_of_two_copies_with_one_name_and_of_a_plan_without_conf():
    plan = db_copy.plan_copies("K2_CONF", MANDANTS, "mssql", names={"FIRMA": "X", "FIRMA2": "x"})
    assert db_copy.refusals(plan, [], True) == ["K2_FIRMA and K2_FIRMA2 would both be copied to x"]
    assert "no copy of CONF" in db_copy.refusals(plan[1:], [], False)[0]


def test_mssql_move_paths_and_restore_parse_as_tsql():
    assert db_copy.mssql_move_path(r"D:\Data\K2_FIRMA.mdf", "K2_FIRMA", "K2_FIRMA_T", "K2_FIRMA") == r"D:\Data\K2_FIRMA_T.mdf"
    assert db_copy.mssql_move_path(r"L:\Log\K2_FIRMA_log.ldf", "k2_firma", "K2_FIRMA_T", "x") == r"L:\Log\K2_FIRMA_T_log.ldf"
    assert db_copy.mssql_move_path(r"D:\Data\data1.ndf", "K2_FIRMA", "T", "Data 1", r"E:\Copies") == r"E:\Copies\T_Data_1.ndf"
    sql = db_copy.mssql_restore_as_sql("K2_FIRMA_T", r"\\nas\b\x.bak", [("K2_FIRMA", r"D:\K2_FIRMA_T.mdf"), ("K2_FIRMA_log", "L:\\O'K.ldf")])
    assert sql == ("RESTORE DATABASE [K2_FIRMA_T] FROM DISK = N'\\\\nas\\b\\x.bak' WITH MOVE N'K2_FIRMA' TO N'D:\\K2_FIRMA_T.mdf', "
                   "MOVE N'K2_FIRMA_log' TO N'L:\\O''K.ldf', CHECKSUM, RECOVERY")
    with pytest.raises(db_copy.CopyError):
        db_copy.mssql_restore_as_sql("T", "x", [])
    for text in (db_copy.MSSQL_FILES_SQL, db_copy.mssql_drop_sql("A]B"), db_copy.SERVER_IDENTITY_SQL["mssql"]):
        assert sqlglot.parse_one(text, read="tsql", error_level=ErrorLevel.RAISE) is not None
    assert db_copy.mssql_drop_sql("A]B") == "DROP DATABASE [A]]B]"


def test_oracle_import_as_remaps_the_schema_and_binds_every_name():
    sql, binds = backup.oracle_import_as("K2_FIRMA", "K2_FIRMA_T", "DP_DIR", "K2_FIRMA_copy.dmp", "ERPOPS_CPY_1")
    tokens = sqlglot.tokenize(sql, read="oracle")
    assert tokens[0].text == "DECLARE" and tokens[-1].text == ";" and "'REMAP_SCHEMA'" in sql and "'IMPORT'" in sql
    placeholders = {token.text for previous, token in zip(tokens, tokens[1:]) if previous.text == ":"}
    assert placeholders == set(binds)
    assert (binds["old_schema"], binds["new_schema"], binds["schema_expr"]) == ("K2_FIRMA", "K2_FIRMA_T", "IN ('K2_FIRMA')")
    for text in (db_copy.oracle_drop_sql("K2_FIRMA_T"), db_copy.SERVER_IDENTITY_SQL["oracle"]):
        assert sqlglot.parse_one(text, read="oracle", error_level=ErrorLevel.RAISE) is not None


def test_lab_sql_and_dump_name():
    for text in (db_copy.lab_create_sql('a"b'), db_copy.SERVER_IDENTITY_SQL["lab"]):
        assert sqlglot.parse_one(text, read="postgres", error_level=ErrorLevel.RAISE) is not None
    # sqlglot does not know PostgreSQL 13's WITH (FORCE); the lab test runs it for real.
    assert db_copy.lab_drop_sql('a"b') == 'DROP DATABASE IF EXISTS "a""b" WITH (FORCE)'
    assert db_copy.lab_create_sql('a"b') == 'CREATE DATABASE "a""b"'
    moment = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)
    assert db_copy.dump_file_name("K2 FIRMA", "mssql", moment, "r1") == "K2_FIRMA_copy_20261123T160000Z_r1.bak"
    assert db_copy.exists(["k2_conf_testenv", "other"], "K2_CONF_TESTENV") == "k2_conf_testenv"
    assert db_copy.exists(["other"], "K2_CONF_TESTENV") is None


def test_firmy_changes_keep_and_repoint():
    changes = db_copy.firmy_changes(MANDANTS, ["FIRMA", "firma2"], {"FIRMA": "K2_FIRMA_T", "FIRMA2": "K2_FIRMA2"})
    assert [m["code"] for m in changes["delete"]] == ["DEMO", "FIRMA2_TEST", "INIT"]
    assert changes["update"] == [{"code": "FIRMA", "before": "K2_FIRMA", "after": "K2_FIRMA_T"}]
    with pytest.raises(db_copy.CopyError, match="no mandant NOPE"):
        db_copy.firmy_changes(MANDANTS, ["FIRMA", "NOPE"])
    with pytest.raises(db_copy.CopyError, match="not kept: FIRMA2"):
        db_copy.firmy_changes(MANDANTS, ["FIRMA"], {"FIRMA2": "x"})


@pytest.mark.parametrize("platform,dialect", [("mssql", "tsql"), ("oracle", "oracle"), ("lab", "postgres")])
def test_firmy_sql_parses(platform, dialect):
    delete = db_copy.firmy_delete_sql(platform, "K2_CONF", DEFAULT_PROFILE)
    update = db_copy.firmy_update_sql(platform, "K2_CONF", DEFAULT_PROFILE)
    for text in (delete, update):
        assert sqlglot.parse_one(text, read=dialect, error_level=ErrorLevel.RAISE) is not None
    if platform == "mssql":
        assert delete == "DELETE FROM [dbo].[FIRMY] WHERE LTRIM(RTRIM([Zkr])) = ?"
        assert update == "UPDATE [dbo].[FIRMY] SET [DatabaseName] = ? WHERE LTRIM(RTRIM([Zkr])) = ?"
    if platform == "oracle":
        assert update == 'UPDATE "K2_CONF"."FIRMY" SET "DatabaseName" = :database WHERE LTRIM(RTRIM("Zkr")) = :code'
