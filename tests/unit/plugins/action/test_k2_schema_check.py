# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the k2_schema_check action: offline MS SQL and Oracle snapshots, and stand-in databases for the live flow."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
from unittest import mock

import pytest

from ansible_collections.erpops.upgrade.plugins.action import k2_schema_check
from ansible_collections.erpops.upgrade.plugins.action.k2_schema_check import ARGUMENT_SPEC, Run, decode_script
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE, ddl_script_name
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import dumps_snapshot, loads_snapshot
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import KINDS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.k2lab import drift, render, schema_gen  # noqa: E402  (the lab renders the vendor scripts and catalogs)

PLATFORMS = ("mssql", "oracle", "lab")


def _args(**overrides):
    args = dict((name, spec.get("default")) for name, spec in ARGUMENT_SPEC.items())
    args.update(overrides)
    return args


def _action(check_mode=False):
    return types.SimpleNamespace(_task=types.SimpleNamespace(check_mode=check_mode, delegate_to=None))


def _model(tables=40):
    return schema_gen.company_schema(tables)


def _scripts(tmp_path, model, conf_model=None):
    folder = tmp_path / "SQL"
    (folder / "konverze").mkdir(parents=True)
    for platform in PLATFORMS:
        (folder / ddl_script_name(DEFAULT_PROFILE, "company", platform)).write_text(render.render_ddl(model, platform), encoding="utf-8")
        (folder / ddl_script_name(DEFAULT_PROFILE, "conf", platform)).write_text(
            render.render_ddl(conf_model or schema_gen.conf_schema(), platform), encoding="utf-8")
    return folder


def _offline(tmp_path, scripts, live, **extra):
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(dumps_snapshot(live), encoding="utf-8")
    return Run(_action(), _args(scripts_dir=str(scripts), snapshot=str(snapshot), **extra), DEFAULT_PROFILE).check()


def _identities(findings):
    key = str.upper
    return sorted((f["kind"], key(f["table"]) if f["table"] else None, key(f["column"]) if f["column"] else None,
                   key(f["index"]) if f["index"] else None) for f in findings)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_offline_snapshot_clean_gives_no_findings(tmp_path, platform):
    model = _model()
    live = render.platform_model(model, platform)
    live.database = "K2_FIRMA"
    data = _offline(tmp_path, _scripts(tmp_path, model), live)
    assert data["platform"] == platform
    assert data["consistent"] is True and data["findings"] == [] and data["counts"]["total"] == 0
    assert data["databases"][0]["script"] == ddl_script_name(DEFAULT_PROFILE, "company", platform)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("seed", [0, 7])
def test_offline_snapshot_every_drift_kind_is_found(tmp_path, platform, seed):
    model = _model()
    live = render.platform_model(model, platform)
    injected = drift.inject_all(live, seed=seed)
    live.database = "K2_FIRMA"
    data = _offline(tmp_path, _scripts(tmp_path, model), live, report=str(tmp_path / "out" / "report.md"))
    assert _identities(data["findings"]) == sorted(i.identity() for i in injected)
    no_filters = {"different_index_filter"} if platform == "oracle" else set()   # Oracle has no filtered indexes
    assert set(data["counts"]["by_kind"]) == set(KINDS) - {"unreadable_statement"} - no_filters
    assert data["consistent"] is False and data["changed"] is False
    assert (tmp_path / "out" / "report.md").read_text(encoding="utf-8").count("\n| K2_FIRMA |") == len(injected) + 1  # the findings and the database row


def test_offline_snapshot_from_a_real_catalog_render_and_conf_kind(tmp_path):
    conf = schema_gen.conf_schema()
    snapshot = tmp_path / "conf.json"
    snapshot.write_text(render.catalog_snapshot(conf, "oracle", database="K2CONF"), encoding="utf-8")
    data = Run(_action(), _args(scripts_dir=str(_scripts(tmp_path, _model(), conf)), snapshot=str(snapshot), snapshot_kind="conf"),
               DEFAULT_PROFILE).check()
    assert data["consistent"] is True and data["databases"][0]["kind"] == "conf" and data["databases"][0]["database"] == "K2CONF"


