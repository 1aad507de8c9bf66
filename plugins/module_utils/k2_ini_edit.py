# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Set keys of a K2 ini file (k2.ini, sysk2.ini), keeping every other byte as it was.

Pure: bytes in, bytes out. The file is decoded as ``k2_site.decode_ini`` decodes it
(a UTF-8 BOM wins, else the Windows code page, cp1250), edited line by line and
encoded back in the same encoding: comments, blank lines, key order, the spacing
around ``=``, quotes around a value and each line's own line ending stay.

Keys and sections are matched ignoring case and leading blanks, as Windows'
GetPrivateProfileString does. A key that occurs more than once in a section (or in
sections of the same name) is set everywhere: Windows reads the first occurrence
and Python's configparser (``k2_site``) the last, and both must see the new value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

TOP = ""  # keys before the first section header
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)?")
_SECTION = re.compile(r"^\s*\[([^\]]*)\]")
_KEY = re.compile(r"^(\s*)([^=;#\[\s][^=]*?)(\s*=\s*)(.*?)(\s*)$", re.DOTALL)
MISSING_CHOICES = ("add", "ignore", "fail")

#: The options of ``erpops.upgrade.k2_ini`` (the action plugin and its documentation module).
ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    values=dict(type="dict", required=True),
    missing=dict(type="str", choices=list(MISSING_CHOICES), default="add"),
    backup=dict(type="bool", default=False),
    encoding=dict(type="str", default="cp1250"),
)


class IniEditError(ValueError):
    """The file cannot be edited safely; it is left as it was."""


@dataclass
class IniEdit:
    content: bytes
    changed: bool
    encoding: str
    before: str
    after: str
    changes: List[Dict[str, Optional[str]]] = field(default_factory=list)
    previous: Dict[str, Dict[str, Optional[str]]] = field(default_factory=dict)


