# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Split SQL scripts into batches, as a stream, the way the vendor's tools do.

``split_batches(stream, dialect)`` reads a text stream in chunks of whole lines and
yields ``Batch`` objects; memory is bounded by the largest batch, never the file.

MS SQL (``mssql``) and the lab (``lab``, PostgreSQL scripts laid out like the
vendor's) split on ``GO`` the way sqlcmd does (go-sqlcmd ``pkg/sqlcmd/batch.go``
and ``commands.go``):

* ``GO`` is a separator only alone on its line: leading spaces or tabs, any case,
  then optionally a repeat count (``GO 3``) and/or a ``--`` comment. ``GO;``,
  ``GO--x``, ``GOTO x`` and ``GO1`` are ordinary text. A count that is not a
  positive integer (``GO 0``, ``GO x``, ``GO /* c */``) is an error, as in
  sqlcmd; a tab between ``GO`` and the count is accepted as a space.
* A line is only looked at when it starts outside any string, bracketed name or
  block comment: ``'...'`` (``''`` escapes), ``"..."`` (``""``) and, on MS SQL,
  ``[...]`` (``]]``), each possibly spanning lines. ``--`` comments end at the line
  end. Backslashes are ordinary characters (go-sqlcmd treats ``\\'`` as an escape,
  SQL Server does not; we follow the server).
* Block comments **nest**, as the SQL Server and PostgreSQL parsers nest them.
  go-sqlcmd does not nest them; we follow the server because only that reading
  yields batches the server can parse: with ``/* /* */ GO */`` a non-nesting
  splitter would cut the comment in two and send two broken batches.
