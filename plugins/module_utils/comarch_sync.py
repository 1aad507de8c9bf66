# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge the HRM syncs of a Comarch ERP site around an update (CM-02 to CM-06). No I/O.

Inputs are what ``comarch_sync_verify`` read: the service state (``running``,
``stopped``, ``missing`` or another state word), the schedule rows and the
newest history rows (as ``comarch_profile.schedule_sql`` / ``history_sql`` name
them), the database and program versions, the HRM domain's answer, and the
database server's ``now`` (the clock the service writes its history in).
Each judgement names every reason it fails for, with what to do about it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional, Sequence

RUNNING = "running"
STOPPED = "stopped"
MISSING = "missing"

# after_update stages, in the order the runbook expects them to complete (CM-03 .. CM-05)
STAGES = ("database_converted", "service_reported_version", "full_sync_scheduled", "full_sync_completed", "domain_open")

_SERVICE_REMEDY = ("start the Automatic Operations Service (Serwis Operacji Automatycznych) and set it to start automatically; "
                   "check its Windows account and password (Konfiguracja Stanowiska / Serwis Operacji Automatycznych / Parametry)")


def reason(code: str, message: str, remedy: str) -> Dict[str, str]:
    return {"code": code, "message": message, "remedy": remedy}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("Y", "YES", "T", "TRUE", "1")
    return bool(value)


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def schedule_state(rows: Sequence[Mapping[str, Any]], profile: Mapping[str, Any]) -> Dict[str, Optional[Dict[str, Any]]]:
    """``{"differential": {...} | None, "full": {...} | None}`` out of the schedule rows.

    Several rows of one operation count as enabled when any is, with the shortest interval.
    """
    names = {profile["schedule"]["differential_operation"]: "differential", profile["schedule"]["full_operation"]: "full"}
    found: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        kind = names.get(_text(row.get("operation")))
        if kind is None:
            continue
        enabled = _flag(row.get("enabled"))
        interval = row.get("interval_seconds")
        interval = int(interval) if interval is not None else None
        current = found.get(kind)
        if current is None:
            found[kind] = {"enabled": enabled, "interval_seconds": interval, "next_run": _iso(row.get("next_run"))}
            continue
        current["enabled"] = current["enabled"] or enabled
        if interval is not None and (current["interval_seconds"] is None or interval < current["interval_seconds"]):
            current["interval_seconds"] = interval
    return {"differential": found.get("differential"), "full": found.get("full")}


