# -*- coding: utf-8 -*-
"""The Comarch profile: products, overrides, the version mapping, and SQL that parses per dialect."""

import pytest
import sqlglot

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile as cp

DIALECTS = {"mssql": "tsql", "lab": "postgres"}


def test_optima_keeps_the_database_version_where_facts_say():
    p = cp.merge_profile("optima")
    assert (p["db_version"]["schema"], p["db_version"]["table"], p["db_version"]["value_column"], p["db_version"]["version_id"]) == (
        "CDN", "SystemCDN", "SYS_Wartosc", 3)
    assert p["service"]["name"] == "Comarch ERP Optima Serwis Operacji Automatycznych"


def test_products_differ_and_xl_altum_refuse_to_guess_versions():
    assert cp.merge_profile("xl_hr")["service"]["name"] != cp.merge_profile("optima")["service"]["name"]
    for product in ("xl_hr", "altum_hr"):
        with pytest.raises(ValueError, match="add it to comarch_profile.versions"):
            cp.expected_database_version(cp.merge_profile(product), "2025.3.0")


def test_versions_compare_through_the_mapping_not_equality():
    p = cp.merge_profile()
    assert cp.expected_database_version(p, "2025.3.0") == "2025.5000"
    assert cp.expected_database_version(p, " 2025.3.0 ") == "2025.5000"
    with pytest.raises(ValueError, match="2025.5000"):  # a database version is not a program version
        cp.expected_database_version(p, "2025.5000")
    extended = cp.merge_profile("optima", {"versions": {"program_to_database": {"2025.4.1": "2025.6000"}}})
    assert cp.expected_database_version(extended, "2025.4.1") == "2025.6000"


def test_override_merges_key_by_key_and_leaves_the_default_alone():
    p = cp.merge_profile("optima", {"schedule": {"table": "Harmonogram"}})
    assert p["schedule"]["table"] == "Harmonogram" and p["schedule"]["schema"] == "CDN"
    assert cp.merge_profile("optima")["schedule"]["table"] == "SOA_Harmonogram"


@pytest.mark.parametrize("override, message", [
    ({"shedule": {}}, "unknown entry 'shedule'"),
    ({"schedule": {"tabel": "x"}}, r"unknown key\(s\) tabel"),
    ({"schedule": "x"}, "must be a mapping"),
    ({"db_version": {"version_id": "3"}}, "must be an integer"),
    ({"db_version": {"version_id": True}}, "must be an integer"),
    ({"history": {"rows": 1.5}}, "must be an integer"),
    ({"versions": {"program_to_database": ["2025.3.0"]}}, "must be a mapping"),
])
def test_bad_overrides_are_refused(override, message):
    with pytest.raises(ValueError, match=message):
        cp.merge_profile("optima", override)


def test_unknown_product_and_platform_are_refused():
    with pytest.raises(ValueError, match="optima"):
        cp.merge_profile("symfonia")
    with pytest.raises(ValueError, match="MS SQL"):
        cp.schedule_sql("oracle", cp.merge_profile())


@pytest.mark.parametrize("platform", ["mssql", "lab"])
def test_every_sql_text_parses_in_its_dialect(platform):
    p = cp.merge_profile()
    builders = (cp.version_sql, cp.schedule_sql, cp.history_sql, cp.enable_differential_sql)
    texts = [cp.now_sql(platform)] + [builder(platform, p)[0] for builder in builders]
    for text in texts:
        parsed = sqlglot.parse_one(text.replace("?", "NULL"), read=DIALECTS[platform])
        assert parsed is not None, text


def test_parameters_carry_the_values_and_the_history_is_bounded():
    p = cp.merge_profile()
    assert cp.version_sql("mssql", p)[1] == (3,)
    assert cp.schedule_sql("mssql", p)[1] == ("HRM_ROZNICOWA", "HRM_PELNA")
    sql, params = cp.history_sql("mssql", p)
    assert "TOP (200)" in sql and params == ("HRM_ROZNICOWA", "HRM_PELNA", "WERSJA")
    assert cp.history_sql("lab", p)[0].endswith("LIMIT 200")
    assert cp.enable_differential_sql("mssql", p) == (
        "UPDATE [CDN].[SOA_Harmonogram] SET [SOH_Aktywne] = 1 WHERE [SOH_Operacja] = ? AND [SOH_Aktywne] = 0", ("HRM_ROZNICOWA",))


@pytest.mark.parametrize("platform", ["mssql", "lab"])
def test_hostile_names_stay_identifiers(platform):
    hostile = "T]; DROP TABLE x; --\""
    p = cp.merge_profile("optima", {"schedule": {"table": hostile, "enabled_column": hostile}})
    sql, _params = cp.enable_differential_sql(platform, p)
    statements = sqlglot.parse(sql.replace("?", "NULL"), read=DIALECTS[platform])
    assert len([s for s in statements if s is not None]) == 1
    assert isinstance(statements[0], sqlglot.exp.Update)


def test_an_absent_message_column_is_allowed_and_read_as_null():
    p = cp.merge_profile("optima", {"history": {"message_column": None}})
    sql, _params = cp.history_sql("mssql", p)
    assert "NULL AS message" in sql and "SOHI_Komunikat" not in sql
    assert sqlglot.parse_one(sql.replace("?", "NULL"), read="tsql") is not None
    with pytest.raises(ValueError, match="history.status_column must be a string"):
        cp.merge_profile("optima", {"history": {"status_column": None}})


@pytest.mark.parametrize("platform", ["mssql", "lab"])
def test_switching_syncs_off_touches_only_hrm_rows_still_on(platform):
    sql, params = cp.disable_syncs_sql(platform, cp.merge_profile())
    parsed = sqlglot.parse_one(sql.replace("?", "NULL"), read=DIALECTS[platform])
    assert isinstance(parsed, sqlglot.exp.Update) and "<> 0" in sql
    assert params == ("HRM_ROZNICOWA", "HRM_PELNA")
