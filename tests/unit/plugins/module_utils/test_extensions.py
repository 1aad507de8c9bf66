# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The extensions update core: K2's parameters, command lines per shell (sh run for real), attempts, status and formats."""

from __future__ import annotations

import os
import shlex
import subprocess
import time

import pytest
import sqlglot

from ansible_collections.erpops.upgrade.plugins.module_utils import extensions as core
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE, merge_profile


# --- parameters -----------------------------------------------------------------------

@pytest.mark.parametrize("mode, extension_set, expected", [
    ("update", None, ["EXTENSIONS=UPDATE", "RSOFF=1"]),
    ("update_all", None, ["EXTENSIONS=UPDATE_ALL", "RSOFF=1"]),
    ("update", "Vyvoj_2.test-1", ["EXTENSIONS=UPDATE", "EXTENSIONS.EXT=Vyvoj_2.test-1", "RSOFF=1"]),
])
def test_k2_arguments(mode, extension_set, expected):
    assert core.k2_arguments(mode, extension_set) == expected


@pytest.mark.parametrize("bad", ["a b", "Jan's", "..", ".", "a/b", "a\\b", "", "x;y", "Účto"])
def test_extension_set_is_refused_when_it_cannot_reach_k2_intact(bad):
    with pytest.raises(core.ExtensionsError, match="extension_set"):
        core.k2_arguments("update", bad)


def test_unknown_mode_is_refused():
    with pytest.raises(core.ExtensionsError, match="mode must be one of update, update_all"):
        core.k2_arguments("off")


# --- sh command, run for real -------------------------------------------------------------

def _fake_k2(folder, body):
    path = os.path.join(folder, "k2")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


@pytest.mark.parametrize("name", ["K2 Firma", "Jan's K2", "$(id) `id` a;b", "-rf"])
def test_sh_command_quotes_folder_and_arguments(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    exe = _fake_k2(str(folder), 'printf "%s|" "$PWD" "$@"; echo; echo err >&2; exit 3\n')
    command = core.sh_command(exe, str(folder), ["EXTENSIONS=UPDATE", "RSOFF=1"], 20)
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 3
    assert core.sh_outcome(done.returncode) == "restart"
    # cd into the folder, the arguments intact, stderr folded into stdout
    assert done.stdout.splitlines() == ["%s|EXTENSIONS=UPDATE|RSOFF=1|" % folder, "err"]


def test_sh_command_text():
    assert core.sh_command("/srv/K2 x/k2", "/srv/K2 x", ["EXTENSIONS=UPDATE", "RSOFF=1"], 60) == (
        "cd -- '/srv/K2 x' && exec timeout -k 10 60 '/srv/K2 x/k2' EXTENSIONS=UPDATE RSOFF=1 </dev/null 2>&1")


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_sh_timeout_kills_the_process_and_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    exe = _fake_k2(str(tmp_path), "sleep 300 & echo $! > %s; echo started; wait\n" % shlex.quote(str(pid_file)))
    started = time.monotonic()
    done = subprocess.run(["sh", "-c", core.sh_command(exe, str(tmp_path), ["RSOFF=1"], 1)], capture_output=True, text=True, check=False, timeout=30)
    assert time.monotonic() - started < 10
    assert core.sh_outcome(done.returncode) == "timeout"
    assert "started" in done.stdout
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child), "the child of the timed-out K2 was left running"


@pytest.mark.parametrize("code, outcome", [(0, "settled"), (3, "restart"), (124, "timeout"), (137, "timeout"), (1, "failed"), (127, "failed")])
def test_sh_outcome(code, outcome):
    assert core.sh_outcome(code) == outcome


def test_sh_outcome_with_another_restart_code():
    assert core.sh_outcome(3, restart_exit_code=42) == "failed"
    assert core.sh_outcome(42, restart_exit_code=42) == "restart"


# --- PowerShell command ---------------------------------------------------------------------

WIN_FOLDER = "C:\\Program Files\\K2 Jan's \u2019firma\u2019"
WIN_EXE = WIN_FOLDER + "\\k2.exe"


