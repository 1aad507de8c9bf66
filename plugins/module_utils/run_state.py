# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reinstall's run state and its decisions: plain data in, plain data out.

The state is one JSON document per site, kept on the K2 host beside the K2 folder
(``docs/run_state.md`` says why). This module decides, from the state and the facts
``k2_info`` read:

* whether a run starts afresh, resumes, has nothing to do, or must refuse (``plan_run``);
* classic upgrade or takeover, and why (``takeover_reasons``);
* go or no-go of the preflight (``preflight_decision``, ``gate_decision``);
* which step comes next (``next_step``), how a step is recorded (``record_step``);
* whether a restore is required and what to tell the operator after a failure (``advice``).

Times are UTC ISO 8601 text; callers pass ``now`` so that tests can fix it.
"""

from __future__ import annotations

import copy
import json
import ntpath
import posixpath
import shlex
import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils import outage, window

SCHEMA = 1

#: How a run places its steps around the maintenance window (``k2_reinstall_outage_mode``):
#: ``short`` does before the login ban what needs no closed site (the structure check, K2-08: "can be run during
#: normal operation, before the login ban"; staging the release on the K2 host; the disk check, K2-09, an optional
#: check the runbook places before the install, on the databases' sizes rather than their backups'); ``conservative``
#: keeps every step after the preflight inside the window, as the runbook's diagram draws it.
OUTAGE_MODES = ("short", "conservative")
DEFAULT_OUTAGE_MODE = "short"

#: The steps of the runbook's main branch, in order, with the outage window they belong to, per outage mode.
#: structure_check only reads; in short mode the structure step inside the window re-checks that nothing changed
#: since and runs the repairs; in conservative mode structure_check is skipped and structure checks and repairs.
STEPS_BY_MODE = {
    "short": (
        ("preflight", "before"),
        ("structure_check", "before"),
        ("stage", "before"),
        ("disk", "before"),
        ("maintenance_on", "inside"),
        ("backup", "inside"),
        ("gates", "inside"),
        ("structure", "inside"),
        ("backup_after_check", "inside"),
        ("install", "inside"),
        ("conversions", "inside"),
        ("extensions", "inside"),
        ("post_checks", "inside"),
        ("maintenance_off", "inside"),
    ),
    "conservative": (
        ("preflight", "before"),
        ("maintenance_on", "inside"),
        ("backup", "inside"),
        ("gates", "inside"),
        ("structure_check", "inside"),
        ("structure", "inside"),
        ("backup_after_check", "inside"),
        ("disk", "inside"),
        ("stage", "inside"),
        ("install", "inside"),
        ("conversions", "inside"),
        ("extensions", "inside"),
        ("post_checks", "inside"),
        ("maintenance_off", "inside"),
    ),
}
STEPS = STEPS_BY_MODE[DEFAULT_OUTAGE_MODE]
STEP_NAMES = tuple(name for name, _window in STEPS)
WINDOW = dict(STEPS)


def outage_mode(state: Optional[Mapping[str, Any]]) -> str:
    """The run's outage mode as its decisions recorded it (a run recorded before the modes existed: conservative's order)."""
    decisions = (state or {}).get("decisions") or {}
    mode = decisions.get("outage_mode")
    if mode in OUTAGE_MODES:
        return mode
    # Decided before the modes existed: its steps ran in the old order, which is conservative's.
    return "conservative" if decisions.get("go") is not None else DEFAULT_OUTAGE_MODE


def check_outage_mode(mode: Any) -> str:
    text = str(mode or DEFAULT_OUTAGE_MODE).strip().lower()
    if text not in OUTAGE_MODES:
        raise RunStateError("k2_reinstall_outage_mode must be one of %s, got %r" % (", ".join(OUTAGE_MODES), mode))
    return text


def step_names(mode: str = DEFAULT_OUTAGE_MODE) -> Tuple[str, ...]:
    return tuple(name for name, _window in STEPS_BY_MODE[check_outage_mode(mode)])


def window_of(name: str, mode: str = DEFAULT_OUTAGE_MODE) -> str:
    return dict(STEPS_BY_MODE[check_outage_mode(mode)])[name]


#: Steps after which a failure leaves the databases changed by one-time conversions.
ONE_TIME_STEPS = ("conversions", "extensions", "post_checks", "maintenance_off")

#: Install methods where the K2 installer runs the conversions itself, and where the collection copies the files.
INSTALLER_METHODS = ("installer", "operator", "vendor_installer")
COPY_METHODS = ("copy", "files")

RUNNING, DONE, FAILED, NO_GO, RESTORED = "running", "done", "failed", "no-go", "restored"
#: A restore that stopped part-way (server lost): some databases are at their backup state, the others are not.
PARTLY_RESTORED = "partly-restored"
STATUSES = (RUNNING, DONE, FAILED, NO_GO, RESTORED, PARTLY_RESTORED)
#: How many earlier runs the state keeps a summary of.
HISTORY_LENGTH = 20


class RunStateError(Exception):
    """A state that cannot be used as it is, or a request that contradicts it."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_text(moment: datetime, timespec: str = "seconds") -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def step_time_text(moment: datetime) -> str:
    """A step's start or end, and the ban's: to the millisecond, since the outage is the sum of steps of a few seconds.

    States written before kept whole seconds; ``parse_time`` reads both."""
    return utc_text(moment, "milliseconds")