* The lab dialect also knows dollar quotes (``$$...$$``, ``$tag$...$tag$``) and
  has no bracketed names (``[`` is an array subscript there). ``E'...'`` strings
  with backslash escapes are not recognised.
* Batches that hold nothing but whitespace and comments are dropped (running
  them would do nothing), and so are empty ones. Other sqlcmd commands
  (``:r``, ``:setvar``, ``$(var)``) are not interpreted.

Oracle (``oracle``) scripts are split as SQL*Plus runs them: on a line holding only
``/`` and on ``;`` outside strings and comments (also mid-line). A statement that
starts a PL/SQL unit (``BEGIN``, ``DECLARE``, ``CREATE [OR REPLACE]
[EDITIONABLE|NONEDITIONABLE] PROCEDURE|FUNCTION|PACKAGE [BODY]|TRIGGER|TYPE
[BODY]|LIBRARY|JAVA``) ignores ``;`` and ends at the ``/`` line. Oracle's text
keeps the ``END;`` of a PL/SQL unit and drops the ``;`` ending a SQL statement;
leading comments are dropped. ``q'[...]'`` quotes (any delimiter, ``nq'`` too),
``'...'`` and ``"..."`` are honoured; block comments do not nest. A ``/`` after a
statement that already ended with ``;`` would re-run it in SQL*Plus; here it ends
nothing and is ignored. SQL*Plus commands (``SET``, ``PROMPT``, ``REM``) are not
interpreted.

Every batch keeps its 1-based index, the line of its first non-blank line in the
file (so that a server error line ``n`` is file line ``line + n - 1``), and its
repeat count. Line endings are normalised to ``\\n``.

Checksums: a batch's checksum is the SHA-256 of its text with trailing
whitespace removed from every line; a file's checksum is the SHA-256 of the
sequence (index, repeat count, batch checksum), so it covers exactly what would
run and ignores blank lines between batches.

Encodings: ``open_script`` sniffs a UTF-32/UTF-16/UTF-8 byte order mark; without
one the text must be valid UTF-8, else it is read as cp1250 (Czech Windows). On a
seekable stream the whole content is checked in 1 MiB steps (constant memory)
and the stream is rewound, so a cp1250 letter deep in a mostly ASCII file is
still detected; on a stream that cannot seek only the first ``SNIFF_BYTES``
decide.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from dataclasses import dataclass
from typing import IO, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

DIALECTS = ("mssql", "oracle", "lab")
CHUNK_CHARS = 1 << 20
SNIFF_BYTES = 1 << 20
FALLBACK_ENCODING = "cp1250"


class BatchSyntaxError(ValueError):
    """A script that cannot be split, e.g. ``GO x``; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__("line %d: %s" % (line, message))
        self.line = line


def _normalized(text: str) -> str:
    return "\n".join(part.rstrip() for part in text.split("\n")).strip("\n")


def text_checksum(text: str) -> str:
    """SHA-256 (hex) of ``text`` with line ends and trailing whitespace normalised."""
    return hashlib.sha256(_normalized(text.replace("\r\n", "\n")).encode("utf-8")).hexdigest()


class Batch(NamedTuple):
    """One unit sent to the server: ``text`` runs ``count`` times (a tuple: cheap to create)."""

    text: str
    index: int
    line: int
    count: int = 1

    @property
    def checksum(self) -> str:
        return text_checksum(self.text)


@dataclass(frozen=True)
class BatchSummary:
    """What the journal needs of a batch, without its text."""

    index: int
    line: int
    count: int
    checksum: str


@dataclass(frozen=True)
class ScriptSummary:
    batches: Tuple[BatchSummary, ...]
    checksum: str


def file_checksum(batches: Iterable[Union[Batch, BatchSummary]]) -> str:
    """Checksum of a whole script from its batches (in order)."""
    digest = hashlib.sha256()
    for batch in batches:
        digest.update(("%d\t%d\t%s\n" % (batch.index, batch.count, batch.checksum)).encode("ascii"))
    return digest.hexdigest()


def summarize(stream: IO[str], dialect: str) -> ScriptSummary:
    """Split ``stream`` keeping only (index, line, count, checksum) per batch."""
    summaries = tuple(BatchSummary(b.index, b.line, b.count, b.checksum) for b in split_batches(stream, dialect))
    return ScriptSummary(summaries, file_checksum(summaries))


# --------------------------------------------------------------------------- encoding

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(prefix: bytes, complete: bool = False) -> str:
    """Encoding of a script from its first bytes (``complete``: they are all of it)."""
    for bom, name in _BOMS:
        if prefix.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=complete)
    except UnicodeDecodeError:
        return FALLBACK_ENCODING
    return "utf-8"


class _Prefixed(io.RawIOBase):
    """A non-seekable byte stream with its already-read prefix put back in front."""

    def __init__(self, prefix: bytes, rest) -> None:
        super().__init__()
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _read_up_to(binary, size: int) -> bytes:
    """Read ``size`` bytes or up to the end (raw streams may return less per call)."""
    parts: List[bytes] = []
    while size > 0:
        data = binary.read(size)
        if not data:
            break
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


def _whole_stream_encoding(binary) -> str:
    start = binary.tell()
    head = binary.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            binary.seek(start)
            return name
    decoder = codecs.getincrementaldecoder("utf-8")()
    data = head
    try:
        while True:
            decoder.decode(data, final=not data)
            if not data:
                break
            data = _read_up_to(binary, SNIFF_BYTES)
    except UnicodeDecodeError:
        return FALLBACK_ENCODING
    finally:
        binary.seek(start)
    return "utf-8"


def open_script(source) -> io.TextIOWrapper:
    """Open a script (a path or a binary stream) as text in its detected encoding.

    The returned stream's ``encoding`` attribute says what was chosen. Universal
    newlines turn CRLF into LF.
    """
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        binary = open(source, "rb")  # pylint: disable=consider-using-with
    else:
        binary = source
    seekable = getattr(binary, "seekable", lambda: False)()
    if seekable:
        encoding = _whole_stream_encoding(binary)
    else:
        prefix = _read_up_to(binary, SNIFF_BYTES)
        encoding = detect_encoding(prefix, complete=len(prefix) < SNIFF_BYTES)
        binary = io.BufferedReader(_Prefixed(prefix, binary))
    if not isinstance(binary, io.BufferedIOBase) and not hasattr(binary, "read1"):
        binary = io.BufferedReader(binary)
    return io.TextIOWrapper(binary, encoding=encoding, newline=None)


# --------------------------------------------------------------------------- chunks


def _chunks(stream: IO[str]) -> Iterator[str]:
    """Chunks of whole lines, LF line ends, no BOM."""
    first = True
    while True:
        chunk = stream.read(CHUNK_CHARS)
        if not chunk:
            return
        if not isinstance(chunk, str):
            raise TypeError("split_batches needs a text stream; wrap binary data with open_script()")
        if not chunk.endswith("\n"):
            chunk += stream.readline()
        if first:
            first = False
            if chunk.startswith("\ufeff"):
                chunk = chunk[1:]
        if "\r" in chunk:
            chunk = chunk.replace("\r\n", "\n")
        yield chunk


# --------------------------------------------------------------------------- leading comments

_BLOCK_MARK = re.compile(r"/\*|\*/")
_SPACE_OR_LINE_COMMENT = re.compile(r"(?:\s+|--[^\n]*)*")


def _skip_comments(text: str, pos: int, nest: bool) -> int:
    """Position of the first character after whitespace and comments (``len`` if none)."""
    size = len(text)
    while True:
        pos = _SPACE_OR_LINE_COMMENT.match(text, pos).end()
        if not text.startswith("/*", pos):
            return pos
        depth, pos = 1, pos + 2
        while depth:
            if nest:
                mark = _BLOCK_MARK.search(text, pos)
                if mark is None:
                    return size
                depth += 1 if mark.group() == "/*" else -1
                pos = mark.end()
            else:
                end = text.find("*/", pos)
                if end < 0:
                    return size
                depth, pos = 0, end + 2


# --------------------------------------------------------------------------- GO scripts

# Measured (benchmarks/bench_batches.py): walking every token in Python or in one
# big alternation regex ran at 8-15 MB/s. The splitter below jumps from one GO
# candidate line to the next (a regex with a literal prefix) and only walks the
# quotes and comments in between; bracketed names are resolved with rfind/find
# over the span, because without "]]" the span ends inside a bracket exactly when
# its last "[" has no "]" after it.
_TSQL_NEXT = re.compile(r"['\"]|/\*|--|\n[^\S\n]*(?i:go)\b")
_LAB_NEXT = re.compile(r"['\"]|/\*|--|(?<![\w$])\$(?:[^\W\d]\w*)?\$|\n[^\S\n]*(?i:go)\b")
_GO_LINE = re.compile(r"[^\S\n]*go(?:[^\S\n]+(.*?))?[^\S\n]*", re.IGNORECASE)
_GO_WORD = re.compile(r"[^\S\n]*go", re.IGNORECASE)
_GO_COUNT = re.compile(r"\s*(\d+)?\s*(?:--.*)?", re.DOTALL)


class _Lines:
    """Line number at increasing positions of the current chunk."""

    __slots__ = ("chunk", "pos", "line")

    def __init__(self) -> None:
        self.chunk, self.pos, self.line = "", 0, 1

    def start(self, chunk: str) -> None:
        self.line += self.chunk.count("\n", self.pos)
        self.chunk, self.pos = chunk, 0

    def at(self, pos: int) -> int:
        self.line += self.chunk.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


class _BatchBuilder:
    __slots__ = ("pieces", "line", "index", "nest", "keep_comments")

    def __init__(self, nest: bool, keep_comments: bool) -> None:
        self.pieces: List[str] = []
        self.line = 1
        self.index = 0
        self.nest = nest
        self.keep_comments = keep_comments

    def take(self, count: int, next_line: int, strip_semicolon: bool = False) -> Optional[Batch]:
        text = "".join(self.pieces) if len(self.pieces) != 1 else self.pieces[0]
        line, self.pieces, self.line = self.line, [], next_line
        stripped = text.lstrip()
        if not stripped:
            return None
        first = len(text) - len(stripped)
        if stripped[0] in "-/":
            body = _skip_comments(text, first, self.nest)
            if body >= len(text):
                return None
            if not self.keep_comments:
                first = body
        cut = text.rfind("\n", 0, first) + 1 if self.keep_comments else first
        if cut:
            line += text.count("\n", 0, cut)
            text = text[cut:]
        text = text.rstrip()
        if strip_semicolon and text.endswith(";"):
            text = text[:-1].rstrip()
        self.index += 1
        return Batch(text, self.index, line, count)


def _go_count(args: Optional[str], line: int) -> int:
    if args is None:
        return 1
    # A "--" comment starts a comment only at the start or after whitespace (go-sqlcmd removeComments).
    match = _GO_COUNT.fullmatch(args)
    if match is None or (match.group(1) is not None and int(match.group(1)) < 1):
        raise BatchSyntaxError(line, "invalid GO command %r: the count must be a positive integer" % ("GO " + args))
    return int(match.group(1) or 1)


def _bracket_end(chunk: str, pos: int) -> int:
    """Position after the "]" closing a bracketed name that is open at ``pos`` (-1: not in this chunk)."""
    while True:
        end = chunk.find("]", pos)
        if end < 0:
            return -1
        if not chunk.startswith("]", end + 1):
            return end + 1
        pos = end + 2


def _open_bracket(chunk: str, pos: int, end: int) -> int:
    """Start of the bracketed name still open at ``end`` (scanning from a normal ``pos``), or -1."""
    if chunk.find("]]", pos, end) < 0:
        last = chunk.rfind("[", pos, end)
        return last if last >= 0 and chunk.find("]", last, end) < 0 else -1
    while True:
        opening = chunk.find("[", pos, end)
        if opening < 0:
            return -1
        closing = _bracket_end(chunk, opening + 1)
        if closing < 0 or closing > end:
            return opening
        pos = closing


class _GoState:
    """What is open at the end of a chunk: a quote (its closer), nested comments, a dollar quote."""

    __slots__ = ("closer", "depth", "dollar")

    def __init__(self) -> None:
        self.closer, self.depth, self.dollar = "", 0, ""

    def __bool__(self) -> bool:
        return bool(self.closer or self.depth or self.dollar)

    def finish(self, chunk: str, pos: int) -> int:
        """Advance past whatever is open; ``len(chunk)`` when it stays open."""
        size = len(chunk)
        while pos < size and self:
            if self.closer == "]":
                end = _bracket_end(chunk, pos)
                pos, self.closer = (size, "]") if end < 0 else (end, "")
            elif self.closer:
                end = chunk.find(self.closer, pos)
                if end < 0:
                    pos = size
                elif chunk.startswith(self.closer, end + 1):
                    pos = end + 2
                else:
                    pos, self.closer = end + 1, ""
            elif self.depth:
                mark = _BLOCK_MARK.search(chunk, pos)
                if mark is None:
                    pos = size
                else:
                    self.depth += 1 if mark.group() == "/*" else -1
                    pos = mark.end()
            else:
                end = chunk.find(self.dollar, pos)
                pos, self.dollar = (size, self.dollar) if end < 0 else (end + len(self.dollar), "")
        return pos

    def open(self, token: str) -> None:
        if token == "/*":
            self.depth = 1
        elif token[0] == "$":
            self.dollar = token
        else:
            self.closer = token


def _split_go(stream: IO[str], lab: bool) -> Iterator[Batch]:
    next_token = _LAB_NEXT if lab else _TSQL_NEXT
    builder = _BatchBuilder(nest=True, keep_comments=True)
    lines = _Lines()
    state = _GoState()
    for chunk in _chunks(stream):
        lines.start(chunk)
        size = len(chunk)
        pos = start = 0
        candidate = 0 if not state and _GO_WORD.match(chunk, 0) else -1   # a chunk starts at a line start
        while pos < size:
            if state.closer or state.depth or state.dollar:
                closer = state.closer
                if closer in ("'", '"'):    # inlined common case of finish()
                    close = chunk.find(closer, pos)
                    if close >= 0 and chunk[close + 1:close + 2] != closer:
                        pos, state.closer = close + 1, ""
                        continue
                pos = state.finish(chunk, pos)
                continue
            if candidate < 0:
                token = next_token.search(chunk, pos)
                end = token.start() if token else size
            else:
                token, end = None, candidate
            # Inlined fast path of _open_bracket: no "[" in the span, or its last "[" is closed and no "]]".
            last = -1 if lab else chunk.rfind("[", pos, end)
            opening = -1 if last < 0 or (chunk.find("]", last, end) >= 0 and chunk.find("]]", pos, end) < 0) \
                else _open_bracket(chunk, pos, end)
            if opening >= 0:
                state.closer, pos, candidate = "]", opening + 1, -1
                continue
            if token is not None:
                text = token.group()
                if text[0] == "\n":
                    candidate = end + 1
                    pos = end
                elif text == "--":
                    newline = chunk.find("\n", end)
                    pos = size if newline < 0 else newline
                else:
                    state.open(text)
                    pos = token.end()
                continue
            if candidate < 0:
                break
            line_end = chunk.find("\n", candidate)
            line_end = size if line_end < 0 else line_end
            go_line = _GO_LINE.fullmatch(chunk, candidate, line_end)
            if go_line is None:
                pos, candidate = _GO_WORD.match(chunk, candidate).end(), -1
                continue
            line = lines.at(candidate)
            count = 1 if go_line.group(1) is None else _go_count(go_line.group(1), line)
            builder.pieces.append(chunk[start:candidate])
            pos = start = min(line_end + 1, size)
            candidate = pos if pos < size and _GO_WORD.match(chunk, pos) else -1
            batch = builder.take(count, line + 1)
            if batch is not None:
                yield batch
        builder.pieces.append(chunk[start:])
    batch = builder.take(1, 0)
    if batch is not None:
        yield batch


# --------------------------------------------------------------------------- Oracle scripts

_ORA_SKIP = re.compile(r"(?:[^'\"/\-\n;]+|--[^\n]*|/(?!\*)|-(?!-)|\n(?![^\S\n]*/[^\S\n]*(?:\n|\Z)))*")
_SLASH_LINE = re.compile(r"[^\S\n]*/[^\S\n]*(?:\n|\Z)")
_PLSQL_START = re.compile(
    r"(?:BEGIN|DECLARE|CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:NON)?EDITIONABLE\s+)?"
    r"(?:PROCEDURE|FUNCTION|PACKAGE|TRIGGER|TYPE|LIBRARY|JAVA))\b",
    re.IGNORECASE)
_Q_CLOSERS = {"[": "]", "{": "}", "(": ")", "<": ">"}


def _is_q_quote(chunk: str, pos: int) -> bool:
    """Whether the quote at ``pos`` opens ``q'`` / ``nq'``."""
    if pos < 1 or chunk[pos - 1] not in "qQ":
        return False
    before = pos - 2
    if before >= 0 and chunk[before] in "nN":
        before -= 1
    return before < 0 or not (chunk[before].isalnum() or chunk[before] in "_$#")


def _split_oracle(stream: IO[str]) -> Iterator[Batch]:
    builder = _BatchBuilder(nest=False, keep_comments=False)
    lines = _Lines()
    closer = ""
    in_comment = False
    plsql: Optional[bool] = None   # None: not decided yet for the current statement
    for chunk in _chunks(stream):
        lines.start(chunk)
        size = len(chunk)
        pos = start = 0
        at_line_start = not (closer or in_comment)
        while pos < size:
            if closer:
                end = chunk.find(closer, pos)
                if end < 0:
                    pos = size
                elif closer == "'" and chunk.startswith("'", end + 1):
                    pos = end + 2
                else:
                    pos, closer = end + len(closer), ""
                continue
            if in_comment:
                end = chunk.find("*/", pos)
                pos, in_comment = (size, True) if end < 0 else (end + 2, False)
                continue
            if at_line_start:
                at_line_start = False
                slash = _SLASH_LINE.match(chunk, pos)
                if slash is not None:
                    builder.pieces.append(chunk[start:pos])
                    start = pos = slash.end()
                    batch = builder.take(1, lines.at(pos))
                    plsql = None
                    if batch is not None:
                        yield batch
                    at_line_start = True
                    continue
            pos = _ORA_SKIP.match(chunk, pos).end()
            if pos >= size:
                break
            char = chunk[pos]
            if char == "\n":
                pos += 1
                at_line_start = True
            elif char == "/":
                in_comment, pos = True, pos + 2
            elif char == '"':
                closer, pos = '"', pos + 1
            elif char == "'":
                if _is_q_quote(chunk, pos) and pos + 1 < size and not chunk[pos + 1].isspace():
                    closer = _Q_CLOSERS.get(chunk[pos + 1], chunk[pos + 1]) + "'"
                    pos += 2
                else:
                    closer, pos = "'", pos + 1
            else:  # ";"
                if plsql is None:
                    head = "".join(builder.pieces) + chunk[start:pos]
                    body = _skip_comments(head, 0, nest=False)
                    plsql = _PLSQL_START.match(head, body) is not None
                pos += 1
                if not plsql:
                    builder.pieces.append(chunk[start:pos])
                    start = pos
                    batch = builder.take(1, lines.at(pos), strip_semicolon=True)
                    plsql = None
                    if batch is not None:
                        yield batch
        builder.pieces.append(chunk[start:])
    batch = builder.take(1, 0, strip_semicolon=not plsql)
    if batch is not None:
        yield batch


def split_batches(stream: IO[str], dialect: str) -> Iterator[Batch]:
    """Yield the batches of a script read from a text ``stream`` (see the module doc)."""
    if dialect == "oracle":
        return _split_oracle(stream)
    if dialect in ("mssql", "lab"):
        return _split_go(stream, lab=dialect == "lab")
    raise ValueError("unknown SQL dialect %r (expected one of %s)" % (dialect, ", ".join(DIALECTS)))
