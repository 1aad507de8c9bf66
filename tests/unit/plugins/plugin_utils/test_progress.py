"""Progress lines: a step that lasts says when it started and when it ended; a short one says nothing."""

import re
import time

import pytest

from ansible_collections.erpops.upgrade.plugins.plugin_utils.progress import Progress, seconds_text


def progress(threshold):
    lines = []
    return Progress("north", "structure check", threshold=threshold, say=lines.append), lines


def test_a_step_shorter_than_the_threshold_prints_nothing():
    steps, lines = progress(0.5)
    with steps.step("database north_FIRMA") as step:
        step.detail = "0 finding(s)"
    assert lines == []


def test_a_long_step_prints_its_start_while_it_runs_and_its_end_with_the_time_it_took():
    steps, lines = progress(0.05)
    with steps.step("database north_FIRMA") as step:
        deadline = time.monotonic() + 2
        while not lines and time.monotonic() < deadline:
            time.sleep(0.01)
        seen_while_running = list(lines)
        step.detail = "3 finding(s)"
    assert len(seen_while_running) == 1
    assert re.fullmatch(r"\[north\] structure check: database north_FIRMA started at \d\d:\d\d:\d\d UTC", seen_while_running[0])
    assert re.fullmatch(r"\[north\] structure check: database north_FIRMA done at \d\d:\d\d:\d\d UTC after \d+\.\d s; 3 finding\(s\)",
                        lines[1])


def test_a_long_step_that_fails_says_so():
    steps, lines = progress(0)
    with pytest.raises(RuntimeError):
        with steps.step("K2 start 1"):
            time.sleep(0.05)
            raise RuntimeError("connection lost")
    assert "K2 start 1 failed (connection lost) at" in lines[-1]


@pytest.mark.parametrize("seconds, text", [(0.04, "0.0 s"), (59.94, "59.9 s"), (61, "1 min 01 s")])
def test_seconds_text(seconds, text):
    assert seconds_text(seconds) == text
