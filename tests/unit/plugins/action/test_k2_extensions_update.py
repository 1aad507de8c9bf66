# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k2_extensions_update action over a fake K2 host (PowerShell and sh) and a fake CONF database."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.plugins.shell.sh import ShellModule as Sh

from ansible_collections.erpops.upgrade.plugins.action.k2_extensions_update import ActionModule
from ansible_collections.erpops.upgrade.plugins.module_utils import extensions as core
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host

WIN_FOLDER = "D:\\K2 Jan's firma"
K2_INI = b"[DATABASE]\r\nDRIVER=MSSQL\r\nSERVER=sql01,1433\r\nDATABASE=K2_CONF\r\n\r\n[K2]\r\nVERSION=%s\r\n"
SYSK2_INI = b"[DATABASE]\r\nSERVER=sql01,1433\r\n"


class FakeConf:
    """The extension table of a CONF database; the fake K2 updates it."""

    def __init__(self, rows):
        self.rows = {name: [current, fmt] for name, current, fmt in rows}
        self.queries = []

    def connect(self, params, database):
        self.queries.append((params["db_platform"], params["login_host"], params["login_port"], database))
        return self

    def query(self, sql):
        assert sql == 'SELECT [Nazev] AS name, [Aktualni] AS is_current, [Format] AS format FROM [dbo].[ROZSIRENI] ORDER BY [Nazev]'
        return [{"name": name, "is_current": current, "format": fmt} for name, (current, fmt) in sorted(self.rows.items())]

    def close(self):
        pass

    def update_one(self, everything=False):
        for values in self.rows.values():
            if everything or values != [1, "2.02"]:
                values[:] = [1, "2.02"]
                return


class FakeHost:
    """A K2 folder with k2.exe; K2's attempts follow the script ``outcomes`` (settled, restart, failed, timeout, stuck)."""

    def __init__(self, shell, conf, outcomes, version="gaia.12.3", files=None):
        self.shell = shell
        self.conf = conf
        self.outcomes = list(outcomes)
        self.version = version
        self.files = dict(files or {})
        self.commands = []

    def list_names(self, action, path):  # pylint: disable=unused-argument
        return ["k2.exe", "k2.ini", "sysk2.ini", "extensions"] if path == WIN_FOLDER or path == "/srv/k2" else None

    def fetch_bytes(self, action, path):  # pylint: disable=unused-argument
        if path.endswith("sysk2.ini"):
            return SYSK2_INI
        if path.endswith("k2.ini"):
            return K2_INI % self.version.encode()
        return self.files[path]

    def run(self, action, command):  # pylint: disable=unused-argument
        self.commands.append(command)
        if "Start-Process" in command:
            outcome = self.outcomes.pop(0)
            self.conf.update_one()
            result = {"outcome": "settled" if outcome == "stuck" else outcome, "exit_code": 0 if outcome == "restart" else None,
                      "stop": {"settled": "closed", "timeout": "killed", "stuck": "killed"}.get(outcome), "still_running": outcome == "stuck",
                      "output": "", "pid": 4242}
            return 0, "#< CLIXML\r\n" + core.RESULT_MARKER + json.dumps(result) + "\r\n", ""
        if "exec timeout" in command:
            outcome = self.outcomes.pop(0)
            self.conf.update_one()
            code = {"settled": 0, "restart": 42, "failed": 2, "timeout": 124}[outcome]
            return code, "K2: %s\n" % outcome, ""
        if "MISSING" in command:
            return 0, "".join(p + "\r\n" for p in self.files), ""
        raise AssertionError("unexpected command %r" % command)


def run_action(host, args, check_mode=False):
    task = mock.MagicMock()
    task.args = dict(args)
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "erpops.upgrade.k2_extensions_update"
    connection = mock.MagicMock()
    connection._shell = host.shell
    action = ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    with mock.patch.object(k2host, "run", host.run), mock.patch.object(k2host, "list_names", host.list_names), \
            mock.patch.object(k2host, "fetch_bytes", host.fetch_bytes), \
            mock.patch("ansible_collections.erpops.upgrade.plugins.module_utils.db.connect", host.conf.connect):
        return action.run(task_vars={})


def rows_outdated():
    return [("Dochazka", 1, "2.02"), ("Mzdy", 1, "1.0"), ("Sklad", 0, "2.02")]


def test_powershell_restarts_until_k2_settles_and_reports_the_change():
    conf = FakeConf(rows_outdated())
    host = FakeHost(PowerShell(), conf, ["restart", "settled"])
    result = run_action(host, dict(path=WIN_FOLDER, settle_seconds=90, timeout=600))
    assert "failed" not in result, result
    exe = WIN_FOLDER + "\\k2.exe"
    assert host.commands == [core.powershell_command(exe, WIN_FOLDER, ["EXTENSIONS=UPDATE", "RSOFF=1"], 600, 90, 30)] * 2
    assert [(a["number"], a["outcome"], a["exit_code"]) for a in result["attempts"]] == [(1, "restart", 0), (2, "settled", None)]
    assert result["attempts"][1]["detail"] == "K2 settled and closed its window when asked"
    assert result["changed"] is True and result["updated"] == ["Mzdy", "Sklad"] and result["restarts"] == 1
    assert result["msg"] == "K2 stayed up after 2 attempt(s); every extension is current"
    # the database is the one k2.ini names, read from the controller
    assert conf.queries == [("mssql", "sql01", 1433, "K2_CONF")] * 2


