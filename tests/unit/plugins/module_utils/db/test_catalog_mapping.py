# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Row mapping on saved catalog result sets (tests/unit/fixtures/catalog/*_rows.json)."""

from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.db import lab, mssql, oracle
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import schema
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl


def mapped(adapter, saved_rows, name):
    rows = saved_rows(name)
    return adapter.catalog_from_rows(rows["columns"], rows["indexes"], rows["fulltext"], rows["database"])


@pytest.fixture(name="mssql_catalog")
def fixture_mssql_catalog(saved_rows):
    return mapped(mssql, saved_rows, "mssql_rows.json")


@pytest.fixture(name="oracle_catalog")
def fixture_oracle_catalog(saved_rows):
    return mapped(oracle, saved_rows, "oracle_rows.json")


def test_mssql_lengths_are_characters(mssql_catalog):
    firmy = mssql_catalog.table("FIRMY")
    assert firmy.column("Naz") == schema.Column("Naz", "nvarchar", length=50)
    assert firmy.column("Popis").length == schema.MAX_LENGTH
    assert firmy.column("Zkr") == schema.Column("Zkr", "varchar", length=30, nullable=False)
    assert mssql_catalog.table("DOKLADY").column("Kod").length == 3
    assert mssql_catalog.table("DOKLADY").column("Bin").length == schema.MAX_LENGTH
    assert mssql_catalog.table("HEAP").column("A").length == 10


def test_mssql_raw_type_names_and_precision_only_for_decimals(mssql_catalog):
    firmy = mssql_catalog.table("FIRMY")
    assert firmy.column("Pozn") == schema.Column("Pozn", "ntext")
    assert firmy.column("Logo") == schema.Column("Logo", "image")
    assert firmy.column("Castka") == schema.Column("Castka", "numeric", precision=19, scale=6, default="((0))")
    assert firmy.column("Sazba") == schema.Column("Sazba", "decimal", precision=5, scale=2)
    assert firmy.column("Cis") == schema.Column("Cis", "int", nullable=False)
    assert firmy.column("Dat") == schema.Column("Dat", "datetime", default="(getdate())")
    assert firmy.column("Ucet") == schema.Column("Ucet", "sysname")
    assert [c.name for c in firmy.columns] == ["Cis", "Zkr", "Naz", "Popis", "Pozn", "Castka", "Dat", "Logo", "Sazba", "Ucet"]


def test_mssql_identity_keys_and_indexes(mssql_catalog):
    doklady, firmy = mssql_catalog.table("DOKLADY"), mssql_catalog.table("FIRMY")
    assert doklady.column("Id").identity and not doklady.column("Firma").identity
    assert doklady.primary_key == schema.PrimaryKey("DOKLADY_PK", ("Id",), clustered=True)
    assert firmy.primary_key == schema.PrimaryKey("FIRMY_ById", ("Cis",), clustered=False)
    assert doklady.indexes == [schema.Index("DOKLADY_ByFirmaKod", ("Kod", "Firma"))]  # key_ordinal, not column order
    assert firmy.indexes == [schema.Index("FIRMY_ByAbbr", ("Zkr",), unique=True, include=("Naz", "Dat")),
                             schema.Index("FIRMY_ByDat", ("Dat",), clustered=True)]
    assert mssql_catalog.table("HEAP").primary_key is None and mssql_catalog.table("HEAP").indexes == []


def test_mssql_fulltext(mssql_catalog):
    assert mssql_catalog.table("FIRMY").fulltext == schema.FullTextIndex(("Naz", "Pozn"), "FIRMY_ById")
    assert mssql_catalog.table("DOKLADY").fulltext is None


def test_oracle_char_used_decides_the_length(oracle_catalog):
    firmy = oracle_catalog.table("FIRMY")
    assert firmy.column("ZKR") == schema.Column("ZKR", "varchar2", length=30, nullable=False, semantics="char")
    assert (firmy.column("NAZ").length, firmy.column("NAZ").semantics) == (50, "byte")
    assert firmy.column("NNAZ") == schema.Column("NNAZ", "nvarchar2", length=50, semantics="char")
    assert firmy.column("KOD") == schema.Column("KOD", "char", length=3, semantics="byte")
    assert firmy.column("HASH").length == 16
    assert firmy.column("POZN") == schema.Column("POZN", "clob")


def test_oracle_numbers_defaults_identity(oracle_catalog):
    firmy = oracle_catalog.table("FIRMY")
    assert firmy.column("CIS") == schema.Column("CIS", "number", precision=10, scale=0, nullable=False, identity=True)
    assert firmy.column("CASTKA") == schema.Column("CASTKA", "number", precision=19, scale=6, default="0")
    assert firmy.column("POCET") == schema.Column("POCET", "number")
    assert firmy.column("DAT") == schema.Column("DAT", "date", default="SYSDATE")
    assert firmy.column("ZMENA").type == "timestamp(6)" and firmy.column("ZMENA").scale is None


