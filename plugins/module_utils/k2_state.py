# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""K2's own state that the reinstall gates read (K2-02, K2-06, K2-07, K2-14).

SQL texts to read the Reinstall manager's row, the missing mandatory version
initializations of a mandant and the extension status, every name taken from
the profile and quoted for the platform; and the reading of their rows.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_mandants import table_ref
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal


def _columns(platform: str, entry: Mapping[str, str], *keys: str) -> List[str]:
    return [quote_ident(platform, entry[key]) for key in keys]


def reinstall_manager_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    r = profile["reinstall_manager"]
    ban, allowed, prepared = _columns(platform, r, "ban_enabled_column", "reinstall_allowed_column", "preparation_done_column")
    return "SELECT %s AS ban_enabled, %s AS reinstall_allowed, %s AS preparation_done FROM %s" % (
        ban, allowed, prepared, table_ref(platform, conf_database, r["table"]))


def missing_initializations_sql(platform: str, database: str, profile: Mapping) -> str:
    """The mandatory initializations that have not run (K2 shows them as 'Nespuštěno')."""
    v = profile["version_init"]
    function, mandatory, done_at = _columns(platform, v, "function_column", "mandatory_column", "done_at_column")
    return "SELECT %s AS function_name FROM %s WHERE %s = 1 AND %s IS NULL ORDER BY %s" % (
        function, table_ref(platform, database, v["table"]), mandatory, done_at, function)


def extensions_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    e = profile["extensions"]
    name, current, fmt = _columns(platform, e, "name_column", "current_column", "format_column")
    return "SELECT %s AS name, %s AS is_current, %s AS format FROM %s ORDER BY %s" % (
        name, current, fmt, table_ref(platform, conf_database, e["table"]), name)


def _lower_keys(row: Mapping[str, Any]) -> Dict[str, Any]:
    return {str(k).lower(): v for k, v in row.items()}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "y", "yes", "a", "ano")
    return bool(value)


def reinstall_manager_state(rows: List[Mapping[str, Any]]) -> Optional[Dict[str, bool]]:
    """The one row of the Reinstall manager; None when the table is empty."""
    if not rows:
        return None
    row = _lower_keys(rows[0])
    return {key: _flag(row.get(key)) for key in ("ban_enabled", "reinstall_allowed", "preparation_done")}


def function_names(rows: List[Mapping[str, Any]]) -> List[str]:
    return [str(_lower_keys(row)["function_name"]).strip() for row in rows]


def extension_states(rows: List[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    result = []
    for raw in rows:
        row = _lower_keys(raw)
        result.append({"name": str(row["name"]).strip(), "current": _flag(row.get("is_current")),
                       "format": str(row.get("format") or "").strip() or None})
    return result


def version_function(profile: Mapping, version: str) -> str:
    """The function row version initialization records for ``version`` (profile ``version_init.version_function``)."""
    return profile["version_init"]["version_function"].format(version=k2_version.parse(version).name())


def version_initialized_sql(platform: str, database: str, profile: Mapping) -> str:
    """Every record of version initialization ("Verze inicializována"), with its function name and time."""
    v = profile["version_init"]
    function, done_at = _columns(platform, v, "function_column", "done_at_column")
    prefix = v["version_function"].split("{version}")[0]
    return "SELECT %s AS function_name, %s AS done_at FROM %s WHERE %s LIKE %s" % (
        function, done_at, table_ref(platform, database, v["table"]), function,
        quote_literal(platform, prefix.replace("%", "").replace("_", "") + "%"))


def version_initialized(rows: List[Mapping[str, Any]], missing: List[str], version: str, profile: Mapping) -> bool:
    """Version initialization of ``version`` ran (a record of the same version with a time) and no mandatory one is left."""
    before, _sep, after = profile["version_init"]["version_function"].partition("{version}")
    found = False
    for raw in rows:
        row = _lower_keys(raw)
        name = str(row.get("function_name") or "").strip()
        if not (name.startswith(before) and name.endswith(after)) or row.get("done_at") is None:
            continue
        recorded = name[len(before):len(name) - len(after) if after else None].strip()
        try:
            found = found or k2_version.same_version(recorded, version)
        except k2_version.VersionError:
            continue
    return found and not missing
