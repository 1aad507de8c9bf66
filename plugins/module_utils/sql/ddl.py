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
statement. ``benchmarks/bench_ddl.py`` measures it against sqlglot, which is more than ten
times slower on a 2,000-table script and does not keep source lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import (
    MAX_LENGTH, PLATFORMS, Column, FullTextIndex, Index, PrimaryKey, Schema, Table, key,
)

# Token kinds (the group number of the tokenizer's alternatives).
_SEPARATOR, _LINE_COMMENT, _BLOCK_COMMENT, _OPEN_COMMENT, _BRACKET, _DQUOTE, _STRING, _NUMBER, _WORD, _PUNCT, _OTHER = range(1, 12)
_IDENT_KINDS = (_BRACKET, _DQUOTE, _WORD)

_COMMON_TAIL = (
    r"|(\[(?:[^\]]|\]\])*\])"          # 5 [bracketed] identifier (MS SQL only, see _tokenizer)
    r'|("(?:[^"]|"")*")'               # 6 "quoted" identifier
    r"|([Nn]?'(?:[^']|'')*')"          # 7 string literal
    r"|(\d+(?:\.\d+)?)"                # 8 number
    r"|([^\W\d][\w@#$]*|[@#][\w@#$]*)"  # 9 word
    r"|(\|\||[(),.;=+\-*])"            # 10 punctuation
    r"|(\S)"                           # 11 anything else: reported by the parser
)


def _tokenizer(platform: str) -> "re.Pattern[str]":
    separator = r"/[ \t]*" if platform == "oracle" else r"[Gg][Oo](?:[ \t]+\d+)?[ \t]*(?:--[^\n]*)?"
    tail = _COMMON_TAIL
    if platform != "mssql":
        tail = tail.replace(r"(\[(?:[^\]]|\]\])*\])", r"(\[\])")  # keep group numbers; '[' is not a quote there
    # Each match consumes its leading whitespace, so the engine does not retry every
    # alternative at every blank (token positions come from the group, not the match).
    # Something always matches where a match starts (the catch-all or the end), so a
    # whitespace run is scanned once: no quadratic backtracking on long blank runs.
    return re.compile(r"(?:\s*\n|^)[ \t]*(" + separator + r")\r?$"
                      r"|\s*(?:(--[^\n]*)|(/\*[\s\S]*?\*/)|(/\*)" + tail + r"|\Z)", re.MULTILINE)


_TOKENIZERS = {platform: _tokenizer(platform) for platform in PLATFORMS}

# Statements whose body may contain ';' or line-initial CREATE/ALTER: they end only at GO or '/'.
_BODY_OBJECTS = frozenset(("PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "VIEW", "PACKAGE", "TYPE"))


@dataclass(frozen=True)
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


@dataclass
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


@dataclass
class DdlResult:
    schema: Schema
    sources: Dict[str, TableSources] = field(default_factory=dict)
    problems: List[Problem] = field(default_factory=list)
    ignored: List[Ignored] = field(default_factory=list)


@dataclass
class Statement:
    """One statement of a script: its tokens, start line and span in the text."""

    line: int
    start: int
    end: int
    tokens: List[Tuple[int, str, int]]

    def text(self, source: str) -> str:
        return source[self.start:self.end].strip()


class DdlError(Exception):
    """A statement is outside what the reader understands."""


def split_statements(text: str, platform: str, implicit: bool = True) -> Iterator[Statement]:
    """Yield the statements of a script, streaming.

    A statement ends at a ``GO`` line (MS SQL, lab), a ``/`` line (Oracle) or ``;``. With
    ``implicit`` a ``CREATE`` or ``ALTER`` that starts a line outside parentheses also starts
    a new statement, as vendor scripts often omit separators. Procedure, trigger, view and
    PL/SQL bodies end only at ``GO`` or ``/``. An unterminated ``/*`` comment becomes a
    statement of its own that the parser reports.
    """
    if platform not in _TOKENIZERS:
        raise ValueError("unknown DDL platform %r (expected one of %s)" % (platform, ", ".join(PLATFORMS)))
    tokens: List[Tuple[int, str, int]] = []
    depth = 0
    body = False
    line = 1
    counted_to = 0
    # The loop runs once per token, so it is written for speed: the common kinds first.
    for match in _TOKENIZERS[platform].finditer(text):
        kind = match.lastindex
        if kind == _WORD:
            value = match.group(kind)
            pos = match.start(kind)
            if not tokens:
                body = value.upper() in ("BEGIN", "DECLARE")
            elif not body:
                if (implicit and depth <= 0 and value[0] in "cCaA" and value.upper() in ("CREATE", "ALTER")
                        and text[text.rfind("\n", 0, pos) + 1:pos].strip() == ""):
                    line += text.count("\n", counted_to, tokens[0][2])
                    counted_to = tokens[0][2]
                    yield Statement(line, counted_to, tokens[-1][2] + len(tokens[-1][1]), tokens)
                    tokens = []
                    depth = 0
                elif len(tokens) < 4:
                    body = _starts_body(tokens, value)
            tokens.append((kind, value, pos))
        elif kind == _PUNCT:
            value = match.group(kind)
            if value == "(":
                depth += 1
            elif value == ")":
                depth -= 1
            elif value == ";" and not body:
                if tokens:
                    line += text.count("\n", counted_to, tokens[0][2])
                    counted_to = tokens[0][2]
                    yield Statement(line, counted_to, match.end(kind), tokens)
                tokens = []
                depth = 0
                continue
            tokens.append((kind, value, match.start(kind)))
        elif kind is not None and kind >= _BRACKET:
            tokens.append((kind, match.group(kind), match.start(kind)))
        elif kind == _SEPARATOR:
            if tokens:
                line += text.count("\n", counted_to, tokens[0][2])
                counted_to = tokens[0][2]
                yield Statement(line, counted_to, tokens[-1][2] + len(tokens[-1][1]), tokens)
            tokens = []
            depth = 0
            body = False
        elif kind == _OPEN_COMMENT:
            tokens.append((kind, match.group(kind), match.start(kind)))
            break
    if tokens:
        line += text.count("\n", counted_to, tokens[0][2])
        end = len(text) if tokens[-1][0] == _OPEN_COMMENT else tokens[-1][2] + len(tokens[-1][1])
        yield Statement(line, tokens[0][2], end, tokens)


def _starts_body(tokens: List[Tuple[int, str, int]], value: str) -> bool:
    upper = value.upper()
    if not tokens:
        return upper in ("BEGIN", "DECLARE")
    lead = [t[1].upper() for t in tokens]
    if lead in (["CREATE"], ["ALTER"], ["CREATE", "OR", "REPLACE"], ["CREATE", "OR", "ALTER"]):
        return upper in _BODY_OBJECTS
    return False


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
))
_ARG_OPTIONS = frozenset(("ON", "TEXTIMAGE_ON", "FILESTREAM_ON", "TABLESPACE", "PARTITION"))

