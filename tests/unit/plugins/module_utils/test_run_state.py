"""The reinstall's decisions (module_utils.run_state): plan, steps, takeover, go/no-go, gates, advice, lock verdict."""

import json
import shlex
from datetime import datetime, timedelta, timezone

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import run_state as rs

NOW = datetime(2026, 11, 30, 2, 15, 0, tzinfo=timezone.utc)
CONTROLLER = {"host": "awx-ee-1", "user": "runner", "awx_job_id": "412"}


def running(target="ori.09", steps=(), kind="generation"):
    state = rs.start_run(rs.empty_state("gen"), "gen", "gen-ori.09-x", target, CONTROLLER, NOW)
    state["decisions"]["upgrade_kind"] = kind
    for name in steps:
        state = rs.record_step(state, name, "ok", NOW)
    return state


# -- run ids and paths -----------------------------------------------------------
def test_run_ids_of_the_same_second_differ():
    first, second = rs.new_run_id("gen", "ori.09", NOW), rs.new_run_id("gen", "ori.09", NOW)
    assert first != second
    assert first.startswith("gen-ori.09-20261130T021500Z-") and len(first.rsplit("-", 1)[1]) == 8


@pytest.mark.parametrize("folder, windows, expected", [
    ("D:\\K2", True, "D:\\K2.erpops-run.json"),
    ("D:\\Apps\\K2\\", True, "D:\\Apps\\K2.erpops-run.json"),
    ("/srv/lab/gen/K2", False, "/srv/lab/gen/K2.erpops-run.json"),
    ("/srv/lab/gen/K2/", False, "/srv/lab/gen/K2.erpops-run.json"),
])
def test_state_file_is_beside_the_folder(folder, windows, expected):
    assert rs.state_path_for(folder, windows) == expected


@pytest.mark.parametrize("folder, windows", [("D:\\", True), ("/", False)])
def test_a_root_folder_needs_an_explicit_state_path(folder, windows):
    with pytest.raises(rs.RunStateError, match="root"):
        rs.state_path_for(folder, windows)


# -- loading -----------------------------------------------------------------------
def test_no_file_is_an_empty_state():
    assert rs.load_state(None, "gen") == rs.empty_state("gen")
    assert rs.load_state("  \n", "gen")["run_id"] is None


@pytest.mark.parametrize("text, match", [("{", "not valid JSON"), ('{"schema": 9}', "schema 9"),
                                         ('{"schema": 1, "site": "other"}', "belongs to site 'other'")])
def test_a_bad_state_is_refused(text, match):
    with pytest.raises(rs.RunStateError, match=match):
        rs.load_state(text, "gen")


def test_dump_and_load_round_trip():
    state = running(steps=["preflight"])
    assert rs.load_state(rs.dump_state(state), "gen") == state


# -- plan --------------------------------------------------------------------------
def test_plan_first_run_is_new():
    assert rs.plan_run(rs.empty_state("gen"), "ori.09")["action"] == "new"


def test_plan_resumes_an_unfinished_run_of_the_same_target_at_the_first_unfinished_step():
    state = running(steps=["preflight", "structure_check", "stage", "disk", "maintenance_on", "backup"])
    state = rs.record_step(state, "gates", "started", NOW)
    plan = rs.plan_run(state, "ori.09")
    assert plan == {"action": "resume", "why": "resumes run gen-ori.09-x (running to ori.09) at the step gates"}


def test_plan_refuses_an_unfinished_run_of_another_target():
    state = rs.finish(running(steps=["preflight"]), rs.FAILED, NOW)
    plan = rs.plan_run(state, "ori.10")
    assert plan["action"] == "refuse" and "k2_target_version=ori.09" in plan["why"] and "k2_restore.yml" in plan["why"]


def test_plan_after_success_is_done_for_the_same_target_and_new_for_another():
    state = rs.finish(running(steps=rs.STEP_NAMES), rs.DONE, NOW)
    assert rs.plan_run(state, "ori.09")["action"] == "done"
    assert rs.plan_run(state, "ori.10")["action"] == "new"


def test_plan_after_a_restore_starts_afresh_and_says_why():
    state = rs.record_restore(running(steps=["preflight", "maintenance_on", "backup"]), "gen-ori.09-x", ["gen_CONF"], NOW,
                              "restore-1", CONTROLLER)
    plan = rs.plan_run(state, "ori.09")
    assert plan["action"] == "new"
    assert "restored at 2026-11-30T02:15:00Z from the backups of run gen-ori.09-x" in plan["why"]


def test_plan_after_no_go_is_new():
    assert rs.plan_run(rs.finish(running(steps=["preflight"]), rs.NO_GO, NOW), "ori.09")["action"] == "new"


def test_a_new_run_keeps_backups_restores_and_a_history_of_the_last():
    old = rs.finish(running(steps=rs.STEP_NAMES), rs.DONE, NOW)
    old["backups"] = [{"database": "gen_CONF", "file": "a", "taken_at": "t", "verified": True, "run_id": "gen-ori.09-x"}]
    new = rs.start_run(old, "gen", "gen-ori.10-y", "ori.10", CONTROLLER, NOW, "the last run finished")
    assert new["backups"] == old["backups"] and new["steps"] == [] and new["status"] == rs.RUNNING
    assert new["history"][-1]["run_id"] == "gen-ori.09-x" and new["history"][-1]["status"] == "done"
    assert new["history"][-1]["steps_ok"] == list(rs.STEP_NAMES)
    assert new["events"][0]["msg"] == "the last run finished"


