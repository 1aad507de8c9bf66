# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switch the web K2 maintenance rule in ``web.config`` (runbook K2-03), bytes in, bytes out.

The web client's ``web.config`` holds an IIS URL Rewrite rule
``<rule name="Site Maintenance" enabled="false" stopProcessing="true">`` under
``configuration/system.webServer/rewrite/rules``. For the outage it is set to
``enabled="true"``, and back afterwards.

The file must stay byte for byte what it was, apart from that one attribute: encoding and
byte order mark, line endings, attribute order, comments and indentation. So the document is
parsed with expat only to validate it and to locate the rule; the change itself is a splice
of the original bytes at the attribute value. Comments are not elements for the parser, so a
commented-out copy of the rule is never touched.

No I/O here: :func:`set_maintenance` takes the file's bytes and returns the new bytes and
what changed. The action plugin ``k2_webconfig_maintenance`` does the transport.
"""

from __future__ import annotations

import codecs
import collections
import re
import xml.parsers.expat
from typing import Dict, List, NamedTuple, Optional, Tuple

DEFAULT_RULE_NAME = "Site Maintenance"
MAINTENANCE_PAGE = "maintenance.html"
STATES = ("enabled", "disabled")

#: The options of the ``erpops.upgrade.k2_webconfig_maintenance`` action (and its doc module).
ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "default": "enabled", "choices": list(STATES)},
    "rule_name": {"type": "str", "default": DEFAULT_RULE_NAME},
    "backup": {"type": "bool", "default": False},
    "create_rule": {"type": "bool", "default": False},
}

# Where IIS reads the rules of a site or application from (URL Rewrite module schema).
RULES_PATH = ("configuration", "system.webServer", "rewrite", "rules")
RULE_PATH = RULES_PATH + ("rule",)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_DECLARED_ENCODING = re.compile(br"""^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
# Only applied to a start tag expat has already accepted as well-formed, so attribute values
# are quoted and cannot contain "<".
_START_TAG = re.compile(r"""<[^\s/>]+((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(/?)>""")
_ATTRIBUTE = re.compile(r"""\s+([^\s=/>]+)\s*=\s*(["'])(.*?)\2""", re.S)


class WebConfigError(ValueError):
    """The file cannot be handled; the message is meant for the user, as is."""


class MaintenanceEdit(NamedTuple):
    """Outcome of :func:`set_maintenance`.

    ``content`` is the new file (the input itself when not ``changed``); ``state`` the requested
    state; ``previous_state`` is ``enabled``, ``disabled``, ``absent`` (rule created now) or
    ``invalid`` (``enabled`` is not a boolean); ``line`` the 1-based line of the rule's start tag
    in the new content; ``encoding`` the Python codec, suffixed ``+bom`` when the file has a byte
    order mark; ``before`` and ``after`` the decoded texts, for diff mode.
    """

    content: bytes
    changed: bool
    state: str
    previous_state: str
    rule_created: bool
    line: int
    encoding: str
    before: str
    after: str


class _Element:
    __slots__ = ("name", "attrs", "parent", "children", "start", "start_tag_end", "end", "empty", "depth_path")

    def __init__(self, name: str, attrs: Dict[str, str], parent: Optional["_Element"], start: int) -> None:
        self.name = name
        self.attrs = attrs
        self.parent = parent
        self.children = []  # type: List[_Element]
        self.start = start
        self.start_tag_end = -1
        self.end = -1
        self.empty = False
        self.depth_path = (parent.depth_path if parent is not None else ()) + (name,)


