# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema model shared by the DDL reader, the catalog adapters and the lab.

A ``Schema`` is what one database holds (live) or should hold (read from the
vendor's ``K2t_*`` script). It is platform-neutral in shape but keeps raw type
names: ``ntext`` stays ``ntext``, ``VARCHAR2`` becomes ``varchar2``. Names are
compared case-insensitively through ``key()``, as K2 does on MS SQL.

A catalog snapshot is a ``Schema`` saved as JSON, so that a support engineer
can check a customer's catalog export offline. Its layout::

    {
      "format": "erpops.upgrade/catalog-snapshot",
      "version": 1,
      "platform": "mssql" | "oracle" | "lab",
      "database": "K2_FIRMA",
      "taken_at": "2026-11-23T15:00:00+00:00",
      "tables": [
        {"name": "FIRMY",
         "columns": [{"name": "Cis", "type": "int", "length": null,
                      "precision": null, "scale": null, "nullable": false,
                      "identity": false, "default": null}],
         "primary_key": {"name": "FIRMY_ById", "columns": ["Cis"], "clustered": false},
         "indexes": [{"name": "FIRMY_ByAbbr", "columns": ["Zkr"], "unique": true,
                      "clustered": false, "include": []}],
         "fulltext": {"columns": ["Naz"], "key_index": "FIRMY_ById"}}
      ]
    }

``length`` is in characters; ``-1`` means ``max`` (MS SQL) and ``null`` means
the type has no length. Two column fields are written only when set: ``semantics``
(Oracle ``"char"`` or ``"byte"`` length semantics of a character type) and ``computed``
(the expression of a computed or virtual column).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

SNAPSHOT_FORMAT = "erpops.upgrade/catalog-snapshot"
SNAPSHOT_VERSION = 1
PLATFORMS = ("mssql", "oracle", "lab")
MAX_LENGTH = -1


def key(name: str) -> str:
    """Comparison key of an identifier: K2 names are case-insensitive."""
    return name.upper()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    length: Optional[int] = None
    precision: Optional[int] = None
    scale: Optional[int] = None
    nullable: bool = True
    identity: bool = False
    default: Optional[str] = None
    semantics: Optional[str] = None   # Oracle length semantics of character types: "char", "byte", None (not said)
    computed: Optional[str] = None    # the expression of a computed (virtual) column


@dataclass(frozen=True)
class PrimaryKey:
    name: str
    columns: Tuple[str, ...]
    clustered: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    columns: Tuple[str, ...]
    unique: bool = False
    clustered: bool = False
    include: Tuple[str, ...] = ()


@dataclass(frozen=True)
class FullTextIndex:
    columns: Tuple[str, ...]
    key_index: Optional[str] = None


@dataclass
class Table:
    name: str
    columns: List[Column] = field(default_factory=list)
    primary_key: Optional[PrimaryKey] = None
    indexes: List[Index] = field(default_factory=list)
    fulltext: Optional[FullTextIndex] = None

    def column(self, name: str) -> Optional[Column]:
        wanted = key(name)
        for col in self.columns:
            if key(col.name) == wanted:
                return col
        return None

    def index(self, name: str) -> Optional[Index]:
        wanted = key(name)
        for idx in self.indexes:
            if key(idx.name) == wanted:
                return idx
        return None


@dataclass
class Schema:
    platform: str
    database: str = ""
    tables: Dict[str, Table] = field(default_factory=dict)
    taken_at: Optional[str] = None

    def add(self, table: Table) -> Table:
        self.tables[key(table.name)] = table
        return table

    def table(self, name: str) -> Optional[Table]:
        return self.tables.get(key(name))


# Column fields written only when set, so the layout above stays what it was.
_OPTIONAL_COLUMN_FIELDS = ("semantics", "computed")


def _table_from_dict(data: dict) -> Table:
    pk = data.get("primary_key")
    fulltext = data.get("fulltext")
    return Table(
        name=data["name"],
        columns=[Column(**col) for col in data.get("columns", [])],
        primary_key=PrimaryKey(pk["name"], tuple(pk["columns"]), bool(pk.get("clustered"))) if pk else None,
        indexes=[
            Index(ix["name"], tuple(ix["columns"]), bool(ix.get("unique")), bool(ix.get("clustered")), tuple(ix.get("include", ())))
            for ix in data.get("indexes", [])
        ],
        fulltext=FullTextIndex(tuple(fulltext["columns"]), fulltext.get("key_index")) if fulltext else None,
    )


def _table_to_dict(table: Table) -> dict:
    data = asdict(table)
    for name in ("primary_key", "fulltext"):
        if data[name] is not None:
            data[name]["columns"] = list(data[name]["columns"])
    for column in data["columns"]:
        for optional in _OPTIONAL_COLUMN_FIELDS:
            if column[optional] is None:
                del column[optional]
    for ix in data["indexes"]:
        ix["columns"] = list(ix["columns"])
        ix["include"] = list(ix["include"])
    return data


def snapshot_to_dict(schema: Schema) -> dict:
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "platform": schema.platform,
        "database": schema.database,
        "taken_at": schema.taken_at,
        "tables": [_table_to_dict(t) for t in sorted(schema.tables.values(), key=lambda t: key(t.name))],
    }


def snapshot_from_dict(data: dict) -> Schema:
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError("not a catalog snapshot: the 'format' field must be %r" % SNAPSHOT_FORMAT)
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError("unsupported catalog snapshot version %r (this collection reads version %d)" % (data.get("version"), SNAPSHOT_VERSION))
    if data.get("platform") not in PLATFORMS:
        raise ValueError("catalog snapshot platform must be one of %s, got %r" % (", ".join(PLATFORMS), data.get("platform")))
    schema = Schema(platform=data["platform"], database=data.get("database", ""), taken_at=data.get("taken_at"))
    tables = data.get("tables", [])
    if not isinstance(tables, list):
        raise ValueError("catalog snapshot 'tables' must be a list, got %s" % type(tables).__name__)
    for number, table in enumerate(tables, 1):
        name = table.get("name") if isinstance(table, dict) else None
        if not isinstance(name, str) or not name:
            raise ValueError("catalog snapshot table #%d has no name" % number)
        try:
            schema.add(_table_from_dict(table))
        except KeyError as exc:
            raise ValueError("catalog snapshot table %r is malformed: missing field %s" % (name, exc))
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError("catalog snapshot table %r is malformed: %s" % (name, exc))
    return schema


def dumps_snapshot(schema: Schema) -> str:
    return json.dumps(snapshot_to_dict(schema), indent=1, sort_keys=True)


def loads_snapshot(text: str) -> Schema:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("not a catalog snapshot: invalid JSON (%s)" % exc)
    return snapshot_from_dict(data)
