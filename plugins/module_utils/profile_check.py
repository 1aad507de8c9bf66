# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a profile (``k2_profile``, ``comarch_profile``) fit one real site? Pure: no I/O.

The modules ``k2_profile_check`` and ``comarch_profile_check`` read each database's catalog
(``catalog_sql``) and a few rows, and hand them here. For every table the profile names this
core says whether it exists, whether each column exists with a compatible kind of type, and,
where not, which tables or columns of the catalog fit by name and shape. The proposals become
the override (the YAML for ``k2_profile`` / ``comarch_profile``) that would make the site fit.
The rules on the rows (one row of the Reinstall manager, versions that parse, ...) are
``Rule`` objects, judged on the rows the module read with the names the check resolved.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

TEXT, INTEGER, FLAG, DATETIME = "text", "integer", "flag", "datetime"

_TEXT_TYPES = {"varchar", "nvarchar", "char", "nchar", "text", "ntext", "character varying", "character", "bpchar", "varchar2",
               "nvarchar2", "clob", "nclob", "sysname", "citext"}
_INTEGER_TYPES = {"int", "integer", "int2", "int4", "int8", "smallint", "bigint", "tinyint", "serial", "bigserial"}
_SCALED_TYPES = {"numeric", "decimal", "number"}
_BOOLEAN_TYPES = {"bit", "boolean", "bool"}
_DATETIME_TYPES = {"datetime", "datetime2", "smalldatetime", "date", "timestamp", "timestamp without time zone",
                   "timestamp with time zone", "datetimeoffset", "timestamptz"}

_DEFAULT_SCHEMAS = {"mssql": "dbo", "lab": "public", "oracle": None}

CATALOG_SQL = {
    "mssql": ("SELECT c.TABLE_SCHEMA AS table_schema, c.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name, "
              "c.DATA_TYPE AS data_type, c.NUMERIC_SCALE AS numeric_scale, c.IS_NULLABLE AS is_nullable "
              "FROM INFORMATION_SCHEMA.COLUMNS AS c "
              "JOIN INFORMATION_SCHEMA.TABLES AS t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "
              "WHERE t.TABLE_TYPE = 'BASE TABLE' ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"),
    "lab": ("SELECT c.table_schema AS table_schema, c.table_name AS table_name, c.column_name AS column_name, "
            "c.data_type AS data_type, c.numeric_scale AS numeric_scale, c.is_nullable AS is_nullable "
            "FROM information_schema.columns AS c "
            "JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema') "
            "ORDER BY c.table_schema, c.table_name, c.ordinal_position"),
    "oracle": ("SELECT OWNER AS table_schema, TABLE_NAME AS table_name, COLUMN_NAME AS column_name, DATA_TYPE AS data_type, "
               "DATA_SCALE AS numeric_scale, NULLABLE AS is_nullable FROM ALL_TAB_COLUMNS "
               "WHERE OWNER = :owner ORDER BY TABLE_NAME, COLUMN_ID"),
}


def kind_of(data_type: str, scale: Any = None) -> Optional[str]:
    """The kind of a catalog type: text, integer, flag (bit/boolean), datetime; None for anything else."""
    name = re.sub(r"\(.*\)", "", str(data_type or "")).strip().lower()
    if name in _TEXT_TYPES:
        return TEXT
    if name in _INTEGER_TYPES or (name in _SCALED_TYPES and scale in (0, None, "0")):
        return INTEGER
    if name in _BOOLEAN_TYPES:
        return FLAG
    if name in _DATETIME_TYPES or name.startswith("timestamp"):
        return DATETIME
    return None


def compatible(expected: str, found: Optional[str]) -> bool:
    """A flag may be any integer or a bit/boolean; an integer must be an integer; text and dates as they are."""
    if expected == FLAG:
        return found in (FLAG, INTEGER)
    return expected == found


@dataclass
class Column:
    name: str
    data_type: str
    kind: Optional[str]
    nullable: bool = True


@dataclass
class Table:
    schema: Optional[str]
    name: str
    columns: List[Column] = field(default_factory=list)

    def column(self, name: str, case_sensitive: bool) -> Optional[Column]:
        for column in self.columns:
            if column.name == name or (not case_sensitive and column.name.lower() == name.lower()):
                return column
        return None


