#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: comarch_sync_verify
short_description: Verify the Comarch HRM syncs of a Comarch ERP site around an update or a restore
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Reads the Automatic Operations Service (Serwis Operacji Automatycznych) of Comarch ERP Optima, XL HR or Altum HR over the task's
    connection (C(Get-Service) on Windows; on a host with a POSIX shell, such as the lab, a process named by O(service_pid_file)).
  - Reads the service's schedule and history of HRM syncs and the database version from the ERP database, from the controller
    (or the execution environment). Where these live is an assumption kept in the Comarch profile; see O(comarch_profile).
  - O(phase=before_update) (CM-02) passes only if the service is installed and running, differential syncs are on in the schedule,
    the last differential sync succeeded within the schedule's interval plus O(sync_tolerance), no sync failed since, and nothing is
    pending from HRM. Otherwise it fails, naming every reason and what to do before updating, because HRM data not brought into the
    ERP database before the update is deleted afterwards.
  - O(phase=after_update) (CM-03 to CM-05) checks, and waits up to O(timeout) for, the database version matching O(program_version)
    (the conversion wizard ran), the service running and having reported the new version, differential syncs off with the mandatory
    full sync scheduled and then completed, and the HRM domain O(domain_url) answering again. It reports each stage with its time.
    A failed full sync ends the wait at once.
  - O(phase=after_restore) (CM-06) reports which databases are configured to sync with HRM and which sync. When a restore switched the
    scheduled syncs off it fails and refuses to guess; with O(sync_database) it switches the differential sync of that database only
    back on, refusing when another database already syncs.
  - O(phase=before_update) and O(phase=after_update), and O(phase=after_restore) without O(sync_database), never change anything.
  - This module is implemented as an action plugin.
options:
  phase:
    description: Which check to run.
    type: str
    required: true
    choices: [before_update, after_update, after_restore]
  product:
    description: The Comarch ERP product; selects the default Comarch profile.
    type: str
    choices: [altum_hr, optima, xl_hr]
    default: optima
  database:
    description:
      - The company database synced with Comarch HRM.
      - Required for O(phase=before_update) and O(phase=after_update).
    type: str
  databases:
    description:
      - The databases O(phase=after_restore) looks at.
      - Defaults to every database on the server; databases that cannot be opened are then skipped with a warning.
    type: list
    elements: str
  sync_database:
    description:
      - With O(phase=after_restore), the database that is to sync with HRM; its differential sync is switched back on.
      - Only the operator can decide this; the module never picks one.
    type: str
  program_version:
    description:
      - The program version that was installed, for example C(2025.3.0). Required for O(phase=after_update).
      - It is compared with the database version through the profile's C(versions.program_to_database) mapping, not as equal strings.
    type: str
  domain_url:
    description: The URL of the site's Comarch HRM domain. Required for O(phase=after_update). Any 2xx or 3xx answer counts as open.
    type: str
  validate_certs:
    description: Validate the TLS certificate of O(domain_url).
    type: bool
    default: true
  http_timeout:
    description: Seconds to wait for O(domain_url) to answer one request.
    type: int
    default: 10
  service_name:
    description: The Windows service, by name or display name. Defaults to the profile's C(service.name).
    type: str
  service_pid_file:
    description:
      - On a host without PowerShell (the lab), the file holding the pid of the service's process. No file means not installed;
        a file whose process is gone means stopped.
    type: str
  sync_tolerance:
    description: Seconds the last differential sync may be older than the schedule's interval.
    type: int
    default: 600
  timeout:
    description: With O(phase=after_update), seconds to wait for every stage to complete; C(0) checks once.
    type: int
    default: 0
  poll_interval:
    description: Seconds between checks while waiting.
    type: int
    default: 10
  comarch_profile:
    description:
      - Overrides of the Comarch profile, merged into the product's one entry by entry (C(service), C(db_version), C(versions),
        C(schedule), C(history)). Unknown entries and keys are refused. See docs/comarch.md.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
  - erpops.upgrade.attributes.comarch_group
attributes:
  check_mode:
    support: full
    details: With O(sync_database) the change is only reported, with the SQL it would run.
  diff_mode:
    support: full
    details: With O(sync_database) the schedule of that database before and after.
notes:
  - Comarch ERP runs on MS SQL Server; O(db_platform=oracle) is refused.
"""

EXAMPLES = r"""
- name: Refuse to update while HRM data is not in the ERP database
  erpops.upgrade.comarch_sync_verify:
    phase: before_update
    database: CDN_Firma
    login_host: sql01.example.com
    login_user: optima
    login_password: "{{ vault_optima_sql_password }}"

- name: Wait up to two hours for the conversion, the full sync and the HRM domain
  erpops.upgrade.comarch_sync_verify:
    phase: after_update
    database: CDN_Firma
    program_version: 2025.3.0
    domain_url: https://firma.hrm.comarch.pl/
    timeout: 7200
    poll_interval: 60
    login_host: sql01.example.com

- name: After a restore, let CDN_Firma sync with HRM again
  erpops.upgrade.comarch_sync_verify:
    phase: after_restore
    databases: [CDN_Firma, CDN_Firma_Kopia]
    sync_database: CDN_Firma
    login_host: sql01.example.com
"""

RETURN = r"""
phase:
  description: The phase that ran.
  returned: always
  type: str
  sample: before_update
