# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for ``erpops.upgrade.k2_ini``: set keys of k2.ini / sysk2.ini on the K2 host.

The file is fetched over the task's connection, edited on the controller by the pure core
``module_utils.k2_ini_edit`` (every other byte kept) and swapped in atomically next to the
original, with the same per-shell commands as ``k2_webconfig_maintenance``.
"""

from __future__ import annotations

import ntpath
import os
import posixpath
import shutil
import tempfile
import uuid

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.action.k2_webconfig_maintenance import backup_path, remote_commands, temp_path
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_ini_edit import ARGUMENT_SPEC, IniEditError, set_values


class ActionModule(ActionBase):
    """Fetch the ini file, set the keys, put it back atomically."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        local_dir = None
        try:
            _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
            values = self._values(args["values"])
            local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
            result.update(self._run(args, values, local_dir))
        except AnsibleActionFail as exc:
            result.update(exc.result)
        finally:
            if local_dir:
                shutil.rmtree(local_dir, ignore_errors=True)
        return result

    @staticmethod
    def _values(values):
        if not all(isinstance(keys, dict) for keys in values.values()):
            raise AnsibleActionFail("values must map each section to a mapping of keys and values, e.g. {DATABASE: {DATABASE: K2_CONF_TEST}}")
        return {str(section): {str(key): "" if value is None else to_text(value) for key, value in keys.items()} for section, keys in values.items()}

    def _execute(self, command, what):
        try:
            res = self._low_level_execute_command(command, sudoable=True)
        except AnsibleError as exc:
            raise AnsibleActionFail("%s failed: %s" % (what, to_text(exc))) from None
        if res["rc"] != 0:
            raise AnsibleActionFail("%s failed (rc=%s): %s" % (what, res["rc"], (res.get("stderr") or res.get("stdout") or "").strip()))
        return res

    def _run(self, args, values, local_dir):
        family = self._connection._shell.SHELL_FAMILY
        path = args["path"]
        paths = ntpath if family == "powershell" else posixpath
        if not paths.isabs(path) or (family == "powershell" and not ntpath.splitdrive(path)[0]):
            raise AnsibleActionFail("path must be absolute on the K2 host, got %r" % path)
        backup = backup_path(path, family, os.getpid()) if args["backup"] else None
        temp = temp_path(path, family, uuid.uuid4().hex[:12])
        commands = remote_commands(family, path, temp, backup)
        kind = self._execute(commands["stat"], "checking %s" % path)["stdout"].strip().splitlines()
        if (kind[-1] if kind else "") != "file":
            raise AnsibleActionFail("%s does not exist or is not a file" % path)
        original = os.path.join(local_dir, "ini.orig")
        try:
            self._connection.fetch_file(path, original)
        except AnsibleError as exc:
            raise AnsibleActionFail("cannot fetch %s: %s" % (path, to_text(exc))) from None
        with open(original, "rb") as handle:
            content = handle.read()
        try:
            edit = set_values(content, values, missing=args["missing"], encoding=args["encoding"])
        except (IniEditError, LookupError) as exc:
            raise AnsibleActionFail("%s: %s; the file was left untouched" % (path, exc)) from None
        result = dict(changed=edit.changed, path=path, changes=edit.changes, previous=edit.previous, encoding=edit.encoding)
        if self._task.diff and edit.changed:
            result["diff"] = dict(before_header=path, after_header=path, before=edit.before, after=edit.after)
        if not edit.changed or self._task.check_mode:
            return result
        updated = os.path.join(local_dir, "ini.new")
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
