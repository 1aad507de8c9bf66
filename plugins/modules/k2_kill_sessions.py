#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_kill_sessions: log off K2's licence sessions and end the K2 login's idle database sessions (K2-04)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_kill_sessions
short_description: Log every user off K2 before a reinstall
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Does what the runbook's step "log off all users" asks (K2-04), in two parts that the result keeps apart.
  - First the K2 licence sessions of License management (function 678) are logged off, application servers included, by
    deleting their rows in the CONF database. The table and columns come from the K2 profile (entry C(licence_sessions)).
  - Then the database sessions of the K2 login are listed and the idle ones are ended.
  - On MS SQL from C(sys.dm_exec_sessions) and C(sys.dm_exec_requests), the equivalent of C(sp_who) (spid, status, login,
    host, database, command, program, last batch, open transactions), user sessions only (C(is_user_process = 1)).
    A session is idle when it is C(sleeping), its command is C(AWAITING COMMAND) and no transaction is open; it is ended
    with C(KILL <spid>). The login needs the C(VIEW SERVER STATE) and C(ALTER ANY CONNECTION) permissions.
  - On Oracle from C(GV$SESSION), sessions of the login whose C(CLIENT_INFO) matches C(K2/./.*/.*/.*/.*/.*) (K2 clients),
    on every instance. A session is idle when it is C(INACTIVE) without a transaction (C(TADDR) empty); it is ended with
    C(ALTER SYSTEM KILL SESSION 'sid,serial#,@inst_id' IMMEDIATE). The host is the session's C(TERMINAL), the database its
    C(SCHEMANAME).
  - In the lab (PostgreSQL) from C(pg_stat_activity), client backends only. A session is idle when its state is C(idle);
    it is ended with C(pg_terminate_backend). The application name stands for the K2 client as C(program@host).
  - Busy sessions and sessions idle inside a transaction are reported, not ended, unless O(force=true); ending them loses
    the users' unsaved work. The module's own session is never ended.
  - After ending sessions it reads them again and reports which are gone and which are still there, waiting up to
    O(wait_timeout) seconds for them to go.
  - Connects to the database from where the module runs, which must have the database driver (pyodbc or oracledb).
    Run it on the controller or in the execution environment (C(delegate_to=localhost)), not on the Windows K2 host.
