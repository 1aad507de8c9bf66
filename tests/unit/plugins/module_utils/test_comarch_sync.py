# -*- coding: utf-8 -*-
"""The judgements of comarch_sync: every reason of CM-02, the stages of CM-03..CM-05, the decision of CM-06."""

from datetime import datetime, timedelta

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_sync as cs
from ansible_collections.erpops.upgrade.plugins.module_utils.comarch_profile import merge_profile

P = merge_profile()
NOW = datetime(2025, 3, 10, 12, 0, 0)
DIFF, FULL, NOTE = "HRM_ROZNICOWA", "HRM_PELNA", "WERSJA"
OPEN = {"url": "https://firma.hrm.example/", "open": True, "detail": "HTTP 200"}
LOCKED = {"url": "https://firma.hrm.example/", "open": False, "detail": "HTTP 503 Service Unavailable"}


def schedule(differential=True, full=False, interval=900):
    return [{"id": 1, "operation": DIFF, "enabled": int(differential), "interval_seconds": interval, "next_run": None},
            {"id": 2, "operation": FULL, "enabled": int(full), "interval_seconds": 0, "next_run": None}]


def row(row_id, operation, status="OK", ago=60, pending=0, version="2024.5.1", message=None, finished=True):
    at = NOW - timedelta(seconds=ago)
    return {"id": row_id, "operation": operation, "started": at - timedelta(seconds=5), "finished": at if finished else None,
            "status": status, "pending": pending, "program_version": version, "message": message}


def codes(verdict):
    return [r["code"] for r in verdict["reasons"]]


def before(service="running", sched=None, history=None, tolerance=600):
    return cs.judge_before_update(service, schedule() if sched is None else sched,
                                  [row(5, DIFF)] if history is None else history, NOW, P, tolerance)


def test_a_healthy_site_may_update_and_the_facts_say_why():
    verdict = before()
    assert verdict["passed"] and verdict["reasons"] == []
    f = verdict["facts"]
    assert f["service_state"] == "running"
    assert f["schedule"]["differential"] == {"enabled": True, "interval_seconds": 900, "next_run": None}
    assert f["last_successful_differential"]["finished"] == "2025-03-10 11:59:00"
    assert f["now"] == "2025-03-10 12:00:00"


@pytest.mark.parametrize("service, code", [("stopped", "service_not_running"), ("missing", "service_missing"),
                                           ("start_pending", "service_not_running")])
def test_the_service_must_be_installed_and_running(service, code):
    verdict = before(service=service)
    assert codes(verdict) == [code]
    assert service in verdict["reasons"][0]["message"] or service == "missing"


def test_differential_syncs_off_or_missing_in_the_schedule():
    assert codes(before(sched=schedule(differential=False))) == ["differential_sync_off"]
    verdict = before(sched=[s for s in schedule() if s["operation"] != DIFF])
    assert "differential_sync_off" in codes(verdict) and "missing" in verdict["reasons"][0]["message"]


def test_the_last_differential_must_be_within_interval_plus_tolerance():
    assert before(history=[row(5, DIFF, ago=900 + 600)])["passed"]
    verdict = before(history=[row(5, DIFF, ago=900 + 601)])
    assert codes(verdict) == ["differential_sync_stale"]
    assert "1501 s ago" in verdict["reasons"][0]["message"]
    assert codes(before(history=[row(5, DIFF, ago=20)], sched=schedule(interval=2), tolerance=10)) == ["differential_sync_stale"]


def test_no_successful_differential_at_all():
    verdict = before(history=[row(5, DIFF, status="BLAD", message="timeout")])
    assert codes(verdict) == ["no_successful_differential_sync", "failed_sync_since"]
    assert "none succeeded" in verdict["reasons"][1]["message"]


def test_failures_since_the_last_success_count_older_ones_do_not():
    verdict = before(history=[row(7, DIFF, "BLAD", ago=10, message="HRM refused"), row(6, DIFF, ago=30), row(5, DIFF, "BLAD", ago=50)])
    assert codes(verdict) == ["failed_sync_since"]
    assert "1 HRM sync(s) failed" in verdict["reasons"][0]["message"] and "HRM refused" in verdict["reasons"][0]["message"]
    assert before(history=[row(7, DIFF, ago=10), row(6, DIFF, "BLAD", ago=30)])["passed"]


