#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""comarch_profile_check: does the Comarch profile fit this site's databases? Reads only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: comarch_profile_check
short_description: Check every assumption of the Comarch profile against one site's ERP databases, without changing anything
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - Where the Automatic Operations Service keeps its schedule and history of HRM syncs is not documented publicly, and the
    database version's place is inferred (docs/profiles.md). Run this first at a site; it tells whether the Comarch profile fits,
    and what to override where it does not.
  - Reads the catalog of each company database of O(databases). For every table of the profile (C(db_version), C(schedule),
    C(history)) it checks that the table exists in its schema and each column exists with a compatible kind of type.
  - Then it reads rows and checks them with the names it resolved; the version row (C(version_id)) exists once and holds a
    database version such as C(2025.5000); the schedule has rows for the profile's differential and full sync operations, enabled
    0/1; the history's HRM rows have statuses the profile knows, start times, and version notices with a program version. The
    profile's own C(versions.program_to_database) map is checked too.
  - For each mismatch it names the profile entry, what it expected, what it found and the tables or columns of the catalog that fit;
    the proposals make up C(override_yaml), the O(comarch_profile) that would make the site fit. A column the site lacks that the
    collection can do without (C(history.message_column)) is proposed as C(~).
  - Only C(SELECT)s run; nothing is ever written.
options:
  databases:
    description: The company databases synced with Comarch HRM (and any other the collection works on).
    type: list
    elements: str
    required: true
  product:
    description: The Comarch ERP product; selects the default Comarch profile.
    type: str
    choices: [altum_hr, optima, xl_hr]
    default: optima
  comarch_profile:
    description: Overrides of the Comarch profile, merged into the product's one entry by entry; the profile that is checked.
    type: dict
    default: {}
  fail_on_mismatch:
    description: Fail, with the report as the message, when the profile does not fit.
    type: bool
    default: true
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.database
  - erpops.upgrade.attributes.comarch_group
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode and out of it.
  diff_mode:
    support: none
    details: Changes nothing, so there is nothing to diff.
notes:
  - Comarch ERP runs on MS SQL Server; O(db_platform=oracle) is refused.
seealso:
  - module: erpops.upgrade.k2_profile_check
  - module: erpops.upgrade.comarch_sync_verify
"""

EXAMPLES = r"""
- name: Does the Comarch profile fit this site?
  erpops.upgrade.comarch_profile_check:
    databases: [CDN_Firma]
    login_host: sql01.example.com
    login_user: optima
    login_password: "{{ vault_optima_sql_password }}"
  delegate_to: localhost
"""

RETURN = r"""
fits:
  description: Whether every entry of the profile fits the site (no mismatch).
  returned: always
  type: bool
findings:
  description:
    - Every difference, with C(entry), C(step) (runbook), C(database), C(severity) (C(mismatch) or C(info)), C(expected), C(found),
      C(candidates) from the catalog, and, where one fits, C(override).
  returned: always
  type: list
  elements: dict
  sample: [{"entry": "schedule.table", "step": "CM-02, CM-05, CM-06", "database": "CDN_Firma", "severity": "mismatch",
            "expected": "table CDN.SOA_Harmonogram", "found": "no such table", "candidates": ["CDN.SOA_Plan (5 columns)"],
            "override": {"table": "SOA_Plan"}}]
mismatches:
  description: How many findings are mismatches.
  returned: always
  type: int
override:
  description: The proposed O(comarch_profile) override, entry by entry (C(null) for an absent column).
  returned: always
  type: dict
override_yaml:
  description: The same override as YAML, ready for the inventory; empty when nothing needs overriding.
  returned: always
  type: str
  sample: "comarch_profile:\n  schedule:\n    table: SOA_Plan\n"
conflicts:
  description: Keys the databases would need different values for.
  returned: always
  type: list
  elements: str
report:
  description: The mismatches, one line each, then the override.
  returned: always
  type: list
  elements: str
databases:
  description: The databases checked.
  returned: always
  type: list
  elements: str
seconds:
  description: How long the check took.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile
from ansible_collections.erpops.upgrade.plugins.module_utils import db as erpdb
from ansible_collections.erpops.upgrade.plugins.module_utils import profile_check as core
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident, quote_qualified


def check_one(params, platform, database, profile):
    conn = erpdb.connect(params, database)
    try:
        return core.check_database(conn, platform, database, core.COMARCH_ENTRIES, profile, core.comarch_rules(profile),
                                   lambda _entry, found: quote_qualified(platform, found.table.schema, found.table.name),
                                   lambda name: quote_ident(platform, name))
    finally:
        conn.close()


def main():
    spec = dict(databases=dict(type="list", elements="str", required=True),
                product=dict(type="str", default="optima", choices=sorted(comarch_profile.PRODUCTS)),
                comarch_profile=dict(type="dict", default={}), fail_on_mismatch=dict(type="bool", default=True))
    spec.update(DB_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    started = time.monotonic()
    params = db_params(module.params)
    platform = params["db_platform"]
    resolutions, findings = [], []
    try:
        profile = comarch_profile.merge_profile(module.params["product"], module.params["comarch_profile"])
        comarch_profile.now_sql(platform)  # refuses a platform Comarch does not run on
        findings.extend(core.comarch_version_findings(profile))
        for name in module.params["databases"]:
            more, found = check_one(params, platform, name, profile)
            resolutions.extend(more)
            findings.extend(found)
    except (ValueError, erpdb.DatabaseError) as exc:
        module.fail_json(msg=str(exc))
    result = core.report(resolutions, findings, "comarch_profile")
    result.update(changed=False, databases=list(module.params["databases"]), seconds=round(time.monotonic() - started, 2))
    if not result["fits"] and module.params["fail_on_mismatch"]:
        module.fail_json(msg="The Comarch profile does not fit this site (nothing was changed):\n" + "\n".join(result["report"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