passed:
  description: Whether every check of the phase held.
  returned: success or a failed check
  type: bool
  sample: false
reasons:
  description: Every check that failed, with a code, a message and what to do.
  returned: success or a failed check
  type: list
  elements: dict
  sample: [{"code": "hrm_changes_pending", "message": "3 change(s) made in Comarch HRM are not in the ERP database yet",
            "remedy": "run an extra sync and wait until nothing is pending"}]
facts:
  description: What the judgement looked at.
  returned: with O(phase=before_update) or O(phase=after_update)
  type: dict
  contains:
    service_state:
      description: C(running), C(stopped), C(missing), or Windows' own state word in snake case (C(start_pending)).
      type: str
      sample: running
    schedule:
      description: The differential and full sync entries of the schedule (C(enabled), C(interval_seconds), C(next_run)), or null.
      type: dict
      sample: {differential: {enabled: true, interval_seconds: 900, next_run: '2025-03-05 18:15:00'}, full: {enabled: false,
        interval_seconds: 0, next_run: null}}
    now:
      description: The database server's time when read.
      type: str
      sample: '2025-03-05 18:02:41'
    last_differential:
      description: The newest differential sync (C(started), C(finished), C(status), C(pending), C(program_version), C(message)).
      type: dict
      sample: {id: 4711, operation: differential, started: '2025-03-05 18:00:02', finished: '2025-03-05 18:00:09', status: success,
        pending: 0, program_version: 2024.5.1, message: ''}
    last_successful_differential:
      description: The newest successful differential sync.
      type: dict
      sample: {id: 4711, operation: differential, started: '2025-03-05 18:00:02', finished: '2025-03-05 18:00:09', status: success,
        pending: 0, program_version: 2024.5.1, message: ''}
    last_full:
      description: The newest full sync.
      type: dict
      sample: {id: 4012, operation: full, started: '2025-02-01 06:00:00', finished: '2025-02-01 06:41:13', status: success,
        pending: 0, program_version: 2024.5.1, message: ''}
    last_successful_full:
      description: The newest successful full sync.
      type: dict
      sample: {id: 4012, operation: full, started: '2025-02-01 06:00:00', finished: '2025-02-01 06:41:13', status: success,
        pending: 0, program_version: 2024.5.1, message: ''}
    last_version_notice:
      description: The newest version the service reported to Comarch.
      type: dict
      sample: {id: 4013, operation: version_notice, started: '2025-02-01 06:42:00', finished: '2025-02-01 06:42:01',
        status: success, pending: 0, program_version: 2024.5.1, message: ''}
    database_version:
      description: The database's version (O(phase=after_update)).
      type: str
      sample: '2025.5000'
    expected_database_version:
      description: The database version O(program_version) maps to (O(phase=after_update)).
      type: str
      sample: '2025.5000'
    domain:
      description: The answer of O(domain_url) (C(open), C(status), C(detail)) (O(phase=after_update)).
      type: dict
      sample: {open: false, status: 503, detail: 'HTTP 503 from https://firma.hrm.example.com/'}
stages:
  description:
    - With O(phase=after_update), one entry per stage (C(database_converted), C(service_reported_version), C(full_sync_scheduled),
      C(full_sync_completed), C(domain_open)) with C(passed), C(detail), C(at) (the database's time, where known), C(seen_at) and
      C(elapsed_seconds) (when this run first saw it complete).
  returned: with O(phase=after_update)
  type: list
  elements: dict
  sample: [{name: database_converted, at: null, passed: true, detail: 'database version 2025.5000, program 2025.3.0
    expects 2025.5000', seen_at: '2025-03-05T18:20:11+00:00', elapsed_seconds: 0.0}, {name: full_sync_completed,
    at: null, passed: false, detail: no full sync has run since the service reported the new version,
    seen_at: null, elapsed_seconds: null}]
waited_seconds:
  description: How long O(phase=after_update) checked.
  returned: with O(phase=after_update)
  type: float
  sample: 1830.4
databases:
  description: With O(phase=after_restore), every database with a schedule table, whether it is configured for HRM and whether it syncs.
  returned: with O(phase=after_restore)
  type: list
  elements: dict
  sample: [{name: OPTIMA_FIRMA, configured: true, syncing: false, schedule: {differential: {enabled: false, interval_seconds: 900,
    next_run: null}, full: {enabled: false, interval_seconds: 0, next_run: null}}}]
configured:
  description: Databases configured to sync with HRM.
  returned: with O(phase=after_restore)
  type: list
  elements: str
  sample: [OPTIMA_FIRMA, OPTIMA_FIRMA_KOPIA]
syncing:
  description: Databases whose schedule is on (after a change, the one switched on).
  returned: with O(phase=after_restore)
  type: list
  elements: str
  sample: [OPTIMA_FIRMA]
enabled_database:
  description: The database whose differential sync was switched on.
  returned: when changed
  type: str
  sample: OPTIMA_FIRMA
executed_queries:
  description: The SQL that ran (or would run in check mode).
  returned: when changed
  type: list
  elements: str
  sample: ['UPDATE "CDN"."SOA_Harmonogram" SET "SOH_Aktywne" = 1 WHERE "SOH_Operacja" = ? AND "SOH_Aktywne" = 0']
"""
