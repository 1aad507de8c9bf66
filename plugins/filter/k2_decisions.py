# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the preflight's decisions; the decisions are ``module_utils.run_state``."""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils import run_state


def k2_preflight_decision(k2, target_version=None):
    return run_state.preflight_decision(k2 or {}, target_version or None)


def k2_gate_decision(result, k2, preparation_required=True, waive_initializations=False, verified_backups=0, manifest_name=""):
    return run_state.gate_decision(result, k2, bool(preparation_required), bool(waive_initializations), int(verified_backups), manifest_name)


class FilterModule:
    def filters(self):
        return {"k2_preflight_decision": k2_preflight_decision, "k2_gate_decision": k2_gate_decision}
