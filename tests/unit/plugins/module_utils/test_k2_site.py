# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2.ini / sysk2.ini parsing and the kind of a K2 folder (FACTS.md "k2.ini", RUNBOOK K2-01, K2-13)."""

from __future__ import annotations

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_site
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE, merge_profile
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_site import (
    IniError, decode_ini, ini_values, parse_ini, platform_of, read_site,
)

CZECH_COMMENT = "; Připojení k databázi – účetní firma Žluťoučký kůň"
K2_INI = CZECH_COMMENT + "\n[DATABASE]\nDRIVER=MSSQL\nSERVER=sql01\\K2,1433\nDATABASE=K2_CONF\nUSER=k2\n[K2]\nVERSION=mia.03.120\n"
SYSK2_INI = "[SYSTEM]\nPATH=C:\\K2\n"
BOTH = ["k2.ini", "sysk2.ini"]


def site(files, k2_ini=K2_INI, sysk2_ini=SYSK2_INI, profile=None):
    def encode(text):
        return text if text is None or isinstance(text, bytes) else text.encode("cp1250")
    return read_site(files, encode(k2_ini), encode(sysk2_ini), profile)


# --- decoding ---------------------------------------------------------------

def test_cp1250_bytes_with_czech_text_decode():
    data = ("[FIRMA]\nNAZEV=Příliš žluťoučký kůň úpěl ďábelské ódy\n").encode("cp1250")
    assert b"\x9e" in data  # 'ž' in cp1250: the bytes are really cp1250, not UTF-8
    text = decode_ini(data)
    assert "Příliš žluťoučký kůň úpěl ďábelské ódy" in text
    assert parse_ini(text).get("FIRMA", "NAZEV") == "Příliš žluťoučký kůň úpěl ďábelské ódy"


def test_utf8_with_bom_wins_over_the_code_page():
    data = b"\xef\xbb\xbf" + "[DATABASE]\nSERVER=Šumava\n".encode("utf-8")
    text = decode_ini(data)
    assert text.startswith("[DATABASE]")
    assert parse_ini(text).get("DATABASE", "SERVER") == "Šumava"


def test_utf16_with_bom_decodes():
    data = "[DATABASE]\nSERVER=Říčany\n".encode("utf-16")
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert parse_ini(decode_ini(data)).get("DATABASE", "SERVER") == "Říčany"


@pytest.mark.parametrize("data, encoding, position", [
    (b"\x81", "cp1250", 0),
    (b"[DATABASE]\nSERVER=a\x98b\n", "cp1250", 19),
    (b"\xef\xbb\xbfSERVER=\xff", "utf-8", 10),
    (b"\xff\xfe[\x00a", "utf-16", 4),
])
def test_bytes_that_are_not_valid_text_give_a_clear_error(data, encoding, position):
    with pytest.raises(IniError) as info:
        decode_ini(data)
    assert str(info.value) == "not valid %s text at byte %d" % (encoding, position)


def test_other_code_page_from_the_profile():
    assert decode_ini("SERVER=Łódź".encode("iso-8859-2"), "iso-8859-2") == "SERVER=Łódź"


# --- parsing ----------------------------------------------------------------

def test_keys_before_any_section_are_read():
    parser = parse_ini("SERVER=top\nDATABASE=K2_CONF\n[OTHER]\nX=1\n")
    values = ini_values(parser)
    assert (values.server, values.database) == ("top", "K2_CONF")
    assert parser.get("OTHER", "X") == "1"


def test_section_and_key_names_are_case_insensitive_and_quotes_are_dropped():
    values = ini_values(parse_ini('[database]\nserver = "sql01"\nDatabase=K2_CONF\ndriver=oracle\n'))
    assert (values.server, values.database, values.driver) == ("sql01", "K2_CONF", "oracle")


def test_the_preferred_section_wins_over_others():
    values = ini_values(parse_ini("[MAIL]\nSERVER=smtp\n[DATABASE]\nSERVER=sql01\n"))
    assert values.server == "sql01"


def test_a_key_in_another_section_is_found_when_the_preferred_one_lacks_it():
    assert ini_values(parse_ini("[CONNECTION]\nSERVER=sql02\n")).server == "sql02"


def test_missing_keys_are_none():
    values = ini_values(parse_ini("[DATABASE]\nDRIVER=MSSQL\nSERVER=\n"))
    assert values.driver == "MSSQL"
    assert values.server is None and values.database is None and values.user is None and values.version is None


