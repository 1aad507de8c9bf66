# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""At most N heavy operations at once on one database server, across every site and job.

Customers often share one database server. A backup, a restore or the conversions of one
database each hold a *slot* of that server while they work; with ``limit`` N, the N+1st
waits until a slot is free, whichever site, job or controller it comes from.

The slots are lease rows on the server itself, like the site's lock (``run_lock``), in the
table ``ERPOPS_SERVER_SLOTS`` of one database every job on that server names alike (the
``server_slots.database`` option: a small database the DBA gives the collection, on Oracle a
schema; never a customer's database, where a restore would bring old slots back). One row per
holder or waiter, keyed by its token, plus one *gate* row that is never either. Taking a slot
is one transaction:

1. lock the gate row (``FOR UPDATE`` / ``UPDLOCK, HOLDLOCK``): takers on that server go one
   at a time;
2. delete the rows whose lease ran out on the server's clock (a killed job, a lost
   controller: its slot is free again after at most one lease, its place in the queue after
   ``WAITER_LEASE_SECONDS``);
3. read the live rows (``decide``): the slots the holders leave free go to the waiters in the
   order they came, so a newcomer never overtakes a job already waiting (a site in its outage
   is not starved by other jobs' retries); this job holds a slot, or keeps its place in the
   queue with a short lease it renews at every attempt.

The caller waits and tries again (``Slots.hold``), showing who holds the slots. A holder
renews its lease every third of the lease from a background thread (``run_lock.LeaseKeeper``),
each time on a fresh connection, and deletes its row when the operation ends. Each call opens
its own connection: worker threads never share one.

Why a lease table rather than ``sp_getapplock`` or ``pg_advisory_lock``: the same text on all
three platforms, readable (who holds a slot since when, for which site and database), and the
operation needs no session held open for hours; advisory locks on PostgreSQL are also scoped
per database, so two sites in two databases would never see each other's.
"""

from __future__ import annotations

import random
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import run_lock, run_state

TABLE = "ERPOPS_SERVER_SLOTS"
#: The token of the gate row: never a holder (a holder's token is a uuid4 hex, 32 characters).
GATE = "#gate"
DEFAULT_LEASE_SECONDS = 300
#: Four hours: a site banned for its outage waits that long for its turn on a busy server before it gives up.
DEFAULT_WAIT_SECONDS = 14400
OPERATIONS = ("backup", "restore", "conversion")

#: (column, MS SQL type, Oracle type, lab type)
_COLUMNS = (
    ("HOLDER_TOKEN", "nvarchar(64) NOT NULL", "VARCHAR2(64 CHAR) NOT NULL", "varchar(64) NOT NULL"),
    ("OPERATION", "nvarchar(32) NULL", "VARCHAR2(32 CHAR) NULL", "varchar(32) NULL"),
    ("SITE_KEY", "nvarchar(128) NULL", "VARCHAR2(128 CHAR) NULL", "varchar(128) NULL"),
    ("DATABASE_NAME", "nvarchar(128) NULL", "VARCHAR2(128 CHAR) NULL", "varchar(128) NULL"),
    ("RUN_ID", "nvarchar(200) NULL", "VARCHAR2(200 CHAR) NULL", "varchar(200) NULL"),
    ("CONTROLLER_HOST", "nvarchar(255) NULL", "VARCHAR2(255 CHAR) NULL", "varchar(255) NULL"),
    ("SINCE", "datetime2 NULL", "TIMESTAMP NULL", "timestamp NULL"),
    ("LEASE_UNTIL", "datetime2 NULL", "TIMESTAMP NULL", "timestamp NULL"),
    # last: a row written without it (by hand, or before the queue) is a holder
    ("STATE", "nvarchar(16) NULL", "VARCHAR2(16 CHAR) NULL", "varchar(16) NULL"),
)
_HOLDER_COLUMNS = tuple(column[0] for column in _COLUMNS[:6]) + ("STATE",)
HOLDING, WAITING = "holding", "waiting"
LONGEST_PAUSE = 10.0
#: The first waiter asks every second: a slot freed while it sleeps would stay idle (nobody behind may take it).
HEAD_PAUSE = 1.0
#: A waiter renews its place at every attempt (at most ``LONGEST_PAUSE`` and a fifth apart); a dead waiter's place is
#: free after this long.
WAITER_LEASE_SECONDS = 60


class SlotError(Exception):
    """No slot within the wait, a lost slot, or bad settings."""


# --------------------------------------------------------------------------- settings


def limit_of(value: Any) -> Optional[int]:
    """The limit as a number; None (no limit) for 0, None or an empty value. A negative limit is an error."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SlotError("server_slots.limit must be a whole number (0: no limit), got %r" % (value,)) from None
    if number < 0:
        raise SlotError("server_slots.limit must be 0 (no limit) or more, got %d" % number)
    return number or None


def settings(option: Optional[Mapping[str, Any]], dialect: str) -> Optional[Dict[str, Any]]:
    """The ``server_slots`` option completed with its defaults; None when there is no limit."""
    option = dict(option or {})
    limit = limit_of(option.get("limit"))
    if limit is None:
        return None
    database = option.get("database")
    if not database:
        raise SlotError("server_slots.database is required when server_slots.limit is set: name the database (on Oracle the "
                        "schema) of the slot table on this %s server, the same for every job on it" % dialect)
    wait = option.get("wait")
    lease = option.get("lease_seconds")
    return {"limit": limit, "database": database, "wait": DEFAULT_WAIT_SECONDS if wait is None else max(0, int(wait)),
            "lease_seconds": int(lease or DEFAULT_LEASE_SECONDS)}


# --------------------------------------------------------------------------- SQL text


class SlotSql(run_lock.LeaseTableSql):
    """SQL text of the slot table in one dialect. On Oracle the table is qualified with ``schema`` (the connection's
    user may be another)."""

    columns = _COLUMNS
    key_column = "HOLDER_TOKEN"

    def __init__(self, dialect: str, schema: Optional[str] = None, table: str = TABLE) -> None:
        super().__init__(dialect, table, schema)
        self.bind_order = {
            "insert_gate": ("gate", "gate") if dialect == "mssql" else ("gate",),
            "lock_gate": ("gate",),
            "delete_expired": ("gate",),
            "holders": ("gate",),
            "rows": ("gate",),
            "take": tuple(c.lower() for c in _HOLDER_COLUMNS) + ("lease_seconds",),
            "promote": ("holding", "lease_seconds", "holder_token"),
            "renew": ("lease_seconds", "holder_token"),
            "release": ("holder_token",),
        }

    def insert_gate(self) -> str:
        """The gate row, unless it exists (bind: the gate token; twice on MS SQL). A racing insert hits the key."""
        key = self._q("HOLDER_TOKEN")
        if self.dialect == "lab":
            return "INSERT INTO %s (%s) VALUES (?) ON CONFLICT (%s) DO NOTHING" % (self.table, key, key)
        if self.dialect == "mssql":
            return "INSERT INTO %s (%s) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM %s WITH (UPDLOCK, HOLDLOCK) WHERE %s = ?)" % (
                self.table, key, self.table, key)
        return ("MERGE INTO %s t USING (SELECT :gate AS k FROM dual) s ON (t.%s = s.k) "
                "WHEN NOT MATCHED THEN INSERT (%s) VALUES (s.k)" % (self.table, key, key))

    def lock_gate(self) -> str:
        """The gate row, locked until the transaction ends: takers on this server go one at a time (bind: gate)."""
        key = self._q("HOLDER_TOKEN")
        if self.dialect == "mssql":
            return "SELECT %s FROM %s WITH (UPDLOCK, ROWLOCK, HOLDLOCK) WHERE %s = ?" % (key, self.table, key)
        return "SELECT %s FROM %s WHERE %s = %s FOR UPDATE" % (key, self.table, key, self._mark("gate"))

    def delete_expired(self) -> str:
        """Free the slots whose lease ran out on the server's clock (bind: gate)."""
        return "DELETE FROM %s WHERE %s <> %s AND %s < %s" % (
            self.table, self._q("HOLDER_TOKEN"), self._mark("gate"), self._q("LEASE_UNTIL"), run_lock.NOW_UTC[self.dialect])

    def rows(self, waiters: bool = True) -> str:
        """Every live holder and waiter (only the holders with ``waiters`` false), in the order they came, with the
        server's UTC time (bind: gate)."""
        columns = ", ".join("%s AS %s" % (self._q(c[0]), c[0].lower()) for c in _COLUMNS)
        state = self._q("STATE")
        holders_only = "" if waiters else " AND (%s IS NULL OR %s <> '%s')" % (state, state, WAITING)
        return "SELECT %s, %s AS server_now FROM %s WHERE %s <> %s%s ORDER BY %s, %s" % (
            columns, run_lock.NOW_UTC[self.dialect], self.table, self._q("HOLDER_TOKEN"), self._mark("gate"), holders_only,
            self._q("SINCE"), self._q("HOLDER_TOKEN"))

    def holders(self) -> str:
        """Every live holder, oldest first, with the server's UTC time (bind: gate)."""
        return self.rows(waiters=False)

    def take(self) -> str:
        """This job's row, holding or waiting, with its lease (binds: token, operation, site key, database, run id, host,
        state, lease seconds)."""
        marks = ", ".join(self._mark(c.lower()) for c in _HOLDER_COLUMNS)
        return "INSERT INTO %s (%s, %s, %s) VALUES (%s, %s, %s)" % (
            self.table, ", ".join(self._q(c) for c in _HOLDER_COLUMNS), self._q("SINCE"), self._q("LEASE_UNTIL"),
            marks, run_lock.NOW_UTC[self.dialect], self._lease_expression())

    def promote(self) -> str:
        """A waiter's turn: its row holds from now, with a holder's lease (binds: the holding state, lease seconds, token)."""
        return "UPDATE %s SET %s = %s, %s = %s, %s = %s WHERE %s = %s" % (
            self.table, self._q("STATE"), self._mark("holding"), self._q("SINCE"), run_lock.NOW_UTC[self.dialect],
            self._q("LEASE_UNTIL"), self._lease_expression(), self._q("HOLDER_TOKEN"), self._mark("holder_token"))

    def renew(self) -> str:
        """Extend this holder's or waiter's lease (binds: lease seconds, token); 0 rows: the slot was lost."""
        return "UPDATE %s SET %s = %s WHERE %s = %s" % (
            self.table, self._q("LEASE_UNTIL"), self._lease_expression(), self._q("HOLDER_TOKEN"), self._mark("holder_token"))

    def release(self) -> str:
        """Free this holder's slot (bind: token)."""
        return "DELETE FROM %s WHERE %s = %s" % (self.table, self._q("HOLDER_TOKEN"), self._mark("holder_token"))

    def binds(self, statement: str, **values: Any):
        values.setdefault("gate", GATE)
        values.setdefault("holding", HOLDING)
        return super().binds(statement, **values)


# --------------------------------------------------------------------------- the decision


def decide(rows: Sequence[Mapping[str, Any]], limit: int, token: str) -> Dict[str, Any]:
    """Whether the job ``token`` takes a slot now, from the live rows in the order they came (``SlotSql.rows``).

    The slots the holders leave free go to the waiters, first come, first served; a job not yet in the queue stands
    behind every waiter. ``{"take": bool, "holders": [the holders but this job], "ahead": waiters before this job}``.
    """
    holders = [row for row in rows if row.get("state") != WAITING and row.get("holder_token") != token]
    waiters = [row.get("holder_token") for row in rows if row.get("state") == WAITING]
    ahead = waiters.index(token) if token in waiters else len(waiters)
    return {"take": ahead < limit - len(holders), "holders": holders, "ahead": ahead}


def holder_text(holder: Mapping[str, Any]) -> str:
    """``backup of K2_FIRMA (site K2_CONF, run r1, controller awx-1) since 17:00:05Z``."""
    labels = (("site", "site_key"), ("run", "run_id"), ("controller", "controller_host"))
    who = ", ".join("%s %s" % (label, holder[key]) for label, key in labels if holder.get(key))
    since = holder.get("since")
    since_text = run_state.utc_text(_aware(since)) if hasattr(since, "isoformat") else (since or "?")
    what = holder.get("operation") or "operation"
    return "%s of %s (%s) since %s" % (what, holder.get("database_name") or "?", who or "?", since_text)


def busy_text(holders: Sequence[Mapping[str, Any]], limit: int, ahead: int = 0) -> str:
    queue = "; %d job(s) waiting before this one" % ahead if ahead else ""
    return "the database server's %d slot(s) are held: %s%s" % (limit, "; ".join(holder_text(h) for h in holders) or "none", queue)


def pauses(wait: float, first: float = 1.0, longest: float = LONGEST_PAUSE, jitter: Callable[[], float] = random.random) -> Iterator[float]:
    """Pauses between attempts, growing from ``first`` to ``longest`` (a little random, so waiting jobs do not knock
    together), until ``wait`` seconds are spent."""
    spent, pause = 0.0, first
    while spent < wait:
        step = min(pause * (0.8 + 0.4 * jitter()), wait - spent)
        spent += step
        yield step
        pause = min(longest, pause * 1.5)


def _aware(moment):
    return run_state._aware(moment)  # pylint: disable=protected-access


def _lowered(row: Mapping[str, Any]) -> Dict[str, Any]:
    return {str(key).lower(): value for key, value in row.items()}


# --------------------------------------------------------------------------- on the server

Connect = Callable[[], Any]


def try_take(connect: Connect, dialect: str, schema: Optional[str], holder: Mapping[str, Any], limit: int,
             lease_seconds: int) -> Dict[str, Any]:
    """One attempt, in one transaction: the slot, or this job's place in the queue kept for ``WAITER_LEASE_SECONDS``.
    ``{"taken": bool, "holders": [the live holders but this job], "ahead": waiters before this job}``."""
    sql = SlotSql(dialect, schema)
    token = holder["holder_token"]
    db = connect()
    try:
        run_lock.ensure_table(db, sql.create_table(), sql.table_exists())
        db.execute(sql.insert_gate(), sql.binds("insert_gate"))
        with db.transaction():
            db.query(sql.lock_gate(), sql.binds("lock_gate"))
            db.execute(sql.delete_expired(), sql.binds("delete_expired"))
            rows = [_lowered(row) for row in db.query(sql.rows(), sql.binds("rows"))]
            decision = decide(rows, limit, token)
            queued = any(row.get("holder_token") == token for row in rows)
            if decision["take"] and queued:
                db.execute(sql.promote(), sql.binds("promote", lease_seconds=int(lease_seconds), holder_token=token))
            elif decision["take"]:
                db.execute(sql.take(), sql.binds("take", lease_seconds=int(lease_seconds), **dict(holder, state=HOLDING)))
            elif queued:
                db.execute(sql.renew(), sql.binds("renew", lease_seconds=WAITER_LEASE_SECONDS, holder_token=token))
            else:
                db.execute(sql.take(), sql.binds("take", lease_seconds=WAITER_LEASE_SECONDS, **dict(holder, state=WAITING)))
    finally:
        db.close()
    return {"taken": decision["take"], "holders": decision["holders"], "ahead": decision["ahead"]}


def renew(connect: Connect, dialect: str, schema: Optional[str], token: str, lease_seconds: int) -> None:
    """Extend a slot's lease; ``run_lock.LockError`` when the slot is gone (it expired and another job freed it)."""
    sql = SlotSql(dialect, schema)
    db = connect()
    try:
        if db.execute(sql.renew(), sql.binds("renew", lease_seconds=int(lease_seconds), holder_token=token)) == 0:
            raise run_lock.LockError("the server slot %s was lost (its lease ran out); the server's limit may be exceeded" % token)
    finally:
        db.close()


def release(connect: Connect, dialect: str, schema: Optional[str], token: str) -> bool:
    sql = SlotSql(dialect, schema)
    db = connect()
    try:
        return db.execute(sql.release(), sql.binds("release", holder_token=token)) != 0
    finally:
        db.close()


def holders(connect: Connect, dialect: str, schema: Optional[str]) -> List[Dict[str, Any]]:
    """The live holders (for reports and tests)."""
    sql = SlotSql(dialect, schema)
    db = connect()
    try:
        return [_lowered(row) for row in db.query(sql.holders(), sql.binds("holders"))]
    finally:
        db.close()


class Slots:
    """The slots of one database server for one module run: ``with slots.hold("backup", "K2_FIRMA") as held: ...``.

    ``connect()`` opens a new connection to the slot table's database (one per call: threads share none);
    ``identity`` holds ``site_key``, ``run_id`` and ``controller_host``; ``say(text)`` shows a progress line.
    Without a limit (``config`` None), ``hold`` takes nothing and waits for nothing.
    """

    def __init__(self, config: Optional[Mapping[str, Any]], dialect: str, connect: Connect, identity: Mapping[str, Any],
                 say: Callable[[str], None] = lambda text: None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = dict(config) if config else None
        self.dialect = dialect
        self.connect = connect
        self.identity = dict(identity)
        self.say = say
        self.sleep = sleep
        self.clock = clock
        self.notes: List[str] = []
        self.schema = self.config["database"] if self.config and dialect == "oracle" else None

    @property
    def limit(self) -> Optional[int]:
        return self.config["limit"] if self.config else None

    def _take(self, holder: Mapping[str, Any]) -> Dict[str, Any]:
        return try_take(self.connect, self.dialect, self.schema, holder, self.config["limit"], self.config["lease_seconds"])

    def acquire(self, operation: str, database: str) -> Dict[str, Any]:
        """Wait for a slot and take it: ``{"token", "waited_seconds"}``; ``SlotError`` after ``wait`` seconds."""
        holder = {"holder_token": uuid.uuid4().hex, "operation": operation, "site_key": self.identity.get("site_key"),
                  "database_name": database, "run_id": self.identity.get("run_id"),
                  "controller_host": self.identity.get("controller_host")}
        started = self.clock()
        attempt = self._take(holder)
        if attempt["taken"]:
            return {"token": holder["holder_token"], "waited_seconds": 0.0}
        limit = self.config["limit"]
        self.say("%s: waiting for a slot on the database server (limit %d): %s"
                 % (database, limit, busy_text(attempt["holders"], limit, attempt["ahead"])))
        shown = self.clock()
        deadline = started + self.config["wait"]
        growing = pauses(float("inf"))
        try:
            while self.clock() < deadline:
                pause = next(growing)
                self.sleep(min(HEAD_PAUSE if attempt["ahead"] == 0 else pause, pause, deadline - self.clock()))
                attempt = self._take(holder)
                if attempt["taken"]:
                    waited = self.clock() - started
                    self.say("%s: slot taken after %.1f s of waiting" % (database, waited))
                    return {"token": holder["holder_token"], "waited_seconds": round(waited, 1)}
                if self.clock() - shown >= 60:
                    shown = self.clock()
                    self.say("%s: still waiting for a slot: %s" % (database, busy_text(attempt["holders"], limit, attempt["ahead"])))
        except BaseException:
            self._leave_queue(holder["holder_token"])
            raise
        self._leave_queue(holder["holder_token"])
        raise SlotError("%s of %s: no slot on the database server within %d s; %s"
                        % (operation, database, self.config["wait"], busy_text(attempt["holders"], limit, attempt["ahead"])))

    def _leave_queue(self, token: str) -> None:
        """A waiter that gives up leaves its place at once (else the place is free after ``WAITER_LEASE_SECONDS``)."""
        try:
            release(self.connect, self.dialect, self.schema, token)
        except Exception:  # pylint: disable=broad-except  # the place's lease runs out by itself
            pass

    @contextmanager
    def hold(self, operation: str, database: str) -> Iterator[Dict[str, Any]]:
        """A slot for the time of the block, its lease renewed meanwhile. Yields ``{"waited_seconds", "token"}``."""
        if operation not in OPERATIONS:
            raise ValueError("operation must be one of %s, got %r" % (", ".join(OPERATIONS), operation))
        if self.config is None:
            yield {"waited_seconds": 0.0, "token": None}
            return
        held = self.acquire(operation, database)
        seconds = self.config["lease_seconds"]
        keeper = run_lock.LeaseKeeper(lambda: renew(self.connect, self.dialect, self.schema, held["token"], seconds), seconds)
        try:
            with keeper:
                yield held
        finally:
            if keeper.lost:
                self.notes.append("%s of %s: %s" % (operation, database, keeper.lost))
            try:
                release(self.connect, self.dialect, self.schema, held["token"])
            except Exception as exc:  # pylint: disable=broad-except  # the lease runs out by itself
                self.notes.append("%s of %s: the server slot could not be freed (%s); it frees itself within %d s"
                                  % (operation, database, exc, seconds))


OPTION = dict(type="dict", options=dict(
    limit=dict(type="int"),
    database=dict(type="str"),
    wait=dict(type="int", default=DEFAULT_WAIT_SECONDS),
    lease_seconds=dict(type="int", default=DEFAULT_LEASE_SECONDS),
))
