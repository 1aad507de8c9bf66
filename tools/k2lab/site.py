"""Build lab K2 sites: a folder that looks like a K2 installation, and its databases.

A site is described by a ``SiteSpec``; its knobs inject what the runbook fears.
Building is idempotent: a site that already exists with the same spec is left
alone (the spec's fingerprint is stored in the folder), so a second
``lab up`` changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column, PrimaryKey, Schema, Table
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import key as schema_key

from tools.k2lab import cluster as pg
from tools.k2lab import drift, installer, konverze, render, schema_gen, vendor
from tools.k2lab.vendor import quote_ident, quote_literal

SPEC_FILE = ".k2lab-site.json"
STAND_IN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stand_in_k2.py")


@dataclass
class SiteSpec:
    name: str
    version: str = "gaia.12.3"
    db_version: Optional[str] = None  # None: the databases match the installed version
    mandants: List[str] = field(default_factory=lambda: ["FIRMA", "FIRMA2", "FIRMA2_TEST"])
    torso: bool = False
    company_tables: int = 20
    missing_inits: List[str] = field(default_factory=list)  # mandant codes with a missing mandatory initialization
    outdated_extensions: List[str] = field(default_factory=list)
    extensions: List[str] = field(default_factory=lambda: ["Dochazka", "Sklad"])
    # K2-14: extensions still in format 1.0 (before K2 mia.03), in the CONF table and in extensions/<name>/
    legacy_format_extensions: List[str] = field(default_factory=list)
    # K2-14: how many times the stand-in k2 exits for a restart before it stays up (knob "restarts")
    k2_restarts: int = 0
    # K2-08: mandant codes (or CONF) whose database gets one drift of every kind the structure check knows
    drift_mandants: List[str] = field(default_factory=list)
    drift_seed: int = 0
    # K2-06: the pre-install preparation of the installed version has run (Reinstall manager)
    preparation_done: bool = True
    # K2-10: the lab host's K2 installer has a record of this installation (tab "Nainstalováno"); torsos never do
    installer_record: bool = True
    # How the lab's inventory installs this site: installer (the lab's stand-in K2 installer) or copy (a copied K2)
    install_method: str = "installer"
    # The stand-in installer's knobs (installer.py): {"fail_at": step, "hang": seconds, "hang_at": step}
    installer_faults: Dict[str, object] = field(default_factory=dict)
    # The site's own layout of K2's private tables, merged into the lab's (vendor.layout; the same shape as a k2_profile
    # override; the inventory does not carry it: the collection learns it from k2_profile_check), and extra columns per
    # layout entry (varchar(100) NULL).
    layout: Dict[str, Dict[str, object]] = field(default_factory=dict)
    extra_columns: Dict[str, List[str]] = field(default_factory=dict)
    # K2-04: rows of License management (function 678): {"user", "host", "program", "app_server": bool}
    licence_sessions: List[Dict[str, object]] = field(default_factory=lambda: [
        {"user": "NOVAK", "host": "PC-UCTARNA", "program": "K2", "app_server": False},
        {"user": "AS", "host": "SRV-APP01", "program": "K2 AS", "app_server": True},
    ])

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


def database_name(site: str, code: str) -> str:
    return "%s_%s" % (site, code)


def mandant_codes(spec: SiteSpec) -> List[str]:
    return list(vendor.SYSTEM_MANDANTS) + list(spec.mandants)


def _ident(name: str) -> str:
    return quote_ident("lab", name)


def _literal(value: str) -> str:
    return quote_literal("lab", value)


def site_layout(spec: SiteSpec):
    """The layout the site is built with: the lab's, with the site's own merged in."""
    return vendor.layout(spec.layout)


def _with_extra_columns(tables: List[Table], layout, extra_columns: Dict[str, List[str]]) -> List[Table]:
    by_name = {t.name: t for t in tables}
    for entry, columns in sorted(extra_columns.items()):
        table = by_name.get(layout[entry]["table"])
        for column in columns if table is not None else []:
            table.columns.append(Column(column, "varchar", 100))
    return tables


def _private_tables(kind: str, layout=None, extra_columns: Optional[Dict[str, List[str]]] = None) -> List[Table]:
    """K2's private tables as the layout (default: the lab's) names them, in K2's MS SQL terms."""
    layout = layout or vendor.LAYOUT
    return _with_extra_columns(_private_tables_of(kind, layout), layout, extra_columns or {})


