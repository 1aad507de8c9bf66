# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A repair plan for the findings of the structure check (runbook K2-08). Nothing runs here.

``plan(findings, ddl, konverze, ...)`` turns findings into ``RepairStep`` entries, as the
runbook's "Oprava nekonzistencí databáze" says:

* missing standard table -> its ``CREATE TABLE``, key, indexes and full-text index, verbatim
  from the K2t script with file and line (kind ``create_table``);
* missing primary key -> its ``ALTER TABLE`` from the K2t script (``add_primary_key``); a
  different key is dropped first; missing index -> its ``CREATE INDEX`` (``create_index``),
  an index of the same name with another definition or another filter is dropped first;
* missing column, wrong type, wrong length, wrong nullability -> the statements of
  ``SQL/konverze`` that add or alter that column on that table (``ALTER TABLE ... ADD``,
  ``ALTER COLUMN``, ``MODIFY``, ``ADD COLUMN``), then those that fill it (``UPDATE ... SET
  col =``), each with file and line (``konverze``); if none is found, ``ask_support`` with
  the check's output and the K2 version attached;
* extra column -> ``ALTER TABLE ... DROP COLUMN`` with quoted names (``drop_column``);
* full-text findings -> K2 function 778, or for an extra index on MS SQL the ``DROP``/``ALTER
  FULLTEXT INDEX`` statement (``fulltext``);
* custom table (Object designer) -> "Deploy its project in Object designer", no SQL
  (``deploy_project``);
* INIT and DEMO databases -> one ``recreate_database`` step instead of repairs;
* an unreadable K2t statement -> ``review_script``.

Each step's ``kind`` is what a user selects (``select(steps, kinds)``) to run only some kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import (
    IDENT_KINDS, PUNCT, WORD, DdlResult, SourceRef, split_statements, token_ident,
)
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import key
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema_diff import Finding

SELECTABLE = ("create_table", "konverze", "add_primary_key", "create_index", "fulltext", "drop_column",
              "deploy_project", "ask_support", "recreate_database", "review_script")
_PHASE = dict((kind, number) for number, kind in enumerate(SELECTABLE))
_COLUMN_KINDS = ("missing_column", "wrong_type", "wrong_length", "nullability")
FUNCTION_778 = "K2 function 778 (Správce - nastavení fulltextových klíčů)"
RECREATE = ("Recreate the database in K2: Správce / Systém / Správa mandantů (Mandant management), page 2, "
            "button Databáze; no data import is needed during a reinstall")
DEPLOY = "Deploy its project in Object designer (Návrhář objektů)"


@dataclass(frozen=True)
class RepairStep:
    kind: str
    database: str
    table: Optional[str]
    sql: Optional[str]
    source: Optional[str]
    finding: str
    column: Optional[str] = None
    note: str = ""
    attachments: Dict[str, str] = field(default_factory=dict)

    @property
    def runnable(self) -> bool:
        return self.sql is not None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "database": self.database, "table": self.table, "sql": self.sql, "source": self.source,
                "finding": self.finding, "column": self.column, "note": self.note, "attachments": dict(self.attachments)}


@dataclass(frozen=True)
class KonverzeMatch:
    adds: Tuple[SourceRef, ...]
    fills: Tuple[SourceRef, ...]


def find_konverze(konverze: Mapping[str, str], table: str, column: str, platform: str) -> KonverzeMatch:
    """Statements of the conversion scripts that add or alter ``table.column``, and those that fill it.

    A statement matches when it holds ``ALTER TABLE <table>`` followed by ``ADD``, ``ALTER``
    or ``MODIFY`` and names the column (guards like ``IF NOT EXISTS (...)`` stay with it);
    a fill is an ``UPDATE`` that names the table and assigns ``column =``.
    """
    adds: List[SourceRef] = []
    fills: List[SourceRef] = []
    table_key, column_key = key(table), key(column)
    for filename in sorted(konverze):
        text = konverze[filename]
        for statement in split_statements(text, platform, implicit=False):
            tokens = statement.tokens
            names = [key(token_ident(t, platform)) if t[0] in IDENT_KINDS else None for t in tokens]
            if column_key not in names or table_key not in names:
                continue
            words = [t[1].upper() if t[0] == WORD else None for t in tokens]
            if _alters(words, names, tokens, table_key, column_key):
                adds.append(SourceRef(filename, statement.line, statement.text(text)))
            elif _fills(words, names, tokens, table_key, column_key):
                fills.append(SourceRef(filename, statement.line, statement.text(text)))
    return KonverzeMatch(tuple(adds), tuple(fills))


