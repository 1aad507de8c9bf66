# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The K2 profile: one overridable place for every assumption about K2's private tables and files."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE, ddl_script_name, merge_profile


def test_no_override_gives_an_equal_but_independent_copy():
    merged = merge_profile()
    assert merged == DEFAULT_PROFILE
    merged["firmy"]["system_mandants"].append("X")
    merged["folder"]["ini_file"] = "changed.ini"
    assert "X" not in DEFAULT_PROFILE["firmy"]["system_mandants"]
    assert DEFAULT_PROFILE["folder"]["ini_file"] == "k2.ini"


def test_merge_one_key_keeps_the_rest_of_the_entry():
    merged = merge_profile({"firmy": {"table": "FIRMY2"}})
    assert merged["firmy"]["table"] == "FIRMY2"
    expected = dict(DEFAULT_PROFILE["firmy"], table="FIRMY2")
    assert merged["firmy"] == expected
    assert {k: v for k, v in merged.items() if k != "firmy"} == {k: v for k, v in DEFAULT_PROFILE.items() if k != "firmy"}


def test_merge_several_entries():
    merged = merge_profile({"db_version": {"version_column": "Ver"}, "journal": {"table": "MY_JOURNAL"}})
    assert merged["db_version"] == {"table": "K2VERZE", "version_column": "Ver"}
    assert merged["journal"] == {"table": "MY_JOURNAL"}


def test_the_override_is_copied_not_shared():
    patterns = ["*_ZK"]
    merged = merge_profile({"firmy": {"test_patterns": patterns}})
    patterns.append("*_OTHER")
    assert merged["firmy"]["test_patterns"] == ["*_ZK"]


def test_the_defaults_are_not_modified_by_a_merge():
    before = copy.deepcopy(DEFAULT_PROFILE)
    merge_profile({"firmy": {"table": "X", "system_mandants": ["A"]}})
    assert DEFAULT_PROFILE == before


def test_merge_onto_another_base():
    base = merge_profile({"firmy": {"table": "BASE"}})
    merged = merge_profile({"firmy": {"code_column": "Kod"}}, base)
    assert (merged["firmy"]["table"], merged["firmy"]["code_column"]) == ("BASE", "Kod")


def test_unknown_entry_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(ValueError) as info:
        merge_profile({"firmi": {"table": "X"}})
    message = str(info.value)
    assert "unknown entry 'firmi'" in message
    assert "firmy" in message and "journal" in message


def test_unknown_key_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"k2_profile\.firmy: unknown key\(s\) tabel, zkratka"):
        merge_profile({"firmy": {"tabel": "X", "zkratka": "Y", "table": "Z"}})


@pytest.mark.parametrize("override, problem", [
    ({"firmy": "FIRMY"}, "entry 'firmy' must be a mapping, got str"),
    ({"firmy": ["FIRMY"]}, "entry 'firmy' must be a mapping, got list"),
    ({"firmy": {"system_mandants": "DEMO"}}, "k2_profile.firmy.system_mandants must be a list, got str 'DEMO'"),
    ({"firmy": {"table": 5}}, "k2_profile.firmy.table must be a string, got int 5"),
    ({"firmy": {"table": None}}, "k2_profile.firmy.table must be a string, got NoneType None"),
    ({"ini": {"drivers": ["MSSQL"]}}, "k2_profile.ini.drivers must be a mapping, got list"),
    ({"folder": {"executables": "k2.exe"}}, "k2_profile.folder.executables must be a list, got str"),
])
def test_type_mismatch_is_refused(override, problem):
    with pytest.raises(ValueError) as info:
        merge_profile(override)
    assert problem in str(info.value)


def test_a_tuple_is_a_list():
    assert merge_profile({"firmy": {"test_patterns": ("*_ZK",)}})["firmy"]["test_patterns"] == ("*_ZK",)


def test_a_nested_mapping_is_replaced_whole():
    # Documented: merged dict by dict (one level); a nested mapping such as drivers is the user's whole list.
    merged = merge_profile({"ini": {"drivers": {"MSSQL": "mssql"}}})
    assert merged["ini"]["drivers"] == {"MSSQL": "mssql"}


@pytest.mark.parametrize("kind, platform, name", [
    ("conf", "mssql", "K2t_CONF_MSSQL.SQL"),
    ("company", "mssql", "K2t_FIRMA_MSSQL.SQL"),
    ("conf", "oracle", "K2t_CONF_Oracle.SQL"),
    ("company", "oracle", "K2t_FIRMA_Oracle.SQL"),
    ("conf", "lab", "K2t_CONF_Lab.SQL"),
])
def test_ddl_script_name(kind, platform, name):
    assert ddl_script_name(DEFAULT_PROFILE, kind, platform) == name


def test_ddl_script_name_follows_an_override():
    profile = merge_profile({"scripts": {"ddl": "{platform}/K2_{type}.sql", "ddl_types": {"conf": "Konfigurace", "company": "Firma"}}})
    assert ddl_script_name(profile, "conf", "oracle") == "Oracle/K2_Konfigurace.sql"


@pytest.mark.parametrize("kind, platform, problem", [
    ("mandant", "mssql", "names no database kind 'mandant' (known: company, conf)"),
    ("conf", "db2", "names no platform 'db2' (known: lab, mssql, oracle)"),
])
def test_ddl_script_name_refuses_unknown_kind_or_platform(kind, platform, problem):
    with pytest.raises(ValueError) as info:
        ddl_script_name(DEFAULT_PROFILE, kind, platform)
    assert problem in str(info.value)


def test_every_entry_says_which_table_or_file_it_describes():
    # The table names are what the lab builds and what k2_info queries; none may be empty.
    for entry in ("firmy", "db_version", "reinstall_manager", "licence_sessions", "version_init", "extensions", "journal"):
        assert isinstance(DEFAULT_PROFILE[entry]["table"], str) and DEFAULT_PROFILE[entry]["table"]