class _Document:
    """A decoded web.config: text, how to encode it back, and its element tree with offsets into ``text``."""

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.codec, self.bom = detect_encoding(content)
        try:
            self.text = content[len(self.bom):].decode(self.codec)
        except UnicodeDecodeError as exc:
            raise WebConfigError("web.config is not valid %s: cannot decode the byte at offset %d" % (self.codec, exc.start + len(self.bom))) from exc
        self.root = _parse(self.text)
        self.newline = _dominant_newline(self.text)

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def byte_offset(self, offset: int) -> int:
        return len(self.bom) + len(self.text[:offset].encode(self.codec))

    def encode(self, fragment: str) -> bytes:
        return fragment.encode(self.codec, "xmlcharrefreplace")

    def splice(self, start: int, end: int, replacement: str) -> bytes:
        """The original bytes with text offsets ``start:end`` replaced; all other bytes are kept as they are."""
        byte_start = self.byte_offset(start)
        byte_end = byte_start + len(self.text[start:end].encode(self.codec))
        return self.content[:byte_start] + self.encode(replacement) + self.content[byte_end:]

    def indent_of(self, offset: int) -> str:
        """The whitespace that starts the line ``offset`` is on."""
        line_start = max(self.text.rfind("\n", 0, offset), self.text.rfind("\r", 0, offset)) + 1
        match = re.match(r"[ \t]*", self.text[line_start:offset])
        return match.group(0) if match else ""

    def starts_line(self, offset: int) -> bool:
        line_start = max(self.text.rfind("\n", 0, offset), self.text.rfind("\r", 0, offset)) + 1
        return self.text[line_start:offset].strip(" \t") == ""

    def indent_unit(self) -> str:
        """The file's most common one-level indentation step, two spaces when there is none."""
        steps = collections.Counter()  # type: collections.Counter
        for element in self.iter():
            parent = element.parent
            if parent is None or not (self.starts_line(element.start) and self.starts_line(parent.start)):
                continue
            inner, outer = self.indent_of(element.start), self.indent_of(parent.start)
            if inner.startswith(outer) and len(inner) > len(outer):
                steps[inner[len(outer):]] += 1
        return steps.most_common(1)[0][0] if steps else "  "

    def iter(self):
        stack = [self.root]
        while stack:
            element = stack.pop()
            yield element
            stack.extend(reversed(element.children))


def detect_encoding(content: bytes) -> Tuple[str, bytes]:
    """Return ``(python codec, BOM bytes)``: the BOM wins, then UTF-16 without BOM, then the XML declaration, then UTF-8."""
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return codec, bom
    if content.startswith(b"<\x00"):
        return "utf-16-le", b""
    if content.startswith(b"\x00<"):
        return "utf-16-be", b""
    declared = _DECLARED_ENCODING.match(content)
    if not declared:
        return "utf-8", b""
    name = declared.group(1).decode("ascii")
    try:
        codec = codecs.lookup(name).name
    except LookupError as exc:
        raise WebConfigError("web.config declares encoding %r, which is unknown" % name) from exc
    if codec.startswith(("utf-16", "utf-32")):
        raise WebConfigError("web.config declares encoding %r but has no byte order mark and is not %s" % (name, name))
    return codec, b""


def _parse(text: str) -> _Element:
    """Parse with expat and return the root element; offsets are indexes into ``text``."""
    data = text.encode("utf-8")
    # The declaration may name another encoding (utf-16, windows-1250): the text is decoded already.
    parser = xml.parsers.expat.ParserCreate(encoding="utf-8")
    stack = []  # type: List[_Element]
    found = []  # type: List[_Element]
    ends = []  # type: List[Tuple[_Element, int]]

    def start_element(name, attrs):
        parent = stack[-1] if stack else None
        element = _Element(name, attrs, parent, parser.CurrentByteIndex)
        if parent is not None:
            parent.children.append(element)
        stack.append(element)
        found.append(element)

    def end_element(_name):
        element = stack.pop()
        # For an empty-element tag expat reports the end event right after "/>";
        # for an end tag it reports the position of "</".
        ends.append((element, parser.CurrentByteIndex))

    parser.StartElementHandler = start_element
    parser.EndElementHandler = end_element
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise WebConfigError("web.config is not well-formed XML: %s at line %d, column %d"
                             % (xml.parsers.expat.ErrorString(exc.code), exc.lineno, exc.offset + 1)) from exc

    to_text = _text_offsets(data, [element.start for element in found] + [end_index for _element, end_index in ends])
    for element in found:
        element.start = to_text[element.start]
    for element, end_index in ends:
        end_offset = to_text[end_index]
        tag = _START_TAG.match(text, element.start)
        if tag is None:  # pragma: no cover - expat accepted the tag, so the pattern matches it
            raise WebConfigError("cannot read the start tag at line %d" % (text.count("\n", 0, element.start) + 1))
        element.start_tag_end = tag.end()
        element.empty = tag.group(2) == "/"
        element.end = end_offset if element.empty else text.index(">", end_offset) + 1
    return found[0]


def _text_offsets(data: bytes, byte_offsets: List[int]) -> Dict[int, int]:
    """Map UTF-8 byte offsets of ``data`` (each on a character boundary) to str offsets, in one pass."""
    mapping = {}  # type: Dict[int, int]
    if len(data) == len(data.decode("utf-8")):
        return {offset: offset for offset in byte_offsets}
    previous_byte = previous_char = 0
    for offset in sorted(set(byte_offsets)):
        previous_char += len(data[previous_byte:offset].decode("utf-8"))
        previous_byte = offset
        mapping[offset] = previous_char
    return mapping


