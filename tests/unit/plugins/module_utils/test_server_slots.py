"""The database server's slots: SQL per dialect (parsed with sqlglot), binds, settings, waiting.

Taking slots on a real server, from two jobs at once, runs in tests/integration/test_concurrency.py (lab PostgreSQL).
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from ansible_collections.erpops.upgrade.plugins.module_utils import run_lock, server_slots
from ansible_collections.erpops.upgrade.plugins.module_utils.run_lock import LockError
from ansible_collections.erpops.upgrade.plugins.module_utils.server_slots import GATE, TABLE, SlotError, Slots, SlotSql

READ = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}
DIALECTS = sorted(READ)
STATEMENTS = ["lock_gate", "delete_expired", "rows", "holders", "take", "promote", "renew", "release"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("statement", STATEMENTS)
def test_statements_parse_and_quote_every_identifier(dialect, statement):
    text = getattr(SlotSql(dialect), statement)()
    tree = sqlglot.parse_one(text.replace(" FOR UPDATE", "") if dialect == "lab" else text, read=READ[dialect])
    assert tree.find(exp.Table).name == TABLE
    names = [ident for ident in tree.find_all(exp.Identifier) if ident.name.isupper()]
    assert len(names) >= 2 and all(ident.quoted for ident in names)


@pytest.mark.parametrize("dialect", ["mssql", "lab"])
def test_create_table_and_gate_insert_parse(dialect):
    sql = SlotSql(dialect)
    sqlglot.parse_one(sql.create_table(), read=READ[dialect])
    sqlglot.parse_one(sql.insert_gate(), read=READ[dialect])


def test_oracle_create_table_and_gate_merge():
    sql = SlotSql("oracle", "ERPOPS")
    assert "SQLCODE != -955" in sql.create_table() and 'CREATE TABLE "ERPOPS"."ERPOPS_SERVER_SLOTS"' in sql.create_table()
    tree = sqlglot.parse_one(sql.insert_gate(), read="oracle")
    assert isinstance(tree, exp.Merge) and tree.find(exp.Table).name == TABLE


def test_oracle_table_is_qualified_with_the_schema_of_the_option():
    for statement in STATEMENTS:
        text = getattr(SlotSql("oracle", "ERPOPS"), statement)()
        tree = sqlglot.parse_one(text, read="oracle")
        table = tree.find(exp.Table)
        assert (table.db, table.name) == ("ERPOPS", TABLE)


def test_takers_go_one_at_a_time_through_the_locked_gate_row():
    assert SlotSql("lab").lock_gate().endswith("FOR UPDATE")
    assert "WITH (UPDLOCK, ROWLOCK, HOLDLOCK)" in SlotSql("mssql").lock_gate()
    assert SlotSql("oracle").lock_gate().endswith("FOR UPDATE")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_expiry_and_time_come_from_the_servers_clock_and_spare_the_gate(dialect):
    sql = SlotSql(dialect)
    now = {"mssql": "SYSUTCDATETIME()", "oracle": "SYS_EXTRACT_UTC(SYSTIMESTAMP)", "lab": "now()"}[dialect]
    assert now in sql.delete_expired() and now in sql.take() and now in sql.renew()
    where = sql.delete_expired().split(" WHERE ", 1)[1]
    assert "HOLDER_TOKEN" in where and "<>" in where and "LEASE_UNTIL" in where
    assert "HOLDER_TOKEN" in sql.holders().split(" WHERE ", 1)[1]


def test_renew_and_release_touch_only_the_holders_row():
    for dialect in DIALECTS:
        sql = SlotSql(dialect)
        for text in (sql.renew(), sql.release()):
            assert text.split(" WHERE ", 1)[1].startswith(sql._q("HOLDER_TOKEN") + " = ")  # pylint: disable=protected-access


def test_binds_follow_the_markers():
    values = dict(holder_token="t", operation="backup", site_key="K2_CONF", database_name="K2_FIRMA", run_id="r1",
                  controller_host="awx", state="waiting", lease_seconds=30)
    lab = SlotSql("lab")
    assert lab.take().count("?") == len(lab.binds("take", **values)) == 8
    assert lab.binds("take", **values) == ("t", "backup", "K2_CONF", "K2_FIRMA", "r1", "awx", "waiting", 30)
    assert lab.promote().count("?") == len(lab.binds("promote", **values)) == 3
    assert lab.binds("promote", **values) == ("holding", 30, "t")
    assert lab.binds("renew", **values) == (30, "t")
    assert lab.binds("release", **values) == ("t",)
    assert lab.binds("holders") == (GATE,)
    mssql = SlotSql("mssql")
    assert mssql.insert_gate().count("?") == len(mssql.binds("insert_gate")) == 2
    oracle = SlotSql("oracle", "ERPOPS")
    for statement in ("take", "promote", "renew", "release", "rows", "holders", "lock_gate", "delete_expired", "insert_gate"):
        names = oracle.binds(statement, **values)
        text = getattr(oracle, statement)()
        assert all(":" + name in text for name in names)
        assert sorted(set(part.split(")")[0].split(",")[0].split(" ")[0] for part in text.split(":")[1:]
                          if part[:1].isalpha())) == sorted(names)


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError):
        SlotSql("sqlite")


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (0, None), ("0", None), (1, 1), ("3", 3)])
def test_limit_zero_or_none_is_no_limit(value, expected):
    assert server_slots.limit_of(value) == expected


@pytest.mark.parametrize("value", [-1, "two"])
def test_bad_limit_is_refused(value):
    with pytest.raises(SlotError, match="server_slots.limit"):
        server_slots.limit_of(value)


def test_settings_defaults_and_the_database_every_limit_needs():
    assert server_slots.settings(None, "lab") is None
    assert server_slots.settings({"limit": 0, "database": "x"}, "mssql") is None
    assert server_slots.settings({"limit": 2, "database": "erpops"}, "lab") == {
        "limit": 2, "database": "erpops", "wait": 14400, "lease_seconds": 300}
    assert server_slots.settings({"limit": 1, "database": "ERPOPS", "wait": 60, "lease_seconds": 30}, "mssql")["wait"] == 60
    for dialect in DIALECTS:
        with pytest.raises(SlotError, match="server_slots.database is required .* on this %s server" % dialect):
            server_slots.settings({"limit": 1}, dialect)


def test_the_holders_statement_leaves_the_waiters_out_and_rows_keeps_them():
    sql = SlotSql("lab")
    assert "'waiting'" in sql.holders() and "'waiting'" not in sql.rows()
    assert sql.rows().endswith('ORDER BY "SINCE", "HOLDER_TOKEN"')


def _row(token, state="holding"):
    return {"holder_token": token, "state": state}


def test_free_slots_go_to_the_waiters_first_come_first_served():
    decide = server_slots.decide
    queue = [_row("h1"), _row("w1", "waiting"), _row("w2", "waiting")]
    # one slot held of two: the first waiter takes the free one; the second and a newcomer wait behind it
    assert decide(queue, 2, "w1") == {"take": True, "holders": [_row("h1")], "ahead": 0}
    assert decide(queue, 2, "w2")["take"] is False and decide(queue, 2, "w2")["ahead"] == 1
    assert decide(queue, 2, "new") == {"take": False, "holders": [_row("h1")], "ahead": 2}
    # three free slots: both waiters and the newcomer fit
    assert decide(queue, 4, "new")["take"] is True
    # a row written before the queue existed (no state) is a holder
    assert decide([{"holder_token": "old", "state": None}], 1, "new")["take"] is False
    # a holder asking again never counts itself
    assert decide([_row("h1")], 1, "h1")["take"] is True


def test_without_waiters_the_live_holders_count_against_the_limit():
    held = [{"holder_token": "a"}, {"holder_token": "b"}]
    assert server_slots.decide([], 1, "x")["take"]
    assert not server_slots.decide(held[:1], 1, "x")["take"]
    assert server_slots.decide(held, 3, "x")["take"] and not server_slots.decide(held, 2, "x")["take"]


def test_pauses_grow_and_stop_at_the_wait():
    steps = list(server_slots.pauses(30, jitter=lambda: 0.5))
    assert steps[0] == 1.0 and steps[1] == 1.5 and max(steps) <= 10.0
    assert sum(steps) == pytest.approx(30)
    assert list(server_slots.pauses(0)) == []


def test_holder_text_names_operation_database_site_and_time():
    from datetime import datetime
    text = server_slots.holder_text({"operation": "backup", "database_name": "K2_FIRMA", "site_key": "K2_CONF", "run_id": "r1",
                                     "controller_host": "awx-1", "since": datetime(2025, 3, 5, 17, 0, 5)})
    assert text == "backup of K2_FIRMA (site K2_CONF, run r1, controller awx-1) since 2025-03-05T17:00:05Z"


class SlotTable:
    """The slot table's rows in memory, answering the statements ``try_take``, ``renew`` and ``release`` send."""

    def __init__(self):
        self.rows = {}
        self.connections = 0
        self.clock = 0.0
        self.arrivals = 0

    def arrival(self):
        """The server's clock for SINCE, strictly growing (two jobs never arrive at the same instant here)."""
        self.arrivals += 1
        return (self.clock, self.arrivals)

    def connect(self):
        self.connections += 1
        return _Connection(self)


