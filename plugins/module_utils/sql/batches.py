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
  ``GO--x``, ``GOTO x`` and ``GO1`` are ordinary text. The count is read as
  go-sqlcmd reads it (``lexer.go_count``: a leading integer, text after it ignored,
  so ``GO 2 x`` runs twice); no integer or one below 1 (``GO 0``, ``GO x``,
  ``GO /* c */``) is an error; a tab between ``GO`` and the count is accepted.
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
  them would do nothing), and so are empty ones.
* sqlcmd's commands and scripting variables are refused, never sent (MS SQL): a
  line that starts, after blanks and outside strings and comments, with a colon
  command (``:setvar``, ``:r``, ``:on error``, ``:connect``, ``:out``, ``:exit`` ...
  ``lexer.SQLCMD_COMMAND``) or ``!!``, and a ``$(`` outside comments, also inside
  strings, quoted and bracketed names (go-sqlcmd ``parse.go`` reads a variable
  reference there too), is a ``BatchSyntaxError`` with its line. sqlcmd would act
  on them and the server cannot; a ``$(name)`` in a string would be stored as
  written. Such a script was made for sqlcmd and is not run batch by batch. The
  bare forms go-sqlcmd also takes (``EXIT``, ``QUIT``, ``ED``, ``ON ERROR`` without
  a colon) are SQL here: ``ON error (id)`` continues a CREATE INDEX.
* A string, name or comment still open at the end of the script is a
  ``BatchSyntaxError`` with the line where it opened: sqlcmd would send the rest
  and the server would reject it; we refuse the script before anything runs.
* The scanner is ``lexer.go_scan_pattern``: one compiled pattern that skips plain
  text, complete quotes and flat comments in C and takes the GO line itself, so
  Python wakes once per batch, and at quotes or comments that do not close in a chunk.
  A chunk is scanned in one call from its start, or from the end of the quote or
  comment the previous chunk left open; after a stop inside a chunk (a nested comment)
  it is read on match by match, so no part of a chunk is scanned twice.

Oracle (``oracle``) scripts are split as SQL*Plus runs them, by the statements of
``lexer.statements``: on a line holding only ``/`` and on ``;`` outside strings and
comments (also mid-line). A statement that starts a PL/SQL unit (``BEGIN``,
``DECLARE``, ``CREATE [OR REPLACE] [EDITIONABLE|NONEDITIONABLE] PROCEDURE|FUNCTION|
PACKAGE [BODY]|TRIGGER|TYPE [BODY]|LIBRARY|JAVA``) ignores ``;`` and ends at the
``/`` line; ``CREATE VIEW`` is SQL and ends at ``;``. Oracle's text keeps the
``END;`` of a PL/SQL unit and drops the ``;`` ending a SQL statement; comments
before and after a statement are dropped. ``q'[...]'`` quotes (any delimiter,
``nq'`` too), ``'...'`` and ``"..."`` are honoured; block comments do not nest. A
``/`` after a statement that already ended with ``;`` would re-run it in SQL*Plus;
here it ends nothing and is ignored. A blank line ends a SQL statement (not a PL/SQL
unit) without running it, as SQL*Plus does with ``SQLBLANKLINES OFF`` (its default),
unless a ``/`` line follows and runs it: such a statement is not a batch (``not_run``
collects it). SQL*Plus client lines (``REM``, ``PROMPT``,
``SET``, ``SPOOL``, ``WHENEVER``, ``@`` ...) where a statement may start are not
batches: they are skipped (``client_lines`` collects them), never sent.

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
import os
import re
from dataclasses import dataclass
from typing import IO, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from ansible_collections.erpops.upgrade.plugins.module_utils.sql import lexer

DIALECTS = ("mssql", "oracle", "lab")
CHUNK_CHARS = 1 << 20
SNIFF_BYTES = 1 << 20
FALLBACK_ENCODING = "cp1250"


class NotTextScript(ValueError):
    """Input that is not a text SQL script: binary data, or bytes no supported encoding decodes."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__("%s: not a text SQL script (%s)" % (name or "<stream>", why))
        self.name = name


def _stream_name(stream) -> str:
    for holder in (stream, getattr(stream, "buffer", None), getattr(getattr(stream, "buffer", None), "raw", None)):
        name = getattr(holder, "name", None)
        if isinstance(name, (str, bytes)):
            return name if isinstance(name, str) else name.decode("utf-8", "replace")
    return ""


_NUL = "NUL bytes: binary data, or UTF-16/UTF-32 text without a byte order mark"


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


def detect_encoding(prefix: bytes, complete: bool = False, name: str = "") -> str:
    """Encoding of a script from its first bytes (``complete``: they are all of it).

    Raises ``NotTextScript`` for bytes that are no text: NUL bytes without a UTF-16/32 byte
    order mark, or bytes neither UTF-8 nor the Windows code page decodes.
    """
    for bom, encoding in _BOMS:
        if prefix.startswith(bom):
            return encoding
    if b"\x00" in prefix:
        raise NotTextScript(name, _NUL)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(prefix, final=complete)
    except UnicodeDecodeError:
        _check_fallback(prefix, name)
        return FALLBACK_ENCODING
    return "utf-8"


def _check_fallback(data: bytes, name: str) -> None:
    try:
        data.decode(FALLBACK_ENCODING)
    except UnicodeDecodeError as exc:
        raise NotTextScript(name, "byte 0x%02x at offset %d is neither UTF-8 nor %s" % (data[exc.start], exc.start, FALLBACK_ENCODING))


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


def _whole_stream_encoding(binary, name: str) -> str:
    start = binary.tell()
    head = binary.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            binary.seek(start)
            return encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    data = head
    encoding = "utf-8"
    offset = 0
    try:
        while True:
            if b"\x00" in data:
                raise NotTextScript(name, _NUL)
            if encoding == "utf-8":
                try:
                    decoder.decode(data, final=not data)
                except UnicodeDecodeError:
                    encoding = FALLBACK_ENCODING
            if encoding == FALLBACK_ENCODING:
                try:
                    data.decode(FALLBACK_ENCODING)
                except UnicodeDecodeError as exc:
                    raise NotTextScript(name, "byte 0x%02x at offset %d is neither UTF-8 nor %s"
                                        % (data[exc.start], offset + exc.start, FALLBACK_ENCODING))
            if not data:
                break
            offset += len(data)
            data = _read_up_to(binary, SNIFF_BYTES)
    finally:
        binary.seek(start)
    return encoding


def open_script(source, name: str = "") -> io.TextIOWrapper:
    """Open a script (a path or a binary stream) as text in its detected encoding.

    The returned stream's ``encoding`` attribute says what was chosen. Universal
    newlines turn CRLF into LF. Input that is not text raises ``NotTextScript`` naming
    ``name`` (default: the path or the stream's name).
    """
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        name = name or os.fsdecode(source)
        binary = open(source, "rb")  # pylint: disable=consider-using-with
    else:
        name = name or _stream_name(source)
        binary = source
    seekable = getattr(binary, "seekable", lambda: False)()
    try:
        if seekable:
            encoding = _whole_stream_encoding(binary, name)
        else:
            prefix = _read_up_to(binary, SNIFF_BYTES)
            encoding = detect_encoding(prefix, complete=len(prefix) < SNIFF_BYTES, name=name)
    except NotTextScript:
        if binary is not source:
            binary.close()
        raise
    if not seekable:
        binary = io.BufferedReader(_Prefixed(prefix, binary))
    if not isinstance(binary, io.BufferedIOBase) and not hasattr(binary, "read1"):
        binary = io.BufferedReader(binary)
    return _ScriptText(binary, encoding)


class _ScriptText(io.TextIOWrapper):
    """``open_script``'s stream: universal newlines, decoded in steps of ``CHUNK_CHARS``.

    ``split_batches`` reads a fresh one's bytes itself (``_decoded_chunks``): one decoder
    call per 1 MiB and one newline translation per chunk, about a third of the text layer's
    time. Once text was read through the text layer, it reads through it as any stream.
    """

    def __init__(self, binary, encoding: str) -> None:
        super().__init__(binary, encoding=encoding, newline=None)
        self._CHUNK_SIZE = CHUNK_CHARS  # pylint: disable=invalid-name


def _fresh(stream) -> bool:
    """Whether ``stream`` is a ``_ScriptText`` nothing was read from yet (its bytes are all still ahead)."""
    if not isinstance(stream, _ScriptText):
        return False
    try:
        stream.reconfigure(newline="")   # refused once text was read
    except io.UnsupportedOperation:
        return False
    return True


# --------------------------------------------------------------------------- chunks


# Encodings in which the byte 0x0A is always a line feed and 0x0D a carriage return: their
# bytes are cut at line ends before decoding, which saves copying the decoded text.
_LINE_SAFE = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "cp1250": "cp1250"}


def _decoded_chunks(stream: _ScriptText) -> Iterator[str]:
    """Chunks of whole lines decoded from a fresh ``_ScriptText``'s bytes; CRLF and CR become LF."""
    if stream.encoding in _LINE_SAFE:
        return _line_cut_chunks(stream)
    return _decoder_chunks(stream)


def _line_cut_chunks(stream: _ScriptText) -> Iterator[str]:
    binary = stream.buffer
    encoding = stream.encoding       # the first piece: "utf-8-sig" drops the byte order mark
    tail = b""
    while True:
        data = binary.read(CHUNK_CHARS)
        buf = tail + data if tail else data
        has_cr = b"\r" in buf
        if data:
            cut = buf.rfind(b"\n") + 1
            if has_cr:   # a lone CR ends a line too; a CR last in the buffer may be half a CRLF
                cut = max(cut, buf.rfind(b"\r", 0, len(buf) - 1) + 1)
            piece, tail = buf[:cut], buf[cut:]
        else:
            piece = buf
        if piece:
            try:
                text = piece.decode(encoding)
            except UnicodeDecodeError as exc:
                raise NotTextScript(_stream_name(stream), "%s cannot decode byte 0x%02x" % (exc.encoding, exc.object[exc.start]))
            encoding = _LINE_SAFE[encoding]
            if has_cr:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            yield text
        if not data:
            return


def _decoder_chunks(stream: _ScriptText) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(stream.encoding)()
    binary = stream.buffer
    tail = ""
    while True:
        data = binary.read(CHUNK_CHARS)
        try:
            text = tail + decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise NotTextScript(_stream_name(stream), "%s cannot decode byte 0x%02x" % (exc.encoding, exc.object[exc.start]))
        if data and text.endswith("\r"):   # perhaps the first half of a CRLF
            text, tail = text[:-1], "\r"
        else:
            tail = ""
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if data:
            cut = text.rfind("\n") + 1
            text, tail = text[:cut], text[cut:] + tail
        if text:
            yield text
        if not data:
            return


def _chunks(stream: IO[str]) -> Iterator[str]:
    """Chunks of whole lines, LF line ends, no BOM."""
    first = True
    fresh = _fresh(stream)
    reads = _decoded_chunks(stream) if fresh else None
    while True:
        try:
            if reads is not None:
                chunk = next(reads, "")
            else:
                chunk = stream.read(CHUNK_CHARS)
                if chunk and isinstance(chunk, str) and not chunk.endswith("\n"):
                    chunk += stream.readline()
        except UnicodeDecodeError as exc:
            raise NotTextScript(_stream_name(stream), "%s cannot decode byte 0x%02x" % (exc.encoding, exc.object[exc.start]))
        if not chunk:
            return
        if not isinstance(chunk, str):
            raise TypeError("split_batches needs a text stream; wrap binary data with open_script()")
        if first:
            first = False
            if chunk.startswith("\ufeff"):
                chunk = chunk[1:]
        if "\r" in chunk and not fresh:
            chunk = chunk.replace("\r\n", "\n")
        yield chunk


# --------------------------------------------------------------------------- leading comments

_BLOCK_MARK = re.compile(r"/\*|\*/")
_SPACE_OR_LINE_COMMENT = re.compile(r"(?:\s+|--[^\n]*)*")
# Blanks, line comments and block comments without a nested one: the common comment-only check in one match.
_FLAT_COMMENTS = re.compile(r"(?:\s++|--[^\n]*+|/\*(?:[^*/]++|\*(?!/)|/(?!\*))*+\*/)*+")


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

# The scanner (lexer.go_scan_pattern) skips plain text, complete quotes, bracketed names,
# flat comments and lines that cannot be GO lines in C and takes the GO line that ends the
# batch: one match per batch. Python wakes only at a quote or comment that does not close
# in the chunk, and at a nested comment.
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*+)?\$")
_OPEN_WHAT = {"'": "string", '"': "quoted name", "]": "bracketed name"}
# Where the MS SQL scanner stops for sqlcmd (lexer.go_scan_pattern): a line that may hold a command, a "$(".
_SQLCMD_STOPS = frozenset(" \t:!$")
_SQLCMD_REFUSED = "sqlcmd would act on it and the server cannot: the script was made for sqlcmd and is not run batch by batch"


def _sqlcmd_variable(line: int) -> BatchSyntaxError:
    return BatchSyntaxError(line, "a sqlcmd scripting variable reference $(...): " + _SQLCMD_REFUSED)


def _past_sqlcmd_stop(chunk: str, pos: int, line: int) -> int:
    """Where the scan goes on after stopping at ``pos`` for sqlcmd; raises on a command or a variable."""
    if chunk.startswith("$(", pos):
        raise _sqlcmd_variable(line)
    command = lexer.SQLCMD_COMMAND.match(chunk, pos)
    if command:
        raise BatchSyntaxError(line, "the sqlcmd command %s: %s" % (" ".join(command.group("command").split()), _SQLCMD_REFUSED))
    return pos + 1   # a colon that starts no command ("::", ":x"): text


def _close_quote(chunk: str, pos: int, closer: str) -> int:
    """End of a quote whose closer (doubled = escaped) comes at or after ``pos``; -1 if not in ``chunk``."""
    while True:
        end = chunk.find(closer, pos)
        if end < 0:
            return -1
        if not chunk.startswith(closer, end + 1):
            return end + 1
        pos = end + 2


def _close_nested(chunk: str, pos: int, depth: int) -> Tuple[int, int]:
    """(end, 0) after the ``*/`` closing ``depth`` open comments, or (-1, depth still open)."""
    while depth:
        mark = _BLOCK_MARK.search(chunk, pos)
        if mark is None:
            return -1, depth
        depth += 1 if mark.group() == "/*" else -1
        pos = mark.end()
    return pos, 0


_SLOW_START = frozenset(" \t\n\r\f\v-/")   # a batch that may start with blanks or comments


def _go_batch(text: str, line: int, index: int, count: int) -> Optional[Batch]:
    """The batch of ``text`` (starting at ``line``), or None when it holds only blanks and comments.

    Its text starts at the line of its first non-blank character (leading comments stay,
    so server error line numbers count from there) and loses trailing blanks.
    """
    if text[:1].isspace():
        stripped = text.lstrip()
        if not stripped:
            return None
        first = len(text) - len(stripped)
        cut = text.rfind("\n", 0, first) + 1
        if cut:
            line += text.count("\n", 0, cut)
            text = text[cut:]
            first -= cut
    elif not text:
        return None
    else:
        first = 0
    if text[first] in "-/":
        body = _FLAT_COMMENTS.match(text, first).end()
        if body >= len(text) or (text.startswith("/*", body) and _skip_comments(text, body, True) >= len(text)):
            return None
    return Batch(text.rstrip(), index, line, count)


_COUNTS_KEPT = 256   # distinct GO arguments whose count is remembered (bounded: memory stays flat)


def _split_go(stream: IO[str], dialect: str) -> Iterator[Batch]:
    sqlcmd = dialect == "mssql"
    pattern = lexer.go_scan_pattern(dialect)
    fast_scans = scan_all, scan = pattern.findall, pattern.finditer
    if sqlcmd:   # for a chunk that holds a "$(": the scanner that also stops at quotes holding a "$"
        strict = lexer.go_scan_pattern(dialect, dollars_in_quotes=True)
        strict_scans = strict.findall, strict.finditer
    skip_flat = _FLAT_COMMENTS.match
    new_batch = tuple.__new__
    counts = {}         # GO argument -> repeat count, for the arguments seen first
    closer, depth, open_line = "", 0, 0   # the quote or comment open at ``pos``
    line = 1            # line number at ``pos``
    batch_line = 1      # first line of the batch being read
    index = 0
    pieces: List[str] = []   # the batch's text read so far, when it began in an earlier chunk
    for chunk in _chunks(stream):
        size = len(chunk)
        find = chunk.find
        if sqlcmd:   # "$" first: one memchr, and most scripts have none
            scan_all, scan = strict_scans if "$" in chunk and "$(" in chunk else fast_scans
        pos = start = 0     # ``start``: where the batch being read begins in this chunk
        # The chunk's batches in one call of the scanner, from its start or from the end of
        # the quote or comment the previous chunk left open, up to the first quote or comment
        # that does not close in the scanner's pattern. After such a stop the chunk is read
        # on match by match: findall cannot stop early, and restarting it at every stop
        # would scan the rest of the chunk once per stop.
        bulk = True
        while True:
            if closer or depth:
                if depth:
                    end, depth = _close_nested(chunk, pos, depth)
                elif closer == "]" or closer == "'" or closer == '"':
                    end = _close_quote(chunk, pos, closer)
                else:
                    end = find(closer, pos)
                    end = end + len(closer) if end >= 0 else -1
                if sqlcmd and closer:   # the scanner stopped at this quote: it may hold a "$("
                    variable = find("$(", pos, end if end >= 0 else size)
                    if variable >= 0:
                        raise _sqlcmd_variable(line + chunk.count("\n", pos, variable))
                if end < 0:
                    line += chunk.count("\n", pos)
                    break
                line += chunk.count("\n", pos, end)
                closer, pos = "", end
            if bulk:
                bulk = False
                if start < pos:
                    pieces.append(chunk[start:pos])
                    start = pos
                for text, go_line, args in scan_all(chunk, pos):
                    if not go_line:   # stopped at the end or at a quote or comment
                        pos += len(text)
                        line += text.count("\n")
                        break
                    pos += len(text) + len(go_line) + 1
                    line += text.count("\n")        # the GO line's number
                    if not args:
                        count = 1
                    else:
                        count = counts.get(args) or _remembered_count(counts, args, line)
                    if pieces:
                        pieces.append(text)
                        text = "".join(pieces)
                        pieces = []
                    first = text[:1]
                    if first and first not in _SLOW_START:   # the common case, inlined
                        index += 1
                        yield new_batch(Batch, (text.rstrip(), index, batch_line, count))
                    elif first == "/" or first == "-":
                        body = skip_flat(text).end()   # after blanks and flat comments
                        if body < len(text) and not text.startswith("/*", body):
                            index += 1
                            yield new_batch(Batch, (text.rstrip(), index, batch_line, count))
                        elif body < len(text):   # a nested comment
                            batch = _go_batch(text, batch_line, index + 1, count)
                            if batch is not None:
                                index += 1
                                yield batch
                    else:
                        batch = _go_batch(text, batch_line, index + 1, count)
                        if batch is not None:
                            index += 1
                            yield batch
                    batch_line = line = line + 1
                    start = pos
                if pos > size:   # a GO line without a newline at the end of the text
                    start = pos = size
            else:
                for match in scan(chunk, pos):
                    go_at = match.start(2)
                    if go_at < 0:
                        line += chunk.count("\n", pos, match.end())
                        pos = match.end()
                        break
                    line += chunk.count("\n", pos, go_at)
                    args = match.group(3)
                    count = 1 if not args else (counts.get(args) or _remembered_count(counts, args, line))
                    if pieces:
                        pieces.append(chunk[start:go_at])
                        text = "".join(pieces)
                        pieces = []
                    else:
                        text = chunk[start:go_at]
                    batch = _go_batch(text, batch_line, index + 1, count)
                    if batch is not None:
                        index += 1
                        yield batch
                    batch_line = line = line + 1
                    start = pos = min(match.end(), size)
            if pos >= size:
                break
            # A quote or comment that does not close in the scanner's pattern opens at ``pos``:
            # one that spans chunks, does not close at all, or (a comment) holds a nested one.
            char = chunk[pos]
            if sqlcmd and char in _SQLCMD_STOPS:
                pos = _past_sqlcmd_stop(chunk, pos, line)
                continue
            open_line = line
            if char == "/":
                depth, pos = 1, pos + 2
            elif char == "$":
                closer = _DOLLAR_TAG.match(chunk, pos).group()
                pos += len(closer)
            else:
                closer = "]" if char == "[" else char
                pos += 1
        if start < size:
            pieces.append(chunk[start:])
    if closer or depth:
        what = "/* comment" if depth else _OPEN_WHAT.get(closer, "dollar-quoted string %s" % closer)
        raise BatchSyntaxError(open_line, "unterminated %s at the end of the script" % what)
    batch = _go_batch("".join(pieces), batch_line, index + 1, 1)
    if batch is not None:
        yield batch


def _remembered_count(counts: dict, args: str, line: int) -> int:
    count = _go_count(args, line)
    if len(counts) < _COUNTS_KEPT:
        counts[args] = count
    return count


def _go_count(args: str, line: int) -> int:
    try:
        return lexer.go_count(args, line)
    except lexer.GoCountError as exc:
        raise BatchSyntaxError(exc.line, str(exc).split(": ", 1)[1])


# --------------------------------------------------------------------------- Oracle scripts


def _split_oracle(stream: IO[str], client_lines: Optional[List[Tuple[int, str]]],
                  not_run: Optional[List[Tuple[int, str]]]) -> Iterator[Batch]:
    """Statements of ``lexer.statements``, read from a growing window of whole lines.

    The window keeps the statement still open at its end and reads on; when a read ends
    no statement, the next read is twice as large, so a long statement is lexed a bounded
    number of times overall.
    """
    pending = ""
    base_line = 1
    index = 0
    reads = _chunks(stream)
    want = 1
    finished = False
    while not finished:
        parts = [pending]
        for dummy in range(want):
            chunk = next(reads, None)
            if chunk is None:
                finished = True
                break
            parts.append(chunk)
        window = "".join(parts)
        emitted = False
        keep_from = len(window)
        for statement in lexer.statements(window, "oracle"):
            if not finished and statement.ended == "end":
                keep_from = statement.start   # may go on in the next read
                break
            if statement.problem is not None:
                raise BatchSyntaxError(base_line + statement.problem_line - 1, statement.problem)
            emitted = True
            if statement.ended == "client":
                if client_lines is not None:
                    client_lines.append((base_line + statement.line - 1, statement.tokens[0][1].rstrip()))
                continue
            if statement.ended == "blank":   # SQL*Plus does not run it
                if not_run is not None:
                    not_run.append((base_line + statement.line - 1, window[statement.start:statement.end]))
                continue
            end = statement.end - 1 if statement.ended == ";" else statement.end
            text = window[statement.start:end].rstrip()
            if not text:
                continue
            index += 1
            yield Batch(text, index, base_line + statement.line - 1, 1)
        if finished:
            return
        base_line += window.count("\n", 0, keep_from)
        pending = window[keep_from:]
        want = 1 if emitted else want * 2


def split_batches(stream: IO[str], dialect: str, client_lines: Optional[List[Tuple[int, str]]] = None,
                  not_run: Optional[List[Tuple[int, str]]] = None) -> Iterator[Batch]:
    """Yield the batches of a script read from a text ``stream`` (see the module doc).

    Oracle: SQL*Plus client lines are not batches; pass a list as ``client_lines`` to get
    them as ``(line, text)``. Nor are SQL statements a blank line ended (SQL*Plus, with
    ``SQLBLANKLINES OFF``, its default, does not run them); pass a list as ``not_run`` to
    get them as ``(line, text)``.
    """
    if dialect == "oracle":
        return _split_oracle(stream, client_lines, not_run)
    if dialect in ("mssql", "lab"):
        return _split_go(stream, dialect)
    raise ValueError("unknown SQL dialect %r (expected one of %s)" % (dialect, ", ".join(DIALECTS)))