def _decode(data: bytes, encoding: str) -> Tuple[str, str, bytes]:
    """(text, codec, prefix bytes kept verbatim)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return _strict(data[3:], "utf-8"), "utf-8", b"\xef\xbb\xbf"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _strict(data, "utf-16"), "utf-16", b""
    return _strict(data, encoding), encoding, b""


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IniEditError("not valid %s text at byte %d" % (encoding, exc.start)) from None


def _lines(text: str) -> List[str]:
    found = _LINE.findall(text)
    return [line for line in found if line]


def _ending(line: str) -> str:
    for end in ("\r\n", "\n", "\r"):
        if line.endswith(end):
            return end
    return ""


def _dominant_ending(lines: List[str]) -> str:
    counts: Dict[str, int] = {}
    for line in lines:
        end = _ending(line)
        if end:
            counts[end] = counts.get(end, 0) + 1
    return max(counts, key=lambda end: counts[end]) if counts else "\r\n"


def _check_value(section: str, key: str, value: str) -> None:
    if any(ch in value for ch in "\r\n\x00"):
        raise IniEditError("the value of [%s] %s holds a line break or NUL, which an ini file cannot carry" % (section, key))
    if not key.strip() or any(ch in key for ch in "=[]\r\n\x00") or key.strip()[0] in ";#":
        raise IniEditError("%r is not a usable ini key" % key)


def _quoted(old: str, new: str) -> str:
    """Keep the double quotes around a value that had them."""
    if len(old) >= 2 and old.startswith('"') and old.endswith('"'):
        return '"%s"' % new
    return new


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    return value


def set_values(data: bytes, values: Mapping[str, Mapping[str, str]], missing: str = "add", encoding: str = "cp1250") -> IniEdit:
    """Set ``values`` ({section: {key: value}}) in the ini file ``data``.

    ``missing`` says what happens to a key the section does not have: ``add`` it at the end
    of the section (the section is appended when absent), ``ignore`` it, or ``fail``.
    The values compare as Windows reads them (blanks around and double quotes stripped),
    so a file already holding them comes back unchanged, byte for byte.
    """
    if missing not in MISSING_CHOICES:
        raise ValueError("missing must be one of %s, got %r" % (", ".join(MISSING_CHOICES), missing))
    text, codec, prefix = _decode(data, encoding)
    wanted: Dict[str, Dict[str, str]] = {}
    for section, keys in values.items():
        for key, value in keys.items():
            _check_value(section, key, str(value))
            wanted.setdefault(section.strip().upper(), {})[key.strip().upper()] = str(value).strip()
    lines = _lines(text)
    previous: Dict[str, Dict[str, Optional[str]]] = {}
    seen: Dict[str, Dict[str, bool]] = {}
    last_key_line: Dict[str, int] = {}
    section_names: Dict[str, str] = {}
    changes: List[Dict[str, Optional[str]]] = []
    current = TOP
    out = list(lines)
    for index, line in enumerate(lines):
        end = _ending(line)
        body = line[:len(line) - len(end)]
        header = _SECTION.match(body)
        if header:
            current = header.group(1).strip().upper()
            section_names.setdefault(current, header.group(1).strip())
            last_key_line.setdefault(current, index)
            continue
        match = _KEY.match(body)
        if not match or body.lstrip().startswith((";", "#")):
            continue
        last_key_line[current] = index
        key = match.group(2).strip().upper()
        if current not in wanted or key not in wanted[current]:
            continue
        new = wanted[current][key]
        old = match.group(4)
        name = section_names.get(current, TOP)
        previous.setdefault(name, {}).setdefault(match.group(2).strip(), _unquoted(old))
        seen.setdefault(current, {})[key] = True
        if _unquoted(old) == new:
            continue
        out[index] = match.group(1) + match.group(2) + match.group(3) + _quoted(old, new) + match.group(5) + end
        changes.append({"section": name, "key": match.group(2).strip(), "before": _unquoted(old), "after": new})
    newline = _dominant_ending(lines)
    additions: Dict[int, List[str]] = {}
    appended: List[str] = []
    for section, keys in wanted.items():
        shown = next(name for name in values if name.strip().upper() == section).strip()
        absent = [key for key in keys if not seen.get(section, {}).get(key)]
        if not absent:
            continue
        original_keys = {k.strip().upper(): k.strip() for name in values if name.strip().upper() == section for k in values[name]}
        if missing == "fail":
            raise IniEditError("%s has no key %s in section [%s]; the file was left as it was"
                               % ("the file", ", ".join(original_keys[k] for k in absent), shown))
        if missing == "ignore":
            continue
        new_lines = ["%s=%s%s" % (original_keys[key], keys[key], newline) for key in absent]
        for key in absent:
            changes.append({"section": section_names.get(section, shown), "key": original_keys[key], "before": None, "after": keys[key]})
        if section in last_key_line:
            additions.setdefault(last_key_line[section], []).extend(new_lines)
        elif section == TOP:
            additions.setdefault(-1, []).extend(new_lines)
        else:
            appended.extend(["[%s]%s" % (shown, newline)] + new_lines)
    result: List[str] = list(additions.get(-1, []))
    for index, line in enumerate(out):
        if index in additions and not _ending(line):
            line += newline
        result.append(line)
        result.extend(additions.get(index, []))
    if appended:
        if result and not _ending(result[-1]):
            result[-1] += newline
        if result and result[-1].strip():
            result.append(newline)
        result.extend(appended)
    after = "".join(result)
    if not changes:
        return IniEdit(content=data, changed=False, encoding=codec, before=text, after=text, previous=previous)
    try:
        body = after.encode(codec)
    except UnicodeEncodeError as exc:
        raise IniEditError("%r cannot be written in %s, the file's encoding" % (exc.object[exc.start:exc.end], codec)) from None
    if codec == "utf-16":
        body = after.encode("utf-16-le" if data.startswith(b"\xff\xfe") else "utf-16-be")
        body = data[:2] + body
    return IniEdit(content=prefix + body, changed=True, encoding=codec, before=text, after=after, changes=changes, previous=previous)


def get_value(data: bytes, section: str, key: str, encoding: str = "cp1250") -> Optional[str]:
    """The first value of ``key`` in ``section`` (as Windows reads it), or None."""
    text = _decode(data, encoding)[0]
    current = TOP
    for line in _lines(text):
        body = line.rstrip("\r\n")
        header = _SECTION.match(body)
        if header:
            current = header.group(1).strip().upper()
            continue
        match = _KEY.match(body)
        if match and not body.lstrip().startswith((";", "#")) and current == section.strip().upper() \
                and match.group(2).strip().upper() == key.strip().upper():
            return _unquoted(match.group(4))
    return None
