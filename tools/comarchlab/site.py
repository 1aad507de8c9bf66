"""Build one lab Comarch site: its ERP databases (tables as the lab's Comarch lays them out, ``vendor.py``) and its folder.

A site folder ``<lab>/comarch/<name>/`` holds ``site.json`` (how to reach the databases),
``knobs.json`` (faults the stand-ins honour, read on every tick), ``program_version`` (what
the stand-in installer last installed), the pid files of the stand-ins, and
``domain.locked`` while the HRM domain is locked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from typing import Dict, List

from tools.comarchlab import common, vendor
from tools.comarchlab.vendor import quote_ident, quote_literal
from tools.k2lab import cluster as pg


@dataclass
class ComarchSiteSpec:
    name: str
    product: str = "optima"
    companies: List[str] = field(default_factory=lambda: ["FIRMA"])
    program_version: str = "2024.5.1"
    db_version: str = "2024.5100"
    interval_seconds: int = 2
    # knobs
    service_stopped: bool = False
    failing_syncs: bool = False
    hrm_pending: int = 0
    full_sync_seconds: float = 1.0
    full_sync_fails: bool = False
    restored: bool = False
    domain_locked_seconds: float = 0.0
    # the conversion wizard converts the first company database, then fails on the next one
    conversion_fails: bool = False
    lifetime_seconds: int = 3600
    # no installer command in the inventory: the operator updates by hand
    manual_update: bool = False
    # the site's own layout of the private tables, merged into the product's (vendor.layout; the same shape as a
    # comarch_profile override; the inventory does not carry it: the collection learns it from comarch_profile_check),
    # and extra columns per entry (varchar(100) NULL)
    layout: Dict = field(default_factory=dict)
    extra_columns: Dict[str, List[str]] = field(default_factory=dict)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def knobs(self) -> dict:
        return {"failing_syncs": self.failing_syncs, "hrm_pending": self.hrm_pending, "full_sync_seconds": self.full_sync_seconds,
                "full_sync_fails": self.full_sync_fails, "conversion_fails": self.conversion_fails}


def database_name(site: str, company: str) -> str:
    return "comarch_%s_%s" % (site, company)


def _seed(spec: ComarchSiteSpec, database: str, site_layout: dict) -> List[str]:
    q, lit = quote_ident, quote_literal
    v, s, h = site_layout["db_version"], site_layout["schedule"], site_layout["history"]
    differential_on = 0 if spec.restored else 1
    return [
        "INSERT INTO %s (%s, %s) VALUES (1, %s), (%d, %s)" % (
            vendor.table(v), q(v["id_column"]), q(v["value_column"]), lit(database), int(v["version_id"]), lit(spec.db_version)),
        "INSERT INTO %s (%s, %s, %s, %s) VALUES (%s, %d, %d, NULL), (%s, 0, 0, NULL)" % (
            vendor.table(s), q(s["operation_column"]), q(s["enabled_column"]), q(s["interval_column"]), q(s["next_run_column"]),
            lit(s["differential_operation"]), differential_on, spec.interval_seconds, lit(s["full_operation"])),
        "INSERT INTO %s (%s, %s, %s, %s, %s, %s%s) VALUES (%s, LOCALTIMESTAMP - interval '1 second', LOCALTIMESTAMP, %s, 0, %s%s)" % (
            vendor.table(h), q(h["operation_column"]), q(h["started_column"]), q(h["finished_column"]), q(h["status_column"]),
            q(h["pending_column"]), q(h["version_column"]), ", " + q(h["message_column"]) if h["message_column"] else "",
            lit(s["differential_operation"]), lit(h["success_status"]), lit(spec.program_version),
            ", " + lit("lab: seeded differential sync") if h["message_column"] else ""),
    ] + ["ALTER TABLE %s ADD COLUMN %s varchar(100) NULL" % (vendor.table(site_layout[entry]), q(column))
         for entry, columns in sorted(spec.extra_columns.items()) for column in columns]


def database_statements(spec: ComarchSiteSpec, database: str) -> List[str]:
    """Everything one company database of the site is made of: its tables and their first rows."""
    site_layout = vendor.layout(spec.product, spec.layout)
    return vendor.ddl(site_layout) + _seed(spec, database, site_layout)


def build_databases(cluster: pg.Cluster, spec: ComarchSiteSpec) -> List[str]:
    login = quote_ident(cluster.login)
    pg.psql(cluster, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s LOGIN PASSWORD %s; END IF; END$$;"
            % (quote_literal(cluster.login), login, quote_literal(cluster.password)))
    # The backup's verification restores into a scratch database (MS SQL: dbcreator for a test restore).
    pg.psql(cluster, "ALTER ROLE %s CREATEDB" % login)
    names = []
    for company in spec.companies:
        name = database_name(spec.name, company)
        pg.psql(cluster, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident(name))
        pg.psql(cluster, "CREATE DATABASE %s OWNER %s" % (quote_ident(name), login))
        pg.psql(cluster, "SET ROLE %s;\n%s;\n" % (login, ";\n".join(database_statements(spec, name))), database=name)
        names.append(name)
    return names


def is_built(lab_dir: str, cluster: pg.Cluster, spec: ComarchSiteSpec) -> bool:
    """Whether the site is already built from the same spec on this cluster."""
    site = common.read_json(os.path.join(common.site_root(lab_dir, spec.name), common.SITE_FILE))
    if site and site.get("fingerprint") == spec.fingerprint() and site.get("cluster") == "%s:%d" % (cluster.data_dir, cluster.port):
        existing = set(pg.psql(cluster, "SELECT datname FROM pg_database").split())
        return all(name in existing for name in site["databases"])
    return False


def build(lab_dir: str, cluster: pg.Cluster, spec: ComarchSiteSpec) -> None:
    """(Re)build the site: its databases from the spec and a fresh folder (stop its stand-ins first)."""
    root = common.site_root(lab_dir, spec.name)
    site_file = os.path.join(root, common.SITE_FILE)
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    databases = build_databases(cluster, spec)
    site = {
        "name": spec.name, "product": spec.product, "layout": spec.layout, "databases": databases,
        "db_host": cluster.socket_dir, "db_port": cluster.port, "db_user": cluster.login, "db_password": cluster.password,
        "interval_seconds": spec.interval_seconds, "service_stopped": spec.service_stopped, "lifetime_seconds": spec.lifetime_seconds,
        "domain_locked_seconds": spec.domain_locked_seconds, "manual_update": spec.manual_update, "fingerprint": spec.fingerprint(),
        "cluster": "%s:%d" % (cluster.data_dir, cluster.port),
    }
    common.write_text(os.path.join(root, common.KNOBS_FILE), json.dumps(spec.knobs()))
    common.write_text(os.path.join(root, common.VERSION_FILE), spec.program_version)
    if spec.domain_locked_seconds:
        common.write_text(os.path.join(root, common.DOMAIN_LOCK), "locked by the lab")
    common.write_text(site_file, json.dumps(site, indent=1))
