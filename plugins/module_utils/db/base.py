# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small interface every database adapter implements, and its error type.

``Database`` wraps one DB-API connection (pyodbc or oracledb) in autocommit
mode. ``query`` always runs; ``execute`` records its SQL text in ``executed``
(what check mode would run) and runs it unless ``dont_exec``. ``round_trips``
counts the calls that reach the server (statements, commits, rollbacks).

``DatabaseError`` carries one clean line that names the problem; the password
of the connection is scrubbed from anything a driver says.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import schema as schema_model

SERVER_NOT_ANSWERING = "server not answering"
LOGIN_FAILED = "login failed"
DATABASE_MISSING = "database missing"
DRIVER_MISSING = "driver missing"
BAD_PARAMETER = "bad connection parameter"
SQL_FAILED = "SQL failed"

REDACTED = "********"
ODBC_HINTS = {DRIVER_MISSING: "`odbcinst -q -d` lists the ODBC drivers installed; set odbc_driver to one of them"}
_MAX_DETAIL = 400
_SECRET_ATTRIBUTE = re.compile(r"(?i)\b(pwd|password)=(\{(?:[^}]|\}\})*\}|[^;\s]*)")

ErrorPatterns = Sequence[Tuple[str, str]]


class DatabaseError(Exception):
    """A database problem in one line: ``<kind>: <where>: <what the driver said>``."""

    def __init__(self, kind: str, message: str, sqlstate: Optional[str] = None) -> None:
        super().__init__("%s: %s" % (kind, message))
        self.kind = kind
        self.sqlstate = sqlstate


def one_line(text: str, secrets: Sequence[Optional[str]] = ()) -> str:
    """Collapse whitespace, drop any password the text repeats, and cap the length."""
    text = _SECRET_ATTRIBUTE.sub(lambda m: m.group(1) + "=" + REDACTED, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL - 3] + "..."


