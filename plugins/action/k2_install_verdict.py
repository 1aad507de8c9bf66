# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_install_verdict: gather the evidence of an install (folder over the task's connection, databases from the
controller) and let ``module_utils.install_verdict`` judge it. Reads only."""

from __future__ import annotations

from ansible.errors import AnsibleError

from ansible_collections.erpops.upgrade.plugins.action.k2_info import ActionModule as InfoAction
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import install_verdict, k2_state
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    conf_database=dict(type="str"),
    target_version=dict(type="str", required=True),
    from_version=dict(type="str"),
    exit_code=dict(type="int"),
    output=dict(type="str", default=""),
    timed_out=dict(type="bool", default=False),
    log_offset=dict(type="int", default=0),
    read_log=dict(type="bool", default=True),
    k2_profile=dict(type="dict", default={}),
    **DB_ARGUMENT_SPEC
)


class ActionModule(InfoAction):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(InfoAction, self).run(tmp, task_vars)  # pylint: disable=bad-super-call
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["changed"] = False
        try:
            profile = merge_profile(args["k2_profile"])
            evidence = self._evidence(args, profile)
            verdict = install_verdict.judge(evidence)
        except (ValueError, AnsibleError, k2db.DatabaseError) as exc:
            result.update(failed=True, msg="cannot judge the install: %s" % exc)
            return masked(result, validation)
        result.update(verdict)
        kept = ("folder_version", "runnable", "databases", "initialization", "exit_code", "log_file", "log_replaced")
        result["evidence"] = {key: evidence[key] for key in kept}
        result["msg"] = install_verdict.message(verdict)
        if verdict.get("warnings"):
            result["warnings"] = verdict["warnings"]
        if not verdict["ok"]:
            result["failed"] = True
        return masked(result, validation)

    def _evidence(self, args, profile):
        info_args = dict(args, installed_version=None, target_version=None, gather_databases=True)
        facts = self._site_facts(info_args, profile)
        log_name = profile["folder"]["install_log"]
        names = {name.lower() for name in (k2host.list_names(self, args["path"]) or [])}
        log_path = k2host.join(self, args["path"], log_name)
        data = k2host.fetch_bytes(self, log_path) if args["read_log"] and log_name.lower() in names else b""
        log = install_verdict.new_log_text(data, args["log_offset"])
        databases = [{key: d.get(key) for key in ("code", "database", "role", "version")} for d in facts.get("databases", [])]
        return {
            "target": args["target_version"],
            "from_version": args["from_version"],
            "exit_code": args["exit_code"],
            "output": args["output"],
            "timed_out": args["timed_out"],
            "log": install_verdict.parse_log(log["text"], profile["folder"]["install_log_patterns"]),
            "log_file": log_path if data else None,
            "log_replaced": log["replaced"],
            "folder_version": facts.get("version"),
            "runnable": facts.get("kind") == "runnable",
            "databases": databases,
            "initialization": self._initialization(args, facts, profile),
        }

    def _initialization(self, args, facts, profile):
        """{mandant code: version initialization of the target ran} for every production mandant."""
        params = db_params(args)
        params["db_platform"] = args.get("db_platform") or facts["platform"]
        if not params["login_host"] and facts.get("server"):
            host, _sep, port = facts["server"].partition(",")
            params["login_host"] = host
            params["login_port"] = params["login_port"] or (int(port) if port.isdigit() else None)
        done = {}
        for state in facts.get("databases", []):
            if state["role"] != "production" or not state.get("database"):
                continue
            try:
                database = k2db.connect(params, state["database"])
            except k2db.DatabaseError:
                done[state["code"]] = False
                continue
            try:
                rows = database.query(k2_state.version_initialized_sql(params["db_platform"], state["database"], profile))
            except k2db.DatabaseError:
                rows = []
            finally:
                database.close()
            done[state["code"]] = k2_state.version_initialized(rows, state.get("missing_initializations") or [], args["target_version"], profile)
        return done
