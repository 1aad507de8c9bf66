# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One tokenizer per SQL dialect, the ground both script readers stand on.

The DDL reader (``ddl.py``) and the batch splitter (``batches.py``) read the same scripts;
they must agree on where a string, a quoted name, a comment and a statement end. Everything
they agree on lives here:

* ``fragments(dialect)``: the regular expressions of strings, quoted names and comments.
  ``token_pattern`` builds the DDL tokenizer from them; ``go_scan_pattern`` builds the GO
  splitter's fast scanner from the same pieces.
* ``statements(text, dialect)``: a script as a stream of ``Statement`` objects (tokens,
  first line, span, how it ended), with the statement rules of each dialect.
* ``go_count(args, line)``: what a ``GO`` line's argument means.

Rules per dialect (``mssql``: SQL Server; ``lab``: the lab's PostgreSQL scripts laid out
like the vendor's, with ``GO`` lines; ``oracle``: SQL*Plus scripts):

* Strings ``'...'`` (``''`` escapes, ``N'...'``), quoted names ``"..."`` (``""``), and on
  MS SQL bracketed names ``[...]`` (``]]``). Oracle: ``q'[...]'``/``nq'...'`` quotes with
  any delimiter (``[]``, ``{}``, ``()``, ``<>`` pair up). Lab: dollar quotes
  ``$tag$...$tag$``; ``[`` is an ordinary character there (array subscripts).
* Block comments **nest** on SQL Server and PostgreSQL (both servers' lexers count
  ``/*``/``*/`` pairs), and do **not** nest on Oracle (the first ``*/`` ends it).
  ``--`` comments end at the line end.
* Statement ends. MS SQL and lab: a ``GO`` line (``GO`` alone at a line start, any case,
  optional count and ``--`` comment: see ``go_count``) always ends one. Oracle: a line
  holding only ``/``. Then ``;`` outside a body; a body (MS SQL: ``CREATE|ALTER [OR
  ALTER|REPLACE] PROCEDURE|PROC|FUNCTION|TRIGGER|VIEW``, ``BEGIN``/``DECLARE`` blocks;
  Oracle: PL/SQL units, ``CREATE [OR REPLACE] [[NON]EDITIONABLE] PROCEDURE|FUNCTION|
  PACKAGE|TRIGGER|TYPE|LIBRARY|JAVA``, ``BEGIN``/``DECLARE``) ignores ``;`` and ends only at
  ``GO`` or ``/``. An Oracle ``CREATE VIEW`` is SQL, not PL/SQL: it ends at ``;``, as SQL*Plus
  runs it. With ``implicit`` (the DDL reader) a ``CREATE`` or ``ALTER`` at a line start,
  outside parentheses and bodies, also starts a new statement: vendor scripts often omit
  separators.
* SQL*Plus blank lines (Oracle): with ``SET SQLBLANKLINES OFF``, SQL*Plus's default, a blank
  line ends a SQL statement being entered *without running it* (a ``/`` line after it runs
  it after all). Such a statement ends as ``"blank"``; what follows starts a new one. PL/SQL
  units are not affected (blank lines are part of a block).
* SQL*Plus client lines (Oracle): where a new statement may start, a line beginning with
  ``REM[ARK]``, ``PRO[MPT]``, ``SET`` (not ``SET TRANSACTION|ROLE|CONSTRAINT[S]``, which are
  SQL), ``SPO[OL]``, ``WHENEVER``, ``@``/``@@``, ``DEF[INE]``, ``EXEC[UTE]`` and the other
  commands of SQL*Plus is a command of the client, to the end of the line: neither a
  statement for the server nor a comment. An apostrophe in it opens nothing.
* At the end of the text, a string, name or comment still open is reported, with the line
  where it opened (``Statement.problem``); nothing is dropped.

Time is linear in the text: every pattern is possessive or has a single way to match, a
quote that does not close is scanned once and then reported as open, and nested comments
are walked by one ``find`` per mark. Memory: ``statements`` keeps only the current
statement's tokens and stops keeping them past ``max_tokens`` (the statement is then a
problem, not read), so a hostile script cannot make it hold more than a bounded list.

