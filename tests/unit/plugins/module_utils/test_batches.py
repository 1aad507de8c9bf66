# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batch splitting: every sqlcmd GO rule, Oracle / and ;, encodings, checksums."""

from __future__ import annotations

import io

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import batches as mod
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.batches import (
    BatchSyntaxError, file_checksum, open_script, split_batches, summarize, text_checksum)


def split(text, dialect="mssql"):
    return list(split_batches(io.StringIO(text), dialect))


def texts(text, dialect="mssql"):
    return [b.text for b in split(text, dialect)]


# --------------------------------------------------------------------------- GO rules

def test_go_alone_splits_and_records_index_line_count():
    result = split("SELECT 1\nGO\nSELECT 2\nGO\n")
    assert [(b.text, b.index, b.line, b.count) for b in result] == [("SELECT 1", 1, 1, 1), ("SELECT 2", 2, 3, 1)]


@pytest.mark.parametrize("separator", ["go", "Go", "gO", "GO", "  GO", "\tGO", "GO   ", "GO\t"])
def test_go_any_case_and_surrounding_whitespace(separator):
    assert texts("SELECT 1\n%s\nSELECT 2" % separator) == ["SELECT 1", "SELECT 2"]


@pytest.mark.parametrize("line, count", [("GO 3", 3), ("go 2", 2), ("Go 3", 3), ("GO\t4", 4), ("GO  10  ", 10),
                                         ("GO 3 -- three times", 3), ("GO -- comment", 1), ("GO --", 1),
                                         # go-sqlcmd reads the count with Sscanf("%d"): text after it is ignored
                                         ("GO 3 4", 3), ("GO 2 x", 2), ("GO 5;", 5), ("GO +2", 2)])
def test_go_count_and_trailing_comment(line, count):
    result = split("INSERT INTO t VALUES (1)\n%s\nSELECT 2\n" % line)
    assert [(b.text, b.count) for b in result] == [("INSERT INTO t VALUES (1)", count), ("SELECT 2", 1)]


@pytest.mark.parametrize("line", ["GO 0", "GO x", "GO /* c */", "GO ;", "GO -1", "GO x 3"])
def test_invalid_go_command_is_an_error_with_line(line):
    with pytest.raises(BatchSyntaxError) as info:
        split("SELECT 1\n\n%s\nSELECT 2\n" % line)
    assert info.value.line == 3


@pytest.mark.parametrize("line", ["GO;", "GOTO label", "GO1", "GO3", "GO--x", "GOx", "GO.x", "SELECT 1 GO", "x GO"])
def test_not_a_separator(line):
    text = "SELECT 1\n%s\nSELECT 2" % line
    assert texts(text) == [text]


def test_go_inside_single_quoted_string_across_lines():
    text = "INSERT INTO t VALUES ('line 1\nGO\nline 3')\nGO\nSELECT 2"
    assert texts(text) == ["INSERT INTO t VALUES ('line 1\nGO\nline 3')", "SELECT 2"]


def test_escaped_quotes_do_not_end_the_string():
    text = "SELECT 'it''s\nGO\n''still'' inside'\nGO\nSELECT 2"
    assert texts(text) == ["SELECT 'it''s\nGO\n''still'' inside'", "SELECT 2"]


def test_go_inside_double_quotes_and_brackets():
    text = 'SELECT "a""\nGO\nb" AS x, [c]]\nGO\nd] FROM t\nGO\nSELECT 2'
    assert texts(text) == ['SELECT "a""\nGO\nb" AS x, [c]]\nGO\nd] FROM t', "SELECT 2"]


def test_quote_characters_inside_brackets_and_brackets_inside_strings():
    text = "SELECT [it's] FROM t\nGO\nSELECT '[' AS x\nGO\nSELECT \"'\"\nGO\n"
    assert texts(text) == ["SELECT [it's] FROM t", "SELECT '[' AS x", "SELECT \"'\""]


def test_go_inside_block_comment_across_lines():
    text = "/* header\nGO\n*/\nSELECT 1\nGO\nSELECT 2"
    assert texts(text) == ["/* header\nGO\n*/\nSELECT 1", "SELECT 2"]


