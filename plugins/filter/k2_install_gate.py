# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's gates around the install, for the reinstall role (``module_utils.install_gates``)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.erpops.upgrade.plugins.module_utils import install_gates

DOCUMENTATION = r"""
name: k2_install_gate
short_description: Decide one of the runbook's gates around the K2 install
version_added: 0.2.0
author:
  - erpops.upgrade contributors (@erpops)
description:
  - C(structure) - the input is a k2_schema_check result; findings in CONF and production mandants block, DEMO/INIT are reported.
  - C(test_reinstall) - the input is the recorded test reinstall (or none); arguments target version, upgrade kind, waived (K2-18).
  - C(extensions) - the input is the list of outdated extensions; argument must_be_current (K2-14).
positional: gate
options:
  _input:
    description: What the gate judges (see the description).
    type: raw
    required: true
  gate:
    description: C(structure), C(test_reinstall) or C(extensions).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Stop on a structure the repair did not fix (DEMO/INIT only reported)
  ansible.builtin.fail:
    msg: "{{ gate.blocking | join('; ') }}"
  vars:
    gate: "{{ k2_reinstall_structure | erpops.upgrade.k2_install_gate('structure') }}"
  when: not gate.go
"""

RETURN = r"""
_value:
  description: C(go) and the gate's reasons, warnings and notes.
  type: dict
"""


def k2_install_gate(value, gate, *args):
    if gate == "structure":
        return install_gates.structure_gate(value or {})
    if gate == "test_reinstall":
        target, kind, waived = args
        # an AWX survey answers "false" as text: bool("false") would waive the gate
        return install_gates.test_reinstall_gate(value or None, target, kind, boolean(waived or False, strict=True))
    if gate == "extensions":
        return install_gates.extensions_gate(list(value or []), boolean(args[0] or False, strict=True) if args else False)
    raise AnsibleFilterError("k2_install_gate: unknown gate %r (structure, test_reinstall, extensions)" % gate)


def k2_test_of(link, explicit="", folder=""):
    return install_gates.test_of(explicit or None, link if isinstance(link, dict) else None, folder or "")


class FilterModule:
    def filters(self):
        return {"k2_install_gate": k2_install_gate, "k2_test_of": k2_test_of}
