# -*- coding: utf-8 -*-
"""repair: the plan's content for every finding kind, konverze search, selection."""
from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.repair import SELECTABLE, find_konverze, plan, select
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column, FullTextIndex, Index, PrimaryKey, Schema, Table
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import Finding, diff

K2T = """CREATE TABLE [dbo].[ART] (
[Cis] [int] NOT NULL,
[Zkr] [varchar] (30) NOT NULL,
[Naz] [nvarchar] (100) NULL
)
GO
ALTER TABLE [dbo].[ART] With NOCHECK ADD
CONSTRAINT [ART_ById] PRIMARY KEY NONCLUSTERED ([Cis]) ON [PRIMARY]
GO
CREATE UNIQUE INDEX [ART_ByAbbr] ON [dbo].[ART] ([Zkr]) ON [PRIMARY]
GO
CREATE FULLTEXT INDEX ON [dbo].[ART] ([Naz] LANGUAGE 1029) KEY INDEX [ART_ById]
GO
CREATE TABLE [dbo].[OSO] ([Cis] [int] NOT NULL CONSTRAINT [OSO_ById] PRIMARY KEY, [Jm] [varchar] (50) NULL)
GO
"""
KONVERZE = {
    "K2_D1203.sql": ("PRINT 'konverze'\nGO\n"
                     "IF NOT EXISTS (SELECT * FROM syscolumns WHERE id = object_id('ART') AND name = 'Naz')\n"
                     "  ALTER TABLE [dbo].[ART] ADD [Naz] [nvarchar] (100) NULL\nGO\n"
                     "UPDATE ART SET Naz = Zkr WHERE Naz IS NULL\nGO\n"
                     "ALTER TABLE [dbo].[ART] DROP COLUMN [Naz]\nGO\n"
                     "UPDATE OSO SET Naz = 'x'\nGO\n"),
    "K2_D1204Additional.sql": "ALTER TABLE ART ALTER COLUMN Zkr varchar(30) NOT NULL\nGO\n",
}


@pytest.fixture()
def k2t():
    return read_ddl(K2T, "mssql", "K2t_Firma_MS.SQL")


def test_find_konverze_adds_and_fills():
    match = find_konverze(KONVERZE, "art", "naz", "mssql")
    assert [(r.file, r.line) for r in match.adds] == [("K2_D1203.sql", 3)]
    assert match.adds[0].text.startswith("IF NOT EXISTS") and "ADD [Naz]" in match.adds[0].text
    assert [(r.file, r.line) for r in match.fills] == [("K2_D1203.sql", 6)]
    assert [(r.file, r.line) for r in find_konverze(KONVERZE, "ART", "Zkr", "mssql").adds] == [("K2_D1204Additional.sql", 1)]
    oracle = {"K2_D1203Ora.sql": "ALTER TABLE ART MODIFY (ZKR VARCHAR2(30 CHAR));\nALTER TABLE ART ADD (NAZ NVARCHAR2(100));\n"}
    assert [r.line for r in find_konverze(oracle, "ART", "NAZ", "oracle").adds] == [2]
    assert [r.line for r in find_konverze(oracle, "ART", "ZKR", "oracle").adds] == [1]


def test_missing_table_is_its_k2t_statements_verbatim(k2t):
    steps = plan(diff(k2t.schema, Schema("mssql"), "FIRMA"), k2t)
    assert [(s.kind, s.table, s.source) for s in steps] == [
        ("create_table", "ART", "K2t_Firma_MS.SQL:1"), ("create_table", "ART", "K2t_Firma_MS.SQL:7"),
        ("create_table", "ART", "K2t_Firma_MS.SQL:10"), ("create_table", "ART", "K2t_Firma_MS.SQL:12"),
        ("create_table", "OSO", "K2t_Firma_MS.SQL:14")]
    assert steps[1].sql == "ALTER TABLE [dbo].[ART] With NOCHECK ADD\nCONSTRAINT [ART_ById] PRIMARY KEY NONCLUSTERED ([Cis]) ON [PRIMARY]"
    assert steps[3].sql.startswith("CREATE FULLTEXT INDEX ON [dbo].[ART]")