def test_history_is_bounded():
    state = rs.empty_state("gen")
    for number in range(rs.HISTORY_LENGTH + 5):
        state = rs.finish(rs.start_run(state, "gen", "run-%d" % number, "ori.09", CONTROLLER, NOW), rs.NO_GO, NOW)
    assert len(state["history"]) == rs.HISTORY_LENGTH and state["history"][-1]["run_id"] == "run-%d" % (rs.HISTORY_LENGTH + 3)


# -- steps ---------------------------------------------------------------------------
def test_next_step_and_pending_follow_the_seed_order():
    state = running(steps=["preflight", "structure_check", "stage", "disk", "maintenance_on"])
    assert rs.next_step(state) == "backup"
    assert rs.pending_steps(state)[:2] == ["backup", "gates"]
    assert rs.next_step(running(steps=rs.STEP_NAMES)) is None


def test_the_open_step_is_the_last_started_and_not_ended_a_prestarted_one_too():
    state = running(steps=["preflight"])
    assert rs.open_step(state) is None
    state = rs.record_step(state, "structure_check", "started", NOW)
    assert rs.open_step(state) == "structure_check"
    state = rs.record_step(state, "structure_check", "ok", NOW, start_next=True)
    assert state["steps"][-1]["prestarted"] and rs.open_step(state) == "stage"
    state = rs.record_step(state, "stage", "failed", NOW)
    assert rs.open_step(state) is None


def conservative(steps=()):
    state = running()
    state["decisions"].update(outage_mode="conservative", go=True)
    for name in steps:
        state = rs.record_step(state, name, "ok", NOW)
    return state


def test_short_mode_checks_and_stages_before_the_ban_conservative_mode_inside():
    assert rs.step_names("short")[:5] == ("preflight", "structure_check", "stage", "disk", "maintenance_on")
    assert [name for name in rs.step_names("short") if rs.window_of(name, "short") == "before"] == [
        "preflight", "structure_check", "stage", "disk"]
    assert [name for name in rs.step_names("conservative") if rs.window_of(name, "conservative") == "before"] == ["preflight"]
    names = rs.step_names("conservative")
    assert names.index("maintenance_on") < names.index("structure_check") < names.index("structure")
    assert names.index("stage") == names.index("install") - 1
    assert sorted(rs.step_names("short")) == sorted(names) == sorted(rs.STEP_NAMES)


def test_the_run_keeps_its_mode_in_order_and_windows():
    state = conservative(steps=["preflight"])
    assert rs.next_step(state) == "maintenance_on"
    assert rs.pending_steps(state)[-6:] == ["stage", "install", "conversions", "extensions", "post_checks", "maintenance_off"]
    state = rs.record_step(state, "structure_check", "skipped", NOW)
    assert state["steps"][-1]["window"] == "inside"
    assert rs.record_step(running(), "structure_check", "ok", NOW)["steps"][-1]["window"] == "before"


def test_a_run_decided_before_the_modes_existed_resumes_in_the_old_order():
    state = running(steps=["preflight", "maintenance_on"])
    state["decisions"]["go"] = True  # decided, no outage_mode recorded
    assert rs.outage_mode(state) == "conservative" and rs.next_step(state) == "backup"


def test_the_outage_mode_is_checked():
    assert rs.run_decisions({"go": True, "kind": "runnable"}, "copy", "auto", False, "Conservative")["outage_mode"] == "conservative"
    assert rs.run_decisions({"go": True, "kind": "runnable"}, "copy", "auto", False)["outage_mode"] == "short"
    with pytest.raises(rs.RunStateError, match="short, conservative"):
        rs.run_decisions({"go": True}, "copy", "auto", False, "fast")


def test_the_new_structure_is_checked_before_the_lift_for_a_torso_and_in_conservative_mode_after_it_otherwise():
    runnable, torso = {"go": True, "kind": "runnable"}, {"go": True, "kind": "torso"}
    assert rs.run_decisions(runnable, "copy", "auto", False)["structure_after_install"] == "after_lift"
    assert rs.run_decisions(torso, "copy", "auto", False)["structure_after_install"] == "before_lift"
    assert rs.run_decisions(runnable, "copy", "auto", False, "conservative")["structure_after_install"] == "before_lift"
    assert rs.run_decisions(torso, "installer", "auto", False, "conservative")["structure_after_install"] == "before_lift"


def test_a_skipped_step_counts_as_done():
    state = rs.record_step(running(steps=["preflight", "structure_check", "stage", "disk", "maintenance_on", "backup", "gates"]), "structure",
                           "skipped", NOW)
    assert rs.next_step(state) == "backup_after_check"


def test_a_step_attempt_is_one_entry_from_start_to_end():
    state = rs.record_step(running(), "preflight", "started", NOW)
    state = rs.record_step(state, "preflight", "started", NOW + timedelta(seconds=1))
    state = rs.record_step(state, "preflight", "ok", NOW + timedelta(seconds=5), msg="go")
    assert state["steps"] == [{"name": "preflight", "started": "2026-11-30T02:15:00.000Z", "ended": "2026-11-30T02:15:05.000Z",
                               "result": "ok", "msg": "go", "window": "before"}]


