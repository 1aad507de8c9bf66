"""Judging an install from evidence: sql_inst.log lines, folder, databases, version initialization."""
from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils import install_verdict as iv
from ansible_collections.erpops.upgrade.plugins.module_utils.convert import log_line
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE

PATTERNS = DEFAULT_PROFILE["folder"]["install_log_patterns"]
INSTALLER_LINE = ('2026-11-30 03:10:00 UTC  north_FIRMA2  K2_D509Lab.sql  batch 3, line 21: ERROR: relation "K2LAB_V509_D" '
                  'already exists')


def _db(code, version, role="production"):
    return {"code": code, "database": "north_" + code, "role": role, "version": version}


def _evidence(**changes):
    evidence = {"target": "ori.09", "from_version": "gaia.12.3", "exit_code": 0, "output": "", "log": [],
                "folder_version": "ori.09", "runnable": True,
                "databases": [_db("CONF", "ori.09", "conf"), _db("FIRMA", "ori.09"), _db("DEMO", "ori.09", "system")],
                "initialization": {"FIRMA": True}}
    evidence.update(changes)
    return evidence


def test_new_log_text_reads_only_what_the_run_added():
    before = b"old line\r\n"
    data = before + INSTALLER_LINE.encode() + b"\r\n"
    assert iv.new_log_text(data, len(before)) == {"text": INSTALLER_LINE + "\r\n", "replaced": False, "size": len(data)}
    # A file shorter than the noted size was replaced: all of it is new.
    assert iv.new_log_text(b"x\n", 100)["replaced"] is True
    assert iv.new_log_text("chyba č. 5".encode("cp1250"), 0)["text"] == "chyba č. 5"


def test_parse_log_reads_installer_and_collection_lines_and_keeps_unreadable_ones():
    from datetime import datetime, timezone
    ours = log_line(datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc), "north_CONF", "K2_C509Lab.sql", 4, 37, "boom\nsecond")
    entries = iv.parse_log("\r\n".join([INSTALLER_LINE, ours, "", "Chyba: K2_D2020.sql davka 7 - Invalid object name 'X'",
                                        "something else entirely"]), PATTERNS)
    assert [(e["database"], e["file"], e["batch"], e["line"]) for e in entries] == [
        ("north_FIRMA2", "K2_D509Lab.sql", 3, 21), ("north_CONF", "K2_C509Lab.sql", 4, 37),
        (None, "K2_D2020.sql", 7, None), (None, None, None, None)]
    assert entries[0]["message"] == 'ERROR: relation "K2LAB_V509_D" already exists'
    assert entries[1]["message"] == "boom second"
    assert entries[2]["message"] == "Invalid object name 'X'"
    assert entries[3]["message"] == "something else entirely"


def test_a_good_install():
    verdict = iv.judge(_evidence())
    assert verdict["ok"] and verdict["step"] is None
    assert verdict["checks"] == {"exit_code": 0, "folder_at_target": True, "log_errors": 0, "databases_at_target": True,
                                 "version_initialized": True}
    assert "succeeded" in iv.message(verdict)
    # Done by an operator: no exit code, same evidence.
    assert iv.judge(_evidence(exit_code=None))["ok"]


def test_removal_or_copy_failure_sends_back_to_k2_01():
    verdict = iv.judge(_evidence(exit_code=11, runnable=False, folder_version="gaia.12.3",
                                 output="STEP removal\nFAILED removal: removed 9 of 19 files\n"))
    assert not verdict["ok"] and verdict["step"] == "removal" and "K2-01" in verdict["next"] and "takeover" in verdict["next"]
    assert any("removed 9 of 19" in reason for reason in verdict["reasons"])
    # Without the installer's word (an operator ran it), the folder still tells.
    assert iv.judge(_evidence(exit_code=None, folder_version="gaia.12.3"))["step"] == "copy"
    refused = iv.judge(_evidence(exit_code=2, folder_version="gaia.12.3", output="FAILED checks: K2 is not in reinstall mode\n"))
    assert refused["step"] == "checks" and "reinstall mode" in refused["next"]


def test_conversion_failure_names_file_batch_message_and_the_restore():
    log = iv.parse_log(INSTALLER_LINE, PATTERNS)
    verdict = iv.judge(_evidence(exit_code=13, log=log, databases=[_db("CONF", "ori.09", "conf"), _db("FIRMA2", "gaia.12.3")]))
    assert verdict["step"] == "conversions" and verdict["restore_needed"]
    assert 'north_FIRMA2 K2_D509Lab.sql batch 3: ERROR: relation "K2LAB_V509_D" already exists' in verdict["reasons"][0]
    assert "FIRMA2 (gaia.12.3)" in verdict["reasons"][1]
    assert "restore the databases AND the K2 folder" in verdict["next"]
    # A build reinstall ran only Additional files: fix and rerun, no restore.
    build = iv.judge(_evidence(from_version="ori.09.1", target="ori.09.2", folder_version="ori.09.2", log=log,
                               databases=[_db("FIRMA", "ori.09.1")]))
    assert build["step"] == "conversions" and not build["restore_needed"] and "Additional" in build["next"]
    # Databases behind with an empty log still fail the step; an unknown start counts as a generation change.
    behind = iv.judge(_evidence(from_version=None, databases=[_db("FIRMA", "gaia.12.3")]))
    assert behind["step"] == "conversions" and behind["restore_needed"]


def test_version_initialization_keeps_the_site_closed():
    verdict = iv.judge(_evidence(exit_code=17, initialization={"FIRMA": True, "FIRMA2": False},
                                 output="FAILED initialization_2: Inicializace funkce skončila chybou (FIRMA2)\n"))
    assert verdict["step"] == "initialization" and verdict["not_initialized"] == ["FIRMA2"]
    assert "Povinné" in verdict["next"]
    assert any("the installer said: initialization_2" in reason for reason in verdict["reasons"])


def test_an_installer_failure_with_good_evidence_is_still_a_failure():
    verdict = iv.judge(_evidence(exit_code=5, output="boom"))
    assert not verdict["ok"] and verdict["step"] == "installer"
    timed_out = iv.judge(_evidence(exit_code=None, timed_out=True))
    assert not timed_out["ok"] and "timeout" in timed_out["reasons"][0]


def test_system_databases_behind_are_a_warning_only():
    verdict = iv.judge(_evidence(databases=[_db("FIRMA", "ori.09"), _db("DEMO", "gaia.12.3", "system")]))
    assert verdict["ok"] and verdict["warnings"] == ["system or test databases not at ori.09: DEMO"]
