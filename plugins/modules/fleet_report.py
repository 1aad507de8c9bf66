#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the fleet_report action; the work is done by the action plugin of the same name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_report
short_description: Write the fleet report of a K2 or Comarch run as JSON and as one HTML page
version_added: 0.1.0
description:
  - Builds one row per site from what the run recorded (go or no-go, versions from and to, upgrade kind,
    the site's own start, end and duration, each step with its result and duration, the outage from ban on
    to ban off, findings per kind, backup manifest, what to do next) and writes
    C(<name>.json) and C(<name>.html) on the controller (in AWX, in the execution environment).
  - When a step's result carries the site's run state (C(state) with C(started), C(finished), C(status),
    C(steps) and C(outage)), times and steps come from it; otherwise from the times the play noted
    and one entry per reported result.
  - Notes of the preflight that a finished step of the run has settled (no verified backup, after a backup) are left out.
  - Failed sites come first, then no-go sites, then the rest.
  - With O(reports) instead of O(sites), merges the reports of several slices of one run (AWX job slicing) into one.
  - The HTML page is rendered from a Jinja2 template (O(template)); the default one is self-contained (inline CSS,
    no scripts, no external resources) and fits a 1,400 px wide window (long paths are shortened, the whole path on hover).
    Autoescape is on, so every text is escaped.
  - No secrets reach the files; values under secret-looking keys (password, secret, token, credential,
    api_key...) are replaced, C(password=...) and C(PWD=...) in text are masked, and every value of
    O(secrets) is masked wherever it appears.
  - Each file is written to a temporary name in O(dest) and renamed into place.
  - Normally called by the role C(erpops.upgrade.fleet_report), which collects O(sites) from C(hostvars).
  - This is an action plugin. The module file only documents it.
options:
  sites:
    description:
      - One dict per site, with the keys C(site), C(customer), C(reached_end) (false when the host dropped out
        of the run), C(started), C(finished) (ISO 8601), C(failure) (C(task) and C(msg)), and C(steps), a dict of
        step name to the step's fact or registered result.
      - Required unless O(reports) is given.
    type: list
    elements: dict
  reports:
    description:
      - Reports to merge into one instead of building one from O(sites); each is a report dict (the JSON file's content,
        or the C(fleet_report_part_*) artifacts of a sliced AWX job) or the path or glob pattern of report JSON files.
      - A site found in several reports keeps the row of the newest report.
    type: list
    elements: raw
  template:
    description:
      - Jinja2 template of the HTML page; a relative path is searched like M(ansible.builtin.template) searches its C(src).
      - It sees C(report) (the JSON file's content) and the filters C(duration), C(short_path) and C(compact_json).
      - Default, the role's C(templates/fleet_report.html.j2).
    type: str
  dest:
    description: Folder on the controller for the two files; created when missing.
    type: path
    required: true
  name:
    description: Base name of the files.
    type: str
    default: fleet-report
  timestamped:
    description: Append the UTC time (C(-YYYYMMDDTHHMMSSZ)) to O(name), so runs do not overwrite each other.
    type: bool
    default: true
  title:
    description: Title of the report; default C(Fleet report), or when merging, the titles of the merged reports.
    type: str
  playbook:
    description: Name of the playbook, shown under the title.
    type: str
  secrets:
    description: Values to mask wherever they appear, such as the database passwords of the sites.
    type: list
    elements: str
    default: []
  mode:
    description: File mode of the two files, as an octal string.
    type: raw
    default: "0644"
extends_documentation_fragment:
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
attributes:
  check_mode:
    support: full
    details: The report is built and returned, not written (see the notes).
  diff_mode:
    support: none
notes:
  - In check mode the report is built and returned but not written; the role runs this task with C(check_mode=false),
    so a dry run also leaves its report.
author:
  - erpops.upgrade contributors (@erpops)
"""

EXAMPLES = r"""
- name: Merge the reports of the slices of a sliced job into one
  erpops.upgrade.fleet_report:
    dest: /var/lib/erpops/reports
    name: k2-reinstall-merged
    reports:
      - /var/lib/erpops/reports/k2-reinstall-2025*.json
  delegate_to: localhost

- name: Write the fleet report
  erpops.upgrade.fleet_report:
    dest: /var/lib/erpops/reports
    title: K2 precheck
    sites:
      - site: north
        customer: acme
        reached_end: true
        steps:
          preflight: "{{ hostvars['north'].k2_preflight_result }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
json_path:
  description: The JSON file.
  returned: always
  type: str
  sample: /var/lib/erpops/reports/fleet-report-20250212T210915Z.json
html_path:
  description: The HTML page.
  returned: always
  type: str
  sample: /var/lib/erpops/reports/fleet-report-20250212T210915Z.html
summary:
  description: Number of sites per result.
  returned: always
  type: dict
  sample: {"failed": 1, "no-go": 0, "changed": 0, "go": 9, "ok": 0}
nogo_sites:
  description: The sites that were no-go.
  returned: always
  type: list
  elements: str
  sample: [far]
summary_lines:
  description: One line per site, failed sites first; every fact said once.
  returned: always
  type: list
  elements: str
  sample: ["far          NO-GO   luna.05 -> ori.09; install gaia.13 first (K2-10) NEXT: Resolve the reasons, then run the precheck again ..."]
title:
  description: Title of the report.
  returned: always
  type: str
  sample: K2 reinstall
generated_at:
  description: When the report was built (UTC, ISO 8601).
  returned: always
  type: str
  sample: "2025-02-12T21:09:15+00:00"
playbook:
  description: The playbook (play) the report is of.
  returned: always
  type: str
  sample: K2 reinstall fleet report
failed_sites:
  description: The sites whose run failed.
  returned: always
  type: list
  elements: str
  sample: [south]
rows:
  description: The rows of the report, failed sites first.
  returned: always
  type: list
  elements: dict
  sample: [{"site": "north", "status": "changed", "duration_seconds": 41.2, "steps": [{"name": "backup", "status": "ok",
            "duration_seconds": 6.1}], "outage": {"ban_on": "2025-02-12T21:00:02+00:00", "ban_off": "2025-02-12T21:00:40+00:00",
            "seconds": 38.0, "still_on": false}}]
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sites=dict(type="list", elements="dict"),
            reports=dict(type="list", elements="raw"),
            template=dict(type="str"),
            dest=dict(type="path", required=True),
            name=dict(type="str", default="fleet-report"),
            timestamped=dict(type="bool", default=True),
            title=dict(type="str"),
            playbook=dict(type="str"),
            secrets=dict(type="list", elements="str", no_log=True, default=[]),
            mode=dict(type="raw", default="0644"),
        ),
        required_one_of=[["sites", "reports"]],
        mutually_exclusive=[["sites", "reports"]],
        supports_check_mode=True,
    )
    module.fail_json(msg="erpops.upgrade.fleet_report runs as an action plugin on the controller; it cannot be run as a module on the host")


if __name__ == "__main__":
    main()
