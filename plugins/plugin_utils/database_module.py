# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database module's ``run(module)`` in the controller's process, where Ansible would start it on the controller anyway.

The database modules connect from where they run, which is the controller or the execution environment
(``delegate_to: localhost``, the default of the roles). There Ansible would start a Python process for each
of them, which costs more than their SQL does: inside the maintenance window that is time every user waits.
On a local connection without become, the action plugin checks the arguments with the module's own
argument spec and calls the module's ``run`` with what it reads (``params``, ``check_mode``, ``_diff``,
``warn``, ``fail_json``). Anywhere else the module runs as usual. The action plugins of k2_info,
k2_schema_check and k2_run connect from the controller in the same way.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils.db import DatabaseError
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

LOCAL = ("local", "ansible.builtin.local")


class ModuleFailed(Exception):
    """``fail_json`` of a module run in process: the result it failed with."""

    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class InProcessModule:
    """What a database module's ``run`` reads of its AnsibleModule."""

    def __init__(self, params, check_mode, diff):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []

    def warn(self, warning):
        self.warnings.append(warning)

    def fail_json(self, msg, **kwargs):
        raise ModuleFailed(dict(kwargs, msg=msg, failed=True))


class DatabaseModuleAction(ActionBase):
    """The action plugin of a database module; ``MODULE`` is the module (its ``argument_spec()`` and ``run(module)``)."""

    MODULE = None
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        if not self.runs_here():
            result.update(self._execute_module(module_name=self._task.action, module_args=self._task.args, task_vars=task_vars))
            return result
        validation, params = self.validate_argument_spec(argument_spec=self.MODULE.argument_spec())
        module = InProcessModule(params, bool(self._task.check_mode), bool(self._task.diff))
        try:
            outcome = self.MODULE.run(module)
        except ModuleFailed as exc:
            outcome = exc.result
        except (ValueError, DatabaseError) as exc:  # as run_database_module: one line, never the password
            outcome = {"failed": True, "changed": False, "msg": str(exc)}
        if module.warnings:
            outcome["warnings"] = list(outcome.get("warnings") or []) + module.warnings
        result.update(masked(outcome, validation))
        return result

    def runs_here(self):
        """The module would run on the controller: a local connection, without become."""
        connection = self._connection
        name = getattr(connection, "_load_name", None) or connection.transport
        return name in LOCAL and not self._play_context.become
