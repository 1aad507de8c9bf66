# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outage of a site: how long nobody could work, and where the steps' time went.

Pure: no I/O. ``measure`` takes the steps a run recorded (``{name, started, ended, result,
window}``, times as ISO 8601 text or aware datetimes) and the times the ban came into force
and was lifted, and answers:

- ``outage_seconds``: ban in force -> ban lifted (up to ``now`` while the ban is still on,
  with ``open`` true; None before the ban);
- ``windows``: the steps' time that fell before the ban, inside the outage and after it, by
  the clock (a step that spans the ban's start is split at it);
- ``declared``: the same time summed by each step's own ``window`` (``before``, ``inside``,
  ``after``), and ``misplaced``: steps that ran (partly) outside the window they declare;
- ``steps``: each attempt with its seconds, and ``unfinished``: attempts with no end (counted
  up to ``now`` when it is given, else not counted).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional, Sequence, Union

WINDOWS = ("before", "inside", "after")
Moment = Union[str, datetime, None]


def _time(value: Moment) -> Optional[datetime]:
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time %r has no time zone" % (value,))
    return moment.astimezone(timezone.utc)


def _overlap(start: datetime, end: datetime, low: Optional[datetime], high: Optional[datetime]) -> float:
    """Seconds of [start, end] inside [low, high] (None: unbounded)."""
    begin = max(start, low) if low else start
    finish = min(end, high) if high else end
    return max(0.0, (finish - begin).total_seconds())


def split(start: datetime, end: datetime, ban_on: Optional[datetime], ban_off: Optional[datetime]) -> Dict[str, float]:
    """Seconds of one interval before the ban, inside the outage, after it."""
    if ban_on is None:
        return {"before": (end - start).total_seconds(), "inside": 0.0, "after": 0.0}
    before = _overlap(start, end, None, ban_on)
    inside = _overlap(start, end, ban_on, ban_off)
    after = _overlap(start, end, ban_off, None) if ban_off else 0.0
    return {"before": before, "inside": inside, "after": after}


def measure(steps: Sequence[Mapping[str, Any]], ban_on: Moment, ban_off: Moment, now: Moment = None) -> Dict[str, Any]:
    """The outage and where the steps' time went (see the module's docstring)."""
    on, off, at = _time(ban_on), _time(ban_off), _time(now)
    if on and off and off < on:
        raise ValueError("the ban was lifted (%s) before it came into force (%s)" % (ban_off, ban_on))
    outage_end = off or at
    result: Dict[str, Any] = {
        "ban_on": on.isoformat() if on else None, "ban_off": off.isoformat() if off else None,
        "outage_seconds": round((outage_end - on).total_seconds(), 3) if on and outage_end else None,
        "open": bool(on and not off),
        "windows": dict.fromkeys(WINDOWS, 0.0), "declared": dict.fromkeys(WINDOWS, 0.0),
        "steps": [], "misplaced": [], "unfinished": [],
    }
    for entry in steps:
        start, end = _time(entry.get("started")), _time(entry.get("ended"))
        window = entry.get("window") or "inside"
        if window not in WINDOWS:
            raise ValueError("step %s: window %r is none of %s" % (entry.get("name"), window, ", ".join(WINDOWS)))
        if start is None:
            continue
        if end is None:
            result["unfinished"].append(entry.get("name"))
            if at is None:
                continue
            end = at
        if end < start:
            raise ValueError("step %s ended (%s) before it started (%s)" % (entry.get("name"), entry.get("ended"), entry.get("started")))
        parts = split(start, end, on, off)
        seconds = (end - start).total_seconds()
        for name in WINDOWS:
            result["windows"][name] += parts[name]
        result["declared"][window] += seconds
        result["steps"].append({"name": entry.get("name"), "window": window, "result": entry.get("result"), "seconds": round(seconds, 3),
                                "before": round(parts["before"], 3), "inside": round(parts["inside"], 3), "after": round(parts["after"], 3)})
        outside = seconds - parts[window]
        if outside > 0:
            result["misplaced"].append({"name": entry.get("name"), "window": window, "seconds_outside": round(outside, 3)})
    for key in ("windows", "declared"):
        result[key] = {name: round(value, 3) for name, value in result[key].items()}
    return result
