#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_install_verdict
short_description: Judge a K2 install afterwards from evidence, never by doing it again
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - After the K2 installer ran (by the collection, or by an operator between two runs), decides from evidence whether the
    install succeeded (K2-11, K2-12, K2-19, K2-20). Nothing is repeated and nothing is changed.
  - "Evidence: the installer's exit code and output where the collection ran it (O(exit_code), O(output), O(timed_out));
    the lines C(sql_inst.log) gained since the run began (after O(log_offset) bytes), each read into database, file, batch,
    line and message with the profile's C(folder.install_log_patterns) (a line no pattern reads still counts as an error);
    the version in the folder and whether K2 is runnable there; every database's version; in every production mandant,
    whether version initialization of the target ran (its record, profile C(version_init.version_function), has a time
    and no mandatory initialization is left)."
  - "The verdict names the failing step and the next step of the runbook: C(removal)/C(copy) (folder not at the target: back
    to K2-01, takeover); C(conversions) (errors in C(sql_inst.log) or databases behind: on a generation change restore the
    databases and the K2 folder before a retry); C(initialization) (version initialization not done: nobody may work in K2);
    C(installer) (it reported a failure although the evidence looks right)."
  - Fails when the install did not succeed, with the verdict in the result.
  - This module is implemented as an action plugin.
options:
  path:
    description: The K2 folder on the K2 host.
    type: str
    required: true
  conf_database:
    description: The CONF database (on Oracle, its schema). Defaults to what C(k2.ini) names.
    type: str
  target_version:
    description: The version that was installed.
    type: str
    required: true
  from_version:
    description: The version before the install; decides whether one-time conversions may have run (unknown counts as yes).
    type: str
  exit_code:
    description: The installer's exit code, when the collection ran it. Omit after an operator's install.
    type: int
  output:
    description: "The installer's output (its lines C(FAILED <step>: <reason>) name the step it failed in)."
    type: str
    default: ""
  timed_out:
    description: The installer was stopped because it did not finish within its timeout.
    type: bool
    default: false
  log_offset:
    description: The size of C(sql_inst.log) in bytes before the install began; only what came after is read.
    type: int
    default: 0
  read_log:
    description:
      - Read C(sql_inst.log). With C(false) only the folder, the database versions and version initialization are judged (the
        gate before the login ban is lifted, when the install was judged already).
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
    details: Reads only, the same in check mode.
  diff_mode:
    support: none
    details: Nothing is changed.
seealso:
  - module: erpops.upgrade.k2_convert
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Judge the install the operator ran
  erpops.upgrade.k2_install_verdict:
    path: 'D:\K2'
    target_version: ori.09
    from_version: gaia.12.3
    log_offset: "{{ k2_log_size_before }}"
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
"""

RETURN = r"""
ok:
  description: Whether the install succeeded.
  returned: success or failure of the install
  type: bool
  sample: false
step:
  description: The failing step (C(checks), C(removal), C(copy), C(conversions), C(initialization), C(installer)); null when ok.
  returned: always
  type: str
  sample: conversions
reasons:
  description: What the evidence says, one line each (for a conversion, database, file, batch and the server's message).
  returned: always
  type: list
  elements: str
  sample: ['the folder holds a runnable K2 at gaia.12.3, not a runnable K2 at ori.09', 'the installer said: removal
    failed: the old installation could not be removed (removed 9 of 19 files)']
next:
  description: What to do now, as the runbook says.
  returned: when not ok
  type: str
  sample: 'K2-11: the old installation may be removed; go back to K2-01 (is a runnable K2 there?) and install again
    by takeover (přebrání); the databases were not converted yet.'
restore_needed:
  description: One-time conversions may have run, so databases and the K2 folder are restored before a retry.
  returned: always
  type: bool
  sample: true
checks:
  description: exit_code, folder_at_target, log_errors, databases_at_target, version_initialized.
  returned: always
  type: dict
  sample: {exit_code: 0, folder_at_target: true, log_errors: 1, databases_at_target: false, version_initialized: false}
log:
  description: The new lines of C(sql_inst.log), each with database, file, batch, line, message and raw.
  returned: always
  type: list
  elements: dict
  sample: [{database: K2_FIRMA2, file: K2_D509.sql, batch: 3, line: 21, message: There is already an object named
    'V509_D' in the database., raw: '2025-03-05 18:12:09 UTC  K2_FIRMA2  K2_D509.sql  batch 3, line
    21: There is already an object named ''V509_D'' in the database.'}]
behind:
  description: Codes of the databases not at the target version.
  returned: always
  type: list
  elements: str
  sample: [FIRMA2]
not_initialized:
  description: Production mandants where version initialization of the target has not run.
  returned: always
  type: list
  elements: str
  sample: [FIRMA2]
evidence:
  description: The folder version, runnable, databases with versions, initialization per mandant, exit code, log file.
  returned: always
  type: dict
  sample: {folder_version: ori.09, runnable: true, databases: [{code: CONF, database: K2_CONF, role: conf, version: ori.09},
    {code: FIRMA2, database: K2_FIRMA2, role: production, version: gaia.12.3}], initialization: {FIRMA: true,
    FIRMA2: false}, exit_code: 0, log_file: 'D:\K2\sql_inst.log', log_replaced: false}
"""
