# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schema model shared by the DDL reader, the catalog adapters and the lab.

A ``Schema`` is what one database holds (live) or should hold (read from the
vendor's ``K2t_*`` script). It is platform-neutral in shape but keeps raw type
names: ``ntext`` stays ``ntext``, ``VARCHAR2`` becomes ``varchar2``. Names are
compared case-insensitively through ``key()``, as K2 does on MS SQL.

A catalog snapshot is a ``Schema`` saved as JSON, so that a support engineer
can check a customer's catalog export offline. Its layout::

    {
      "format": "erpops.upgrade/catalog-snapshot",
      "version": 1,
      "platform": "mssql" | "oracle" | "lab",
      "database": "K2_FIRMA",
      "taken_at": "2026-11-23T15:00:00+00:00",
      "tables": [
        {"name": "FIRMY",
         "columns": [{"name": "Cis", "type": "int", "length": null,
                      "precision": null, "scale": null, "nullable": false,
                      "identity": false, "default": null}],
         "primary_key": {"name": "FIRMY_ById", "columns": ["Cis"], "clustered": false},
         "indexes": [{"name": "FIRMY_ByAbbr", "columns": ["Zkr"], "unique": true,
                      "clustered": false, "include": []}],
         "fulltext": {"columns": ["Naz"], "key_index": "FIRMY_ById"}}
      ]
    }

``length`` is in characters; ``-1`` means ``max`` (MS SQL) and ``null`` means
the type has no length. Two column fields are written only when set: ``semantics``
(Oracle ``"char"`` or ``"byte"`` length semantics of a character type) and ``computed``
(the expression of a computed or virtual column). An index's ``filter`` (the predicate
of a filtered index, see ``normalized_predicate``) is written only when it has one.

