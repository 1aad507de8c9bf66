# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema model's packed column list behaves as the list of Columns it replaces."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import tracemalloc

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    MAX_LENGTH, Column, ColumnList, Table, dumps_snapshot, loads_snapshot, Schema)

COLUMNS = [
    Column("Cis", "int", nullable=False, identity=True),
    Column("Naz", "nvarchar", length=MAX_LENGTH, default="(N'Žluťoučký kůň')"),
    Column("Castka", "numeric", precision=18, scale=2),
    Column("NAZEV2", "varchar2", length=40, semantics="char"),
    Column("Celkem", "number", precision=38, scale=-2, computed="Castka * 2"),
    Column("Velký", "varchar", length=0),
    Column("Obří", "varchar", length=1 << 40),     # wider than any array item size it started with
]


def test_reads_back_every_field_of_every_column():
    columns = ColumnList(COLUMNS)
    assert len(columns) == len(COLUMNS)
    assert list(columns) == COLUMNS
    assert columns == COLUMNS and COLUMNS == columns and (columns != COLUMNS) is False
    assert [columns[i] for i in range(-len(COLUMNS), len(COLUMNS))] == COLUMNS + COLUMNS
    assert columns[1:3] == COLUMNS[1:3]
    assert columns.names() == [c.name for c in COLUMNS]
    with pytest.raises(IndexError):
        columns[len(COLUMNS)]   # pylint: disable=pointless-statement
    assert columns != COLUMNS[:-1] and columns != COLUMNS[::-1]


def test_list_operations_keep_the_order_and_the_lookup():
    columns = ColumnList(COLUMNS)
    expected = list(COLUMNS)
    new = Column("Nova", "int")
    for operation in (lambda c: c.insert(2, new), lambda c: c.remove(COLUMNS[0]),
                      lambda c: c.__setitem__(1, Column("CIS2", "bigint", nullable=False)),
                      lambda c: c.__setitem__(slice(0, 2), [new]), lambda c: c.__delitem__(-1),
                      lambda c: c.extend(COLUMNS[:2]), lambda c: c.append(Column("Z", "date"))):
        operation(columns)
        operation(expected)
        assert list(columns) == expected
        for column in expected:
            first = next(i for i, c in enumerate(expected) if c.name.upper() == column.name.upper())
            assert columns.find(column.name.lower()) == first
    assert columns.find("missing") == -1


def test_lookup_is_case_insensitive_and_finds_the_first_of_a_name():
    columns = ColumnList(Column("C%d" % i, "int") for i in range(70000))   # past a 16-bit slot number
    assert columns.find("c69999") == 69999 and columns.find("C0") == 0 and columns.find("c70000") == -1
    columns.append(Column("c5", "bigint"))
    assert columns.find("C5") == 5


def test_table_keeps_a_column_list_when_given_a_list():
    table = Table("T", [Column("a", "int")])
    assert isinstance(table.columns, ColumnList)
    table.columns = [Column("b", "int")]
    assert isinstance(table.columns, ColumnList) and table.column("B") == Column("b", "int")
    assert table == Table("T", [Column("b", "int")]) and table != Table("T", [Column("b", "bigint")])


def test_copies_pickles_and_snapshots_are_equal():
    table = Table("T", COLUMNS)
    assert copy.deepcopy(table) == table and copy.copy(table.columns) == COLUMNS
    assert pickle.loads(pickle.dumps(table)) == table
    schema = Schema("mssql", "K2_X")
    schema.add(table)
    assert loads_snapshot(dumps_snapshot(schema)).table("t") == table


def test_a_wide_table_costs_a_few_times_its_ddl():
    """The model of a table of 9-character column definitions is at most about 5x the DDL."""
    text = "CREATE TABLE t (" + ",".join("c%d int" % i for i in range(5000)) + ")\n"
    tracemalloc.start()
    result = read_ddl(text, "mssql", "x.sql")
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(result.schema.table("t").columns) == 5000 and not result.problems
    assert retained < 6 * len(text) and peak < 10 * len(text), (retained / len(text), peak / len(text))


def test_a_column_read_back_is_a_plain_column():
    column = ColumnList(COLUMNS)[1]
    assert column.__class__ is Column and column == COLUMNS[1] and hash(column) == hash(COLUMNS[1])
    assert repr(column) == repr(COLUMNS[1]) and dataclasses.replace(column, name="X") == Column(
        "X", "nvarchar", length=MAX_LENGTH, default="(N'Žluťoučký kůň')")
    with pytest.raises(AttributeError):
        column.name = "other"   # still frozen
