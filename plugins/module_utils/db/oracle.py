# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Oracle through python-oracledb: thin mode by default, thick mode only when asked.

K2 on Oracle keeps each mandant in its own schema, so ``database`` names the
schema (owner). It is always a bind variable (``:owner``), never SQL text.
Every SQL text is a module constant ending in ``_SQL``; the unit tests parse
each one as Oracle SQL.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any, Dict, List, Optional

from ansible_collections.erpops.upgrade.plugins.module_utils.db import base
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import schema as schema_model

# The driver is imported on the first Oracle connection: importing it takes longer than most database modules' work
# (about 80 ms, with its cryptography), and every database module imports this adapter.
HAS_ORACLEDB = importlib.util.find_spec("oracledb") is not None


@functools.lru_cache(maxsize=None)
def driver() -> Any:
    """The python-oracledb module."""
    import oracledb  # pylint: disable=import-outside-toplevel
    return oracledb


DEFAULT_PORT = 1521
FETCH_ARRAY_SIZE = 5000

SCHEMA_EXISTS_SQL = "SELECT USERNAME FROM ALL_USERS WHERE USERNAME = :owner"

COLUMNS_SQL = """\
SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_ID, c.DATA_TYPE, c.DATA_LENGTH, c.CHAR_LENGTH, c.CHAR_USED,
       c.DATA_PRECISION, c.DATA_SCALE, c.NULLABLE, c.IDENTITY_COLUMN, c.DATA_DEFAULT
FROM ALL_TAB_COLUMNS c
JOIN ALL_TABLES t ON t.OWNER = c.OWNER AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.OWNER = :owner AND t.DROPPED = 'NO'
ORDER BY c.TABLE_NAME, c.COLUMN_ID"""

# Primary keys come from the constraints (their name is the constraint's), the
# other indexes from ALL_INDEXES; one round trip for both.
INDEXES_SQL = """\
SELECT 'P' AS KIND, k.TABLE_NAME, k.CONSTRAINT_NAME AS INDEX_NAME, 'UNIQUE' AS UNIQUENESS,
       k.INDEX_NAME AS BACKING_INDEX, kc.POSITION AS COLUMN_POSITION, kc.COLUMN_NAME
FROM ALL_CONSTRAINTS k
JOIN ALL_CONS_COLUMNS kc ON kc.OWNER = k.OWNER AND kc.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND kc.TABLE_NAME = k.TABLE_NAME
WHERE k.OWNER = :owner AND k.CONSTRAINT_TYPE = 'P'
UNION ALL
SELECT 'I' AS KIND, i.TABLE_NAME, i.INDEX_NAME, i.UNIQUENESS,
       NULL AS BACKING_INDEX, ic.COLUMN_POSITION, ic.COLUMN_NAME
FROM ALL_INDEXES i
JOIN ALL_IND_COLUMNS ic ON ic.INDEX_OWNER = i.OWNER AND ic.INDEX_NAME = i.INDEX_NAME
WHERE i.OWNER = :owner AND i.TABLE_OWNER = :owner AND i.INDEX_TYPE IN ('NORMAL', 'NORMAL/REV', 'BITMAP')
ORDER BY 2, 1, 3, 6"""

FULLTEXT_SQL = """\
SELECT i.TABLE_NAME, i.INDEX_NAME, ic.COLUMN_POSITION, ic.COLUMN_NAME
FROM ALL_INDEXES i
JOIN ALL_IND_COLUMNS ic ON ic.INDEX_OWNER = i.OWNER AND ic.INDEX_NAME = i.INDEX_NAME
WHERE i.OWNER = :owner AND i.INDEX_TYPE = 'DOMAIN' AND i.ITYP_OWNER = 'CTXSYS' AND i.ITYP_NAME = 'CONTEXT'
ORDER BY i.TABLE_NAME, i.INDEX_NAME, ic.COLUMN_POSITION"""

DATABASES_SQL = "SELECT USERNAME FROM ALL_USERS WHERE ORACLE_MAINTAINED = 'N' ORDER BY USERNAME"

ERROR_PATTERNS = (
    (base.DRIVER_MISSING, r"DPI-1047|DPI-1072|DPY-3010|Oracle Client library"),
    (base.DATABASE_MISSING, r"ORA-12514|ORA-12505|DPY-6001|DPY-6003|ORA-01435"),
    (base.LOGIN_FAILED, r"ORA-01017|ORA-28000|ORA-01005|ORA-28001|ORA-01045"),
    (base.SERVER_NOT_ANSWERING, r"DPY-6005|DPY-6000|DPY-4011|ORA-12541|ORA-12170|ORA-12543|ORA-12537|timed out|Connection refused"),
)

_CHARACTER_TYPES = ("VARCHAR2", "NVARCHAR2", "CHAR", "NCHAR")


def connect_args(params: dict) -> Dict[str, Any]:
    """Keyword arguments for ``oracledb.connect``; TLS means the TCPS protocol."""
    service = params.get("oracle_service_name")
    if not service:
        raise base.DatabaseError(base.BAD_PARAMETER, "oracle_service_name is required for db_platform=oracle")
    return dict(
        user=params.get("login_user"),
        password=params.get("login_password"),
        host=params.get("login_host") or "localhost",
        port=int(params.get("login_port") or DEFAULT_PORT),
        service_name=service,
        protocol="tcps" if params.get("tls", True) else "tcp",
        ssl_server_dn_match=not params.get("tls_trust_server_certificate"),
        tcp_connect_timeout=float(params.get("connect_timeout") or 15),
    )


