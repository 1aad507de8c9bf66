# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the k2_webconfig_maintenance action: remote command lines per shell, and the flow over a connection."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import time
from unittest import mock

import pytest

from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.plugins.shell.sh import ShellModule as Sh

from ansible_collections.erpops.upgrade.plugins.action.k2_webconfig_maintenance import ActionModule
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import ps_quote as quote_pwsh
from ansible_collections.erpops.upgrade.plugins.plugin_utils.remote_file import backup_path, remote_commands, temp_path

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "webconfig", "web.config")
WIN_PATH = "C:\\inetpub\\K2 Web's site\\web.config"
WIN_TEMP = "C:\\inetpub\\K2 Web's site\\.web.config.abc.tmp"


def test_quote_pwsh_doubles_every_single_quote_powershell_knows():
    assert quote_pwsh(WIN_PATH) == "'C:\\inetpub\\K2 Web''s site\\web.config'"
    assert quote_pwsh("a\u2019b\u2018c$d`e\"f") == "'a\u2019\u2019b\u2018\u2018c$d`e\"f'"
    assert quote_pwsh("") == "''"


def test_powershell_commands():
    commands = remote_commands("powershell", WIN_PATH, WIN_TEMP)
    quoted = "'C:\\inetpub\\K2 Web''s site\\web.config'"
    quoted_temp = "'C:\\inetpub\\K2 Web''s site\\.web.config.abc.tmp'"
    assert commands == {
        "stat": "if (Test-Path -LiteralPath %s -PathType Leaf) { 'file' } elseif (Test-Path -LiteralPath %s) { 'other' } else { 'absent' }"
                % (quoted, quoted),
        "prepare": "",
        "commit": "$ErrorActionPreference = 'Stop'; [System.IO.File]::Replace(%s, %s, [NullString]::Value)" % (quoted_temp, quoted),
        "create": "$ErrorActionPreference = 'Stop'; Move-Item -LiteralPath %s -Destination %s" % (quoted_temp, quoted),
        "cleanup": "Remove-Item -LiteralPath %s -Force -ErrorAction SilentlyContinue" % quoted_temp,
    }
    with_backup = remote_commands("powershell", WIN_PATH, WIN_TEMP, WIN_PATH + ".42.20250101-120000.bak")
    assert with_backup["commit"] == ("$ErrorActionPreference = 'Stop'; [System.IO.File]::Replace(%s, %s, %s)"
                                     % (quoted_temp, quoted, "'C:\\inetpub\\K2 Web''s site\\web.config.42.20250101-120000.bak'"))


def test_sh_commands():
    commands = remote_commands("sh", "/srv/K2 Web's/web.config", "/srv/K2 Web's/.web.config.abc.tmp", "/srv/K2 Web's/web.config.1.x~")
    quoted = "'/srv/K2 Web'\"'\"'s/web.config'"
    quoted_temp = "'/srv/K2 Web'\"'\"'s/.web.config.abc.tmp'"
    assert commands == {
        "stat": "if [ -f %s ]; then echo file; elif [ -e %s ]; then echo other; else echo absent; fi" % (quoted, quoted),
        "prepare": "cp -p %s %s" % (quoted, quoted_temp),
        "commit": "cp -p %s %s && mv -f %s %s" % (quoted, "'/srv/K2 Web'\"'\"'s/web.config.1.x~'", quoted_temp, quoted),
        "create": "chmod 600 %s && mv -f %s %s" % (quoted_temp, quoted_temp, quoted),
        "cleanup": "rm -f %s" % quoted_temp,
    }
    assert remote_commands("sh", "/a/web.config", "/a/t")["commit"] == "mv -f /a/t /a/web.config"


def sh(command):
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)


