# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conversion journal: what ran, with checksums, and the one-time guard.

Flyway's model (versioned scripts run once with a checksum, repeatable scripts may
run again, a changed checksum is refused) without Flyway's hole (history written
on a second connection, flyway issue #1411): the runner writes a batch's success
row **in the batch's own transaction**, so "a success row exists" means "the batch
committed". Where the engine commits DDL by itself (Oracle) the runner sends the
row in the same server call right after the batch, which leaves only the window
inside that one call.

Table (name from the profile, default ``ERPOPS_CONVERSION_JOURNAL``), one row per
batch application, key ``(FILE_NAME, RUN_SCOPE, FILE_CHECKSUM, BATCH_INDEX)``:

* one-time files use ``RUN_SCOPE = 'ONCE'``. A second success row for the same
  batch violates the key, so even a racing second runner cannot apply a one-time
  batch twice: its insert fails and its transaction rolls back.
* Additional files are repeatable: ``RUN_SCOPE`` is the reinstall run's id, so a
  file runs once per run, and a run that is resumed (same run id) does not repeat
  the batches it already applied; the next reinstall (new run id) runs it again.
  The file checksum is part of the key so that an Additional file changed in the
  middle of a run simply runs whole.

A failed batch rolls back, so its failure row (``SUCCESS = 0``, with the server's
message) is written afterwards on its own; the success row of a later retry first
deletes that failure row, in the batch transaction. Decisions only count success
rows.

SQL text uses ``?`` placeholders on MS SQL and the lab (pyodbc) and named ones
(``:file_name``...) on Oracle (oracledb binds a sequence to them by position);
``ENTRY_COLUMNS`` and ``KEY_COLUMNS`` give the parameter order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal

DEFAULT_TABLE = "ERPOPS_CONVERSION_JOURNAL"
ONE_TIME_SCOPE = "ONCE"

SKIP = "skip"
RUN = "run"
RESUME = "resume"
REFUSE = "refuse"

#: (column, MS SQL type, Oracle type, lab type)
_COLUMNS = (
    ("FILE_NAME", "nvarchar(260) NOT NULL", "VARCHAR2(260 CHAR) NOT NULL", "varchar(260) NOT NULL"),
    ("RUN_SCOPE", "nvarchar(64) NOT NULL", "VARCHAR2(64 CHAR) NOT NULL", "varchar(64) NOT NULL"),
    ("FILE_CHECKSUM", "char(64) NOT NULL", "CHAR(64) NOT NULL", "char(64) NOT NULL"),
    ("BATCH_INDEX", "int NOT NULL", "NUMBER(10) NOT NULL", "integer NOT NULL"),
    ("BATCH_CHECKSUM", "char(64) NOT NULL", "CHAR(64) NOT NULL", "char(64) NOT NULL"),
    ("RUN_ID", "nvarchar(64) NOT NULL", "VARCHAR2(64 CHAR) NOT NULL", "varchar(64) NOT NULL"),
    ("K2_VERSION", "nvarchar(64) NULL", "VARCHAR2(64 CHAR) NULL", "varchar(64) NULL"),
    ("ONE_TIME", "bit NOT NULL", "NUMBER(1) NOT NULL", "smallint NOT NULL"),
    ("SUCCESS", "bit NOT NULL", "NUMBER(1) NOT NULL", "smallint NOT NULL"),
    ("DURATION_MS", "bigint NULL", "NUMBER(19) NULL", "bigint NULL"),
    ("MESSAGE", "nvarchar(4000) NULL", "VARCHAR2(4000 CHAR) NULL", "varchar(4000) NULL"),
    ("APPLIED_AT", "datetime2 NOT NULL", "TIMESTAMP NOT NULL", "timestamp NOT NULL"),
)
KEY_COLUMNS = ("FILE_NAME", "RUN_SCOPE", "FILE_CHECKSUM", "BATCH_INDEX")
#: Columns the runner binds, in this order; APPLIED_AT is the server's UTC time.
ENTRY_COLUMNS = tuple(column[0] for column in _COLUMNS[:-1])
#: Columns ``select_file`` returns, in this order.
ROW_COLUMNS = tuple(column[0] for column in _COLUMNS)
_NOW = {"mssql": "SYSUTCDATETIME()", "oracle": "SYS_EXTRACT_UTC(SYSTIMESTAMP)", "lab": "(now() AT TIME ZONE 'UTC')"}
_TYPE_COLUMN = {"mssql": 1, "oracle": 2, "lab": 3}


