#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_info
short_description: Report the facts of a K2 site
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Reads a K2 folder over the task's connection (WinRM or PSRP on Windows, C(local) in the lab) and says whether it is a
    runnable K2, a torso (ini files only) or not K2 at all (K2-01, K2-13).
  - Parses C(k2.ini) and C(sysk2.ini) (cp1250 on Czech Windows) for the driver, the database server and the CONF database.
  - Connects from the controller (or the execution environment) to the CONF database, lists the mandants of C(FIRMY), keeping
    production mandants apart from DEMO, INIT and test copies, and reads the version each database was converted to.
  - Changes nothing. The table and column names it reads come from the K2 profile (see the README).
  - This module is implemented as an action plugin.
options:
  path:
    description: The K2 folder on the K2 host.
    type: str
    required: true
  conf_database:
    description: The CONF database (on Oracle, its schema). Defaults to what C(k2.ini) names.
    type: str
  installed_version:
    description:
      - The installed K2 version, when C(k2.ini) does not record it (for example read from the file version of C(k2.exe)).
    type: str
  target_version:
    description:
      - A version to plan for. The result then says the upgrade kind and whether the target is reachable in one reinstall,
        or which versions must come in between.
    type: str
  gather_databases:
    description: Whether to connect to the databases. With C(false) only the folder is read.
    type: bool
    default: true
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: The module changes nothing, so it runs the same in check mode.
  diff_mode:
    support: none
    details: Nothing is changed, so there is no diff.
seealso:
  - module: erpops.upgrade.k2_webconfig_maintenance
"""

EXAMPLES = r"""
- name: Read the facts of a K2 site
  erpops.upgrade.k2_info:
    path: 'D:\K2'
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
    target_version: alba.01
  register: site

- name: Stop when the databases are not at the installed version
  ansible.builtin.assert:
    that: site.k2.databases_match_version
"""

RETURN = r"""
k2:
  description: The facts of the site.
  returned: success
  type: dict
  contains:
    folder:
      description: The folder that was read.
      type: str
      sample: 'D:\K2'
    kind:
      description: C(runnable), C(torso) or C(not_k2).
      type: str
      sample: runnable
    executable:
      description: The K2 executable found in the folder, if any.
      type: str
      sample: k2.exe
    version:
      description:
        - The installed K2 version. From O(installed_version) when set, else from the version file of the folder
          (K2 profile C(folder.version_file), written by a release installed by file copy), else from C(k2.ini).
      type: str
      sample: gaia.12.3
    platform:
      description: C(mssql), C(oracle) or C(lab), from the C(DRIVER) key of C(k2.ini).
      type: str
      sample: mssql
    driver:
      description: The C(DRIVER) value as written in C(k2.ini).
      type: str
      sample: MSSQL
    server:
      description: The database server named by the ini files.
      type: str
      sample: sql01\K2
    conf_database:
      description: The CONF database.
      type: str
      sample: K2_CONF
    warnings:
      description: Things worth knowing, such as a deprecated driver name.
      type: list
      elements: str
      sample: [k2.ini DRIVER=MS2000 is deprecated; K2 treats it as MSSQL]
    problems:
      description: Why the folder is not K2, when it is not.
      type: list
      elements: str
      sample: [k2.ini is missing]
    upgrade:
      description: The plan for O(target_version).
      returned: when O(target_version) is set
      type: dict
      sample: {"kind": "generation", "reachable": false, "path": ["ori.09", "iris.05", "alba.01"], "reason": null}
    reinstall_manager:
      description:
        - The Reinstall manager's state (K2-02, K2-06) in the CONF database, or V(null) when it cannot be read (a warning says why).
      returned: when the databases were read
      type: dict
      sample: {"ban_enabled": false, "reinstall_allowed": false, "preparation_done": true}
    extensions:
      description: Extension status (K2-14) from the CONF database, or V(null) when it cannot be read.
      returned: when the databases were read
      type: list
      elements: dict
      sample: [{"name": "Sklad", "current": false, "format": "1.0"}]
    outdated_extensions:
      description: Names of the extensions that are not current.
      returned: when the databases were read
      type: list
      elements: str
      sample: [Sklad]
    missing_initializations:
      description:
        - Per mandant code (production and test mandants; DEMO and INIT are not checked, as K2-07 says), the mandatory
          version initializations that have not run. Mandants with none missing are left out.
      returned: when the databases were read
      type: dict
      sample: {"FIRMA2": ["Prepocet skladu"]}
    mandants:
      description: The rows of C(FIRMY) with their role (C(production), C(system) or C(test)).
      returned: when the databases were read
      type: list
      elements: dict
      sample: [{"code": "FIRMA", "name": "Firma s.r.o.", "database": "K2_FIRMA", "role": "production"}]
    production_mandants:
      description: Codes of the production mandants.
      returned: when the databases were read
      type: list
      elements: str
      sample: [FIRMA, FIRMA2]
    system_mandants:
      description: Codes of DEMO and INIT.
      returned: when the databases were read
      type: list
      elements: str
      sample: [DEMO, INIT]
    test_mandants:
      description: Codes of test copies.
      returned: when the databases were read
      type: list
      elements: str
      sample: [FIRMA2_TEST]
    databases:
      description: CONF and every mandant database with its version and whether it matches the installed version.
      returned: when the databases were read
      type: list
      elements: dict
      sample: [{code: CONF, database: K2_CONF, role: conf, version: gaia.12.3, matches_version: true, convertible: true,
        error: null}, {code: FIRMA, database: K2_FIRMA, role: production, version: gaia.12.3, matches_version: true,
        convertible: true, error: null, missing_initializations: []}]
    databases_match_version:
      description: Whether every database is at the installed version.
      returned: when the databases were read
      type: bool
      sample: true
"""
