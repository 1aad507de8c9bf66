# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup ``erpops.upgrade.k2_connection``: the database connection options the inventory sets."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: k2_connection
short_description: The database connection options set by the k2_db_* inventory variables
version_added: 0.1.0
description:
  - Returns one dict of the connection options of the database modules (see the C(erpops.upgrade.db) options) for which
    the host has a C(k2_db_*) variable that is set and not empty (C(login_host) from C(k2_db_host), C(login_port) from
    C(k2_db_port), C(login_user) from C(k2_db_user), C(login_password) from C(k2_db_password), C(db_platform) from
    C(k2_db_platform), every other option from C(k2_db_<option>), for example C(k2_db_odbc_driver), C(k2_db_tls),
    C(k2_db_tls_trust_server_certificate), C(k2_db_connect_timeout), C(k2_db_oracle_service_name)).
  - The roles give it to C(module_defaults) of the action group C(erpops.upgrade.k2_connection). An option the inventory
    does not set is absent, not omitted, so a play's C(module_defaults) for C(group/erpops.upgrade.k2), the environment
    variables and the defaults still apply to it.
options: {}
author:
  - erpops.upgrade contributors (@erpops)
"""

EXAMPLES = r"""
- name: Run the database modules with the inventory's connection
  module_defaults:
    group/erpops.upgrade.k2_connection: "{{ lookup('erpops.upgrade.k2_connection') }}"
  block:
    - name: Read the site
      erpops.upgrade.k2_info:
        path: "{{ k2_folder }}"
      delegate_to: localhost
"""

RETURN = r"""
_raw:
  description: One dict of connection options.
  type: list
  elements: dict
  sample: [{"db_platform": "mssql", "login_host": "sql01.example", "odbc_driver": "FreeTDS", "tls_trust_server_certificate": true}]
"""

from ansible.plugins.lookup import LookupBase

from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import INVENTORY_VARIABLES, inventory_options


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        values = {name: self._templar.template(variables[name]) for name in INVENTORY_VARIABLES.values() if name in variables}
        return [inventory_options(values)]
