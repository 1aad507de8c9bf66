# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the reinstall does before the maintenance window, and what the window must repeat.

Pure: no I/O. The run state (``run_state``) and ``k2_schema_check``'s result in, plain data out.

* ``structure_verdict``: the structure check before the login ban (K2-08 "can be run during
  normal operation, before the login ban"). A finding the selected repairs cannot fix would
  stop the run inside the window, so it makes the site no-go before anything changes. The
  databases found consistent give the ``baseline`` of the quick re-check inside the window.
* ``changed_databases``: after the structure step inside the window, the databases that may
  differ from the first backup (taken after the users were logged off): every database a
  repair ran on, and every database whose catalog is not the one the check before the ban
  found consistent. Only these are backed up again (K2-15, "back up those that were affected").
* ``second_backup``: which databases backup_after_check takes (None: all, as before).
* ``backup_guards``: for each database, the backup that guards its one-time conversions: the
  backup after the structure step where there is one, else the first backup of the run when
  the structure step changed nothing in the database. ``k2_convert``'s gate reads them from the
  manifest (``backup.gate_backup``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

#: Repairs that are advice for a person, never run by the collection (``sql.repair``).
ADVICE_KINDS = ("deploy_project", "ask_support", "recreate_database", "review_script")


def _databases(check: Mapping[str, Any]) -> List[Mapping[str, Any]]:
    return [d for d in check.get("databases") or [] if isinstance(d, Mapping)]


def structure_verdict(check: Mapping[str, Any], repair_kinds: Sequence[str]) -> Dict[str, Any]:
    """Go or no-go of the structure check before the ban, the databases to repair inside the window, and the baseline.

    A database is repairable when every step of its repair plan is of a kind in ``repair_kinds`` and has SQL to run,
    and it has a plan at all. A database that could not be checked is no-go too: the window would find it unchecked.
    """
    wanted = set(repair_kinds or ())
    plan: Dict[str, List[Mapping[str, Any]]] = {}
    for step in check.get("repair_plan") or []:
        plan.setdefault(str(step.get("database")), []).append(step)
    reasons, to_repair, baseline = [], [], {}
    for database in _databases(check):
        name = str(database.get("database"))
        if database.get("error"):
            reasons.append("structure check (K2-08): %s could not be checked: %s" % (name, database["error"]))
            continue
        if not database.get("findings"):
            if database.get("fingerprint"):
                baseline[name] = database["fingerprint"]
            continue
        steps = plan.get(name, [])
        blocked = sorted(set(str(s.get("kind")) for s in steps if s.get("kind") not in wanted or not s.get("sql")))
        if not steps or blocked:
            why = ("repairs that do not run here: %s" % ", ".join(blocked)) if blocked else "no repair for them"
            reasons.append("structure check (K2-08): %s has %d finding(s) the reinstall cannot repair (%s); fix them before "
                           "the window (the installer stops on them)" % (name, database["findings"], why))
            continue
        to_repair.append(name)
    return {"go": not reasons, "reasons": reasons, "to_repair": to_repair, "baseline": baseline,
            "checked": len(_databases(check))}


def changed_databases(structure: Mapping[str, Any]) -> List[str]:
    """The databases the structure step inside the window may have changed (see the module doc)."""
    return [str(d.get("database")) for d in _databases(structure) if d.get("applied") or not d.get("unchanged")]


def _step_result(state: Mapping[str, Any], name: str) -> Optional[str]:
    results = [s.get("result") for s in state.get("steps") or [] if s.get("name") == name]
    return results[-1] if results else None


def _run_entries(state: Mapping[str, Any], position: str) -> Dict[str, Mapping[str, Any]]:
    """The newest verified database backup of this run at ``position``, per database."""
    found: Dict[str, Mapping[str, Any]] = {}
    for entry in state.get("backups") or []:
        if entry.get("kind", "database") != "database" or not entry.get("verified"):
            continue
        if entry.get("run_id") != state.get("run_id") or entry.get("position") != position:
            continue
        name = str(entry.get("database"))
        if name not in found or str(entry.get("taken_at")) >= str(found[name].get("taken_at")):
            found[name] = entry
    return found


def structure_changed(state: Mapping[str, Any]) -> Optional[List[str]]:
    """The databases recorded as changed by the structure step; None: unknown, so every database counts as changed."""
    result = _step_result(state, "structure")
    if result == "skipped":
        return []
    recorded = state.get("structure_changed")
    if isinstance(recorded, list):
        return [str(name) for name in recorded]
    return None


def second_backup(state: Mapping[str, Any]) -> Optional[List[str]]:
    """The databases backup_after_check backs up: None for all of them (conservative mode, or nothing recorded)."""
    decisions = state.get("decisions") or {}
    if decisions.get("outage_mode") != "short":
        return None
    changed = structure_changed(state)
    if changed is None:
        return None
    first = _run_entries(state, "before_check")
    return [name for name in changed if name in first]


def backup_guards(state: Mapping[str, Any]) -> Dict[str, Any]:
    """``{"run_id", "databases": {name: {file, position, taken_at, why}}}``: the backup that guards each database."""
    changed = structure_changed(state)
    after, first = _run_entries(state, "after_check"), _run_entries(state, "before_check")
    guards: Dict[str, Any] = {}
    for name in sorted(set(after) | set(first)):
        if name in after:
            entry, why = after[name], "backed up after the structure step"
        elif changed is not None and name not in changed:
            entry, why = first[name], "first backup after the users were logged off; the structure step changed nothing in it"
        else:
            continue
        guards[name] = {"file": entry.get("file"), "position": entry.get("position"), "taken_at": entry.get("taken_at"), "why": why}
    return {"run_id": state.get("run_id"), "databases": guards}
