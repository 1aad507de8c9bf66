# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab database: PostgreSQL through pyodbc and the "PostgreSQL Unicode" driver.

Going through ODBC keeps the lab on the same pyodbc path as MS SQL. The lab
creates every identifier quoted, so names keep their case ("FIRMY"). The
catalog comes from ``pg_catalog`` for schema ``public`` in three round trips;
a full-text index is any GIN index whose definition uses ``to_tsvector``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.db import base, odbc
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import schema as schema_model


DEFAULT_DRIVER = "PostgreSQL Unicode"
DEFAULT_PORT = 5432

COLUMNS_SQL = """\
SELECT c.relname AS table_name, a.attname AS column_name, a.attnum, t.typname AS type_name,
       a.atttypmod, a.attnotnull, a.attidentity, pg_get_expr(d.adbin, d.adrelid) AS default_definition
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum"""

INDEXES_SQL = """\
SELECT t.relname AS table_name, i.relname AS index_name, x.indisprimary, x.indisunique, x.indisclustered,
       x.indnkeyatts, pg_get_expr(x.indpred, x.indrelid) AS filter_definition, k.position, a.attname AS column_name
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = i.relam
CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = 'public' AND am.amname = 'btree'
ORDER BY t.relname, i.relname, k.position"""

FULLTEXT_SQL = """\
SELECT t.relname AS table_name, i.relname AS index_name, a.attnum, a.attname AS column_name
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = i.relam
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = x.indexrelid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = x.indrelid AND d.refobjsubid > 0
JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = d.refobjsubid
WHERE n.nspname = 'public' AND am.amname = 'gin' AND pg_get_indexdef(x.indexrelid) LIKE '%to_tsvector%'
ORDER BY t.relname, a.attnum"""

# Sent together as one request (see ``LabDatabase.begin_snapshot``).
SNAPSHOT_BEGIN_SQL = "BEGIN ISOLATION LEVEL REPEATABLE READ"
SNAPSHOT_READ_ONLY_SQL = "SET TRANSACTION READ ONLY"
SNAPSHOT_EXPORT_SQL = "SELECT pg_export_snapshot()"
DATABASES_SQL = "SELECT datname FROM pg_catalog.pg_database WHERE NOT datistemplate ORDER BY datname"

ERROR_PATTERNS = (
    (base.DRIVER_MISSING, r"\[IM002\]|Can't open lib|Data source name not found|file not found"),
    (base.DATABASE_MISSING, r'database ".*" does not exist'),
    (base.LOGIN_FAILED, r'authentication failed|role ".*" does not exist|no pg_hba\.conf entry|no password supplied'),
    (base.SERVER_NOT_ANSWERING, r"could not connect|Connection refused|No such file or directory|timeout expired|"
                                r"could not translate host name|Is the server running"),
)

# psqlodbc keeps the braces of every value but the password, so other values
# go unquoted and must not hold the characters that end or open one.
_UNQUOTABLE = ";{}"
_VARCHAR_TYPES = ("varchar", "bpchar")


def connection_string(params: dict, database: str) -> str:
    """The ODBC connection string; the password is ``{}``-quoted, other values are checked."""
    why = " (the PostgreSQL ODBC driver cannot quote it)"
    host = params.get("login_host") or "localhost"
    attributes: List[Tuple[str, str]] = [
        ("DRIVER", base.brace(base.check_value("odbc_driver", params.get("odbc_driver") or DEFAULT_DRIVER, "}"))),
        ("Servername", base.check_value("login_host", host, _UNQUOTABLE, why)),
        ("Port", str(int(params.get("login_port") or DEFAULT_PORT))),
        ("Database", base.check_value("database", database, _UNQUOTABLE, why)),
    ]
    if params.get("login_user"):
        attributes.append(("UID", base.check_value("login_user", params["login_user"], _UNQUOTABLE, why)))
    if params.get("login_password"):
        attributes.append(("PWD", base.brace(base.check_value("login_password", params["login_password"]))))
    attributes.append(("SSLmode", ssl_mode(host, params)))
    attributes.append(("BoolsAsChar", "0"))
    return base.connection_string(attributes)


def ssl_mode(host: str, params: dict) -> str:
    """``disable`` on a unix socket (a directory) or without TLS; ``verify-full`` unless told to trust."""
    if host.startswith("/") or not params.get("tls", True):
        return "disable"
    return "require" if params.get("tls_trust_server_certificate") else "verify-full"