_IGNORED_FIRST = {
    "SET": "session option", "PRINT": "message", "IF": "conditional (drop/exists check)", "DROP": "drop",
    "USE": "database switch", "GRANT": "permission", "REVOKE": "permission", "COMMENT": "comment",
    "SETUSER": "session user", "PROMPT": "SQL*Plus message", "SPOOL": "SQL*Plus spool",
    "WHENEVER": "SQL*Plus error handling", "BEGIN": "procedural block", "DECLARE": "procedural block",
    "INSERT": "data", "UPDATE": "data", "DELETE": "data", "EXEC": "procedure call", "EXECUTE": "procedure call",
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
            elif kind == _OPEN_COMMENT or (kind == _OTHER and value in _QUOTES):
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
    def data_type(self) -> Tuple[str, Optional[int], Optional[int], Optional[int]]:
        type_name = self.name().lower()
        follow = _MULTIWORD.get(type_name)
        while follow:
            nxt = self.word()
            if nxt is None or nxt.lower() not in follow:
                break
            self.i += 1
            type_name += " " + nxt.lower()
            follow = _MULTIWORD.get(nxt.lower())
        length = precision = scale = None
        if self.at("("):
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
                self.accept("BYTE", "CHAR")  # Oracle length semantics; the model keeps characters
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
        return type_name, length, precision, scale

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
            elif kind == _OPEN_COMMENT or (kind == _OTHER and value in _QUOTES):
                raise DdlError("unterminated quote or comment %r" % value)
            self.i += 1
        if self.i == first:
            raise DdlError("expected an expression, found %s" % self.describe())
        last = self.tokens[self.i - 1]
        return self.source[self.tokens[first][2]:last[2] + len(last[1])]

    def column(self, table: "_TableBuild") -> Column:
        name = self.ident()
        if self.accept("AS"):
            raise DdlError("computed column %r is not supported" % name)
        type_name, length, precision, scale = self.data_type()
        nullable = True
        identity = False
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
                identity = True
                if self.at("("):
                    self.skip_parens()
            elif word == "GENERATED":
                while self.word() in ("ALWAYS", "BY", "DEFAULT", "ON", "NULL", "AS"):
                    self.i += 1
                self.expect("IDENTITY")
                identity = True
                if self.at("("):
                    self.skip_parens()
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
            elif word == "CHECK":
                self.skip_parens()
            elif word == "REFERENCES":
                self.skip_references()
            elif word in ("ROWGUIDCOL", "SPARSE", "ENABLE", "DISABLE", "VALIDATE", "NOVALIDATE", "FILESTREAM"):
                pass
            else:
                self.i -= 1
                raise DdlError("unexpected %s in column %r" % (self.describe(), name))
        return Column(name, type_name, length, precision, scale, nullable, identity, default)

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
                elif word == "USING":
                    self.expect("INDEX")
                    if self.at("("):
                        self.skip_parens()
            elif word in ("ON", "TABLESPACE"):
                self.i += 1
                self.ident()
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
_CONSTRAINT_START = frozenset(("CONSTRAINT", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK"))


class _TableBuild(object):
    """A table under construction: the parser's target for one statement."""

    def __init__(self, table: Table, sources: TableSources, ref: SourceRef) -> None:
        self.table = table
        self.sources = sources
        self.ref = ref

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
        column = self.table.column(column_name)
        if column is None:
            raise DdlError("DEFAULT for unknown column %r" % column_name)
        position = self.table.columns.index(column)
        self.table.columns[position] = Column(column.name, column.type, column.length, column.precision, column.scale,
                                              column.nullable, column.identity, default)

    def add_fulltext(self, columns: Tuple[str, ...], key_index: Optional[str]) -> None:
        current = self.table.fulltext
        if current is not None:
            known = set(key(c) for c in current.columns)
            columns = current.columns + tuple(c for c in columns if key(c) not in known)
            key_index = current.key_index or key_index
        self.table.fulltext = FullTextIndex(columns, key_index)
        self.sources.fulltext.append(self.ref)


class _Reader(object):
    def __init__(self, text: str, platform: str, filename: str, database: str) -> None:
        self.text = text
        self.platform = platform
        self.filename = filename
        self.result = DdlResult(Schema(platform=platform, database=database))

    def run(self) -> DdlResult:
        for statement in split_statements(self.text, self.platform):
            parser = _Parser(statement.tokens, self.platform, self.text)
            try:
                self.statement(parser, statement)
            except DdlError as exc:
                if statement.tokens[-1][0] == _OPEN_COMMENT:
                    exc = DdlError("unterminated /* comment")
                self.problem(statement, str(exc))
        return self.result

    def problem(self, statement: Statement, reason: str) -> None:
        excerpt = " ".join(statement.text(self.text).split())[:80]
        self.result.problems.append(Problem(self.filename, statement.line, excerpt, reason))

    def ignore(self, statement: Statement, what: str) -> None:
        self.result.ignored.append(Ignored(self.filename, statement.line, what))

    def ref(self, statement: Statement) -> SourceRef:
        return SourceRef(self.filename, statement.line, statement.text(self.text))

    def target(self, name: str, statement: Statement) -> _TableBuild:
        table = self.result.schema.table(name)
        if table is None:
            raise DdlError("table %r is not created earlier in this script" % name)
        return _TableBuild(table, self.result.sources[key(name)], self.ref(statement))

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
        elif word in _IGNORED_CREATE and not unique and clustered is None:
            self.ignore(statement, "CREATE %s (not compared by the structure check)" % word)
        else:
            raise DdlError("unsupported CREATE %s" % p.describe())

    def create_table(self, p: _Parser, statement: Statement) -> None:
        name = p.name()
        if self.result.schema.table(name) is not None:
            raise DdlError("table %r is created twice" % name)
        ref = self.ref(statement)
        build = _TableBuild(Table(name), TableSources(ref), ref)
        p.expect_punct("(")
        seen = set()
        while True:
            if p.word() in _CONSTRAINT_START:
                p.table_constraint(build)
            else:
                column = p.column(build)
                if key(column.name) in seen:
                    raise DdlError("column %r is defined twice" % column.name)
                seen.add(key(column.name))
                build.table.columns.append(column)
            if p.at(","):
                p.i += 1
                continue
            p.expect_punct(")")
            break
        p.skip_options()
        self.result.schema.add(build.table)
        self.result.sources[key(name)] = build.sources

    def alter(self, p: _Parser, statement: Statement) -> None:
        p.expect("TABLE")
        build = self.target(p.name(), statement)
        if p.accept("WITH"):
            p.expect("NOCHECK", "CHECK")
        verb = p.word()
        if verb != "ADD":
            raise DdlError("ALTER TABLE ... %s is not a structure definition" % p.describe())
        p.i += 1
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
        if not p.done():
            raise DdlError("unexpected %s" % p.describe())

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
                raise DdlError("filtered index %r is not supported" % index_name)
        if fulltext:
            build.add_fulltext(columns, None)
        else:
            build.add_index(Index(index_name, columns, unique, clustered, include))

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


def read_ddl(text: str, platform: str, filename: str = "", database: str = "") -> DdlResult:
    """Read one structure script into a ``DdlResult`` (see the module docstring)."""
    if platform not in PLATFORMS:
        raise ValueError("unknown DDL platform %r (expected one of %s)" % (platform, ", ".join(PLATFORMS)))
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # keep offsets; a BOM is not part of the first statement
    return _Reader(text, platform, filename, database).run()


# Public handles on the tokenizer for the repair plan's search through conversion scripts.
WORD = _WORD
PUNCT = _PUNCT
IDENT_KINDS = _IDENT_KINDS


def token_ident(token: Tuple[int, str, int], platform: str) -> str:
    """The identifier a name token stands for (unquoted, folded as ``platform`` folds it)."""
    return _ident(token, platform)