A table's ``columns`` is a ``ColumnList``: it reads and changes as a list of ``Column``
but keeps the columns packed, and a schema's ``tables`` is a ``Tables`` mapping: it reads
and changes as a dict of ``Table`` but keeps a table of columns only (no keys, indexes or
full-text index) in schema-wide arrays until it is asked for, so that the model of a
script costs a few times the script's size whatever its shape, a few wide tables or many
small ones (the DDL reader's memory goals in ``make bench``).
"""

from __future__ import annotations

import json
import re
from array import array
from bisect import bisect_left
from collections.abc import Mapping, MutableMapping, MutableSequence
from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

SNAPSHOT_FORMAT = "erpops.upgrade/catalog-snapshot"
SNAPSHOT_VERSION = 1
PLATFORMS = ("mssql", "oracle", "lab")
MAX_LENGTH = -1


def key(name: str) -> str:
    """Comparison key of an identifier: K2 names are case-insensitive."""
    return name.upper()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    length: Optional[int] = None
    precision: Optional[int] = None
    scale: Optional[int] = None
    nullable: bool = True
    identity: bool = False
    default: Optional[str] = None
    semantics: Optional[str] = None   # Oracle length semantics of character types: "char", "byte", None (not said)
    computed: Optional[str] = None    # the expression of a computed (virtual) column


@dataclass(frozen=True)
class PrimaryKey:
    name: str
    columns: Tuple[str, ...]
    clustered: bool = False


@dataclass(frozen=True)
class Index:
    name: str
    columns: Tuple[str, ...]
    unique: bool = False
    clustered: bool = False
    include: Tuple[str, ...] = ()
    filter: Optional[str] = None   # a filtered index's predicate, normalised (``normalized_predicate``)


# A filter predicate's tokens: strings, quoted names, numbers, words, operators, any other character.
_PREDICATE_TOKEN = re.compile(
    r"\s*(?:([Nn]?'(?:[^']|'')*')|(\[(?:[^\]]|\]\])*\])|(\"(?:[^\"]|\"\")*\")|(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|([^\W\d][\w@#$]*|[@#][\w@#$]*)|(::|<>|!=|<=|>=|\|\||[()\[\],=<>+\-*/%])|(\S))")
_CONNECTIVES = frozenset(("AND", "OR"))
# Tokens after which "-" is a sign, not a subtraction.
_BEFORE_OPERAND = frozenset(("(", ",", "=", "<", ">", "<>", "<=", ">=", "+", "-", "*", "/", "%", "AND", "OR", "NOT", "IN", "IS",
                             "BETWEEN", "LIKE", "WHEN", "THEN", "ELSE", "ANY", "ALL", "["))
_QUOTED_NUMBER = re.compile(r"'-?\d+(?:\.\d+)?'\Z")


def _predicate_tokens(text: str, platform: str) -> List[str]:
    tokens: List[str] = []
    position = 0
    while True:
        match = _PREDICATE_TOKEN.match(text, position)
        if match is None:
            return tokens
        position = match.end()
        string, bracket, quoted, number, word, operator, other = match.groups()
        if string is not None:
            tokens.append(string if string[0] == "'" else "N" + string[1:])
        elif bracket is not None and platform != "mssql":   # "[" is an array subscript there
            position = match.start(2) + 1
            tokens.append("[")
        elif bracket is not None:
            tokens.append(key(bracket[1:-1].replace("]]", "]")))
        elif quoted is not None:
            tokens.append(key(quoted[1:-1].replace('""', '"')))
        elif word is not None:
            tokens.append(key(word))
        elif operator is not None:
            tokens.append("<>" if operator == "!=" else operator)
        elif number is not None and tokens[-1:] == ["-"] and (len(tokens) < 2 or tokens[-2] in _BEFORE_OPERAND):
            tokens[-1] = "-" + number    # a negative number, as the servers store it: (-1), '-1'::integer
        else:
            tokens.append(number if number is not None else other)


def _without_casts(tokens: List[str]) -> List[str]:
    """PostgreSQL casts (``::text``, ``::character varying(30)``, ``::int[]``) dropped."""
    kept: List[str] = []
    position = 0
    while position < len(tokens):
        if tokens[position] != "::":
            kept.append(tokens[position])
            position += 1
            continue
        position += 1
        if kept and _QUOTED_NUMBER.match(kept[-1]):   # '-1'::integer: PostgreSQL's negative constant
            kept[-1] = kept[-1][1:-1]
        while position < len(tokens) and (tokens[position][:1].isalpha() or tokens[position][:1] == "_") and (
                tokens[position] not in _CONNECTIVES and tokens[position] not in ("IS", "NOT", "IN", "LIKE", "BETWEEN")):
            position += 1
        for pair in (("(", ")"), ("[", "]")):
            if position < len(tokens) and tokens[position] == pair[0] and pair[1] in tokens[position:]:
                position = tokens.index(pair[1], position) + 1
    return kept


def _group(tokens: List[str], position: int) -> Tuple[list, int]:
    """The nested list of the tokens from ``position`` up to the matching ``)`` (or the end)."""
    items: list = []
    while position < len(tokens):
        token = tokens[position]
        if token == "(":
            inner, position = _group(tokens, position + 1)
            items.append(inner)
            continue
        position += 1
        if token == ")":
            return items, position
        items.append(token)
    return items, position


def _in_lists(items: list) -> list:
    """``x [NOT] IN (a, b)`` as ``(x = a OR x = b)`` / ``(x <> a AND x <> b)``, as SQL Server stores it; PostgreSQL's
    ``x = ANY (ARRAY [a, b])`` and ``x <> ALL (ARRAY [a, b])`` likewise."""
    result: list = []
    position = 0
    while position < len(items):
        item = items[position]
        negated = item == "NOT" and position + 2 < len(items) and items[position + 1] == "IN"
        at_in = item == "IN" or negated
        values = None
        if at_in and result and isinstance(items[position + (2 if negated else 1)], list):
            values = items[position + (2 if negated else 1)]
            step = 3 if negated else 2
        elif ((item, items[position + 1] if position + 1 < len(items) else None) in (("=", "ANY"), ("<>", "ALL"))
              and position + 2 < len(items) and isinstance(items[position + 2], list)
              and _unwrapped(items[position + 2])[:1] == ["ARRAY"] and result):
            values = [token for token in _unwrapped(items[position + 2])[1:] if token not in ("[", "]")]
            negated, step = item == "<>", 3
        if values is None:
            result.append(_in_lists(item) if isinstance(item, list) else item)
            position += 1
            continue
        operand = result.pop()
        choices: List[list] = [[]]
        for value in values:
            if value == ",":
                choices.append([])
            else:
                choices[-1].append(value)
        expanded: list = []
        for number, choice in enumerate(choices):
            if number:
                expanded.append("AND" if negated else "OR")
            expanded += [operand, "<>" if negated else "="] + choice
        result.append(expanded)
        position += step
    return result


def _unwrapped(items: list) -> list:
    while len(items) == 1 and isinstance(items[0], list):
        items = items[0]
    return items


def _top_words(items: list) -> set:
    return set(item for item in items if isinstance(item, str) and item in _CONNECTIVES)


def _simplified(items: list) -> list:
    """Parentheses the precedence of AND over OR makes redundant dropped; the others kept."""
    result: list = []
    for position, item in enumerate(items):
        if not isinstance(item, list):
            result.append(item)
            continue
        inner = _simplified(item)
        before = result[-1] if result else None
        call = isinstance(before, str) and (before[:1].isalnum() or before[:1] == "_") and before not in _CONNECTIVES | {"NOT", "IS"}
        if call:
            result.append(inner)
        elif len(inner) == 1:
            result.append(inner[0])
        elif "OR" not in _top_words(inner) and not (before == "NOT" and _top_words(inner)):
            result.extend(inner)
        else:
            result.append(inner)
    while len(result) == 1 and isinstance(result[0], list):
        result = result[0]
    return result


def _flat(items: list) -> List[str]:
    out: List[str] = []
    for item in items:
        if isinstance(item, list):
            out.append("(")
            out.extend(_flat(item))
            out.append(")")
        else:
            out.append(item)
    return out


def normalized_predicate(text: Optional[str], platform: str) -> Optional[str]:
    """A filtered index's predicate in one comparable spelling, or None for none.

    The servers keep the predicate in their own words: SQL Server's ``filter_definition``
    reads ``([Castka]>(0) AND [Naz] IS NOT NULL)`` for ``WHERE Castka > 0 AND Naz IS NOT
    NULL``, PostgreSQL's ``pg_get_expr(indpred, indrelid)`` ``((castka > 0) AND (naz IS NOT
    NULL))`` and adds casts (``(zkr)::text = 'A'::text``). Both sides of a comparison are
    spelled here alike: names without brackets or quotes and, like keywords, upper case
    (K2 names are case-insensitive); ``!=`` as ``<>``; string and number literals as
    written; PostgreSQL casts dropped; ``x IN (a, b)`` as ``x = a OR x = b`` (SQL Server
    stores it so; PostgreSQL's ``x = ANY (ARRAY[a, b])`` too), ``NOT IN`` (``<> ALL (ARRAY[...])``)
    as ``<>`` joined by AND; parentheses dropped around a single operand, around the whole predicate and around a
    group without a top-level OR (AND binds tighter than OR), except after NOT and around a
    function's arguments. Tokens are joined by single spaces. ``platform``: ``[...]`` is a
    bracketed name on ``mssql`` only (an array subscript on ``lab``).
    """
    if text is None or not text.strip():
        return None
    tokens = _without_casts(_predicate_tokens(text, platform))
    items, dummy = _group(tokens, 0)
    return " ".join(_flat(_simplified(_in_lists(items))))


@dataclass(frozen=True)
class FullTextIndex:
    columns: Tuple[str, ...]
    key_index: Optional[str] = None


_NULLABLE, _IDENTITY = 1, 2
_new_object = object.__new__
_NO_LENGTH, _NO_PRECISION, _NO_SCALE = 4, 8, 16      # the number is not given (None)
_WIDER = {"B": "H", "H": "I", "I": "Q", "h": "i", "i": "q"}


def _extended(numbers: array, values: List[int]) -> array:
    """``numbers`` with ``values`` appended: the same array, or a wider copy when a value does not fit."""
    size = len(numbers)
    try:
        numbers.extend(values)
        return numbers
    except OverflowError:
        del numbers[size:]
    typecode = numbers.typecode
    while True:
        typecode = _WIDER[typecode]
        try:
            array(typecode, values)
        except OverflowError:
            continue
        wider = array(typecode, numbers)
        wider.extend(values)
        return wider


# A column's numbers in ColumnList._meta: the end of its name in ``_names``, its type's number,
# length, precision, scale and flags.
_END, _TYPE, _LENGTH, _PRECISION, _SCALE, _FLAGS = range(6)
_WIDTH = 6
_TYPES_SCANNED = 8   # up to this many type names, a type's number is found in the list, without a dict


def append_number(owner, name: str, value: int) -> None:
    """Append ``value`` to the array ``owner.<name>``, widened when it does not fit."""
    numbers = getattr(owner, name)
    try:
        numbers.append(value)
    except OverflowError:
        setattr(owner, name, _extended(numbers, [value]))


def _sizes_and_flags(column: Column) -> Tuple[int, int, int, int]:
    """A column's length, precision, scale and flags as ``ColumnList`` packs them (an absent size is 0 with its flag)."""
    length, precision, scale = column.length, column.precision, column.scale
    flags = _NULLABLE if column.nullable else 0
    if column.identity:
        flags |= _IDENTITY
    if length is None:
        flags, length = flags | _NO_LENGTH, 0
    if precision is None:
        flags, precision = flags | _NO_PRECISION, 0
    if scale is None:
        flags, scale = flags | _NO_SCALE, 0
    return length, precision, scale, flags


class ColumnList(MutableSequence):
    """A table's columns, packed: about 20 bytes a column and 300 a table, instead of a few hundred a column.

    It behaves as a list of ``Column`` (index, iterate, append, replace, delete, compare
    with a list); a ``Column`` is made each time one is read. Inside, a column is its
    name's UTF-8 bytes in one ``bytearray`` and six integers in one array (where its name
    ends, the number of its type name, kept once per table, its length, precision, scale,
    and flags: nullable, identity and which numbers are not given); its default, length
    semantics and expression, mostly none, go to a list made only once one is set. The
    array starts at 2 bytes an item and widens when a value does not fit. A table of
    thousands of short column definitions then costs a few times its DDL's size, not tens
    of times. ``find`` looks a name up by ``key``: in a small table by one search in all
    its names, else in a hash table of column numbers built at the first look-up and kept
    up to date by ``append``.
    """

    __slots__ = ("_names", "_meta", "_type_names", "_type_numbers", "_extras", "_slots")

    def __init__(self, columns: Iterable[Column] = ()) -> None:
        self._names = bytearray()
        self._meta = array("h")
        self._type_names: List[str] = []
        self._type_numbers: Optional[Dict[str, int]] = None
        self._extras: Optional[List[Optional[Tuple[Optional[str], Optional[str], Optional[str]]]]] = None
        self._slots: Optional[array] = None
        self.extend(columns)

    # -- reading

    def __len__(self) -> int:
        return len(self._meta) // _WIDTH

    def _name(self, index: int) -> str:
        meta = self._meta
        return self._names[meta[(index - 1) * _WIDTH] if index else 0:meta[index * _WIDTH]].decode("utf-8")

    def _column(self, index: int) -> Column:
        meta, base = self._meta, index * _WIDTH
        flags = meta[base + _FLAGS]
        extras = self._extras[index] if self._extras is not None else None
        default, semantics, computed = extras if extras is not None else (None, None, None)
        # The frozen dataclass's fields set at once: half the time of Column(...), which sets them one by one.
        column = _new_object(Column)
        column.__dict__.update(
            name=self._names[meta[base - _WIDTH] if index else 0:meta[base]].decode("utf-8"),
            type=self._type_names[meta[base + _TYPE]],
            length=None if flags & _NO_LENGTH else meta[base + _LENGTH],
            precision=None if flags & _NO_PRECISION else meta[base + _PRECISION],
            scale=None if flags & _NO_SCALE else meta[base + _SCALE], nullable=bool(flags & _NULLABLE),
            identity=bool(flags & _IDENTITY), default=default, semantics=semantics, computed=computed)
        return column

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._column(i) for i in range(*index.indices(len(self)))]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("column index out of range")
        return self._column(index)

    def __iter__(self) -> Iterator[Column]:
        return (self._column(i) for i in range(len(self)))

    def names(self) -> List[str]:
        """The column names, in order (no ``Column`` made)."""
        return [self._name(i) for i in range(len(self))]

    def find(self, name: str) -> int:
        """Position of the first column whose name has ``name``'s key, or -1."""
        if self._slots is None:
            if len(self) <= _SCAN_LIMIT and name.isascii() and self._names.isascii():
                return self._scan(key(name))
            self._index_names()
        slots = self._slots
        mask = len(slots) - 1
        wanted = key(name)
        slot = hash(wanted) & mask
        while True:
            number = slots[slot]
            if not number:
                return -1
            if key(self._name(number - 1)) == wanted:
                return number - 1
            slot = (slot + 1) & mask

    def _scan(self, wanted: str) -> int:
        """``find`` in a small table of ASCII names: one search in all its names, upper-cased at once."""
        names = self._names.decode("ascii").upper()
        ends, size = self._meta[_END::_WIDTH], len(wanted)
        position = names.find(wanted)
        while position >= 0:
            index = bisect_left(ends, position + size)
            if index < len(ends) and ends[index] == position + size and (ends[index - 1] if index else 0) == position:
                return index
            position = names.find(wanted, position + 1)
        return -1

    def __eq__(self, other) -> bool:
        if isinstance(other, (ColumnList, list)):
            return len(self) == len(other) and all(mine == theirs for mine, theirs in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]   # mutable, as a list

    def __repr__(self) -> str:
        return repr(list(self))

    def __reduce__(self):
        return (ColumnList, (list(self),))

    def copy(self) -> "ColumnList":
        return ColumnList(self)

    def __add__(self, other) -> List[Column]:
        return list(self) + list(other)

    def __radd__(self, other) -> List[Column]:
        return list(other) + list(self)

    # -- writing

    def _type_number(self, type_name: str) -> int:
        numbers, names = self._type_numbers, self._type_names
        if numbers is not None:
            number = numbers.get(type_name)
        elif type_name in names:
            return names.index(type_name)
        else:
            number = None
        if number is None:
            number = len(names)
            names.append(type_name)
            if numbers is not None:
                numbers[type_name] = number
            elif len(names) > _TYPES_SCANNED:
                self._type_numbers = dict((name, position) for position, name in enumerate(names))
        return number

    def _packed(self, value: Column, end: int) -> Tuple[int, int, int, int, int, int]:
        """The six numbers of a column whose name ends at ``end``."""
        return (end, self._type_number(value.type)) + _sizes_and_flags(value)

    def _set_extras(self, index: int, value: Column) -> None:
        if value.default is not None or value.semantics is not None or value.computed is not None:
            if self._extras is None:
                self._extras = [None] * len(self)
            self._extras[index] = (value.default, value.semantics, value.computed)
        elif self._extras is not None:
            self._extras[index] = None

    def extend(self, values: Iterable[Column]) -> None:
        """Append many columns in one pass (the readers add a table's columns at once)."""
        columns = values if isinstance(values, list) and values is not self else list(values)
        if not columns:
            return
        start = len(self)
        names = [column.name.encode("utf-8") for column in columns]
        end = len(self._names)
        meta: List[int] = []
        extras: list = []
        extra_seen = False
        type_names = self._type_names
        type_numbers = self._type_numbers
        if type_numbers is None:   # kept only for many type names; here for this call
            type_numbers = dict((name, position) for position, name in enumerate(type_names))
        for column, name in zip(columns, names):
            end += len(name)
            number = type_numbers.get(column.type)
            if number is None:
                number = type_numbers[column.type] = len(type_names)
                type_names.append(column.type)
            meta += (end, number) + _sizes_and_flags(column)
            if column.default is None and column.semantics is None and column.computed is None:
                extras.append(None)
            else:
                extra_seen = True
                extras.append((column.default, column.semantics, column.computed))
        if len(type_names) > _TYPES_SCANNED:
            self._type_numbers = type_numbers
        self._meta = _extended(self._meta, meta)
        self._names += b"".join(names)
        if self._extras is None and extra_seen:
            self._extras = [None] * start
        if self._extras is not None:
            self._extras += extras
        slots = self._slots
        if slots is not None:
            if 2 * len(self) + 2 > len(slots) or len(self) > _SLOT_LIMIT[slots.typecode]:
                self._slots = None      # rebuilt, larger, at the next look-up
            else:
                mask = len(slots) - 1
                for index in range(start, len(self)):
                    slot = hash(key(columns[index - start].name)) & mask
                    while slots[slot]:
                        slot = (slot + 1) & mask
                    slots[slot] = index + 1

    def append(self, value: Column) -> None:
        self.extend([value])

    def _index_names(self) -> None:
        size = 8
        while size < 2 * len(self) + 2:
            size *= 2
        typecode = "H" if len(self) < _SLOT_LIMIT["H"] else "I"
        slots = array(typecode, bytes(array(typecode).itemsize * size))
        mask = size - 1
        for index in range(len(self)):
            slot = hash(key(self._name(index))) & mask
            while slots[slot]:
                slot = (slot + 1) & mask
            slots[slot] = index + 1
        self._slots = slots

    def _replace_all(self, columns: List[Column]) -> None:
        self.__init__(columns)  # pylint: disable=unnecessary-dunder-call

    def _copy_range(self, start: int, stop: int) -> "ColumnList":
        """The columns ``start`` to ``stop`` as a new list, copied packed (no ``Column`` made)."""
        copy = ColumnList()
        copy._extend_packed(self, start, stop)   # pylint: disable=protected-access
        return copy

    def _extend_packed(self, other: "ColumnList", start: int = 0, stop: Optional[int] = None) -> None:
        """Append ``other``'s columns ``start`` to ``stop``, copied packed, a chunk of numbers at a time."""
        stop = len(other) if stop is None else stop
        if stop <= start:
            return
        # pylint: disable=protected-access
        first = len(self)
        other_meta = other._meta
        base = other_meta[(start - 1) * _WIDTH] if start else 0
        shift = len(self._names) - base
        self._names += other._names[base:other_meta[(stop - 1) * _WIDTH]]
        numbers: Dict[int, int] = {}
        for chunk in range(start, stop, _CHUNK):
            values = other_meta[chunk * _WIDTH:min(stop, chunk + _CHUNK) * _WIDTH].tolist()
            for position in range(0, len(values), _WIDTH):
                values[position + _END] += shift
                number = numbers.get(values[position + _TYPE])
                if number is None:
                    number = numbers[values[position + _TYPE]] = self._type_number(other._type_names[values[position + _TYPE]])
                values[position + _TYPE] = number
            self._meta = _extended(self._meta, values)
        extras = other._extras[start:stop] if other._extras is not None else None
        if extras is not None and any(extra is not None for extra in extras):
            if self._extras is None:
                self._extras = [None] * first
            self._extras += extras
        elif self._extras is not None:
            self._extras += [None] * (stop - start)
        self._slots = None

    def _truncate(self, start: int) -> None:
        """Drop the columns from ``start`` on (type names stay known)."""
        if start >= len(self):
            return
        del self._names[self._meta[(start - 1) * _WIDTH] if start else 0:]
        del self._meta[start * _WIDTH:]
        if self._extras is not None:
            del self._extras[start:]
        self._slots = None

    def __setitem__(self, index, value) -> None:
        if isinstance(index, int) and -len(self) <= index < len(self):
            index %= len(self)
            if value.name == self._name(index):   # the same name: its other fields change in place
                base = index * _WIDTH
                numbers = self._packed(value, self._meta[base + _END])
                try:
                    self._meta[base:base + _WIDTH] = array(self._meta.typecode, numbers)
                except OverflowError:
                    pass
                else:
                    self._set_extras(index, value)
                    return
        columns = list(self)
        columns[index] = value
        self._replace_all(columns)

    def index(self, value, start: int = 0, stop: Optional[int] = None) -> int:
        if start == 0 and stop is None and isinstance(value, Column):
            position = self.find(value.name)
            if position >= 0 and self._column(position) == value:
                return position
        return super().index(value, start, *(() if stop is None else (stop,)))

    def __delitem__(self, index) -> None:
        columns = list(self)
        del columns[index]
        self._replace_all(columns)

    def insert(self, index: int, value: Column) -> None:
        if index >= len(self):
            self.append(value)
            return
        columns = list(self)
        columns.insert(index, value)
        self._replace_all(columns)


