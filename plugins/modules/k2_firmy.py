#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_firmy: make FIRMY of a (copied) CONF database list exactly the given mandants (K2-18)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_firmy
short_description: Prune FIRMY of a K2 CONF database to the given mandants and point them at their databases
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Deletes from C(FIRMY) of O(conf_database) every mandant not in O(keep), and sets the database of the kept mandants named
    in O(databases). In a test environment C(FIRMY) must list only the copied databases (K2-18).
  - All changes run in one transaction; a code of O(keep) or O(databases) that C(FIRMY) does not list is refused and nothing
    changes.
  - Refuses to touch a CONF database named in O(protected_databases) (the production CONF), ignoring case.
  - Table and column names come from the K2 profile (C(firmy) entry).
  - Connects from where the module runs; use C(delegate_to=localhost).
options:
  conf_database:
    description: The CONF database (on Oracle, its schema) whose C(FIRMY) is changed, normally a copy.
    type: str
    required: true
  keep:
    description: The mandant codes C(FIRMY) keeps; every other row is deleted.
    type: list
    elements: str
    required: true
  databases:
    description: The database of a kept mandant, by code. Mandants not named keep their database.
    type: dict
    default: {}
  protected_databases:
    description: CONF databases this module must never change, such as the production CONF.
    type: list
    elements: str
    default: []
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.database
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Reads FIRMY and reports the rows that would be deleted or changed.
  diff_mode:
    support: full
    details: FIRMY before and after, one line per mandant (code, database).
seealso:
  - module: erpops.upgrade.k2_copy_databases
"""

EXAMPLES = r"""
- name: FIRMY of the test copy lists only the copied mandants, at their copies
  erpops.upgrade.k2_firmy:
    conf_database: K2_CONF_TESTENV
    keep: [FIRMA, FIRMA2]
    databases:
      FIRMA: K2_FIRMA_TESTENV
      FIRMA2: K2_FIRMA2_TESTENV
    protected_databases: [K2_CONF]
  delegate_to: localhost
"""

RETURN = r"""
deleted:
  description: The mandants deleted from C(FIRMY) (code, name, database, role).
  returned: always
  type: list
  elements: dict
  sample: [{code: DEMO, name: Firma DEMO, database: K2_DEMO, role: system}, {code: FIRMA2_TEST, name: Firma 2 test,
    database: K2_FIRMA2_TEST, role: test}]
updated:
  description: The mandants whose database was changed, with C(code), C(before) and C(after).
  returned: always
  type: list
  elements: dict
  sample: [{code: FIRMA, before: K2_FIRMA, after: K2_FIRMA_TESTENV}]
mandants:
  description: C(FIRMY) after the change (in check mode, as it would be).
  returned: always
  type: list
  elements: dict
  sample: [{code: FIRMA, name: Firma s.r.o., database: K2_FIRMA_TESTENV, role: production}]
"""


from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import backup, db_copy, k2_mandants
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params, run_database_module
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile


def argument_spec():
    spec = dict(
        conf_database=dict(type="str", required=True),
        keep=dict(type="list", elements="str", required=True),
        databases=dict(type="dict", default={}),
        protected_databases=dict(type="list", elements="str", default=[]),
        k2_profile=dict(type="dict", default={}),
    )
    spec.update(DB_ARGUMENT_SPEC)
    return spec


def listing(mandants):
    return "".join("%s\t%s\n" % (m["code"], m["database"]) for m in mandants)


def run(module):
    params = module.params
    conf_database = params["conf_database"]
    if conf_database.upper() in [name.upper() for name in params["protected_databases"]]:
        raise db_copy.CopyError("refused: %s is a protected CONF database (production); FIRMY was not changed" % conf_database)
    profile = merge_profile(params["k2_profile"])
    platform = params["db_platform"]
    databases = {str(code): str(name) for code, name in params["databases"].items()}
    conn = k2db.connect(db_params(params), conf_database)
    try:
        before = k2_mandants.classify(conn.query(k2_mandants.firmy_sql(platform, conf_database, profile)), profile)
        changes = db_copy.firmy_changes(before, params["keep"], databases)
        deleted = {m["code"] for m in changes["delete"]}
        new_names = {u["code"]: u["after"] for u in changes["update"]}
        after = [dict(m, database=new_names.get(m["code"], m["database"])) for m in before if m["code"] not in deleted]
        changed = bool(changes["delete"] or changes["update"])
        if changed and not module.check_mode:
            with conn.transaction():
                for mandant in changes["delete"]:
                    conn.execute(db_copy.firmy_delete_sql(platform, conf_database, profile), backup.bind(platform, code=mandant["code"]))
                for update in changes["update"]:
                    conn.execute(db_copy.firmy_update_sql(platform, conf_database, profile),
                                 backup.bind(platform, database=update["after"], code=update["code"]))
    finally:
        conn.close()
    result = {"changed": changed, "deleted": changes["delete"], "updated": changes["update"], "mandants": after}
    if module._diff and changed:
        result["diff"] = {"before_header": "FIRMY of %s" % conf_database, "after_header": "FIRMY of %s" % conf_database,
                          "before": listing(before), "after": listing(after)}
    return result


def main():
    run_database_module(argument_spec(), run)


if __name__ == "__main__":
    main()