def _dominant_newline(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    if crlf >= lf and crlf >= cr and crlf:
        return "\r\n"
    if cr > lf:
        return "\r"
    return "\n"


def _same_name(left: str, right: str) -> bool:
    # IIS compares the unique key of a configuration collection (the rule name) ignoring case.
    return left.casefold() == right.casefold()


def _attribute_spans(text: str, element: _Element) -> Dict[str, Tuple[int, int, str]]:
    """``{attribute: (value start, value end, quote)}`` with offsets into ``text``."""
    tag = _START_TAG.match(text, element.start)
    spans = {}
    for attr in _ATTRIBUTE.finditer(text, tag.start(1), tag.end(1)):
        spans[attr.group(1)] = (attr.start(3), attr.end(3), attr.group(2))
    return spans


def _rule_state(rule: _Element) -> str:
    value = rule.attrs.get("enabled")
    if value is None:
        return "enabled"  # the URL Rewrite schema default
    return {"true": "enabled", "false": "disabled"}.get(value.strip().lower(), "invalid")


def _xml_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def maintenance_rule_lines(rule_name: str, enabled: bool, page: str = MAINTENANCE_PAGE) -> List[Tuple[int, str]]:
    """The standard maintenance rule as ``(depth, line)``: every request except the page itself is served the page."""
    return [
        (0, '<rule name="%s" enabled="%s" stopProcessing="true">' % (_xml_attr(rule_name), "true" if enabled else "false")),
        (1, '<match url=".*" />'),
        (1, '<conditions logicalGrouping="MatchAll">'),
        (2, '<add input="{URL}" pattern="/%s$" negate="true" />' % _xml_attr(re.escape(page))),
        (1, "</conditions>"),
        (1, '<action type="Rewrite" url="%s" />' % _xml_attr(page)),
        (0, "</rule>"),
    ]


def _wrap(names: List[str], inner: List[Tuple[int, str]]) -> List[Tuple[int, str]]:
    """Nest ``inner`` in new elements ``names`` (outermost first)."""
    lines = [(depth + len(names), line) for depth, line in inner]
    for depth, name in reversed(list(enumerate(names))):
        lines = [(depth, "<%s>" % name)] + lines + [(depth, "</%s>" % name)]
    return lines


def _render(lines: List[Tuple[int, str]], indent: str, unit: str, newline: str) -> str:
    """Lines joined by ``newline``; the first line carries no indentation (it goes where the cursor is)."""
    return newline.join((indent + unit * depth if number else "") + line for number, (depth, line) in enumerate(lines))


def _insert_child(doc: _Document, parent: _Element, lines: List[Tuple[int, str]], first: bool) -> Tuple[int, int, str]:
    """An edit ``(start, end, text)`` that adds ``lines`` to ``parent``: first (after any ``<clear />``) or last."""
    text, newline, unit = doc.text, doc.newline, doc.indent_unit()
    parent_indent = doc.indent_of(parent.start)
    children = parent.children
    lined_children = [child for child in children if doc.starts_line(child.start)]
    child_indent = doc.indent_of(lined_children[0].start) if lined_children else parent_indent + unit

    if parent.empty:
        open_tag = text[parent.start:parent.end].rstrip()[:-2].rstrip() + ">"
        body = _render(lines, child_indent, unit, newline)
        return parent.start, parent.end, "%s%s%s%s%s%s</%s>" % (open_tag, newline, child_indent, body, newline, parent_indent, parent.name)

    if children:
        clears = [child for child in children if child.name == "clear"]
        if first and not clears:
            anchor = children[0]
            return anchor.start, anchor.start, _render(lines, child_indent, unit, newline) + newline + child_indent
        after = clears[-1] if first else children[-1]
        return after.end, after.end, newline + child_indent + _render(lines, child_indent, unit, newline)

    content_end = text.rindex("</", parent.start_tag_end, parent.end)
    inserted = newline + child_indent + _render(lines, child_indent, unit, newline)
    if not re.search(r"[\r\n]", text[parent.start_tag_end:content_end]):
        inserted += newline + parent_indent
    return parent.start_tag_end, parent.start_tag_end, inserted


def _find_rules(root: _Element, rule_name: str) -> Tuple[List[_Element], List[_Element]]:
    """The managed rules named ``rule_name``, and same-named rules elsewhere (location, outbound) for the error hint."""
    managed, elsewhere = [], []
    stack = [root]
    while stack:
        element = stack.pop()
        stack.extend(element.children)
        if element.name == "rule" and _same_name(element.attrs.get("name", ""), rule_name):
            (managed if element.depth_path == RULE_PATH else elsewhere).append(element)
    managed.sort(key=lambda e: e.start)
    elsewhere.sort(key=lambda e: e.start)
    return managed, elsewhere


def _create_rule_edit(doc: _Document, rule_name: str, enabled: bool) -> Tuple[int, int, str]:
    parent = doc.root
    missing = list(RULES_PATH[1:])
    while missing:
        child = next((c for c in parent.children if c.name == missing[0]), None)
        if child is None:
            break
        parent = child
        missing.pop(0)
    rule = maintenance_rule_lines(rule_name, enabled)
    if not missing:
        return _insert_child(doc, parent, rule, first=True)
    return _insert_child(doc, parent, _wrap(missing, rule), first=False)


def _inspect(doc: _Document, rule_name: str) -> Optional[_Element]:
    if doc.root.name != RULES_PATH[0]:
        raise WebConfigError("web.config root element is <%s>, expected <configuration>" % doc.root.name)
    managed, _elsewhere = _find_rules(doc.root, rule_name)
    if len(managed) > 1:
        raise WebConfigError("web.config has %d rewrite rules named %r (lines %s); IIS refuses duplicate rule names, fix the file first"
                             % (len(managed), rule_name, ", ".join(str(doc.line_of(r.start)) for r in managed)))
    return managed[0] if managed else None


def set_maintenance(content: bytes, enabled: bool, rule_name: str = DEFAULT_RULE_NAME, create_rule: bool = False) -> MaintenanceEdit:
    """Set ``enabled`` on the rewrite rule ``rule_name`` (matched ignoring case, as IIS does).

    An absent ``enabled`` attribute means enabled (the URL Rewrite default): it is only written,
    right after ``name``, when disabling. A missing rule is an error unless ``create_rule``,
    which adds the standard maintenance rule first in ``rewrite/rules`` (after a ``<clear />``),
    creating ``rewrite`` and ``rules`` when needed. Raises :class:`WebConfigError`.
    """
    if not rule_name:
        raise WebConfigError("rule_name must not be empty")
    wanted = "enabled" if enabled else "disabled"
    doc = _Document(content)
    rule = _inspect(doc, rule_name)
    value = "true" if enabled else "false"

    if rule is None:
        if not create_rule:
            _managed, elsewhere = _find_rules(doc.root, rule_name)
            hint = ""
            if elsewhere:
                hint = " (a rule of that name at line %s is not directly in configuration/system.webServer/rewrite/rules)" % ", ".join(
                    str(doc.line_of(r.start)) for r in elsewhere)
            raise WebConfigError("web.config has no rewrite rule named %r in configuration/system.webServer/rewrite/rules%s;"
                                 " set create_rule to add the standard maintenance rule" % (rule_name, hint))
        previous = "absent"
        edit = _create_rule_edit(doc, rule_name, enabled)
    else:
        previous = _rule_state(rule)
        edit = None
        if previous != wanted:
            spans = _attribute_spans(doc.text, rule)
            if "enabled" in spans:
                start, end, _quote = spans["enabled"]
                edit = (start, end, value)
            else:
                _start, name_end, quote = spans["name"]
                edit = (name_end + 1, name_end + 1, " enabled=%s%s%s" % (quote, value, quote))

    if edit is None:
        return MaintenanceEdit(content, False, wanted, previous, False, doc.line_of(rule.start), _encoding_label(doc),
                               doc.text, doc.text)

    new_content = doc.splice(*edit)
    new_doc = _Document(new_content)
    new_rule = _inspect(new_doc, rule_name)
    if new_rule is None or _rule_state(new_rule) != wanted:  # pragma: no cover - guards the splice logic itself
        raise WebConfigError("internal error: the edited web.config does not have rule %r %s; nothing was written" % (rule_name, wanted))
    return MaintenanceEdit(new_content, True, wanted, previous, rule is None, new_doc.line_of(new_rule.start), _encoding_label(doc),
                           doc.text, new_doc.text)


def _encoding_label(doc: _Document) -> str:
    return doc.codec + ("+bom" if doc.bom else "")