_SLOT_LIMIT = {"H": 65534, "I": (1 << 32) - 2}
_CHUNK = 512       # columns whose numbers are copied at once between packed lists
_SCAN_LIMIT = 32   # up to this many columns, ``find`` searches the names instead of building a hash table


@dataclass(slots=True)   # no instance dict: a script of many small tables has one Table each
class Table:
    name: str
    columns: ColumnList = field(default_factory=ColumnList)
    primary_key: Optional[PrimaryKey] = None
    indexes: List[Index] = field(default_factory=list)
    fulltext: Optional[FullTextIndex] = None

    def __setattr__(self, name: str, value) -> None:
        if name == "columns" and not isinstance(value, ColumnList):
            value = ColumnList(value)
        object.__setattr__(self, name, value)

    def column(self, name: str) -> Optional[Column]:
        position = self.columns.find(name)
        return None if position < 0 else self.columns[position]

    def index(self, name: str) -> Optional[Index]:
        wanted = key(name)
        for idx in self.indexes:
            if key(idx.name) == wanted:
                return idx
        return None


_PACKED = object()   # ``PackedMapping._objects`` of a packed entry; None marks a deleted one


class PackedMapping(MutableMapping):
    """A mapping by name whose entries may be kept packed in a few mapping-wide arrays, not as objects.

    It reads and changes as a dict. Each entry has a number, in the order of adding (a
    dict's order), and a name kept as UTF-8 bytes in one ``bytearray`` (where each ends: an
    array). An entry set by ``m[k] = v`` is an object, kept in the list ``_objects`` by number and
    found through a dict by the exact key ``k``, as in a dict. One added packed (a
    subclass's ``pack``) has no object: its key is ``key(name)``, it is found through a hash
    table of entry numbers (an array), and the subclass keeps its data in arrays of its own
    by number, from which ``_make`` builds the object. The object of a packed entry is made
    at the first ``m[k]`` (also ``get``, ``pop``, ``values()``, ``items()``) and kept from then
    on, so a change made to it stays; ``peek`` makes one without keeping it, for callers
    that only read. A packed entry costs a few dozen bytes beside its own data, against a
    few hundred for a dict entry, its key string and its objects. Storage freed by a
    deletion or by making an object is not reused, except at the end (``_released``).
    """

    __slots__ = ("_names", "_ends", "_folded", "_objects", "_index", "_slots", "_packed", "_size")

    def __init__(self, entries=()) -> None:
        self._names = bytearray()
        self._ends = array("I")
        self._folded = bytearray()   # 1 where the key is key(name): added packed
        self._objects: List[object] = []         # by number: the object, _PACKED, or None once deleted
        self._index: Dict[str, int] = {}        # the number of each object entry, by its key
        self._slots = array("I", bytes(4 * 8))  # packed entries: number + 1, by hash of the key
        self._packed = 0                        # entries ever added packed (what the slots hold)
        self._size = 0
        self.update(entries)

    # -- the packed data, in subclasses

    def _make(self, number: int, keep: bool):
        """The object of packed entry ``number``; ``keep``: it will be kept as the entry (it may take the data over)."""
        raise NotImplementedError

    def _added(self, number: int) -> None:
        """Entry ``number`` was added as an object: the subclass's arrays get an empty place for it."""

    def _released(self, number: int) -> None:
        """Entry ``number``'s packed data is no longer used (made an object, replaced or deleted)."""

    # -- names and look-up

    def _name(self, number: int) -> str:
        ends = self._ends
        return self._names[ends[number - 1] if number else 0:ends[number]].decode("utf-8")

    def _key(self, number: int) -> str:
        name = self._name(number)
        return key(name) if self._folded[number] else name

    def _find(self, wanted) -> int:
        """The number of the live entry whose key is ``wanted``, or -1."""
        number = self._index.get(wanted)
        if number is not None:
            return number
        if not self._packed or not isinstance(wanted, str):
            return -1
        slots, objects = self._slots, self._objects
        mask = len(slots) - 1
        slot = hash(wanted) & mask
        while True:
            number = slots[slot]
            if not number:
                return -1
            if objects[number - 1] is _PACKED and key(self._name(number - 1)) == wanted:
                return number - 1
            slot = (slot + 1) & mask

    def _append(self, name: str, obj) -> int:
        """A new entry: ``obj`` under the key ``name``, or (``obj`` is ``_PACKED``) packed, under ``key(name)``."""
        number = len(self._ends)
        self._names += name.encode("utf-8")
        append_number(self, "_ends", len(self._names))
        self._size += 1
        self._objects.append(obj)
        if obj is not _PACKED:
            self._folded.append(0)
            self._index[name] = number
            return number
        self._folded.append(1)
        self._packed += 1
        if 2 * self._packed + 2 > len(self._slots):
            self._rehash()
        else:
            self._place(key(name), number)
        return number

    def _append_packed(self, name: str) -> int:
        """A new packed entry named ``name`` (its key ``key(name)``): its number, for the subclass's data."""
        return self._append(name, _PACKED)

    def _place(self, wanted: str, number: int) -> None:
        slots = self._slots
        mask = len(slots) - 1
        slot = hash(wanted) & mask
        while slots[slot]:
            slot = (slot + 1) & mask
        slots[slot] = number + 1

    def _rehash(self) -> None:
        size = 8
        while size < 2 * self._packed + 2:
            size *= 2
        self._slots = array("I", bytes(4 * size))
        for number in range(len(self._ends)):
            if self._folded[number]:
                self._place(self._key(number), number)

    def _to_object(self, number: int, wanted: str, obj) -> None:
        """Packed entry ``number`` (found by ``wanted``) becomes the object ``obj``."""
        self._objects[number] = obj
        self._index[wanted] = number
        self._released(number)

    # -- the mapping

    def __len__(self) -> int:
        return self._size

    def __contains__(self, wanted) -> bool:
        return self._find(wanted) >= 0

    def __iter__(self) -> Iterator[str]:
        for number, obj in enumerate(self._objects):
            if obj is not None:
                yield self._key(number)

    def __getitem__(self, wanted):
        number = self._find(wanted)
        if number < 0:
            raise KeyError(wanted)
        obj = self._objects[number]
        if obj is _PACKED:
            obj = self._make(number, True)
            self._to_object(number, wanted, obj)
        return obj

    def peek(self, wanted, default=None):
        """``m[wanted]`` without keeping an object made for a packed entry (for callers that only read it)."""
        number = self._find(wanted)
        if number < 0:
            return default
        obj = self._objects[number]
        return self._make(number, False) if obj is _PACKED else obj

    def peek_values(self) -> Iterator:
        """The values in order, as ``peek`` gives them."""
        for number, obj in enumerate(self._objects):
            if obj is _PACKED:
                yield self._make(number, False)
            elif obj is not None:
                yield obj

    def __setitem__(self, wanted: str, value) -> None:
        number = self._find(wanted)
        if number < 0:
            self._added(self._append(wanted, value))
        elif self._objects[number] is not _PACKED:
            self._objects[number] = value
        else:
            self._to_object(number, wanted, value)

    def __delitem__(self, wanted) -> None:
        number = self._find(wanted)
        if number < 0:
            raise KeyError(wanted)
        packed = self._objects[number] is _PACKED
        self._objects[number] = None
        self._index.pop(wanted, None)
        self._size -= 1
        if packed:
            self._released(number)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        if len(self) != len(other):
            return False
        missing = object()
        peek = other.peek if isinstance(other, PackedMapping) else other.get
        return all(self.peek(k) == peek(k, missing) for k in self)

    __hash__ = None  # type: ignore[assignment]   # mutable, as a dict

    def __repr__(self) -> str:
        return "{%s}" % ", ".join("%r: %r" % (k, self.peek(k)) for k in self)

    def object_keys(self) -> List[str]:
        """The keys of the entries held as objects, in order (the others are packed)."""
        return [self._key(number) for number, obj in enumerate(self._objects) if obj is not None and obj is not _PACKED]

    def _arguments(self) -> tuple:
        """What the subclass's constructor takes before the entries (for copy and pickle)."""
        return ()

    def __reduce__(self):
        # The hash table depends on the process's string hashes: a copy is built again from the entries.
        return (type(self), self._arguments() + ([(k, self.peek(k)) for k in self],))


