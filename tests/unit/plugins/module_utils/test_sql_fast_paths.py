# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readers' fast paths give exactly what the token path gives.

The DDL reader reads common SQL Server statements with whole-statement patterns
(``ddl_fast``); with ``fast=False`` every statement goes through the token parser. Both
must give the same result (schema, sources, problems, ignored statements, counts) on every
fixture, on the benchmark's generated script, on statements made to miss the patterns'
certainty, and on random mixes.

The GO splitter scans with one compiled pattern (``lexer.go_scan_pattern``); the reference
here finds the GO lines with the DDL reader's tokenizer (``lexer.token_pattern``), token by
token, and cuts the same text into batches with the splitter's own rule for blank and
comment-only batches. Both must agree on every fixture script and on random scripts made
of the pieces that trouble a splitter (quotes, brackets, nested comments, GO lines with
counts and comments, dollar quotes), at any chunk size, including the errors and their lines.
"""

from __future__ import annotations

import glob
import io
import os
import re
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "erpops-upgrade-hypothesis"))

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import batches, ddl, lexer
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl
from tools.k2lab import render, schema_gen

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "sql")


# sqlcmd's colon commands (go-sqlcmd commands.go, sqlcmd's documentation), written again here from the sources
SQLCMD_LINE = re.compile(r"[ \t]*(?::?!!|:(?:exit|quit)(?![^ \t\n(])"
                         r"|:(?:setvar|r|on[ \t]+error|out|error|listvar|reset|list|connect|xml|ed|help|serverlist|perftrace)(?![^ \t\n]))",
                         re.IGNORECASE)
QUOTES = (lexer.STRING, lexer.QUOTED, lexer.BRACKET)


def sqlcmd_use(text, match, kind):
    """Where a token makes the script one for sqlcmd: a command line it starts, a "$(" in it or right after it."""
    at, end = match.start(kind), match.end(kind)
    line_start = text.rfind("\n", 0, at) + 1
    if not text[line_start:at].strip(" \t") and SQLCMD_LINE.match(text, line_start):
        return at
    if kind in QUOTES or kind == lexer.OPEN:   # an open quote runs to the end of the script
        variable = text.find("$(", at, end if kind != lexer.OPEN else len(text))
        if variable >= 0:
            return variable
    if kind in (lexer.WORD, lexer.OTHER) and match.group(kind).endswith("$") and text.startswith("(", end):
        return end - 1
    return None


def token_path_batches(text, dialect):
    """Batches cut at the GO lines the tokenizer finds: [(text, index, line, count)] or ('error', line)."""
    pattern = lexer.token_pattern(dialect, statement_start=False)
    segments = []   # (start, end, count) of the text between GO lines
    pos = start = 0
    while True:
        match = pattern.match(text, pos)
        kind = match.lastindex
        if kind is None:
            break
        value = match.group(kind)
        if dialect == "mssql" and kind not in (lexer.SEPARATOR, lexer.COMMENT, lexer.SPECIAL):
            used = sqlcmd_use(text, match, kind)
            if used is not None:
                return ("error", text.count("\n", 0, used) + 1)
        if kind == lexer.SEPARATOR:
            line = text.count("\n", 0, match.start(kind)) + 1
            try:
                count = lexer.go_count(value[2:] or None, line)
            except lexer.GoCountError as exc:
                return ("error", exc.line)
            segments.append((start, match.start(kind), count))
            start = pos = min(len(text), match.end() + 1)
            continue
        if kind == lexer.SPECIAL:
            end = lexer._close_special(text, value, match.end(kind), nested=True)  # pylint: disable=protected-access
            if end < 0:
                return ("error", text.count("\n", 0, match.start(kind)) + 1)
            pos = end
            continue
        if kind == lexer.OPEN:
            return ("error", text.count("\n", 0, match.start(kind)) + 1)
        pos = match.end()
    segments.append((start, len(text), 1))
    result = []
    for begin, end, count in segments:
        line = text.count("\n", 0, begin) + 1
        batch = batches._go_batch(text[begin:end], line, len(result) + 1, count)  # pylint: disable=protected-access
        if batch is not None:
            result.append(tuple(batch))
    return result


def fast_path_batches(text, dialect):
    try:
        return [tuple(b) for b in batches.split_batches(io.StringIO(text), dialect)]
    except batches.BatchSyntaxError as exc:
        return ("error", exc.line)


def test_fixture_scripts_split_alike():
    paths = sorted(glob.glob(os.path.join(FIXTURES, "mssql_*.sql")) + glob.glob(os.path.join(FIXTURES, "lab_*.sql")))
    assert len(paths) >= 3
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        dialect = os.path.basename(path).split("_", maxsplit=1)[0]
        expected = token_path_batches(text, dialect)
        assert len(expected) > 3, path
        assert fast_path_batches(text, dialect) == expected, path


@pytest.mark.parametrize("text", [
    "SELECT 1\nGO\nGO\n  go 2\nSELECT 'x\nGO\n'\nGO",
    "/* a /* b\nGO\n*/ c */ SELECT [x]]\nGO\n]\nGO 3 -- three\n",
    "SELECT \"a\"\"\nGO\n\"\n-- it's\nGO\n\nGO x\n",
])
def test_known_awkward_scripts_split_alike(text):
    assert fast_path_batches(text, "mssql") == token_path_batches(text, "mssql")


PIECES = {
    "mssql": ["\nGO\n", "\ngo 2\n", "\nGO -- c\n", "\n  GO\t3 x\n", "\nGO x\n", "\nGOTO l\n", "GO", "\n", " ", "x", "SELECT 1",
              "'", "''", "'it''s'", '"', '"a"', "[", "]", "]]", "[a]]b]", "/*", "*/", "/* c */", "/* a /* b */ c */",
              "--", "-- it's\n", "-", "/", ";", "N'", "\t",
              "\n:setvar v 1\n", ":r f", "\n  :On Error exit\n", "!!", "$(", "$(v)", "'$(v)'", "$", ":", "::", "\n:x\n", "x$"],
    "lab": ["\nGO\n", "\ngo 2\n", "\nGO -- c\n", "\nGO 0\n", "GO", "\n", " ", "x", "'", "''", '"', "[", "]", "/*", "*/",
            "/* a /* b */ c */", "--", "-- x\n", "$$", "$a$", "$1", "a$", "$$ GO\n $$", "-", "/"],
}


@st.composite
def random_script(draw, dialect):
    return "".join(draw(st.lists(st.sampled_from(PIECES[dialect]), max_size=40)))


def _agree(text, dialect, chunk, monkeypatch):
    expected = token_path_batches(text, dialect)
    monkeypatch.setattr(batches, "CHUNK_CHARS", chunk)
    assert fast_path_batches(text, dialect) == expected, (text, chunk)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                 HealthCheck.function_scoped_fixture])
@given(random_script("mssql"), st.sampled_from([1, 3, 8, 64, 1 << 20]))
def test_random_mssql_scripts_split_alike(monkeypatch, text, chunk):
    _agree(text, "mssql", chunk, monkeypatch)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                 HealthCheck.function_scoped_fixture])
@given(random_script("lab"), st.sampled_from([1, 5, 64, 1 << 20]))
def test_random_lab_scripts_split_alike(monkeypatch, text, chunk):
    _agree(text, "lab", chunk, monkeypatch)


# --------------------------------------------------------------------------- DDL reader

def _same_reading(text, name="t.sql"):
    fast = read_ddl(text, "mssql", name)
    slow = read_ddl(text, "mssql", name, fast=False)
    assert fast == slow, text[:2000]
    assert fast.accounted()
    return fast


def test_ddl_fixture_scripts_read_alike():
    for path in sorted(glob.glob(os.path.join(FIXTURES, "mssql_*.sql"))):
        with open(path, encoding="utf-8") as handle:
            _same_reading(handle.read(), os.path.basename(path))


def test_ddl_benchmark_script_reads_alike_and_mostly_fast(monkeypatch):
    model = schema_gen.company_schema(150, seed=3)
    text = render.render_ddl(model, "mssql")
    result = _same_reading(text)
    assert len(result.schema.tables) == 150 and result.problems == []
    token_parsed = []
    real = ddl._Reader.read_fast  # pylint: disable=protected-access

    def counting(self, first, end, line):
        done = real(self, first, end, line)
        if not done:
            token_parsed.append(line)
        return done
    monkeypatch.setattr(ddl._Reader, "read_fast", counting)  # pylint: disable=protected-access
    read_ddl(text, "mssql", "t.sql")
    assert len(token_parsed) <= 2, token_parsed   # only the catalog's "if not exists ... CREATE" batch


@pytest.mark.parametrize("text", [
    # each must stay with the token parser, and read the same
    "CREATE TABLE [t] ([a] [int] DEFAULT (0) DEFAULT (1) NOT NULL)\nGO\n",
    "CREATE TABLE [t] ([a] [int] NOT NULL)\nGO\nCREATE TABLE [T] ([b] [int])\nGO\n",
    "CREATE TABLE [t] ([a] [int], [A] [int])\nGO\n",
    "CREATE TABLE [t] ([a] [double] precision, [b] [xml] (5), [c] [char] varying (3))\nGO\n",
    "CREATE TABLE [t] ([a] [int])\nGO\nALTER TABLE [t] ADD CONSTRAINT [pk] PRIMARY KEY ([x])\nGO\n",
    "CREATE TABLE [t] ([a] [int])\nGO\nALTER TABLE [t] ADD CONSTRAINT [pk] PRIMARY KEY ([a]) , CONSTRAINT [d] DEFAULT (1) FOR [z]\nGO\n",
    "ALTER TABLE [nowhere] ADD CONSTRAINT [pk] PRIMARY KEY ([a])\nGO\n",
    "CREATE TABLE [t] ([a] [int])\nGO\nCREATE INDEX [i] ON [t] ([a])\nGO\nCREATE INDEX [I] ON [t] ([a])\nGO\n",
    "CREATE TABLE [t] ([a] [int]);CREATE TABLE [u] ([b] [int])\nGO\n",
    "if exists (select 1)\nCREATE TABLE [t] ([a] [int])\nGO\n",
    "SET NOCOUNT ON; SELECT 1\nGO\nEXEC sp_fulltext_table 'x'\nGO\nPRINT 'it''s'\nGO 0\nSELECT 2\n",
    "/* a /* nested */ */ CREATE TABLE [t] ([a] [int])\nGO\nCREATE TABLE [u] ([b] [int])\nGO\n",
    "CREATE TABLE [t] ([a] [int] -- note\n, [b] [int])\nGO\nCREATE TABLE [u] ([a]]b] [int])\nGO\n",
])
def test_ddl_awkward_statements_read_alike(text):
    _same_reading(text)


DDL_PIECES = [
    "CREATE TABLE [dbo].[T%d] (\n\t[Cis] [int] NOT NULL ,\n\t[Zkr] [varchar] (10) COLLATE Czech_CI_AS NULL ,\n"
    "\t[Cena] [numeric] (19, 6) CONSTRAINT [DF_%d] DEFAULT ((0)) NOT NULL\n) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]",
    "CREATE TABLE [T%d] ([Id] [int] IDENTITY (1, 1) NOT NULL, [Naz] nvarchar(max) NULL, [D] [datetime] DEFAULT (getdate()),)",
    "CREATE TABLE [T%d] ([a] [int] NOT NULL, [a] [int])",
    "ALTER TABLE [dbo].[T%d] With NOCHECK ADD\n\tCONSTRAINT [PK_%d] PRIMARY KEY  NONCLUSTERED\n\t(\n\t\t[Cis]\n\t)  ON [PRIMARY]",
    "ALTER TABLE [T%d] ADD CONSTRAINT [PK_%d] PRIMARY KEY CLUSTERED ([Id] ASC) , CONSTRAINT [DF_x%d] DEFAULT (1) FOR [Naz]",
    "CREATE UNIQUE NONCLUSTERED INDEX [I_%d] ON [dbo].[T%d]\n([Zkr] ASC, [Cis] DESC)\nWITH (FILLFACTOR = 90) ON [PRIMARY]",
    "CREATE INDEX [J_%d] ON [T%d] ([Naz]) INCLUDE ([Id])",
    "CREATE FULLTEXT INDEX ON [dbo].[T%d] ([Zkr] LANGUAGE 1029) KEY INDEX [PK_%d] ON [K2FullText] WITH CHANGE_TRACKING AUTO",
    "if exists (select * from dbo.sysobjects where id = object_id(N'[dbo].[T%d]'))\ndrop table [dbo].[T%d]",
    "SET ANSI_NULLS ON", "PRINT 'T%d; it''s'", "DROP TABLE [T%d]", "CREATE VIEW v%d AS SELECT 1 AS [x]",
    "/* comment %d */", "-- line %d", "MERGE T%d", "CREATE TABLE [T%d] ([a] [int] WHATEVER)",
]
DDL_JOINS = ["\nGO\n", "\n\nGO\n\n", "\ngo 2\n", "\nGO -- x\n", ";\n", "\n", " ;", "\nGO\n/* c */\n"]


@st.composite
def random_ddl_script(draw):
    parts = []
    for number in range(draw(st.integers(min_value=1, max_value=14))):
        piece = draw(st.sampled_from(DDL_PIECES))
        table = draw(st.integers(min_value=0, max_value=3))
        parts.append(piece.replace("%d", str(table)) if "%d" in piece else piece)
        parts.append(draw(st.sampled_from(DDL_JOINS)))
        if draw(st.booleans()):
            parts.append(str(number))   # text that joins a statement or makes one unreadable
    return "".join(parts)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_ddl_script())
def test_random_ddl_scripts_read_alike(text):
    _same_reading(text)