def test_indented_keys_are_keys_not_continuation_lines():
    # Windows ignores leading blanks; configparser alone would glue '  SERVER=x' onto DRIVER.
    values = ini_values(parse_ini("[DATABASE]\nDRIVER=MSSQL\n  SERVER=x\n\tDATABASE=y\n"))
    assert (values.driver, values.server, values.database) == ("MSSQL", "x", "y")


def test_percent_signs_are_not_interpolated():
    assert parse_ini("[DATABASE]\nPASSWORD=50%off%(x)s\n").get("DATABASE", "PASSWORD") == "50%off%(x)s"


def test_duplicate_sections_and_keys_do_not_fail():
    parser = parse_ini("[DATABASE]\nSERVER=a\n[DATABASE]\nDATABASE=b\n")
    values = ini_values(parser)
    assert (values.server, values.database) == ("a", "b")


@pytest.mark.parametrize("text, line", [
    ("[DATABASE]\nSERVER=a\nthis is not a key\n", 3),
    ("SERVER=a\njunk\n[DATABASE]\n", 2),
])
def test_a_line_that_is_no_ini_names_its_number_and_the_file(text, line):
    with pytest.raises(IniError) as info:
        parse_ini(text, "sysk2.ini")
    message = str(info.value)
    assert message.startswith("sysk2.ini: line %d is neither [section] nor key=value" % line)


def test_ini_values_follow_the_profile_keys():
    profile = merge_profile({"ini": {"section": "Pripojeni", "server_key": "Server_Name", "database_key": "Databaze"}})
    values = ini_values(parse_ini("[Pripojeni]\nServer_Name=sql03\nDatabaze=CONF3\n"), profile)
    assert (values.server, values.database) == ("sql03", "CONF3")


# --- drivers (FACTS.md "k2.ini") -------------------------------------------

@pytest.mark.parametrize("driver, platform", [("MSSQL", "mssql"), ("mssql", "mssql"), ("Oracle", "oracle"), ("ORACLE", "oracle"), ("LAB", "lab")])
def test_known_drivers(driver, platform):
    assert platform_of(driver) == (platform, None)


@pytest.mark.parametrize("driver", ["MS2000", "MS2000_P", "MS2000GEN", "MS2000GEN_P", "OLEDB_MS2000", "MS_SQLa", "ms_sqla"])
def test_deprecated_mssql_drivers_are_accepted_with_a_deprecation_warning(driver):
    platform, warning = platform_of(driver)
    assert platform == "mssql"
    assert "DRIVER=%s is deprecated" % driver in warning


def test_unknown_driver_has_no_platform():
    platform, warning = platform_of("DB2")
    assert platform is None
    assert warning == "k2.ini DRIVER=DB2 is not a known K2 driver"


def test_no_driver_means_mssql_with_a_warning():
    platform, warning = platform_of(None)
    assert platform == "mssql"
    assert "no DRIVER" in warning


# --- site kinds -------------------------------------------------------------

def test_runnable_site_reports_server_database_version():
    facts = site(["K2.EXE", "k2.ini", "sysk2.ini", "SQL"])
    assert facts.kind == "runnable"
    assert facts.executable == "K2.EXE"
    assert (facts.platform, facts.driver, facts.server, facts.conf_database) == ("mssql", "MSSQL", "sql01\\K2,1433", "K2_CONF")
    assert facts.version == "mia.03.120"
    assert facts.problems == [] and facts.warnings == []
    assert facts.as_dict()["kind"] == "runnable"


@pytest.mark.parametrize("executable", ["k2.exe", "K2.exe", "K2.EXE", "k2.Exe", "k2"])
def test_the_executable_is_found_case_insensitively(executable):
    facts = site([executable] + BOTH)
    assert facts.kind == "runnable"
    assert facts.executable == executable


def test_torso_has_the_ini_files_but_no_executable():
    facts = site(BOTH + ["k2.exe.old", "Conf"])
    assert facts.kind == "torso"
    assert facts.executable is None
    assert facts.server == "sql01\\K2,1433"


def test_oracle_site():
    facts = site(BOTH + ["k2.exe"], k2_ini="[DATABASE]\nDRIVER=Oracle\nSERVER=ora01:1521/K2\nDATABASE=K2CONF\n")
    assert (facts.kind, facts.platform, facts.driver) == ("runnable", "oracle", "Oracle")


def test_deprecated_driver_site_is_runnable_with_a_warning():
    facts = site(BOTH + ["k2.exe"], k2_ini="[DATABASE]\nDRIVER=MS2000GEN_P\nSERVER=s\nDATABASE=d\n")
    assert facts.kind == "runnable"
    assert facts.platform == "mssql"
    assert facts.warnings == ["k2.ini DRIVER=MS2000GEN_P is deprecated; K2 treats it as MSSQL"]


