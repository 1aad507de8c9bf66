#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_inputs_check
short_description: Check every input of a K2 reinstall before anything irreversible starts
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Read-only. Answers go or no-go with the reasons, so that a site whose inputs are wrong is never banned, never
    logged off and never backed up for nothing. The preflight (role C(k2_preflight)) runs it before the login ban.
  - Checks the release archive and the installer when they are given, whatever the install method (K2-19, the installer may
    run from a zip of one version); what is not given is not checked, and RV(notes) say so.
  - "The release archive (O(release_archive), install method C(copy)), on the controller: it exists, is a zip (or tar) archive every member of which
    reads back whole (CRC), the install step would unpack it (the same judgement: no absolute path, no C(..), no link or
    special file, no two members Windows would see as one file), it carries a K2 executable and the version file (profile
    C(folder.version_file), C(K2VERSION.txt)) naming O(target_version) at its root, and its SHA-256 is O(sha256) when given."
  - "The installer (O(installer_path), install methods C(installer) and C(vendor_installer)), on the K2 host: it exists, is a Windows Installer package, a
    Windows program or a zip (K2-19), and its SHA-256 is O(sha256) when given. An msi or exe carries no version file, so
    its version is not checked; the result says so in RV(notes)."
  - "C(k2.ini) itself (not C(sysk2.ini)) has its C([DATABASE]) section naming a known DRIVER, a SERVER and the CONF
    DATABASE, and a connection made with them (platform from DRIVER, server and port from SERVER, as K2 connects; the
    login from the connection options) reads the CONF database's C(FIRMY)."
  - The web client's C(web.config) (O(webconfig_path)) parses and has the maintenance rule; it is switched in memory only.
  - "The backup target. MS SQL: C(xp_fileexist) says O(backup_dir) is a folder the server's service account sees, or its
    parent is (k2_backup creates the folder with C(xp_create_subdir)); nothing is written, so whether the account may
    write there shows only at the backup. Oracle: the DIRECTORY object O(oracle_directory) is in C(ALL_DIRECTORIES) and
    WRITE is granted. Lab: C(pg_dump) writes the backups where the module runs, so the folder (or its nearest existing
    parent) must take new files for that user."
  - This module is implemented as an action plugin.
options:
  path:
    description: The K2 folder on the K2 host.
    type: str
    required: true
  target_version:
    description: The version the reinstall installs; the release archive's version file must name it.
    type: str
    required: true
  release_archive:
    description: The release archive (zip) on the controller. Empty, not checked (a note says so).
    type: str
    default: ""
  installer_path:
    description: The installer on the K2 host. Empty, not checked (an installer command runs instead).
    type: str
    default: ""
  sha256:
    description:
      - The SHA-256 the release archive must have, or the installer when no release archive is given (64 hex digits, an
        C(sha256:) prefix allowed).
    type: str
    default: ""
  webconfig_path:
    description: The web client's C(web.config) on the K2 host. Empty, no web client.
    type: str
    default: ""
  webconfig_rule_name:
    description: The name of the maintenance rewrite rule.
    type: str
    default: Site Maintenance
  backup_dir:
    description: The folder the backups go to (MS SQL, lab). Empty, not checked.
    type: str
    default: ""
  oracle_directory:
    description: The Oracle DIRECTORY object of the Data Pump backups; required on Oracle.
    type: str
    default: ""
  k2_profile:
    description: Overrides of the K2 profile.
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
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    details: Nothing changes, so there is no diff.
notes:
  - "A no-go is not a failure of the task: RV(go) is false and RV(reasons) say why. The task fails only on bad options."
seealso:
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Check the inputs before the login ban
  erpops.upgrade.k2_inputs_check:
    path: D:\K2
    target_version: ori.09
    release_archive: /srv/k2/k2-ori.09.zip
    sha256: 3f7a...e1
    webconfig_path: C:\inetpub\k2web\web.config
    backup_dir: E:\Backup\K2
  register: k2_inputs

- name: Stop on no-go
  ansible.builtin.fail:
    msg: "{{ k2_inputs.reasons | join('; ') }}"
  when: not k2_inputs.go
"""

RETURN = r"""
go:
  description: Whether every input passed.
  returned: always
  type: bool
  sample: false
reasons:
  description: Why the site is no-go, one line each.
  returned: always
  type: list
  elements: str
  sample: ["release archive /srv/k2/k2-ori.09.zip holds K2 ori.08, not the target ori.09"]
notes:
  description: What was not checked, and why.
  returned: always
  type: list
  elements: str
  sample: ["no web.config given (no web client): not checked"]
checks:
  description: Each check with its own C(reasons) and what it read.
  returned: always
  type: dict
  contains:
    release:
      description: The release archive with C(path), C(version), C(sha256), C(members) and its C(reasons).
      type: dict
      returned: always
    installer:
      description: The installer with C(path), C(kind) (msi, exe, zip), C(sha256) and its C(reasons).
      type: dict
      returned: always
    k2_ini:
      description: What C(k2.ini) names (C(platform), C(driver), C(server), C(host), C(port), C(database)).
      type: dict
      returned: always
    webconfig:
      description: The web.config check.
      type: dict
      returned: when O(webconfig_path) is given
    backup_target:
      description: The backup folder (C(path)) or the Oracle DIRECTORY object (C(directory)).
      type: dict
      returned: always
  sample: {"k2_ini": {"platform": "mssql", "server": "SQL01,1433", "database": "K2_CONF", "reasons": []}}
"""