def test_step_times_and_the_outage_keep_milliseconds():
    state = rs.record_step(running(), "maintenance_on", "started", NOW + timedelta(milliseconds=250))
    state = rs.record_step(state, "maintenance_on", "ok", NOW + timedelta(seconds=1, milliseconds=900),
                           extra={"ban_in_force_at": "2026-11-30T02:15:00.600Z"})
    state = rs.record_step(state, "maintenance_off", "started", NOW + timedelta(seconds=2, milliseconds=100))
    state = rs.record_step(state, "maintenance_off", "ok", NOW + timedelta(seconds=3, milliseconds=400))
    assert state["steps"][0]["started"] == "2026-11-30T02:15:00.250Z" and state["steps"][-1]["ended"] == "2026-11-30T02:15:03.400Z"
    assert state["outage"]["ban_on"] == "2026-11-30T02:15:00.600Z" and state["outage"]["seconds"] == 2.8
    assert [step["seconds"] for step in state["outage"]["steps"]] == [1.65, 1.3]


def test_a_state_written_with_whole_seconds_is_still_measured():
    saved = rs.load_state(json.dumps(dict(running(), steps=[
        {"name": "maintenance_on", "started": "2026-11-30T02:15:00Z", "ended": "2026-11-30T02:15:04Z", "result": "ok", "window": "inside"}],
        outage={"ban_on": "2026-11-30T02:15:00Z", "ban_off": None, "seconds": None})), "gen")
    state = rs.record_step(saved, "maintenance_off", "started", NOW + timedelta(seconds=9, milliseconds=500))
    state = rs.record_step(state, "maintenance_off", "ok", NOW + timedelta(seconds=10, milliseconds=500))
    assert state["outage"]["seconds"] == 10.5 and [step["seconds"] for step in state["outage"]["steps"]] == [4.0, 1.0]


def test_the_end_of_a_step_records_the_start_of_a_check_step_after_it():
    state = rs.record_step(running(steps=["preflight", "structure_check", "stage", "disk", "maintenance_on"]), "backup", "started", NOW)
    state = rs.record_step(state, "backup", "ok", NOW + timedelta(seconds=20), start_next=True)
    assert state["steps"][-1] == {"name": "gates", "started": "2026-11-30T02:15:20.000Z", "ended": None, "result": "started", "msg": None,
                                  "window": "inside", "prestarted": True}
    assert rs.next_step(state) == "gates"
    state = rs.record_step(state, "gates", "ok", NOW + timedelta(seconds=21), start_next=True)
    assert [(step["name"], step["result"]) for step in state["steps"][-3:]] == [("backup", "ok"), ("gates", "ok"), ("structure", "started")]
    assert "prestarted" not in state["steps"][-2] and state["steps"][-2]["started"] == "2026-11-30T02:15:20.000Z"


BEFORE_THE_BAN = ["preflight", "structure_check", "stage", "disk"]


@pytest.mark.parametrize("done, following", [(BEFORE_THE_BAN, "maintenance_on"), (BEFORE_THE_BAN + ["maintenance_on"], "backup"),
                                             (BEFORE_THE_BAN + ["maintenance_on", "backup", "gates", "structure", "backup_after_check"],
                                              "install"),
                                             (BEFORE_THE_BAN + ["maintenance_on", "backup", "gates", "structure", "backup_after_check",
                                                                "install"], "conversions")])
def test_the_ban_the_backup_the_install_and_the_conversions_record_their_own_start(done, following):
    state = rs.record_step(running(steps=done[:-1]), done[-1], "ok", NOW, start_next=True)
    assert state["steps"][-1]["name"] == done[-1] and rs.next_step(state) == following
    assert state["one_time_started"] is False


def test_the_end_of_the_structure_step_records_the_second_backup_skipped_when_it_changed_no_database():
    done = ["preflight", "structure_check", "stage", "disk", "maintenance_on", "backup", "gates"]

    def short():
        state = running(steps=done)
        state["decisions"].update(outage_mode="short", go=True)
        state["backups"] = [{"database": name, "position": "before_check", "run_id": state["run_id"], "verified": True,
                             "file": name + ".dump", "taken_at": "2026-11-30T02:20:00+00:00"} for name in ("K2_CONF", "K2_FIRMA")]
        return state

    state = rs.record_step(short(), "structure", "ok", NOW, extra={"structure_changed": []}, start_next=True)
    assert [(step["name"], step["result"]) for step in state["steps"][-2:]] == [("structure", "ok"), ("backup_after_check", "skipped")]
    assert "changed no database" in state["steps"][-1]["msg"]
    # the install records its own start; every database is guarded by the first backup
    assert rs.next_step(state) == "install" and rs.pending_steps(state)[0] == "install"
    # a database changed: the second backup is the next step, prestarted
    changed = rs.record_step(short(), "structure", "ok", NOW, extra={"structure_changed": ["K2_FIRMA"]}, start_next=True)
    assert changed["steps"][-1]["name"] == "backup_after_check" and changed["steps"][-1]["result"] == "started"
    # conservative: every database again (second_backup None), never skipped
    state = conservative(steps=["preflight", "maintenance_on", "backup", "gates", "structure_check"])
    state = rs.record_step(state, "structure", "ok", NOW, extra={"structure_changed": []}, start_next=True)
    assert state["steps"][-1]["name"] == "backup_after_check" and state["steps"][-1]["result"] == "started"


def test_a_prestarted_step_that_never_began_is_dropped():
    state = rs.record_step(running(steps=["preflight", "structure_check"]), "stage", "ok", NOW, start_next=True)
    assert state["steps"][-1]["name"] == "disk" and state["steps"][-1]["prestarted"]
    # the play went another way: another step's start, or the run's end, drops it
    assert [step["name"] for step in rs.record_step(state, "maintenance_on", "started", NOW)["steps"]][-2:] == ["stage", "maintenance_on"]
    assert [step["name"] for step in rs.finish(state, rs.NO_GO, NOW)["steps"]][-1] == "stage"
    # a skipped step closes its prestarted entry
    skipped = rs.record_step(state, "disk", "skipped", NOW)["steps"][-1]
    assert skipped["result"] == "skipped" and "prestarted" not in skipped


