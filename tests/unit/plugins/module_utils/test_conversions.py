# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Conversion file selection by the seed's table (RUNBOOK K2-12)."""

from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.conversions import (
    DB_COMPANY, DB_CONF, parse_name, select_conversions)

# The seed's table plus the lab's files: name -> (platform, db kind, one-time).
SEED_TABLE = {
    "K2_C2020.sql": ("mssql", DB_CONF, True),
    "K2_C2020Ora.sql": ("oracle", DB_CONF, True),
    "K2_C2020Additional.sql": ("mssql", DB_CONF, False),
    "K2_C2020OraAdditional.sql": ("oracle", DB_CONF, False),
    "K2_D2020.sql": ("mssql", DB_COMPANY, True),
    "K2_D2020Ora.sql": ("oracle", DB_COMPANY, True),
    "K2_D2020Additional.sql": ("mssql", DB_COMPANY, False),
    "K2_D2020OraAdditional.sql": ("oracle", DB_COMPANY, False),
    "K2_C2020Lab.sql": ("lab", DB_CONF, True),
    "K2_C2020LabAdditional.sql": ("lab", DB_CONF, False),
    "K2_D2020Lab.sql": ("lab", DB_COMPANY, True),
    "K2_D2020LabAdditional.sql": ("lab", DB_COMPANY, False),
}


@pytest.mark.parametrize("platform", ["mssql", "oracle", "lab"])
@pytest.mark.parametrize("kind", ["build", "release", "generation"])
@pytest.mark.parametrize("db_kind", [DB_CONF, DB_COMPANY])
def test_every_cell_of_the_seed_table(platform, kind, db_kind):
    selection = select_conversions(sorted(SEED_TABLE), platform, kind)
    chosen = {item.name for item in selection.for_db(db_kind)}
    expected = {name for name, (plat, db, one_time) in SEED_TABLE.items()
                if plat == platform and db == db_kind and (kind == "generation" or not one_time)}
    assert chosen == expected
    assert len(expected) == (2 if kind == "generation" else 1)
    assert selection.unknown == ()
    assert {pair[0] for pair in selection.not_selected} | {item.name for item in selection.plan} == set(SEED_TABLE)


def test_plan_items_carry_kind_name_one_time_version():
    plan = select_conversions(["K2_D2020Ora.sql", "K2_C2020OraAdditional.sql"], "oracle", "generation").plan
    assert [(p.db_kind, p.name, p.one_time, p.version, p.platform) for p in plan] == [
        (DB_CONF, "K2_C2020OraAdditional.sql", False, "2020", "oracle"),
        (DB_COMPANY, "K2_D2020Ora.sql", True, "2020", "oracle")]


def test_order_numeric_version_then_one_time_before_additional():
    names = ["K2_D100Additional.sql", "K2_D99.sql", "K2_D2021.sql", "K2_D100.sql", "K2_D99Additional.sql",
             "K2_C2021Additional.sql", "K2_D2020Additional.sql", "K2_C5.sql"]
    plan = select_conversions(names, "mssql", "generation").plan
    assert [p.name for p in plan] == [
        "K2_C5.sql", "K2_C2021Additional.sql",
        "K2_D99.sql", "K2_D99Additional.sql", "K2_D100.sql", "K2_D100Additional.sql",
        "K2_D2020Additional.sql", "K2_D2021.sql"]


def test_order_does_not_depend_on_listing_order():
    names = ["K2_D3.sql", "K2_D1Additional.sql", "K2_D2.sql", "K2_D1.sql", "K2_D3Additional.sql"]
    first = select_conversions(names, "mssql", "generation").plan
    assert select_conversions(list(reversed(names)), "mssql", "generation").plan == first


def test_release_and_build_run_additional_of_every_version():
    names = ["K2_D2020.sql", "K2_D2020Additional.sql", "K2_D2021.sql", "K2_D2021Additional.sql"]
    for kind in ("build", "release"):
        selection = select_conversions(names, "mssql", kind)
        assert [p.name for p in selection.plan] == ["K2_D2020Additional.sql", "K2_D2021Additional.sql"]
        assert dict(selection.not_selected)["K2_D2021.sql"].startswith("one-time conversion")


def test_names_are_case_insensitive_like_windows():
    selection = select_conversions(["k2_d2020ora.SQL", "K2_D2020ORAADDITIONAL.Sql"], "oracle", "generation")
    assert [(p.name, p.one_time) for p in selection.plan] == [("k2_d2020ora.SQL", True), ("K2_D2020ORAADDITIONAL.Sql", False)]


