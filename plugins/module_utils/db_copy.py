# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copies of a K2 site's databases for a test environment (runbook "test environment").

Pure: no I/O. A copy is "back up, then restore under a new name", built from the SQL
and argv helpers of ``backup``: MS SQL ``BACKUP ... COPY_ONLY`` then ``RESTORE DATABASE
new ... WITH MOVE`` of every logical file, Oracle a Data Pump export then an import with
``REMAP_SCHEMA``, the lab ``pg_dump`` then ``pg_restore`` into a new database.

What is copied: CONF and the production mandants of FIRMY (``backup.select_databases``);
not DEMO, INIT or test copies.

**The refusal rule.** The copy is refused, before anything is created, when any copy would
be a database of the production site: the same database server and the same name,
compared ignoring case (SQL Server's usual collation and Oracle's unquoted names ignore
it). "The production site's databases" are CONF and every database FIRMY names, DEMO,
INIT and test copies included. "The same server" is decided by the identity the servers
report (``SERVER_IDENTITY_SQL``), not by the name written in k2.ini, so an alias or an IP
address of the production server counts as the same server; without a target server the
copies go to the production server. Two copies with one name, and a plan without CONF
(pruning FIRMY would then prune the production CONF), are refused too.
"""

from __future__ import annotations

import ntpath
import re
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import backup, k2_mandants
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_literal

DEFAULT_SUFFIX = "_TESTENV"
_NAME_LIMITS = {"mssql": 128, "oracle": 128, "lab": 63}


class CopyError(ValueError):
    """A copy that must not go on; nothing was created when it is raised before the first copy."""


def target_name(source: str, code: str, suffix: str = DEFAULT_SUFFIX, names: Optional[Mapping[str, str]] = None) -> str:
    """The copy's name: ``names`` by mandant code (or ``CONF``) or by source name, else source + suffix."""
    for key, value in (names or {}).items():
        if key.upper() in (code.upper(), source.upper()):
            return value
    return source + suffix


def plan_copies(conf_database: str, mandants: Sequence[Mapping[str, str]], platform: str, suffix: str = DEFAULT_SUFFIX,
                names: Optional[Mapping[str, str]] = None, codes: Optional[Sequence[str]] = None) -> List[Dict[str, str]]:
    """One ``{code, role, source, target}`` per database to copy: CONF and the production mandants, or CONF and ``codes``."""
    wanted = None if codes is None else ["CONF"] + [c for c in codes if c.upper() != "CONF"]
    chosen = backup.select_databases(conf_database, mandants, wanted, roles=("conf", "production"))
    plan = []
    for item in chosen:
        name = target_name(item["database"], item["code"], suffix, names)
        if not name or not name.strip() or name != name.strip():
            raise CopyError("the copy of %s would have the name %r; names must not be empty or start or end with blanks" % (item["database"], name))
        if len(name) > _NAME_LIMITS[platform]:
            raise CopyError("the copy of %s would be named %s, longer than %s allows (%d characters)"
                            % (item["database"], name, platform, _NAME_LIMITS[platform]))
        plan.append({"code": item["code"], "role": item["role"], "source": item["database"], "target": name})
    return plan


def refusals(plan: Sequence[Mapping[str, str]], site_databases: Sequence[str], same_server: bool) -> List[str]:
    """Why ``plan`` must not run (empty: it may); see the refusal rule in the module doc."""
    reasons = []
    if not any(item["code"] == "CONF" for item in plan):
        reasons.append("the plan holds no copy of CONF: pruning FIRMY would change the production CONF")
    if same_server:
        production = {name.upper(): name for name in site_databases if name}
        for item in plan:
            if item["target"].upper() in production:
                reasons.append("the copy of %s would be %s, a database of the production site on the same server"
                               % (item["source"], production[item["target"].upper()]))
    seen: Dict[str, str] = {}
    for item in plan:
        other = seen.setdefault(item["target"].upper(), item["source"])
        if other != item["source"]:
            reasons.append("%s and %s would both be copied to %s" % (other, item["source"], item["target"]))
    return reasons


def site_databases(conf_database: str, mandants: Sequence[Mapping[str, str]]) -> List[str]:
    """CONF and every database FIRMY names, whatever the mandant's role."""
    return [conf_database] + [m["database"] for m in mandants if m.get("database")]


#: One row, one column ``identity``: the same value exactly when two connections reach the same server.
SERVER_IDENTITY_SQL = {
    "mssql": "SELECT CAST(SERVERPROPERTY('ServerName') AS nvarchar(256)) AS identity",
    "oracle": "SELECT SYS_CONTEXT('USERENV', 'DB_UNIQUE_NAME') || '/' || SYS_CONTEXT('USERENV', 'CON_NAME') AS identity FROM dual",
    # The lab cluster: its port and the start time of its postmaster (readable by any login).
    "lab": "SELECT current_setting('port') || '@' || CAST(pg_postmaster_start_time() AS text) AS identity",
}


# --------------------------------------------------------------------------- MS SQL

#: The source database's files (bind: database name): logical name, physical path, ROWS or LOG.
MSSQL_FILES_SQL = "SELECT name, physical_name, type_desc FROM sys.master_files WHERE database_id = DB_ID(?) ORDER BY file_id"


