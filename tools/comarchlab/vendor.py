"""The lab's Comarch ERP: the private tables of its stand-in sites, written from the vendor facts.

This is the lab's own description of the vendor system, independent of the collection's
``comarch_profile``: the lab stands in for Comarch, so it must not learn Comarch's tables from
the code whose reading of them the lab tests. Where it comes from (the vendor's public documentation
as FACTS.md restates it, and the Polish runbook, docs/runbook.md CM-xx):

* the database version: ``CDN.SystemCDN``, ``SYS_Wartosc`` where ``SYS_ID = 3`` (``SYS_ID = 1`` is
  the company database name), inferred from public SQL;
* program and database versions are different strings (program 2025.3.0, database 2025.5000);
  the lab's sites are seeded at program 2024.5.1, database 2024.5100;
* the Automatic Operations Service keeps a schedule of HRM syncs (a full one, then differential
  ones) and an operation log (the list the HRM configuration window shows); after an update it
  tells Comarch the new version (CM-04). Where it keeps them is not public: the names below are
  the lab's own plausible choice, in Optima's ``CDN`` naming style.

XL HR and Altum HR keep their HR data in an Optima-based database synced by the same service, so
the lab builds their sites with the same layout and version map.

A site of another layout is built with ``layout(product, override)``: the override has the same
shape as a ``comarch_profile`` override (``{"schedule": {"table": "SOA_Plan"}}``), so a test can
state the override that fits the site it built.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping, Optional

SCHEMA = "CDN"

OPTIMA: Dict[str, Dict[str, Any]] = {
    "db_version": {
        "schema": SCHEMA,
        "table": "SystemCDN",
        "id_column": "SYS_ID",
        "value_column": "SYS_Wartosc",
        "version_id": 3,
    },
    "schedule": {
        "schema": SCHEMA,
        "table": "SOA_Harmonogram",
        "id_column": "SOH_Id",
        "operation_column": "SOH_Operacja",
        "enabled_column": "SOH_Aktywne",
        "interval_column": "SOH_InterwalSek",
        "next_run_column": "SOH_NastepneUruchomienie",
        "differential_operation": "HRM_ROZNICOWA",
        "full_operation": "HRM_PELNA",
    },
    "history": {
        "schema": SCHEMA,
        "table": "SOA_Historia",
        "id_column": "SOHI_Id",
        "operation_column": "SOHI_Operacja",
        "started_column": "SOHI_Start",
        "finished_column": "SOHI_Koniec",
        "status_column": "SOHI_Status",
        # how many HRM changes were still waiting when the operation ended
        "pending_column": "SOHI_Oczekujace",
        "version_column": "SOHI_WersjaProgramu",
        # None: a site whose log has no message column
        "message_column": "SOHI_Komunikat",
        # the notice the service sends Comarch after an update, with the program version it runs
        "version_operation": "WERSJA",
        "success_status": "OK",
        "failed_status": "BLAD",
        "running_status": "TRWA",
    },
    # What the conversion wizard of each program version writes as the database version.
    "versions": {
        "program_to_database": {"2024.5.1": "2024.5100", "2025.3.0": "2025.5000"},
    },
}

PRODUCTS: Dict[str, Dict[str, Dict[str, Any]]] = {"optima": OPTIMA, "xl_hr": OPTIMA, "altum_hr": OPTIMA}

# (entry, key) a site may lack: its layout sets it to None.
OPTIONAL = {("history", "message_column")}


def layout(product: str = "optima", override: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Dict[str, Dict[str, Any]]:
    """The product's layout with a site's own ``override`` merged in, key by key; unknown names are refused."""
    if product not in PRODUCTS:
        raise ValueError("the lab has no Comarch product %r (known: %s)" % (product, ", ".join(sorted(PRODUCTS))))
    merged = copy.deepcopy(PRODUCTS[product])
    for entry, values in (override or {}).items():
        if entry not in merged or not isinstance(values, Mapping):
            raise ValueError("lab Comarch layout: unknown entry %r or not a mapping (known: %s)" % (entry, ", ".join(sorted(merged))))
        unknown = sorted(set(values) - set(merged[entry]))
        if unknown:
            raise ValueError("lab Comarch layout.%s: unknown key(s) %s" % (entry, ", ".join(unknown)))
        for key, value in values.items():
            if value is None and (entry, key) not in OPTIONAL:
                raise ValueError("lab Comarch layout.%s.%s cannot be left out" % (entry, key))
        merged[entry].update(copy.deepcopy(dict(values)))
    return merged


def database_version(site_layout: Mapping[str, Any], program_version: str) -> str:
    """The database version the conversion wizard of ``program_version`` writes."""
    known = site_layout["versions"]["program_to_database"]
    if program_version not in known:
        raise ValueError("the lab's Comarch has no program version %s (known: %s)" % (program_version, ", ".join(sorted(known))))
    return known[program_version]


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted so that it keeps its case: ``"SOA_Historia"``."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError("not an identifier: %r" % (name,))
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: a backslash is an ordinary character)."""
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a string literal: %r" % (value,))
    return "'" + value.replace("'", "''") + "'"


def table(entry: Mapping[str, Any]) -> str:
    """``"CDN"."SOA_Historia"``: an entry's table, schema-qualified."""
    return "%s.%s" % (quote_ident(entry["schema"]), quote_ident(entry["table"]))


def ddl(site_layout: Mapping[str, Any]) -> List[str]:
    """CREATE SCHEMA and CREATE TABLE statements (PostgreSQL) of the layout's three tables."""
    q = quote_ident
    v, s, h = site_layout["db_version"], site_layout["schedule"], site_layout["history"]
    statements = ["CREATE SCHEMA IF NOT EXISTS %s" % q(schema) for schema in sorted({v["schema"], s["schema"], h["schema"]})]
    statements.append("CREATE TABLE %s (%s int4 NOT NULL PRIMARY KEY, %s varchar(255) NULL)" % (table(v), q(v["id_column"]), q(v["value_column"])))
    statements.append("CREATE TABLE %s (%s serial PRIMARY KEY, %s varchar(40) NOT NULL, %s int4 NOT NULL, %s int4 NOT NULL, %s timestamp NULL)" % (
        table(s), q(s["id_column"]), q(s["operation_column"]), q(s["enabled_column"]), q(s["interval_column"]), q(s["next_run_column"])))
    message = ", %s varchar(500) NULL" % q(h["message_column"]) if h["message_column"] else ""
    statements.append("CREATE TABLE %s (%s serial PRIMARY KEY, %s varchar(40) NOT NULL, %s timestamp NOT NULL, %s timestamp NULL, "
                      "%s varchar(10) NOT NULL, %s int4 NOT NULL DEFAULT 0, %s varchar(40) NULL%s)" % (
                          table(h), q(h["id_column"]), q(h["operation_column"]), q(h["started_column"]), q(h["finished_column"]),
                          q(h["status_column"]), q(h["pending_column"]), q(h["version_column"]), message))
    return statements
