"""The fleet report core: rows, order, redaction, JSON and a self-contained, escaped HTML page."""

import json

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import fleet_report as fr

GO_SITE = {
    "site": "north", "customer": "acme", "reached_end": True,
    "started": "2025-02-12T21:00:00+00:00", "finished": "2025-02-12T21:00:04.5+00:00",
    "steps": {"preflight": {"go": True, "kind": "runnable", "version": "gaia.12.3", "target_version": "ori.09",
                            "upgrade_kind": "generation", "production_mandants": ["FIRMA"], "reasons": [], "notes": []}},
}
NO_GO_SITE = {
    "site": "south", "customer": "beta", "reached_end": True,
    "steps": {"preflight": {"go": False, "kind": "runnable", "version": "gaia.12.3", "target_version": "ori.09",
                            "upgrade_kind": "generation", "reasons": ["database south_FIRMA is at gaia.11.7"], "notes": []}},
}
UNREAD_SITE = {
    "site": "west", "reached_end": True,
    "steps": {"preflight": {"go": False, "kind": "unknown", "version": None, "target_version": "ori.09",
                            "reasons": ["K2 folder D:\\K2 does not exist on the K2 host"]}},
}


def statuses(report):
    return [(row["site"], row["status"]) for row in report["rows"]]


def test_failed_sites_come_first_then_no_go_then_the_rest():
    failed = {"site": "alpha", "reached_end": True, "failure": {"task": "Backup", "msg": "disk full"}, "steps": {}}
    report = fr.build_report([GO_SITE, NO_GO_SITE, failed, UNREAD_SITE], title="K2", generated_at="now")
    assert statuses(report) == [("alpha", "failed"), ("west", "failed"), ("south", "no-go"), ("north", "go")]
    assert report["summary"] == {"failed": 2, "no-go": 1, "changed": 0, "go": 1, "ok": 0}
    assert report["sites"] == 4


def test_go_row_carries_versions_kind_duration_and_next_step():
    row = fr.build_row(GO_SITE)
    assert row["version_from"] == "gaia.12.3" and row["version_to"] == "ori.09"
    assert row["upgrade_kind"] == "generation"
    assert row["duration_seconds"] == 4.5
    assert row["steps"] == [{"name": "preflight", "status": "ok"}]
    assert row["next"] == "Ready: reinstall to ori.09 (generation upgrade)"
    assert row["customer"] == "acme" and row["go"] is True


def test_a_site_the_preflight_could_not_read_is_failed_with_the_reason():
    row = fr.build_row(UNREAD_SITE)
    assert row["status"] == "failed"
    assert row["failure"] == "preflight: K2 folder D:\\K2 does not exist on the K2 host"
    assert "--limit west" in row["next"]


def test_a_host_that_dropped_out_of_the_run_is_failed():
    row = fr.build_row({"site": "east", "reached_end": False, "steps": {"preflight": GO_SITE["steps"]["preflight"]}})
    assert row["status"] == "failed"
    assert "stopped before the end" in row["failure"]


def test_a_site_without_any_result_is_failed():
    assert fr.build_row({"site": "ghost", "reached_end": True, "steps": {}})["status"] == "failed"


def test_registered_results_give_step_status_findings_manifest_and_changed():
    site = {"site": "s1", "reached_end": True, "steps": {
        "preflight": GO_SITE["steps"]["preflight"],
        "schema_check": {"changed": False, "findings": [{"kind": "missing_index"}, {"kind": "missing_index"}, {"kind": "type_mismatch"}]},
        "backup": {"changed": True, "backup_manifest": {"path": "/backup/s1.json", "databases": 4}},
        "extensions": {"skipped": True},
        "convert": {"changed": True, "findings": {"failed_batches": 0, "warnings": ["w1", "w2"]}},
    }}
    row = fr.build_row(site)
    assert row["status"] == "changed"
    assert row["findings"] == {"missing_index": 2, "type_mismatch": 1, "warnings": 2}
    assert row["backup_manifest"] == {"path": "/backup/s1.json", "databases": 4}
    assert [s["status"] for s in row["steps"]] == ["ok", "ok", "changed", "skipped", "changed"]


def test_a_failed_registered_step_fails_the_row_with_its_message():
    row = fr.build_row({"site": "s", "steps": {"convert": {"failed": True, "msg": "batch 3 of K2_C412.sql failed"}}})
    assert row["status"] == "failed"
    assert row["failure"] == "convert: batch 3 of K2_C412.sql failed"


def test_a_step_may_say_what_to_do_next():
    row = fr.build_row({"site": "s", "steps": {"reinstall": {"changed": True, "next": "Run K2 once as admin"}}})
    assert row["next"] == "Run K2 once as admin"


@pytest.mark.parametrize("started, finished", [(None, "2025-01-01T00:00:00+00:00"), ("garbage", "2025-01-01T00:00:00+00:00"),
                                               ("2025-01-01T00:00:00", "2025-01-01T00:00:01+00:00")])
def test_unknown_duration_is_none(started, finished):
    assert fr.duration_seconds(started, finished) is None


