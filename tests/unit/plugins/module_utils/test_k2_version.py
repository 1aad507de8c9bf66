# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""K2 versions: parsing, comparing, classifying, and reachability (FACTS.md "Versions", rule 4)."""

from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_version import (
    GENERATIONS, K2Version, VersionError, directly_reachable, parse, upgrade_kind, upgrade_path,
)


# --- parsing ---------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("4.3.120", K2Version(4, 3, 120)),
    ("4.3", K2Version(4, 3, None)),
    (" 10.01.7 ", K2Version(10, 1, 7)),
    ("K2 4.3.120", K2Version(4, 3, 120)),
    ("mia.03", K2Version(2, 3, None)),
    ("mia.03.120", K2Version(2, 3, 120)),
    ("MIA.3", K2Version(2, 3, None)),
    ("K2 alba.01", K2Version(7, 1, None)),
    ("k2 alba.01.5", K2Version(7, 1, 5)),
    ("K2_gaia.12", K2Version(4, 12, None)),
    ("k2alba.01", K2Version(7, 1, None)),
    ("ori 09", K2Version(5, 9, None)),
    ("mona.01", K2Version(1, 1, None)),
    ("vega.01", K2Version(9, 1, None)),
])
def test_parse_accepts_numbers_and_generation_names(text, expected):
    assert parse(text) == expected


def test_generation_numbers_follow_the_table_order():
    # FACTS.md: mona, mia, luna, then gaia < ori < iris < alba (vendor), nara and vega after.
    assert GENERATIONS == ("mona", "mia", "luna", "gaia", "ori", "iris", "alba", "nara", "vega")
    assert [parse("%s.01" % name).generation for name in GENERATIONS] == list(range(1, 10))


def test_parse_passes_a_version_through_unchanged():
    version = K2Version(5, 9, 2)
    assert parse(version) is version


def test_a_replaced_generation_table_renames_and_renumbers():
    table = ("old", "mia", "new")
    assert parse("new.02", table) == K2Version(3, 2, None)
    assert parse("mia.03", table) == K2Version(2, 3, None)
    with pytest.raises(VersionError, match=r"unknown generation 'alba' \(known: old, mia, new\)"):
        parse("alba.01", table)
    assert K2Version(3, 2).name(table) == "new.02"


def test_a_replaced_table_is_used_by_every_function():
    table = ("first", "second", "third")
    assert upgrade_kind("first.09", "second.05", table) == "generation"
    assert directly_reachable("first.09", "second.05", table) is True
    assert [v.name(table) for v in upgrade_path("first.09", "third.01", table)] == ["second.05", "third.01"]


@pytest.mark.parametrize("text, problem", [
    ("", "non-empty string"),
    ("   ", "non-empty string"),
    (None, "non-empty string"),
    (4.3, "non-empty string"),
    ("4", "malformed"),
    ("4.3.120.5", "malformed"),
    ("mia.03.", "malformed"),
    ("mia", "malformed"),
    ("4.x", "malformed"),
    ("mia..03", "malformed"),
    ("0.3.1", "generation number starts at 1"),
    ("zeus.01", "unknown generation 'zeus'"),
])
def test_malformed_versions_are_refused_naming_the_problem(text, problem):
    with pytest.raises(VersionError) as info:
        parse(text)
    assert problem in str(info.value)
    assert repr(text) in str(info.value)


def test_version_error_is_a_value_error():
    # k2_info catches ValueError to turn any of these into a clean 'failed' message.
    assert issubclass(VersionError, ValueError)


# --- display and comparison -----------------------------------------------

def test_names_and_numbers():
    assert K2Version(2, 3).name() == "mia.03"
    assert K2Version(2, 3, 120).name() == "mia.03.120"
    assert K2Version(7, 1).name() == "alba.01"
    assert K2Version(12, 4, 1).name() == "12.4.1"
    assert str(K2Version(2, 3, 120)) == "2.3.120"
    assert str(K2Version(7, 1)) == "7.1"


def test_names_parse_back_to_the_same_version():
    for version in (K2Version(4, 12), K2Version(5, 9, 33), K2Version(9, 1)):
        assert parse(version.name()) == version
        assert parse(str(version)) == version


def test_names_and_numbers_are_the_same_version():
    assert parse("mia.03.120") == parse("2.3.120")
    assert parse("alba.01") == parse("7.1")


def test_compare_generation_release_build():
    assert parse("gaia.12") < parse("ori.01")
    assert parse("ori.09") < parse("ori.10")
    assert parse("ori.09.5") < parse("ori.09.12")
    assert parse("alba.01") > parse("iris.99.999")
    assert parse("ori.09") >= parse("5.9")
    assert parse("ori.09") <= parse("5.9")


def test_a_missing_build_sorts_before_any_build():
    # dataclass(order=True) would raise TypeError comparing None with a number.
    versions = [parse("mia.03.5"), parse("mia.03"), parse("mia.03.0"), parse("mona.09")]
    assert sorted(versions) == [K2Version(1, 9), K2Version(2, 3), K2Version(2, 3, 0), K2Version(2, 3, 5)]
    assert max(versions) == K2Version(2, 3, 5)


def test_comparing_with_something_else_is_a_type_error():
    with pytest.raises(TypeError):
        assert parse("mia.03") < "mia.04"


# --- upgrade kinds (RUNBOOK K2-12) ------------------------------------------

