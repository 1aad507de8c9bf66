# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's gates around the install (runbook K2-08, K2-14, K2-18, K2-20), as plain decisions.

* ``structure_gate``: findings in CONF and the production mandants stop the reinstall; findings in
  DEMO and INIT do not (the installer's data import recreates those databases), they are reported;
* ``test_reinstall_gate``: a production generation change needs a successful test reinstall of the
  same target first (K2-18) unless the user waives it, and the report then says so; a release change
  is advised to have one (a warning);
* ``extensions_gate``: outdated extensions after the update are reported; they keep the site closed
  only when the user asks for that (K2-14, K2-20).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version

SYSTEM_ROLES = ("system",)


def structure_gate(check: Mapping[str, Any]) -> Dict[str, Any]:
    """{"go", "blocking": [database: n], "reported": [...], "errors": [...]} from a k2_schema_check result."""
    blocking: List[str] = []
    reported: List[str] = []
    for database in check.get("databases") or []:
        count = int(database.get("findings") or 0)
        label = "%s (%s): %d finding(s)" % (database.get("database"), database.get("code"), count)
        if database.get("error"):
            label = "%s (%s): not checked: %s" % (database.get("database"), database.get("code"), database["error"])
        if not count and not database.get("error"):
            continue
        (reported if database.get("role") in SYSTEM_ROLES else blocking).append(label)
    return {"go": not blocking, "blocking": blocking, "reported": reported,
            "note": ("DEMO/INIT findings do not stop the reinstall; the installer's data import recreates those databases: %s"
                     % "; ".join(reported)) if reported else None}


def test_reinstall_record(target: str, run_id: str, folder: str, finished: str) -> Dict[str, Any]:
    """What the test reinstall leaves for the production run (K2-18)."""
    return {"target_version": target, "run_id": run_id, "folder": folder, "finished": finished, "status": "done"}


def test_reinstall_gate(record: Optional[Mapping[str, Any]], target: str, upgrade_kind: Optional[str], waived: bool) -> Dict[str, Any]:
    """{"go", "reason", "warning"}: K2-18 for a production reinstall to ``target``."""
    tested = bool(record) and record.get("status") == "done" and _same(record.get("target_version"), target)
    tested_text = ("a test reinstall to %s finished %s (%s)" % (record.get("target_version"), record.get("finished"), record.get("folder"))
                   if tested else None)
    if upgrade_kind == "generation":
        if tested:
            return {"go": True, "reason": None, "warning": None, "tested": tested_text}
        if waived:
            return {"go": True, "reason": None, "tested": None,
                    "warning": "WAIVED: generation change to %s without a successful test reinstall of the same target (K2-18); "
                               "the runbook requires one" % target}
        return {"go": False, "tested": None, "warning": None,
                "reason": "a generation change needs a successful test reinstall of %s first (K2-18): run k2_test_environment.yml and "
                          "the test reinstall on the copy, or waive it explicitly (k2_reinstall_waive_test_reinstall=true)" % target}
    if upgrade_kind == "release" and not tested:
        return {"go": True, "reason": None, "tested": None,
                "warning": "a release change is advised to have a test reinstall first (K2-18); none of %s is recorded" % target}
    return {"go": True, "reason": None, "warning": None, "tested": tested_text}


def extensions_gate(outdated: Sequence[str], must_be_current: bool) -> Dict[str, Any]:
    if not outdated:
        return {"go": True, "reason": None, "warning": None}
    text = "extensions still outdated after the update (K2-14): %s" % ", ".join(outdated)
    if must_be_current:
        return {"go": False, "reason": text + " (k2_reinstall_extensions_must_be_current=true)", "warning": None}
    return {"go": True, "reason": None, "warning": text + "; deal with them after the reinstall (K2 EXTENSIONS=UPDATE RSOFF=1)"}


def _same(one: Optional[str], other: str) -> bool:
    try:
        return bool(one) and k2_version.same_version(one, other)
    except k2_version.VersionError:
        return False
