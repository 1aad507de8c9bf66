# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_release_unpack: judge every member on the controller, then unpack beside the K2 folder and swap it in,
over the task's connection (``module_utils.release_archive``)."""

from __future__ import annotations

import json
import os
import shlex
import tempfile

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import release_archive
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host

ARGUMENT_SPEC = dict(
    src=dict(type="path", required=True),
    dest=dict(type="str", required=True),
    sha256=dict(type="str"),
    staged=dict(type="str"),
    protected=dict(type="list", elements="str", default=list(release_archive.DEFAULT_PROTECTED)),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        self._task_vars = task_vars or {}
        try:
            result.update(self._unpack(args, task_vars or {}))
        except (release_archive.UnsafeArchive, AnsibleError, OSError) as exc:
            result.update(failed=True, changed=False, msg=str(exc))
        return result

    def _unpack(self, args, task_vars):
        if not os.path.isfile(args["src"]):
            raise AnsibleError("the release archive %s does not exist on the controller" % args["src"])
        digest = release_archive.sha256_file(args["src"])
        release_archive.check_sha256(digest, args["sha256"])
        planned = release_archive.plan(release_archive.read_members(args["src"]), args["protected"])
        if k2host.list_names(self, args["dest"]) is None:
            raise AnsibleError("the K2 folder %s does not exist on the K2 host" % args["dest"])
        windows = k2host.shell_family(self) == "powershell"
        tmp = self._make_tmp_path()
        try:
            remote_archive = k2host.join(self, tmp, "release" + (".zip" if windows else ""))
            remote_plan = k2host.join(self, tmp, "plan.json")
            mode = "diff" if self._task.check_mode else "unpack"
            if mode == "unpack" and args["staged"]:
                self._check_staged(args["staged"], digest, windows)
                remote_archive = args["staged"]
            elif mode == "unpack":
                self._transfer_file(args["src"], remote_archive)
            self._put_text(release_archive.plan_json(planned["files"], remote_archive, args["dest"], mode), remote_plan)
            if windows:
                command = release_archive.powershell_unpack(remote_plan, k2host.ps_quote)
            else:
                python = task_vars.get("ansible_python_interpreter") or "/usr/bin/python3"
                command = "%s -c %s %s" % (shlex.quote(python), shlex.quote(release_archive.UNPACK_PROGRAM), shlex.quote(remote_plan))
            rc, stdout, stderr = k2host.run(self, command)
        finally:
            self._remove_tmp_path(tmp)
        try:
            answer = json.loads(stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AnsibleError("the unpacker on the K2 host gave no answer (exit code %d): %s" % (rc, (stderr or stdout).strip()[-2000:]))
        if answer.get("failed") or rc:
            raise AnsibleError(answer.get("msg") or "unpack failed with exit code %d" % rc)
        changed = list(answer.get("changed") or [])
        result = {"changed": bool(changed), "sha256": digest, "files": len(planned["files"]), "replaced": changed,
                  "skipped": planned["skipped"], "dest": args["dest"]}
        if planned["skipped"]:
            result["warnings"] = ["the release holds the site's configuration, kept as it is: %s" % ", ".join(planned["skipped"])]
        if self._task.diff:
            result["diff"] = {"before_header": args["dest"], "after_header": os.path.basename(args["src"]),
                              "prepared": "".join("~ %s\n" % name for name in changed)}
        return result

    def _check_staged(self, staged, digest, windows):
        """The staged copy on the K2 host must be the archive judged here, byte for byte (SHA-256 read on the host)."""
        stat_args = {"path": staged, "get_checksum": True, "checksum_algorithm": "sha256"}
        if not windows:
            stat_args.update(get_mime=False, get_attributes=False)
        found = self._execute_module(module_name="ansible.windows.win_stat" if windows else "ansible.builtin.stat",
                                     module_args=stat_args, task_vars=self._task_vars)
        info = found.get("stat") or {}
        if found.get("failed") or not info.get("exists"):
            raise AnsibleError("the staged release %s is not on the K2 host%s" % (staged, (": " + found["msg"]) if found.get("msg") else ""))
        if str(info.get("checksum") or "").lower() != digest:
            raise AnsibleError("the staged release %s has SHA-256 %s, not the archive's %s; nothing was written"
                               % (staged, info.get("checksum"), digest))

    def _put_text(self, text, remote):
        handle, local = tempfile.mkstemp(prefix="erpops-unpack-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            self._connection.put_file(local, remote)
        finally:
            os.unlink(local)
