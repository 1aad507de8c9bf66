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

import html
import json
import re
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Sequence

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


def _failure_text(failure: Any, steps: Dict[str, Any]) -> Optional[str]:
    if isinstance(failure, dict):
        task, msg = failure.get("task"), failure.get("msg") or "failed"
        return "%s: %s" % (task, msg) if task else str(msg)
    if failure:
        return str(failure)
    for name, result in steps.items():
        if _step_status(result) == FAILED:
            why = result.get("msg") or "; ".join(str(r) for r in result.get("reasons") or []) or "failed"
            return "%s: %s" % (name, why)
    return None


def _next_action(status: str, site: str, preflight: Dict[str, Any], failure: Optional[str], steps: Dict[str, Any]) -> str:
    for result in steps.values():
        if isinstance(result, dict) and isinstance(result.get("next"), str) and result["next"]:
            return result["next"]
    if status == FAILED:
        return "Fix the failure (%s), then run again for this site only: --limit %s" % (failure or "see the job output", site)
    if status == NO_GO:
        return "Resolve the no-go reasons, then run the precheck again for this site (--limit %s)" % site
    target = preflight.get("target_version")
    if status == GO and target:
        return "Ready: reinstall to %s (%s upgrade)" % (target, preflight.get("upgrade_kind") or "?")
    if status == GO:
        return "Nothing to do; give a target version to plan a reinstall"
    return "Done; check the site's users can log in"


def build_row(site_input: Dict[str, Any], secrets: Sequence[str] = ()) -> Dict[str, Any]:
    """One report row for one site (see the module docstring for the input)."""
    site = str(site_input.get("site") or "?")
    steps = {str(k): v for k, v in (site_input.get("steps") or {}).items() if v is not None}
    preflight = steps.get("preflight") if isinstance(steps.get("preflight"), dict) else {}
    failure = _failure_text(site_input.get("failure"), steps)
    if failure is None and not site_input.get("reached_end", True):
        failure = "the site stopped before the end of the run (unreachable or failed outside a reported step)"
    if failure is None and not steps:
        failure = "no result was recorded for the site"

    if failure is not None:
        status = FAILED
    elif preflight and not preflight.get("go", True):
        status = NO_GO
    elif any(_step_status(r) == CHANGED for r in steps.values()):
        status = CHANGED
    elif preflight:
        status = GO
    else:
        status = OK

    row = {
        "site": site,
        "customer": site_input.get("customer"),
        "status": status,
        "go": bool(preflight.get("go")) if preflight else None,
        "version_from": preflight.get("version"),
        "version_to": preflight.get("target_version") or None,
        "upgrade_kind": preflight.get("upgrade_kind"),
        "kind": preflight.get("kind"),
        "production_mandants": list(preflight.get("production_mandants") or []),
        "steps": [{"name": name, "status": _step_status(result)} for name, result in steps.items()],
        "duration_seconds": duration_seconds(site_input.get("started"), site_input.get("finished")),
        "findings": _collect_findings(steps),
        "backup_manifest": _backup_manifest(steps),
        "failure": failure,
        "reasons": list(preflight.get("reasons") or []),
        "notes": list(preflight.get("notes") or []),
        "next": _next_action(status, site, preflight, failure, steps),
    }
    return redact(row, secrets)


