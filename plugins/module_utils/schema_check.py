# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The structure check of all databases (runbook K2-08): which databases, which script, the result.

The action plugin ``k2_schema_check`` does the I/O (scripts from the K2 host, catalogs from
the databases, files on the controller); this module decides everything else:

* ``targets(conf_database, mandants, only)`` -- CONF, then every mandant of ``FIRMY`` (INIT and
  DEMO included) in code order, or only those a ``databases`` list names (by code or name);
* ``script_kind(target)`` and ``konverze_for(files, platform, db_kind)`` -- the K2t script
  (CONF or company) and the conversion files a database's repairs may come from;
* ``check_database(...)`` -- the findings and the repair plan of one database;
* ``result(checks)`` -- the machine-readable result: findings, counts per kind and per
  database (standard and custom apart), errors, ``consistent``;
* ``render_markdown(result)`` / ``render_html(result)`` -- the human report.

A database that cannot be read is an error of that database, never a finding and never
consistent; the others are still checked. ``consistent`` is true only when every database
was read and none has a finding.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from ansible_collections.erpops.upgrade.plugins.module_utils import conversions
from ansible_collections.erpops.upgrade.plugins.module_utils.sql import repair, schema_diff
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import DdlResult
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Schema, key

DB_KINDS = ("conf", "company")
REPORT_FORMATS = ("markdown", "html")
_PLSQL = re.compile(r"(?is)(BEGIN|DECLARE|CREATE\s+(OR\s+REPLACE\s+)?(PROCEDURE|FUNCTION|TRIGGER|PACKAGE|TYPE))\b")


@dataclass(frozen=True)
class Target:
    """One database to check: its K2 code (CONF or the mandant's), name, kind and role."""

    code: str
    database: str
    kind: str  # "conf" or "company"
    role: str  # "conf", "production", "system" (INIT, DEMO) or "test"

    def to_dict(self) -> dict:
        return {"code": self.code, "database": self.database, "kind": self.kind, "role": self.role}


@dataclass
class DatabaseCheck:
    """What happened to one database."""

    target: Target
    findings: List[schema_diff.Finding] = field(default_factory=list)
    plan: List[repair.RepairStep] = field(default_factory=list)
    error: Optional[str] = None
    round_trips: int = 0
    script: Optional[str] = None
    snapshot_saved: Optional[str] = None
    taken_at: Optional[str] = None
    applied: List[repair.RepairStep] = field(default_factory=list)
    findings_before_apply: Optional[int] = None
    fingerprint: Optional[str] = None
    unchanged: bool = False

    @property
    def consistent(self) -> bool:
        return self.error is None and not self.findings

    def to_dict(self) -> dict:
        data = self.target.to_dict()
        data.update({
            "consistent": self.consistent, "findings": len(self.findings), "error": self.error, "round_trips": self.round_trips,
            "script": self.script, "taken_at": self.taken_at, "snapshot_saved": self.snapshot_saved,
            "applied": len(self.applied), "findings_before_apply": self.findings_before_apply,
            "fingerprint": self.fingerprint, "unchanged": self.unchanged,
        })
        return data


def catalog_fingerprint(rows) -> str:
    """SHA-256 of a database's catalog as the server reports it: the rows of the catalog reads (``Database.catalog_rows``:
    tables, columns, keys, indexes, full-text), in the order the reads return them.

    Equal fingerprints: the structure is what it was, so an earlier verdict on it still holds. Taken from the rows, not
    from the catalog model: the model's dict form costs several times the reads themselves on a database of 200 tables.
    """
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def targets(conf_database: str, mandants: Sequence[Mapping[str, str]], only: Optional[Iterable[str]] = None) -> List[Target]:
    """CONF and every mandant (``k2_mandants.classify`` rows), or those ``only`` names by code or database name.

    A name in ``only`` that is neither is refused, so that a typo does not pass for a clean check.
    """
    found = [Target("CONF", conf_database, "conf", "conf")]
    for mandant in sorted(mandants, key=lambda m: key(m["code"])):
        if not mandant.get("database"):
            continue
        found.append(Target(mandant["code"], mandant["database"], "company", mandant.get("role") or "production"))
    if only is None:
        return found
    wanted = OrderedDict((key(name), name) for name in only)
    chosen = [t for t in found if key(t.code) in wanted or key(t.database) in wanted]
    known = set(key(t.code) for t in chosen) | set(key(t.database) for t in chosen)
    unknown = [name for k, name in wanted.items() if k not in known]
    if unknown:
        raise ValueError("databases names %s, which %s neither CONF nor a mandant of FIRMY (known: %s)" % (
            ", ".join(repr(n) for n in unknown), "is" if len(unknown) == 1 else "are",
            ", ".join("%s (%s)" % (t.code, t.database) for t in found)))
    return chosen


