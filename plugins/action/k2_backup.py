# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_backup: the module once per database, with a progress line before and after each one.

A module cannot print while it runs, and a backup or restore of a real database takes hours.
So the plugin first runs the module with ``preflight_only`` (the databases, the reuse of fresh
backups with their files checked again, the space; for a restore the connected users and every
file of the set), then once per database, and prints between the calls through Display, which
reaches a terminal and AWX's job output alike. Check mode runs the module once, as it is.
"""

from __future__ import annotations

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as core

display = Display()
MODULE = "erpops.upgrade.k2_backup"


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
    def _one(args, database):
        single = dict(args, databases=[database], preflight_only=False)
        single.pop("max_age", None)
        single.pop("exclude", None)
        return single

    def _backup(self, args, task_vars):
        plan = self._module(dict(args, preflight_only=True), task_vars)
        if plan.get("failed"):
            return plan
        backups = [b for b in plan["backups"] if b.get("reused")]
        for item in backups:
            self._say("%s: reusing the backup of %s (%s, %s), its file checked again" % (
                item["database"], item["taken_at"], _size(item.get("size")), item.get("verification") or "verified"))
        todo = [b for b in plan["backups"] if not b.get("reused")]
        result = {k: v for k, v in plan.items() if k not in ("backups", "invocation")}
        notes = list(plan.get("notes", []))
        for number, item in enumerate(todo, start=1):
            self._say("%s: backup %d/%d started (database %s)" % (item["database"], number, len(todo), _size(item.get("size"))))
            started = time.monotonic()
            done = self._module(self._one(args, item["database"]), task_vars)
            seconds = time.monotonic() - started
            notes += done.get("notes", [])
            if done.get("failed"):
                self._say("%s: backup FAILED after %.1f s" % (item["database"], seconds))
                left = [b["database"] for b in todo[number - 1:]]
                result.update(failed=True, changed=bool(backups) and any(not b.get("reused") for b in backups), backups=backups,
                              not_backed_up=left, msg="%s. Backed up: %s. Not backed up: %s." % (
                                  done.get("msg"), ", ".join(b["database"] for b in backups) or "none", ", ".join(left)))
                break
            taken = done["backups"][0]
            backups.append(taken)
            self._say("%s: backup done in %.1f s, file %s, verified (%s)" % (
                item["database"], seconds, _size(taken.get("size")), taken.get("verification")))
        else:
            result.update(changed=bool(todo), backups=backups)
        if notes:
            result["notes"] = notes
        return result

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
