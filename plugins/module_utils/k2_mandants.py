# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mandants of a K2 site: SQL to read FIRMY and versions, and their roles.

Roles: ``system`` (DEMO, INIT: shipped with K2, never backed up, recreated
instead of repaired), ``test`` (copies made for testing, by name pattern) and
``production`` (everything else). The patterns are in the profile.
"""

from __future__ import annotations

import fnmatch
from typing import Dict, List, Mapping

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident

# On MS SQL K2's tables live in dbo; on Oracle the schema is the database (owner);
# in the lab the search_path (public) finds them.
_MSSQL_SCHEMA = "dbo"


def table_ref(platform: str, database: str, table: str) -> str:
    """The quoted, qualified name of one of K2's tables in ``database``."""
    if platform == "mssql":
        return "%s.%s" % (quote_ident("mssql", _MSSQL_SCHEMA), quote_ident("mssql", table))
    if platform == "oracle":
        return "%s.%s" % (quote_ident("oracle", database), quote_ident("oracle", table))
    return quote_ident(platform, table)


def firmy_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    f = profile["firmy"]
    code, name, dbname = (quote_ident(platform, f[key]) for key in ("code_column", "name_column", "database_column"))
    return "SELECT %s AS code, %s AS name, %s AS dbname FROM %s ORDER BY %s" % (
        code, name, dbname, table_ref(platform, conf_database, f["table"]), code)


def version_sql(platform: str, database: str, profile: Mapping) -> str:
    v = profile["db_version"]
    return "SELECT %s AS version FROM %s" % (quote_ident(platform, v["version_column"]), table_ref(platform, database, v["table"]))


def role_of(code: str, profile: Mapping) -> str:
    f = profile["firmy"]
    upper = code.strip().upper()
    if upper in [m.upper() for m in f["system_mandants"]]:
        return "system"
    if any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in f["test_patterns"]):
        return "test"
    return "production"


def classify(rows: List[Mapping], profile: Mapping) -> List[Dict[str, str]]:
    """FIRMY rows (code, name, dbname) as mandants with their role."""
    result = []
    for row in rows:
        lowered = {str(k).lower(): v for k, v in row.items()}
        code = _text(lowered["code"])
        result.append({"code": code, "name": _text(lowered.get("name")),
                       "database": _text(lowered["dbname"]), "role": role_of(code, profile)})
    return result


def _text(value) -> str:
    """A column value as trimmed text; NULL is empty (not the string 'None')."""
    return "" if value is None else str(value).strip()
