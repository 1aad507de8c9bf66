# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action plugin's result with its no_log option values masked, as AnsibleModule masks a module's result.

What a module returns passes through AnsibleModule, which replaces every no_log value (the database password)
wherever it stands. What an action plugin returns does not: a driver's error message, an echoed option or a
connection string in a problem could carry the password to the log, the run state or AWX's job output. The
result is searched in its JSON form first (one pass in C) and walked with Ansible's ``remove_values`` only when
a value is in it, because the run state k2_run returns inside the maintenance window is large and seldom holds one.
"""

from __future__ import annotations

import json

from ansible.module_utils.common.parameters import remove_values


def no_log_values(validation):
    """The no_log values the argument spec validation found (the password and any other secret option)."""
    return {value for value in getattr(validation, "_no_log_values", ()) or () if value}  # pylint: disable=protected-access


def masked(result, validation):
    """``result``, with every no_log value of ``validation`` replaced as AnsibleModule replaces it; ``result`` itself if none occurs."""
    values = no_log_values(validation)
    if not values:
        return result
    try:
        text = json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # a key JSON cannot hold: walk it all
        return remove_values(result, values)
    if any(json.dumps(value, ensure_ascii=False)[1:-1] in text for value in values):
        return remove_values(result, values)
    return result
