#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_reinstall_mode
short_description: Set or clear K2's reinstall mode (Reinstall manager, "Reinstalace povolena")
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - K2 cannot be reinstalled unless the Reinstall manager (function 753) has it in reinstall mode (K2-17). This
    module ticks or clears that box in the CONF database (profile entry C(reinstall_manager.reinstall_allowed_column)).
  - "It sets the mode only when K2 would let the box be ticked: the pre-install preparation ran (a generation change,
    K2-06; O(preparation_required)), every mandatory version initialization ran in every mandant but DEMO and INIT (K2-07),
    and logins are banned (K2-02; O(require_login_ban)). Otherwise it fails with every reason and changes nothing."
  - Clearing (O(state=absent)) is always allowed, as K2 does at the end of a reinstall.
options:
  conf_database:
    description: The CONF database (on Oracle, its schema).
    type: str
    required: true
  state:
    description: C(present) sets reinstall mode, C(absent) clears it.
    type: str
    choices: [present, absent]
    default: present
  target_version:
    description: The version to be installed; a generation change needs the pre-install preparation. Without it the
      preparation is required.
    type: str
  current_version:
    description: The installed version. Defaults to the version of the CONF database.
    type: str
  preparation_required:
    description: The current version ships a pre-install preparation (K2-06), so a generation change needs it done.
    type: bool
    default: true
  waive_initializations:
    description: Set the mode although mandatory initializations are missing; only for a build reinstall (the runbook lets the
      new build run them, K2-07).
    type: bool
    default: false
  require_login_ban:
    description: Refuse unless the login ban is set (K2-02); reinstall mode means nobody can log in.
    type: bool
    default: true
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.database
  - erpops.upgrade.attributes.database_action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Checks the conditions and says whether the flag would change; writes nothing.
  diff_mode:
    support: full
    details: The flag before and after.
seealso:
  - module: erpops.upgrade.k2_login_ban
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Put K2 into reinstall mode before the installer runs
  erpops.upgrade.k2_reinstall_mode:
    conf_database: K2_CONF
    target_version: ori.09
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"

- name: Clear it at the end
  erpops.upgrade.k2_reinstall_mode:
    conf_database: K2_CONF
    state: absent
"""

RETURN = r"""
reinstall_allowed:
  description: Whether K2 is in reinstall mode after the task (in check mode, would be).
  returned: success
  type: bool
  sample: true
reasons:
  description: Why the mode cannot be set (empty when it can, or when clearing).
  returned: always
  type: list
  elements: str
  sample: ['mandatory version initializations have not run in FIRMA2: Prepocet skladu (K2-07; Správce / Inicializace
    verze, function 552, button Povinné)', 'logins are not banned (K2-02): reinstall mode means nobody
    can log in']
current_version:
  description: The version the conditions were judged from.
  returned: success
  type: str
  sample: gaia.12.3
diff:
  description: The flag before and after.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"reinstall_allowed": false}, "after": {"reinstall_allowed": true}}
executed:
  description: The SQL statements run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: [UPDATE "REINSTALACE" SET "ReinstalacePovolena" = 1]
"""

import concurrent.futures

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, k2_state, reinstall_mode
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params, run_database_module
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile


def argument_spec():
    spec = dict(
        conf_database=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        target_version=dict(type="str"),
        current_version=dict(type="str"),
        preparation_required=dict(type="bool", default=True),
        require_login_ban=dict(type="bool", default=True),
        waive_initializations=dict(type="bool", default=False),
        k2_profile=dict(type="dict", default={}),
    )
    spec.update(DB_ARGUMENT_SPEC)
    return spec


#: How many mandant databases are read at once (each on its own connection, in threads).
PARALLEL = 8


def _missing(params, mandants, profile):
    """{code: open mandatory initializations} of every mandant but DEMO and INIT, ``PARALLEL`` databases at a time."""
    system = {code.upper() for code in profile["firmy"]["system_mandants"]}
    chosen = [mandant for mandant in mandants if mandant["code"].upper() not in system and mandant["database"]]

    def read(mandant):
        database = k2db.connect(db_params(params), mandant["database"])
        try:
            return k2_state.function_names(database.query(
                k2_state.missing_initializations_sql(params["db_platform"], mandant["database"], profile)))
        finally:
            database.close()

    if len(chosen) < 2:
        return {mandant["code"]: read(mandant) for mandant in chosen}
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(PARALLEL, len(chosen))) as pool:
        return dict(zip((mandant["code"] for mandant in chosen), pool.map(read, chosen)))


def run(module):
    params = module.params
    platform, conf_database = params["db_platform"], params["conf_database"]
    profile = merge_profile(params["k2_profile"])
    wanted = params["state"] == "present"
    conf = k2db.connect(db_params(params), conf_database)
    try:
        manager = k2_state.reinstall_manager_state(conf.query(k2_state.reinstall_manager_sql(platform, conf_database, profile)))
        current = params["current_version"]
        if not current:
            rows = conf.query(k2_mandants.version_sql(platform, conf_database, profile))
            current = str(list(rows[0].values())[0]).strip() if rows else None
        reasons = []
        if wanted:
            mandants = k2_mandants.classify(conf.query(k2_mandants.firmy_sql(platform, conf_database, profile)), profile)
            reasons = reinstall_mode.refusals(manager, current, params["target_version"], _missing(params, mandants, profile),
                                              profile["firmy"]["system_mandants"], params["preparation_required"],
                                              params["require_login_ban"], params["waive_initializations"])
        if reasons:
            module.fail_json(msg="reinstall mode cannot be set (K2-17): %s" % "; ".join(reasons), reasons=reasons, changed=False,
                             current_version=current, executed=[])
        if manager is None:
            raise ValueError("the Reinstall manager's row is missing in CONF (open the Reinstall manager, function 753, once)")
        before = manager["reinstall_allowed"]
        changed = before != wanted
        if changed:
            sql, binds = reinstall_mode.update_sql(platform, conf_database, profile, wanted)
            with conf.transaction():
                conf.execute(sql, binds, dont_exec=module.check_mode)
        executed = list(conf.executed)
    finally:
        conf.close()
    result = dict(changed=changed, reinstall_allowed=wanted, reasons=[], current_version=current, executed=executed)
    if module._diff:
        result["diff"] = dict(before={"reinstall_allowed": before}, after={"reinstall_allowed": wanted})
    return result


def main():
    run_database_module(argument_spec(), run)


if __name__ == "__main__":
    main()
