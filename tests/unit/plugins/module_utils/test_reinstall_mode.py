"""Reinstall mode (K2-17): when K2 lets the box be ticked, and the SQL that ticks it."""
from __future__ import annotations

import sqlglot

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_state, reinstall_mode
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE

READY = {"ban_enabled": True, "reinstall_allowed": False, "preparation_done": True}
SYSTEM = ["DEMO", "INIT"]


def test_every_condition_holds():
    assert reinstall_mode.refusals(READY, "gaia.12.3", "ori.09", {"FIRMA": [], "FIRMA2_TEST": []}, SYSTEM) == []


def test_each_missing_condition_is_a_reason():
    manager = dict(READY, preparation_done=False, ban_enabled=False)
    reasons = reinstall_mode.refusals(manager, "gaia.12.3", "ori.09", {"FIRMA": ["Prepocet skladu"], "DEMO": ["X"], "INIT": ["Y"]},
                                      SYSTEM)
    assert len(reasons) == 3
    assert "pre-install preparation has not run (K2-06" in reasons[0]
    assert reasons[1].startswith("mandatory version initializations have not run in FIRMA: Prepocet skladu")
    assert "logins are not banned" in reasons[2]
    # DEMO and INIT never count; test copies do (every mandant but DEMO and INIT).
    assert reinstall_mode.refusals(READY, "gaia.12.3", "ori.09", {"demo": ["X"], "FIRMA_TEST": ["Z"]}, SYSTEM) == [
        "mandatory version initializations have not run in FIRMA_TEST: Z (K2-07; Správce / Inicializace verze, function 552, "
        "button Povinné)"]


def test_preparation_only_for_a_generation_change_or_an_unknown_target():
    unprepared = dict(READY, preparation_done=False)
    assert reinstall_mode.refusals(unprepared, "gaia.12.3", "gaia.12.4", {}, SYSTEM) == []
    assert reinstall_mode.refusals(unprepared, "gaia.12.3", "gaia.13", {}, SYSTEM) == []
    assert "give target_version" in reinstall_mode.refusals(unprepared, "gaia.12.3", None, {}, SYSTEM)[0]
    assert reinstall_mode.refusals(unprepared, "gaia.12.3", "ori.09", {}, SYSTEM, preparation_required=False) == []
    assert reinstall_mode.refusals(dict(READY, ban_enabled=False), "a.1", None, {}, SYSTEM, require_login_ban=False,
                                   preparation_required=False) == []
    assert "row is missing" in reinstall_mode.refusals(None, "gaia.12.3", "ori.09", {}, SYSTEM)[0]


def test_update_sql_per_platform():
    for platform, dialect, expected in (("mssql", "tsql", 'UPDATE [dbo].[REINSTALACE] SET [ReinstalacePovolena] = 1'),
                                        ("oracle", "oracle", 'UPDATE "K2_CONF"."REINSTALACE" SET "ReinstalacePovolena" = 1'),
                                        ("lab", "postgres", 'UPDATE "REINSTALACE" SET "ReinstalacePovolena" = 1')):
        sql, binds = reinstall_mode.update_sql(platform, "K2_CONF", DEFAULT_PROFILE, True)
        assert sql == expected and binds == ()
        sqlglot.parse_one(sql, read=dialect)
    assert reinstall_mode.update_sql("lab", "X", DEFAULT_PROFILE, False)[0].endswith("= 0")


def test_version_initialized_record():
    assert k2_state.version_function(DEFAULT_PROFILE, "ori.09.3") == "Inicializace verze ori.09"
    sql = k2_state.version_initialized_sql("mssql", "K2_FIRMA", DEFAULT_PROFILE, "ori.09")
    assert sql == "SELECT [Provedeno] AS done_at FROM [dbo].[INICIALIZACE] WHERE [Funkce] = N'Inicializace verze ori.09'"
    sqlglot.parse_one(sql, read="tsql")
    assert k2_state.version_initialized([{"DONE_AT": "2026-11-30"}], [])
    assert not k2_state.version_initialized([{"done_at": None}], [])
    assert not k2_state.version_initialized([], [])
    assert not k2_state.version_initialized([{"done_at": "x"}], ["Prepocet skladu"])
