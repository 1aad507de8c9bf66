# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's gates around the install (runbook K2-08, K2-14, K2-18, K2-20), as plain decisions.

* ``structure_gate``: findings in CONF and the production mandants stop the reinstall; findings in
  DEMO and INIT do not (the installer's data import recreates those databases), they are reported;
* ``test_reinstall_gate``: a production generation change needs a successful test reinstall of the
  same target first (K2-18) unless the user waives it, and the report then says so; a release change
  is advised to have one (a warning);
* ``test_of``: whether a run is itself the test reinstall of a production folder (named by the user, or by the
  link ``k2_test_environment`` leaves beside the copy's folder), whose success is then recorded beside the
  production folder for the gate above;
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


def test_environment_link(production_folder: str, copy_folder: str, site: str, production_conf: str, copy_conf: str) -> Dict[str, Any]:
    """What k2_test_environment leaves beside the copy's folder: which production site the copy is a test environment of."""
    return {"test_of": production_folder, "folder": copy_folder, "site": site,
            "production_conf_database": production_conf, "conf_database": copy_conf}


def test_of(explicit: Optional[str], link: Optional[Mapping[str, Any]], folder: str) -> Dict[str, Any]:
    """{"test_of", "source", "note"}: the production folder this run is the test reinstall of (K2-18), or None.

    ``explicit`` (k2_reinstall_test_of) wins; else the link k2_test_environment left beside ``folder``, when it names
    this folder (a link beside a folder it does not name is ignored, and the run is judged as a production run).
    """
    if explicit:
        return {"test_of": explicit, "source": "k2_reinstall_test_of", "note": None}
    if not link or not link.get("test_of"):
        return {"test_of": None, "source": None, "note": None}
    if not same_folder(link.get("folder") or "", folder):
        return {"test_of": None, "source": None,
                "note": "the test environment link beside %s names another folder (%s); ignored" % (folder, link.get("folder"))}
    return {"test_of": link["test_of"], "source": "test environment link",
            "note": "a test environment of %s (%s): its success is recorded for the production run (K2-18)" % (
                link.get("site") or link["test_of"], link["test_of"])}


def same_folder(one: str, other: str) -> bool:
    """The same folder, ignoring trailing separators; Windows paths (a drive or a backslash) also ignoring case."""
    def key(path: str) -> str:
        windows = "\\" in path or (len(path) > 1 and path[1] == ":")
        path = path.rstrip("/\\")
        return path.replace("/", "\\").lower() if windows else path
    return bool(one) and key(one) == key(other)


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
