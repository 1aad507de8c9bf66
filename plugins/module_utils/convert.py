# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One conversion run of ``SQL/konverze/`` over the databases of a site (runbook K2-12, K2-15).

No I/O of its own: scripts come in as callables that open a text stream, the
database is any object with the ``db.base.Database`` interface (``query``,
``execute``, ``transaction``), and the backup manifest is a dict. The action plugin
``k2_convert`` supplies them.

Per database, in the order of ``conversions.select_conversions``:

1. read the file's journal rows and split the file once for its checksums
   (``batches.summarize``, constant memory);
2. ``journal.decide``: skip, run, resume or refuse;
3. a one-time file that would run needs the backup gate (``backup.gate_backup``)
   unless ``force_without_backup``;
4. run the batches the decision names, streaming the file again. MS SQL and the
   lab: one transaction per batch holding the batch (``GO n``: n times) and its
   journal row, so the row exists exactly when the batch committed. Oracle: the
   batch and its journal row go in one anonymous PL/SQL block (one server call):
   Oracle commits DDL by itself, so a batch holding DDL followed by a lost
   connection before the block's end is the one window left;
5. on an error: the transaction rolls back, a failure row is written on its own,
   a line goes to ``sql_inst.log`` (file, batch, line, server message); a one-time
   file stops the database; an Additional file stops it too unless
   ``continue_on_error``.

Every file a database stops on leaves the database's remaining files ``pending``.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, IO, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as backup_core
from ansible_collections.erpops.upgrade.plugins.module_utils import journal
from ansible_collections.erpops.upgrade.plugins.module_utils.conversions import DB_CONF, ConversionFile, one_time_guard
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import batches as batch_core

#: Roles whose databases need a backup before a one-time conversion: CONF and production mandants.
#: DEMO and INIT are recreated, never restored (K2-05, K2-08); test copies are copies of a backed-up original.
GATED_ROLES = ("conf", "production")

APPLIED = "applied"
FAILED = "failed"
PENDING = "pending"
GATED = "refused: no backup"
#: Company databases converted at a time. Conversions are many short transactions, each committed to the log: on
#: the database server of a typical K2 customer (4 to 8 cores) four sessions keep it busy without starving it,
#: the same number as backups (``backup.DEFAULT_PARALLEL``), so that one setting reasons about both.
DEFAULT_PARALLEL = 4

# Server messages that carry a line inside the batch: SQL Server "Line 3", Oracle "at line 3", PostgreSQL "LINE 3:".
_SERVER_LINE = re.compile(r"\b(?:line|LINE)\s+(\d+)")


def table_exists_sql(dialect: str, table: str):
    """(SQL, binds) answering one row whose first value is truthy when the journal table exists."""
    if dialect == "mssql":
        return "SELECT CASE WHEN OBJECT_ID(?, N'U') IS NULL THEN 0 ELSE 1 END AS found", (quote_ident("mssql", table),)
    if dialect == "oracle":
        return "SELECT COUNT(*) AS found FROM user_tables WHERE table_name = :table_name", {"table_name": table}
    return "SELECT CASE WHEN to_regclass(?) IS NULL THEN 0 ELSE 1 END AS found", (quote_ident("lab", table),)


def oracle_batch_block(sql: journal.JournalSql) -> str:
    """The one PL/SQL call that runs a batch ``:repeat`` times and records it (binds: ``oracle_batch_binds``)."""
    return ("BEGIN\n  FOR i IN 1 .. :repeat LOOP\n    EXECUTE IMMEDIATE :batch_text;\n  END LOOP;\n  %s;\n  %s;\n  COMMIT;\nEND;"
            % (sql.delete_failure(), sql.insert()))


def oracle_batch_binds(text: str, count: int, row: journal.JournalRow) -> Dict[str, Any]:
    binds = {"repeat": count, "batch_text": text}
    binds.update(zip((c.lower() for c in journal.ENTRY_COLUMNS), row.params()))
    return binds


def key_params(dialect: str, row: journal.JournalRow):
    values = (row.file_name, row.run_scope, row.file_checksum, row.batch_index)
    return dict(zip((c.lower() for c in journal.KEY_COLUMNS), values)) if dialect == "oracle" else values


def entry_params(dialect: str, row: journal.JournalRow):
    return dict(zip((c.lower() for c in journal.ENTRY_COLUMNS), row.params())) if dialect == "oracle" else row.params()


