# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_inputs: archives, installers, k2.ini, web.config and backup targets judged before the ban."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import zipfile
from types import SimpleNamespace

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_inputs, release_archive
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import head_command

WEB_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "webconfig", "web.config")


def zip_of(members):
    """The bytes of a zip of {name: bytes}; a (bytes, mode) value sets the member's Unix mode."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            if isinstance(data, tuple):
                data, mode = data
                info.external_attr = mode << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def judged(tmp_path, members, target="ori.09"):
    """archive_reasons of a zip written to disk and read as the module reads it."""
    path = tmp_path / "release.zip"
    path.write_bytes(zip_of(members))
    read = release_archive.read_members(str(path))
    with zipfile.ZipFile(str(path)) as archive:
        version = next((archive.read(i) for i in archive.infolist() if k2_inputs.is_root_name(i.filename, "K2VERSION.txt")), None)
    return k2_inputs.archive_reasons("release", read, version, target)


RELEASE = {"k2": b"#!/bin/sh\n", "K2VERSION.txt": b"ori.09\n", "SQL/K2t_CONF_MSSQL.SQL": b"CREATE TABLE x (a int)\n"}


def test_a_good_release_passes_and_reports_its_version(tmp_path):
    reasons, facts = judged(tmp_path, RELEASE, "K2 ori.09")
    assert reasons == []
    assert facts["version"] == "ori.09" and facts["members"] == 3


def test_another_version_a_missing_version_file_and_no_executable_are_named(tmp_path):
    assert judged(tmp_path, dict(RELEASE, **{"K2VERSION.txt": b"\xef\xbb\xbfori.08\r\n"}))[0] == [
        "release holds K2 ori.08, not the target ori.09"]
    assert judged(tmp_path, {"k2": b"x", "docs/K2VERSION.txt": b"ori.09"})[0] == [
        "release has no version file K2VERSION.txt at its root: it cannot be told which K2 it holds"]
    assert judged(tmp_path, {"K2VERSION.txt": b"ori.09"})[0] == ["release holds no K2 executable (k2.exe, K2.exe, k2) at its root"]
    assert judged(tmp_path, dict(RELEASE, **{"K2VERSION.txt": b"\n"}))[0] == ["release: its version file is empty"]
    assert "its version file says 'banana'" in judged(tmp_path, dict(RELEASE, **{"K2VERSION.txt": b"banana"}))[0][0]


def test_the_version_file_is_found_as_windows_would_find_it(tmp_path):
    reasons, facts = judged(tmp_path, {"K2.EXE": b"MZ", "./k2version.TXT": b"5.9.120"}, "ori.09.120")
    assert reasons == [] and facts["version"] == "5.9.120"


@pytest.mark.parametrize("name,why", [
    ("/etc/passwd", "an absolute path"),
    ("\\Windows\\evil.dll", "an absolute path"),
    ("C:/Windows/evil.dll", "an absolute path"),
    ("SQL/../../evil", "a '..' part"),
    ("SQL\\..\\..\\evil", "a '..' part"),
])
def test_members_that_would_leave_the_folder_are_refused_as_the_install_step_refuses_them(tmp_path, name, why):
    reasons, _facts = judged(tmp_path, dict(RELEASE, **{name: b"x"}))
    assert len(reasons) == 1 and reasons[0].startswith("release: the release archive holds 1 unsafe member(s)")
    assert reasons[0].endswith("%r: %s" % (name, why))


def test_links_and_names_windows_sees_as_one_file_are_refused(tmp_path):
    reasons, _facts = judged(tmp_path, dict(RELEASE, **{"link": (b"/etc/passwd", stat.S_IFLNK | 0o777)}))
    assert "'link': a symbolic link to '/etc/passwd'" in reasons[0]
    reasons, _facts = judged(tmp_path, dict(RELEASE, **{"SQL/k2t_conf_mssql.sql": b"other"}))
    assert "a second member for the same file as 'SQL/K2t_CONF_MSSQL.SQL'" in reasons[0]


def test_a_damaged_member_cannot_be_read_whole(tmp_path):
    raw = zip_of(dict(RELEASE, **{"big.bin": b"A" * 4000}))
    offset = raw.index(b"A" * 100)
    path = tmp_path / "damaged.zip"
    path.write_bytes(raw[:offset] + b"B" + raw[offset + 1:])
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        release_archive.read_members(str(path))


def test_a_file_that_is_no_archive_is_told_apart(tmp_path):
    path = tmp_path / "k2.7z"
    path.write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64)
    with pytest.raises(release_archive.UnsafeArchive, match="neither a zip nor a tar"):
        release_archive.read_members(str(path))


def test_file_kinds_from_the_first_bytes():
    assert k2_inputs.file_kind(zip_of(RELEASE)[:8]) == "zip"
    assert k2_inputs.file_kind(b"PK\x05\x06" + b"\x00" * 4) == "zip"
    assert k2_inputs.file_kind(k2_inputs.MSI_MAGIC) == "msi"
    assert k2_inputs.file_kind(b"MZ\x90\x00") == "exe"
    assert k2_inputs.file_kind(b"7z\xbc\xaf\x27\x1c") is None
    assert k2_inputs.file_kind(b"") is None
    assert k2_inputs.installer_reasons("installer", None, "setup.iso") == [
        "installer (setup.iso) is neither a Windows Installer package, a Windows program nor a zip"]
    assert k2_inputs.installer_reasons("installer", "msi", "k2.msi") == []


def test_sha256_compared_after_normalising_and_a_malformed_one_refused(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    actual = release_archive.sha256_file(str(tmp_path / "abc"))
    assert actual == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert k2_inputs.sha256_reasons("release", actual, "") == []
    assert k2_inputs.sha256_reasons("release", actual, "SHA256: " + actual.upper()) == []
    assert k2_inputs.sha256_reasons("release", actual, "0" * 64) == ["release: SHA-256 is %s, not the given %s" % (actual, "0" * 64)]
    assert k2_inputs.sha256_reasons("release", None, actual) == ["release: its SHA-256 could not be computed"]
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        k2_inputs.sha256_reasons("release", actual, "abc")


K2_INI = "[DATABASE]\r\nDRIVER=MSSQL\r\nSERVER=SQL01,1433\r\nDATABASE=K2_CONF\r\n\r\n[K2]\r\nVERSION=gaia.12.3\r\n"


def test_k2_ini_names_driver_server_and_conf_database():
    reasons, values = k2_inputs.ini_reasons(K2_INI.encode("cp1250"))
    assert reasons == []
    assert (values["platform"], values["host"], values["port"], values["database"]) == ("mssql", "SQL01", 1433, "K2_CONF")
    reasons, values = k2_inputs.ini_reasons(b"[database]\nDRIVER=Oracle\nSERVER=ORA\\XE\nDATABASE=K2\n")
    assert reasons == [] and values["platform"] == "oracle" and values["port"] is None
    # no DRIVER: MSSQL, the default since a clean install
    assert k2_inputs.ini_reasons(b"[DATABASE]\nSERVER=SQL01\nDATABASE=K2_CONF\n")[1]["platform"] == "mssql"


def test_k2_ini_without_its_database_section_is_refused_even_when_sysk2_ini_could_help():
    text = K2_INI.replace("[DATABASE]", "[PRIPOJENI]").encode("cp1250")
    reasons, _values = k2_inputs.ini_reasons(text)
    assert reasons == ["k2.ini has no [DATABASE] section: K2 cannot connect to its databases"]
    assert k2_inputs.ini_reasons(None)[0] == ["k2.ini is missing"]
    assert k2_inputs.ini_reasons(b"\xef\xbb\xbf\xff\xfe")[0][0].startswith("cannot read k2.ini")


def test_k2_ini_keys_missing_or_unknown_driver_are_each_named():
    reasons, _values = k2_inputs.ini_reasons(b"[DATABASE]\nDRIVER=DBASE\n")
    assert reasons == ["k2.ini [DATABASE]: k2.ini DRIVER=DBASE is not a known K2 driver",
                       "k2.ini [DATABASE] names no database server (SERVER)",
                       "k2.ini [DATABASE] names no CONF database (DATABASE)"]


def test_webconfig_parses_and_has_the_rule_and_is_never_changed():
    with open(WEB_CONFIG, "rb") as handle:
        content = handle.read()
    assert k2_inputs.webconfig_reasons("w", content, "Site Maintenance") == []
    assert k2_inputs.webconfig_reasons("w", None, "Site Maintenance") == ["web.config w does not exist on the K2 host"]
    broken = content.replace(b"</rules>", b"</rulez>", 1)
    reason = k2_inputs.webconfig_reasons("w", broken, "Site Maintenance")
    assert len(reason) == 1 and reason[0].startswith("web.config w: ") and "line" in reason[0]
    missing = k2_inputs.webconfig_reasons("w", content, "No Such Rule")
    assert len(missing) == 1 and "no rewrite rule named 'No Such Rule'" in missing[0]


def test_mssql_file_exist_text_parses_and_quotes_the_path():
    sql = k2_inputs.mssql_file_exist_sql("E:\\Backup\\it's")
    assert sql == "EXEC master.sys.xp_fileexist N'E:\\Backup\\it''s'"
    assert sqlglot.parse_one(sql, read="tsql", error_level=ErrorLevel.RAISE) is not None


@pytest.mark.parametrize("row,reasons", [
    ({"File Exists": 0, "File is a Directory": 1, "Parent Directory Exists": 1}, []),
    ({"File Exists": 0, "File is a Directory": 0, "Parent Directory Exists": 1}, []),
    ({"File Exists": 1, "File is a Directory": 0, "Parent Directory Exists": 1}, ["backup folder E:\\B is a file on the database server, not a folder"]),
    ({"File Exists": 0, "File is a Directory": 0, "Parent Directory Exists": 0},
     ["backup folder E:\\B: neither it nor its parent exists for the SQL Server's service account"]),
])
def test_mssql_target_from_xp_fileexist_rows(row, reasons):
    assert k2_inputs.mssql_target_reasons("E:\\B", [row]) == reasons
    assert k2_inputs.mssql_target_reasons("E:\\B", []) == ["backup folder E:\\B: the SQL Server answered nothing to xp_fileexist"]


def test_oracle_directory_texts_parse_and_rows_are_judged():
    for sql in (k2_inputs.ORACLE_DIRECTORY_SQL, k2_inputs.ORACLE_DIRECTORY_WRITE_SQL):
        assert sqlglot.parse_one(sql, read="oracle", error_level=ErrorLevel.RAISE) is not None
    found = [{"directory_path": "/u01/dump"}]
    assert k2_inputs.oracle_directory_reasons("K2_DUMP", found, [{"privilege": "WRITE"}]) == []
    assert "is not granted WRITE" in k2_inputs.oracle_directory_reasons("K2_DUMP", found, [])[0]
    assert "does not exist or is not granted" in k2_inputs.oracle_directory_reasons("K2_DUMP", [], [])[0]
    assert "no Oracle DIRECTORY object given" in k2_inputs.oracle_directory_reasons("", [], [])[0]


def test_posix_permission_bits_decide_who_may_create_files():
    folder = stat.S_IFDIR
    assert k2_inputs.posix_can_create(folder | 0o700, 26, 26, 26, [26])
    assert not k2_inputs.posix_can_create(folder | 0o500, 26, 26, 26, [26])
    assert k2_inputs.posix_can_create(folder | 0o770, 0, 26, 26, [26])
    assert not k2_inputs.posix_can_create(folder | 0o750, 0, 26, 26, [26])
    assert k2_inputs.posix_can_create(folder | 0o703, 0, 0, 26, [26])
    assert not k2_inputs.posix_can_create(folder | 0o702, 0, 0, 26, [26])
    assert k2_inputs.posix_can_create(folder | 0o000, 5, 5, 0, [0])
    assert not k2_inputs.posix_can_create(stat.S_IFREG | 0o777, 26, 26, 26, [26])


def test_lab_target_names_the_blocking_folder():
    folder = SimpleNamespace(st_mode=stat.S_IFDIR | 0o755, st_uid=0, st_gid=0)
    assert k2_inputs.lab_target_reasons("/b/k2", "/b", folder, 26, [26], "user 26") == ["backup folder /b/k2: user 26 may not write in /b (mode 755)"]
    assert k2_inputs.lab_target_reasons("/b/k2", "/b", folder, 0, [0], "root") == []
    a_file = SimpleNamespace(st_mode=stat.S_IFREG | 0o644, st_uid=0, st_gid=0)
    assert k2_inputs.lab_target_reasons("/b/k2", "/b", a_file, 0, [0], "root") == ["backup folder /b/k2: /b is not a folder"]
    assert k2_inputs.lab_target_reasons("/b/k2", "/", None, 0, [0], "root") == ["backup folder /b/k2: no part of the path exists"]


def test_head_command_prints_the_first_bytes_in_hex(tmp_path):
    target = tmp_path / "it's an installer.msi"
    target.write_bytes(k2_inputs.MSI_MAGIC + b"rest")
    done = subprocess.run(head_command("sh", str(target), 8), shell=True, capture_output=True, text=True, check=True)
    assert k2_inputs.file_kind(bytes.fromhex("".join(done.stdout.split()))) == "msi"
    command = head_command("powershell", "C:\\K2 it's\\k2.msi", 8)
    assert "'C:\\K2 it''s\\k2.msi'" in command and "ReadAllBytes" not in command