The patterns use possessive quantifiers (Python 3.11+): the readers run on the controller
(action plugins), which ansible-core 2.19 requires to be Python 3.11 or later.
"""

from __future__ import annotations

import array
import re
from typing import Iterator, List, NamedTuple, Optional, Tuple

DIALECTS = ("mssql", "oracle", "lab")

# Token kinds: the group numbers of the tokenizer's alternatives (``match.lastindex``).
SEPARATOR, CLIENT, COMMENT, SPECIAL, BRACKET, QUOTED, STRING, NUMBER, WORD, PUNCT, OPEN, OTHER = range(1, 13)
IDENT_KINDS = (BRACKET, QUOTED, WORD)

Token = Tuple[int, str, int]   # (kind, text, position)

SQLPLUS_COMMANDS = (
    "ACC(?:EPT)?", "APPI(?:NFO)?", "ARCHIVE", "ATTR(?:IBUTE)?", "BRE(?:AK)?", "BTI(?:TLE)?", "CL(?:EAR)?",
    "COL(?:UMN)?", "COMP(?:UTE)?", "CONN(?:ECT)?", "COPY", "DEF(?:INE)?", "DEL", "DESC(?:RIBE)?", "DISC(?:ONNECT)?",
    "EXEC(?:UTE)?", "EXIT", "GET", "HELP", "HO(?:ST)?", "PASSW(?:ORD)?", "PAU(?:SE)?", "PRI(?:NT)?",
    "PRO(?:MPT)?", "QUIT", "RECOVER", "REM(?:ARK)?", "REPF(?:OOTER)?", "REPH(?:EADER)?", "SAV(?:E)?",
    "SET(?![ \\t]+(?:TRANSACTION|ROLE|CONSTRAINTS?)\\b)", "SHO(?:W)?", "SHUTDOWN", "SPO(?:OL)?", "STA(?:RT)?",
    "STARTUP", "STORE", "TIMI(?:NG)?", "TTI(?:TLE)?", "UNDEF(?:INE)?", "VAR(?:IABLE)?", "WHENEVER", "XQUERY",
)

_NESTED_MARK = re.compile(r"/\*|\*/")
_Q_CLOSERS = {"[": "]", "{": "}", "(": ")", "<": ">"}


def fragments(dialect: str) -> dict:
    """The regular expressions of the dialect's quotes, each matching a *complete* one only."""
    frag = {
        "string": r"[Nn]?'[^']*+(?:''[^']*+)*+'",
        "quoted": r'"[^"]*+(?:""[^"]*+)*+"',
        "bracket": r"\[[^\]]*+(?:\]\][^\]]*+)*+\]" if dialect == "mssql" else r"(?!)",
        # A block comment without a nested opener inside, complete: the common case, in C.
        "flat_comment": r"/\*(?:[^*/]++|\*(?!/)|/(?!\*))*+\*/" if dialect != "oracle" else r"/\*(?:[^*]++|\*(?!/))*+\*/",
        "go_line": r"[Gg][Oo](?:[ \t][^\n]*+)?$",
    }
    special = [r"/\*"]
    if dialect == "oracle":
        special.append(r"[nN]?[qQ]'")
    if dialect == "lab":
        special.append(r"\$(?:[^\W\d]\w*+)?\$")
    frag["special"] = "|".join(special)
    return frag