def error_line(batch_line: int, message: str) -> int:
    """The file line of an error: the batch's first line, plus the line the server names inside the batch."""
    match = _SERVER_LINE.search(message or "")
    return batch_line + int(match.group(1)) - 1 if match and int(match.group(1)) >= 1 else batch_line


def log_line(when: datetime, database: str, file_name: str, batch: int, line: int, message: str) -> str:
    """One ``sql_inst.log`` line, in the installer's spirit: where it failed and what the server said."""
    return "%s  %s  %s  batch %d, line %d: %s" % (
        when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"), database, file_name, batch, line,
        " ".join(str(message).split()))


class FileResult:
    """What happened to one file in one database (also what check mode reports)."""

    def __init__(self, item: ConversionFile, batches: int, checksum: str, decision: journal.Decision) -> None:
        self.item = item
        self.batches = batches
        self.checksum = checksum
        self.decision = decision
        self.status = PENDING
        self.applied: List[int] = []
        self.error: Optional[Dict[str, Any]] = None
        self.backup: Optional[str] = None
        self.forced = False
        self.batch_sums: List[tuple] = []

    def as_dict(self) -> Dict[str, Any]:
        return {"file": self.item.name, "one_time": self.item.one_time, "action": self.decision.action, "batches": self.batches,
                "checksum": self.checksum, "run": list(self.decision.run), "skipped": list(self.decision.skipped),
                "message": self.decision.message, "status": self.status, "applied": self.applied, "error": self.error,
                "backup": self.backup, "forced_without_backup": self.forced}


