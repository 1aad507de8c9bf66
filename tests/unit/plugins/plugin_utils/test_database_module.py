# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A database module's run in the controller's process (plugin_utils.database_module), on a stand-in database."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import pytest

from ansible_collections.erpops.upgrade.plugins.action import k2_login_ban as ban_action
from ansible_collections.erpops.upgrade.plugins.action import k2_reinstall_mode as mode_action
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.modules import k2_login_ban, k2_reinstall_mode


class Conf:
    """The REINSTALACE row as k2_login_ban reads and writes it; the writes are kept."""

    def __init__(self):
        self.row = {"ban_enabled": 0, "ban_from": None, "ban_message": None, "ban_user": None}
        self.executed = []

    def query(self, sql, params=()):
        return [dict(self.row)]

    def execute(self, sql, params=(), dont_exec=False):
        self.executed.append(sql)
        if not dont_exec:
            self.row.update(zip(("ban_enabled", "ban_from", "ban_message", "ban_user"), params))
        return 1

    @contextmanager
    def transaction(self):
        yield self

    def close(self):
        pass


def action(plugin, args, connection="local", check_mode=False, diff=False, become=False):
    task = mock.MagicMock()
    task.args = dict({"conf_database": "K2_CONF", "db_platform": "lab"}, **args)
    task.action = "erpops.upgrade." + plugin.__name__.rsplit(".", 1)[1]
    task.async_val = 0
    task.check_mode, task.diff = check_mode, diff
    conn = mock.MagicMock()
    conn._load_name = connection
    play_context = mock.MagicMock()
    play_context.become = become
    return plugin.ActionModule(task, conn, play_context, mock.MagicMock(), mock.MagicMock(), mock.MagicMock())


WANTED = {"state": "present", "start": "now", "timezone": "Europe/Prague", "exempt_user": "ADMIN"}


def test_on_the_controller_the_module_runs_in_process_with_check_mode_and_diff(monkeypatch):
    conf = Conf()
    monkeypatch.setattr(k2_login_ban.k2db, "connect", lambda params, database: conf)
    dry = action(ban_action, WANTED, check_mode=True, diff=True)
    with mock.patch.object(dry, "_execute_module") as remote:
        result = dry.run(task_vars={})
    assert not remote.called and result["changed"] is True and result["written_at"] is None
    assert result["diff"]["after"]["enabled"] is True and conf.row["ban_enabled"] == 0
    result = action(ban_action, WANTED).run(task_vars={})
    assert result["changed"] is True and result["ban"]["active"] and result["written_at"] and conf.row["ban_enabled"] == 1
    assert action(ban_action, WANTED).run(task_vars={})["changed"] is False


def test_bad_input_and_a_refusal_fail_as_the_module_does(monkeypatch):
    conf = Conf()
    monkeypatch.setattr(k2_login_ban.k2db, "connect", lambda params, database: conf)
    result = action(ban_action, dict(WANTED, exempt_user=None)).run(task_vars={})
    assert result["failed"] is True and "exempt_user is required" in result["msg"] and conf.executed == []

    def unreachable(params, database):
        raise k2db.DatabaseError(k2db.SERVER_NOT_ANSWERING, "lab server x port 1: not answering")

    monkeypatch.setattr(k2_reinstall_mode.k2db, "connect", unreachable)
    result = action(mode_action, {"state": "absent"}).run(task_vars={})
    assert result["failed"] is True and result["msg"] == str(k2db.DatabaseError(k2db.SERVER_NOT_ANSWERING, "lab server x port 1: not answering"))


@pytest.mark.parametrize("connection, become", [("ssh", False), ("ansible.windows.psrp", False), ("local", True)])
def test_elsewhere_the_module_runs_as_usual(connection, become):
    remote = action(ban_action, WANTED, connection=connection, become=become)
    with mock.patch.object(remote, "_execute_module", return_value={"changed": True, "ran": "module"}) as execute:
        result = remote.run(task_vars={})
    assert result["ran"] == "module" and execute.call_args.kwargs["module_name"] == "erpops.upgrade.k2_login_ban"


def test_fail_json_and_warnings_come_back_as_the_module_would_print_them():
    class Refusing:
        @staticmethod
        def argument_spec():
            return {"conf_database": {"type": "str", "required": True}, "db_platform": {"type": "str"}}

        @staticmethod
        def run(module):
            module.warn("the ban is not set")
            module.fail_json(msg="reinstall mode cannot be set (K2-17): logins are not banned", reasons=["logins are not banned"], changed=False)

    plugin = action(ban_action, {})
    plugin.MODULE = Refusing
    result = plugin.run(task_vars={})
    assert result["failed"] is True and result["reasons"] == ["logins are not banned"] and result["warnings"] == ["the ban is not set"]


def test_a_password_in_what_the_module_returns_is_masked_as_a_module_would_mask_it(monkeypatch):
    def leaky(params, database):
        raise k2db.DatabaseError(k2db.SERVER_NOT_ANSWERING, "login k2 with password %s refused" % params["login_password"])

    monkeypatch.setattr(k2_reinstall_mode.k2db, "connect", leaky)
    result = action(mode_action, {"state": "absent", "login_password": "Tajne-Heslo-7"}).run(task_vars={})
    assert result["failed"] is True and "refused" in result["msg"]
    assert "Tajne-Heslo-7" not in repr(result) and "********" in result["msg"]