def test_powershell_command_quotes_paths_with_spaces_and_apostrophes():
    script = core.powershell_command(WIN_EXE, WIN_FOLDER, ["EXTENSIONS=UPDATE", "RSOFF=1"], 900, 60, grace_seconds=20)
    quoted_folder = "'C:\\Program Files\\K2 Jan''s \u2019\u2019firma\u2019\u2019'"
    quoted_exe = "'C:\\Program Files\\K2 Jan''s \u2019\u2019firma\u2019\u2019\\k2.exe'"
    assert ("$p = Start-Process -FilePath %s -ArgumentList @('EXTENSIONS=UPDATE', 'RSOFF=1') -WorkingDirectory %s -PassThru "
            "-RedirectStandardOutput $out -RedirectStandardError $err" % (quoted_exe, quoted_folder)) in script.splitlines()[3]
    assert "if ($elapsed -ge 900) { $outcome = 'timeout' } elseif ($elapsed - $calm -ge 60) { $outcome = 'settled' }" in script
    assert "if ($p.WaitForExit(20000)) { $stop = 'closed' } else { $stop = 'killed' }" in script
    assert "& taskkill.exe /PID $p.Id /T /F" in script
    assert "$null = $p.Handle" in script  # keeps ExitCode readable after the exit
    # every single quote outside the quoted literals pairs up: the script has no dangling string
    assert script.count("'") % 2 == 0
    assert "Jan's" not in script


def test_powershell_result_is_read_from_the_marker_line():
    stdout = "noise\n" + core.RESULT_MARKER + '{"outcome":"settled","exit_code":null,"stop":"closed","still_running":false,"output":"","pid":7}\r\n'
    assert core.parse_powershell_result(stdout)["stop"] == "closed"
    with pytest.raises(core.ExtensionsError, match="no result line"):
        core.parse_powershell_result("just noise")
    with pytest.raises(core.ExtensionsError, match="unknown outcome"):
        core.parse_powershell_result(core.RESULT_MARKER + '{"outcome":"maybe"}')
    with pytest.raises(core.ExtensionsError, match="unreadable"):
        core.parse_powershell_result(core.RESULT_MARKER + "{")


def test_tail_keeps_the_last_lines_and_caps_characters():
    text = "\n".join("line %d" % i for i in range(100)) + "\n\n"
    assert core.tail(text, lines=3) == "line 97\nline 98\nline 99"
    assert core.tail("x" * 5000, chars=10) == "x" * 10


# --- attempts ------------------------------------------------------------------------------------

class FakeK2:
    """Ends ``restarts`` times for a restart, then stays up (or ends as ``last``)."""

    def __init__(self, restarts, last="settled"):
        self.restarts = restarts
        self.last = last
        self.calls = []

    def __call__(self, number):
        self.calls.append(number)
        outcome = "restart" if len(self.calls) <= self.restarts else self.last
        code = {"restart": 3, "settled": 0, "failed": 1, "timeout": 124}[outcome]
        return core.Attempt(number, ["k2", "EXTENSIONS=UPDATE", "RSOFF=1"], outcome, code, 0.1, "K2: %s" % outcome)


def test_attempts_run_again_after_each_restart_until_k2_stays_up():
    fake = FakeK2(restarts=2)
    verdict = core.run_attempts(fake, max_restarts=5)
    assert verdict.outcome == "settled"
    assert fake.calls == [1, 2, 3]
    assert [a.outcome for a in verdict.attempts] == ["restart", "restart", "settled"]
    assert verdict.restarts == 2
    assert core.failure_message(verdict, 60, 5) is None


def test_attempts_stop_after_max_restarts():
    fake = FakeK2(restarts=10)
    verdict = core.run_attempts(fake, max_restarts=2)
    assert verdict.outcome == "too_many_restarts"
    assert fake.calls == [1, 2, 3]
    assert "still asked for a restart after max_restarts=2 restarts (3 attempts)" in core.failure_message(verdict, 60, 2)