@pytest.mark.parametrize("current, target, kind", [
    ("mia.03.100", "mia.03.120", "build"),
    ("mia.03", "mia.03.120", "build"),
    ("mia.03.120", "mia.03.120", "build"),
    ("mia.03.120", "mia.03", "build"),
    ("mia.03.120", "mia.04", "release"),
    ("4.3.120", "4.10.1", "release"),
    ("mia.03.120", "luna.01", "generation"),
    ("gaia.12", "alba.01", "generation"),
])
def test_upgrade_kind(current, target, kind):
    assert upgrade_kind(current, target) == kind


@pytest.mark.parametrize("current, target", [
    ("mia.03.120", "mia.03.119"),
    ("mia.04", "mia.03.999"),
    ("luna.01", "mia.09"),
    ("alba.01", "gaia.12"),
])
def test_downgrade_is_refused_with_both_versions_named(current, target):
    with pytest.raises(VersionError) as info:
        upgrade_kind(current, target)
    message = str(info.value)
    assert "downgrade" in message
    assert parse(current).name() in message and parse(target).name() in message


def test_downgrade_refused_by_the_path_planner_too():
    with pytest.raises(VersionError, match="downgrade from alba.01 to gaia.12"):
        upgrade_path("alba.01", "gaia.12")


def test_kind_refuses_malformed_input():
    with pytest.raises(VersionError, match="malformed"):
        upgrade_kind("mia.03", "latest")


# --- reachability (FACTS.md rule 4) ----------------------------------------

def test_vendor_example_path():
    path = upgrade_path("gaia.12", "alba.01")
    assert [v.name() for v in path] == ["ori.09", "iris.05", "alba.01"]
    assert all(directly_reachable(a, b) for a, b in zip([parse("gaia.12")] + path, path))


@pytest.mark.parametrize("current, target, reachable", [
    ("gaia.12", "ori.09", True),
    ("gaia.13", "ori.09", True),
    ("gaia.14", "ori.09", False),
    ("ori.09", "iris.05", True),
    ("ori.10", "iris.05", False),
    ("iris.05", "alba.01", True),
    ("iris.06", "alba.01", False),
    ("gaia.01", "ori.01", True),
    ("gaia.12", "iris.20", False),  # two generations in one step
    ("ori.09", "ori.20", True),  # same generation: any newer release
    ("ori.09.3", "ori.09.1", False),  # a downgrade is never reachable
    ("ori.09.3", "ori.09", True),
])
def test_directly_reachable(current, target, reachable):
    assert directly_reachable(current, target) is reachable


def test_boundary_gaia_13_reaches_alba_01_but_gaia_14_does_not():
    assert [v.name() for v in upgrade_path("gaia.13", "alba.01")] == ["ori.09", "iris.05", "alba.01"]
    with pytest.raises(VersionError) as info:
        upgrade_path("gaia.14", "alba.01")
    message = str(info.value)
    assert "gaia.14 cannot reach alba.01" in message
    assert "at least 10" in message


def test_unreachable_single_step_names_the_required_release():
    with pytest.raises(VersionError, match=r"gaia\.14 cannot reach ori\.09.*at least 10"):
        upgrade_path("gaia.14", "ori.09")


def test_same_generation_path_is_the_target_alone():
    assert upgrade_path("ori.09.3", "ori.12") == [K2Version(5, 12)]
    assert upgrade_path("ori.09", "ori.09") == [K2Version(5, 9)]
    assert upgrade_path("mia.03.100", "mia.03.120") == [K2Version(2, 3, 120)]


def test_next_generation_path_is_one_step():
    assert upgrade_path("gaia.12", "ori.20.4") == [K2Version(5, 20, 4)]


def test_multi_generation_path_steps_one_generation_at_a_time():
    path = upgrade_path("mona.02", "alba.03")
    assert [v.name() for v in path] == ["mia.23", "luna.19", "gaia.15", "ori.11", "iris.07", "alba.03"]
    generations = [v.generation for v in path]
    assert generations == list(range(2, 8))
    # every stop (but the target) adds the offset to the next stop's release
    for before, after in zip(path, path[1:]):
        assert before.release == after.release + k2_version.RELEASE_OFFSET


def test_multi_generation_path_keeps_the_target_build():
    assert upgrade_path("gaia.02", "iris.05.77")[-1] == K2Version(6, 5, 77)
    assert upgrade_path("gaia.02", "iris.05.77")[0] == K2Version(5, 9)


def test_numeric_and_named_paths_agree():
    assert upgrade_path("4.12", "7.1") == upgrade_path("gaia.12", "alba.01")


def test_every_planned_path_is_walkable_and_stops_are_the_newest_possible():
    # Exhaustive over a grid: each step is directly reachable, and no newer intermediate stop would still reach the next one.
    for gen in range(1, 5):
        for rel in range(0, 30, 3):
            for target_gen in range(gen, gen + 4):
                current, target = K2Version(gen, rel), K2Version(target_gen, 1)
                if target < current:
                    continue
                try:
                    path = upgrade_path(current, target)
                except VersionError:
                    assert not directly_reachable(current, K2Version(gen + 1, 1 + (target_gen - gen - 1) * 4))
                    continue
                assert path[-1] == target
                for before, after in zip([current] + path, path):
                    assert directly_reachable(before, after)
                for stop, after in zip(path, path[1:]):
                    assert not directly_reachable(K2Version(stop.generation, stop.release + 1), after)


@pytest.mark.parametrize("first, second, same", [
    ("4.3", "4.3.120", True),
    ("gaia.12.3", "4.12.3", True),
    ("gaia.12.3", "gaia.12.4", False),
    ("gaia.12", "gaia.11", False),
    ("ori.09", "gaia.09", False),
])
def test_same_version_ignores_an_unknown_build(first, second, same):
    assert k2_version.same_version(first, second) is same
    assert k2_version.same_version(second, first) is same