def parse_time(text: Optional[str]) -> Optional[datetime]:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def new_run_id(site: str, target_version: str, now: datetime, token: Optional[str] = None) -> str:
    """``<site>-<target>-<UTC stamp>-<8 hex>``: unique even for two runs started in the same second."""
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return "%s-%s-%s-%s" % (site, target_version, stamp, token or uuid.uuid4().hex[:8])


def state_path_for(folder: str, windows: bool) -> str:
    """The state file beside (not inside) the K2 folder: ``D:\\K2`` -> ``D:\\K2.erpops-run.json``."""
    paths = ntpath if windows else posixpath
    trimmed = folder.rstrip("\\/") if len(folder.rstrip("\\/")) > 0 else folder
    if windows and ntpath.splitdrive(trimmed)[1] in ("", "\\"):
        raise RunStateError("the K2 folder %r is a drive root; set the state path explicitly" % folder)
    if not windows and trimmed in ("", "/"):
        raise RunStateError("the K2 folder %r is the root; set the state path explicitly" % folder)
    directory, name = paths.split(trimmed)
    return paths.join(directory, name + ".erpops-run.json")


# --------------------------------------------------------------------------- the document
def empty_state(site: str) -> Dict[str, Any]:
    return {"schema": SCHEMA, "site": site, "run_id": None, "status": None, "history": [], "backups": [], "restores": []}


def load_state(text: Optional[str], site: str) -> Dict[str, Any]:
    """The state from its JSON text (None or empty: no run yet); refuses another schema or another site."""
    if not text or not text.strip():
        return empty_state(site)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RunStateError("the run state is not valid JSON (%s); it was left as it is" % exc) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise RunStateError("the run state has schema %r, expected %d; it was left as it is"
                            % (data.get("schema") if isinstance(data, dict) else None, SCHEMA))
    if data.get("site") not in (None, site):
        raise RunStateError("the run state belongs to site %r, not %r: two inventory names for one K2 folder?" % (data.get("site"), site))
    for key, default in (("history", []), ("backups", []), ("restores", [])):
        data.setdefault(key, default)
    return data


def dump_state(state: Mapping[str, Any]) -> str:
    """JSON with one top-level key per line, and one line per item of a list (every step, every backup entry).

    Readable, and written by the C encoder item by item: ``indent`` would take the pure-Python one, and the state
    is written at every step while its backup entries grow with every run."""
    return json_lines(state)


def json_lines(data: Mapping[str, Any]) -> str:
    """``data`` (a JSON object) as ``dump_state`` writes it."""
    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=str)

    lines = []
    for key, value in data.items():
        text = "[\n    %s\n  ]" % ",\n    ".join(compact(item) for item in value) if isinstance(value, list) and value else compact(value)
        lines.append("  %s: %s" % (compact(key), text))
    return "{\n%s\n}\n" % ",\n".join(lines)


def summary(state: Mapping[str, Any]) -> Dict[str, Any]:
    """What reports read: the run's identity, status, steps and outage (no backups, no history)."""
    keys = ("run_id", "site", "target_version", "from_version", "status", "started", "finished", "controller", "decisions",
            "steps", "outage", "one_time_started", "restore_required", "advice", "lock")
    return {key: copy.deepcopy(state.get(key)) for key in keys if key in state}


#: Per backup entry, what the state file keeps for a restore and the play does not read: the lab's per-table
#: fingerprints, a folder backup's file list. Every step hands the state back to the play, where its size costs time
#: in every task that copies it (they grow with the site's tables and files, and the state keeps every run's backups).
BULKY_BACKUP_KEYS = ("fingerprint", "files")


def play_view(state: Mapping[str, Any]) -> Dict[str, Any]:
    """The state as a run's later tasks read it: the backup entries without ``BULKY_BACKUP_KEYS`` (the file keeps them)."""
    view = dict(state)
    if state.get("backups"):
        view["backups"] = [{key: value for key, value in entry.items() if key not in BULKY_BACKUP_KEYS} for entry in state["backups"]]
    return view


def _history_entry(state: Mapping[str, Any]) -> Dict[str, Any]:
    entry = {key: state.get(key) for key in ("run_id", "target_version", "from_version", "status", "started", "finished")}
    entry["steps_ok"] = [step["name"] for step in state.get("steps") or [] if step.get("result") == "ok"]
    if state.get("outage"):
        entry["outage"] = state["outage"]
    return entry


