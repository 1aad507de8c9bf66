# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conversion scripts (``SQL/konverze/``) for lab sites: plain data in, text out.

``render_conversions(platform, versions, additions)`` returns ``{file name: text}``
with, per version token and per database kind (``C`` CONF, ``D`` company), the
one-time file ``K2_{C|D}{version}{token}.sql`` and the repeatable
``K2_{C|D}{version}{token}Additional.sql``. Platforms: ``mssql`` (T-SQL, ``GO``),
``oracle`` (``;`` and ``/`` with PL/SQL blocks) and ``lab`` (PostgreSQL laid out like
the vendor's MS SQL scripts, with ``GO`` lines).

The scripts exercise what a splitter gets wrong: comments of both kinds, block
comments spanning lines with a ``GO`` / ``/`` line inside (nested on MS SQL and
the lab), strings holding a ``GO`` line, bracketed names with ``]]``, Oracle
``q'[...]'`` quotes holding ``;`` and ``/`` lines, PL/SQL blocks, and ``GO 2`` on a
batch that is harmless to repeat.

What they do, so that tests can check it in the database:

* every file records each run in the marker table (``marker_table``, columns
  ``SOUBOR``, ``DAVKA``, ``POZNAMKA``): a one-time file that ran twice leaves two
  rows with ``DAVKA = 2``;
* a one-time file creates ``K2LAB_V{version}_{C|D}`` without a guard, so a second
  run fails as a real one-time conversion would, and copies the marker rows into
  it (a "data move");
* an Additional file adds the requested columns, guarded (``IF NOT EXISTS`` on
  MS SQL, a PL/SQL handler for ORA-01430 on Oracle, ``ADD COLUMN IF NOT EXISTS``
  in the lab), and (re)creates a procedure, so it can run any number of times.

``failing`` names files that get a deliberately failing batch in their middle: an
``INSERT`` into ``fix_table`` (column ``SOUBOR``), which does not exist until the
test "fixes" the database by creating it; the rerun then succeeds from that batch.

``data_table`` (optional) names a company table with columns ``CIS`` (int) and ``TEXT``
(varchar) whose rows the one-time company file *moves* into ``K2LAB_V{version}_D`` (insert,
then delete from the source) before its failing batch: a conversion that fails there leaves
customer data half-way, which only a restore to the exact backup state repairs; the moved
rows are what a test counts afterwards.

``additions`` items are mappings with ``table``, ``column``, ``type`` (``int``,
``varchar(n)``, ``nvarchar(n)``, ``numeric(p,s)``, ``datetime``, ``text``,
``image``), optional ``db`` (``C``/``D``, default ``D``) and ``version`` (default:
the last version). Names are quoted exactly as given.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

PLATFORM_TOKENS = {"mssql": "", "oracle": "Ora", "lab": "Lab"}
DB_LABELS = {"C": "CONF databáze", "D": "firemní databáze"}

_TYPE = re.compile(r"(int|varchar|nvarchar|numeric|datetime|text|image)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$", re.IGNORECASE)


def _ident(platform: str, name: str) -> str:
    if platform == "mssql":
        return "[" + name.replace("]", "]]") + "]"
    return '"' + name.replace('"', '""') + '"'


def _text(platform: str, value: str) -> str:
    body = "'" + value.replace("'", "''") + "'"
    return "N" + body if platform == "mssql" else body


def column_type(platform: str, spec: str) -> str:
    """Render a generic column type (``varchar(30)``...) for a platform."""
    match = _TYPE.match(spec.strip())
    if match is None:
        raise ValueError("unsupported column type %r" % spec)
    base, first, second = match.group(1).lower(), match.group(2), match.group(3)
    if base in ("varchar", "nvarchar") and first is None:
        raise ValueError("%s needs a length: %r" % (base, spec))
    size = "(%s)" % first if first else ""
    numeric = "(%s, %s)" % (first or "18", second or "0")
    if platform == "mssql":
        sizes = {"varchar": " " + size, "nvarchar": " " + size, "numeric": " " + numeric}
        return "[%s]%s" % (base, sizes.get(base, ""))
    if platform == "oracle":
        return {"int": "NUMBER(10)", "varchar": "VARCHAR2(%s CHAR)" % first, "nvarchar": "NVARCHAR2(%s)" % first,
                "numeric": "NUMBER" + numeric.replace(" ", ""), "datetime": "DATE", "text": "CLOB", "image": "BLOB"}[base]
    return {"int": "integer", "varchar": "varchar" + size, "nvarchar": "varchar" + size, "numeric": "numeric" + numeric,
            "datetime": "timestamp", "text": "text", "image": "bytea"}[base]


