# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_convert: conversion scripts from the K2 host, databases from the controller, sql_inst.log back to the K2 host.

The K2 folder is reached over the task's connection (WinRM/PSRP on Windows, ``local``
in the lab): the selected ``SQL/konverze/`` files are fetched once into a private
temporary folder on the controller and streamed from there; errors are appended to
``sql_inst.log`` in the K2 folder with ``put_file``. The work itself is
``module_utils.convert``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from concurrent.futures import ThreadPoolExecutor

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as backup_core
from ansible_collections.erpops.upgrade.plugins.module_utils import convert as convert_core
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, k2_version, run_lock, server_slots
from ansible_collections.erpops.upgrade.plugins.module_utils.conversions import DB_COMPANY, DB_CONF, only_files, select_conversions, within_versions
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import batches as batch_core
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    conf_database=dict(type="str", required=True),
    run_id=dict(type="str", required=True),
    upgrade_kind=dict(type="str", choices=["build", "release", "generation"]),
    current_version=dict(type="str"),
    target_version=dict(type="str"),
    databases=dict(type="list", elements="str"),
    manifest=dict(type="path"),
    force_without_backup=dict(type="bool", default=False),
    strict=dict(type="bool", default=False),
    continue_on_error=dict(type="bool", default=False),
    parallel=dict(type="int", default=convert_core.DEFAULT_PARALLEL),
    server_slots=server_slots.OPTION,
    installer_baseline=dict(type="bool", default=False),
    files=dict(type="list", elements="str"),
    k2_profile=dict(type="dict", default={}),
    lease=run_lock.LEASE_OPTION,
    **DB_ARGUMENT_SPEC
)


