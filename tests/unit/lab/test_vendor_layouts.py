"""The labs' own description of the vendor systems against the collection's default profiles.

The labs stand in for K2 and Comarch ERP, so they describe the vendors' private tables themselves
(``tools/k2lab/vendor.py``, ``tools/comarchlab/vendor.py``) and import nothing of the collection's
profiles. These tests say where the two part: a default profile that departs from what the lab
builds fails here, naming the entry, instead of the lab silently following it.
"""
from __future__ import annotations

import ast
import json
import copy
import os
import sys

import sqlglot
from sqlglot import exp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile, k2_profile, k2_version  # noqa: E402
from tools.comarchlab import installer as comarch_installer  # noqa: E402
from tools.comarchlab import site as comarch_site  # noqa: E402
from tools.comarchlab import vendor as comarch_vendor  # noqa: E402
from tools.k2lab import cluster as k2_cluster  # noqa: E402
from tools.k2lab import installer as k2_installer  # noqa: E402
from tools.k2lab import release as k2_release  # noqa: E402
from tools.k2lab import render as k2_render  # noqa: E402
from tools.k2lab import site as k2_site  # noqa: E402
from tools.k2lab import vendor as k2_vendor  # noqa: E402

# Profile keys the Comarch lab builds nothing for: the Windows service's name (the lab's stand-in is a process with a pid
# file) and how many log rows the collection reads.
COMARCH_NOT_BUILT = {"service.name", "history.rows"}


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


def _tables(statements):
    """(schema, table) of every table the statements create, read by sqlglot as PostgreSQL."""
    found = set()
    for statement in statements:
        parsed = sqlglot.parse_one(statement, read="postgres")
        if isinstance(parsed, exp.Create) and parsed.kind == "TABLE":
            target = parsed.this.this if isinstance(parsed.this, exp.Schema) else parsed.this
            found.add((target.db, target.name))
    return found


# --- Comarch -------------------------------------------------------------------------------------------------------


def comarch_disagreements(product):
    """Every key the lab builds whose value the collection's default profile of ``product`` states otherwise."""
    profile, lab = comarch_profile.merge_profile(product), comarch_vendor.layout(product)
    wrong = []
    for entry in ("db_version", "schedule", "history"):
        for key, value in lab[entry].items():
            if profile[entry].get(key, "<missing>") != value:
                wrong.append("%s.%s.%s: profile %r, lab %r" % (product, entry, key, profile[entry].get(key, "<missing>"), value))
    lab_versions = lab["versions"]["program_to_database"]
    for program, database in profile["versions"]["program_to_database"].items():
        if lab_versions.get(program) != database:
            wrong.append("%s.versions.program_to_database[%s]: profile %r, lab %r" % (product, program, database, lab_versions.get(program)))
    return wrong


def test_the_comarch_lab_imports_nothing_of_the_collection():
    folder = os.path.join(REPO, "tools", "comarchlab")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            modules = list(_imports(os.path.join(folder, name)))
            assert not [m for m in modules if m.startswith(("ansible_collections", "plugins"))], (name, modules)


def test_the_comarch_default_profiles_agree_with_the_lab_on_every_key_it_builds():
    assert set(comarch_vendor.PRODUCTS) == set(comarch_profile.PRODUCTS)
    assert [wrong for product in sorted(comarch_vendor.PRODUCTS) for wrong in comarch_disagreements(product)] == []


def test_the_comarch_profile_names_nothing_else_the_lab_should_build():
    for product in sorted(comarch_vendor.PRODUCTS):
        profile, lab = comarch_profile.merge_profile(product), comarch_vendor.layout(product)
        keys = set("%s.%s" % (entry, key) for entry, values in profile.items() for key in values)
        built = set("%s.%s" % (entry, key) for entry, values in lab.items() for key in values)
        assert keys - built == COMARCH_NOT_BUILT, product


def test_a_changed_comarch_profile_is_named_by_its_entry(monkeypatch):
    changed = copy.deepcopy(comarch_profile.PRODUCTS)
    changed["optima"]["schedule"]["enabled_column"] = "SOH_Wlaczone"
    changed["optima"]["versions"]["program_to_database"]["2025.3.0"] = "2025.3000"
    monkeypatch.setattr(comarch_profile, "PRODUCTS", changed)
    assert comarch_disagreements("optima") == [
        "optima.schedule.enabled_column: profile 'SOH_Wlaczone', lab 'SOH_Aktywne'",
        "optima.versions.program_to_database[2025.3.0]: profile '2025.3000', lab '2025.5000'",
    ]
    assert comarch_disagreements("xl_hr") == []