def konverze_for(files: Mapping[str, str], platform: str, db_kind: str, tokens: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The conversion files (name -> text) of ``platform`` for a ``conf`` or ``company`` database."""
    chosen = {}
    for name, text in files.items():
        try:
            parsed = conversions.parse_name(name, tokens)
        except ValueError:
            continue
        if parsed.platform == platform and parsed.db_kind == db_kind:
            chosen[name] = text
    return chosen


def is_konverze_name(name: str, platform: str, tokens: Optional[Mapping[str, str]] = None) -> bool:
    try:
        return conversions.parse_name(name, tokens).platform == platform
    except ValueError:
        return False


def check_output(findings: Sequence[schema_diff.Finding]) -> str:
    """The check's output for one database, one finding a line: what K2 support asks for."""
    return "\n".join(f.message for f in findings)


def compare(target: Target, expected: DdlResult, actual: Schema, custom_tables: Iterable[str] = (),
            custom_prefixes: Iterable[str] = (), fulltext: bool = True) -> DatabaseCheck:
    """The findings of one database against its K2t script (no repair plan yet)."""
    findings = schema_diff.diff(expected.schema, actual, target.database, custom_tables=custom_tables,
                                custom_prefixes=custom_prefixes, problems=expected.problems, fulltext=fulltext)
    return DatabaseCheck(target, findings, taken_at=actual.taken_at)


def check_database(target: Target, expected: DdlResult, actual: Schema, custom_tables: Iterable[str] = (),
                   custom_prefixes: Iterable[str] = (), fulltext: bool = True, konverze: Optional[Mapping[str, str]] = None,
                   k2_version: Optional[str] = None, platform: Optional[str] = None) -> DatabaseCheck:
    """Compare one database with its K2t script and plan its repairs (INIT and DEMO: recreate)."""
    check = compare(target, expected, actual, custom_tables, custom_prefixes, fulltext)
    check.plan = plan_for(check, expected, konverze, k2_version, platform)
    return check


def plan_for(check: DatabaseCheck, expected: DdlResult, konverze: Optional[Mapping[str, str]], k2_version: Optional[str],
             platform: Optional[str]) -> List[repair.RepairStep]:
    recreate = [check.target.database] if check.target.role == "system" else []
    return repair.plan(check.findings, ddl=expected, konverze=konverze or {}, k2_version=k2_version, recreate_databases=recreate,
                       check_output=check_output(check.findings), dialect=platform or expected.schema.platform)


def executable_sql(sql: str, platform: str) -> str:
    """A repair statement as the driver takes it: Oracle refuses the ``;`` that ends a SQL statement in a script.

    PL/SQL (a ``BEGIN``/``DECLARE`` block, ``CREATE [OR REPLACE] PROCEDURE`` and the like) keeps it.
    """
    text = sql.strip()
    if platform == "oracle" and text.endswith(";") and not _PLSQL.match(text):
        return text[:-1].rstrip()
    return text


def needs_konverze(findings: Iterable[schema_diff.Finding]) -> bool:
    """Whether the repair plan searches the conversion scripts (a standard column finding)."""
    return any(f.kind in ("missing_column", "wrong_type", "wrong_length", "nullability") and not f.custom for f in findings)


def _count(findings: Iterable[schema_diff.Finding]) -> dict:
    findings = list(findings)
    return {"total": len(findings), "by_kind": dict(schema_diff.counts_by_kind(findings))}


def result(checks: Sequence[DatabaseCheck]) -> dict:
    """The machine-readable result of a check of ``checks`` (in their order)."""
    findings = [f for c in checks for f in c.findings]
    standard = [f for f in findings if not f.custom]
    custom = [f for f in findings if f.custom]
    by_database = OrderedDict((c.target.database, len(c.findings)) for c in checks)
    errors = [{"code": c.target.code, "database": c.target.database, "error": c.error} for c in checks if c.error]
    return {
        "consistent": bool(checks) and all(c.consistent for c in checks),
        "findings": [f.to_dict() for f in findings],
        "counts": {
            "total": len(findings),
            "by_kind": dict(schema_diff.counts_by_kind(findings)),
            "by_database": dict(by_database),
            "standard": _count(standard),
            "custom": _count(custom),
            "errors": len(errors),
        },
        "databases": [c.to_dict() for c in checks],
        "errors": errors,
        "repair_plan": [s.to_dict() for c in checks for s in c.plan],
    }


# -- the human report ------------------------------------------------------------------------

def _cell(value) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    text = "" if value is None else str(value)
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _heading(data: dict, title: str) -> List[str]:
    counts = data["counts"]
    verdict = "consistent" if data["consistent"] else "NOT consistent"
    lines = ["# %s" % title, ""]
    for label, value in (("Site", data.get("site")), ("K2 version", data.get("k2_version")), ("Platform", data.get("platform")),
                         ("Checked at", data.get("checked_at"))):
        if value:
            lines.append("- %s: %s" % (label, _cell(value)))
    lines.append("- Result: **%s** (%d finding(s): %d standard, %d custom; %d database(s) with errors)" % (
        verdict, counts["total"], counts["standard"]["total"], counts["custom"]["total"], counts["errors"]))
    return lines + [""]


def render_markdown(data: dict, title: str = "K2 structure check (K2-08)") -> str:
    """The report as Markdown: verdict, databases, counts per kind, findings, repair plan."""
    lines = _heading(data, title)
    lines += ["## Databases", "", "| Code | Database | Kind | Role | Findings | Result |", "|---|---|---|---|---:|---|"]
    for db in data["databases"]:
        outcome = "error: %s" % db["error"] if db["error"] else ("consistent" if db["consistent"] else "inconsistent")
        cells = (_cell(db["code"]), _cell(db["database"]), db["kind"], db["role"], db["findings"], _cell(outcome))
        lines.append("| %s | %s | %s | %s | %d | %s |" % cells)
    lines.append("")
    if data["counts"]["by_kind"]:
        lines += ["## Findings per kind", "", "| Kind | Count |", "|---|---:|"]
        lines += ["| %s | %d |" % (kind, count) for kind, count in data["counts"]["by_kind"].items()]
        lines.append("")
    for label, custom in (("Findings in standard tables", False), ("Findings in custom tables (fix by Deploy in Object designer)", True)):
        rows = [f for f in data["findings"] if bool(f["custom"]) == custom]
        if not rows:
            continue
        lines += ["## %s" % label, "", "| Database | Kind | Table | Column | Index | Expected | Actual |", "|---|---|---|---|---|---|---|"]
        for f in rows:
            lines.append("| %s |" % " | ".join(_cell(f[k]) for k in ("database", "kind", "table", "column", "index", "expected", "actual")))
        lines.append("")
    if data["repair_plan"]:
        lines += ["## Repair plan", "", "Nothing of this has run unless the task said `apply: true` and selected its kind.", ""]
        for number, step in enumerate(data["repair_plan"], 1):
            indent = " " * (len(str(number)) + 2)  # continuation lines of a list item align with its text
            lines.append("%d. **%s** on %s%s (finding: %s)%s" % (
                number, step["kind"], _cell(step["database"]), ", table %s" % _cell(step["table"]) if step["table"] else "",
                step["finding"], " from %s" % _cell(step["source"]) if step["source"] else ""))
            if step["note"]:
                lines.append(indent + _cell(step["note"]))
            if step["sql"]:
                fence = "````" if "```" in step["sql"] else "```"
                lines += ["", indent + fence + "sql"] + [indent + line for line in step["sql"].splitlines()] + [indent + fence, ""]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _html_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    head = "".join("<th>%s</th>" % _e(h) for h in headers)
    body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _e(v) for v in row) for row in rows)
    return "<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>" % (head, body)


