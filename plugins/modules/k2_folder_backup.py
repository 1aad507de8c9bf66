#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_folder_backup
short_description: Back up the K2 folder before the install, and restore it
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - The K2 folder is part of the backup (K2-12, K2-16), since a failed install after one-time conversions needs the
    databases and the old K2 files back.
  - "O(state=present): copies the whole folder (ini files, the files the site added or changed, the old K2) on the K2 host,
    by default beside it, into C(<folder>.erpops-backup-<UTC time>-<run id>). The copy is written under a C(.partial) name,
    compared file by file (path, size, SHA-256) with the folder, then renamed and recorded in the backup manifest as an
    entry of C(kind: folder) with the listing's checksum and the version in the folder. With O(run_id), a second run keeps
    an intact backup of the same run (changed=false)."
  - "O(state=restored): copies the newest folder backup (of O(run_id) when given) to a stage beside the folder, checks it
    against the manifest entry, renames the current folder aside (kept, named in the result) and the stage into its place.
    A failed restore leaves the folder as it was. A folder that already equals its backup is left alone."
  - This module is implemented as an action plugin; the folder is reached over the task's connection (Python on POSIX
    hosts, PowerShell with robocopy on Windows), the manifest is on the controller.
options:
  path:
    description: The K2 folder on the K2 host.
    type: str
    required: true
  manifest:
    description: The site's backup manifest on the controller (the one M(erpops.upgrade.k2_backup) writes).
    type: path
    required: true
  state:
    description: C(present) backs the folder up, C(restored) restores it.
    type: str
    choices: [present, restored]
    default: present
  run_id:
    description: The reinstall run. A backup of the same run is reused; a restore takes that run's backup.
    type: str
  target_dir:
    description: Where the copy goes on the K2 host. Default the folder's parent (same disk, so restores are renames).
    type: str
  k2_profile:
    description: Overrides of the K2 profile (the version file of the folder).
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
attributes:
  check_mode:
    support: full
    details: Says what would be copied or restored; writes nothing.
  diff_mode:
    support: none
    details: No diff; the result names the copy.
seealso:
  - module: erpops.upgrade.k2_backup
"""

EXAMPLES = r"""
- name: Back up the K2 folder before the install
  erpops.upgrade.k2_folder_backup:
    path: 'D:\K2'
    manifest: /var/lib/erpops/site01/backups.json
    run_id: "{{ reinstall_run_id }}"

- name: Restore it with the databases
  erpops.upgrade.k2_folder_backup:
    path: 'D:\K2'
    manifest: /var/lib/erpops/site01/backups.json
    run_id: "{{ reinstall_run_id }}"
    state: restored
"""

RETURN = r"""
backup:
  description: The manifest entry of the folder backup (kind, folder, file, k2_version, taken_at, run_id, files, size, checksum).
  returned: state=present
  type: dict
  sample: {kind: folder, folder: 'D:\K2', file: 'D:\K2.erpops-backup-20250305T170512Z-r1', files: 5120, size: 1825361100,
    checksum: d193ccbbddb6ffd145231f6d40fe32724c143669ef2beafcf02f5ad7397e7052, checksum_kind: listing-sha256,
    k2_version: gaia.12.3, position: before_install, run_id: r1, taken_at: '2025-03-05T17:05:12+00:00',
    verified: true, message: null}
restored:
  description: The manifest entry that was (or would be) restored.
  returned: state=restored
  type: dict
  sample: {kind: folder, folder: 'D:\K2', file: 'D:\K2.erpops-backup-20250305T170512Z-r1', files: 5120, size: 1825361100,
    checksum: d193ccbbddb6ffd145231f6d40fe32724c143669ef2beafcf02f5ad7397e7052, checksum_kind: listing-sha256,
    k2_version: gaia.12.3, position: before_install, run_id: r1, taken_at: '2025-03-05T17:05:12+00:00',
    verified: true, message: null}
replaced_kept_as:
  description: Where the folder that the restore replaced is kept.
  returned: when a restore ran
  type: str
  sample: D:\K2.erpops-replaced-20250305T191400Z
"""
