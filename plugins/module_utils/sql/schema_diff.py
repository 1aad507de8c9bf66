# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare the structure K2 expects with a live database (runbook K2-08) into findings.

``diff(expected, actual, database)`` returns a list of ``Finding``. Its decisions, which
follow what K2's own structure check reports:

* Extra tables in the live database are not findings: K2 tolerates them, and custom tables
  from the Object designer live there too. Extra indexes are not findings either.
* A missing table is one ``missing_table`` finding; its columns and indexes are not repeated.
* ``wrong_type`` when the (canonical) type names differ; then no ``wrong_length`` for that
  column. ``wrong_length`` when the type matches but the length (char and binary types),
  the precision or scale (numeric, decimal, number, float) or the fractional seconds
  (datetime2, time, timestamp) differ. Other attributes of a type are not compared, so an
  adapter that reports ``max_length`` 4 for ``int`` raises nothing.
* Identity, defaults, collation, column order and clustered/non-clustered are not compared.
* ``missing_index`` also covers an index that exists under the expected name with another
  definition (columns in order, uniqueness, included columns as a set): the repair is the
  same ``CREATE INDEX`` from the K2t script after dropping the wrong one, so ``actual``
  then describes the live definition and ``actual_name`` names it.
* ``different_index_filter`` when an index exists under the expected name with the expected
  definition but another filter (a filtered index's ``WHERE`` predicate), or a filter where
  K2 expects none or none where K2 expects one. Filters compare as normalised by
  ``schema.normalized_predicate`` (names and keywords in upper case, the server's added
  brackets, parentheses and casts dropped). The repair is the one of ``missing_index``:
  drop the live index, then run the ``CREATE INDEX`` of the K2t script.
* ``different_primary_key`` when the key's columns (in order) differ, or both keys are named
  and the names differ. A key the script does not define is not compared.
* Full-text: ``missing_fulltext_column`` per expected column without a full-text index,
  ``extra_fulltext_table`` once for a table K2 expects no full-text index on,
  ``extra_fulltext_column`` per extra column of a table's full-text index. The key index is
  not compared. Pass ``fulltext=False`` when K2's full-text support is off.
* ``unreadable_statement`` for every statement of the K2t script the reader could not read
  (``problems=``): the comparison may be incomplete there.

Names compare case-insensitively (``schema.key``). Types are compared after a short,
explicit canonicalisation per platform (``SYNONYMS``, ``EQUIVALENT``):

* DDL synonyms the engine itself resolves when it creates the column, so the catalog never
  shows them: ``integer`` -> ``int`` (MS SQL), ``varchar`` -> ``varchar2`` and ``integer`` ->
  ``number(*,0)`` (Oracle), ``int``/``integer`` -> ``int4`` (PostgreSQL) and the like.
* MS SQL ``sysname`` is ``nvarchar(128)``: a catalog read by user type shows ``sysname``.
* Oracle length semantics: ``varchar2(n char)`` holds ``n`` characters, ``varchar2(n byte)``
  ``n`` bytes (Oracle Database SQL Language Reference, "VARCHAR2 Data Type"); the catalog
  says which (``CHAR_USED``). The model keeps the declared ``n`` and its ``semantics``, and a
  difference is a ``wrong_length`` finding when both sides say it. A script that does not say
  it (``varchar2(n)``) gets the session's ``NLS_LENGTH_SEMANTICS`` when it runs, which the
  script cannot tell: then only ``n`` is compared. A ``timestamp`` without a fractional
  precision is ``timestamp(6)``; the catalog's ``timestamp(6)`` name is parsed, and so are
  ``interval year(2) to month`` and ``interval day(2) to second(6)`` (defaults 2 and 6).
* A computed (virtual) column is compared by its presence only: its type and nullability
  come from its expression on the server, which the script does not state.
* Nothing else: ``numeric`` and ``decimal`` stay different names on MS SQL, as K2 reports.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import MAX_LENGTH, Column, Index, Schema, Table, key

KINDS = (
    "missing_table", "missing_column", "extra_column", "wrong_type", "wrong_length", "nullability",
    "missing_primary_key", "different_primary_key", "missing_index", "different_index_filter",
    "missing_fulltext_column", "extra_fulltext_table", "extra_fulltext_column", "unreadable_statement",
)

SYNONYMS = {
    "mssql": {
        "integer": "int", "dec": "decimal", "character": "char", "character varying": "varchar",
        "char varying": "varchar", "national character": "nchar", "national char": "nchar",
        "national character varying": "nvarchar", "national char varying": "nvarchar", "nchar varying": "nvarchar",
        "double precision": "float", "rowversion": "timestamp",
    },
    "oracle": {
        "varchar": "varchar2", "character varying": "varchar2", "char varying": "varchar2", "character": "char",
        "national character varying": "nvarchar2", "national char varying": "nvarchar2", "nchar varying": "nvarchar2",
        "decimal": "number", "numeric": "number", "dec": "number",
    },
    "lab": {
        "int": "int4", "integer": "int4", "smallint": "int2", "bigint": "int8", "decimal": "numeric",
        "character varying": "varchar", "char varying": "varchar", "character": "bpchar", "char": "bpchar",
        "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
        "double precision": "float8", "real": "float4", "boolean": "bool",
    },
}
# name -> (type, length, precision, scale): a type the platform stores as another one.
EQUIVALENT = {
    "mssql": {"sysname": ("nvarchar", 128, None, None)},
    "oracle": {"integer": ("number", None, None, 0), "int": ("number", None, None, 0), "smallint": ("number", None, None, 0),
               "double precision": ("float", None, 126, None), "real": ("float", None, 63, None)},
    "lab": {},
}
LENGTH_TYPES = frozenset(("char", "varchar", "nchar", "nvarchar", "binary", "varbinary", "varchar2", "nvarchar2", "raw",
                          "bpchar", "bit varying", "varbit"))
PRECISION_TYPES = frozenset(("numeric", "decimal", "number", "float"))
FRACTION_TYPES = frozenset(("datetime2", "time", "datetimeoffset", "timestamp", "timestamptz"))
_SIZED_NAME = re.compile(r"^([a-z ]+?)\s*\((\d+)\)\s*(.*)$")
_INTERVAL_NAME = re.compile(r"^interval (year|day)\s*(?:\((\d+)\))? to (month|second)\s*(?:\((\d+)\))?$")

Canonical = Tuple[str, Optional[int], Optional[int], Optional[int]]


@dataclass(frozen=True)
class Finding:
    kind: str
    database: str
    table: Optional[str]
    column: Optional[str] = None
    index: Optional[str] = None
    expected: Optional[str] = None
    actual: Optional[str] = None
    custom: bool = False
    message: str = ""
    actual_name: Optional[str] = None  # the live name of a differing key or index

    def to_dict(self) -> dict:
        return asdict(self)


def canonical_type(column: Column, platform: str) -> Canonical:
    """The comparable shape of a column's type on ``platform``: (name, length, precision, scale)."""
    name = column.type.lower().strip()
    length, precision, scale = column.length, column.precision, column.scale
    interval = _INTERVAL_NAME.match(name)
    if interval is not None:  # Oracle: interval year(2) to month, interval day(2) to second(6)
        leading, lead_precision, trailing, fraction = interval.groups()
        name = "interval %s to %s" % (leading, trailing)
        precision = int(lead_precision) if lead_precision else precision
        scale = int(fraction) if fraction else scale
        return name, None, precision if precision is not None else 2, (scale if scale is not None else 6) if trailing == "second" else None
    sized = _SIZED_NAME.match(name)
    if sized is not None:  # Oracle's catalog names timestamps "timestamp(6)"
        name = (sized.group(1).strip() + " " + sized.group(3)).strip()
        scale = int(sized.group(2))
    name = SYNONYMS.get(platform, {}).get(name, name)
    equivalent = EQUIVALENT.get(platform, {}).get(name)
    if equivalent is not None:
        name, e_length, e_precision, e_scale = equivalent
        length = e_length if e_length is not None else length
        precision = e_precision if e_precision is not None else precision
        scale = e_scale if e_scale is not None else scale
    base = name.split(" ")[0] if name.startswith("timestamp") and platform == "oracle" else name
    if base in LENGTH_TYPES:
        return name, length, None, None
    if base in PRECISION_TYPES:
        if base == "float":
            return name, None, precision, None
        if base == "number" and precision is None and scale is None:
            return name, None, None, None
        return name, None, precision, scale if scale is not None else (0 if precision is not None else None)
    if base in FRACTION_TYPES:
        if platform == "oracle" and base == "timestamp" and scale is None:
            scale = 6
        return name, None, None, scale
    return name, None, None, None


def type_text(column: Column) -> str:
    """``varchar(30)``, ``numeric(19,6)``, ``nvarchar(max)``: a type as people write it."""
    if column.computed is not None:
        return "AS %s" % column.computed
    if column.length is not None:
        semantics = " " + column.semantics if column.semantics else ""
        return "%s(%s%s)" % (column.type, "max" if column.length == MAX_LENGTH else column.length, semantics)
    if column.precision is not None:
        return "%s(%d,%d)" % (column.type, column.precision, column.scale or 0) if column.scale is not None else "%s(%d)" % (
            column.type, column.precision)
    if column.scale is not None:
        return "%s(%d)" % (column.type, column.scale)
    return column.type


def _null_text(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def _index_text(index: Index) -> str:
    text = "%s(%s)" % ("UNIQUE " if index.unique else "", ", ".join(index.columns))
    if index.include:
        text += " INCLUDE (%s)" % ", ".join(index.include)
    if index.filter is not None:
        text += " WHERE %s" % index.filter
    return text


def _filter_text(index: Index) -> str:
    return "WHERE %s" % index.filter if index.filter is not None else "no filter"


def _same_index(expected: Index, actual: Index) -> bool:
    return ([key(c) for c in expected.columns] == [key(c) for c in actual.columns]
            and expected.unique == actual.unique
            and set(key(c) for c in expected.include) == set(key(c) for c in actual.include))


class _Differ(object):
    def __init__(self, database: str, platform: str, custom_tables: Iterable[str], custom_prefixes: Iterable[str]) -> None:
        self.database = database
        self.platform = platform
        self.custom_tables = frozenset(key(t) for t in custom_tables)
        self.custom_prefixes = tuple(key(p) for p in custom_prefixes)
        self.findings: List[Finding] = []

    def is_custom(self, table: str) -> bool:
        k = key(table)
        return k in self.custom_tables or any(k.startswith(p) for p in self.custom_prefixes)

    def add(self, kind: str, table: str, message: str, column: Optional[str] = None, index: Optional[str] = None,
            expected: Optional[str] = None, actual: Optional[str] = None, actual_name: Optional[str] = None) -> None:
        custom = self.is_custom(table)
        prefix = "%s: %stable %s" % (self.database, "custom " if custom else "", table)
        self.findings.append(Finding(kind, self.database, table, column, index, expected, actual, custom,
                                     "%s: %s" % (prefix, message), actual_name))

    def table(self, exp: Table, act: Optional[Table], fulltext: bool) -> None:
        if act is None:
            self.add("missing_table", exp.name, "missing in the database")
            return
        self.columns(exp, act)
        self.primary_key(exp, act)
        self.indexes(exp, act)
        if fulltext:
            self.fulltext(exp, act)

    def columns(self, exp: Table, act: Table) -> None:
        live = OrderedDict((key(c.name), c) for c in act.columns)
        for col in exp.columns:
            got = live.pop(key(col.name), None)
            if got is None:
                self.add("missing_column", exp.name, "column %s (%s) is missing" % (col.name, type_text(col)),
                         column=col.name, expected=type_text(col))
                continue
            if col.computed is not None:
                continue
            want_type, got_type = canonical_type(col, self.platform), canonical_type(got, self.platform)
            if want_type == got_type and col.semantics and got.semantics and col.semantics != got.semantics:
                self.add("wrong_length", exp.name, "column %s is %s, K2 expects %s" % (col.name, type_text(got), type_text(col)),
                         column=col.name, expected=type_text(col), actual=type_text(got))
            elif want_type[0] != got_type[0]:
                self.add("wrong_type", exp.name, "column %s has type %s, K2 expects %s" % (col.name, type_text(got), type_text(col)),
                         column=col.name, expected=type_text(col), actual=type_text(got))
            elif want_type != got_type:
                self.add("wrong_length", exp.name, "column %s is %s, K2 expects %s" % (col.name, type_text(got), type_text(col)),
                         column=col.name, expected=type_text(col), actual=type_text(got))
            if col.nullable != got.nullable:
                self.add("nullability", exp.name, "column %s is %s, K2 expects %s" % (col.name, _null_text(got.nullable), _null_text(col.nullable)),
                         column=col.name, expected=_null_text(col.nullable), actual=_null_text(got.nullable))
        for extra in live.values():
            self.add("extra_column", exp.name, "column %s (%s) is not expected by K2" % (extra.name, type_text(extra)),
                     column=extra.name, actual=type_text(extra))

    def primary_key(self, exp: Table, act: Table) -> None:
        want, got = exp.primary_key, act.primary_key
        if want is None:
            return
        want_text = "%s (%s)" % (want.name, ", ".join(want.columns))
        if got is None:
            self.add("missing_primary_key", exp.name, "primary key %s is missing" % want_text, index=want.name or None, expected=want_text)
            return
        got_text = "%s (%s)" % (got.name, ", ".join(got.columns))
        same_columns = [key(c) for c in want.columns] == [key(c) for c in got.columns]
        same_name = not want.name or not got.name or key(want.name) == key(got.name)
        if not (same_columns and same_name):
            self.add("different_primary_key", exp.name, "primary key is %s, K2 expects %s" % (got_text, want_text),
                     index=want.name or None, expected=want_text, actual=got_text, actual_name=got.name or None)

    def indexes(self, exp: Table, act: Table) -> None:
        for want in exp.indexes:
            if not want.name:  # an unnamed UNIQUE constraint: any index with its definition will do
                if not any(_same_index(want, got) and want.filter == got.filter for got in act.indexes):
                    self.add("missing_index", exp.name, "unique constraint %s is missing" % _index_text(want), expected=_index_text(want))
                continue
            got = act.index(want.name)
            if got is None:
                self.add("missing_index", exp.name, "index %s %s is missing" % (want.name, _index_text(want)),
                         index=want.name, expected=_index_text(want))
            elif not _same_index(want, got):
                self.add("missing_index", exp.name, "index %s is %s, K2 expects %s" % (want.name, _index_text(got), _index_text(want)),
                         index=want.name, expected=_index_text(want), actual=_index_text(got), actual_name=got.name)
            elif want.filter != got.filter:
                self.add("different_index_filter", exp.name, "index %s has %s, K2 expects %s" % (
                    want.name, _filter_text(got), _filter_text(want)), index=want.name, expected=_filter_text(want),
                    actual=_filter_text(got), actual_name=got.name)

    def fulltext(self, exp: Table, act: Table) -> None:
        want = [] if exp.fulltext is None else list(exp.fulltext.columns)
        got = [] if act.fulltext is None else list(act.fulltext.columns)
        if exp.fulltext is None and act.fulltext is not None:
            self.add("extra_fulltext_table", exp.name, "has a full-text index (%s) K2 does not expect" % ", ".join(got), actual=", ".join(got))
            return
        got_keys = set(key(c) for c in got)
        want_keys = set(key(c) for c in want)
        for col in want:
            if key(col) not in got_keys:
                self.add("missing_fulltext_column", exp.name, "column %s has no full-text index" % col, column=col)
        for col in got:
            if key(col) not in want_keys:
                self.add("extra_fulltext_column", exp.name, "column %s is in the full-text index, K2 does not expect it" % col, column=col)


def diff(expected: Schema, actual: Schema, database: str, custom_tables: Iterable[str] = (), custom_prefixes: Iterable[str] = (),
         problems: Sequence = (), fulltext: bool = True) -> List[Finding]:
    """Findings of one database: ``expected`` (from K2t scripts or Object designer) vs ``actual`` (its catalog).

    ``problems`` are the ``ddl.Problem`` entries of the script ``expected`` was read from.
    """
    differ = _Differ(database, expected.platform, custom_tables, custom_prefixes)
    for problem in problems:
        differ.findings.append(Finding(
            "unreadable_statement", database, None, expected=problem.excerpt,
            message="%s: %s:%d: statement not read (%s): %s" % (database, problem.file, problem.line, problem.reason, problem.excerpt)))
    for table_key in sorted(expected.tables):
        exp = expected.tables.peek(table_key)   # read only: a packed table is not kept as a Table
        differ.table(exp, actual.tables.peek(key(exp.name)), fulltext)
    return differ.findings


def counts_by_kind(findings: Iterable[Finding]) -> Dict[str, int]:
    counts = OrderedDict((kind, 0) for kind in KINDS)
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    return OrderedDict((k, v) for k, v in counts.items() if v)


def counts_by_database(findings: Iterable[Finding]) -> Dict[str, int]:
    counts: Dict[str, int] = OrderedDict()
    for finding in findings:
        counts[finding.database] = counts.get(finding.database, 0) + 1
    return counts


def consistent(findings: Iterable[Finding]) -> bool:
    """K2-08's question "Is the database consistent?": no findings at all."""
    return next(iter(findings), None) is None


def summary(findings: Sequence[Finding]) -> dict:
    return {"consistent": consistent(findings), "total": len(findings),
            "by_kind": dict(counts_by_kind(findings)), "by_database": dict(counts_by_database(findings))}
