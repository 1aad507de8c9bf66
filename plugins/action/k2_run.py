# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_run: the site's run state (a JSON file on the K2 host beside the K2 folder) and its lock (a lease row in CONF).

The state file is read and written over the task's connection (``plugin_utils.remote_file``:
atomic replace); the lock is taken from the controller on the CONF database
(``module_utils.run_lock``); every decision is ``module_utils.run_state``.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import tempfile
import time
import uuid

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import run_lock, run_state
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked
from ansible_collections.erpops.upgrade.plugins.plugin_utils.remote_file import RemoteFile

ARGUMENT_SPEC = dict(
    state=dict(type="str", required=True, choices=["begin", "decide", "step", "renew", "finish", "read", "lock", "unlock", "restored"]),
    site=dict(type="str"),
    path=dict(type="str"),
    state_path=dict(type="str"),
    conf_database=dict(type="str", required=True),
    target_version=dict(type="str"),
    lock=run_lock.LEASE_OPTION,
    lease_seconds=dict(type="int", default=run_lock.DEFAULT_LEASE_SECONDS),
    force=dict(type="bool", default=False),
    wait=dict(type="int", default=0),
    preflight=dict(type="dict"),
    method=dict(type="str", default="files"),
    installer_record=dict(type="raw", default="auto"),
    takeover=dict(type="bool", default=False),
    outage_mode=dict(type="str", choices=list(run_state.OUTAGE_MODES), default=run_state.DEFAULT_OUTAGE_MODE),
    test_of=dict(type="str"),
    step=dict(type="str", choices=list(run_state.STEP_NAMES)),
    result=dict(type="str", choices=["started", "ok", "failed", "skipped"], default="ok"),
    start_next=dict(type="bool", default=False),
    msg=dict(type="str"),
    data=dict(type="dict"),
    manifest=dict(type="path"),
    status=dict(type="str", choices=["done", "failed", "no-go"]),
    failed_step=dict(type="str"),
    convert_result=dict(type="dict"),
    install_verdict=dict(type="dict"),
    restore_command=dict(type="str"),
    run_id=dict(type="str"),
    restored=dict(type="list", elements="dict"),
    not_restored=dict(type="list", elements="str", default=[]),
    folder=dict(type="bool", default=False),
    folder_restored=dict(type="bool", default=False),
    inventory=dict(type="str"),
    release=dict(type="bool", default=True),
    copy_dir=dict(type="path"),
    **DB_ARGUMENT_SPEC
)


def controller_identity(environ=None):
    """Who runs this job: host, user and the AWX job id (``JOB_ID`` / ``AWX_JOB_ID``) where known."""
    environ = os.environ if environ is None else environ
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = environ.get("USER") or str(os.getuid())
    return {"host": socket.getfqdn(), "user": user, "awx_job_id": environ.get("AWX_JOB_ID") or environ.get("JOB_ID") or None}


