# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""comarch_sync_verify: the service over the task's connection, the database and the HRM domain from the controller."""

from __future__ import annotations

import shlex
import time
from datetime import datetime

from ansible.errors import AnsibleError
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile, comarch_sync
from ansible_collections.erpops.upgrade.plugins.module_utils import db as erpdb
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

display = Display()

PHASES = ["before_update", "after_update", "after_restore"]

ARGUMENT_SPEC = dict(
    phase=dict(type="str", required=True, choices=PHASES),
    product=dict(type="str", default="optima", choices=sorted(comarch_profile.PRODUCTS)),
    database=dict(type="str"),
    databases=dict(type="list", elements="str"),
    sync_database=dict(type="str"),
    switch_off=dict(type="list", elements="str", default=[]),
    program_version=dict(type="str"),
    domain_url=dict(type="str"),
    validate_certs=dict(type="bool", default=True),
    http_timeout=dict(type="int", default=10),
    service_name=dict(type="str"),
    service_pid_file=dict(type="str"),
    sync_tolerance=dict(type="int", default=600),
    timeout=dict(type="int", default=0),
    poll_interval=dict(type="int", default=10),
    comarch_profile=dict(type="dict", default={}),
    **DB_ARGUMENT_SPEC
)

TABLE_EXISTS_SQL = "SELECT COUNT(*) AS found FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?"


def service_command(shell_family: str, service_name: str, pid_file: str) -> str:
    """Print ``missing``, ``running``, ``stopped`` (or Windows' own state word) for the service."""
    if shell_family == "powershell":
        return ("$ErrorActionPreference = 'Stop'; $n = %s; "
                "$s = Get-Service | Where-Object { $_.Name -eq $n -or $_.DisplayName -eq $n } | Select-Object -First 1; "
                "if ($null -eq $s) { 'missing' } else { $s.Status.ToString() }" % k2host.ps_quote(service_name))
    # A POSIX host (the lab) has no service manager: the service is the process named by a pid file.
    return ('f=%s; if [ ! -e "$f" ]; then echo missing; else p=$(cat "$f" 2>/dev/null); '
            'if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo running; else echo stopped; fi; fi' % shlex.quote(pid_file))


def service_state_word(output: str) -> str:
    """Windows' ``Running`` / ``Stopped`` / ``StartPending`` ... as ``running``, ``stopped``, ``start_pending``."""
    word = (output.strip().splitlines() or [""])[-1].strip()
    if not word:
        return "unknown"
    snake = "".join("_" + ch.lower() if ch.isupper() and i else ch.lower() for i, ch in enumerate(word))
    return snake


