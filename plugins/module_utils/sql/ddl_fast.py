# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole-statement patterns for the DDL reader: the common SQL Server statements read in C.

Structure scripts scripted by SQL Server's tools repeat a few statement shapes thousands
of times: ``CREATE TABLE`` with bracketed columns, ``ALTER TABLE ... ADD CONSTRAINT ...
PRIMARY KEY``, ``CREATE [UNIQUE] [NON]CLUSTERED INDEX``, ``CREATE FULLTEXT INDEX`` and
``if exists (...) drop table``. ``match(text, start, end)`` matches one such statement whole
with compiled patterns and returns what it says as plain data; anything the patterns do not
cover returns ``None`` and the reader reads the statement with its token parser.

The patterns accept only text whose reading is certain: bracketed names without ``]]``,
type sizes of digits or ``max``, defaults of one parenthesized literal, no comments inside,
no ``;``, no line starting with ``CREATE``/``ALTER`` (the token path would start a new
statement there). For what they accept, the result equals the token parser's, which
``tests/unit/plugins/module_utils/test_sql_fast_paths.py`` checks on every fixture, on the
benchmark's script and on random scripts. ``type_sizes`` is shared by both paths.
"""

from __future__ import annotations

import re
import sys
from typing import List, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import MAX_LENGTH, Column

NUMERIC_TYPES = frozenset(("numeric", "decimal", "dec", "number"))
FRACTION_TYPES = frozenset(("datetime2", "time", "datetimeoffset", "timestamp"))
# Type names whose reading the token parser may extend with following words or parentheses.
_NOT_FAST_TYPES = frozenset(("double", "character", "char", "nchar", "national", "long", "interval", "xml",
                             "timestamp", "time"))


def type_sizes(type_name: str, args: Sequence[Optional[int]]) -> Tuple[Optional[int], Optional[int], Optional[int]]:
    """``(length, precision, scale)`` of a type from the numbers in its parentheses."""
    if not args:
        return None, None, None
    if type_name in NUMERIC_TYPES:
        return None, args[0], args[1] if len(args) > 1 else 0
    if type_name == "float":
        return None, args[0], None
    if type_name in FRACTION_TYPES:
        return None, None, args[0]
    return args[0], None, None


class Unsure(Exception):
    """The statement matched a pattern but holds something only the token parser reads exactly."""


_NAME = r"\[[^\]\n]++\]"
_QNAME = r"(?:" + _NAME + r"\s*+\.\s*+){0,2}\[(?P<table>[^\]\n]++)\]"
_END = r"(?![\w@#$])"
_NUMBER_LIT = r"-?\d++(?:\.\d++)?"
_DEFAULT = r"\((?:\(" + _NUMBER_LIT + r"\)|" + _NUMBER_LIT + r"|[Nn]?'[^'\n]*+'|[A-Za-z_]\w*+\(\))\)"
_ATTRIBUTE = (r"(?i:NOT\s++NULL|NULL|COLLATE\s++(?:\w++|" + _NAME + r")|IDENTITY(?:\s*+\(\s*+-?\d++\s*+,\s*+-?\d++\s*+\))?"
              r"|ROWGUIDCOL|(?:CONSTRAINT\s*+" + _NAME + r"\s*+)?DEFAULT\s*+" + _DEFAULT + r")" + _END)
_COLUMN = (r"\[(?P<name>[^\]\n]++)\]\s*+(?:\[(?P<btype>\w++)\]|(?P<wtype>[A-Za-z_]\w*+)" + _END + r")"
           r"(?:\s*+\(\s*+(?P<size>\d++|(?i:max)" + _END + r")\s*+(?:,\s*+(?P<scale>\d++)\s*+)?\))?"
           r"(?P<attributes>(?:\s++" + _ATTRIBUTE + r")*+)")
_COLUMN_NO_GROUPS = re.sub(r"\(\?P<\w+>", "(?:", _COLUMN)
_COLUMN_RE = re.compile(_COLUMN)
_ATTRIBUTE_RE = re.compile(r"\s++(" + _ATTRIBUTE + ")")
_DEFAULT_IN_ATTRIBUTE = re.compile(r"(?i:CONSTRAINT\s*+" + _NAME + r"\s*+)?(?i:DEFAULT)\s*+(" + _DEFAULT + ")")
_NAME_LIST = r"\(\s*+" + _NAME + r"(?:\s++(?i:ASC|DESC)" + _END + r")?(?:\s*+,\s*+" + _NAME + r"(?:\s++(?i:ASC|DESC)" + _END + r")?)*+\s*+\)"
_LIST_NAMES = re.compile(r"\[([^\]\n]++)\]")
_FILEGROUP = r"(?:\s*+(?i:ON)\s*+" + _NAME + r")?"

# After the statement: blanks and comments up to the end of the segment (the token path ends
# the statement at its last token, before them).
_TAIL = r"(?:\s++|--[^\n]*+|/\*(?:[^*/]++|\*(?!/)|/(?!\*))*+\*/)*+"

_CREATE_TABLE = re.compile(
    r"(?i:CREATE)\s++(?i:TABLE)\s++" + _QNAME + r"\s*+\(\s*+(?P<columns>" + _COLUMN_NO_GROUPS
    + r"(?:\s*+,\s*+" + _COLUMN_NO_GROUPS + r")*+)\s*+(?P<comma>,\s*+)?\)" + _FILEGROUP
    + r"(?:\s*+(?i:TEXTIMAGE_ON)\s*+" + _NAME + r")?(?P<core_end>)" + _TAIL)

_ALTER_ADD_KEY = re.compile(
    r"(?i:ALTER)\s++(?i:TABLE)\s++" + _QNAME + r"(?:\s++(?i:WITH)\s++(?i:NOCHECK|CHECK))?\s++(?i:ADD)\s++"
    r"(?i:CONSTRAINT)\s*+\[(?P<key>[^\]\n]++)\]\s*+(?i:PRIMARY)\s++(?i:KEY)"
    r"(?:\s++(?P<clustered>(?i:CLUSTERED|NONCLUSTERED)))?\s*+(?P<columns>" + _NAME_LIST + r")" + _FILEGROUP
    + r"(?P<defaults>(?:\s*+,\s*+(?i:CONSTRAINT)\s*+" + _NAME + r"\s*+(?i:DEFAULT)\s*+" + _DEFAULT
    + r"\s*+(?i:FOR)\s*+" + _NAME + r")*+)(?P<core_end>)" + _TAIL)
_DEFAULT_FOR = re.compile(r"(?i:DEFAULT)\s*+(" + _DEFAULT + r")\s*+(?i:FOR)\s*+\[([^\]\n]++)\]")

_CREATE_INDEX = re.compile(
    r"(?i:CREATE)(?P<unique>\s++(?i:UNIQUE))?(?:\s++(?P<clustered>(?i:CLUSTERED|NONCLUSTERED)))?\s++(?i:INDEX)\s++"
    r"\[(?P<index>[^\]\n]++)\]\s++(?i:ON)\s++" + _QNAME + r"\s*+(?P<columns>" + _NAME_LIST + r")"
    r"(?:\s*+(?i:INCLUDE)\s*+(?P<include>" + _NAME_LIST + r"))?"
    r"(?:\s*+(?i:WITH)\s*+\([^()'\"\[\];\n]*+\))?" + _FILEGROUP + r"(?P<core_end>)" + _TAIL)

_CREATE_FULLTEXT = re.compile(
    r"(?i:CREATE)\s++(?i:FULLTEXT)\s++(?i:INDEX)\s++(?i:ON)\s++" + _QNAME
    + r"\s*+\(\s*+(?P<columns>" + _NAME + r"(?:\s++(?i:LANGUAGE)\s++\d++)?(?:\s*+,\s*+" + _NAME
    + r"(?:\s++(?i:LANGUAGE)\s++\d++)?)*+)\s*+\)\s*+(?i:KEY)\s++(?i:INDEX)\s++\[(?P<key>[^\]\n]++)\]"
    + _FILEGROUP + r"(?:\s++(?i:WITH)\s++(?i:CHANGE_TRACKING)\s++(?i:AUTO|MANUAL|OFF)" + _END + r")?(?P<core_end>)" + _TAIL)

# An ignored statement (IF, SET, PRINT ...): one statement as long as no ";", comment or
# line-initial CREATE/ALTER comes before the end (the token path would end it there).
_IGNORED = re.compile(
    r"(?P<word>[A-Za-z]++)" + _END + r"(?:[^;'\"\[\n/\-]++|[Nn]?'[^']*+(?:''[^']*+)*+'|\[[^\]]*+(?:\]\][^\]]*+)*+\](?!\])"
    r"|\"[^\"]*+(?:\"\"[^\"]*+)*+\"|\n(?!\s*+(?i:CREATE|ALTER)" + _END + r")|/(?!\*)|-(?!-))*+")

_LEADING = re.compile(_TAIL)


def skip_leading(text: str, start: int, end: int) -> int:
    """Position of the first token at or after ``start``: blanks and flat comments skipped."""
    return _LEADING.match(text, start, end).end()


def _column(definition: str, cache: dict) -> Column:
    """The Column a column definition matched by ``_COLUMN`` stands for (``cache``: scripts repeat them)."""
    column = cache.get(definition)
    if column is not None:
        return column
    match = _COLUMN_RE.fullmatch(definition)
    if match is None:   # cannot happen: the definition was matched by the same pattern
        raise Unsure("column")
    type_name = sys.intern((match.group("btype") or match.group("wtype")).lower())
    if type_name in _NOT_FAST_TYPES:
        raise Unsure("type %s" % type_name)
    args: List[Optional[int]] = []
    if match.group("size") is not None:
        size = match.group("size")
        args.append(MAX_LENGTH if size.upper() == "MAX" else int(size))
        if match.group("scale") is not None:
            args.append(int(match.group("scale")))
    length, precision, scale = type_sizes(type_name, args)
    nullable, identity, default = True, False, None
    after_default = False
    for attribute in _ATTRIBUTE_RE.findall(match.group("attributes")):
        word = attribute[:4].upper()
        if word == "NULL":
            nullable = True
        elif word == "NOT ":
            nullable = False
        elif word.startswith("NOT"):
            nullable = False
        elif word == "IDEN":
            identity = True
        elif word in ("CONS", "DEFA"):
            if word == "DEFA" and after_default:
                raise Unsure("DEFAULT right after a DEFAULT expression")
            default = _DEFAULT_IN_ATTRIBUTE.match(attribute).group(1)
        after_default = word in ("CONS", "DEFA")
    if identity:
        nullable = False
    column = Column(match.group("name"), type_name, length, precision, scale, nullable, identity, default)
    if len(definition) <= 200:   # bounded: at most 4,096 short definitions are kept
        if len(cache) >= 4096:
            cache.clear()
        cache[definition] = column
    return column


_COLUMN_SPLIT = re.compile(_COLUMN_NO_GROUPS)


def match(text: str, start: int, end: int, cache: dict):
    """What the statement ``text[start:end]`` (``start`` at its first token) says, or None.

    ``cache`` keeps the Column of each short column definition seen (one dict per script).

    Returns ``(core_end, kind, data)``: ``core_end`` is the end of its last token;
    ``kind`` and ``data``: ``"table"``: ``(name, [Column])``; ``"key"``:
    ``(table, key_name, columns, clustered, [(default, column)])``; ``"index"``: ``(table,
    name, columns, unique, clustered, include)``; ``"fulltext"``: ``(table, columns,
    key_index)``; ``"ignored"``: ``WORD`` (upper case). Raises ``Unsure`` for a statement a
    pattern matched that only the token parser reads exactly.
    """
    head = text[start:start + 6].upper()
    if head == "CREATE":
        found = _CREATE_TABLE.fullmatch(text, start, end)
        if found is not None:
            parts = _COLUMN_SPLIT.finditer(text, found.start("columns"), found.end("columns"))
            columns = [_column(part.group(), cache) for part in parts]
            return found.start("core_end"), "table", (found.group("table"), columns)
        found = _CREATE_INDEX.fullmatch(text, start, end)
        if found is not None:
            include = tuple(_LIST_NAMES.findall(found.group("include"))) if found.group("include") else ()
            clustered = (found.group("clustered") or "").upper() == "CLUSTERED"
            return found.start("core_end"), "index", (
                found.group("table"), found.group("index"), tuple(_LIST_NAMES.findall(found.group("columns"))),
                found.group("unique") is not None, clustered, include)
        found = _CREATE_FULLTEXT.fullmatch(text, start, end)
        if found is not None:
            return found.start("core_end"), "fulltext", (
                found.group("table"), tuple(_LIST_NAMES.findall(found.group("columns"))), found.group("key"))
        return None
    if head[:5] == "ALTER":
        found = _ALTER_ADD_KEY.fullmatch(text, start, end)
        if found is None:
            return None
        clustered = (found.group("clustered") or "").upper() == "CLUSTERED"
        defaults = _DEFAULT_FOR.findall(found.group("defaults")) if found.group("defaults") else []
        return found.start("core_end"), "key", (
            found.group("table"), found.group("key"), tuple(_LIST_NAMES.findall(found.group("columns"))), clustered,
            defaults)
    found = _IGNORED.match(text, start, end)
    if found is None or found.end() != end:
        return None
    return end, "ignored", found.group("word").upper()
