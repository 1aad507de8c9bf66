# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_kill_sessions' module code on a stand-in MS SQL server whose sessions end when killed."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.erpops.upgrade.plugins.modules import k2_kill_sessions


def dmv(spid, status, cmd, open_tran, host, dbname="K2_FIRMA"):
    return {"spid": spid, "status": status, "loginame": "K2", "hostname": host, "dbname": dbname, "cmd": cmd, "program_name": "K2",
            "last_batch": datetime(2025, 3, 5, 8, 0), "open_tran": open_tran, "login_time": datetime(2025, 3, 5, 7, 0)}


class Server:
    """FIRMY, LICSESSION and sys.dm_exec_sessions in memory; KILL removes a session unless it is stubborn."""

    def __init__(self, stubborn=()):
        self.sessions = [dmv(64, "sleeping", "AWAITING COMMAND", 0, "PC-A"), dmv(65, "sleeping", "AWAITING COMMAND", 1, "PC-B"),
                         dmv(66, "running", "SELECT", 0, "PC-B"), dmv(67, "sleeping", "AWAITING COMMAND", 0, "PC-C", "OTHER_DB")]
        self.licences = [{"lic_user": "NOVAK", "lic_host": "PC-A", "lic_program": "K2", "lic_app_server": 0},
                         {"lic_user": "AS", "lic_host": "SRV-APP01", "lic_program": "K2 AS", "lic_app_server": 1}]
        self.stubborn = set(stubborn)
        self.executed = []

    def query(self, sql, params=()):
        if "FIRMY" in sql:
            return [{"code": "FIRMA", "name": "Firma", "dbname": "K2_FIRMA"}, {"code": "DEMO", "name": "Demo", "dbname": "K2_DEMO"}]
        if "LICSESSION" in sql:
            return [dict(r) for r in self.licences]
        if sql == k2_kill_sessions.sessions.MSSQL_OWN_SESSION_SQL:
            return [{"session_id": 52}]
        assert sql == k2_kill_sessions.sessions.MSSQL_SESSIONS_SQL and params == ("K2",)
        return [dict(s) for s in self.sessions]

    def execute(self, sql, params=(), dont_exec=False):
        self.executed.append(sql)
        if dont_exec:
            return 0
        if sql.startswith("DELETE"):
            self.licences = [r for r in self.licences if (r["lic_user"], r["lic_host"], r["lic_program"]) != tuple(params)]
        elif sql.startswith("KILL "):
            spid = int(sql.split()[1])
            assert spid != 52, "killed its own session"
            if spid not in self.stubborn:
                self.sessions = [s for s in self.sessions if s["spid"] != spid]
        return 1

    @contextmanager
    def transaction(self):
        yield self

    def close(self):
        pass


def run_module(monkeypatch, server, check=False, diff=False, **args):
    monkeypatch.setattr(k2_kill_sessions.k2db, "connect", lambda params, database: server)
    monkeypatch.setattr(k2_kill_sessions.time, "sleep", lambda seconds: None)
    args = dict(dict(conf_database="K2_CONF", db_platform="mssql", wait_timeout=0, _ansible_check_mode=check, _ansible_diff=diff), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            k2_kill_sessions.main()


def output(capsys):
    return json.loads(capsys.readouterr().out)


def spids(entries):
    return sorted(e["spid"] for e in entries)


def test_check_mode_lists_victims_and_kills_nothing(monkeypatch, capsys):
    server = Server()
    run_module(monkeypatch, server, check=True, diff=True)
    result = output(capsys)
    assert result["changed"] is True
    assert spids(result["victims"]) == [64]
    assert [(s["spid"], s["reason"]) for s in result["spared"]] == [(65, "idle inside a transaction"), (66, "busy")]
    assert result["databases"] == ["K2_CONF", "K2_FIRMA", "K2_DEMO"]
    assert len(result["licence_sessions"]["logged_off"]) == 2
    assert len(server.sessions) == 4 and len(server.licences) == 2
    assert "KILL 64" in result["executed"]
    assert result["diff"]["after"]["licence_sessions"] == []
    assert len(result["diff"]["after"]["db_sessions"]) == 2


def test_kill_idle_then_second_run_changes_nothing(monkeypatch, capsys):
    server = Server()
    run_module(monkeypatch, server)
    result = output(capsys)
    assert spids(result["gone"]) == [64] and result["still_there"] == [] and result["own_session"] == "52"
    assert result["sessions_left"] == 2 and server.licences == []
    run_module(monkeypatch, server)
    assert output(capsys)["changed"] is False


def test_force_with_filters_and_a_session_that_stays(monkeypatch, capsys):
    server = Server(stubborn={66})
    run_module(monkeypatch, server, force=True, hosts=["pc-b"], licence_sessions=False)
    result = output(capsys)
    assert spids(result["victims"]) == [65, 66]
    assert spids(result["gone"]) == [65] and spids(result["still_there"]) == [66]
    assert len(server.licences) == 2
    assert {s["spid"] for s in server.sessions} == {64, 66, 67}


def test_the_exempt_users_own_sessions_are_never_ended_even_with_force(monkeypatch, capsys):
    server = Server()
    server.sessions.append(dmv(70, "sleeping", "AWAITING COMMAND", 0, "pc-admin"))
    server.sessions.append(dmv(71, "running", "SELECT", 0, "PC-ADMIN"))
    server.licences.append({"lic_user": "ADMIN", "lic_host": "PC-ADMIN", "lic_program": "K2", "lic_app_server": 0})
    run_module(monkeypatch, server, force=True, exempt_user="admin")
    result = output(capsys)
    assert spids(result["exempt"]) == [70, 71] and {e["reason"] for e in result["exempt"]} == {"the exempt user's own session"}
    assert spids(result["gone"]) == [64, 65, 66]
    assert {s["spid"] for s in server.sessions} == {67, 70, 71}
    assert [(r["lic_user"], r["lic_host"]) for r in server.licences] == [("ADMIN", "PC-ADMIN")]
    assert [lic["user"] for lic in result["licence_sessions"]["kept"]] == ["ADMIN"]
    assert result["sessions_left"] == 0 and result["shared_hosts"] == []
    run_module(monkeypatch, server, force=True, exempt_user="ADMIN")
    again = output(capsys)
    assert again["changed"] is False and spids(again["exempt"]) == [70, 71]


def test_a_host_shared_with_the_exempt_user_is_left_alone_and_named(monkeypatch, capsys):
    server = Server()
    server.licences.append({"lic_user": "ADMIN", "lic_host": "PC-A", "lic_program": "K2", "lic_app_server": 0})
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warned.append(text))
    run_module(monkeypatch, server, exempt_user="ADMIN")
    result = output(capsys)
    assert spids(result["exempt"]) == [64] and result["victims"] == []
    assert [lic["user"] for lic in result["licence_sessions"]["logged_off"]] == ["NOVAK", "AS"]
    assert result["shared_hosts"] == [{"host": "pc-a", "users": ["NOVAK"]}]
    assert warned == ["ADMIN is logged in to K2 on pc-a together with NOVAK: their database sessions from there cannot be told "
                      "apart from the exempt user's and were left alone"]


def test_without_a_licence_session_the_exempt_user_has_no_database_sessions_to_spare(monkeypatch, capsys):
    server = Server()
    run_module(monkeypatch, server, exempt_user="ADMIN")
    result = output(capsys)
    assert result["exempt"] == [] and spids(result["gone"]) == [64]