def test_offline_missing_script_fails_clearly(tmp_path):
    scripts = _scripts(tmp_path, _model())
    os.unlink(str(scripts / "K2t_FIRMA_Oracle.SQL"))
    live = render.platform_model(_model(), "oracle")
    with pytest.raises(ValueError, match="K2t_FIRMA_Oracle.SQL is missing from"):
        _offline(tmp_path, scripts, live)


def test_script_names_match_without_regard_to_case(tmp_path):
    model = _model()
    scripts = _scripts(tmp_path, model)
    os.rename(str(scripts / "K2t_FIRMA_MSSQL.SQL"), str(scripts / "k2t_firma_mssql.sql"))
    data = _offline(tmp_path, scripts, render.platform_model(model, "mssql"))
    assert data["consistent"] is True


def test_decode_script_reports_undecodable_bytes():
    assert decode_script("CREATE TABLE [Č]".encode("utf-8-sig"), "a.sql") == "CREATE TABLE [Č]"
    with pytest.raises(ValueError, match="cannot read K2t_X.SQL"):
        decode_script(b"\xff\xfe\x00\xd8", "K2t_X.SQL")


# -- the live flow with stand-in databases ------------------------------------------------------

class StandIn(object):
    """A database as the adapter interface shows it; ``vanish`` makes the catalog read fail as a dropped database does."""

    def __init__(self, name, live, firmy=None, vanish=False, fail_on=None, log=None):
        self.database = name
        self.live = live
        live.database = name  # as the adapters name their catalog
        self.firmy = firmy or []
        self.vanish = vanish
        self.fail_on = fail_on
        self.round_trips = 0
        self.log = log if log is not None else []
        self.in_transaction = False

    def query(self, sql, params=()):
        self.round_trips += 1
        return list(self.firmy)

    def catalog_rows(self):
        """The catalog reads' rows, as the adapters return them: here the snapshot text stands for the three reads."""
        if self.vanish:
            self.round_trips += 1
            raise k2db.DatabaseError(k2db.DATABASE_MISSING, "lab server x port 1, database %r: database does not exist" % self.database)
        self.round_trips += 3
        return [[{"snapshot": dumps_snapshot(self.live)}], [], []]

    def catalog(self, rows=None):
        rows = self.catalog_rows() if rows is None else rows
        return loads_snapshot(rows[0][0]["snapshot"])

    def execute(self, sql, params=(), dont_exec=False):
        if self.fail_on and self.fail_on in sql:
            raise k2db.DatabaseError(k2db.SQL_FAILED, "refused: %s" % sql)
        self.log.append((self.database, sql, self.in_transaction))
        return 0

    @contextlib.contextmanager
    def transaction(self):
        self.in_transaction = True
        try:
            yield self
        finally:
            self.in_transaction = False

    def close(self):
        pass


class Server(object):
    """Stand-in databases by name; ``connect`` is patched to this."""

    def __init__(self, platform, model, drifted=(), vanish=(), fail_on=None):
        self.platform = platform
        self.model = model
        self.drifted = drifted
        self.vanish = vanish
        self.fail_on = fail_on
        self.log = []
        self.injected = {}
        self.connects = []
        self.threads = set()
        self.lock = threading.Lock()

    def connect(self, params, database):
        with self.lock:
            self.connects.append(database)
            self.threads.add(threading.current_thread().name)
        if database == "K2_CONF":
            live = render.platform_model(schema_gen.conf_schema(), self.platform)
            firmy = [{"code": c, "name": c, "dbname": "K2_" + c} for c in ("FIRMA", "FIRMA2", "INIT", "DEMO", "GONE")]
            return StandIn(database, live, firmy, log=self.log)
        if database == "K2_NOWHERE":
            raise k2db.DatabaseError(k2db.DATABASE_MISSING, "no such database")
        live = render.platform_model(self.model, self.platform)
        if database in self.drifted and database not in self.injected:
            self.injected[database] = drift.inject_all(live, seed=1)
        elif database in self.injected:
            drift.inject_all(live, seed=1)
        return StandIn(database, live, vanish=database in self.vanish, fail_on=self.fail_on, log=self.log)


