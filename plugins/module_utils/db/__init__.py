# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database adapters behind one small interface.

``connect(params, database)`` opens the database named by ``database`` (on
Oracle: the schema) on the platform ``params['db_platform']`` selects, with the
options of ``db_options.DB_ARGUMENT_SPEC``. Connection problems come back as
``DatabaseError`` with a one-line message that never holds the password.
"""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils.db import lab, mssql, oracle
from ansible_collections.erpops.upgrade.plugins.module_utils.db.base import (
    BAD_PARAMETER,
    DATABASE_MISSING,
    DRIVER_MISSING,
    LOGIN_FAILED,
    SERVER_NOT_ANSWERING,
    SQL_FAILED,
    Database,
    DatabaseError,
)

ADAPTERS = {"mssql": mssql, "oracle": oracle, "lab": lab}

__all__ = [
    "ADAPTERS", "BAD_PARAMETER", "DATABASE_MISSING", "DRIVER_MISSING", "LOGIN_FAILED", "SERVER_NOT_ANSWERING", "SQL_FAILED",
    "Database", "DatabaseError", "connect",
]


def connect(params: dict, database: str) -> Database:
    """An open ``Database``; raises ``DatabaseError`` naming what went wrong."""
    platform = params.get("db_platform") or "mssql"
    adapter = ADAPTERS.get(platform)
    if adapter is None:
        raise DatabaseError(BAD_PARAMETER, "db_platform must be one of %s, got %r" % (", ".join(sorted(ADAPTERS)), platform))
    return adapter.connect(params, database)