class Tables(PackedMapping):
    """A schema's tables by ``key(name)``: a dict of ``Table`` to its users, packed inside (``PackedMapping``).

    ``pack(name, columns)`` adds a table of columns only, as the DDL reader does for a
    table without keys, indexes or a full-text index: its columns go to one ``ColumnList``
    of all packed tables, and where each table's columns start to an array, so that such a
    table costs a dozen bytes beside its name and columns (a ``Table`` with its own
    ``ColumnList`` and dict entry costs about 600). Its ``Table`` is made, with its own
    ``ColumnList``, at the first ``tables[k]`` and kept; ``peek`` reads it without keeping it.
    The table packed last stays as it was given until the next one is added (a script's
    keys and indexes mostly follow their table at once: it becomes a ``Table`` unmoved).
    """

    __slots__ = ("_columns", "_starts", "_pending")

    def __init__(self, tables=()) -> None:
        self._columns = ColumnList()
        self._starts = array("I", [0])   # where each entry's packed columns start; one more: the end
        self._pending: Optional[Tuple[int, object]] = None   # the last table packed: its number and columns
        super().__init__(tables)

    def pack(self, name: str, columns: Iterable[Column]) -> None:
        """Add a table of ``columns`` only, packed (one named alike by ``key`` is replaced, as by ``add``).

        A ``ColumnList`` given is taken over, not copied: the caller must not change it afterwards.
        """
        wanted = key(name)
        if wanted in self:
            self[wanted] = Table(name, columns)
            return
        self._flush()
        self._pending = (self._append_packed(name), columns if isinstance(columns, (ColumnList, list)) else list(columns))

    def _flush(self) -> None:
        """The table packed last, moved into the packed columns."""
        if self._pending is None:
            return
        number, columns = self._pending
        self._pending = None
        if isinstance(columns, ColumnList):
            self._columns._extend_packed(columns)   # pylint: disable=protected-access
        else:
            self._columns.extend(columns)
        append_number(self, "_starts", len(self._columns))

    def _make(self, number: int, keep: bool) -> "Table":
        pending = self._pending
        if pending is not None and pending[0] == number:
            columns = pending[1]
            if not (keep and isinstance(columns, ColumnList)):
                columns = ColumnList(columns)
        else:
            columns = self._columns._copy_range(self._starts[number], self._starts[number + 1])  # pylint: disable=protected-access
        return Table(self._name(number), columns)

    def _added(self, number: int) -> None:
        self._flush()
        append_number(self, "_starts", self._starts[-1])

    def _released(self, number: int) -> None:
        if self._pending is not None and self._pending[0] == number:
            self._pending = None
            append_number(self, "_starts", self._starts[-1])   # its packed columns: none
            return
        starts = self._starts
        first, stop = starts[number], starts[number + 1]
        if first < stop == len(self._columns):   # the last columns packed: give their room back
            self._columns._truncate(first)   # pylint: disable=protected-access
            for later in range(number + 1, len(starts)):
                starts[later] = first


