# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_reinstall_mode in the controller's process when it would run there anyway (plugin_utils.database_module)."""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.modules import k2_reinstall_mode
from ansible_collections.erpops.upgrade.plugins.plugin_utils.database_module import DatabaseModuleAction


class ActionModule(DatabaseModuleAction):
    MODULE = k2_reinstall_mode