def start_run(saved: Mapping[str, Any], site: str, run_id: str, target_version: str, controller: Mapping[str, Any],
              now: datetime, why: Optional[str] = None) -> Dict[str, Any]:
    """A fresh run; the previous run (if any) moves into ``history``; backups and restores are kept."""
    history = list(saved.get("history") or [])
    if saved.get("run_id"):
        history.append(_history_entry(saved))
    state = {
        "schema": SCHEMA, "site": site, "run_id": run_id, "target_version": target_version, "from_version": None,
        "controller": dict(controller), "started": utc_text(now), "finished": None, "status": RUNNING,
        "decisions": {"mode": None, "takeover_reasons": [], "upgrade_kind": None, "go": None, "reasons": []},
        "steps": [], "one_time_started": False, "restore_required": False, "advice": None,
        "backups": list(saved.get("backups") or []), "restores": list(saved.get("restores") or []),
        "outage": {"ban_on": None, "ban_off": None, "seconds": None},
        "history": history[-HISTORY_LENGTH:], "events": [],
    }
    if why:
        state["events"].append({"at": utc_text(now), "event": "start", "msg": why})
    return state


# --------------------------------------------------------------------------- what a run does
def plan_run(saved: Mapping[str, Any], target_version: str) -> Dict[str, str]:
    """``{"action": new|resume|done|refuse, "why": ...}`` for a run to ``target_version`` on a site whose state is ``saved``."""
    status = saved.get("status")
    if not saved.get("run_id") or status is None:
        return {"action": "new", "why": "no earlier run on this site"}
    run = "%s (%s to %s)" % (saved["run_id"], status, saved.get("target_version"))
    if status == RESTORED:
        restore = (saved.get("restores") or [{}])[-1]
        return {"action": "new", "why": "starts afresh: the databases were restored at %s from the backups of run %s"
                % (restore.get("at", "?"), restore.get("run_id", "?"))}
    if status == PARTLY_RESTORED:
        restore = (saved.get("restores") or [{}])[-1]
        return {"action": "refuse", "why": (
            "the site is partly restored: the restore of %s from the backups of run %s stopped part-way; restored: %s; NOT "
            "restored: %s. Finish the restore first: %s; then run the reinstall again (it starts afresh)"
            % (restore.get("at", "?"), restore.get("run_id", "?"), ", ".join(restore.get("databases") or []) or "none",
               ", ".join(restore.get("not_restored") or []) or "?", restore.get("next_command") or "playbooks/k2_restore.yml"))}
    if status == NO_GO:
        return {"action": "new", "why": "the last run %s was no-go and changed nothing" % run}
    if status == DONE:
        if saved.get("target_version") == target_version:
            return {"action": "done", "why": "already reinstalled to %s by run %s (%s)" % (target_version, saved["run_id"], saved.get("finished"))}
        return {"action": "new", "why": "the last run %s finished" % run}
    if status == FAILED and saved.get("restore_required"):
        advice_text = saved.get("advice") or "restore the site first (K2-16)"
        return {"action": "refuse", "why": "the last run %s failed after one-time conversions ran; it cannot be resumed: %s" % (run, advice_text)}
    if saved.get("target_version") != target_version:
        return {"action": "refuse", "why": (
            "the site has an unfinished reinstall %s; finish it with k2_target_version=%s, or restore the site "
            "(playbooks/k2_restore.yml) so that a new run starts afresh" % (run, saved.get("target_version")))}
    step = next_step(saved)
    return {"action": "resume", "why": "resumes run %s at the step %s" % (run, step or "(none left)")}


def steps_done(state: Mapping[str, Any]) -> List[str]:
    """Step names that ended ``ok`` (or ``skipped``), in recorded order."""
    return [step["name"] for step in state.get("steps") or [] if step.get("result") in ("ok", "skipped")]


def next_step(state: Mapping[str, Any]) -> Optional[str]:
    """The first step of ``STEPS`` not ended ok or skipped; None when all are."""
    done = set(steps_done(state))
    for name in step_names(outage_mode(state)):
        if name not in done:
            return name
    return None


def pending_steps(state: Mapping[str, Any]) -> List[str]:
    done = set(steps_done(state))
    return [name for name in step_names(outage_mode(state)) if name not in done]


def open_step(state: Mapping[str, Any]) -> Optional[str]:
    """The step the state records as started and not ended (the last such entry): the step in progress, or the one a
    failure stopped. A step whose start the end of the step before recorded (``prestarted``) counts: its work was next."""
    return next((step["name"] for step in reversed(state.get("steps") or []) if step.get("result") == "started"), None)


#: Steps whose start the end of the step before may record (``start_next``: one write between two steps instead of
#: two). Not the ban (its start is the outage's), nor the backup, the install or the conversions: their own start is
#: recorded when they begin (the conversions' marks the one-time conversions as started).
PRESTARTED = ("structure_check", "stage", "disk", "gates", "structure", "backup_after_check", "extensions", "post_checks",
              "maintenance_off")


def skip_reason(state: Mapping[str, Any], name: str) -> Optional[str]:
    """Why the step ``name`` has nothing to do, as the state says, else None: the end of the step before records it
    skipped (``start_next``), and the play never runs it. backup_after_check, when the structure step changed no
    database (outage mode short): the first backup guards every one (K2-15 backs up "those which were affected")."""
    if name == "backup_after_check" and window.second_backup(state) == []:
        return "the structure step changed no database; the first backup guards every one"
    return None


