# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of K2's databases (runbook K2-05, K2-15, K2-16): the manifest, freshness, space, SQL.

Pure: no I/O. ``k2_backup`` takes and restores the backups, ``k2_convert`` reads the
manifest for its backup gate.

**Manifest**: a JSON file, one per site, ``{"format": 1, "entries": [...]}``, one
entry per attempt, in the order taken; the attempts of one call (backups run in parallel) in the
order planned: CONF, then the mandants as ``FIRMY`` lists them. Every entry has these fields:

- ``database``: the exact database name (on Oracle the schema), never altered;
- ``code``: the mandant code of ``FIRMY``, or ``CONF``;
- ``platform``: ``mssql``, ``oracle`` or ``lab``;
- ``file``: where the backup is: a path on the database server (MS SQL), ``DIRECTORY:file``
  (Oracle Data Pump), a path where the module runs (lab). Unique in the manifest: an entry
  whose file another entry already claims is refused (``add_entry``);
- ``size``: bytes of the file (MS SQL: the backup set's size from ``msdb``), or null;
- ``checksum``: SHA-256 of the file where the module can read it (the lab), else null;
- ``checksum_kind``: ``sha256`` or ``server-verified`` (MS SQL backup checksums, Oracle Data Pump);
- ``taken_at``: UTC, ISO 8601 (to the millisecond), when the backup started (after it got its slot on the database server);
- ``finished_at``: UTC, ISO 8601 (to the millisecond), when the backup and its verification ended (passed or failed), or null
  while it runs; entries written before this field existed have none;
- ``slot_wait_seconds``: how long the backup waited for a slot on the database server (``server_slots``), or null
  when the server has no limit;
- ``k2_version``: the K2 version the database said it had (``K2VERZE``), or null;
- ``position``: ``before_check`` or ``after_check`` (before or after the structure check, K2-08 / K2-15);
- ``run_id``: the reinstall run that took it, or null;
- ``verified``: true only when the verification of ``verification`` passed; a failed attempt
  stays in the manifest with false and the reason in ``message``; only verified entries count;
- ``verification``: the level passed (``VERIFICATION_LEVELS``): ``lab-restore-compare`` (restored into a
  scratch database and compared table by table with the source as dumped), ``mssql-verifyonly``
  (``BACKUP ... WITH CHECKSUM`` + ``RESTORE VERIFYONLY ... WITH CHECKSUM``), ``mssql-test-restore``
  (plus a restore under another name and ``DBCC CHECKDB``), ``oracle-job`` (the Data Pump job
  completed and a ``SQL_FILE`` job read the whole dump), ``oracle-test-import`` (plus an import into a
  scratch schema); null when not verified;
- ``fingerprint``: lab only: per table (``schema.table``) the columns, row count and an MD5 of the
  rows, taken in the same snapshot as the dump; null elsewhere;
- ``message``: why an attempt failed, or null.

**Freshness**: an entry can be reused for a request when it is verified, of the
same database, taken at the requested position or later in the run
(``after_check`` satisfies ``before_check``, not the reverse), in the same run when
the request names one, and not older than ``max_age`` seconds. The module then checks
the file again (checksum on the lab, ``RESTORE VERIFYONLY`` on MS SQL, a ``SQL_FILE`` read
on Oracle) before reusing it: a damaged file is never reused.

**Backup gate** (K2-15): a one-time conversion needs a verified entry of its
database taken ``after_check`` in the same run, or the entry the manifest's ``guards`` name
for the run (``{"run_id", "databases": {name: {file, position, taken_at, why}}}``): the first
backup after the users were logged off, of a database the structure step changed nothing in.

**Restore** returns each database to exactly its state at backup time, never a merge:
MS SQL ``RESTORE DATABASE ... WITH REPLACE`` replaces the whole database; Oracle empties the
schema (every object it owns dropped, ``oracle_empty_schema``) and then imports the dump;
the lab restores into a fresh database and swaps names (``lab_swap_sql``), so the old
database stays untouched until the new one is complete. The conversion journal lives in
each database, so it goes back in time with the data.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal

MANIFEST_FORMAT = 1
POSITIONS = ("before_check", "after_check")
PLATFORMS = ("mssql", "oracle", "lab")
DEFAULT_SPACE_MARGIN = 1.1
EXTENSIONS = {"mssql": ".bak", "oracle": ".dmp", "lab": ".dump"}
_SAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_READABLE_LENGTH = 40
VERIFICATION_LEVELS = ("lab-restore-compare", "mssql-verifyonly", "mssql-test-restore", "oracle-job", "oracle-test-import")


#: Backups of one site at a time. A backup reads the data files and writes one stream to the target; on the database
#: server of a typical K2 customer (4 to 8 cores, one data volume, one backup volume) four streams fill the backup
#: volume's sequential bandwidth while half the cores stay free for the server, and the many small databases (DEMO,
#: INIT, small mandants: their fixed cost of verification is most of their time) finish alongside the large ones.
DEFAULT_PARALLEL = 4


class BackupError(ValueError):
    """A backup or restore that must not go on; the message says why and what to do."""


class BackupFailed(BackupError):
    """Some databases' backups failed; ``result`` holds the others' (kept and reported), ``not_backed_up`` the failed ones."""

    def __init__(self, message: str, result: Mapping[str, Any], not_backed_up: Sequence[str]) -> None:
        super().__init__(message)
        self.result = dict(result)
        self.not_backed_up = list(not_backed_up)


def failed_backups_message(failed: Sequence[Mapping[str, Any]], backed_up: Sequence[str]) -> str:
    """One message for the databases whose backup failed, each with its reason, and those backed up."""
    return ("backup failed for %d database(s): %s. Backed up and verified: %s. A failed attempt stays in the manifest with "
            "verified=false; the backups taken stay valid"
            % (len(failed), "; ".join("%s: %s" % (e["database"], e.get("message")) for e in failed), ", ".join(backed_up) or "none"))


# --------------------------------------------------------------------------- manifest


def utc_text(moment: datetime, timespec: str = "seconds") -> str:
    if moment.tzinfo is None:
        raise ValueError("a time without a zone cannot go into the manifest")
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec)


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def empty_manifest() -> Dict[str, Any]:
    return {"format": MANIFEST_FORMAT, "entries": []}


