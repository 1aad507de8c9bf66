# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for ``erpops.upgrade.k2_webconfig_maintenance`` (runbook K2-03).

The web.config lives on the K2 host (Windows, reached over WinRM or PSRP; the lab uses the
``local`` connection with sh). A Python module cannot run there, so the work happens here, on
the controller: fetch the file over the task's connection, compute the new bytes with the pure
core ``module_utils.webconfig``, then put it back next to the original and swap it in with one
atomic replace (``plugin_utils.remote_file``, shared with ``k2_ini``).
"""

from __future__ import annotations

import shutil
import tempfile

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils.webconfig import (
    ARGUMENT_SPEC,
    WebConfigError,
    set_maintenance,
)
from ansible_collections.erpops.upgrade.plugins.plugin_utils.remote_file import RemoteFile


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

    def _run(self, args, local_dir):
        path = args["path"]
        if self._connection._shell.SHELL_FAMILY != "powershell":
            path = self._remote_expand_user(path)
        remote = RemoteFile(self, path, local_dir, backup=args["backup"], what="web.config")
        content = remote.fetch()

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
        backup = remote.replace(edit.content)
        if backup:
            result["backup_file"] = backup
        return result
