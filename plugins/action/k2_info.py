# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_info: read the K2 folder over the task's connection and the databases from the controller."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, k2_site, k2_state, k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    conf_database=dict(type="str"),
    installed_version=dict(type="str"),
    target_version=dict(type="str"),
    gather_databases=dict(type="bool", default=True),
    k2_profile=dict(type="dict", default={}),
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
        try:
            profile = merge_profile(args["k2_profile"])
            result["k2"] = self._site_facts(args, profile)
        except (ValueError, AnsibleError, k2db.DatabaseError) as exc:
            result.update(failed=True, msg=str(exc))
        return masked(result, validation)

    def _site_facts(self, args, profile):
        path = args["path"]
        names = k2host.list_names(self, path)
        if names is None:
            raise AnsibleError("K2 folder %s does not exist on %s (or is not a folder)" % (path, self._task.delegate_to or "the K2 host"))
        lower = {n.lower() for n in names}
        folder = profile["folder"]
        ini = {}
        for name in (folder["ini_file"], folder["sysini_file"]):
            ini[name] = k2host.fetch_bytes(self, k2host.join(self, path, name)) if name.lower() in lower else None
        facts = k2_site.read_site(names, ini[folder["ini_file"]], ini[folder["sysini_file"]], profile)
        if any(p.startswith("cannot read ini file") for p in facts.problems):
            raise AnsibleError("K2 folder %s: %s" % (path, "; ".join(facts.problems)))
        info = facts.as_dict()
        info["folder"] = path
        info["version"] = args["installed_version"] or self._version_file(path, lower, folder) or facts.version
        info["conf_database"] = args["conf_database"] or facts.conf_database
        if args["target_version"] and info["version"]:
            info["upgrade"] = self._upgrade(info["version"], args["target_version"])
        if args["gather_databases"] and facts.kind != "not_k2":
            info.update(self._databases(args, info, profile))
        return info

    def _version_file(self, path, lower, folder):
        """The version the folder's version file (profile folder.version_file) records, if the folder has one."""
        name = folder.get("version_file") or ""
        if not name or name.lower() not in lower:
            return None
        text = k2host.fetch_bytes(self, k2host.join(self, path, name)).decode("utf-8-sig", errors="replace").strip()
        return text.splitlines()[0].strip() if text else None

    @staticmethod
    def _upgrade(current, target):
        try:
            path = k2_version.upgrade_path(current, target)
            return {"kind": k2_version.upgrade_kind(current, target), "reachable": len(path) == 1,
                    "path": [v.name() for v in path], "reason": None}
        except k2_version.VersionError as exc:
            return {"kind": None, "reachable": False, "path": [], "reason": str(exc)}

    def _databases(self, args, info, profile):
        params = db_params(args)
        params["db_platform"] = args["db_platform"] if args.get("db_platform") else info["platform"]
        if not params["login_host"] and info["server"]:
            host, _sep, port = info["server"].partition(",")
            params["login_host"] = host
            params["login_port"] = params["login_port"] or (int(port) if port.isdigit() else None)
        platform = params["db_platform"]
        conf = k2db.connect(params, info["conf_database"])
        warnings = info["warnings"]
        try:
            mandants = k2_mandants.classify(conf.query(k2_mandants.firmy_sql(platform, info["conf_database"], profile)), profile)
            conf_version = self._db_version(conf, platform, info["conf_database"], profile)
            manager = _optional(warnings, "reinstall manager", lambda: k2_state.reinstall_manager_state(
                conf.query(k2_state.reinstall_manager_sql(platform, info["conf_database"], profile))))
            extensions = _optional(warnings, "extension status", lambda: k2_state.extension_states(
                conf.query(k2_state.extensions_sql(platform, info["conf_database"], profile))))
        finally:
            conf.close()
        databases = [self._database_state("CONF", info["conf_database"], "conf", conf_version, info["version"])]
        for mandant in mandants:
            databases.append(self._mandant_state(params, platform, mandant, info["version"], profile))
        return {
            "reinstall_manager": manager,
            "extensions": extensions,
            "outdated_extensions": [e["name"] for e in extensions or [] if not e["current"]],
            "missing_initializations": {d["code"]: d["missing_initializations"] for d in databases
                                        if d["role"] not in ("conf", "system") and d.get("missing_initializations")},
            "mandants": mandants,
            "production_mandants": [m["code"] for m in mandants if m["role"] == "production"],
            "system_mandants": [m["code"] for m in mandants if m["role"] == "system"],
            "test_mandants": [m["code"] for m in mandants if m["role"] == "test"],
            "databases": databases,
            "databases_match_version": all(d["matches_version"] for d in databases),
        }

    @staticmethod
    def _db_version(database, platform, name, profile):
        rows = database.query(k2_mandants.version_sql(platform, name, profile))
        return str(list(rows[0].values())[0]).strip() if rows else None

    def _mandant_state(self, params, platform, mandant, installed, profile):
        if not mandant["database"]:
            state = self._database_state(mandant["code"], mandant["database"], mandant["role"], None, installed)
            state["error"] = "FIRMY names no database for mandant %s" % mandant["code"]
            return state
        try:
            database = k2db.connect(params, mandant["database"])
        except k2db.DatabaseError as exc:
            state = self._database_state(mandant["code"], mandant["database"], mandant["role"], None, installed)
            state["error"] = str(exc)
            return state
        try:
            version = self._db_version(database, platform, mandant["database"], profile)
            missing = k2_state.function_names(database.query(k2_state.missing_initializations_sql(platform, mandant["database"], profile)))
        except k2db.DatabaseError as exc:
            state = self._database_state(mandant["code"], mandant["database"], mandant["role"], None, installed)
            state["error"] = str(exc)
            return state
        finally:
            database.close()
        state = self._database_state(mandant["code"], mandant["database"], mandant["role"], version, installed)
        state["missing_initializations"] = missing
        return state

    @staticmethod
    def _database_state(code, name, role, version, installed):
        state = {"code": code, "database": name, "role": role, "version": version, "matches_version": False, "convertible": False, "error": None}
        if version and installed:
            try:
                state["matches_version"] = k2_version.same_version(version, installed)
                state["convertible"] = state["matches_version"] or k2_version.directly_reachable(version, installed)
            except k2_version.VersionError as exc:
                state["error"] = str(exc)
        return state


def _optional(warnings, what, read):
    """Read one piece of K2's state; a missing table is a warning, not a failure of the whole report."""
    try:
        return read()
    except k2db.DatabaseError as exc:
        warnings.append("cannot read the %s: %s" % (what, exc))
        return None
