# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_schema_check: the structure check of all databases (runbook K2-08).

The K2t scripts and the conversion scripts are read over the task's connection (or from a
folder on the controller); the databases are read from the controller, ``parallel`` at a
time, in threads of this process. Decisions live in ``module_utils.schema_check``.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import tempfile
from datetime import datetime, timezone

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, k2_site, schema_check
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import ddl_script_name, merge_profile
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import repair
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.batches import NotTextScript, open_script
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import dumps_snapshot, loads_snapshot
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.progress import Progress
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

ARGUMENT_SPEC = dict(
    path=dict(type="str"),
    scripts_dir=dict(type="path"),
    conf_database=dict(type="str"),
    databases=dict(type="list", elements="str"),
    parallel=dict(type="int", default=8),
    custom_tables=dict(type="list", elements="str", default=[]),
    custom_prefixes=dict(type="list", elements="str", default=[]),
    fulltext=dict(type="bool", default=True),
    snapshot=dict(type="path"),
    snapshot_kind=dict(type="str", choices=list(schema_check.DB_KINDS), default="company"),
    save_snapshots_to=dict(type="path"),
    report=dict(type="path"),
    report_format=dict(type="str", choices=list(schema_check.REPORT_FORMATS)),
    apply=dict(type="bool", default=False),
    repair_kinds=dict(type="list", elements="str", choices=list(repair.SELECTABLE), default=[]),
    k2_version=dict(type="str"),
    baseline=dict(type="dict", default={}),
    k2_profile=dict(type="dict", default={}),
    progress_after=dict(type="float", default=1.0),
    **DB_ARGUMENT_SPEC
)
MUTUALLY_EXCLUSIVE = [("snapshot", "apply"), ("snapshot", "save_snapshots_to"), ("snapshot", "databases"), ("snapshot", "baseline")]
REQUIRED_ONE_OF = [("path", "scripts_dir")]
# Errors that end the check of one database, never of the others.
DATABASE_ERRORS = (k2db.DatabaseError, ValueError, OSError)


def decode_script(data: bytes, name: str) -> str:
    """A script's text in its detected encoding (BOM, else UTF-8, else the Windows code page)."""
    try:
        return open_script(io.BytesIO(data), name).read()
    except NotTextScript:
        raise
    except (UnicodeError, ValueError) as exc:
        raise ValueError("cannot read %s: %s" % (name, exc))


class ScriptSource(object):
    """The site's ``SQL`` folder: on the K2 host over the task's connection, or on the controller (``scripts_dir``)."""

    def __init__(self, action, path, scripts_dir, profile):
        self.action = action
        self.path = path
        self.scripts_dir = scripts_dir
        folder = profile["folder"]
        sql = [p for p in folder["sql_dir"].replace("\\", "/").split("/") if p]
        konverze = [p for p in folder["konverze_dir"].replace("\\", "/").split("/") if p]
        if scripts_dir:  # scripts_dir is the SQL folder itself: the conversions are below it
            below = konverze[len(sql):] if konverze[:len(sql)] == sql else konverze
            self.folders = {"sql": scripts_dir, "konverze": os.path.join(scripts_dir, *below)}
        else:
            self.folders = {"sql": k2host.join(action, path, *sql), "konverze": k2host.join(action, path, *konverze)}
        self._listings = {}

    def where(self, which):
        return self.folders[which] if self.scripts_dir else "%s on the K2 host" % self.folders[which]

    def names(self, which):
        """The file names in the folder, or None when it does not exist."""
        if which not in self._listings:
            folder = self.folders[which]
            if self.scripts_dir:
                self._listings[which] = sorted(os.listdir(folder)) if os.path.isdir(folder) else None
            else:
                self._listings[which] = k2host.list_names(self.action, folder)
        return self._listings[which]

    def read(self, which, name):
        """A script's text; the name is matched without regard to case, as Windows does."""
        present = next((n for n in self.names(which) or () if n.lower() == name.lower()), None)
        if present is None:
            raise ValueError("%s is missing from %s" % (name, self.where(which)))
        if self.scripts_dir:
            with open(os.path.join(self.folders[which], present), "rb") as handle:
                data = handle.read()
        else:
            data = k2host.fetch_bytes(self.action, k2host.join(self.action, self.folders[which], present))
        return decode_script(data, present)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                                                       required_one_of=REQUIRED_ONE_OF)
        result["changed"] = False
        try:
            if args["parallel"] < 1:
                raise ValueError("parallel must be at least 1, got %d" % args["parallel"])
            if args["apply"] and not args["repair_kinds"]:
                raise ValueError("apply: true runs only the repair kinds selected in repair_kinds; select at least one")
            progress = Progress((task_vars or {}).get("inventory_hostname", "?"), "structure check", threshold=args["progress_after"])
            result.update(Run(self, args, merge_profile(args["k2_profile"]), progress).check())
        except (ValueError, AnsibleError, k2db.DatabaseError, OSError) as exc:
            result.update(failed=True, msg=str(exc))
        return masked(result, validation)