class _Connection:
    def __init__(self, table):
        self.table = table
        self.closed = False

    @staticmethod
    def _holder_from(binds):
        return binds[0]

    def execute(self, sql, binds=()):
        rows = self.table.rows
        if sql.startswith("INSERT INTO") and "ON CONFLICT" in sql or sql.startswith("CREATE"):
            return 0
        if sql.startswith("DELETE") and "LEASE_UNTIL" in sql:
            expired = [t for t, r in rows.items() if r["lease_until"] < self.table.clock]
            for token in expired:
                del rows[token]
            return len(expired)
        if sql.startswith("INSERT INTO"):
            rows[binds[0]] = {"holder_token": binds[0], "operation": binds[1], "database_name": binds[3], "state": binds[6],
                              "lease_until": self.table.clock + binds[7], "since": self.table.arrival()}
            return 1
        if sql.startswith("UPDATE") and '"STATE"' in sql:   # a waiter's turn
            if binds[2] not in rows:
                return 0
            rows[binds[2]].update(state=binds[0], since=self.table.arrival(), lease_until=self.table.clock + binds[1])
            return 1
        if sql.startswith("UPDATE"):
            if binds[1] not in rows:
                return 0
            rows[binds[1]]["lease_until"] = self.table.clock + binds[0]
            return 1
        if sql.startswith("DELETE"):
            return 1 if rows.pop(binds[0], None) else 0
        raise AssertionError(sql)

    def query(self, sql, binds=()):
        if " AS found" in sql:
            return [{"found": 1}]
        if "FOR UPDATE" in sql:
            return [{"HOLDER_TOKEN": GATE}]
        rows = sorted(self.table.rows.values(), key=lambda r: (r["since"], r["holder_token"]))
        if "'waiting'" in sql:
            rows = [r for r in rows if r["state"] != "waiting"]
        return [dict(r) for r in rows]

    def transaction(self):
        import contextlib
        return contextlib.nullcontext(self)

    def close(self):
        self.closed = True


