# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a K2 install afterwards from evidence, never by doing it again (runbook K2-11, K2-12, K2-19, K2-20).

Pure: no I/O. The action plugin ``k2_install_verdict`` gathers the evidence:

* the installer's exit code and the tail of its output, where the collection ran it
  (``None`` when an operator did);
* the lines ``sql_inst.log`` gained since the run began (``new_log_text`` from the
  size noted before the install), read by ``parse_log`` into file, batch, line and
  message with the profile's patterns (a line no pattern reads is still an error);
* the version in the folder and whether a K2 program is there;
* every database's version, and per mandant whether version initialization ran.

``judge`` names the failing step and the next step the runbook gives:

* ``removal`` / ``copy`` (the folder holds no runnable K2 at the target): back to K2-01;
  reinstall by takeover;
* ``conversions`` (sql_inst.log has errors, or databases behind the folder): on a
  generation change one-time conversions may have run, so the databases AND the K2
  folder are restored from the backup before a retry (K2-12); otherwise fix and rerun;
* ``initialization`` (version initialization not done in a production mandant): run it
  (Správce / Inicializace verze, "Povinné") before anyone works in K2;
* ``installer`` (it said it failed while the evidence looks fine): read its output.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version

STEP_LINE = re.compile(r"^FAILED (?P<step>[a-z_0-9]+): (?P<reason>.*)$", re.MULTILINE)


def new_log_text(data: bytes, offset: int) -> Dict[str, Any]:
    """The text ``sql_inst.log`` gained after ``offset`` bytes; the whole file when it shrank (replaced)."""
    replaced = offset > len(data)
    chunk = data if replaced else data[max(offset, 0):]
    for encoding in ("utf-8-sig", "cp1250"):
        try:
            text = chunk.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    return {"text": text, "replaced": replaced, "size": len(data)}


def parse_log(text: str, patterns: Sequence[str]) -> List[Dict[str, Any]]:
    """Every non-empty line as an error: database, file, batch, line, message (None where the line does not say)."""
    compiled = [re.compile(pattern) for pattern in patterns]
    entries = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        entry = {"database": None, "file": None, "batch": None, "line": None, "message": line, "raw": line}
        for pattern in compiled:
            match = pattern.search(line)
            if match:
                found = match.groupdict()
                for key in ("database", "file", "message"):
                    if found.get(key):
                        entry[key] = found[key].strip()
                for key in ("batch", "line"):
                    if found.get(key):
                        entry[key] = int(found[key])
                break
        entries.append(entry)
    return entries


def installer_failure(output: str) -> Optional[Dict[str, str]]:
    """The step an installer's output says failed (lines ``FAILED <step>: <reason>``), if it says so."""
    found = STEP_LINE.findall(output or "")
    return {"step": found[-1][0], "reason": found[-1][1]} if found else None