def _renamed(profile):
    """Every table, schema, column and value of a profile under another name."""
    other = copy.deepcopy(profile)
    for entry in ("db_version", "schedule", "history"):
        for key, value in other[entry].items():
            if isinstance(value, str):
                other[entry][key] = "X_" + value
    other["versions"]["program_to_database"] = {"2025.3.0": "X_2025"}
    return other


def test_the_comarch_lab_keeps_the_vendor_names_whatever_the_collections_profile_says(monkeypatch):
    monkeypatch.setattr(comarch_profile, "PRODUCTS", {name: _renamed(p) for name, p in comarch_profile.PRODUCTS.items()})
    monkeypatch.setattr(comarch_profile, "OPTIMA_PROFILE", _renamed(comarch_profile.OPTIMA_PROFILE))
    assert comarch_profile.merge_profile("optima")["schedule"]["table"] == "X_SOA_Harmonogram"

    spec = comarch_site.ComarchSiteSpec(name="c1")
    statements = comarch_site.database_statements(spec, "comarch_c1_FIRMA")
    assert _tables(statements) == {("CDN", "SystemCDN"), ("CDN", "SOA_Harmonogram"), ("CDN", "SOA_Historia")}
    assert statements[0] == 'CREATE SCHEMA IF NOT EXISTS "CDN"'
    assert not [s for s in statements if "X_" in s]
    seed = sqlglot.parse_one(statements[-2], read="postgres")
    assert [c.name for c in seed.this.expressions] == ["SOH_Operacja", "SOH_Aktywne", "SOH_InterwalSek", "SOH_NastepneUruchomienie"]
    assert "'HRM_ROZNICOWA'" in statements[-2] and "'HRM_PELNA'" in statements[-2]

    conversion = comarch_installer.conversion_statements(comarch_site.common.layout_of({"product": "optima"}),
                                                         comarch_vendor.database_version(comarch_vendor.layout(), "2025.3.0"))
    assert conversion[0] == ('UPDATE "CDN"."SystemCDN" SET "SYS_Wartosc" = ? WHERE "SYS_ID" = ?', ("2025.5000", 3))
    assert conversion[1] == ('UPDATE "CDN"."SOA_Harmonogram" SET "SOH_Aktywne" = CASE WHEN "SOH_Operacja" = ? THEN 1 ELSE 0 END', ("HRM_PELNA",))


def test_a_comarch_site_of_another_layout_is_built_from_its_own_override():
    spec = comarch_site.ComarchSiteSpec(name="codd", layout={"schedule": {"table": "SOA_Plan", "enabled_column": "SOH_Wlaczone"},
                                                             "history": {"message_column": None}},
                                        extra_columns={"schedule": ["SOH_Opis"]})
    statements = comarch_site.database_statements(spec, "comarch_codd_FIRMA")
    assert _tables(statements) == {("CDN", "SystemCDN"), ("CDN", "SOA_Plan"), ("CDN", "SOA_Historia")}
    history = next(s for s in statements if s.startswith('CREATE TABLE "CDN"."SOA_Historia"'))
    assert "SOHI_Komunikat" not in history and '"SOH_Wlaczone" int4 NOT NULL' in statements[2]
    assert statements[-1] == 'ALTER TABLE "CDN"."SOA_Plan" ADD COLUMN "SOH_Opis" varchar(100) NULL'


def test_the_comarch_labs_layout_refuses_what_it_does_not_know():
    for override, message in (({"schedul": {}}, "unknown entry 'schedul'"), ({"schedule": {"tabel": "x"}}, "unknown key(s) tabel"),
                              ({"schedule": {"table": None}}, "schedule.table cannot be left out")):
        try:
            comarch_vendor.layout("optima", override)
        except ValueError as exc:
            assert message in str(exc)
        else:
            raise AssertionError("accepted %r" % override)
    try:
        comarch_vendor.database_version(comarch_vendor.layout(), "2026.1.0")
    except ValueError as exc:
        assert "no program version 2026.1.0" in str(exc)
    else:
        raise AssertionError("a version the lab's Comarch does not have")


