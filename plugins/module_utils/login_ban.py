# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The login ban of K2's Reinstall manager (runbook K2-02): parsing, rendering, SQL.

Pure: no I/O. The module ``k2_login_ban`` reads the ban row with ``select_sql``,
asks ``plan`` what to write and writes it with ``update_sql``.

Assumptions (the table and columns come from the profile entry
``reinstall_manager``):

- K2 keeps one row in that table; the ban is its flag, start, message and exempt user.
- The start is stored as a wall-clock time without a zone (``datetime`` on MS SQL,
  ``DATE`` on Oracle), in the site's time zone.
- K2 replaces ``%s`` in the message as Delphi's ``Format`` does, with the start
  written the Czech way, ``d.m.yyyy H:MM`` (``5.3.2025 8:05``); ``%%`` is a percent sign.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Dict, Mapping, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_mandants import table_ref
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    HAS_ZONEINFO = True
except ImportError:  # Python 3.8: only fixed offsets
    ZoneInfo = None
    ZoneInfoNotFoundError = KeyError
    HAS_ZONEINFO = False

_RELATIVE = re.compile(r"^\+\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$", re.IGNORECASE)
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2}):?(\d{2})?$", re.IGNORECASE)
# Delphi Format directive: % [index:] [-] [width] [.prec] type; we only need to find where one starts and ends.
_DIRECTIVE = re.compile(r"%(?:%|(?:\d+:)?-?(?:\d+|\*)?(?:\.(?:\d+|\*))?([A-Za-z])?)")


class BanError(ValueError):
    """Bad input for the ban; the message says what and why, and nothing was changed."""


def resolve_zone(name: Optional[str]) -> Optional[tzinfo]:
    """``Europe/Prague``, ``UTC`` or a fixed offset such as ``+01:00``; None for None."""
    if not name:
        return None
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    match = _OFFSET.match(text)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        return timezone(-delta if sign == "-" else delta)
    if not HAS_ZONEINFO:
        raise BanError("timezone %r: named time zones need Python 3.9 or later (zoneinfo); give an offset such as +01:00" % name)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BanError("timezone %r is not a known time zone (%s)" % (name, exc)) from None


def is_relative(start: str) -> bool:
    text = (start or "").strip().lower()
    return text == "now" or bool(_RELATIVE.match(text) and text != "+")


def parse_start(start: str, now: datetime, zone: Optional[tzinfo]) -> datetime:
    """The ban start as an aware datetime.

    ``now`` is aware. Relative starts (``now``, ``+30m``, ``+2h``, ``+1d``, ``+1d2h30m``)
    count from ``now`` and are cut to the whole minute. An ISO 8601 time must carry its
    offset (``Z`` or ``+01:00``) unless ``zone`` says where a naive time is.
    """
    text = (start or "").strip()
    if not text:
        raise BanError("start is empty; give an ISO 8601 time with its time zone, 'now' or a relative time such as +2h")
    if is_relative(text):
        match = _RELATIVE.match(text.lower())
        days, hours, minutes = (int(g or 0) for g in match.groups()) if match else (0, 0, 0)
        moment = now + timedelta(days=days, hours=hours, minutes=minutes)
        return moment.replace(second=0, microsecond=0)
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise BanError("start %r is neither an ISO 8601 time (2025-03-05T18:00+01:00) nor a relative time (+2h, +30m, +1d)" % start) from None
    if moment.tzinfo is None:
        if zone is None:
            raise BanError("start %r has no time zone; add its offset (2025-03-05T18:00+01:00) or set the timezone option" % start)
        moment = moment.replace(tzinfo=zone)
    return moment.replace(microsecond=0)


def check_message(message: str) -> None:
    """Refuse a message K2 could not format: more than one ``%s`` or any other directive."""
    placeholders = 0
    for match in _DIRECTIVE.finditer(message):
        directive = match.group(0)
        if directive == "%%":
            continue
        if directive == "%s":
            placeholders += 1
            continue
        if directive == "%":
            raise BanError("message: a lone %% at position %d; write %%%% for a percent sign" % (match.start() + 1))
        raise BanError("message: %r at position %d is a format directive K2 cannot fill; only one %%s (the ban's start) "
                       "and %%%% (a percent sign) are allowed" % (directive, match.start() + 1))
    if placeholders > 1:
        raise BanError("message: it holds %d %%s; K2 fills in only one (the ban's start)" % placeholders)


def k2_format(moment: datetime) -> str:
    """``d.m.yyyy H:MM``, as K2 shows dates and times in Czech."""
    return "%d.%d.%d %d:%02d" % (moment.day, moment.month, moment.year, moment.hour, moment.minute)


def render_message(message: Optional[str], wall_clock: Optional[datetime]) -> str:
    """The message as users see it: ``%s`` is the start, ``%%`` a percent sign."""
    if not message:
        return ""
    shown = k2_format(wall_clock) if wall_clock is not None else ""
    return _DIRECTIVE.sub(lambda m: "%" if m.group(0) == "%%" else shown if m.group(0) == "%s" else m.group(0), message)


def wall_clock(moment: datetime, zone: Optional[tzinfo]) -> datetime:
    """The naive time K2 stores: ``moment`` in ``zone`` (or in its own offset)."""
    local = moment.astimezone(zone) if zone is not None else moment
    return local.replace(tzinfo=None)


