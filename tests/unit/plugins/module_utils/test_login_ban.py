# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""login_ban: start parsing, message checks and rendering, planning, SQL per dialect."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from ansible_collections.erpops.upgrade.plugins.module_utils import login_ban
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile

PRAGUE = login_ban.resolve_zone("Europe/Prague")
NOW = datetime(2025, 3, 5, 14, 7, 31, 123456, tzinfo=timezone.utc)  # 15:07:31 in Prague (CET)
NO_BAN = {"enabled": False, "start": None, "message": "", "exempt_user": ""}


@pytest.mark.parametrize("text,expected", [
    ("+2h", datetime(2025, 3, 5, 16, 7, tzinfo=timezone.utc)),
    ("+30m", datetime(2025, 3, 5, 14, 37, tzinfo=timezone.utc)),
    ("+1d", datetime(2025, 3, 6, 14, 7, tzinfo=timezone.utc)),
    ("+1d2h30m", datetime(2025, 3, 6, 16, 37, tzinfo=timezone.utc)),
    ("now", datetime(2025, 3, 5, 14, 7, tzinfo=timezone.utc)),
    ("2025-03-05T18:00+01:00", datetime(2025, 3, 5, 17, 0, tzinfo=timezone.utc)),
    ("2025-03-05 17:00Z", datetime(2025, 3, 5, 17, 0, tzinfo=timezone.utc)),
])
def test_start_forms(text, expected):
    assert login_ban.parse_start(text, NOW, None) == expected


def test_naive_start_needs_a_zone():
    with pytest.raises(login_ban.BanError, match="no time zone"):
        login_ban.parse_start("2025-03-05T18:00", NOW, None)
    moment = login_ban.parse_start("2025-03-05T18:00", NOW, PRAGUE)
    assert moment.astimezone(timezone.utc) == datetime(2025, 3, 5, 17, 0, tzinfo=timezone.utc)
    # summer time: Prague is UTC+2
    assert login_ban.parse_start("2025-07-01T18:00", NOW, PRAGUE).utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("text", ["", "tomorrow", "+", "+2x", "2025-13-01T00:00Z", "-2h"])
def test_bad_starts_are_refused(text):
    with pytest.raises(login_ban.BanError):
        login_ban.parse_start(text, NOW, PRAGUE)


@pytest.mark.parametrize("name,offset", [("UTC", 0), ("+01:00", 60), ("-0530", -330), ("GMT+2", 120)])
def test_fixed_offsets(name, offset):
    assert login_ban.resolve_zone(name).utcoffset(None) == timedelta(minutes=offset)


def test_unknown_zone_is_refused():
    with pytest.raises(login_ban.BanError, match="not a known time zone"):
        login_ban.resolve_zone("Europe/Atlantis")


@pytest.mark.parametrize("message", ["", "Reinstalace", "Od %s nelze", "100%% hotovo od %s", "{0} is literal text", "%%s is literal"])
def test_good_messages(message):
    login_ban.check_message(message)


@pytest.mark.parametrize("message,fragment", [
    ("Od %s do %s", "holds 2 %s"),
    ("Od %d", "'%d'"),
    ("Od %5s", "'%5s'"),
    ("Od %0:s", "'%0:s'"),
    ("Od %S", "'%S'"),
    ("100 %", "lone % at position 5"),
    ("%s a 50% sleva", "lone % at position 8"),
    ("Od %1", "'%1'"),
])
def test_bad_messages(message, fragment):
    with pytest.raises(login_ban.BanError) as info:
        login_ban.check_message(message)
    assert fragment in str(info.value)


def test_render_like_k2():
    start = datetime(2025, 3, 5, 8, 5)
    assert login_ban.k2_format(start) == "5.3.2025 8:05"
    assert login_ban.render_message("Od %s reinstalace (100%%)", start) == "Od 5.3.2025 8:05 reinstalace (100%)"
    assert login_ban.render_message("Bez data, %%s zůstane", start) == "Bez data, %s zůstane"
    assert login_ban.render_message(None, start) == ""


def test_plan_sets_ban_in_the_site_zone():
    wanted, zone = login_ban.plan(NO_BAN, "present", "2025-03-05T18:00Z", "Od %s", "ADMIN", NOW, PRAGUE, False)
    assert wanted == {"enabled": True, "start": datetime(2025, 3, 5, 19, 0), "message": "Od %s", "exempt_user": "ADMIN"}
    assert login_ban.status(wanted, NOW, zone) == "pending"
    assert login_ban.status(wanted, NOW + timedelta(hours=5), zone) == "active"


def test_plan_without_zone_keeps_the_given_offset():
    wanted, zone = login_ban.plan(NO_BAN, "present", "2025-03-05T18:00+01:00", None, "ADMIN", NOW, None, False)
    assert wanted["start"] == datetime(2025, 3, 5, 18, 0)
    assert zone.utcoffset(None) == timedelta(hours=1)


