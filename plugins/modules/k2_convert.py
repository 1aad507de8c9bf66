#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_convert
short_description: Run K2's SQL conversions, one-time files never twice
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Runs the conversion scripts of C(SQL/konverze/) in the K2 folder on CONF and every mandant database of C(FIRMY)
    (INIT and DEMO included, as the installer converts them all), as the installer's SQL conversions step does
    (K2-12).
  - "Files are selected by the runbook's table: platform (no token for MS SQL, C(Ora) for Oracle, C(Lab) for the lab)
    x database kind (C(K2_C*) for CONF, C(K2_D*) for company databases) x upgrade kind. One-time files (without
    C(Additional)) run only on a generation upgrade; C(Additional) files run on every reinstall. Order: CONF before company
    databases, then ascending version, the one-time file before its C(Additional) file."
  - MS SQL scripts are split on C(GO) lines exactly as sqlcmd splits them (repeat counts included); Oracle scripts on C(/)
    lines and C(;) with PL/SQL blocks kept whole. Scripts are streamed in their encoding (UTF-8 with or without BOM, UTF-16,
    else cp1250).
  - Every applied batch is recorded in a journal table in its database (name from the K2 profile, entry C(journal)), in the
    same transaction as the batch on MS SQL and in the lab; on Oracle the batch and its journal row are sent in one PL/SQL
    call (Oracle commits DDL by itself, so that call is the only window). A one-time file already applied is never run
    again; if its checksum changed the module refuses. A file that stopped part-way resumes at its first unapplied batch,
    or is refused with O(strict=true).
  - Backup gate (K2-15). No one-time file runs on CONF or a production mandant unless the manifest O(manifest) holds a
    verified backup of that database taken after the structure check of this run (M(erpops.upgrade.k2_backup) with
    O(erpops.upgrade.k2_backup#module:position=after_check) and the same O(run_id)). DEMO, INIT and test copies are
    not gated, as they are recreated or copied, not restored.
  - Every database is planned and gated before anything runs; a refusal in one database changes nothing anywhere.
  - "A second guard, independent of the journal: a one-time file for a version the database already has (its version in
    the profile's C(db_version) table, against the file's version token, profile C(scripts.konverze_token)) is refused.
    The K2 installer runs the same files without writing the journal."
  - With O(current_version) and O(target_version), only files for versions after the current one up to the target are
    selected (the folder keeps the previous version's files after a release is copied over it).
  - With O(installer_baseline=true) nothing runs; every file the installer ran is recorded in the journal as applied by the
    installer of this run (for each database the installer brought to O(target_version)), so a later run never repeats it.
  - Progress (per database, per file, batches applied) is shown while the conversions run.
  - Errors are appended to C(sql_inst.log) in the K2 folder (file, batch, line, the server's message) and the module fails
    with a summary.
  - Connects to the databases from the controller (or the execution environment); the K2 folder is read over the task's
    connection.
  - This module is implemented as an action plugin.
options:
  path:
    description: The K2 folder on the K2 host (the one holding C(SQL/konverze)).
    type: str
    required: true
  conf_database:
    description: The CONF database (on Oracle, its schema).
    type: str
    required: true
  run_id:
    description:
      - The id of this reinstall run. C(Additional) files run once per run id, so a rerun with the same id resumes and a
        second run changes nothing; the next reinstall takes a new id.
      - The backup gate looks for backups taken with the same id.
    type: str
    required: true
  upgrade_kind:
    description: C(generation), C(release) or C(build). Derived from O(current_version) and O(target_version) when not set.
    type: str
    choices: [build, release, generation]
  current_version:
    description: The K2 version the databases are at (for the upgrade kind).
    type: str
  target_version:
    description: The K2 version being installed; recorded in the journal.
    type: str
  databases:
    description: Convert only these databases (mandant codes, C(CONF), or database names). Default is all of them.
    type: list
    elements: str
  manifest:
    description: The backup manifest written by M(erpops.upgrade.k2_backup), on the controller.
    type: path
  force_without_backup:
    description:
      - Run one-time conversions even without a gate backup. Every such file is named in a warning.
    type: bool
    default: false
  strict:
    description: Refuse a file that stopped part-way instead of resuming it.
    type: bool
    default: false
  continue_on_error:
    description:
      - For C(Additional) files only, as the installer does, log the error and go on with the next file. One-time files
        always stop their database at the first error. The module still fails at the end.
    type: bool
    default: false
  parallel:
    description:
      - How many company databases are converted at a time (CONF goes first, alone), each on its own connection; V(1) - one
        after the other. The default suits the database server of a typical K2 customer; see the section Concurrency of C(docs/backup_convert.md).
      - Each database's failure stops that database only; the others go on and their results are reported.
    type: int
    default: 4
  files:
    description:
      - Run only these files of the selection (names as in C(SQL/konverze)); for resuming named files after the K2 installer
        stopped and the cause was fixed. A name not selected is an error.
    type: list
    elements: str
  installer_baseline:
    description:
      - Run nothing; record the files the K2 installer ran as applied by the installer of O(run_id), in every database
        already at O(target_version) (the others are listed as not recorded).
      - Use after an install by the installer (method C(installer) or C(operator)), once the install was judged.
    type: bool
    default: false
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.server_slots
  - erpops.upgrade.lease
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Shows the files, the batches per database and which are skipped because the journal has them; runs nothing.
  diff_mode:
    support: none
seealso:
  - module: erpops.upgrade.k2_backup
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Convert the databases after copying the new K2
  erpops.upgrade.k2_convert:
    path: 'D:\K2'
    conf_database: K2_CONF
    run_id: "{{ reinstall_run_id }}"
    current_version: gaia.12
    target_version: ori.09
    manifest: /var/lib/erpops/site01/backups.json
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
"""

RETURN = r"""
upgrade_kind:
  description: The upgrade kind the files were selected for.
  returned: always
  type: str
  sample: generation
run_id:
  description: The run id.
  returned: always
  type: str
  sample: acme-k2-20250305T170000Z
folder:
  description: The conversion folder on the K2 host.
  returned: always
  type: str
  sample: D:\K2\SQL\konverze
plan:
  description: The selected files, in run order.
  returned: always
  type: list
  elements: str
  sample: [K2_C509.sql, K2_C509Additional.sql, K2_D509.sql, K2_D509Additional.sql]
not_selected:
  description: Files of the folder not due (other platform, one-time outside a generation upgrade), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{file: K2_C509Ora.sql, reason: for platform oracle}, {file: K2_C509OraAdditional.sql, reason: for platform
    oracle}]
unknown:
  description: Files that are not conversion files, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{file: K2_C509_old.sql, reason: 'not named K2_{C|D}{version}{platform}{Additional}.sql'}]
databases:
  description:
    - Per database, its files with C(action) (skip, run, resume, refuse), C(batches), C(run) and C(skipped) batch numbers,
      C(status) (skipped, would run, applied, failed, pending, refused, refused - no backup), C(applied) batches,
      C(error) (batch, line, message) and the gate C(backup) file.
    - C(started_at) and C(finished_at) (UTC) of the database's conversions and C(slot_wait_seconds), the wait for a slot of
      the database server (null without O(server_slots)); C(stopped) says why the database stopped, if it did.
  returned: always
  type: list
  elements: dict
  sample: [{database: K2_CONF, code: CONF, role: conf, kind: conf, files: [{file: K2_C509.sql, one_time: true, action: run,
    batches: 5, run: [1, 2, 3, 4, 5], skipped: [], status: applied, applied: [1, 2, 3, 4, 5], error: null,
    backup: 'E:\Backup\K2\K2_CONF_20250305T170000Z_r1.bak', forced_without_backup: false}], changed: true, stopped: null,
    started_at: '2025-03-05T18:10:02+00:00', finished_at: '2025-03-05T18:12:40+00:00', slot_wait_seconds: null}]
log_lines:
  description: The lines appended to C(sql_inst.log).
  returned: always
  type: list
  elements: str
  sample: ['2025-03-05 18:12:09 UTC  K2_FIRMA  K2_D509.sql  batch 4, line 25: SQL failed: Invalid object name ''OPRAVA''.']
log_file:
  description: The C(sql_inst.log) written on the K2 host.
  returned: when errors were logged
  type: str
  sample: D:\K2\sql_inst.log
"""
