# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""convert: the runner on a real SQL engine (SQLite, in memory) with real transactions; Oracle's one-call shape."""

from __future__ import annotations

import io
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
import sqlglot

from ansible_collections.erpops.upgrade.plugins.module_utils import backup, convert, journal
from ansible_collections.erpops.upgrade.plugins.module_utils.conversions import parse_name

FIRMA = {"code": "FIRMA", "database": "K2_FIRMA", "role": "production"}
NOW = datetime(2025, 3, 5, 17, 0, tzinfo=timezone.utc)

ONE_TIME = """\
/* one-time
GO
*/
CREATE TABLE t (a int)
GO
INSERT INTO t VALUES (1)
GO
-- the fix table does not exist until the test creates it
INSERT INTO fix VALUES (2)
GO
INSERT INTO t VALUES (3)
GO
"""
ADDITIONAL = "CREATE TABLE IF NOT EXISTS m (f text)\nGO\nINSERT INTO m VALUES ('add')\nGO 2\n"
FAILING_ADDITIONAL = "INSERT INTO nowhere VALUES (1)\nGO\n"


class SqliteDb:
    """The lab dialect's journal SQL on SQLite: only the UTC clock and the table lookup differ."""

    def __init__(self):
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.executed = []

    @staticmethod
    def _sql(sql):
        return sql.replace("(now() AT TIME ZONE 'UTC')", "CURRENT_TIMESTAMP")

    def query(self, sql, params=()):
        if "to_regclass" in sql:
            found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (params[0].strip('"'),)).fetchone()
            return [{"found": 1 if found else 0}]
        cursor = self.conn.execute(self._sql(sql), params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def execute(self, sql, params=(), dont_exec=False):
        self.executed.append(sql)
        return self.conn.execute(self._sql(sql), params).rowcount

    @contextmanager
    def transaction(self):
        self.conn.execute("BEGIN")
        try:
            yield self
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def rows(self, sql):
        return self.conn.execute(sql).fetchall()


def opener(files):
    return lambda name: io.StringIO(files[name])


def gate_manifest(run_id="r1", database="K2_FIRMA"):
    manifest = backup.empty_manifest()
    entry = backup.new_entry(database, "FIRMA", "lab", "/b/x.dump", "after_check", run_id, NOW)
    entry["verified"] = True
    manifest["entries"].append(entry)
    return manifest


def make_run(db, files, target=None, manifest=None, clock=None, **settings):
    target = target or FIRMA
    items = [parse_name(name) for name in files]
    settings.setdefault("run_id", "r1")
    run = convert.DatabaseRun(db, "lab", target, items, opener(files), settings, manifest)
    if clock:
        run.clock = clock
    return run


def journal_rows(db, success=1):
    return db.rows('SELECT "FILE_NAME", "BATCH_INDEX", "RUN_SCOPE" FROM "%s" WHERE "SUCCESS" = %d ORDER BY 1, 2'
                   % (journal.DEFAULT_TABLE, success))


def test_one_time_file_is_gated_without_a_backup_of_this_run():
    db = SqliteDb()
    files = {"K2_D509Lab.sql": ONE_TIME}
    run = make_run(db, files)
    assert "needs a verified backup" in run.preflight()
    assert run.results[0].status == convert.GATED and db.executed == []

    other_run = make_run(db, files, manifest=gate_manifest(run_id="older-run"))
    assert other_run.preflight() is not None, "a backup of another run does not open the gate"
    before = backup.empty_manifest()
    entry = dict(gate_manifest()["entries"][0], position="before_check")
    before["entries"].append(entry)
    assert make_run(db, files, manifest=before).preflight() is not None, "a backup before the structure check does not open it"
    assert make_run(db, files, manifest=gate_manifest()).preflight() is None


@pytest.mark.parametrize("role", ["system", "test"])
def test_demo_init_and_test_copies_are_not_gated(role):
    run = make_run(SqliteDb(), {"K2_D509Lab.sql": ONE_TIME}, target={"code": "X", "database": "K2_X", "role": role})
    assert run.preflight() is None and run.warnings == []


def test_force_without_backup_runs_and_warns():
    run = make_run(SqliteDb(), {"K2_D509Lab.sql": ONE_TIME}, force_without_backup=True)
    assert run.preflight() is None
    assert run.results[0].forced and "FORCED WITHOUT BACKUP" in run.warnings[0] and "K2_FIRMA" in run.warnings[0]


def test_failing_batch_rolls_back_logs_and_a_rerun_resumes_after_the_fix():
    db = SqliteDb()
    files = {"K2_D509Lab.sql": ONE_TIME, "K2_D509LabAdditional.sql": ADDITIONAL}
    run = make_run(db, files, manifest=gate_manifest(), clock=lambda: NOW, continue_on_error=True)
    assert run.preflight() is None
    run.execute()
    first = run.results[0]
    assert first.status == convert.FAILED and first.applied == [1, 2]
    assert first.error["batch"] == 3 and first.error["line"] == 8 and "no such table: fix" in first.error["message"]
    assert run.results[1].status == convert.PENDING, "continue_on_error never covers a one-time file"
    assert run.log == ["2025-03-05 17:00:00 UTC  K2_FIRMA  K2_D509Lab.sql  batch 3, line 8: no such table: fix"]
    assert db.rows("SELECT a FROM t") == [(1,)]
    assert journal_rows(db) == [("K2_D509Lab.sql", 1, "ONCE"), ("K2_D509Lab.sql", 2, "ONCE")]
    assert journal_rows(db, success=0) == [("K2_D509Lab.sql", 3, "ONCE")]

    db.conn.execute("CREATE TABLE fix (a int)")
    rerun = make_run(db, files, manifest=gate_manifest())
    rerun.preflight()
    assert rerun.results[0].decision.action == journal.RESUME and rerun.results[0].decision.run == (3, 4)
    rerun.execute()
    assert rerun.stopped is None and rerun.changed
    assert db.rows("SELECT a FROM t ORDER BY a") == [(1,), (3,)]
    assert db.rows("SELECT a FROM fix") == [(2,)]
    assert journal_rows(db, success=0) == [], "the success row replaced the failure row"
    assert db.rows("SELECT f FROM m") == [("add",), ("add",)], "GO 2 ran its batch twice"

    third = make_run(db, files, manifest=gate_manifest())
    third.preflight()
    third.execute()
    assert [r.status for r in third.results] == ["skipped", "skipped"] and not third.changed


def test_changed_one_time_file_is_refused_and_strict_refuses_resume():
    db = SqliteDb()
    files = {"K2_D509Lab.sql": ONE_TIME}
    run = make_run(db, files, manifest=gate_manifest())
    run.preflight()
    run.execute()
    assert run.results[0].applied == [1, 2]
    strict = make_run(db, files, manifest=gate_manifest(), strict=True)
    assert "strict mode refuses" in strict.preflight()
    changed = make_run(db, {"K2_D509Lab.sql": ONE_TIME.replace("VALUES (3)", "VALUES (4)")}, manifest=gate_manifest())
    assert "must never run twice" in changed.preflight() and changed.results[0].status == "refused"


def test_additional_runs_once_per_run_id_and_continue_on_error_goes_on():
    db = SqliteDb()
    files = {"K2_D508LabAdditional.sql": FAILING_ADDITIONAL, "K2_D509LabAdditional.sql": ADDITIONAL}
    run = make_run(db, files, continue_on_error=True)
    run.preflight()
    run.execute()
    assert [r.status for r in run.results] == [convert.FAILED, convert.APPLIED] and run.stopped is None
    stops = make_run(db, files, run_id="r2")
    stops.preflight()
    stops.execute()
    assert [r.status for r in stops.results] == [convert.FAILED, convert.PENDING] and "batch 1" in stops.stopped
    again = make_run(db, {"K2_D509LabAdditional.sql": ADDITIONAL}, run_id="r1")
    again.preflight()
    assert again.results[0].status == "skipped"
    assert db.rows("SELECT COUNT(*) FROM m") == [(2,)]
    new_run = make_run(db, {"K2_D509LabAdditional.sql": ADDITIONAL}, run_id="r3")
    new_run.preflight()
    new_run.execute()
    assert db.rows("SELECT COUNT(*) FROM m") == [(4,)]


def test_check_mode_plan_runs_nothing_and_reports_batches():
    db = SqliteDb()
    run = make_run(db, {"K2_D509Lab.sql": ONE_TIME, "K2_D509LabAdditional.sql": ADDITIONAL}, manifest=gate_manifest())
    run.preflight()
    report = run.as_dict()
    assert [(f["file"], f["batches"], f["status"], f["run"]) for f in report["files"]] == [
        ("K2_D509Lab.sql", 4, "would run", [1, 2, 3, 4]), ("K2_D509LabAdditional.sql", 2, "would run", [1, 2])]
    assert report["files"][0]["backup"] == "/b/x.dump"
    assert db.executed == [] and db.rows("SELECT name FROM sqlite_master") == []


class RecordingOracle:
    def __init__(self):
        self.calls = []

    def query(self, sql, params=()):
        return [{"found": 0}] if "user_tables" in sql else []

    def execute(self, sql, params=(), dont_exec=False):
        self.calls.append((sql, params))
        return 1

    @contextmanager
    def transaction(self):
        raise AssertionError("Oracle batches go in one PL/SQL call, not a client transaction")


def test_oracle_sends_batch_and_journal_row_in_one_call():
    db = RecordingOracle()
    script = "CREATE TABLE t (a NUMBER);\nBEGIN\n  INSERT INTO t VALUES (1);\nEND;\n/\n"
    run = convert.DatabaseRun(db, "oracle", FIRMA, [parse_name("K2_D509OraAdditional.sql")], opener({"K2_D509OraAdditional.sql": script}),
                              {"run_id": "r1"})
    run.preflight()
    run.execute()
    create, *batches = db.calls
    assert "CREATE TABLE" in create[0] and len(batches) == 2
    block, binds = batches[1]
    assert binds["batch_text"] == "BEGIN\n  INSERT INTO t VALUES (1);\nEND;" and binds["repeat"] == 1
    assert binds["file_name"] == "K2_D509OraAdditional.sql" and binds["run_scope"] == "r1" and binds["success"] == 1
    assert block.index("EXECUTE IMMEDIATE :batch_text") < block.index("DELETE FROM") < block.index("INSERT INTO") < block.index("COMMIT")
    names = {token.text.lower() for token in sqlglot.tokenize(block, read="oracle") if token.token_type.name == "VAR"}
    assert {c.lower() for c in journal.ENTRY_COLUMNS} <= names


def test_error_line_adds_the_servers_line_inside_the_batch():
    assert convert.error_line(10, 'ERROR: syntax error at or near "x"\nLINE 3: foo') == 12
    assert convert.error_line(10, "ORA-06512: at line 2") == 11
    assert convert.error_line(10, "Invalid object name 'x'.") == 10


def test_targets_include_demo_and_init_and_refuse_unknown_names():
    mandants = [{"code": "DEMO", "database": "K2_DEMO", "role": "system"}, {"code": "INIT", "database": "K2_INIT", "role": "system"},
                {"code": "FIRMA", "database": "K2_FIRMA", "role": "production"}]
    assert [t["code"] for t in convert.targets("K2_CONF", mandants)] == ["CONF", "DEMO", "INIT", "FIRMA"]
    assert [t["code"] for t in convert.targets("K2_CONF", mandants, ["k2_firma", "conf"])] == ["CONF", "FIRMA"]
    with pytest.raises(ValueError, match="NOPE"):
        convert.targets("K2_CONF", mandants, ["nope"])


def test_a_one_time_file_for_a_version_the_database_has_is_refused_whatever_the_journal_says():
    db = SqliteDb()
    files = {"K2_D509Lab.sql": ONE_TIME, "K2_D509LabAdditional.sql": ADDITIONAL}
    at_target = dict(FIRMA, version="ori.09")
    run = make_run(db, files, target=at_target, manifest=gate_manifest(), konverze_token="{generation}{release:02d}")
    reason = run.preflight()
    assert "K2_D509Lab.sql is a one-time conversion to version 509, and the database is already at ori.09" in reason
    assert [r.status for r in run.results] == ["refused", convert.PENDING] and db.executed == []
    # A database still on the old version runs it; without a token format the guard is off.
    assert make_run(db, files, target=dict(FIRMA, version="gaia.12.3"), manifest=gate_manifest(),
                    konverze_token="{generation}{release:02d}").preflight() is None
    assert make_run(db, files, target=at_target, manifest=gate_manifest(), konverze_token="").preflight() is None


def test_installer_baseline_records_every_planned_batch_and_a_later_run_skips_them():
    db = SqliteDb()
    files = {"K2_D509Lab.sql": ONE_TIME.replace("INSERT INTO fix VALUES (2)", "INSERT INTO t VALUES (2)"),
             "K2_D509LabAdditional.sql": ADDITIONAL}
    dry = make_run(db, files)
    dry.baseline(check_mode=True)
    assert [r.status for r in dry.results] == ["would record", "would record"] and db.executed == []
    run = make_run(db, files)
    run.baseline()
    assert [r.status for r in run.results] == ["recorded (installer)"] * 2 and run.changed
    assert journal_rows(db) == [("K2_D509Lab.sql", 1, "ONCE"), ("K2_D509Lab.sql", 2, "ONCE"), ("K2_D509Lab.sql", 3, "ONCE"),
                                ("K2_D509Lab.sql", 4, "ONCE"), ("K2_D509LabAdditional.sql", 1, "r1"), ("K2_D509LabAdditional.sql", 2, "r1")]
    assert db.rows('SELECT DISTINCT "MESSAGE" FROM "%s"' % journal.DEFAULT_TABLE) == [("applied by the K2 installer (baseline of run r1)",)]
    assert not db.rows("SELECT name FROM sqlite_master WHERE name = 't'"), "the baseline ran no batch"
    again = make_run(db, files, manifest=gate_manifest())
    assert again.preflight() is None and [r.status for r in again.results] == ["skipped", "skipped"]
    # The next reinstall (another run id) skips the one-time file and runs the Additional file.
    later = make_run(db, files, manifest=gate_manifest("r2"), run_id="r2")
    later.preflight()
    assert [r.status for r in later.results] == ["skipped", "would run"]


def test_progress_is_told_per_database_and_file():
    lines = []
    run = make_run(SqliteDb(), {"K2_D509LabAdditional.sql": ADDITIONAL})
    run.progress = lines.append
    run.preflight()
    run.execute()
    assert lines == ["K2_FIRMA: 1 file(s), 2 batch(es) to run", "K2_FIRMA: K2_D509LabAdditional.sql applied, 2 of 2 batches"]


class _Slots:
    """A server with ``limit`` slots, counting how many are held at once."""

    def __init__(self, limit=None, refuse=None):
        self.limit = limit
        self.refuse = refuse
        self.held = []
        self.most = 0

    @contextmanager
    def hold(self, operation, database):
        assert operation == "conversion"
        if self.refuse == database:
            raise RuntimeError("no slot on the database server within 60 s")
        self.held.append(database)
        self.most = max(self.most, len(self.held))
        try:
            yield {"waited_seconds": 2.5, "token": "t"}
        finally:
            self.held.remove(database)


def test_execute_alone_holds_a_slot_and_records_times_and_the_wait():
    slots = _Slots(limit=1)
    run = make_run(SqliteDb(), {"K2_D509LabAdditional.sql": ADDITIONAL})
    run.preflight()
    convert.execute_alone(run, slots)
    done = run.as_dict()
    assert done["stopped"] is None and done["files"][0]["status"] == convert.APPLIED and slots.held == [] and slots.most == 1
    assert done["slot_wait_seconds"] == 2.5 and done["started_at"] <= done["finished_at"]
    unlimited = make_run(SqliteDb(), {"K2_D509LabAdditional.sql": ADDITIONAL})
    unlimited.preflight()
    convert.execute_alone(unlimited, _Slots())
    assert unlimited.as_dict()["slot_wait_seconds"] is None


def test_execute_alone_keeps_one_databases_failure_to_itself():
    class Broken(SqliteDb):
        def execute(self, sql, params=(), dont_exec=False):
            if sql.startswith("CREATE TABLE IF NOT EXISTS"):
                raise OSError("connection reset by peer")
            return super().execute(sql, params, dont_exec)

    lines = []
    broken = make_run(Broken(), {"K2_D509LabAdditional.sql": ADDITIONAL}, target={"code": "B", "database": "K2_B", "role": "production"})
    refused = make_run(SqliteDb(), {"K2_D509LabAdditional.sql": ADDITIONAL}, target={"code": "C", "database": "K2_C", "role": "production"})
    fine = make_run(SqliteDb(), {"K2_D509LabAdditional.sql": ADDITIONAL})
    for run in (broken, refused, fine):
        run.progress = lines.append
        run.preflight()
    slots = _Slots(limit=2, refuse="K2_C")
    for run in (broken, refused, fine):
        convert.execute_alone(run, slots)
    assert broken.stopped == "K2_B: connection reset by peer" and broken.as_dict()["files"][0]["status"] == convert.PENDING
    assert refused.stopped == "K2_C: no slot on the database server within 60 s" and refused.started_at is None
    assert refused.as_dict()["files"][0]["status"] == convert.PENDING
    assert fine.stopped is None and fine.as_dict()["files"][0]["status"] == convert.APPLIED
    assert "K2_B: stopped: connection reset by peer" in lines and slots.held == []
