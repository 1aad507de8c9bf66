# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""outage.measure: the outage and the steps' time before, inside and after it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.erpops.upgrade.plugins.module_utils import outage

T0 = datetime(2025, 3, 5, 17, 0, tzinfo=timezone.utc)


def at(seconds):
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def step(name, start, end, window="inside", result="ok"):
    return {"name": name, "started": at(start), "ended": None if end is None else at(end), "result": result, "window": window}


RUN = [
    step("preflight", 0, 20, "before"),
    step("structure_check", 20, 80, "before"),
    step("maintenance_on", 80, 90),
    step("backup", 90, 150),
    step("install", 150, 300),
    step("conversions", 300, 420),
    step("maintenance_off", 420, 425),
    step("fleet_report", 425, 430, "after"),
]


def test_a_whole_run_outage_and_per_window_sums():
    measured = outage.measure(RUN, at(90), at(425))
    assert measured["outage_seconds"] == 335 and measured["open"] is False
    # maintenance_on runs before the ban is in force (it sets it): its 10 s count before the outage
    assert measured["windows"] == {"before": 90.0, "inside": 335.0, "after": 5.0}
    assert measured["declared"] == {"before": 80.0, "inside": 345.0, "after": 5.0}
    assert measured["misplaced"] == [{"name": "maintenance_on", "window": "inside", "seconds_outside": 10.0}]
    assert [(s["name"], s["seconds"]) for s in measured["steps"]][:3] == [("preflight", 20.0), ("structure_check", 60.0), ("maintenance_on", 10.0)]


def test_a_step_that_spans_the_ban_is_split_at_its_start():
    measured = outage.measure([step("backup", 60, 120, "before")], at(100), at(500))
    assert measured["windows"] == {"before": 40.0, "inside": 20.0, "after": 0.0}
    assert measured["steps"][0]["before"] == 40.0 and measured["steps"][0]["inside"] == 20.0
    assert measured["misplaced"] == [{"name": "backup", "window": "before", "seconds_outside": 20.0}]


def test_an_open_outage_counts_up_to_now_and_unfinished_steps_too():
    steps = [step("maintenance_on", 0, 5), step("install", 5, None, result="started")]
    measured = outage.measure(steps, at(5), None, now=at(65))
    assert measured["open"] is True and measured["outage_seconds"] == 60
    assert measured["unfinished"] == ["install"] and measured["windows"]["inside"] == 60.0
    without_now = outage.measure(steps, at(5), None)
    assert without_now["outage_seconds"] is None and without_now["windows"] == {"before": 5.0, "inside": 0.0, "after": 0.0}


def test_no_ban_yet_everything_is_before_and_retries_add_up():
    steps = [step("backup", 0, 30, result="failed"), step("backup", 40, 100)]
    measured = outage.measure(steps, None, None)
    assert measured["outage_seconds"] is None and measured["open"] is False
    assert measured["windows"] == {"before": 90.0, "inside": 0.0, "after": 0.0}
    assert [s["result"] for s in measured["steps"]] == ["failed", "ok"]


def test_times_as_datetimes_and_offsets_are_the_same_instants():
    prague = timezone(timedelta(hours=1))
    steps = [{"name": "install", "started": T0.astimezone(prague), "ended": "2025-03-05T18:10:00+01:00", "result": "ok", "window": "inside"}]
    assert outage.measure(steps, T0, "2025-03-05T17:20:00Z")["windows"]["inside"] == 600.0


@pytest.mark.parametrize("steps,ban_on,ban_off,message", [
    ([], at(10), at(5), "lifted"),
    ([step("install", 10, 5)], None, None, "ended"),
    ([dict(step("install", 0, 5), window="during")], None, None, "window"),
    ([{"name": "x", "started": "2025-03-05T17:00:00", "ended": None, "window": "inside"}], None, None, "no time zone"),
])
def test_impossible_input_is_refused(steps, ban_on, ban_off, message):
    with pytest.raises(ValueError, match=message):
        outage.measure(steps, ban_on, ban_off)


intervals = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3_000), st.sampled_from(outage.WINDOWS)), max_size=12)


@settings(max_examples=200, deadline=None, database=None)
@given(intervals, st.integers(0, 10_000), st.integers(0, 10_000))
def test_the_windows_split_each_steps_time_without_losing_or_adding_any(spans, on, length):
    steps = [step("s%d" % i, start, start + duration, window) for i, (start, duration, window) in enumerate(spans)]
    measured = outage.measure(steps, at(on), at(on + length))
    total = sum(duration for _start, duration, _window in spans)
    assert sum(measured["windows"].values()) == pytest.approx(total, abs=0.01)
    assert sum(measured["declared"].values()) == pytest.approx(total, abs=0.01)
    assert measured["outage_seconds"] == length
    assert all(value >= 0 for value in measured["windows"].values())
    assert measured["windows"]["inside"] <= len(spans) * length + 0.01