def _slots(table, limit=1, wait=20, said=None, lease=300):
    def sleep(seconds):
        table.clock += seconds
    return Slots({"limit": limit, "database": "postgres", "wait": wait, "lease_seconds": lease}, "lab", table.connect,
                 {"site_key": "K2_CONF", "run_id": "r1", "controller_host": "awx"},
                 say=(said.append if said is not None else (lambda text: None)), sleep=sleep, clock=lambda: table.clock)


def test_a_full_server_waits_then_gives_up_naming_the_holder():
    table = SlotTable()
    said = []
    first = _slots(table)
    held = first.acquire("backup", "K2_ONE")
    assert held["waited_seconds"] == 0.0 and list(table.rows) == [held["token"]]
    with pytest.raises(SlotError, match="no slot on the database server within 20 s; .*backup of K2_ONE"):
        _slots(table, said=said).acquire("backup", "K2_TWO")
    assert table.clock == pytest.approx(20, abs=0.01)
    assert said[0].startswith("K2_TWO: waiting for a slot on the database server (limit 1): the database server's 1 slot(s) are held:")


def test_a_dead_holders_slot_is_free_again_after_its_lease():
    table = SlotTable()
    _slots(table, lease=15).acquire("backup", "K2_DEAD")  # never released, never renewed: its job died
    said = []
    held = _slots(table, wait=600, said=said).acquire("restore", "K2_NEXT")
    assert 15 <= held["waited_seconds"] <= 15 + 10
    assert [r["database_name"] for r in table.rows.values()] == ["K2_NEXT"]
    assert said[-1].startswith("K2_NEXT: slot taken after")


def test_hold_frees_the_slot_when_the_work_ends_or_fails_and_without_a_limit_takes_nothing():
    table = SlotTable()
    slots = _slots(table, limit=2)
    with slots.hold("backup", "K2_A") as one, slots.hold("conversion", "K2_B") as two:
        assert len(table.rows) == 2 and one["token"] != two["token"]
    assert table.rows == {}
    with pytest.raises(RuntimeError):
        with slots.hold("backup", "K2_A"):
            raise RuntimeError("backup failed")
    assert table.rows == {}
    free = Slots(None, "lab", table.connect, {})
    before = table.connections
    with free.hold("backup", "K2_A") as held:
        assert held["token"] is None
    assert table.connections == before and free.limit is None
    with pytest.raises(ValueError):
        with slots.hold("vacuum", "K2_A"):
            pass


def test_every_call_opens_and_closes_its_own_connection():
    table = SlotTable()
    opened = []
    original = table.connect

    def connect():
        opened.append(original())
        return opened[-1]

    table.connect = connect
    slots = _slots(table)
    with slots.hold("backup", "K2_A"):
        pass
    assert len(opened) == 2 and all(conn.closed for conn in opened)


