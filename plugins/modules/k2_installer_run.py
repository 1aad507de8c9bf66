#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_installer_run
short_description: Run the K2 installer command the user configured, with a timeout
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - Runs O(command) on the K2 host (over the task's connection) as the install step of the method C(installer)
    (K2-19). The command is the user's own unattended invocation of their K2 installer; nothing in it is guessed.
  - Before the command starts, notes the size of C(sql_inst.log) in O(path) (C(log_offset)), so that
    M(erpops.upgrade.k2_install_verdict) reads only what this install wrote.
  - A command still running after O(timeout) seconds is stopped with everything it started (POSIX - its own session, killed
    as a process group; Windows - C(taskkill /T /F)).
  - Never fails for the installer's exit code; the verdict judges the install. Fails only when the command could not be run.
  - This module is implemented as an action plugin.
options:
  command:
    description: The installer command line (sh on POSIX, C(cmd.exe /c) on Windows). It never gets a terminal or input.
    type: str
    required: true
  path:
    description: The K2 folder (where C(sql_inst.log) is).
    type: str
    required: true
  timeout:
    description: Seconds before the installer is stopped.
    type: int
    default: 7200
  k2_profile:
    description: Overrides of the K2 profile (the name of C(sql_inst.log)).
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
attributes:
  check_mode:
    support: full
    details: Does not run the installer; says it would.
  diff_mode:
    support: none
    details: No diff.
seealso:
  - module: erpops.upgrade.k2_install_verdict
"""

EXAMPLES = r"""
- name: Run the K2 installer from the release zip
  erpops.upgrade.k2_installer_run:
    command: 'D:\Install\K2\K2Setup.exe /update /folder "D:\K2" /quiet'
    path: 'D:\K2'
    timeout: 5400
  register: k2_installer
"""

RETURN = r"""
exit_code:
  description: The installer's exit code (null when it had to be killed and never exited).
  returned: when it ran
  type: int
  sample: 0
timed_out:
  description: Whether the installer was stopped at the timeout.
  returned: when it ran
  type: bool
  sample: false
log_offset:
  description: The size of C(sql_inst.log) before the installer started.
  returned: when it ran
  type: int
  sample: 18231
output:
  description: The last lines of the installer's output.
  returned: when it ran
  type: str
  sample: "copied 5118 files; installation record 2\nconverted FIRMA2: K2_D509Additional.sql (3 batches)\nstructure check: consistent"
"""