def test_sh_commands_run_in_a_real_shell_with_hostile_names(tmp_path):
    folder = tmp_path / "K2 Web's $HOME `id` \"x\""
    folder.mkdir()
    target = folder / "web.config"
    target.write_bytes(b"old")
    os.chmod(str(target), 0o604)
    temp = temp_path(str(target), "sh", "tok")
    backup = backup_path(str(target), "sh", 7, now=0)
    commands = remote_commands("sh", str(target), temp, backup)

    assert sh(commands["stat"]).stdout == "file\n"
    assert sh(remote_commands("sh", str(folder), temp)["stat"]).stdout == "other\n"
    assert sh(remote_commands("sh", str(folder / "none"), temp)["stat"]).stdout == "absent\n"
    assert sh(commands["prepare"]).returncode == 0
    with open(temp, "r+b") as handle:  # what put_file does to an existing file
        handle.truncate()
        handle.write(b"new")
    assert sh(commands["commit"]).returncode == 0
    assert target.read_bytes() == b"new" and oct(os.stat(str(target)).st_mode & 0o777) == oct(0o604)
    assert pathlib.Path(backup).read_bytes() == b"old"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["web.config", os.path.basename(backup)])
    assert sh(commands["cleanup"]).returncode == 0


def test_backup_and_temp_names():
    now = time.mktime((2025, 3, 4, 5, 6, 7, 0, 0, -1))
    assert backup_path(WIN_PATH, "powershell", 123, now) == WIN_PATH + ".123.20250304-050607.bak"
    assert backup_path("/srv/web.config", "sh", 123, now) == "/srv/web.config.123.2025-03-04@05:06:07~"
    assert temp_path(WIN_PATH, "powershell", "abc") == WIN_TEMP
    assert temp_path("\\\\fs01\\web$\\K2\\web.config", "powershell", "t") == "\\\\fs01\\web$\\K2\\.web.config.t.tmp"
    assert temp_path("/srv/K2 Web/web.config", "sh", "t") == "/srv/K2 Web/.web.config.t.tmp"


class FakeHost:
    """A K2 host behind a connection: one web.config, shell commands recorded, results scripted."""

    def __init__(self, shell, content, stat="file", commit_rc=0):
        self.shell = shell
        self.content = content
        self.stat = stat
        self.commit_rc = commit_rc
        self.commands = []
        self.put = {}
        self.fetched = []

    def execute(self, command, sudoable=True):  # pylint: disable=unused-argument
        self.commands.append(command)
        if "Test-Path" in command or command.startswith("if ["):
            return dict(rc=0, stdout=self.stat + "\n", stderr="")
        if "Replace(" in command or "mv -f" in command:
            return dict(rc=self.commit_rc, stdout="", stderr="access denied" if self.commit_rc else "")
        return dict(rc=0, stdout="", stderr="")

    def fetch_file(self, remote, local):
        self.fetched.append(remote)
        with open(local, "wb") as handle:
            handle.write(self.content)

    def put_file(self, local, remote):
        with open(local, "rb") as handle:
            self.put[remote] = handle.read()


def run_action(host, args, check_mode=False, diff=False):
    task = mock.MagicMock()
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    task.action = "erpops.upgrade.k2_webconfig_maintenance"
    connection = mock.MagicMock()
    connection._shell = host.shell
    connection._shell.tmpdir = None
    connection.fetch_file.side_effect = host.fetch_file
    connection.put_file.side_effect = host.put_file
    action = ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    with mock.patch.object(action, "_low_level_execute_command", side_effect=host.execute):
        return action.run(task_vars={})


@pytest.fixture(name="web_config")
def web_config_fixture():
    with open(FIXTURE, "rb") as handle:
        return handle.read()


def enabled_version(content):
    return content.replace(b'<rule name="Site Maintenance" enabled="false" stopProcessing="true">\r\n          <match url=".*" />\r\n          <cond',
                           b'<rule name="Site Maintenance" enabled="true" stopProcessing="true">\r\n          <match url=".*" />\r\n          <cond')


def test_powershell_flow_puts_next_to_the_file_and_replaces_atomically(web_config):
    host = FakeHost(PowerShell(), web_config)
    result = run_action(host, dict(path=WIN_PATH, backup=True))
    assert result["changed"] is True and "failed" not in result
    assert (result["previous_state"], result["state"], result["line"], result["encoding"]) == ("disabled", "enabled", 163, "utf-8+bom")
    assert host.fetched == [WIN_PATH]
    assert len(host.put) == 1
    temp, written = next(iter(host.put.items()))
    assert re.match(r"^C:\\inetpub\\K2 Web's site\\\.web\.config\.[0-9a-f]{12}\.tmp$", temp)
    assert written == enabled_version(web_config) != web_config
    assert re.match(r"^C:\\inetpub\\K2 Web's site\\web\.config\.%d\.\d{8}-\d{6}\.bak$" % os.getpid(), result["backup_file"])
    assert host.commands == [remote_commands("powershell", WIN_PATH, temp)["stat"],
                             remote_commands("powershell", WIN_PATH, temp, result["backup_file"])["commit"]]