def record_step(state: Mapping[str, Any], name: str, result: str, now: datetime, msg: Optional[str] = None,
                started: Optional[str] = None, extra: Optional[Mapping[str, Any]] = None, start_next: bool = False) -> Dict[str, Any]:
    """A copy of ``state`` with the step's entry (``result`` started, ok, failed or skipped).

    ``started`` replaces the open entry of the same step (one entry per attempt); an ``ok`` of
    maintenance_on / maintenance_off sets the outage's ban_on / ban_off. ``start_next`` with ``ok`` or ``skipped``:
    the next pending steps that have nothing to do (``skip_reason``) are recorded skipped, and the next pending step
    after them, when it is one of ``PRESTARTED``, is recorded started at the same moment (``prestarted`` until it
    ends); a start recorded for another step, or the run's finish, drops such an entry that never began.
    """
    new = _record_one(state, name, result, now, msg, started, extra)
    following = next_step(new) if start_next and result in ("ok", "skipped") else None
    while following is not None:
        reason = skip_reason(new, following)
        if reason is None:
            break
        new = _record_one(new, following, "skipped", now, reason, None, None)
        following = next_step(new)
    if following in PRESTARTED:
        new = _record_one(new, following, "started", now, None, None, None)
        new["steps"][-1]["prestarted"] = True
    return new


#: The state's records of every run, which recording a step replaces (``extra``) but never changes in place.
RECORDS = ("backups", "history", "restores")


def _copy_but_records(state: Mapping[str, Any]) -> Dict[str, Any]:
    """A deep copy of ``state`` sharing ``RECORDS`` with it: they hold most of its size (every backup of every run)."""
    return dict(copy.deepcopy({key: value for key, value in state.items() if key not in RECORDS}),
                **{key: state[key] for key in RECORDS if key in state})


def _drop_prestarted(steps: List[Dict[str, Any]], keep: Optional[str] = None) -> List[Dict[str, Any]]:
    """The steps without the open prestarted entries (but ``keep``'s): they never began."""
    return [step for step in steps if not (step.get("prestarted") and step.get("result") == "started" and step["name"] != keep)]


