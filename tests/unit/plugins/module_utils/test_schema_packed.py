# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema-wide packed store: ``schema.Tables`` and ``ddl.SourceMap`` behave as the dicts they replace.

A table of columns only is kept packed (no ``Table``, no ``TableSources``) until it is
asked for; what is read back, compared, diffed and written as a snapshot must be the same
as for the same tables held as objects.
"""

from __future__ import annotations

import copy
import os
import pickle
import tempfile
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "erpops-upgrade-hypothesis"))

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import repair, schema_diff  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import SourceMap, read_ddl  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (  # noqa: E402
    MAX_LENGTH, Column, FullTextIndex, Index, PrimaryKey, Schema, Table, Tables, dumps_snapshot, key, loads_snapshot,
)

WIDE = [Column("Cis", "int", nullable=False, identity=True), Column("Naz", "nvarchar", MAX_LENGTH, default="(N'Žluť')"),
        Column("Castka", "numeric", None, 18, 2), Column("N2", "varchar2", 40, semantics="char"),
        Column("Celkem", "number", None, 38, -2, computed="Castka * 2"), Column("Obří", "varchar", 1 << 40)]
# Ten type names: more than a column list finds by scanning its list of type names.
TYPES = [Column("c%d" % number, type_name) for number, type_name in enumerate(
    ("int", "bigint", "bit", "date", "datetime", "float", "image", "money", "ntext", "text"))]


def _packed(*tables):
    packed = Tables()
    for table in tables:
        packed.pack(table.name, list(table.columns))
    return packed


def _objects(*tables):
    return dict((key(table.name), table) for table in tables)


def test_a_packed_table_is_no_object_until_asked_for():
    tables = _packed(Table("t1", WIDE), Table("T2", [Column("a", "int")]), Table("t3", TYPES))
    assert len(tables) == 3 and list(tables) == ["T1", "T2", "T3"]
    assert "T1" in tables and "t1" not in tables and 1 not in tables   # keys are key(name), as the dict had them
    assert tables.object_keys() == []
    assert tables.peek("T1") == Table("t1", WIDE) and tables.peek("T3") == Table("t3", TYPES)
    assert [t.name for t in tables.peek_values()] == ["t1", "T2", "t3"]
    assert tables.object_keys() == [], "peek keeps nothing"
    first = tables["T1"]
    assert tables.object_keys() == ["T1"]
    assert first is tables["T1"] and first is tables.get("T1"), "once asked for, the Table is kept"
    first.columns.append(Column("Added", "int"))
    first.primary_key = PrimaryKey("PK", ("Cis",))
    assert tables.peek("T1").columns.names()[-1] == "Added" and tables["T1"].primary_key.name == "PK"
    assert tables.peek("T2") == Table("T2", [Column("a", "int")]) and tables.peek("T3") == Table("t3", TYPES)


def test_round_trip_equality_and_order_across_stores():
    objects = _objects(Table("t1", WIDE), Table("Žluť", TYPES), Table("t3"))
    packed = _packed(Table("t1", WIDE), Table("Žluť", TYPES), Table("t3"))
    assert packed == objects and objects == packed and (packed != objects) is False
    assert Schema("mssql", tables=objects) == Schema("mssql", tables=packed)
    assert list(packed.items()) == list(objects.items())
    changed = _packed(Table("t1", WIDE[:-1]), Table("Žluť", TYPES), Table("t3"))
    assert changed != objects and changed != packed
    assert _packed(Table("t1", WIDE), Table("t3"), Table("Žluť", TYPES)) == objects, "order does not matter to equality"
    schema = Schema("mssql", tables=packed)
    assert dumps_snapshot(schema) == dumps_snapshot(Schema("mssql", tables=objects))
    assert loads_snapshot(dumps_snapshot(schema)) == schema
    for clone in (copy.deepcopy(schema), pickle.loads(pickle.dumps(schema)), copy.copy(schema)):
        assert clone == schema and clone.table("T1") == Table("t1", WIDE)


def test_dict_behaviour_set_delete_pop_and_readd():
    tables = _packed(Table("a", [Column("x", "int")]), Table("b", [Column("y", "int")]), Table("c", [Column("z", "int")]))
    tables["B"] = Table("b", [Column("other", "bit")])           # replaced in place, as a dict keeps the position
    assert list(tables) == ["A", "B", "C"] and tables["B"].columns.names() == ["other"]
    del tables["A"]
    assert "A" not in tables and len(tables) == 2 and list(tables) == ["B", "C"]
    with pytest.raises(KeyError):
        del tables["A"]
    tables.pack("a", [Column("again", "int")])                    # added again: at the end
    assert list(tables) == ["B", "C", "A"] and tables.peek("A").columns.names() == ["again"]
    assert tables.pop("C").columns.names() == ["z"] and "C" not in tables
    tables["lower"] = Table("lower")                               # an object entry keeps its exact key
    assert "lower" in tables and "LOWER" not in tables and tables.get("missing") is None
    tables.pack("A", [Column("third", "int")])                     # packing a known name replaces it
    assert list(tables) == ["B", "A", "lower"] and tables["A"].columns.names() == ["third"]


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(["T%d" % n for n in range(12)] + ["ř%d" % n for n in range(4)]),
                          st.lists(st.sampled_from(WIDE + TYPES), max_size=7, unique_by=lambda c: c.name),
                          st.sampled_from(["pack", "set", "get", "del"])), max_size=40))
def test_random_operations_match_a_dict(operations):
    tables, reference = Tables(), {}
    for name, columns, operation in operations:
        wanted = key(name)
        if operation == "pack":
            tables.pack(name, columns)
            reference[wanted] = Table(name, columns)
        elif operation == "set":
            tables[wanted] = reference[wanted] = Table(name, columns)
        elif operation == "get" and wanted in reference:
            tables[wanted].columns.append(Column("zz", "int"))
            reference[wanted].columns.append(Column("zz", "int"))
        elif operation == "del" and wanted in reference:
            del tables[wanted]
            del reference[wanted]
        assert list(tables) == list(reference)
        assert tables == reference and len(tables) == len(reference)
    for wanted, table in reference.items():
        assert tables.peek(wanted) == table and tables[wanted] == table


def test_asking_for_the_last_packed_table_gives_its_room_back():
    tables = _packed(Table("a", WIDE), Table("b", TYPES))
    tables.pack("c", [Column("x", "int")])          # c is held as given until the next table comes
    columns = tables._columns                       # pylint: disable=protected-access
    assert len(columns) == len(WIDE) + len(TYPES)
    assert tables["A"] == Table("a", WIDE)          # not the last packed: copied out, its room stays
    assert len(columns) == len(WIDE) + len(TYPES)
    assert tables["B"] == Table("b", TYPES)         # the last packed: its room is given back
    assert len(columns) == len(WIDE)
    tables.pack("d", [Column("y", "int")])          # c moves into the packed columns
    assert len(columns) == len(WIDE) + 1
    assert tables["C"] == Table("c", [Column("x", "int")]) and len(columns) == len(WIDE)
    assert tables.peek("D") == Table("d", [Column("y", "int")]) and tables.peek("A") == Table("a", WIDE)
    tables.pack("e", [Column("z", "int")])
    assert tables.peek("D") == Table("d", [Column("y", "int")]) and tables.peek("E") == Table("e", [Column("z", "int")])


def test_diff_across_stores_finds_the_same():
    live = [Table("ART", [Column("Cis", "int", nullable=False), Column("Naz", "varchar", 40)]),
            Table("FIRMY", [Column("Cis", "int"), Column("Extra", "int")])]
    expected = [Table("ART", [Column("Cis", "int", nullable=False), Column("Naz", "varchar", 50)]),
                Table("FIRMY", [Column("Cis", "int")]), Table("NEW", [Column("a", "int")])]
    as_objects = schema_diff.diff(Schema("mssql", tables=_objects(*expected)), Schema("mssql", tables=_objects(*live)), "K2")
    packed_expected = Schema("mssql", tables=_packed(*expected))
    as_packed = schema_diff.diff(packed_expected, Schema("mssql", tables=_packed(*live)), "K2")
    kinds = [(f.kind, f.table, f.column) for f in as_packed]
    assert kinds == [(f.kind, f.table, f.column) for f in as_objects]
    assert ("wrong_length", "ART", "Naz") in kinds and ("missing_table", "NEW", None) in kinds
    assert packed_expected.tables.object_keys() == [], "the diff only reads"


SCRIPT = """CREATE TABLE plain1 (a int, b varchar(10) NOT NULL)
GO
CREATE TABLE [keyed] ([Cis] [int] NOT NULL, [Naz] [varchar] (40) NULL, CONSTRAINT [keyed_pk] PRIMARY KEY ([Cis]))
GO
CREATE TABLE plain2 (c int)
GO
CREATE UNIQUE INDEX [keyed_naz] ON [keyed] ([Naz])
GO
CREATE TABLE later ([x] [int] NOT NULL)
GO
ALTER TABLE [later] ADD CONSTRAINT [later_pk] PRIMARY KEY ([x])
GO
CREATE FULLTEXT INDEX ON [keyed] ([Naz]) KEY INDEX [keyed_pk]
GO
CREATE TABLE plain3 (d int)
"""


@pytest.mark.parametrize("fast", [True, False])
def test_the_reader_packs_tables_of_columns_only_and_keeps_tables_with_keys_complete(fast):
    result = read_ddl(SCRIPT, "mssql", "K2t.SQL", fast=fast)
    assert not result.problems and result.accounted()
    tables, sources = result.schema.tables, result.sources
    assert list(tables) == ["PLAIN1", "KEYED", "PLAIN2", "LATER", "PLAIN3"] and sorted(sources) == sorted(tables)
    assert tables.object_keys() == ["KEYED", "LATER"], "only the tables with keys, indexes or full-text are Table objects"
    assert sources.object_keys() == ["KEYED", "LATER"]
    keyed = tables["KEYED"]
    assert keyed == Table("keyed", [Column("Cis", "int", nullable=False), Column("Naz", "varchar", 40)],
                          PrimaryKey("keyed_pk", ("Cis",)), [Index("keyed_naz", ("Naz",), unique=True)],
                          FullTextIndex(("Naz",), "keyed_pk"))
    assert sources["KEYED"].primary_key is sources["KEYED"].create, "a key inside CREATE TABLE points at it"
    assert [ref.line for ref in sources["KEYED"].statements()] == [3, 7, 13]
    assert sources["LATER"].primary_key.line == 11 and tables["LATER"].columns[0].nullable is False
    assert tables.peek("PLAIN1") == Table("plain1", [Column("a", "int"), Column("b", "varchar", 10, nullable=False)])
    plain = sources.peek("PLAIN2")
    assert (plain.create.line, plain.create.text, plain.create.file) == (5, "CREATE TABLE plain2 (c int)", "K2t.SQL")
    assert plain.primary_key is None and plain.indexes == {} and plain.fulltext == []
    assert sources["PLAIN3"].create.text == "CREATE TABLE plain3 (d int)"


def test_fast_and_token_readings_are_equal_across_stores():
    assert read_ddl(SCRIPT, "mssql", "x.sql") == read_ddl(SCRIPT, "mssql", "x.sql", fast=False)


def test_a_source_map_copies_and_compares_by_content():
    script = "CREATE TABLE a (x int)\nGO\nCREATE TABLE b (y int)\n"
    sources = SourceMap("f.sql", script)
    sources.pack("a", 1, 0, 22)
    sources.pack("b", 3, 26, len(script))
    assert sources.peek("B").create.text == "CREATE TABLE b (y int)" and sources["A"].create.line == 1
    for clone in (copy.deepcopy(sources), pickle.loads(pickle.dumps(sources))):
        assert clone == sources and clone["B"].create.location == "f.sql:3"


def test_many_small_tables_cost_a_few_times_their_script():
    text = "".join("CREATE TABLE t%d (a int)\nGO\n" % number for number in range(3000))
    tracemalloc.start()
    result = read_ddl(text, "mssql", "x.sql")
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(result.schema.tables) == 3000 and not result.problems
    assert result.schema.tables.peek("T2999") == Table("t2999", [Column("a", "int")])
    assert retained < 150 * 3000 and peak < 5 * len(text), (retained / 3000, peak / len(text))


def test_repair_plan_reads_packed_and_object_tables_without_keeping_them():
    result = read_ddl(SCRIPT, "mssql", "K2t.SQL")
    findings = schema_diff.diff(result.schema, Schema("mssql"), "K2")
    assert sorted(f.table for f in findings if f.kind == "missing_table") == ["keyed", "later", "plain1", "plain2", "plain3"]
    steps = repair.plan(findings, ddl=result)
    creates = dict(((step.table, step.source), step.sql) for step in steps if step.kind == "create_table")
    assert creates[("plain2", "K2t.SQL:5")] == "CREATE TABLE plain2 (c int)"
    assert creates[("later", "K2t.SQL:9")] == "CREATE TABLE later ([x] [int] NOT NULL)"
    assert creates[("later", "K2t.SQL:11")] == "ALTER TABLE [later] ADD CONSTRAINT [later_pk] PRIMARY KEY ([x])"
    assert result.schema.tables.object_keys() == ["KEYED", "LATER"] and result.sources.object_keys() == ["KEYED", "LATER"]