def mssql_move_path(physical_name: str, source: str, target: str, logical_name: str, folder: Optional[str] = None) -> str:
    """Where a file of the copy goes: beside the source's file (or in ``folder``), named after the copy.

    ``K2_FIRMA.mdf`` of ``K2_FIRMA`` becomes ``K2_FIRMA_TESTENV.mdf``; a file whose name does not start
    with the source's name becomes ``<target>_<logical name><extension>``.
    """
    directory, name = ntpath.split(physical_name)
    stem, extension = ntpath.splitext(name)
    if stem.upper().startswith(source.upper()):
        new = target + stem[len(source):] + extension
    else:
        new = "%s_%s%s" % (target, re.sub(r"[^A-Za-z0-9_.-]+", "_", logical_name), extension)
    return backup.join_target(folder or directory, new)


def mssql_restore_as_sql(target: str, path: str, moves: Sequence[Sequence[str]]) -> str:
    """Restore a backup as a new database, every logical file moved to its new path."""
    if not moves:
        raise CopyError("the source database has no files to move; cannot restore %s" % target)
    options = ["MOVE %s TO %s" % (quote_literal("mssql", logical), quote_literal("mssql", physical)) for logical, physical in moves]
    return "RESTORE DATABASE %s FROM DISK = %s WITH %s, CHECKSUM, RECOVERY" % (
        quote_ident("mssql", target), quote_literal("mssql", path), ", ".join(options))


def mssql_drop_sql(target: str) -> str:
    return "DROP DATABASE %s" % quote_ident("mssql", target)


# --------------------------------------------------------------------------- Oracle

def oracle_drop_sql(target: str) -> str:
    return "DROP USER %s CASCADE" % quote_ident("oracle", target)


# --------------------------------------------------------------------------- lab (PostgreSQL)

def lab_create_sql(target: str) -> str:
    return "CREATE DATABASE %s" % quote_ident("lab", target)


def lab_drop_sql(target: str) -> str:
    return "DROP DATABASE IF EXISTS %s WITH (FORCE)" % quote_ident("lab", target)


def dump_file_name(source: str, platform: str, taken_at: datetime, token: str) -> str:
    """The backup file a copy goes through: ``<source>_copy_<UTC stamp>_<token>.<ext>``, file-name-safe."""
    stamp = taken_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "_".join([source + "_copy", stamp, token])) + backup.EXTENSIONS[platform]


def exists(names: Sequence[str], target: str) -> Optional[str]:
    """The existing database (as the server spells it) that ``target`` names, ignoring case, or None."""
    return next((name for name in names if name.upper() == target.upper()), None)


def summary(plan: Sequence[Mapping[str, Any]]) -> Dict[str, str]:
    """{mandant code: copy's database name} for FIRMY of the copy; CONF left out."""
    return {item["code"]: item["target"] for item in plan if item["code"] != "CONF"}


# --------------------------------------------------------------------------- FIRMY of the copy

def firmy_changes(mandants: Sequence[Mapping[str, str]], keep: Sequence[str],
                  databases: Optional[Mapping[str, str]] = None) -> Dict[str, List[Dict[str, str]]]:
    """What makes FIRMY list exactly ``keep`` (codes), each with its database from ``databases`` when given.

    ``{"delete": [mandant...], "update": [{"code", "before", "after"}...]}``. A code of ``keep``
    or ``databases`` that FIRMY does not list is refused: the copy would point at nothing.
    """
    present = {m["code"].upper(): m for m in mandants}
    wanted = {code.upper() for code in keep}
    unknown = sorted(code for code in list(keep) + list(databases or {}) if code.upper() not in present)
    if unknown:
        raise CopyError("FIRMY lists no mandant %s (it lists %s); nothing was changed"
                        % (", ".join(unknown), ", ".join(m["code"] for m in mandants) or "none"))
    stray = sorted(code for code in (databases or {}) if code.upper() not in wanted)
    if stray:
        raise CopyError("databases names mandants that are not kept: %s" % ", ".join(stray))
    delete = [dict(m) for m in mandants if m["code"].upper() not in wanted]
    update = []
    for code, name in (databases or {}).items():
        mandant = present[code.upper()]
        if mandant["database"] != name:
            update.append({"code": mandant["code"], "before": mandant["database"], "after": name})
    return {"delete": delete, "update": update}


def _firmy_parts(platform: str, conf_database: str, profile: Mapping):
    firmy = profile["firmy"]
    return (k2_mandants.table_ref(platform, conf_database, firmy["table"]), quote_ident(platform, firmy["code_column"]),
            quote_ident(platform, firmy["database_column"]))


def _placeholder(platform: str, name: str) -> str:
    return ":%s" % name if platform == "oracle" else "?"


def firmy_delete_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    """Delete one mandant's row (bind: code); codes compare without surrounding blanks (CHAR columns)."""
    table, code, _database = _firmy_parts(platform, conf_database, profile)
    return "DELETE FROM %s WHERE LTRIM(RTRIM(%s)) = %s" % (table, code, _placeholder(platform, "code"))


def firmy_update_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    """Point one mandant at another database (binds: database, code)."""
    table, code, database = _firmy_parts(platform, conf_database, profile)
    return "UPDATE %s SET %s = %s WHERE LTRIM(RTRIM(%s)) = %s" % (
        table, database, _placeholder(platform, "database"), code, _placeholder(platform, "code"))