def _record_one(state: Mapping[str, Any], name: str, result: str, now: datetime, msg: Optional[str], started: Optional[str],
                extra: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if name not in WINDOW:
        raise RunStateError("unknown step %r (steps: %s)" % (name, ", ".join(STEP_NAMES)))
    step_window = window_of(name, outage_mode(state))
    if result not in ("started", "ok", "failed", "skipped"):
        raise RunStateError("unknown step result %r" % result)
    new = _copy_but_records(state)
    if result == "started":
        new["steps"] = _drop_prestarted(new.get("steps") or [], keep=name)
    steps = new.setdefault("steps", [])
    when = step_time_text(now)
    open_entry = next((step for step in reversed(steps) if step["name"] == name and step.get("result") == "started"), None)
    if result == "started":
        if open_entry is None:
            steps.append({"name": name, "started": when, "ended": None, "result": "started", "msg": msg, "window": step_window})
    else:
        entry = open_entry or {"name": name, "started": started or when, "window": step_window}
        if open_entry is None:
            steps.append(entry)
        entry.pop("prestarted", None)
        entry.update(ended=when, result=result, msg=msg)
    decisions = new.get("decisions", {})
    converts = "install" if decisions.get("method") in INSTALLER_METHODS else "conversions"
    if name == converts and result in ("started", "ok", "failed") and decisions.get("upgrade_kind") == "generation":
        # The K2 installer runs the conversions inside its install step (K2-11).
        new["one_time_started"] = True
    extra = dict(extra or {})
    ban_start = parse_time(extra.pop("ban_in_force_at", None))
    ban_written = parse_time(extra.pop("ban_set_at", None))
    ban_lifted = parse_time(extra.pop("ban_lifted_at", None))
    if result == "ok" and name == "maintenance_on":
        # The ban is in force from its start once it is written: from the moment this step wrote it, or from its own later
        # start (a future start was waited for); from this step's start when it was set earlier (a rerun, an admin).
        step_start = parse_time((open_entry or {}).get("started")) or now
        ban_on = max(moment for moment in (step_start, ban_start, ban_written) if moment) if ban_start or ban_written else now
        new["outage"] = {"ban_on": step_time_text(ban_on), "ban_off": None, "seconds": None}
    if result == "ok" and name == "maintenance_off":
        # Lifted when the step's lift was committed (the step's end when the ban was already gone).
        new["outage"] = dict(new.get("outage") or {}, ban_off=step_time_text(min(ban_lifted, now)) if ban_lifted else when)
    new["outage"] = measure_outage(new, now)
    for key, value in extra.items():
        new[key] = value
    if name in ("backup", "structure", "backup_after_check") and result in ("ok", "skipped"):
        new["backup_guards"] = window.backup_guards(new)
    return new


def measure_outage(state: Mapping[str, Any], now: datetime) -> Dict[str, Any]:
    """The state's outage (ban in force -> ban lifted) with each step's time before, inside and after it (``outage.measure``).

    ``seconds`` is the outage when the ban was lifted, else None; ``open_seconds`` how long it has been on so far.
    """
    recorded = dict(state.get("outage") or {})
    ban_on, ban_off = recorded.get("ban_on"), recorded.get("ban_off")
    measured = outage.measure(state.get("steps") or [], ban_on, ban_off, now=now)
    seconds = measured["outage_seconds"]
    return {
        "ban_on": ban_on, "ban_off": ban_off,
        "seconds": round(seconds, 3) if seconds is not None and ban_off else None,
        "open_seconds": round(seconds, 3) if seconds is not None and not ban_off else None,
        "windows": measured["windows"], "declared": measured["declared"],
        "steps": [{key: step[key] for key in ("name", "window", "seconds", "before", "inside", "after")} for step in measured["steps"]],
        "misplaced": measured["misplaced"],
    }


def finish(state: Mapping[str, Any], status: str, now: datetime, advice: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    if status not in STATUSES:
        raise RunStateError("unknown status %r" % status)
    new = copy.deepcopy(dict(state))
    new["status"] = status
    new["steps"] = _drop_prestarted(new.get("steps") or [])
    if status in (DONE, NO_GO, RESTORED):
        new["finished"] = utc_text(now)
    if advice is not None:
        new["advice"] = advice.get("next")
        new["restore_required"] = bool(advice.get("restore_required"))
        if advice.get("takeover"):
            decisions = new.setdefault("decisions", {})
            decisions["mode"] = "takeover"
            reasons = list(decisions.get("takeover_reasons") or [])
            if advice["takeover"] not in reasons:
                reasons.append(advice["takeover"])
            decisions["takeover_reasons"] = reasons
    new["outage"] = measure_outage(new, now)
    return new


def add_event(state: Mapping[str, Any], event: str, now: datetime, **details: Any) -> Dict[str, Any]:
    new = copy.deepcopy(dict(state))
    new.setdefault("events", []).append(dict({"at": utc_text(now), "event": event}, **details))
    return new


# --------------------------------------------------------------------------- backups in the state
def _entry_key(entry: Mapping[str, Any]):
    return (entry.get("database"), entry.get("file"), entry.get("taken_at"))


def merge_backups(known: Sequence[Mapping[str, Any]], found: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """``known`` plus the entries of ``found`` not yet in it (same database, file and time), order kept.

    An entry seen again replaces the known one (a failed attempt later marked verified keeps one entry).
    """
    merged = [dict(entry) for entry in known]
    index = {_entry_key(entry): position for position, entry in enumerate(merged)}
    for entry in found:
        clean = {key: value for key, value in entry.items() if key not in ("reused", "path", "would_take")}
        key = _entry_key(clean)
        if key in index:
            merged[index[key]] = clean
        else:
            index[key] = len(merged)
            merged.append(clean)
    return merged


def manifest_from_state(state: Mapping[str, Any]) -> Dict[str, Any]:
    """A k2_backup manifest (format 1) holding the state's backup entries, and which backup guards which database."""
    manifest: Dict[str, Any] = {"format": 1, "entries": [dict(entry) for entry in state.get("backups") or []]}
    if state.get("backup_guards"):
        manifest["guards"] = copy.deepcopy(state["backup_guards"])
    return manifest


def restore_run_id(state: Mapping[str, Any], requested: Optional[str] = None) -> str:
    """The run whose backups a restore uses: ``requested``, else the latest run that took a verified backup."""
    runs = [entry.get("run_id") for entry in state.get("backups") or [] if entry.get("verified") and entry.get("run_id")]
    if requested:
        if requested not in runs:
            raise RunStateError("the site's state records no verified backup of run %s (runs with backups: %s)"
                                % (requested, ", ".join(sorted(set(runs))) or "none"))
        return requested
    if not runs:
        raise RunStateError("the site's state records no verified backup; nothing to restore from")
    return runs[-1]


def record_restore(state: Mapping[str, Any], run_id: str, databases: Sequence[str], now: datetime, by_run: str,
                   controller: Mapping[str, Any], entries: Sequence[Mapping[str, Any]] = (), not_restored: Sequence[str] = (),
                   folder_restored: Optional[bool] = None, next_command: Optional[str] = None,
                   error: Optional[str] = None) -> Dict[str, Any]:
    """The state after a restore: status ``restored``, and the next reinstall starts afresh.

    With ``not_restored`` (or ``folder_restored`` False: the folder was asked for and not restored) the restore stopped
    part-way: status ``partly-restored``, the record names what is restored and what is not, and ``next_command``
    (``finish_restore_command``) is the advice; a reinstall refuses until a restore ends whole.
    """
    new = copy.deepcopy(dict(state))
    record = {
        "at": utc_text(now), "run_id": run_id, "databases": list(databases), "by_run": by_run, "controller": dict(controller),
        "files": [entry.get("file") for entry in entries],
        "from_status": state.get("status"), "target_version": state.get("target_version")}
    if folder_restored is not None:
        record["folder_restored"] = bool(folder_restored)
    partly = bool(not_restored) or folder_restored is False
    if partly:
        record.update(not_restored=list(not_restored), next_command=next_command, error=error)
    new.setdefault("restores", []).append(record)
    new["finished"] = utc_text(now)
    if partly:
        new["status"] = PARTLY_RESTORED
        new["restore_required"] = True
        new["advice"] = ("The restore from the backups of run %s stopped part-way: %s. Restored to their backup state: %s. "
                         "NOT restored: %s.%s Keep the login ban on, bring the database server back, then finish the restore: %s"
                         % (run_id, error or "failed", ", ".join(databases) or "none", ", ".join(not_restored) or "none",
                            " The K2 folder is not restored." if folder_restored is False else "",
                            next_command or "playbooks/k2_restore.yml"))
    else:
        new["status"] = RESTORED
        new["restore_required"] = False
        new["advice"] = "databases restored from the backups of run %s; the next reinstall starts afresh" % run_id
    return new


def finish_restore_command(host: str, inventory: Optional[str], run_id: str, not_restored: Sequence[str], folder: bool,
                           force_lock: bool) -> str:
    """The command that finishes a restore cut off part-way: the databases not restored (and the folder when asked).

    ``force_lock``: the site's lock row may not be free (CONF came back with the row of backup time, or the server was gone
    when the restore tried to free its own), and the run that held it is over.
    """
    parts = ["ansible-playbook", "erpops.upgrade.k2_restore"]
    if inventory:
        parts += ["-i", shlex.quote(inventory)]
    parts += ["-l", shlex.quote(host), "-e", shlex.quote("k2_restore_run_id=%s" % run_id)]
    if not_restored:
        parts += ["-e", shlex.quote(json.dumps({"k2_restore_databases": list(not_restored)}, ensure_ascii=False))]
    if folder:
        parts += ["-e", "k2_restore_folder=true"]
    if force_lock:
        parts += ["-e", "k2_restore_force_lock=true"]
    return " ".join(parts)


# --------------------------------------------------------------------------- decisions
def takeover_reasons(site_kind: Optional[str], installer_record: bool, method: str, asked: bool, test_of: Optional[str] = None) -> List[str]:
    """Why the run is a takeover (přebrání) rather than a classic upgrade (K2-10); empty: classic upgrade."""
    reasons = []
    if test_of:
        reasons.append("a test environment (a copy of %s) is reinstalled by taking the copied folder over (K2-18)" % test_of)
    if site_kind == "torso":
        reasons.append("no K2 binaries in the folder (torso, K2-13)")
    if not installer_record:
        reasons.append("no installer record of this installation")
    if method in COPY_METHODS:
        reasons.append("the release is installed by file copy (method %s)" % method)
    if asked:
        reasons.append("asked for (k2_reinstall_takeover)")
    return reasons


def installer_record(setting: Any, method: str) -> bool:
    """``auto``: the vendor installer keeps a record of what it installed, a file copy does not."""
    if isinstance(setting, str) and setting.strip().lower() == "auto":
        return method in INSTALLER_METHODS
    if isinstance(setting, str):
        return setting.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(setting)


#: Where the collection checks the structure against the new version's scripts: before the ban is lifted (a finding in
#: CONF or a production mandant keeps the site closed), or after the lift (reported).
STRUCTURE_AFTER_INSTALL = ("before_lift", "after_lift")


def structure_after_install(mode: str, site_kind: Optional[str]) -> str:
    """Before or after the lift: the check of the structure against the new version's scripts (post_checks).

    The K2 reinstall methodology (K2-11, "Rozhodování: Existovalo původní K2 exe?"): "Pokud ve složce, kam se instaluje
    nová K2, chyběl spouštěcí soubor k2.exe a tím pádem nemohly být provedeny kontroly struktur před reinstalací, provedou
    se tyto kontroly nyní. Jestliže kontroly byly již spuštěny na původní K2, pokračuje se bez těchto kontrol" - the
    installer checks the structures after the conversions only when the folder had no K2 to check them with before. So
    inside the window for a torso (and in the mode conservative, which keeps everything inside); for a K2 that was
    runnable, whose structure was checked before the ban and re-checked inside the window, the mode short checks it after
    the lift and reports it.
    """
    return "after_lift" if mode == "short" and site_kind == "runnable" else "before_lift"


def run_decisions(preflight: Mapping[str, Any], method: str, installer_record_setting: Any, takeover_asked: bool,
                  outage_mode_setting: Any = DEFAULT_OUTAGE_MODE, test_of: Optional[str] = None) -> Dict[str, Any]:
    """The ``decisions`` of a run from the preflight's result and the request; ``test_of``: the production folder this run is
    the test reinstall of (K2-18)."""
    record = installer_record(installer_record_setting, method)
    reasons = takeover_reasons(preflight.get("kind"), record, method, takeover_asked, test_of)
    mode = check_outage_mode(outage_mode_setting)
    return {
        "mode": "takeover" if reasons else "upgrade",
        "takeover_reasons": reasons,
        "upgrade_kind": preflight.get("upgrade_kind"),
        "site_kind": preflight.get("kind"),
        "method": method,
        "outage_mode": mode,
        "structure_after_install": structure_after_install(mode, preflight.get("kind")),
        "go": bool(preflight.get("go")),
        "reasons": list(preflight.get("reasons") or []),
        "notes": list(preflight.get("notes") or []),
        # A takeover where a classic upgrade would do leaves the old installer record behind (K2-10).
        "orphan_warning": bool(reasons) and preflight.get("kind") == "runnable" and record and not test_of,
        "test_of": test_of or None,
    }


def preflight_decision(k2: Mapping[str, Any], target_version: Optional[str]) -> Dict[str, Any]:
    """Go or no-go from what ``k2_info`` read of the folder and databases (K2-01, K2-10, K2-13)."""
    reasons: List[str] = []
    notes: List[str] = []
    kind = k2.get("kind")
    if kind == "not_k2":
        reasons.append("not a K2 folder: " + "; ".join(k2.get("problems") or []))
    if kind == "torso":
        notes.append("no runnable K2 (torso): reinstall by takeover only, after checking backups (K2-13)")
    if "databases_match_version" in k2 and not k2["databases_match_version"]:
        for db in k2.get("databases") or []:
            if not db.get("matches_version"):
                reasons.append("database %s is at %s, not at the installed %s%s" % (
                    db.get("database"), db.get("version") or "unknown", k2.get("version") or "?",
                    " (%s)" % db["error"] if db.get("error") else ""))
    upgrade = k2.get("upgrade")
    if upgrade is not None and not upgrade.get("reachable"):
        if upgrade.get("reason"):
            reasons.append(upgrade["reason"])
        else:
            reasons.append("target not reachable in one reinstall: install %s first (K2-10)" % " then ".join((upgrade.get("path") or [])[:-1]))
    return {
        "go": not reasons,
        "kind": kind,
        "version": k2.get("version"),
        "target_version": target_version,
        "upgrade_kind": upgrade.get("kind") if upgrade is not None else None,
        "production_mandants": list(k2.get("production_mandants") or []),
        "reasons": reasons,
        "notes": notes + list(k2.get("warnings") or []),
    }


def gate_decision(result: Mapping[str, Any], k2: Optional[Mapping[str, Any]], preparation_required: bool, waive_initializations: bool,
                  verified_backups: int, manifest_name: str = "") -> Dict[str, Any]:
    """``result`` with the preparation (K2-06), initialization (K2-07) and backup (K2-05, K2-13) gates added."""
    k2 = k2 or {}
    kind = (k2.get("upgrade") or {}).get("kind")
    manager = k2.get("reinstall_manager") or {}
    missing = dict(k2.get("missing_initializations") or {})
    preparation_missing = kind == "generation" and preparation_required and not manager.get("preparation_done", False)
    waived = kind == "build" and waive_initializations
    blocks = bool(missing) and kind is not None and not waived
    missing_text = "; ".join("%s: %s" % (code, ", ".join(names)) for code, names in missing.items())
    reasons, notes = [], []
    if preparation_missing:
        reasons.append("pre-install preparation (K2-06) has not run; a generation change needs it: run it in the Reinstall manager (function 753)")
    if blocks:
        reasons.append("mandatory initializations (K2-07) missing: %s; run them (function 552, Mandatory)%s" % (
            missing_text, ", or set k2_preflight_waive_initializations for a build-only reinstall" if kind == "build" else ""))
    if missing and waived:
        notes.append("mandatory initializations (K2-07) missing but waived for a build-only reinstall: " + missing_text)
    if verified_backups == 0:
        notes.append("no verified backup in %s: back up first (K2-05, K2-13)" % (manifest_name or "any manifest"))
    new = dict(result)
    new.update(
        go=bool(result.get("go")) and not reasons,
        reasons=list(result.get("reasons") or []) + reasons,
        notes=list(result.get("notes") or []) + notes,
        backups_exist=verified_backups > 0,
        gates={"preparation_done": not preparation_missing, "missing_initializations": missing,
               "initializations_waived": bool(missing) and waived},
    )
    return new


def advice(state: Mapping[str, Any], failed_step: Optional[str], convert_result: Optional[Mapping[str, Any]] = None,
           restore_command: Optional[str] = None, install_verdict: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """What the operator does after a failure: resume, or restore (only where the journal cannot resume).

    ``convert_result``: k2_convert's result when the conversions failed. A database whose file the
    journal refuses (a one-time file changed or applied with holes) cannot go forward: restore. A batch
    that failed (rolled back, recorded) resumes at that batch on a rerun, one-time batches already
    applied are never repeated.

    ``install_verdict``: k2_install_verdict's result when the K2 installer's install failed (K2-11). Its
    one-time conversions are in no journal: after them (``restore_needed``) only a restore of the databases
    and the K2 folder leads on, and a rerun is refused until the site is restored. A failed removal or
    copy of files (the databases not converted yet) goes back to K2-01; the rerun installs by takeover,
    since the installer's record of a half-removed installation cannot be trusted (K2-10).
    ``restore_command`` is returned only where a restore is the way on or back.
    """
    step = failed_step or next_step(state) or "?"
    verdict = install_verdict or {}
    if step == "install" and verdict.get("restore_needed"):
        return {"restore_required": True, "resume_at": None, "takeover": None, "restore_command": restore_command, "next": (
            "One-time conversions ran inside the K2 installer's install: restore the databases AND the K2 folder from this run's "
            "backup (K2-12, K2-16)%s, fix the cause in the old version, then run the reinstall again; it starts afresh. A rerun "
            "before the restore is refused. The maintenance window stays on." % (": " + restore_command if restore_command else ""))}
    if step == "install" and verdict.get("step") in ("removal", "copy"):
        return {"restore_required": False, "resume_at": "install", "restore_command": None,
                "takeover": "the previous install failed in %s (K2-11): a takeover after a failed removal or install" % verdict["step"],
                "next": ("The install failed in %s, before any conversion: back to K2-01, the folder may hold no runnable K2. No "
                         "restore is needed. Fix the cause and run the reinstall again: it resumes at the install, by takeover "
                         "(přebrání, K2-10). The maintenance window stays on." % verdict["step"])}
    refused = []
    resumable = []
    for database in (convert_result or {}).get("databases") or []:
        for item in database.get("files") or []:
            status = str(item.get("status") or "")
            if status.startswith("refused") and status != "refused - no backup":
                refused.append("%s %s" % (database.get("database"), item.get("file")))
            elif status in ("failed", "pending"):
                resumable.append("%s %s" % (database.get("database"), item.get("file")))
    one_time = bool(state.get("one_time_started"))
    back = (" To go back to %s instead, restore the databases (K2-16): %s." % (state.get("from_version") or "the old version", restore_command)
            if one_time and restore_command else "")
    if refused:
        return {"restore_required": True, "resume_at": None, "takeover": None, "restore_command": restore_command, "next": (
            "The conversion journal refuses to go on (%s): restore the databases (K2-16)%s, fix the cause, then run the "
            "reinstall again; it starts afresh." % ("; ".join(refused), ": " + restore_command if restore_command else ""))}
    if step == "conversions":
        detail = (" (%s resume at their failed batch)" % ", ".join(resumable)) if resumable else ""
        text = ("Fix the cause and run the reinstall again: it resumes at the conversions; the journal skips every batch "
                "already applied, so no one-time conversion runs twice%s.%s" % (detail, back))
    else:
        text = "Fix the cause and run the reinstall again: it resumes at the step %s.%s" % (step, back)
    window_open = (any(entry.get("name") == "maintenance_on" for entry in state.get("steps") or [])
                   and not (state.get("outage") or {}).get("ban_off"))
    return {"restore_required": False, "resume_at": step, "takeover": None, "restore_command": restore_command if one_time else None,
            "next": text + (" The maintenance window stays on." if window_open else " The maintenance window was not opened: users work as before.")}


# --------------------------------------------------------------------------- the lock
def lock_verdict(row: Optional[Mapping[str, Any]], server_now: datetime, token: str, force: bool) -> Dict[str, Any]:
    """Whether the job ``token`` may take the site's lock, whose row is ``row`` (None or RUN_ID empty: free).

    A resumed run keeps its run id but every job has its own token: a job never mistakes the
    lock of a killed job's worker (same run id, still working) for its own.

    ``{"take": bool, "how": free|own|expired|forced|held, "holder": {...} or None}``.
    """
    holder = _holder(row)
    if holder is None:
        return {"take": True, "how": "free", "holder": None}
    if holder.get("token") == token:
        return {"take": True, "how": "own", "holder": holder}
    lease_until = holder.get("lease_until")
    if isinstance(lease_until, datetime):
        expired = _aware(lease_until) <= _aware(server_now)
    else:
        expired = True
    if expired:
        return {"take": True, "how": "expired", "holder": holder}
    if force:
        return {"take": True, "how": "forced", "holder": holder}
    return {"take": False, "how": "held", "holder": holder}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _holder(row: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if not row:
        return None
    lowered = {str(key).lower(): value for key, value in row.items()}
    run_id = lowered.get("run_id")
    if run_id is None or not str(run_id).strip():
        return None
    holder = {"run_id": str(run_id).strip(), "token": lowered.get("holder_token")}
    for key in ("controller_host", "controller_user", "awx_job_id", "since", "lease_until"):
        holder[key] = lowered.get(key)
    return holder


def holder_text(holder: Mapping[str, Any]) -> str:
    """``run X (controller host, user, AWX job N) since T, lease until U``."""
    parts = (("controller", holder.get("controller_host")), ("user", holder.get("controller_user")), ("AWX job", holder.get("awx_job_id")))
    who = ", ".join("%s %s" % (label, value) for label, value in parts if value)
    since, until = _time_text(holder.get("since")), _time_text(holder.get("lease_until"))
    return "run %s (%s) since %s, lease until %s" % (holder.get("run_id"), who or "controller unknown", since, until)


def _time_text(value: Any) -> str:
    if isinstance(value, datetime):
        return utc_text(_aware(value))
    return str(value) if value else "?"