def test_a_failed_attempt_stays_and_the_retry_gets_its_own_entry():
    state = rs.record_step(running(), "preflight", "started", NOW)
    state = rs.record_step(state, "preflight", "failed", NOW, msg="boom")
    state = rs.record_step(state, "preflight", "started", NOW)
    state = rs.record_step(state, "preflight", "ok", NOW)
    assert [step["result"] for step in state["steps"]] == ["failed", "ok"]


def test_unknown_steps_and_results_are_refused():
    with pytest.raises(rs.RunStateError, match="unknown step"):
        rs.record_step(running(), "reboot", "ok", NOW)
    with pytest.raises(rs.RunStateError, match="unknown step result"):
        rs.record_step(running(), "backup", "maybe", NOW)


def test_starting_the_conversions_of_a_generation_change_marks_one_time_started():
    assert rs.record_step(running(kind="generation"), "conversions", "started", NOW)["one_time_started"] is True
    assert rs.record_step(running(kind="build"), "conversions", "started", NOW)["one_time_started"] is False


def test_the_outage_runs_from_the_ban_to_its_end():
    state = rs.record_step(running(), "maintenance_on", "ok", NOW)
    state = rs.record_step(state, "maintenance_off", "ok", NOW + timedelta(minutes=42))
    assert {key: state["outage"][key] for key in ("ban_on", "ban_off", "seconds", "open_seconds")} == {
        "ban_on": "2026-11-30T02:15:00.000Z", "ban_off": "2026-11-30T02:57:00.000Z", "seconds": 42 * 60, "open_seconds": None}


def test_the_outage_starts_when_the_ban_is_in_force_and_splits_every_step():
    def at(minutes):
        return NOW + timedelta(minutes=minutes)

    state = rs.record_step(running(), "preflight", "started", at(0))
    state = rs.record_step(state, "preflight", "ok", at(1))
    state = rs.record_step(state, "structure_check", "started", at(1))
    state = rs.record_step(state, "structure_check", "ok", at(3))
    state = rs.record_step(state, "maintenance_on", "started", at(3))
    # a ban set with a future start: users are warned until 02:25, then it is in force
    state = rs.record_step(state, "maintenance_on", "ok", at(11), extra={"ban_in_force_at": "2026-11-30T03:25:00+01:00"})
    assert state["outage"]["ban_on"] == "2026-11-30T02:25:00.000Z" and "ban_in_force_at" not in state
    assert state["outage"]["seconds"] is None and state["outage"]["open_seconds"] == 60
    state = rs.record_step(state, "backup", "started", at(11))
    state = rs.record_step(state, "backup", "ok", at(20))
    state = rs.record_step(state, "maintenance_off", "started", at(20))
    state = rs.record_step(state, "maintenance_off", "ok", at(21))
    outage = rs.finish(state, rs.DONE, at(30))["outage"]
    assert outage["seconds"] == 11 * 60
    assert outage["windows"] == {"before": 600.0, "inside": 660.0, "after": 0.0}
    assert outage["declared"] == {"before": 180.0, "inside": 1080.0, "after": 0.0}
    assert outage["steps"][2] == {"name": "maintenance_on", "window": "inside", "seconds": 480.0, "before": 420.0, "inside": 60.0, "after": 0.0}
    assert [m["name"] for m in outage["misplaced"]] == ["maintenance_on"]


def test_a_ban_set_before_the_run_counts_from_the_step():
    state = rs.record_step(running(), "maintenance_on", "started", NOW)
    state = rs.record_step(state, "maintenance_on", "ok", NOW + timedelta(seconds=5), extra={"ban_in_force_at": "2026-11-29T10:00:00Z"})
    assert state["outage"]["ban_on"] == "2026-11-30T02:15:00.000Z"


def test_the_outage_runs_from_the_ban_written_to_the_ban_lifted():
    state = rs.record_step(running(), "maintenance_on", "started", NOW)
    # the ban's start as K2 keeps it is the whole second; the run wrote it 0.65 s into the step
    state = rs.record_step(state, "maintenance_on", "ok", NOW + timedelta(seconds=2), extra={
        "ban_in_force_at": "2026-11-30T03:15:00+01:00", "ban_set_at": "2026-11-30T02:15:00.650+00:00"})
    assert state["outage"]["ban_on"] == "2026-11-30T02:15:00.650Z" and "ban_set_at" not in state
    state = rs.record_step(state, "maintenance_off", "started", NOW + timedelta(seconds=30))
    state = rs.record_step(state, "maintenance_off", "ok", NOW + timedelta(seconds=32), extra={"ban_lifted_at": "2026-11-30T02:15:31.400Z"})
    assert state["outage"]["ban_off"] == "2026-11-30T02:15:31.400Z" and state["outage"]["seconds"] == 30.75
    # a ban already lifted (nothing written): the step's end
    again = rs.record_step(rs.record_step(state, "maintenance_off", "started", NOW + timedelta(seconds=40)), "maintenance_off", "ok",
                           NOW + timedelta(seconds=41), extra={"ban_lifted_at": None})
    assert again["outage"]["ban_off"] == "2026-11-30T02:15:41.000Z"


def test_step_data_goes_to_the_top_of_the_state():
    assert rs.record_step(running(), "backup", "ok", NOW, extra={"database_bytes": 5})["database_bytes"] == 5


