# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identifier and literal quoting per dialect, checked by parsing the result with sqlglot."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import DIALECTS, quote_ident, quote_literal, quote_qualified

READ = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}

HOSTILE = [
    "a]b",
    "]",
    "[x]",
    "a]]; DROP TABLE FIRMY; --",
    "O'Brien",
    "'; DROP TABLE FIRMY; --",
    'say "hi"',
    '"',
    "a;b",
    ";",
    " padded ",
    "line\nbreak",
    "Žluťoučký kůň",
    "select",
    "-- comment",
    "/* c */",
    "a.b",
]

# Oracle names cannot contain a double quote at all (DIA-25716); refused, see below.
CASES = [(dialect, name) for dialect in DIALECTS for name in HOSTILE if not (dialect == "oracle" and '"' in name)]


def _table_of(sql: str, dialect: str) -> exp.Table:
    statements = sqlglot.parse(sql, read=READ[dialect])
    assert len(statements) == 1, "the name broke out into a second statement: %r" % sql
    return statements[0].find(exp.Table)


@pytest.mark.parametrize("dialect, name", CASES)
def test_hostile_identifier_round_trips_through_the_dialect_parser(dialect, name):
    table = _table_of("SELECT 1 FROM " + quote_ident(dialect, name), dialect)
    assert table.name == name
    assert table.this.args.get("quoted") is True


@pytest.mark.parametrize("dialect, name", CASES)
def test_hostile_column_round_trips(dialect, name):
    statement = sqlglot.parse_one("SELECT %s FROM t" % quote_ident(dialect, name), read=READ[dialect])
    assert [column.name for column in statement.find_all(exp.Column)] == [name]


@pytest.mark.parametrize("dialect, name", CASES)
def test_hostile_qualified_name_round_trips(dialect, name):
    table = _table_of("SELECT 1 FROM " + quote_qualified(dialect, name, name + "2"), dialect)
    assert (table.db, table.name) == (name, name + "2")


@pytest.mark.parametrize("dialect, value", [(d, v) for d in DIALECTS for v in HOSTILE])
def test_hostile_literal_round_trips(dialect, value):
    statements = sqlglot.parse("SELECT " + quote_literal(dialect, value), read=READ[dialect])
    assert len(statements) == 1
    if dialect == "mssql":
        literal = statements[0].find(exp.National)  # N'...': Unicode, so that Czech text survives
    else:
        literal = statements[0].find(exp.Literal)
        assert literal.is_string
    assert literal.this == value


@pytest.mark.parametrize("dialect, name, expected", [
    ("mssql", "a]b", "[a]]b]"),
    ("mssql", "]", "[]]]"),
    ("mssql", "O'Brien", "[O'Brien]"),
    ("mssql", 'say "hi"', '[say "hi"]'),
    ("mssql", "a;b", "[a;b]"),
    ("oracle", "a]b", '"a]b"'),
    ("oracle", "O'Brien", '"O\'Brien"'),
    ("oracle", "a;b", '"a;b"'),
    ("lab", 'say "hi"', '"say ""hi"""'),
    ("lab", '"', '""""'),
    ("lab", "O'Brien", '"O\'Brien"'),
])
def test_exact_identifier_text(dialect, name, expected):
    assert quote_ident(dialect, name) == expected


@pytest.mark.parametrize("dialect, value, expected", [
    ("mssql", "O'Brien", "N'O''Brien'"),
    ("mssql", "Žďár", "N'Žďár'"),
    ("oracle", "O'Brien", "'O''Brien'"),
    ("lab", "'", "''''"),
    ("lab", "a]b\"c", "'a]b\"c'"),
])
def test_exact_literal_text(dialect, value, expected):
    assert quote_literal(dialect, value) == expected


def test_qualified_name_text():
    assert quote_qualified("mssql", "dbo", "FIRMY") == "[dbo].[FIRMY]"
    assert quote_qualified("oracle", "K2_CONF", "FIRMY") == '"K2_CONF"."FIRMY"'
    assert quote_qualified("lab", "a.b", "c") == '"a.b"."c"'


@pytest.mark.parametrize("name", ['say "hi"', '"', 'a"b'])
def test_oracle_refuses_a_double_quote_in_a_name(name):
    with pytest.raises(ValueError) as info:
        quote_ident("oracle", name)
    message = str(info.value)
    assert repr(name) in message
    assert "double quote" in message and "Oracle" in message


def test_oracle_refusal_applies_to_qualified_names():
    with pytest.raises(ValueError, match="double quote"):
        quote_qualified("oracle", "K2", 'FIR"MY')


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("function, what", [(quote_ident, "identifier"), (quote_literal, "literal")])
def test_empty_is_refused(dialect, function, what):
    with pytest.raises(ValueError, match="%s must be a non-empty string, got ''" % what):
        function(dialect, "")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("function, what", [(quote_ident, "identifier"), (quote_literal, "literal")])
def test_nul_is_refused(dialect, function, what):
    with pytest.raises(ValueError, match="%s must not contain a NUL character" % what):
        function(dialect, "FIR\x00MY")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("value", [None, 5, b"FIRMY"])
def test_non_strings_are_refused(dialect, value):
    with pytest.raises(ValueError, match="must be a non-empty string, got %s" % repr(value).replace("(", r"\(")):
        quote_ident(dialect, value)


@pytest.mark.parametrize("dialect", ["postgres", "tsql", "MSSQL", ""])
def test_unknown_dialect_is_refused(dialect):
    with pytest.raises(ValueError, match=r"unknown SQL dialect %r \(expected one of mssql, oracle, lab\)" % dialect):
        quote_ident(dialect, "FIRMY")
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        quote_literal(dialect, "x")
