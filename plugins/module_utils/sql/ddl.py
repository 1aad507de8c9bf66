# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the vendor's structure scripts (``SQL/K2t_{Type}_{Platform}.SQL``) into a schema model.

Runbook K2-08 compares the structures K2 expects with the live ones; what K2 expects is
written in these scripts. ``read_ddl(text, platform)`` returns a ``DdlResult``:

* ``schema``   -- a ``schema.Schema`` with raw, lowercased type names (``[varchar]`` ->
  ``varchar``, ``NVARCHAR2`` -> ``nvarchar2``), lengths in characters and ``max`` as
  ``schema.MAX_LENGTH``;
* ``sources``  -- per table key, where its ``CREATE TABLE``, its primary key, each index and
  its full-text index were written (file, line, exact text), for the repair plan;
* ``problems`` -- every statement that could not be read (start line, first 80 characters,
  reason). Nothing is dropped silently: a statement is either read into the model, ignored
  on purpose (listed in ``ignored``, e.g. ``SET ANSI_NULLS``, ``PRINT``,
  ``if exists (...) drop table``, ``CREATE FULLTEXT CATALOG``), or reported.

Platforms: ``mssql`` (T-SQL; ``GO`` lines, ``[brackets]``), ``oracle`` (``;`` or a ``/``
line; unquoted names fold to upper case; ``INDEXTYPE IS CTXSYS.CONTEXT`` is full-text) and
``lab`` (PostgreSQL DDL with ``GO`` separators; unquoted names fold to lower case; a GIN index
over ``to_tsvector(...)`` is full-text).

The reader is hand-written on purpose: one regular-expression tokenizer without nested
quantifiers (no catastrophic backtracking) and a small recursive-descent parser per
statement. On SQL Server scripts, GO batches that are exactly one of the common statement
shapes are read whole by compiled patterns (``ddl_fast``), with the same result (``fast=False``
turns that off). ``benchmarks/bench_ddl.py`` measures it against sqlglot with its C extension.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import ddl_fast, lexer
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    MAX_LENGTH, PLATFORMS, Column, FullTextIndex, Index, PackedMapping, PrimaryKey, Schema, Table, append_number, key,
    normalized_predicate,
)

# Token kinds of the shared tokenizer (``lexer``).
_WORD, _PUNCT, _BRACKET, _DQUOTE, _STRING, _NUMBER, _OTHER, _OPEN = (
    lexer.WORD, lexer.PUNCT, lexer.BRACKET, lexer.QUOTED, lexer.STRING, lexer.NUMBER, lexer.OTHER, lexer.OPEN)
_IDENT_KINDS = lexer.IDENT_KINDS
# Tokens kept per statement: a statement longer than this is reported, never read. The
# largest real table (1,024 columns on SQL Server, 1,000 on Oracle) takes about 15,000. A
# token costs about 100 bytes, so one statement holds at most about 5 MB.
MAX_STATEMENT_TOKENS = 50000
# Problems and ignored statements listed one by one; past this, they are counted (a script of
# millions of garbage statements must not make millions of objects).
MAX_LISTED = 1000


@dataclass(frozen=True, slots=True)   # one per table and index: no instance dict
class SourceRef:
    """Where a statement was written: file name, 1-based start line and its exact text."""

    file: str
    line: int
    text: str

    @property
    def location(self) -> str:
        return "%s:%d" % (self.file, self.line)


@dataclass(frozen=True)
class Problem:
    """A statement the reader could not read."""

    file: str
    line: int
    excerpt: str
    reason: str

    def __str__(self) -> str:
        return "%s:%d: %s (%s)" % (self.file, self.line, self.reason, self.excerpt)


@dataclass(frozen=True)
class Ignored:
    """A statement recognised and deliberately not part of the model."""

    file: str
    line: int
    what: str


@dataclass(slots=True)
class TableSources:
    create: SourceRef
    primary_key: Optional[SourceRef] = None
    indexes: Dict[str, SourceRef] = field(default_factory=dict)
    fulltext: List[SourceRef] = field(default_factory=list)

    def statements(self) -> List[SourceRef]:
        """The statements that build the table, in script order, each once."""
        refs = [self.create]
        if self.primary_key is not None:
            refs.append(self.primary_key)
        refs.extend(self.indexes.values())
        refs.extend(self.fulltext)
        seen = set()
        unique = []
        for ref in sorted(refs, key=lambda r: r.line):
            if ref.line not in seen:
                seen.add(ref.line)
                unique.append(ref)
        return unique


class SourceMap(PackedMapping):
    """``TableSources`` by table key (``schema.PackedMapping``); a table written by its CREATE TABLE alone is packed.

    ``pack`` keeps such a table's CREATE TABLE as its line and where its text starts and ends
    in the script, which the map keeps (one reference, not a copy), in three arrays: about
    a dozen bytes a table instead of a ``TableSources``, a ``SourceRef``, a copy of the
    statement and a dict entry. Its ``TableSources`` is made when asked for.
    """

    __slots__ = ("_file", "_script", "_lines", "_spans")

    def __init__(self, file: str = "", script: str = "", entries=()) -> None:
        self._file = file
        self._script = script
        self._lines = array("I")
        self._spans = array("I")   # start and end of each packed CREATE TABLE in the script
        super().__init__(entries)

    def pack(self, table_name: str, line: int, start: int, end: int) -> None:
        """The sources of a table written by one CREATE TABLE, at ``line``, ``script[start:end]``."""
        wanted = key(table_name)
        if wanted in self:
            self[wanted] = TableSources(SourceRef(self._file, line, self._script[start:end].strip()))
            return
        append_number(self, "_lines", line)
        append_number(self, "_spans", start)
        append_number(self, "_spans", end)
        self._append_packed(table_name)

    def _make(self, number: int, keep: bool) -> TableSources:
        spans = self._spans
        return TableSources(SourceRef(self._file, self._lines[number], self._script[spans[2 * number]:spans[2 * number + 1]].strip()))

    def _arguments(self) -> tuple:
        return (self._file, self._script)

    def _added(self, number: int) -> None:
        self._lines.append(0)
        self._spans.extend((0, 0))


@dataclass
class DdlResult:
    schema: Schema
    sources: SourceMap = field(default_factory=SourceMap)
    problems: List[Problem] = field(default_factory=list)
    ignored: List[Ignored] = field(default_factory=list)
    statements: int = 0   # statements in the script; each one is read, ignored or a problem
    read: int = 0         # statements read into the model
    unlisted_problems: int = 0   # problems past MAX_LISTED, counted in one closing problem
    unlisted_ignored: int = 0    # ignored statements past MAX_LISTED

    def accounted(self) -> bool:
        """Nothing dropped: every statement is read, ignored with a reason, or a problem."""
        summary = 1 if self.unlisted_problems else 0
        return self.statements == (self.read + len(self.ignored) + self.unlisted_ignored
                                   + len(self.problems) - summary + self.unlisted_problems)


class DdlError(Exception):
    """A statement is outside what the reader understands."""


Statement = lexer.Statement


def split_statements(text: str, platform: str, implicit: bool = True) -> Iterator[Statement]:
    """Yield the statements of a script, streaming (``lexer.statements`` with the reader's rules).

    With ``implicit`` a ``CREATE`` or ``ALTER`` that starts a line outside parentheses and
    bodies also starts a new statement, as vendor scripts often omit separators.
    """
    if platform not in PLATFORMS:
        raise ValueError("unknown DDL platform %r (expected one of %s)" % (platform, ", ".join(PLATFORMS)))
    return lexer.statements(text, platform, implicit=implicit, max_tokens=MAX_STATEMENT_TOKENS)


def _ident(token: Tuple[int, str, int], platform: str) -> str:
    kind, value = token[0], token[1]
    if kind == _BRACKET:
        return value[1:-1].replace("]]", "]")
    if kind == _DQUOTE:
        return value[1:-1].replace('""', '"')
    if platform == "oracle":
        return value.upper()
    if platform == "lab":
        return value.lower()
    return value