def driver_message(exc: BaseException) -> Tuple[Optional[str], str]:
    """SQLSTATE (pyodbc puts it first in ``args``) and the driver's text."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        return args[0], args[1]
    return None, str(exc)


def classify(patterns: ErrorPatterns, sqlstate: Optional[str], text: str, default: str) -> str:
    """First kind whose regular expression matches ``[sqlstate] text``."""
    haystack = "[%s] %s" % (sqlstate or "", text)
    for kind, pattern in patterns:
        if re.search(pattern, haystack, re.IGNORECASE):
            return kind
    return default


def error_from_driver(exc: BaseException, patterns: ErrorPatterns, where: str, secrets: Sequence[Optional[str]] = (),
                      default: str = SQL_FAILED, hints: Optional[Dict[str, str]] = None) -> DatabaseError:
    """``hints`` add a sentence per kind of error, e.g. how to list the installed ODBC drivers."""
    sqlstate, text = driver_message(exc)
    kind = classify(patterns, sqlstate, text, default)
    hint = (hints or {}).get(kind)
    return DatabaseError(kind, "%s: %s%s" % (where, one_line(text, secrets), " (%s)" % hint if hint else ""), sqlstate)


def where(platform: str, host: str, port: Any, database: str) -> str:
    """Where a connection goes, for messages: never the login or the password."""
    return "%s server %s port %s, database %r" % (platform, host, port, database)


def brace(value: str) -> str:
    """ODBC connection-string quoting: ``{...}`` with every ``}`` doubled."""
    return "{" + value.replace("}", "}}") + "}"


def connection_string(attributes: Sequence[Tuple[str, str]]) -> str:
    return ";".join("%s=%s" % pair for pair in attributes) + ";"


def check_value(name: str, value: Any, forbidden: str = "", why: str = "") -> str:
    """A connection value as text; refuse NUL and the characters a driver cannot carry."""
    text = str(value)
    bad = "\x00" + forbidden
    if any(ch in text for ch in bad):
        shown = ", ".join(repr(ch) for ch in bad if ch in text)
        raise DatabaseError(BAD_PARAMETER, "%s contains %s%s" % (name, shown, why))
    return text


class Database:
    """One connection to one database (on Oracle: one schema)."""

    platform = ""
    patterns: ErrorPatterns = ()
    driver_errors: Tuple[type, ...] = ()

    def __init__(self, connection: Any, database: str, where_text: str = "", secrets: Sequence[Optional[str]] = ()) -> None:
        self._connection = connection
        self.database = database
        self.where = where_text
        self._secrets = tuple(secrets)
        self.executed: List[str] = []
        self.round_trips = 0
        self._in_transaction = False

    # -- server calls -------------------------------------------------------
    def _call(self, func: Callable, *args: Any) -> Any:
        self.round_trips += 1
        try:
            return func(*args)
        except self.driver_errors as exc:
            raise error_from_driver(exc, self.patterns, self.where, self._secrets) from None

    def _new_cursor(self) -> Any:
        return self._connection.cursor()

    def _run(self, sql: str, params: Any) -> Any:
        cursor = self._new_cursor()
        try:
            if params:
                self._call(cursor.execute, sql, params)
            else:
                self._call(cursor.execute, sql)
        except DatabaseError:
            cursor.close()
            raise
        return cursor

    def query(self, sql: str, params: Any = ()) -> List[Dict[str, Any]]:
        """Run a read and return its rows as dicts keyed by the column names the server reports."""
        cursor = self._run(sql, params)
        try:
            if cursor.description is None:
                return []
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def execute(self, sql: str, params: Any = (), dont_exec: bool = False) -> int:
        """Record ``sql`` and run it unless ``dont_exec``; the driver's row count (-1 when unknown)."""
        self.executed.append(sql)
        if dont_exec:
            return 0
        cursor = self._run(sql, params)
        try:
            count = cursor.rowcount
            return -1 if count is None else int(count)
        finally:
            cursor.close()

    @contextmanager
    def transaction(self) -> Iterator["Database"]:
        """Autocommit off inside; commit on success, roll back on any exception. Nested: joins the outer one."""
        if self._in_transaction:
            yield self
            return
        self._connection.autocommit = False
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._rollback_quietly()
            raise
        else:
            self._call(self._connection.commit)
        finally:
            self._in_transaction = False
            self._connection.autocommit = True

    def _rollback_quietly(self) -> None:
        try:
            self._call(self._connection.rollback)
        except DatabaseError:
            pass  # the original exception says more than a failed rollback

    # -- catalog ------------------------------------------------------------
    def catalog_queries(self) -> Tuple[Tuple[str, Any], Tuple[str, Any], Tuple[str, Any]]:
        """The three reads (columns, indexes, full-text) with their parameters."""
        raise NotImplementedError

    @staticmethod
    def catalog_from_rows(columns_rows: List[dict], index_rows: List[dict], fulltext_rows: List[dict], database: str) -> schema_model.Schema:
        raise NotImplementedError

    def catalog_rows(self) -> List[List[dict]]:
        """The rows of the three catalog reads (columns, indexes, full-text) as the server returns them."""
        return [self.query(sql, params) for sql, params in self.catalog_queries()]

    def catalog(self, rows: Optional[List[List[dict]]] = None) -> schema_model.Schema:
        """The whole catalog of this database in three round trips, whatever its size (or from ``catalog_rows``' rows)."""
        rows = self.catalog_rows() if rows is None else rows
        result = self.catalog_from_rows(rows[0], rows[1], rows[2], self.database)
        result.taken_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return result

    def databases(self) -> List[str]:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self._connection.close()
        except self.driver_errors:
            pass  # closing a broken connection must not hide why it broke


def flag(value: Any) -> bool:
    """A boolean out of whatever a driver returns: bool, 0/1, 'Y'/'N', 'YES'/'NO', 't'/'f'."""
    if isinstance(value, str):
        return value.strip().upper() in ("Y", "YES", "T", "TRUE", "1")
    return bool(value)


def group_rows(rows: List[dict], *keys: str) -> Dict[Tuple, List[dict]]:
    """Rows grouped by the values of ``keys``, in first-seen order."""
    groups: Dict[Tuple, List[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def new_schema(platform: str, database: str) -> schema_model.Schema:
    return schema_model.Schema(platform=platform, database=database)