def token_pattern(dialect: str, statement_start: bool) -> "re.Pattern[str]":
    """The DDL tokenizer: one match per token, its kind in ``lastindex``.

    Each match consumes the whitespace before its token. Separator and client lines are
    anchored at a line start; ``statement_start`` adds the SQL*Plus client lines (Oracle).
    """
    frag = fragments(dialect)
    line_start = r"(?:\s*\n|^)[ \t]*+"
    if dialect == "oracle":
        separator = r"/[ \t]*+$"
        client = r"(?i:%s)(?![\w$#])[^\n]*+|@[^\n]*+" % "|".join(SQLPLUS_COMMANDS) if statement_start else r"(?!)"
    else:
        separator = frag["go_line"]
        client = r"(?!)"
    pattern = (
        line_start + "(" + separator + ")"
        + "|" + line_start + "(" + client + ")"
        + r"|\s*+(?:"
        + r"(--[^\n]*+)"                                  # 3 line comment
        + "|(" + frag["special"] + ")"                    # 4 block comment, q-quote, dollar quote
        + "|(" + frag["bracket"] + ")"                    # 5
        + "|(" + frag["quoted"] + ")"                     # 6
        + "|(" + frag["string"] + ")"                     # 7
        + r"|(\d++(?:\.\d++)?(?:[eE][+-]?\d++)?)"          # 8 number
        + r"|([^\W\d][\w@#$]*+|[@#][\w@#$]*+)"             # 9 word
        + r"|(\|\||[(),.;=+\-*/<>%:])"                    # 10 punctuation
        + "|(" + (r"[Nn]?['\"\[]" if dialect == "mssql" else r"[Nn]?['\"]") + ")"  # 11 a quote that does not close
        + r"|(\S)"                                        # 12 anything else
        + r"|\Z)"
    )
    return re.compile(pattern, re.MULTILINE)


_PATTERNS = {(d, s): token_pattern(d, s) for d in DIALECTS for s in (True, False)}

