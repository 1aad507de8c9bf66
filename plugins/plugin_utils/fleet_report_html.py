# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML page of the fleet report, rendered on the controller from a Jinja2 template.

The default template is ``roles/fleet_report/templates/fleet_report.html.j2``; a user
gives their own with ``fleet_report_template``. The template sees ``report`` (the same
dict as the JSON file) and the filters ``duration`` (seconds as ``2 min 05 s``),
``clock`` (the time of day of an ISO 8601 time), ``short_path`` (the end of a long path)
and ``compact_json``. It is rendered in a
sandbox with autoescape on, so every value from the sites is escaped.
"""

from __future__ import annotations

import json
import os
import re

from jinja2.sandbox import ImmutableSandboxedEnvironment

from ansible_collections.erpops.upgrade.plugins.module_utils.fleet_report import format_duration, short_path

# plugins/plugin_utils/ -> the collection's root -> the role's template
DEFAULT_TEMPLATE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "roles", "fleet_report", "templates", "fleet_report.html.j2")


def _clock(value) -> str:
    """``21:04:10`` from ``2025-02-12T21:04:10+00:00``; anything else as it is."""
    text = "" if value is None else str(value)
    match = re.match(r"\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)", text)
    return match.group(1) if match else text


def _compact_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def render_html(report: dict, template_text: str) -> str:
    """The page for ``report`` from the Jinja2 source ``template_text``."""
    env = ImmutableSandboxedEnvironment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                                        keep_trailing_newline=True)
    env.filters.update(duration=format_duration, clock=_clock, short_path=short_path, compact_json=_compact_json)
    return env.from_string(template_text).render(report=report)


def default_template_text() -> str:
    with open(DEFAULT_TEMPLATE, encoding="utf-8") as handle:
        return handle.read()