def catalog_from_rows(rows: Sequence[Mapping[str, Any]]) -> List[Table]:
    """``CATALOG_SQL`` rows (any key case) as tables in catalog order."""
    tables: Dict[Tuple[Any, str], Table] = {}
    for raw in rows:
        row = {str(k).lower(): v for k, v in raw.items()}
        key = (row["table_schema"], row["table_name"])
        table = tables.setdefault(key, Table(row["table_schema"], row["table_name"]))
        nullable = str(row.get("is_nullable") or "").upper() in ("YES", "Y", "1", "TRUE")
        table.columns.append(Column(row["column_name"], str(row["data_type"]), kind_of(row["data_type"], row.get("numeric_scale")),
                                    nullable))
    return list(tables.values())


@dataclass
class Entry:
    """One table of a profile: its entry name, the runbook step, the key naming the table, its columns by key and kind."""
    name: str
    step: str
    columns: Dict[str, str]
    table_key: str = "table"
    schema_key: Optional[str] = None
    optional: Tuple[str, ...] = ()


def similarity(a: str, b: str) -> float:
    a, b = a.lower(), b.lower()
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    if a and b and (a in b or b in a):
        ratio = max(ratio, 0.75)
    return ratio


def _assign(wanted: Mapping[str, Tuple[str, str]], columns: Sequence[Column], taken: Sequence[str]) -> Dict[str, Column]:
    """Match profile keys (key -> (expected name, kind)) to free columns of a compatible kind, best name similarity first."""
    pairs = []
    for key, (name, kind) in wanted.items():
        for column in columns:
            if column.name not in taken and compatible(kind, column.kind):
                pairs.append((similarity(name, column.name), key, column))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2].name))
    chosen: Dict[str, Column] = {}
    used = set(taken)
    for score, key, column in pairs:
        if key in chosen or column.name in used or score < 0.2:
            continue
        chosen[key] = column
        used.add(column.name)
    return chosen


@dataclass
class Resolution:
    """How one entry maps onto one database: the table and columns found, findings, proposed override."""
    entry: str
    database: str
    table: Optional[Table] = None
    names: Dict[str, Optional[str]] = field(default_factory=dict)
    findings: List[Dict[str, Any]] = field(default_factory=list)
    override: Dict[str, Any] = field(default_factory=dict)
    complete: bool = False  # the table and every column the collection needs are known (as profiled or as proposed)


def _finding(entry: Entry, database: str, key: str, expected: str, found: str, candidates=(), override=None, severity="mismatch",
             note: str = "") -> Dict[str, Any]:
    out = {"entry": "%s.%s" % (entry.name, key), "step": entry.step, "database": database, "severity": severity,
           "expected": expected, "found": found, "candidates": list(candidates)}
    if override is not None:
        out["override"] = override
    if note:
        out["note"] = note
    return out


def _table_fit(entry: Entry, profile_entry: Mapping[str, Any], table: Table) -> Tuple[float, Dict[str, Column]]:
    wanted = {key: (profile_entry[key], kind) for key, kind in entry.columns.items() if profile_entry.get(key)}
    chosen = _assign(wanted, table.columns, ())
    return (len(chosen) / float(len(wanted) or 1)), chosen