def test_unknown_driver_makes_a_problem():
    facts = site(BOTH + ["k2.exe"], k2_ini="[DATABASE]\nDRIVER=Sybase\nSERVER=s\nDATABASE=d\n")
    assert facts.kind == "not_k2"
    assert facts.platform is None
    assert "k2.ini DRIVER=Sybase is not a known K2 driver" in facts.problems


def test_server_and_database_may_come_from_sysk2_ini():
    facts = site(BOTH, k2_ini="[K2]\nVERSION=4.3\n", sysk2_ini="[DATABASE]\nSERVER=sys01\nDATABASE=SYSCONF\n")
    assert (facts.kind, facts.server, facts.conf_database, facts.version) == ("torso", "sys01", "SYSCONF", "4.3")


@pytest.mark.parametrize("k2_ini, sysk2_ini, missing", [
    (None, SYSK2_INI, "k2.ini is missing"),
    (K2_INI, None, "sysk2.ini is missing"),
])
def test_a_missing_ini_file_is_not_k2(k2_ini, sysk2_ini, missing):
    facts = site(["k2.exe"], k2_ini=k2_ini, sysk2_ini=sysk2_ini)
    assert facts.kind == "not_k2"
    assert facts.problems == [missing]
    assert facts.executable == "k2.exe"


def test_both_ini_files_missing_are_both_named():
    facts = site(["readme.txt"], k2_ini=None, sysk2_ini=None)
    assert facts.kind == "not_k2"
    assert facts.problems == ["k2.ini is missing", "sysk2.ini is missing"]


def test_an_empty_folder_is_not_k2():
    assert site([], k2_ini=None, sysk2_ini=None).kind == "not_k2"


def test_no_server_or_database_is_not_k2():
    facts = site(BOTH + ["k2.exe"], k2_ini="[DATABASE]\nDRIVER=MSSQL\n", sysk2_ini="")
    assert facts.kind == "not_k2"
    assert facts.problems == ["k2.ini names no database server (key SERVER)", "k2.ini names no CONF database (key DATABASE)"]


def test_undecodable_ini_is_not_k2_and_names_the_file():
    facts = site(BOTH + ["k2.exe"], sysk2_ini=b"[SYSTEM]\nX=\x81\n")
    assert facts.kind == "not_k2"
    assert facts.problems == ["cannot read ini file: sysk2.ini: not valid cp1250 text at byte 11"]


def test_unparsable_ini_is_not_k2_and_names_the_file_and_line():
    facts = site(BOTH + ["k2.exe"], k2_ini="[DATABASE]\nSERVER=a\nDATABASE=b\nnonsense\n")
    assert facts.kind == "not_k2"
    assert facts.problems == ["cannot read ini file: k2.ini: line 4 is neither [section] nor key=value: 'nonsense'"]


def test_czech_values_survive_the_whole_read():
    facts = site(BOTH, k2_ini="[DATABASE]\nSERVER=účtárna\\SQL\nDATABASE=K2_Žďár\n")
    assert (facts.server, facts.conf_database) == ("účtárna\\SQL", "K2_Žďár")


def test_utf8_bom_site():
    facts = site(BOTH + ["k2.exe"], k2_ini=b"\xef\xbb\xbf" + "[DATABASE]\nSERVER=Brno\nDATABASE=K2_Přerov\n".encode("utf-8"))
    assert (facts.kind, facts.conf_database) == ("runnable", "K2_Přerov")


def test_profile_names_the_files_and_executables():
    profile = merge_profile({"folder": {"executables": ["K2Start.exe"], "ini_file": "k2cfg.ini", "sysini_file": "system.ini"}})
    facts = site(["k2start.EXE", "K2CFG.INI", "SYSTEM.INI"], profile=profile)
    assert (facts.kind, facts.executable) == ("runnable", "k2start.EXE")
    facts = site(["k2.exe"], k2_ini=None, profile=profile)
    assert facts.problems == ["k2cfg.ini is missing"]


def test_default_profile_is_used_when_none_is_given():
    assert read_site(BOTH, K2_INI.encode("cp1250"), b"", None) == read_site(BOTH, K2_INI.encode("cp1250"), b"", DEFAULT_PROFILE)


def test_kinds_constant():
    assert k2_site.KINDS == ("runnable", "torso", "not_k2")
