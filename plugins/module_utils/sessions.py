# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sessions of the K2 login and K2's licence sessions (runbook K2-04): SQL, rows, filters, victims.

Pure: no I/O. ``k2_kill_sessions`` reads the sessions with ``list_sql``, maps the
rows with ``session_from_row``, chooses with ``select_victims`` and kills with
``kill_sql``.

Idle means safe to kill: nothing runs and no transaction is open.

- MS SQL: ``status = 'sleeping'``, ``cmd = 'AWAITING COMMAND'`` and no open transaction
  (``sp_who`` itself shows no transaction count; a row without one follows the runbook's rule).
- Oracle: ``STATUS = 'INACTIVE'`` and no transaction (``TADDR`` empty).
- Lab (PostgreSQL): ``state = 'idle'``; ``idle in transaction`` is not idle.
"""

from __future__ import annotations

import fnmatch
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_mandants import table_ref
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident

IDLE = "idle"
IDLE_IN_TRANSACTION = "idle_in_transaction"
BUSY = "busy"

# The columns are named as sp_who / sysprocesses name them, so that sp_who output maps the same way.
MSSQL_SESSIONS_SQL = """\
SELECT s.session_id AS spid, s.status, s.login_name AS loginame, s.host_name AS hostname,
       DB_NAME(s.database_id) AS dbname, COALESCE(r.command, 'AWAITING COMMAND') AS cmd,
       s.program_name, COALESCE(r.start_time, s.last_request_start_time) AS last_batch,
       s.open_transaction_count AS open_tran, s.login_time
FROM sys.dm_exec_sessions AS s
LEFT JOIN sys.dm_exec_requests AS r ON r.session_id = s.session_id
WHERE s.is_user_process = 1 AND s.login_name = ? AND s.session_id <> @@SPID
ORDER BY s.host_name, s.session_id"""

MSSQL_OWN_SESSION_SQL = "SELECT @@SPID AS session_id"

# The runbook's query (runbook K2-04) on every instance of a RAC.
ORACLE_SESSIONS_SQL = """\
SELECT s.INST_ID, s.SID, s.SERIAL#, s.USERNAME, s.STATUS, s.TERMINAL, s.MACHINE, s.PROGRAM, s.SCHEMANAME,
       s.CLIENT_INFO, s.LOGON_TIME, s.LAST_CALL_ET, s.TADDR
FROM GV$SESSION s
WHERE s.USERNAME = :login AND s.TYPE = 'USER' AND REGEXP_LIKE(s.CLIENT_INFO, 'K2/./.*/.*/.*/.*/.*')
  AND NOT (s.SID = TO_NUMBER(SYS_CONTEXT('USERENV', 'SID')) AND s.INST_ID = TO_NUMBER(SYS_CONTEXT('USERENV', 'INSTANCE')))
ORDER BY s.TERMINAL, s.INST_ID, s.SID"""

ORACLE_OWN_SESSION_SQL = "SELECT SYS_CONTEXT('USERENV', 'SID') AS session_id, SYS_CONTEXT('USERENV', 'INSTANCE') AS inst_id FROM DUAL"

LAB_SESSIONS_SQL = """\
SELECT pid, usename, application_name, client_addr, datname, state, xact_start, backend_start, query_start, backend_type
FROM pg_catalog.pg_stat_activity
WHERE backend_type = 'client backend' AND usename = ? AND pid <> pg_backend_pid()
ORDER BY application_name, pid"""

LAB_OWN_SESSION_SQL = "SELECT pg_backend_pid() AS session_id"

LAB_KILL_SQL = "SELECT pg_terminate_backend(?) AS terminated"

SESSIONS_SQL = {"mssql": MSSQL_SESSIONS_SQL, "oracle": ORACLE_SESSIONS_SQL, "lab": LAB_SESSIONS_SQL}
OWN_SESSION_SQL = {"mssql": MSSQL_OWN_SESSION_SQL, "oracle": ORACLE_OWN_SESSION_SQL, "lab": LAB_OWN_SESSION_SQL}


def list_sql(platform: str, login: str) -> Tuple[str, Any]:
    """The query listing the sessions of ``login`` (except this one), with its bind parameters.

    Oracle keeps unquoted user names in upper case, so the login is upper-cased there.
    """
    if platform == "oracle":
        return ORACLE_SESSIONS_SQL, {"login": login.upper()}
    return SESSIONS_SQL[platform], (login,)


def _positive_int(value: Any, what: str) -> int:
    """An integer > 0; anything else (text, bool, float with a fraction) is refused before it reaches SQL text."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) and not (isinstance(value, float) and value.is_integer()):
        raise ValueError("%s must be a positive integer, got %r" % (what, value))
    text = str(int(value)) if isinstance(value, float) else str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValueError("%s must be a positive integer, got %r" % (what, value))
    return int(text)


def kill_sql(session: Mapping[str, Any]) -> Tuple[str, Any]:
    """The statement that ends ``session`` (a dict of ``session_from_row``), with its bind parameters.

    ``KILL`` and ``ALTER SYSTEM KILL SESSION`` take no bind parameters, so their numbers are checked to be integers.
    """
    platform = session["platform"]
    if platform == "mssql":
        return "KILL %d" % _positive_int(session["spid"], "spid"), ()
    if platform == "oracle":
        return "ALTER SYSTEM KILL SESSION '%d,%d,@%d' IMMEDIATE" % (
            _positive_int(session["sid"], "SID"), _positive_int(session["serial"], "SERIAL#"), _positive_int(session["inst_id"], "INST_ID")), ()
    if platform == "lab":
        return LAB_KILL_SQL, (_positive_int(session["pid"], "pid"),)
    raise ValueError("unknown platform %r" % platform)


def _lower_keys(row: Mapping[str, Any]) -> Dict[str, Any]:
    return {str(k).lower(): v for k, v in row.items()}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _time(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return _text(value) or None


def _count(value: Any) -> Optional[int]:
    if value is None:
        return None
    text = _text(value)
    return int(text) if text.lstrip("-").isdigit() else None


def mssql_kind(status: str, command: str, open_tran: Optional[int]) -> str:
    if status.lower() == "sleeping" and command.upper() == "AWAITING COMMAND":
        return IDLE if not open_tran else IDLE_IN_TRANSACTION
    return BUSY


def oracle_kind(status: str, transaction_address: Any) -> str:
    if status.upper() == "INACTIVE":
        return IDLE_IN_TRANSACTION if _text(transaction_address) else IDLE
    return BUSY


def lab_kind(state: str) -> str:
    if state == "idle":
        return IDLE
    if state.startswith("idle in transaction"):
        return IDLE_IN_TRANSACTION
    return BUSY


def session_from_row(platform: str, row: Mapping[str, Any]) -> Dict[str, Any]:
    """One session in the same shape on every platform.

    MS SQL rows are shaped like ``sp_who`` (spid, status, loginame, hostname, dbname, cmd)
    plus program_name, last_batch, open_tran; Oracle rows like ``GV$SESSION``; lab rows like
    ``pg_stat_activity``, where the application name ``program@host`` stands for a K2 client.
    """
    r = _lower_keys(row)
    if platform == "mssql":
        spid = int(_text(r["spid"]))
        status, command = _text(r.get("status")), _text(r.get("cmd"))
        # sp_who shows no open_tran: then only status and cmd decide, as in the runbook.
        open_tran = _count(r["open_tran"]) if "open_tran" in r else 0
        kind = mssql_kind(status, command, open_tran) if open_tran is not None else BUSY
        return {"platform": platform, "id": str(spid), "spid": spid, "status": status, "login": _text(r.get("loginame")),
                "host": _text(r.get("hostname")), "database": _text(r.get("dbname")), "command": command,
                "program": _text(r.get("program_name")), "last_batch": _time(r.get("last_batch")), "open_transactions": open_tran,
                "login_time": _time(r.get("login_time")), "kind": kind}
    if platform == "oracle":
        sid, serial, inst_id = int(_text(r["sid"])), int(_text(r.get("serial#", r.get("serial")))), int(_text(r.get("inst_id") or 1))
        status = _text(r.get("status"))
        open_tran = 1 if _text(r.get("taddr")) else 0
        kind = oracle_kind(status, r.get("taddr"))
        return {"platform": platform, "id": "%d,%d,@%d" % (sid, serial, inst_id), "sid": sid, "serial": serial, "inst_id": inst_id,
                "status": status, "login": _text(r.get("username")), "host": _text(r.get("terminal")), "machine": _text(r.get("machine")),
                "database": _text(r.get("schemaname")), "command": "", "program": _text(r.get("program")),
                "client_info": _text(r.get("client_info")), "last_batch": None, "open_transactions": open_tran,
                "login_time": _time(r.get("logon_time")), "kind": kind}
    if platform == "lab":
        pid = int(_text(r["pid"]))
        application = _text(r.get("application_name"))
        program, _at, host = application.rpartition("@") if "@" in application else (application, "", _text(r.get("client_addr")))
        state = _text(r.get("state"))
        return {"platform": platform, "id": str(pid), "pid": pid, "status": state, "login": _text(r.get("usename")),
                "host": host, "database": _text(r.get("datname")), "command": "", "program": program,
                "client_addr": _text(r.get("client_addr")), "last_batch": _time(r.get("query_start")),
                "open_transactions": 1 if r.get("xact_start") is not None else 0,
                "login_time": _time(r.get("backend_start")), "kind": lab_kind(state)}
    raise ValueError("unknown platform %r" % platform)


def session_key(session: Mapping[str, Any]) -> Tuple:
    """What tells one session from a later one that got the same number."""
    return (session["id"], session.get("login_time"))


def _matches(value: str, patterns: Sequence[str]) -> bool:
    """Case-insensitive shell-style match against any of ``patterns``."""
    folded = value.casefold()
    return any(fnmatch.fnmatchcase(folded, p.casefold()) for p in patterns)


class Filters:
    """Which sessions are meant: every given filter must match (AND); within one list any pattern may (OR).

    Patterns are shell-style (``PC-*``), case-insensitive. ``exclude`` spares a session whose host,
    program or user (licence sessions: the K2 user; database sessions: the login) matches.
    Database names are compared exactly but case-insensitively.
    """

    def __init__(self, login: Optional[str] = None, hosts: Sequence[str] = (), databases: Optional[Sequence[str]] = None,
                 programs: Sequence[str] = (), exclude: Sequence[str] = (), case_sensitive_login: bool = False) -> None:
        self.login = login
        self.hosts = list(hosts or ())
        self.databases = None if databases is None else {d.casefold() for d in databases}
        self.programs = list(programs or ())
        self.exclude = list(exclude or ())
        self.case_sensitive_login = case_sensitive_login

    def why_not(self, session: Mapping[str, Any]) -> Optional[str]:
        """None when the session is meant, else the filter that leaves it out."""
        if self.login is not None:
            same = session["login"] == self.login if self.case_sensitive_login else session["login"].casefold() == self.login.casefold()
            if not same:
                return "login"
        if self.hosts and not _matches(session["host"], self.hosts):
            return "host"
        if self.databases is not None and session["database"].casefold() not in self.databases:
            return "database"
        if self.programs and not _matches(session["program"], self.programs):
            return "program"
        if self.exclude and any(_matches(session.get(field) or "", self.exclude) for field in ("host", "program", "login", "user")):
            return "exclude"
        return None

    def licence_why_not(self, licence: Mapping[str, Any]) -> Optional[str]:
        """Like ``why_not`` for a licence session: the login and database filters do not apply to it."""
        if self.hosts and not _matches(licence["host"], self.hosts):
            return "host"
        if self.programs and not _matches(licence["program"], self.programs):
            return "program"
        if self.exclude and any(_matches(licence.get(field) or "", self.exclude) for field in ("host", "program", "user")):
            return "exclude"
        return None


def select_victims(sessions: Iterable[Mapping[str, Any]], filters: Filters, force: bool = False,
                   own_ids: Iterable[str] = ()) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(victims, spared) among the sessions the filters mean; sessions they leave out are in neither.

    Idle sessions are victims; busy ones and those idle inside a transaction only with ``force``.
    The module's own session is never a victim.
    """
    own = set(own_ids)
    victims, spared = [], []
    for session in sessions:
        if session["id"] in own or filters.why_not(session) is not None:
            continue
        entry = dict(session)
        if session["kind"] == IDLE or force:
            victims.append(entry)
        else:
            entry["reason"] = "busy" if session["kind"] == BUSY else "idle inside a transaction"
            spared.append(entry)
    return victims, spared


def exempt_hosts(licences: Iterable[Mapping[str, Any]], exempt_user: Optional[str]) -> Dict[str, List[str]]:
    """{host (case-folded): other users on it} of the exempt user's licence sessions.

    The K2 login is shared by every K2 client, so a database session is told to be the exempt
    user's by its host: the machine where that user is logged in to K2. Other users logged in on
    the same host (a terminal server) cannot be told apart from that user; they are named.
    """
    if not exempt_user:
        return {}
    wanted = exempt_user.strip().casefold()
    hosts = {lic["host"].casefold(): [] for lic in licences if lic["user"].strip().casefold() == wanted and lic["host"]}
    for lic in licences:
        host = lic["host"].casefold()
        if host in hosts and lic["user"].strip().casefold() != wanted and lic["user"] not in hosts[host]:
            hosts[host].append(lic["user"])
    return hosts


def split_exempt(sessions: Iterable[Mapping[str, Any]], hosts: Mapping[str, Sequence[str]],
                 filters: "Filters") -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(the rest, the exempt user's sessions) among ``sessions``; only sessions the filters mean count as exempt."""
    rest, exempt = [], []
    for session in sessions:
        if session["host"].casefold() in hosts and filters.why_not(session) is None:
            entry = dict(session)
            entry["reason"] = "the exempt user's own session"
            exempt.append(entry)
        else:
            rest.append(dict(session))
    return rest, exempt


def gone_and_left(victims: Iterable[Mapping[str, Any]], now_present: Iterable[Mapping[str, Any]]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Split the victims into those no longer there and those still there (a re-read's sessions)."""
    present = {session_key(s) for s in now_present}
    gone, left = [], []
    for victim in victims:
        (left if session_key(victim) in present else gone).append(dict(victim))
    return gone, left


# -- K2 licence sessions (License management, function 678) -------------------------------------

def _licence_columns(platform: str, profile: Mapping) -> Dict[str, str]:
    s = profile["licence_sessions"]
    return {key: quote_ident(platform, s[column]) for key, column in
            (("user", "user_column"), ("host", "host_column"), ("program", "program_column"), ("app_server", "app_server_column"))}


def licence_select_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    c = _licence_columns(platform, profile)
    return "SELECT %s AS lic_user, %s AS lic_host, %s AS lic_program, %s AS lic_app_server FROM %s ORDER BY %s, %s" % (
        c["user"], c["host"], c["program"], c["app_server"], table_ref(platform, conf_database, profile["licence_sessions"]["table"]),
        c["host"], c["user"])


def licence_from_row(row: Mapping[str, Any]) -> Dict[str, Any]:
    r = _lower_keys(row)
    app_server = r.get("lic_app_server")
    if isinstance(app_server, str):
        app_server = app_server.strip().upper() in ("1", "Y", "A", "T", "TRUE", "YES", "ANO")
    return {"user": _text(r.get("lic_user")), "host": _text(r.get("lic_host")), "program": _text(r.get("lic_program")),
            "app_server": bool(app_server)}


def licence_delete_sql(platform: str, conf_database: str, profile: Mapping, licence: Mapping[str, Any]) -> Tuple[str, Any]:
    """Log one licence session off: delete the rows with its user, host and program."""
    c = _licence_columns(platform, profile)
    table = table_ref(platform, conf_database, profile["licence_sessions"]["table"])
    if platform == "oracle":
        return ("DELETE FROM %s WHERE %s = :lic_user AND %s = :lic_host AND %s = :lic_program" % (table, c["user"], c["host"], c["program"]),
                {"lic_user": licence["user"], "lic_host": licence["host"], "lic_program": licence["program"]})
    return ("DELETE FROM %s WHERE %s = ? AND %s = ? AND %s = ?" % (table, c["user"], c["host"], c["program"]),
            (licence["user"], licence["host"], licence["program"]))


def licence_text(licence: Mapping[str, Any]) -> str:
    """One line per licence session, for the diff."""
    return "%s@%s (%s%s)" % (licence["user"], licence["host"], licence["program"], ", application server" if licence["app_server"] else "")


def session_text(session: Mapping[str, Any]) -> str:
    """One line per database session, for the diff."""
    return "%s %s@%s %s [%s] %s" % (session["id"], session["login"], session["host"], session["database"], session["kind"], session["program"])
