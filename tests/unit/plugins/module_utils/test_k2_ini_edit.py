# -*- coding: utf-8 -*-
"""k2_ini_edit: keys of k2.ini set byte for byte, everything else kept."""

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_site
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_ini_edit import IniEditError, get_value, set_values

LAB_INI = ("; Konfigurace připojení K2 — laboratoř\r\n"
           "[DATABASE]\r\nDRIVER=LAB\r\nSERVER=sql01,1433\r\nDATABASE=K2_CONF\r\nUSER=k2\r\n\r\n"
           "[K2]\r\nVERSION=gaia.12.3\r\nNAZEV=Účetní společnost\r\n").encode("cp1250")


def test_sets_server_and_database_keeping_every_other_byte():
    edit = set_values(LAB_INI, {"DATABASE": {"SERVER": "sql02,1433", "DATABASE": "K2_CONF_TEST"}})
    assert edit.changed
    assert edit.content == LAB_INI.replace(b"SERVER=sql01", b"SERVER=sql02").replace(b"DATABASE=K2_CONF", b"DATABASE=K2_CONF_TEST")
    assert edit.encoding == "cp1250"
    assert edit.previous == {"DATABASE": {"SERVER": "sql01,1433", "DATABASE": "K2_CONF"}}
    assert [c["key"] for c in edit.changes] == ["SERVER", "DATABASE"]
    facts = k2_site.read_site(["k2.ini", "sysk2.ini", "k2"], edit.content, edit.content)
    assert (facts.server, facts.conf_database) == ("sql02,1433", "K2_CONF_TEST")


def test_same_values_are_unchanged_byte_for_byte():
    edit = set_values(LAB_INI, {"database": {"server": " sql01,1433 ", "Database": "K2_CONF"}})
    assert not edit.changed and edit.content is LAB_INI and edit.changes == []


def test_spacing_quotes_case_and_line_endings_are_kept():
    data = b"[Database]\n  Server = \"old\"  \r\nDatabase=X\r\n; DATABASE=commented\r\n"
    edit = set_values(data, {"DATABASE": {"SERVER": "new", "DATABASE": "Y"}})
    assert edit.content == b"[Database]\n  Server = \"new\"  \r\nDatabase=Y\r\n; DATABASE=commented\r\n"


def test_duplicate_keys_and_sections_are_all_set():
    data = b"[DATABASE]\r\nDATABASE=A\r\nDATABASE=B\r\n[OTHER]\r\nDATABASE=keep\r\n[database]\r\nDATABASE=C\r\n"
    edit = set_values(data, {"DATABASE": {"DATABASE": "Z"}})
    assert edit.content == b"[DATABASE]\r\nDATABASE=Z\r\nDATABASE=Z\r\n[OTHER]\r\nDATABASE=keep\r\n[database]\r\nDATABASE=Z\r\n"
    assert get_value(edit.content, "database", "database") == "Z"
    assert k2_site.ini_values(k2_site.parse_ini(edit.content.decode("cp1250"))).database == "Z"


def test_missing_key_added_ignored_or_refused():
    data = b"; top\r\n[DATABASE]\r\nDRIVER=MSSQL\r\n\r\n[K2]\r\nVERSION=1\r\n"
    added = set_values(data, {"DATABASE": {"SERVER": "s1"}})
    assert added.content == b"; top\r\n[DATABASE]\r\nDRIVER=MSSQL\r\nSERVER=s1\r\n\r\n[K2]\r\nVERSION=1\r\n"
    assert added.changes == [{"section": "DATABASE", "key": "SERVER", "before": None, "after": "s1"}]
    assert not set_values(data, {"DATABASE": {"SERVER": "s1"}}, missing="ignore").changed
    with pytest.raises(IniEditError, match="SERVER"):
        set_values(data, {"DATABASE": {"SERVER": "s1"}}, missing="fail")


def test_missing_section_is_appended_with_the_files_newline():
    data = b"[K2]\nVERSION=1"
    edit = set_values(data, {"DATABASE": {"SERVER": "s", "DATABASE": "d"}})
    assert edit.content == b"[K2]\nVERSION=1\n\n[DATABASE]\nSERVER=s\nDATABASE=d\n"


def test_utf8_bom_is_kept_and_value_outside_cp1250_refused():
    data = b"\xef\xbb\xbf[DATABASE]\r\nDATABASE=\xc5\xa0kola\r\n"
    edit = set_values(data, {"DATABASE": {"DATABASE": "Škola2"}})
    assert edit.content == b"\xef\xbb\xbf[DATABASE]\r\nDATABASE=\xc5\xa0kola2\r\n" and edit.encoding == "utf-8"
    with pytest.raises(IniEditError, match="cp1250"):
        set_values(LAB_INI, {"DATABASE": {"DATABASE": "数据"}})


def test_line_breaks_in_values_and_undecodable_files_are_refused():
    with pytest.raises(IniEditError, match="line break"):
        set_values(LAB_INI, {"DATABASE": {"DATABASE": "A\r\nDRIVER=X"}})
    with pytest.raises(IniEditError, match="not valid cp1250"):
        set_values(b"[DATABASE]\r\nDATABASE=\x98\r\n", {"DATABASE": {"DATABASE": "A"}})
    with pytest.raises(ValueError):
        set_values(LAB_INI, {}, missing="maybe")
