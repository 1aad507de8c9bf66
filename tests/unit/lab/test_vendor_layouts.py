"""The labs' own description of the vendor systems against the collection's default profiles.

The labs stand in for K2 and Comarch ERP, so they describe the vendors' private tables themselves
(``tools/k2lab/vendor.py``, ``tools/comarchlab/vendor.py``) and import nothing of the collection's
profiles. These tests say where the two part: a default profile that departs from what the lab
builds fails here, naming the entry, instead of the lab silently following it.
"""
from __future__ import annotations

import ast
import copy
import os
import sys

import sqlglot
from sqlglot import exp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile  # noqa: E402
from tools.comarchlab import installer as comarch_installer  # noqa: E402
from tools.comarchlab import site as comarch_site  # noqa: E402
from tools.comarchlab import vendor as comarch_vendor  # noqa: E402

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
