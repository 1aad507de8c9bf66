"""Render a K2 schema model (``schema_gen``) as DDL and as catalog snapshots.

* ``render_ddl(model, "mssql")``  -- the vendor style of ``K2t_*_MS.SQL`` (GO lines, brackets,
  ``With NOCHECK ADD``, ``ON [PRIMARY]``, ``if exists ... drop table``, ``SET`` and ``PRINT``);
* ``render_ddl(model, "oracle")`` -- Oracle DDL (``;`` and ``/``, quoted and unquoted names,
  ``VARCHAR2(n CHAR)``, ``NUMBER(p,s)``, ``TABLESPACE``, ``CTXSYS.CONTEXT`` full-text);
* ``render_ddl(model, "lab")``    -- PostgreSQL DDL with GO separators, quoted names and
  ``pg_type.typname`` types, full-text as a GIN index over ``to_tsvector``;
* ``catalog_snapshot(model, platform)`` -- the JSON snapshot the catalog of that platform
  returns for the model, so the MS SQL and Oracle paths are proven offline.

``platform_model(model, platform)`` is the model as that platform stores it: what both the
DDL reader and the catalog return. ``read_ddl(render_ddl(m, p)) == platform_model(m, p)``.
"""

from __future__ import annotations

import functools
from typing import List, Optional

from tools.k2lab.vendor import quote_ident
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    MAX_LENGTH, Column, FullTextIndex, Index, PrimaryKey, Schema, Table, dumps_snapshot, key,
)

LOB_TYPES = ("text", "ntext", "image")
FULLTEXT_CATALOG = "K2FullText"
ORACLE_RESERVED = frozenset(("ACCESS", "COMMENT", "DATE", "FILE", "LEVEL", "MODE", "NUMBER", "ROWS", "SIZE", "UID", "USER"))


def _strip_parens(default: Optional[str]) -> Optional[str]:
    if default is None:
        return None
    while default.startswith("(") and default.endswith(")"):
        default = default[1:-1]
    return default


def _oracle_type(col: Column) -> Column:
    t = col.type
    if t == "int":
        return _retype(col, "number", None, 10, 0)
    if t in ("varchar", "nvarchar"):
        if col.length == MAX_LENGTH:
            return _retype(col, "clob" if t == "varchar" else "nclob", None, None, None)
        return _retype(col, t + "2", col.length, None, None)
    if t == "numeric":
        return _retype(col, "number", None, col.precision, col.scale)
    mapped = {"datetime": "date", "text": "clob", "ntext": "nclob", "image": "blob"}.get(t)
    if mapped is None:
        raise ValueError("no Oracle type for %r" % t)
    return _retype(col, mapped, None, None, None)


def _lab_type(col: Column) -> Column:
    t = col.type
    if t == "int":
        return _retype(col, "int4", None, None, None)
    if t in ("varchar", "nvarchar"):
        if col.length == MAX_LENGTH:
            return _retype(col, "text", None, None, None)
        return _retype(col, "varchar", col.length, None, None)
    if t == "numeric":
        return _retype(col, "numeric", None, col.precision, col.scale)
    mapped = {"datetime": "timestamp", "text": "text", "ntext": "text", "image": "bytea"}.get(t)
    if mapped is None:
        raise ValueError("no lab type for %r" % t)
    return _retype(col, mapped, None, None, None)


def _retype(col: Column, type_name: str, length, precision, scale) -> Column:
    return Column(col.name, type_name, length, precision, scale, col.nullable, col.identity, _strip_parens(col.default))