def test_zero_restarts_allowed_means_one_attempt():
    assert core.run_attempts(FakeK2(restarts=0), max_restarts=0).outcome == "settled"
    assert core.run_attempts(FakeK2(restarts=1), max_restarts=0).outcome == "too_many_restarts"
    with pytest.raises(core.ExtensionsError):
        core.run_attempts(FakeK2(0), max_restarts=-1)


@pytest.mark.parametrize("last, fragment", [
    ("failed", "K2 failed on attempt 2 with exit code 1: K2: failed"),
    ("timeout", "K2 did not finish attempt 2 within timeout=30 s; its process tree was killed: K2: timeout"),
])
def test_a_failure_or_timeout_ends_the_attempts(last, fragment):
    fake = FakeK2(restarts=1, last=last)
    verdict = core.run_attempts(fake, max_restarts=5)
    assert verdict.outcome == last and fake.calls == [1, 2]
    assert core.failure_message(verdict, 30, 5) == fragment


# --- status --------------------------------------------------------------------------------------

@pytest.mark.parametrize("platform, dialect", [("mssql", "tsql"), ("oracle", "oracle"), ("lab", "postgres")])
def test_status_sql_parses_in_each_dialect(platform, dialect):
    sql = core.status_sql(platform, "K2_CONF", DEFAULT_PROFILE)
    parsed = sqlglot.parse_one(sql, read=dialect)
    assert [c.alias_or_name.lower() for c in parsed.expressions] == ["name", "is_current", "format"]
    assert parsed.find(sqlglot.exp.Table).name == "ROZSIRENI"


def test_status_sql_follows_the_profile():
    profile = merge_profile({"extensions": {"table": "EXT", "name_column": "N", "current_column": "C", "format_column": "F"}})
    assert core.status_sql("mssql", "K2_CONF", profile) == "SELECT [N] AS name, [C] AS is_current, [F] AS format FROM [dbo].[EXT] ORDER BY [N]"
    assert core.status_sql("oracle", "K2CONF", profile) == 'SELECT "N" AS name, "C" AS is_current, "F" AS format FROM "K2CONF"."EXT" ORDER BY "N"'


@pytest.mark.parametrize("value, current", [
    (1, True), (0, False), (None, False), (True, True), (False, False), (1.0, True),
    ("1", True), ("0", False), ("A", True), ("N", False), (" ano ", True), ("Y", True), ("", False),
])
def test_is_current(value, current):
    assert core.is_current(value) is current


def test_read_status_from_driver_rows():
    rows = [{"NAME": "Sklad ", "IS_CURRENT": 0, "FORMAT": "1.0 "}, {"name": "dochazka", "is_current": "A", "format": None}]
    assert core.read_status(rows) == [{"name": "dochazka", "current": True, "format": None},
                                      {"name": "Sklad", "current": False, "format": "1.0"}]


# --- formats ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, parsed", [("2.02", (2, 2)), ("1.0", (1, 0)), ("2", (2, 0)), (" 2.01 ", (2, 1)), ("x", None), ("", None), (None, None)])
def test_parse_format(text, parsed):
    assert core.parse_format(text) == parsed


@pytest.mark.parametrize("version, required", [
    ("mia.03", "2.02"), ("mia.03.120", "2.02"), ("mia.02.999", "1.0"), ("mona.20", "1.0"), ("gaia.12.3", "2.02"),
    ("2.3", "2.02"), ("2.2", "1.0"), (None, None), ("", None),
])
def test_required_format_from_mia_03(version, required):
    assert core.required_format(version) == required


@pytest.mark.parametrize("fmt, required, older", [
    ("1.0", "2.02", True), ("2.01", "2.02", True), ("2.02", "2.02", False), ("2.1", "2.02", True), ("3.0", "2.02", False),
    (None, "2.02", True), ("garbage", "2.02", True), ("1.0", "1.0", False), ("1.0", None, False),
])
def test_format_older(fmt, required, older):
    assert core.format_older(fmt, required) is older