def test_finish_sets_the_end_only_for_final_statuses_and_keeps_the_advice():
    failed = rs.finish(running(), rs.FAILED, NOW, {"next": "rerun", "restore_required": False})
    assert failed["finished"] is None and failed["advice"] == "rerun" and failed["restore_required"] is False
    assert rs.finish(running(), rs.DONE, NOW)["finished"] == "2026-11-30T02:15:00Z"
    with pytest.raises(rs.RunStateError):
        rs.finish(running(), "maybe", NOW)


def test_summary_leaves_out_backups_and_history():
    summary = rs.summary(running(steps=["preflight"]))
    assert "backups" not in summary and "history" not in summary
    assert {"run_id", "status", "started", "finished", "steps", "outage"} <= set(summary)


# -- backups -------------------------------------------------------------------------
def entry(database, taken_at, run_id="gen-ori.09-x", verified=True, position="before_check"):
    return {"database": database, "file": "/b/%s-%s" % (database, taken_at), "taken_at": taken_at, "run_id": run_id,
            "verified": verified, "position": position}


def test_merge_backups_adds_new_entries_once_and_updates_known_ones():
    known = [entry("gen_CONF", "t1", verified=False)]
    merged = rs.merge_backups(known, [dict(entry("gen_CONF", "t1"), reused=False, path="x"), entry("gen_FIRMA", "t1")])
    assert merged == [entry("gen_CONF", "t1"), entry("gen_FIRMA", "t1")]
    assert rs.merge_backups(merged, merged) == merged


def test_manifest_from_state_is_a_k2_backup_manifest():
    state = dict(running(), backups=[entry("gen_CONF", "t1")])
    assert rs.manifest_from_state(state) == {"format": 1, "entries": [entry("gen_CONF", "t1")]}


def test_restore_run_is_the_latest_with_verified_backups_or_the_one_asked_for():
    state = dict(running(), backups=[entry("gen_CONF", "t1", "run-a"), entry("gen_CONF", "t2", "run-b"),
                                     entry("gen_CONF", "t3", "run-c", verified=False)])
    assert rs.restore_run_id(state) == "run-b"
    assert rs.restore_run_id(state, "run-a") == "run-a"
    with pytest.raises(rs.RunStateError, match="no verified backup of run run-c"):
        rs.restore_run_id(state, "run-c")
    with pytest.raises(rs.RunStateError, match="nothing to restore"):
        rs.restore_run_id(running())


def test_a_restore_is_recorded_and_the_state_says_so():
    state = rs.finish(running(steps=["preflight", "maintenance_on", "backup"]), rs.FAILED, NOW, {"next": "x", "restore_required": True})
    restored = rs.record_restore(state, "gen-ori.09-x", ["gen_CONF", "gen_FIRMA"], NOW, "restore-1", CONTROLLER,
                                 [entry("gen_CONF", "t1")])
    assert restored["status"] == rs.RESTORED and restored["restore_required"] is False
    assert restored["restores"][-1]["databases"] == ["gen_CONF", "gen_FIRMA"] and restored["restores"][-1]["from_status"] == "failed"
    assert "next reinstall starts afresh" in restored["advice"]


def test_a_restore_cut_off_part_way_is_recorded_and_the_next_reinstall_refuses_naming_the_command():
    state = rs.finish(running(steps=["preflight", "maintenance_on", "backup"]), rs.FAILED, NOW, {"next": "x", "restore_required": True})
    command = rs.finish_restore_command("gen", "/inv/lab.yml", "gen-ori.09-x", ["gen_FIRMA", "gen_INIT"], True, force_lock=True)
    assert command == ("ansible-playbook erpops.upgrade.k2_restore -i /inv/lab.yml -l gen -e k2_restore_run_id=gen-ori.09-x "
                       "-e '{\"k2_restore_databases\": [\"gen_FIRMA\", \"gen_INIT\"]}' -e k2_restore_folder=true "
                       "-e k2_restore_force_lock=true")
    partly = rs.record_restore(state, "gen-ori.09-x", ["gen_CONF"], NOW, "restore-1", CONTROLLER, [entry("gen_CONF", "t1")],
                               not_restored=["gen_FIRMA", "gen_INIT"], folder_restored=False, next_command=command,
                               error="restore of gen_FIRMA failed: server closed the connection")
    assert partly["status"] == rs.PARTLY_RESTORED and partly["restore_required"] is True
    record = partly["restores"][-1]
    assert record["databases"] == ["gen_CONF"] and record["not_restored"] == ["gen_FIRMA", "gen_INIT"]
    assert record["folder_restored"] is False and record["next_command"] == command
    assert ("stopped part-way: restore of gen_FIRMA failed: server closed the connection. Restored to their backup state: gen_CONF. "
            "NOT restored: gen_FIRMA, gen_INIT. The K2 folder is not restored.") in partly["advice"] and partly["advice"].endswith(command)
    plan = rs.plan_run(partly, "ori.09")
    assert plan["action"] == "refuse" and "partly restored" in plan["why"] and command in plan["why"]
    assert "NOT restored: gen_FIRMA, gen_INIT" in plan["why"]

    finished = rs.record_restore(partly, "gen-ori.09-x", ["gen_FIRMA", "gen_INIT"], NOW, "restore-2", CONTROLLER, folder_restored=True)
    assert finished["status"] == rs.RESTORED and rs.plan_run(finished, "ori.09")["action"] == "new"
    assert [r["databases"] for r in finished["restores"]] == [["gen_CONF"], ["gen_FIRMA", "gen_INIT"]]