def platform_model(model: Schema, platform: str) -> Schema:
    """The model as ``platform`` stores it (types, name case, what its indexes can hold)."""
    if platform == "mssql":
        result = Schema("mssql", model.database, taken_at=model.taken_at)
        for table in model.tables.values():
            result.add(Table(table.name, list(table.columns), table.primary_key, list(table.indexes), table.fulltext))
        return result
    if platform not in ("oracle", "lab"):
        raise ValueError("unknown platform %r" % platform)
    oracle = platform == "oracle"
    name = (lambda n: n.upper()) if oracle else (lambda n: n)  # noqa: E731
    result = Schema(platform, model.database, taken_at=model.taken_at)
    for table in model.tables.values():
        columns = []
        for col in table.columns:
            mapped = _oracle_type(col) if oracle else _lab_type(col)
            columns.append(Column(name(col.name), mapped.type, mapped.length, mapped.precision, mapped.scale,
                                  mapped.nullable, mapped.identity, mapped.default))
        pk = table.primary_key
        new = Table(name(table.name), columns)
        if pk is not None:
            new.primary_key = PrimaryKey(name(pk.name), tuple(name(c) for c in pk.columns), False)
        for ix in table.indexes:
            if oracle:  # Oracle has no INCLUDE: the covered columns become key columns
                new.indexes.append(Index(name(ix.name), tuple(name(c) for c in ix.columns + ix.include), ix.unique, False, ()))
            else:
                new.indexes.append(Index(ix.name, ix.columns, ix.unique, False, ix.include))
        if table.fulltext is not None:
            new.fulltext = FullTextIndex(tuple(name(c) for c in table.fulltext.columns), None)
        result.add(new)
    return result


def catalog_snapshot(model: Schema, platform: str, database: Optional[str] = None, taken_at: Optional[str] = None) -> str:
    """The catalog snapshot (JSON) a live ``platform`` database holding ``model`` returns."""
    schema = platform_model(model, platform)
    schema.database = database if database is not None else model.database
    schema.taken_at = taken_at
    return dumps_snapshot(schema)


def render_ddl(model: Schema, platform: str) -> str:
    if platform == "mssql":
        return _render_mssql(model)
    if platform == "oracle":
        return _render_oracle(platform_model(model, "oracle"))
    if platform == "lab":
        return _render_lab(platform_model(model, "lab"))
    raise ValueError("unknown platform %r" % platform)


# --- MS SQL, in the vendor's style -------------------------------------------------------------
def _mssql_type(col: Column) -> str:
    text = "[%s]" % col.type
    if col.length is not None:
        text += " (%s)" % ("max" if col.length == MAX_LENGTH else col.length)
    elif col.precision is not None:
        text += " (%d, %d)" % (col.precision, col.scale or 0)
    return text


