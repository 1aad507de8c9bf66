# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Catalog snapshots: a Schema saved as JSON and read back, and refusal of foreign or broken files."""

from __future__ import annotations

import json

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import schema
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    MAX_LENGTH, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, Column, FullTextIndex, Index, PrimaryKey, Schema, Table,
    dumps_snapshot, loads_snapshot, snapshot_from_dict, snapshot_to_dict,
)


def _firmy() -> Table:
    return Table(
        name="FIRMY",
        columns=[
            Column("Cis", "int", nullable=False, identity=True),
            Column("Zkr", "nvarchar", length=10, nullable=False),
            Column("Naz", "nvarchar", length=MAX_LENGTH, default="(N'Žluťoučký kůň')"),
            Column("Castka", "numeric", precision=18, scale=2, default="((0))"),
        ],
        primary_key=PrimaryKey("FIRMY_ById", ("Cis",), clustered=True),
        indexes=[Index("FIRMY_ByAbbr", ("Zkr",), unique=True), Index("FIRMY_ByName", ("Naz", "Zkr"), include=("Castka",))],
        fulltext=FullTextIndex(("Naz",), "FIRMY_ById"),
    )


def _schema() -> Schema:
    result = Schema(platform="mssql", database="K2_CONF", taken_at="2026-11-23T15:00:00+00:00")
    result.add(_firmy())
    result.add(Table(name="K2VERZE", columns=[Column("Verze", "varchar", length=20)]))
    return result


def test_round_trip_keeps_everything():
    original = _schema()
    loaded = loads_snapshot(dumps_snapshot(original))
    assert loaded == original
    assert loaded.table("firmy").primary_key == PrimaryKey("FIRMY_ById", ("Cis",), True)
    assert loaded.table("FIRMY").index("firmy_byname").include == ("Castka",)
    assert loaded.table("FIRMY").column("naz").length == MAX_LENGTH
    assert loaded.table("FIRMY").column("Naz").default == "(N'Žluťoučký kůň')"
    assert loaded.table("FIRMY").fulltext == FullTextIndex(("Naz",), "FIRMY_ById")
    assert loaded.table("K2VERZE").primary_key is None and loaded.table("K2VERZE").fulltext is None


def test_round_trip_is_stable_text():
    text = dumps_snapshot(_schema())
    assert dumps_snapshot(loads_snapshot(text)) == text


def test_layout_matches_the_documented_format():
    data = json.loads(dumps_snapshot(_schema()))
    assert (data["format"], data["version"], data["platform"], data["database"]) == (SNAPSHOT_FORMAT, SNAPSHOT_VERSION, "mssql", "K2_CONF")
    assert data["taken_at"] == "2026-11-23T15:00:00+00:00"
    assert [t["name"] for t in data["tables"]] == ["FIRMY", "K2VERZE"]
    firmy = data["tables"][0]
    assert firmy["columns"][0] == {"name": "Cis", "type": "int", "length": None, "precision": None, "scale": None,
                                   "nullable": False, "identity": True, "default": None}
    assert firmy["primary_key"] == {"name": "FIRMY_ById", "columns": ["Cis"], "clustered": True}
    assert firmy["indexes"][0] == {"name": "FIRMY_ByAbbr", "columns": ["Zkr"], "unique": True, "clustered": False, "include": []}
    assert firmy["fulltext"] == {"columns": ["Naz"], "key_index": "FIRMY_ById"}


def test_tables_are_sorted_case_insensitively():
    data = Schema(platform="lab")
    for name in ("zeta", "Alfa", "BETA"):
        data.add(Table(name=name))
    assert [t["name"] for t in snapshot_to_dict(data)["tables"]] == ["Alfa", "BETA", "zeta"]


def test_optional_fields_take_defaults():
    loaded = snapshot_from_dict({"format": SNAPSHOT_FORMAT, "version": 1, "platform": "oracle",
                                 "tables": [{"name": "T", "columns": [{"name": "C", "type": "varchar2"}],
                                             "indexes": [{"name": "I", "columns": ["C"]}]}]})
    assert (loaded.database, loaded.taken_at) == ("", None)
    assert loaded.table("t").columns == [Column("C", "varchar2")]
    assert loaded.table("t").indexes == [Index("I", ("C",), False, False, ())]


def _valid():
    return snapshot_to_dict(_schema())


@pytest.mark.parametrize("change, problem", [
    ({"format": "something/else"}, "not a catalog snapshot: the 'format' field must be 'erpops.upgrade/catalog-snapshot'"),
    ({"format": None}, "not a catalog snapshot"),
    ({"version": 2}, "unsupported catalog snapshot version 2 (this collection reads version 1)"),
    ({"version": "1"}, "unsupported catalog snapshot version '1'"),
    ({"platform": "db2"}, "catalog snapshot platform must be one of mssql, oracle, lab, got 'db2'"),
    ({"platform": None}, "got None"),
    ({"tables": "FIRMY"}, "catalog snapshot 'tables' must be a list, got str"),
    ({"tables": [{"columns": []}]}, "catalog snapshot table #1 has no name"),
    ({"tables": ["FIRMY"]}, "catalog snapshot table #1 has no name"),
    ({"tables": [{"name": "T", "columns": [{"name": "C"}]}]}, "catalog snapshot table 'T' is malformed: "),
    ({"tables": [{"name": "T", "columns": [{"name": "C", "type": "int", "colour": "red"}]}]}, "'colour'"),
    ({"tables": [{"name": "T", "primary_key": {"columns": ["C"]}}]}, "catalog snapshot table 'T' is malformed: missing field 'name'"),
])
def test_wrong_snapshots_are_refused_naming_the_problem(change, problem):
    data = _valid()
    data.update(change)
    with pytest.raises(ValueError) as info:
        snapshot_from_dict(data)
    assert problem in str(info.value)


@pytest.mark.parametrize("missing", ["format", "version", "platform"])
def test_a_missing_header_field_is_refused(missing):
    data = _valid()
    del data[missing]
    with pytest.raises(ValueError, match=missing if missing != "format" else "not a catalog snapshot"):
        snapshot_from_dict(data)


@pytest.mark.parametrize("text, problem", [
    ("{oops", "not a catalog snapshot: invalid JSON"),
    ("", "not a catalog snapshot: invalid JSON"),
    ("[1, 2]", "not a catalog snapshot: the 'format' field"),
    ("null", "not a catalog snapshot: the 'format' field"),
])
def test_loads_refuses_text_that_is_no_snapshot(text, problem):
    with pytest.raises(ValueError) as info:
        loads_snapshot(text)
    assert str(info.value).startswith(problem)


def test_names_compare_case_insensitively():
    loaded = loads_snapshot(dumps_snapshot(_schema()))
    assert loaded.table("k2verze") is loaded.table("K2VERZE")
    assert loaded.table("missing") is None
    assert loaded.table("FIRMY").column("missing") is None
    assert loaded.table("FIRMY").index("missing") is None
    assert schema.key("Firmy") == "FIRMY"
