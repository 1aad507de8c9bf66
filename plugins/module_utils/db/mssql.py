# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MS SQL Server through pyodbc (ODBC Driver 18 for SQL Server, or FreeTDS).

Every SQL text this adapter sends is a module constant whose name ends in
``_SQL``; the unit tests parse each one as T-SQL. The catalog is read from the
``sys`` views of the current database, for tables in the caller's default
schema (where K2's unqualified scripts create them), in three round trips.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.db import base, odbc
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import schema as schema_model


DEFAULT_DRIVER = "ODBC Driver 18 for SQL Server"
DEFAULT_PORT = 1433

COLUMNS_SQL = """\
SELECT t.name AS table_name, c.name AS column_name, c.column_id, ty.name AS type_name,
       c.max_length, c.precision, c.scale, c.is_nullable, c.is_identity,
       dc.definition AS default_definition
FROM sys.tables AS t
JOIN sys.columns AS c ON c.object_id = t.object_id
JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
LEFT JOIN sys.default_constraints AS dc ON dc.object_id = c.default_object_id
WHERE t.is_ms_shipped = 0 AND t.schema_id = SCHEMA_ID()
ORDER BY t.name, c.column_id"""

INDEXES_SQL = """\
SELECT t.name AS table_name, i.name AS index_name, i.index_id, i.is_primary_key, i.is_unique,
       i.type_desc, i.has_filter, i.filter_definition, ic.key_ordinal, ic.index_column_id, ic.is_included_column,
       c.name AS column_name
FROM sys.tables AS t
JOIN sys.indexes AS i ON i.object_id = t.object_id
JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
WHERE t.is_ms_shipped = 0 AND t.schema_id = SCHEMA_ID() AND i.type IN (1, 2) AND i.is_hypothetical = 0
ORDER BY t.name, i.index_id, ic.is_included_column, ic.key_ordinal, ic.index_column_id"""

FULLTEXT_SQL = """\
SELECT t.name AS table_name, c.name AS column_name, fic.column_id, ki.name AS key_index_name
FROM sys.fulltext_indexes AS fi
JOIN sys.tables AS t ON t.object_id = fi.object_id
JOIN sys.fulltext_index_columns AS fic ON fic.object_id = fi.object_id
JOIN sys.columns AS c ON c.object_id = fic.object_id AND c.column_id = fic.column_id
JOIN sys.indexes AS ki ON ki.object_id = fi.object_id AND ki.index_id = fi.unique_index_id
WHERE t.schema_id = SCHEMA_ID()
ORDER BY t.name, fic.column_id"""

DATABASES_SQL = "SELECT name FROM sys.databases ORDER BY name"

# Checked in order: 4060 "Cannot open database" also says "Login failed".
ERROR_PATTERNS = (
    (base.DRIVER_MISSING, r"\[IM002\]|Can't open lib|Data source name not found|file not found"),
    (base.DATABASE_MISSING, r"Cannot open database|\(4060\)|database .* does not exist"),
    (base.LOGIN_FAILED, r"\[28000\]|Login failed|\(18456\)|\(18452\)"),
    (base.SERVER_NOT_ANSWERING, r"\[08001\]|\[08S01\]|\[HYT00\]|timeout expired|TCP Provider|Unable to connect|server was not found|"
                                r"Adaptive Server is unavailable|Connection refused|network-related"),
)

_UNICODE_TYPES = ("nchar", "nvarchar")
_BYTE_LENGTH_TYPES = ("char", "varchar", "binary", "varbinary")
_DECIMAL_TYPES = ("decimal", "numeric")


def is_freetds(driver: str) -> bool:
    return "freetds" in driver.lower()


def connection_string(params: dict, database: str) -> str:
    """The ODBC connection string; every value from the user is ``{}``-quoted.

    FreeTDS (1.3) ends a braced value at the first ``};`` and never un-doubles
    ``}}``, so there a ``}`` in a value is refused rather than mis-quoted.
    """
    driver = params.get("odbc_driver") or DEFAULT_DRIVER
    freetds = is_freetds(driver)
    forbidden, why = ("}", " (the FreeTDS driver cannot carry it; use %s)" % DEFAULT_DRIVER) if freetds else ("", "")

    def value(name: str, text: Any) -> str:
        return base.brace(base.check_value(name, text, forbidden, why))

    host = params.get("login_host") or "localhost"
    port = params.get("login_port") or DEFAULT_PORT
    attributes: List[Tuple[str, str]] = [("DRIVER", base.brace(base.check_value("odbc_driver", driver, "}" if freetds else "")))]
    if freetds:
        attributes += [("SERVER", value("login_host", host)), ("PORT", str(int(port))), ("TDS_Version", "7.4")]
    elif "\\" in host and not params.get("login_port"):
        attributes.append(("SERVER", value("login_host", host)))  # a named instance: SQL Browser finds its port
    else:
        attributes.append(("SERVER", value("login_host", "%s,%d" % (host, int(port)))))
    if database:
        attributes.append(("DATABASE", value("database", database)))
    if params.get("login_user"):
        attributes += [("UID", value("login_user", params["login_user"])), ("PWD", value("login_password", params.get("login_password") or ""))]
    else:
        attributes.append(("Trusted_Connection", "yes"))
    if freetds:
        attributes.append(("Encryption", "require" if params.get("tls", True) else "off"))
    else:
        attributes.append(("Encrypt", "yes" if params.get("tls", True) else "no"))
        attributes.append(("TrustServerCertificate", "yes" if params.get("tls_trust_server_certificate") else "no"))
    return base.connection_string(attributes)


def column_length(type_name: str, max_length: Optional[int]) -> Optional[int]:
    """Characters from ``sys.columns.max_length`` (bytes); -1 is ``max``."""
    name = type_name.lower()
    if max_length is None or name not in _UNICODE_TYPES + _BYTE_LENGTH_TYPES:
        return None
    if max_length == -1:
        return schema_model.MAX_LENGTH
    return max_length // 2 if name in _UNICODE_TYPES else max_length


def column_from_row(row: Dict[str, Any]) -> schema_model.Column:
    type_name = row["type_name"]
    decimal = type_name.lower() in _DECIMAL_TYPES
    return schema_model.Column(
        name=row["column_name"],
        type=type_name,
        length=column_length(type_name, row["max_length"]),
        precision=row["precision"] if decimal else None,
        scale=row["scale"] if decimal else None,
        nullable=base.flag(row["is_nullable"]),
        identity=base.flag(row["is_identity"]),
        default=row.get("default_definition"),
    )


def _add_index(table: schema_model.Table, rows: List[Dict[str, Any]]) -> None:
    first = rows[0]
    keys = sorted((r for r in rows if not base.flag(r["is_included_column"])), key=lambda r: r["key_ordinal"])
    included = sorted((r for r in rows if base.flag(r["is_included_column"])), key=lambda r: r["index_column_id"])
    columns = tuple(r["column_name"] for r in keys)
    clustered = first["type_desc"] == "CLUSTERED"
    if base.flag(first["is_primary_key"]):
        table.primary_key = schema_model.PrimaryKey(first["index_name"], columns, clustered)
    else:
        index_filter = schema_model.normalized_predicate(first.get("filter_definition"), "mssql") if base.flag(
            first.get("has_filter")) else None
        table.indexes.append(schema_model.Index(first["index_name"], columns, base.flag(first["is_unique"]), clustered,
                                                tuple(r["column_name"] for r in included), index_filter))


def catalog_from_rows(columns_rows: List[dict], index_rows: List[dict], fulltext_rows: List[dict], database: str) -> schema_model.Schema:
    """Map the rows of ``COLUMNS_SQL``, ``INDEXES_SQL`` and ``FULLTEXT_SQL`` to a schema."""
    result = base.new_schema("mssql", database)
    for (table_name,), rows in base.group_rows(columns_rows, "table_name").items():
        table = result.add(schema_model.Table(table_name))
        table.columns = [column_from_row(r) for r in sorted(rows, key=lambda r: r["column_id"])]
    for (table_name, _index_id), rows in base.group_rows(index_rows, "table_name", "index_id").items():
        table = result.table(table_name)
        if table is not None:
            _add_index(table, rows)
    for (table_name,), rows in base.group_rows(fulltext_rows, "table_name").items():
        table = result.table(table_name)
        if table is not None:
            ordered = sorted(rows, key=lambda r: r["column_id"])
            table.fulltext = schema_model.FullTextIndex(tuple(r["column_name"] for r in ordered), rows[0]["key_index_name"])
    return result


class MssqlDatabase(base.Database):
    platform = "mssql"
    patterns = ERROR_PATTERNS
    driver_errors = odbc.DRIVER_ERRORS

    def catalog_queries(self):
        return ((COLUMNS_SQL, ()), (INDEXES_SQL, ()), (FULLTEXT_SQL, ()))

    catalog_from_rows = staticmethod(catalog_from_rows)

    def databases(self) -> List[str]:
        return [row["name"] for row in self.query(DATABASES_SQL)]


def connect(params: dict, database: str) -> MssqlDatabase:
    return odbc.open_database(MssqlDatabase, params, database, connection_string(params, database), DEFAULT_PORT)