def column_length(row: Dict[str, Any]) -> Optional[int]:
    """Declared length: characters when ``CHAR_USED='C'``, bytes when ``'B'``; RAW in bytes."""
    data_type = row["DATA_TYPE"]
    if data_type in _CHARACTER_TYPES:
        return row["CHAR_LENGTH"] if row["CHAR_USED"] == "C" else row["DATA_LENGTH"]
    if data_type == "RAW":
        return row["DATA_LENGTH"]
    return None


def column_from_row(row: Dict[str, Any]) -> schema_model.Column:
    number = row["DATA_TYPE"] == "NUMBER"
    identity = base.flag(row.get("IDENTITY_COLUMN"))
    default = None if identity else row.get("DATA_DEFAULT")  # an identity's default is its hidden sequence
    return schema_model.Column(
        name=row["COLUMN_NAME"],
        type=row["DATA_TYPE"].lower(),
        length=column_length(row),
        precision=row["DATA_PRECISION"] if number else None,
        scale=row["DATA_SCALE"] if number else None,
        nullable=base.flag(row["NULLABLE"]),
        identity=identity,
        default=default.strip() if isinstance(default, str) else default,
        semantics={"C": "char", "B": "byte"}.get(row.get("CHAR_USED") or "") if row["DATA_TYPE"] in _CHARACTER_TYPES else None,
    )


def catalog_from_rows(columns_rows: List[dict], index_rows: List[dict], fulltext_rows: List[dict], database: str) -> schema_model.Schema:
    """Map the rows of ``COLUMNS_SQL``, ``INDEXES_SQL`` and ``FULLTEXT_SQL`` to a schema."""
    result = base.new_schema("oracle", database)
    for (table_name,), rows in base.group_rows(columns_rows, "TABLE_NAME").items():
        table = result.add(schema_model.Table(table_name))
        table.columns = [column_from_row(r) for r in sorted(rows, key=lambda r: r["COLUMN_ID"])]
    groups = base.group_rows(index_rows, "TABLE_NAME", "KIND", "INDEX_NAME")
    backing = {(t, rows[0]["BACKING_INDEX"]) for (t, kind, _n), rows in groups.items() if kind == "P"}
    for (table_name, kind, index_name), rows in groups.items():
        table = result.table(table_name)
        if table is None or (kind == "I" and (table_name, index_name) in backing):
            continue
        columns = tuple(r["COLUMN_NAME"] for r in sorted(rows, key=lambda r: r["COLUMN_POSITION"]))
        if kind == "P":
            table.primary_key = schema_model.PrimaryKey(index_name, columns)
        else:
            table.indexes.append(schema_model.Index(index_name, columns, rows[0]["UNIQUENESS"] == "UNIQUE"))
    for (table_name,), rows in base.group_rows(fulltext_rows, "TABLE_NAME").items():
        table = result.table(table_name)
        if table is not None:
            ordered = sorted(rows, key=lambda r: (r["INDEX_NAME"], r["COLUMN_POSITION"]))
            table.fulltext = schema_model.FullTextIndex(tuple(r["COLUMN_NAME"] for r in ordered))
    return result


class OracleDatabase(base.Database):
    platform = "oracle"
    patterns = ERROR_PATTERNS

    @property
    def driver_errors(self):  # the driver is imported by then: this database is connected
        return (driver().Error,)

    def _new_cursor(self) -> Any:
        cursor = self._connection.cursor()
        cursor.arraysize = FETCH_ARRAY_SIZE
        return cursor

    def catalog_queries(self):
        owner = {"owner": self.database}
        return ((COLUMNS_SQL, owner), (INDEXES_SQL, owner), (FULLTEXT_SQL, owner))

    catalog_from_rows = staticmethod(catalog_from_rows)

    def databases(self) -> List[str]:
        """The schemas a K2 mandant can live in (not Oracle's own)."""
        return [row["USERNAME"] for row in self.query(DATABASES_SQL)]


def _init_thick_mode(client_dir: Optional[str], where: str) -> None:
    oracledb = driver()
    if not oracledb.is_thin_mode():
        return
    try:
        oracledb.init_oracle_client(lib_dir=client_dir or None)
    except oracledb.Error as exc:
        raise base.DatabaseError(base.DRIVER_MISSING, "%s: thick mode needs the Oracle Client libraries (oracle_client_dir=%r): %s"
                                 % (where, client_dir, base.one_line(str(exc)))) from None


def connect(params: dict, database: str) -> OracleDatabase:
    args = connect_args(params)
    where = base.where("oracle", args["host"], args["port"], database) + ", service %r" % args["service_name"]
    if not HAS_ORACLEDB:
        raise base.DatabaseError(base.DRIVER_MISSING, "%s: the Python package oracledb is not installed where the module runs" % where)
    if params.get("oracle_thick_mode"):
        _init_thick_mode(params.get("oracle_client_dir"), where)
    secrets = (params.get("login_password"),)
    oracledb = driver()
    try:
        connection = oracledb.connect(**args)
    except oracledb.Error as exc:
        hints = {base.SERVER_NOT_ANSWERING: "tls is on, so the listener must accept TCPS; set tls=false for plain TCP"} if args["protocol"] == "tcps" else None
        raise base.error_from_driver(exc, ERROR_PATTERNS, where, secrets, base.SERVER_NOT_ANSWERING, hints) from None
    connection.autocommit = True
    db = OracleDatabase(connection, database, where, secrets)
    if not db.query(SCHEMA_EXISTS_SQL, {"owner": database}):
        db.close()
        raise base.DatabaseError(base.DATABASE_MISSING, "%s: no schema %r (Oracle names are case-sensitive here; K2 uses upper case)" % (where, database))
    connection.current_schema = database
    return db
