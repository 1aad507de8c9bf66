# -*- coding: utf-8 -*-
"""profile_check: catalog matching, candidates and overrides, rules on rows, the report; SQL text per dialect."""

import pytest
import sqlglot
import yaml

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile, k2_profile, k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils import profile_check as pc
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident

DIALECTS = {"mssql": "tsql", "lab": "postgres", "oracle": "oracle"}
K2 = k2_profile.merge_profile()
REINSTALL = next(e for e in pc.K2_ENTRIES["conf"] if e.name == "reinstall_manager")


def rows(schema, table, *columns):
    """Catalog rows as INFORMATION_SCHEMA.COLUMNS returns them: (name, type[, nullable])."""
    out = []
    for column in columns:
        name, data_type = column[0], column[1]
        out.append({"TABLE_SCHEMA": schema, "TABLE_NAME": table, "COLUMN_NAME": name, "DATA_TYPE": data_type,
                    "NUMERIC_SCALE": 0 if data_type in ("int", "numeric") else None,
                    "IS_NULLABLE": "YES" if len(column) < 3 or column[2] else "NO"})
    return out


REINSTALACE = [("ZakazPrihlaseni", "int", False), ("ZakazOd", "datetime"), ("Zprava", "nvarchar"), ("Uzivatel", "varchar"),
               ("ReinstalacePovolena", "int", False), ("PripravaProvedena", "int", False)]


@pytest.mark.parametrize("data_type, scale, kind", [
    ("varchar", None, pc.TEXT), ("character varying", None, pc.TEXT), ("NVARCHAR2", None, pc.TEXT), ("int", 0, pc.INTEGER),
    ("numeric", 0, pc.INTEGER), ("NUMBER", 0, pc.INTEGER), ("numeric", 2, None), ("bit", None, pc.FLAG), ("boolean", None, pc.FLAG),
    ("datetime", None, pc.DATETIME), ("timestamp without time zone", None, pc.DATETIME), ("TIMESTAMP(6)", None, pc.DATETIME),
    ("image", None, None)])
def test_kinds_of_catalog_types(data_type, scale, kind):
    assert pc.kind_of(data_type, scale) == kind


def test_a_flag_may_be_an_integer_but_an_integer_not_a_bit():
    assert pc.compatible(pc.FLAG, pc.INTEGER) and pc.compatible(pc.FLAG, pc.FLAG)
    assert not pc.compatible(pc.INTEGER, pc.FLAG) and not pc.compatible(pc.TEXT, pc.DATETIME)


def test_the_standard_table_fits_with_no_finding():
    tables = pc.catalog_from_rows(rows("dbo", "REINSTALACE", *REINSTALACE))
    found = pc.resolve(REINSTALL, K2["reinstall_manager"], tables, "K2_CONF", "mssql")
    assert found.complete and found.findings == [] and found.override == {}
    assert found.names["ban_from_column"] == "ZakazOd"


def test_a_renamed_table_with_a_renamed_column_and_an_extra_one_is_found_and_proposed():
    renamed = [c if c[0] != "Zprava" else ("ZpravaZakazu", "nvarchar") for c in REINSTALACE] + [("Poznamka", "varchar")]
    tables = pc.catalog_from_rows(rows("dbo", "FIRMY", ("Zkr", "varchar"), ("Naz", "nvarchar"))
                                  + rows("dbo", "SPRAVCE_REINSTALACE", *renamed))
    found = pc.resolve(REINSTALL, K2["reinstall_manager"], tables, "K2_CONF", "mssql")
    assert found.complete
    assert found.override == {"table": "SPRAVCE_REINSTALACE", "ban_message_column": "ZpravaZakazu"}
    table, column, extra = found.findings
    assert (table["entry"], table["found"]) == ("reinstall_manager.table", "no such table")
    assert table["candidates"][0] == "SPRAVCE_REINSTALACE (7 columns)"
    assert column["entry"] == "reinstall_manager.ban_message_column" and column["candidates"][0] == "ZpravaZakazu (nvarchar)"
    assert extra["severity"] == "info" and "Poznamka" in extra["found"]


def test_a_column_of_the_wrong_kind_is_named_with_what_fits_instead():
    changed = [c if c[0] != "ZakazOd" else ("ZakazOd", "varchar") for c in REINSTALACE] + [("ZakazOdData", "datetime")]
    found = pc.resolve(REINSTALL, K2["reinstall_manager"], pc.catalog_from_rows(rows("dbo", "REINSTALACE", *changed)), "K2_CONF", "mssql")
    (finding,) = [f for f in found.findings if f["severity"] == "mismatch"]
    assert finding["found"] == "column ZakazOd is varchar (text)"
    assert finding["override"] == {"ban_from_column": "ZakazOdData"}