def column_shape(type_name: str, typmod: int) -> Tuple[Optional[int], Optional[int], Optional[int]]:
    """(length, precision, scale) from ``atttypmod``, which carries a 4-byte header."""
    if typmod is None or typmod < 0:
        return (schema_model.MAX_LENGTH if type_name == "varchar" else None), None, None
    if type_name in _VARCHAR_TYPES:
        return typmod - 4, None, None
    if type_name == "numeric":
        return None, ((typmod - 4) >> 16) & 65535, (typmod - 4) & 65535
    return None, None, None


def column_from_row(row: Dict[str, Any]) -> schema_model.Column:
    length, precision, scale = column_shape(row["type_name"], row["atttypmod"])
    return schema_model.Column(
        name=row["column_name"],
        type=row["type_name"],
        length=length,
        precision=precision,
        scale=scale,
        nullable=not base.flag(row["attnotnull"]),
        identity=(row["attidentity"] or "").strip() in ("a", "d"),
        default=row.get("default_definition"),
    )


def _add_index(table: schema_model.Table, rows: List[Dict[str, Any]]) -> None:
    first = rows[0]
    ordered = sorted(rows, key=lambda r: r["position"])
    keys = tuple(r["column_name"] for r in ordered if r["position"] <= first["indnkeyatts"])
    included = tuple(r["column_name"] for r in ordered if r["position"] > first["indnkeyatts"])
    clustered = base.flag(first["indisclustered"])
    if base.flag(first["indisprimary"]):
        table.primary_key = schema_model.PrimaryKey(first["index_name"], keys, clustered)
    else:
        table.indexes.append(schema_model.Index(first["index_name"], keys, base.flag(first["indisunique"]), clustered, included,
                                                schema_model.normalized_predicate(first.get("filter_definition"), "lab")))


def catalog_from_rows(columns_rows: List[dict], index_rows: List[dict], fulltext_rows: List[dict], database: str) -> schema_model.Schema:
    """Map the rows of ``COLUMNS_SQL``, ``INDEXES_SQL`` and ``FULLTEXT_SQL`` to a schema."""
    result = base.new_schema("lab", database)
    for (table_name,), rows in base.group_rows(columns_rows, "table_name").items():
        table = result.add(schema_model.Table(table_name))
        table.columns = [column_from_row(r) for r in sorted(rows, key=lambda r: r["attnum"])]
    for (table_name, _index), rows in base.group_rows(index_rows, "table_name", "index_name").items():
        table = result.table(table_name)
        if table is not None:
            _add_index(table, rows)
    for (table_name,), rows in base.group_rows(fulltext_rows, "table_name").items():
        table = result.table(table_name)
        if table is not None:
            names = []
            for row in sorted(rows, key=lambda r: r["attnum"]):
                if row["column_name"] not in names:
                    names.append(row["column_name"])
            table.fulltext = schema_model.FullTextIndex(tuple(names))
    return result


class LabDatabase(base.Database):
    platform = "lab"
    patterns = ERROR_PATTERNS
    driver_errors = odbc.DRIVER_ERRORS

    def catalog_queries(self):
        return ((COLUMNS_SQL, ()), (INDEXES_SQL, ()), (FULLTEXT_SQL, ()))

    catalog_from_rows = staticmethod(catalog_from_rows)

    def databases(self) -> List[str]:
        return [row["datname"] for row in self.query(DATABASES_SQL)]

    def begin_snapshot(self) -> str:
        """Open a read-only REPEATABLE READ transaction and export its snapshot (for ``pg_dump --snapshot``).

        BEGIN and the export go in one request: the ODBC driver puts every statement inside an
        open transaction into a savepoint, and a snapshot cannot be exported from a subtransaction.
        Later reads on this connection see the same snapshot; ``end_snapshot`` closes it.
        """
        cursor = self._run("; ".join((SNAPSHOT_BEGIN_SQL, SNAPSHOT_READ_ONLY_SQL, SNAPSHOT_EXPORT_SQL)), ())
        try:
            while cursor.description is None and cursor.nextset():
                pass
            return str(cursor.fetchone()[0])
        finally:
            cursor.close()

    def end_snapshot(self) -> None:
        self.execute("ROLLBACK")


def connect(params: dict, database: str) -> LabDatabase:
    return odbc.open_database(LabDatabase, params, database, connection_string(params, database), DEFAULT_PORT)
