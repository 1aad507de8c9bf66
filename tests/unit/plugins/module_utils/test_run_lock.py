"""The site's lock: SQL per dialect (parsed with sqlglot), bind order, the lease keeper thread.

Acquiring, renewing and releasing on a real server run in tests/integration/test_run_state.py (lab PostgreSQL).
"""

from __future__ import annotations

import time

import pytest
import sqlglot
from sqlglot import exp

from ansible_collections.erpops.upgrade.plugins.module_utils import run_lock
from ansible_collections.erpops.upgrade.plugins.module_utils.run_lock import TABLE, LeaseKeeper, LockError, LockSql

READ = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}
DIALECTS = sorted(READ)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("statement", ["select_for_update", "select", "take", "renew", "release"])
def test_statements_parse_and_quote_every_identifier(dialect, statement):
    text = getattr(LockSql(dialect), statement)()
    tree = sqlglot.parse_one(text.replace(" FOR UPDATE", "") if dialect == "lab" else text, read=READ[dialect])
    assert tree.find(exp.Table).name == TABLE
    columns = [column for column in tree.find_all(exp.Column) if column.name.isupper()]
    assert columns and all(column.this.quoted for column in columns)


@pytest.mark.parametrize("dialect", ["mssql", "lab"])
def test_create_table_parses(dialect):
    sqlglot.parse_one(LockSql(dialect).create_table(), read=READ[dialect])


def test_create_table_is_guarded_per_dialect():
    assert LockSql("lab").create_table().startswith('CREATE TABLE IF NOT EXISTS "ERPOPS_RUN_LOCK" (')
    assert LockSql("mssql").create_table().startswith("IF OBJECT_ID(N'[ERPOPS_RUN_LOCK]', N'U') IS NULL CREATE TABLE")
    assert "SQLCODE != -955" in LockSql("oracle").create_table()
    assert 'PRIMARY KEY ("SITE_KEY")' in LockSql("lab").create_table()


def test_the_row_is_locked_until_the_transaction_ends():
    assert LockSql("lab").select_for_update().endswith("FOR UPDATE")
    assert "WITH (UPDLOCK, ROWLOCK, HOLDLOCK)" in LockSql("mssql").select_for_update()
    assert LockSql("oracle").select_for_update().endswith("FOR UPDATE")


def test_the_free_row_insert_never_fails_on_an_existing_row():
    assert "ON CONFLICT" in LockSql("lab").insert_free_row()
    assert "WHERE NOT EXISTS" in LockSql("mssql").insert_free_row()
    assert LockSql("oracle").insert_free_row().startswith("MERGE INTO")
    assert LockSql("mssql").insert_free_row_binds("K2_CONF") == ("K2_CONF", "K2_CONF")
    assert LockSql("oracle").insert_free_row_binds("K2_CONF") == {"site_key": "K2_CONF"}


def test_renew_and_release_touch_only_the_holders_row():
    for dialect in DIALECTS:
        sql = LockSql(dialect)
        for text in (sql.renew(), sql.release()):
            where = text.split(" WHERE ", 1)[1]
            assert "SITE_KEY" in where and "HOLDER_TOKEN" in where
    release = LockSql("lab").release()
    assert all('"%s" = NULL' % column in release for column in ("RUN_ID", "HOLDER_TOKEN", "CONTROLLER_HOST", "SINCE", "LEASE_UNTIL"))


def test_binds_follow_the_markers():
    values = dict(run_id="r", token="t", controller_host="h", controller_user="u", awx_job_id="7", lease_seconds=30, site_key="K")
    lab = LockSql("lab")
    assert lab.take().count("?") == len(lab.binds("take", **values)) == 7
    assert lab.binds("take", **values) == ("r", "t", "h", "u", "7", 30, "K")
    assert lab.binds("renew", **values) == (30, "K", "t")
    assert lab.binds("release", **values) == ("K", "t")
    oracle = LockSql("oracle")
    for statement in ("take", "renew", "release"):
        names = oracle.binds(statement, **values)
        assert all(":" + name in getattr(oracle, statement)() for name in names)


def test_unknown_dialect_is_refused():
    with pytest.raises(ValueError):
        LockSql("sqlite")


def test_lease_keeper_renews_until_the_work_ends():
    calls = []
    keeper = LeaseKeeper(lambda: calls.append(time.monotonic()), 3)
    keeper.interval = 0.05
    with keeper:
        time.sleep(0.4)
    count = len(calls)
    time.sleep(0.2)
    assert count >= 3 and len(calls) == count and keeper.renewals == count


def test_lease_keeper_survives_a_failed_renewal_and_stops_when_the_lock_is_lost():
    attempts = []

    def renew_once():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("server not answering")
        raise LockError("this job no longer holds the site's lock")

    keeper = LeaseKeeper(renew_once, 3)
    keeper.interval = 0.05
    with keeper:
        time.sleep(0.4)
    assert keeper.errors == ["server not answering"] and "no longer holds" in keeper.lost and len(attempts) == 2


def test_keeper_for_needs_a_lease():
    assert run_lock.keeper_for(None, {"db_platform": "lab"}, "gen_CONF", None) is None
    assert run_lock.keeper_for({"token": None}, {"db_platform": "lab"}, "gen_CONF", None) is None


def test_keeper_for_renews_on_a_fresh_connection_each_time():
    opened = []

    class Db:
        def execute(self, _sql, params):
            opened.append(params)
            return 1

        def close(self):
            opened.append("closed")

    keeper = run_lock.keeper_for({"token": "t", "seconds": 9}, {"db_platform": "lab"}, "gen_CONF", lambda _params, database: Db())
    assert keeper.interval == 3.0
    keeper.interval = 0.05
    with keeper:
        time.sleep(0.2)
    assert opened[:2] == [(9, "gen_CONF", "t"), "closed"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_table_exists_parses_and_names_the_lock_table(dialect):
    text, binds = LockSql(dialect).table_exists()
    sqlglot.parse_one(text, read=READ[dialect])
    assert binds == ({"table_name": TABLE} if dialect == "oracle" else (LockSql(dialect).table,))


class _Racing:
    """The lock table is missing when asked first; the create fails (another job made it meanwhile, or not)."""

    def __init__(self, appears):
        self.appears = appears
        self.asked = 0

    def query(self, sql, binds=()):
        self.asked += 1
        return [{"found": 1 if self.appears and self.asked > 1 else 0}]

    def execute(self, sql, binds=()):
        raise OSError('duplicate key value violates unique constraint "pg_type_typname_nsp_index"')


def test_two_runs_creating_the_lock_table_at_once_do_not_fail_the_loser():
    sql = LockSql("lab")
    run_lock.ensure_table(_Racing(appears=True), sql.create_table(), sql.table_exists())
    with pytest.raises(OSError, match="duplicate key"):
        run_lock.ensure_table(_Racing(appears=False), sql.create_table(), sql.table_exists())
