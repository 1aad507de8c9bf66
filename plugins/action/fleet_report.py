# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for ``erpops.upgrade.fleet_report``: write the fleet report on the controller.

The report is built by the pure ``module_utils.fleet_report`` and written here, in the
controller process (in AWX: the execution environment), whatever host the task runs
for. Each file is written to a temporary name in the destination folder and renamed
into place, so a reader never sees half a report.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from datetime import datetime, timezone

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from jinja2 import TemplateError

from ansible_collections.erpops.upgrade.plugins.module_utils.fleet_report import (
    FAILED, NO_GO, MergeError, build_report, merge_reports, to_json)
from ansible_collections.erpops.upgrade.plugins.plugin_utils.fleet_report_html import default_template_text, render_html

ARGUMENT_SPEC = {
    "sites": {"type": "list", "elements": "dict"},
    "reports": {"type": "list", "elements": "raw"},
    "template": {"type": "str"},
    "dest": {"type": "path", "required": True},
    "name": {"type": "str", "default": "fleet-report"},
    "timestamped": {"type": "bool", "default": True},
    "title": {"type": "str"},
    "playbook": {"type": "str"},
    "secrets": {"type": "list", "elements": "str", "no_log": True, "default": []},
    "mode": {"type": "raw", "default": "0644"},
}


def write_atomically(path: str, text: str, mode: int) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``."""
    directory = os.path.dirname(path) or "."
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(to_bytes(text, errors="surrogate_or_strict"))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def file_mode(value) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise AnsibleActionFail("mode must be an octal string such as '0644', got %r" % (value,)) from None


class ActionModule(ActionBase):
    """Build the fleet report and write its JSON and HTML files on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def _template_text(self, template):
        if not template:
            return default_template_text()
        path = template if os.path.isabs(template) else self._find_needle("templates", template)
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise AnsibleActionFail("cannot read the fleet report template %s: %s" % (path, to_text(exc))) from None

    @staticmethod
    def _load_reports(items):
        """Report dicts, JSON files and glob patterns of JSON files, in the order given."""
        reports = []
        for item in items:
            if isinstance(item, dict):
                reports.append(item)
                continue
            paths = sorted(glob.glob(os.path.expanduser(str(item))))
            if not paths:
                raise AnsibleActionFail("no fleet report matches %s" % item)
            for path in paths:
                try:
                    with open(path, encoding="utf-8") as handle:
                        reports.append(json.load(handle))
                except (OSError, ValueError) as exc:
                    raise AnsibleActionFail("cannot read the fleet report %s: %s" % (path, to_text(exc))) from None
        return reports

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC,
                                                        required_one_of=[["sites", "reports"]],
                                                        mutually_exclusive=[["sites", "reports"]])
        now = datetime.now(timezone.utc).replace(microsecond=0)
        if args["reports"] is not None:
            try:
                report = merge_reports(self._load_reports(args["reports"]), title=args["title"], generated_at=now.isoformat())
            except MergeError as exc:
                raise AnsibleActionFail(to_text(exc)) from None
        else:
            report = build_report(args["sites"], title=args["title"] or "Fleet report", generated_at=now.isoformat(),
                                  playbook=args["playbook"], secrets=args["secrets"])
        try:
            page = render_html(report, self._template_text(args["template"]))
        except (TemplateError, AnsibleError) as exc:
            raise AnsibleActionFail("cannot render the fleet report page: %s" % to_text(exc)) from None
        name = args["name"] + ("-" + now.strftime("%Y%m%dT%H%M%SZ") if args["timestamped"] else "")
        json_path = os.path.join(args["dest"], name + ".json")
        html_path = os.path.join(args["dest"], name + ".html")
        result.update(json_path=json_path, html_path=html_path, summary=report["summary"],
                      failed_sites=[row["site"] for row in report["rows"] if row["status"] == FAILED],
                      nogo_sites=[row["site"] for row in report["rows"] if row["status"] == NO_GO],
                      summary_lines=[row.get("summary_line") or row["site"] for row in report["rows"]],
                      rows=report["rows"], title=report["title"], generated_at=report["generated_at"],
                      playbook=report.get("playbook"), changed=True)
        if self._task.check_mode:
            return result
        try:
            os.makedirs(args["dest"], exist_ok=True)
            mode = file_mode(args["mode"])
            write_atomically(json_path, to_json(report), mode)
            write_atomically(html_path, page, mode)
        except OSError as exc:
            raise AnsibleActionFail("cannot write the fleet report in %s: %s" % (args["dest"], to_text(exc))) from None
        return result
