# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The K2 host commands: PowerShell quoting, and the sh listing run for real on awkward folder names."""

from __future__ import annotations

import os
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleError
from ansible.plugins.shell.powershell import ShellModule as PowerShell

from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import list_command, list_names, ps_quote

AWKWARD = [
    "K2 Firma",
    "Jan's K2",
    "it''s",
    "$HOME `whoami` $(id)",
    "a;b && echo pwned",
    "-rf",
    "Účetnictví Žďár",
    "tab\there",
    '"double"',
]


# --- PowerShell -------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("C:\\K2", "'C:\\K2'"),
    ("C:\\Program Files\\K2 Firma", "'C:\\Program Files\\K2 Firma'"),
    ("C:\\K2\\Jan's", "'C:\\K2\\Jan''s'"),
    ("''", "''''''"),
    ("$env:TEMP `n", "'$env:TEMP `n'"),
    ('say "hi"', "'say \"hi\"'"),
    ("C:\\K2\\Jan\u2019s", "'C:\\K2\\Jan\u2019\u2019s'"),
    ("\u2018a\u201ab\u201b", "'\u2018\u2018a\u201a\u201ab\u201b\u201b'"),
    ("", "''"),
])
def test_ps_quote(value, expected):
    assert ps_quote(value) == expected


@pytest.mark.parametrize("value", AWKWARD + ["C:\\K2\\Jan\u2019s", "\u2018\u2019\u201a\u201b'"])
def test_ps_quote_agrees_with_ansibles_powershell_shell(value):
    assert ps_quote(value) == "'%s'" % PowerShell()._escape(value)


def test_ps_quote_content_has_no_lone_single_quote():
    # Inside the quotes every single-quote character comes in pairs, so none can end the string.
    quoted = ps_quote("a'b\u2019c\u2018\u2018d")[1:-1]
    quotes = "'\u2018\u2019\u201a\u201b"
    index = 0
    while index < len(quoted):
        if quoted[index] in quotes:
            assert quoted[index + 1] == quoted[index]
            index += 2
        else:
            index += 1


@pytest.mark.parametrize("path", ["C:\\K2", "C:\\Program Files\\Jan's K2", "D:\\K2 \u2019test\u2019"])
def test_powershell_list_command(path):
    command = list_command("powershell", path)
    assert command == (
        "$ErrorActionPreference = 'Stop'; $p = %s; if (-not (Test-Path -LiteralPath $p -PathType Container)) { exit 3 }; "
        "Get-ChildItem -Force -Name -LiteralPath $p" % ps_quote(path))
    assert command.count(ps_quote(path)) == 1


# --- sh, run for real ---------------------------------------------------------

def _sh(command):
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False, timeout=30)


@pytest.fixture
def folder(tmp_path):
    def make(name):
        path = tmp_path / name
        path.mkdir()
        for entry in ("k2.ini", "sysk2.ini", "K2.EXE", ".hidden", "with space.txt", "Jan's.log", "-n"):
            (path / entry).write_bytes(b"x")
        (path / "SQL").mkdir()
        return str(path)
    return make


@pytest.mark.parametrize("name", AWKWARD)
def test_sh_lists_an_awkward_folder(folder, name):
    path = folder(name)
    result = _sh(list_command("sh", path))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(["k2.ini", "sysk2.ini", "K2.EXE", ".hidden", "with space.txt", "Jan's.log", "-n", "SQL"])


@pytest.mark.parametrize("name", AWKWARD)
def test_sh_missing_folder_exits_3(tmp_path, name):
    result = _sh(list_command("sh", str(tmp_path / name)))
    assert result.returncode == 3
    assert result.stdout == ""


def test_sh_a_file_is_not_a_folder(tmp_path):
    path = tmp_path / "Jan's k2.ini"
    path.write_bytes(b"x")
    assert _sh(list_command("sh", str(path))).returncode == 3


def test_sh_an_empty_folder_lists_nothing(tmp_path):
    path = tmp_path / "empty K2"
    path.mkdir()
    result = _sh(list_command("sh", str(path)))
    assert (result.returncode, result.stdout) == (0, "")


def test_sh_command_runs_nothing_from_the_name(tmp_path):
    marker = tmp_path / "pwned"
    name = "x'; touch '%s'; echo '" % marker
    result = _sh(list_command("sh", str(tmp_path / name)))
    assert result.returncode == 3
    assert not marker.exists()


# --- list_names / fetch_bytes over a local sh connection ---------------------

class _LocalAction:
    """The parts of an ActionBase that k2host touches, over a local sh: commands really run."""

    def __init__(self):
        self._connection = SimpleNamespace(_shell=SimpleNamespace(SHELL_FAMILY="sh", join_path=os.path.join), fetch_file=shutil.copyfile)

    @staticmethod
    def _low_level_execute_command(command):
        result = _sh(command)
        return {"rc": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def test_list_names_returns_the_names(folder):
    path = folder("Jan's K2")
    assert sorted(list_names(_LocalAction(), path)) == sorted(["k2.ini", "sysk2.ini", "K2.EXE", ".hidden", "with space.txt", "Jan's.log", "-n", "SQL"])


def test_list_names_is_none_for_a_missing_folder(tmp_path):
    assert list_names(_LocalAction(), str(tmp_path / "no such K2")) is None


def test_list_names_raises_on_other_failures(tmp_path, monkeypatch):
    monkeypatch.setattr(k2host, "list_command", lambda family, path: "echo 'permission denied' >&2; exit 2")
    with pytest.raises(AnsibleError, match="cannot list .* on the K2 host: permission denied"):
        list_names(_LocalAction(), str(tmp_path))


def test_fetch_bytes_and_join(folder):
    path = folder("K2 Jan's")
    action = _LocalAction()
    with open(os.path.join(path, "k2.ini"), "wb") as handle:
        handle.write("[DATABASE]\nSERVER=Žďár\n".encode("cp1250"))
    assert k2host.fetch_bytes(action, k2host.join(action, path, "k2.ini")) == "[DATABASE]\nSERVER=Žďár\n".encode("cp1250")


def test_shell_family_defaults_to_sh():
    action = SimpleNamespace(_connection=SimpleNamespace(_shell=object()))
    assert k2host.shell_family(action) == "sh"