def _private_tables_of(kind: str, layout) -> List[Table]:
    p = layout
    version = Table(p["db_version"]["table"], [Column(p["db_version"]["version_column"], "varchar", 40, nullable=False)])
    if kind == "company":
        vi = p["version_init"]
        return [version, Table(vi["table"], [Column(vi["function_column"], "varchar", 100, nullable=False),
                                             Column(vi["mandatory_column"], "int", nullable=False),
                                             Column(vi["done_at_column"], "datetime")])]
    r, s, e = p["reinstall_manager"], p["licence_sessions"], p["extensions"]
    extensions = Table(e["table"], [Column(e["name_column"], "varchar", 100, nullable=False), Column(e["current_column"], "int", nullable=False),
                                    Column(e["format_column"], "varchar", 10, nullable=False)])
    extensions.primary_key = PrimaryKey("ROZS_ById", (e["name_column"],))
    return [
        version,
        Table(r["table"], [Column(r["ban_enabled_column"], "int", nullable=False), Column(r["ban_from_column"], "datetime"),
                           Column(r["ban_message_column"], "nvarchar", 500), Column(r["ban_exempt_user_column"], "varchar", 60),
                           Column(r["reinstall_allowed_column"], "int", nullable=False), Column(r["preparation_done_column"], "int", nullable=False)]),
        Table(s["table"], [Column(s["user_column"], "varchar", 60, nullable=False), Column(s["host_column"], "varchar", 60, nullable=False),
                           Column(s["program_column"], "varchar", 60, nullable=False), Column(s["app_server_column"], "int", nullable=False)]),
        extensions,
    ]


def expected_model(kind: str, spec: SiteSpec, layout=None) -> Schema:
    """The structure the site's K2 expects: the generated schema plus K2's private tables (the site's layout by default)."""
    layout = layout or site_layout(spec)
    model = schema_gen.conf_schema() if kind == "conf" else schema_gen.company_schema(spec.company_tables)
    for table in _private_tables(kind, layout, spec.extra_columns):
        if model.table(table.name) is None:
            model.add(table)
    return model


def _seed_rows(spec: SiteSpec, kind: str, code: str, layout=None) -> List[str]:
    q, lit = _ident, _literal
    p = layout or site_layout(spec)
    rows = ["INSERT INTO %s (%s) VALUES (%s)" % (q(p["db_version"]["table"]), q(p["db_version"]["version_column"]), lit(spec.db_version or spec.version))]
    if kind == "company":
        vi = p["version_init"]
        done = "NULL" if code in spec.missing_inits else "now()"
        rows.append("INSERT INTO %s (%s, %s, %s) VALUES ('Prepocet skladu', 1, %s), ('Konverze dokladu', 1, now()), ('Volitelna', 0, NULL)"
                    % (q(vi["table"]), q(vi["function_column"]), q(vi["mandatory_column"]), q(vi["done_at_column"]), done))
        # The installed version was initialized when it was installed (FACTS.md "Verze inicializována").
        rows.append("INSERT INTO %s (%s, %s, %s) VALUES (%s, 1, now())" % (
            q(vi["table"]), q(vi["function_column"]), q(vi["mandatory_column"]), q(vi["done_at_column"]),
            lit(vi["version_function"].format(version=vendor.parse_version(spec.db_version or spec.version).name()))))
        return rows
    f, r, e = p["firmy"], p["reinstall_manager"], p["extensions"]
    for number, mandant in enumerate(mandant_codes(spec), start=1):
        rows.append("INSERT INTO %s (%s, %s, %s, %s) VALUES (%d, %s, %s, %s)"
                    % (q(f["table"]), q("Cis"), q(f["code_column"]), q(f["name_column"]), q(f["database_column"]),
                       number, lit(mandant), lit("Firma %s" % mandant), lit(database_name(spec.name, mandant))))
    rows.append("INSERT INTO %s (%s, %s, %s) VALUES (0, 0, %d)"
                % (q(r["table"]), q(r["ban_enabled_column"]), q(r["reinstall_allowed_column"]), q(r["preparation_done_column"]),
                   1 if spec.preparation_done else 0))
    ls = p["licence_sessions"]
    for session in spec.licence_sessions:
        rows.append("INSERT INTO %s (%s, %s, %s, %s) VALUES (%s, %s, %s, %d)" % (
            q(ls["table"]), q(ls["user_column"]), q(ls["host_column"]), q(ls["program_column"]), q(ls["app_server_column"]),
            lit(str(session["user"])), lit(str(session["host"])), lit(str(session["program"])), 1 if session.get("app_server") else 0))
    for ext in spec.extensions:
        current = 0 if ext in spec.outdated_extensions else 1
        rows.append("INSERT INTO %s (%s, %s, %s) VALUES (%s, %d, %s)"
                    % (q(e["table"]), q(e["name_column"]), q(e["current_column"]), q(e["format_column"]), lit(ext), current,
                       lit(_extension_format(spec, ext))))
    return rows


