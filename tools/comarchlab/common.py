"""What the lab's processes share: the site's state file, the database connection, paths."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Dict, Iterator, List, Sequence

import pyodbc

from tools.comarchlab import vendor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The PostgreSQL ODBC driver the lab's cluster is reached with (Debian's odbc-postgresql).
ODBC_DRIVER = "PostgreSQL Unicode"

SITE_FILE = "site.json"
KNOBS_FILE = "knobs.json"
VERSION_FILE = "program_version"
DOMAIN_LOCK = "domain.locked"
SERVICE_PID = "service.pid"
DOMAIN_PID = "domain.pid"


def site_root(lab_dir: str, name: str) -> str:
    return os.path.join(lab_dir, "comarch", name)


def read_json(path: str, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def write_text(path: str, text: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def read_text(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def layout_of(site: dict) -> dict:
    """The site's table layout: its product's, with the site's own ``layout`` merged in."""
    return vendor.layout(site.get("product", "optima"), site.get("layout") or {})


class Database:
    """One ERP database of a site: autocommit, ``?`` parameters, rows as dicts."""

    def __init__(self, connection, name: str):
        self.connection = connection
        self.name = name

    def _cursor(self, sql: str, params: Sequence[Any]):
        cursor = self.connection.cursor()
        if params:
            cursor.execute(sql, tuple(params))
        else:
            cursor.execute(sql)
        return cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[Dict[str, Any]]:
        cursor = self._cursor(sql, params)
        try:
            names = [column[0] for column in cursor.description or ()]
            return [dict(zip(names, row)) for row in cursor.fetchall()] if names else []
        finally:
            cursor.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor(sql, params).close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Database"]:
        self.connection.autocommit = False
        try:
            yield self
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            self.connection.autocommit = True

    def close(self) -> None:
        self.connection.close()


def connect(site: dict, database: str) -> Database:
    """A connection to one of the site's databases over the cluster's unix socket."""
    text = "DRIVER={%s};Servername=%s;Port=%d;Database=%s;UID=%s;PWD={%s};SSLmode=disable;" % (
        ODBC_DRIVER, site["db_host"], int(site["db_port"]), database, site["db_user"], site["db_password"].replace("}", "}}"))
    return Database(pyodbc.connect(text, autocommit=True, timeout=10), database)