def test_check_mode_with_diff_only_reads(web_config):
    host = FakeHost(Sh(), web_config)
    result = run_action(host, dict(path="/srv/k2/web.config", state="enabled"), check_mode=True, diff=True)
    assert result["changed"] is True
    assert len(host.commands) == 1 and host.put == {}
    assert result["diff"]["before"] == web_config[3:].decode("utf-8")
    assert result["diff"]["after"] == enabled_version(web_config)[3:].decode("utf-8")
    assert result["diff"]["before_header"] == "/srv/k2/web.config"


def test_unchanged_file_is_not_written(web_config):
    host = FakeHost(Sh(), web_config)
    result = run_action(host, dict(path="/srv/k2/web.config", state="disabled", backup=True), diff=True)
    assert result["changed"] is False and "diff" not in result and "backup_file" not in result
    assert len(host.commands) == 1 and host.put == {}


def test_sh_flow_prepares_the_temp_file_first(web_config):
    host = FakeHost(Sh(), web_config)
    result = run_action(host, dict(path="/srv/k2/web.config"))
    assert len(host.put) == 1
    temp = next(iter(host.put))
    assert result["changed"] is True and "backup_file" not in result
    assert host.commands[1:] == ["cp -p /srv/k2/web.config %s" % temp, "mv -f %s /srv/k2/web.config" % temp]


def test_failed_replace_cleans_up_and_reports(web_config):
    host = FakeHost(PowerShell(), web_config, commit_rc=1)
    result = run_action(host, dict(path=WIN_PATH))
    assert len(host.put) == 1
    temp = next(iter(host.put))
    assert result["failed"] is True
    assert result["msg"] == "replacing %s failed (rc=1): access denied; %s was left as it was" % (WIN_PATH, WIN_PATH)
    assert host.commands[-1] == remote_commands("powershell", WIN_PATH, temp)["cleanup"]


@pytest.mark.parametrize("stat,message", [
    ("absent", "web.config not found: C:\\K2\\web.config does not exist"),
    ("other", "web.config not found: C:\\K2\\web.config is not a regular file"),
])
def test_missing_file_fails_before_fetching(web_config, stat, message):
    host = FakeHost(PowerShell(), web_config, stat=stat)
    result = run_action(host, dict(path="C:\\K2\\web.config"))
    assert result["failed"] is True and result["msg"] == message
    assert host.fetched == [] and host.put == {}


@pytest.mark.parametrize("shell,path", [(PowerShell(), "K2\\web.config"), (PowerShell(), "\\K2\\web.config"), (Sh(), "srv/web.config")])
def test_relative_path_is_refused(web_config, shell, path):
    host = FakeHost(shell, web_config)
    result = run_action(host, dict(path=path))
    assert result["failed"] is True and result["msg"] == "path must be absolute on the K2 host, got %r" % path
    assert host.commands == []


def test_malformed_or_ruleless_file_fails_without_writing(web_config):
    host = FakeHost(Sh(), web_config.replace(b"</rewrite>", b"</rewrit>"))
    result = run_action(host, dict(path="/srv/k2/web.config"))
    assert result["failed"] is True
    assert result["msg"] == ("/srv/k2/web.config: web.config is not well-formed XML: mismatched tag at line 211, column 7;"
                             " the file was left untouched")
    assert host.put == {} and len(host.commands) == 1

    host = FakeHost(Sh(), web_config)
    result = run_action(host, dict(path="/srv/k2/web.config", rule_name="Nope"))
    assert result["failed"] is True and "no rewrite rule named 'Nope'" in result["msg"]


def test_bad_arguments_fail(web_config):
    result = run_action(FakeHost(Sh(), web_config), dict(path="/srv/k2/web.config", state="on"))
    assert result["failed"] is True and "state" in result["msg"] and "enabled, disabled" in result["msg"]
    result = run_action(FakeHost(Sh(), web_config), dict(state="enabled"))
    assert result["failed"] is True and "missing required arguments: path" in result["msg"]
