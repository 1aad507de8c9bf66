# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database password never leaves an action plugin, wherever it stands in the result (plugin_utils.no_log)."""

from __future__ import annotations

import types
from unittest import mock

import pytest

from ansible_collections.erpops.upgrade.plugins.action import comarch_sync_verify, k2_convert, k2_extensions_update, k2_info
from ansible_collections.erpops.upgrade.plugins.action import k2_inputs_check, k2_install_verdict, k2_run, k2_schema_check
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

SECRET = 'pa"ss\\wörd;1'   # a quote, a backslash and a non-ASCII letter: JSON writes the first two escaped
MASK = "********"


def validation(*values):
    return types.SimpleNamespace(_no_log_values=set(values))


def test_a_result_without_the_value_comes_back_as_it_was():
    result = {"state": {"steps": [{"name": "backup", "databases": ["K2_F01"] * 3}]}, "msg": "done"}
    assert masked(result, validation(SECRET)) is result
    assert masked(result, validation()) is result


def test_the_value_is_masked_in_messages_lists_and_nested_results():
    result = {"msg": "login failed: PWD=%s;" % SECRET, "problems": ["x", {"dsn": "UID=sa;PWD=" + SECRET}], "count": 3}
    out = masked(result, validation(SECRET))
    assert SECRET not in repr(out) and out["msg"] == "login failed: PWD=%s;" % MASK
    assert out["problems"][1]["dsn"] == "UID=sa;PWD=" + MASK and out["count"] == 3
    assert SECRET in result["msg"]   # the original is left as it was


def test_a_result_json_cannot_hold_is_walked_all_the_same():
    result = {("K2_F01", "dbo"): "PWD=" + SECRET}
    assert masked(result, validation(SECRET)) == {("K2_F01", "dbo"): "PWD=" + MASK}


def _action(plugin, args, check_mode=False):
    task = mock.MagicMock()
    task.args = dict(args, login_user="k2", login_password=SECRET)
    task.async_val = 0
    task.check_mode, task.diff, task.delegate_to = check_mode, False, None
    return plugin.ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())


def _echoing_driver(*args, **kwargs):
    raise k2db.DatabaseError(k2db.LOGIN_FAILED, "Login failed; the connection string was UID=k2;PWD=%s;" % SECRET)


# each action plugin whose options hold the password, with the step where its driver is reached
DRIVERS = [
    (k2_info, {"path": "C:/K2"}, "_site_facts"),
    (k2_schema_check, {"path": "C:/K2"}, "Run.check"),
    (k2_extensions_update, {"path": "C:/K2"}, "_update"),
    (k2_convert, {"path": "C:/K2", "conf_database": "K2_CONF", "run_id": "r1"}, "_convert"),
    (k2_install_verdict, {"path": "C:/K2", "target_version": "1.0"}, "_evidence"),
    (comarch_sync_verify, {"phase": "before_update", "database": "CDN_FIRMA"}, "_update_phase"),
    (k2_run, {"state": "read", "conf_database": "K2_CONF"}, "_read"),
]


@pytest.mark.parametrize("plugin,args,where", DRIVERS, ids=[entry[0].__name__.rsplit(".", 1)[1] for entry in DRIVERS])
def test_a_driver_error_that_echoes_the_password_is_masked(monkeypatch, plugin, args, where):
    owner = plugin.ActionModule
    if "." in where:
        owner, where = getattr(plugin, where.split(".")[0]), where.split(".")[1]
    monkeypatch.setattr(owner, where, _echoing_driver)
    result = _action(plugin, args).run(task_vars={})
    assert result["failed"] is True and "Login failed" in result["msg"]
    assert SECRET not in repr(result) and "PWD=" + MASK in result["msg"]


def test_an_inputs_check_reason_that_echoes_the_password_is_masked(monkeypatch):
    def release(self, args, profile, notes):
        return {"reasons": ["cannot reach the CONF database with PWD=%s" % SECRET]}
    for name in ("_installer", "_k2_ini", "_backup_target"):
        monkeypatch.setattr(k2_inputs_check.ActionModule, name, lambda self, *a: None)
    monkeypatch.setattr(k2_inputs_check.ActionModule, "_release", release)
    result = _action(k2_inputs_check, {"path": "C:/K2", "target_version": "1.0"}).run(task_vars={})
    assert result["go"] is False and SECRET not in repr(result) and result["reasons"] == ["cannot reach the CONF database with PWD=" + MASK]
