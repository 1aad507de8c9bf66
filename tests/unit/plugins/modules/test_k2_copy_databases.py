# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_copy_databases' module code against stand-in MS SQL and Oracle servers that record every statement."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import db_copy
from ansible_collections.erpops.upgrade.plugins.module_utils.db import base
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC
from ansible_collections.erpops.upgrade.plugins.modules import k2_copy_databases

FIRMY = [{"code": "DEMO", "name": "", "dbname": "K2_DEMO"}, {"code": "FIRMA", "name": "", "dbname": "K2_FIRMA"},
         {"code": "FIRMA_TEST", "name": "", "dbname": "K2_FIRMA_TEST"}, {"code": "INIT", "name": "", "dbname": "K2_INIT"}]


class Server:
    """One database server: its identity, its databases, and every statement sent to it."""

    def __init__(self, identity, names, complete=()):
        self.identity, self.names, self.complete = identity, list(names), set(complete)
        self.log = []


class Stub:
    def __init__(self, server, database):
        self.server, self.database = server, database

    def query(self, sql, params=()):
        self.server.log.append(("query", self.database, sql, params))
        if '"FIRMY"' in sql or "[FIRMY]" in sql:
            return [dict(row) for row in FIRMY]
        if sql in db_copy.SERVER_IDENTITY_SQL.values():
            return [{"identity": self.server.identity}]
        if "EngineEdition" in sql:
            return [{"edition": 3}]
        if sql == db_copy.MSSQL_FILES_SQL:
            return [{"name": params[0], "physical_name": "D:\\Data\\%s.mdf" % params[0], "type_desc": "ROWS"},
                    {"name": params[0] + "_log", "physical_name": "L:\\Log\\%s_log.ldf" % params[0], "type_desc": "LOG"}]
        if "K2VERZE" in sql:
            if self.database not in self.server.complete:
                raise base.DatabaseError(base.SQL_FAILED, "no such table")
            return [{"version": "gaia.12.3"}]
        raise AssertionError(sql)

    def execute(self, sql, params=(), dont_exec=False):  # pylint: disable=unused-argument
        self.server.log.append(("execute", self.database, sql, params))
        return 0

    def databases(self):
        return list(self.server.names)

    def close(self):
        pass


def run(servers, check_mode=False, **params):
    values = {name: spec.get("default") for name, spec in DB_ARGUMENT_SPEC.items()}
    values.update({name: spec.get("default") for name, spec in k2_copy_databases.argument_spec().items() if name not in values})
    values.update(db_platform="mssql", login_host="sql01", conf_database="K2_CONF", target_dir="\\\\nas\\copies")
    values.update(params)
    module = SimpleNamespace(params=values, check_mode=check_mode)
    original = k2_copy_databases.k2db.connect
    k2_copy_databases.k2db.connect = lambda p, database: Stub(servers[p["login_host"]], database)
    try:
        return k2_copy_databases.run(module)
    finally:
        k2_copy_databases.k2db.connect = original


def executed(server):
    return [sql for kind, _db, sql, _params in server.log if kind == "execute"]


def test_mssql_backs_up_copy_only_and_restores_with_move_under_new_names():
    prod = Server("SQL01", ["master", "K2_CONF", "K2_FIRMA"])
    result = run({"sql01": prod})
    assert result["changed"] is True and result["same_server"] is True
    assert [(c["source"], c["target"], c["copied"]) for c in result["copies"]] == [
        ("K2_CONF", "K2_CONF_TESTENV", True), ("K2_FIRMA", "K2_FIRMA_TESTENV", True)]
    assert result["mandant_databases"] == {"FIRMA": "K2_FIRMA_TESTENV"} and result["conf_database"] == "K2_CONF_TESTENV"
    sql = executed(prod)
    assert sql[0] == "EXEC master.sys.xp_create_subdir N'\\\\nas\\copies'"
    assert sql[1].startswith("BACKUP DATABASE [K2_CONF] TO DISK = N'\\\\nas\\copies\\K2_CONF_copy_") and "COPY_ONLY, CHECKSUM" in sql[1]
    assert sql[2].startswith("RESTORE VERIFYONLY FROM DISK = N'\\\\nas\\copies\\K2_CONF_copy_")
    assert sql[3].startswith("RESTORE DATABASE [K2_CONF_TESTENV] FROM DISK = N'\\\\nas\\copies\\K2_CONF_copy_")
    assert "MOVE N'K2_CONF' TO N'D:\\Data\\K2_CONF_TESTENV.mdf', MOVE N'K2_CONF_log' TO N'L:\\Log\\K2_CONF_TESTENV_log.ldf'" in sql[3]
    assert result["copies"][0]["file"] in sql[1]
    assert [s.split("]")[0] for s in sql if s.startswith("BACKUP")] == ["BACKUP DATABASE [K2_CONF", "BACKUP DATABASE [K2_FIRMA"]