_NUMERIC_TYPES = frozenset(("numeric", "decimal", "dec", "number"))
_FRACTION_TYPES = frozenset(("datetime2", "time", "datetimeoffset", "timestamp"))
_MULTIWORD = {
    "double": ("precision",), "character": ("varying",), "char": ("varying",), "nchar": ("varying",),
    "national": ("character", "char", "varying"), "long": ("raw", "varchar"),
}
# Column-constraint words that end a DEFAULT expression.
# Words that end a filtered index's predicate: the options after it (SQL Server; on PostgreSQL WHERE comes last).
_FILTER_STOP = frozenset(("WITH", "ON", "FILESTREAM_ON"))
_DEFAULT_STOP = frozenset(("NOT", "NULL", "CONSTRAINT", "COLLATE", "IDENTITY", "PRIMARY", "UNIQUE", "CHECK",
                           "REFERENCES", "ROWGUIDCOL", "ENABLE", "DISABLE", "GENERATED", "SPARSE"))
# Physical options after a table or index definition: the words in _ARG_OPTIONS take one argument.
_OPTIONS = frozenset((
    "ON", "TEXTIMAGE_ON", "FILESTREAM_ON", "WITH", "TABLESPACE", "STORAGE", "PCTFREE", "PCTUSED", "INITRANS",
    "MAXTRANS", "LOGGING", "NOLOGGING", "COMPRESS", "NOCOMPRESS", "CACHE", "NOCACHE", "PARALLEL", "NOPARALLEL",
    "MONITORING", "NOMONITORING", "SEGMENT", "CREATION", "IMMEDIATE", "DEFERRED", "ORGANIZATION", "HEAP", "LOB",
    "STORE", "AS", "SECUREFILE", "BASICFILE", "ENABLE", "DISABLE", "ROW", "MOVEMENT", "COMPUTE", "STATISTICS",
    "ONLINE", "LOCAL", "GLOBAL", "REVERSE", "VISIBLE", "INVISIBLE", "PARAMETERS", "USING", "INDEX", "NOSORT",
    "VALIDATE", "NOVALIDATE", "RELY", "NORELY", "LOCK", "ESCALATION", "PARTITION", "BY", "FILLFACTOR",
    # SQL Server 2000 index options without parentheses: WITH PAD_INDEX, FILLFACTOR = 90, ...
    "PAD_INDEX", "IGNORE_DUP_KEY", "DROP_EXISTING", "STATISTICS_NORECOMPUTE", "SORT_IN_TEMPDB", "DATA_COMPRESSION",
    # Oracle partitioning, compression, object and nested tables (structure the model does not keep).
    "RANGE", "LIST", "HASH", "INTERVAL", "SUBPARTITION", "SUBPARTITIONS", "PARTITIONS", "TEMPLATE", "REFERENCE",
    "SYSTEM", "VALUES", "LESS", "THAN", "MAXVALUE", "DEFAULT", "AUTOMATIC", "FOR", "OLTP", "QUERY", "ARCHIVE",
    "HIGH", "LOW", "BASIC", "ADVANCED", "ALL", "OPERATIONS", "DIRECT_LOAD", "NESTED", "TABLE", "RETURN", "LOCATOR",
    "VALUE", "OBJECT", "IDENTIFIER", "IS", "PRIMARY", "KEY", "GENERATED", "OID", "INDEXORGANIZED", "OVERFLOW",
    "INCLUDING", "PCTTHRESHOLD", "MAPPING", "NOMAPPING", "SUBSTITUTABLE", "NOT", "AT", "LEVELS", "ELEMENT",
    "FREELISTS", "FREELIST", "GROUPS", "BUFFER_POOL", "FLASH_CACHE", "CELL_FLASH_CACHE", "KEEP", "RECYCLE",
    "INITIAL", "NEXT", "MINEXTENTS", "MAXEXTENTS", "PCTINCREASE", "UNLIMITED", "NONE", "CHUNK", "PCTVERSION",
    "RETENTION", "READS", "DEDUPLICATE", "KEEP_DUPLICATES", "INDEXING", "OFF", "READ", "ONLY", "WRITE", "NOROWDEPENDENCIES",
    "ROWDEPENDENCIES", "RESULT_CACHE", "MODE", "FORCE", "EXTERNAL",
    # SQL Server table options: WITH (SYSTEM_VERSIONING = ON (...)), MEMORY_OPTIMIZED, LEDGER.
    "SYSTEM_VERSIONING", "HISTORY_TABLE", "MEMORY_OPTIMIZED", "DURABILITY", "LEDGER", "PERIOD", "SYSTEM_TIME",
))
_ARG_OPTIONS = frozenset(("ON", "TEXTIMAGE_ON", "FILESTREAM_ON", "TABLESPACE", "PARTITION", "SUBPARTITION"))

_IGNORED_FIRST = {
    "SET": "session option", "PRINT": "message", "IF": "conditional (drop/exists check)", "DROP": "drop",
    "USE": "database switch", "GRANT": "permission", "REVOKE": "permission", "COMMENT": "comment",
    "SETUSER": "session user", "PROMPT": "SQL*Plus message", "SPOOL": "SQL*Plus spool",
    "WHENEVER": "SQL*Plus error handling", "BEGIN": "procedural block", "DECLARE": "procedural block",
    "INSERT": "data", "UPDATE": "data", "DELETE": "data", "EXEC": "procedure call", "EXECUTE": "procedure call",
    "TRUNCATE": "data", "COMMIT": "transaction control", "ROLLBACK": "transaction control",
    "SAVEPOINT": "transaction control", "CALL": "procedure call",
}
_IGNORED_CREATE = frozenset(("VIEW", "PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "SEQUENCE", "SYNONYM", "TYPE",
                             "PACKAGE", "STATISTICS", "SCHEMA", "USER", "ROLE", "DEFAULT", "RULE"))
# Legacy full-text procedures define structure the model would need: report them.
_UNSUPPORTED_EXEC = frozenset(("SP_FULLTEXT_TABLE", "SP_FULLTEXT_COLUMN"))