def _table_at(names: List[Optional[str]], tokens, position: int) -> Tuple[Optional[str], int]:
    """The last part of a dotted name starting at ``position``, and the position after it."""
    last = None
    while position < len(tokens) and names[position] is not None:
        last = names[position]
        position += 1
        if position < len(tokens) and tokens[position][0] == PUNCT and tokens[position][1] == ".":
            position += 1
        else:
            break
    return last, position


def _alters(words, names, tokens, table_key: str, column_key: str) -> bool:
    for position in range(len(tokens) - 1):
        if words[position] != "ALTER" or words[position + 1] != "TABLE":
            continue
        name, after = _table_at(names, tokens, position + 2)
        if name != table_key:
            continue
        end = after
        while end < len(tokens) and not (words[end] == "ALTER" and end + 1 < len(tokens) and words[end + 1] == "TABLE"):
            end += 1
        verbs = [w for w in words[after:end] if w in ("ADD", "ALTER", "MODIFY", "DROP", "COLUMN")]
        if verbs and verbs[0] != "DROP" and any(v in ("ADD", "ALTER", "MODIFY") for v in verbs) and column_key in names[after:end]:
            return True
    return False


def _fills(words, names, tokens, table_key: str, column_key: str) -> bool:
    if "UPDATE" not in words or "SET" not in words:
        return False
    start = words.index("SET")
    for position in range(start + 1, len(tokens) - 1):
        if names[position] == column_key and tokens[position + 1][0] == PUNCT and tokens[position + 1][1] == "=":
            return True
    return False


def _table_sql(dialect: str, table: str) -> str:
    if dialect == "mssql":
        return "[dbo]." + quote_ident(dialect, table)
    return quote_ident(dialect, table)


