# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nothing dropped silently: every statement ends read, ignored with a reason, or a problem with its line.

Checked on every fixture script, on all fixture scripts of a dialect concatenated, and on
random mixes (hypothesis) of the statement kinds real scripts hold, with comments and
strings in awkward places. The generator knows what each statement is, so the readers are
checked against it, not against themselves.
"""

from __future__ import annotations

import glob
import io
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches in a folder; outside the tree, so that nothing it writes reaches
# the collection (ansible-test sanity copies the working tree).
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "erpops-upgrade-hypothesis"))

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.batches import split_batches
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "sql")
# What each fixture holds: tables, statements, statements ignored on purpose, problems.
EXPECTED = {
    "lab_postgres.sql": (2, 4, 1, 0),
    "mssql_2000_style.sql": (3, 18, 7, 0),
    "mssql_modern.sql": (3, 8, 3, 0),
    "oracle_objects.sql": (4, 8, 3, 0),
    "oracle_sqlplus_style.sql": (3, 22, 16, 0),
}


def _fixtures(dialect):
    return sorted(glob.glob(os.path.join(FIXTURES, dialect + "_*.sql")))


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def test_every_fixture_is_accounted_for():
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(FIXTURES, "*.sql"))) == sorted(EXPECTED)
    for name, (tables, statements, ignored, problems) in EXPECTED.items():
        dialect = name.split("_", maxsplit=1)[0]
        result = read_ddl(_read(os.path.join(FIXTURES, name)), dialect, name)
        assert (len(result.schema.tables), result.statements, len(result.ignored), len(result.problems)) == (
            tables, statements, ignored, problems), name
        assert result.accounted(), name


def test_all_fixture_scripts_of_a_dialect_concatenated():
    for dialect in ("mssql", "oracle", "lab"):
        paths = _fixtures(dialect)
        texts = [_read(p) for p in paths]
        alone = [read_ddl(t, dialect, "x") for t in texts]
        together = read_ddl("\n".join(texts), dialect, "all")
        assert together.accounted()
        assert together.statements == sum(r.statements for r in alone)
        assert sorted(together.schema.tables) == sorted(k for r in alone for k in r.schema.tables)
        for result in alone:
            for name, table in result.schema.tables.items():
                assert together.schema.tables[name] == table
        assert together.problems == []
        batches = [b.text for b in split_batches(io.StringIO("\n".join(texts)), dialect)]
        assert batches == [b.text for t in texts for b in split_batches(io.StringIO(t), dialect)]


# --------------------------------------------------------------------------- random mixes

NAMES = st.sampled_from(["a", "b2", "Cis", "Zkr", "naz_x", "Datum"])
AWKWARD = st.sampled_from([
    "", " ", "\n", "/* ; GO */", "-- it's ; GO\n", "/* a /* nested */ comment */", "\n\n  \t", "/* 'quote' \"x\" [y] */",
])


@st.composite
def statement(draw, dialect, number):
    """(text, kind) of one statement: kind is 'table', 'ignored' or 'problem'."""
    kind = draw(st.sampled_from(["table", "table", "ignored", "problem", "client"]))
    gap = draw(AWKWARD)
    if dialect == "oracle" and "/*" in gap and "nested" in gap:
        gap = "/* flat */"
    if dialect == "oracle" and "\n\n" in gap:   # a blank line would end the statement unrun (SQL*Plus)
        gap = gap.replace("\n\n", "\n")
    if kind == "table":
        columns = draw(st.lists(NAMES, min_size=1, max_size=4, unique_by=str.lower))
        body = (",%s " % gap).join("%s varchar(%d) DEFAULT 'it''s;%s' NOT NULL" % (c, 5 + i, " GO" if dialect != "oracle" else "")
                                   for i, c in enumerate(columns))
        return "CREATE TABLE t%d (%s)" % (number, body), kind, len(columns)
    if kind == "ignored":
        return draw(st.sampled_from(["INSERT INTO t VALUES ('a;b', 'GO')", "UPDATE t SET a = ';'", "GRANT SELECT ON t TO r",
                                     "DROP TABLE old_t"])), kind, 0
    if kind == "client":
        if dialect == "oracle":
            return draw(st.sampled_from(["REM it's a remark", "PROMPT don't stop", "SET ECHO ON", "@@other.sql"])), kind, 0
        return "PRINT 'it''s fine'", "ignored", 0
    return draw(st.sampled_from(["MERGE INTO t USING s ON 1 = 1", "CREATE TABLE bad (a int WHATEVER)",
                                 "ALTER TABLE nowhere ADD x int"])), kind, 0


@st.composite
def script(draw, dialect):
    count = draw(st.integers(min_value=1, max_value=12))
    parts, kinds = [], []
    for number in range(count):
        text, kind, columns = draw(statement(dialect, number))
        lead = draw(AWKWARD)
        if dialect == "oracle" and "nested" in lead:
            lead = "/* flat */ "
        if not lead.endswith("\n") and lead:
            lead += "\n"
        if kind == "client":
            ending = "\n"
        elif dialect == "oracle":
            ending = draw(st.sampled_from([";\n", "\n/\n", ";\n/\n"]))
        else:
            ending = draw(st.sampled_from(["\nGO\n", "\ngo 2\n", "\nGO -- done\n"]))
        parts.append(lead + text + ending)
        kinds.append((kind, columns, "t%d" % number))
    return "".join(parts), kinds


def _check(dialect, generated):
    text, kinds = generated
    result = read_ddl(text, dialect, "gen.sql")
    assert result.accounted()
    assert result.statements == len(kinds)
    tables = [(name, columns) for kind, columns, name in kinds if kind == "table"]
    assert sorted(result.schema.tables) == sorted(name.upper() for name, dummy in tables)
    for name, columns in tables:
        assert len(result.schema.table(name).columns) == columns
    assert len(result.problems) == sum(1 for kind, dummy, dummy2 in kinds if kind == "problem")
    assert len(result.ignored) == sum(1 for kind, dummy, dummy2 in kinds if kind in ("ignored", "client"))
    batches = list(split_batches(io.StringIO(text), dialect))
    assert len(batches) == sum(1 for kind, dummy, dummy2 in kinds if kind != "client" or dialect != "oracle")


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(script("mssql"))
def test_random_mssql_scripts_drop_nothing(generated):
    _check("mssql", generated)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(script("oracle"))
def test_random_oracle_scripts_drop_nothing(generated):
    _check("oracle", generated)


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(script("lab"))
def test_random_lab_scripts_drop_nothing(generated):
    _check("lab", generated)
