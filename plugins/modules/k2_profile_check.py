#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_profile_check: does the K2 profile fit this site's private tables? Reads only."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_profile_check
short_description: Check every assumption of the K2 profile against one site's databases, without changing anything
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - K2's private tables (the mandant list C(FIRMY), the version table, the Reinstall manager's login ban, licence sessions, extensions,
    version initializations) are not documented publicly; the collection finds them through the K2 profile (docs/profiles.md).
    Run this first at a site; it tells whether the profile fits it, and what to override where it does not.
  - Reads the catalog of the CONF database and of every mandant database of C(FIRMY) (or O(databases)). For every table of the profile
    it checks that the table exists and that each column exists with a compatible kind of type (text, integer, 0/1 flag, date).
  - Then it reads the rows the modules rely on and checks them, with the names it resolved; the Reinstall manager has exactly one row
    and its flags are 0/1; each version table has one row holding a K2 version that parses; C(FIRMY) has mandants with unique codes
    and database names; extension formats are version numbers.
  - For each mismatch it names the profile entry, what it expected, what it found and the tables or columns of the catalog that fit
    by name and kind; where one fits it proposes it. The proposals make up C(override_yaml), the O(k2_profile) that would make the
    site fit. Every column of the K2 profile is needed by some step, so a column the site lacks and nothing in the table can stand
    for is reported without a proposal. Columns the profile does not name are reported as C(info).
  - Only C(SELECT)s run; nothing is ever written.
  - Connects from where the module runs (the controller or the execution environment).
options:
  conf_database:
    description: The CONF database (on Oracle, its schema), as C(k2.ini) names it.
    type: str
    required: true
  databases:
    description: The mandant databases to check. Default, every database named in C(FIRMY) (when C(FIRMY) fits).
    type: list
    elements: str
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry; the profile that is checked.
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
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode and out of it.
  diff_mode:
    support: none
    details: Changes nothing, so there is nothing to diff.
seealso:
  - module: erpops.upgrade.comarch_profile_check
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Does the K2 profile fit this site?
  erpops.upgrade.k2_profile_check:
    conf_database: K2_CONF
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
  delegate_to: localhost
  register: fit

- name: Show what to put in the inventory
  ansible.builtin.debug:
    msg: "{{ fit.override_yaml }}"
  when: not fit.fits
"""

RETURN = r"""
fits:
  description: Whether every entry of the profile fits the site (no mismatch).
  returned: always
  type: bool
  sample: false
findings:
  description:
    - Every difference, with C(entry), C(step) (runbook), C(database), C(severity) (C(mismatch) or C(info)), C(expected), C(found),
      C(candidates) from the catalog, and, where one fits, C(override).
  returned: always
  type: list
  elements: dict
  sample: [{"entry": "reinstall_manager.table", "step": "K2-02, K2-06", "database": "K2_CONF", "severity": "mismatch",
            "expected": "table dbo.REINSTALACE", "found": "no such table", "candidates": ["SPRAVA_REINSTALACE (6 columns)"],
            "override": {"table": "SPRAVA_REINSTALACE"}}]
mismatches:
  description: How many findings are mismatches.
  returned: always
  type: int
override:
  description: The proposed O(k2_profile) override, entry by entry (C(null) for an absent column).
  returned: always
  type: dict
  sample: {"reinstall_manager": {"table": "SPRAVA_REINSTALACE"}}
override_yaml:
  description: The same override as YAML, ready for the inventory; empty when nothing needs overriding.
  returned: always
  type: str
  sample: "k2_profile:\n  reinstall_manager:\n    table: SPRAVA_REINSTALACE\n"
conflicts:
  description: Keys the databases would need different values for (no single override fits them all).
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
  sample: [K2_CONF, K2_FIRMA]
seconds:
  description: How long the check took.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils import profile_check as core
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident


def check_one(params, platform, database, entries, profile):
    conn = k2db.connect(params, database)
    try:
        return core.check_database(conn, platform, database, entries, profile, core.k2_rules(k2_version.parse),
                                   lambda _entry, found: k2_mandants.table_ref(platform, database, found.table.name),
                                   lambda name: quote_ident(platform, name), {"owner": database} if platform == "oracle" else ())
    finally:
        conn.close()


def mandant_databases(params, platform, conf, firmy):
    """The database names FIRMY lists, read with the names the check resolved."""
    if firmy is None or not firmy.complete:
        return None
    sql = core.rule_sql(platform, k2_mandants.table_ref(platform, conf, firmy.table.name), firmy.names, ("database_column",),
                        lambda name: quote_ident(platform, name), limit=10000)
    conn = k2db.connect(params, conf)
    try:
        rows = conn.query(sql)
    finally:
        conn.close()
    return sorted(set(str(list(row.values())[0]).strip() for row in rows if list(row.values())[0]))


def main():
    spec = dict(conf_database=dict(type="str", required=True), databases=dict(type="list", elements="str"),
                k2_profile=dict(type="dict", default={}), fail_on_mismatch=dict(type="bool", default=True))
    spec.update(DB_ARGUMENT_SPEC)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    started = time.monotonic()
    params = db_params(module.params)
    platform = params["db_platform"]
    conf = module.params["conf_database"]
    try:
        profile = merge_profile(module.params["k2_profile"])
        resolutions, findings = check_one(params, platform, conf, core.K2_ENTRIES["conf"], profile)
        firmy = next((r for r in resolutions if r.entry == "firmy"), None)
        databases = module.params["databases"] or mandant_databases(params, platform, conf, firmy)
        if databases is None:
            databases = []
            findings.append({"entry": "firmy", "database": conf, "severity": "mismatch", "step": "K2-05, K2-08",
                             "expected": "FIRMY naming the mandant databases", "found": "the mandant databases cannot be read, so "
                             "they were not checked", "candidates": [], "note": "fix firmy first, or name them in databases"})
        for name in databases:
            try:
                more, found = check_one(params, platform, name, core.K2_ENTRIES["company"], profile)
            except k2db.DatabaseError as exc:
                findings.append({"entry": "firmy.database_column", "database": name, "severity": "mismatch", "step": "K2-05",
                                 "expected": "a database the mandant list names", "found": str(exc), "candidates": []})
                continue
            resolutions.extend(more)
            findings.extend(found)
    except (ValueError, k2db.DatabaseError) as exc:
        module.fail_json(msg=str(exc))
    result = core.report(resolutions, findings, "k2_profile")
    result.update(changed=False, databases=[conf] + list(databases), seconds=round(time.monotonic() - started, 2))
    if not result["fits"] and module.params["fail_on_mismatch"]:
        module.fail_json(msg="The K2 profile does not fit this site (nothing was changed):\n" + "\n".join(result["report"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
