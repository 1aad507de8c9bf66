# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k2_ini action over a stand-in connection: PowerShell and sh, check mode, diff, backup, refusals."""

from __future__ import annotations

import re
from unittest import mock

from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.plugins.shell.sh import ShellModule as Sh

from ansible_collections.erpops.upgrade.plugins.action.k2_ini import ActionModule
from ansible_collections.erpops.upgrade.plugins.plugin_utils.remote_file import remote_commands

INI = ("; Konfigurace připojení\r\n[DATABASE]\r\nDRIVER=MSSQL\r\nSERVER=sql01\r\nDATABASE=K2_CONF\r\n\r\n[K2]\r\nVERSION=gaia.12.3\r\n").encode("cp1250")
WIN_PATH = "D:\\K2 Test's\\k2.ini"


class Host:
    def __init__(self, shell, content, stat="file"):
        self.shell, self.content, self.stat = shell, content, stat
        self.commands, self.put = [], {}

    def execute(self, command, sudoable=True):  # pylint: disable=unused-argument
        self.commands.append(command)
        if "Test-Path" in command or command.startswith("if ["):
            return dict(rc=0, stdout=self.stat + "\n", stderr="")
        return dict(rc=0, stdout="", stderr="")

    def fetch_file(self, remote, local):  # pylint: disable=unused-argument
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
    task.action = "erpops.upgrade.k2_ini"
    connection = mock.MagicMock()
    connection._shell = host.shell
    connection._shell.tmpdir = None
    connection.fetch_file.side_effect = host.fetch_file
    connection.put_file.side_effect = host.put_file
    action = ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    with mock.patch.object(action, "_low_level_execute_command", side_effect=host.execute):
        return action.run(task_vars={})


VALUES = {"DATABASE": {"SERVER": "sql02", "DATABASE": "K2_CONF_TESTENV"}}
EXPECTED = INI.replace(b"SERVER=sql01", b"SERVER=sql02").replace(b"DATABASE=K2_CONF\r", b"DATABASE=K2_CONF_TESTENV\r")


def test_powershell_writes_beside_the_file_and_replaces_atomically_with_backup():
    host = Host(PowerShell(), INI)
    result = run_action(host, dict(path=WIN_PATH, values=VALUES, backup=True))
    assert result["changed"] is True and "failed" not in result, result
    assert len(host.put) == 1
    temp, written = list(host.put.items())[0]
    assert written == EXPECTED and re.match(r"^D:\\K2 Test's\\\.k2\.ini\.[0-9a-f]{12}\.tmp$", temp)
    assert result["previous"] == {"DATABASE": {"SERVER": "sql01", "DATABASE": "K2_CONF"}} and result["encoding"] == "cp1250"
    assert host.commands[-1] == remote_commands("powershell", WIN_PATH, temp, result["backup_file"])["commit"]


def test_sh_check_mode_with_diff_only_reads():
    host = Host(Sh(), INI)
    result = run_action(host, dict(path="/srv/k2/k2.ini", values=VALUES), check_mode=True, diff=True)
    assert result["changed"] is True and host.put == {} and len(host.commands) == 1
    assert "DATABASE=K2_CONF_TESTENV" in result["diff"]["after"] and "DATABASE=K2_CONF\r\n" in result["diff"]["before"]


def test_unchanged_values_write_nothing():
    host = Host(Sh(), EXPECTED)
    result = run_action(host, dict(path="/srv/k2/k2.ini", values=VALUES, backup=True))
    assert result["changed"] is False and host.put == {} and "backup_file" not in result


def test_refusals_leave_the_file_alone():
    for host, args, message in [
        (Host(Sh(), INI, stat="absent"), dict(path="/srv/k2/k2.ini", values=VALUES), "does not exist"),
        (Host(Sh(), INI), dict(path="k2.ini", values=VALUES), "must be absolute"),
        (Host(PowerShell(), INI), dict(path="\\K2\\k2.ini", values=VALUES), "must be absolute"),
        (Host(Sh(), INI), dict(path="/srv/k2/k2.ini", values={"DATABASE": "x"}), "mapping of keys"),
        (Host(Sh(), INI), dict(path="/srv/k2/k2.ini", values={"DATABASE": {"DATABASE": "数据"}}), "cannot be written in cp1250"),
        (Host(Sh(), INI), dict(path="/srv/k2/k2.ini", values={"DATABASE": {"USER": "x"}}, missing="fail"), "no key USER"),
    ]:
        result = run_action(host, args)
        assert result.get("failed") is True and message in result["msg"], (args, result)
        assert host.put == {}