class _Planner(object):
    def __init__(self, ddl, konverze, k2_version, check_output, dialect) -> None:
        self.ddl = ddl
        self.konverze = konverze or {}
        self.k2_version = k2_version
        self.check_output = check_output
        self.dialect = dialect
        self.steps: List[RepairStep] = []
        self.seen: Set[Tuple[str, Optional[str], Optional[str]]] = set()

    def ddl_for(self, database: str) -> Optional[DdlResult]:
        if isinstance(self.ddl, DdlResult) or self.ddl is None:
            return self.ddl
        return self.ddl.get(database)

    def dialect_for(self, database: str) -> str:
        result = self.ddl_for(database)
        if self.dialect:
            return self.dialect
        if result is None:
            raise ValueError("give dialect= or the DDL read from the K2t script for database %r" % database)
        return result.schema.platform

    def add(self, finding: Finding, kind: str, sql: Optional[str], source: Optional[str], note: str, **extra) -> None:
        marker = (finding.database, sql, source) if sql is not None else (finding.database, kind + (finding.table or "") + note, None)
        if marker in self.seen:
            return
        self.seen.add(marker)
        self.steps.append(RepairStep(kind, finding.database, finding.table, sql, source, finding.kind, finding.column, note, **extra))

    def ask_support(self, finding: Finding, why: str) -> None:
        attachments = {"check_output": self.check_output if self.check_output is not None else finding.message}
        if self.k2_version:
            attachments["k2_version"] = self.k2_version
        self.add(finding, "ask_support", None, None, "%s: ask K2 support for a repair script; attach the check output and the K2 version" % why,
                 attachments=attachments)

    def finding(self, finding: Finding) -> None:
        if finding.kind == "unreadable_statement":
            self.add(finding, "review_script", None, None, "Compare this statement by hand: " + finding.message)
        elif finding.custom:
            self.add(finding, "deploy_project", None, None, DEPLOY)
        elif finding.kind == "missing_table":
            self.missing_table(finding)
        elif finding.kind in _COLUMN_KINDS:
            self.column(finding)
        elif finding.kind == "extra_column":
            d = self.dialect_for(finding.database)
            self.add(finding, "drop_column", "ALTER TABLE %s DROP COLUMN %s" % (_table_sql(d, finding.table), quote_ident(d, finding.column)), None,
                     "Drop the column K2 does not expect (on MS SQL drop its default constraint first, if any)")
        elif finding.kind in ("missing_primary_key", "different_primary_key"):
            self.primary_key(finding)
        elif finding.kind in ("missing_index", "different_index_filter"):
            self.index(finding)
        else:
            self.fulltext(finding)

    def sources(self, finding: Finding):
        result = self.ddl_for(finding.database)
        return None if result is None else result.sources.peek(key(finding.table))   # read only: nothing kept

    def missing_table(self, finding: Finding) -> None:
        sources = self.sources(finding)
        if sources is None:
            self.ask_support(finding, "table %s is not in the K2t script" % finding.table)
            return
        for ref in sources.statements():
            self.add(finding, "create_table", ref.text, ref.location, "Create the missing table %s as the K2t script does" % finding.table)

    def column(self, finding: Finding) -> None:
        match = find_konverze(self.konverze, finding.table, finding.column, self.dialect_for(finding.database))
        if not match.adds:
            self.ask_support(finding, "no conversion in SQL/konverze adds or alters %s.%s (not found)" % (finding.table, finding.column))
            return
        for ref in match.adds:
            self.add(finding, "konverze", ref.text, ref.location, "Conversion that adds or alters %s.%s" % (finding.table, finding.column))
        for ref in match.fills:
            self.add(finding, "konverze", ref.text, ref.location, "Conversion that fills %s.%s" % (finding.table, finding.column))

    def expected_table(self, finding: Finding):
        result = self.ddl_for(finding.database)
        return None if result is None else result.schema.tables.peek(key(finding.table))

    def primary_key(self, finding: Finding) -> None:
        sources, table = self.sources(finding), self.expected_table(finding)
        if sources is None or sources.primary_key is None or table is None or table.primary_key is None:
            self.ask_support(finding, "the primary key of %s is not in the K2t script" % finding.table)
            return
        d = self.dialect_for(finding.database)
        if finding.kind == "different_primary_key" and finding.actual_name:
            self.add(finding, "add_primary_key", "ALTER TABLE %s DROP CONSTRAINT %s" % (_table_sql(d, finding.table), quote_ident(d, finding.actual_name)),
                     None, "Drop the primary key that differs from K2's")
        ref = sources.primary_key
        sql = ref.text
        if ref is sources.create:  # the key is written inside CREATE TABLE: state it on its own
            pk = table.primary_key
            sql = "ALTER TABLE %s ADD %sPRIMARY KEY %s(%s)" % (
                _table_sql(d, finding.table), "CONSTRAINT %s " % quote_ident(d, pk.name) if pk.name else "",
                ("CLUSTERED " if pk.clustered else "NONCLUSTERED ") if d == "mssql" else "", ", ".join(quote_ident(d, c) for c in pk.columns))
        self.add(finding, "add_primary_key", sql, ref.location, "Add the primary key as the K2t script does")

    def index(self, finding: Finding) -> None:
        sources, table = self.sources(finding), self.expected_table(finding)
        ref = sources.indexes.get(key(finding.index or "")) if sources is not None else None
        index = table.index(finding.index) if table is not None and finding.index else None
        if ref is None or index is None:
            self.ask_support(finding, "index %s of %s is not in the K2t script" % (finding.index, finding.table))
            return
        d = self.dialect_for(finding.database)
        if finding.actual_name:
            drop = ("DROP INDEX %s ON %s" % (quote_ident(d, finding.actual_name), _table_sql(d, finding.table)) if d == "mssql"
                    else "DROP INDEX %s" % quote_ident(d, finding.actual_name))
            self.add(finding, "create_index", drop, None, "Drop the index that differs from K2's definition")
        sql = ref.text
        if ref is sources.create:  # a UNIQUE constraint or (SQL Server) an inline INDEX inside CREATE TABLE
            columns = ", ".join(quote_ident(d, c) for c in index.columns)
            kind = ("CLUSTERED " if index.clustered else "NONCLUSTERED ") if d == "mssql" else ""
            sql = "CREATE %s%sINDEX %s ON %s (%s)" % (
                "UNIQUE " if index.unique else "", kind, quote_ident(d, index.name), _table_sql(d, finding.table), columns)
            if index.include:
                sql += " INCLUDE (%s)" % ", ".join(quote_ident(d, c) for c in index.include)
            if index.filter is not None:   # normalised: names in upper case, which SQL Server's collations of K2 ignore
                sql += " WHERE %s" % index.filter
        self.add(finding, "create_index", sql, ref.location, "Create the index as the K2t script does")

    def fulltext(self, finding: Finding) -> None:
        d = self.dialect_for(finding.database)
        sql = None
        if finding.kind == "extra_fulltext_table" and d == "mssql":
            sql = "DROP FULLTEXT INDEX ON %s" % _table_sql(d, finding.table)
        elif finding.kind == "extra_fulltext_column" and d == "mssql":
            sql = "ALTER FULLTEXT INDEX ON %s DROP (%s)" % (_table_sql(d, finding.table), quote_ident(d, finding.column))
        if finding.kind == "missing_fulltext_column":
            note = "Create the full-text index with %s" % FUNCTION_778
        else:
            note = "Decide whether the full-text index is wanted: if so, align it with %s; if not, drop it" % FUNCTION_778
        self.add(finding, "fulltext", sql, None, note)


