"""The lab generator and renderer: round trips through the DDL reader, snapshots, drift."""
from __future__ import annotations

import os
import sys

import dataclasses

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import loads_snapshot  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import KINDS, diff  # noqa: E402
from tools.k2lab import drift, render, schema_gen  # noqa: E402

PLATFORMS = ("mssql", "oracle", "lab")


@pytest.fixture(scope="module")
def company():
    return schema_gen.company_schema(200, seed=7)


def test_generator_is_deterministic_and_k2_like(company):
    again = schema_gen.company_schema(200, seed=7)
    assert render.render_ddl(company, "mssql") == render.render_ddl(again, "mssql")
    assert render.render_ddl(schema_gen.company_schema(200, seed=8), "mssql") != render.render_ddl(company, "mssql")
    tables = list(company.tables.values())
    assert len(tables) == 200
    types = set(c.type for t in tables for c in t.columns)
    assert types == {"int", "varchar", "nvarchar", "numeric", "datetime", "text", "ntext", "image"}
    assert all(t.primary_key is not None for t in tables)
    assert any(ix.include for t in tables for ix in t.indexes)
    assert sum(1 for t in tables if t.fulltext) >= 5
    names = [ix.name.upper() for t in tables for ix in t.indexes] + [t.primary_key.name.upper() for t in tables]
    assert len(names) == len(set(names)) and max(len(n) for n in names) <= 30


def test_conf_has_firmy():
    firmy = schema_gen.conf_schema().table("FIRMY")
    assert [(c.name, c.type, c.length) for c in firmy.columns] == [
        ("Cis", "int", None), ("Zkr", "varchar", 30), ("Naz", "nvarchar", 100), ("DatabaseName", "varchar", 128), ("Typ", "varchar", 10)]


def test_mssql_vendor_style(company):
    text = render.render_ddl(company, "mssql")
    assert "With NOCHECK ADD" in text and "PRIMARY KEY  NONCLUSTERED" in text and ") ON [PRIMARY]" in text
    assert "\nGO\n" in text and "TEXTIMAGE_ON [PRIMARY]" in text and "[varchar] (" in text and "[nvarchar] (max)" in text


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("which", ["company", "conf"])
def test_round_trip(platform, which, company):
    model = company if which == "company" else schema_gen.conf_schema()
    result = read_ddl(render.render_ddl(model, platform), platform, "K2t.SQL")
    assert result.problems == []
    expected = render.platform_model(model, platform)
    assert sorted(result.schema.tables) == sorted(expected.tables)
    semantics = set()
    for name, table in expected.tables.items():
        read = result.schema.tables[name]
        if platform == "oracle":  # the renderer writes VARCHAR2(n), (n CHAR) and (n BYTE) in turn; the reader keeps which
            semantics.update(c.semantics for c in read.columns if c.type == "varchar2")
            read = dataclasses.replace(read, columns=[dataclasses.replace(c, semantics=None) for c in read.columns])
        assert read == table, name
    assert semantics == ({None, "char", "byte"} if platform == "oracle" else set())


def test_lab_types(company):
    lab = render.platform_model(company, "lab")
    types = set(c.type for t in lab.tables.values() for c in t.columns)
    assert types == {"int4", "varchar", "numeric", "timestamp", "text", "bytea"}
    oracle = render.platform_model(company, "oracle")
    assert set(c.type for t in oracle.tables.values() for c in t.columns) <= {"number", "varchar2", "nvarchar2", "date", "clob", "nclob", "blob"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_snapshot_equals_read_ddl_and_clean_diff_is_empty(platform, company):
    expected = read_ddl(render.render_ddl(company, platform), platform, "K2t.SQL").schema
    live = loads_snapshot(render.catalog_snapshot(company, platform, "FIRMA", taken_at="2026-11-23T15:00:00+00:00"))
    assert live.platform == platform and live.database == "FIRMA"
    assert diff(expected, live, "FIRMA") == []


def _identities(findings):
    return sorted((f.kind, f.table.upper() if f.table else None, f.column.upper() if f.column else None,
                   f.index.upper() if f.index else None) for f in findings)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_drift_is_found_exactly(platform, seed, company):
    ddl_text, unreadable, line = drift.inject_unreadable(render.render_ddl(company, platform), platform)
    result = read_ddl(ddl_text, platform, "K2t.SQL")
    assert [p.line for p in result.problems] == [line]
    if platform == "lab":  # the lab model itself, without the JSON round trip
        live = render.platform_model(company, "lab")
    else:
        live = loads_snapshot(render.catalog_snapshot(company, platform, "FIRMA"))
    injected = drift.inject_all(live, seed=seed)
    no_filters = {"different_index_filter"} if platform == "oracle" else set()   # Oracle has no filtered indexes
    assert set(i.kind for i in injected) | {"unreadable_statement"} == set(KINDS) - no_filters
    findings = diff(result.schema, live, "FIRMA", problems=result.problems)
    assert _identities(findings) == sorted(i.identity() for i in injected + [unreadable])


def test_the_labs_own_split_gives_every_statement_of_its_ddl(company):
    from tools.k2lab import site

    text = render.render_ddl(company, "lab")
    statements = site.lab_batches(text)
    tables = list(company.tables.values())
    expected = (len(tables) + sum(1 for t in tables if t.primary_key) + sum(len(t.indexes) for t in tables)
                + sum(1 for t in tables if t.fulltext))
    assert len(statements) == expected
    assert sum(1 for s in statements if "\nCREATE TABLE" in "\n" + s) == len(tables)
    assert not any(line.strip() == "GO" for s in statements for line in s.splitlines())