def test_renew_of_a_lost_slot_says_so():
    table = SlotTable()
    with pytest.raises(LockError, match="was lost"):
        server_slots.renew(table.connect, "lab", None, "gone", 30)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_table_exists_parses_and_names_the_table(dialect):
    text, binds = SlotSql(dialect, "ERPOPS" if dialect == "oracle" else None).table_exists()
    sqlglot.parse_one(text, read=READ[dialect])
    assert (binds["table_name"] == TABLE and binds["owner"] == "ERPOPS") if dialect == "oracle" else binds == (SlotSql(dialect).table,)


class _Creating:
    """A connection where the table is missing, then the create fails because another job made it meanwhile (or not)."""

    def __init__(self, appears):
        self.appears = appears
        self.checks = 0

    def query(self, sql, binds=()):
        self.checks += 1
        return [{"found": 1 if self.appears and self.checks > 1 else 0}]

    def execute(self, sql, binds=()):
        raise OSError('duplicate key value violates unique constraint "pg_type_typname_nsp_index"')


def test_a_concurrent_create_of_the_table_is_forgiven_only_when_the_table_is_there():
    sql = SlotSql("lab")
    run_lock.ensure_table(_Creating(appears=True), sql.create_table(), sql.table_exists())
    with pytest.raises(OSError, match="duplicate key"):
        run_lock.ensure_table(_Creating(appears=False), sql.create_table(), sql.table_exists())


def _job(token, database):
    return {"holder_token": token, "operation": "backup", "site_key": "K2_CONF", "database_name": database, "run_id": "r1",
            "controller_host": "awx"}


def test_a_newcomer_never_overtakes_a_waiting_job_and_a_gone_waiter_loses_its_place():
    table = SlotTable()

    def attempt(token):
        return server_slots.try_take(table.connect, "lab", None, _job(token, "K2_" + token), 1, 300)

    assert attempt("a")["taken"] is True
    assert attempt("b") == {"taken": False, "holders": [table.rows["a"]], "ahead": 0} and table.rows["b"]["state"] == "waiting"
    server_slots.release(table.connect, "lab", None, "a")
    late = attempt("c")                       # the slot is free, but b came first
    assert late["taken"] is False and late["ahead"] == 1
    assert attempt("b")["taken"] is True and table.rows["b"]["state"] == "holding"
    assert attempt("c")["ahead"] == 0
    # c stops asking (its job died): its place is kept for one waiter lease, then the next newcomer is first
    table.clock += server_slots.WAITER_LEASE_SECONDS - 1
    server_slots.release(table.connect, "lab", None, "b")
    assert attempt("d")["taken"] is False
    table.clock += 2
    assert attempt("d")["taken"] is True and sorted(table.rows) == ["d"]


def test_a_waiter_that_gives_up_leaves_the_queue_at_once():
    table = SlotTable()
    holder = _slots(table).acquire("backup", "K2_ONE")
    with pytest.raises(SlotError, match="no slot on the database server within 20 s"):
        _slots(table).acquire("backup", "K2_TWO")
    assert list(table.rows) == [holder["token"]]


def test_waiting_says_how_many_jobs_wait_before_this_one():
    table = SlotTable()
    _slots(table).acquire("backup", "K2_ONE")
    server_slots.try_take(table.connect, "lab", None, _job("w", "K2_W"), 1, 300)
    said = []
    with pytest.raises(SlotError, match="1 job\\(s\\) waiting before this one"):
        _slots(table, wait=5, said=said).acquire("backup", "K2_TWO")
    assert "1 job(s) waiting before this one" in said[0]


def test_the_first_waiter_asks_every_second_and_those_behind_it_less_and_less_often():
    def pauses_of(queue_before):
        table = SlotTable()
        _slots(table).acquire("backup", "K2_ONE")
        for number in range(queue_before):
            server_slots.try_take(table.connect, "lab", None, _job("w%d" % number, "K2_W"), 1, 300)
        slept = []

        def sleep(seconds):
            slept.append(seconds)
            table.clock += seconds
        slots = Slots({"limit": 1, "database": "postgres", "wait": 40, "lease_seconds": 300}, "lab", table.connect, {},
                      sleep=sleep, clock=lambda: table.clock)
        with pytest.raises(SlotError):
            slots.acquire("backup", "K2_TWO")
        assert sum(slept) == pytest.approx(40)
        return slept

    head = pauses_of(0)
    assert max(head) <= server_slots.HEAD_PAUSE and len(head) >= 40
    behind = pauses_of(1)
    assert max(behind) > 5 and len(behind) < 15