def test_the_comarch_labs_quoting_follows_postgresql():
    assert comarch_vendor.quote_ident('Tab"le') == '"Tab""le"'
    assert comarch_vendor.quote_literal("it's \\ ok") == "'it''s \\ ok'"
    parsed = sqlglot.parse_one("SELECT %s FROM %s" % (comarch_vendor.quote_ident('a"b'), comarch_vendor.table({"schema": "C D", "table": "x'y"})),
                               read="postgres")
    assert [c.name for c in parsed.expressions] == ['a"b']
    source = parsed.find(exp.Table)
    assert (source.db, source.name) == ("C D", "x'y")
    for bad in ("", "a\x00b", None):
        try:
            comarch_vendor.quote_ident(bad)
        except ValueError:
            continue
        raise AssertionError("quoted %r" % (bad,))


# --- K2 ------------------------------------------------------------------------------------------------------------

# The only part of the collection the K2 lab still shares: the schema model its generator and renderer are written in.
SCHEMA_MODEL = "ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema"
# Profile keys the K2 lab builds nothing for: the stand-in installer writes sql_inst.log in its own line format (the
# integration tests read it with the profile's patterns), no lab k2.ini names an old MS SQL driver, which mandants are
# copies for testing is the collection's reading of names, and the journal is the collection's own table.
K2_NOT_BUILT = {"folder.install_log", "folder.install_log_patterns", "ini.deprecated_mssql_drivers", "firmy.test_patterns", "journal.table"}
VERSIONS = ("gaia.12", "gaia.12.3", "ori.09", "iris.05", "alba.01.7", "luna.05", "mia.03", "K2 ori.09", "4.12.5", "9.1")


def k2_disagreements(profile=None):
    """Every key the lab builds whose value the collection's default K2 profile states otherwise."""
    profile = profile if profile is not None else k2_profile.DEFAULT_PROFILE
    wrong = []
    for entry, values in k2_vendor.LAYOUT.items():
        for key, value in values.items():
            stated = profile.get(entry, {}).get(key, "<missing>")
            if stated != value:
                wrong.append("%s.%s: profile %r, lab %r" % (entry, key, stated, value))
    folder, ini = profile["folder"], profile["ini"]
    for key, value in k2_vendor.FOLDER.items():
        stated = folder.get("executables", []) if key == "executable" else folder.get(key, "<missing>")
        if (value not in stated) if key == "executable" else (stated != value):
            wrong.append("folder.%s: profile %r, lab %r" % ("executables" if key == "executable" else key, stated, value))
    for key, value in k2_vendor.INI.items():
        stated = ini["drivers"].get(value) if key == "driver" else ini.get(key, "<missing>")
        if stated != ("lab" if key == "driver" else value):
            wrong.append("ini.%s: profile %r, lab %r" % ("drivers" if key == "driver" else key, stated, value))
    if profile["firmy"].get("system_mandants") != list(k2_vendor.SYSTEM_MANDANTS):
        wrong.append("firmy.system_mandants: profile %r, lab %r" % (profile["firmy"].get("system_mandants"), list(k2_vendor.SYSTEM_MANDANTS)))
    template = profile["scripts"]["konverze_token"]
    for version in VERSIONS:
        parsed = k2_version.parse(version)
        stated = template.format(generation=parsed.generation, release=parsed.release) if template else "<none>"
        if stated != k2_vendor.konverze_token(version):
            wrong.append("scripts.konverze_token for %s: profile %r, lab %r" % (version, stated, k2_vendor.konverze_token(version)))
    return wrong


def test_the_k2_lab_shares_only_the_schema_model_and_its_stand_ins_nothing():
    folder = os.path.join(REPO, "tools", "k2lab")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            shared = [m for m in _imports(os.path.join(folder, name)) if m.startswith(("ansible_collections", "plugins"))]
            if name in ("installer.py", "stand_in_k2.py", "vendor.py", "cluster.py", "konverze.py"):
                assert shared == [], name
            else:
                assert set(shared) <= {SCHEMA_MODEL}, (name, shared)


def test_the_k2_default_profile_agrees_with_the_lab_on_every_key_it_builds():
    assert k2_disagreements() == []