def plan(findings: Sequence[Finding], ddl: Union[DdlResult, Mapping[str, DdlResult], None] = None,
         konverze: Optional[Mapping[str, str]] = None, k2_version: Optional[str] = None,
         recreate_databases: Iterable[str] = (), check_output: Optional[str] = None, dialect: Optional[str] = None) -> List[RepairStep]:
    """The repair steps for ``findings``.

    ``ddl`` is the K2t script read by ``ddl.read_ddl`` (one for all databases, or one per
    database name); ``konverze`` maps file names of ``SQL/konverze`` to their text;
    ``recreate_databases`` names the INIT and DEMO databases; ``check_output`` is attached
    when K2 support must be asked (default: the finding's message).
    """
    planner = _Planner(ddl, konverze, k2_version, check_output, dialect)
    recreate = set(key(name) for name in recreate_databases)
    for finding in findings:
        if key(finding.database) in recreate:
            planner.add(Finding(finding.kind, finding.database, None), "recreate_database", None, None, RECREATE)
            continue
        planner.finding(finding)
    order = dict((id(step), number) for number, step in enumerate(planner.steps))
    return sorted(planner.steps, key=lambda step: (_PHASE[step.kind], order[id(step)]))


def select(steps: Iterable[RepairStep], kinds: Iterable[str]) -> List[RepairStep]:
    """Only the steps of the repair kinds a user chose (see ``SELECTABLE``)."""
    wanted = set(kinds)
    unknown = wanted - set(SELECTABLE)
    if unknown:
        raise ValueError("unknown repair kinds %s (expected some of %s)" % (", ".join(sorted(unknown)), ", ".join(SELECTABLE)))
    return [step for step in steps if step.kind in wanted]
