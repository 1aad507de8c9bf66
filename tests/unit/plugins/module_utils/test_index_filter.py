# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filtered indexes: the predicate's normal spelling, its place in snapshots, the diff and the repair.

The servers' spellings come from their documentation and catalogs: SQL Server keeps a filtered
index's predicate in ``sys.indexes.filter_definition`` with bracketed names, parenthesised constants
and the whole in parentheses, and stores ``IN`` as ORs (``([a]=(1) OR [a]=(2))``); PostgreSQL's
``pg_get_expr(indpred, indrelid)`` parenthesises every operator expression, adds casts
(``(b)::text = 'x'::text``), writes a negative constant as ``'-1'::integer`` and ``IN`` as ``= ANY
(ARRAY[...])`` (``test_lab_live`` checks these against a real PostgreSQL).
"""

from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import repair
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    Column, Index, Schema, Table, dumps_snapshot, loads_snapshot, normalized_predicate, snapshot_to_dict)
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import diff


@pytest.mark.parametrize("script, platform, catalog", [
    ("Castka > 0 AND Naz IS NOT NULL", "mssql", "([Castka]>(0) AND [Naz] IS NOT NULL)"),
    ("Castka > 0 AND Naz IS NOT NULL", "lab", '(("Castka" > (0)::numeric) AND ("Naz" IS NOT NULL))'),
    ("a = 1 AND (b = 2 OR c = 3)", "mssql", "([a]=(1) AND ([b]=(2) OR [c]=(3)))"),
    ("a = 1 OR b = 2 AND c = 3", "lab", "((a = 1) OR ((b = 2) AND (c = 3)))"),
    ("a IN (1, 2)", "mssql", "([a]=(1) OR [a]=(2))"),
    ("a IN (1, 2)", "lab", "(a = ANY (ARRAY[1, 2]))"),
    ("a NOT IN (1, 2)", "lab", "(a <> ALL (ARRAY[1, 2]))"),
    ("a NOT IN (1, 2)", "mssql", "([a]<>(1) AND [a]<>(2))"),
    ("zkr = 'A'", "lab", "((zkr)::text = 'A'::text)"),
    ("stav IN ('a', 'b')", "lab", "((stav)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[]))"),
    ("a < -1", "lab", "(a < '-1'::integer)"),
    ("a < -1", "mssql", "([a]<(-1))"),
    ("a != 1", "mssql", "([a]<>(1))"),
])
def test_the_servers_spelling_reads_as_the_scripts(script, platform, catalog):
    assert normalized_predicate(script, platform) == normalized_predicate(catalog, platform)


@pytest.mark.parametrize("one, other", [
    ("a = 1 AND (b = 2 OR c = 3)", "(a = 1 AND b = 2) OR c = 3"),    # AND binds tighter than OR: these differ
    ("NOT (a = 1 AND b = 2)", "NOT a = 1 AND b = 2"),
    ("a > 0", "a >= 0"),
    ("b = 'x'", "b = 'X'"),                                          # literals are compared as written
    ("a - 1 > 0", "a > 0"),
])
def test_different_predicates_stay_different(one, other):
    assert normalized_predicate(one, "mssql") != normalized_predicate(other, "mssql")


def test_no_predicate_is_none():
    assert normalized_predicate(None, "mssql") is None and normalized_predicate("  ", "lab") is None


def test_a_snapshot_keeps_the_filter_and_writes_it_only_when_set():
    schema = Schema("mssql", "K2_X")
    schema.add(Table("T", [Column("A", "int")], indexes=[Index("F", ("A",), filter="A > 0"), Index("G", ("A",))]))
    indexes = snapshot_to_dict(schema)["tables"][0]["indexes"]
    assert indexes[0]["filter"] == "A > 0" and "filter" not in indexes[1]
    assert loads_snapshot(dumps_snapshot(schema)).tables == schema.tables


SCRIPT = ("CREATE TABLE T (A int, B int)\nGO\nCREATE INDEX F ON T (A) WHERE B > 0\nGO\n"
          "CREATE TABLE U (A int, INDEX G NONCLUSTERED (A) WHERE A IS NOT NULL)\nGO\n")


def live(filter_f, filter_g):
    schema = Schema("mssql", "K2_X")
    schema.add(Table("T", [Column("A", "int"), Column("B", "int")], indexes=[Index("F", ("A",), filter=filter_f)]))
    schema.add(Table("U", [Column("A", "int")], indexes=[Index("G", ("A",), filter=filter_g)]))
    return schema


def test_diff_names_a_different_filter_and_the_repair_drops_and_recreates_the_index():
    ddl = read_ddl(SCRIPT, "mssql", "K2t.sql")
    assert ddl.problems == []
    assert diff(ddl.schema, live("B > 0", "A IS NOT NULL"), "K2_X") == []
    findings = diff(ddl.schema, live(None, normalized_predicate("([A]>(0))", "mssql")), "K2_X")
    assert [(f.kind, f.table, f.index, f.expected, f.actual) for f in findings] == [
        ("different_index_filter", "T", "F", "WHERE B > 0", "no filter"),
        ("different_index_filter", "U", "G", "WHERE A IS NOT NULL", "WHERE A > 0")]
    assert findings[0].message == "K2_X: table T: index F has no filter, K2 expects WHERE B > 0"
    steps = repair.plan(findings, ddl, dialect="mssql")
    assert [(s.kind, s.sql) for s in steps] == [
        ("create_index", "DROP INDEX [F] ON [dbo].[T]"), ("create_index", "CREATE INDEX F ON T (A) WHERE B > 0"),
        ("create_index", "DROP INDEX [G] ON [dbo].[U]"),
        ("create_index", "CREATE NONCLUSTERED INDEX [G] ON [dbo].[U] ([A]) WHERE A IS NOT NULL")]


def test_an_index_filtered_where_k2_expects_none_is_a_finding():
    ddl = read_ddl("CREATE TABLE T (A int)\nGO\nCREATE INDEX F ON T (A)\nGO\n", "lab", "K2t.sql")
    schema = Schema("lab")
    schema.add(Table("t", [Column("a", "int4")], indexes=[Index("f", ("a",), filter="A > 0")]))
    assert [(f.kind, f.expected, f.actual) for f in diff(ddl.schema, schema, "K2_X")] == [
        ("different_index_filter", "no filter", "WHERE A > 0")]