def test_a_folder_restore_that_failed_after_every_database_is_a_partial_restore_too():
    state = rs.record_restore(running(), "r1", ["gen_CONF"], NOW, "restore-1", CONTROLLER, folder_restored=False,
                              next_command=rs.finish_restore_command("gen", None, "r1", [], True, force_lock=False))
    assert state["status"] == rs.PARTLY_RESTORED and state["restores"][-1]["not_restored"] == []
    assert state["restores"][-1]["next_command"] == "ansible-playbook erpops.upgrade.k2_restore -l gen -e k2_restore_run_id=r1 -e k2_restore_folder=true"


def test_the_finish_command_quotes_what_a_shell_would_split():
    command = rs.finish_restore_command("it's", "/my inv/x.yml", "r1", ["a'b", "K2_Účetní"], False, force_lock=False)
    words = shlex.split(command)
    assert words[words.index("-i") + 1] == "/my inv/x.yml" and words[words.index("-l") + 1] == "it's"
    assert json.loads(words[words.index("-e", words.index("-e") + 1) + 1]) == {"k2_restore_databases": ["a'b", "K2_Účetní"]}


# -- decisions -----------------------------------------------------------------------
@pytest.mark.parametrize("kind, record, method, asked, expected", [
    ("runnable", True, "vendor_installer", False, []),
    ("torso", True, "vendor_installer", False, ["no K2 binaries in the folder (torso, K2-13)"]),
    ("runnable", False, "vendor_installer", False, ["no installer record of this installation"]),
    ("runnable", True, "files", False, ["the release is installed by file copy (method files)"]),
    ("runnable", True, "vendor_installer", True, ["asked for (k2_reinstall_takeover)"]),
])
def test_takeover_reasons(kind, record, method, asked, expected):
    assert rs.takeover_reasons(kind, record, method, asked) == expected


@pytest.mark.parametrize("setting, method, expected", [
    ("auto", "vendor_installer", True), ("auto", "files", False), (True, "files", True), ("false", "vendor_installer", False),
    ("yes", "files", True), (0, "files", False)])
def test_installer_record(setting, method, expected):
    assert rs.installer_record(setting, method) is expected


def test_run_decisions_warn_about_a_needless_takeover_only():
    runnable = {"kind": "runnable", "go": True, "upgrade_kind": "generation", "reasons": [], "notes": []}
    decisions = rs.run_decisions(runnable, "files", True, False)
    assert decisions["mode"] == "takeover" and decisions["orphan_warning"] is True and decisions["go"] is True
    assert rs.run_decisions(runnable, "files", "auto", False)["orphan_warning"] is False
    assert rs.run_decisions(dict(runnable, kind="torso"), "files", True, False)["orphan_warning"] is False
    assert rs.run_decisions(runnable, "vendor_installer", "auto", False)["mode"] == "upgrade"


def k2_site(**overrides):
    site = {"kind": "runnable", "version": "gaia.12.3", "databases_match_version": True, "databases": [],
            "upgrade": {"kind": "generation", "reachable": True, "path": ["ori.09"], "reason": None},
            "production_mandants": ["FIRMA"], "warnings": []}
    site.update(overrides)
    return site


def test_preflight_go():
    decision = rs.preflight_decision(k2_site(), "ori.09")
    assert decision == {"go": True, "kind": "runnable", "version": "gaia.12.3", "target_version": "ori.09", "upgrade_kind": "generation",
                        "production_mandants": ["FIRMA"], "reasons": [], "notes": []}


def test_preflight_not_k2_and_torso():
    assert rs.preflight_decision(k2_site(kind="not_k2", problems=["no k2.ini"]), "ori.09")["reasons"] == ["not a K2 folder: no k2.ini"]
    torso = rs.preflight_decision(k2_site(kind="torso"), "ori.09")
    assert torso["go"] and torso["notes"][0].startswith("no runnable K2 (torso)")


def test_preflight_databases_behind_the_installed_version():
    decision = rs.preflight_decision(k2_site(databases_match_version=False, databases=[
        {"database": "gen_CONF", "version": "gaia.12.3", "matches_version": True},
        {"database": "gen_FIRMA", "version": None, "matches_version": False, "error": "no K2VERZE"}]), "ori.09")
    assert decision["reasons"] == ["database gen_FIRMA is at unknown, not at the installed gaia.12.3 (no K2VERZE)"]


def test_preflight_unreachable_target():
    far = rs.preflight_decision(k2_site(upgrade={"kind": "generation", "reachable": False, "path": ["gaia.13", "ori.09"], "reason": None}), "ori.09")
    assert far["reasons"] == ["target not reachable in one reinstall: install gaia.13 first (K2-10)"] and not far["go"]
    reason = rs.preflight_decision(k2_site(upgrade={"kind": None, "reachable": False, "path": [], "reason": "downgrade"}), "x")
    assert reason["reasons"] == ["downgrade"]


def test_preflight_without_target():
    assert rs.preflight_decision(k2_site(upgrade=None), None)["upgrade_kind"] is None


def gate(k2, preparation_required=True, waive=False, backups=1):
    return rs.gate_decision({"go": True, "reasons": [], "notes": []}, k2, preparation_required, waive, backups, "m.json")


def test_gates_preparation_missing_before_a_generation_change():
    result = gate(k2_site(reinstall_manager={"preparation_done": False}))
    assert not result["go"] and result["reasons"][0].startswith("pre-install preparation (K2-06)")
    assert gate(k2_site(reinstall_manager={"preparation_done": False}), preparation_required=False)["go"]
    assert gate(k2_site(reinstall_manager={"preparation_done": True}))["go"]
    build = k2_site(reinstall_manager={"preparation_done": False}, upgrade={"kind": "build", "reachable": True, "path": []})
    assert gate(build)["go"]