def test_a_missing_column_is_absent_when_optional_and_unfit_otherwise():
    profile = comarch_profile.merge_profile()
    history = pc.COMARCH_ENTRIES[2]
    columns = [("SOHI_Id", "int"), ("SOHI_Operacja", "varchar"), ("SOHI_Start", "datetime"), ("SOHI_Koniec", "datetime"),
               ("SOHI_Status", "varchar"), ("SOHI_Oczekujace", "int"), ("SOHI_WersjaProgramu", "varchar")]
    found = pc.resolve(history, profile["history"], pc.catalog_from_rows(rows("CDN", "SOA_Historia", *columns)), "D", "mssql")
    assert found.complete and found.override == {"message_column": None}
    assert "does without it" in found.findings[0]["note"]
    without_flag = [c for c in REINSTALACE if c[0] != "PripravaProvedena"]
    found = pc.resolve(REINSTALL, K2["reinstall_manager"], pc.catalog_from_rows(rows("dbo", "REINSTALACE", *without_flag)), "C", "mssql")
    assert not found.complete and found.override == {}
    (finding,) = [f for f in found.findings if f["severity"] == "mismatch"]
    assert "cannot work on this site without it" in finding["note"] and "override" not in finding


def test_no_table_of_the_right_shape_means_no_proposal():
    tables = pc.catalog_from_rows(rows("dbo", "SOMETHING", ("A", "varchar"), ("B", "varchar")))
    found = pc.resolve(REINSTALL, K2["reinstall_manager"], tables, "K2_CONF", "mssql")
    assert found.table is None and not found.complete and found.override == {}
    assert "no table of the catalog has columns of every kind" in found.findings[0]["note"]


def test_names_differ_only_in_case_fit_on_ms_sql_but_not_in_the_lab():
    lower = [(c[0].lower(),) + tuple(c[1:]) for c in REINSTALACE]
    mssql = pc.resolve(REINSTALL, K2["reinstall_manager"], pc.catalog_from_rows(rows("dbo", "reinstalace", *lower)), "C", "mssql")
    assert mssql.complete and mssql.findings == []
    lab = pc.resolve(REINSTALL, K2["reinstall_manager"], pc.catalog_from_rows(rows("public", "reinstalace", *lower)), "C", "lab")
    assert lab.override["table"] == "reinstalace" and lab.override["ban_enabled_column"] == "zakazprihlaseni"


def test_comarch_entries_look_in_their_schema():
    profile = comarch_profile.merge_profile()
    schedule = pc.COMARCH_ENTRIES[1]
    columns = [("SOH_Id", "int"), ("SOH_Operacja", "varchar"), ("SOH_Aktywne", "int"), ("SOH_InterwalSek", "int"),
               ("SOH_NastepneUruchomienie", "datetime")]
    elsewhere = pc.catalog_from_rows(rows("dbo", "SOA_Harmonogram", *columns))
    found = pc.resolve(schedule, profile["schedule"], elsewhere, "CDN_Firma", "mssql")
    assert found.override == {"table": "SOA_Harmonogram", "schema": "dbo"}
    assert found.findings[0]["candidates"] == ["dbo.SOA_Harmonogram (5 columns)"]


def test_rules_on_rows():
    rules = {r.entry: r for r in pc.k2_rules(k2_version.parse)}
    good = {"ban_enabled_column": 0, "reinstall_allowed_column": 1, "preparation_done_column": 1}
    assert pc.judge_rule(rules["reinstall_manager"], "C", [good]) is None
    two = pc.judge_rule(rules["reinstall_manager"], "C", [dict(good, ban_enabled_column=2)] * 2)
    assert two["found"] == "2 rows; ban_enabled_column holds 2, not 0/1"
    assert pc.judge_rule(rules["db_version"], "F", [{"version_column": "gaia.12.3"}]) is None
    assert "does not parse as a K2 version: '12-3'" in pc.judge_rule(rules["db_version"], "F", [{"version_column": "12-3"}])["found"]
    mandants = [{"code_column": "FIRMA", "database_column": "K2_F"}, {"code_column": "firma", "database_column": ""}]
    firmy = pc.judge_rule(rules["firmy"], "C", mandants)
    assert "code_column repeats or is empty: FIRMA" in firmy["found"] and "database_column repeats or is empty: an empty value" in firmy["found"]
    assert "format_column does not parse" in pc.judge_rule(rules["extensions"], "C", [
        {"name_column": "Sklad", "current_column": 1, "format_column": "v2"}])["found"]


