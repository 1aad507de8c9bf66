# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sessions: SQL per dialect (parsed by sqlglot), row mapping of sp_who / GV$SESSION / pg_stat_activity, filters, victims."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from ansible_collections.erpops.upgrade.plugins.module_utils import sessions
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile

DIALECT = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}


def parse(sql, platform):
    statements = sqlglot.parse(sql, read=DIALECT[platform], error_level=ErrorLevel.RAISE)
    assert len(statements) == 1
    return statements[0]


@pytest.mark.parametrize("platform", ["mssql", "oracle", "lab"])
def test_list_and_own_session_sql_parse(platform):
    sql, binds = sessions.list_sql(platform, "k2")
    tree = parse(sql, platform)
    assert isinstance(tree, exp.Select)
    assert list(binds.values() if isinstance(binds, dict) else binds) == ["K2" if platform == "oracle" else "k2"]
    assert isinstance(parse(sessions.OWN_SESSION_SQL[platform], platform), exp.Select)


def test_mssql_sql_filters_user_processes_not_spid_numbers():
    tree = parse(sessions.MSSQL_SESSIONS_SQL, "mssql")
    tables = {t.name.lower() for t in tree.find_all(exp.Table)}
    assert tables == {"dm_exec_sessions", "dm_exec_requests"}
    where = tree.args["where"].sql(dialect="tsql").lower()
    assert "is_user_process = 1" in where and "@@spid" in where and "> 50" not in where
    names = [e.alias_or_name.lower() for e in tree.expressions]
    assert names[:8] == ["spid", "status", "loginame", "hostname", "dbname", "cmd", "program_name", "last_batch"]
    assert "open_tran" in names


def test_oracle_sql_is_the_seeds_query_on_gv_session():
    tree = parse(sessions.ORACLE_SESSIONS_SQL, "oracle")
    assert {t.name.upper() for t in tree.find_all(exp.Table)} == {"GV$SESSION"}
    names = {e.alias_or_name.upper() for e in tree.expressions}
    assert {"SID", "SERIAL#", "INST_ID", "TERMINAL", "LOGON_TIME", "STATUS", "CLIENT_INFO"} <= names
    assert "REGEXP_LIKE(s.CLIENT_INFO, 'K2/./.*/.*/.*/.*/.*')" in sessions.ORACLE_SESSIONS_SQL
    assert "SYS_CONTEXT('USERENV', 'SID')" in sessions.ORACLE_SESSIONS_SQL
    assert [p.name for p in tree.find_all(exp.Placeholder)] == ["login"]


def test_lab_sql_reads_client_backends_without_its_own():
    tree = parse(sessions.LAB_SESSIONS_SQL, "lab")
    assert {t.name for t in tree.find_all(exp.Table)} == {"pg_stat_activity"}
    assert "pg_backend_pid()" in tree.args["where"].sql(dialect="postgres").lower()


# -- kill ---------------------------------------------------------------------------------------

def test_kill_texts_parse():
    sql, binds = sessions.kill_sql({"platform": "mssql", "spid": 64})
    assert sql == "KILL 64" and binds == ()
    assert isinstance(parse(sql, "mssql"), exp.Kill)
    sql, binds = sessions.kill_sql({"platform": "oracle", "sid": 123, "serial": 4567, "inst_id": 2})
    assert sql == "ALTER SYSTEM KILL SESSION '123,4567,@2' IMMEDIATE" and binds == ()
    # sqlglot keeps ALTER SYSTEM as an opaque command: check that it tokenizes with the session as one string literal
    tokens = sqlglot.tokenize(sql, read="oracle")
    assert [t.text.upper() for t in tokens] == ["ALTER", "SYSTEM", "KILL", "SESSION", "123,4567,@2", "IMMEDIATE"]
    assert [t.text for t in tokens if t.token_type.name == "STRING"] == ["123,4567,@2"]
    sql, binds = sessions.kill_sql({"platform": "lab", "pid": 4242})
    assert binds == (4242,)
    assert isinstance(parse(sql, "lab"), exp.Select)


