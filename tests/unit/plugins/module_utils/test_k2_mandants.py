# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mandants: roles, classification of FIRMY rows, and the SQL texts parsed with sqlglot per dialect."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_mandants import classify, firmy_sql, role_of, table_ref, version_sql
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE, merge_profile

READ = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}
PLATFORMS = tuple(READ)


def _parse(sql: str, platform: str) -> exp.Select:
    statements = sqlglot.parse(sql, read=READ[platform])
    assert len(statements) == 1, sql
    assert isinstance(statements[0], exp.Select)
    return statements[0]


def _selected(select: exp.Select):
    """(source column, alias) per output column."""
    return [(e.this.name, e.alias) for e in select.expressions]


# --- roles -----------------------------------------------------------------

@pytest.mark.parametrize("code, role", [
    ("DEMO", "system"),
    ("demo", "system"),
    (" INIT ", "system"),
    ("FIRMA2_TEST", "test"),
    ("firma2_test", "test"),
    ("FIRMA_TEST1", "test"),
    ("TEST_KOPIE", "test"),
    ("TESTFIRMA", "production"),
    ("FIRMA2", "production"),
    ("DEMOFIRMA", "production"),
    ("CONTEST", "production"),
])
def test_roles_by_default_profile(code, role):
    assert role_of(code, DEFAULT_PROFILE) == role


def test_roles_follow_the_profile():
    profile = merge_profile({"firmy": {"system_mandants": ["VZOR"], "test_patterns": ["ZK_*"]}})
    assert role_of("vzor", profile) == "system"
    assert role_of("DEMO", profile) == "production"
    assert role_of("zk_firma", profile) == "test"
    assert role_of("FIRMA2_TEST", profile) == "production"


def test_patterns_are_case_insensitive_both_ways():
    profile = merge_profile({"firmy": {"test_patterns": ["*_kopie"]}})
    assert role_of("Firma_KOPIE", profile) == "test"


# --- classify ----------------------------------------------------------------

def test_classify_rows_with_mixed_case_keys():
    rows = [
        {"CODE": "DEMO ", "NAME": "Demo firma", "DBNAME": "K2_DEMO"},  # Oracle returns unquoted aliases in capitals
        {"code": "FIRMA2", "name": "Žluťoučký kůň s.r.o.", "dbname": "K2_FIRMA2"},
        {"Code": "FIRMA2_TEST", "Name": None, "DbName": " K2_FIRMA2_TEST "},
        {"code": "INIT", "dbname": "K2_INIT"},
    ]
    assert classify(rows, DEFAULT_PROFILE) == [
        {"code": "DEMO", "name": "Demo firma", "database": "K2_DEMO", "role": "system"},
        {"code": "FIRMA2", "name": "Žluťoučký kůň s.r.o.", "database": "K2_FIRMA2", "role": "production"},
        {"code": "FIRMA2_TEST", "name": "", "database": "K2_FIRMA2_TEST", "role": "test"},
        {"code": "INIT", "name": "", "database": "K2_INIT", "role": "system"},
    ]


def test_classify_reads_numbers_and_nulls_as_text():
    rows = [{"code": 12, "name": "Dvanáctka", "dbname": None}]
    assert classify(rows, DEFAULT_PROFILE) == [{"code": "12", "name": "Dvanáctka", "database": "", "role": "production"}]


def test_classify_nothing():
    assert classify([], DEFAULT_PROFILE) == []


# --- SQL texts, per dialect ------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORMS)
def test_firmy_sql_parses_and_names_the_profile_columns(platform):
    select = _parse(firmy_sql(platform, "K2_CONF", DEFAULT_PROFILE), platform)
    assert _selected(select) == [("Zkr", "code"), ("Naz", "name"), ("DatabaseName", "dbname")]
    table = select.find(exp.From).this
    assert table.name == "FIRMY"
    assert [o.this.name for o in select.args["order"].expressions] == ["Zkr"]


@pytest.mark.parametrize("platform, schema", [("mssql", "dbo"), ("oracle", "K2_CONF"), ("lab", "")])
def test_the_table_is_qualified_per_platform(platform, schema):
    table = _parse(firmy_sql(platform, "K2_CONF", DEFAULT_PROFILE), platform).find(exp.From).this
    assert table.db == schema


@pytest.mark.parametrize("platform", PLATFORMS)
def test_version_sql_parses(platform):
    select = _parse(version_sql(platform, "K2_FIRMA2", DEFAULT_PROFILE), platform)
    assert _selected(select) == [("Verze", "version")]
    assert select.find(exp.From).this.name == "K2VERZE"


HOSTILE_TABLES = ["FIR]MY", "FIRMY'; DROP TABLE FIRMY; --", "FIR;MY", "Firmy Česko", "a]]b"]
HOSTILE_COLUMNS = {"code_column": "Zk]r'", "name_column": "Na;z", "database_column": "Db Name"}


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("table", HOSTILE_TABLES)
def test_hostile_names_from_a_profile_override_stay_names(platform, table):
    profile = merge_profile({"firmy": dict(HOSTILE_COLUMNS, table=table), "db_version": {"table": table, "version_column": "Ver'ze]"}})
    select = _parse(firmy_sql(platform, "K2 CONF'", profile), platform)
    assert select.find(exp.From).this.name == table
    assert _selected(select) == [("Zk]r'", "code"), ("Na;z", "name"), ("Db Name", "dbname")]
    if platform == "oracle":
        assert select.find(exp.From).this.db == "K2 CONF'"
    select = _parse(version_sql(platform, "K2;FIRMA", profile), platform)
    assert select.find(exp.From).this.name == table
    assert _selected(select) == [("Ver'ze]", "version")]


@pytest.mark.parametrize("platform", ["mssql", "lab"])
def test_double_quote_in_names_is_quoted_where_the_platform_allows_it(platform):
    profile = merge_profile({"firmy": {"table": 'FIR"MY'}})
    assert _parse(firmy_sql(platform, "K2_CONF", profile), platform).find(exp.From).this.name == 'FIR"MY'


def test_oracle_refuses_a_double_quote_in_a_table_or_schema_name():
    profile = merge_profile({"firmy": {"table": 'FIR"MY'}})
    with pytest.raises(ValueError, match="double quote"):
        firmy_sql("oracle", "K2_CONF", profile)
    with pytest.raises(ValueError, match="double quote"):
        version_sql("oracle", 'K2"CONF', DEFAULT_PROFILE)


def test_exact_sql_texts():
    assert firmy_sql("mssql", "K2_CONF", DEFAULT_PROFILE) == (
        "SELECT [Zkr] AS code, [Naz] AS name, [DatabaseName] AS dbname FROM [dbo].[FIRMY] ORDER BY [Zkr]")
    assert version_sql("oracle", "K2_FIRMA2", DEFAULT_PROFILE) == 'SELECT "Verze" AS version FROM "K2_FIRMA2"."K2VERZE"'
    assert version_sql("lab", "k2_firma2", DEFAULT_PROFILE) == 'SELECT "Verze" AS version FROM "K2VERZE"'


def test_table_ref():
    assert table_ref("mssql", "ignored", "T]") == "[dbo].[T]]]"
    assert table_ref("oracle", "OWNER", "T'") == '"OWNER"."T\'"'
    assert table_ref("lab", "ignored", 'T"') == '"T"""'