def test_existing_complete_copies_are_kept_and_check_mode_creates_nothing():
    prod = Server("SQL01", ["K2_CONF", "K2_FIRMA", "k2_conf_testenv"], complete={"k2_conf_testenv"})
    result = run({"sql01": prod}, check_mode=True)
    assert [(c["target"], c["exists"], c["copied"]) for c in result["copies"]] == [
        ("K2_CONF_TESTENV", True, False), ("K2_FIRMA_TESTENV", False, False)]
    assert result["changed"] is True and executed(prod) == []
    prod.names.append("K2_FIRMA_TESTENV")
    prod.complete.add("K2_FIRMA_TESTENV")
    assert run({"sql01": prod})["changed"] is False and executed(prod) == []


def test_refusals_create_nothing():
    prod = Server("SQL01", ["K2_CONF", "K2_FIRMA", "K2_FIRMA_TESTENV"])
    with pytest.raises(db_copy.CopyError, match="holds no K2 version table"):
        run({"sql01": prod})
    with pytest.raises(db_copy.CopyError, match="would be K2_FIRMA_TEST, a database of the production site"):
        run({"sql01": prod}, names={"FIRMA": "k2_firma_test"})
    # An alias of the production server is the same server: its identity says so.
    alias = Server("SQL01", prod.names)
    with pytest.raises(db_copy.CopyError, match="would use the production databases"):
        run({"sql01": prod, "10.0.0.5": alias}, suffix="", target_login_host="10.0.0.5")
    assert executed(prod) == [] and executed(alias) == []


def test_another_server_may_keep_the_names():
    prod, test = Server("SQL01", ["K2_CONF", "K2_FIRMA"]), Server("SQL02", ["master"])
    result = run({"sql01": prod, "sql02": test}, suffix="", target_login_host="sql02")
    assert result["same_server"] is False and result["conf_database"] == "K2_CONF"
    assert [s.split(" FROM")[0] for s in executed(test)] == ["RESTORE DATABASE [K2_CONF]", "RESTORE DATABASE [K2_FIRMA]"]
    assert all(s.startswith(("EXEC", "BACKUP", "RESTORE VERIFYONLY")) for s in executed(prod))


def test_oracle_exports_and_imports_with_remap_schema():
    prod = Server("ORCL/K2PDB", ["K2_CONF", "K2_FIRMA"])
    result = run({"sql01": prod}, db_platform="oracle", login_user="K2ADMIN", oracle_directory="DP_DIR", target_dir=None)
    jobs = [(sql, params) for kind, _db, sql, params in prod.log if kind == "execute"]
    assert len(jobs) == 4 and "'EXPORT'" in jobs[0][0] and "'REMAP_SCHEMA'" in jobs[1][0]
    assert (jobs[1][1]["old_schema"], jobs[1][1]["new_schema"]) == ("K2_CONF", "K2_CONF_TESTENV")
    assert jobs[0][1]["dump_file"] == jobs[1][1]["dump_file"] and result["copies"][0]["file"] == "DP_DIR:" + jobs[0][1]["dump_file"]
    with pytest.raises(db_copy.CopyError, match="oracle_directory"):
        run({"sql01": Server("ORCL/K2PDB", ["K2_CONF", "K2_FIRMA"])}, db_platform="oracle", target_dir=None)