class DatabaseRun:
    """Converts one database: the steps of the module doc."""

    def __init__(self, db, dialect: str, target: Mapping[str, str], files: Sequence[ConversionFile],
                 open_file: Callable[[str], IO[str]], settings: Mapping[str, Any], manifest: Optional[Mapping[str, Any]] = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.db = db
        self.dialect = dialect
        self.target = target
        self.files = files
        self.open_file = open_file
        self.settings = settings
        self.manifest = manifest or backup_core.empty_manifest()
        self.clock = clock
        self.sql = journal.JournalSql(dialect, settings.get("journal_table") or journal.DEFAULT_TABLE)
        self.results: List[FileResult] = []
        self.log: List[str] = []
        self.warnings: List[str] = []
        self.stopped: Optional[str] = None
        self.changed = False
        #: when the database's conversions started and ended (UTC), and how long they waited for a server slot
        self.started_at: Optional[str] = None
        self.finished_at: Optional[str] = None
        self.slot_wait_seconds: Optional[float] = None
        #: called with one line of progress after each file (the action plugin shows it while the run goes on)
        self.progress: Callable[[str], None] = lambda text: None

    # -- planning -----------------------------------------------------------
    def _rows(self, name: str) -> List[journal.JournalRow]:
        return [journal.JournalRow.from_db(list(row.values())) for row in self.db.query(self.sql.select_file(), self._file_bind(name))]

    def _file_bind(self, name: str):
        return {"file_name": name} if self.dialect == "oracle" else (name,)

    def _journal_exists(self) -> bool:
        sql, binds = table_exists_sql(self.dialect, self.sql.table_name)
        rows = self.db.query(sql, binds)
        return bool(rows and int(list(rows[0].values())[0]))

    def plan(self) -> List[FileResult]:
        exists = self._journal_exists()
        for item in self.files:
            with self.open_file(item.name) as stream:
                summary = batch_core.summarize(stream, self.dialect)
            rows = self._rows(item.name) if exists else []
            decision = journal.decide(item.name, [(b.index, b.checksum) for b in summary.batches], summary.checksum, item.one_time,
                                      rows, strict=bool(self.settings.get("strict")), run_id=self.settings["run_id"])
            result = FileResult(item, len(summary.batches), summary.checksum, decision)
            result.batch_sums = [(b.index, b.checksum) for b in summary.batches]
            self.results.append(result)
        return self.results

    def baseline(self, check_mode: bool = False) -> None:
        """Record every planned batch as applied by the K2 installer of this run, running nothing.

        For a database the installer brought to the target version: its conversions ran there, so ``k2_convert`` must
        never run them again. Rows carry the run id and say who applied them.
        """
        if not self.results:
            self.plan()
        note = "applied by the K2 installer (baseline of run %s)" % self.settings["run_id"]
        for result in self.results:
            if result.decision.action not in (journal.RUN, journal.RESUME):
                result.status = "skipped"
                continue
            if check_mode:
                result.status = "would record"
                continue
            self._ensure_journal()
            scope = journal.run_scope(result.item.one_time, self.settings["run_id"])
            sums = dict(result.batch_sums)
            with self.db.transaction():
                for index in result.decision.run:
                    row = journal.JournalRow(result.item.name, scope, result.checksum, index, sums[index], self.settings["run_id"],
                                             self.settings.get("k2_version"), result.item.one_time, True, None, note)
                    self.db.execute(self.sql.delete_failure(), key_params(self.dialect, row))
                    self.db.execute(self.sql.insert(), entry_params(self.dialect, row))
            result.applied = list(result.decision.run)
            result.status = "recorded (installer)"
            self.changed = True

    def _already_at_version(self, result: FileResult) -> bool:
        """The second guard: a one-time file for a version the database already has never runs, journal or not."""
        reason = one_time_guard(result.item, self.target.get("version"), self.settings.get("konverze_token") or "")
        if reason:
            result.decision = journal.Decision(journal.REFUSE, message=reason)
        return bool(reason)

    def _gate(self, result: FileResult) -> bool:
        """True when the one-time file may run (a gate backup exists, the role needs none, or forced)."""
        if self.target["role"] not in GATED_ROLES:
            return True
        entry = backup_core.gate_backup(self.manifest, self.target["database"], self.settings["run_id"])
        if entry is not None:
            result.backup = entry.get("file")
            return True
        if self.settings.get("force_without_backup"):
            result.forced = True
            self.warnings.append("FORCED WITHOUT BACKUP: one-time conversion %s runs on %s with no verified backup taken after the "
                                 "structure check of run %s; if it fails there is nothing to restore (K2-15, K2-16)"
                                 % (result.item.name, self.target["database"], self.settings["run_id"]))
            return True
        return False

    # -- running ------------------------------------------------------------
    def preflight(self) -> Optional[str]:
        """Decide every file without running anything; the reason this database cannot go on, if any."""
        if not self.results:
            self.plan()
        for result in self.results:
            action = result.decision.action
            if self.stopped:
                result.status = PENDING
            elif action == journal.SKIP:
                result.status = "skipped"
            elif action == journal.REFUSE:
                result.status = "refused"
                self.stopped = "%s: %s" % (self.target["database"], result.decision.message)
            elif self._already_at_version(result):
                result.status = "refused"
                self.stopped = "%s: %s" % (self.target["database"], result.decision.message)
            elif result.item.one_time and not self._gate(result):
                result.status = GATED
                self.stopped = ("%s: one-time conversion %s needs a verified backup of the database taken after the structure "
                                "check of run %s (k2_backup position=after_check run_id=%s); the manifest has none. "
                                "force_without_backup=true overrides this, loudly."
                                % (self.target["database"], result.item.name, self.settings["run_id"], self.settings["run_id"]))
            else:
                result.status = "would run"
        return self.stopped

    def execute(self) -> None:
        """Run the files ``preflight`` let through, stopping as the module doc says."""
        due = [result for result in self.results if result.status == "would run"]
        if due:
            self.progress("%s: %d file(s), %d batch(es) to run" % (self.target["database"], len(due), sum(len(r.decision.run) for r in due)))
        for result in self.results:
            if result.status != "would run":
                continue
            if self.stopped:
                result.status = PENDING
            else:
                self._run_file(result)
                self.progress("%s: %s %s, %d of %d batches%s" % (
                    self.target["database"], result.item.name, result.status, len(result.applied), len(result.decision.run),
                    " (error at batch %d)" % result.error["batch"] if result.error else ""))

    def _ensure_journal(self) -> None:
        self.db.execute(self.sql.create_table())

    def _run_file(self, result: FileResult) -> None:
        self._ensure_journal()
        wanted = set(result.decision.run)
        scope = journal.run_scope(result.item.one_time, self.settings["run_id"])
        with self.open_file(result.item.name) as stream:
            for batch in batch_core.split_batches(stream, self.dialect):
                if batch.index not in wanted:
                    continue
                started = time.monotonic()
                row = journal.JournalRow(result.item.name, scope, result.checksum, batch.index, batch.checksum,
                                         self.settings["run_id"], self.settings.get("k2_version"), result.item.one_time, True)
                try:
                    self._apply(batch, row, started)
                except Exception as exc:  # pylint: disable=broad-except
                    # Whatever the driver raised, the batch did not commit: record it, log it, stop this file.
                    self._failed(result, batch, row, exc)
                    return
                result.applied.append(batch.index)
                self.changed = True
        result.status = APPLIED

    def _apply(self, batch: batch_core.Batch, row: journal.JournalRow, started: float) -> None:
        if self.dialect == "oracle":
            row = _with_duration(row, started)
            self.db.execute(oracle_batch_block(self.sql), oracle_batch_binds(batch.text, batch.count, row))
            return
        with self.db.transaction():
            for _repeat in range(batch.count):
                self.db.execute(batch.text)
            row = _with_duration(row, started)
            self.db.execute(self.sql.delete_failure(), key_params(self.dialect, row))
            self.db.execute(self.sql.insert(), entry_params(self.dialect, row))

    def _failed(self, result: FileResult, batch: batch_core.Batch, row: journal.JournalRow, exc: BaseException) -> None:
        message = str(exc)
        line = error_line(batch.line, message)
        result.status = FAILED
        result.error = {"batch": batch.index, "line": line, "message": message}
        self.log.append(log_line(self.clock(), self.target["database"], result.item.name, batch.index, line, message))
        failure = journal.JournalRow(row.file_name, row.run_scope, row.file_checksum, row.batch_index, row.batch_checksum, row.run_id,
                                     row.k2_version, row.one_time, False, None, message[:4000])
        try:
            self.db.execute(self.sql.delete_failure(), key_params(self.dialect, failure))
            self.db.execute(self.sql.insert(), entry_params(self.dialect, failure))
        except Exception as record_exc:  # pylint: disable=broad-except
            # A dead connection cannot take the failure row; the log line and the missing success row say enough.
            self.warnings.append("%s: the failure of %s batch %d could not be journaled: %s"
                                 % (self.target["database"], result.item.name, batch.index, record_exc))
        if result.item.one_time or not self.settings.get("continue_on_error"):
            self.stopped = "%s: %s failed at batch %d (line %d): %s" % (self.target["database"], result.item.name, batch.index, line, message)

    def as_dict(self) -> Dict[str, Any]:
        return {"database": self.target["database"], "code": self.target["code"], "role": self.target["role"],
                "kind": DB_CONF if self.target["code"] == "CONF" else "company", "files": [r.as_dict() for r in self.results],
                "changed": self.changed, "stopped": self.stopped, "started_at": self.started_at, "finished_at": self.finished_at,
                "slot_wait_seconds": self.slot_wait_seconds}


def execute_alone(run: "DatabaseRun", slots: Any) -> None:
    """``run.execute()`` holding a slot of the database server (``server_slots.Slots``), its failure its own.

    Whatever one database raises (no slot within the wait, a connection lost before its first batch) stops that
    database only, with the reason in ``stopped``; the other databases' runs and results are untouched.
    """
    database = run.target["database"]
    try:
        with slots.hold("conversion", database) as held:
            run.slot_wait_seconds = held["waited_seconds"] if slots.limit else None
            run.started_at = run.clock().isoformat(timespec="seconds")
            try:
                run.execute()
            finally:
                run.finished_at = run.clock().isoformat(timespec="seconds")
    except Exception as exc:  # pylint: disable=broad-except  # one database's failure must not hide the others' results
        run.stopped = run.stopped or "%s: %s" % (database, exc)
        for result in run.results:
            if result.status == "would run":
                result.status = PENDING
        run.progress("%s: stopped: %s" % (database, exc))


def _with_duration(row: journal.JournalRow, started: float) -> journal.JournalRow:
    return journal.JournalRow(row.file_name, row.run_scope, row.file_checksum, row.batch_index, row.batch_checksum, row.run_id,
                              row.k2_version, row.one_time, row.success, int((time.monotonic() - started) * 1000), row.message)


def targets(conf_database: str, mandants: Sequence[Mapping[str, str]], names: Optional[Sequence[str]] = None) -> List[Dict[str, str]]:
    """Every database the installer converts: CONF and every mandant of FIRMY, INIT and DEMO included; or those named."""
    everything = [{"code": "CONF", "database": conf_database, "role": "conf"}]
    everything += [{"code": m["code"], "database": m["database"], "role": m["role"]} for m in mandants if m.get("database")]
    if names is None:
        return everything
    wanted = {name.upper() for name in names}
    chosen = [t for t in everything if t["code"].upper() in wanted or t["database"].upper() in wanted]
    found = {t["code"].upper() for t in chosen} | {t["database"].upper() for t in chosen}
    unknown = sorted(wanted - found)
    if unknown:
        raise ValueError("databases %s are neither CONF nor a mandant of FIRMY" % ", ".join(unknown))
    return chosen


def summary(runs: Sequence[DatabaseRun]) -> str:
    """One line per database that stopped; empty when all went through."""
    return "; ".join(run.stopped for run in runs if run.stopped)