def test_gates_initializations_block_unless_waived_for_a_build():
    missing = {"FIRMA": ["Prepocet skladu"]}
    result = gate(k2_site(reinstall_manager={"preparation_done": True}, missing_initializations=missing))
    assert result["reasons"] == ["mandatory initializations (K2-07) missing: FIRMA: Prepocet skladu; run them (function 552, Mandatory)"]
    build = k2_site(missing_initializations=missing, upgrade={"kind": "build", "reachable": True, "path": []})
    assert "or set k2_preflight_waive_initializations" in gate(build)["reasons"][0]
    waived = gate(build, waive=True)
    assert waived["go"] and waived["gates"]["initializations_waived"] and "waived for a build-only reinstall" in waived["notes"][0]
    generation = k2_site(reinstall_manager={"preparation_done": True}, missing_initializations=missing)
    assert not gate(generation, waive=True)["go"]


def test_gates_note_missing_backups():
    result = gate(k2_site(reinstall_manager={"preparation_done": True}), backups=0)
    assert result["go"] and result["backups_exist"] is False and result["notes"] == ["no verified backup in m.json: back up first (K2-05, K2-13)"]


# -- advice ----------------------------------------------------------------------------
COMMAND = "ansible-playbook playbooks/k2_restore.yml -l gen -e k2_restore_run_id=gen-ori.09-x"


def test_advice_before_the_conversions_resumes_and_names_no_restore():
    state = running(steps=["preflight", "maintenance_on", "backup"])
    advice = rs.advice(state, "gates", None, COMMAND)
    assert advice["restore_required"] is False and advice["resume_at"] == "gates"
    assert "resumes at the step gates" in advice["next"] and "k2_restore" not in advice["next"]


def test_advice_after_a_failed_batch_resumes_through_the_journal():
    state = rs.record_step(running(steps=rs.STEP_NAMES[:8]), "conversions", "started", NOW)
    convert = {"databases": [{"database": "gen_FIRMA", "files": [{"file": "K2_D509Lab.sql", "status": "failed"}]}]}
    advice = rs.advice(state, "conversions", convert, COMMAND)
    assert advice["restore_required"] is False and advice["resume_at"] == "conversions"
    assert "gen_FIRMA K2_D509Lab.sql resume at their failed batch" in advice["next"]
    assert "no one-time conversion runs twice" in advice["next"]
    assert "To go back to" in advice["next"] and COMMAND in advice["next"]


def test_advice_requires_a_restore_only_when_the_journal_refuses():
    state = rs.record_step(running(steps=rs.STEP_NAMES[:8]), "conversions", "started", NOW)
    convert = {"databases": [{"database": "gen_FIRMA", "files": [{"file": "K2_D509Lab.sql", "status": "refused"}]}]}
    advice = rs.advice(state, "conversions", convert, COMMAND)
    assert advice["restore_required"] is True and advice["resume_at"] is None and COMMAND in advice["next"]
    # a missing gate backup is fixed by taking it, not by a restore
    no_backup = {"databases": [{"database": "gen_FIRMA", "files": [{"file": "K2_D509Lab.sql", "status": "refused - no backup"}]}]}
    assert rs.advice(state, "conversions", no_backup, COMMAND)["restore_required"] is False


def test_advice_after_the_conversions_resumes_and_offers_the_way_back():
    state = rs.record_step(running(steps=rs.STEP_NAMES[:8]), "conversions", "ok", NOW)
    advice = rs.advice(state, "extensions", None, COMMAND)
    assert advice["restore_required"] is False and "resumes at the step extensions" in advice["next"] and COMMAND in advice["next"]


def test_advice_without_a_failed_step_names_the_next_one():
    assert rs.advice(running(steps=["preflight"]), None)["resume_at"] == "structure_check"
    assert rs.advice(running(steps=["preflight", "structure_check"]), None)["resume_at"] == "stage"


def test_advice_says_whether_the_window_is_open():
    before = rs.advice(running(steps=["preflight", "structure_check"]), "stage")
    assert before["next"].endswith("The maintenance window was not opened: users work as before.")
    inside = rs.advice(running(steps=["preflight", "structure_check", "stage", "disk", "maintenance_on"]), "backup")
    assert inside["next"].endswith("The maintenance window stays on.")


def installer_run():
    state = running(steps=rs.STEP_NAMES[:rs.STEP_NAMES.index("install")])
    state["decisions"].update(method="installer", mode="upgrade", takeover_reasons=[])
    return rs.record_step(state, "install", "started", NOW)


def test_advice_after_one_time_conversions_in_the_installer_requires_the_restore_and_the_rerun_is_refused():
    state = installer_run()
    verdict = {"ok": False, "step": "conversions", "restore_needed": True}
    advice = rs.advice(state, "install", None, COMMAND, verdict)
    assert advice["restore_required"] is True and advice["resume_at"] is None and advice["restore_command"] == COMMAND
    assert "restore the databases AND the K2 folder" in advice["next"] and COMMAND in advice["next"]
    failed = rs.finish(rs.record_step(state, "install", "failed", NOW), rs.FAILED, NOW, advice)
    plan = rs.plan_run(failed, "ori.09")
    assert plan["action"] == "refuse" and "cannot be resumed" in plan["why"] and COMMAND in plan["why"]
    restored = rs.record_restore(failed, failed["run_id"], ["gen_CONF"], NOW, "gen-restore", CONTROLLER)
    assert rs.plan_run(restored, "ori.09")["action"] == "new"