def test_block_comments_nest_like_the_server():
    text = "/* outer /* inner */\nGO\nstill comment */\nSELECT 1\nGO\nSELECT 2"
    assert texts(text) == ["/* outer /* inner */\nGO\nstill comment */\nSELECT 1", "SELECT 2"]


def test_line_comment_hides_quotes_and_comment_openers():
    text = "SELECT 1 -- it's /* not a comment start\nGO\nSELECT 2"
    assert texts(text) == ["SELECT 1 -- it's /* not a comment start", "SELECT 2"]


def test_go_after_a_closed_comment_on_the_same_line_is_text():
    text = "/* c */ GO\nSELECT 1"
    assert texts(text) == [text]


def test_quotes_in_comments_are_ignored():
    text = "/* don't */ SELECT 1\nGO\nSELECT 2"
    assert texts(text) == ["/* don't */ SELECT 1", "SELECT 2"]


def test_trailing_go_without_newline_and_no_trailing_go():
    assert texts("SELECT 1\nGO") == ["SELECT 1"]
    assert texts("SELECT 1\nGO\nSELECT 2") == ["SELECT 1", "SELECT 2"]
    assert texts("SELECT 1") == ["SELECT 1"]


def test_empty_and_comment_only_batches_are_dropped_and_indexes_stay_dense():
    result = split("GO\n\n  \nGO\n-- nothing here\n/* nor here */\nGO\nSELECT 1\nGO\nGO 3\nSELECT 2\n")
    assert [(b.text, b.index, b.line) for b in result] == [("SELECT 1", 1, 8), ("SELECT 2", 2, 11)]


def test_crlf_line_endings():
    result = split("SELECT 1\r\nGO\r\nSELECT 'a\r\nGO\r\nb'\r\ngo 2\r\n")
    assert [(b.text, b.line, b.count) for b in result] == [("SELECT 1", 1, 1), ("SELECT 'a\nGO\nb'", 3, 2)]


def test_bom_in_text_stream_is_ignored():
    assert texts("\ufeffSELECT 1\nGO\n") == ["SELECT 1"]


def test_line_numbers_skip_leading_blank_lines_but_keep_leading_comments():
    result = split("SELECT 1\nGO\n\n\n-- about t\nCREATE TABLE t (a int)\n\nGO\n")
    assert [(b.text, b.line) for b in result] == [("SELECT 1", 1), ("-- about t\nCREATE TABLE t (a int)", 5)]


@pytest.mark.parametrize("dialect, text, line, what", [
    ("mssql", "SELECT 1\nGO\nSELECT 'a\nGO\nSELECT 2\n", 3, "unterminated string"),
    ("mssql", "SELECT 1\nGO\n\nSELECT [a\nGO\n", 4, "unterminated bracketed name"),
    ("mssql", "SELECT 1\nGO\n/* footer /* inner */\n", 3, "unterminated /* comment"),
    ("mssql", 'SELECT "a\n', 1, "unterminated quoted name"),
    ("lab", "SELECT 1\nGO\nSELECT $x$ a\nGO\n", 3, "unterminated dollar-quoted string $x$"),
    ("oracle", "SELECT 1 FROM dual;\n/* open\n", 2, "unterminated /* comment"),
    ("oracle", "SELECT 1 FROM dual;\nSELECT q'[a' FROM dual;\n", 2, "unterminated q-quoted string"),
])
def test_open_quote_or_comment_at_the_end_is_an_error_with_its_line(dialect, text, line, what):
    # sqlcmd would send the rest and the server would reject it: we refuse the script before anything runs.
    with pytest.raises(BatchSyntaxError) as info:
        split(text, dialect)
    assert info.value.line == line and what in str(info.value)


def test_chunk_boundaries_do_not_matter(monkeypatch):
    script = "".join("SELECT 'x%d\nGO\n' /* c\nGO\n*/ , [a\nGO\n]\nGO %d\n" % (i, i % 3 + 1) for i in range(50))
    expected = [(b.text, b.line, b.count) for b in split(script)]
    assert len(expected) == 50
    for size in (1, 2, 3, 7, 64):
        monkeypatch.setattr(mod, "CHUNK_CHARS", size)
        assert [(b.text, b.line, b.count) for b in split(script)] == expected