def test_pending_hrm_changes_of_the_newest_finished_sync():
    verdict = before(history=[row(5, DIFF, pending=4)])
    assert codes(verdict) == ["hrm_changes_pending"]
    assert "4 change(s)" in verdict["reasons"][0]["message"] and "deleted" in verdict["reasons"][0]["remedy"]
    assert before(history=[row(6, DIFF, ago=10), row(5, DIFF, pending=4, ago=30)])["passed"]


def test_every_reason_is_named_at_once_with_what_to_do():
    verdict = before(service="stopped", sched=schedule(differential=False), history=[row(5, DIFF, "BLAD", pending=2)])
    assert codes(verdict) == ["service_not_running", "differential_sync_off", "no_successful_differential_sync", "failed_sync_since",
                              "hrm_changes_pending"]
    message = cs.failure_message("before_update", verdict["reasons"])
    assert message.startswith("Do not update Comarch ERP yet: ")
    assert all(r["remedy"] in message for r in verdict["reasons"])


def test_unknown_operations_and_statuses_are_ignored_or_named():
    verdict = before(history=[row(9, "INNA", "BLAD"), row(5, DIFF)])
    assert verdict["passed"]
    assert cs.facts("running", schedule(), [row(5, DIFF, status="??")], NOW, P)["last_differential"]["status"] == "unknown"


def after(db_version="2025.5000", service="running", sched=None, history=None, domain=None):
    return cs.judge_after_update(service, db_version, "2025.5000", "2025.3.0", schedule(False, True) if sched is None else sched,
                                 [] if history is None else history, OPEN if domain is None else domain, NOW, P)


def stages(verdict):
    return {s["name"]: s["passed"] for s in verdict["stages"]}


def test_after_update_complete():
    history = [row(12, DIFF, ago=5, version="2025.3.0"), row(11, FULL, ago=30, version="2025.3.0"), row(10, NOTE, ago=300, version="2025.3.0")]
    verdict = after(sched=schedule(True, False), history=history)
    assert verdict["passed"] and not verdict["final"]
    assert list(stages(verdict)) == list(cs.STAGES) and all(stages(verdict).values())
    by_name = {s["name"]: s for s in verdict["stages"]}
    assert by_name["full_sync_completed"]["at"] == "2025-03-10 11:59:30"
    assert by_name["service_reported_version"]["at"] == "2025-03-10 11:55:00"
    assert verdict["facts"]["expected_database_version"] == "2025.5000"


def test_after_update_waiting_for_the_full_sync_and_the_domain():
    history = [row(11, FULL, "TRWA", ago=10, version="2025.3.0", finished=False), row(10, NOTE, ago=60, version="2025.3.0")]
    verdict = after(history=history, domain=LOCKED)
    assert not verdict["passed"] and not verdict["final"]
    assert codes(verdict) == ["full_sync_not_completed", "domain_locked"]
    assert stages(verdict) == {"database_converted": True, "service_reported_version": True, "full_sync_scheduled": True,
                               "full_sync_completed": False, "domain_open": False}
    assert "running" in verdict["stages"][3]["detail"]


def test_a_failed_full_sync_is_final():
    history = [row(11, FULL, "BLAD", ago=10, version="2025.3.0", message="HRM rejected"), row(10, NOTE, ago=60, version="2025.3.0")]
    verdict = after(history=history, domain=LOCKED)
    assert verdict["final"] and "full_sync_failed" in codes(verdict)
    assert "HRM rejected" in cs.failure_message("after_update", verdict["reasons"])