class _Script:
    """Accumulates batches and renders them with the platform's separators."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.parts: List[str] = []

    def comment(self, text: str) -> None:
        self.parts.append(text.rstrip("\n") + "\n")

    def sql(self, text: str, count: int = 1) -> None:
        """A SQL statement (no terminator) or, on Oracle, a statement ending with ``;``."""
        text = text.rstrip("\n")
        if self.platform == "oracle":
            self.parts.append(text + (";\n" if not text.endswith(";") else "\n"))
        else:
            self.parts.append(text + "\n" + ("GO %d" % count if count > 1 else "GO") + "\n")

    def plsql(self, text: str) -> None:
        """An Oracle PL/SQL unit, ended by a ``/`` line."""
        self.parts.append(text.rstrip("\n") + "\n/\n")

    def render(self) -> str:
        return "\n".join(self.parts)


def _marker_ddl(platform: str, marker: str) -> List[str]:
    if platform == "mssql":
        return ["IF OBJECT_ID(%s, N'U') IS NULL\n  CREATE TABLE [dbo].%s (\n    [SOUBOR] [nvarchar] (260) NOT NULL,\n"
                "    [DAVKA] [int] NOT NULL,\n    [POZNAMKA] [nvarchar] (400) NULL\n  )"
                % (_text("mssql", "[dbo]." + _ident("mssql", marker)), _ident("mssql", marker))]
    if platform == "oracle":
        ddl = ('CREATE TABLE %s ("SOUBOR" VARCHAR2(260 CHAR) NOT NULL, "DAVKA" NUMBER(10) NOT NULL, '
               '"POZNAMKA" VARCHAR2(400 CHAR))' % _ident("oracle", marker))
        return ["BEGIN\n  EXECUTE IMMEDIATE %s;\nEXCEPTION\n  WHEN OTHERS THEN\n"
                "    -- ORA-00955: name is already used by an existing object\n"
                "    IF SQLCODE != -955 THEN RAISE; END IF;\nEND;" % _text("oracle", ddl)]
    return ['CREATE TABLE IF NOT EXISTS %s (\n    "SOUBOR" varchar(260) NOT NULL,\n    "DAVKA" integer NOT NULL,\n'
            '    "POZNAMKA" varchar(400) NULL\n  )' % _ident("lab", marker)]


def _table(platform: str, name: str) -> str:
    return ("[dbo]." if platform == "mssql" else "") + _ident(platform, name)


def _mark(platform: str, marker: str, file_name: str, batch: int, note: str) -> str:
    return "INSERT INTO %s (%s, %s, %s)\nVALUES (%s, %d, %s)" % (
        _table(platform, marker), _ident(platform, "SOUBOR"), _ident(platform, "DAVKA"), _ident(platform, "POZNAMKA"),
        _text(platform, file_name), batch, note)


def _note_with_separator_line(platform: str) -> str:
    """A string literal that holds a separator line and a quote."""
    if platform == "oracle":
        return "q'[první řádek; se středníkem\n/\nit's the third line]'"
    return _text(platform, "první řádek\nGO\nit's the third line")


def _failing(script: _Script, platform: str, fix_table: str, file_name: str) -> None:
    script.comment("-- deliberately failing batch (lab fault injection): %s does not exist until fixed" % fix_table)
    script.sql("INSERT INTO %s (%s) VALUES (%s)" % (
        _table(platform, fix_table), _ident(platform, "SOUBOR"), _text(platform, file_name)))


def _one_time(platform: str, file_name: str, version: str, kind: str, marker: str, fail: bool, fix_table: str,
              data_table: Optional[str] = None) -> str:
    script = _Script(platform)
    moved = "K2LAB_V%s_%s" % (version, kind)
    odd = "Go Sloupec]x"
    if platform == "oracle":
        script.comment("-- K2 konverze %s, %s\n-- Jednorázová konverze: přesuny dat, nespouštět opakovaně.\n"
                       "/* Oracle comments do not nest; a slash line inside one is no terminator:\n/\n   ; neither is this */"
                       % (version, DB_LABELS[kind]))
        script.plsql(_marker_ddl(platform, marker)[0])
    else:
        script.comment("/* K2 konverze %s, %s\n   Jednorázová konverze: přesuny dat, nespouštět opakovaně.\nGO\n"
                       "   /* nested comment: the GO line above does not split */\n*/" % (version, DB_LABELS[kind]))
        script.sql(_marker_ddl(platform, marker)[0])
    script.comment("-- one-time: records this run; a second run leaves a second row")
    script.sql(_mark(platform, marker, file_name, 2, _note_with_separator_line(platform)))
    columns = "(%s %s NOT NULL, %s %s NULL)" % (
        _ident(platform, "CIS"), column_type(platform, "int"), _ident(platform, odd), column_type(platform, "nvarchar(260)"))
    script.sql("CREATE TABLE %s %s" % (_table(platform, moved), columns))
    if data_table and kind == "D":
        script.comment("-- one-time data move: the customer's rows leave %s for %s" % (data_table, moved))
        script.sql("INSERT INTO %s (%s, %s)\nSELECT %s, %s FROM %s" % (
            _table(platform, moved), _ident(platform, "CIS"), _ident(platform, odd), _ident(platform, "CIS"),
            _ident(platform, "TEXT"), _table(platform, data_table)))
        script.sql("DELETE FROM %s" % _table(platform, data_table))
    if fail:
        _failing(script, platform, fix_table, file_name)
    script.sql("INSERT INTO %s (%s, %s)\nSELECT %s, %s FROM %s" % (
        _table(platform, moved), _ident(platform, "CIS"), _ident(platform, odd), _ident(platform, "DAVKA"),
        _ident(platform, "SOUBOR"), _table(platform, marker)))
    if platform == "oracle":
        script.plsql("DECLARE\n  pocet NUMBER;\nBEGIN\n  SELECT COUNT(*) INTO pocet FROM %s;\n"
                     "  UPDATE %s SET %s = %s WHERE pocet > 0;\nEND;" % (
                         _ident(platform, moved), _ident(platform, moved), _ident(platform, "CIS"), _ident(platform, "CIS")))
    elif platform == "lab":
        script.sql("DO $$\nBEGIN\n  -- a dollar-quoted body\n  UPDATE %s SET %s = %s;\nEND\n$$" % (
            _ident(platform, moved), _ident(platform, "CIS"), _ident(platform, "CIS")))
    else:
        script.sql("UPDATE %s SET %s = %s -- it's a no-op data touch" % (
            _table(platform, moved), _ident(platform, "CIS"), _ident(platform, "CIS")))
    return script.render()


def _add_column(platform: str, table: str, column: str, spec: str) -> str:
    sql_type = column_type(platform, spec)
    if platform == "mssql":
        return ("IF NOT EXISTS (SELECT 1 FROM sys.columns WHERE object_id = OBJECT_ID(%s) AND name = %s)\n"
                "  ALTER TABLE %s ADD %s %s NULL" % (
                    _text("mssql", "[dbo]." + _ident("mssql", table)), _text("mssql", column), _table("mssql", table),
                    _ident("mssql", column), sql_type))
    if platform == "oracle":
        ddl = "ALTER TABLE %s ADD (%s %s)" % (_ident("oracle", table), _ident("oracle", column), sql_type)
        return ("BEGIN\n  EXECUTE IMMEDIATE %s;\nEXCEPTION\n  WHEN OTHERS THEN\n"
                "    -- ORA-01430: column being added already exists in table\n"
                "    IF SQLCODE != -1430 THEN RAISE; END IF;\nEND;" % _text("oracle", ddl))
    return "ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s NULL" % (_ident("lab", table), _ident("lab", column), sql_type)


def _additional(platform: str, file_name: str, version: str, kind: str, marker: str, additions: Sequence[Mapping[str, str]],
                fail: bool, fix_table: str) -> str:
    script = _Script(platform)
    procedure = "K2LAB_P%s_%s" % (version, kind)
    script.comment("-- K2 dodatečná konverze %s (Additional), %s: opakovatelná, běží při každé reinstalaci"
                   % (version, DB_LABELS[kind]))
    if platform == "oracle":
        script.plsql(_marker_ddl(platform, marker)[0])
    else:
        script.sql(_marker_ddl(platform, marker)[0])
    for number, item in enumerate(additions):
        statement = _add_column(platform, item["table"], item["column"], item["type"])
        if platform == "oracle":
            script.plsql(statement)
        else:
            # Guarded, so running it twice is harmless: the only place GO 2 appears.
            script.sql(statement, count=2 if number == 0 else 1)
    if fail:
        _failing(script, platform, fix_table, file_name)
    if platform == "mssql":
        script.sql("IF OBJECT_ID(%s, N'P') IS NOT NULL DROP PROCEDURE [dbo].%s" % (
            _text("mssql", "[dbo]." + _ident("mssql", procedure)), _ident("mssql", procedure)))
        script.sql("CREATE PROCEDURE [dbo].%s AS\nBEGIN\n  /* body\nGO\n  */ SELECT N'GO' AS [GO]\nEND" % _ident("mssql", procedure))
    elif platform == "oracle":
        script.plsql("CREATE OR REPLACE PROCEDURE %s IS\n  text VARCHAR2(100) := q'{; and\n/\n}';\nBEGIN\n  NULL;\nEND;"
                     % _ident("oracle", procedure))
    else:
        script.sql("CREATE OR REPLACE FUNCTION %s() RETURNS text AS $body$\nBEGIN\n  RETURN 'GO';\nEND\n$body$ LANGUAGE plpgsql"
                   % _ident("lab", procedure))
    script.sql(_mark(platform, marker, file_name, 1, _text(platform, "dodatečná konverze")))
    return script.render()


def conversion_file_name(platform: str, kind: str, version: str, one_time: bool, tokens: Optional[Mapping[str, str]] = None) -> str:
    token = (tokens or PLATFORM_TOKENS)[platform]
    return "K2_%s%s%s%s.sql" % (kind, version, token, "" if one_time else "Additional")


def render_conversions(platform: str, versions: Sequence[str], additions: Iterable[Mapping[str, str]] = (),
                       failing: Iterable[str] = (), marker_table: str = "K2LAB_KONVERZE", fix_table: str = "K2LAB_OPRAVA",
                       tokens: Optional[Mapping[str, str]] = None, data_table: Optional[str] = None) -> Dict[str, str]:
    """Render every conversion file of ``versions`` for ``platform`` (see the module doc)."""
    if platform not in PLATFORM_TOKENS:
        raise ValueError("unknown platform %r (expected mssql, oracle or lab)" % platform)
    versions = [str(version) for version in versions]
    if not versions or not all(version.isdigit() for version in versions):
        raise ValueError("versions must be a non-empty list of numeric tokens, got %r" % (versions,))
    additions = [dict(item) for item in additions]
    for item in additions:
        item.setdefault("db", "D")
        item.setdefault("version", versions[-1])
        if item["db"] not in ("C", "D") or item["version"] not in versions:
            raise ValueError("addition %r: db must be C or D and version one of %s" % (item, versions))
    failing = set(failing)
    files: Dict[str, str] = {}
    for version in versions:
        for kind in ("C", "D"):
            name = conversion_file_name(platform, kind, version, True, tokens)
            files[name] = _one_time(platform, name, version, kind, marker_table, name in failing, fix_table, data_table)
            name = conversion_file_name(platform, kind, version, False, tokens)
            mine = [item for item in additions if item["db"] == kind and item["version"] == version]
            files[name] = _additional(platform, name, version, kind, marker_table, mine, name in failing, fix_table)
    unknown = failing - set(files)
    if unknown:
        raise ValueError("failing names files that are not rendered: %s" % ", ".join(sorted(unknown)))
    return files