@dataclass
class Schema:
    platform: str
    database: str = ""
    tables: Tables = field(default_factory=Tables)
    taken_at: Optional[str] = None

    def __setattr__(self, name: str, value) -> None:
        if name == "tables" and not isinstance(value, Tables):
            value = Tables(value)
        object.__setattr__(self, name, value)

    def add(self, table: Table) -> Table:
        self.tables[key(table.name)] = table
        return table

    def add_packed(self, name: str, columns: Iterable[Column]) -> None:
        """Add a table of columns only, kept packed until it is asked for (``Tables.pack``)."""
        self.tables.pack(name, columns)

    def table(self, name: str) -> Optional[Table]:
        return self.tables.get(key(name))


# Column fields written only when set, so the layout above stays what it was.
_OPTIONAL_COLUMN_FIELDS = ("semantics", "computed")


def _table_from_dict(data: dict) -> Table:
    pk = data.get("primary_key")
    fulltext = data.get("fulltext")
    return Table(
        name=data["name"],
        columns=[Column(**col) for col in data.get("columns", [])],
        primary_key=PrimaryKey(pk["name"], tuple(pk["columns"]), bool(pk.get("clustered"))) if pk else None,
        indexes=[
            Index(ix["name"], tuple(ix["columns"]), bool(ix.get("unique")), bool(ix.get("clustered")), tuple(ix.get("include", ())),
                  ix.get("filter"))
            for ix in data.get("indexes", [])
        ],
        fulltext=FullTextIndex(tuple(fulltext["columns"]), fulltext.get("key_index")) if fulltext else None,
    )