options:
  conf_database:
    description: The CONF database (on Oracle, its schema). The module connects to it; it holds the licence sessions and C(FIRMY).
    type: str
    required: true
  login:
    description:
      - The database login K2 connects with; only its sessions are considered.
      - Upper-cased on Oracle. Compared as the server compares names on MS SQL, exactly in the lab.
    type: str
    default: K2
  databases:
    description:
      - Only sessions in these databases (on Oracle, schemas) are considered.
      - Default, the site's databases, O(conf_database) and every database in C(FIRMY).
    type: list
    elements: str
  hosts:
    description: Only sessions from these hosts; shell-style patterns (V(PC-*)), case-insensitive. Applies to licence sessions too.
    type: list
    elements: str
    default: []
  programs:
    description: Only sessions of these programs; shell-style patterns, case-insensitive. Applies to licence sessions too.
    type: list
    elements: str
    default: []
  exclude:
    description:
      - Spare sessions whose host, program or user (the K2 user of a licence session, the login of a database session)
        matches one of these shell-style patterns, case-insensitive.
    type: list
    elements: str
    default: []
  exempt_user:
    description:
      - The K2 user who may stay (the one who runs the reinstall, the login ban's exempt user). Never logged off, and the
        database sessions from the hosts where this user is logged in to K2 (its licence sessions) are never ended, not
        even with O(force=true); they are listed in RV(exempt) and not counted in RV(sessions_left).
      - Every K2 client shares the database login, so the host tells the user's sessions. When other users are logged in
        on the same host (a terminal server), their database sessions from it are left alone too and a warning names them.
    type: str
  force:
    description: Also end busy sessions and sessions idle inside a transaction. Their unsaved work is lost.
    type: bool
    default: false
  licence_sessions:
    description: Log off the K2 licence sessions first. V(false) leaves License management alone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for ended sessions to disappear. V(0) reads them again once, at once.
    type: int
    default: 10
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.database
  - erpops.upgrade.attributes.database_action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Lists the licence sessions and database sessions that would be ended, and ends nothing.
  diff_mode:
    support: full
    details: Shows the licence sessions and the meant database sessions before and after.
notes:
  - The filters O(hosts), O(programs), O(databases), O(exclude) and the login combine with AND.
  - The task does not fail when sessions stay; RV(sessions_left) says how many. Check it before the reinstall.
seealso:
  - module: erpops.upgrade.k2_login_ban
"""

EXAMPLES = r"""
- name: Log everybody off K2 (idle sessions only)
  erpops.upgrade.k2_kill_sessions:
    conf_database: K2_CONF
    login: K2
  delegate_to: localhost
  register: k2_sessions

- name: Also end the sessions of one stuck workstation, busy or not
  erpops.upgrade.k2_kill_sessions:
    conf_database: K2_CONF
    hosts: [PC-UCTARNA]
    force: true
  delegate_to: localhost

- name: Stop when somebody is still connected
  ansible.builtin.assert:
    that: k2_sessions.sessions_left == 0
    fail_msg: "Still connected: {{ k2_sessions.still_there + k2_sessions.spared }}"
"""

RETURN = r"""
own_session:
  description: The id of the module's own database session, which is never ended.
  returned: always
  type: str
  sample: "57"
databases:
  description: The databases whose sessions were considered.
  returned: always
  type: list
  elements: str
  sample: [K2_CONF, K2_FIRMA]
licence_sessions:
  description: The K2 licence sessions (License management), apart from the database sessions.
  returned: always
  type: dict
  contains:
    logged_off:
      description: Licence sessions logged off (in check mode, that would be).
      type: list
      elements: dict
      sample: [{"user": "NOVAK", "host": "PC-UCTARNA", "program": "K2", "app_server": false}]
    kept:
      description: Licence sessions the filters leave alone.
      type: list
      elements: dict
      sample: [{user: AS, host: SRV-APP01, program: K2 AS, app_server: true}]
victims:
  description:
    - Database sessions ended (in check mode, that would be). Each has C(id), C(login), C(host), C(database), C(program),
      C(status), C(command), C(kind) (V(idle), V(idle_in_transaction), V(busy)), C(last_batch), C(open_transactions),
      C(login_time) and the platform's numbers (C(spid); C(sid), C(serial), C(inst_id); C(pid)).
  returned: always
  type: list
  elements: dict
  sample: [{platform: mssql, id: '64', spid: 64, status: sleeping, login: K2, host: PC-UCTARNA, database: K2_FIRMA,
    command: AWAITING COMMAND, program: K2, last_batch: '2025-03-05 17:58:12.570', open_transactions: 0,
    login_time: '2025-03-05 07:31:40.365', kind: idle}]
spared:
  description: Database sessions the filters mean but that were not ended, busy or in a transaction, with a C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{platform: mssql, id: '71', spid: 71, status: runnable, login: K2, host: PC-UCTARNA, database: K2_FIRMA,
    command: SELECT, program: K2, last_batch: '2025-03-05 17:58:12.570', open_transactions: 1, login_time: '2025-03-05
    07:31:40.365', kind: busy, reason: busy}]
exempt:
  description: Database sessions of the exempt user (from a host where O(exempt_user) is logged in to K2), never ended.
  returned: always
  type: list
  elements: dict
shared_hosts:
  description: Hosts where O(exempt_user) is logged in to K2 together with other users (C(host), C(users)); a warning names them.
  returned: always
  type: list
  elements: dict
  sample: [{"host": "ts01", "users": ["NOVAK"]}]
gone:
  description: Victims no longer there after the kill.
  returned: always
  type: list
  elements: dict
  sample: [{platform: mssql, id: '64', spid: 64, status: sleeping, login: K2, host: PC-UCTARNA, database: K2_FIRMA,
    command: AWAITING COMMAND, program: K2, last_batch: '2025-03-05 17:58:12.570', open_transactions: 0,
    login_time: '2025-03-05 07:31:40.365', kind: idle}]
still_there:
  description: Victims still there after O(wait_timeout) (in check mode, all victims).
  returned: always
  type: list
  elements: dict
  sample: []
sessions_left:
  description: Database sessions the filters mean that are still there (spared and still there).
  returned: always
  type: int
  sample: 0
executed:
  description: The SQL statements run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ['DELETE FROM "LICSESSION" WHERE "Uzivatel" = ? AND "Pocitac" = ? AND "Program" = ?', KILL 64]
"""

import time


from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, sessions
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params, run_database_module
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile

POLL_SECONDS = 0.5


def argument_spec():
    spec = dict(
        conf_database=dict(type="str", required=True),
        login=dict(type="str", default="K2"),
        databases=dict(type="list", elements="str"),
        hosts=dict(type="list", elements="str", default=[]),
        programs=dict(type="list", elements="str", default=[]),
        exclude=dict(type="list", elements="str", default=[]),
        exempt_user=dict(type="str"),
        force=dict(type="bool", default=False),
        licence_sessions=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=10),
        k2_profile=dict(type="dict", default={}),
    )
    spec.update(DB_ARGUMENT_SPEC)
    return spec


def site_databases(conf, platform, conf_database, profile):
    rows = conf.query(k2_mandants.firmy_sql(platform, conf_database, profile))
    names = [conf_database]
    for mandant in k2_mandants.classify(rows, profile):
        if mandant["database"] and mandant["database"].casefold() not in {n.casefold() for n in names}:
            names.append(mandant["database"])
    return names


def own_session_id(conf, platform):
    row = {str(k).lower(): v for k, v in conf.query(sessions.OWN_SESSION_SQL[platform])[0].items()}
    if platform == "oracle":
        return None, (int(str(row["session_id"])), int(str(row["inst_id"])))
    return str(int(row["session_id"])), None


def read_sessions(conf, platform, login, own_oracle):
    sql, binds = sessions.list_sql(platform, login)
    found = [sessions.session_from_row(platform, row) for row in conf.query(sql, binds)]
    if own_oracle is not None:
        found = [s for s in found if (s["sid"], s["inst_id"]) != own_oracle]
    return found


def read_licences(conf, platform, conf_database, profile):
    return [sessions.licence_from_row(row) for row in conf.query(sessions.licence_select_sql(platform, conf_database, profile))]


def is_exempt(licence, exempt_user):
    return bool(exempt_user) and licence["user"].strip().casefold() == exempt_user.strip().casefold()


def logoff_licences(module, conf, platform, conf_database, profile, filters, before, exempt_user):
    logged_off = [lic for lic in before if filters.licence_why_not(lic) is None and not is_exempt(lic, exempt_user)]
    kept = [lic for lic in before if lic not in logged_off]
    done = set()
    with conf.transaction():
        for licence in logged_off:
            key = (licence["user"], licence["host"], licence["program"])
            if key not in done:
                done.add(key)
                sql, binds = sessions.licence_delete_sql(platform, conf_database, profile, licence)
                conf.execute(sql, binds, dont_exec=module.check_mode)
    return before, logged_off, kept


def run(module, sleep=time.sleep, clock=time.monotonic):
    params = module.params
    platform = params["db_platform"]
    profile = merge_profile(params["k2_profile"])
    conf_database = params["conf_database"]
    conf = k2db.connect(db_params(params), conf_database)
    try:
        databases = params["databases"] if params["databases"] is not None else site_databases(conf, platform, conf_database, profile)
        filters = sessions.Filters(login=params["login"], hosts=params["hosts"], databases=databases, programs=params["programs"],
                                   exclude=params["exclude"], case_sensitive_login=platform == "lab")
        licences_before, logged_off, kept = [], [], []
        exempt_user = params["exempt_user"]
        if params["licence_sessions"] or exempt_user:
            licences_before = read_licences(conf, platform, conf_database, profile)
        hosts = sessions.exempt_hosts(licences_before, exempt_user)
        if params["licence_sessions"]:
            licences_before, logged_off, kept = logoff_licences(module, conf, platform, conf_database, profile, filters,
                                                                licences_before, exempt_user)
        own_id, own_oracle = own_session_id(conf, platform)
        own_ids = [own_id] if own_id else []
        before = read_sessions(conf, platform, params["login"], own_oracle)
        candidates, exempt = sessions.split_exempt(before, hosts, filters)
        victims, spared = sessions.select_victims(candidates, filters, params["force"], own_ids)
        for victim in victims:
            sql, binds = sessions.kill_sql(victim)
            try:
                conf.execute(sql, binds, dont_exec=module.check_mode)
            except k2db.DatabaseError as exc:
                # A session that ended by itself in the meantime cannot be killed; the re-read tells.
                victim["kill_error"] = str(exc)
        if module.check_mode or not victims:
            gone, still_there = [], [dict(v) for v in victims]
        else:
            deadline = clock() + max(0, params["wait_timeout"])
            while True:
                after = read_sessions(conf, platform, params["login"], own_oracle)
                gone, still_there = sessions.gone_and_left(victims, after)
                if not still_there or clock() >= deadline:
                    break
                sleep(POLL_SECONDS)
        executed = list(conf.executed)
    finally:
        conf.close()
    changed = bool(victims) or bool(logged_off)
    result = dict(
        changed=changed,
        own_session=own_id if own_id else "%d,@%d" % own_oracle,
        databases=databases,
        licence_sessions=dict(logged_off=logged_off, kept=kept),
        victims=victims,
        spared=spared,
        exempt=exempt,
        shared_hosts=[dict(host=host, users=users) for host, users in sorted(hosts.items()) if users],
        gone=gone,
        still_there=still_there,
        sessions_left=len(spared) + len(still_there),
        executed=executed,
    )
    for shared in result["shared_hosts"]:
        module.warn("%s is logged in to K2 on %s together with %s: their database sessions from there cannot be told apart "
                    "from the exempt user's and were left alone" % (exempt_user, shared["host"], ", ".join(shared["users"])))
    if module._diff:
        meant = [s for s in before if filters.why_not(s) is None]
        ended = {sessions.session_key(v) for v in (victims if module.check_mode else gone)}
        result["diff"] = dict(
            before=dict(licence_sessions=[sessions.licence_text(lic) for lic in licences_before],
                        db_sessions=[sessions.session_text(s) for s in meant]),
            after=dict(licence_sessions=[sessions.licence_text(lic) for lic in kept],
                       db_sessions=[sessions.session_text(s) for s in meant if sessions.session_key(s) not in ended]),
        )
    return result


def main():
    run_database_module(argument_spec(), run)


if __name__ == "__main__":
    main()