def test_judge_and_changes():
    before = [{"name": "Dochazka", "current": True, "format": "2.02"}, {"name": "Mzdy", "current": True, "format": "1.0"},
              {"name": "Sklad", "current": False, "format": "2.02"}]
    assert core.judge(before, "2.02") == {"outdated": ["Sklad"], "old_format": ["Mzdy"], "to_update": ["Mzdy", "Sklad"]}
    # an older K2 (before mia.03) does not need 2.02
    assert core.judge(before, "1.0")["to_update"] == ["Sklad"]
    after = [dict(s, current=True, format="2.02") for s in before]
    assert core.judge(after, "2.02")["to_update"] == []
    assert core.changed_extensions(before, after) == ["Mzdy", "Sklad"]
    assert core.changed_extensions(before, before) == []
    assert core.changed_extensions(before, after[:1]) == ["Mzdy", "Sklad"]


# --- definitions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data, fmt", [
    (b'<?xml version="1.0" encoding="windows-1250"?>\r\n<Rozsireni Nazev="Sklad" Format="1.0"><Modul/></Rozsireni>', "1.0"),
    (b'\xef\xbb\xbf<Extension format=" 2.02 " xmlns="urn:k2"/>', "2.02"),
    (b'<ns:Extension xmlns:ns="urn:x" ns:FORMAT="2.01"/>', "2.01"),
    (b'<Extension Name="x"><Child format="9"/></Extension>', None),
])
def test_definition_format_reads_the_root_only(data, fmt):
    assert core.definition_format(data) == fmt


def test_definition_format_attribute_can_be_named():
    assert core.definition_format(b'<Ext Verze="1.0" Format="2.02"/>', attribute="verze") == "1.0"


def test_definition_format_of_a_large_file_stops_at_the_root():
    data = b'<Ext Format="1.0">' + b"<Item/>" * 200000 + b"<broken"
    assert core.definition_format(data) == "1.0"


def test_definition_verdicts():
    assert core.definition_verdict("/d/a.xml", b'<Ext Format="1.0"/>', "2.02") == {
        "path": "/d/a.xml", "format": "1.0", "reason": "format 1.0 is older than 2.02"}
    assert core.definition_verdict("/d/b.xml", b'<Ext Format="2.02"/>', "2.02") is None
    assert core.definition_verdict("/d/c.xml", b'<Ext/>', "2.02")["reason"] == "the root element has no format attribute"
    assert core.definition_verdict("/d/c.xml", b'<Ext/>', None) is None
    assert core.definition_verdict("/d/d.xml", b"not xml", "2.02")["reason"].startswith("not a readable xml file")
    assert core.definition_verdict("/d/e.xml", b"", "2.02")["reason"].startswith("not a readable xml file")


def test_xml_list_command_sh_for_real(tmp_path):
    (tmp_path / "Vyvoj Jan's" / "sub").mkdir(parents=True)
    (tmp_path / "Vyvoj Jan's" / "Sklad.xml").write_bytes(b"<x/>")
    (tmp_path / "Vyvoj Jan's" / "sub" / "Mzdy.XML").write_bytes(b"<x/>")
    (tmp_path / "Vyvoj Jan's" / "readme.txt").write_bytes(b"")
    (tmp_path / "single.xml").write_bytes(b"<x/>")
    paths = [str(tmp_path / "Vyvoj Jan's"), str(tmp_path / "single.xml"), str(tmp_path / "missing $(id)")]
    done = subprocess.run(["sh", "-c", core.xml_list_command("sh", paths)], capture_output=True, text=True, check=True, timeout=30)
    assert done.stdout.splitlines() == [
        str(tmp_path / "Vyvoj Jan's" / "Sklad.xml"), str(tmp_path / "Vyvoj Jan's" / "sub" / "Mzdy.XML"),
        str(tmp_path / "single.xml"), "MISSING " + str(tmp_path / "missing $(id)")]


def test_xml_list_command_powershell_quotes_each_path():
    command = core.xml_list_command("powershell", ["D:\\Vývoj\\Jan's", "E:\\x"])
    lines = command.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("$p = 'D:\\Vývoj\\Jan''s'; if (Test-Path -LiteralPath $p -PathType Leaf)")
    assert "Get-ChildItem -LiteralPath $p -Recurse -File -Force" in lines[0]
    assert lines[1].startswith("$p = 'E:\\x';")