def render_html(data: dict, title: str = "K2 structure check (K2-08)") -> str:
    """The report as one self-contained HTML page; every value is escaped."""
    counts = data["counts"]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>%s</title>' % _e(title),
             "<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;"
             "text-align:left;vertical-align:top}.bad{color:#a00}.good{color:#070}pre{background:#f4f4f4;padding:4px}</style>",
             "</head><body>", "<h1>%s</h1>" % _e(title), "<ul>"]
    for label, value in (("Site", data.get("site")), ("K2 version", data.get("k2_version")), ("Platform", data.get("platform")),
                         ("Checked at", data.get("checked_at"))):
        if value:
            parts.append("<li>%s: %s</li>" % (_e(label), _e(value)))
    parts.append('<li>Result: <strong class="%s">%s</strong> (%d finding(s): %d standard, %d custom; %d database(s) with errors)</li></ul>' % (
        "good" if data["consistent"] else "bad", "consistent" if data["consistent"] else "NOT consistent", counts["total"],
        counts["standard"]["total"], counts["custom"]["total"], counts["errors"]))
    parts.append("<h2>Databases</h2>")
    parts.append(_html_table(("Code", "Database", "Kind", "Role", "Findings", "Result"), [
        (db["code"], db["database"], db["kind"], db["role"], db["findings"],
         "error: %s" % db["error"] if db["error"] else ("consistent" if db["consistent"] else "inconsistent")) for db in data["databases"]]))
    if counts["by_kind"]:
        parts.append("<h2>Findings per kind</h2>")
        parts.append(_html_table(("Kind", "Count"), counts["by_kind"].items()))
    for label, custom in (("Findings in standard tables", False), ("Findings in custom tables (fix by Deploy in Object designer)", True)):
        rows = [f for f in data["findings"] if bool(f["custom"]) == custom]
        if rows:
            parts.append("<h2>%s</h2>" % _e(label))
            parts.append(_html_table(("Database", "Kind", "Table", "Column", "Index", "Expected", "Actual"),
                                     [[f[k] for k in ("database", "kind", "table", "column", "index", "expected", "actual")] for f in rows]))
    if data["repair_plan"]:
        parts.append("<h2>Repair plan</h2><p>Nothing of this has run unless the task said <code>apply: true</code> and selected its kind.</p><ol>")
        for step in data["repair_plan"]:
            parts.append("<li><strong>%s</strong> on %s%s (finding: %s)%s<br>%s%s</li>" % (
                _e(step["kind"]), _e(step["database"]), ", table %s" % _e(step["table"]) if step["table"] else "", _e(step["finding"]),
                " from %s" % _e(step["source"]) if step["source"] else "", _e(step["note"]),
                "<pre>%s</pre>" % _e(step["sql"]) if step["sql"] else ""))
        parts.append("</ol>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(data: dict, report_format: str) -> str:
    if report_format not in REPORT_FORMATS:
        raise ValueError("report_format must be one of %s, got %r" % (", ".join(REPORT_FORMATS), report_format))
    return render_html(data) if report_format == "html" else render_markdown(data)


def report_format_for(path: str, report_format: Optional[str] = None) -> str:
    """The format the user asked for, else by the file's extension (``.html``/``.htm``), else Markdown."""
    if report_format:
        return report_format
    return "html" if path.lower().endswith((".html", ".htm")) else "markdown"


def snapshot_file_name(database: str) -> str:
    """A file name for a database's snapshot that is safe on any file system (the name is also inside the file)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in database).strip(".") or "database"
    if safe != database:  # keep "a b" and "a_b" apart
        safe += "-" + hashlib.sha256(database.encode("utf-8")).hexdigest()[:8]
    return safe + ".json"