def _live(tmp_path, server, check_mode=False, **extra):
    scripts = _scripts(tmp_path, server.model)
    args = _args(scripts_dir=str(scripts), conf_database="K2_CONF", db_platform=server.platform, **extra)
    with mock.patch.object(k2_schema_check.k2db, "connect", server.connect):
        return Run(_action(check_mode), args, DEFAULT_PROFILE).check()


def test_live_every_database_is_checked_in_parallel_and_one_that_vanishes_is_an_error(tmp_path):
    server = Server("mssql", _model(), drifted=("K2_FIRMA",), vanish=("K2_GONE",))
    data = _live(tmp_path, server, parallel=3, save_snapshots_to=str(tmp_path / "snaps"))
    state = dict((d["code"], d) for d in data["databases"])
    assert list(state) == ["CONF", "DEMO", "FIRMA", "FIRMA2", "GONE", "INIT"]
    assert "database missing" in state["GONE"]["error"] and state["GONE"]["findings"] == 0
    assert [c for c, d in state.items() if d["consistent"]] == ["CONF", "DEMO", "FIRMA2", "INIT"]
    assert _identities(data["findings"]) == sorted(i.identity() for i in server.injected["K2_FIRMA"])
    assert all(d["round_trips"] == 3 for c, d in state.items() if c != "GONE")
    assert data["errors"] == [{"code": "GONE", "database": "K2_GONE", "error": state["GONE"]["error"]}]
    assert 1 < len(server.threads - {"MainThread"}) <= 3  # CONF (FIRMY) is read first, in the main thread
    assert sorted(os.listdir(str(tmp_path / "snaps"))) == ["K2_CONF.json", "K2_DEMO.json", "K2_FIRMA.json", "K2_FIRMA2.json", "K2_INIT.json"]
    assert data["changed"] is False and data["applied"] == [] and data["would_run"] == []


def test_databases_list_limits_the_scope(tmp_path):
    server = Server("lab", _model())
    data = _live(tmp_path, server, databases=["firma2", "CONF"])
    assert [d["code"] for d in data["databases"]] == ["CONF", "FIRMA2"] and data["consistent"] is True
    assert sorted(server.connects) == ["K2_CONF", "K2_CONF", "K2_FIRMA2"]


def test_system_databases_get_recreate_only(tmp_path):
    server = Server("mssql", _model(), drifted=("K2_INIT",))
    data = _live(tmp_path, server, databases=["INIT"])
    assert {s["kind"] for s in data["repair_plan"]} == {"recreate_database"} and len(data["repair_plan"]) == 1


def test_apply_in_check_mode_lists_exactly_what_would_run_and_runs_nothing(tmp_path):
    server = Server("mssql", _model(), drifted=("K2_FIRMA",))
    data = _live(tmp_path, server, check_mode=True, databases=["FIRMA"], apply=True, repair_kinds=["create_index", "drop_column"])
    assert server.log == []
    assert data["changed"] is True and data["applied"] == []
    kinds = [s["kind"] for s in data["would_run"]]
    assert set(kinds) == {"create_index", "drop_column"} and all(s["sql"] for s in data["would_run"])
    assert [s for s in data["repair_plan"] if s["kind"] in ("create_index", "drop_column") and s["sql"]] == data["would_run"]


