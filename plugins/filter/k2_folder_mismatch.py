# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters about the K2 folder in the backup (``module_utils.folder_backup``)."""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils import folder_backup

DOCUMENTATION = r"""
name: k2_folder_mismatch
short_description: Warn when restored databases are at another version than the K2 folder
version_added: 0.2.0
author:
  - erpops.upgrade contributors (@erpops)
description:
  - Used by C(k2_restore.yml) after a restore of databases alone (runbook K2-12, K2-16).
positional: folder_version
options:
  _input:
    description: The restored manifest entries (k2_backup state=restored, result C(restored)).
    type: list
    required: true
  folder_version:
    description: The version the K2 folder holds.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Warn
  ansible.builtin.debug:
    msg: "{{ k2_restore.restored | erpops.upgrade.k2_folder_mismatch('ori.09') }}"
"""

RETURN = r"""
_value:
  description: The warning, or an empty string when the folder and the databases agree.
  type: str
"""


def k2_folder_mismatch(restored, folder_version):
    """The warning text, or an empty string when folder and databases agree."""
    return folder_backup.version_mismatch(restored or [], folder_version) or ""


class FilterModule:
    def filters(self):
        return {"k2_folder_mismatch": k2_folder_mismatch}
