# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_firmy's module code on a real SQLite FIRMY behind the collection's Database class (real transactions)."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.db import base
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC
from ansible_collections.erpops.upgrade.plugins.modules import k2_firmy

ROWS = [("DEMO", "Demo", "K2_DEMO"), ("FIRMA", "Firma", "K2_FIRMA"), ("FIRMA2 ", "Firma 2", "K2_FIRMA2"),
        ("FIRMA2_TEST", "Kopie", "K2_FIRMA2_TEST"), ("INIT", "Init", "K2_INIT")]


class SqliteConnection:
    """A DB-API connection with the ``autocommit`` switch pyodbc has, over sqlite3 in autocommit mode."""

    def __init__(self, conn):
        self.conn = conn

    @property
    def autocommit(self):
        return not self.conn.in_transaction

    @autocommit.setter
    def autocommit(self, value):
        if not value and not self.conn.in_transaction:
            self.conn.execute("BEGIN")

    def cursor(self):
        return self.conn.cursor()

    def commit(self):
        self.conn.execute("COMMIT")

    def rollback(self):
        self.conn.execute("ROLLBACK")

    def close(self):
        pass


class SqliteDatabase(base.Database):
    platform = "lab"
    driver_errors = (sqlite3.Error,)


@pytest.fixture(name="conf")
def conf_fixture(monkeypatch):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute('CREATE TABLE "FIRMY" ("Zkr" TEXT, "Naz" TEXT, "DatabaseName" TEXT)')
    conn.executemany('INSERT INTO "FIRMY" VALUES (?, ?, ?)', ROWS)
    monkeypatch.setattr(k2_firmy.k2db, "connect", lambda params, database: SqliteDatabase(SqliteConnection(conn), database))
    return conn


def run(check_mode=False, diff=False, **params):
    values = {name: spec.get("default") for name, spec in DB_ARGUMENT_SPEC.items()}
    values.update(db_platform="lab", databases={}, protected_databases=[], k2_profile={})
    values.update(params)
    return k2_firmy.run(SimpleNamespace(params=values, check_mode=check_mode, _diff=diff))


def rows(conn):
    return conn.execute('SELECT TRIM("Zkr"), "DatabaseName" FROM "FIRMY" ORDER BY 1').fetchall()


def test_prunes_and_repoints_in_one_transaction_then_reruns_unchanged(conf):
    result = run(diff=True, conf_database="K2_CONF_T", keep=["FIRMA", "FIRMA2"], databases={"FIRMA": "K2_FIRMA_T", "FIRMA2": "K2_FIRMA2_T"})
    assert result["changed"] is True
    assert rows(conf) == [("FIRMA", "K2_FIRMA_T"), ("FIRMA2", "K2_FIRMA2_T")]
    assert [m["code"] for m in result["deleted"]] == ["DEMO", "FIRMA2_TEST", "INIT"]
    assert result["diff"]["before"].startswith("DEMO\tK2_DEMO\n") and result["diff"]["after"] == "FIRMA\tK2_FIRMA_T\nFIRMA2\tK2_FIRMA2_T\n"
    again = run(conf_database="K2_CONF_T", keep=["FIRMA", "FIRMA2"], databases={"FIRMA": "K2_FIRMA_T", "FIRMA2": "K2_FIRMA2_T"})
    assert again["changed"] is False and again["deleted"] == [] and again["updated"] == []


def test_check_mode_reports_and_changes_nothing(conf):
    result = run(check_mode=True, conf_database="K2_CONF_T", keep=["FIRMA"], databases={"FIRMA": "X"})
    assert result["changed"] is True and [m["code"] for m in result["mandants"]] == ["FIRMA"]
    assert rows(conf) == sorted((c.strip(), d) for c, _n, d in ROWS)


def test_refusals_change_nothing(conf):
    with pytest.raises(ValueError, match="protected CONF database"):
        run(conf_database="k2_conf", keep=["FIRMA"], protected_databases=["K2_CONF"])
    with pytest.raises(ValueError, match="no mandant NOPE"):
        run(conf_database="K2_CONF_T", keep=["FIRMA", "NOPE"])
    assert rows(conf) == sorted((c.strip(), d) for c, _n, d in ROWS)


def test_a_failing_update_rolls_back_the_deletes(conf):
    conf.execute('CREATE TRIGGER refuse BEFORE UPDATE ON "FIRMY" BEGIN SELECT RAISE(ABORT, \'read-only\'); END')
    with pytest.raises(base.DatabaseError, match="read-only"):
        run(conf_database="K2_CONF_T", keep=["FIRMA"], databases={"FIRMA": "K2_FIRMA_T"})
    assert rows(conf) == sorted((c.strip(), d) for c, _n, d in ROWS)
