# -*- coding: utf-8 -*-
"""schema_diff: each finding kind, the documented decisions and type equivalences."""
from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import Problem
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column, FullTextIndex, Index, PrimaryKey, Schema, Table
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import (
    canonical_type, consistent, counts_by_database, counts_by_kind, diff, summary,
)


def _table(name="ART", **changes):
    table = Table(name, columns=[Column("Cis", "int", nullable=False), Column("Zkr", "varchar", 30, nullable=False),
                                 Column("Naz", "nvarchar", 100), Column("Cena", "numeric", None, 19, 6)],
                  primary_key=PrimaryKey("ART_ById", ("Cis",)),
                  indexes=[Index("ART_ByAbbr", ("Zkr",), True)], fulltext=FullTextIndex(("Naz",), "ART_ById"))
    for attr, value in changes.items():
        setattr(table, attr, value)
    return table


def _schema(platform="mssql", *tables):
    schema = Schema(platform)
    for table in tables:
        schema.add(table)
    return schema


def _kinds(findings):
    return [(f.kind, f.table, f.column, f.index) for f in findings]


def test_clean_and_case_insensitive():
    live = _table("art")
    live.columns = [Column(c.name.upper(), c.type.upper() if c.type != "int" else "int", c.length, c.precision, c.scale, c.nullable)
                    for c in live.columns]
    findings = diff(_schema("mssql", _table()), _schema("mssql", live), "FIRMA")
    assert findings == [] and consistent(findings)


def test_extra_tables_and_indexes_are_tolerated():
    live = _table(indexes=[Index("ART_ByAbbr", ("Zkr",), True), Index("CUSTOM_IX", ("Naz",))])
    assert diff(_schema("mssql", _table()), _schema("mssql", live, Table("UD_CUSTOM")), "FIRMA") == []


def test_column_findings():
    live = _table()
    live.columns = [Column("Cis", "bigint", nullable=False), Column("Zkr", "varchar", 40, nullable=True),
                    Column("Cena", "numeric", None, 19, 4), Column("Extra", "int")]
    findings = diff(_schema("mssql", _table()), _schema("mssql", live), "FIRMA")
    assert _kinds(findings) == [
        ("wrong_type", "ART", "Cis", None), ("wrong_length", "ART", "Zkr", None), ("nullability", "ART", "Zkr", None),
        ("missing_column", "ART", "Naz", None), ("wrong_length", "ART", "Cena", None), ("extra_column", "ART", "Extra", None)]
    assert findings[0].expected == "int" and findings[0].actual == "bigint"
    assert findings[1].message == "FIRMA: table ART: column Zkr is varchar(40), K2 expects varchar(30)"
    assert findings[4].expected == "numeric(19,6)" and findings[4].actual == "numeric(19,4)"


def test_missing_table_is_one_finding_and_custom_flag():
    findings = diff(_schema("mssql", _table(), _table("UD_X"), _table("ZAK_X")), _schema("mssql"), "FIRMA",
                    custom_tables=["zak_x"], custom_prefixes=["ud_"])
    assert [(f.kind, f.table, f.custom) for f in findings] == [
        ("missing_table", "ART", False), ("missing_table", "UD_X", True), ("missing_table", "ZAK_X", True)]
    assert "custom table UD_X" in findings[1].message


def test_keys_and_indexes():
    live = _table(primary_key=None, indexes=[])
    assert _kinds(diff(_schema("mssql", _table()), _schema("mssql", live), "D")) == [
        ("missing_primary_key", "ART", None, "ART_ById"), ("missing_index", "ART", None, "ART_ByAbbr")]
    live = _table(primary_key=PrimaryKey("PK_OTHER", ("Cis",)), indexes=[Index("art_byabbr", ("Zkr", "Cis"), True)])
    findings = diff(_schema("mssql", _table()), _schema("mssql", live), "D")
    assert _kinds(findings) == [("different_primary_key", "ART", None, "ART_ById"), ("missing_index", "ART", None, "ART_ByAbbr")]
    assert findings[0].actual_name == "PK_OTHER" and findings[1].actual_name == "art_byabbr"
    assert findings[1].actual == "UNIQUE (Zkr, Cis)"
    # clustered and an unnamed live key are not compared
    live = _table(primary_key=PrimaryKey("", ("Cis",), True), indexes=[Index("ART_ByAbbr", ("ZKR",), True, True)])
    assert diff(_schema("mssql", _table()), _schema("mssql", live), "D") == []


def test_fulltext_findings_and_switch():
    expected = _schema("mssql", _table(), _table("NOFT", fulltext=None))
    live = _schema("mssql", _table(fulltext=FullTextIndex(("Naz", "Zkr"))), _table("NOFT", fulltext=FullTextIndex(("Zkr",))))
    assert _kinds(diff(expected, live, "D")) == [("extra_fulltext_column", "ART", "Zkr", None), ("extra_fulltext_table", "NOFT", None, None)]
    live = _schema("mssql", _table(fulltext=None), _table("NOFT", fulltext=None))
    assert _kinds(diff(expected, live, "D")) == [("missing_fulltext_column", "ART", "Naz", None)]
    assert diff(expected, live, "D", fulltext=False) == []


def test_unreadable_statements_and_summaries():
    problems = [Problem("K2t_D.SQL", 12, "CREATE TABLE [X] (", "expected ','")]
    findings = diff(_schema("mssql", _table()), _schema("mssql"), "FIRMA", problems=problems)
    findings += diff(_schema("mssql", _table()), _schema("mssql", _table(primary_key=None)), "FIRMA2")
    assert findings[0].kind == "unreadable_statement" and "K2t_D.SQL:12" in findings[0].message
    assert dict(counts_by_kind(findings)) == {"missing_table": 1, "missing_primary_key": 1, "unreadable_statement": 1}
    assert dict(counts_by_database(findings)) == {"FIRMA": 2, "FIRMA2": 1}
    assert summary(findings)["consistent"] is False and summary([])["consistent"] is True
    assert findings[0].to_dict()["kind"] == "unreadable_statement"


def test_type_equivalences_are_explicit():
    assert canonical_type(Column("a", "sysname"), "mssql") == canonical_type(Column("a", "nvarchar", 128), "mssql")
    assert canonical_type(Column("a", "integer"), "mssql") == canonical_type(Column("a", "int", precision=10), "mssql")
    assert canonical_type(Column("a", "numeric", None, 10, 0), "mssql") != canonical_type(Column("a", "decimal", None, 10, 0), "mssql")
    assert canonical_type(Column("a", "int", 4, 10, 0), "mssql") == ("int", None, None, None)
    assert canonical_type(Column("a", "varchar", 20), "oracle") == canonical_type(Column("a", "varchar2", 20), "oracle")
    assert canonical_type(Column("a", "integer"), "oracle") == canonical_type(Column("a", "number", None, None, 0), "oracle")
    assert canonical_type(Column("a", "number", None, 10), "oracle") == canonical_type(Column("a", "number", None, 10, 0), "oracle")
    assert canonical_type(Column("a", "timestamp(6)"), "oracle") == canonical_type(Column("a", "timestamp"), "oracle")
    assert canonical_type(Column("a", "timestamp(3)"), "oracle") != canonical_type(Column("a", "timestamp"), "oracle")
    assert canonical_type(Column("a", "integer"), "lab") == canonical_type(Column("a", "int4"), "lab")
    assert canonical_type(Column("a", "character varying", 5), "lab") == canonical_type(Column("a", "varchar", 5), "lab")
    assert canonical_type(Column("a", "ntext"), "mssql") != canonical_type(Column("a", "text"), "mssql")