def test_comarch_rules_on_rows():
    profile = comarch_profile.merge_profile()
    rules = {r.entry: r for r in pc.comarch_rules(profile)}
    versions = [{"id_column": 1, "value_column": "CDN_Firma"}, {"id_column": 3, "value_column": "2025.5000"}]
    assert pc.judge_rule(rules["db_version"], "D", versions) is None
    assert "does not parse as a database version: '2025.3.0'" in pc.judge_rule(rules["db_version"], "D", [
        {"id_column": 3, "value_column": "2025.3.0"}])["found"]
    other = pc.judge_rule(rules["schedule"], "D", [{"operation_column": "HRM_DIFF", "enabled_column": 1, "interval_column": 60}])
    assert "operations found: HRM_DIFF" in other["found"]
    history = pc.judge_rule(rules["history"], "D", [
        {"operation_column": "HRM_PELNA", "status_column": "SUKCES", "started_column": None, "version_column": None},
        {"operation_column": "WERSJA", "status_column": "OK", "started_column": 1, "version_column": "nowa"}])
    assert "status_column holds SUKCES, not one of the profile's statuses (OK, BLAD, TRWA)" in history["found"]
    assert "1 row(s) without a start time" in history["found"] and "'nowa'" in history["found"]
    bad_map = comarch_profile.merge_profile("optima", {"versions": {"program_to_database": {"2025.3.0": "2025.3.0"}}})
    assert pc.comarch_version_findings(bad_map)[0]["found"] == "2025.3.0: 2025.3.0"
    assert pc.comarch_version_findings(profile) == []


def test_the_override_merges_across_databases_and_renders_as_yaml_the_profile_accepts():
    one, two, three = pc.Resolution("db_version", "A"), pc.Resolution("db_version", "B"), pc.Resolution("history", "A")
    one.override, two.override, three.override = {"table": "VERZE"}, {"table": "VERZE"}, {"message_column": None, "status_column": "Stan"}
    merged, conflicts = pc.merge_overrides([one, two, three])
    assert conflicts == [] and merged == {"db_version": {"table": "VERZE"}, "history": {"message_column": None, "status_column": "Stan"}}
    text = pc.to_yaml("comarch_profile", merged)
    assert yaml.safe_load(text) == {"comarch_profile": merged}
    comarch_profile.merge_profile("optima", {"history": yaml.safe_load(text)["comarch_profile"]["history"]})
    two.override = {"table": "VERZE2"}
    merged, conflicts = pc.merge_overrides([one, two])
    assert merged == {} and conflicts == ["db_version.table: the databases disagree (VERZE, VERZE2)"]
    assert yaml.safe_load(pc.to_yaml("k2_profile", {"x": {"table": "yes"}})) == {"k2_profile": {"x": {"table": "yes"}}}


def test_the_report_names_each_mismatch_then_the_override():
    finding = {"entry": "schedule.table", "step": "CM-02", "database": "D", "severity": "mismatch", "expected": "table CDN.A",
               "found": "no such table", "candidates": ["CDN.B (5 columns)"]}
    lines = pc.summary([finding], "comarch_profile:\n  schedule:\n    table: B\n", [], "comarch_profile")
    assert lines == ["schedule.table [D, CM-02]: expected table CDN.A, found no such table; candidates: CDN.B (5 columns)",
                     "override that makes the site fit (comarch_profile):", "  comarch_profile:", "    schedule:", "      table: B"]


class Reader:
    """Answers the catalog query and the rule queries; records every statement."""

    def __init__(self, catalog, answers):
        self.catalog, self.answers, self.seen = catalog, answers, []

    def query(self, sql, params=()):
        self.seen.append(sql)
        if "COLUMNS" in sql.upper() and "TABLE_SCHEMA" in sql.upper():
            return self.catalog
        return self.answers


def test_check_database_reads_only_and_judges_rules_with_the_resolved_names():
    reader = Reader(rows("dbo", "SPRAVCE", *REINSTALACE), [{"BAN_ENABLED_COLUMN": 0, "reinstall_allowed_column": 1,
                                                            "preparation_done_column": 1}] * 2)
    resolutions, findings = pc.check_database(reader, "mssql", "K2_CONF", [REINSTALL], K2, pc.k2_rules(k2_version.parse),
                                              lambda entry, found: "[dbo].[%s]" % found.table.name, lambda n: quote_ident("mssql", n))
    assert resolutions[0].override == {"table": "SPRAVCE"}
    assert [f["found"] for f in findings] == ["no such table", "2 rows"]
    assert all(sql.lstrip().upper().startswith("SELECT") for sql in reader.seen)
    assert 'FROM [dbo].[SPRAVCE]' in reader.seen[1] and "[ZakazPrihlaseni] AS [ban_enabled_column]" in reader.seen[1]


@pytest.mark.parametrize("platform", ["mssql", "lab", "oracle"])
def test_every_sql_text_parses_in_its_dialect(platform):
    def quote(name):
        return quote_ident(platform, name)

    texts = [pc.CATALOG_SQL[platform].replace(":owner", "'K2'"),
             pc.rule_sql(platform, quote("SPRAVCE"), {"a": "Col A", "b": 'we ird]'}, ("a", "b"), quote)]
    for text in texts:
        parsed = sqlglot.parse_one(text, read=DIALECTS[platform])
        assert isinstance(parsed, sqlglot.exp.Select), text
    assert pc.rule_sql(platform, "t", {"a": None}, ("a",), quote) is None