def test_not_converted_and_version_not_reported():
    verdict = after(db_version="2024.5100", sched=schedule(True, False), history=[row(5, NOTE, version="2024.5.1"), row(6, DIFF)])
    assert codes(verdict)[:3] == ["database_not_converted", "service_not_reported_version", "full_sync_not_scheduled"]
    assert "conversion wizard" in verdict["reasons"][0]["remedy"]
    # a full sync from before the version report does not count
    old_full = [row(4, FULL, ago=600, version="2024.5.1")]
    assert not stages(after(history=old_full))["full_sync_completed"]


def test_a_stopped_service_after_the_update():
    verdict = after(service="stopped", history=[row(10, NOTE, version="2025.3.0")])
    assert "service_not_running" in codes(verdict) and not stages(verdict)["service_reported_version"]


def test_differential_still_on_right_after_the_update_is_not_scheduled():
    verdict = after(sched=schedule(True, True), history=[row(10, NOTE, version="2025.3.0")])
    assert "full_sync_not_scheduled" in codes(verdict)


def cm06(schedules, sync_database=None):
    return cs.judge_after_restore(schedules, sync_database, P)


def test_after_restore_refuses_to_guess():
    verdict = cm06({"A": schedule(False), "B": schedule(False), "C": None, "D": []})
    assert codes(verdict) == ["syncs_switched_off"] and verdict["configured"] == ["A", "B"] and verdict["enable"] is None
    assert "A, B" in verdict["reasons"][0]["message"] and "sync_database" in verdict["reasons"][0]["remedy"]
    one = cm06({"A": schedule(False)})
    assert codes(one) == ["syncs_switched_off"] and one["enable"] is None


def test_after_restore_names_the_database_to_enable_only_when_safe():
    assert cm06({"A": schedule(False), "B": schedule(False)}, "A")["enable"] == "A"
    done = cm06({"A": schedule(True), "B": schedule(False)}, "A")
    assert done["passed"] and done["enable"] is None
    assert codes(cm06({"A": schedule(False), "B": schedule(True)}, "A")) == ["another_database_syncs"]
    assert codes(cm06({"A": schedule(False), "C": None}, "C")) == ["sync_database_not_configured"]
    assert codes(cm06({"A": schedule(False)}, "Z")) == ["sync_database_not_configured"]


def test_after_restore_without_a_choice():
    assert cm06({"A": schedule(True), "B": schedule(False)})["passed"]
    assert codes(cm06({"A": schedule(True), "B": schedule(True)})) == ["several_databases_sync"]
    assert codes(cm06({"C": None})) == ["no_database_configured"]
    # a pending full sync counts as syncing
    assert cm06({"A": schedule(False, True)})["syncing"] == ["A"]


def test_schedule_flags_from_any_driver_shape():
    rows = [{"operation": DIFF, "enabled": "Y", "interval_seconds": 300}, {"operation": DIFF, "enabled": 0, "interval_seconds": 60},
            {"operation": FULL, "enabled": False, "interval_seconds": None}]
    state = cs.schedule_state(rows, P)
    assert state["differential"] == {"enabled": True, "interval_seconds": 60, "next_run": None}
    assert state["full"]["enabled"] is False


def test_poll_line_names_the_stage_reached_what_it_waits_for_and_the_time():
    stages = [{"name": "database_converted", "passed": True, "detail": "ok"},
              {"name": "service_reported_version", "passed": True, "detail": "ok"},
              {"name": "full_sync_scheduled", "passed": True, "detail": "differential off, full on"},
              {"name": "full_sync_completed", "passed": False, "detail": "full sync running (started 2025-03-05 17:00:00)"},
              {"name": "domain_open", "passed": True, "detail": "HTTP 200"}]
    line = cs.poll_line(stages, 12.7, 7200)
    assert line == ("stage reached: full_sync_scheduled (4 of 5); waiting for full_sync_completed (full sync running "
                    "(started 2025-03-05 17:00:00)); 12s elapsed of 7200s")
    assert cs.poll_line([dict(s, passed=True) for s in stages], 3, 60).startswith("stage reached: domain_open (5 of 5); all stages")
    assert cs.poll_line([dict(s, passed=False) for s in stages], 0, 60).startswith(
        "stage reached: none (0 of 5); waiting for database_converted")