@pytest.mark.parametrize("name", ["readme.txt", "K2_X2020.sql", "K2_D.sql", "K2_Dabc.sql", "K2_D2020Sybase.sql",
                                  "K2_D2020.sql.bak", "K2_D2020_old.sql", "K2_D2020AdditionalOra.sql", "K2D2020.sql", ""])
def test_unknown_names_are_reported_with_a_reason(name):
    selection = select_conversions([name, "K2_D2020.sql"], "mssql", "generation")
    assert [p.name for p in selection.plan] == ["K2_D2020.sql"]
    assert [pair[0] for pair in selection.unknown] == [name]
    assert selection.unknown[0][1]


def test_duplicates_differing_in_case_are_reported():
    selection = select_conversions(["K2_D2020.sql", "k2_d2020.sql"], "mssql", "generation")
    assert [p.name for p in selection.plan] == ["K2_D2020.sql"]
    assert selection.unknown[0][0] == "k2_d2020.sql" and "duplicate" in selection.unknown[0][1]


def test_other_platforms_files_are_not_selected_with_reason():
    selection = select_conversions(["K2_D2020Ora.sql"], "mssql", "generation")
    assert selection.plan == () and selection.not_selected == (("K2_D2020Ora.sql", "for platform oracle"),)


def test_platform_tokens_can_be_overridden_by_the_profile():
    tokens = {"mssql": "", "oracle": "Orcl", "lab": "Pg"}
    selection = select_conversions(["K2_D7Orcl.sql", "K2_D7Ora.sql", "K2_D7PgAdditional.sql"], "oracle", "generation", tokens)
    assert [p.name for p in selection.plan] == ["K2_D7Orcl.sql"]
    assert [pair[0] for pair in selection.unknown] == ["K2_D7Ora.sql"]
    assert parse_name("K2_D7PgAdditional.sql", tokens).platform == "lab"


def test_ambiguous_tokens_are_refused_per_name():
    with pytest.raises(ValueError, match="several platforms"):
        parse_name("K2_D1.sql", {"mssql": "", "lab": ""})


@pytest.mark.parametrize("platform, kind", [("sybase", "build"), ("mssql", "major"), ("mssql", "Generation")])
def test_bad_arguments(platform, kind):
    with pytest.raises(ValueError):
        select_conversions([], platform, kind)


def test_files_outside_the_upgrade_s_versions_are_not_selected():
    from ansible_collections.erpops.upgrade.plugins.module_utils import conversions
    names = ["K2_C412Lab.sql", "K2_C412LabAdditional.sql", "K2_C509Lab.sql", "K2_C509LabAdditional.sql", "K2_C510Lab.sql"]
    selection = conversions.within_versions(conversions.select_conversions(names, "lab", "generation"), "gaia.12.3", "ori.09",
                                            "{generation}{release:02d}")
    assert [item.name for item in selection.plan] == ["K2_C509Lab.sql", "K2_C509LabAdditional.sql"]
    assert sorted(name for name, _reason in selection.not_selected) == ["K2_C412Lab.sql", "K2_C412LabAdditional.sql", "K2_C510Lab.sql"]
    assert "for version 510, outside gaia.12.3 .. ori.09" in dict(selection.not_selected)["K2_C510Lab.sql"]
    same = conversions.within_versions(conversions.select_conversions(names, "lab", "build"), "gaia.12.3", "gaia.12.4",
                                       "{generation}{release:02d}")
    assert [item.name for item in same.plan] == ["K2_C412LabAdditional.sql"]
    untouched = conversions.select_conversions(names, "lab", "generation")
    assert conversions.within_versions(untouched, "gaia.12.3", "ori.09", "") is untouched
    assert conversions.version_token("ori.09", "{generation}{release:02d}") == 509


def test_only_named_files_resume():
    import pytest
    from ansible_collections.erpops.upgrade.plugins.module_utils import conversions
    selection = conversions.select_conversions(["K2_C509Lab.sql", "K2_D509Lab.sql", "K2_D509LabAdditional.sql"], "lab", "generation")
    kept = conversions.only_files(selection, ["k2_d509lab.sql"])
    assert [item.name for item in kept.plan] == ["K2_D509Lab.sql"]
    assert ("K2_C509Lab.sql", "not named in files") in kept.not_selected
    with pytest.raises(ValueError, match="K2_X.sql are not among the selected"):
        conversions.only_files(selection, ["K2_X.sql"])
