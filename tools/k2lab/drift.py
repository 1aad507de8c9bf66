"""Inject structure drift of every kind K2-08 knows into a live model, and say what was injected.

``inject_all(live, seed)`` changes ``live`` (a ``render.platform_model`` copy, or a schema
loaded from a catalog snapshot) in place, one drift per table so the findings do not
overlap, and returns the ``Injected`` list: exactly the findings ``schema_diff.diff`` must
report (kind, table, column, index). ``inject_unreadable`` spoils a DDL script instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from tools.k2lab.vendor import quote_ident
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    Column, FullTextIndex, Index, PrimaryKey, Schema, Table, key, normalized_predicate)

OTHER_TYPE = {"mssql": "bigint", "oracle": "binary_double", "lab": "int8"}
INT_TYPE = {"mssql": "int", "oracle": "number", "lab": "int4"}
SIZED_TYPES = ("varchar", "nvarchar", "varchar2", "nvarchar2", "char", "nchar")
TEXT_TYPES = SIZED_TYPES + ("text", "ntext", "clob", "nclob")
UNREADABLE = {
    "mssql": "CREATE TABLE [dbo].[BROKEN] (\n[A] [int] NOT NULL\n[B] [int] NULL)\nGO\n",
    "oracle": "CREATE TABLE BROKEN (\n  A NUMBER(10) NOT NULL\n  B NUMBER(10))\n/\n",
    "lab": 'CREATE TABLE "BROKEN" (\n  "A" int4 NOT NULL\n  "B" int4 NULL)\nGO\n',
}


@dataclass(frozen=True)
class Injected:
    kind: str
    table: Optional[str]
    column: Optional[str] = None
    index: Optional[str] = None

    def identity(self) -> Tuple[str, Optional[str], Optional[str], Optional[str]]:
        """What a finding must match: kind and case-insensitive names."""
        return (self.kind, key(self.table) if self.table else None, key(self.column) if self.column else None,
                key(self.index) if self.index else None)


def _used(table: Table) -> set:
    used = {key("Cis"), key("Zkr")}
    if table.primary_key is not None:
        used.update(key(c) for c in table.primary_key.columns)
    for ix in table.indexes:
        used.update(key(c) for c in ix.columns + ix.include)
    if table.fulltext is not None:
        used.update(key(c) for c in table.fulltext.columns)
    return used


def _free_column(table: Table, accept: Callable[[Column], bool] = lambda c: True) -> Optional[Column]:
    used = _used(table)
    for col in table.columns:
        if key(col.name) not in used and accept(col):
            return col
    return None


def _replace(table: Table, col: Column, **changes) -> None:
    fields = dict(name=col.name, type=col.type, length=col.length, precision=col.precision, scale=col.scale,
                  nullable=col.nullable, identity=col.identity, default=col.default)
    fields.update(changes)
    table.columns[table.columns.index(col)] = Column(**fields)


def inject_all(live: Schema, seed: int = 0) -> List[Injected]:
    """One drift of each finding kind (missing_index twice: gone, and redefined), each on its own table.

    Oracle has no filtered indexes: there, no ``different_index_filter``.
    """
    platform = live.platform
    rng = random.Random(seed)
    names = sorted(live.tables)
    rng.shuffle(names)
    taken: set = set()
    injected: List[Injected] = []

    def pick(accept: Callable[[Table], bool]) -> Table:
        for name in names:
            if name in taken:
                continue
            table = live.tables[name]
            if accept(table):
                taken.add(name)
                return table
        raise ValueError("the model has no table left for this drift; generate more tables")

    def missing_table() -> None:
        table = pick(lambda t: True)
        del live.tables[key(table.name)]
        injected.append(Injected("missing_table", table.name))

    def missing_column() -> None:
        table = pick(lambda t: _free_column(t) is not None)
        col = _free_column(table)
        table.columns.remove(col)
        injected.append(Injected("missing_column", table.name, col.name))

    def extra_column() -> None:
        table = pick(lambda t: True)
        table.columns.append(Column("XDrift", INT_TYPE[platform], nullable=True))
        injected.append(Injected("extra_column", table.name, "XDrift"))

    def wrong_type() -> None:
        table = pick(lambda t: _free_column(t, lambda c: c.type != OTHER_TYPE[platform]) is not None)
        col = _free_column(table, lambda c: c.type != OTHER_TYPE[platform])
        _replace(table, col, type=OTHER_TYPE[platform], length=None, precision=None, scale=None)
        injected.append(Injected("wrong_type", table.name, col.name))

    def wrong_length() -> None:
        def sized(c: Column) -> bool:
            return c.type in SIZED_TYPES and c.length is not None and c.length > 0

        table = pick(lambda t: _free_column(t, sized) is not None)
        col = _free_column(table, sized)
        _replace(table, col, length=col.length + 7)
        injected.append(Injected("wrong_length", table.name, col.name))

    def nullability() -> None:
        table = pick(lambda t: _free_column(t) is not None)
        col = _free_column(table)
        _replace(table, col, nullable=not col.nullable)
        injected.append(Injected("nullability", table.name, col.name))

    def missing_primary_key() -> None:
        table = pick(lambda t: t.primary_key is not None)
        injected.append(Injected("missing_primary_key", table.name, index=table.primary_key.name))
        table.primary_key = None

    def different_primary_key() -> None:
        table = pick(lambda t: t.primary_key is not None)
        pk = table.primary_key
        in_key = set(key(c) for c in pk.columns)
        extra = next(c.name for c in table.columns if key(c.name) not in in_key)
        table.primary_key = PrimaryKey(pk.name, pk.columns + (extra,), pk.clustered)
        injected.append(Injected("different_primary_key", table.name, index=pk.name))

    def missing_index() -> None:
        table = pick(lambda t: bool(t.indexes))
        gone = table.indexes.pop(0)
        injected.append(Injected("missing_index", table.name, index=gone.name))
        table = pick(lambda t: bool(t.indexes))
        ix = table.indexes[0]
        table.indexes[0] = Index(ix.name, ix.columns, not ix.unique, ix.clustered, ix.include)
        injected.append(Injected("missing_index", table.name, index=ix.name))

    def missing_fulltext_column() -> None:
        table = pick(lambda t: t.fulltext is not None)
        columns = table.fulltext.columns
        table.fulltext = FullTextIndex(columns[:-1], table.fulltext.key_index) if len(columns) > 1 else None
        injected.append(Injected("missing_fulltext_column", table.name, columns[-1]))

    def extra_fulltext_table() -> None:
        table = pick(lambda t: t.fulltext is None and any(c.type in TEXT_TYPES for c in t.columns))
        col = next(c for c in table.columns if c.type in TEXT_TYPES)
        table.fulltext = FullTextIndex((col.name,), table.primary_key.name if table.primary_key else None)
        injected.append(Injected("extra_fulltext_table", table.name))

    def extra_fulltext_column() -> None:
        # Only character and LOB columns can be full-text indexed (MS SQL, Oracle Text, the lab's to_tsvector).
        def candidate(t: Table) -> bool:
            return t.fulltext is not None and any(key(c.name) not in set(key(f) for f in t.fulltext.columns) and c.type in TEXT_TYPES
                                                  for c in t.columns)
        table = pick(candidate)
        present = set(key(f) for f in table.fulltext.columns)
        col = next(c for c in table.columns if key(c.name) not in present and c.type in TEXT_TYPES)
        table.fulltext = FullTextIndex(table.fulltext.columns + (col.name,), table.fulltext.key_index)
        injected.append(Injected("extra_fulltext_column", table.name, col.name))

    def different_index_filter() -> None:
        # SQL Server and PostgreSQL filter indexes (CREATE INDEX ... WHERE); Oracle has no filtered indexes.
        table = pick(lambda t: bool(t.indexes))
        ix = table.indexes[0]
        predicate = "%s IS NOT NULL" % quote_ident(platform, ix.columns[0])
        table.indexes[0] = Index(ix.name, ix.columns, ix.unique, ix.clustered, ix.include, normalized_predicate(predicate, platform))
        injected.append(Injected("different_index_filter", table.name, index=ix.name))

    steps: Dict[str, Callable[[], None]] = {
        "missing_table": missing_table, "missing_column": missing_column, "extra_column": extra_column,
        "wrong_type": wrong_type, "wrong_length": wrong_length, "nullability": nullability,
        "missing_primary_key": missing_primary_key, "different_primary_key": different_primary_key,
        "missing_index": missing_index, "missing_fulltext_column": missing_fulltext_column,
        "extra_fulltext_table": extra_fulltext_table, "extra_fulltext_column": extra_fulltext_column,
    }
    if platform != "oracle":
        steps["different_index_filter"] = different_index_filter
    for step in steps.values():
        step()
    return injected


def inject_unreadable(ddl_text: str, platform: str) -> Tuple[str, Injected, int]:
    """Append a statement the reader cannot read (a missing comma); return the text, the drift and its line."""
    if not ddl_text.endswith("\n"):
        ddl_text += "\n"
    line = ddl_text.count("\n") + 1
    return ddl_text + UNREADABLE[platform], Injected("unreadable_statement", None), line