def test_check_mode_reports_and_runs_nothing():
    conf = FakeConf(rows_outdated())
    host = FakeHost(PowerShell(), conf, [])
    result = run_action(host, dict(path=WIN_FOLDER), check_mode=True)
    assert result["changed"] is True and result["ran"] is False and host.commands == []
    assert result["to_update"] == ["Mzdy", "Sklad"] and result["old_format"] == ["Mzdy"]
    assert result["msg"] == "would run %s\\k2.exe EXTENSIONS=UPDATE RSOFF=1 for Mzdy, Sklad" % WIN_FOLDER
    assert conf.rows == FakeConf(rows_outdated()).rows


def test_before_mia_03_format_1_0_is_fine():
    conf = FakeConf([("Mzdy", 1, "1.0")])
    host = FakeHost(PowerShell(), conf, [], version="mia.02.5")
    result = run_action(host, dict(path=WIN_FOLDER))
    assert result["changed"] is False and result["ran"] is False and host.commands == []
    assert result["required_format"] == "1.0" and result["format_conversion"] is False


def test_nothing_outdated_starts_nothing_unless_update_all():
    conf = FakeConf([("Sklad", 1, "2.02")])
    host = FakeHost(PowerShell(), conf, ["settled"])
    result = run_action(host, dict(path=WIN_FOLDER))
    assert result["changed"] is False and host.commands == [] and "K2 was not started" in result["msg"]
    result = run_action(host, dict(path=WIN_FOLDER, mode="update_all", extension_set="test"))
    assert result["ran"] is True and result["changed"] is False and "failed" not in result
    assert "-ArgumentList @('EXTENSIONS=UPDATE_ALL', 'EXTENSIONS.EXT=test', 'RSOFF=1')" in host.commands[0]


def test_settled_but_still_outdated_fails_with_the_settle_hint():
    conf = FakeConf([("Mzdy", 1, "1.0"), ("Sklad", 0, "2.02")])
    host = FakeHost(PowerShell(), conf, ["settled"])
    result = run_action(host, dict(path=WIN_FOLDER))
    assert result["failed"] is True
    assert result["msg"] == ("K2 stayed up after 1 attempt(s) but these extensions are still not current in format 2.02: Sklad "
                             "(K2 is stopped once it has settled: raise settle_seconds if the update takes longer)")
    assert result["changed"] is True and result["updated"] == ["Mzdy"]


def test_a_k2_that_survives_the_kill_is_a_failure():
    host = FakeHost(PowerShell(), FakeConf(rows_outdated()), ["stuck"])
    result = run_action(host, dict(path=WIN_FOLDER))
    assert result["failed"] is True and result["attempts"][0]["outcome"] == "failed"
    assert result["attempts"][0]["detail"] == "K2 (pid 4242) was still running after it was stopped"
    assert result["msg"].startswith("K2 failed on attempt 1")


def test_sh_uses_the_restart_exit_code_and_the_timeout():
    conf = FakeConf(rows_outdated())
    host = FakeHost(Sh(), conf, ["restart", "timeout"])
    result = run_action(host, dict(path="/srv/k2", restart_exit_code=42, timeout=7))
    assert host.commands[0] == core.sh_command("/srv/k2/k2.exe", "/srv/k2", ["EXTENSIONS=UPDATE", "RSOFF=1"], 7)
    assert [(a["outcome"], a["exit_code"]) for a in result["attempts"]] == [("restart", 42), ("timeout", 124)]
    assert result["attempts"][1]["detail"] == "the K2 process group was killed after timeout=7 s"
    assert result["failed"] is True and result["msg"] == "K2 did not finish attempt 2 within timeout=7 s; its process tree was killed: K2: timeout"


def test_definitions_are_listed_and_judged():
    files = {WIN_FOLDER + "\\def\\Mzdy.xml": b'<R Format="1.0"/>', WIN_FOLDER + "\\def\\Sklad.xml": b'<R Format="2.02"/>',
             "MISSING E:\\nic": b""}
    host = FakeHost(PowerShell(), FakeConf([("Sklad", 1, "2.02")]), [], files=files)
    result = run_action(host, dict(path=WIN_FOLDER, definitions_path=[WIN_FOLDER + "\\def", "E:\\nic"]))
    assert result["definitions_to_convert"] == [{"path": WIN_FOLDER + "\\def\\Mzdy.xml", "format": "1.0", "reason": "format 1.0 is older than 2.02"}]
    assert result["definitions_missing"] == ["E:\\nic"]
    assert host.commands == [core.xml_list_command("powershell", [WIN_FOLDER + "\\def", "E:\\nic"])]


@pytest.mark.parametrize("args, fragment", [
    (dict(settle_seconds=60, timeout=60), "settle_seconds (60) must be shorter than timeout (60)"),
    (dict(max_restarts=-1), "max_restarts must be at least 0"),
    (dict(extension_set="a b"), "extension_set must be a folder suffix"),
    (dict(installed_version="banana.1"), "installed version: K2 version 'banana.1'"),
])
def test_bad_parameters_fail_clearly(args, fragment):
    host = FakeHost(PowerShell(), FakeConf(rows_outdated()), [])
    result = run_action(host, dict(path=WIN_FOLDER, **args))
    assert result["failed"] is True and fragment in result["msg"] and host.commands == []


def torso_names(action, path):  # pylint: disable=unused-argument
    return ["k2.ini", "sysk2.ini"]


def test_missing_folder_and_torso_fail_clearly():
    host = FakeHost(PowerShell(), FakeConf(rows_outdated()), [])
    result = run_action(host, dict(path="D:\\nic"))
    assert result["failed"] is True and "does not exist" in result["msg"]
    host.list_names = torso_names
    result = run_action(host, dict(path=WIN_FOLDER))
    assert result["failed"] is True and "holds no K2 executable" in result["msg"] and "torso" in result["msg"]
