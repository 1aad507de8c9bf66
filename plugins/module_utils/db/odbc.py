# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening a pyodbc connection, shared by the ODBC adapters (MS SQL and the lab)."""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils.db import base

try:
    import pyodbc
    HAS_PYODBC = True
except ImportError:
    pyodbc = None
    HAS_PYODBC = False

DRIVER_ERRORS = (pyodbc.Error,) if HAS_PYODBC else ()


def open_database(database_class, params: dict, database: str, connection_string: str, default_port: int):
    """Connect through ODBC and wrap the connection in ``database_class``; errors become one clean DatabaseError."""
    platform = database_class.platform
    where = base.where(platform, params.get("login_host") or "localhost", params.get("login_port") or default_port, database)
    if not HAS_PYODBC:
        raise base.DatabaseError(base.DRIVER_MISSING, "%s: the Python package pyodbc is not installed where the module runs" % where)
    secrets = (params.get("login_password"),)
    try:
        connection = pyodbc.connect(connection_string, autocommit=True, timeout=int(params.get("connect_timeout") or 15))
    except pyodbc.Error as exc:
        raise base.error_from_driver(exc, database_class.patterns, where, secrets, base.SERVER_NOT_ANSWERING, base.ODBC_HINTS) from None
    return database_class(connection, database, where, secrets)
