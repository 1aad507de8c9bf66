"""Before the window and inside it (module_utils.window): the structure verdict, the second backup, the backup guards."""

from datetime import datetime, timezone

from ansible_collections.erpops.upgrade.plugins.module_utils import backup, run_state as rs, window

NOW = datetime(2026, 11, 30, 2, 15, 0, tzinfo=timezone.utc)
KINDS = ["create_table", "konverze", "add_primary_key", "create_index", "fulltext", "drop_column"]


def database(name, findings=0, error=None, fingerprint=None, applied=0, unchanged=False):
    return {"database": name, "findings": findings, "error": error, "fingerprint": fingerprint or "fp-" + name,
            "applied": applied, "unchanged": unchanged}


def test_a_consistent_site_is_go_and_every_database_is_in_the_baseline():
    verdict = window.structure_verdict({"databases": [database("K2_CONF"), database("K2_FIRMA")], "repair_plan": []}, KINDS)
    assert verdict == {"go": True, "reasons": [], "to_repair": [], "baseline": {"K2_CONF": "fp-K2_CONF", "K2_FIRMA": "fp-K2_FIRMA"},
                       "checked": 2}


def test_repairable_findings_are_go_and_left_for_the_window():
    check = {"databases": [database("K2_CONF"), database("K2_FIRMA", findings=2)],
             "repair_plan": [{"database": "K2_FIRMA", "kind": "create_index", "sql": "CREATE INDEX ..."},
                             {"database": "K2_FIRMA", "kind": "drop_column", "sql": "ALTER TABLE ..."}]}
    verdict = window.structure_verdict(check, KINDS)
    assert verdict["go"] and verdict["to_repair"] == ["K2_FIRMA"] and verdict["baseline"] == {"K2_CONF": "fp-K2_CONF"}


def test_findings_the_run_cannot_repair_are_no_go_before_the_ban():
    check = {"databases": [database("K2_FIRMA", findings=1), database("K2_FIRMA2", findings=1), database("K2_X", findings=1),
                           database("K2_ERR", error="login failed")],
             "repair_plan": [{"database": "K2_FIRMA", "kind": "ask_support", "sql": None},
                             {"database": "K2_FIRMA2", "kind": "drop_column", "sql": "ALTER TABLE ..."}]}
    verdict = window.structure_verdict(check, ["create_index"])
    assert not verdict["go"] and verdict["to_repair"] == []
    assert [r.split(" has ")[0].split(": ")[1] if " has " in r else r for r in verdict["reasons"]] == [
        "K2_FIRMA", "K2_FIRMA2", "K2_X", "structure check (K2-08): K2_ERR could not be checked: login failed"]
    assert "ask_support" in verdict["reasons"][0] and "drop_column" in verdict["reasons"][1] and "no repair" in verdict["reasons"][2]


def test_changed_databases_are_the_repaired_and_the_not_unchanged():
    structure = {"databases": [database("K2_CONF", unchanged=True), database("K2_FIRMA", applied=1),
                               database("K2_FIRMA2", unchanged=False), database("K2_F3", unchanged=True, applied=1)]}
    assert window.changed_databases(structure) == ["K2_FIRMA", "K2_FIRMA2", "K2_F3"]


def entry(name, position, run_id="r1", file=None, verified=True, at="2026-11-30T02:20:00+00:00"):
    return {"database": name, "position": position, "run_id": run_id, "file": file or "%s-%s.dump" % (name, position),
            "verified": verified, "taken_at": at}


def state_with(mode, steps=(), backups=(), changed=None):
    state = rs.start_run(rs.empty_state("gen"), "gen", "r1", "ori.09", {}, NOW)
    state["decisions"].update(outage_mode=mode, go=True)
    for name, result in steps:
        state = rs.record_step(state, name, result, NOW)
    state["backups"] = list(backups)
    if changed is not None:
        state["structure_changed"] = changed
    return state


FIRST = [entry("K2_CONF", "before_check"), entry("K2_FIRMA", "before_check"), entry("K2_FIRMA2", "before_check"),
         entry("K2_OLD", "before_check", run_id="r0")]


def test_short_mode_backs_up_again_only_the_changed_databases_of_the_first_backup():
    state = state_with("short", [("structure", "ok")], FIRST, changed=["K2_FIRMA", "K2_DEMO"])
    assert window.second_backup(state) == ["K2_FIRMA"]


def test_conservative_mode_or_an_unknown_change_backs_up_everything_again():
    assert window.second_backup(state_with("conservative", [("structure", "ok")], FIRST, changed=[])) is None
    assert window.second_backup(state_with("short", [("structure", "ok")], FIRST)) is None


def test_a_skipped_structure_step_changed_nothing():
    state = state_with("short", [("structure", "skipped")], FIRST)
    assert window.second_backup(state) == []
    assert sorted(window.backup_guards(state)["databases"]) == ["K2_CONF", "K2_FIRMA", "K2_FIRMA2"]


def test_each_database_is_guarded_by_its_newest_safe_backup():
    backups = FIRST + [entry("K2_FIRMA", "after_check", at="2026-11-30T02:30:00+00:00"),
                       entry("K2_FIRMA2", "after_check", verified=False, file="failed.dump")]
    guards = window.backup_guards(state_with("short", [("structure", "ok")], backups, changed=["K2_FIRMA", "K2_FIRMA2"]))
    assert guards["run_id"] == "r1"
    assert {name: g["file"] for name, g in guards["databases"].items()} == {"K2_CONF": "K2_CONF-before_check.dump",
                                                                            "K2_FIRMA": "K2_FIRMA-after_check.dump"}
    assert "changed nothing" in guards["databases"]["K2_CONF"]["why"]
    # unknown changes: only backups after the structure step guard
    assert list(window.backup_guards(state_with("short", [("structure", "ok")], backups))["databases"]) == ["K2_FIRMA"]


def test_the_state_records_the_guards_and_the_gate_reads_them_from_the_manifest():
    state = state_with("short", [], FIRST + [entry("K2_FIRMA", "after_check")])
    state = rs.record_step(state, "structure", "ok", NOW, extra={"structure_changed": ["K2_FIRMA"]})
    state = rs.record_step(state, "backup_after_check", "ok", NOW)
    manifest = rs.manifest_from_state(state)
    assert sorted(manifest["guards"]["databases"]) == ["K2_CONF", "K2_FIRMA", "K2_FIRMA2"]
    assert backup.gate_backup(manifest, "K2_CONF", "r1")["file"] == "K2_CONF-before_check.dump"
    assert backup.gate_backup(manifest, "K2_FIRMA", "r1")["file"] == "K2_FIRMA-after_check.dump"
    assert backup.gate_backup(manifest, "K2_CONF", "r2") is None  # guards of another run count for nothing
    assert backup.gate_backup(dict(manifest, guards={}), "K2_CONF", "r1") is None


def test_a_guard_naming_a_missing_or_unverified_file_lets_nothing_through():
    manifest = {"format": 1, "entries": [entry("K2_CONF", "before_check", verified=False)],
                "guards": {"run_id": "r1", "databases": {"K2_CONF": {"file": "K2_CONF-before_check.dump"}}}}
    assert backup.gate_backup(manifest, "K2_CONF", "r1") is None
