# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every assumption about Comarch ERP's private tables, per product, in one overridable place.

Comarch does not publish where the Automatic Operations Service (Serwis Operacji
Automatycznych) keeps its schedule and its history. Each entry of a
product profile says which runbook step (CM-xx) needs it; users replace any part
with the variable ``comarch_profile`` (merged key by key by ``merge_profile``), so
a site of another layout needs no code change. The lab describes its stand-in
Comarch on its own (``tools/comarchlab/vendor.py``); a unit test holds these
defaults to it.

Products: ``optima`` (Comarch ERP Optima), ``xl_hr`` (Comarch ERP XL HR) and
``altum_hr`` (Comarch ERP Altum HR). XL HR and Altum HR keep their HR data in an
Optima-based database and are synced by the same service; what differs is the
service's name as installed and their own version lines, so their version
mappings start empty and must be supplied (the collection refuses to guess).

SQL text for the reads and the one write lives here too, built only from
profile names quoted per dialect, so that a hostile override cannot inject SQL.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_qualified

PLATFORMS = ("mssql", "lab")

OPTIMA_PROFILE: Dict[str, Any] = {
    # CM-02, CM-04: the Windows service (its name as installed with Optima).
    "service": {
        "name": "Comarch ERP Optima Serwis Operacji Automatycznych",
    },
    # CM-03: the version a company database was converted to.
    # Inferred from public SQL: CDN.SystemCDN, SYS_Wartosc where SYS_ID = 3.
    "db_version": {
        "schema": "CDN",
        "table": "SystemCDN",
        "id_column": "SYS_ID",
        "value_column": "SYS_Wartosc",
        "version_id": 3,
    },
    # CM-03: program version -> the database version its conversion wizard writes. Database and
    # program versions are different strings (program 2025.3.0, database 2025.5000).
    # Only this pair is documented; add the versions of your site.
    "versions": {
        "program_to_database": {"2025.3.0": "2025.5000"},
    },
    # CM-02, CM-05, CM-06: the service's schedule of HRM syncs, one row per operation, in every
    # company database synced with HRM. Assumption: not documented publicly.
    "schedule": {
        "schema": "CDN",
        "table": "SOA_Harmonogram",
        "id_column": "SOH_Id",
        "operation_column": "SOH_Operacja",
        "enabled_column": "SOH_Aktywne",
        "interval_column": "SOH_InterwalSek",
        "next_run_column": "SOH_NastepneUruchomienie",
        "differential_operation": "HRM_ROZNICOWA",
        "full_operation": "HRM_PELNA",
    },
    # CM-02, CM-04, CM-05: the service's operation log (the list the HRM configuration window
    # shows). Assumption: not documented publicly. ``pending_column`` holds how many HRM changes
    # were still waiting when the operation ended; ``version_operation`` is the notice the
    # service sends Comarch after an update, with the program version it runs.
    "history": {
        "schema": "CDN",
        "table": "SOA_Historia",
        "id_column": "SOHI_Id",
        "operation_column": "SOHI_Operacja",
        "started_column": "SOHI_Start",
        "finished_column": "SOHI_Koniec",
        "status_column": "SOHI_Status",
        "pending_column": "SOHI_Oczekujace",
        "version_column": "SOHI_WersjaProgramu",
        # Optional: ~ when the site's log has no message column (the reports then show no message).
        "message_column": "SOHI_Komunikat",
        "version_operation": "WERSJA",
        "success_status": "OK",
        "failed_status": "BLAD",
        "running_status": "TRWA",
        "rows": 200,
    },
}

PRODUCTS: Dict[str, Dict[str, Any]] = {
    "optima": OPTIMA_PROFILE,
    # Assumptions: the service name as XL HR / Altum HR install it; no documented version pairs.
    "xl_hr": dict(copy.deepcopy(OPTIMA_PROFILE), service={"name": "Comarch ERP XL HR Serwis Operacji Automatycznych"},
                  versions={"program_to_database": {}}),
    "altum_hr": dict(copy.deepcopy(OPTIMA_PROFILE), service={"name": "Comarch ERP Altum HR Serwis Operacji Automatycznych"},
                     versions={"program_to_database": {}}),
}

# Columns a site may lack: an override may set them to ~ (None).
OPTIONAL_KEYS = {("history", "message_column")}

_TYPE_NAMES = ((bool, "a boolean"), (str, "a string"), (int, "an integer"), ((list, tuple), "a list"), (Mapping, "a mapping"))