@pytest.mark.parametrize("step", ["removal", "copy"])
def test_advice_after_a_failed_removal_or_copy_goes_back_to_k2_01_and_the_rerun_takes_over(step):
    state = installer_run()
    advice = rs.advice(state, "install", None, COMMAND, {"ok": False, "step": step, "restore_needed": False})
    assert advice["restore_required"] is False and advice["resume_at"] == "install" and advice["restore_command"] is None
    assert "back to K2-01" in advice["next"] and "by takeover" in advice["next"] and COMMAND not in advice["next"]
    failed = rs.finish(rs.record_step(state, "install", "failed", NOW), rs.FAILED, NOW, advice)
    assert failed["decisions"]["mode"] == "takeover"
    assert failed["decisions"]["takeover_reasons"] == ["the previous install failed in %s (K2-11): a takeover after a failed removal "
                                                       "or install" % step]
    assert rs.plan_run(failed, "ori.09") == {"action": "resume", "why": "resumes run gen-ori.09-x (failed to ori.09) at the step install"}
    # A second failure at the same step does not repeat the reason.
    again = rs.finish(failed, rs.FAILED, NOW, advice)
    assert len(again["decisions"]["takeover_reasons"]) == 1


def test_advice_after_a_failed_initialization_in_the_installer_resumes_at_the_install():
    advice = rs.advice(installer_run(), "install", None, COMMAND, {"ok": False, "step": "initialization", "restore_needed": False})
    assert advice["restore_required"] is False and advice["resume_at"] == "install" and advice["takeover"] is None
    assert "resumes at the step install" in advice["next"] and advice["restore_command"] == COMMAND, "the way back stays offered"


def test_a_test_environment_is_reinstalled_by_takeover():
    runnable = {"kind": "runnable", "go": True, "upgrade_kind": "generation", "reasons": [], "notes": []}
    decisions = rs.run_decisions(runnable, "installer", "auto", False, test_of="D:\\K2")
    assert decisions["mode"] == "takeover" and decisions["test_of"] == "D:\\K2"
    assert "a test environment (a copy of D:\\K2)" in decisions["takeover_reasons"][0]
    assert decisions["orphan_warning"] is False, "the copy's takeover is the runbook's way, not a needless one"
    assert rs.run_decisions(runnable, "installer", "auto", False)["test_of"] is None


# -- lock verdict -----------------------------------------------------------------------
def row(token="t-other", lease_until=NOW + timedelta(minutes=5), run_id="gen-ori.09-a"):
    return {"RUN_ID": run_id, "HOLDER_TOKEN": token, "CONTROLLER_HOST": "laptop", "CONTROLLER_USER": "novak", "AWX_JOB_ID": None,
            "SINCE": NOW - timedelta(minutes=1), "LEASE_UNTIL": lease_until}


def test_lock_free_row_or_no_row_is_taken():
    assert rs.lock_verdict(None, NOW, "t-me", False)["how"] == "free"
    assert rs.lock_verdict({"RUN_ID": None}, NOW, "t-me", False)["how"] == "free"
    assert rs.lock_verdict({"run_id": "  "}, NOW, "t-me", False)["how"] == "free"


def test_lock_held_by_a_live_lease_refuses_and_names_the_holder():
    verdict = rs.lock_verdict(row(), NOW, "t-me", False)
    assert verdict["take"] is False and verdict["how"] == "held"
    assert rs.holder_text(verdict["holder"]) == (
        "run gen-ori.09-a (controller laptop, user novak) since 2026-11-30T02:14:00Z, lease until 2026-11-30T02:20:00Z")


def test_lock_of_the_same_run_but_another_job_is_not_ours():
    """A resumed run keeps its run id; the killed job's worker still holds the lock under its own token."""
    assert rs.lock_verdict(row(run_id="gen-ori.09-x"), NOW, "t-me", False)["how"] == "held"
    assert rs.lock_verdict(row(token="t-me"), NOW, "t-me", False)["how"] == "own"


def test_lock_expired_lease_is_taken_over_and_force_takes_a_live_one():
    assert rs.lock_verdict(row(lease_until=NOW - timedelta(seconds=1)), NOW, "t-me", False)["how"] == "expired"
    # naive server times are UTC
    assert rs.lock_verdict(row(lease_until=datetime(2026, 11, 30, 2, 0)), NOW, "t-me", False)["how"] == "expired"
    forced = rs.lock_verdict(row(), NOW, "t-me", True)
    assert forced["take"] and forced["how"] == "forced" and forced["holder"]["run_id"] == "gen-ori.09-a"


def test_holder_text_with_an_awx_job():
    assert "AWX job 412" in rs.holder_text({"run_id": "r", "controller_host": "ee", "awx_job_id": "412", "since": None, "lease_until": None})


@pytest.mark.parametrize("method, converts_in", [("installer", "install"), ("operator", "install"), ("vendor_installer", "install"),
                                                 ("copy", "conversions"), ("files", "conversions")])
def test_one_time_conversions_start_where_the_method_runs_them(method, converts_in):
    state = rs.empty_state("s1")
    state["decisions"] = rs.run_decisions({"kind": "runnable", "upgrade_kind": "generation", "go": True}, method, "auto", False)
    for step in ("disk", "install", "conversions"):
        state = rs.record_step(state, step, "started", NOW)
        assert bool(state.get("one_time_started")) == (step == converts_in or (converts_in == "install" and step == "conversions")), step
    decisions = state["decisions"]
    if method in ("copy", "files"):
        assert decisions["mode"] == "takeover" and "the release is installed by file copy (method %s)" % method in decisions["takeover_reasons"]
    else:
        assert decisions["mode"] == "upgrade", "the K2 installer keeps a record of what it installed"