@pytest.mark.parametrize("spid", ["64; DROP TABLE FIRMY", "0", -3, True, 1.5, None, "6 4", "0x40"])
def test_kill_refuses_anything_but_a_positive_integer(spid):
    with pytest.raises(ValueError, match="positive integer"):
        sessions.kill_sql({"platform": "mssql", "spid": spid})


def test_kill_accepts_driver_number_types():
    assert sessions.kill_sql({"platform": "mssql", "spid": "64 "})[0] == "KILL 64"
    assert sessions.kill_sql({"platform": "oracle", "sid": 12.0, "serial": "7", "inst_id": 1})[0] == "ALTER SYSTEM KILL SESSION '12,7,@1' IMMEDIATE"


# -- rows ---------------------------------------------------------------------------------------

# sp_who output: char columns padded with blanks, as SQL Server returns them.
SP_WHO = [
    {"spid": 1, "ecid": 0, "status": "background                    ", "loginame": "sa", "hostname": "  ", "blk": "0    ",
     "dbname": None, "cmd": "LOG WRITER      ", "request_id": 0},
    {"spid": 64, "ecid": 0, "status": "sleeping                      ", "loginame": "K2", "hostname": "PC-UCTARNA    ", "blk": "0    ",
     "dbname": "K2_FIRMA", "cmd": "AWAITING COMMAND", "request_id": 0},
    {"spid": 71, "ecid": 0, "status": "runnable                      ", "loginame": "K2", "hostname": "SRV-APP01", "blk": "0    ",
     "dbname": "K2_CONF", "cmd": "SELECT          ", "request_id": 0},
]

DMV = [
    {"spid": 64, "status": "sleeping", "loginame": "K2", "hostname": "PC-UCTARNA", "dbname": "K2_FIRMA", "cmd": "AWAITING COMMAND",
     "program_name": "K2", "last_batch": datetime(2025, 3, 5, 8, 1), "open_tran": 0, "login_time": datetime(2025, 3, 5, 7, 0)},
    {"spid": 65, "status": "sleeping", "loginame": "K2", "hostname": "PC-UCTARNA", "dbname": "K2_FIRMA", "cmd": "AWAITING COMMAND",
     "program_name": "K2", "last_batch": datetime(2025, 3, 5, 8, 2), "open_tran": 2, "login_time": datetime(2025, 3, 5, 7, 0)},
    {"spid": 66, "status": "running", "loginame": "K2", "hostname": "SRV-APP01", "dbname": "K2_CONF", "cmd": "UPDATE",
     "program_name": "K2 AS", "last_batch": datetime(2025, 3, 5, 8, 3), "open_tran": 1, "login_time": datetime(2025, 3, 5, 6, 0)},
]

GV_SESSION = [
    {"INST_ID": 1, "SID": 123, "SERIAL#": 4567, "USERNAME": "K2", "STATUS": "INACTIVE", "TERMINAL": "PC-UCTARNA", "MACHINE": "FIRMA\\PC-UCTARNA",
     "PROGRAM": "K2.exe", "SCHEMANAME": "K2_FIRMA", "CLIENT_INFO": "K2/1/NOVAK/PC-UCTARNA/x/y/z", "LOGON_TIME": datetime(2025, 3, 5, 7, 0),
     "LAST_CALL_ET": 600, "TADDR": None},
    {"INST_ID": 2, "SID": 124, "SERIAL#": 9, "USERNAME": "K2", "STATUS": "INACTIVE", "TERMINAL": "PC-SKLAD", "MACHINE": "PC-SKLAD",
     "PROGRAM": "K2.exe", "SCHEMANAME": "K2_FIRMA", "CLIENT_INFO": "K2/1/SKLAD/PC-SKLAD/x/y/z", "LOGON_TIME": datetime(2025, 3, 5, 7, 1),
     "LAST_CALL_ET": 60, "TADDR": "00000000DEADBEEF"},
    {"INST_ID": 1, "SID": 200, "SERIAL#": 1, "USERNAME": "K2", "STATUS": "ACTIVE", "TERMINAL": "SRV-APP01", "MACHINE": "SRV-APP01",
     "PROGRAM": "K2AS.exe", "SCHEMANAME": "K2_CONF", "CLIENT_INFO": "K2/9/AS/SRV-APP01/x/y/z", "LOGON_TIME": datetime(2025, 3, 5, 6, 0),
     "LAST_CALL_ET": 0, "TADDR": None},
]

