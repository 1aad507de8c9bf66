# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the preflight's decisions; the decisions are ``module_utils.run_state``."""

from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils import run_state

DOCUMENTATION = r"""
name: k2_preflight_decision
short_description: Go or no-go of a K2 site from what k2_info read
version_added: 0.2.0
description:
  - The preflight's decision (K2-01, K2-10, K2-13) from C(k2_info)'s C(k2) result - the filter C(k2_preflight_decision) - and
    the preparation, initialization and backup gates (K2-06, K2-07, K2-05) added to it - the filter C(k2_gate_decision).
options:
  _input:
    description: The C(k2) result of k2_info (k2_preflight_decision), or the decision so far (k2_gate_decision).
    type: dict
    required: true
author:
  - erpops.upgrade contributors (@erpops)
"""


def k2_preflight_decision(k2, target_version=None):
    return run_state.preflight_decision(k2 or {}, target_version or None)


def k2_gate_decision(result, k2, preparation_required=True, waive_initializations=False, verified_backups=0, manifest_name=""):
    return run_state.gate_decision(result, k2, bool(preparation_required), bool(waive_initializations), int(verified_backups), manifest_name)


class FilterModule:
    def filters(self):
        return {"k2_preflight_decision": k2_preflight_decision, "k2_gate_decision": k2_gate_decision}
