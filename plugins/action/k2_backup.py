# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_backup: the module once per database, with a progress line before and after each one.

A module cannot print while it runs, and a backup or restore of a real database takes hours.
So the plugin first runs the module with ``preflight_only`` (the databases, the reuse of fresh
backups with their files checked again, the space; for a restore the connected users and every
file of the set). Backups: then once for every database to back up, ``parallel`` at a time
inside the module, in a background thread, showing the lines the module appends to its progress
file (``progress_lines``) as they come. Restores: once per database, in order, a line between
the calls. Lines go through Display, which reaches a terminal and AWX's job output alike. Check
mode runs the module once, as it is.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from ansible import constants as C
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as core
from ansible_collections.erpops.upgrade.plugins.module_utils.progress_lines import ProgressReader

display = Display()
MODULE = "erpops.upgrade.k2_backup"
PROGRESS_POLL_SECONDS = 0.5


def _size(value):
    return core.human_bytes(int(value)) if value is not None else "size unknown"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _host = ""

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        self._host = (task_vars or {}).get("inventory_hostname", "")
        try:
            if self._task.check_mode or args.get("preflight_only"):
                result.update(self._module(args, task_vars))
            elif args.get("state", "present") == "restored":
                result.update(self._restore(args, task_vars))
            else:
                result.update(self._backup(args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _module(self, args, task_vars):
        return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)

    def _say(self, text):
        display.display("k2_backup [%s] %s" % (self._host, text))

    @staticmethod
    def _some(args, databases):
        """The module's arguments for exactly ``databases``, none reused, none excluded: the plan has decided."""
        some = dict(args, databases=list(databases), preflight_only=False)
        some.pop("max_age", None)
        some.pop("exclude", None)
        return some

    def _one(self, args, database):
        return self._some(args, [database])

    def _backup(self, args, task_vars):
        plan = self._module(dict(args, preflight_only=True), task_vars)
        if plan.get("failed"):
            return plan
        for item in plan["backups"]:
            if item.get("reused"):
                self._say("%s: reusing the backup of %s (%s, %s), its file checked again" % (
                    item["database"], item["taken_at"], _size(item.get("size")), item.get("verification") or "verified"))
        todo = [b for b in plan["backups"] if not b.get("reused")]
        if not todo:
            return {k: v for k, v in plan.items() if k != "invocation"}
        self._say("%d backup(s) to take, %d at a time%s: %s" % (
            len(todo), min(int(args.get("parallel") or core.DEFAULT_PARALLEL), len(todo)), self._limit_text(args),
            ", ".join("%s (%s)" % (b["database"], _size(b.get("size"))) for b in todo)))
        started = time.monotonic()
        done = self._with_progress(self._some(args, [b["database"] for b in todo]), task_vars)
        done.pop("invocation", None)
        taken = [b for b in done.get("backups", []) if not b.get("reused")]
        self._say("%d backup(s) done in %.1f s%s" % (len(taken), time.monotonic() - started,
                                                     "; FAILED: %s" % ", ".join(done["not_backed_up"]) if done.get("not_backed_up") else ""))
        reused = [b for b in plan["backups"] if b.get("reused")]
        result = {k: v for k, v in plan.items() if k not in ("backups", "invocation")}
        result.update({k: v for k, v in done.items() if k in ("failed", "msg", "not_backed_up", "exception")})
        result["backups"] = reused + taken
        result["changed"] = bool(taken) or bool(done.get("changed"))
        notes = list(plan.get("notes", [])) + list(done.get("notes", []))
        if notes:
            result["notes"] = notes
        return result

    @staticmethod
    def _limit_text(args):
        limit = (args.get("server_slots") or {}).get("limit")
        return ", at most %s at once on the database server" % limit if limit else ""

    def _with_progress(self, args, task_vars):
        """Run the module in a background thread and show the lines it appends to its progress file meanwhile.

        The file is on the controller: it is read only when the module runs there too (``delegate_to: localhost``,
        an execution environment); elsewhere only the lines before and after the call show.
        """
        local = self._connection.transport in ("local", "ansible.builtin.local")
        handle, path = tempfile.mkstemp(prefix="erpops-backup-progress-", dir=C.DEFAULT_LOCAL_TMP)
        os.close(handle)
        outcome = {}

        def work():
            try:
                outcome["result"] = self._module(dict(args, progress_file=path if local else None), task_vars)
            except Exception as exc:  # pylint: disable=broad-except  # the thread hands every failure back to the task
                outcome["error"] = exc

        reader = ProgressReader(path)
        worker = threading.Thread(target=work, name="erpops-k2-backup", daemon=True)
        try:
            worker.start()
            while worker.is_alive():
                worker.join(PROGRESS_POLL_SECONDS)
                for line in reader.read():
                    self._say(line)
            for line in reader.read():
                self._say(line)
        finally:
            os.unlink(path)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _restore(self, args, task_vars):
        plan = self._module(dict(args, preflight_only=True), task_vars)
        if plan.get("failed"):
            return plan
        chosen = plan["restored"]
        self._say("every file of the restore set checked (%d): %s" % (len(chosen), ", ".join(e["database"] for e in chosen)))
        restored, notes = [], list(plan.get("notes", []))
        for number, entry in enumerate(chosen, start=1):
            self._say("%s: restore %d/%d started from %s (%s, taken %s)" % (
                entry["database"], number, len(chosen), entry["file"], _size(entry.get("size")), entry["taken_at"]))
            started = time.monotonic()
            done = self._module(dict(self._one(args, entry["database"]), run_id=entry.get("run_id")), task_vars)
            seconds = time.monotonic() - started
            notes += done.get("notes", [])
            for note in done.get("notes", []):
                self._say("%s: %s" % (entry["database"], note))
            if done.get("failed"):
                self._say("%s: restore FAILED after %.1f s" % (entry["database"], seconds))
                left = [e["database"] for e in chosen[number - 1:]]
                done_names = [e["database"] for e in restored]
                return {"failed": True, "changed": bool(restored), "manifest": args["manifest"], "restored": restored,
                        "not_restored": left, "notes": notes, "stopped_at": entry["database"], "error": done.get("msg", ""),
                        "msg": core.partial_restore_message(entry["database"], done.get("msg", ""), done_names, left,
                                                            args.get("run_id") or entry.get("run_id"), self._host)}
            restored.append(entry)
            self._say("%s: restored in %.1f s" % (entry["database"], seconds))
        return {"changed": bool(restored), "manifest": args["manifest"], "restored": restored, "not_restored": [], "notes": notes}
