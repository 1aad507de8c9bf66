# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for ``erpops.upgrade.k2_webconfig_maintenance`` (runbook K2-03).

The web.config lives on the K2 host (Windows, reached over WinRM or PSRP; the lab uses the
``local`` connection with sh). A Python module cannot run there, so the work happens here, on
the controller: fetch the file over the task's connection, compute the new bytes with the pure
core ``module_utils.webconfig``, then put it back next to the original and swap it in with one
atomic replace. Only the few shell command lines differ per platform (:func:`remote_commands`).
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import re
import shlex
import shutil
import tempfile
import time
import uuid
from typing import Dict, Optional

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils.webconfig import (
    ARGUMENT_SPEC,
    WebConfigError,
    set_maintenance,
)


def quote_pwsh(value: str) -> str:
    """A PowerShell single-quoted literal; PowerShell also reads the typographic quotes as single quotes."""
    return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", value) + "'"


def backup_path(path: str, shell_family: str, pid: int, now: Optional[float] = None) -> str:
    """Backup name next to ``path``, as the file modules of each platform name it.

    sh: ``web.config.<pid>.<YYYY-MM-DD@HH:MM:SS~>`` (ansible.builtin ``backup_local``).
    PowerShell: ``web.config.<pid>.<YYYYMMDD-HHMMSS>.bak`` (ansible.windows), because ``:``
    is not allowed in a Windows file name.
    """
    stamp = time.localtime(time.time() if now is None else now)
    if shell_family == "powershell":
        return "%s.%d.%s.bak" % (path, pid, time.strftime("%Y%m%d-%H%M%S", stamp))
    return "%s.%d.%s" % (path, pid, time.strftime("%Y-%m-%d@%H:%M:%S~", stamp))


def temp_path(path: str, shell_family: str, token: str) -> str:
    """A temporary name in the directory of ``path``, so that the final rename stays on one volume."""
    paths = ntpath if shell_family == "powershell" else posixpath
    directory, name = paths.split(path)
    return paths.join(directory, ".%s.%s.tmp" % (name, token))


def remote_commands(shell_family: str, path: str, temp: str, backup: Optional[str] = None) -> Dict[str, str]:
    """The command lines run on the K2 host, by shell family.

    ``stat`` prints ``file``, ``other`` or ``absent``. ``prepare`` readies the temporary file
    (sh: a copy keeping mode and owner, which ``put_file`` then overwrites). ``commit`` keeps the
    backup and swaps the temporary file in atomically. ``cleanup`` removes the temporary file.
    On Windows ``File.Replace`` (ReplaceFile) is used rather than ``Move-Item -Force``, which
    deletes the target before moving; ReplaceFile swaps in one step and keeps the target's ACL.
    """
    if shell_family == "powershell":
        p, t = quote_pwsh(path), quote_pwsh(temp)
        keep = quote_pwsh(backup) if backup else "[NullString]::Value"
        return {
            "stat": "if (Test-Path -LiteralPath %s -PathType Leaf) { 'file' } elseif (Test-Path -LiteralPath %s) { 'other' } else { 'absent' }"
                    % (p, p),
            "prepare": "",
            "commit": "$ErrorActionPreference = 'Stop'; [System.IO.File]::Replace(%s, %s, %s)" % (t, p, keep),
            "cleanup": "Remove-Item -LiteralPath %s -Force -ErrorAction SilentlyContinue" % t,
        }
    p, t = shlex.quote(path), shlex.quote(temp)
    copy_backup = "cp -p %s %s && " % (p, shlex.quote(backup)) if backup else ""
    return {
        "stat": "if [ -f %s ]; then echo file; elif [ -e %s ]; then echo other; else echo absent; fi" % (p, p),
        "prepare": "cp -p %s %s" % (p, t),
        "commit": "%smv -f %s %s" % (copy_backup, t, p),
        "cleanup": "rm -f %s" % t,
    }