def test_columns_keys_indexes_and_drops(k2t):
    live = Schema("mssql")
    live.add(Table("ART", [Column("Cis", "int", nullable=False), Column("Zkr", "varchar", 20, nullable=False),
                           Column("Old", "int")], primary_key=None, indexes=[Index("ART_ByAbbr", ("Zkr", "Cis"), True)],
                   fulltext=FullTextIndex(("Naz",))))
    live.add(Table("OSO", [Column("Cis", "int", nullable=False), Column("Jm", "varchar", 50)], PrimaryKey("PK_X", ("Jm",))))
    steps = plan(diff(k2t.schema, live, "FIRMA"), k2t, KONVERZE, k2_version="gaia.12.3")
    summary = [(s.kind, s.finding, s.table, s.source) for s in steps]
    assert summary == [
        ("konverze", "wrong_length", "ART", "K2_D1204Additional.sql:1"),
        ("konverze", "missing_column", "ART", "K2_D1203.sql:3"),
        ("konverze", "missing_column", "ART", "K2_D1203.sql:6"),
        ("add_primary_key", "missing_primary_key", "ART", "K2t_Firma_MS.SQL:7"),
        ("add_primary_key", "different_primary_key", "OSO", None),
        ("add_primary_key", "different_primary_key", "OSO", "K2t_Firma_MS.SQL:14"),
        ("create_index", "missing_index", "ART", None),
        ("create_index", "missing_index", "ART", "K2t_Firma_MS.SQL:10"),
        ("drop_column", "extra_column", "ART", None),
    ]
    by_source = dict(((s.kind, s.source, s.table), s.sql) for s in steps)
    assert by_source[("add_primary_key", None, "OSO")] == "ALTER TABLE [dbo].[OSO] DROP CONSTRAINT [PK_X]"
    assert by_source[("add_primary_key", "K2t_Firma_MS.SQL:14", "OSO")] == "ALTER TABLE [dbo].[OSO] ADD CONSTRAINT [OSO_ById] PRIMARY KEY NONCLUSTERED ([Cis])"
    assert by_source[("create_index", None, "ART")] == "DROP INDEX [ART_ByAbbr] ON [dbo].[ART]"
    assert by_source[("drop_column", None, "ART")] == "ALTER TABLE [dbo].[ART] DROP COLUMN [Old]"
    assert [s.kind for s in select(steps, ["drop_column"])] == ["drop_column"]
    with pytest.raises(ValueError):
        select(steps, ["everything"])


def test_not_found_asks_support_with_output_and_version(k2t):
    finding = Finding("wrong_type", "FIRMA", "ART", "Cis", None, "int", "bigint", False, "FIRMA: table ART: column Cis has type bigint")
    steps = plan([finding], k2t, KONVERZE, k2_version="gaia.12.3", check_output="the whole log")
    assert [(s.kind, s.sql) for s in steps] == [("ask_support", None)]
    assert "not found" in steps[0].note
    assert steps[0].attachments == {"check_output": "the whole log", "k2_version": "gaia.12.3"}


def test_quoting_of_drops_per_dialect():
    finding = Finding("extra_column", "K2", "ODD]T", "we\"ird", None, None, "int")
    assert plan([finding], dialect="mssql")[0].sql == "ALTER TABLE [dbo].[ODD]]T] DROP COLUMN [we\"ird]"
    oracle = Finding("extra_column", "K2", "ODD]T", "we ird", None, None, "number")
    assert plan([oracle], dialect="oracle")[0].sql == 'ALTER TABLE "ODD]T" DROP COLUMN "we ird"'


def test_custom_fulltext_recreate_and_review(k2t):
    findings = [
        Finding("missing_table", "FIRMA", "UD_X", custom=True), Finding("missing_column", "FIRMA", "UD_X", "A", custom=True),
        Finding("missing_fulltext_column", "FIRMA", "ART", "Naz"), Finding("extra_fulltext_table", "FIRMA", "OSO"),
        Finding("extra_fulltext_column", "FIRMA", "ART", "Zkr"),
        Finding("missing_table", "K2_INIT", "ART"), Finding("missing_column", "K2_INIT", "OSO", "Jm"),
        Finding("missing_index", "K2_DEMO", "ART", index="ART_ByAbbr"),
        Finding("unreadable_statement", "FIRMA", None, message="FIRMA: K2t:3: statement not read"),
    ]
    steps = plan(findings, k2t, recreate_databases=["k2_init", "K2_DEMO"])
    kinds = [(s.kind, s.database, s.table, s.sql) for s in steps]
    assert kinds == [
        ("fulltext", "FIRMA", "ART", None),
        ("fulltext", "FIRMA", "OSO", "DROP FULLTEXT INDEX ON [dbo].[OSO]"),
        ("fulltext", "FIRMA", "ART", "ALTER FULLTEXT INDEX ON [dbo].[ART] DROP ([Zkr])"),
        ("deploy_project", "FIRMA", "UD_X", None),
        ("recreate_database", "K2_INIT", None, None),
        ("recreate_database", "K2_DEMO", None, None),
        ("review_script", "FIRMA", None, None),
    ]
    assert "778" in steps[0].note and "Object designer" in steps[3].note and "page 2" in steps[4].note
    assert set(s.kind for s in steps) <= set(SELECTABLE)
    assert steps[1].to_dict()["sql"] == "DROP FULLTEXT INDEX ON [dbo].[OSO]"