PG_STAT = [
    {"pid": 101, "usename": "k2", "application_name": "K2@PC-UCTARNA", "client_addr": None, "datname": "north_FIRMA", "state": "idle",
     "xact_start": None, "backend_start": datetime(2025, 3, 5, 7, 0), "query_start": datetime(2025, 3, 5, 8, 0), "backend_type": "client backend"},
    {"pid": 102, "usename": "k2", "application_name": "K2@PC-UCTARNA", "client_addr": None, "datname": "north_FIRMA",
     "state": "idle in transaction", "xact_start": datetime(2025, 3, 5, 8, 0), "backend_start": datetime(2025, 3, 5, 7, 0),
     "query_start": datetime(2025, 3, 5, 8, 0), "backend_type": "client backend"},
    {"pid": 103, "usename": "k2", "application_name": "K2 AS@SRV-APP01", "client_addr": "10.0.0.5", "datname": "north_CONF", "state": "active",
     "xact_start": datetime(2025, 3, 5, 8, 0), "backend_start": datetime(2025, 3, 5, 6, 0), "query_start": datetime(2025, 3, 5, 8, 0),
     "backend_type": "client backend"},
]


def test_sp_who_rows_follow_the_runbook_rule():
    mapped = [sessions.session_from_row("mssql", row) for row in SP_WHO]
    assert [(s["spid"], s["status"], s["login"], s["host"], s["database"], s["command"], s["kind"]) for s in mapped] == [
        (1, "background", "sa", "", "", "LOG WRITER", "busy"),
        (64, "sleeping", "K2", "PC-UCTARNA", "K2_FIRMA", "AWAITING COMMAND", "idle"),
        (71, "runnable", "K2", "SRV-APP01", "K2_CONF", "SELECT", "busy"),
    ]
    assert mapped[1]["id"] == "64"


def test_dmv_rows_with_open_transactions():
    mapped = [sessions.session_from_row("mssql", row) for row in DMV]
    assert [s["kind"] for s in mapped] == ["idle", "idle_in_transaction", "busy"]
    assert mapped[0]["last_batch"] == "2025-03-05 08:01:00" and mapped[0]["program"] == "K2"
    assert mapped[1]["open_transactions"] == 2
    # an unknown transaction count is not taken for none
    assert sessions.session_from_row("mssql", dict(DMV[0], open_tran=None))["kind"] == "busy"


def test_gv_session_rows():
    mapped = [sessions.session_from_row("oracle", row) for row in GV_SESSION]
    assert [(s["id"], s["host"], s["database"], s["kind"]) for s in mapped] == [
        ("123,4567,@1", "PC-UCTARNA", "K2_FIRMA", "idle"),
        ("124,9,@2", "PC-SKLAD", "K2_FIRMA", "idle_in_transaction"),
        ("200,1,@1", "SRV-APP01", "K2_CONF", "busy"),
    ]
    assert mapped[0]["login_time"] == "2025-03-05 07:00:00"
    assert sessions.kill_sql(mapped[1])[0] == "ALTER SYSTEM KILL SESSION '124,9,@2' IMMEDIATE"


def test_pg_stat_activity_rows():
    mapped = [sessions.session_from_row("lab", row) for row in PG_STAT]
    assert [(s["pid"], s["program"], s["host"], s["kind"]) for s in mapped] == [
        (101, "K2", "PC-UCTARNA", "idle"), (102, "K2", "PC-UCTARNA", "idle_in_transaction"), (103, "K2 AS", "SRV-APP01", "busy")]
    plain = sessions.session_from_row("lab", dict(PG_STAT[0], application_name="psql"))
    assert plain["program"] == "psql" and plain["host"] == ""


# -- filters and victims --------------------------------------------------------------------------