def _render_mssql(model: Schema) -> str:
    q = functools.partial(quote_ident, "mssql")
    out: List[str] = [
        "/* K2 structure script, generated by tools.k2lab for the lab */",
        "SET ANSI_NULLS ON", "GO", "SET QUOTED_IDENTIFIER ON", "GO",
        "PRINT 'Creating tables'", "GO",
        "if not exists (select * from dbo.sysfulltextcatalogs where name = N'%s')" % FULLTEXT_CATALOG,
        "CREATE FULLTEXT CATALOG %s WITH ACCENT_SENSITIVITY = OFF" % q(FULLTEXT_CATALOG), "GO", "",
    ]
    for number, table in enumerate(model.tables.values()):
        t = "[dbo]." + q(table.name)
        out.append("/****** Object:  Table %s ******/" % t)
        out.append("if exists (select * from dbo.sysobjects where id = object_id(N'%s') and OBJECTPROPERTY(id, N'IsUserTable') = 1)" % t.replace("'", "''"))
        out.append("drop table %s" % t)
        out.append("GO")
        out.append("")
        lines = []
        late_defaults = []
        for col in table.columns:
            parts = [q(col.name), _mssql_type(col)]
            if col.type in ("varchar", "text") and number % 2 == 0:
                parts.append("COLLATE Czech_CI_AS")
            if col.identity:
                parts.append("IDENTITY (1, 1)")
            if col.default is not None:
                if number % 2 == 0:
                    parts.append("CONSTRAINT %s DEFAULT %s" % (q("DF_%s_%s" % (table.name, col.name)), col.default))
                else:
                    late_defaults.append(col)
            parts.append("NULL" if col.nullable else "NOT NULL")
            lines.append("\t" + " ".join(parts))
        out.append("CREATE TABLE %s (" % t)
        out.append(" ,\n".join(lines))
        lob = any(c.type in LOB_TYPES or c.length == MAX_LENGTH for c in table.columns)
        out.append(") ON [PRIMARY]" + (" TEXTIMAGE_ON [PRIMARY]" if lob else ""))
        out.append("GO")
        out.append("")
        constraints = []
        pk = table.primary_key
        if pk is not None:
            constraints.append("\tCONSTRAINT %s PRIMARY KEY  %s \n\t(\n%s\n\t)  ON [PRIMARY]" % (
                q(pk.name), "CLUSTERED" if pk.clustered else "NONCLUSTERED", " ,\n".join("\t\t" + q(c) for c in pk.columns)))
        for col in late_defaults:
            constraints.append("\tCONSTRAINT %s DEFAULT %s FOR %s" % (q("DF_%s_%s" % (table.name, col.name)), col.default, q(col.name)))
        if constraints:
            out.append("ALTER TABLE %s With NOCHECK ADD \n%s" % (t, " ,\n".join(constraints)))
            out.append("GO")
            out.append("")
        for ix in table.indexes:
            kind = "CLUSTERED " if ix.clustered else ("NONCLUSTERED " if number % 5 == 0 else "")
            head = "CREATE %s%sINDEX %s ON %s" % ("UNIQUE " if ix.unique else "", kind, q(ix.name), t)
            body = "(%s)" % ", ".join(q(c) + (" ASC" if number % 7 == 0 else "") for c in ix.columns)
            tail = []
            if ix.include:
                tail.append("INCLUDE (%s)" % ", ".join(q(c) for c in ix.include))
            if number % 6 == 0:
                tail.append("WITH (FILLFACTOR = 90, PAD_INDEX = OFF)")
            tail.append("ON [PRIMARY]")
            out.append("%s\n%s\n%s" % (head, body, " ".join(tail)))
            out.append("GO")
            out.append("")
        if table.fulltext is not None:
            cols = ", ".join("%s LANGUAGE 1029" % q(c) for c in table.fulltext.columns)
            out.append("CREATE FULLTEXT INDEX ON %s (%s)\nKEY INDEX %s ON %s\nWITH CHANGE_TRACKING AUTO" % (
                t, cols, q(table.fulltext.key_index or ""), q(FULLTEXT_CATALOG)))
            out.append("GO")
            out.append("")
    return "\n".join(out) + "\n"


# --- Oracle ------------------------------------------------------------------------------------
def _oracle_ident(name: str) -> str:
    if name.isidentifier() and name == name.upper() and name not in ORACLE_RESERVED and name.isascii():
        return name
    return quote_ident("oracle", name)


def _oracle_type_text(col: Column, number: int) -> str:
    t = col.type.upper()
    if col.length is not None:
        semantics = ("", " CHAR", " BYTE")[number % 3] if col.type == "varchar2" else ""
        return "%s(%d%s)" % (t, col.length, semantics)
    if col.precision is not None:
        return "%s(%d)" % (t, col.precision) if not col.scale else "%s(%d,%d)" % (t, col.precision, col.scale)
    return t