def judge(evidence: Mapping[str, Any]) -> Dict[str, Any]:
    """The verdict on one install. ``evidence`` keys (see the module doc):

    ``target``, ``from_version``, ``exit_code`` (None: not run by us), ``output``, ``log`` (parse_log entries),
    ``folder_version``, ``runnable``, ``databases`` ([{code, database, role, version}]),
    ``initialization`` ({code: True when version initialization ran}), ``timed_out``.
    """
    target = evidence["target"]
    generation = _generation_change(evidence.get("from_version"), target)
    databases = list(evidence.get("databases") or [])
    behind = [d for d in databases if not _at(d.get("version"), target)]
    production_behind = [d for d in behind if d.get("role") in ("conf", "production")]
    not_initialized = sorted(code for code, done in (evidence.get("initialization") or {}).items() if not done)
    log = list(evidence.get("log") or [])
    said = installer_failure(evidence.get("output") or "")
    folder_ok = bool(evidence.get("runnable")) and _at(evidence.get("folder_version"), target)
    checks = {
        "exit_code": evidence.get("exit_code"),
        "folder_at_target": folder_ok,
        "log_errors": len(log),
        "databases_at_target": not behind,
        "version_initialized": not not_initialized,
    }
    verdict: Dict[str, Any] = {"ok": False, "step": None, "reasons": [], "next": None, "restore_needed": False,
                               "checks": checks, "log": log, "behind": [d.get("code") for d in behind],
                               "not_initialized": not_initialized, "installer_said": said}
    if evidence.get("timed_out"):
        verdict["reasons"].append("the installer did not finish within the timeout and was stopped")
    if not folder_ok:
        step = said["step"] if said and said["step"] in ("removal", "copy", "checks") else "copy"
        verdict["step"] = step
        verdict["reasons"].append("the folder holds %s K2 at %s, not a runnable K2 at %s" % (
            "a runnable" if evidence.get("runnable") else "no runnable", evidence.get("folder_version") or "no known version", target))
        if step == "checks":
            verdict["next"] = "The installer refused before changing anything: %s. Fix that and run the install again." % (
                said["reason"] if said else "see its output")
        else:
            verdict["next"] = ("K2-11: the old installation may be removed; go back to K2-01 (is a runnable K2 there?) and "
                               "install again by takeover (přebrání); the databases were not converted yet.")
        return _reasoned(verdict, said)
    if log or production_behind or (said and said["step"] == "conversions"):
        verdict["step"] = "conversions"
        for entry in log[:10]:
            verdict["reasons"].append("sql_inst.log: %s%s batch %s: %s" % (
                entry["database"] + " " if entry["database"] else "", entry["file"] or "?", entry["batch"] or "?", entry["message"]))
        if production_behind:
            verdict["reasons"].append("databases not at %s: %s" % (target, ", ".join(
                "%s (%s)" % (d.get("code"), d.get("version") or "unknown") for d in production_behind)))
        verdict["restore_needed"] = generation
        verdict["next"] = (
            "One-time conversions may have run (generation change): restore the databases AND the K2 folder from this run's "
            "backup (K2-12, K2-16), fix the cause in the old version (with K2 support), then run the reinstall again."
            if generation else
            "Only repeatable (Additional) conversions ran: fix the cause named above and run the install again.")
        return _reasoned(verdict, said)
    if not_initialized:
        verdict["step"] = "initialization"
        verdict["reasons"].append("version initialization has not run in %s" % ", ".join(not_initialized))
        verdict["next"] = ("Run version initialization (Správce / Inicializace verze, button Povinné) in those mandants; nobody "
                           "may work in K2 before it ran. Then run the reinstall again to finish.")
        return _reasoned(verdict, said)
    if evidence.get("exit_code") not in (None, 0) or evidence.get("timed_out"):
        verdict["step"] = said["step"] if said else "installer"
        verdict["reasons"].append("the installer ended with exit code %s although folder and databases are at %s"
                                  % (evidence.get("exit_code"), target))
        verdict["next"] = "Read the installer's output; when the cause is understood, run the reinstall again to finish."
        return _reasoned(verdict, said)
    if behind:
        verdict["warnings"] = ["system or test databases not at %s: %s" % (target, ", ".join(d.get("code") for d in behind))]
    verdict["ok"] = True
    return verdict


def _reasoned(verdict: Dict[str, Any], said: Optional[Mapping[str, str]]) -> Dict[str, Any]:
    if said and not any(said["reason"] in reason for reason in verdict["reasons"]):
        verdict["reasons"].append("the installer said: %s failed: %s" % (said["step"], said["reason"]))
    return verdict


def _at(version: Optional[str], target: str) -> bool:
    if not version:
        return False
    try:
        return k2_version.same_version(version, target)
    except k2_version.VersionError:
        return False


def _generation_change(current: Optional[str], target: str) -> bool:
    """True unless it is known that no generation changes (an unknown start is treated as the worst case)."""
    try:
        return k2_version.upgrade_kind(current, target) == "generation"
    except (k2_version.VersionError, TypeError):
        return True


def message(verdict: Mapping[str, Any]) -> str:
    if verdict["ok"]:
        return "the install succeeded: folder and databases at the target, version initialized"
    return "install step %s failed: %s -- %s" % (verdict["step"], "; ".join(verdict["reasons"]), verdict["next"])