def lab_sessions():
    return [sessions.session_from_row("lab", row) for row in PG_STAT]


def ids(entries):
    return [e["id"] for e in entries]


def test_default_kills_only_idle_sessions():
    victims, spared = sessions.select_victims(lab_sessions(), sessions.Filters(login="k2", case_sensitive_login=True))
    assert ids(victims) == ["101"]
    assert [(s["id"], s["reason"]) for s in spared] == [("102", "idle inside a transaction"), ("103", "busy")]


def test_force_kills_all_but_its_own():
    victims, spared = sessions.select_victims(lab_sessions(), sessions.Filters(login="k2"), force=True, own_ids=["103"])
    assert ids(victims) == ["101", "102"] and spared == []


@pytest.mark.parametrize("filters,expected", [
    (dict(hosts=["pc-*"]), ["101", "102"]),
    (dict(hosts=["PC-*"], databases=["north_CONF"]), []),
    (dict(databases=["NORTH_conf"]), ["103"]),
    (dict(programs=["K2 AS"]), ["103"]),
    (dict(programs=["K2*"], exclude=["SRV-*"]), ["101", "102"]),
    (dict(exclude=["k2"]), []),
    (dict(login="K2"), ["101", "102", "103"]),
    (dict(login="K2", case_sensitive_login=True), []),
])
def test_filters_combine_with_and(filters, expected):
    args = dict(login="k2")
    args.update(filters)
    victims, _spared = sessions.select_victims(lab_sessions(), sessions.Filters(**args), force=True)
    assert ids(victims) == expected


def test_gone_and_left_tell_a_reused_number_from_the_victim():
    victims = lab_sessions()[:2]
    reused = dict(victims[0], login_time="2025-03-05 09:00:00")  # pid 101 again, but a new backend
    gone, left = sessions.gone_and_left(victims, [reused, victims[1]])
    assert ids(gone) == ["101"] and ids(left) == ["102"]


# -- licence sessions ------------------------------------------------------------------------------

HOSTILE = merge_profile({"licence_sessions": {"table": "LIC]SES'SION", "user_column": "Uziv\"atel"}})


@pytest.mark.parametrize("platform", ["mssql", "oracle", "lab"])
@pytest.mark.parametrize("profile", [merge_profile(), HOSTILE], ids=["default", "hostile"])
def test_licence_sql_parses(platform, profile):
    if platform == "oracle" and profile is HOSTILE:
        profile = merge_profile({"licence_sessions": {"table": "LIC]SES'SION"}})
    select = parse(sessions.licence_select_sql(platform, "K2_CONF", profile), platform)
    assert profile["licence_sessions"]["table"] in {t.name for t in select.find_all(exp.Table)}
    licence = {"user": "NOVAK'; --", "host": "PC-UCTARNA", "program": "K2", "app_server": False}
    sql, binds = sessions.licence_delete_sql(platform, "K2_CONF", profile, licence)
    assert isinstance(parse(sql, platform), exp.Delete)
    assert "NOVAK" not in sql
    assert list(binds.values() if isinstance(binds, dict) else binds) == ["NOVAK'; --", "PC-UCTARNA", "K2"]


def test_licence_rows_and_filters():
    rows = [{"LIC_USER": "NOVAK ", "LIC_HOST": "PC-UCTARNA", "LIC_PROGRAM": "K2", "LIC_APP_SERVER": 0},
            {"lic_user": "AS", "lic_host": "SRV-APP01", "lic_program": "K2 AS", "lic_app_server": "1"}]
    licences = [sessions.licence_from_row(r) for r in rows]
    assert licences == [{"user": "NOVAK", "host": "PC-UCTARNA", "program": "K2", "app_server": False},
                        {"user": "AS", "host": "SRV-APP01", "program": "K2 AS", "app_server": True}]
    # the login and database filters are about database sessions, not licences
    filters = sessions.Filters(login="k2", databases=["north_FIRMA"], exclude=["novak"])
    assert [filters.licence_why_not(lic) for lic in licences] == ["exclude", None]
    assert sessions.licence_text(licences[1]) == "AS@SRV-APP01 (K2 AS, application server)"