def test_the_k2_profile_names_nothing_else_the_lab_should_build():
    keys = set("%s.%s" % (entry, key) for entry, values in k2_profile.DEFAULT_PROFILE.items() for key in values)
    built = set("%s.%s" % (entry, key) for entry, values in k2_vendor.LAYOUT.items() for key in values)
    built |= set("folder.%s" % ("executables" if key == "executable" else key) for key in k2_vendor.FOLDER)
    built |= set("ini.%s" % ("drivers" if key == "driver" else key) for key in k2_vendor.INI)
    built |= {"firmy.system_mandants", "scripts.konverze_token"}
    assert keys - built == K2_NOT_BUILT


def test_a_changed_k2_profile_is_named_by_its_entry():
    changed = k2_profile.merge_profile({"licence_sessions": {"host_column": "PocitacNazev"}, "scripts": {"konverze_token": "{generation}{release}"},
                                        "folder": {"executables": ["k2.exe"]}, "ini": {"drivers": {"MSSQL": "mssql"}, "server_key": "SRV"}})
    assert k2_disagreements(changed) == [
        "licence_sessions.host_column: profile 'PocitacNazev', lab 'Pocitac'",
        "folder.executables: profile ['k2.exe'], lab 'k2'",
        "ini.drivers: profile None, lab 'LAB'",
        "ini.server_key: profile 'SRV', lab 'SERVER'",
        "scripts.konverze_token for ori.09: profile '59', lab '509'",
        "scripts.konverze_token for iris.05: profile '65', lab '605'",
        "scripts.konverze_token for alba.01.7: profile '71', lab '701'",
        "scripts.konverze_token for luna.05: profile '35', lab '305'",
        "scripts.konverze_token for mia.03: profile '23', lab '203'",
        "scripts.konverze_token for K2 ori.09: profile '59', lab '509'",
        "scripts.konverze_token for 9.1: profile '91', lab '901'",
    ]


def test_the_k2_labs_versions_read_as_the_collection_reads_them():
    assert k2_vendor.GENERATIONS == k2_version.GENERATIONS
    for version in VERSIONS:
        assert k2_vendor.parse_version(version).name() == k2_version.parse(version).name(), version
    for bad in ("", "gaia", "zeta.01", "10.1", "gaia.x"):
        try:
            k2_vendor.parse_version(bad)
        except ValueError:
            continue
        raise AssertionError("read %r" % bad)


def test_the_k2_stand_ins_know_the_labs_tables():
    """The stand-in installer is written on its own; its default names are the lab's."""
    lab = k2_vendor.LAYOUT
    assert k2_installer.DEFAULT_TABLES == {
        "db_version": [lab["db_version"]["table"], lab["db_version"]["version_column"]],
        "firmy": [lab["firmy"]["table"], lab["firmy"]["code_column"], lab["firmy"]["database_column"]],
        "reinstall": [lab["reinstall_manager"]["table"], lab["reinstall_manager"]["reinstall_allowed_column"],
                      lab["reinstall_manager"]["preparation_done_column"]],
        "init": [lab["version_init"]["table"], lab["version_init"]["function_column"], lab["version_init"]["mandatory_column"],
                 lab["version_init"]["done_at_column"]],
    }
    assert k2_installer.version_name(k2_installer.parse_version("ori.09.3")) == k2_vendor.parse_version("ori.09.3").name()


def _renamed_k2_profile():
    other = copy.deepcopy(k2_profile.DEFAULT_PROFILE)
    for entry, values in other.items():
        for key, value in values.items():
            if isinstance(value, str) and key != "konverze_token":
                values[key] = "X_" + value
    other["scripts"]["ddl_platforms"] = {"mssql": "X1", "oracle": "X2", "lab": "X3"}
    other["scripts"]["konverze_platforms"] = {"mssql": "X1", "oracle": "X2", "lab": "X3"}
    return other


def _created_tables(ddl_text):
    return sorted(name for _schema, name in _tables(k2_site.lab_batches(ddl_text)))


