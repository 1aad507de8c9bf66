# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the web.config maintenance switch (K2-03): byte-exact edits, rule lookup, rule creation, errors."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils.webconfig import (
    WebConfigError,
    detect_encoding,
    maintenance_rule_lines,
    set_maintenance,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "webconfig")

# The live rule of the fixture, with the indentation that tells it from the <location path="api"> copy.
LIVE_RULE_DISABLED = '\r\n        <rule name="Site Maintenance" enabled="false" stopProcessing="true">'
LIVE_RULE_ENABLED = '\r\n        <rule name="Site Maintenance" enabled="true" stopProcessing="true">'
COMMENTED_RULE = ('        <rule name="Site Maintenance" enabled="true" stopProcessing="true">\r\n'
                  '          <match url=".*" />\r\n          <action type="CustomResponse"')


def fixture(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


def variants():
    """(label, bytes, codec, BOM) of the realistic web.config: UTF-8+BOM+CRLF, UTF-16LE+BOM+CRLF, and plain UTF-8+LF."""
    utf8 = fixture("web.config")
    utf16 = fixture("web.utf16.config")
    lf = utf8[3:].replace(b"\r\n", b"\n")
    return [
        ("utf8-bom-crlf", utf8, "utf-8", b"\xef\xbb\xbf"),
        ("utf16-bom-crlf", utf16, "utf-16-le", b"\xff\xfe"),
        ("utf8-lf", lf, "utf-8", b""),
    ]


def encode(text: str, codec: str, bom: bytes, lf: bool) -> bytes:
    return bom + (text.replace("\r\n", "\n") if lf else text).encode(codec)


@pytest.mark.parametrize("label,content,codec,bom", variants(), ids=[v[0] for v in variants()])
def test_enable_changes_exactly_the_attribute_and_nothing_else(label, content, codec, bom):
    lf = label.endswith("-lf")
    old = encode(LIVE_RULE_DISABLED, codec, b"", lf)
    new = encode(LIVE_RULE_ENABLED, codec, b"", lf)
    assert content.count(old) == 1
    expected = content.replace(old, new)

    result = set_maintenance(content, enabled=True)

    assert result.content == expected
    assert result.changed and result.state == "enabled" and result.previous_state == "disabled"
    assert not result.rule_created
    assert result.encoding == codec + ("+bom" if bom else "")
    text = content[len(bom):].decode(codec)
    assert result.line == text[:text.index(LIVE_RULE_DISABLED.replace("\r\n", "\n" if lf else "\r\n"))].count("\n") + 2
    assert len(result.content) == len(content) - len(encode("false", codec, b"", lf)) + len(encode("true", codec, b"", lf))


@pytest.mark.parametrize("content", [v[1] for v in variants()], ids=[v[0] for v in variants()])
def test_second_run_and_round_trip_are_idempotent(content):
    enabled = set_maintenance(content, enabled=True)
    again = set_maintenance(enabled.content, enabled=True)
    assert not again.changed
    assert again.content is enabled.content
    assert again.previous_state == "enabled"
    back = set_maintenance(enabled.content, enabled=False)
    assert back.changed and back.content == content
    assert not set_maintenance(content, enabled=False).changed


def test_decoys_stay_untouched():
    content = fixture("web.config")
    text = set_maintenance(content, enabled=True).content[3:].decode("utf-8")
    # the commented-out rule, the outbound rule and the <location path="api"> rule of the same name
    assert COMMENTED_RULE in text
    assert '<rule name="Site Maintenance" preCondition="IsHtml" enabled="false">' in text
    assert '\r\n          <rule name="Site Maintenance" enabled="false" stopProcessing="true">' in text
    root = ET.fromstring(text.encode("utf-8"))
    assert root.find("./location/system.webServer/rewrite/rules/rule").get("enabled") == "false"
    assert root.find("./system.webServer/rewrite/rules/rule").get("enabled") == "true"


def test_diff_texts_differ_in_the_rule_line_only():
    result = set_maintenance(fixture("web.config"), enabled=True)
    before, after = result.before.splitlines(True), result.after.splitlines(True)
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    assert len(before) == len(after) == 324
    assert changed == [(LIVE_RULE_DISABLED[2:] + "\r\n", LIVE_RULE_ENABLED[2:] + "\r\n")]
    assert result.line == 163 and after[162] == LIVE_RULE_ENABLED[2:] + "\r\n"


def test_rule_name_matches_ignoring_case_only():
    content = fixture("web.config")
    assert set_maintenance(content, enabled=True, rule_name="SITE maintenance").changed
    with pytest.raises(WebConfigError, match="no rewrite rule named 'Site Maintenance '"):
        set_maintenance(content, enabled=True, rule_name="Site Maintenance ")


def wrap(rules: str, newline: str = "\n") -> bytes:
    return newline.join([
        '<?xml version="1.0" encoding="utf-8"?>',
        "<configuration>",
        "  <system.webServer>",
        "    <rewrite>",
        "      <rules>",
        rules,
        "      </rules>",
        "    </rewrite>",
        "  </system.webServer>",
        "</configuration>",
        "",
    ]).encode("utf-8")


def test_absent_enabled_means_enabled_and_is_inserted_after_name_when_disabling():
    content = wrap('        <rule stopProcessing="true" name="Site Maintenance"><match url=".*" /></rule>')
    enabled = set_maintenance(content, enabled=True)
    assert not enabled.changed and enabled.previous_state == "enabled" and enabled.content is content

    disabled = set_maintenance(content, enabled=False)
    assert disabled.changed
    assert disabled.content == content.replace(b'name="Site Maintenance">', b'name="Site Maintenance" enabled="false">')
    assert set_maintenance(disabled.content, enabled=True).content == content.replace(
        b'name="Site Maintenance">', b'name="Site Maintenance" enabled="true">')


def test_inserted_attribute_uses_the_name_quote_style():
    content = wrap("        <rule name='Site Maintenance'\tstopProcessing='true' />")
    result = set_maintenance(content, enabled=False)
    assert result.content == content.replace(b"name='Site Maintenance'", b"name='Site Maintenance' enabled='false'")


def test_quotes_spacing_order_and_multiline_start_tag_are_kept():
    content = wrap("        <rule\n            stopProcessing = 'true'\n            enabled = 'False'\n            name=\"Site Maintenance\">\n"
                   "          <match url=\".*\" />\n        </rule>")
    result = set_maintenance(content, enabled=True)
    assert result.previous_state == "disabled"
    assert result.content == content.replace(b"enabled = 'False'", b"enabled = 'true'")
    assert result.line == 6


def test_boolean_value_is_read_like_iis_does():
    assert not set_maintenance(wrap('<rule name="Site Maintenance" enabled="True" />'), enabled=True).changed
    assert not set_maintenance(wrap('<rule name="Site Maintenance" enabled="FALSE" />'), enabled=False).changed


def test_invalid_enabled_value_is_overwritten():
    content = wrap('        <rule name="Site Maintenance" enabled="yes" />')
    result = set_maintenance(content, enabled=True)
    assert result.changed and result.previous_state == "invalid"
    assert result.content == content.replace(b'"yes"', b'"true"')


def test_missing_rule_fails_with_a_hint_about_rules_elsewhere():
    content = fixture("web.config")
    with pytest.raises(WebConfigError) as error:
        set_maintenance(content, enabled=True, rule_name="Údržba")
    assert "no rewrite rule named 'Údržba'" in str(error.value) and "create_rule" in str(error.value)

    only_location = content.replace(LIVE_RULE_DISABLED.encode(), b'\r\n        <rule name="Other" enabled="false" stopProcessing="true">')
    with pytest.raises(WebConfigError, match=r"a rule of that name at line 197, 217 is not directly in"):
        set_maintenance(only_location, enabled=True)


def test_duplicate_rules_fail():
    content = wrap('        <rule name="Site Maintenance" enabled="false" />\n        <rule name="site maintenance" enabled="true" />')
    with pytest.raises(WebConfigError, match=r"2 rewrite rules named 'Site Maintenance' \(lines 6, 7\)"):
        set_maintenance(content, enabled=True)


@pytest.mark.parametrize("content,line,column", [
    (b"<configuration>\n  <system.webServer>\n  </system.web>\n</configuration>\n", 3, 5),
    (b'<configuration>\n  <a b="1" b="2" />\n</configuration>', 2, 12),
    (b"", 1, 1),
    (b"<configuration>\n<!-- never closed\n", 2, 1),
])
def test_malformed_xml_reports_line_and_column(content, line, column):
    with pytest.raises(WebConfigError, match=r"not well-formed XML: .* at line %d, column %d$" % (line, column)):
        set_maintenance(content, enabled=True)


def test_malformed_fixture_reports_the_broken_line():
    content = fixture("web.utf16.config")
    broken = content.replace("</conditions>\r\n          <action type=\"Rewrite\" url=\"maintenance.html\" />".encode("utf-16-le"),
                             "</condition>\r\n          <action type=\"Rewrite\" url=\"maintenance.html\" />".encode("utf-16-le"))
    assert broken != content
    with pytest.raises(WebConfigError, match=r"mismatched tag at line 169, column 13"):
        set_maintenance(broken, enabled=True)


def test_root_must_be_configuration():
    with pytest.raises(WebConfigError, match="root element is <html>"):
        set_maintenance(b"<html><rule name='Site Maintenance'/></html>", enabled=True)


@pytest.mark.parametrize("content,codec,bom", [
    (b"\xef\xbb\xbf<configuration/>", "utf-8", b"\xef\xbb\xbf"),
    ("<configuration/>".encode("utf-16"), "utf-16-le", b"\xff\xfe"),
    (b"\xfe\xff" + "<configuration/>".encode("utf-16-be"), "utf-16-be", b"\xfe\xff"),
    ("<configuration/>".encode("utf-16-le"), "utf-16-le", b""),
    ("<configuration/>".encode("utf-16-be"), "utf-16-be", b""),
    (b"<?xml version='1.0' encoding='windows-1250'?><configuration/>", "cp1250", b""),
    (b"<configuration/>", "utf-8", b""),
])
def test_detect_encoding(content, codec, bom):
    assert detect_encoding(content) == (codec, bom)


def test_declared_legacy_encoding_is_preserved_byte_for_byte():
    text = '<?xml version="1.0" encoding="windows-1250"?>\r\n<!-- Údržba webové K2 -->\r\n' + wrap(
        '        <rule name="Site Maintenance" enabled="false" />', "\r\n").decode("utf-8").split("\r\n", 1)[1]
    content = text.encode("cp1250")
    result = set_maintenance(content, enabled=True)
    assert result.encoding == "cp1250"
    assert result.content == content.replace(b'enabled="false"', b'enabled="true"')


@pytest.mark.parametrize("content,message", [
    (b"\xef\xbb\xbf<configuration>\xff</configuration>", "not valid utf-8: cannot decode the byte at offset 18"),
    (b"<?xml version='1.0' encoding='x-klingon'?><configuration/>", "declares encoding 'x-klingon', which is unknown"),
    (b"<?xml version='1.0' encoding='utf-16'?><configuration/>", "declares encoding 'utf-16' but has no byte order mark"),
])
def test_undecodable_files_fail(content, message):
    with pytest.raises(WebConfigError, match=message):
        set_maintenance(content, enabled=True)


def assert_standard_rule(rule, enabled):
    assert rule.get("name") and rule.get("enabled") == enabled and rule.get("stopProcessing") == "true"
    assert rule.find("match").get("url") == ".*"
    condition = rule.find("conditions/add")
    assert (condition.get("input"), condition.get("pattern"), condition.get("negate")) == ("{URL}", r"/maintenance\.html$", "true")
    assert (rule.find("action").get("type"), rule.find("action").get("url")) == ("Rewrite", "maintenance.html")


@pytest.mark.parametrize("label,content,codec,bom", variants(), ids=[v[0] for v in variants()])
def test_create_rule_inserts_first_in_rules_keeping_all_other_bytes(label, content, codec, bom):
    lf = label.endswith("-lf")
    newline = "\n" if lf else "\r\n"
    result = set_maintenance(content, enabled=True, rule_name="Údržba K2", create_rule=True)
    assert result.changed and result.rule_created and result.previous_state == "absent"

    text = content[len(bom):].decode(codec)
    # before the first rule element; the comment in front of it stays where it is
    at = text.index(LIVE_RULE_DISABLED.replace("\r\n", newline)) + len(newline) + 8
    expected_block = newline.join([
        '<rule name="Údržba K2" enabled="true" stopProcessing="true">',
        '          <match url=".*" />',
        '          <conditions logicalGrouping="MatchAll">',
        '            <add input="{URL}" pattern="/maintenance\\.html$" negate="true" />',
        "          </conditions>",
        '          <action type="Rewrite" url="maintenance.html" />',
        "        </rule>",
        "        ",
    ])
    assert result.content == bom + (text[:at] + expected_block + text[at:]).encode(codec)
    assert result.line == text[:at].count("\n") + 1
    assert not set_maintenance(result.content, enabled=True, rule_name="údržba k2", create_rule=True).changed
    root = ET.fromstring(result.content[len(bom):].decode(codec).split("?>", 1)[1])
    assert_standard_rule(root.find("./system.webServer/rewrite/rules/rule"), "true")


def test_create_rule_goes_after_clear():
    content = wrap("        <clear />\n        <rule name=\"HTTPS\" />")
    result = set_maintenance(content, enabled=False, create_rule=True)
    rules = ET.fromstring(result.content).find("./system.webServer/rewrite/rules")
    assert [child.tag for child in rules] == ["clear", "rule", "rule"]
    assert_standard_rule(rules[1], "false")
    assert result.content.startswith(content[:content.index(b"<clear />") + 9] + b'\n        <rule name="Site Maintenance" enabled="false"')


def test_create_rule_in_empty_and_self_closing_rules():
    empty = b"<configuration>\n\t<system.webServer>\n\t\t<rewrite>\n\t\t\t<rules></rules>\n\t\t</rewrite>\n\t</system.webServer>\n</configuration>\n"
    result = set_maintenance(empty, enabled=True, create_rule=True)
    lines = result.content.decode().split("\n")
    assert lines[3:5] == ["\t\t\t<rules>", '\t\t\t\t<rule name="Site Maintenance" enabled="true" stopProcessing="true">']
    assert lines[9:12] == ["\t\t\t\t\t<action type=\"Rewrite\" url=\"maintenance.html\" />", "\t\t\t\t</rule>", "\t\t\t</rules>"]
    assert result.content.endswith(b"\n\t\t</rewrite>\n\t</system.webServer>\n</configuration>\n")

    closed = empty.replace(b"<rules></rules>", b"<rules />")
    assert set_maintenance(closed, enabled=True, create_rule=True).content == result.content


def test_create_rule_creates_rewrite_and_system_webserver():
    no_rewrite = (b"<configuration>\r\n  <system.webServer>\r\n    <handlers>\r\n      <clear />\r\n    </handlers>\r\n"
                  b"  </system.webServer>\r\n</configuration>\r\n")
    result = set_maintenance(no_rewrite, enabled=True, create_rule=True)
    text = result.content.decode()
    assert text.startswith(no_rewrite[:no_rewrite.index(b"  </system.webServer>")].decode())
    assert "    </handlers>\r\n    <rewrite>\r\n      <rules>\r\n        <rule name=\"Site Maintenance\"" in text
    assert "        </rule>\r\n      </rules>\r\n    </rewrite>\r\n  </system.webServer>\r\n</configuration>\r\n" in text
    assert "\n" not in text.replace("\r\n", "")
    assert_standard_rule(ET.fromstring(result.content).find("./system.webServer/rewrite/rules/rule"), "true")

    no_webserver = b"<configuration>\n    <appSettings />\n</configuration>"
    created = set_maintenance(no_webserver, enabled=False, create_rule=True).content.decode()
    assert created.startswith("<configuration>\n    <appSettings />\n    <system.webServer>\n        <rewrite>\n            <rules>\n")
    assert created.endswith("            </rules>\n        </rewrite>\n    </system.webServer>\n</configuration>")


def test_created_rule_name_is_escaped():
    lines = maintenance_rule_lines('A & "B" <C>', enabled=False)
    assert lines[0] == (0, '<rule name="A &amp; &quot;B&quot; &lt;C>" enabled="false" stopProcessing="true">')
    result = set_maintenance(wrap(""), enabled=True, rule_name='A & "B" <C>', create_rule=True)
    assert ET.fromstring(result.content).find(".//rule").get("name") == 'A & "B" <C>'


def test_created_rule_name_outside_the_file_encoding_becomes_a_character_reference():
    content = '<?xml version="1.0" encoding="windows-1250"?>\n<configuration><system.webServer /></configuration>'.encode("cp1250")
    result = set_maintenance(content, enabled=True, rule_name="Wartung ☃", create_rule=True)
    assert b'name="Wartung &#9731;"' in result.content
    assert not set_maintenance(result.content, enabled=True, rule_name="Wartung ☃").changed


def test_empty_rule_name_is_refused():
    with pytest.raises(WebConfigError, match="rule_name must not be empty"):
        set_maintenance(wrap(""), enabled=True, rule_name="")