def sort_rows(rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Failed sites first, then no-go, then the rest; by customer and site within each."""
    def order(row):
        status = row.get("status")
        rank = STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)
        return (rank, str(row.get("customer") or ""), str(row.get("site")))
    return sorted(rows, key=order)


def build_report(sites: Iterable[Dict[str, Any]], title: str, generated_at: str, playbook: Optional[str] = None,
                 secrets: Sequence[str] = ()) -> Dict[str, Any]:
    """The whole report: title, time, counts per status, and the sorted rows."""
    rows = sort_rows(build_row(site, secrets) for site in sites)
    summary = {status: 0 for status in STATUS_ORDER}
    for row in rows:
        summary[row["status"]] = summary.get(row["status"], 0) + 1
    return {
        "title": redact(title, secrets),
        "generated_at": generated_at,
        "playbook": playbook,
        "sites": len(rows),
        "summary": summary,
        "rows": rows,
    }


def to_json(report: Dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1b1f23;background:#fff}
h1{font-size:1.4rem;margin:0 0 .3rem}
.meta{color:#57606a;margin:0 0 1rem}
.summary span{display:inline-block;margin:0 .4rem .8rem 0;padding:.2rem .6rem;border-radius:1rem;font-weight:600}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
.status{font-weight:700;text-transform:uppercase;white-space:nowrap}
.failed{background:#ffebe9}.failed .status,.s-failed{color:#a40e26}
.no-go{background:#fff8c5}.no-go .status,.s-no-go{color:#7d4e00}
.go .status,.ok .status,.changed .status,.s-go,.s-ok,.s-changed{color:#116329}
.s-failed{background:#ffebe9}.s-no-go{background:#fff8c5}.s-go,.s-ok,.s-changed{background:#dafbe1}
ul{margin:0;padding-left:1.1rem}
.next{font-weight:600}
code{font-family:ui-monospace,monospace;font-size:.9em}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _items(values: Iterable[Any]) -> str:
    items = ["<li>%s</li>" % _e(v) for v in values]
    return "<ul>%s</ul>" % "".join(items) if items else ""


def _cell_details(row: Dict[str, Any]) -> str:
    parts = []
    if row.get("failure"):
        parts.append("<li><b>failure:</b> %s</li>" % _e(row["failure"]))
    parts.extend("<li><b>reason:</b> %s</li>" % _e(r) for r in row.get("reasons") or [])
    parts.extend("<li>note: %s</li>" % _e(n) for n in row.get("notes") or [])
    if row.get("production_mandants"):
        parts.append("<li>mandants: %s</li>" % _e(", ".join(row["production_mandants"])))
    return "<ul>%s</ul>" % "".join(parts) if parts else ""


def _manifest(value: Any) -> str:
    if value in (None, "", {}, []):
        return ""
    if isinstance(value, str):
        return "<code>%s</code>" % _e(value)
    return "<code>%s</code>" % _e(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


def to_html(report: Dict[str, Any]) -> str:
    """One self-contained page: inline CSS, no scripts, no external resources, every text escaped."""
    rows_html = []
    for row in report["rows"]:
        versions = _e(row.get("version_from") or "?")
        if row.get("version_to"):
            versions += " &rarr; " + _e(row["version_to"])
        duration = "" if row.get("duration_seconds") is None else "%.1f s" % row["duration_seconds"]
        rows_html.append(
            '<tr class="site %s" data-site="%s" data-status="%s">'
            '<td>%s</td><td>%s</td><td class="status">%s</td><td>%s</td><td>%s</td><td>%s</td>'
            '<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="next">%s</td></tr>' % (
                _e(row["status"]), _e(row["site"]), _e(row["status"]),
                _e(row["site"]), _e(row.get("customer") or ""), _e(row["status"]), versions, _e(row.get("upgrade_kind") or ""),
                _items("%s: %s" % (s["name"], s["status"]) for s in row.get("steps") or []), _e(duration),
                _items("%s: %d" % kv for kv in (row.get("findings") or {}).items()), _manifest(row.get("backup_manifest")),
                _cell_details(row), _e(row.get("next"))))
    summary = "".join('<span class="s-%s">%s: %d</span>' % (_e(status), _e(status), count)
                      for status, count in report["summary"].items() if count)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>%(title)s</title><style>%(css)s</style></head>\n<body>\n"
        "<h1>%(title)s</h1>\n<p class=\"meta\">%(sites)d sites &middot; %(when)s%(playbook)s</p>\n"
        "<p class=\"summary\">%(summary)s</p>\n"
        "<table id=\"fleet\"><thead><tr><th>Site</th><th>Customer</th><th>Result</th><th>Version</th><th>Upgrade</th>"
        "<th>Steps done</th><th>Duration</th><th>Findings</th><th>Backup</th><th>Details</th><th>Next</th></tr></thead>\n"
        "<tbody>\n%(rows)s\n</tbody></table>\n</body></html>\n" % {
            "title": _e(report["title"]), "css": _CSS, "sites": report["sites"], "when": _e(report["generated_at"]),
            "playbook": (" &middot; " + _e(report["playbook"])) if report.get("playbook") else "",
            "summary": summary, "rows": "\n".join(rows_html)})
