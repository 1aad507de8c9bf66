# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the preflight's decisions and of the window's; the decisions are ``module_utils.run_state`` and
``module_utils.window``."""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils import run_state, window


def k2_preflight_decision(k2, target_version=None):
    return run_state.preflight_decision(k2 or {}, target_version or None)


def k2_gate_decision(result, k2, preparation_required=True, waive_initializations=False, verified_backups=0, manifest_name=""):
    return run_state.gate_decision(result, k2, bool(preparation_required), bool(waive_initializations), int(verified_backups), manifest_name)


def k2_structure_verdict(check, repair_kinds=()):
    return window.structure_verdict(check or {}, list(repair_kinds or ()))


def k2_changed_databases(structure):
    return window.changed_databases(structure or {})


def k2_second_backup(state):
    return window.second_backup(state or {})


class FilterModule:
    def filters(self):
        return {"k2_preflight_decision": k2_preflight_decision, "k2_gate_decision": k2_gate_decision,
                "k2_structure_verdict": k2_structure_verdict, "k2_changed_databases": k2_changed_databases,
                "k2_second_backup": k2_second_backup}