class ActionModule(ActionBase):
    """begin (lock, plan) / decide / step / renew / finish (unlock) / read / restored."""

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        self._vars = task_vars or {}
        local_dir = tempfile.mkdtemp(prefix="erpops-run-", dir=C.DEFAULT_LOCAL_TMP)
        validation = None
        try:
            validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
            self._args = args
            self._local_dir = local_dir
            handlers = {"begin": self._begin, "decide": self._decide, "step": self._step, "renew": self._renew_state,
                        "finish": self._finish, "read": self._read, "lock": self._lock, "unlock": self._unlock, "restored": self._restored}
            result.update(handlers[args["state"]](args))
        except (AnsibleActionFail, run_state.RunStateError, run_lock.LockError, k2db.DatabaseError, ValueError) as exc:
            result.update(failed=True, changed=False, msg=to_text(exc))
            holder = getattr(exc, "holder", None)
            if holder:
                result["holder"] = {k: (run_state.utc_text(run_state._aware(v)) if hasattr(v, "isoformat") else v)  # pylint: disable=protected-access
                                    for k, v in holder.items() if k != "token"}
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        return masked(result, validation)

    # -- the pieces ------------------------------------------------------------
    def _site(self, args):
        return args["site"] or self._vars.get("inventory_hostname")

    def _path(self, args):
        if args["state_path"]:
            return args["state_path"]
        if not args["path"]:
            raise AnsibleActionFail("give path (the K2 folder) or state_path")
        return run_state.state_path_for(args["path"], self._connection._shell.SHELL_FAMILY == "powershell")

    def _remote(self, args):
        os.makedirs(os.path.join(self._local_dir, "f"), exist_ok=True)
        return RemoteFile(self, self._path(args), os.path.join(self._local_dir, "f"), what="run state")

    @staticmethod
    def _dry_path(token):
        """Check mode: the state a dry run would have written, kept on the controller for the run's later tasks."""
        return os.path.join(C.DEFAULT_LOCAL_TMP, "k2_run-dry-%s.json" % token) if token else None

    def _load(self, args):
        remote = self._remote(args)
        dry = self._dry_path((args["lock"] or {}).get("token")) if self._task.check_mode else None
        if dry and os.path.exists(dry):
            with open(dry, encoding="utf-8") as handle:
                return remote, run_state.load_state(handle.read(), self._site(args))
        content = remote.fetch(missing_ok=True)
        return remote, run_state.load_state(None if content is None else content.decode("utf-8"), self._site(args))

    def _save(self, args, remote, state, token=None):
        text = run_state.dump_state(state)
        if self._task.check_mode:
            dry = self._dry_path(token or (args["lock"] or {}).get("token"))
            if dry:
                with open(dry, "w", encoding="utf-8") as handle:
                    handle.write(text)
            return
        remote.replace(text.encode("utf-8"))
        if args["copy_dir"] and state.get("run_id"):
            os.makedirs(args["copy_dir"], mode=0o700, exist_ok=True)
            name = "%s-%s.json" % (self._site(args), state["run_id"])
            handle, temp = tempfile.mkstemp(prefix=".state-", dir=args["copy_dir"])
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temp, os.path.join(args["copy_dir"], name))

    def _connect(self, args):
        params = db_params(args)
        return lambda: k2db.connect(params, args["conf_database"])

    def _token(self, args):
        if not args["lock"]:
            raise AnsibleActionFail("state=%s needs lock (the lock that state=begin returned)" % args["state"])
        return args["lock"]["token"]

    def _renew(self, args):
        """Extend this job's lease; fails when another job took the lock over."""
        if self._task.check_mode:
            return
        run_lock.renew(self._connect(args), args["db_platform"], args["conf_database"], self._token(args), args["lease_seconds"])

    def _result(self, state, changed, **extra):
        result = {"changed": changed, "state": run_state.play_view(state), "summary": run_state.summary(state), "run_id": state.get("run_id"),
                  "next_step": run_state.next_step(state) if state.get("run_id") else None,
                  "pending": run_state.pending_steps(state) if state.get("run_id") else list(run_state.STEP_NAMES)}
        result.update(extra)
        return result

    # -- the states --------------------------------------------------------------
    def _begin(self, args):
        """Lock the site (or refuse naming the holder), then plan: new run, resume, nothing to do, refuse."""
        if not args["target_version"]:
            raise AnsibleActionFail("state=begin needs target_version")
        site = self._site(args)
        remote, saved = self._load(args)
        plan = run_state.plan_run(saved, args["target_version"])
        if plan["action"] == "refuse" and saved.get("status") == run_state.PARTLY_RESTORED:
            # Before the lock: CONF may be back with the lock row of backup time, whose holder is long gone.
            raise AnsibleActionFail(plan["why"])
        controller = controller_identity()
        token = uuid.uuid4().hex
        now = run_state.utc_now()
        run_id = saved["run_id"] if plan["action"] in ("resume", "done", "refuse") else run_state.new_run_id(site, args["target_version"], now)
        if self._task.check_mode:
            taken = self._peek(args)
        else:
            taken = self._acquire(args, run_id, token, controller)
            # Read again under the lock: another job may have moved the state on since the first read.
            remote, saved = self._load(args)
            again = run_state.plan_run(saved, args["target_version"])
            if again["action"] != plan["action"] or (again["action"] != "new" and saved["run_id"] != run_id):
                plan = again
                if plan["action"] != "new":
                    run_id = saved["run_id"]
                    taken = self._acquire(args, run_id, token, controller)
        lock = {"token": token, "run_id": run_id, "site_key": args["conf_database"], "seconds": args["lease_seconds"]}
        if plan["action"] in ("done", "refuse"):
            if not self._task.check_mode:
                run_lock.release(self._connect(args), args["db_platform"], args["conf_database"], token)
            if plan["action"] == "refuse":
                raise AnsibleActionFail(plan["why"])
            if taken.get("how") in ("expired", "forced"):
                previous = taken.get("previous") or {}
                saved = run_state.add_event(saved, "lock_" + taken["how"], now, msg="lock taken over from " + run_state.holder_text(previous),
                                            previous_run_id=previous.get("run_id"), controller=controller)
                self._save(args, remote, saved, token)
            return self._result(saved, False, plan=plan, lock=None)
        if plan["action"] == "new":
            state = run_state.start_run(saved, site, run_id, args["target_version"], controller, now, plan["why"])
        else:
            state = run_state.add_event(saved, "resume", now, msg=plan["why"], controller=controller)
            state["status"] = run_state.RUNNING
            state["controller"] = controller
        if taken.get("how") in ("expired", "forced"):
            previous = taken.get("previous") or {}
            state = run_state.add_event(state, "lock_" + taken["how"], now, msg="lock taken over from " + run_state.holder_text(previous),
                                        previous_run_id=previous.get("run_id"), controller=controller)
        state["lock"] = {key: value for key, value in (taken.get("lock") or {}).items() if key != "token"}
        self._save(args, remote, state, token)
        return self._result(state, False, plan=plan, lock=lock, taken=taken.get("how"))

    def _peek(self, args):
        """Check mode: the lock is read, not taken (nothing is created); a live lease of another job refuses."""
        db = self._connect(args)()
        try:
            try:
                holder = run_lock.read(db, args["db_platform"], args["conf_database"])
            except k2db.DatabaseError:
                return {"how": "free"}  # no lock table yet: no run ever took the lock
        finally:
            db.close()
        if holder:
            lease = run_state.parse_time(holder.get("lease_until"))
            if lease and lease > run_state.utc_now() and not args["force"]:
                raise run_lock.LockError("the site is locked by " + run_state.holder_text(holder), holder)
        return {"how": "free", "lock": holder}

    def _acquire(self, args, run_id, token, controller):
        deadline = time.monotonic() + max(0, args["wait"])
        while True:
            try:
                return run_lock.acquire(self._connect(args), args["db_platform"], args["conf_database"], run_id, token, controller,
                                        args["lease_seconds"], force=args["force"])
            except run_lock.LockError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))

    def _decide(self, args):
        """Record the preflight and the run's decisions (mode, takeover reasons, go/no-go)."""
        if args["preflight"] is None:
            raise AnsibleActionFail("state=decide needs preflight (k2_preflight_result)")
        self._renew(args)
        remote, state = self._load(args)
        self._check_run(args, state)
        decisions = run_state.run_decisions(args["preflight"], args["method"], args["installer_record"], args["takeover"],
                                            args["outage_mode"], test_of=args["test_of"])
        state = dict(state, decisions=decisions, from_version=args["preflight"].get("version"), preflight=args["preflight"])
        self._save(args, remote, state)
        return self._result(state, False, decisions=decisions)

    def _check_run(self, args, state):
        expected = (args["lock"] or {}).get("run_id") or args["run_id"]
        if expected and state.get("run_id") != expected:
            raise AnsibleActionFail("the site's state belongs to run %s, not to this run %s" % (state.get("run_id"), expected))

    def _step(self, args):
        if not args["step"]:
            raise AnsibleActionFail("state=step needs step")
        self._renew(args)
        remote, state = self._load(args)
        self._check_run(args, state)
        extra = dict(args["data"] or {})
        if args["manifest"]:
            extra["backups"] = run_state.merge_backups(state.get("backups") or [], self._manifest_entries(args["manifest"]))
        state = run_state.record_step(state, args["step"], args["result"], run_state.utc_now(), msg=args["msg"], extra=extra,
                                      start_next=args["start_next"])
        self._save(args, remote, state)
        last = state["steps"][-1]
        started_next = last["name"] if last.get("prestarted") else None
        result = self._result(state, False, started_next=started_next)
        if args["manifest"] and (args["result"] in ("started", "skipped") or started_next):
            # A step begins: its database modules read the manifest, which holds the state's backups and guards from now on.
            result["manifest"] = self._write_manifest(args["manifest"], state)
        return result

    @staticmethod
    def _manifest_entries(path):
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data.get("entries") or []

    @staticmethod
    def _write_manifest(path, state):
        """A k2_backup manifest of the state's backup entries and guards, written atomically on the controller."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".manifest-", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(run_state.json_lines(run_state.manifest_from_state(state)))
        os.replace(temp, path)
        return path

    def _renew_state(self, args):
        self._renew(args)
        return {"changed": False}

    def _finish(self, args):
        if not args["status"]:
            raise AnsibleActionFail("state=finish needs status")
        if args["lock"]:
            # A job that lost the lock (taken over with force) must not write over the new holder's state.
            self._renew(args)
        remote, state = self._load(args)
        self._check_run(args, state)
        now = run_state.utc_now()
        if args["manifest"]:
            state["backups"] = run_state.merge_backups(state.get("backups") or [], self._manifest_entries(args["manifest"]))
        found = None
        failed_step = None
        if args["status"] == "failed":
            # Not given: the step the state has open (its start was recorded before its work began).
            failed_step = args["failed_step"] or run_state.open_step(state)
            # A step's own result only: the conversions' for a failure in the conversions, the install's in the install.
            convert_result = args["convert_result"] if failed_step == "conversions" else None
            install_verdict = args["install_verdict"] if failed_step == "install" else None
            found = run_state.advice(state, failed_step, convert_result, args["restore_command"], install_verdict)
            if failed_step in run_state.STEP_NAMES:
                state = run_state.record_step(state, failed_step, "failed", now, msg=args["msg"])
        state = run_state.finish(state, args["status"], now, found)
        state.pop("lock", None)
        self._save(args, remote, state)
        released = False
        if args["lock"] and args["release"] and not self._task.check_mode:
            released = run_lock.release(self._connect(args), args["db_platform"], args["conf_database"], self._token(args))
        return self._result(state, False, advice=found, released=released, failed_step=failed_step)

    def _read(self, args):
        """The state as it is; with manifest, a k2_backup manifest of the state's entries is written there."""
        _remote, state = self._load(args)
        result = self._result(state, False)
        if args["manifest"]:
            result["manifest"] = self._write_manifest(args["manifest"], state)
        if args["run_id"] is not None or state.get("backups"):
            try:
                result["restore_run_id"] = run_state.restore_run_id(state, args["run_id"] or None)
            except run_state.RunStateError as exc:
                if args["run_id"]:
                    raise
                result["restore_run_id"] = None
                result["restore_problem"] = str(exc)
        return result

    def _lock(self, args):
        """Only the lock (a restore is a run too): the token for renew, restored and unlock."""
        run_id = args["run_id"] or "restore-%s" % uuid.uuid4().hex[:8]
        token = uuid.uuid4().hex
        if self._task.check_mode:
            taken = self._peek(args)
        else:
            taken = self._acquire(args, run_id, token, controller_identity())
        lock = {"token": token, "run_id": run_id, "site_key": args["conf_database"], "seconds": args["lease_seconds"]}
        return {"changed": False, "lock": lock, "taken": taken.get("how"),
                "previous": {k: v for k, v in (taken.get("previous") or {}).items() if k != "token"} or None}

    def _unlock(self, args):
        released = False
        if not self._task.check_mode:
            released = run_lock.release(self._connect(args), args["db_platform"], args["conf_database"], self._token(args))
        return {"changed": False, "released": released}

    def _restored(self, args):
        """Record a restore: status restored, so that the next reinstall starts afresh; or partly-restored (see _partly)."""
        if not args["run_id"]:
            raise AnsibleActionFail("state=restored needs run_id (the run whose backups were restored)")
        remote, state = self._load(args)
        restored = args["restored"] or []
        token = self._token(args)
        if args["not_restored"] or (args["folder"] and not args["folder_restored"]):
            return self._partly(args, remote, state, restored, token)
        if not self._task.check_mode:
            # CONF came back as it was at the backup: its lock row names the run that took the backup. This job takes it back.
            run_lock.acquire(self._connect(args), args["db_platform"], args["conf_database"], args["lock"].get("run_id") or "restore",
                             token, controller_identity(), args["lease_seconds"], force=True)
        state = run_state.record_restore(state, args["run_id"], [entry.get("database") for entry in restored], run_state.utc_now(),
                                         (args["lock"] or {}).get("run_id") or "restore", controller_identity(), restored,
                                         folder_restored=True if args["folder"] else None)
        state.pop("lock", None)
        self._save(args, remote, state)
        released = False
        if args["release"] and not self._task.check_mode:
            released = run_lock.release(self._connect(args), args["db_platform"], args["conf_database"], token)
        return self._result(state, not self._task.check_mode, released=released)

    def _partly(self, args, remote, state, restored, token):
        """A restore that stopped part-way (the server lost, most likely): recorded even when the server is still gone.

        The lock is freed if the server answers; the command to finish says to force the lock when it may not be free.
        """
        names = [entry.get("database") for entry in restored]
        released, problem = False, None
        if not self._task.check_mode:
            try:
                released = run_lock.release(self._connect(args), args["db_platform"], args["conf_database"], token)
            except (k2db.DatabaseError, run_lock.LockError) as exc:
                problem = to_text(exc)
        command = run_state.finish_restore_command(self._site(args), args["inventory"], args["run_id"], args["not_restored"],
                                                   args["folder"], force_lock=not released or args["conf_database"] in names)
        now = run_state.utc_now()
        state = run_state.record_restore(state, args["run_id"], names, now, (args["lock"] or {}).get("run_id") or "restore",
                                         controller_identity(), restored, not_restored=args["not_restored"],
                                         folder_restored=args["folder_restored"] if args["folder"] else None,
                                         next_command=command, error=args["msg"])
        if problem:
            state = run_state.add_event(state, "lock_not_freed", now, msg="the restore's lock could not be freed: " + problem)
        state.pop("lock", None)
        self._save(args, remote, state)
        return self._result(state, not self._task.check_mode, released=released, next_command=command, msg=state["advice"])