def load_manifest(text: Optional[str]) -> Dict[str, Any]:
    """The manifest from its JSON text; an empty or missing file is an empty manifest."""
    if text is None or not text.strip():
        return empty_manifest()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BackupError("the backup manifest is not valid JSON (%s); it is not overwritten, fix or move it" % exc) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("entries"), list):
        raise BackupError("the backup manifest is not a format %d manifest ({\"format\": 1, \"entries\": [...]})" % MANIFEST_FORMAT)
    return data


def dump_manifest(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def new_entry(database: str, code: str, platform: str, file: str, position: str, run_id: Optional[str], taken_at: datetime,
              k2_version: Optional[str] = None) -> Dict[str, Any]:
    """An entry for an attempt that has not succeeded yet (``verified`` false)."""
    if position not in POSITIONS:
        raise ValueError("position must be one of %s, got %r" % (", ".join(POSITIONS), position))
    return {"database": database, "code": code, "platform": platform, "file": file, "size": None, "checksum": None,
            "checksum_kind": "sha256" if platform == "lab" else "server-verified", "taken_at": utc_text(taken_at, "milliseconds"),
            "finished_at": None, "slot_wait_seconds": None, "k2_version": k2_version, "position": position, "run_id": run_id,
            "verified": False, "verification": None, "fingerprint": None, "message": None}


def _same_file(one: str, other: str, platform: str) -> bool:
    """Windows paths (MS SQL) and Oracle DIRECTORY names compare without case."""
    if platform == "lab":
        return one == other
    return one.casefold() == other.casefold()


def add_entry(manifest: Dict[str, Any], entry: Dict[str, Any]) -> None:
    """Append ``entry``; refused when another entry already claims its file (one file, one backup)."""
    for other in manifest["entries"]:
        if other.get("file") and _same_file(other["file"], entry["file"], entry.get("platform", "lab")):
            raise BackupError("the manifest already has a backup in %s (of %s, taken %s); a second backup into the same file "
                              "would overwrite it; nothing was written" % (entry["file"], other.get("database"), other.get("taken_at")))
    manifest["entries"].append(entry)


def database_entries(entries: Iterable[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """The entries of database backups; entries of ``kind: folder`` (the K2 folder, ``folder_backup``) are not."""
    return [e for e in entries if e.get("kind", "database") == "database"]


def _rank(position: str) -> int:
    return POSITIONS.index(position) if position in POSITIONS else -1


def reusable(entry: Mapping[str, Any], database: str, position: str, max_age: Optional[float], now: datetime,
             run_id: Optional[str] = None) -> bool:
    """Whether ``entry`` is a fresh verified backup of ``database`` for this request (see the module doc)."""
    if not entry.get("verified") or entry.get("database") != database:
        return False
    if _rank(entry.get("position", "")) < _rank(position):
        return False
    if run_id is not None and entry.get("run_id") != run_id:
        return False
    if max_age is None:
        return False
    age = (now - parse_time(entry["taken_at"])).total_seconds()
    return -60 <= age <= max_age  # a minute of clock skew between hosts is tolerated


def latest(entries: Iterable[Mapping[str, Any]], database: str, predicate=None) -> Optional[Mapping[str, Any]]:
    """The newest verified entry of ``database`` that satisfies ``predicate`` (if given)."""
    found = [e for e in database_entries(entries) if e.get("verified") and e.get("database") == database and (predicate is None or predicate(e))]
    return max(found, key=lambda e: parse_time(e["taken_at"])) if found else None


def fresh_backup(manifest: Mapping[str, Any], database: str, position: str, max_age: Optional[float], now: datetime,
                 run_id: Optional[str] = None) -> Optional[Mapping[str, Any]]:
    return latest(manifest["entries"], database, lambda e: reusable(e, database, position, max_age, now, run_id))


def gate_backup(manifest: Mapping[str, Any], database: str, run_id: str) -> Optional[Mapping[str, Any]]:
    """The backup that lets a one-time conversion run on ``database`` in run ``run_id`` (K2-15), or None.

    The manifest's ``guards`` (written from the run state, ``window.backup_guards``) name it for the run: the backup after
    the structure step, or the first backup of a database the structure step changed nothing in. Without guards of
    this run, only a backup ``after_check`` of the run counts.
    """
    guards = manifest.get("guards") or {}
    guard = (guards.get("databases") or {}).get(database) if guards.get("run_id") == run_id else None
    if guard:
        named = latest(manifest["entries"], database, lambda e: e.get("file") == guard.get("file") and e.get("run_id") == run_id)
        if named is not None:
            return named
    return latest(manifest["entries"], database, lambda e: e.get("position") == "after_check" and e.get("run_id") == run_id)


def restore_choice(manifest: Mapping[str, Any], databases: Optional[Sequence[str]] = None,
                   run_id: Optional[str] = None) -> List[Mapping[str, Any]]:
    """The newest verified entry per database (of ``run_id`` when given), in manifest order of first appearance.

    Without ``databases``: every database with a verified backup (in ``run_id`` when given).
    """
    names: List[str] = []
    for entry in database_entries(manifest["entries"]):
        if not entry.get("verified") or (run_id and entry.get("run_id") != run_id):
            continue
        if entry.get("database") not in names:
            names.append(entry["database"])
    wanted = names if databases is None else list(databases)
    chosen: List[Mapping[str, Any]] = []
    missing: List[str] = []
    for name in wanted:
        entry = latest(manifest["entries"], name, (lambda e: e.get("run_id") == run_id) if run_id else None)
        if entry is None:
            missing.append(name)
        else:
            chosen.append(entry)
    if missing:
        raise BackupError("the manifest holds no verified backup of %s%s; nothing was restored"
                          % (", ".join(missing), " in run %s" % run_id if run_id else ""))
    return chosen


def restore_advice(run_id: Optional[str], not_restored: Sequence[str], host: Optional[str] = None) -> str:
    """What to do after a restore stopped part-way: the exact command for the databases not restored."""
    names = json.dumps({"k2_restore_databases": list(not_restored)}, ensure_ascii=False)
    return ("keep the login ban on; bring the database server back, then restore the databases not restored: "
            "ansible-playbook erpops.upgrade.k2_restore%s%s -e '%s' "
            "(or the same restore for every database: restoring a restored database again is safe while the ban is on)"
            % (" --limit %s" % host if host else "", " -e k2_restore_run_id=%s" % run_id if run_id else "",
               names.replace("'", "'\\''")))


def partial_restore_message(stopped_at: str, error: str, restored: Sequence[str], not_restored: Sequence[str],
                            run_id: Optional[str], host: Optional[str] = None) -> str:
    return ("restore stopped at %s: %s. Restored to their backup state: %s. NOT restored: %s. Next: %s"
            % (stopped_at, error, ", ".join(restored) or "none", ", ".join(not_restored), restore_advice(run_id, not_restored, host)))


# --------------------------------------------------------------------------- planning


def name_hash(database: str) -> str:
    """A short hash of the exact name: tells apart names that differ only where a file name cannot (``a'b``, ``a]b``)."""
    return hashlib.sha256(database.encode("utf-8")).hexdigest()[:10]


def backup_file_name(database: str, platform: str, taken_at: datetime, run_id: Optional[str] = None,
                     position: Optional[str] = None) -> str:
    """``<readable name>_<hash of the exact name>_<UTC stamp to the millisecond>[_<position>][_<run id>].<ext>``, file-name-safe.

    The readable part is for people; the hash makes the name unique per exact database name,
    the stamp, position and run per backup.
    """
    moment = taken_at.astimezone(timezone.utc)
    stamp = moment.strftime("%Y%m%dT%H%M%S") + "%03dZ" % (moment.microsecond // 1000)
    readable = _SAFE_FILE_CHARS.sub("_", database)[:_READABLE_LENGTH]
    parts = [readable, name_hash(database), stamp] + ([position.split("_")[0]] if position else []) + ([run_id] if run_id else [])
    return _SAFE_FILE_CHARS.sub("_", "_".join(parts)) + EXTENSIONS[platform]


def join_target(target_dir: str, name: str) -> str:
    """A path in ``target_dir`` with the separator the directory already uses (Windows paths on MS SQL)."""
    separator = "\\" if "\\" in target_dir or re.match(r"^[A-Za-z]:", target_dir) else "/"
    return target_dir.rstrip("\\/") + separator + name


def space_needed(sizes: Mapping[str, int], margin: float = DEFAULT_SPACE_MARGIN) -> int:
    """Bytes to have free for backups of databases of ``sizes`` bytes: their sum times ``margin`` (uncompressed, worst case)."""
    if margin < 1:
        raise ValueError("space_margin must be at least 1, got %r" % margin)
    return int(sum(int(size or 0) for size in sizes.values()) * margin)


def check_space(needed: int, free: Optional[int], where: str) -> Optional[str]:
    """None when ``free`` covers ``needed``; a refusal message otherwise. ``free`` None: unknown (not refused)."""
    if free is None or free >= needed:
        return None
    return ("not enough free space in %s: the backups need about %s (database sizes with the margin), %s are free; "
            "free space or choose another target" % (where, human_bytes(needed), human_bytes(free)))


def human_bytes(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return ("%d %s" % (size, unit)) if unit == "B" else ("%.1f %s" % (size, unit))
        size /= 1024
    return str(value)  # pragma: no cover


def select_databases(conf_database: str, mandants: Sequence[Mapping[str, str]], names: Optional[Sequence[str]] = None,
                     exclude: Sequence[str] = (), roles: Optional[Sequence[str]] = None) -> List[Dict[str, str]]:
    """What to back up: every database the reinstall converts (CONF and every mandant of FIRMY: production,
    DEMO, INIT and test copies, as ``k2_convert`` does), or exactly ``names``; minus ``exclude``.

    ``names`` and ``exclude`` hold mandant codes, ``CONF`` or database names (any case); ``roles``
    limits the default choice (``k2_copy_databases`` copies only ``conf`` and ``production``).
    """
    everything = [{"code": "CONF", "database": conf_database, "role": "conf"}]
    everything += [{"code": m["code"], "database": m["database"], "role": m["role"]} for m in mandants if m.get("database")]

    def find(wanted: Sequence[str]) -> List[Dict[str, str]]:
        found: List[Dict[str, str]] = []
        unknown: List[str] = []
        for name in wanted:
            exact = [d for d in everything if name in (d["code"], d["database"])]
            match = exact or [d for d in everything if name.upper() in (d["code"].upper(), d["database"].upper())]
            if not match:
                unknown.append(name)
            elif match[0] not in found:
                found.append(match[0])
        if unknown:
            raise BackupError("databases %s are neither CONF nor a mandant of FIRMY (codes: %s)"
                              % (", ".join(unknown), ", ".join(d["code"] for d in everything)))
        return found

    chosen = [d for d in everything if roles is None or d["role"] in roles] if names is None else find(names)
    left_out = find(exclude)
    return [d for d in chosen if d not in left_out]


def excluded_databases(conf_database: str, mandants: Sequence[Mapping[str, str]], exclude: Sequence[str]) -> List[Dict[str, str]]:
    """The databases ``exclude`` leaves out of the backup, for the result and its warning."""
    everything = select_databases(conf_database, mandants)
    kept = select_databases(conf_database, mandants, exclude=exclude)
    return [d for d in everything if d not in kept]


# --------------------------------------------------------------------------- MS SQL


def mssql_backup_sql(database: str, path: str, compression: bool) -> str:
    """A copy-only full backup (it leaves the customer's backup chain alone) with page checksums."""
    options = ["COPY_ONLY", "CHECKSUM", "INIT", "FORMAT"] + (["COMPRESSION"] if compression else [])
    return "BACKUP DATABASE %s TO DISK = %s WITH %s" % (
        quote_ident("mssql", database), quote_literal("mssql", path), ", ".join(options))


def mssql_verify_sql(path: str) -> str:
    return "RESTORE VERIFYONLY FROM DISK = %s WITH CHECKSUM" % quote_literal("mssql", path)


def mssql_restore_sql(database: str, path: str) -> str:
    """The whole database replaced by the backup's: nothing created after the backup survives."""
    return "RESTORE DATABASE %s FROM DISK = %s WITH REPLACE, CHECKSUM, RECOVERY" % (
        quote_ident("mssql", database), quote_literal("mssql", path))


def mssql_filelist_sql(path: str) -> str:
    """The logical and physical files of a backup (``LogicalName``, ``PhysicalName``), for a test restore WITH MOVE."""
    return "RESTORE FILELISTONLY FROM DISK = %s" % quote_literal("mssql", path)


def mssql_checkdb_sql(database: str) -> str:
    """DBCC CHECKDB of a test restore; any corruption is an error (dbatools Test-DbaLastBackup)."""
    return "DBCC CHECKDB (%s) WITH NO_INFOMSGS, ALL_ERRORMSGS" % quote_ident("mssql", database)


SCRATCH_PREFIX = "ERPOPS_VERIFY_"
#: Token of the scratch copy that holds a database as it was before a restore swapped it out (the lab's restore).
REPLACED_TOKEN = "o"


def scratch_name(database: str, token: str, limit: int = 63) -> str:
    """A database (schema) name for a test restore of ``database``: never a name a site uses.

    Tokens: 8 hex for a verification, ``r`` + 8 hex for a restore's fresh copy, ``o`` + 8 hex for the database a
    restore swapped out.
    """
    return ("%s%s_%s" % (SCRATCH_PREFIX, name_hash(database), token))[:limit]


def leftover_scratch(names: Iterable[str], database: str) -> Tuple[List[str], List[str]]:
    """The scratch copies of ``database`` among the server's ``names``: (to drop, to keep).

    Verification copies and a restore's fresh copy are dropped at the next backup or restore of ``database``
    (a lost server or a killed job left them). A swapped-out database is kept and named: it holds the data a
    restore replaced. Oracle schema names are upper case; they match as well.
    """
    prefix = (SCRATCH_PREFIX + name_hash(database) + "_").upper()
    drop, keep = [], []
    for name in names:
        if not name.upper().startswith(prefix):
            continue
        (keep if name[len(prefix):].lower().startswith(REPLACED_TOKEN) else drop).append(name)
    return sorted(drop), sorted(keep)


#: Every scratch copy on the server (the caller keeps those of one database, ``leftover_scratch``).
SCRATCH_LIST_SQL = {
    "lab": "SELECT datname AS name FROM pg_catalog.pg_database WHERE datname LIKE 'ERPOPS\\_VERIFY\\_%'",
    "mssql": "SELECT name FROM sys.databases WHERE name LIKE N'ERPOPS[_]VERIFY[_]%'",
    "oracle": "SELECT username AS name FROM all_users WHERE username LIKE 'ERPOPS\\_VERIFY\\_%' ESCAPE '\\'",
}


#: Data file size of a database (bytes): an upper bound of a full backup's size.
MSSQL_SIZE_SQL = "SELECT SUM(CAST(size AS bigint)) * 8192 AS bytes FROM sys.master_files WHERE database_id = DB_ID(?) AND type = 0"
#: EngineEdition 4 is Express, which cannot compress backups.
MSSQL_EDITION_SQL = "SELECT CAST(SERVERPROPERTY('EngineEdition') AS int) AS edition"
#: Free megabytes per fixed drive of the server.
MSSQL_FREE_SQL = "EXEC master.sys.xp_fixeddrives"
#: Size of the last backup written to a file, from msdb.
MSSQL_BACKUP_SIZE_SQL = ("SELECT TOP 1 s.compressed_backup_size AS bytes, s.has_backup_checksums AS checksums "
                         "FROM msdb.dbo.backupset s JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = s.media_set_id "
                         "WHERE s.database_name = ? AND f.physical_device_name = ? ORDER BY s.backup_finish_date DESC")
MSSQL_CONNECTED_SQL = ("SELECT COUNT(*) AS sessions FROM sys.dm_exec_sessions WHERE database_id = DB_ID(?) "
                       "AND is_user_process = 1 AND session_id <> @@SPID")


def mssql_mkdir_sql(path: str) -> str:
    """Creates the target folder as the server's service account; fails when the server cannot write there."""
    return "EXEC master.sys.xp_create_subdir %s" % quote_literal("mssql", path)


def mssql_free_bytes(rows: Sequence[Mapping[str, Any]], target_dir: str) -> Optional[int]:
    """Free bytes of the target's drive from ``xp_fixeddrives`` rows (``drive``, ``MB free``); None for UNC paths."""
    match = re.match(r"^([A-Za-z]):", target_dir)
    if not match:
        return None
    for row in rows:
        values = list(row.values())
        if str(values[0]).strip().upper() == match.group(1).upper():
            return int(values[1]) * 1024 * 1024
    return None


# --------------------------------------------------------------------------- Oracle

_ORACLE_JOB = """\
DECLARE
  handle NUMBER;
  job_state VARCHAR2(30);
BEGIN
  handle := DBMS_DATAPUMP.OPEN(operation => %(operation)s, job_mode => 'SCHEMA', job_name => :job_name);
  DBMS_DATAPUMP.ADD_FILE(handle => handle, filename => :dump_file, directory => :directory,
                         filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_DUMP_FILE%(reuse)s);
  DBMS_DATAPUMP.ADD_FILE(handle => handle, filename => :log_file, directory => :directory,
                         filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_LOG_FILE, reusefile => 1);%(extra)s
  DBMS_DATAPUMP.METADATA_FILTER(handle => handle, name => 'SCHEMA_EXPR', value => :schema_expr);
  DBMS_DATAPUMP.START_JOB(handle);
  DBMS_DATAPUMP.WAIT_FOR_JOB(handle, job_state);
  IF job_state <> 'COMPLETED' THEN
    RAISE_APPLICATION_ERROR(-20001, 'Data Pump job ' || :job_name || ' ended in state ' || job_state);
  END IF;
END;"""


def _oracle_binds(schema: str, directory: str, dump_file: str, job_name: str) -> Dict[str, str]:
    return {"job_name": job_name[:128], "dump_file": dump_file, "log_file": re.sub(r"\.dmp$", "", dump_file) + "_" + job_name[:20] + ".log",
            "directory": directory, "schema_expr": "IN (%s)" % quote_literal("oracle", schema)}


def oracle_export(schema: str, directory: str, dump_file: str, job_name: str):
    """(PL/SQL, binds): a Data Pump schema export of ``schema`` into the DIRECTORY object ``directory``."""
    sql = _ORACLE_JOB % {"operation": "'EXPORT'", "reuse": ", reusefile => 1", "extra": ""}
    return sql, _oracle_binds(schema, directory, dump_file, job_name)


def oracle_verify(schema: str, directory: str, dump_file: str, job_name: str):
    """A ``SQL_FILE`` job: reads the whole dump and writes its DDL to a file, importing nothing."""
    sql = _ORACLE_JOB % {"operation": "'SQL_FILE'", "reuse": "", "extra": (
        "\n  DBMS_DATAPUMP.ADD_FILE(handle => handle, filename => :sql_file, directory => :directory,"
        "\n                         filetype => DBMS_DATAPUMP.KU$_FILE_TYPE_SQL_FILE, reusefile => 1);")}
    binds = _oracle_binds(schema, directory, dump_file, job_name)
    binds["sql_file"] = re.sub(r"\.dmp$", "", dump_file) + "_verify.sql"
    return sql, binds


def oracle_import(schema: str, directory: str, dump_file: str, job_name: str):
    """A Data Pump schema import into the schema ``oracle_empty_schema`` has just emptied (K2-16).

    The user itself (password, grants, quotas) stays as it is; every object comes from the dump,
    and any object that already exists fails the job (``TABLE_EXISTS_ACTION`` SKIP is the default
    and the schema is empty), so nothing created after the export survives.
    """
    sql = _ORACLE_JOB % {"operation": "'IMPORT'", "reuse": "", "extra": (
        "\n  DBMS_DATAPUMP.METADATA_FILTER(handle => handle, name => 'EXCLUDE_PATH_EXPR', value => 'IN (''USER'')');")}
    return sql, _oracle_binds(schema, directory, dump_file, job_name)


#: Drops every object the schema (bind ``:owner``) owns, so that an import gives exactly the exported state.
#: Tables go with their indexes, triggers, LOBs and constraints (PURGE: nothing left in the recycle bin).
ORACLE_EMPTY_SCHEMA_SQL = """\
DECLARE
  remaining NUMBER;
BEGIN
  FOR item IN (SELECT object_name, object_type FROM all_objects
               WHERE owner = :owner AND generated = 'N' AND secondary = 'N'
                 AND object_type IN ('MATERIALIZED VIEW', 'TABLE', 'VIEW', 'SEQUENCE', 'SYNONYM', 'PROCEDURE', 'FUNCTION',
                                     'PACKAGE', 'TRIGGER', 'TYPE', 'JAVA SOURCE')
               ORDER BY DECODE(object_type, 'MATERIALIZED VIEW', 1, 'TABLE', 2, 'TYPE', 4, 3)) LOOP
    BEGIN
      EXECUTE IMMEDIATE 'DROP ' || item.object_type || ' '
        || DBMS_ASSERT.ENQUOTE_NAME(:owner, FALSE) || '.' || DBMS_ASSERT.ENQUOTE_NAME(item.object_name, FALSE)
        || CASE item.object_type WHEN 'TABLE' THEN ' CASCADE CONSTRAINTS PURGE' WHEN 'TYPE' THEN ' FORCE' ELSE '' END;
    EXCEPTION
      WHEN OTHERS THEN
        -- ORA-04043 / ORA-00942: already gone with its table (a trigger, a nested table)
        IF SQLCODE NOT IN (-4043, -942) THEN RAISE; END IF;
    END;
  END LOOP;
  SELECT COUNT(*) INTO remaining FROM all_objects WHERE owner = :owner AND generated = 'N' AND secondary = 'N'
    AND object_type NOT IN ('INDEX', 'LOB', 'TABLE PARTITION', 'INDEX PARTITION');
  IF remaining > 0 THEN
    RAISE_APPLICATION_ERROR(-20002, 'schema ' || :owner || ' still owns ' || remaining || ' object(s); not imported');
  END IF;
END;"""


def oracle_import_as(schema: str, new_schema: str, directory: str, dump_file: str, job_name: str):
    """A Data Pump import of ``schema``'s export under the name ``new_schema`` (REMAP_SCHEMA): a copy, used by k2_copy_databases."""
    sql = _ORACLE_JOB % {"operation": "'IMPORT'", "reuse": "", "extra": (
        "\n  DBMS_DATAPUMP.METADATA_REMAP(handle => handle, name => 'REMAP_SCHEMA', old_value => :old_schema, value => :new_schema);")}
    binds = _oracle_binds(schema, directory, dump_file, job_name)
    binds.update(old_schema=schema, new_schema=new_schema)
    return sql, binds


#: Size of a file in a DIRECTORY object (bind: directory, file); -1 when it does not exist.
ORACLE_FILE_SIZE_SQL = """\
DECLARE
  file_exists BOOLEAN;
  file_length NUMBER;
  block_size BINARY_INTEGER;
BEGIN
  UTL_FILE.FGETATTR(:directory, :file_name, file_exists, file_length, block_size);
  :file_size := CASE WHEN file_exists THEN file_length ELSE -1 END;
END;"""
ORACLE_SIZE_SQL = "SELECT NVL(SUM(bytes), 0) AS bytes FROM dba_segments WHERE owner = :owner"
ORACLE_DIRECTORY_SQL = "SELECT directory_path FROM all_directories WHERE directory_name = :directory"
ORACLE_CONNECTED_SQL = ("SELECT COUNT(*) AS sessions FROM gv$session WHERE username = :owner AND type = 'USER' "
                        "AND NOT (sid = TO_NUMBER(SYS_CONTEXT('USERENV', 'SID')) AND inst_id = TO_NUMBER(SYS_CONTEXT('USERENV', 'INSTANCE')))")


# --------------------------------------------------------------------------- lab (PostgreSQL)

LAB_SIZE_SQL = "SELECT pg_database_size(?) AS bytes"
LAB_CONNECTED_SQL = ("SELECT COUNT(*) AS sessions FROM pg_catalog.pg_stat_activity WHERE datname = ? "
                     "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")


#: Seconds between attempts when a database is still "being accessed by other users" (a closed connection's backend exiting).
BUSY_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0)
#: The lab's maintenance database: where databases are created, renamed and dropped.
LAB_MAINTENANCE_DATABASE = "postgres"
#: Encoding, collation and owner of a database, to create its replacement alike.
LAB_DATABASE_PROPERTIES_SQL = ("SELECT pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collate, d.datctype AS ctype, "
                               "pg_get_userbyid(d.datdba) AS owner FROM pg_catalog.pg_database d WHERE d.datname = ?")
#: Every user table of the database, with its columns and types in order: the structure part of the fingerprint.
LAB_TABLES_SQL = """\
SELECT n.nspname AS schema_name, c.relname AS table_name,
       string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) AS columns
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
GROUP BY n.nspname, c.relname
ORDER BY n.nspname, c.relname"""


def lab_table_fingerprint_sql(schema: str, table: str) -> str:
    """Row count and an MD5 over the sorted MD5s of the rows' text: independent of the physical order."""
    return ("SELECT count(*) AS row_count, md5(coalesce(string_agg(md5(r::text), '' ORDER BY md5(r::text)), '')) AS checksum "
            "FROM %s.%s AS r" % (quote_ident("lab", schema), quote_ident("lab", table)))


def fingerprint_from_rows(tables: Sequence[Mapping[str, Any]], counts: Mapping[str, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """``{"schema.table": {"columns", "rows", "checksum"}}`` from ``LAB_TABLES_SQL`` rows and each table's fingerprint row."""
    result: Dict[str, Dict[str, Any]] = {}
    for row in tables:
        key = "%s.%s" % (row["schema_name"], row["table_name"])
        counted = counts[key]
        result[key] = {"columns": row["columns"], "rows": int(counted["row_count"]), "checksum": counted["checksum"]}
    return result


def compare_fingerprints(source: Mapping[str, Mapping[str, Any]], restored: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """What differs between the source as dumped and the restored copy; empty when they are the same."""
    problems = ["table %s is missing from the restored copy" % name for name in sorted(set(source) - set(restored))]
    problems += ["table %s is in the restored copy but not in the source" % name for name in sorted(set(restored) - set(source))]
    for name in sorted(set(source) & set(restored)):
        for part in ("columns", "rows", "checksum"):
            if source[name][part] != restored[name][part]:
                problems.append("table %s: %s differ (source %s, restored %s)" % (name, part, source[name][part], restored[name][part]))
    return problems


def lab_conninfo(params: Mapping[str, Any], database: str) -> str:
    """A libpq connection string with every value quoted: a database name is always a name, even with ``=``, spaces or quotes."""
    def value(text: Any) -> str:
        return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"
    parts = [("host", params.get("login_host") or "localhost"), ("port", params.get("login_port") or 5432), ("dbname", database)]
    if params.get("login_user"):
        parts.append(("user", params["login_user"]))
    return " ".join("%s=%s" % (key, value(text)) for key, text in parts)


def _lab_connection_args(params: Mapping[str, Any], database: str) -> List[str]:
    return ["--dbname", lab_conninfo(params, database), "--no-password"]


def lab_dump_argv(pg_dump: str, params: Mapping[str, Any], database: str, path: Optional[str] = None,
                  snapshot: Optional[str] = None) -> List[str]:
    """pg_dump in the custom format into ``path`` (the module hashes the file as soon as pg_dump ends, so a file damaged
    later never matches), in ``snapshot`` when given. The password goes in PGPASSWORD (``lab_env``), never on the
    command line."""
    return [pg_dump, "--format=custom"] + (["--file", path] if path else []) + (["--snapshot", snapshot] if snapshot else []) + \
        _lab_connection_args(params, database)


def lab_verify_argv(pg_restore: str, path: str) -> List[str]:
    """pg_restore --list reads the archive's table of contents: a truncated or foreign file fails (a first, cheap check)."""
    return [pg_restore, "--list", path]


def lab_restore_argv(pg_restore: str, params: Mapping[str, Any], database: str, path: str) -> List[str]:
    """Restore the archive into ``database``, a fresh empty database, all or nothing; owners and grants as dumped."""
    return [pg_restore, "--single-transaction", "--exit-on-error"] + _lab_connection_args(params, database) + [path]


def lab_create_sql(database: str, properties: Optional[Mapping[str, Any]] = None) -> str:
    """An empty database from template0, with the encoding, collation and owner of the one it replaces."""
    sql = "CREATE DATABASE %s TEMPLATE template0" % quote_ident("lab", database)
    if properties:
        sql += " ENCODING %s LC_COLLATE %s LC_CTYPE %s OWNER %s" % (
            quote_literal("lab", properties["encoding"]), quote_literal("lab", properties["collate"]),
            quote_literal("lab", properties["ctype"]), quote_ident("lab", properties["owner"]))
    return sql


def lab_swap_sql(database: str, fresh: str, old: Optional[str]) -> List[str]:
    """One transaction: the restored ``fresh`` database takes the name ``database``; the replaced one becomes ``old``."""
    statements = ["ALTER DATABASE %s RENAME TO %s" % (quote_ident("lab", database), quote_ident("lab", old))] if old else []
    return statements + ["ALTER DATABASE %s RENAME TO %s" % (quote_ident("lab", fresh), quote_ident("lab", database))]


def lab_drop_sql(database: str) -> str:
    return "DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident("lab", database)


def lab_env(params: Mapping[str, Any], base: Mapping[str, str]) -> Dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("PG")}
    if params.get("login_password"):
        env["PGPASSWORD"] = str(params["login_password"])
    env["PGCONNECT_TIMEOUT"] = str(params.get("connect_timeout") or 15)
    if str(params.get("login_host") or "").startswith("/") or not params.get("tls", True):
        env["PGSSLMODE"] = "disable"
    elif params.get("tls_trust_server_certificate"):
        env["PGSSLMODE"] = "require"
    else:
        env["PGSSLMODE"] = "verify-full"
    return env


def size_sql(platform: str):
    return {"mssql": MSSQL_SIZE_SQL, "oracle": ORACLE_SIZE_SQL, "lab": LAB_SIZE_SQL}[platform]


def connected_sql(platform: str):
    return {"mssql": MSSQL_CONNECTED_SQL, "oracle": ORACLE_CONNECTED_SQL, "lab": LAB_CONNECTED_SQL}[platform]


def bind(platform: str, **values: Any):
    """Bind values: a dict for Oracle's named binds, a tuple in the given order for ``?`` placeholders."""
    return dict((k, v) for k, v in values.items()) if platform == "oracle" else tuple(values.values())
