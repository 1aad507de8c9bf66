# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_folder_backup: copy the K2 folder on the K2 host (over the task's connection) and record it in the
backup manifest on the controller; restore it on request (``module_utils.folder_backup``)."""

from __future__ import annotations

import json
import os
import shlex
from datetime import datetime, timezone

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as backup_core
from ansible_collections.erpops.upgrade.plugins.module_utils import folder_backup
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    manifest=dict(type="path", required=True),
    state=dict(type="str", choices=["present", "restored"], default="present"),
    run_id=dict(type="str"),
    target_dir=dict(type="str"),
    k2_profile=dict(type="dict", default={}),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        self._python = (task_vars or {}).get("ansible_python_interpreter") or "/usr/bin/python3"
        try:
            manifest = self._load(args["manifest"])
            if args["state"] == "present":
                result.update(self._backup(args, manifest))
            else:
                result.update(self._restore(args, manifest))
        except (AnsibleError, backup_core.BackupError, OSError, ValueError) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        return result

    # -- the K2 host ------------------------------------------------------------------------------
    def _program(self, mode, source, target, expected=""):
        if k2host.shell_family(self) == "powershell":
            command = folder_backup.powershell_program(mode, source, target, expected, k2host.ps_quote)
        else:
            command = " ".join(shlex.quote(part) for part in (self._python, "-c", folder_backup.POSIX_PROGRAM, mode, source, target, expected))
        rc, stdout, stderr = k2host.run(self, command)
        try:
            answer = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AnsibleError("the K2 host gave no answer (exit code %d): %s" % (rc, (stderr or stdout).strip()[-2000:]))
        if answer.get("failed") or rc:
            raise AnsibleError(answer.get("msg") or "exit code %d" % rc)
        return answer

    def _folder_version(self, path, profile):
        name = profile["folder"]["version_file"]
        names = {n.lower() for n in (k2host.list_names(self, path) or [])}
        if name and name.lower() in names:
            text = k2host.fetch_bytes(self, k2host.join(self, path, name)).decode("utf-8-sig", "replace").strip()
            return text.splitlines()[0].strip() if text else None
        return None

    # -- the manifest -----------------------------------------------------------------------------
    @staticmethod
    def _load(path):
        if not os.path.exists(path):
            return backup_core.empty_manifest()
        with open(path, encoding="utf-8") as handle:
            return backup_core.load_manifest(handle.read())

    @staticmethod
    def _save(path, manifest):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(backup_core.dump_manifest(manifest))
        os.replace(path + ".tmp", path)

    # -- states -----------------------------------------------------------------------------------
    def _backup(self, args, manifest):
        path = args["path"]
        if k2host.list_names(self, path) is None:
            raise AnsibleError("the K2 folder %s does not exist on the K2 host" % path)
        if args["run_id"]:
            kept = folder_backup.latest(manifest, path, args["run_id"])
            if kept is not None:
                listing = self._program("listing", kept["file"], kept["file"]) if k2host.list_names(self, kept["file"]) is not None else None
                if listing and listing["checksum"] == kept["checksum"]:
                    return {"changed": False, "backup": kept, "msg": "the folder backup of run %s is kept and intact" % args["run_id"]}
        now = datetime.now(timezone.utc)
        parent, leaf = os.path.split(path.rstrip("/\\")) if "\\" not in path else path.rstrip("\\").rsplit("\\", 1)
        target = k2host.join(self, args["target_dir"] or parent, folder_backup.copy_name(leaf, now, args["run_id"]))
        if self._task.check_mode:
            return {"changed": True, "backup": {"kind": folder_backup.KIND, "folder": path, "file": target}, "msg": "would copy %s to %s" % (path, target)}
        version = self._folder_version(path, merge_profile(args["k2_profile"]))
        answer = self._program("backup", path, target)
        entry = folder_backup.new_entry(path, answer["copy"], version, args["run_id"], now, answer)
        manifest["entries"].append(entry)
        self._save(args["manifest"], manifest)
        return {"changed": True, "backup": entry, "msg": "copied %s (%d files, %d bytes) to %s" % (path, entry["files"], entry["size"], entry["file"])}

    def _restore(self, args, manifest):
        entry = folder_backup.latest(manifest, args["path"], args["run_id"])
        if entry is None:
            raise AnsibleError("the manifest %s holds no folder backup of %s%s; nothing was restored"
                               % (args["manifest"], args["path"], " in run %s" % args["run_id"] if args["run_id"] else ""))
        if k2host.list_names(self, entry["file"]) is None:
            raise AnsibleError("the folder backup %s is gone from the K2 host; nothing was restored" % entry["file"])
        current = self._program("listing", args["path"], args["path"]) if k2host.list_names(self, args["path"]) is not None else None
        if current and current["checksum"] == entry["checksum"]:
            return {"changed": False, "restored": entry, "msg": "the K2 folder already holds its backup of %s" % entry["taken_at"]}
        if self._task.check_mode:
            return {"changed": True, "restored": entry, "msg": "would restore %s from %s" % (args["path"], entry["file"])}
        answer = self._program("restore", entry["file"], args["path"], entry["checksum"])
        return {"changed": True, "restored": entry, "replaced_kept_as": answer.get("replaced_kept_as"),
                "msg": "restored %s from %s (%s); the folder it replaced is kept as %s" % (
                    args["path"], entry["file"], entry["k2_version"] or "version unknown", answer.get("replaced_kept_as"))}