class Run(object):
    """One check of one site: the scripts are read once, the databases ``parallel`` at a time."""

    def __init__(self, action, args, profile, progress=None):
        self.action = action
        self.args = args
        self.profile = profile
        self.progress = progress or Progress("localhost", "structure check", threshold=args.get("progress_after", 1.0))
        self.scripts = ScriptSource(action, args["path"], args["scripts_dir"], profile)
        self.expected = {}  # (kind, platform) -> (script name, DdlResult or None, error or None)
        self.konverze = None
        self.params = None
        self.platform = None
        self.k2_version = None

    def check(self):
        args = self.args
        site = self.site() if args["path"] else {}
        self.k2_version = args["k2_version"] or site.get("version")
        if args["snapshot"]:
            checks = self.offline()
            applied, would_run = [], []
        else:
            checks = self.live(site)
            applied, would_run = self.repairs(checks)
        data = schema_check.result(checks)
        check_mode = bool(self.action._task.check_mode)
        data.update(platform=self.platform, k2_version=self.k2_version, site=args["path"] or args["scripts_dir"],
                    checked_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    applied=applied, would_run=would_run, changed=bool(applied) or (check_mode and bool(would_run)))
        if args["report"]:
            data["report"] = self.write_report(data)
        counts = data["counts"]
        verdict = "consistent" if data["consistent"] else "NOT consistent (%d finding(s), %d database(s) with errors)" % (
            counts["total"], counts["errors"])
        data["msg"] = "%d database(s) checked: %s" % (len(checks), verdict)
        return data

    def site(self):
        """k2.ini and sysk2.ini of the K2 folder: CONF database, server and version, for what the task does not say."""
        action, path, folder = self.action, self.args["path"], self.profile["folder"]
        names = k2host.list_names(action, path)
        if names is None:
            raise AnsibleError("K2 folder %s does not exist on %s (or is not a folder)" % (path, action._task.delegate_to or "the K2 host"))
        present = {n.lower(): n for n in names}
        ini = {}
        for name in (folder["ini_file"], folder["sysini_file"]):
            ini[name] = k2host.fetch_bytes(action, k2host.join(action, path, present[name.lower()])) if name.lower() in present else None
        facts = k2_site.read_site(names, ini[folder["ini_file"]], ini[folder["sysini_file"]], self.profile)
        return {"conf_database": facts.conf_database, "server": facts.server, "version": facts.version, "problems": facts.problems}

    def ddl(self, kind):
        """The K2t script of a database kind, read once: (name, DdlResult, None) or (name, None, why it could not be read)."""
        if (kind, self.platform) not in self.expected:
            name = ddl_script_name(self.profile, kind, self.platform)
            try:
                self.expected[(kind, self.platform)] = (name, read_ddl(self.scripts.read("sql", name), self.platform, name), None)
            except (ValueError, OSError, AnsibleError) as exc:
                self.expected[(kind, self.platform)] = (name, None, "K2t script %s: %s" % (name, exc))
        return self.expected[(kind, self.platform)]

    # -- offline: a saved catalog snapshot ----------------------------------------------------------
    def offline(self):
        with open(self.args["snapshot"], "r", encoding="utf-8") as handle:
            actual = loads_snapshot(handle.read())
        self.platform = actual.platform
        kind = self.args["snapshot_kind"]
        name = actual.database or os.path.basename(self.args["snapshot"])
        script, expected, error = self.ddl(kind)
        if error:
            raise ValueError(error)
        check = self.compare(schema_check.Target(name, name, kind, "snapshot"), expected, actual)
        check.script = script
        self.plan([check])
        return [check]

    # -- live databases ---------------------------------------------------------------------------
    def live(self, site):
        args = self.args
        params = db_params(args)
        if not params["login_host"] and site.get("server"):
            host, _sep, port = site["server"].partition(",")
            params["login_host"] = host
            params["login_port"] = params["login_port"] or (int(port) if port.isdigit() else None)
        self.params, self.platform = params, params["db_platform"]
        conf_database = args["conf_database"] or site.get("conf_database")
        if not conf_database:
            raise ValueError("no CONF database: set conf_database%s" % (
                " (%s: %s)" % (args["path"], "; ".join(site["problems"])) if site.get("problems") else ""))
        conf = k2db.connect(params, conf_database)
        try:
            mandants = k2_mandants.classify(conf.query(k2_mandants.firmy_sql(self.platform, conf_database, self.profile)), self.profile)
        finally:
            conf.close()
        chosen = schema_check.targets(conf_database, mandants, args["databases"])
        if args["baseline"]:
            checks = self.recheck(chosen)
        else:
            for kind in sorted(set(t.kind for t in chosen)):
                self.ddl(kind)  # here, not in the threads: the task's connection is not shared
            checks = self.in_parallel(self.check_one, [(target,) for target in chosen])
        self.plan(checks)
        return checks

    def recheck(self, chosen):
        """Against ``baseline`` (database -> catalog fingerprint of an earlier check that found it consistent): a database
        whose catalog is unchanged is consistent without comparing again; the others are compared with the scripts."""
        baseline = self.args["baseline"]
        catalogs = self.in_parallel(self.read_one, [(target, baseline.get(target.database)) for target in chosen])
        again = [t for t, (_actual, fingerprint, _trips, error) in zip(chosen, catalogs)
                 if error is None and fingerprint != baseline.get(t.database)]
        for kind in sorted(set(t.kind for t in again)):
            self.ddl(kind)
        checks = []
        for target, (actual, fingerprint, round_trips, error) in zip(chosen, catalogs):
            if error is not None:
                checks.append(schema_check.DatabaseCheck(target, error=error))
                continue
            if fingerprint == baseline.get(target.database):
                check = schema_check.DatabaseCheck(target, round_trips=round_trips, fingerprint=fingerprint, unchanged=True)
            else:
                script, expected, script_error = self.ddl(target.kind)
                if script_error:
                    checks.append(schema_check.DatabaseCheck(target, script=script, error=script_error))
                    continue
                check = self.compare(target, expected, actual)
                check.script, check.round_trips = script, round_trips
            check.fingerprint = fingerprint
            checks.append(check)
        return checks

    def read_one(self, target, known=None):
        """(catalog, its fingerprint, round trips, None) or (None, None, 0, why it could not be read). The catalog is None
        when its fingerprint is ``known``: an unchanged database is not compared again, so its catalog is not built."""
        with self.progress.step("database %s" % target.database):
            database = None
            try:
                database = k2db.connect(self.params, target.database)
                rows = database.catalog_rows()
                fingerprint = schema_check.catalog_fingerprint(rows)
                return None if fingerprint == known else database.catalog(rows), fingerprint, database.round_trips, None
            except DATABASE_ERRORS as exc:
                return None, None, 0, str(exc)
            finally:
                if database is not None:
                    database.close()

    def in_parallel(self, func, calls):
        """``func(*arguments)`` for every item of ``calls``, ``parallel`` at a time; results in order."""
        if not calls:
            return []
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(self.args["parallel"], len(calls))) as pool:
            futures = [pool.submit(func, *arguments) for arguments in calls]
            return [future.result() for future in futures]

    def check_one(self, target):
        with self.progress.step("database %s" % target.database) as step:
            check = self._check_one(target)
            step.detail = ("error: %s" % check.error) if check.error else "%d finding(s)" % len(check.findings)
            return check

    def _check_one(self, target):
        script, expected, error = self.ddl(target.kind)
        if error:
            return schema_check.DatabaseCheck(target, script=script, error=error)
        database = None
        try:
            database = k2db.connect(self.params, target.database)
            rows = database.catalog_rows()
            actual, fingerprint = database.catalog(rows), schema_check.catalog_fingerprint(rows)
            round_trips = database.round_trips
            saved = self.save_snapshot(target.database, actual) if self.args["save_snapshots_to"] else None
        except DATABASE_ERRORS as exc:
            return schema_check.DatabaseCheck(target, script=script, error=str(exc))
        finally:
            if database is not None:
                database.close()
        check = self.compare(target, expected, actual)
        check.script, check.round_trips, check.snapshot_saved = script, round_trips, saved
        check.fingerprint = fingerprint
        return check

    def compare(self, target, expected, actual):
        return schema_check.compare(target, expected, actual, self.args["custom_tables"], self.args["custom_prefixes"], self.args["fulltext"])

    def save_snapshot(self, database, actual):
        folder = self.args["save_snapshots_to"]
        os.makedirs(folder, exist_ok=True)
        return write_atomically(os.path.join(folder, schema_check.snapshot_file_name(database)), dumps_snapshot(actual))

    def plan(self, checks):
        """Repair plans; the conversion scripts are fetched only when a column finding needs them, and once."""
        tokens = self.profile["scripts"]["konverze_platforms"]
        if self.konverze is None and any(schema_check.needs_konverze(c.findings) for c in checks if c.error is None):
            names = self.scripts.names("konverze") or []
            self.konverze = dict((n, self.scripts.read("konverze", n)) for n in names if schema_check.is_konverze_name(n, self.platform, tokens))
        for check in checks:
            if check.error is None:
                konverze = schema_check.konverze_for(self.konverze or {}, self.platform, check.target.kind, tokens)
                check.plan = schema_check.plan_for(check, self.ddl(check.target.kind)[1], konverze, self.k2_version, self.platform)

    # -- repairs ----------------------------------------------------------------------------------
    def repairs(self, checks):
        """Run the selected repair kinds (check mode: only list them), then check those databases again."""
        if not self.args["apply"]:
            return [], []
        chosen = dict((c.target.database, [s for s in repair.select(c.plan, self.args["repair_kinds"]) if s.runnable])
                      for c in checks if c.error is None)
        if self.action._task.check_mode:
            return [], [s.to_dict() for steps in chosen.values() for s in steps]
        to_fix = [c for c in checks if chosen.get(c.target.database)]
        outcomes = self.in_parallel(self.apply_one, [(c.target, chosen[c.target.database]) for c in to_fix])
        fresh = self.in_parallel(self.check_one, [(c.target,) for c in to_fix])
        applied = []
        for check, (ran, error), again in zip(to_fix, outcomes, fresh):
            applied.extend(s.to_dict() for s in ran)
            check.applied, check.findings_before_apply = ran, len(check.findings)
            check.findings, check.round_trips, check.taken_at = again.findings, again.round_trips, again.taken_at
            check.fingerprint = again.fingerprint
            check.error = error or again.error
        self.plan(to_fix)
        return applied, []

    def apply_one(self, target, steps):
        with self.progress.step("repairs of %s (%d)" % (target.database, len(steps))) as step:
            ran, error = self._apply_one(target, steps)
            step.detail = "%d of %d run%s" % (len(ran), len(steps), "; " + error if error else "")
            return ran, error

    def _apply_one(self, target, steps):
        """Run ``steps`` in order, each in its own transaction where the engine allows; stop at the first failure."""
        ran = []
        database = None
        try:
            database = k2db.connect(self.params, target.database)
            for step in steps:
                try:
                    if self.platform == "oracle" or (self.platform == "mssql" and step.kind == "fulltext"):
                        # Oracle commits DDL by itself; MS SQL refuses full-text DDL inside a user transaction.
                        database.execute(schema_check.executable_sql(step.sql, self.platform))
                    else:
                        with database.transaction():
                            database.execute(schema_check.executable_sql(step.sql, self.platform))
                except k2db.DatabaseError as exc:
                    return ran, "repair %s (%s) failed, the later repairs of this database were not run: %s" % (
                        step.kind, step.source or step.sql.splitlines()[0], exc)
                ran.append(step)
        except DATABASE_ERRORS as exc:
            return ran, str(exc)
        finally:
            if database is not None:
                database.close()
        return ran, None

    def write_report(self, data):
        path = self.args["report"]
        text = schema_check.render(data, schema_check.report_format_for(path, self.args["report_format"]))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return write_atomically(path, text)


def write_atomically(path, text):
    """Write a controller file through a temporary file beside it, so a reader never sees half of it."""
    handle, temp = tempfile.mkstemp(prefix=".erpops-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except OSError:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return path
