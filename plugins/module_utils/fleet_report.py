# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report: one row per site, failed sites first, as JSON and as one self-contained HTML page.

Input is what the ``fleet_report`` role collects from ``hostvars`` at the end of a
K2 or Comarch playbook, one dict per site::

    {"site": "north", "customer": "acme", "reached_end": True,
     "started": "2025-02-12T21:00:00+00:00", "finished": "2025-02-12T21:00:04+00:00",
     "failure": {"task": "...", "msg": "..."} or None,
     "steps": {"preflight": {...the k2_preflight_result fact...}, "backup": {...a registered result...}}}

``build_report`` turns those into rows; ``to_json`` and ``to_html`` render them.
Nothing here does I/O. Secrets never reach a row: values under secret-looking
keys are replaced, ``key=value`` secrets inside text are masked, and any value
listed in ``secrets`` is masked wherever it appears.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import outage as outage_core

REDACTED = "********"

FAILED = "failed"
NO_GO = "no-go"
CHANGED = "changed"
OK = "ok"
GO = "go"
# The order of the report: what needs a person first.
STATUS_ORDER = (FAILED, NO_GO, CHANGED, GO, OK)

# Key names whose values are secrets, whatever they hold. "key" alone is not one of
# them: a finding kind such as "missing_primary_key" is not a secret.
_SECRET_KEY = re.compile(r"(?i)(pass(word|wd|phrase)?$|^pwd$|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential|vault)")
# key=value or key: value secrets inside free text (ODBC connection strings, driver messages).
_SECRET_IN_TEXT = re.compile(r"(?i)\b(pwd|password|passwd|secret|token)(\s*[=:]\s*)(\{(?:[^}]|\}\})*\}|'[^']*'|\"[^\"]*\"|[^;,\s]+)")
_MIN_SECRET_LENGTH = 3


def redact(value: Any, secrets: Sequence[str] = ()) -> Any:
    """A deep copy of ``value`` with every secret replaced by ``REDACTED``."""
    masked = sorted((s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET_LENGTH), key=len, reverse=True)
    return _redact(value, masked)


def _redact(value: Any, secrets: List[str]) -> Any:
    if isinstance(value, dict):
        return {str(k): (REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "") else _redact(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(item, secrets) for item in value]
    if isinstance(value, str):
        text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + m.group(2) + REDACTED, value)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text
    return value