class ActionModule(ActionBase):
    """Fetch web.config, flip the maintenance rule, put it back atomically."""

    # No remote temporary directory: the temporary file goes next to web.config (one volume, atomic swap).
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        local_dir = None
        try:
            args = self._validated_args()
            local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
            result.update(self._run(args, local_dir))
        except AnsibleActionFail as exc:
            result.update(exc.result)
        finally:
            if local_dir:
                shutil.rmtree(local_dir, ignore_errors=True)
        return result

    def _validated_args(self):
        spec = dict(ARGUMENT_SPEC)
        # 'path' names a file on the K2 host: the controller must not expand ~ or $VARS in it.
        spec["path"] = dict(spec["path"], type="str")
        _validation, args = self.validate_argument_spec(argument_spec=spec)
        return args

    def _execute(self, command: str, what: str):
        try:
            res = self._low_level_execute_command(command, sudoable=True)
        except AnsibleError as exc:
            # "from None" throughout: the message already carries the cause, which ansible-core 2.19 would append again.
            raise AnsibleActionFail("%s failed: %s" % (what, to_text(exc))) from None
        if res["rc"] != 0:
            raise AnsibleActionFail("%s failed (rc=%s): %s" % (what, res["rc"], (res.get("stderr") or res.get("stdout") or "").strip()))
        return res

    def _run(self, args, local_dir):
        family = self._connection._shell.SHELL_FAMILY
        path = args["path"]
        if family != "powershell":
            path = self._remote_expand_user(path)
        paths = ntpath if family == "powershell" else posixpath
        if not paths.isabs(path) or (family == "powershell" and not ntpath.splitdrive(path)[0]):
            raise AnsibleActionFail("path must be absolute on the K2 host, got %r" % path)

        backup = backup_path(path, family, os.getpid()) if args["backup"] else None
        temp = temp_path(path, family, uuid.uuid4().hex[:12])
        commands = remote_commands(family, path, temp, backup)
        kind = self._execute(commands["stat"], "checking %s" % path)["stdout"].strip().splitlines()
        kind = kind[-1] if kind else ""
        if kind != "file":
            raise AnsibleActionFail("web.config not found: %s %s" % (path, "is not a regular file" if kind == "other" else "does not exist"))

        original = os.path.join(local_dir, "web.config.orig")
        try:
            self._connection.fetch_file(path, original)
        except AnsibleError as exc:
            raise AnsibleActionFail("cannot fetch %s: %s" % (path, to_text(exc))) from None
        with open(original, "rb") as handle:
            content = handle.read()

        try:
            edit = set_maintenance(content, enabled=args["state"] == "enabled", rule_name=args["rule_name"], create_rule=args["create_rule"])
        except WebConfigError as exc:
            raise AnsibleActionFail("%s: %s; the file was left untouched" % (path, exc)) from None

        result = dict(
            changed=edit.changed,
            path=path,
            state=edit.state,
            previous_state=edit.previous_state,
            rule_created=edit.rule_created,
            line=edit.line,
            encoding=edit.encoding,
        )
        if self._task.diff and edit.changed:
            result["diff"] = dict(before_header=path, after_header=path, before=edit.before, after=edit.after)
        if not edit.changed or self._task.check_mode:
            return result

        updated = os.path.join(local_dir, "web.config.new")
        with open(updated, "wb") as handle:
            handle.write(edit.content)
        try:
            if commands["prepare"]:
                self._execute(commands["prepare"], "preparing %s" % temp)
            try:
                self._connection.put_file(updated, temp)
            except AnsibleError as exc:
                raise AnsibleActionFail("cannot put %s: %s" % (temp, to_text(exc))) from None
            self._execute(commands["commit"], "replacing %s" % path)
        except AnsibleActionFail as exc:
            self._low_level_execute_command(commands["cleanup"], sudoable=True)
            raise AnsibleActionFail("%s; %s was left as it was" % (exc.message, path)) from None
        if backup:
            result["backup_file"] = backup
        return result