@dataclass(frozen=True)
class JournalRow:
    """One journal row, as the runner writes it and reads it back."""

    file_name: str
    run_scope: str
    file_checksum: str
    batch_index: int
    batch_checksum: str
    run_id: str
    k2_version: Optional[str]
    one_time: bool
    success: bool
    duration_ms: Optional[int] = None
    message: Optional[str] = None
    applied_at: object = None

    def params(self) -> Tuple[object, ...]:
        """Bind values for ``JournalSql.insert`` (order of ``ENTRY_COLUMNS``)."""
        return (self.file_name, self.run_scope, self.file_checksum, self.batch_index, self.batch_checksum, self.run_id,
                self.k2_version, int(self.one_time), int(self.success), self.duration_ms, self.message)

    @classmethod
    def from_db(cls, values: Sequence[object]) -> "JournalRow":
        """Build a row from a ``select_file`` result row (order of ``ROW_COLUMNS``)."""
        (file_name, scope, file_sum, index, batch_sum, run_id, version, one_time, success, duration, message,
         applied_at) = values
        return cls(str(file_name), str(scope).strip(), str(file_sum).strip(), int(index), str(batch_sum).strip(),
                   str(run_id), version, bool(one_time), bool(success), duration, message, applied_at)


def run_scope(one_time: bool, run_id: str) -> str:
    """The ``RUN_SCOPE`` of a file's rows."""
    return ONE_TIME_SCOPE if one_time else run_id


class JournalSql:
    """SQL text for the journal table in one dialect."""

    def __init__(self, dialect: str, table: str = DEFAULT_TABLE, schema: Optional[str] = None) -> None:
        if dialect not in _TYPE_COLUMN:
            raise ValueError("unknown SQL dialect %r" % dialect)
        self.dialect = dialect
        self.table_name = table
        self.table = (quote_ident(dialect, schema) + "." if schema else "") + quote_ident(dialect, table)

    def _q(self, column: str) -> str:
        return quote_ident(self.dialect, column)

    def _marks(self, columns: Sequence[str]) -> List[str]:
        if self.dialect == "oracle":
            return [":" + column.lower() for column in columns]
        return ["?"] * len(columns)

    def table_ddl(self) -> str:
        """The bare ``CREATE TABLE`` statement."""
        index = _TYPE_COLUMN[self.dialect]
        columns = ["%s %s" % (self._q(column[0]), column[index]) for column in _COLUMNS]
        key = "CONSTRAINT %s PRIMARY KEY (%s)" % (
            self._q(("PK_" + self.table_name)[:30]), ", ".join(self._q(column) for column in KEY_COLUMNS))
        return "CREATE TABLE %s (%s, %s)" % (self.table, ", ".join(columns), key)

    def create_table(self) -> str:
        """Create the table when it is missing (safe to run every time)."""
        if self.dialect == "mssql":
            return "IF OBJECT_ID(%s, N'U') IS NULL %s" % (quote_literal("mssql", self.table), self.table_ddl())
        if self.dialect == "oracle":
            # ORA-00955: name is already used by an existing object.
            return ("BEGIN EXECUTE IMMEDIATE %s; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 THEN RAISE; END IF; END;"
                    % quote_literal("oracle", self.table_ddl()))
        return self.table_ddl().replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)

    def select_file(self) -> str:
        """All rows of one file (bind: file name), oldest first."""
        return "SELECT %s FROM %s WHERE %s = %s ORDER BY %s, %s" % (
            ", ".join(self._q(column) for column in ROW_COLUMNS), self.table, self._q("FILE_NAME"), self._marks(["FILE_NAME"])[0],
            self._q("APPLIED_AT"), self._q("BATCH_INDEX"))

    def delete_failure(self) -> str:
        """Drop the failure row of a batch before its success row (bind: the key columns)."""
        conditions = ["%s = %s" % (self._q(column), mark) for column, mark in zip(KEY_COLUMNS, self._marks(KEY_COLUMNS))]
        return "DELETE FROM %s WHERE %s AND %s = 0" % (self.table, " AND ".join(conditions), self._q("SUCCESS"))

    def insert(self) -> str:
        """Insert one row (bind: ``JournalRow.params()``); a second success row of a batch violates the key."""
        return "INSERT INTO %s (%s) VALUES (%s)" % (
            self.table, ", ".join(self._q(column) for column in ROW_COLUMNS),
            ", ".join(self._marks(ENTRY_COLUMNS) + [_NOW[self.dialect]]))


