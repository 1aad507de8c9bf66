# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit one file on the K2 host from an action plugin: fetch it, then swap new bytes in atomically.

Used by ``k2_webconfig_maintenance`` and ``k2_ini``. The bytes are edited on the controller by a
pure core; the file goes back to a temporary name next to the original (same volume) through
the connection's ``put_file`` and replaces it in one step, keeping a backup when asked. The
command lines per shell are built by the pure functions below, so tests can check their quoting.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import shlex
import time
import uuid
from typing import Dict, Optional

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import ps_quote


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
    backup and swaps the temporary file in atomically; ``create`` moves it to a path where no file is yet
    (owner-only on sh). ``cleanup`` removes the temporary file.
    On Windows ``File.Replace`` (ReplaceFile) is used rather than ``Move-Item -Force``, which
    deletes the target before moving; ReplaceFile swaps in one step and keeps the target's ACL.
    """
    if shell_family == "powershell":
        p, t = ps_quote(path), ps_quote(temp)
        keep = ps_quote(backup) if backup else "[NullString]::Value"
        return {
            "stat": "if (Test-Path -LiteralPath %s -PathType Leaf) { 'file' } elseif (Test-Path -LiteralPath %s) { 'other' } else { 'absent' }"
                    % (p, p),
            "prepare": "",
            "commit": "$ErrorActionPreference = 'Stop'; [System.IO.File]::Replace(%s, %s, %s)" % (t, p, keep),
            "create": "$ErrorActionPreference = 'Stop'; Move-Item -LiteralPath %s -Destination %s" % (t, p),
            "cleanup": "Remove-Item -LiteralPath %s -Force -ErrorAction SilentlyContinue" % t,
        }
    p, t = shlex.quote(path), shlex.quote(temp)
    copy_backup = "cp -p %s %s && " % (p, shlex.quote(backup)) if backup else ""
    return {
        "stat": "if [ -f %s ]; then echo file; elif [ -e %s ]; then echo other; else echo absent; fi" % (p, p),
        "prepare": "cp -p %s %s" % (p, t),
        "commit": "%smv -f %s %s" % (copy_backup, t, p),
        "create": "chmod 600 %s && mv -f %s %s" % (t, t, p),
        "cleanup": "rm -f %s" % t,
    }


class RemoteFile:
    """One file on the K2 host, reached through an action plugin's connection."""

    def __init__(self, action, path: str, local_dir: str, backup: bool = False, what: str = "the file") -> None:
        family = action._connection._shell.SHELL_FAMILY
        paths = ntpath if family == "powershell" else posixpath
        if not paths.isabs(path) or (family == "powershell" and not ntpath.splitdrive(path)[0]):
            raise AnsibleActionFail("path must be absolute on the K2 host, got %r" % path)
        self._action = action
        self.path = path
        self.what = what
        self._local_dir = local_dir
        self.backup = backup_path(path, family, os.getpid()) if backup else None
        self._temp = temp_path(path, family, uuid.uuid4().hex[:12])
        self._commands = remote_commands(family, path, self._temp, self.backup)

    def _execute(self, command: str, doing: str):
        try:
            res = self._action._low_level_execute_command(command, sudoable=True)
        except AnsibleError as exc:
            # "from None" throughout: the message already carries the cause, which ansible-core 2.19 would append again.
            raise AnsibleActionFail("%s failed: %s" % (doing, to_text(exc))) from None
        if res["rc"] != 0:
            raise AnsibleActionFail("%s failed (rc=%s): %s" % (doing, res["rc"], (res.get("stderr") or res.get("stdout") or "").strip()))
        return res

    def fetch(self, missing_ok: bool = False) -> Optional[bytes]:
        """The file's bytes; fails clearly when it is missing (None with ``missing_ok``) or not a regular file."""
        kind = self._execute(self._commands["stat"], "checking %s" % self.path)["stdout"].strip().splitlines()
        kind = kind[-1] if kind else ""
        self.exists = kind == "file"
        if kind == "absent" and missing_ok:
            return None
        if kind != "file":
            raise AnsibleActionFail("%s not found: %s %s" % (self.what, self.path, "is not a regular file" if kind == "other" else "does not exist"))
        original = os.path.join(self._local_dir, "original")
        try:
            self._action._connection.fetch_file(self.path, original)
        except AnsibleError as exc:
            raise AnsibleActionFail("cannot fetch %s: %s" % (self.path, to_text(exc))) from None
        with open(original, "rb") as handle:
            return handle.read()

    def replace(self, content: bytes) -> Optional[str]:
        """Swap ``content`` in atomically; returns the backup's path, if one was kept."""
        updated = os.path.join(self._local_dir, "updated")
        with open(updated, "wb") as handle:
            handle.write(content)
        create = getattr(self, "exists", True) is False
        try:
            if self._commands["prepare"] and not create:
                self._execute(self._commands["prepare"], "preparing %s" % self._temp)
            try:
                self._action._connection.put_file(updated, self._temp)
            except AnsibleError as exc:
                raise AnsibleActionFail("cannot put %s: %s" % (self._temp, to_text(exc))) from None
            self._execute(self._commands["create" if create else "commit"], "replacing %s" % self.path)
        except AnsibleActionFail as exc:
            self._action._low_level_execute_command(self._commands["cleanup"], sudoable=True)
            raise AnsibleActionFail("%s; %s was left as it was" % (exc.message, self.path)) from None
        return self.backup