def check_domain(url: str, timeout: int, validate_certs: bool) -> dict:
    """Whether the HRM domain answers: any 2xx or 3xx counts as open."""
    try:
        response = open_url(url, method="GET", timeout=timeout, validate_certs=validate_certs, follow_redirects="safe")
        status = response.getcode()
        response.close()
    except HTTPError as exc:
        return {"url": url, "open": False, "status": exc.code, "detail": "HTTP %s %s" % (exc.code, exc.reason)}
    except (URLError, OSError, ValueError) as exc:
        return {"url": url, "open": False, "status": None, "detail": "no answer: %s" % getattr(exc, "reason", exc)}
    return {"url": url, "open": 200 <= status < 400, "status": status, "detail": "HTTP %s" % status}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        self._host_name = (task_vars or {}).get("inventory_hostname", "")
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        try:
            profile = comarch_profile.merge_profile(args["product"], args["comarch_profile"])
            phase = args["phase"]
            self._require(args, phase)
            if phase == "after_restore":
                result.update(self._after_restore(args, profile))
            else:
                result.update(self._update_phase(args, profile, phase))
        except (ValueError, AnsibleError, erpdb.DatabaseError) as exc:
            result.update(failed=True, msg=str(exc))
        return masked(result, validation)

    @staticmethod
    def _require(args, phase):
        needed = {"before_update": ["database"], "after_update": ["database", "program_version", "domain_url"], "after_restore": []}[phase]
        missing = [name for name in needed if not args.get(name)]
        if missing:
            raise ValueError("phase=%s needs %s" % (phase, ", ".join(missing)))
        for name in ("sync_database", "switch_off"):
            if args.get(name) and phase != "after_restore":
                raise ValueError("%s is used only with phase=after_restore" % name)

    # -- reading ------------------------------------------------------------
    def _service_state(self, args, profile):
        family = k2host.shell_family(self)
        name = args["service_name"] or profile["service"]["name"]
        if family != "powershell" and not args["service_pid_file"]:
            raise ValueError("on a host without PowerShell the service is a process: set service_pid_file")
        rc, stdout, stderr = k2host.run(self, service_command(family, name, args["service_pid_file"] or ""))
        if rc != 0:
            raise AnsibleError("cannot read the state of service %r: %s" % (name, stderr.strip() or "exit code %d" % rc))
        return service_state_word(stdout)

    @staticmethod
    def _read_database(database, platform, profile):
        now = database.query(comarch_profile.now_sql(platform))[0]["now"]
        schedule = database.query(*comarch_profile.schedule_sql(platform, profile))
        history = database.query(*comarch_profile.history_sql(platform, profile))
        return now, schedule, history

    @staticmethod
    def _database_version(database, platform, profile):
        rows = database.query(*comarch_profile.version_sql(platform, profile))
        return str(rows[0]["version"]).strip() if rows and rows[0]["version"] is not None else None

    # -- before_update / after_update --------------------------------------
    def _update_phase(self, args, profile, phase):
        params = db_params(args)
        platform = params["db_platform"]
        expected = comarch_profile.expected_database_version(profile, args["program_version"]) if phase == "after_update" else None
        database = erpdb.connect(params, args["database"])
        started = time.monotonic()
        seen = {}
        try:
            while True:
                verdict = self._judge_once(args, profile, phase, database, platform, expected)
                if phase == "before_update":
                    break
                self._stamp_stages(verdict["stages"], seen, started)
                waited = time.monotonic() - started
                if args["timeout"] > 0:
                    display.display("%s: %s" % (self._host_name, comarch_sync.poll_line(verdict["stages"], waited, args["timeout"])))
                if verdict["passed"] or verdict["final"] or waited + args["poll_interval"] > args["timeout"]:
                    break
                time.sleep(max(1, args["poll_interval"]))
        finally:
            database.close()
        out = {"phase": phase, "passed": verdict["passed"], "reasons": verdict["reasons"], "facts": verdict["facts"],
               "database": args["database"]}
        if phase == "after_update":
            out["stages"] = verdict["stages"]
            out["waited_seconds"] = round(time.monotonic() - started, 1)
        if not verdict["passed"]:
            out.update(failed=True, msg=comarch_sync.failure_message(phase, verdict["reasons"]))
        return out

    def _judge_once(self, args, profile, phase, database, platform, expected):
        service = self._service_state(args, profile)
        now, schedule, history = self._read_database(database, platform, profile)
        if phase == "before_update":
            return comarch_sync.judge_before_update(service, schedule, history, now, profile, args["sync_tolerance"])
        version = self._database_version(database, platform, profile)
        domain = check_domain(args["domain_url"], args["http_timeout"], args["validate_certs"])
        verdict = comarch_sync.judge_after_update(service, version, expected, args["program_version"], schedule, history, domain, now, profile)
        verdict["facts"]["domain"] = domain
        return verdict

    @staticmethod
    def _stamp_stages(stages, seen, started):
        """The controller time each stage was first seen complete, and how long after the start."""
        for stage in stages:
            if stage["passed"] and stage["name"] not in seen:
                seen[stage["name"]] = (datetime.now().isoformat(sep=" ", timespec="seconds"), round(time.monotonic() - started, 1))
            stage["seen_at"], stage["elapsed_seconds"] = seen.get(stage["name"], (None, None))

    # -- after_restore ------------------------------------------------------
    def _after_restore(self, args, profile):
        params = db_params(args)
        platform = params["db_platform"]
        comarch_profile.now_sql(platform)  # refuses a platform Comarch does not run on
        names = args["databases"]
        warnings = []
        if not names:
            server = erpdb.connect(params, "master" if platform == "mssql" else "postgres")
            try:
                names = server.databases()
            finally:
                server.close()
        unknown = sorted(set(args["switch_off"]) - set(names))
        if unknown:
            raise ValueError("switch_off names databases not looked at: %s (databases: %s)" % (", ".join(unknown), ", ".join(names)))
        schedules = {}
        for name in names:
            try:
                schedules[name] = self._schedule_if_any(params, platform, name, profile)
            except erpdb.DatabaseError as exc:
                if args["databases"]:
                    raise
                warnings.append("database %s skipped: %s" % (name, exc))
        switched, executed = self._switch_off(params, platform, schedules, args["switch_off"], profile)
        verdict = comarch_sync.judge_after_restore(schedules, args["sync_database"], profile)
        out = {"phase": "after_restore", "passed": verdict["passed"], "reasons": verdict["reasons"],
               "databases": verdict["databases"], "configured": verdict["configured"], "syncing": verdict["syncing"],
               "switched_off": switched, "executed_queries": executed}
        if switched:
            out["changed"] = True
        if warnings:
            out["warnings"] = warnings
        if verdict["enable"]:
            enabled = self._enable(params, platform, verdict, profile)
            enabled["executed_queries"] = out["executed_queries"] + enabled["executed_queries"]
            out.update(enabled)
        if not verdict["passed"]:
            out.update(failed=True, msg=comarch_sync.failure_message("after_restore", verdict["reasons"]))
        return out

    def _switch_off(self, params, platform, schedules, names, profile):
        """Switch the HRM syncs of the restored databases off (the program does so when it restores); in check mode only in memory."""
        switched, executed = [], []
        for name in names:
            rows = schedules.get(name) or []
            if not any(entry and entry["enabled"] for entry in comarch_sync.schedule_state(rows, profile).values()):
                continue
            check_mode = self._play_context.check_mode
            database = erpdb.connect(params, name)
            try:
                with database.transaction():
                    database.execute(*comarch_profile.disable_syncs_sql(platform, profile), dont_exec=check_mode)
                executed.extend(database.executed)
                schedules[name] = ([dict(row, enabled=0) for row in rows] if check_mode
                                   else database.query(*comarch_profile.schedule_sql(platform, profile)))
            finally:
                database.close()
            switched.append(name)
        return switched, executed

    @staticmethod
    def _schedule_if_any(params, platform, name, profile):
        database = erpdb.connect(params, name)
        try:
            entry = profile["schedule"]
            found = database.query(TABLE_EXISTS_SQL, (entry["schema"], entry["table"]))
            if not found or not int(found[0]["found"]):
                return None
            return database.query(*comarch_profile.schedule_sql(platform, profile))
        finally:
            database.close()

    def _enable(self, params, platform, verdict, profile):
        name = verdict["enable"]
        before = next(d for d in verdict["databases"] if d["name"] == name)["schedule"]
        after = {kind: (dict(entry) if entry else None) for kind, entry in before.items()}
        after["differential"]["enabled"] = True
        database = erpdb.connect(params, name)
        try:
            with database.transaction():
                database.execute(*comarch_profile.enable_differential_sql(platform, profile), dont_exec=self._play_context.check_mode)
        finally:
            database.close()
        out = {"changed": True, "enabled_database": name, "executed_queries": database.executed, "syncing": [name]}
        if self._play_context.diff:
            out["diff"] = {"before": {"database": name, "schedule": before}, "after": {"database": name, "schedule": after},
                           "before_header": "%s schedule" % name, "after_header": "%s schedule" % name}
        return out