_COLUMN_FIELDS = ("name", "type", "length", "precision", "scale", "nullable", "identity", "default")


def _column_to_dict(column: Column) -> dict:
    data = {name: getattr(column, name) for name in _COLUMN_FIELDS}
    for optional in _OPTIONAL_COLUMN_FIELDS:
        if getattr(column, optional) is not None:
            data[optional] = getattr(column, optional)
    return data


def _index_to_dict(index: Index) -> dict:
    data = {"name": index.name, "columns": list(index.columns), "unique": index.unique, "clustered": index.clustered,
            "include": list(index.include)}
    if index.filter is not None:   # written only when set, so the layout above stays what it was
        data["filter"] = index.filter
    return data


def _table_to_dict(table: Table) -> dict:
    pk, fulltext = table.primary_key, table.fulltext
    return {
        "name": table.name,
        "columns": [_column_to_dict(column) for column in table.columns],
        "primary_key": {"name": pk.name, "columns": list(pk.columns), "clustered": pk.clustered} if pk else None,
        "indexes": [_index_to_dict(ix) for ix in table.indexes],
        "fulltext": {"columns": list(fulltext.columns), "key_index": fulltext.key_index} if fulltext else None,
    }


def snapshot_to_dict(schema: Schema) -> dict:
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "platform": schema.platform,
        "database": schema.database,
        "taken_at": schema.taken_at,
        "tables": [_table_to_dict(t) for t in sorted(schema.tables.peek_values(), key=lambda t: key(t.name))],
    }