def test_chunk_boundaries_oracle(monkeypatch):
    script = "".join("INSERT INTO t VALUES (q'[a;\n/\n]');\nBEGIN\n  NULL; -- x\nEND;\n/\n/* ; */ SELECT 1 FROM dual;\n"
                     for dummy in range(20))
    expected = [(b.text, b.line) for b in split(script, "oracle")]
    assert len(expected) == 60
    for size in (1, 5, 33):
        monkeypatch.setattr(mod, "CHUNK_CHARS", size)
        assert [(b.text, b.line) for b in split(script, "oracle")] == expected


def test_vendor_layout_from_the_seed():
    script = ("CREATE TABLE [dbo].[FILTERSTOCKTAKINGARTICLE] (\n\n[Zkr] [varchar] (30) NOT NULL,\n\n"
              "[Naz] [varchar] (200) NOT NULL\n\n)\n\nGO\n\nALTER TABLE [dbo].[FILTERSTOCKTAKINGARTICLE] With NOCHECK ADD\n\n"
              "CONSTRAINT [FSTTA_ById] PRIMARY KEY NONCLUSTERED\n\n([FUzivatel], [Cis]) ON [PRIMARY]\n\nGO\n")
    result = split(script)
    assert [b.line for b in result] == [1, 11]
    assert result[1].text.startswith("ALTER TABLE [dbo].[FILTERSTOCKTAKINGARTICLE]")
    assert result[1].text.endswith("ON [PRIMARY]")


# --------------------------------------------------------------------------- lab (PostgreSQL with GO)

def test_lab_uses_go_and_dollar_quotes():
    text = "CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN\nGO\nEND $body$ LANGUAGE plpgsql\nGO\nSELECT $$\nGO\n$$\nGO 2\n"
    result = split(text, "lab")
    assert [(b.text, b.count) for b in result] == [
        ("CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN\nGO\nEND $body$ LANGUAGE plpgsql", 1), ("SELECT $$\nGO\n$$", 2)]


def test_lab_brackets_are_array_subscripts_and_dollar_params_are_text():
    text = "SELECT a[1], $1, x$y FROM t\nGO\nSELECT '['\nGO\n"
    assert texts(text, "lab") == ["SELECT a[1], $1, x$y FROM t", "SELECT '['"]


def test_lab_nested_comments():
    assert texts("/* a /* b */\nGO\n*/ SELECT 1\nGO\n", "lab") == ["/* a /* b */\nGO\n*/ SELECT 1"]


# --------------------------------------------------------------------------- Oracle

def test_oracle_semicolon_ends_statements_and_is_dropped():
    result = split("CREATE TABLE t (a NUMBER);\nINSERT INTO t VALUES (1); INSERT INTO t VALUES (2);\n", "oracle")
    assert [(b.text, b.line) for b in result] == [
        ("CREATE TABLE t (a NUMBER)", 1), ("INSERT INTO t VALUES (1)", 2), ("INSERT INTO t VALUES (2)", 2)]


def test_oracle_slash_line_ends_a_statement_without_semicolon():
    result = split("CREATE TABLE t (a NUMBER)\n  /  \nSELECT 1 FROM dual\n/\n", "oracle")
    assert [(b.text, b.line) for b in result] == [("CREATE TABLE t (a NUMBER)", 1), ("SELECT 1 FROM dual", 3)]


def test_oracle_slash_after_semicolon_runs_nothing_twice():
    assert texts("INSERT INTO t VALUES (1);\n/\n", "oracle") == ["INSERT INTO t VALUES (1)"]


@pytest.mark.parametrize("head", [
    "BEGIN", "DECLARE\n  x NUMBER;\nBEGIN", "CREATE PROCEDURE p IS\nBEGIN", "create or replace procedure p is\nbegin",
    "CREATE OR REPLACE FUNCTION f RETURN NUMBER IS\nBEGIN", "CREATE OR REPLACE PACKAGE BODY pk IS\nPROCEDURE q IS\nBEGIN",
    "CREATE OR REPLACE\n  TRIGGER trg BEFORE INSERT ON t FOR EACH ROW\nBEGIN", "CREATE OR REPLACE TYPE BODY ty IS\nMEMBER PROCEDURE m IS\nBEGIN",
    "CREATE OR REPLACE EDITIONABLE PACKAGE pk AS\nPROCEDURE q;\nPROCEDURE r;\n--", "/* lead */ -- lead\nBEGIN"])