def resolve(entry: Entry, profile_entry: Mapping[str, Any], tables: Sequence[Table], database: str, platform: str) -> Resolution:
    """Check one entry of the profile against one database's catalog."""
    case_sensitive = platform != "mssql"
    result = Resolution(entry.name, database)
    schema = profile_entry.get(entry.schema_key) if entry.schema_key else _DEFAULT_SCHEMAS.get(platform)
    name = profile_entry[entry.table_key]
    in_schema = [t for t in tables if schema is None or t.schema == schema or (not case_sensitive and str(t.schema).lower() == schema.lower())]
    table = next((t for t in in_schema if t.name == name), None)
    if table is None and not case_sensitive:
        table = next((t for t in in_schema if t.name.lower() == name.lower()), None)
    if table is None:
        ranked = []
        for candidate in tables:
            fit, _chosen = _table_fit(entry, profile_entry, candidate)
            if fit >= 0.5:
                ranked.append((fit + 0.5 * similarity(name, candidate.name), fit, candidate))
        ranked.sort(key=lambda r: (-r[0], r[2].name))
        shown = ["%s%s (%d columns)" % ("%s." % c.schema if entry.schema_key else "", c.name, len(c.columns)) for _s, _f, c in ranked[:3]]
        best = ranked[0] if ranked and ranked[0][1] == 1.0 else None
        override = None
        if best is not None:
            table = best[2]
            override = {entry.table_key: table.name}
            if entry.schema_key and table.schema != schema:
                override[entry.schema_key] = table.schema
            result.override.update(override)
        result.findings.append(_finding(entry, database, entry.table_key, "table %s%s" % ("%s." % schema if schema else "", name),
                                        "no such table", shown, override,
                                        note="" if best else "no table of the catalog has columns of every kind the entry needs"))
        if table is None:
            return result
    result.table = table
    taken: List[str] = []
    missing: Dict[str, Tuple[str, str]] = {}
    for key, kind in entry.columns.items():
        expected_name = profile_entry.get(key)
        if not expected_name:
            result.names[key] = None  # declared absent by an override
            continue
        column = table.column(expected_name, case_sensitive)
        if column is not None and compatible(kind, column.kind):
            result.names[key] = column.name
            taken.append(column.name)
        elif column is not None:
            result.findings.append(_finding(entry, database, key, "column %s of kind %s" % (expected_name, kind),
                                            "column %s is %s (%s)" % (column.name, column.data_type, column.kind or "another kind")))
            taken.append(column.name)
            missing[key] = (expected_name, kind)
        else:
            missing[key] = (expected_name, kind)
    chosen = _assign(missing, table.columns, taken)
    for key, (expected_name, kind) in missing.items():
        elsewhere = set(taken) | set(c.name for k, c in chosen.items() if k != key)
        free = sorted((c for c in table.columns if c.name not in elsewhere and compatible(kind, c.kind)),
                      key=lambda c: (-similarity(expected_name, c.name), c.name))
        shown = ["%s (%s)" % (c.name, c.data_type) for c in free[:3]]
        if key in chosen:
            result.names[key] = chosen[key].name
            result.override[key] = chosen[key].name
            override = {key: chosen[key].name}
            note = ""
        elif key in entry.optional:
            result.names[key] = None
            result.override[key] = None
            override = {key: None}
            note = "the site has no such column; the collection does without it"
        else:
            result.names[key] = None
            override = None
            note = "no column of a compatible kind is left in %s; the collection cannot work on this site without it" % table.name
        if not any(f["entry"] == "%s.%s" % (entry.name, key) for f in result.findings):
            result.findings.append(_finding(entry, database, key, "column %s.%s of kind %s" % (table.name, expected_name, kind),
                                            "no such column", shown, override, note=note))
        else:
            found = next(f for f in result.findings if f["entry"] == "%s.%s" % (entry.name, key))
            found["candidates"] = shown
            if override is not None:
                found["override"] = override
    result.complete = all(result.names.get(key) is not None or key in entry.optional or not profile_entry.get(key)
                          for key in entry.columns)
    used = set(v for v in result.names.values() if v)
    for column in table.columns:
        if column.name not in used:
            note = "not read or written by the collection"
            result.findings.append({"entry": entry.name, "step": entry.step, "database": database, "severity": "info",
                                    "expected": "no column %s" % column.name,
                                    "found": "extra column %s.%s (%s, %s)" % (table.name, column.name, column.data_type,
                                                                              "NULL" if column.nullable else "NOT NULL"), "note": note})
    return result


@dataclass
class Rule:
    """A rule on the rows of one entry: ``check(rows)`` returns the problems (empty when the rule holds)."""
    entry: str
    description: str
    columns: Tuple[str, ...]
    check: Callable[[List[Mapping[str, Any]]], List[str]]
    where: Optional[Tuple[str, Any]] = None  # (key, value) filter


def rule_sql(platform: str, table_ref: str, names: Mapping[str, Optional[str]], keys: Sequence[str], quote: Callable[[str], str],
             limit: int = 1000) -> Optional[str]:
    """``SELECT <column> AS <key>, ... FROM <table>``, at most ``limit`` rows; None when a column is absent on the site."""
    if any(not names.get(key) for key in keys):
        return None
    columns = ", ".join("%s AS %s" % (quote(names[key]), quote(key)) for key in keys)
    if platform == "mssql":
        return "SELECT TOP (%d) %s FROM %s" % (limit, columns, table_ref)
    if platform == "oracle":
        return "SELECT %s FROM %s FETCH FIRST %d ROWS ONLY" % (columns, table_ref, limit)
    return "SELECT %s FROM %s LIMIT %d" % (columns, table_ref, limit)