def snapshot_from_dict(data: dict) -> Schema:
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise ValueError("not a catalog snapshot: the 'format' field must be %r" % SNAPSHOT_FORMAT)
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError("unsupported catalog snapshot version %r (this collection reads version %d)" % (data.get("version"), SNAPSHOT_VERSION))
    if data.get("platform") not in PLATFORMS:
        raise ValueError("catalog snapshot platform must be one of %s, got %r" % (", ".join(PLATFORMS), data.get("platform")))
    schema = Schema(platform=data["platform"], database=data.get("database", ""), taken_at=data.get("taken_at"))
    tables = data.get("tables", [])
    if not isinstance(tables, list):
        raise ValueError("catalog snapshot 'tables' must be a list, got %s" % type(tables).__name__)
    for number, table in enumerate(tables, 1):
        name = table.get("name") if isinstance(table, dict) else None
        if not isinstance(name, str) or not name:
            raise ValueError("catalog snapshot table #%d has no name" % number)
        try:
            schema.add(_table_from_dict(table))
        except KeyError as exc:
            raise ValueError("catalog snapshot table %r is malformed: missing field %s" % (name, exc))
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError("catalog snapshot table %r is malformed: %s" % (name, exc))
    return schema


def dumps_snapshot(schema: Schema) -> str:
    return json.dumps(snapshot_to_dict(schema), indent=1, sort_keys=True)


def loads_snapshot(text: str) -> Schema:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError("not a catalog snapshot: invalid JSON (%s)" % exc)
    return snapshot_from_dict(data)