def test_secret_keys_and_secret_values_never_reach_the_row():
    site = {"site": "s", "reached_end": True, "steps": {
        "preflight": dict(GO_SITE["steps"]["preflight"], notes=["connect failed: DRIVER={x};PWD={se;cr}}et};UID=sa", "token: abc123"]),
        "backup": {"changed": True, "manifest": {"login_password": "hunter2", "api_key": "k", "Secret": "s", "path": "/b",
                                                 "missing_primary_key": 2}},
        "convert": {"msg": "logged in with Sup3rS3cret as sa"},
    }}
    row = fr.build_row(site, secrets=["Sup3rS3cret", "", "x"])
    text = json.dumps(row)
    for secret in ("hunter2", "se;cr}}et", "abc123", "Sup3rS3cret"):
        assert secret not in text
    assert row["backup_manifest"]["login_password"] == fr.REDACTED
    assert row["backup_manifest"]["api_key"] == fr.REDACTED
    assert row["backup_manifest"]["Secret"] == fr.REDACTED
    assert row["backup_manifest"]["path"] == "/b"
    assert row["backup_manifest"]["missing_primary_key"] == 2  # a finding kind, not a secret
    assert "PWD=********;UID=sa" in row["notes"][0]


def test_short_secret_values_do_not_mask_ordinary_text():
    assert fr.redact("site x", secrets=["x"]) == "site x"


def test_json_is_stable_and_parses():
    report = fr.build_report([GO_SITE, NO_GO_SITE], title="t", generated_at="2025-01-01T00:00:00+00:00", playbook="p")
    text = fr.to_json(report)
    assert json.loads(text) == json.loads(json.dumps(report))
    assert text == fr.to_json(report)


STALE_NOTE = "no verified backup in any manifest: back up first (K2-05, K2-13)"


# What the run state of a site looks like in k2_reinstall_result.state.
def state_site(site, steps, status="done", ban_off="2025-02-12T21:09:00+00:00", **extra):
    return {"site": site, "reached_end": True,
            "started": "2025-02-12T20:00:00+00:00", "finished": "2025-02-12T22:00:00+00:00",  # the play's times
            "steps": {"preflight": dict(GO_SITE["steps"]["preflight"], notes=[STALE_NOTE, "the web client is shared"]),
                      "reinstall": dict({"changed": True, "status": status, "state": {
                          "started": "2025-02-12T21:00:00+00:00", "finished": steps[-1]["ended"], "status": status,
                          "steps": steps,
                          "outage": {"ban_on": "2025-02-12T21:00:05+00:00", "ban_off": ban_off, "seconds": None}}}, **extra)}}


def step(name, start, end, result="ok", window="inside", msg=None):
    return {"name": name, "started": "2025-02-12T21:%s+00:00" % start, "ended": "2025-02-12T21:%s+00:00" % end,
            "result": result, "window": window, "msg": msg}


DONE_STEPS = [step("preflight", "00:00", "00:05", window="before"), step("maintenance_on", "00:05", "00:06"),
              step("backup", "00:06", "02:06"), step("install", "02:06", "08:00"), step("maintenance_off", "09:00", "09:01", window="after")]


def test_the_run_state_gives_the_sites_own_times_each_step_and_the_outage():
    row = fr.build_row(state_site("north", DONE_STEPS))
    assert row["started"] == "2025-02-12T21:00:00+00:00" and row["finished"] == "2025-02-12T21:09:01+00:00"
    assert row["duration_seconds"] == 541.0
    assert [(s["name"], s["status"], s["duration_seconds"]) for s in row["steps"]] == [
        ("preflight", "ok", 5.0), ("maintenance_on", "ok", 1.0), ("backup", "ok", 120.0), ("install", "ok", 354.0),
        ("maintenance_off", "ok", 1.0)]
    assert row["outage"] == {"ban_on": "2025-02-12T21:00:05+00:00", "ban_off": "2025-02-12T21:09:00+00:00", "seconds": 535.0, "still_on": False,
                             "windows": None, "mode": None}
    assert row["status"] == "changed"


def test_each_step_is_split_before_inside_and_after_the_outage_and_the_line_names_the_mode():
    steps = [step("preflight", "00:00", "00:03", window="before"), step("maintenance_on", "00:03", "00:06"),
             step("install", "00:06", "08:00"), step("maintenance_off", "08:59", "09:01")]
    site = state_site("north", steps)
    state = site["steps"]["reinstall"]["state"]
    state["decisions"] = {"outage_mode": "short"}
    state["outage"]["windows"] = {"before": 5.0, "inside": 535.0, "after": 1.0}
    row = fr.build_row(site)
    assert [s["split"] for s in row["steps"]] == [
        {"before": 3.0, "inside": 0.0, "after": 0.0}, {"before": 2.0, "inside": 1.0, "after": 0.0},
        {"before": 0.0, "inside": 474.0, "after": 0.0}, {"before": 0.0, "inside": 1.0, "after": 1.0}]
    assert row["outage"]["windows"] == {"before": 5.0, "inside": 535.0, "after": 1.0}
    assert "outage 8 min 55 s [short]" in row["summary_line"]


