#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the k2_run action; the work is done by the action plugin of the same name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: k2_run
short_description: Keep a K2 site's run state on the site and hold its one-run-at-a-time lock
version_added: 0.2.0
description:
  - The run state of a K2 reinstall (run id, target, decisions, every step with start, end and result, the backup manifest
    entries, whether one-time conversions started, restores, the outage, a history of earlier runs) is one JSON file on the
    K2 host beside the K2 folder (C(D:\K2) -> C(D:\K2.erpops-run.json)), read and written over the task's connection and
    replaced atomically. Any controller (CLI, AWX, another admin's laptop) sees the same state.
  - The lock is a row of the table C(ERPOPS_RUN_LOCK) in the CONF database, taken in one transaction under a row lock, with a
    lease (holder run id, controller host, user, AWX job id from E(AWX_JOB_ID) or E(JOB_ID), since, lease until). A live run
    renews it; a lock whose lease expired is taken over; O(force) takes it at once. Either is logged in the state's C(events).
  - V(begin) takes the lock (or fails at once naming the holder) and plans the run (new, resume at the first unfinished step,
    nothing to do, or refuse an unfinished run to another target). V(decide) records the preflight and the decisions (classic
    upgrade or takeover and why, go/no-go). V(step) records a step (V(started), V(ok), V(failed), V(skipped)) and renews the
    lease. V(finish) records the outcome with the advice after a failure and frees the lock. V(read) returns the state and
    writes a k2_backup manifest of its entries. V(lock), V(unlock) and V(restored) serve C(playbooks/k2_restore.yml).
  - V(restored) with O(not_restored) (or O(folder) without O(folder_restored)) records a restore that stopped part-way -
    status C(partly-restored), the databases restored and not restored, and the command that finishes the restore
    (C(next_command)); it is written even when the database server is gone, and V(begin) refuses such a site, naming
    that command, until a restore ends whole.
  - Decisions are made by C(module_utils/run_state.py); the lock by C(module_utils/run_lock.py). This is an action plugin,
    the module file only documents it.
options:
  state:
    description: What to do (see the description).
    type: str
    required: true
    choices: [begin, decide, step, renew, finish, read, lock, unlock, restored]
  site:
    description: The site's name in the state; default the inventory host name.
    type: str
  path:
    description: The K2 folder on the K2 host; the state file is beside it. Required unless O(state_path) is given.
    type: str
  state_path:
    description: The state file on the K2 host, instead of the one beside O(path).
    type: str
  conf_database:
    description: The CONF database, where the lock row lives.
    type: str
    required: true
  target_version:
    description: The version the run reinstalls to (V(begin)).
    type: str
  lock:
    description: The lock V(begin) or V(lock) returned (RV(lock)); every later call of the run passes it.
    type: dict
    suboptions:
      token:
        description: This job's lock token.
        type: str
        required: true
      run_id:
        description: The run id.
        type: str
      seconds:
        description: The lease length the lock was taken with.
        type: int
        default: 300
      site_key:
        description: The lock row's key (the CONF database).
        type: str
  lease_seconds:
    description: How long a lease lasts without renewal.
    type: int
    default: 300
  force:
    description: Take the lock at once even when another run's lease is live (the state logs it). Only when that run is known dead.
    type: bool
    default: false
  wait:
    description: Seconds to wait for a held lock to be freed or to expire before failing (V(begin), V(lock)).
    type: int
    default: 0
  preflight:
    description: The preflight's result (C(k2_preflight_result)) for V(decide).
    type: dict
  method:
    description: The install method, for the takeover decision.
    type: str
    default: files
  installer_record:
    description: Whether the K2 installer has a record of this installation (V(auto) - yes with the vendor installer).
    type: raw
    default: auto
  takeover:
    description: A takeover was asked for.
    type: bool
    default: false
  outage_mode:
    description:
      - V(decide) - where the steps go around the maintenance window, recorded with the decisions so that a resumed run
        keeps the order. V(short) runs the structure check and the staging of the release before the login ban;
        V(conservative) keeps every step after the preflight inside the window.
    type: str
    choices: [short, conservative]
    default: short
  test_of:
    description:
      - V(decide) - this run is the test reinstall of the production K2 folder named here (K2-18; a test environment made by
        the role C(k2_test_environment)). The copied folder is reinstalled by takeover, and the decision is kept in the state
        (C(decisions.test_of)) so that a resumed run still records its success for the production run.
    type: str
  step:
    description: The step to record (V(step)) or the step that failed (V(finish)).
    type: str
    choices: [preflight, structure_check, stage, maintenance_on, backup, gates, structure, backup_after_check, disk, install,
              conversions, extensions, post_checks, maintenance_off]
  result:
    description: The step's result.
    type: str
    choices: [started, ok, failed, skipped]
    default: ok
  start_next:
    description:
      - With O(result=ok) or O(result=skipped), also record the start of the next pending step when that is a check or
        bookkeeping step (not the ban, the backup, the install or the conversions), at the same moment (one write
        between two steps). A start recorded for another step, or the run's finish, drops such an entry that never began.
    type: bool
    default: false
  msg:
    description: A line about the step.
    type: str
  data:
    description: Keys to set at the top of the state with the step (for example C(database_bytes)).
    type: dict
  manifest:
    description:
      - A k2_backup manifest on the controller. V(step) and V(finish) merge its entries into the state; V(step) and V(read)
        then write the state's entries and backup guards there (the step's database modules read it).
    type: path
  status:
    description: The run's outcome (V(finish)).
    type: str
    choices: [done, failed, no-go]
  failed_step:
    description: The step that failed (V(finish) with V(failed)); default the step the state has open (started, not ended).
    type: str
  convert_result:
    description: k2_convert's result, for the advice; used only when the failed step is the conversions.
    type: dict
  restore_command:
    description: The restore command the advice names.
    type: str
  install_verdict:
    description:
      - k2_install_verdict's result when the install failed, for the advice - after one-time conversions inside the K2 installer
        (C(restore_needed)) a restore is required and a rerun is refused until the site is restored; after a failed removal or
        copy of files the rerun installs by takeover (K2-10, K2-11). Used only when the failed step is the install.
    type: dict
  run_id:
    description: V(read) - the run whose backups a restore uses (default the latest with verified backups); V(restored) - the run restored from.
    type: str
  restored:
    description: The manifest entries k2_backup restored (V(restored)).
    type: list
    elements: dict
  not_restored:
    description: V(restored) - the databases a restore that stopped part-way did not restore (k2_backup's C(not_restored)).
    type: list
    elements: str
    default: []
  folder:
    description: V(restored) - whether the restore was asked to restore the K2 folder too.
    type: bool
    default: false
  folder_restored:
    description: V(restored) - whether the K2 folder was restored (with O(folder)).
    type: bool
    default: false
  inventory:
    description: V(restored) - the inventory the command that finishes a partial restore names (C(-i)).
    type: str
  release:
    description: Free the lock at V(finish) and V(restored).
    type: bool
    default: true
  copy_dir:
    description: A folder on the controller that gets a copy of the state per run (C(<site>-<run id>.json)) for reports.
    type: path
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: In check mode the lock is only read (a live lease of another run still refuses) and the state is not written.
  diff_mode:
    support: none
notes:
  - The state changes are bookkeeping of the run; the tasks report C(changed=false) except V(restored).
seealso:
  - module: erpops.upgrade.k2_backup
  - module: erpops.upgrade.k2_convert
author:
  - erpops.upgrade contributors (@erpops)
"""

EXAMPLES = r"""
- name: Take the site's lock and plan the run
  erpops.upgrade.k2_run:
    state: begin
    path: D:\K2
    conf_database: K2_CONF
    target_version: ori.09
  register: run

- name: Record the backup step
  erpops.upgrade.k2_run:
    state: step
    path: D:\K2
    conf_database: K2_CONF
    lock: "{{ run.lock }}"
    step: backup
    manifest: /tmp/site01-backups.json

- name: Finish the run and free the lock
  erpops.upgrade.k2_run:
    state: finish
    path: D:\K2
    conf_database: K2_CONF
    lock: "{{ run.lock }}"
    status: done
"""

RETURN = r"""
state:
  description:
    - The whole run state after the call; each backup entry without the lab's per-table fingerprints and a folder
      backup's file list (the state file keeps them for the restore).
  returned: always
  type: dict
  sample: {run_id: acme-k2-ori.09-20250305T170000Z-e84231ac, site: acme-k2, target_version: ori.09, from_version: gaia.12.3,
    status: running, started: '2025-03-05T17:00:00Z', finished: null, controller: {host: awx-ee-7, user: runner,
    awx_job_id: '412'}, decisions: {mode: classic, takeover_reasons: [], upgrade_kind: generation, go: true,
    reasons: []}, steps: [{name: preflight, started: '2025-03-05T17:00:02Z', ended: '2025-03-05T17:00:31Z',
    result: ok, msg: '', window: before}], outage: {ban_on: '2025-03-05T17:01:00Z', ban_off: null, seconds: null},
    one_time_started: false, restore_required: false, advice: null, schema: 1, backups: [], restores: [],
    history: [], events: [{at: '2025-03-05T17:00:00Z', event: start, msg: no earlier run on this site}]}
summary:
  description: The state without backups and history (run_id, status, started, finished, steps, outage, decisions, advice...).
  returned: always
  type: dict
  sample: {run_id: acme-k2-ori.09-20250305T170000Z-e84231ac, site: acme-k2, target_version: ori.09, from_version: gaia.12.3,
    status: running, started: '2025-03-05T17:00:00Z', finished: null, controller: {host: awx-ee-7, user: runner,
    awx_job_id: '412'}, decisions: {mode: classic, takeover_reasons: [], upgrade_kind: generation, go: true,
    reasons: []}, steps: [{name: preflight, started: '2025-03-05T17:00:02Z', ended: '2025-03-05T17:00:31Z',
    result: ok, msg: '', window: before}], outage: {ban_on: '2025-03-05T17:01:00Z', ban_off: null, seconds: null},
    one_time_started: false, restore_required: false, advice: null}
run_id:
  description: The run id.
  returned: always
  type: str
  sample: site01-ori.09-20261130T021500Z-3f9a1c2e
started_next:
  description: The step whose start O(start_next) recorded, else null.
  returned: state is step
  type: str
  sample: gates
next_step:
  description: The first step not ended ok.
  returned: always
  type: str
  sample: conversions
pending:
  description: The steps not ended ok, in order.
  returned: always
  type: list
  elements: str
  sample: [maintenance_on, backup, gates, structure, backup_after_check, disk, install, conversions, extensions,
    post_checks, maintenance_off]
plan:
  description: What V(begin) decided - C(action) (new, resume, done) and C(why).
  returned: state is begin
  type: dict
  sample: {action: resume, why: resumes run site01-ori.09-20261130T021500Z-3f9a1c2e at the step conversions}
lock:
  description: The lock to pass to the run's later calls (token, run_id, site_key, seconds).
  returned: state is begin or lock
  type: dict
  sample: {token: 36ffbe163ef2428388b836a66721ec87, run_id: acme-k2-ori.09-20250305T170000Z-e84231ac, site_key: K2_CONF,
    seconds: 300}
holder:
  description: The run that holds the lock, when the call failed because of it.
  returned: when the lock is held by another run
  type: dict
  sample: {run_id: site01-ori.09-20261130T021500Z-3f9a1c2e, controller_host: awx-ee-7, controller_user: runner, awx_job_id: "412"}
advice:
  description:
    - After a failure - C(restore_required), C(resume_at), C(next) (what to do), C(restore_command) (where a restore is the way on
      or back, else null) and C(takeover) (why the rerun installs by takeover, else null).
  returned: state is finish and status is failed
  type: dict
  sample: {restore_required: false, resume_at: conversions, takeover: null, restore_command: null, next: 'Fix the cause and run
    the reinstall again: it resumes at the conversions; the journal skips every batch already applied, so no one-time
    conversion runs twice. The maintenance window stays on.'}
failed_step:
  description: The step recorded failed (O(failed_step), else the step the state had open), null when none was open.
  returned: state is finish
  type: str
  sample: conversions
manifest:
  description: The manifest written from the state's entries.
  returned: state is step or read, and manifest is given
  type: str
  sample: /var/lib/erpops/state/acme-k2-backups.json
restore_run_id:
  description: The run whose backups a restore uses.
  returned: state is read
  type: str
  sample: acme-k2-ori.09-20250305T170000Z-e84231ac
next_command:
  description: The command that finishes a restore that stopped part-way.
  returned: state is restored and the restore stopped part-way
  type: str
  sample: >-
    ansible-playbook erpops.upgrade.k2_restore -i inventory.yml -l acme-k2 -e k2_restore_run_id=acme-k2-ori.09-20250305T170000Z-e84231ac
    -e '{"k2_restore_databases": ["K2_FIRMA", "K2_INIT"]}' -e k2_restore_folder=true -e k2_restore_force_lock=true
"""