def _render_oracle(model: Schema) -> str:
    qi = _oracle_ident
    out: List[str] = ["-- K2 structure script for Oracle, generated by tools.k2lab", "PROMPT Creating tables", ""]
    for number, table in enumerate(model.tables.values()):
        t = quote_ident("oracle", table.name)
        lines = []
        for col in table.columns:
            parts = [qi(col.name), _oracle_type_text(col, number)]
            if col.identity:
                parts.append("GENERATED BY DEFAULT AS IDENTITY")
            if col.default is not None:
                parts.append("DEFAULT %s" % col.default)
            if not col.nullable:
                parts.append("NOT NULL")
            lines.append("  " + " ".join(parts))
        pk = table.primary_key
        inline_pk = pk is not None and number % 2 == 0
        if inline_pk:
            lines.append("  CONSTRAINT %s PRIMARY KEY (%s) USING INDEX TABLESPACE K2_IDX" % (qi(pk.name), ", ".join(qi(c) for c in pk.columns)))
        out.append("CREATE TABLE %s (\n%s\n) TABLESPACE K2_DATA STORAGE (INITIAL 64K NEXT 64K) NOCOMPRESS;" % (t, ",\n".join(lines)))
        if pk is not None and not inline_pk:
            out.append("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)\n  USING INDEX TABLESPACE K2_IDX;" % (
                t, qi(pk.name), ", ".join(qi(c) for c in pk.columns)))
        for ix in table.indexes:
            out.append("CREATE %sINDEX %s ON %s (%s) TABLESPACE K2_IDX%s" % (
                "UNIQUE " if ix.unique else "", qi(ix.name), t, ", ".join(qi(c) for c in ix.columns),
                "\n/" if number % 4 == 3 else ";"))
        if table.fulltext is not None:
            for position, col in enumerate(table.fulltext.columns):
                out.append("CREATE INDEX %s ON %s (%s)\n  INDEXTYPE IS CTXSYS.CONTEXT PARAMETERS ('SYNC (ON COMMIT)')\n/" % (
                    qi(("FT_%s_%d" % (table.name, position))[:30].upper()), t, qi(col)))
        out.append("")
    return "\n".join(out) + "\n"


# --- the lab (PostgreSQL) ----------------------------------------------------------------------
def _lab_type_text(col: Column) -> str:
    if col.length is not None:
        return "%s(%d)" % (col.type, col.length)
    if col.precision is not None:
        return "%s(%d,%d)" % (col.type, col.precision, col.scale or 0)
    return col.type


def _lab_predicate(table: Table, normalized: str) -> str:
    """A normalised filter (``schema.normalized_predicate``: names in upper case) with the table's names quoted as created.

    Its words are split at blanks: fit for the drifts of ``drift.py``, which hold no string literal with a blank.
    """
    names = dict((key(col.name), quote_ident("lab", col.name)) for col in table.columns)
    return " ".join(names.get(token, token) for token in normalized.split(" "))


def _render_lab(model: Schema) -> str:
    q = functools.partial(quote_ident, "lab")
    out: List[str] = ["-- K2 structure script for the lab (PostgreSQL), generated by tools.k2lab", ""]
    for table in model.tables.values():
        t = q(table.name)
        lines = []
        for col in table.columns:
            parts = [q(col.name), _lab_type_text(col)]
            if col.identity:
                parts.append("GENERATED BY DEFAULT AS IDENTITY")
            if col.default is not None:
                parts.append("DEFAULT %s" % col.default)
            parts.append("NULL" if col.nullable else "NOT NULL")
            lines.append("  " + " ".join(parts))
        out.append("CREATE TABLE %s (\n%s\n)\nGO" % (t, ",\n".join(lines)))
        pk = table.primary_key
        if pk is not None:
            out.append("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (%s)\nGO" % (t, q(pk.name), ", ".join(q(c) for c in pk.columns)))
        for ix in table.indexes:
            include = " INCLUDE (%s)" % ", ".join(q(c) for c in ix.include) if ix.include else ""
            columns = ", ".join(q(c) for c in ix.columns)
            where = " WHERE %s" % _lab_predicate(table, ix.filter) if ix.filter is not None else ""
            out.append("CREATE %sINDEX %s ON %s (%s)%s%s\nGO" % ("UNIQUE " if ix.unique else "", q(ix.name), t, columns, include, where))
        if table.fulltext is not None:
            out.append("CREATE INDEX %s ON %s USING gin (%s)\nGO" % (q(lab_fulltext_index(table.name)), t, lab_tsvector(table.fulltext.columns)))
        out.append("")
    return "\n".join(out) + "\n"


def lab_fulltext_index(table: str) -> str:
    return "FT_" + table


def lab_tsvector(columns) -> str:
    """The lab's full-text expression: ``to_tsvector('simple', coalesce("c1",'') || ' ' || ...)``."""
    body = " || ' ' || ".join("coalesce(%s,'')" % quote_ident("lab", c) for c in columns)
    return "to_tsvector('simple', %s)" % body