def test_oracle_plsql_units_stay_whole_until_slash(head):
    unit = "%s\n  NULL;\n  UPDATE t SET a = 1;\nEND;" % head
    result = split("%s\n/\nSELECT 1 FROM dual;\n" % unit, "oracle")
    expected_unit = unit[unit.index("BEGIN") if head.startswith("/*") else 0:]
    assert [b.text for b in result] == [expected_unit, "SELECT 1 FROM dual"]


def test_oracle_plsql_unit_at_end_of_file_without_slash():
    assert texts("BEGIN\n  NULL;\nEND;\n", "oracle") == ["BEGIN\n  NULL;\nEND;"]


def test_oracle_create_or_replace_view_is_not_plsql():
    assert texts("CREATE OR REPLACE VIEW v AS SELECT 1 x FROM dual;\nSELECT 2 FROM dual;", "oracle") == [
        "CREATE OR REPLACE VIEW v AS SELECT 1 x FROM dual", "SELECT 2 FROM dual"]


def test_oracle_semicolons_and_slashes_in_quotes_and_comments():
    text = ("INSERT INTO t VALUES ('a;b\n/\nc', \"x;y\"); -- not; here\n/* ;\n/\n*/ INSERT INTO t VALUES (1);\n")
    assert texts(text, "oracle") == ["INSERT INTO t VALUES ('a;b\n/\nc', \"x;y\")", "INSERT INTO t VALUES (1)"]


@pytest.mark.parametrize("literal", ["q'[it's; ok]'", "Q'{a;\n/\nb}'", "q'(x)'", "q'<;>'", "q'!a;'!'", "nq'[;]'", "NQ'#;#'"])
def test_oracle_q_quotes(literal):
    assert texts("SELECT %s FROM dual;\nSELECT 2 FROM dual;" % literal, "oracle") == [
        "SELECT %s FROM dual" % literal, "SELECT 2 FROM dual"]


def test_oracle_identifier_ending_in_q_is_not_a_q_quote():
    assert texts("SELECT seq'a;' FROM dual;\nSELECT 2 FROM dual;", "oracle") == ["SELECT seq'a;' FROM dual", "SELECT 2 FROM dual"]


def test_oracle_doubled_quotes_and_comment_only_statements():
    assert texts("SELECT 'it''s;' FROM dual;\n-- trailing comment\n", "oracle") == ["SELECT 'it''s;' FROM dual"]


def test_oracle_block_comments_do_not_nest():
    assert texts("/* a /* b */ SELECT 1 FROM dual;", "oracle") == ["SELECT 1 FROM dual"]


def test_oracle_leading_comments_dropped_and_line_points_at_the_statement():
    result = split("SELECT 1 FROM dual; -- one\n\n-- two\nSELECT 2 FROM dual;\n", "oracle")
    assert [(b.text, b.line) for b in result] == [("SELECT 1 FROM dual", 1), ("SELECT 2 FROM dual", 4)]


def test_unknown_dialect():
    with pytest.raises(ValueError):
        split("SELECT 1", "sybase")


def test_binary_stream_is_refused_with_a_hint():
    with pytest.raises(TypeError, match="open_script"):
        list(split_batches(io.BytesIO(b"SELECT 1"), "mssql"))


# --------------------------------------------------------------------------- encodings

CZECH = "SELECT N'Příliš žluťoučký kůň' -- ěščřžýáíé\nGO\n"


@pytest.mark.parametrize("data, encoding", [
    (b"\xef\xbb\xbf" + CZECH.encode("utf-8"), "utf-8-sig"),
    (CZECH.encode("utf-8"), "utf-8"),
    (CZECH.encode("cp1250"), "cp1250"),
    (b"\xff\xfe" + CZECH.encode("utf-16-le"), "utf-16"),
    (b"\xfe\xff" + CZECH.encode("utf-16-be"), "utf-16"),
    (CZECH.encode("utf-32"), "utf-32"),
])
def test_open_script_detects_encoding(data, encoding):
    stream = open_script(io.BytesIO(data))
    assert stream.encoding == encoding
    assert [b.text for b in split_batches(stream, "mssql")] == ["SELECT N'Příliš žluťoučký kůň' -- ěščřžýáíé"]


