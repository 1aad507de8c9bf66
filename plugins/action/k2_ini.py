# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for ``erpops.upgrade.k2_ini``: set keys of k2.ini / sysk2.ini on the K2 host.

The file is fetched over the task's connection, edited on the controller by the pure core
``module_utils.k2_ini_edit`` (every other byte kept) and swapped in atomically next to the
original (``plugin_utils.remote_file``, shared with ``k2_webconfig_maintenance``).
"""

from __future__ import annotations

import shutil
import tempfile

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_ini_edit import ARGUMENT_SPEC, IniEditError, set_values
from ansible_collections.erpops.upgrade.plugins.plugin_utils.remote_file import RemoteFile


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

    def _run(self, args, values, local_dir):
        path = args["path"]
        remote = RemoteFile(self, path, local_dir, backup=args["backup"], what="ini file")
        content = remote.fetch()
        try:
            edit = set_values(content, values, missing=args["missing"], encoding=args["encoding"])
        except (IniEditError, LookupError) as exc:
            raise AnsibleActionFail("%s: %s; the file was left untouched" % (path, exc)) from None
        result = dict(changed=edit.changed, path=path, changes=edit.changes, previous=edit.previous, encoding=edit.encoding)
        if self._task.diff and edit.changed:
            result["diff"] = dict(before_header=path, after_header=path, before=edit.before, after=edit.after)
        if not edit.changed or self._task.check_mode:
            return result
        backup = remote.replace(edit.content)
        if backup:
            result["backup_file"] = backup
        return result