display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        local_dir = tempfile.mkdtemp(prefix="erpops-konverze-", dir=C.DEFAULT_LOCAL_TMP)
        try:
            result.update(self._convert(args, local_dir))
        except (ValueError, AnsibleError, k2db.DatabaseError, batch_core.BatchSyntaxError, server_slots.SlotError) as exc:
            result.update(failed=True, changed=result.get("changed", False), msg=to_text(exc))
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        return masked(result, validation)

    # -- inputs -------------------------------------------------------------
    @staticmethod
    def _kind(args):
        if args["upgrade_kind"]:
            return args["upgrade_kind"]
        if args["current_version"] and args["target_version"]:
            return k2_version.upgrade_kind(args["current_version"], args["target_version"])
        raise ValueError("give upgrade_kind, or current_version and target_version to derive it")

    @staticmethod
    def _manifest(path):
        if not path:
            return backup_core.empty_manifest()
        if not os.path.exists(path):
            return backup_core.empty_manifest()
        with open(path, encoding="utf-8") as handle:
            return backup_core.load_manifest(handle.read())

    def _fetch(self, args, profile, platform, kind, local_dir):
        konverze = k2host.join(self, args["path"], *profile["folder"]["konverze_dir"].split("/"))
        names = k2host.list_names(self, konverze)
        if names is None:
            raise AnsibleError("the conversion folder %s does not exist on the K2 host" % konverze)
        selection = select_conversions(names, platform, kind, profile["scripts"]["konverze_platforms"])
        if args["current_version"] and args["target_version"]:
            selection = within_versions(selection, args["current_version"], args["target_version"], profile["scripts"]["konverze_token"])
        if args["files"]:
            selection = only_files(selection, args["files"])
        for item in selection.plan:
            with open(os.path.join(local_dir, item.name), "wb") as handle:
                handle.write(k2host.fetch_bytes(self, k2host.join(self, konverze, item.name)))
        return konverze, selection

    # -- the run ------------------------------------------------------------
    def _convert(self, args, local_dir):
        profile = merge_profile(args["k2_profile"])
        platform = args["db_platform"]
        kind = self._kind(args)
        if args["parallel"] < 1:
            raise ValueError("parallel must be at least 1")
        konverze, selection = self._fetch(args, profile, platform, kind, local_dir)
        params = db_params(args)
        conf = k2db.connect(params, args["conf_database"])
        try:
            rows = conf.query(k2_mandants.firmy_sql(platform, args["conf_database"], profile))
        finally:
            conf.close()
        mandants = k2_mandants.classify(rows, profile)
        targets = convert_core.targets(args["conf_database"], mandants, args["databases"])
        settings = {"run_id": args["run_id"], "strict": args["strict"], "continue_on_error": args["continue_on_error"],
                    "force_without_backup": args["force_without_backup"], "journal_table": profile["journal"]["table"],
                    "k2_version": args["target_version"], "konverze_token": profile["scripts"]["konverze_token"]}
        manifest = self._manifest(args["manifest"])

        def open_file(name):
            return batch_core.open_script(os.path.join(local_dir, name))

        runs = []
        try:
            for target in targets:
                files = selection.for_db(DB_CONF if target["code"] == "CONF" else DB_COMPANY)
                database = k2db.connect(params, target["database"])
                target["version"] = self._db_version(database, platform, target["database"], profile)
                run = convert_core.DatabaseRun(database, platform, target, files, open_file, settings, manifest)
                run.progress = self._progress
                runs.append(run)
            if args["installer_baseline"]:
                refusals = self._baseline(runs, args["target_version"])
                return self._report(args, konverze, kind, selection, runs, refusals)
            # Every database is planned and gated before anything runs: a refusal anywhere changes nothing anywhere.
            refusals = [reason for reason in (run.preflight() for run in runs) if reason]
            if not refusals and not self._task.check_mode:
                slots = self._slots(args, params)
                keeper = run_lock.keeper_for(args["lease"], params, args["conf_database"], k2db.connect)
                if keeper is None:
                    self._execute(runs, args["parallel"], slots)
                else:
                    with keeper:
                        self._execute(runs, args["parallel"], slots)
                self._slot_notes = slots.notes
        finally:
            for run in runs:
                run.db.close()
        return self._report(args, konverze, kind, selection, runs, refusals)

    def _slots(self, args, params):
        """The database server's slots (``server_slots``): each database's conversions hold one while they run."""
        config = server_slots.settings(args["server_slots"], params["db_platform"])
        identity = {"site_key": (args["lease"] or {}).get("site_key") or args["conf_database"], "run_id": args["run_id"],
                    "controller_host": socket.gethostname()}
        return server_slots.Slots(config, params["db_platform"], lambda: k2db.connect(params, config["database"]), identity,
                                  say=self._progress)

    @staticmethod
    def _db_version(database, platform, name, profile):
        """The version the database was last converted to (profile ``db_version``); None when it cannot be read."""
        try:
            rows = database.query(k2_mandants.version_sql(platform, name, profile))
        except k2db.DatabaseError:
            return None
        return str(list(rows[0].values())[0]).strip() if rows and list(rows[0].values())[0] is not None else None

    def _progress(self, text):
        display.display("%s | %s" % (self._task.get_name(), text))

    def _baseline(self, runs, target_version):
        """Record what the installer ran: every planned file of each database it brought to the target version."""
        if not target_version:
            raise ValueError("installer_baseline needs target_version (the version the installer installed)")
        for run in runs:
            if run.target.get("version") and k2_version.same_version(run.target["version"], target_version):
                run.baseline(bool(self._task.check_mode))
            else:
                run.plan()
                for result in run.results:
                    result.status = "not recorded: database at %s" % (run.target.get("version") or "an unknown version")
        return []

    def _execute(self, runs, parallel, slots):
        conf_runs = [run for run in runs if run.target["code"] == "CONF"]
        others = [run for run in runs if run.target["code"] != "CONF"]
        for run in conf_runs:
            convert_core.execute_alone(run, slots)
        if any(run.stopped for run in conf_runs):
            for run in others:
                run.stopped = "%s: not converted because CONF stopped" % run.target["database"]
                run.execute()
            return
        if others:
            self._progress("%d company database(s), %d at a time%s" % (
                len(others), min(parallel, len(others)),
                ", at most %d at once on the database server" % slots.limit if slots.limit else ""))
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(others) or 1))) as pool:
            list(pool.map(lambda run: convert_core.execute_alone(run, slots), others))

    def _append_log(self, args, profile_log, lines):
        """Append ``lines`` to sql_inst.log in the K2 folder (fetch, append, put back)."""
        remote = k2host.join(self, args["path"], profile_log)
        names = {name.lower() for name in (k2host.list_names(self, args["path"]) or [])}
        old = k2host.fetch_bytes(self, remote) if profile_log.lower() in names else b""
        handle, local = tempfile.mkstemp(prefix="erpops-sql-inst-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(old)
                if old and not old.endswith(b"\n"):
                    out.write(b"\r\n")
                out.write(("\r\n".join(lines) + "\r\n").encode("utf-8"))
            self._connection.put_file(local, remote)
        finally:
            os.unlink(local)
        return remote

    def _report(self, args, konverze, kind, selection, runs, refusals):
        profile = merge_profile(args["k2_profile"])
        lines = [line for run in runs for line in run.log]
        result = {
            "changed": any(run.changed for run in runs) or (bool(self._task.check_mode) and not refusals and any(
                result.status in ("would run", "would record") for run in runs for result in run.results)),
            "upgrade_kind": kind,
            "run_id": args["run_id"],
            "folder": konverze,
            "plan": [item.name for item in selection.plan],
            "not_selected": [{"file": name, "reason": reason} for name, reason in selection.not_selected],
            "unknown": [{"file": name, "reason": reason} for name, reason in selection.unknown],
            "databases": [run.as_dict() for run in runs],
            "log_lines": lines,
        }
        warnings = [warning for run in runs for warning in run.warnings] + list(getattr(self, "_slot_notes", []))
        if args["force_without_backup"]:
            warnings.insert(0, "force_without_backup is set: the backup gate of one-time conversions (K2-15) is OFF for this run")
        if warnings:
            result["warnings"] = warnings
        if lines and not self._task.check_mode:
            result["log_file"] = self._append_log(args, profile["folder"]["install_log"], lines)
        stopped = refusals or [run.stopped for run in runs if run.stopped]
        failed_additional = [f["file"] for run in runs for f in run.as_dict()["files"] if f["status"] == convert_core.FAILED]
        if stopped:
            result["failed"] = True
            result["msg"] = ("conversion refused before anything ran: " if refusals else "conversion stopped: ") + "; ".join(stopped)
        elif failed_additional:
            result["failed"] = True
            result["msg"] = "Additional conversions failed and were passed over (continue_on_error): %s; see %s" % (
                json.dumps(failed_additional), result.get("log_file", profile["folder"]["install_log"]))
        return result