# Statements whose text may hold ";": they end only at a separator.
_MS_BODY = frozenset(("PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "VIEW"))
_PLSQL_BODY = frozenset(("PROCEDURE", "FUNCTION", "PACKAGE", "TRIGGER", "TYPE", "LIBRARY", "JAVA"))


def starts_body(words: List[str], dialect: str) -> Optional[bool]:
    """Whether a statement starting with ``words`` (upper case) is a body that ignores ``;``.

    ``None`` while the words seen so far cannot decide it yet.
    """
    if not words:
        return None
    if words[0] in ("BEGIN", "DECLARE"):
        return True
    if words[0] not in ("CREATE", "ALTER"):
        return False
    objects = _PLSQL_BODY if dialect == "oracle" else _MS_BODY
    position = 1
    if len(words) > position and words[position] == "OR":
        if len(words) <= position + 1:
            return None
        position += 2
    if dialect == "oracle" and len(words) > position and words[position] in ("EDITIONABLE", "NONEDITIONABLE"):
        position += 1
    if len(words) <= position:
        return None
    return words[position] in objects


class Statement(NamedTuple):
    """One statement: 1-based first line, span ``[start, end)`` of its text, tokens, how it ended.

    ``ended`` is ``";"``, ``"GO"``, ``"/"``, ``"implicit"`` (a line-initial CREATE/ALTER
    started the next one), ``"blank"`` (Oracle: a blank line ended it, SQL*Plus does not run
    it), ``"client"`` (a SQL*Plus client line: ``tokens`` holds one
    ``CLIENT`` token) or ``"end"`` (end of text). ``count`` is the ``GO`` repeat count.
    ``problem`` says why the statement cannot be read as it stands (an open quote or comment
    at the end, a GO line with a bad count, too many tokens), else it is ``None``.
    """

    line: int
    start: int
    end: int
    tokens: List[Token]
    ended: str
    count: int = 1
    problem: Optional[str] = None
    problem_line: int = 0

    def text(self, source: str) -> str:
        return source[self.start:self.end].strip()


class GoCountError(ValueError):
    """A GO line whose argument is not a positive count; ``line`` is 1-based."""

    def __init__(self, line: int, args: str) -> None:
        super().__init__("line %d: invalid GO command %r: the count must be a positive integer" % (line, ("GO " + args).strip()))
        self.line = line


_GO_COUNT = re.compile(r"[ \t]*([+-]?\d+)")


def go_count(args: Optional[str], line: int) -> int:
    """The repeat count of a GO line from what follows ``GO`` (``None``: nothing).

    As go-sqlcmd does (``goCommand``: ``fmt.Sscanf(arg, "%d", &n)`` on the trimmed
    argument): nothing or only a ``--`` comment runs the batch once; otherwise the
    argument must start with an integer of at least 1, and text after that integer is
    ignored (``GO 2 x`` runs twice). ``GO x``, ``GO 0``, ``GO -1`` and ``GO /* c */`` are
    errors. (go-sqlcmd removes a ``--`` comment before the command is matched, hence
    ``GO -- note`` is a plain ``GO``.)
    """
    if args is None:
        return 1
    stripped = args.strip()
    if not stripped or stripped.startswith("--"):
        return 1
    match = _GO_COUNT.match(stripped)
    if match is None or int(match.group(1)) < 1:
        raise GoCountError(line, args)
    return int(match.group(1))


def _close_special(text: str, opener: str, pos: int, nested: bool) -> int:
    """End of the comment or quote that ``opener`` opened just before ``pos``; -1 when it never closes."""
    if opener == "/*":
        if not nested:
            end = text.find("*/", pos)
            return -1 if end < 0 else end + 2
        depth = 1
        while depth:
            mark = _NESTED_MARK.search(text, pos)
            if mark is None:
                return -1
            depth += 1 if mark.group() == "/*" else -1
            pos = mark.end()
        return pos
    if opener[0] == "$":
        end = text.find(opener, pos)
        return -1 if end < 0 else end + len(opener)
    # q'<delimiter>...<closer>'
    if pos >= len(text) or text[pos].isspace():
        return -1
    closer = _Q_CLOSERS.get(text[pos], text[pos]) + "'"
    end = text.find(closer, pos + 1)
    return -1 if end < 0 else end + 2


_OPEN_NAMES = {"'": "string", '"': "quoted name", "[": "bracketed name", "/*": "/* comment",
               "q'": "q-quoted string", "$": "dollar-quoted string"}


def _open_name(opener: str) -> str:
    if opener.startswith("/*"):
        return "/* comment"
    if opener[0] == "$":
        return "dollar-quoted string %s" % opener
    if opener[-1] == "'" and opener[:-1].lower() in ("q", "nq"):
        return "q-quoted string"
    return _OPEN_NAMES.get(opener[-1], "quote")


# Tokens kept as tuples per statement; a longer statement moves them into a TokenArray.
TUPLE_TOKENS = 512


class TokenArray(object):
    """The tokens of a long statement, about 6 bytes each instead of a tuple's hundred.

    A token's text is always ``text[start:start + length]``, so only its kind, start and
    length are stored; indexing gives the same ``(kind, text, start)`` tuples as a list.
    A hostile statement of dense tokens then costs a few times its size, not a hundred.
    """

    __slots__ = ("text", "kinds", "starts", "lengths", "long", "limit", "overflowed")

    def __init__(self, tokens: List[Token], text: str, limit: int) -> None:
        self.text = text
        self.kinds = bytearray()
        self.starts = array.array("I" if len(text) < 1 << 32 else "Q")
        self.lengths = bytearray()
        self.long: dict = {}      # lengths of 255 characters and more, by index
        self.limit = limit
        self.overflowed = False
        for token in tokens:
            self.append(token)

    def append(self, token: Token) -> None:
        if len(self.kinds) == self.limit:
            self.overflowed = True
            return
        size = len(token[1])
        if size >= 255:
            self.long[len(self.kinds)] = size
            size = 255
        self.kinds.append(token[0])
        self.starts.append(token[2])
        self.lengths.append(size)

    def __len__(self) -> int:
        return len(self.kinds)

    def _token(self, index: int) -> Token:
        start = self.starts[index]
        size = self.lengths[index]
        if size == 255:
            size = self.long[index if index >= 0 else len(self.kinds) + index]
        return (self.kinds[index], self.text[start:start + size], start)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._token(i) for i in range(*index.indices(len(self.kinds)))]
        if not -len(self.kinds) <= index < len(self.kinds):
            raise IndexError("token index out of range")
        return self._token(index)

    def __iter__(self):
        return (self._token(i) for i in range(len(self.kinds)))


def _spill(tokens: List[Token], token: Token, text: str, max_tokens: int) -> Tuple[List[Token], bool]:
    """At the tuple limit: the tokens moved into a TokenArray (or, at ``max_tokens``, the overflow)."""
    if len(tokens) == max_tokens:
        return tokens, True
    spilled = TokenArray(tokens, text, max_tokens or -1)
    spilled.append(token)
    return spilled, False  # type: ignore[return-value]


def statements(text: str, dialect: str, implicit: bool = False, max_tokens: int = 0,
               start: int = 0, end: Optional[int] = None, line: int = 1) -> Iterator[Statement]:
    """Yield the statements of ``text`` (see the module doc for the rules).

    ``max_tokens`` (0: no limit) bounds the tokens kept per statement; a longer statement is
    still found whole but comes with a ``problem`` and only its first tokens. ``start`` and
    ``end`` read only ``text[start:end]`` (``start`` at a line start, ``line`` its number),
    as if the text ended there; positions stay those of ``text``.
    """
    if dialect not in DIALECTS:
        raise ValueError("unknown SQL dialect %r (expected one of %s)" % (dialect, ", ".join(DIALECTS)))
    oracle = dialect == "oracle"
    nested = not oracle
    first_pattern = _PATTERNS[(dialect, True)]
    rest_pattern = _PATTERNS[(dialect, False)]
    size = len(text) if end is None else end
    tokens: List[Token] = []
    words: List[str] = []          # the first upper-case words, until the body question is decided
    body: Optional[bool] = None
    depth = 0
    counted_to = start
    overflow = False
    blank_seen = False             # Oracle: a blank line came after the statement's last token
    limit = TUPLE_TOKENS if not max_tokens or max_tokens > TUPLE_TOKENS else max_tokens
    scanner = first_pattern.scanner(text, start, size)
    match_next = scanner.match

    def finish(stop: int, ended: str, count: int = 1, problem: Optional[str] = None, problem_pos: int = -1):
        nonlocal line, counted_to
        line += text.count("\n", counted_to, tokens[0][2])
        counted_to = tokens[0][2]
        problem_line = line + text.count("\n", counted_to, problem_pos) if problem_pos >= 0 else 0
        if (overflow or getattr(tokens, "overflowed", False)) and problem is None:
            problem, problem_line = "statement of more than %d tokens: too long to read" % max_tokens, line
        return Statement(line, tokens[0][2], stop, tokens, ended, count, problem, problem_line)

    while True:
        match = match_next()
        if match is None:  # cannot happen: the last alternative matches at the end
            break
        kind = match.lastindex
        if kind is None:   # \Z
            break
        value = match.group(kind)
        start = match.start(kind)
        if oracle and tokens and body is not True and kind != SEPARATOR:
            if text.count("\n", match.start(), start) >= 2:
                blank_seen = True
            if blank_seen and kind != COMMENT and not (kind == SPECIAL and value == "/*"):
                last = tokens[-1]
                yield finish(last[2] + len(last[1]), "blank")
                tokens, words, body, depth, overflow, blank_seen = [], [], None, 0, False, False
                scanner = first_pattern.scanner(text, text.rfind("\n", 0, start) + 1, size)
                match_next = scanner.match
                continue
        if kind == WORD:
            if body is None:
                words.append(value.upper())
                body = starts_body(words, dialect)
            elif (implicit and not body and depth <= 0 and value[0] in "cCaA" and value.upper() in ("CREATE", "ALTER")
                  and text[text.rfind("\n", 0, start) + 1:start].strip() == ""):
                last = tokens[-1]
                yield finish(last[2] + len(last[1]), "implicit")
                tokens, words, overflow, depth, blank_seen = [], [value.upper()], False, 0, False
                body = starts_body(words, dialect)
            if len(tokens) != limit:
                tokens.append((kind, value, start))
            else:
                tokens, overflow = _spill(tokens, (kind, value, start), text, max_tokens)
        elif kind == PUNCT:
            if value == "(":
                depth += 1
            elif value == ")":
                depth -= 1
            elif value == ";" and not body:
                if tokens:
                    yield finish(match.end(kind), ";")
                    tokens, words, body, depth, overflow, blank_seen = [], [], None, 0, False, False
                scanner = first_pattern.scanner(text, match.end(), size)
                match_next = scanner.match
                continue
            if body is None:
                body = False if words or value != "(" else None
            if len(tokens) != limit:
                tokens.append((kind, value, start))
            else:
                tokens, overflow = _spill(tokens, (kind, value, start), text, max_tokens)
        elif kind >= BRACKET and kind != OPEN:
            if body is None:
                body = False
            if len(tokens) != limit:
                tokens.append((kind, value, start))
            else:
                tokens, overflow = _spill(tokens, (kind, value, start), text, max_tokens)
        elif kind == COMMENT:
            continue
        elif kind == SPECIAL:
            closed = _close_special(text, value, match.end(kind), nested)
            if closed < 0 or closed > size:
                tokens.append((OPEN, value, start))
                yield finish(size, "end", problem="unterminated %s" % _open_name(value), problem_pos=start)
                return
            if value != "/*":  # a q-quote or a dollar quote is a string
                if body is None:
                    body = False
                if len(tokens) != limit:
                    tokens.append((STRING, text[start:closed], start))
                else:
                    tokens, overflow = _spill(tokens, (STRING, text[start:closed], start), text, max_tokens)
            scanner = (first_pattern if not tokens else rest_pattern).scanner(text, closed, size)
            match_next = scanner.match
            continue
        elif kind == SEPARATOR:
            if oracle:
                ended, count, problem = "/", 1, None
            else:
                ended, problem = "GO", None
                args = value[2:] if len(value) > 2 else None
                try:
                    count = go_count(args, 0)
                except GoCountError:
                    count, problem = 1, "invalid GO command %r: the count must be a positive integer" % value.strip()
            if tokens:
                last = tokens[-1]
                yield finish(last[2] + len(last[1]), ended, count)
            if problem is not None:   # the bad GO line is a statement of its own: reported, never lost
                tokens, overflow = [(SEPARATOR, value, start)], False
                yield finish(start + len(value), ended, count, problem, start)
            tokens, words, body, depth, overflow, blank_seen = [], [], None, 0, False, False
            scanner = first_pattern.scanner(text, match.end(), size)
            match_next = scanner.match
            continue
        elif kind == CLIENT:
            if tokens:  # cannot happen: the client alternative is only in the statement-start pattern
                raise AssertionError("client line inside a statement")
            tokens = [(CLIENT, value, start)]
            yield finish(start + len(value), "client")
            tokens = []
            scanner = first_pattern.scanner(text, match.end(), size)
            match_next = scanner.match
            continue
        else:  # OPEN: a quote or bracket that never closes
            tokens.append((OPEN, value, start))
            yield finish(size, "end", problem="unterminated %s" % _open_name(value), problem_pos=start)
            return
        if len(tokens) == 1:
            scanner = rest_pattern.scanner(text, match.end(), size)
            match_next = scanner.match
    if tokens:
        last = tokens[-1]
        yield finish(last[2] + len(last[1]), "end")


#: A sqlcmd command line (go-sqlcmd ``commands.go``; sqlcmd's documented colon commands), from a line start:
#: group ``command``. The bare forms go-sqlcmd also takes (EXIT, QUIT, ED, ON ERROR without a colon) are not
#: here: ``ON error (id)`` inside CREATE INDEX is SQL.
SQLCMD_COMMAND = re.compile(
    r"[ \t]*+(?P<command>:?!!|:(?:exit|quit)(?![^ \t\n(])"
    r"|:(?:setvar|r|on[ \t]+error|out|error|listvar|reset|list|connect|xml|ed|help|serverlist|perftrace)(?![^ \t\n]))",
    re.IGNORECASE)
#: Where a line may hold a sqlcmd command: the GO scanner stops there (MS SQL).
_SQLCMD_AHEAD = r"[ \t]*+(?::|!!)"


def _without_dollars(piece: str, stop: str) -> str:
    """A quote fragment that matches no quote holding a "$", so that the scan stops at such a quote."""
    return piece.replace("[^%s]*+" % stop, "[^%s$]*+" % stop)


def go_scan_pattern(dialect: str, dollars_in_quotes: bool = False) -> "re.Pattern[str]":
    """The GO splitter's scanner: one match per batch in the common case, in C.

    From a line start or from the end of a quote, it skips plain text, complete quotes,
    bracketed names, flat comments and lines that cannot be GO lines (group 1: the batch's
    text up to and including the newline before the GO line), then takes the GO line that
    ends the batch, if one comes: group 2 is the line (``[ \t]*GO...`` without its newline),
    group 3 what follows ``GO`` and a blank on it; the match ends after the line's newline.
    Without group 2 the scan stopped at the end of the text or at a quote or comment that
    does not close there (or holds a nested comment), which the caller walks before scanning
    on. Built from the same fragments as the tokenizer, as one unrolled loop (plain text,
    then any number of "special piece, plain text"), most frequent pieces first.

    MS SQL: the scan also stops at what sqlcmd would act on: a line that may hold a sqlcmd
    command (``SQLCMD_COMMAND``; it stops at the line's first character) and a ``$(``
    outside quotes and comments. With ``dollars_in_quotes`` it stops at every quote that
    holds a ``$`` too (sqlcmd reads a variable reference inside quotes): the splitter scans
    with it only a text that holds a ``$(``, because a class of two characters (``[^'$]``)
    is read a fifth slower than one (``[^']``) and quotes are most of a script.
    """
    frag = fragments(dialect)
    # Lab: a "$" opens a dollar quote unless it is inside a word (as in the tokenizer, which
    # reads "a$$" as one word and "1$$" as a number and an opener), so words and numbers are
    # pieces of their own there; SQL Server scripts keep the fast plain run.
    plain = (r"[^'\"/\-\n\[$\w@#]*+" if dialect == "lab" else r"[^'\"/\-\n\[$]*+")
    # A bracketed name as "[...]" runs ("]]" inside is "]" "]...]"): no alternation inside. A
    # "]" right after the last run would make its "]" an escape: then the name is not closed.
    bracket = r"\[[^\]]*+\](?:\][^\]]*+\])*+(?!\])" if dialect == "mssql" else r"\["
    go_ahead = r"[ \t]*+[Gg][Oo](?![^ \t\n])"
    if dialect == "mssql":
        line_break = r"\n(?![ \t]*+(?:[Gg][Oo](?![^ \t\n])|:|!!))"   # not before a GO line nor a sqlcmd command
        string, quoted = frag["string"], frag["quoted"]
        if dollars_in_quotes:
            bracket = _without_dollars(bracket, r"\]")
            string, quoted = _without_dollars(string, "'"), _without_dollars(quoted, '"')
    else:
        line_break, string, quoted = r"\n(?!" + go_ahead + ")", frag["string"], frag["quoted"]
    pieces = [bracket, line_break, string, r"-(?!-)", r"--[^\n]*+", quoted, frag["flat_comment"], r"/(?!\*)"]
    if dialect == "lab":
        pieces[:0] = [r"[^\W\d][\w@#$]*+|[@#][\w@#$]*+", r"\d++(?:\.\d++)?(?:[eE][+-]?\d++)?"]
        pieces.append(r"\$(?!(?:[^\W\d]\w*+)?\$)")
    else:
        pieces.append(r"\$(?!\()")
    body = plain + "(?:(?:" + "|".join(pieces) + ")" + plain + ")*+"
    at_go_line = r"(?<![^\n])(?=" + go_ahead + ")"
    if dialect == "mssql":   # a line that may hold a sqlcmd command, where a scan starts: an empty stop there
        at_go_line += r"|(?<![^\n])(?=" + _SQLCMD_AHEAD + ")"
    go_line = r"(?:([ \t]*+[Gg][Oo](?![^ \t\n])(?:[ \t]([^\n]*+))?)\n?)?"
    return re.compile("((?:" + at_go_line + "|" + body + r")\n?)" + go_line)
