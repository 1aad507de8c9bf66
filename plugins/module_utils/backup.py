# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backups of K2's databases (RUNBOOK K2-05, K2-15, K2-16): the manifest, freshness, space, SQL.

Pure: no I/O. ``k2_backup`` takes and restores the backups, ``k2_convert`` reads the
manifest for its backup gate.

**Manifest** (JSON, one file per site, kept by the caller): ``{"format": 1,
"entries": [...]}``; one entry per attempt with ``database``, ``code`` (mandant code
or ``CONF``), ``platform``, ``file``, ``size``, ``checksum`` (SHA-256 of the file
when the runner can read it: the lab; ``None`` where the file lives on the database
server and the server verified it: MS SQL ``CHECKSUM`` + ``RESTORE VERIFYONLY``,
Oracle a Data Pump ``SQL_FILE`` read of the whole dump), ``checksum_kind``,
``taken_at`` (UTC ISO 8601), ``k2_version`` (of the database), ``position``
(``before_check`` or ``after_check``: before or after the structure checks of the
run, K2-08 / K2-15), ``run_id``, ``verified`` and ``message``. A failed attempt is
recorded with ``verified: false``; only verified entries count for anyone.

**Freshness**: an entry can be reused for a request when it is verified, of the
same database, taken at the requested position or later in the run
(``after_check`` satisfies ``before_check``, not the reverse), in the same run when
the request names one, and not older than ``max_age`` seconds.

**Backup gate** (K2-15): a one-time conversion needs a verified entry of its
database taken ``after_check`` in the same run.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal

MANIFEST_FORMAT = 1
POSITIONS = ("before_check", "after_check")
PLATFORMS = ("mssql", "oracle", "lab")
DEFAULT_SPACE_MARGIN = 1.1
_EXTENSIONS = {"mssql": ".bak", "oracle": ".dmp", "lab": ".dump"}
_SAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


class BackupError(ValueError):
    """A backup or restore that must not go on; the message says why and what to do."""


# --------------------------------------------------------------------------- manifest


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("a time without a zone cannot go into the manifest")
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


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
            "checksum_kind": "sha256" if platform == "lab" else "server-verified", "taken_at": utc_text(taken_at),
            "k2_version": k2_version, "position": position, "run_id": run_id, "verified": False, "message": None}


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
    """The backup that lets a one-time conversion run on ``database`` in run ``run_id`` (K2-15), or None."""
    return latest(manifest["entries"], database, lambda e: e.get("position") == "after_check" and e.get("run_id") == run_id)


def restore_choice(manifest: Mapping[str, Any], databases: Optional[Sequence[str]] = None,
                   run_id: Optional[str] = None) -> List[Mapping[str, Any]]:
    """The newest verified entry per database (of ``run_id`` when given), in manifest order of first appearance."""
    names: List[str] = []
    for entry in database_entries(manifest["entries"]):
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


# --------------------------------------------------------------------------- planning


def backup_file_name(database: str, platform: str, taken_at: datetime, run_id: Optional[str] = None) -> str:
    """``<database>_<UTC stamp>[_<run id>].<ext>`` with only file-name-safe characters."""
    stamp = taken_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    parts = [database, stamp] + ([run_id] if run_id else [])
    return _SAFE_FILE_CHARS.sub("_", "_".join(parts)) + _EXTENSIONS[platform]


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


def select_databases(conf_database: str, mandants: Sequence[Mapping[str, str]], names: Optional[Sequence[str]] = None) -> List[Dict[str, str]]:
    """What to back up: CONF and every production mandant (K2-05); or exactly ``names`` (codes or database names).

    System mandants (DEMO, INIT) and test copies are left out unless named.
    """
    everything = [{"code": "CONF", "database": conf_database, "role": "conf"}]
    everything += [{"code": m["code"], "database": m["database"], "role": m["role"]} for m in mandants if m.get("database")]
    if names is None:
        return [d for d in everything if d["role"] in ("conf", "production")]
    chosen: List[Dict[str, str]] = []
    unknown: List[str] = []
    for name in names:
        match = [d for d in everything if name.upper() in (d["code"].upper(), d["database"].upper())]
        if not match:
            unknown.append(name)
        elif match[0] not in chosen:
            chosen.append(match[0])
    if unknown:
        raise BackupError("databases %s are neither CONF nor a mandant of FIRMY (codes: %s)"
                          % (", ".join(unknown), ", ".join(d["code"] for d in everything)))
    return chosen


# --------------------------------------------------------------------------- MS SQL


def mssql_backup_sql(database: str, path: str, compression: bool) -> str:
    """A copy-only full backup (it leaves the customer's backup chain alone) with page checksums."""
    options = ["COPY_ONLY", "CHECKSUM", "INIT", "FORMAT"] + (["COMPRESSION"] if compression else [])
    return "BACKUP DATABASE %s TO DISK = %s WITH %s" % (
        quote_ident("mssql", database), quote_literal("mssql", path), ", ".join(options))


def mssql_verify_sql(path: str) -> str:
    return "RESTORE VERIFYONLY FROM DISK = %s WITH CHECKSUM" % quote_literal("mssql", path)


def mssql_restore_sql(database: str, path: str) -> str:
    return "RESTORE DATABASE %s FROM DISK = %s WITH REPLACE, CHECKSUM" % (
        quote_ident("mssql", database), quote_literal("mssql", path))


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
    """A Data Pump schema import that replaces the tables that exist (K2-16)."""
    sql = _ORACLE_JOB % {"operation": "'IMPORT'", "reuse": "", "extra": (
        "\n  DBMS_DATAPUMP.SET_PARAMETER(handle => handle, name => 'TABLE_EXISTS_ACTION', value => 'REPLACE');")}
    return sql, _oracle_binds(schema, directory, dump_file, job_name)


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


def _lab_connection_args(params: Mapping[str, Any], database: str) -> List[str]:
    args = ["--host", str(params.get("login_host") or "localhost"), "--port", str(params.get("login_port") or 5432),
            "--dbname", database, "--no-password"]
    if params.get("login_user"):
        args[4:4] = ["--username", str(params["login_user"])]
    return args


def lab_dump_argv(pg_dump: str, params: Mapping[str, Any], database: str, path: str) -> List[str]:
    """pg_dump in the custom format; the password goes in PGPASSWORD (``lab_env``), never on the command line."""
    return [pg_dump, "--format=custom", "--file", path] + _lab_connection_args(params, database)


def lab_verify_argv(pg_restore: str, path: str) -> List[str]:
    """pg_restore --list reads the whole archive's table of contents; a truncated or foreign file fails."""
    return [pg_restore, "--list", path]


def lab_restore_argv(pg_restore: str, params: Mapping[str, Any], database: str, path: str) -> List[str]:
    """Replace the database's objects with the archive's, all or nothing."""
    return [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"] + \
        _lab_connection_args(params, database) + [path]


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