def judge_rule(rule: Rule, database: str, rows: List[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    problems = rule.check(rows)
    if not problems:
        return None
    return {"entry": rule.entry, "database": database, "severity": "mismatch", "expected": rule.description,
            "found": "; ".join(problems), "candidates": []}


# -- rules on values --------------------------------------------------------


def is_flag(value: Any) -> bool:
    return value in (0, 1, True, False) or str(value).strip() in ("0", "1")


def flags(key: str) -> Callable[[List[Mapping[str, Any]]], List[str]]:
    def check(rows):
        bad = sorted(set(repr(r[key]) for r in rows if r[key] is not None and not is_flag(r[key])))
        return ["%s holds %s, not 0/1" % (key, ", ".join(bad[:5]))] if bad else []
    return check


def exactly_one_row(rows) -> List[str]:
    return [] if len(rows) == 1 else ["%d rows" % len(rows)]


def parses(key: str, parser: Callable[[str], Any], what: str, allow_null: bool = False) -> Callable[[List[Mapping[str, Any]]], List[str]]:
    def check(rows):
        bad = []
        for row in rows:
            value = row[key]
            if value is None:
                if not allow_null:
                    bad.append("NULL")
                continue
            try:
                parser(str(value).strip())
            except (ValueError, TypeError):
                bad.append(repr(value))
        return ["%s does not parse as %s: %s" % (key, what, ", ".join(bad[:5]))] if bad else []
    return check


def matches(pattern: str) -> Callable[[str], Any]:
    compiled = re.compile(pattern)

    def parser(text: str):
        if not compiled.match(text):
            raise ValueError(text)
        return text
    return parser


def unique(key: str) -> Callable[[List[Mapping[str, Any]]], List[str]]:
    def check(rows):
        seen, twice = set(), set()
        for row in rows:
            value = str(row[key] or "").strip().upper()
            if not value:
                twice.add("an empty value")
            elif value in seen:
                twice.add(value)
            seen.add(value)
        return ["%s repeats or is empty: %s" % (key, ", ".join(sorted(twice)))] if twice else []
    return check


def all_of(*checks):
    def check(rows):
        out = []
        for one in checks:
            out.extend(one(rows))
        return out
    return check


def at_least_one_row(rows) -> List[str]:
    return [] if rows else ["no rows"]


def within(key: str, allowed: Sequence[Any], what: str) -> Callable[[List[Mapping[str, Any]]], List[str]]:
    def check(rows):
        bad = sorted(set(str(r[key]).strip() for r in rows if r[key] is not None and str(r[key]).strip() not in [str(a) for a in allowed]))
        return ["%s holds %s, not one of the profile's %s (%s)" % (key, ", ".join(bad[:5]), what, ", ".join(str(a) for a in allowed))] if bad else []
    return check


# -- the report -------------------------------------------------------------


def merge_overrides(resolutions: Sequence[Resolution]) -> Tuple[Dict[str, Dict[str, Any]], List[str]]:
    """One override for the whole site; a key proposed differently by two databases is a conflict, left out."""
    merged: Dict[str, Dict[str, Any]] = {}
    seen: Dict[Tuple[str, str], set] = {}
    for resolution in resolutions:
        for key, value in resolution.override.items():
            seen.setdefault((resolution.entry, key), set()).add(value)
    conflicts = []
    for (entry, key), values in sorted(seen.items(), key=lambda item: (item[0][0], item[0][1])):
        if len(values) == 1:
            merged.setdefault(entry, {})[key] = next(iter(values))
        else:
            conflicts.append("%s.%s: the databases disagree (%s)" % (entry, key, ", ".join(sorted(str(v) for v in values))))
    return merged, conflicts


def to_yaml(variable: str, override: Mapping[str, Mapping[str, Any]]) -> str:
    """The override as YAML for the inventory (block style, ``~`` for an absent column)."""
    if not override:
        return ""
    lines = ["%s:" % variable]
    for entry in sorted(override):
        lines.append("  %s:" % entry)
        for key in sorted(override[entry]):
            value = override[entry][key]
            lines.append("    %s: %s" % (key, "~" if value is None else _yaml_scalar(value)))
    return "\n".join(lines) + "\n"


def _yaml_scalar(value: Any) -> str:
    text = str(value)
    if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", text) and text.lower() not in ("yes", "no", "true", "false", "on", "off", "null", "y", "n"):
        return text
    return "'%s'" % text.replace("'", "''")


def summary(findings: Sequence[Mapping[str, Any]], override_yaml: str, conflicts: Sequence[str], variable: str) -> List[str]:
    """The report's lines: one per mismatch (entry, database, expected, found, candidates), then the override."""
    lines = []
    for f in findings:
        if f["severity"] != "mismatch":
            continue
        line = "%s [%s, %s]: expected %s, found %s" % (f["entry"], f["database"], f["step"] if "step" in f else "-", f["expected"], f["found"])
        if f.get("candidates"):
            line += "; candidates: %s" % ", ".join(f["candidates"])
        if f.get("note"):
            line += " (%s)" % f["note"]
        lines.append(line)
    lines.extend("conflict: %s" % c for c in conflicts)
    lines.extend("note: %s [%s]: %s (%s)" % (f["entry"], f["database"], f["found"], f.get("note", "")) for f in findings
                 if f["severity"] == "info")
    if override_yaml:
        lines.append("override that makes the site fit (%s):" % variable)
        lines.extend("  " + line for line in override_yaml.rstrip("\n").split("\n"))
    return lines


# -- what each profile promises -----------------------------------------------

K2_ENTRIES = {
    "conf": [
        Entry("firmy", "K2-05, K2-08", {"code_column": TEXT, "name_column": TEXT, "database_column": TEXT}),
        Entry("db_version", "K2-13", {"version_column": TEXT}),
        Entry("reinstall_manager", "K2-02, K2-06", {"ban_enabled_column": FLAG, "ban_from_column": DATETIME, "ban_message_column": TEXT,
                                                    "ban_exempt_user_column": TEXT, "reinstall_allowed_column": FLAG,
                                                    "preparation_done_column": FLAG}),
        Entry("licence_sessions", "K2-04", {"user_column": TEXT, "host_column": TEXT, "program_column": TEXT, "app_server_column": FLAG}),
        Entry("extensions", "K2-14", {"name_column": TEXT, "current_column": FLAG, "format_column": TEXT}),
    ],
    "company": [
        Entry("db_version", "K2-13", {"version_column": TEXT}),
        Entry("version_init", "K2-07", {"function_column": TEXT, "mandatory_column": FLAG, "done_at_column": DATETIME}),
    ],
}


def k2_rules(version_parser: Callable[[str], Any]) -> List[Rule]:
    return [
        Rule("reinstall_manager", "exactly one row (the Reinstall manager's settings), flags 0/1",
             ("ban_enabled_column", "reinstall_allowed_column", "preparation_done_column"),
             all_of(exactly_one_row, flags("ban_enabled_column"), flags("reinstall_allowed_column"), flags("preparation_done_column"))),
        Rule("db_version", "exactly one row holding a K2 version (gaia.12.3)", ("version_column",),
             all_of(exactly_one_row, parses("version_column", version_parser, "a K2 version"))),
        Rule("firmy", "at least one mandant; codes and database names unique", ("code_column", "database_column"),
             all_of(at_least_one_row, unique("code_column"), unique("database_column"))),
        Rule("licence_sessions", "the application-server flag is 0/1", ("app_server_column",), flags("app_server_column")),
        Rule("extensions", "names unique, current 0/1, format a version number (2.02)", ("name_column", "current_column", "format_column"),
             all_of(unique("name_column"), flags("current_column"), parses("format_column", matches(r"^\d+(\.\d+)*$"), "a format number"))),
        Rule("version_init", "the mandatory flag is 0/1", ("mandatory_column",), flags("mandatory_column")),
    ]


COMARCH_ENTRIES = [
    Entry("db_version", "CM-03", {"id_column": INTEGER, "value_column": TEXT}, schema_key="schema"),
    Entry("schedule", "CM-02, CM-05, CM-06", {"id_column": INTEGER, "operation_column": TEXT, "enabled_column": FLAG,
                                              "interval_column": INTEGER, "next_run_column": DATETIME}, schema_key="schema"),
    Entry("history", "CM-02, CM-04, CM-05", {"id_column": INTEGER, "operation_column": TEXT, "started_column": DATETIME,
                                             "finished_column": DATETIME, "status_column": TEXT, "pending_column": INTEGER,
                                             "version_column": TEXT, "message_column": TEXT}, schema_key="schema",
          optional=("message_column",)),
]

DATABASE_VERSION = r"^\d{4}\.\d+$"
PROGRAM_VERSION = r"^\d{4}\.\d+(\.\d+)*$"


def _rows_of(key: str, values: Sequence[Any]):
    wanted = [str(v) for v in values]
    return lambda rows: [r for r in rows if str(r.get(key) or "").strip() in wanted]


def comarch_rules(profile: Mapping[str, Any]) -> List[Rule]:
    v, s, h = profile["db_version"], profile["schedule"], profile["history"]

    def version_row(rows):
        return [r for r in rows if str(r["id_column"]).strip() == str(v["version_id"])]

    hrm_schedule = _rows_of("operation_column", (s["differential_operation"], s["full_operation"]))
    syncs = _rows_of("operation_column", (s["differential_operation"], s["full_operation"], h["version_operation"]))
    notices = _rows_of("operation_column", (h["version_operation"],))
    statuses = (h["success_status"], h["failed_status"], h["running_status"])

    def operations(rows):
        found = sorted(set(str(r["operation_column"]).strip() for r in rows))
        if not hrm_schedule(rows):
            return ["no row for the differential sync %s or the full sync %s; operations found: %s" % (
                s["differential_operation"], s["full_operation"], ", ".join(found) or "none")]
        return []

    def database_version(rows):
        rows = version_row(rows)
        if len(rows) != 1:
            return ["%d rows with id %s" % (len(rows), v["version_id"])]
        return parses("value_column", matches(DATABASE_VERSION), "a database version")(rows)

    return [
        Rule("db_version", "one row with %s = %s holding a database version (2025.5000)" % (v["id_column"], v["version_id"]),
             ("id_column", "value_column"), database_version),
        Rule("schedule", "rows for the HRM syncs (%s, %s), enabled 0/1, interval an integer" % (s["differential_operation"], s["full_operation"]),
             ("operation_column", "enabled_column", "interval_column"),
             lambda rows: operations(rows) or flags("enabled_column")(hrm_schedule(rows))),
        Rule("history", "HRM rows with a status of the profile, a start time, and version notices with a program version",
             ("operation_column", "status_column", "started_column", "version_column"),
             lambda rows: within("status_column", statuses, "statuses")(syncs(rows))
             + (["%d row(s) without a start time" % len([r for r in syncs(rows) if r["started_column"] is None])]
                if any(r["started_column"] is None for r in syncs(rows)) else [])
             + parses("version_column", matches(PROGRAM_VERSION), "a program version")(notices(rows))),
    ]


def comarch_version_findings(profile: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The profile's own version map: program versions (2025.3.0) to database versions (2025.5000)."""
    out = []
    for program, database in sorted(profile["versions"]["program_to_database"].items()):
        if not re.match(PROGRAM_VERSION, str(program)) or not re.match(DATABASE_VERSION, str(database)):
            out.append({"entry": "versions.program_to_database", "database": "-", "severity": "mismatch",
                        "expected": "program version -> database version (2025.3.0: '2025.5000')",
                        "found": "%s: %s" % (program, database), "candidates": []})
    return out


def check_database(database: Any, platform: str, name: str, entries: Sequence[Entry], profile: Mapping[str, Any],
                   rules: Sequence[Rule], table_ref: Callable[[Entry, Resolution], str], quote: Callable[[str], str],
                   catalog_binds: Any = ()) -> Tuple[List[Resolution], List[Dict[str, Any]]]:
    """Resolve ``entries`` on one open database (anything with ``query``) and judge the rules on its rows. Reads only."""
    tables = catalog_from_rows(database.query(CATALOG_SQL[platform], catalog_binds))
    resolutions, findings = [], []
    for entry in entries:
        resolution = resolve(entry, profile[entry.name], tables, name, platform)
        resolutions.append(resolution)
        findings.extend(resolution.findings)
        if not resolution.complete:
            continue
        for rule in rules:
            if rule.entry != entry.name:
                continue
            sql = rule_sql(platform, table_ref(entry, resolution), resolution.names, rule.columns, quote)
            if sql is None:
                continue
            rows = [{str(k).lower(): v for k, v in row.items()} for row in database.query(sql)]
            found = judge_rule(rule, name, rows)
            if found:
                found["step"] = entry.step
                findings.append(found)
    return resolutions, findings


def report(resolutions: Sequence[Resolution], findings: Sequence[Dict[str, Any]], variable: str) -> Dict[str, Any]:
    """What the modules return: fits, findings, the override (mapping and YAML) and the report's lines."""
    override, conflicts = merge_overrides(resolutions)
    text = to_yaml(variable, override)
    mismatches = [f for f in findings if f["severity"] == "mismatch"]
    return {"fits": not mismatches and not conflicts, "findings": list(findings), "mismatches": len(mismatches),
            "override": override, "override_yaml": text, "conflicts": conflicts,
            "report": summary(findings, text, conflicts, variable)}
