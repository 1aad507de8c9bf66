# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readers' fast paths give exactly what the token path gives.

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
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "erpops-upgrade-hypothesis"))

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import batches, lexer

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "sql")


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
              "--", "-- it's\n", "-", "/", ";", "N'", "\t"],
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