def _as_datetime(value: Any) -> Optional[datetime]:
    if value is None or isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0) if isinstance(value, datetime) else None
    text = str(value).strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None, microsecond=0)
    except ValueError:
        raise BanError("the stored ban start %r is not a date and time" % text) from None


def _text(value: Any) -> str:
    return "" if value is None else str(value).rstrip()


def row_to_ban(row: Mapping[str, Any]) -> Dict[str, Any]:
    """A row of ``select_sql`` as the ban's fields (start: naive wall clock)."""
    lowered = {str(k).lower(): v for k, v in row.items()}
    enabled = lowered.get("ban_enabled")
    if isinstance(enabled, str):
        enabled = enabled.strip().upper() in ("1", "Y", "YES", "T", "TRUE", "A", "ANO")
    return {"enabled": bool(enabled), "start": _as_datetime(lowered.get("ban_from")),
            "message": _text(lowered.get("ban_message")), "exempt_user": _text(lowered.get("ban_user"))}


def show(ban: Mapping[str, Any]) -> Dict[str, Any]:
    """The ban for output and diff: the start as ``YYYY-MM-DD HH:MM:SS``."""
    start = ban.get("start")
    return {"enabled": ban["enabled"], "start": start.isoformat(sep=" ") if start else None,
            "message": ban["message"], "exempt_user": ban["exempt_user"]}


def plan(current: Mapping[str, Any], state: str, start: Optional[str], message: Optional[str], exempt_user: Optional[str],
         now: datetime, zone: Optional[tzinfo], allow_past: bool) -> Tuple[Dict[str, Any], Optional[tzinfo]]:
    """The wanted ban fields and the zone its wall clock is in.

    ``state=absent`` only clears the flag (K2 keeps the last start and message).
    A relative start keeps the start of a ban that is already set, so that running
    again does not postpone it; an absolute start is written as given.
    A start in the past is refused unless ``allow_past`` or it is already stored.
    """
    wanted = dict(current)
    local_zone = zone or now.astimezone().tzinfo
    if state == "absent":
        wanted["enabled"] = False
        return wanted, local_zone
    if message is not None:
        check_message(message)
        wanted["message"] = message
    if exempt_user is not None:
        wanted["exempt_user"] = exempt_user.strip()
    text = start if start is not None else "now"
    moment = parse_start(text, now, zone)
    if zone is None and not is_relative(text):
        local_zone = moment.tzinfo
    new_start = wall_clock(moment, local_zone)
    keep = current["enabled"] and current.get("start") is not None and is_relative(text)
    if not keep and new_start != current.get("start"):
        if moment < now.replace(second=0, microsecond=0) and not allow_past:
            raise BanError("start %s lies in the past (now is %s); set allow_past to ban from a past time"
                           % (moment.isoformat(), now.astimezone(moment.tzinfo).replace(microsecond=0).isoformat()))
        wanted["start"] = new_start
    wanted["enabled"] = True
    return wanted, local_zone


def status(ban: Mapping[str, Any], now: datetime, zone: Optional[tzinfo]) -> str:
    """``active``, ``pending`` or ``lifted``."""
    if not ban["enabled"]:
        return "lifted"
    start = ban.get("start")
    if start is None:
        return "active"
    return "active" if start.replace(tzinfo=zone or now.astimezone().tzinfo) <= now else "pending"


def seconds_until_active(ban: Mapping[str, Any], now: datetime, zone: Optional[tzinfo]) -> Optional[int]:
    """Whole seconds until the ban is in force (rounded up), 0 once it is, None when it is lifted."""
    if not ban["enabled"]:
        return None
    start = ban.get("start")
    if start is None:
        return 0
    left = (start.replace(tzinfo=zone or now.astimezone().tzinfo) - now).total_seconds()
    return max(0, int(math.ceil(left)))


def _names(platform: str, conf_database: str, profile: Mapping) -> Tuple[str, Dict[str, str]]:
    r = profile["reinstall_manager"]
    q = functools.partial(quote_ident, platform)
    return table_ref(platform, conf_database, r["table"]), {
        "enabled": q(r["ban_enabled_column"]), "start": q(r["ban_from_column"]),
        "message": q(r["ban_message_column"]), "exempt_user": q(r["ban_exempt_user_column"])}


def select_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    table, c = _names(platform, conf_database, profile)
    return "SELECT %s AS ban_enabled, %s AS ban_from, %s AS ban_message, %s AS ban_user FROM %s" % (
        c["enabled"], c["start"], c["message"], c["exempt_user"], table)


def update_sql(platform: str, conf_database: str, profile: Mapping, wanted: Mapping[str, Any]) -> Tuple[str, Any]:
    """The UPDATE that writes ``wanted`` into the one row, with its bind parameters."""
    table, c = _names(platform, conf_database, profile)
    values = [("enabled", 1 if wanted["enabled"] else 0), ("start", wanted.get("start")),
              ("message", wanted.get("message") or None), ("exempt_user", wanted.get("exempt_user") or None)]
    if platform == "oracle":
        sets = ", ".join("%s = :%s" % (c[name], name) for name, _value in values)
        return "UPDATE %s SET %s" % (table, sets), dict(values)
    sets = ", ".join("%s = ?" % c[name] for name, _value in values)
    return "UPDATE %s SET %s" % (table, sets), tuple(value for _name, value in values)
