# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_installer_run: run the user's installer command on the K2 host with a timeout (``module_utils.installer_run``)."""

from __future__ import annotations

import shlex

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import installer_run
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host

ARGUMENT_SPEC = dict(
    command=dict(type="str", required=True),
    path=dict(type="str", required=True),
    timeout=dict(type="int", default=7200),
    k2_profile=dict(type="dict", default={}),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if args["timeout"] < 1:
            return dict(result, failed=True, msg="timeout must be at least 1 second")
        log = k2host.join(self, args["path"], merge_profile(args["k2_profile"])["folder"]["install_log"])
        if self._task.check_mode:
            return dict(result, changed=True, skipped_in_check_mode=True, msg="would run the installer: %s" % args["command"])
        if k2host.shell_family(self) == "powershell":
            command = installer_run.powershell_program(args["command"], log, args["timeout"], k2host.ps_quote)
        else:
            python = (task_vars or {}).get("ansible_python_interpreter") or "/usr/bin/python3"
            parts = (python, "-c", installer_run.POSIX_PROGRAM, args["command"], log, str(args["timeout"]))
            command = " ".join(shlex.quote(part) for part in parts)
        rc, stdout, stderr = k2host.run(self, command)
        answer = installer_run.parse_result(stdout)
        if answer is None:
            raise AnsibleError("the installer runner gave no result (exit code %d): %s" % (rc, (stderr or stdout).strip()[-2000:]))
        ended = "stopped after %d s (timeout)" % args["timeout"] if answer["timed_out"] else "exit code %s" % answer["exit_code"]
        result.update(changed=True, exit_code=answer["exit_code"], timed_out=bool(answer["timed_out"]), log_offset=int(answer["log_offset"]),
                      output=answer["output"], msg="installer %s" % ended)
        return result
