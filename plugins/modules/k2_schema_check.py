#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_schema_check
short_description: Check the structure of every K2 database against the installed K2's scripts
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - The structure check of all databases (K2-08), the check the K2 installer runs itself and stops on.
  - The expected structure comes from the vendor scripts C(SQL/K2t_{CONF|FIRMA}_{MSSQL|Oracle}.SQL) of the installed K2, read
    over the task's connection from O(path), or from O(scripts_dir) on the controller. A statement of the script that cannot
    be read is reported as an C(unreadable_statement) finding, never dropped.
  - The live structure is each database's catalog, read from the controller in at most three round trips per database,
    O(parallel) databases at a time. By default CONF, INIT, DEMO and every mandant of C(FIRMY) are checked.
  - Findings name the database, table, column or index, and what was expected and found. Custom tables (O(custom_tables),
    O(custom_prefixes)) are counted apart, because Deploy in Object designer fixes them, not K2's scripts.
  - Every finding gets a repair plan (the C(CREATE TABLE) or C(CREATE INDEX) from the K2t script, the statement of
    C(SQL/konverze) that adds or alters a column with its file and line, a C(DROP), or what to ask K2 support; for INIT and
    DEMO, recreate the database). Nothing of it runs unless O(apply=true), and then only the kinds in O(repair_kinds).
  - A database that cannot be read is an error of that database; the others are still checked, and C(consistent) is false.
  - Offline, O(snapshot) checks a saved catalog snapshot (see O(save_snapshots_to)) instead of a live database.
  - This module is implemented as an action plugin.