def test_oracle_keys_indexes_and_fulltext(oracle_catalog):
    firmy, doklady = oracle_catalog.table("FIRMY"), oracle_catalog.table("DOKLADY")
    assert firmy.primary_key == schema.PrimaryKey("FIRMY_BYID", ("CIS",))
    assert doklady.primary_key == schema.PrimaryKey("DOKLADY_PK", ("ID",))
    assert firmy.indexes == [schema.Index("FIRMY_BYABBR", ("ZKR",), unique=True), schema.Index("FIRMY_BYNAZ", ("NAZ", "KOD"))]
    assert doklady.indexes == [schema.Index("DOKLADY_BYFIRMA", ("FIRMA", "ID"))]
    assert firmy.fulltext == schema.FullTextIndex(("NAZ",))
    assert sorted(oracle_catalog.tables) == ["DOKLADY", "FIRMY"]


def test_lab_rows_saved_from_postgresql(saved_rows):
    catalog = mapped(lab, saved_rows, "lab_rows.json")
    doklady, firmy = catalog.table("DOKLADY"), catalog.table("FIRMY")
    assert doklady.primary_key == schema.PrimaryKey("DOKLADY_PK", ("Id",), clustered=True)
    assert doklady.column("Popis").length == schema.MAX_LENGTH
    assert doklady.column("Stav") == schema.Column("Stav", "int2", nullable=False, default="1")
    assert [i.name for i in doklady.indexes] == ["DOKLADY_ByFirma"]  # the expression index has no column to name
    assert doklady.fulltext == schema.FullTextIndex(("Pozn",))
    assert firmy.column("Kod") == schema.Column("Kod", "bpchar", length=3)
    assert firmy.column("Castka") == schema.Column("Castka", "numeric", precision=19, scale=6, default="0")
    assert firmy.fulltext == schema.FullTextIndex(("Naz", "Pozn"))


@pytest.mark.parametrize("type_name,typmod,shape", [("varchar", 34, (30, None, None)), ("varchar", -1, (schema.MAX_LENGTH, None, None)),
                                                    ("bpchar", 5, (1, None, None)), ("numeric", 1245194, (None, 19, 6)),
                                                    ("numeric", -1, (None, None, None)), ("int4", -1, (None, None, None))])
def test_lab_typmod(type_name, typmod, shape):
    assert lab.column_shape(type_name, typmod) == shape


@pytest.mark.parametrize("type_name,max_length,length", [("nvarchar", 100, 50), ("nchar", 20, 10), ("nvarchar", -1, schema.MAX_LENGTH),
                                                         ("varbinary", 16, 16), ("ntext", 16, None), ("int", 4, None)])
def test_mssql_column_length(type_name, max_length, length):
    assert mssql.column_length(type_name, max_length) == length


@pytest.mark.parametrize("adapter,name", [(mssql, "mssql_rows.json"), (oracle, "oracle_rows.json"), (lab, "lab_rows.json")])
def test_mapping_survives_a_snapshot(adapter, saved_rows, name):
    catalog = mapped(adapter, saved_rows, name)
    assert schema.loads_snapshot(schema.dumps_snapshot(catalog)).tables == catalog.tables


# Filtered indexes: SQL Server's sys.indexes.filter_definition and PostgreSQL's pg_get_expr(indpred, indrelid) spell the
# predicate their own way; the catalog readers keep it normalised, so it equals what the DDL reader reads from the script.
FILTER_DDL = "CREATE TABLE T (A int, B varchar(10))\nGO\nCREATE INDEX F ON T (A) WHERE A > 0 AND B IN ('x', 'y')\nGO\n"


@pytest.mark.parametrize("adapter, platform, row, definition", [
    (mssql, "mssql", {"index_id": 2, "is_primary_key": False, "is_unique": False, "type_desc": "NONCLUSTERED", "key_ordinal": 1,
                      "index_column_id": 1, "is_included_column": False, "has_filter": True},
     "([A]>(0) AND ([B]='x' OR [B]='y'))"),
    (lab, "lab", {"indisprimary": False, "indisunique": False, "indisclustered": False, "indnkeyatts": 1, "position": 1},
     "((a > 0) AND ((b)::text = ANY ((ARRAY['x'::character varying, 'y'::character varying])::text[])))"),
])
def test_index_filter_read_from_the_catalog_equals_the_scripts(adapter, platform, row, definition):
    index_row = dict(row, table_name="T", index_name="F", column_name="A", filter_definition=definition)
    catalog = adapter.catalog_from_rows([], [index_row], [], "K2_X")
    assert catalog.tables == {}   # no columns read: the table is not there, and neither is its index
    table = schema.Table("T")
    getattr(adapter, "_add_index")(table, [index_row])
    script = read_ddl(FILTER_DDL, platform, "K2t.sql").schema.table("T")
    assert table.indexes == [schema.Index("F", ("A",), filter="A > 0 AND ( B = 'x' OR B = 'y' )")]
    assert [index.filter for index in script.indexes] == [table.indexes[0].filter]   # the lab folds unquoted names


def test_mssql_index_without_filter_has_none():
    table = schema.Table("T")
    getattr(mssql, "_add_index")(table, [{"index_name": "F", "is_primary_key": False, "is_unique": False, "type_desc": "NONCLUSTERED",
                                          "key_ordinal": 1, "index_column_id": 1, "is_included_column": False, "column_name": "A",
                                          "has_filter": False, "filter_definition": None}])
    assert table.indexes == [schema.Index("F", ("A",))]