def test_the_k2_lab_keeps_the_vendor_names_whatever_the_collections_profile_says(monkeypatch, tmp_path):
    monkeypatch.setattr(k2_profile, "DEFAULT_PROFILE", _renamed_k2_profile())
    assert k2_profile.merge_profile()["reinstall_manager"]["table"] == "X_REINSTALACE"

    spec = k2_site.SiteSpec(name="s1", company_tables=2, mandants=["FIRMA"])
    cluster = k2_cluster.Cluster(data_dir=str(tmp_path / "data"), socket_dir=str(tmp_path / "run"), port=5999, bin_dir="/nonexistent",
                                 owner="nobody")
    root = tmp_path / "site"
    k2_site._folder(spec, cluster, str(root), k2_site.site_layout(spec))  # pylint: disable=protected-access
    sql = sorted(p.name for p in (root / "SQL").iterdir() if p.is_file())
    assert sql == ["K2t_CONF_Lab.SQL", "K2t_CONF_MSSQL.SQL", "K2t_CONF_Oracle.SQL", "K2t_FIRMA_Lab.SQL", "K2t_FIRMA_MSSQL.SQL", "K2t_FIRMA_Oracle.SQL"]
    assert sorted(p.name for p in (root / "SQL" / "konverze").iterdir())[:2] == ["K2_C412.sql", "K2_C412Additional.sql"]
    conf_tables = _created_tables((root / "SQL" / "K2t_CONF_Lab.SQL").read_text(encoding="utf-8"))
    assert {"FIRMY", "K2VERZE", "REINSTALACE", "LICSESSION", "ROZSIRENI"} <= set(conf_tables)
    assert _created_tables((root / "SQL" / "K2t_FIRMA_Lab.SQL").read_text(encoding="utf-8"))[:2] == ["INICIALIZACE", "K2VERZE"]
    assert not [name for name in conf_tables if name.startswith("X_")]
    knobs = json.loads((root / "Conf" / "Special" / "k2lab.json").read_text(encoding="utf-8"))
    assert knobs["tables"]["reinstall"] == ["REINSTALACE", "ReinstalacePovolena", "PripravaProvedena"]
    assert knobs["extensions_table"] == {"table": "ROZSIRENI", "name": "Nazev", "current": "Aktualni", "format": "Format"}

    seeds = k2_site._seed_rows(spec, "conf", "CONF") + k2_site._seed_rows(spec, "company", "FIRMA")  # pylint: disable=protected-access
    assert not [row for row in seeds if "X_" in row]
    assert any(row.startswith('INSERT INTO "REINSTALACE" ("ZakazPrihlaseni", "ReinstalacePovolena", "PripravaProvedena")') for row in seeds)
    assert any("'Inicializace verze gaia.12.3'" in row for row in seeds)

    files = k2_release.release_files("ori.09", company_tables=2)
    assert "K2VERSION.txt" in files and "SQL/K2t_FIRMA_Lab.SQL" in files and "SQL/konverze/K2_D509LabAdditional.sql" in files
    assert b'UPDATE "K2VERZE" SET "Verze" = \'ori.09\'' in files["SQL/konverze/K2_D509LabAdditional.sql"]
    assert not [path for path in files if "X" in path]


def test_a_k2_site_of_another_layout_is_built_from_its_own_override():
    spec = k2_site.SiteSpec(name="odd", company_tables=2, layout={"reinstall_manager": {"table": "SPRAVCE_REINSTALACE"}},
                            extra_columns={"version_init": ["Poznamka"]})
    conf = k2_render.render_ddl(k2_site.expected_model("conf", spec), "lab")
    assert "SPRAVCE_REINSTALACE" in _created_tables(conf) and "REINSTALACE" not in _created_tables(conf)
    company = k2_site.expected_model("company", spec)
    assert [c.name for c in company.table("INICIALIZACE").columns][-1] == "Poznamka"
    try:
        k2_vendor.layout({"reinstall_manager": {"tabel": "X"}})
    except ValueError as exc:
        assert "unknown key(s) tabel" in str(exc)
    else:
        raise AssertionError("an unknown key was accepted")


def test_the_k2_labs_quoting_follows_each_platform():
    assert k2_vendor.quote_ident("mssql", "a]b") == "[a]]b]"
    assert k2_vendor.quote_ident("lab", 'a"b') == '"a""b"' == k2_vendor.quote_ident("oracle", 'a"b'.replace('"', "_")).replace("_", '""')
    assert k2_vendor.quote_literal("mssql", "Účetní 'x'") == "N'Účetní ''x'''"
    assert k2_vendor.quote_literal("lab", "a\\b'") == "'a\\b'''"
    for platform, name in (("oracle", 'a"b'), ("lab", ""), ("db2", "x"), ("mssql", "a\x00")):
        try:
            k2_vendor.quote_ident(platform, name)
        except ValueError:
            continue
        raise AssertionError("quoted %r for %s" % (name, platform))
