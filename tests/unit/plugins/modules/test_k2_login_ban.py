# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_login_ban's module code on a stand-in database that keeps the ban row in memory."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.erpops.upgrade.plugins.modules import k2_login_ban

NOW = datetime(2025, 3, 5, 14, 0, tzinfo=timezone.utc)


class BanTable:
    """One REINSTALACE row; ``execute`` applies the module's UPDATE by its bind parameters."""

    def __init__(self, rows):
        self.rows = rows
        self.executed = []
        self.closed = False

    def query(self, sql, params=()):
        assert sql.startswith("SELECT") and '"REINSTALACE"' in sql
        return [dict(r) for r in self.rows]

    def execute(self, sql, params=(), dont_exec=False):
        self.executed.append(sql)
        if not dont_exec:
            enabled, start, message, user = params
            for row in self.rows:
                row.update(ban_enabled=enabled, ban_from=start, ban_message=message, ban_user=user)
        return len(self.rows)

    @contextmanager
    def transaction(self):
        yield self

    def close(self):
        self.closed = True


def run_module(monkeypatch, table, check=False, diff=False, **args):
    monkeypatch.setattr(k2_login_ban.k2db, "connect", lambda params, database: table)
    monkeypatch.setattr(k2_login_ban, "datetime", type("FrozenDatetime", (datetime,), {"now": classmethod(lambda cls, tz=None: NOW)}))
    args = dict(dict(conf_database="K2_CONF", db_platform="lab", _ansible_check_mode=check, _ansible_diff=diff), **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            k2_login_ban.main()


def output(capsys):
    return json.loads(capsys.readouterr().out)


def fresh():
    return BanTable([{"ban_enabled": 0, "ban_from": None, "ban_message": None, "ban_user": None}])


WANTED = dict(start="2025-03-05T18:00", timezone="Europe/Prague", ban_message="Od %s reinstalace", exempt_user="ADMIN")


def test_check_mode_and_diff_write_nothing(monkeypatch, capsys):
    table = fresh()
    run_module(monkeypatch, table, check=True, diff=True, **WANTED)
    result = output(capsys)
    assert result["changed"] is True
    assert result["diff"]["after"] == {"enabled": True, "start": "2025-03-05 18:00:00", "message": "Od %s reinstalace", "exempt_user": "ADMIN"}
    assert result["ban"]["message_shown"] == "Od 5.3.2025 18:00 reinstalace" and result["ban"]["status"] == "pending"
    assert table.rows[0]["ban_enabled"] == 0 and table.closed and result["written_at"] is None


def test_set_then_idempotent_then_lift(monkeypatch, capsys):
    table = fresh()
    run_module(monkeypatch, table, **WANTED)
    result = output(capsys)
    assert result["changed"] is True and datetime.fromisoformat(result["written_at"]).tzinfo is not None
    assert table.rows[0] == {"ban_enabled": 1, "ban_from": datetime(2025, 3, 5, 18, 0), "ban_message": "Od %s reinstalace", "ban_user": "ADMIN"}
    run_module(monkeypatch, table, **WANTED)
    result = output(capsys)
    assert result["changed"] is False and result["written_at"] is None
    run_module(monkeypatch, table, state="absent")
    result = output(capsys)
    assert result["changed"] is True and result["ban"]["status"] == "lifted" and table.rows[0]["ban_enabled"] == 0


@pytest.mark.parametrize("args,fragment", [
    (dict(WANTED, ban_message="%s a %s"), "holds 2 %s"),
    (dict(WANTED, ban_message="%d"), "'%d'"),
    (dict(WANTED, start="2025-03-05T10:00"), "lies in the past"),
    (dict(WANTED, timezone=None), "no time zone"),
    (dict(WANTED, exempt_user=None), "exempt_user is required"),
])
def test_bad_input_fails_and_changes_nothing(monkeypatch, capsys, args, fragment):
    table = fresh()
    run_module(monkeypatch, table, **args)
    result = output(capsys)
    assert result["failed"] is True and fragment in result["msg"]
    assert table.rows[0]["ban_enabled"] == 0 and not table.executed


@pytest.mark.parametrize("rows", [[], [{"ban_enabled": 0}, {"ban_enabled": 1}]])
def test_not_exactly_one_row_fails(monkeypatch, capsys, rows):
    run_module(monkeypatch, BanTable(rows), **WANTED)
    result = output(capsys)
    assert result["failed"] is True and "exactly one" in result["msg"]