def test_sites_that_stopped_at_different_steps_have_different_durations():
    failed = state_site("south", DONE_STEPS[:3] + [step("install", "02:06", "02:30", result="failed", msg="disk full")],
                        status="failed", ban_off=None)
    row = fr.build_row(failed)
    assert row["status"] == "failed" and row["failure"] == "install: disk full"
    assert row["duration_seconds"] == 150.0 != fr.build_row(state_site("north", DONE_STEPS))["duration_seconds"]
    # the ban is still on at the end of the run: the outage runs to the site's end
    assert row["outage"]["still_on"] is True and row["outage"]["seconds"] == 145.0


def test_a_note_the_run_has_made_stale_is_left_out():
    row = fr.build_row(state_site("north", DONE_STEPS))
    assert row["notes"] == ["the web client is shared"]
    # without a finished backup the note stays
    before_backup = fr.build_row(state_site("north", DONE_STEPS[:2], status="failed"))
    assert any(n.startswith("no verified backup") for n in before_backup["notes"])


def test_without_a_run_state_the_reported_steps_and_the_plays_times_are_used():
    site = {"site": "gen", "reached_end": True, "started": "2025-02-12T21:00:00+00:00", "finished": "2025-02-12T21:00:30+00:00",
            "steps": {"preflight": dict(GO_SITE["steps"]["preflight"], notes=["no verified backup in x: back up first"]),
                      "reinstall": {"changed": True, "status": "done", "mode": "takeover", "steps_run": ["backup", "install"]}}}
    row = fr.build_row(site)
    assert row["duration_seconds"] == 30.0 and row["outage"] is None and row["mode"] == "takeover"
    assert [s["name"] for s in row["steps"]] == ["preflight", "reinstall", "backup", "install"]
    assert row["notes"] == []


def test_a_no_go_result_makes_the_row_no_go_and_the_summary_line_says_each_thing_once():
    site = {"site": "far", "reached_end": True,
            "steps": {"preflight": dict(NO_GO_SITE["steps"]["preflight"], reasons=["install gaia.13 first (K2-10)"]),
                      "reinstall": {"changed": False, "skipped": True, "status": "no-go", "msg": "no-go: install gaia.13 first (K2-10)"}}}
    row = fr.build_row(site)
    assert row["status"] == "no-go"
    line = row["summary_line"]
    assert line.count("install gaia.13 first") == 1 and line.lower().count("no-go") == 1
    assert line.startswith("far          NO-GO   gaia.12.3 -> ori.09 (generation); install gaia.13 first (K2-10) NEXT: ")


def test_a_failure_is_said_once_even_when_the_play_repeats_the_step_and_its_advice():
    result = {"failed": True, "status": "failed", "step": "Unpack the release", "msg": "archive missing",
              "next": "Fix the cause and run the reinstall again; it continues at this step."}
    site = {"site": "gen", "reached_end": True, "steps": {"preflight": GO_SITE["steps"]["preflight"], "reinstall": result},
            "failure": {"task": "Stop the site", "msg": "Unpack the release: archive missing -- " + result["next"]}}
    row = fr.build_row(site)
    assert row["failure"] == "Unpack the release: archive missing"
    line = row["summary_line"]
    assert line.count("archive missing") == 1 and line.count("continues at this step") == 1
    assert "Stop the site" not in line


def test_merge_of_slices_sorts_and_counts_again_and_keeps_the_newest_row_of_a_site():
    one = fr.build_report([GO_SITE, NO_GO_SITE], title="K2 reinstall", generated_at="2025-02-12T21:00:00+00:00", playbook="p")
    again = dict(GO_SITE, failure={"task": "x", "msg": "boom"})
    two = fr.build_report([again, UNREAD_SITE], title="K2 reinstall", generated_at="2025-02-12T21:05:00+00:00", playbook="p")
    merged = fr.merge_reports([two, one], title=None, generated_at="later")
    assert statuses(merged) == [("west", "failed"), ("north", "failed"), ("south", "no-go")]
    assert merged["summary"]["failed"] == 2 and merged["sites"] == 3 and merged["title"] == "K2 reinstall"
    assert [p["sites"] for p in merged["parts"]] == [2, 2]
    with pytest.raises(fr.MergeError):
        fr.merge_reports([{"title": "x"}], title=None, generated_at="now")
    with pytest.raises(fr.MergeError):
        fr.merge_reports([], title=None, generated_at="now")


@pytest.mark.parametrize("path, short", [
    ("/var/lib/erpops/state/k2_reinstall/north-backups.json", "\u2026/k2_reinstall/north-backups.json"),
    ("D:\\Backups\\K2\\customers\\acme-production\\north\\K2_CONF.bak", "\u2026\\north\\K2_CONF.bak"),
    ("/short/path.json", "/short/path.json"),
    (None, ""),
])
def test_short_path_keeps_the_end(path, short):
    assert fr.short_path(path) == short


@pytest.mark.parametrize("seconds, text", [(None, ""), (4.46, "4.5 s"), (125, "2 min 05 s"), (3725, "1 h 02 min")])
def test_format_duration(seconds, text):
    assert fr.format_duration(seconds) == text