def _parse_time(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration_seconds(started: Any, finished: Any) -> Optional[float]:
    start, end = _parse_time(started), _parse_time(finished)
    if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
        return None
    return round(max((end - start).total_seconds(), 0.0), 1)


# k2_preflight records a site it could not read at all (folder missing, host or database not
# answering) with kind "unknown": the check itself failed, which is not a no-go verdict.
UNREAD_KIND = "unknown"


def _step_status(result: Any) -> str:
    if not isinstance(result, dict):
        return OK
    if result.get("failed") or result.get("unreachable"):
        return FAILED
    if result.get("kind") == UNREAD_KIND and result.get("go") is False:
        return FAILED
    if result.get("skipped"):
        return "skipped"
    if result.get("changed"):
        return CHANGED
    return OK


def count_findings(findings: Any) -> Dict[str, int]:
    """Findings per kind, from a list of ``{"kind": ...}`` dicts, a dict of kind -> count or list."""
    counts: Dict[str, int] = {}
    if isinstance(findings, dict):
        for kind, value in findings.items():
            if isinstance(value, bool):
                value = int(value)
            counts[str(kind)] = len(value) if isinstance(value, (list, tuple, dict)) else int(value or 0)
    elif isinstance(findings, (list, tuple)):
        for item in findings:
            kind = item.get("kind", "other") if isinstance(item, dict) else str(item)
            counts[str(kind)] = counts.get(str(kind), 0) + 1
    return {kind: n for kind, n in counts.items() if n}


def _collect_findings(steps: Dict[str, Any]) -> Dict[str, int]:
    total: Dict[str, int] = {}
    for result in steps.values():
        if not isinstance(result, dict):
            continue
        for source in (result.get("findings"), result.get("findings_by_kind")):
            for kind, n in count_findings(source).items():
                total[kind] = total.get(kind, 0) + n
    return dict(sorted(total.items()))


def _backup_manifest(steps: Dict[str, Any]) -> Any:
    for result in steps.values():
        if isinstance(result, dict):
            for key in ("backup_manifest", "manifest"):
                if result.get(key):
                    return result[key]
    return None


def run_state(steps: Dict[str, Any]) -> Dict[str, Any]:
    """The site's recorded run state (``<result>.state``: started, finished, status, steps, outage), or {}."""
    for result in steps.values():
        if isinstance(result, dict) and isinstance(result.get("state"), dict):
            return result["state"]
    return {}


_FAILED_RESULTS = ("failed", "error", "aborted")


def _state_step_status(result: Any) -> str:
    text = str(result or "").lower()
    if text in _FAILED_RESULTS:
        return FAILED
    if text in ("", "running", "started"):
        return "unfinished"
    return text


def _window_split(step: Dict[str, Any], state: Dict[str, Any]) -> Optional[Dict[str, float]]:
    """The step's seconds before the ban, inside the outage and after it (``outage.split``); None without times."""
    start, end = _parse_time(step.get("started")), _parse_time(step.get("ended"))
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None or end < start:
        return None
    recorded = state.get("outage") if isinstance(state.get("outage"), dict) else {}
    ban_on, ban_off = _parse_time(recorded.get("ban_on")), _parse_time(recorded.get("ban_off"))
    parts = outage_core.split(start, end, ban_on if ban_on and ban_on.tzinfo else None, ban_off if ban_off and ban_off.tzinfo else None)
    return {name: round(value, 1) for name, value in parts.items()}


def _steps(steps: Dict[str, Any], state: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each step with its result, start, end and duration: from the run state, else one entry per reported result."""
    recorded = state.get("steps")
    if isinstance(recorded, list) and recorded:
        out = []
        for step in recorded:
            if not isinstance(step, dict):
                continue
            out.append({
                "name": str(step.get("name") or "?"),
                "status": _state_step_status(step.get("result")),
                "started": step.get("started"),
                "ended": step.get("ended"),
                "duration_seconds": duration_seconds(step.get("started"), step.get("ended")),
                "window": step.get("window"),
                "split": _window_split(step, state),
                "msg": step.get("msg") or None,
            })
        return out
    out = []
    for name, result in steps.items():
        out.append({"name": name, "status": _step_status(result)})
        if isinstance(result, dict) and isinstance(result.get("steps_run"), list):
            # a role that ran several steps lists them (without their times): show each one
            out.extend({"name": str(done), "status": OK} for done in result["steps_run"])
            if result.get("failed") and result.get("step"):
                out.append({"name": str(result["step"]), "status": FAILED})
    return out


def _outage(state: Dict[str, Any], finished: Any) -> Optional[Dict[str, Any]]:
    """Ban on -> ban off; while the ban is still on, how long it has been on at the end of the run; the steps' time
    before, inside and after the outage (``windows``, from the run state) and the run's outage mode."""
    outage = state.get("outage")
    if not isinstance(outage, dict) or not outage.get("ban_on"):
        return None
    ban_on, ban_off = outage.get("ban_on"), outage.get("ban_off")
    seconds = outage.get("seconds") if ban_off else None
    if seconds is None:
        seconds = duration_seconds(ban_on, ban_off or finished)
    return {"ban_on": ban_on, "ban_off": ban_off, "seconds": seconds, "still_on": not ban_off,
            "windows": outage.get("windows"), "mode": (state.get("decisions") or {}).get("outage_mode")}


# A note the preflight wrote before the run that a finished step of the same run makes untrue:
# (the start of the note, the step names that settle it).
STALE_NOTES = (
    ("no verified backup", ("backup", "backup_after_check", "backup_again")),
    ("no runnable K2 (torso)", ("install",)),
)
_DONE = (OK, CHANGED, "done")


def current_notes(notes: Iterable[Any], steps: List[Dict[str, Any]]) -> List[str]:
    """The notes that are still true after the run: a note a finished step has settled is left out."""
    done = {step["name"] for step in steps if step.get("status") in _DONE}
    kept = []
    for note in notes:
        text = str(note)
        if any(text.startswith(prefix) and done.intersection(names) for prefix, names in STALE_NOTES):
            continue
        kept.append(text)
    return kept


def _failure_text(failure: Any, steps: Dict[str, Any]) -> Optional[str]:
    # The failed step's own words first: the play-level failure usually repeats them with more around.
    for name, result in steps.items():
        if _step_status(result) == FAILED:
            why = result.get("msg") or "; ".join(str(r) for r in result.get("reasons") or []) or "failed"
            return "%s: %s" % (result.get("step") or name, why)
    if isinstance(failure, dict):
        task, msg = failure.get("task"), failure.get("msg") or "failed"
        return "%s: %s" % (task, msg) if task else str(msg)
    if failure:
        return str(failure)
    return None


def _is_no_go(preflight: Dict[str, Any], steps: Dict[str, Any], state: Dict[str, Any]) -> bool:
    if str(state.get("status") or "").lower() == NO_GO:
        return True
    if any(isinstance(r, dict) and r.get("status") == NO_GO for r in steps.values()):
        return True
    return bool(preflight) and not preflight.get("go", True)


def _next_action(status: str, site: str, preflight: Dict[str, Any], steps: Dict[str, Any]) -> str:
    for result in steps.values():
        if isinstance(result, dict) and isinstance(result.get("next"), str) and result["next"]:
            return result["next"]
    if status == FAILED:
        return "Fix the cause, then run again for this site only: --limit %s" % site
    if status == NO_GO:
        return "Resolve the reasons, then run the precheck again for this site (--limit %s)" % site
    target = preflight.get("target_version")
    if status == GO and target:
        return "Ready: reinstall to %s (%s upgrade)" % (target, preflight.get("upgrade_kind") or "?")
    if status == GO:
        return "Nothing to do; give a target version to plan a reinstall"
    return "Done; check the site's users can log in"


def _mode(steps: Dict[str, Any], state: Dict[str, Any]) -> Optional[str]:
    for result in steps.values():
        if isinstance(result, dict) and result.get("mode"):
            return str(result["mode"])
    decisions = state.get("decisions")
    return str(decisions["mode"]) if isinstance(decisions, dict) and decisions.get("mode") else None


def build_row(site_input: Dict[str, Any], secrets: Sequence[str] = ()) -> Dict[str, Any]:
    """One report row for one site (see the module docstring for the input)."""
    site = str(site_input.get("site") or "?")
    steps = {str(k): v for k, v in (site_input.get("steps") or {}).items() if v is not None}
    preflight = steps.get("preflight") if isinstance(steps.get("preflight"), dict) else {}
    state = run_state(steps)
    failure = _failure_text(site_input.get("failure"), steps)
    if failure is None and str(state.get("status") or "").lower() in _FAILED_RESULTS:
        failed_steps = [s for s in state.get("steps") or [] if isinstance(s, dict) and _state_step_status(s.get("result")) == FAILED]
        failure = ("%s: %s" % (failed_steps[-1].get("name"), failed_steps[-1].get("msg") or "failed")) if failed_steps else "the run failed"
    if failure is None and not site_input.get("reached_end", True):
        failure = "the site stopped before the end of the run (unreachable or failed outside a reported step)"
    if failure is None and not steps:
        failure = "no result was recorded for the site"

    if failure is not None:
        status = FAILED
    elif _is_no_go(preflight, steps, state):
        status = NO_GO
    elif any(_step_status(r) == CHANGED for r in steps.values()):
        status = CHANGED
    elif preflight:
        status = GO
    else:
        status = OK

    # The site's own times (from its run state) win over the times the play noted around it.
    started = state.get("started") or site_input.get("started")
    finished = state.get("finished") or site_input.get("finished")
    step_rows = _steps(steps, state)
    row = {
        "site": site,
        "customer": site_input.get("customer"),
        "status": status,
        "go": bool(preflight.get("go")) if preflight else None,
        "version_from": preflight.get("version"),
        "version_to": preflight.get("target_version") or None,
        "upgrade_kind": preflight.get("upgrade_kind"),
        "mode": _mode(steps, state),
        "kind": preflight.get("kind"),
        "production_mandants": list(preflight.get("production_mandants") or []),
        "started": started,
        "finished": finished,
        "duration_seconds": duration_seconds(started, finished),
        "steps": step_rows,
        "outage": _outage(state, finished),
        "findings": _collect_findings(steps),
        "backup_manifest": _backup_manifest(steps),
        "failure": failure,
        "reasons": list(preflight.get("reasons") or []),
        "notes": current_notes(preflight.get("notes") or [], step_rows),
        "next": _next_action(status, site, preflight, steps),
    }
    row["summary_line"] = summary_line(row)
    return redact(row, secrets)


def format_duration(seconds: Any) -> str:
    """``4.5 s``, ``2 min 05 s``, ``1 h 02 min``; empty when unknown."""
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 60:
        return "%.1f s" % seconds
    whole = int(round(seconds))
    if whole < 3600:
        return "%d min %02d s" % (whole // 60, whole % 60)
    return "%d h %02d min" % (whole // 3600, (whole % 3600) // 60)


def summary_line(row: Dict[str, Any]) -> str:
    """One line per site for the job output; every fact appears once."""
    parts = ["%-12s %-7s" % (row["site"], str(row["status"]).upper())]
    versions = row.get("version_from") or "?"
    if row.get("version_to"):
        versions += " -> " + row["version_to"]
    how = ", ".join(str(x) for x in (row.get("upgrade_kind"), row.get("mode")) if x)
    parts.append(versions + (" (%s)" % how if how else ""))
    timing = []
    if row.get("duration_seconds") is not None:
        timing.append("took " + format_duration(row["duration_seconds"]))
    outage = row.get("outage")
    if outage:
        text = ("outage %s (ban still on)" if outage["still_on"] else "outage %s") % format_duration(outage["seconds"])
        if outage.get("mode"):
            text += " [%s]" % outage["mode"]
        timing.append(text)
    said = " ".join(parts) + "".join(", " + text for text in timing)
    details = []
    if row.get("failure"):
        details.append("failed at " + row["failure"])
    elif row["status"] == NO_GO:
        details.append("; ".join(row.get("reasons") or []))
    elif row.get("steps"):
        details.append("steps: " + ", ".join(s["name"] for s in row["steps"]))
    next_action = row.get("next") or ""
    for text in details:
        if text and text not in said:
            said += "; " + text
    if next_action and next_action not in said:
        said += " NEXT: " + next_action
    return said


def sort_rows(rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Failed sites first, then no-go, then the rest; by customer and site within each."""
    def order(row):
        status = row.get("status")
        rank = STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)
        return (rank, str(row.get("customer") or ""), str(row.get("site")))
    return sorted(rows, key=order)


def _count(rows: List[Dict[str, Any]]) -> Dict[str, int]:
    summary = {status: 0 for status in STATUS_ORDER}
    for row in rows:
        summary[row["status"]] = summary.get(row["status"], 0) + 1
    return summary


def build_report(sites: Iterable[Dict[str, Any]], title: str, generated_at: str, playbook: Optional[str] = None,
                 secrets: Sequence[str] = ()) -> Dict[str, Any]:
    """The whole report: title, time, counts per status, and the sorted rows."""
    rows = sort_rows(build_row(site, secrets) for site in sites)
    return {
        "title": redact(title, secrets),
        "generated_at": generated_at,
        "playbook": playbook,
        "sites": len(rows),
        "summary": _count(rows),
        "rows": rows,
    }


class MergeError(ValueError):
    """The reports given to ``merge_reports`` cannot be put together."""


def merge_reports(reports: Iterable[Dict[str, Any]], title: Optional[str], generated_at: str) -> Dict[str, Any]:
    """One fleet report from the reports of several slices of one run (AWX job slicing).

    A site in two slices keeps the row of the newer report. The rows are sorted again
    and counted again; ``parts`` lists the reports merged.
    """
    newest: Dict[str, Any] = {}
    parts = []
    titles = []
    for report in sorted(reports, key=lambda r: str(r.get("generated_at") or "")):
        if not isinstance(report, dict) or not isinstance(report.get("rows"), list):
            raise MergeError("not a fleet report (no rows): %r" % (str(report)[:80],))
        parts.append({"generated_at": report.get("generated_at"), "sites": len(report["rows"]), "playbook": report.get("playbook")})
        if report.get("title") and report["title"] not in titles:
            titles.append(report["title"])
        for row in report["rows"]:
            newest[str(row.get("site"))] = row
    if not parts:
        raise MergeError("no reports to merge")
    rows = sort_rows(newest.values())
    playbooks = sorted({str(p["playbook"]) for p in parts if p.get("playbook")})
    return {
        "title": title or " + ".join(titles) or "Fleet report",
        "generated_at": generated_at,
        "playbook": ", ".join(playbooks) or None,
        "sites": len(rows),
        "summary": _count(rows),
        "rows": rows,
        "parts": parts,
    }


def to_json(report: Dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def short_path(value: Any, keep: int = 2) -> str:
    """The last ``keep`` parts of a path behind an ellipsis (``.../k2_reinstall/north.json``); short paths unchanged."""
    text = "" if value is None else str(value)
    parts = [p for p in re.split(r"[\\/]", text) if p]
    if len(parts) <= keep + 1 or len(text) <= 40:
        return text
    separator = "\\" if "\\" in text and "/" not in text else "/"
    return "\u2026" + separator + separator.join(parts[-keep:])