def test_open_script_crlf_and_bom():
    stream = open_script(io.BytesIO(b"\xef\xbb\xbfSELECT 1\r\nGO\r\nSELECT 2\r\n"))
    assert [(b.text, b.line) for b in split_batches(stream, "mssql")] == [("SELECT 1", 1), ("SELECT 2", 3)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 1 << 20])
def test_open_script_line_ends_at_any_chunk_boundary(monkeypatch, chunk):
    """open_script's stream is read untranslated and split_batches turns CRLF and CR into LF itself."""
    monkeypatch.setattr(mod, "CHUNK_CHARS", chunk)
    data = b"SELECT 1\r\nGO\r\nSELECT 'a\r\nb'\rGO\rSELECT 3\n\r\nGO 2\r\n"
    stream = open_script(io.BytesIO(data))
    assert [(b.text, b.line, b.count) for b in split_batches(stream, "mssql")] == [
        ("SELECT 1", 1, 1), ("SELECT 'a\nb'", 3, 1), ("SELECT 3", 6, 2)]
    universal = open_script(io.BytesIO(data))
    assert universal.read() == data.decode("ascii").replace("\r\n", "\n").replace("\r", "\n")


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8-sig", b""), ("utf-8", b"\xef\xbb\xbf"),
                                           ("cp1250", b""), ("utf-16-le", b"\xff\xfe")])
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_open_script_cuts_multibyte_text_at_line_ends_only(monkeypatch, encoding, bom, chunk):
    """Bytes are cut at line ends before decoding: no letter is split, whatever the chunk size."""
    monkeypatch.setattr(mod, "CHUNK_CHARS", chunk)
    text = "SELECT N'Příliš\r\nžluťoučký'\r\nGO\rSELECT N'kůň' -- ěščř\r\n\nGO 2\r\n\ufeffSELECT 3"
    if encoding == "cp1250":
        text = text.replace("\ufeff", "")
    data = bom + text.encode(encoding)
    stream = open_script(io.BytesIO(data))
    assert [(b.text, b.line, b.count) for b in split_batches(stream, "mssql")] == [
        ("SELECT N'Příliš\nžluťoučký'", 1, 1), ("SELECT N'kůň' -- ěščř", 4, 2),
        (("\ufeff" if encoding != "cp1250" else "") + "SELECT 3", 7, 1)]


def test_open_script_read_before_splitting_keeps_universal_newlines():
    stream = open_script(io.BytesIO(b"-- head\r\nSELECT 1\r\nGO\rSELECT 2\r"))
    assert stream.readline() == "-- head\n"
    assert [(b.text, b.line) for b in split_batches(stream, "mssql")] == [("SELECT 1", 1), ("SELECT 2", 3)]


def test_cp1250_letter_after_a_long_ascii_prefix_is_detected_on_a_seekable_stream(monkeypatch):
    monkeypatch.setattr(mod, "SNIFF_BYTES", 16)
    data = b"SELECT 1\nGO\n" * 10 + "SELECT 'kůň'\n".encode("cp1250")
    stream = open_script(io.BytesIO(data))
    assert stream.encoding == "cp1250"
    assert list(split_batches(stream, "mssql"))[-1].text == "SELECT 'kůň'"