@pytest.mark.parametrize("platform, transactional", [("mssql", True), ("lab", True), ("oracle", False)])
def test_apply_runs_only_selected_kinds_each_in_a_transaction_where_the_engine_allows(tmp_path, platform, transactional):
    server = Server(platform, _model(), drifted=("K2_FIRMA",))
    data = _live(tmp_path, server, databases=["FIRMA"], apply=True, repair_kinds=["drop_column", "fulltext", "create_table"])
    ran = [(step["kind"], step["sql"]) for step in data["applied"]]
    assert ran and {kind for kind, _sql in ran} <= {"drop_column", "fulltext", "create_table"}
    assert [sql for _db, sql, _tx in server.log] == [k2_schema_check.schema_check.executable_sql(sql, platform) for _kind, sql in ran]
    for (kind, _sql), (_db, _executed, in_transaction) in zip(ran, server.log):
        assert in_transaction == (transactional and not (platform == "mssql" and kind == "fulltext"))
    if platform == "oracle":
        assert not any(sql.endswith(";") for _db, sql, _tx in server.log)
    # checked again afterwards (the stand-in does not change, so the findings are still there)
    firma = data["databases"][0]
    assert firma["applied"] == len(ran) and firma["findings_before_apply"] == firma["findings"]
    assert server.connects.count("K2_FIRMA") == 3  # check, apply, check again


def test_a_failing_repair_stops_that_database_only(tmp_path):
    server = Server("mssql", _model(), drifted=("K2_FIRMA", "K2_FIRMA2"), fail_on="DROP COLUMN")
    data = _live(tmp_path, server, databases=["FIRMA", "FIRMA2"], apply=True, repair_kinds=["create_table", "drop_column"])
    state = dict((d["code"], d) for d in data["databases"])
    for code in ("FIRMA", "FIRMA2"):
        assert "repair drop_column" in state[code]["error"] and "later repairs of this database were not run" in state[code]["error"]
        assert state[code]["applied"] >= 1  # the create_table steps ran before the failure
    assert data["consistent"] is False


@pytest.mark.parametrize("overrides, message", [
    ({"apply": True}, "select at least one"),
    ({"parallel": 0}, "parallel must be at least 1"),
])
def test_refused_arguments(overrides, message):
    action = k2_schema_check.ActionModule.__new__(k2_schema_check.ActionModule)
    args = _args(scripts_dir="/nonexistent", **overrides)
    with mock.patch.object(k2_schema_check.ActionBase, "run", return_value={}), \
            mock.patch.object(k2_schema_check.ActionModule, "validate_argument_spec", return_value=(None, args), create=True):
        result = action.run(task_vars={})
    assert result["failed"] is True and message in result["msg"]


def test_a_quick_recheck_skips_the_unchanged_databases_and_checks_the_others_in_full(tmp_path):
    server = Server("lab", _model(), drifted=("K2_FIRMA",))
    first = _live(tmp_path, server, databases=["CONF", "FIRMA", "FIRMA2"])
    fingerprints = dict((d["database"], d["fingerprint"]) for d in first["databases"])
    assert all(len(fp) == 64 for fp in fingerprints.values()) and len(set(fingerprints.values())) == 3
    baseline = dict((name, fp) for name, fp in fingerprints.items() if name != "K2_FIRMA")
    baseline["K2_FIRMA2"] = "0" * 64  # FIRMA2's catalog differs from the baseline: checked in full
    again = _live(tmp_path / "again", server, databases=["CONF", "FIRMA", "FIRMA2"], baseline=baseline)
    state = dict((d["code"], d) for d in again["databases"])
    assert [code for code, d in state.items() if d["unchanged"]] == ["CONF"]
    assert state["CONF"]["consistent"] and state["CONF"]["script"] is None and state["CONF"]["round_trips"] == 3
    assert state["FIRMA"]["findings"] == first["counts"]["by_database"]["K2_FIRMA"] > 0 and state["FIRMA"]["script"]
    assert state["FIRMA2"]["consistent"] and not state["FIRMA2"]["unchanged"] and state["FIRMA2"]["script"]
    assert [d["fingerprint"] for d in again["databases"]] == [fingerprints[d["database"]] for d in again["databases"]]
    assert again["repair_plan"] == first["repair_plan"]


def test_a_baseline_does_not_hide_a_database_that_cannot_be_read(tmp_path):
    server = Server("lab", _model(), vanish=("K2_FIRMA2",))
    data = _live(tmp_path, server, databases=["FIRMA2"], baseline={"K2_FIRMA2": "x"})
    assert data["consistent"] is False and "database missing" in data["databases"][0]["error"]