class _Parser(object):
    """Recursive descent over one statement's tokens."""

    def __init__(self, tokens: List[Tuple[int, str, int]], platform: str, source: str) -> None:
        self.tokens = tokens
        self.n = len(tokens)
        self.i = 0
        self.platform = platform
        self.source = source

    # --- token helpers -------------------------------------------------------------------
    def word(self) -> Optional[str]:
        if self.i < self.n and self.tokens[self.i][0] == _WORD:
            return self.tokens[self.i][1].upper()
        return None

    def at(self, punct: str) -> bool:
        return self.i < self.n and self.tokens[self.i][0] == _PUNCT and self.tokens[self.i][1] == punct

    def accept(self, *words: str) -> Optional[str]:
        current = self.word()
        if current is not None and current in words:
            self.i += 1
            return current
        return None

    def expect(self, *words: str) -> str:
        found = self.accept(*words)
        if found is None:
            raise DdlError("expected %s, found %s" % (" or ".join(words), self.describe()))
        return found

    def expect_punct(self, punct: str) -> None:
        if not self.at(punct):
            raise DdlError("expected '%s', found %s" % (punct, self.describe()))
        self.i += 1

    def describe(self) -> str:
        if self.i >= self.n:
            return "end of statement"
        token = self.tokens[self.i]
        if token[0] == _OTHER:
            return "unreadable text %r" % token[1][:20]
        return "'%s'" % token[1][:40]

    def done(self) -> bool:
        return self.i >= self.n

    def ident(self) -> str:
        if self.i < self.n:
            token = self.tokens[self.i]
            kind = token[0]
            if kind == _BRACKET:
                self.i += 1
                value = token[1][1:-1]
                return value.replace("]]", "]") if "]]" in value else value
            if kind in _IDENT_KINDS:
                self.i += 1
                return _ident(token, self.platform)
        raise DdlError("expected a name, found %s" % self.describe())

    def name(self) -> str:
        """A possibly qualified name (``[dbo].[X]``, ``"K2"."X"``); returns its last part."""
        part = self.ident()
        while self.at("."):
            self.i += 1
            part = self.ident()
        return part

    def skip_parens(self) -> None:
        self.expect_punct("(")
        depth = 1
        while self.i < self.n:
            kind, value = self.tokens[self.i][0], self.tokens[self.i][1]
            self.i += 1
            if kind == _PUNCT:
                if value == "(":
                    depth += 1
                elif value == ")":
                    depth -= 1
                    if depth == 0:
                        return
            elif kind == _OPEN:
                raise DdlError("unterminated quote or comment %r" % value)
        raise DdlError("unbalanced parentheses")

    def name_list(self) -> Tuple[str, ...]:
        """``(a [ASC|DESC], b ...)``"""
        self.expect_punct("(")
        names = []
        while True:
            names.append(self.ident())
            self.accept("ASC", "DESC")
            if self.at(","):
                self.i += 1
                continue
            self.expect_punct(")")
            return tuple(names)

    def skip_options(self, allow=frozenset()) -> Optional[str]:
        """Skip physical options; stop before a word in ``allow`` and return it."""
        while self.i < self.n:
            kind, value = self.tokens[self.i][0], self.tokens[self.i][1]
            if kind == _WORD:
                upper = value.upper()
                if upper in allow:
                    return upper
                if upper not in _OPTIONS:
                    raise DdlError("unexpected %s" % self.describe())
                self.i += 1
                if upper == "NESTED":      # NESTED TABLE column STORE AS storage_table
                    self.expect("TABLE")
                    self.ident()
                    continue
                if upper == "STORE" and self.accept("AS"):   # STORE AS [SECUREFILE|BASICFILE] [segment] [(...)]
                    self.accept("SECUREFILE", "BASICFILE")
                    if self.i < self.n and self.tokens[self.i][0] in _IDENT_KINDS and self.word() not in _OPTIONS:
                        self.ident()
                    continue
                if upper in _ARG_OPTIONS and self.i < self.n and self.tokens[self.i][0] in _IDENT_KINDS:
                    self.i += 1
            elif kind == _PUNCT and value == "(":
                self.skip_parens()
            elif kind in (_BRACKET, _DQUOTE, _NUMBER, _STRING) or (kind == _PUNCT and value in ",.=-"):
                self.i += 1
            else:
                raise DdlError("unexpected %s" % self.describe())
        return None

    # --- column definitions ----------------------------------------------------------------
    def data_type(self) -> Tuple[str, Optional[int], Optional[int], Optional[int], Optional[str]]:
        """``(type, length, precision, scale, semantics)``; ``semantics`` is Oracle's ``char``/``byte``."""
        type_name = sys.intern(self.name().lower())   # one string per type name, not one per column
        semantics = None
        if type_name == "interval" and self.word() in ("YEAR", "DAY"):
            return self.interval_type()
        follow = _MULTIWORD.get(type_name)
        while follow:
            nxt = self.word()
            if nxt is None or nxt.lower() not in follow:
                break
            self.i += 1
            type_name += " " + nxt.lower()
            follow = _MULTIWORD.get(nxt.lower())
        length = precision = scale = None
        if type_name == "xml" and self.at("("):
            self.skip_parens()   # typed xml: xml([CONTENT|DOCUMENT] schema_collection)
        elif self.at("("):
            self.i += 1
            args: List[Optional[int]] = []
            while True:
                if self.accept("MAX"):
                    args.append(MAX_LENGTH)
                elif self.at("*"):
                    self.i += 1
                    args.append(None)
                else:
                    negative = self.at("-")
                    if negative:
                        self.i += 1
                    if self.i >= self.n or self.tokens[self.i][0] != _NUMBER:
                        raise DdlError("expected a type size, found %s" % self.describe())
                    number = int(float(self.tokens[self.i][1]))
                    args.append(-number if negative else number)
                    self.i += 1
                unit = self.accept("BYTE", "CHAR")  # Oracle length semantics, kept and compared
                if unit is not None:
                    semantics = unit.lower()
                if self.at(","):
                    self.i += 1
                    continue
                self.expect_punct(")")
                break
            if type_name in _NUMERIC_TYPES:
                precision = args[0]
                scale = args[1] if len(args) > 1 else 0
            elif type_name == "float":
                precision = args[0]
            elif type_name in _FRACTION_TYPES:
                scale = args[0]
            else:
                length = args[0]
        if type_name.startswith("timestamp") or type_name == "time":
            while self.word() in ("WITH", "WITHOUT", "LOCAL", "TIME", "ZONE"):
                type_name += " " + self.tokens[self.i][1].lower()
                self.i += 1
        return type_name, length, precision, scale, semantics

    def paren_number(self) -> Optional[int]:
        if not self.at("("):
            return None
        self.i += 1
        if self.i >= self.n or self.tokens[self.i][0] != _NUMBER:
            raise DdlError("expected a precision, found %s" % self.describe())
        number = int(self.tokens[self.i][1])
        self.i += 1
        self.expect_punct(")")
        return number

    def interval_type(self) -> Tuple[str, Optional[int], Optional[int], Optional[int], Optional[str]]:
        """Oracle ``INTERVAL YEAR [(p)] TO MONTH`` and ``INTERVAL DAY [(p)] TO SECOND [(s)]``."""
        leading = self.expect("YEAR", "DAY")
        precision = self.paren_number()
        self.expect("TO")
        if leading == "YEAR":
            self.expect("MONTH")
            return "interval year to month", None, precision, None, None
        self.expect("SECOND")
        return "interval day to second", None, precision, self.paren_number(), None

    def expression(self, stop=_DEFAULT_STOP) -> str:
        """Raw text of an expression up to ``,``/``)`` or a stop word, at depth 0."""
        first = self.i
        depth = 0
        while self.i < self.n:
            kind, value = self.tokens[self.i][0], self.tokens[self.i][1]
            if kind == _PUNCT:
                if value == "(":
                    depth += 1
                elif value == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif value == "," and depth == 0:
                    break
            elif kind == _WORD and depth == 0 and value.upper() in stop:
                break
            elif kind == _OPEN:
                raise DdlError("unterminated quote or comment %r" % value)
            self.i += 1
        if self.i == first:
            raise DdlError("expected an expression, found %s" % self.describe())
        last = self.tokens[self.i - 1]
        return self.source[self.tokens[first][2]:last[2] + len(last[1])]

    def column(self, table: "_TableBuild", typed: bool = True) -> Column:
        """A column definition; ``typed=False``: an object table's attribute (constraints only)."""
        name = self.ident()
        computed = None
        type_name, length, precision, scale, semantics = "", None, None, None, None
        if self.accept("AS"):  # SQL Server computed column, Oracle virtual column without a type
            computed = self.expression(stop=_COMPUTED_STOP)
        elif typed:
            type_name, length, precision, scale, semantics = self.data_type()
        nullable = True
        # NOT NULL by the server's rules without saying so: identity and period columns.
        implicit_not_null = type_name in _SERIAL_TYPES and self.platform == "lab"
        identity = implicit_not_null
        default = None
        constraint_name = ""
        tokens = self.tokens
        while self.i < self.n:
            token = tokens[self.i]
            if token[0] == _PUNCT and (token[1] == "," or token[1] == ")"):
                break
            word = token[1].upper() if token[0] == _WORD else None
            self.i += 1
            if word == "NULL":
                nullable = True
            elif word == "NOT":
                if self.accept("NULL"):
                    nullable = False
                else:
                    self.expect("FOR")
                    self.expect("REPLICATION")
            elif word == "IDENTITY":
                identity = implicit_not_null = True
                if self.at("("):
                    self.skip_parens()
            elif word == "GENERATED":
                self.accept("ALWAYS")
                if self.accept("BY"):
                    self.expect("DEFAULT")
                    if self.accept("ON"):
                        self.expect("NULL")
                self.expect("AS")
                if self.at("("):                      # Oracle virtual / PostgreSQL generated column
                    computed = self.expression(stop=_COMPUTED_STOP)
                elif self.accept("IDENTITY"):
                    identity = implicit_not_null = True
                    if self.at("("):
                        self.skip_parens()
                else:                                  # SQL Server period and ledger columns
                    self.expect("ROW", "TRANSACTION_ID", "SEQUENCE_NUMBER")
                    self.expect("START", "END")
                    self.accept("HIDDEN")
                    implicit_not_null = True
            elif word == "DEFAULT":
                default = self.expression()
            elif word == "COLLATE":
                self.ident()
            elif word == "CONSTRAINT":
                constraint_name = self.ident()
            elif word == "PRIMARY":
                self.expect("KEY")
                clustered = self.accept("CLUSTERED", "NONCLUSTERED")
                columns = self.name_list() if self.at("(") else (name,)
                table.set_primary_key(PrimaryKey(constraint_name, columns, clustered == "CLUSTERED"))
                self.skip_constraint_options()
            elif word == "UNIQUE":
                clustered = self.accept("CLUSTERED", "NONCLUSTERED")
                table.add_index(Index(constraint_name, (name,), True, clustered == "CLUSTERED"))
                self.skip_constraint_options()
            elif word == "INDEX" and self.platform == "mssql":   # inline index (SQL Server 2014+)
                index_name = self.ident()
                unique = bool(self.accept("UNIQUE"))
                clustered = self.accept("CLUSTERED", "NONCLUSTERED")
                include, index_filter = self.index_options()
                table.add_index(Index(index_name, (name,), unique, clustered == "CLUSTERED", include, index_filter))
            elif word == "CHECK":
                self.accept("NOT")
                if self.accept("FOR"):
                    self.expect("REPLICATION")
                self.skip_parens()
            elif word == "REFERENCES":
                self.skip_references()
            elif word == "MASKED":                     # dynamic data masking
                self.expect("WITH")
                self.skip_parens()
            elif word == "ENCRYPTED":                  # Always Encrypted
                self.expect("WITH")
                self.skip_parens()
            elif word == "SCOPE":                      # Oracle REF column scope
                self.expect("IS")
                self.name()
            elif word == "WITH" and self.accept("ROWID"):
                pass
            elif word in _COLUMN_FLAGS:
                pass
            else:
                self.i -= 1
                raise DdlError("unexpected %s in column %r" % (self.describe(), name))
        if implicit_not_null:
            nullable = False
        return Column(name, type_name, length, precision, scale, nullable, identity, default, semantics, computed)

    def index_filter(self) -> str:
        """The predicate after ``WHERE`` of a filtered index, normalised (``schema.normalized_predicate``)."""
        self.expect("WHERE")
        predicate = self.expression(stop=_FILTER_STOP)
        normalized = normalized_predicate(predicate, self.platform)
        if normalized is None:
            raise DdlError("filtered index without a predicate")
        return normalized

    def index_options(self) -> Tuple[Tuple[str, ...], Optional[str]]:
        """What may follow an inline index: INCLUDE, WHERE, WITH (...), ON ..., FILESTREAM_ON ...

        Returns the included columns and the filter.
        """
        include: Tuple[str, ...] = ()
        index_filter = None
        while True:
            word = self.word()
            if word == "INCLUDE":
                self.i += 1
                include = self.name_list()
            elif word == "WHERE":
                index_filter = self.index_filter()
            elif word == "WITH":
                self.i += 1
                self.skip_parens()
            elif word in ("ON", "FILESTREAM_ON"):
                self.i += 1
                self.ident()
                if self.at("("):
                    self.skip_parens()
            else:
                return include, index_filter

    def skip_references(self) -> None:
        self.name()
        if self.at("("):
            self.skip_parens()
        while self.accept("ON"):
            self.expect("DELETE", "UPDATE")
            if self.accept("NO"):
                self.expect("ACTION")
            elif self.accept("SET"):
                self.expect("NULL", "DEFAULT")
            else:
                self.expect("CASCADE", "RESTRICT")

    def skip_constraint_options(self) -> None:
        """``WITH (...)``, ``ON [PRIMARY]``, ``USING INDEX ...``, ``ENABLE`` after a key."""
        while True:
            word = self.word()
            if word == "WITH" or word == "USING":
                self.i += 1
                if self.at("("):
                    self.skip_parens()
                elif word == "WITH":
                    # SQL Server 2000 scripting style: WITH FILLFACTOR = 90 (no parentheses)
                    self.expect("FILLFACTOR")
                    self.expect_punct("=")
                    if self.i >= self.n or self.tokens[self.i][0] != _NUMBER:
                        raise DdlError("expected a fill factor, found %s" % self.describe())
                    self.i += 1
                else:
                    self.expect("INDEX")
                    if self.at("("):
                        self.skip_parens()
                    elif self.i < self.n and self.tokens[self.i][0] in _IDENT_KINDS and self.word() not in _OPTIONS:
                        self.name()
            elif word in ("ON", "TABLESPACE"):
                self.i += 1
                self.ident()
                if word == "ON" and self.at("("):   # partition scheme (column)
                    self.skip_parens()
            elif word in ("STORAGE",):
                self.i += 1
                self.skip_parens()
            elif word in ("PCTFREE", "INITRANS", "MAXTRANS"):
                self.i += 1
                self.i += 1 if self.i < self.n and self.tokens[self.i][0] == _NUMBER else 0
            elif word in ("ENABLE", "DISABLE", "VALIDATE", "NOVALIDATE", "RELY", "NORELY", "LOGGING", "NOLOGGING",
                          "COMPUTE", "STATISTICS", "DEFERRABLE", "INITIALLY", "IMMEDIATE", "DEFERRED"):
                self.i += 1
            else:
                return

    def table_index(self, table: "_TableBuild") -> None:
        """``INDEX name [UNIQUE] [CLUSTERED|NONCLUSTERED] [COLUMNSTORE] [(columns)] ...`` inside CREATE TABLE."""
        self.expect("INDEX")
        name = self.ident()
        unique = bool(self.accept("UNIQUE"))
        clustered = self.accept("CLUSTERED", "NONCLUSTERED")
        columnstore = bool(self.accept("COLUMNSTORE"))
        columns = self.name_list() if self.at("(") or not columnstore else ()
        include, index_filter = self.index_options()
        if columnstore:
            include = ()   # a columnstore index holds its columns, none is "included"
        table.add_index(Index(name, columns, unique and not columnstore, clustered == "CLUSTERED", include, index_filter))

    def period(self) -> None:
        """``PERIOD FOR SYSTEM_TIME (start, end)``: names the period columns, adds none."""
        self.expect("PERIOD")
        self.expect("FOR")
        self.expect("SYSTEM_TIME", "VALIDTIME")
        self.name_list()

    def table_constraint(self, table: "_TableBuild") -> None:
        """``[CONSTRAINT n] PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK|DEFAULT ... FOR`` at table level."""
        name = self.ident() if self.accept("CONSTRAINT") else ""
        word = self.expect("PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "DEFAULT")
        if word == "PRIMARY":
            self.expect("KEY")
            clustered = self.accept("CLUSTERED", "NONCLUSTERED")
            table.set_primary_key(PrimaryKey(name, self.name_list(), clustered == "CLUSTERED"))
            self.skip_constraint_options()
        elif word == "UNIQUE":
            clustered = self.accept("CLUSTERED", "NONCLUSTERED")
            table.add_index(Index(name, self.name_list(), True, clustered == "CLUSTERED"))
            self.skip_constraint_options()
        elif word == "FOREIGN":
            self.expect("KEY")
            self.name_list()
            self.expect("REFERENCES")
            self.skip_references()
            self.skip_constraint_options()
        elif word == "CHECK":
            self.accept("NOT")
            self.accept("FOR")
            self.accept("REPLICATION")
            self.skip_parens()
            self.skip_constraint_options()
        else:
            default = self.expression(stop=frozenset(("FOR",)))
            self.expect("FOR")
            table.set_default(self.ident(), default)
            self.accept("WITH")
            self.accept("VALUES")


_QUOTES = frozenset(("'", '"', "["))
_SERIAL_TYPES = frozenset(("serial", "bigserial", "smallserial", "serial4", "serial8", "serial2"))
# Words that end a computed column's expression.
_COMPUTED_STOP = frozenset(("PERSISTED", "VIRTUAL", "STORED", "NOT", "NULL", "CONSTRAINT", "PRIMARY", "UNIQUE",
                            "CHECK", "REFERENCES", "COLLATE", "VISIBLE", "INVISIBLE"))
# Column attributes that change nothing the model keeps.
_COLUMN_FLAGS = frozenset(("ROWGUIDCOL", "SPARSE", "ENABLE", "DISABLE", "VALIDATE", "NOVALIDATE", "FILESTREAM",
                           "PERSISTED", "VIRTUAL", "STORED", "HIDDEN", "VISIBLE", "INVISIBLE", "RELY", "NORELY"))
_CONSTRAINT_START = frozenset(("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK"))
# Oracle MODIFY: words that follow the column's name when no new type is given.
_MODIFY_WITHOUT_TYPE = frozenset(("NULL", "NOT", "DEFAULT", "CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "REFERENCES",
                                  "ENABLE", "DISABLE", "VISIBLE", "INVISIBLE", "COLLATE"))


def _query_follows(p: _Parser, word: str) -> bool:
    """Whether ``word`` comes outside parentheses: ``AS [(] SELECT|WITH`` (CREATE TABLE), ``INTO`` (SELECT)."""
    depth = 0
    tokens = p.tokens   # read one at a time: a long statement's tokens are packed (lexer.TokenArray)
    for position in range(p.i, p.n):
        kind, value, dummy = tokens[position]
        if kind == _PUNCT:
            depth += 1 if value == "(" else -1 if value == ")" else 0
        elif kind == _WORD and depth == 0 and value.upper() == word:
            if word != "AS":
                return True
            following = [t[1].upper() for t in tokens[position + 1:position + 3]]
            return following[:1] in (["SELECT"], ["WITH"]) or following in (["(", "SELECT"], ["(", "WITH"])
    return False


class _TableBuild(object):
    """A table under construction: the parser's target for one statement.

    Its ``SourceRef`` (a copy of the statement's text) and, for a new table, its
    ``TableSources`` are made only when a key, an index or a full-text index needs them:
    a table of columns only is kept packed, its sources as the statement's place in the script.
    """

    __slots__ = ("table", "_reader", "_statement", "_ref", "_sources")

    def __init__(self, table: Table, reader: "_Reader", statement: Statement, sources: Optional[TableSources] = None) -> None:
        self.table = table
        self._reader = reader
        self._statement = statement
        self._ref: Optional[SourceRef] = None
        self._sources = sources

    @property
    def ref(self) -> SourceRef:
        if self._ref is None:
            self._ref = self._reader.ref(self._statement)
        return self._ref

    @property
    def statement(self) -> Statement:
        return self._statement

    @property
    def sources(self) -> TableSources:
        if self._sources is None:   # a new table: its CREATE TABLE is this statement
            self._sources = TableSources(self.ref)
        return self._sources

    def columns_only(self) -> bool:
        """Whether the table is its columns alone, with no sources but its CREATE TABLE (it can be packed)."""
        table = self.table
        return self._sources is None and table.primary_key is None and not table.indexes and table.fulltext is None

    def set_primary_key(self, pk: PrimaryKey) -> None:
        if self.table.primary_key is not None:
            raise DdlError("table %r already has a primary key" % self.table.name)
        self.table.primary_key = pk
        self.sources.primary_key = self.ref

    def add_index(self, index: Index) -> None:
        if index.name and self.table.index(index.name) is not None:
            raise DdlError("index %r is defined twice on table %r" % (index.name, self.table.name))
        self.table.indexes.append(index)
        self.sources.indexes[key(index.name)] = self.ref

    def set_default(self, column_name: str, default: str) -> None:
        columns = self.table.columns
        position = columns.find(column_name)
        if position < 0:
            raise DdlError("DEFAULT for unknown column %r" % column_name)
        columns[position] = replace(columns[position], default=default)

    def key_columns_not_null(self) -> None:
        """Primary-key columns are NOT NULL on every server, said or not (also for a key added by ALTER TABLE)."""
        pk = self.table.primary_key
        if pk is None:
            return
        columns = self.table.columns
        for name in pk.columns:
            position = columns.find(name)
            if position < 0:
                raise DdlError("primary key %r names unknown column %r" % (pk.name, name))
            column = columns[position]
            if column.nullable:
                columns[position] = replace(column, nullable=False)

    def add_fulltext(self, columns: Tuple[str, ...], key_index: Optional[str]) -> None:
        current = self.table.fulltext
        if current is not None:
            known = set(key(c) for c in current.columns)
            columns = current.columns + tuple(c for c in columns if key(c) not in known)
            key_index = current.key_index or key_index
        self.table.fulltext = FullTextIndex(columns, key_index)
        self.sources.fulltext.append(self.ref)


class _Reader(object):
    def __init__(self, text: str, platform: str, filename: str, database: str, fast: bool) -> None:
        self.text = text
        self.platform = platform
        self.filename = filename
        self.fast = fast and platform == "mssql"
        self.result = DdlResult(Schema(platform=platform, database=database), SourceMap(filename, text))
        self.types: Dict[str, List[Column]] = {}   # Oracle object types by key, for tables OF them
        self.columns_seen: Dict[str, Column] = {}  # the fast path's columns by their definition text
        # The table created last, added to the model when the next is created or the script ends:
        # packed if it is still its columns alone, else as a Table (keys mostly follow their table at once).
        self.open: Optional[_TableBuild] = None
        self.open_key = ""

    def run(self) -> DdlResult:
        result = self.result
        for statement in (self.fast_statements() if self.fast else split_statements(self.text, self.platform)):
            result.statements += 1
            if statement.problem is not None:
                self.problem(statement, statement.problem, statement.problem_line)
                continue
            if statement.ended == "blank":
                self.ignore(statement, "statement ended by a blank line: SQL*Plus does not run it (SET SQLBLANKLINES OFF,"
                            " its default)")
                continue
            if statement.ended == "client":
                command = statement.tokens[0][1].split(None, 1)[0] if statement.tokens[0][1].strip() else "@"
                self.ignore(statement, "%s (SQL*Plus client command, not sent to the server)" % command.upper())
                continue
            parser = _Parser(statement.tokens, self.platform, self.text)
            before = len(result.ignored) + result.unlisted_ignored
            try:
                self.statement(parser, statement)
            except DdlError as exc:
                if len(result.ignored) + result.unlisted_ignored > before:
                    if result.unlisted_ignored:
                        result.unlisted_ignored -= 1
                    else:
                        result.ignored.pop()
                self.problem(statement, str(exc))
            else:
                if len(result.ignored) + result.unlisted_ignored == before:
                    result.read += 1
        self.close_open()
        if result.unlisted_problems:
            result.problems.append(Problem(self.filename, result.problems[-1].line, "",
                                           "%d more statements could not be read (not listed one by one)" % result.unlisted_problems))
        return result

    def fast_statements(self) -> Iterator[Statement]:
        """The script's statements, read by ``ddl_fast`` where its patterns match a GO batch whole.

        Yields, for the token parser, the statements of every other batch (read by the
        tokenizer over the batch alone: the batch's quotes and comments close inside it), and
        all of the rest of the script from a batch the GO scanner cannot walk in C (a nested
        comment, an unclosed quote) or a GO line with a bad count.
        """
        text = self.text
        size = len(text)
        line = 1
        for found in lexer.go_scan_pattern("mssql").finditer(text):
            start = found.start()
            go_at = found.start(2)
            end = go_at if go_at >= 0 else found.end()
            bad_count = False
            if go_at >= 0 and found.group(3):
                try:
                    lexer.go_count(found.group(3), line)
                except lexer.GoCountError:
                    bad_count = True
            if (go_at < 0 and end < size) or bad_count:
                yield from lexer.statements(text, "mssql", True, MAX_STATEMENT_TOKENS, start=start, line=line)
                return
            first = ddl_fast.skip_leading(text, start, end)
            if first < end and not self.read_fast(first, end, line + text.count("\n", start, first)):
                yield from lexer.statements(text, "mssql", True, MAX_STATEMENT_TOKENS, start=start, end=end, line=line)
            if go_at < 0:
                return
            line += text.count("\n", start, found.end())

    def read_fast(self, first: int, end: int, line: int) -> bool:
        """Read the statement ``text[first:end]`` with ``ddl_fast`` if it matches and applies cleanly."""
        if end - first > MAX_STATEMENT_TOKENS:   # the token path would report it as too long
            return False
        try:
            found = ddl_fast.match(self.text, first, end, self.columns_seen)
        except ddl_fast.Unsure:
            return False
        if found is None:
            return False
        core_end, kind, data = found
        statement = Statement(line, first, core_end, [], "GO")
        schema = self.result.schema
        if kind == "ignored":
            if data not in _IGNORED_FIRST or data in ("EXEC", "EXECUTE"):
                return False
            self.result.statements += 1
            self.ignore(statement, "%s (%s)" % (data, _IGNORED_FIRST[data]))
            return True
        if kind == "table":
            name, columns = data
            self.close_open()
            if key(name) in schema.tables or len(set(key(c.name) for c in columns)) != len(columns):
                return False
            self.opened(_TableBuild(Table(name, columns), self, statement))
        else:
            build = self.existing(data[0], statement)
            if build is None:
                return False
            table = build.table
            if kind == "key":
                dummy, key_name, columns, clustered, defaults = data
                if table.primary_key is not None or any(table.columns.find(c) < 0 for c in columns) or any(
                        table.columns.find(column) < 0 for dummy_default, column in defaults):
                    return False
                build.set_primary_key(PrimaryKey(key_name, columns, clustered))
                for default, column in defaults:
                    build.set_default(column, default)
                build.key_columns_not_null()
            elif kind == "index":
                dummy, index_name, columns, unique, clustered, include = data
                if table.index(index_name) is not None:
                    return False
                build.add_index(Index(index_name, columns, unique, clustered, include))
            else:
                build.add_fulltext(data[1], data[2])
        self.result.statements += 1
        self.result.read += 1
        return True

    def problem(self, statement: Statement, reason: str, line: int = 0) -> None:
        if len(self.result.problems) >= MAX_LISTED:
            self.result.unlisted_problems += 1
            return
        excerpt = " ".join(self.text[statement.start:min(statement.end, statement.start + 400)].split())[:80]
        self.result.problems.append(Problem(self.filename, line or statement.line, excerpt, reason))

    def ignore(self, statement: Statement, what: str) -> None:
        if len(self.result.ignored) >= MAX_LISTED:
            self.result.unlisted_ignored += 1
            return
        self.result.ignored.append(Ignored(self.filename, statement.line, what))

    def ref(self, statement: Statement) -> SourceRef:
        return SourceRef(self.filename, statement.line, statement.text(self.text))

    def existing(self, name: str, statement: Statement) -> Optional[_TableBuild]:
        """The table ``name`` created earlier, as the target of ``statement``, or None."""
        wanted = key(name)
        if self.open is not None and wanted == self.open_key:
            return _TableBuild(self.open.table, self, statement, self.open.sources)
        table = self.result.schema.table(name)
        return None if table is None else _TableBuild(table, self, statement, self.result.sources[wanted])

    def target(self, name: str, statement: Statement) -> _TableBuild:
        build = self.existing(name, statement)
        if build is None:
            raise DdlError("table %r is not created earlier in this script" % name)
        return build

    def opened(self, build: _TableBuild) -> None:
        self.open, self.open_key = build, key(build.table.name)

    def close_open(self) -> None:
        """The open table added to the model: packed, with its CREATE TABLE's place, if it is its columns alone."""
        build = self.open
        if build is None:
            return
        self.open = None
        table = build.table
        if build.columns_only():
            self.result.schema.add_packed(table.name, table.columns)
            statement = build.statement
            self.result.sources.pack(table.name, statement.line, statement.start, statement.end)
        else:
            self.result.schema.add(table)
            self.result.sources[self.open_key] = build.sources

    def statement(self, p: _Parser, statement: Statement) -> None:
        first = p.word()
        if first is None:
            raise DdlError("not a statement: starts with %s" % p.describe())
        if first == "CREATE":
            p.i += 1
            self.create(p, statement)
        elif first == "ALTER":
            p.i += 1
            self.alter(p, statement)
        elif first in ("EXEC", "EXECUTE") and p.n > 1 and p.tokens[1][1].upper().split(".")[-1] in _UNSUPPORTED_EXEC:
            raise DdlError("legacy full-text procedure %s is not supported" % p.tokens[1][1])
        elif first == "SELECT" and _query_follows(p, "INTO"):
            raise DdlError("SELECT ... INTO creates a table from a query, which the reader does not run")
        elif first in _IGNORED_FIRST:
            self.ignore(statement, "%s (%s)" % (first, _IGNORED_FIRST[first]))
        else:
            raise DdlError("unknown statement %s" % first)

    def create(self, p: _Parser, statement: Statement) -> None:
        if p.accept("OR"):
            p.expect("REPLACE", "ALTER")
            p.accept("EDITIONABLE", "NONEDITIONABLE")
        unique = bool(p.accept("UNIQUE"))
        p.accept("BITMAP")
        clustered = p.accept("CLUSTERED", "NONCLUSTERED")
        word = p.word()
        if word == "TABLE" and not unique and clustered is None:
            p.i += 1
            self.create_table(p, statement)
        elif word == "INDEX":
            p.i += 1
            self.create_index(p, statement, unique, clustered == "CLUSTERED")
        elif word == "FULLTEXT" and not unique and clustered is None:
            p.i += 1
            if p.accept("INDEX"):
                self.create_fulltext(p, statement)
            else:
                what = p.expect("CATALOG", "STOPLIST")
                self.ignore(statement, "CREATE FULLTEXT %s" % what)
        elif word == "TYPE" and self.platform == "oracle" and not unique and clustered is None:
            self.create_type(p, statement)
        elif word in _IGNORED_CREATE and not unique and clustered is None:
            self.ignore(statement, "CREATE %s (not compared by the structure check)" % word)
        else:
            raise DdlError("unsupported CREATE %s" % p.describe())

    def create_table(self, p: _Parser, statement: Statement) -> None:
        name = p.name()
        if _query_follows(p, "AS"):
            raise DdlError("CREATE TABLE %r AS SELECT: its columns come from a query, which the reader does not run" % name)
        self.close_open()
        if key(name) in self.result.schema.tables:
            raise DdlError("table %r is created twice" % name)
        build = _TableBuild(Table(name), self, statement)
        if p.accept("OF"):
            self.object_table(p, build)
        else:
            p.expect_punct("(")
            self.table_elements(p, build, typed=True)
        p.skip_options()
        build.key_columns_not_null()
        self.opened(build)

    def table_elements(self, p: _Parser, build: _TableBuild, typed: bool) -> None:
        """Columns and constraints up to the closing parenthesis (a trailing comma is allowed)."""
        columns = build.table.columns
        while True:
            word = p.word()
            if word in _CONSTRAINT_START:
                p.table_constraint(build)
            elif word == "INDEX" and self.platform == "mssql":
                p.table_index(build)
            elif word == "PERIOD" and p.i + 1 < p.n and p.tokens[p.i + 1][1].upper() == "FOR":
                p.period()
            elif typed:
                column = p.column(build)
                if columns.find(column.name) >= 0:
                    raise DdlError("column %r is defined twice" % column.name)
                columns.append(column)
            else:  # an object table's attribute: constraints on a column the type defines
                self.object_attribute(p, build)
            if p.at(","):
                p.i += 1
                if p.at(")"):   # a trailing comma, which SQL Server accepts
                    p.i += 1
                    return
                continue
            p.expect_punct(")")
            return

    def object_table(self, p: _Parser, build: _TableBuild) -> None:
        """Oracle ``CREATE TABLE t OF type [(constraints)]``: the columns are the type's attributes."""
        type_name = p.name()
        attributes = self.types.get(key(type_name))
        if attributes is None:
            raise DdlError("object table of type %r: the type is not created earlier in this script" % type_name)
        build.table.columns.extend(attributes)
        while p.accept("NOT", "SUBSTITUTABLE", "AT", "ALL", "LEVELS"):
            pass
        if p.at("("):
            p.i += 1
            self.table_elements(p, build, typed=False)

    def object_attribute(self, p: _Parser, build: _TableBuild) -> None:
        probe = p.i
        name = p.ident()
        column = build.table.column(name)
        if column is None:
            raise DdlError("object table constraint on unknown attribute %r" % name)
        p.i = probe
        constrained = p.column(build, typed=False)
        position = build.table.columns.index(column)
        build.table.columns[position] = replace(column, nullable=column.nullable and constrained.nullable,
                                                default=constrained.default or column.default)

    def create_type(self, p: _Parser, statement: Statement) -> None:
        """Oracle ``CREATE [OR REPLACE] TYPE t AS|IS OBJECT (attr type, ...)``: kept for object tables."""
        p.i += 1
        if p.accept("BODY"):
            self.ignore(statement, "CREATE TYPE BODY (not compared by the structure check)")
            return
        type_name = p.name()
        p.accept("FORCE")
        while p.accept("AUTHID"):
            p.expect("CURRENT_USER", "DEFINER")
        if p.accept("UNDER"):
            p.name()
        elif p.accept("AS", "IS"):
            if not p.accept("OBJECT"):
                self.ignore(statement, "CREATE TYPE %s (collection type, not compared by the structure check)" % type_name)
                return
        else:
            self.ignore(statement, "CREATE TYPE %s (not compared by the structure check)" % type_name)
            return
        p.expect_punct("(")
        attributes: List[Column] = []
        scratch = _TableBuild(Table(type_name), self, statement)
        while True:
            if p.word() in ("MEMBER", "STATIC", "MAP", "ORDER", "CONSTRUCTOR", "FINAL", "INSTANTIABLE", "NOT", "OVERRIDING"):
                break  # methods follow the attributes
            attributes.append(p.column(scratch))
            if not p.at(","):
                break
            p.i += 1
        self.types[key(type_name)] = attributes
        self.ignore(statement, "CREATE TYPE %s (object type: its attributes are the columns of tables OF it)" % type_name)

    def alter(self, p: _Parser, statement: Statement) -> None:
        p.expect("TABLE")
        build = self.target(p.name(), statement)
        if p.accept("WITH"):
            p.expect("NOCHECK", "CHECK")
        verb = p.word()
        if verb in ("ALTER", "MODIFY"):
            p.i += 1
            self.alter_columns(p, build, verb)
        elif verb == "DROP":
            p.i += 1
            self.drop(p, build)
        elif verb == "ADD":
            p.i += 1
            self.add(p, build)
        else:
            raise DdlError("ALTER TABLE ... %s is not a structure definition" % p.describe())
        if not p.done():
            raise DdlError("unexpected %s" % p.describe())
        build.key_columns_not_null()

    def add(self, p: _Parser, build: _TableBuild) -> None:
        """``ADD`` columns and constraints."""
        wrapped = p.at("(")
        if wrapped:
            p.i += 1
        while True:
            if p.word() in _CONSTRAINT_START or p.word() == "DEFAULT":
                p.table_constraint(build)
            else:
                p.accept("COLUMN")
                column = p.column(build)
                if build.table.column(column.name) is not None:
                    raise DdlError("column %r is defined twice" % column.name)
                build.table.columns.append(column)
            if p.at(","):
                p.i += 1
                p.accept("ADD")
                continue
            break
        if wrapped:
            p.expect_punct(")")

    def alter_columns(self, p: _Parser, build: _TableBuild, verb: str) -> None:
        """A column redefined: SQL Server ``ALTER COLUMN``, Oracle ``MODIFY``, PostgreSQL ``ALTER [COLUMN]``.

        SQL Server: the new type replaces the old, and the column is nullable unless ``NOT
        NULL`` is said (as in CREATE TABLE); its default and identity stay. Oracle: only
        what is said changes (type, default, nullability). PostgreSQL: ``[SET DATA] TYPE``,
        ``SET|DROP NOT NULL``, ``SET|DROP DEFAULT``.
        """
        table = build.table
        if verb == "MODIFY":
            wrapped = p.at("(")
            if wrapped:
                p.i += 1
            while True:
                self.modify_column(p, build)
                if not p.at(","):
                    break
                p.i += 1
            if wrapped:
                p.expect_punct(")")
            return
        if self.platform == "lab":
            while True:
                p.accept("COLUMN")
                column = self.existing_column(table, p.ident())
                if p.accept("SET"):
                    if p.accept("NOT"):
                        p.expect("NULL")
                        column = replace(column, nullable=False)
                    elif p.accept("DEFAULT"):
                        column = replace(column, default=p.expression())
                    else:
                        p.expect("DATA")
                        column = self.retyped(p, column)
                elif p.accept("DROP"):
                    if p.accept("NOT"):
                        p.expect("NULL")
                        column = replace(column, nullable=True)
                    else:
                        p.expect("DEFAULT")
                        column = replace(column, default=None)
                else:
                    column = self.retyped(p, column)
                table.columns[table.columns.index(table.column(column.name))] = column
                if not p.at(","):
                    return
                p.i += 1
                p.expect("ALTER")
        p.expect("COLUMN")
        probe = p.i
        old = self.existing_column(table, p.ident())
        if p.word() in ("ADD", "DROP"):   # ADD|DROP ROWGUIDCOL, PERSISTED, MASKED, NOT FOR REPLICATION
            p.i = p.n
            return
        p.i = probe
        new = p.column(build)
        nullable = new.nullable and not old.identity
        table.columns[table.columns.index(old)] = replace(
            old, type=new.type, length=new.length, precision=new.precision, scale=new.scale, nullable=nullable,
            semantics=new.semantics)

    def retyped(self, p: _Parser, column: Column) -> Column:
        """PostgreSQL ``TYPE t [COLLATE c] [USING expression]``."""
        p.expect("TYPE")
        type_name, length, precision, scale, semantics = p.data_type()
        if p.accept("COLLATE"):
            p.ident()
        if p.accept("USING"):
            p.expression(stop=frozenset())
        return replace(column, type=type_name, length=length, precision=precision, scale=scale, semantics=semantics)

    def modify_column(self, p: _Parser, build: _TableBuild) -> None:
        """Oracle ``MODIFY col [type] [DEFAULT expr] [NULL | NOT NULL] ...``: what is not said stays."""
        table = build.table
        probe = p.i
        old = self.existing_column(table, p.ident())
        typed = not (p.at(",") or p.at(")") or p.done() or p.word() in _MODIFY_WITHOUT_TYPE)
        p.i = probe
        new = p.column(build, typed=typed)
        said = set(t[1].upper() for t in p.tokens[probe:p.i] if t[0] == _WORD)
        column = old
        if typed:
            column = replace(column, type=new.type, length=new.length, precision=new.precision, scale=new.scale,
                             semantics=new.semantics)
        if "NULL" in said:
            column = replace(column, nullable=new.nullable and not old.identity)
        if "DEFAULT" in said:
            column = replace(column, default=new.default)
        table.columns[table.columns.index(old)] = column

    def existing_column(self, table: Table, name: str) -> Column:
        column = table.column(name)
        if column is None:
            raise DdlError("table %r has no column %r" % (table.name, name))
        return column

    def drop(self, p: _Parser, build: _TableBuild) -> None:
        """``DROP COLUMN`` (Oracle also ``DROP (a, b)``) and ``DROP CONSTRAINT`` of a key or unique constraint.

        A column a key, an index or the full-text index uses is not dropped: SQL Server
        refuses it, Oracle and PostgreSQL drop what uses it with it; either way the reader
        reports it rather than guess.
        """
        table = build.table
        if p.accept("CONSTRAINT"):
            if p.accept("IF"):
                p.expect("EXISTS")
            name = p.ident()
            if table.primary_key is not None and key(table.primary_key.name) == key(name):
                table.primary_key = None
            elif table.index(name) is not None:
                table.indexes.remove(table.index(name))
            else:
                raise DdlError("DROP CONSTRAINT %r: not a primary key or unique constraint of table %r the script made"
                               " (a default or check constraint is not read)" % (name, table.name))
            while p.accept("CASCADE", "KEEP", "DROP", "INDEX"):
                pass
            return
        if self.platform == "oracle" and p.at("("):
            names = list(p.name_list())
        else:
            p.accept("COLUMN")
            if p.accept("IF"):
                p.expect("EXISTS")
            names = [p.ident()]
            while p.at(","):
                p.i += 1
                p.accept("COLUMN")
                names.append(p.ident())
        while p.accept("CASCADE", "CONSTRAINTS", "INVALIDATE", "RESTRICT"):
            pass
        dropped = set()
        for name in names:
            column = self.existing_column(table, name)
            users = ["the primary key"] if table.primary_key and key(name) in set(key(c) for c in table.primary_key.columns) else []
            users += ["index %r" % ix.name for ix in table.indexes if key(name) in set(key(c) for c in ix.columns + ix.include)]
            if table.fulltext is not None and key(name) in set(key(c) for c in table.fulltext.columns):
                users.append("the full-text index")
            if users:
                raise DdlError("drops column %r, which %s uses: not read" % (column.name, ", ".join(users)))
            dropped.add(key(name))
        table.columns[:] = [c for c in table.columns if key(c.name) not in dropped]

    def create_index(self, p: _Parser, statement: Statement, unique: bool, clustered: bool) -> None:
        if p.accept("IF"):
            p.expect("NOT")
            p.expect("EXISTS")
        p.accept("CONCURRENTLY")
        index_name = p.name()
        p.expect("ON")
        p.accept("ONLY")
        build = self.target(p.name(), statement)
        method = None
        if p.accept("USING"):
            method = p.ident().lower()
        if method == "gin" or self._is_expression_list(p):
            columns = self._tsvector_columns(p)
            p.skip_options()
            build.add_fulltext(columns, None)
            return
        columns = p.name_list()
        include: Tuple[str, ...] = ()
        index_filter = None
        fulltext = False
        while not p.done():
            stop = p.skip_options(allow=frozenset(("INCLUDE", "INDEXTYPE", "WHERE")))
            if stop == "INCLUDE":
                p.i += 1
                include = p.name_list()
            elif stop == "INDEXTYPE":
                p.i += 1
                p.expect("IS")
                indextype = p.name().upper()
                if indextype not in ("CONTEXT", "CTXCAT"):
                    raise DdlError("unsupported INDEXTYPE %s" % indextype)
                fulltext = True
            elif stop == "WHERE":
                if self.platform == "oracle":
                    raise DdlError("CREATE INDEX ... WHERE: Oracle has no filtered indexes")
                index_filter = p.index_filter()
        if fulltext:
            if index_filter is not None:
                raise DdlError("a filtered full-text index (INDEXTYPE ... WHERE) is not read")
            build.add_fulltext(columns, None)
        else:
            build.add_index(Index(index_name, columns, unique, clustered, include, index_filter))

    def _is_expression_list(self, p: _Parser) -> bool:
        """True when the index is over an expression (``to_tsvector(...)``), not plain names."""
        if not p.at("(") or p.i + 2 >= p.n:
            return False
        second = p.tokens[p.i + 2]
        return p.tokens[p.i + 1][0] == _WORD and second[0] == _PUNCT and second[1] == "("

    def _tsvector_columns(self, p: _Parser) -> Tuple[str, ...]:
        start = p.i
        p.skip_parens()
        body = p.tokens[start:p.i]
        if not any(t[0] == _WORD and t[1].lower() == "to_tsvector" for t in body):
            raise DdlError("expression index is not supported (only to_tsvector full-text)")
        names: List[str] = []
        for position, token in enumerate(body):
            if token[0] not in _IDENT_KINDS:
                continue
            following = body[position + 1] if position + 1 < len(body) else None
            if token[0] == _WORD and following is not None and following[1] == "(":
                continue  # a function name
            name = _ident(token, p.platform)
            if key(name) not in set(key(n) for n in names):
                names.append(name)
        if not names:
            raise DdlError("full-text index without columns")
        return tuple(names)

    def create_fulltext(self, p: _Parser, statement: Statement) -> None:
        p.expect("ON")
        p.accept("TABLE")
        build = self.target(p.name(), statement)
        p.expect_punct("(")
        columns = []
        while True:
            columns.append(p.ident())
            while not p.at(",") and not p.at(")"):
                word = p.expect("TYPE", "COLUMN", "LANGUAGE", "STATISTICAL_SEMANTICS")
                if word == "COLUMN":
                    p.ident()
                elif word == "LANGUAGE":
                    if p.i < p.n and p.tokens[p.i][0] in (_NUMBER, _STRING, _WORD):
                        p.i += 1
                    else:
                        raise DdlError("expected a language after LANGUAGE")
            if p.at(","):
                p.i += 1
                continue
            p.expect_punct(")")
            break
        p.expect("KEY")
        p.expect("INDEX")
        key_index = p.ident()
        if p.accept("ON"):
            if p.at("("):
                p.skip_parens()
            else:
                p.ident()
        if p.accept("WITH"):
            if p.at("("):
                p.skip_parens()
            else:
                while not p.done() and not p.at(","):
                    p.i += 1
        if not p.done():
            raise DdlError("unexpected %s" % p.describe())
        build.add_fulltext(tuple(columns), key_index)


def read_ddl(text: str, platform: str, filename: str = "", database: str = "", fast: bool = True) -> DdlResult:
    """Read one structure script into a ``DdlResult`` (see the module docstring).

    ``fast`` reads the common SQL Server statements with whole-statement patterns
    (``ddl_fast``); the result is the same without it, only slower.
    """
    if platform not in PLATFORMS:
        raise ValueError("unknown DDL platform %r (expected one of %s)" % (platform, ", ".join(PLATFORMS)))
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # keep offsets; a BOM is not part of the first statement
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return _Reader(text, platform, filename, database, fast).run()


# Public handles on the tokenizer for the repair plan's search through conversion scripts.
WORD = _WORD
PUNCT = _PUNCT
IDENT_KINDS = _IDENT_KINDS


def token_ident(token: Tuple[int, str, int], platform: str) -> str:
    """The identifier a name token stands for (unquoted, folded as ``platform`` folds it)."""
    return _ident(token, platform)