def _history(rows: Sequence[Mapping[str, Any]], profile: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """History rows with the operation and status named in our words, newest first (by id)."""
    s, h = profile["schedule"], profile["history"]
    operations = {s["differential_operation"]: "differential", s["full_operation"]: "full", h["version_operation"]: "version"}
    statuses = {h["success_status"]: "success", h["failed_status"]: "failed", h["running_status"]: "running"}
    out = []
    for row in rows:
        operation = operations.get(_text(row.get("operation")))
        if operation is None:
            continue
        pending = row.get("pending")
        out.append({
            "id": row.get("id"), "operation": operation, "started": row.get("started"), "finished": row.get("finished"),
            "status": statuses.get(_text(row.get("status")), "unknown"), "pending": int(pending) if pending is not None else 0,
            "program_version": _text(row.get("program_version")) or None, "message": _text(row.get("message")) or None,
        })
    out.sort(key=lambda r: (r["id"] is not None, r["id"] or 0), reverse=True)
    return out


def _public(row: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    if row is None:
        return None
    return {key: (_iso(value) if isinstance(value, datetime) else value) for key, value in row.items()}


def _first(rows: Sequence[Dict[str, Any]], operation: str, status: Optional[str] = None) -> Optional[Dict[str, Any]]:
    for row in rows:
        if row["operation"] == operation and (status is None or row["status"] == status):
            return row
    return None


def facts(service_state: str, schedule_rows, history_rows, now: datetime, profile: Mapping[str, Any]) -> Dict[str, Any]:
    """What the judgements look at, in the shape the module returns."""
    history = _history(history_rows, profile)
    return {
        "service_state": service_state,
        "schedule": schedule_state(schedule_rows, profile),
        "now": _iso(now),
        "last_differential": _public(_first(history, "differential")),
        "last_successful_differential": _public(_first(history, "differential", "success")),
        "last_full": _public(_first(history, "full")),
        "last_successful_full": _public(_first(history, "full", "success")),
        "last_version_notice": _public(_first(history, "version", "success")),
    }


def judge_service(service_state: str) -> List[Dict[str, str]]:
    if service_state == RUNNING:
        return []
    if service_state == MISSING:
        return [reason("service_missing", "the Automatic Operations Service is not installed on this host",
                       "install it with Comarch ERP (it is installed switched off) and configure it; HRM syncs run only through it")]
    return [reason("service_not_running", "the Automatic Operations Service is %s, not running" % (service_state or "in an unknown state"),
                   _SERVICE_REMEDY)]


def judge_before_update(service_state: str, schedule_rows, history_rows, now: datetime, profile: Mapping[str, Any],
                        tolerance_seconds: int) -> Dict[str, Any]:
    """CM-02: every reason the ERP must not be updated yet; an empty list means go."""
    reasons = judge_service(service_state)
    schedule = schedule_state(schedule_rows, profile)
    history = _history(history_rows, profile)
    differential = schedule["differential"]
    if differential is None or not differential["enabled"]:
        reasons.append(reason("differential_sync_off", "differential HRM syncs are %s in the service's schedule"
                              % ("missing" if differential is None else "switched off"),
                              "switch on the differential sync in the schedule of the Automatic Operations Service "
                              "(after a restore, decide which database syncs first: phase after_restore, CM-06)"))
    last_ok = _first(history, "differential", "success")
    if last_ok is None or last_ok["finished"] is None:
        reasons.append(reason("no_successful_differential_sync", "no differential HRM sync has succeeded yet",
                              "run an extra sync (Narzędzia / Comarch HRM) and make sure it succeeds before updating"))
    elif differential is not None and differential["interval_seconds"] is not None:
        allowed = timedelta(seconds=differential["interval_seconds"] + tolerance_seconds)
        age = now - last_ok["finished"]
        if age > allowed:
            reasons.append(reason("differential_sync_stale", "the last successful differential sync finished at %s, %d s ago; the schedule "
                                  "expects one every %d s (plus %d s tolerance)" % (_iso(last_ok["finished"]), int(age.total_seconds()),
                                                                                    differential["interval_seconds"], tolerance_seconds),
                                  "find out why the scheduled syncs stopped (service log), then run an extra sync and wait for it"))
    since = [r for r in history if r["operation"] in ("differential", "full") and r["status"] == "failed"
             and (last_ok is None or (r["id"] or 0) > (last_ok["id"] or 0))]
    if since:
        newest = since[0]
        reasons.append(reason("failed_sync_since", "%d HRM sync(s) failed %s, the newest at %s: %s" % (
            len(since), "since the last successful one" if last_ok else "and none succeeded", _iso(newest["finished"] or newest["started"]),
            newest["message"] or "no message"), "fix the cause in the service's operation log and run an extra sync until it succeeds"))
    syncs = [r for r in history if r["operation"] in ("differential", "full") and r["status"] != "running"]
    if syncs and syncs[0]["pending"] > 0:
        reasons.append(reason("hrm_changes_pending", "%d change(s) made in Comarch HRM are not in the ERP database yet" % syncs[0]["pending"],
                              "run an extra sync and wait until nothing is pending: after the update the ERP database wins and "
                              "HRM data not brought in is deleted"))
    return {"passed": not reasons, "reasons": reasons, "facts": facts(service_state, schedule_rows, history_rows, now, profile)}


def judge_after_update(service_state: str, database_version: Optional[str], expected_database_version: str, program_version: str,
                       schedule_rows, history_rows, domain: Mapping[str, Any], now: datetime, profile: Mapping[str, Any]) -> Dict[str, Any]:
    """CM-03 to CM-05: one entry per stage; ``final`` is set when waiting cannot help (a failed full sync)."""
    schedule = schedule_state(schedule_rows, profile)
    history = _history(history_rows, profile)
    stages: Dict[str, Dict[str, Any]] = {}
    reasons: List[Dict[str, str]] = []
    final = False

    converted = _text(database_version) == _text(expected_database_version)
    stages["database_converted"] = {"passed": converted, "detail": "database version %s, program %s expects %s" % (
        database_version or "unknown", program_version, expected_database_version)}
    if not converted:
        reasons.append(reason("database_not_converted", stages["database_converted"]["detail"],
                              "start the updated program and let the conversion wizard convert the databases (CM-03); "
                              "the conversion cannot be undone, only a restore goes back"))

    notice = None
    for row in history:
        if row["operation"] == "version" and row["status"] == "success" and row["program_version"] == _text(program_version):
            notice = row
            break
    reported = service_state == RUNNING and notice is not None
    stages["service_reported_version"] = {"passed": reported, "at": _iso(notice["finished"]) if notice else None, "detail": (
        "service %s; %s" % (service_state, "reported version %s at %s" % (program_version, _iso(notice["finished"])) if notice
                            else "no report of version %s yet" % program_version))}
    if service_state != RUNNING:
        reasons.extend(judge_service(service_state))
    elif notice is None:
        reasons.append(reason("service_not_reported_version", "the service has not reported version %s to Comarch" % program_version,
                              "restart the Automatic Operations Service so that it sends the update notice (CM-04)"))

    after = notice["id"] if notice else None
    full_runs = [r for r in history if r["operation"] == "full" and after is not None and (r["id"] or 0) > after]
    full_done = next((r for r in full_runs if r["status"] == "success"), None)
    full_failed = full_runs[0] if full_runs and full_runs[0]["status"] == "failed" else None
    differential, full = schedule["differential"], schedule["full"]
    scheduled = bool(full and full["enabled"]) and not bool(differential and differential["enabled"])
    stages["full_sync_scheduled"] = {"passed": scheduled or full_done is not None, "detail": "differential %s, full %s" % (
        _switch(differential), _switch(full))}
    if not stages["full_sync_scheduled"]["passed"]:
        reasons.append(reason("full_sync_not_scheduled", "after the update the schedule must hold the mandatory full sync with differential "
                              "syncs off; it has differential %s and full %s" % (_switch(differential), _switch(full)),
                              "open the service's schedule: the conversion sets it; if it did not, schedule the full HRM sync (CM-05)"))

    stages["full_sync_completed"] = {"passed": full_done is not None, "at": _iso(full_done["finished"]) if full_done else None,
                                     "detail": _full_detail(full_runs, full_done)}
    if full_done is None:
        if full_failed is not None:
            final = True
            reasons.append(reason("full_sync_failed", "the full HRM sync after the update failed at %s: %s" % (
                _iso(full_failed["finished"]), full_failed["message"] or "no message"),
                "fix the cause in the service's operation log and schedule the full sync again; the HRM domain stays locked until "
                "it succeeds (CM-05)"))
        else:
            reasons.append(reason("full_sync_not_completed", stages["full_sync_completed"]["detail"],
                                  "wait for the full sync to finish; it can take a while on a large database"))

    stages["domain_open"] = {"passed": bool(domain.get("open")), "detail": domain.get("detail") or ""}
    if not domain.get("open"):
        reasons.append(reason("domain_locked", "the HRM domain %s does not answer yet: %s" % (domain.get("url"), domain.get("detail")),
                              "Comarch unlocks the domain after the full sync succeeds and e-mails the ordering address; "
                              "wait, or contact Comarch if the full sync succeeded long ago"))
    result = facts(service_state, schedule_rows, history_rows, now, profile)
    result.update(database_version=database_version, expected_database_version=expected_database_version, program_version=program_version)
    ordered = [dict({"name": name, "at": None}, **stages[name]) for name in STAGES]
    return {"passed": not reasons, "final": final, "reasons": reasons, "stages": ordered, "facts": result}


def poll_line(stages: Sequence[Mapping[str, Any]], elapsed_seconds: float, timeout_seconds: int) -> str:
    """One line per poll of the after-update wait: the last stage reached, what it waits for, elapsed / timeout."""
    done = [s for s in stages if s["passed"]]
    waiting = next((s for s in stages if not s["passed"]), None)
    prefix = stages[:stages.index(waiting)] if waiting is not None else stages
    reached = prefix[-1]["name"] if prefix else "none"
    what = "all stages passed" if waiting is None else "waiting for %s (%s)" % (waiting["name"], waiting.get("detail") or "")
    return "stage reached: %s (%d of %d); %s; %ds elapsed of %ds" % (
        reached, len(done), len(stages), what, int(elapsed_seconds), int(timeout_seconds))


def _switch(entry: Optional[Mapping[str, Any]]) -> str:
    if entry is None:
        return "missing"
    return "on" if entry["enabled"] else "off"


def _full_detail(full_runs: Sequence[Mapping[str, Any]], done: Optional[Mapping[str, Any]]) -> str:
    if done is not None:
        return "full sync succeeded at %s" % _iso(done["finished"])
    if not full_runs:
        return "no full sync has run since the service reported the new version"
    latest = full_runs[0]
    return "full sync %s (started %s)" % (latest["status"], _iso(latest["started"]))


def judge_after_restore(schedules: Mapping[str, Sequence[Mapping[str, Any]]], sync_database: Optional[str],
                        profile: Mapping[str, Any]) -> Dict[str, Any]:
    """CM-06: which databases are configured for HRM and which sync; refuses to pick one itself.

    ``schedules`` maps each database looked at to its schedule rows (None when the database
    holds no schedule table). ``enable`` names the database whose differential sync must be
    switched on, when ``sync_database`` asks for it and that is safe.
    """
    databases = []
    for name in sorted(schedules):
        rows = schedules[name]
        state = schedule_state(rows or [], profile)
        configured = state["differential"] is not None or state["full"] is not None
        syncing = any(entry is not None and entry["enabled"] for entry in state.values())
        databases.append({"name": name, "configured": configured, "syncing": syncing, "schedule": state})
    configured = [d["name"] for d in databases if d["configured"]]
    syncing = [d["name"] for d in databases if d["syncing"]]
    reasons: List[Dict[str, str]] = []
    enable = None
    if sync_database is not None:
        target = next((d for d in databases if d["name"] == sync_database), None)
        if target is None or not target["configured"]:
            reasons.append(reason("sync_database_not_configured", "database %s is not configured to sync with HRM (configured: %s)" % (
                sync_database, ", ".join(configured) or "none"), "name one of the configured databases in sync_database"))
        else:
            others = [name for name in syncing if name != sync_database]
            if others:
                reasons.append(reason("another_database_syncs", "database(s) %s already sync with HRM; two databases must not sync into one "
                                      "HRM domain" % ", ".join(others), "switch their schedule off first, then rerun"))
            elif not (target["schedule"]["differential"] or {}).get("enabled"):
                enable = sync_database
    elif not configured:
        reasons.append(reason("no_database_configured", "no database here is configured to sync with HRM",
                              "configure the HRM sync in the program, or name the right databases"))
    elif len(syncing) > 1:
        reasons.append(reason("several_databases_sync", "databases %s all sync with HRM" % ", ".join(syncing),
                              "decide which database syncs with HRM and switch the schedule of the others off (CM-06)"))
    elif not syncing:
        reasons.append(reason("syncs_switched_off", "the restore switched the scheduled HRM syncs off; database(s) configured to sync: %s"
                              % ", ".join(configured), "decide which database syncs with HRM and rerun with sync_database: <name> "
                              "(the collection does not guess)"))
    return {"passed": not reasons, "reasons": reasons, "databases": databases, "configured": configured, "syncing": syncing,
            "enable": enable}


def failure_message(phase: str, reasons: Sequence[Mapping[str, str]]) -> str:
    """One message naming every reason and what to do about it."""
    lead = {"before_update": "Do not update Comarch ERP yet", "after_update": "The update is not complete",
            "after_restore": "HRM syncs need a decision after the restore"}.get(phase, phase)
    return "%s: %s" % (lead, "; ".join("%s (%s) - %s" % (r["message"], r["code"], r["remedy"]) for r in reasons))
