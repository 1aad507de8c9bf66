# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run at a time per site: a lease row in the CONF database, taken in one transaction.

Table ``ERPOPS_RUN_LOCK`` (created when missing), one row per site under the primary key
``SITE_KEY`` (the CONF database's name). A free site has the row with an empty ``RUN_ID``.
``acquire`` inserts the free row when it is missing (a racing insert hits the key and is
ignored), then, in one transaction, reads the row with a row lock (``FOR UPDATE`` /
``UPDLOCK``), decides with ``run_state.lock_verdict`` on the server's clock, and writes the
new holder. The row lock serializes two runs that start together: the second reads the
first one's row after it committed, and refuses.

``LeaseKeeper`` renews the lease from a background thread while a long task works, on a
fresh connection each time (so that it holds no session between renewals).
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils import run_state
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_qualified

TABLE = "ERPOPS_RUN_LOCK"
DEFAULT_LEASE_SECONDS = 300

#: (column, MS SQL type, Oracle type, lab type)
_COLUMNS = (
    ("SITE_KEY", "nvarchar(128) NOT NULL", "VARCHAR2(128 CHAR) NOT NULL", "varchar(128) NOT NULL"),
    ("RUN_ID", "nvarchar(200) NULL", "VARCHAR2(200 CHAR) NULL", "varchar(200) NULL"),
    ("HOLDER_TOKEN", "nvarchar(64) NULL", "VARCHAR2(64 CHAR) NULL", "varchar(64) NULL"),
    ("CONTROLLER_HOST", "nvarchar(255) NULL", "VARCHAR2(255 CHAR) NULL", "varchar(255) NULL"),
    ("CONTROLLER_USER", "nvarchar(128) NULL", "VARCHAR2(128 CHAR) NULL", "varchar(128) NULL"),
    ("AWX_JOB_ID", "nvarchar(64) NULL", "VARCHAR2(64 CHAR) NULL", "varchar(64) NULL"),
    ("SINCE", "datetime2 NULL", "TIMESTAMP NULL", "timestamp NULL"),
    ("LEASE_UNTIL", "datetime2 NULL", "TIMESTAMP NULL", "timestamp NULL"),
)
_TYPE_INDEX = {"mssql": 1, "oracle": 2, "lab": 3}
#: The server's clock in UTC, per dialect.
NOW_UTC = {"mssql": "SYSUTCDATETIME()", "oracle": "SYS_EXTRACT_UTC(SYSTIMESTAMP)", "lab": "(now() AT TIME ZONE 'UTC')"}


class LockError(Exception):
    """The site's lock is held by another run, or was lost."""

    def __init__(self, message: str, holder: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.holder = dict(holder) if holder else None


class LeaseTableSql:
    """SQL text of a table of lease rows in one dialect (``?`` binds; ``:name`` on Oracle): what the site's lock and
    the database server's slots (``server_slots``) share. A subclass names its ``columns`` (column, MS SQL type,
    Oracle type, lab type), the ``key_column`` and the bind order of each statement (``bind_order``)."""

    columns: Tuple[Tuple[str, str, str, str], ...] = ()
    key_column = ""
    bind_order: Mapping[str, Tuple[str, ...]] = {}

    def __init__(self, dialect: str, table: str, schema: Optional[str] = None) -> None:
        if dialect not in _TYPE_INDEX:
            raise ValueError("unknown SQL dialect %r" % dialect)
        self.dialect = dialect
        self.table_name = table
        self.schema = schema if dialect == "oracle" else None
        self.table = quote_qualified(dialect, self.schema, table) if self.schema else quote_ident(dialect, table)

    def _q(self, column: str) -> str:
        return quote_ident(self.dialect, column)

    def _mark(self, name: str) -> str:
        return ":" + name.lower() if self.dialect == "oracle" else "?"

    def create_table(self) -> str:
        columns = ", ".join("%s %s" % (self._q(c[0]), c[_TYPE_INDEX[self.dialect]]) for c in self.columns)
        ddl = "CREATE TABLE %s (%s, CONSTRAINT %s PRIMARY KEY (%s))" % (
            self.table, columns, self._q(("PK_" + self.table_name)[:30]), self._q(self.key_column))
        if self.dialect == "mssql":
            return "IF OBJECT_ID(N'%s', N'U') IS NULL %s" % (self.table.replace("'", "''"), ddl)
        if self.dialect == "oracle":
            return ("BEGIN EXECUTE IMMEDIATE '%s'; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 THEN RAISE; END IF; END;"
                    % ddl.replace("'", "''"))
        return ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)

    def table_exists(self):
        """(SQL, binds): one row whose first value is truthy when the table exists."""
        return table_exists_sql(self.dialect, self.table, self.table_name, self.schema)

    def _lease_expression(self) -> str:
        if self.dialect == "mssql":
            return "DATEADD(second, ?, SYSUTCDATETIME())"
        if self.dialect == "oracle":
            return "SYS_EXTRACT_UTC(SYSTIMESTAMP) + NUMTODSINTERVAL(:lease_seconds, 'SECOND')"
        return "(now() AT TIME ZONE 'UTC') + CAST(? AS integer) * interval '1 second'"

    def binds(self, statement: str, **values: Any):
        """Bind values in the order (or by the names) ``statement`` uses."""
        order = self.bind_order[statement]
        if self.dialect == "oracle":
            return {name: values[name] for name in dict.fromkeys(order)}
        return tuple(values[name] for name in order)


class LockSql(LeaseTableSql):
    """SQL text of the site's lock table in one dialect."""

    columns = _COLUMNS
    key_column = "SITE_KEY"
    bind_order = {
        "take": ("run_id", "token", "controller_host", "controller_user", "awx_job_id", "lease_seconds", "site_key"),
        "renew": ("lease_seconds", "site_key", "token"),
        "release": ("site_key", "token"),
        "select": ("site_key",),
    }

    def __init__(self, dialect: str, table: str = TABLE) -> None:
        super().__init__(dialect, table)

    def insert_free_row(self) -> str:
        """The free row of a site, unless it exists (bind: site key). A racing insert hits the key."""
        key = self._q("SITE_KEY")
        if self.dialect == "lab":
            return "INSERT INTO %s (%s) VALUES (?) ON CONFLICT (%s) DO NOTHING" % (self.table, key, key)
        if self.dialect == "mssql":
            return "INSERT INTO %s (%s) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM %s WITH (UPDLOCK, HOLDLOCK) WHERE %s = ?)" % (
                self.table, key, self.table, key)
        return ("MERGE INTO %s t USING (SELECT :site_key AS k FROM dual) s ON (t.%s = s.k) "
                "WHEN NOT MATCHED THEN INSERT (%s) VALUES (s.k)" % (self.table, key, key))

    def insert_free_row_binds(self, site_key: str):
        if self.dialect == "mssql":
            return (site_key, site_key)
        if self.dialect == "oracle":
            return {"site_key": site_key}
        return (site_key,)

    def select_for_update(self) -> str:
        """The site's row and the server's UTC time, row-locked until the transaction ends (bind: site key)."""
        columns = ", ".join("%s AS %s" % (self._q(c[0]), c[0].lower()) for c in _COLUMNS[1:])
        key = self._q("SITE_KEY")
        if self.dialect == "mssql":
            return "SELECT %s, %s AS server_now FROM %s WITH (UPDLOCK, ROWLOCK, HOLDLOCK) WHERE %s = ?" % (
                columns, NOW_UTC["mssql"], self.table, key)
        return "SELECT %s, %s AS server_now FROM %s WHERE %s = %s FOR UPDATE" % (
            columns, NOW_UTC[self.dialect], self.table, key, self._mark("site_key"))

    def select(self) -> str:
        columns = ", ".join("%s AS %s" % (self._q(c[0]), c[0].lower()) for c in _COLUMNS[1:])
        return "SELECT %s, %s AS server_now FROM %s WHERE %s = %s" % (
            columns, NOW_UTC[self.dialect], self.table, self._q("SITE_KEY"), self._mark("site_key"))

    def take(self) -> str:
        """Write the holder (binds: run id, token, host, user, job id, lease seconds, site key)."""
        return "UPDATE %s SET %s = %s, %s = %s, %s = %s, %s = %s, %s = %s, %s = %s, %s = %s WHERE %s = %s" % (
            self.table, self._q("RUN_ID"), self._mark("run_id"), self._q("HOLDER_TOKEN"), self._mark("token"),
            self._q("CONTROLLER_HOST"), self._mark("controller_host"),
            self._q("CONTROLLER_USER"), self._mark("controller_user"), self._q("AWX_JOB_ID"), self._mark("awx_job_id"),
            self._q("SINCE"), NOW_UTC[self.dialect], self._q("LEASE_UNTIL"), self._lease_expression(),
            self._q("SITE_KEY"), self._mark("site_key"))

    def renew(self) -> str:
        """Extend the lease of the holder only (binds: lease seconds, site key, token); 0 rows: the lock was lost."""
        return "UPDATE %s SET %s = %s WHERE %s = %s AND %s = %s" % (
            self.table, self._q("LEASE_UNTIL"), self._lease_expression(), self._q("SITE_KEY"), self._mark("site_key"),
            self._q("HOLDER_TOKEN"), self._mark("token"))

    def release(self) -> str:
        """Free the row, every column empty, if this job holds it (binds: site key, token)."""
        emptied = ", ".join("%s = NULL" % self._q(c[0]) for c in _COLUMNS[1:])
        return "UPDATE %s SET %s WHERE %s = %s AND %s = %s" % (
            self.table, emptied, self._q("SITE_KEY"), self._mark("site_key"), self._q("HOLDER_TOKEN"), self._mark("token"))


def table_exists_sql(dialect: str, quoted: str, name: str, owner: Optional[str] = None):
    """(SQL, binds) answering one row whose first value is truthy when the table ``quoted`` (named ``name``; on Oracle
    in the schema ``owner``, else the user's own) exists."""
    if dialect == "mssql":
        return "SELECT CASE WHEN OBJECT_ID(?, N'U') IS NULL THEN 0 ELSE 1 END AS found", (quoted,)
    if dialect == "oracle":
        if owner:
            return ("SELECT COUNT(*) AS found FROM all_tables WHERE owner = :owner AND table_name = :table_name",
                    {"owner": owner, "table_name": name})
        return "SELECT COUNT(*) AS found FROM user_tables WHERE table_name = :table_name", {"table_name": name}
    return "SELECT CASE WHEN to_regclass(?) IS NULL THEN 0 ELSE 1 END AS found", (quoted,)


def ensure_table(db: Any, create_sql: str, exists) -> None:
    """Create a table when it is missing. Two jobs creating it at the same moment: one wins, and the other's error
    (PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent create) is forgiven once the table
    is there. ``exists``: (SQL, binds) of ``table_exists_sql``."""
    def found() -> bool:
        rows = db.query(*exists)
        return bool(rows and int(list(rows[0].values())[0]))

    if found():
        return
    try:
        db.execute(create_sql)
    except Exception:  # pylint: disable=broad-except  # re-raised unless a concurrent job created the table
        if not found():
            raise


Connect = Callable[[], Any]


def acquire(connect: Connect, dialect: str, site_key: str, run_id: str, token: str, controller: Mapping[str, Any], lease_seconds: int,
            force: bool = False) -> Dict[str, Any]:
    """Take the site's lock for the job ``token`` of run ``run_id``.

    ``{"how": free|own|expired|forced, "previous": holder or None, "lock": row}``.

    Raises ``LockError`` naming the holder when another run holds a live lease (and not ``force``).
    """
    sql = LockSql(dialect)
    db = connect()
    try:
        ensure_table(db, sql.create_table(), sql.table_exists())
        db.execute(sql.insert_free_row(), sql.insert_free_row_binds(site_key))
        with db.transaction():
            rows = db.query(sql.select_for_update(), sql.binds("select", site_key=site_key))
            row = rows[0] if rows else None
            lowered = {str(k).lower(): v for k, v in (row or {}).items()}
            verdict = run_state.lock_verdict(lowered, lowered.get("server_now") or run_state.utc_now(), token, force)
            if not verdict["take"]:
                raise LockError("the site is locked by " + run_state.holder_text(verdict["holder"]), verdict["holder"])
            db.execute(sql.take(), sql.binds("take", run_id=run_id, token=token, controller_host=controller.get("host"),
                                             controller_user=controller.get("user"),
                                             awx_job_id=None if controller.get("awx_job_id") is None else str(controller["awx_job_id"]),
                                             lease_seconds=int(lease_seconds), site_key=site_key))
        lock = read(db, dialect, site_key)
    finally:
        db.close()
    return {"how": verdict["how"], "previous": verdict["holder"] if verdict["how"] != "own" else None, "lock": lock}


def read(db: Any, dialect: str, site_key: str) -> Optional[Dict[str, Any]]:
    sql = LockSql(dialect)
    rows = db.query(sql.select(), sql.binds("select", site_key=site_key))
    if not rows:
        return None
    row = {str(k).lower(): v for k, v in rows[0].items()}
    holder = run_state._holder(row)  # pylint: disable=protected-access
    return None if holder is None else {key: _jsonable(value) for key, value in holder.items()}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return run_state.utc_text(run_state._aware(value))  # pylint: disable=protected-access
    return value


def renew(connect: Connect, dialect: str, site_key: str, token: str, lease_seconds: int) -> None:
    """Extend the lease; ``LockError`` when this job no longer holds the lock."""
    sql = LockSql(dialect)
    db = connect()
    try:
        count = db.execute(sql.renew(), sql.binds("renew", lease_seconds=int(lease_seconds), site_key=site_key, token=token))
        if count == 0:
            holder = read(db, dialect, site_key)
            raise LockError("this job no longer holds the site's lock (%s)" % (
                ("now " + run_state.holder_text(holder)) if holder else "the site is free"), holder)
    finally:
        db.close()


def release(connect: Connect, dialect: str, site_key: str, token: str) -> bool:
    """Free the lock if the job ``token`` holds it; True when it did."""
    sql = LockSql(dialect)
    db = connect()
    try:
        return db.execute(sql.release(), sql.binds("release", site_key=site_key, token=token)) != 0
    finally:
        db.close()


class LeaseKeeper:
    """Renew a run's lease every ``seconds / 3`` from a daemon thread while a long task works.

    ``with LeaseKeeper(renew_once, seconds):`` where ``renew_once()`` renews once (``renew`` bound to
    its arguments). A renewal that fails is kept in ``errors`` and retried at the next tick; losing the
    lock (``LockError``) stops the keeper and is kept in ``lost``.
    """

    def __init__(self, renew_once: Callable[[], None], seconds: int) -> None:
        self._renew_once = renew_once
        self.interval = max(1.0, float(seconds) / 3.0)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.renewals = 0
        self.errors: list = []
        self.lost: Optional[str] = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._renew_once()
                self.renewals += 1
            except LockError as exc:
                self.lost = str(exc)
                return
            except Exception as exc:  # pylint: disable=broad-except  # a renewal must never kill the work it guards
                self.errors.append(str(exc))

    def __enter__(self) -> "LeaseKeeper":
        self._thread = threading.Thread(target=self._loop, name="erpops-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)


def keeper_for(lease: Optional[Mapping[str, Any]], db_params: Mapping[str, Any], conf_database: str, connect_function: Callable) -> Optional[LeaseKeeper]:
    """A ``LeaseKeeper`` for a module's ``lease`` option (``run_id``, ``seconds``), or None when not given."""
    if not lease or not lease.get("token"):
        return None
    seconds = int(lease.get("seconds") or DEFAULT_LEASE_SECONDS)
    site_key = lease.get("site_key") or conf_database

    def renew_once() -> None:
        renew(lambda: connect_function(dict(db_params), conf_database), db_params["db_platform"], site_key, lease["token"], seconds)

    return LeaseKeeper(renew_once, seconds)


LEASE_OPTION = dict(type="dict", options=dict(
    token=dict(type="str", required=True, no_log=False),
    run_id=dict(type="str"),
    seconds=dict(type="int", default=DEFAULT_LEASE_SECONDS),
    site_key=dict(type="str", no_log=False),
))