def test_relative_start_does_not_postpone_a_set_ban():
    current = {"enabled": True, "start": datetime(2025, 3, 5, 16, 0), "message": "Od %s", "exempt_user": "ADMIN"}
    wanted, _zone = login_ban.plan(current, "present", "+2h", "Od %s", "ADMIN", NOW, PRAGUE, False)
    assert wanted == current
    # a lifted ban gets a new start
    lifted = dict(current, enabled=False)
    wanted, _zone = login_ban.plan(lifted, "present", "+2h", "Od %s", "ADMIN", NOW, PRAGUE, False)
    assert wanted["start"] == datetime(2025, 3, 5, 17, 7)


def test_past_start_is_refused_unless_allowed_or_stored():
    with pytest.raises(login_ban.BanError, match="lies in the past"):
        login_ban.plan(NO_BAN, "present", "2025-03-05T10:00Z", "x", "ADMIN", NOW, PRAGUE, False)
    wanted, zone = login_ban.plan(NO_BAN, "present", "2025-03-05T10:00Z", "x", "ADMIN", NOW, PRAGUE, True)
    assert login_ban.status(wanted, NOW, zone) == "active"
    stored = dict(wanted)
    again, _zone = login_ban.plan(stored, "present", "2025-03-05T10:00Z", "x", "ADMIN", NOW, PRAGUE, False)
    assert again == stored


def test_absent_only_clears_the_flag():
    current = {"enabled": True, "start": datetime(2025, 3, 5, 16, 0), "message": "Od %s", "exempt_user": "ADMIN"}
    wanted, zone = login_ban.plan(current, "absent", None, None, None, NOW, PRAGUE, False)
    assert wanted == dict(current, enabled=False)
    assert login_ban.status(wanted, NOW, zone) == "lifted"


@pytest.mark.parametrize("row,expected", [
    ({"ban_enabled": 1, "ban_from": datetime(2025, 3, 5, 18, 0, 0, 997000), "ban_message": "Od %s   ", "ban_user": "ADMIN "},
     {"enabled": True, "start": datetime(2025, 3, 5, 18, 0), "message": "Od %s", "exempt_user": "ADMIN"}),
    ({"BAN_ENABLED": "0", "BAN_FROM": None, "BAN_MESSAGE": None, "BAN_USER": None}, NO_BAN),
    ({"ban_enabled": "A", "ban_from": "2025-03-05 18:00:00", "ban_message": "", "ban_user": ""},
     {"enabled": True, "start": datetime(2025, 3, 5, 18, 0), "message": "", "exempt_user": ""}),
])
def test_rows_of_every_driver(row, expected):
    assert login_ban.row_to_ban(row) == expected


DIALECTS = [("mssql", "tsql"), ("oracle", "oracle"), ("lab", "postgres")]
HOSTILE = merge_profile({"reinstall_manager": {"table": "REIN]STAL'ACE", "ban_message_column": "Zpr[ava"}})


@pytest.mark.parametrize("platform,dialect", DIALECTS)
@pytest.mark.parametrize("profile", [merge_profile(), HOSTILE], ids=["default", "hostile"])
def test_sql_parses_and_names_the_profile(platform, dialect, profile):
    select = login_ban.select_sql(platform, "K2_CONF", profile)
    parsed = sqlglot.parse_one(select, read=dialect, error_level=ErrorLevel.RAISE)
    assert profile["reinstall_manager"]["table"] in {t.name for t in parsed.find_all(sqlglot.exp.Table)}
    wanted = {"enabled": True, "start": datetime(2025, 3, 5, 18, 0), "message": "Od %s", "exempt_user": "ADMIN"}
    update, binds = login_ban.update_sql(platform, "K2_CONF", profile, wanted)
    parsed = sqlglot.parse_one(update, read=dialect, error_level=ErrorLevel.RAISE)
    assert isinstance(parsed, sqlglot.exp.Update)
    columns = [e.this.name for e in parsed.expressions]
    assert columns == [profile["reinstall_manager"][k] for k in ("ban_enabled_column", "ban_from_column", "ban_message_column", "ban_exempt_user_column")]
    values = list(binds.values()) if isinstance(binds, dict) else list(binds)
    assert values == [1, datetime(2025, 3, 5, 18, 0), "Od %s", "ADMIN"]
    assert "Od %s" not in update  # values travel as bind parameters, never in the text


def test_seconds_until_active_counts_down_in_the_sites_zone():
    now = datetime(2025, 3, 5, 16, 59, 30, 500000, tzinfo=timezone.utc)  # 17:59:30.5 in Prague
    ban = {"enabled": True, "start": datetime(2025, 3, 5, 18, 0), "message": "", "exempt_user": "ADMIN"}
    assert login_ban.seconds_until_active(ban, now, PRAGUE) == 30
    assert login_ban.seconds_until_active(ban, now + timedelta(seconds=30), PRAGUE) == 0
    assert login_ban.seconds_until_active(ban, now + timedelta(hours=1), PRAGUE) == 0
    assert login_ban.seconds_until_active(dict(ban, start=None), now, PRAGUE) == 0
    assert login_ban.seconds_until_active(dict(ban, enabled=False), now, PRAGUE) is None