@dataclass(frozen=True)
class Decision:
    """What to do with one file: ``action`` is skip, run, resume or refuse."""

    action: str
    run: Tuple[int, ...] = ()
    skipped: Tuple[int, ...] = ()
    message: str = ""

    @property
    def start(self) -> Optional[int]:
        return self.run[0] if self.run else None


def _ranges(indexes: Sequence[int]) -> str:
    parts: List[Tuple[int, int]] = []
    for index in sorted(indexes):
        if parts and parts[-1][1] == index - 1:
            parts[-1] = (parts[-1][0], index)
        else:
            parts.append((index, index))
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in parts)


def decide(file_name: str, batches: Sequence[Tuple[int, str]], file_checksum: str, one_time: bool,
           rows: Sequence[JournalRow], strict: bool = False, run_id: Optional[str] = None) -> Decision:
    """Decide what to do with a file from its journal rows.

    ``batches``: (index, checksum) of every batch of the file as it is now.
    ``rows``: the journal rows of the file (any scope; failures are ignored).
    ``run_id``: the reinstall run's id, required for Additional files.
    """
    if not one_time and not run_id:
        raise ValueError("Additional file %s: a run id is needed to tell this run's journal rows apart" % file_name)
    scope = run_scope(one_time, run_id or "")
    applied = [row for row in rows if row.success and row.run_scope == scope and row.file_name == file_name]
    if not one_time:
        applied = [row for row in applied if row.file_checksum == file_checksum]
    all_indexes = tuple(batch[0] for batch in batches)
    if not applied:
        return Decision(RUN, run=all_indexes, message="%s: no batch applied yet, runs from batch 1" % file_name)

    if one_time:
        changed = sorted({row.file_checksum for row in applied if row.file_checksum != file_checksum})
        if changed:
            versions = sorted({row.k2_version or "?" for row in applied})
            return Decision(REFUSE, message=(
                "%s: one-time conversion already applied (batches %s, K2 version %s) with checksum %s, but the file now "
                "has checksum %s. A one-time conversion must never run twice; find out why the file changed (K2 support), "
                "or restore the database from the backup taken before the conversion (K2-16)."
                % (file_name, _ranges([row.batch_index for row in applied]), ", ".join(versions), ", ".join(changed),
                   file_checksum)))
    current = dict(batches)
    mismatched = sorted(row.batch_index for row in applied if current.get(row.batch_index) != row.batch_checksum)
    if mismatched:
        return Decision(REFUSE, message=(
            "%s: the journal's batches %s do not match the file's batches (same file checksum, different batch "
            "checksums or batches missing); the journal or the file is damaged" % (file_name, _ranges(mismatched))))

    done = {row.batch_index for row in applied}
    pending = tuple(index for index in all_indexes if index not in done)
    skipped = tuple(index for index in all_indexes if index in done)
    if not pending:
        return Decision(SKIP, skipped=skipped, message="%s: all %d batches already applied" % (file_name, len(skipped)))
    holes = [index for index in pending if index < max(done)]
    if one_time and holes:
        return Decision(REFUSE, message=(
            "%s: the journal shows batches %s applied but not batches %s; a one-time conversion stops at its first "
            "error, so the journal is inconsistent. Check the database, or restore it from backup (K2-16)."
            % (file_name, _ranges(sorted(done)), _ranges(holes))))
    if strict:
        return Decision(REFUSE, skipped=skipped, message=(
            "%s: partially applied (batches %s done, %s pending) and strict mode refuses to resume; restore the "
            "database from backup (K2-16) or run without strict mode to resume at batch %d"
            % (file_name, _ranges(skipped), _ranges(pending), pending[0])))
    return Decision(RESUME, run=pending, skipped=skipped, message=(
        "%s: resumes at batch %d, skipping applied batches %s" % (file_name, pending[0], _ranges(skipped))))
