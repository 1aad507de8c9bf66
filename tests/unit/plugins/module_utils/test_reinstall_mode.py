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
    assert k2_state.version_function(DEFAULT_PROFILE, "ori.09.3") == "Inicializace verze ori.09.3"
    assert k2_state.version_function(DEFAULT_PROFILE, "5.9") == "Inicializace verze ori.09"
    sql = k2_state.version_initialized_sql("mssql", "K2_FIRMA", DEFAULT_PROFILE)
    assert sql == ("SELECT [Funkce] AS function_name, [Provedeno] AS done_at FROM [dbo].[INICIALIZACE] "
                   "WHERE [Funkce] LIKE N'Inicializace verze %'")
    sqlglot.parse_one(sql, read="tsql")
    done = [{"FUNCTION_NAME": "Inicializace verze gaia.12.3", "DONE_AT": "2026-01-01"},
            {"function_name": "Inicializace verze ori.09", "done_at": "2026-11-30"}]
    assert k2_state.version_initialized(done, [], "ori.09", DEFAULT_PROFILE)
    assert k2_state.version_initialized(done, [], "5.9", DEFAULT_PROFILE), "the same version however written"
    assert not k2_state.version_initialized(done, [], "ori.10", DEFAULT_PROFILE)
    assert not k2_state.version_initialized([{"function_name": "Inicializace verze ori.09", "done_at": None}], [], "ori.09", DEFAULT_PROFILE)
    assert not k2_state.version_initialized(done, ["Prepocet skladu"], "ori.09", DEFAULT_PROFILE)
    assert not k2_state.version_initialized([{"function_name": "Inicializace verze ???", "done_at": "x"}], [], "ori.09", DEFAULT_PROFILE)


def test_missing_initializations_may_be_waived_only_for_a_build():
    missing = {"FIRMA": ["Prepocet skladu"]}
    assert reinstall_mode.refusals(READY, "gaia.12.3", "gaia.12.4", missing, SYSTEM, waive_initializations=True) == []
    reasons = reinstall_mode.refusals(READY, "gaia.12.3", "gaia.13", missing, SYSTEM, waive_initializations=True)
    assert "only for a build reinstall (K2-07), this is a release change" in reasons[0] and len(reasons) == 2