class _Pipe(io.RawIOBase):
    """A byte stream that cannot seek."""

    def __init__(self, data):
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(min(len(buffer), 5))
        buffer[:len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1250"])
def test_open_script_on_a_stream_that_cannot_seek(encoding):
    stream = open_script(_Pipe(CZECH.encode(encoding)))
    assert stream.encoding == encoding
    assert stream.read() == CZECH


def test_open_script_from_a_path(tmp_path):
    path = tmp_path / "K2_D2020.sql"
    path.write_bytes("SELECT 'ž'\nGO\n".encode("cp1250"))
    with open_script(str(path)) as stream:
        assert [b.text for b in split_batches(stream, "mssql")] == ["SELECT 'ž'"]


@pytest.mark.parametrize("data, complete, expected", [
    (b"abc", True, "utf-8"), ("ž".encode("utf-8")[:1], False, "utf-8"), ("ž".encode("utf-8")[:1], True, "cp1250"),
    (b"\x9e", True, "cp1250"), (b"\xef\xbb\xbfx", True, "utf-8-sig")])
def test_detect_encoding_on_a_prefix(data, complete, expected):
    assert mod.detect_encoding(data, complete) == expected


# --------------------------------------------------------------------------- checksums

def test_batch_checksum_ignores_line_endings_and_trailing_whitespace_only():
    lf = split("SELECT 1  \nFROM t\nGO\n")[0]
    crlf = split("SELECT 1\r\nFROM t \r\nGO\r\n")[0]
    other = split("SELECT 1\nFROM u\nGO\n")[0]
    assert lf.checksum == crlf.checksum == text_checksum("SELECT 1\nFROM t")
    assert lf.checksum != other.checksum
    assert len(lf.checksum) == 64


def test_file_checksum_covers_text_order_and_counts_not_blank_lines():
    base = file_checksum(split("SELECT 1\nGO\nSELECT 2\nGO\n"))
    assert base == file_checksum(split("\n\nSELECT 1\nGO\n\n\nSELECT 2\nGO"))
    assert base != file_checksum(split("SELECT 2\nGO\nSELECT 1\nGO\n"))
    assert base != file_checksum(split("SELECT 1\nGO 2\nSELECT 2\nGO\n"))
    assert base != file_checksum(split("SELECT 1\nGO\nSELECT 3\nGO\n"))


def test_summarize_matches_the_batches():
    script = "SELECT 1\nGO 2\nSELECT 2\n"
    summary = summarize(io.StringIO(script), "mssql")
    full = split(script)
    assert [(s.index, s.line, s.count, s.checksum) for s in summary.batches] == [
        (b.index, b.line, b.count, b.checksum) for b in full]
    assert summary.checksum == file_checksum(full)


def test_splitting_is_lazy():
    class Endless(io.TextIOBase):
        def read(self, size=-1):
            return "SELECT 1\nGO\n" * 1000

        def readline(self, size=-1):
            return ""

    first = next(iter(split_batches(Endless(), "mssql")))
    assert first.text == "SELECT 1"


# --------------------------------------------------------------------------- the lab's conversion scripts

def _konverze():
    from ansible_collections.erpops.upgrade.tools.k2lab.konverze import render_conversions  # pylint: disable=import-outside-toplevel
    return render_conversions


@pytest.mark.parametrize("platform, token", [("mssql", ""), ("oracle", "Ora"), ("lab", "Lab")])
def test_lab_conversion_scripts_split_into_the_intended_batches(platform, token):
    render = _konverze()
    additions = [{"table": "FIRMY", "column": "NOVE", "type": "varchar(30)"},
                 {"table": "CONF_T", "column": "X", "type": "numeric(19,4)", "db": "C", "version": "2020"}]
    plain = render(platform, ["2020", "2021"], additions)
    assert sorted(plain) == sorted("K2_%s%s%s%s.sql" % (k, v, token, a) for k in "CD" for v in ("2020", "2021")
                                   for a in ("", "Additional"))
    failing_name = "K2_D2021%s.sql" % token
    failing = render(platform, ["2020", "2021"], additions, failing=[failing_name])
    one_time = split(plain[failing_name], platform)
    broken = split(failing[failing_name], platform)
    assert len(one_time) == 5 and len(broken) == 6
    assert [b.text for b in broken if "K2LAB_OPRAVA" in b.text and "INSERT" in b.text] == [broken[3].text]
    assert "K2LAB_OPRAVA" not in "".join(b.text for b in one_time)
    marker = [b for b in one_time if "VALUES (" in b.text and ", 2, " in b.text]
    assert len(marker) == 1 and ("\nGO\n" in marker[0].text or "\n/\n" in marker[0].text)
    extra = split(plain["K2_D2021%sAdditional.sql" % token], platform)
    assert sum(1 for b in extra if '"NOVE"' in b.text or "[NOVE]" in b.text) == 1
    conf_extra = split(plain["K2_C2020%sAdditional.sql" % token], platform)
    assert any("CONF_T" in b.text for b in conf_extra)
    assert not any("CONF_T" in b.text for b in split(plain["K2_C2021%sAdditional.sql" % token], platform))
    if platform != "oracle":
        assert [b.count for b in extra if "NOVE" in b.text] == [2]


def test_lab_conversion_scripts_parse_per_statement_in_sqlglot():
    import sqlglot   # pylint: disable=import-outside-toplevel
    render = _konverze()
    files = render("lab", ["7"], [{"table": "FIRMY", "column": "NOVE", "type": "datetime"}])
    for name, text in files.items():
        for batch in split(text, "lab"):
            if not batch.text.lstrip().startswith(("DO", "CREATE OR REPLACE FUNCTION")):
                assert sqlglot.parse(batch.text, read="postgres"), (name, batch.text)


def test_lab_conversion_scripts_reject_bad_input():
    render = _konverze()
    with pytest.raises(ValueError):
        render("db2", ["1"])
    with pytest.raises(ValueError):
        render("mssql", ["v1"])
    with pytest.raises(ValueError):
        render("mssql", ["1"], failing=["K2_D9.sql"])
    with pytest.raises(ValueError):
        render("mssql", ["1"], [{"table": "T", "column": "C", "type": "money"}])


# --------------------------------------------------------------------------- sqlcmd commands and variables

@pytest.mark.parametrize("text, line, what", [
    ("SELECT 1\nGO\n:setvar Db K2_FIRMA\nUSE [x]\n", 3, "the sqlcmd command :setvar"),
    (":r .\\konverze\\part2.sql\n", 1, "the sqlcmd command :r"),
    ("SELECT 1\n  \t:On Error exit\n", 2, "the sqlcmd command :On Error"),
    ("SELECT 1\nGO\n:CONNECT other\n", 3, "the sqlcmd command :CONNECT"),
    (":exit(SELECT 1)\n", 1, "the sqlcmd command :exit"),
    ("!!del c:\\temp\\x\n", 1, "the sqlcmd command !!"),
    ("USE $(DatabaseName)\n", 1, "a sqlcmd scripting variable reference"),
    ("INSERT t VALUES (N'Firma $(Name)')\n", 1, "a sqlcmd scripting variable reference"),
    ("INSERT t VALUES ('a\nb $(x) c')\n", 2, "a sqlcmd scripting variable reference"),
    ('SELECT "col$(x)"\n', 1, "a sqlcmd scripting variable reference"),
    ("SELECT [col$(x)]\n", 1, "a sqlcmd scripting variable reference"),
    ("SELECT x$(1)\n", 1, "a sqlcmd scripting variable reference"),
])
def test_sqlcmd_commands_and_variables_are_refused_with_their_line(text, line, what):
    with pytest.raises(BatchSyntaxError) as caught:
        split(text)
    assert caught.value.line == line and what in str(caught.value) and "made for sqlcmd" in str(caught.value)


@pytest.mark.parametrize("text", [
    "SELECT '12:00:00', a::int, b\n::c\n:x\n",        # colons that start no command
    "SELECT 1 -- :setvar x and $(x)\n",                # in comments sqlcmd reads neither
    "/* :r x.sql\n:setvar y 1\n$(y) /* $(z) */ */ SELECT 1\n",
    "SELECT 'a\n:setvar x 1'\n",                       # a string's line, not a command line
    "SELECT $5, '$', [$a], \"$\", @x$ FROM t\n",       # dollars without "("
    "SELECT 1 !! 2\nEXIT\nON error (id)\n",            # "!!" inside a line; bare EXIT and ON ERROR are SQL
])
def test_what_sqlcmd_does_not_act_on_is_sent_as_written(text):
    assert [b.text for b in split(text)] == [text.rstrip()]


def test_sqlcmd_refusal_finds_a_command_on_the_first_line_of_any_chunk(monkeypatch):
    text = "SELECT 1\nGO\n" * 50 + ":setvar x 1\nSELECT 2\n"
    for chunk in (1, 7, 64, 1 << 20):
        monkeypatch.setattr(mod, "CHUNK_CHARS", chunk)
        with pytest.raises(BatchSyntaxError, match="line 101: the sqlcmd command :setvar"):
            split(text)


def test_the_lab_dialect_knows_no_sqlcmd():
    assert [b.text for b in mod.split_batches(io.StringIO("SELECT 1\n:x\nGO\n"), "lab")] == ["SELECT 1\n:x"]
