# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Identifier and literal quoting per SQL dialect.

Every identifier the collection puts into SQL text goes through ``quote_ident``;
every value that cannot be a bind parameter (``KILL``, ``BACKUP ... TO DISK``,
DDL) goes through ``quote_literal``. Dialects: ``mssql`` (T-SQL), ``oracle`` and
``lab`` (PostgreSQL).
"""

from __future__ import annotations

DIALECTS = ("mssql", "oracle", "lab")


def _check(dialect: str, value: str, what: str) -> None:
    if dialect not in DIALECTS:
        raise ValueError("unknown SQL dialect %r (expected one of %s)" % (dialect, ", ".join(DIALECTS)))
    if not isinstance(value, str) or value == "":
        raise ValueError("%s must be a non-empty string, got %r" % (what, value))
    if "\x00" in value:
        raise ValueError("%s must not contain a NUL character" % what)


def quote_ident(dialect: str, name: str) -> str:
    """Quote one identifier: ``[a]]b]`` on MS SQL, ``"a""b"`` in the lab; Oracle refuses ``"`` in a name.

    Oracle has no escape for a double quote inside a quoted identifier (DIA-25716:
    "The identifier contains a double quotation mark"), so such a name is refused
    here with a clear message instead of producing SQL the server rejects.
    """
    _check(dialect, name, "identifier")
    if dialect == "mssql":
        return "[" + name.replace("]", "]]") + "]"
    if dialect == "oracle" and '"' in name:
        raise ValueError("identifier %r cannot be used on Oracle: Oracle names must not contain a double quote" % name)
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(dialect: str, *parts: str) -> str:
    """Quote a dotted name part by part: ``[dbo].[FIRMY]``."""
    return ".".join(quote_ident(dialect, part) for part in parts)


def quote_literal(dialect: str, value: str) -> str:
    """Quote a string literal; ``N'...'`` on MS SQL so that Czech text survives."""
    _check(dialect, value, "literal")
    body = "'" + value.replace("'", "''") + "'"
    return "N" + body if dialect == "mssql" else body
