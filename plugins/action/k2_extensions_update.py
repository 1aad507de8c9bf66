# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_extensions_update (runbook K2-14): run K2 on the K2 host until it stays up, read extension status from the controller.

The K2 executable runs over the task's connection (PowerShell over WinRM/PSRP on Windows,
sh in the lab), one attempt per command, built by ``module_utils.extensions``. The status of
the extensions (current, format) is read from the CONF database from the controller, as
k2_info does. Definitions (xml) named by ``definitions_path`` are fetched over the connection
and only read.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import extensions as core
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_site, k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.progress import Progress
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    executable=dict(type="str"),
    mode=dict(type="str", choices=list(core.MODES), default="update"),
    extension_set=dict(type="str"),
    max_restarts=dict(type="int", default=5),
    settle_seconds=dict(type="int", default=60),
    grace_seconds=dict(type="int", default=30),
    timeout=dict(type="int", default=1800),
    restart_exit_code=dict(type="int", default=core.RESTART_EXIT_CODE),
    conf_database=dict(type="str"),
    installed_version=dict(type="str"),
    definitions_path=dict(type="list", elements="str", default=[]),
    definition_format_attribute=dict(type="str", default="format"),
    k2_profile=dict(type="dict", default={}),
    progress_after=dict(type="float", default=1.0),
    **DB_ARGUMENT_SPEC
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        self._progress = Progress((task_vars or {}).get("inventory_hostname", "?"), "extensions update", threshold=args["progress_after"])
        try:
            self._check_numbers(args)
            result.update(self._update(args, merge_profile(args["k2_profile"])))
        except (ValueError, AnsibleError, k2db.DatabaseError) as exc:
            result.update(failed=True, msg=str(exc))
        return masked(result, validation)

    @staticmethod
    def _check_numbers(args):
        for name, least in (("max_restarts", 0), ("settle_seconds", 1), ("grace_seconds", 1), ("timeout", 1)):
            if args[name] < least:
                raise core.ExtensionsError("%s must be at least %d, got %d" % (name, least, args[name]))

    def _update(self, args, profile):
        family = k2host.shell_family(self)
        if family == "powershell" and args["settle_seconds"] >= args["timeout"]:
            raise core.ExtensionsError("settle_seconds (%d) must be shorter than timeout (%d)" % (args["settle_seconds"], args["timeout"]))
        folder = args["path"]
        facts = self._site(folder, profile)
        executable = args["executable"] or facts.executable
        if not executable:
            raise AnsibleError("K2 folder %s holds no K2 executable (looked for %s); a torso cannot update extensions"
                               % (folder, ", ".join(profile["folder"]["executables"])))
        installed = args["installed_version"] or facts.version
        try:
            required = core.required_format(installed)
        except k2_version.VersionError as exc:
            raise core.ExtensionsError("installed version: %s" % exc) from None
        arguments = core.k2_arguments(args["mode"], args["extension_set"])
        exe_path = executable if self._is_absolute(family, executable) else k2host.join(self, folder, executable)
        params, conf_database = self._db_params(args, facts)

        before = self._status(params, conf_database, profile)
        judged = core.judge(before, required)
        result = {
            "argv": [exe_path] + arguments,
            "installed_version": installed,
            "required_format": required,
            "extensions_before": before,
            "extensions": before,
            "to_update": judged["to_update"],
            "format_conversion": bool(judged["old_format"]),
            "old_format": judged["old_format"],
            "attempts": [],
            "restarts": 0,
            "updated": [],
            "ran": False,
        }
        if args["definitions_path"]:
            result["definitions_to_convert"], result["definitions_missing"] = self._definitions(
                family, args["definitions_path"], required, args["definition_format_attribute"])
        run_needed = args["mode"] == "update_all" or bool(judged["to_update"])
        if not run_needed:
            result["msg"] = "every extension is current%s; K2 was not started" % (" in format %s" % required if required else "")
            return result
        if self._task.check_mode:
            result["changed"] = bool(judged["to_update"])
            result["msg"] = "would run %s for %s" % (" ".join(result["argv"]), ", ".join(judged["to_update"]) or "every extension")
            return result

        verdict = core.run_attempts(lambda number: self._attempt(family, number, exe_path, folder, arguments, args), args["max_restarts"])
        result["ran"] = True
        result["attempts"] = [a.as_dict() for a in verdict.attempts]
        result["restarts"] = verdict.restarts
        after = self._status(params, conf_database, profile)
        left = core.judge(after, required)
        result.update(extensions=after, updated=core.changed_extensions(before, after), to_update=left["to_update"],
                      old_format=left["old_format"], format_conversion=bool(left["old_format"]))
        result["changed"] = bool(result["updated"])
        failure = core.failure_message(verdict, args["timeout"], args["max_restarts"])
        if failure is None and left["to_update"]:
            failure = ("K2 stayed up after %d attempt(s) but these extensions are still not current%s: %s"
                       % (len(verdict.attempts), " in format %s" % required if required else "", ", ".join(left["to_update"])))
            if family == "powershell":
                failure += " (K2 is stopped once it has settled: raise settle_seconds if the update takes longer)"
        if failure:
            result.update(failed=True, msg=failure)
        else:
            result["msg"] = "K2 stayed up after %d attempt(s); every extension is current" % len(verdict.attempts)
        return result

    @staticmethod
    def _is_absolute(family, path):
        if family == "powershell":
            return path.startswith("\\\\") or (len(path) > 2 and path[1] == ":" and path[2] in "\\/")
        return path.startswith("/")

    def _site(self, folder, profile):
        names = k2host.list_names(self, folder)
        if names is None:
            raise AnsibleError("K2 folder %s does not exist on the K2 host (or is not a folder)" % folder)
        lower = {n.lower() for n in names}
        ini = {}
        for name in (profile["folder"]["ini_file"], profile["folder"]["sysini_file"]):
            ini[name] = k2host.fetch_bytes(self, k2host.join(self, folder, name)) if name.lower() in lower else None
        facts = k2_site.read_site(names, ini[profile["folder"]["ini_file"]], ini[profile["folder"]["sysini_file"]], profile)
        if facts.kind == "not_k2":
            raise AnsibleError("K2 folder %s: %s" % (folder, "; ".join(facts.problems)))
        return facts

    @staticmethod
    def _db_params(args, facts):
        params = db_params(args)
        params["db_platform"] = facts.platform or params["db_platform"]
        if not params["login_host"] and facts.server:
            host, _sep, port = facts.server.partition(",")
            params["login_host"] = host
            params["login_port"] = params["login_port"] or (int(port) if port.isdigit() else None)
        return params, args["conf_database"] or facts.conf_database

    @staticmethod
    def _status(params, conf_database, profile):
        conf = k2db.connect(params, conf_database)
        try:
            return core.read_status(conf.query(core.status_sql(params["db_platform"], conf_database, profile)))
        finally:
            conf.close()

    def _attempt(self, family, number, exe_path, folder, arguments, args):
        with self._progress.step("K2 start %d (%s)" % (number, " ".join([exe_path] + list(arguments)))) as step:
            attempt = self._run_attempt(family, number, exe_path, folder, arguments, args)
            step.detail = "%s, exit code %s" % (attempt.outcome, attempt.exit_code)
            return attempt

    def _run_attempt(self, family, number, exe_path, folder, arguments, args):
        started = time.monotonic()
        if family == "powershell":
            command = core.powershell_command(exe_path, folder, arguments, args["timeout"], args["settle_seconds"], args["grace_seconds"])
            rc, stdout, stderr = k2host.run(self, command)
            seconds = round(time.monotonic() - started, 2)
            if rc != 0:
                raise AnsibleError("cannot run %s on the K2 host (attempt %d): %s" % (exe_path, number, (stderr or stdout).strip() or "exit code %d" % rc))
            data = core.parse_powershell_result(stdout)
            detail = {"closed": "K2 settled and closed its window when asked", "killed": "the K2 process tree was killed"}.get(data.get("stop"))
            if data.get("still_running"):
                detail = "K2 (pid %s) was still running after it was stopped" % data.get("pid")
                data["outcome"] = "failed"
            return core.Attempt(number, [exe_path] + list(arguments), data["outcome"], data.get("exit_code"), seconds,
                                core.tail(str(data.get("output") or "")), detail)
        rc, stdout, stderr = k2host.run(self, core.sh_command(exe_path, folder, arguments, args["timeout"]))
        seconds = round(time.monotonic() - started, 2)
        outcome = core.sh_outcome(rc, args["restart_exit_code"])
        detail = "the K2 process group was killed after timeout=%d s" % args["timeout"] if outcome == "timeout" else None
        return core.Attempt(number, [exe_path] + list(arguments), outcome, rc, seconds, core.tail("\n".join(t for t in (stdout, stderr) if t)), detail)

    def _definitions(self, family, paths, required, attribute):
        if family != "powershell":
            relative = [p for p in paths if not p.startswith("/")]
            if relative:
                raise core.ExtensionsError("definitions_path must hold absolute paths on the K2 host, got %s" % ", ".join(relative))
        rc, stdout, stderr = k2host.run(self, core.xml_list_command(family, paths))
        if rc != 0:
            raise AnsibleError("cannot list the extension definitions on the K2 host: %s" % (stderr.strip() or "exit code %d" % rc))
        to_convert, missing = [], []
        for line in stdout.splitlines():
            line = line.rstrip("\r")
            if not line.strip():
                continue
            if line.startswith("MISSING "):
                missing.append(line[len("MISSING "):])
                continue
            verdict = core.definition_verdict(line, k2host.fetch_bytes(self, line), required, attribute)
            if verdict:
                to_convert.append(verdict)
        return to_convert, missing