def _extension_format(spec: SiteSpec, ext: str) -> str:
    return "1.0" if ext in spec.legacy_format_extensions else "2.02"


def _write(path: str, data: bytes, mode: Optional[int] = None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    if mode is not None:
        os.chmod(path, mode)


def _ini_texts(spec: SiteSpec, cluster: pg.Cluster) -> Dict[str, bytes]:
    server = "%s,%d" % (cluster.socket_dir, cluster.port)
    i = vendor.INI
    k2_ini = ("; Konfigurace připojení K2 — laboratoř erpops.upgrade\r\n"
              "[%s]\r\n%s=%s\r\n%s=%s\r\n%s=%s\r\n%s=%s\r\n\r\n" % (
                  i["section"], i["driver_key"], i["driver"], i["server_key"], server, i["database_key"], database_name(spec.name, "CONF"),
                  i["user_key"], cluster.login)
              + "[%s]\r\n%s=%s\r\nNAZEV=Účetní společnost %s\r\n" % (i["version_section"], i["version_key"], spec.version, spec.name))
    sysk2_ini = ("; Systémová konfigurace\r\n[%s]\r\n%s=%s\r\n%s=%s\r\n" % (
        i["section"], i["server_key"], server, i["database_key"], database_name(spec.name, "CONF")))
    encoding = vendor.FOLDER["ini_encoding"]
    return {vendor.FOLDER["ini_file"]: k2_ini.encode(encoding), vendor.FOLDER["sysini_file"]: sysk2_ini.encode(encoding)}


def _folder(spec: SiteSpec, cluster: pg.Cluster, root: str, layout) -> None:
    for name, data in _ini_texts(spec, cluster).items():
        _write(os.path.join(root, name), data)
    for kind in ("conf", "company"):
        model = expected_model(kind, spec, layout)
        for platform in ("mssql", "oracle", "lab"):
            _write(os.path.join(root, vendor.FOLDER["sql_dir"], vendor.ddl_script_name(layout, kind, platform)),
                   render.render_ddl(model, platform).encode("utf-8"))
    tokens = layout["scripts"]["konverze_platforms"]
    for platform in ("mssql", "oracle", "lab"):
        files = konverze.render_conversions(platform, [vendor.konverze_token(spec.version)], tokens=tokens)
        for name, text in files.items():
            _write(os.path.join(root, vendor.FOLDER["konverze_dir"], name), text.encode("utf-8"))
    os.makedirs(os.path.join(root, "Conf", "Special"), exist_ok=True)
    for ext in spec.extensions:
        _write(os.path.join(root, vendor.FOLDER["extensions_dir"], ext, "%s.ext" % ext),
               ("format=%s\nname=%s\n" % (_extension_format(spec, ext), ext)).encode())
    knobs = {"db": {"host": cluster.socket_dir, "port": cluster.port, "user": cluster.login, "password": cluster.password,
                    "database": database_name(spec.name, "CONF")},
             "extensions_table": {"table": layout["extensions"]["table"], "name": layout["extensions"]["name_column"],
                                  "current": layout["extensions"]["current_column"], "format": layout["extensions"]["format_column"]}}
    if spec.k2_restarts:
        knobs["restarts"] = spec.k2_restarts
    p = layout
    knobs["tables"] = {"db_version": [p["db_version"]["table"], p["db_version"]["version_column"]],
                       "firmy": [p["firmy"]["table"], p["firmy"]["code_column"], p["firmy"]["database_column"]],
                       "reinstall": [p["reinstall_manager"]["table"], p["reinstall_manager"]["reinstall_allowed_column"],
                                     p["reinstall_manager"]["preparation_done_column"]],
                       "init": [p["version_init"]["table"], p["version_init"]["function_column"], p["version_init"]["mandatory_column"],
                                p["version_init"]["done_at_column"]]}
    if spec.installer_faults:
        knobs["installer"] = dict(spec.installer_faults)
    _write(os.path.join(root, "Conf", "Special", "k2lab.json"), json.dumps(knobs, indent=1).encode())
    if not spec.torso:
        with open(STAND_IN, "rb") as source:
            _write(os.path.join(root, vendor.FOLDER["executable"]), b"#!/usr/bin/env python3\n" + source.read())
        os.chmod(os.path.join(root, vendor.FOLDER["executable"]), stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


#: The server's own small database for the collection (as a DBA gives one on a production server): the slot table of
#: the database server's limit on heavy operations lives there, shared by every site on the cluster.
SHARED_DATABASE = "erpops"


def shared_database(cluster: pg.Cluster) -> None:
    """Create the shared database, owned by the K2 login, unless it exists (kept when a site is rebuilt)."""
    if pg.psql(cluster, "SELECT 1 FROM pg_database WHERE datname = %s" % quote_literal("lab", SHARED_DATABASE)).strip() != "1":
        pg.psql(cluster, "CREATE DATABASE %s OWNER %s" % (quote_ident("lab", SHARED_DATABASE), quote_ident("lab", cluster.login)))


def _databases(spec: SiteSpec, cluster: pg.Cluster, layout) -> None:
    login = quote_ident("lab", cluster.login)
    pg.psql(cluster, "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) THEN CREATE ROLE %s LOGIN PASSWORD %s; END IF; END$$;"
            % (quote_literal("lab", cluster.login), login, quote_literal("lab", cluster.password)))
    # Making a test environment creates databases (MS SQL dbcreator, PostgreSQL CREATEDB).
    pg.psql(cluster, "ALTER ROLE %s CREATEDB" % login)
    shared_database(cluster)
    for code in ["CONF"] + mandant_codes(spec):
        name = database_name(spec.name, code)
        pg.psql(cluster, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident("lab", name))
        pg.psql(cluster, "CREATE DATABASE %s OWNER %s" % (quote_ident("lab", name), login))
        kind = "conf" if code == "CONF" else "company"
        model = expected_model(kind, spec, layout)
        if code in spec.drift_mandants:
            # Drift the model as the lab stores it: drift types (int8) are lab types, not K2's MS SQL ones.
            # K2's private tables stay intact: the seed rows and the other modules need them.
            live = render.platform_model(model, "lab")
            protected = set(schema_key(t.name) for t in _private_tables(kind, layout))
            kept = dict((name, live.tables.pop(name)) for name in list(live.tables) if name in protected)
            drift.inject_all(live, seed=spec.drift_seed)
            live.tables.update(kept)
            ddl_text = render._render_lab(live)  # pylint: disable=protected-access
        else:
            ddl_text = render.render_ddl(model, "lab")
        ddl = lab_batches(ddl_text)
        statements = ddl + _seed_rows(spec, kind, code, layout)
        pg.psql(cluster, "SET ROLE %s;\n%s;\n" % (login, ";\n".join(statements)), database=name)


def lab_batches(ddl_text: str) -> List[str]:
    """The statements of DDL the lab rendered itself: each ends at a line holding only ``GO`` and holds no comment or
    string with such a line. Split here, not with the collection's splitter: the lab's databases must not depend on the
    code whose reading of the same script the tests check."""
    return [part.strip() for part in re.split(r"^GO[ \t]*$", ddl_text, flags=re.MULTILINE) if part.strip()]


def generator_fingerprint() -> str:
    """A hash of the lab generator's own code: a site built by other code is built again."""
    digest = hashlib.sha256()
    folder = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as handle:
                digest.update(name.encode() + b"\0" + handle.read())
    return digest.hexdigest()[:16]


def installer_records_path(lab_dir: str) -> str:
    """The lab host's K2 installer records (one per installation, as the installer's tab "Nainstalováno" lists them)."""
    return os.path.join(lab_dir, "installer", "records.json")


def _installed_names(root: str) -> List[str]:
    """What an installation put into the folder: the program and the SQL scripts, not the site's ini, Conf/ or extensions/."""
    names = [vendor.FOLDER["executable"]]
    for folder, _dirs, files in os.walk(os.path.join(root, vendor.FOLDER["sql_dir"])):
        names += [os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/") for name in files]
    return sorted(names)


def site_dir(lab_dir: str, name: str) -> str:
    return os.path.join(lab_dir, "sites", name)


def web_config_path(lab_dir: str, name: str) -> str:
    """The web K2 client's web.config: an IIS site of its own, outside the K2 folder."""
    return os.path.join(lab_dir, "web", name, "web.config")


# K2-03: the web client's web.config as IIS keeps it (UTF-8 with BOM, CRLF), with the maintenance rule off.
_WEB_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<!-- Webový klient K2 ({site}) -->
<configuration>
  <system.web>
    <compilation debug="false" targetFramework="4.8" />
    <httpRuntime targetFramework="4.8" maxRequestLength="51200" />
  </system.web>
  <system.webServer>
    <rewrite>
      <rules>
        <rule name="Site Maintenance" enabled="false" stopProcessing="true">
          <match url=".*" />
          <conditions>
            <add input="{{REQUEST_URI}}" pattern="^/maintenance\\.html$" negate="true" />
          </conditions>
          <action type="Rewrite" url="maintenance.html" />
        </rule>
        <rule name="HTTPS" enabled="true" stopProcessing="true">
          <match url="(.*)" />
          <action type="Redirect" url="https://{{HTTP_HOST}}/{{R:1}}" redirectType="Permanent" />
        </rule>
      </rules>
    </rewrite>
    <staticContent>
      <mimeMap fileExtension=".json" mimeType="application/json" />
    </staticContent>
  </system.webServer>
</configuration>
"""


def _web_config(lab_dir: str, spec: SiteSpec) -> None:
    text = _WEB_CONFIG.format(site=spec.name).replace("\n", "\r\n")
    _write(web_config_path(lab_dir, spec.name), b"\xef\xbb\xbf" + text.encode("utf-8"))


def build(lab_dir: str, cluster: pg.Cluster, spec: SiteSpec) -> bool:
    """Build one site; returns True when something changed."""
    layout = site_layout(spec)
    root = site_dir(lab_dir, spec.name)
    marker = os.path.join(root, SPEC_FILE)
    wanted = {"fingerprint": spec.fingerprint(), "generator": generator_fingerprint(), "cluster": "%s:%d" % (cluster.data_dir, cluster.port)}
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as handle:
            if json.load(handle) == wanted and _databases_exist(spec, cluster):
                return False
    if os.path.exists(root):
        shutil.rmtree(root)
    _folder(spec, cluster, root, layout)
    records = installer_records_path(lab_dir)
    if not spec.torso and spec.installer_record:
        installer.register(records, root, spec.version, installer.installed_files(root, _installed_names(root)))
    else:
        installer.forget(records, root)
    _web_config(lab_dir, spec)
    _databases(spec, cluster, layout)
    _write(marker, json.dumps(wanted).encode())
    return True


def _databases_exist(spec: SiteSpec, cluster: pg.Cluster) -> bool:
    names = set(pg.psql(cluster, "SELECT datname FROM pg_database").split())
    return all(database_name(spec.name, code) in names for code in ["CONF"] + mandant_codes(spec))