def merge_profile(product: str = "optima", override: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The product's profile with ``override`` merged in, entry by entry; unknown names are refused."""
    if product not in PRODUCTS:
        raise ValueError("comarch product must be one of %s, got %r" % (", ".join(sorted(PRODUCTS)), product))
    merged = copy.deepcopy(PRODUCTS[product])
    for name, value in (override or {}).items():
        if name not in merged:
            raise ValueError("comarch_profile: unknown entry %r (known: %s)" % (name, ", ".join(sorted(merged))))
        if not isinstance(value, Mapping):
            raise ValueError("comarch_profile: entry %r must be a mapping, got %s" % (name, type(value).__name__))
        unknown = sorted(set(value) - set(merged[name]))
        if unknown:
            raise ValueError("comarch_profile.%s: unknown key(s) %s" % (name, ", ".join(unknown)))
        for key, setting in value.items():
            if setting is None and (name, key) in OPTIONAL_KEYS:
                continue
            _check_type("%s.%s" % (name, key), merged[name][key], setting)
        merged[name].update(copy.deepcopy(dict(value)))
    return merged


def _check_type(where: str, default: Any, value: Any) -> None:
    for kind, label in _TYPE_NAMES:
        if isinstance(default, kind):
            wrong = not isinstance(value, kind) or (kind is int and isinstance(value, bool))
            if wrong:
                raise ValueError("comarch_profile.%s must be %s, got %s %r" % (where, label, type(value).__name__, value))
            return


def expected_database_version(profile: Mapping[str, Any], program_version: str) -> str:
    """The database version the conversion wizard of ``program_version`` writes; refuses to guess."""
    mapping = profile["versions"]["program_to_database"]
    wanted = str(program_version).strip()
    if wanted not in mapping:
        raise ValueError("no database version is known for program version %s: add it to comarch_profile.versions.program_to_database "
                         "(known: %s)" % (wanted, ", ".join(sorted(mapping)) or "none"))
    return str(mapping[wanted]).strip()


def _check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError("Comarch ERP databases are on MS SQL Server (or the lab), not %r" % platform)


def _table(platform: str, entry: Mapping[str, Any]) -> str:
    return quote_qualified(platform, entry["schema"], entry["table"])


def now_sql(platform: str) -> str:
    """The database server's local time: the service writes its history in that clock."""
    _check_platform(platform)
    return "SELECT GETDATE() AS now" if platform == "mssql" else "SELECT LOCALTIMESTAMP AS now"


def version_sql(platform: str, profile: Mapping[str, Any]) -> Tuple[str, Tuple[Any, ...]]:
    _check_platform(platform)
    p = profile["db_version"]
    sql = "SELECT %s AS version FROM %s WHERE %s = ?" % (
        quote_ident(platform, p["value_column"]), _table(platform, p), quote_ident(platform, p["id_column"]))
    return sql, (p["version_id"],)


def schedule_sql(platform: str, profile: Mapping[str, Any]) -> Tuple[str, Tuple[Any, ...]]:
    """The HRM rows of the schedule (differential and full), oldest id first."""
    _check_platform(platform)
    p = profile["schedule"]
    columns = ", ".join("%s AS %s" % (quote_ident(platform, p[key]), alias) for key, alias in (
        ("id_column", "id"), ("operation_column", "operation"), ("enabled_column", "enabled"),
        ("interval_column", "interval_seconds"), ("next_run_column", "next_run")))
    sql = "SELECT %s FROM %s WHERE %s IN (?, ?) ORDER BY %s" % (
        columns, _table(platform, p), quote_ident(platform, p["operation_column"]), quote_ident(platform, p["id_column"]))
    return sql, (p["differential_operation"], p["full_operation"])


def history_sql(platform: str, profile: Mapping[str, Any]) -> Tuple[str, Tuple[Any, ...]]:
    """The newest HRM rows of the operation log (syncs and version notices), newest first."""
    _check_platform(platform)
    h, s = profile["history"], profile["schedule"]
    limit = int(h["rows"])
    columns = ", ".join("%s AS %s" % (quote_ident(platform, h[key]) if h[key] else "NULL", alias) for key, alias in (
        ("id_column", "id"), ("operation_column", "operation"), ("started_column", "started"), ("finished_column", "finished"),
        ("status_column", "status"), ("pending_column", "pending"), ("version_column", "program_version"),
        ("message_column", "message")))
    top, tail = ("TOP (%d) " % limit, "") if platform == "mssql" else ("", " LIMIT %d" % limit)
    sql = "SELECT %s%s FROM %s WHERE %s IN (?, ?, ?) ORDER BY %s DESC%s" % (
        top, columns, _table(platform, h), quote_ident(platform, h["operation_column"]), quote_ident(platform, h["id_column"]), tail)
    return sql, (s["differential_operation"], s["full_operation"], h["version_operation"])


def enable_differential_sql(platform: str, profile: Mapping[str, Any]) -> Tuple[str, Tuple[Any, ...]]:
    """CM-06: switch the differential sync of this database's schedule back on."""
    _check_platform(platform)
    p = profile["schedule"]
    sql = "UPDATE %s SET %s = 1 WHERE %s = ? AND %s = 0" % (
        _table(platform, p), quote_ident(platform, p["enabled_column"]), quote_ident(platform, p["operation_column"]),
        quote_ident(platform, p["enabled_column"]))
    return sql, (p["differential_operation"],)


def disable_syncs_sql(platform: str, profile: Mapping[str, Any]) -> Tuple[str, Tuple[Any, ...]]:
    """CM-06: switch every HRM sync of this database's schedule off, as Comarch ERP does when it restores a database."""
    _check_platform(platform)
    p = profile["schedule"]
    sql = "UPDATE %s SET %s = 0 WHERE %s IN (?, ?) AND %s <> 0" % (
        _table(platform, p), quote_ident(platform, p["enabled_column"]), quote_ident(platform, p["operation_column"]),
        quote_ident(platform, p["enabled_column"]))
    return sql, (p["differential_operation"], p["full_operation"])