options:
  path:
    description:
      - The K2 folder on the K2 host. Its C(SQL) folder gives the scripts; its C(k2.ini) gives the CONF database, the database
        server and the K2 version when the task does not.
      - One of O(path) and O(scripts_dir) is required.
    type: str
  scripts_dir:
    description:
      - A copy of the K2 folder's C(SQL) folder on the controller (with C(konverze) below it), used instead of reading the
        scripts from O(path).
    type: path
  conf_database:
    description: The CONF database (on Oracle, its schema). Defaults to what C(k2.ini) in O(path) names.
    type: str
  databases:
    description:
      - Check only these databases, by K2 code (C(CONF), C(INIT), C(FIRMA)) or by database name. Default, all of them.
      - A name that is neither CONF nor a mandant of C(FIRMY) fails the task.
    type: list
    elements: str
  parallel:
    description: How many databases are read at a time (K2 itself checks eight).
    type: int
    default: 8
  progress_after:
    description:
      - "While the task runs, a database whose check (or repair) has lasted this many seconds gets a progress line
        (C([host] structure check: database K2_FIRMA started at 21:04:10 UTC)) and, when it ends, one with the time it took."
      - Shorter ones print nothing. The lines show in a terminal and in AWX's job output.
    type: float
    default: 1.0
  custom_tables:
    description: Names of custom tables (Object designer); their findings are reported apart and repaired by Deploy.
    type: list
    elements: str
    default: []
  custom_prefixes:
    description: Name prefixes of custom tables, for example C(U_).
    type: list
    elements: str
    default: []
  fulltext:
    description: Whether full-text indexes are compared. Set C(false) when K2's full-text support is off.
    type: bool
    default: true
  snapshot:
    description:
      - A catalog snapshot file (JSON, see the collection's C(docs/schema_check.md)) on the controller to check instead of a
        live database, for example a customer's catalog export. Its platform is taken from the file.
    type: path
  snapshot_kind:
    description: Which K2t script the O(snapshot) is compared with.
    type: str
    choices: [conf, company]
    default: company
  save_snapshots_to:
    description: A folder on the controller where the catalog of every database read is saved as a snapshot (C(<database>.json)).
    type: path
  report:
    description: A file on the controller where the human report is written (also in check mode; it is not a change on the site).
    type: path
  report_format:
    description: The report's format. Default, C(html) when O(report) ends in C(.html) or C(.htm), else C(markdown).
    type: str
    choices: [markdown, html]
  apply:
    description:
      - Run the repairs of the kinds in O(repair_kinds), each in its own transaction where the engine allows, then check
        those databases again. The result then describes the databases after the repair.
      - In check mode, nothing runs and RV(would_run) lists exactly the statements that would.
      - Repairs that are advice (C(ask_support), C(deploy_project), C(recreate_database), C(review_script)) never run.
    type: bool
    default: false
  repair_kinds:
    description: The repair kinds to run with O(apply=true).
    type: list
    elements: str
    choices: [create_table, konverze, add_primary_key, create_index, fulltext, drop_column, deploy_project, ask_support,
              recreate_database, review_script]
    default: []
  k2_version:
    description: The installed K2 version, attached to what K2 support is asked. Defaults to what C(k2.ini) records.
    type: str
  baseline:
    description:
      - A quick re-check against an earlier check, as a mapping of database name to the C(fingerprint) that check returned
        for it when it found the database consistent (the reinstall's check before the login ban).
      - A database whose catalog still has that fingerprint is reported consistent and C(unchanged) without comparing it
        with the scripts again; every other database is checked in full (and repaired with O(apply)).
    type: dict
    default: {}
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
    details: Nothing is repaired in check mode; RV(would_run) lists what O(apply=true) would run.
  diff_mode:
    support: none
    details: The findings and the repair plan are the difference; there is no separate diff.
notes:
  - The databases are read with threads of the controller process; a database that disappears during the check is an error
    of that database only.
  - On Oracle, DDL commits by itself, so a repair step cannot be rolled back; on MS SQL full-text DDL runs outside a transaction.
seealso:
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Check the structure of every database of the site
  erpops.upgrade.k2_schema_check:
    path: 'D:\K2'
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
    custom_prefixes: [U_]
    report: "reports/{{ inventory_hostname }}-structure.html"
    save_snapshots_to: "snapshots/{{ inventory_hostname }}"
  register: structure

- name: Create the missing tables and indexes only (run with --check first to see the statements)
  erpops.upgrade.k2_schema_check:
    path: 'D:\K2'
    databases: [FIRMA]
    apply: true
    repair_kinds: [create_table, create_index]

- name: Check a customer's catalog export offline, against a copy of their SQL folder
  erpops.upgrade.k2_schema_check:
    scripts_dir: /srv/support/customer42/SQL
    snapshot: /srv/support/customer42/K2_FIRMA.json
    report: /srv/support/customer42/structure.md
"""

RETURN = r"""
consistent:
  description: Whether every database was read and none has a finding.
  returned: success
  type: bool
  sample: false
findings:
  description: Every finding.
  returned: success
  type: list
  elements: dict
  sample: [{"kind": "missing_column", "database": "K2_FIRMA", "table": "DOKLAD", "column": "Pozn", "index": null,
            "expected": "varchar(30)", "actual": null, "custom": false, "actual_name": null,
            "message": "K2_FIRMA: table DOKLAD: column Pozn (varchar(30)) is missing"}]
counts:
  description: Findings per kind and per database, standard and custom tables apart, and the number of databases with errors.
  returned: success
  type: dict
  sample: {"total": 1, "by_kind": {"missing_column": 1}, "by_database": {"K2_CONF": 0, "K2_FIRMA": 1},
           "standard": {"total": 1, "by_kind": {"missing_column": 1}}, "custom": {"total": 0, "by_kind": {}}, "errors": 0}
databases:
  description: Every database checked, with its code, kind, role, number of findings, catalog round trips and error.
  returned: success
  type: list
  elements: dict
  sample: [{code: FIRMA, database: K2_FIRMA, kind: company, role: production, consistent: false, findings: 1, error: null,
    round_trips: 3, script: K2t_FIRMA_MSSQL.SQL, taken_at: '2025-03-05T17:05:12+00:00', snapshot_saved: null,
    applied: 0, findings_before_apply: null, fingerprint: 3f0c5b1e9a2d4c7b8e6f1a0d2c4b6e8f9a1c3e5d7f9b0a2c4e6f8a1b3d5c7e9f,
    unchanged: false}]
errors:
  description: The databases that could not be checked, and why.
  returned: success
  type: list
  elements: dict
  sample: [{code: FIRMA2, database: K2_FIRMA2, error: Login failed for user 'k2admin'.}]
repair_plan:
  description: The repair steps (kind, database, table, sql, source file and line, note); nothing of it ran unless RV(applied) says so.
  returned: success
  type: list
  elements: dict
  sample: [{kind: konverze, database: K2_FIRMA, table: DOKLAD, sql: ALTER TABLE DOKLAD ADD Pozn varchar(30) NULL,
    source: 'SQL/konverze/K2_D509Additional.sql:120', finding: missing_column, column: Pozn, note: Conversion
    that adds or alters DOKLAD.Pozn, attachments: {}}]
applied:
  description: The repair steps that ran (O(apply=true), not in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{kind: konverze, database: K2_FIRMA, table: DOKLAD, sql: ALTER TABLE DOKLAD ADD Pozn varchar(30) NULL,
    source: 'SQL/konverze/K2_D509Additional.sql:120', finding: missing_column, column: Pozn, note: Conversion
    that adds or alters DOKLAD.Pozn, attachments: {}}]
would_run:
  description: In check mode with O(apply=true), the repair steps that would run.
  returned: success
  type: list
  elements: dict
  sample: [{kind: konverze, database: K2_FIRMA, table: DOKLAD, sql: ALTER TABLE DOKLAD ADD Pozn varchar(30) NULL,
    source: 'SQL/konverze/K2_D509Additional.sql:120', finding: missing_column, column: Pozn, note: Conversion
    that adds or alters DOKLAD.Pozn, attachments: {}}]
platform:
  description: The database platform checked.
  returned: success
  type: str
  sample: mssql
k2_version:
  description: The K2 version the report names.
  returned: success
  type: str
  sample: gaia.12.3
report:
  description: The report file written on the controller.
  returned: when O(report) is set
  type: str
  sample: /var/lib/erpops/reports/acme-k2-structure.html
"""
