#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_extensions_update
short_description: Update the Object designer extensions of a K2 site after a reinstall
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Runs the K2 executable on the K2 host over the task's connection with C(EXTENSIONS=UPDATE RSOFF=1) (K2-14), or
    C(EXTENSIONS=UPDATE_ALL), optionally with C(EXTENSIONS.EXT=<name>).
  - K2 may end to restart during the update. The module then runs it again with the same parameters, up to O(max_restarts)
    times, until K2 stays up. Every attempt is reported with its command, exit code, duration and the tail of its output.
  - B(When K2 stays up.) On a sh host (the lab) the executable reports by exit code. V(0) means K2 stayed up,
    O(restart_exit_code) means it ended for a restart, and any other code is a failure.
  - On Windows K2 is a GUI program that does not exit by itself. It is started with C(Start-Process) and counts as settled
    once it has kept running (with its window, if any, responding) for O(settle_seconds). It is then asked to close
    (C(CloseMainWindow), as a user closing the window). When it has not closed after O(grace_seconds), its process tree is
    killed. An exit before it settled counts as a restart. K2 runs in the WinRM session, without a desktop.
  - The status of every extension (current, format) is read from the CONF database, from the controller, in the table the
    K2 profile names (entry C(extensions)). The task reports C(changed) only when that status changed. When every extension
    is current and in the format the installed K2 needs, K2 is not started at all (unless O(mode=update_all)).
  - From K2 mia.03 the extension format is 2.02 (it was 1.0). The same update converts the extensions, so an extension in an
    older format counts as one to update. Definitions (xml) are not converted by K2, because K2 does not know where they
    are kept. The module lists those under O(definitions_path) that declare an older format; they are converted by hand
    when opened in the Object designer.
  - A K2 that runs longer than O(timeout) in one attempt is killed with its child processes, and the task fails.
  - This module is implemented as an action plugin.
options:
  path:
    description: The K2 folder on the K2 host.
    type: str
    required: true
  executable:
    description:
      - The K2 executable, relative to O(path) or absolute.
      - Defaults to the first of the profile's C(folder.executables) found in O(path).
    type: str
  mode:
    description:
      - V(update) runs C(EXTENSIONS=UPDATE), which updates the outdated extensions.
      - V(update_all) runs C(EXTENSIONS=UPDATE_ALL), which updates every extension, for example after C(extensions) was copied
        from a test K2 of the same version. K2 is then started even when every extension is current.
    type: str
    choices: [update, update_all]
    default: update
  extension_set:
    description:
      - Adds C(EXTENSIONS.EXT=<name>), so that K2 uses the folder C(extensions.<name>) (for debugging).
      - Letters, digits, C(_), C(-) and C(.) only.
    type: str
  max_restarts:
    description: How many times K2 is run again after it ended for a restart.
    type: int
    default: 5
  settle_seconds:
    description:
      - Windows only. How long K2 must keep running before it counts as having stayed up; it is then closed.
      - Must be longer than the update takes, or K2 is closed during the update and the task fails with outdated extensions.
      - Must be shorter than O(timeout) (checked on Windows only).
    type: int
    default: 60
  grace_seconds:
    description: Windows only. How long a settled K2 may take to close its window before its process tree is killed.
    type: int
    default: 30
  progress_after:
    description:
      - "While the task runs, a K2 start that has lasted this many seconds gets a progress line
        (C([host] extensions update: K2 start 1 (...) started at 21:04:10 UTC)) and, when it ends, one with its outcome
        and the time it took. Shorter ones print nothing. The lines show in a terminal and in AWX's job output."
    type: float
    default: 1.0
  timeout:
    description:
      - Seconds one attempt may take. Then K2 and its child processes are killed and the task fails.
      - On sh hosts this uses GNU C(timeout), which must be installed.
    type: int
    default: 1800
  restart_exit_code:
    description: sh hosts only. The exit code with which the executable asks to be run again (the lab's stand-in uses 3).
    type: int
    default: 3
  conf_database:
    description: The CONF database (on Oracle, its schema). Defaults to what C(k2.ini) names.
    type: str
  installed_version:
    description:
      - The installed K2 version, which decides the extension format K2 needs (2.02 from mia.03, 1.0 before).
      - Defaults to the version C(k2.ini) records. When neither is known, formats are reported but not judged.
    type: str
  definitions_path:
    description:
      - Files or folders on the K2 host holding extension definitions (xml). Folders are searched recursively for C(*.xml).
      - Only read. Files whose format is older than the installed K2 needs are listed in RV(definitions_to_convert).
    type: list
    elements: str
    default: []
  definition_format_attribute:
    description:
      - The attribute of a definition's root element that holds its format, matched without regard to case.
      - K2's definition format is not public; this is an assumption you can change.
    type: str
    default: format
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
    details: Reads the status and reports what would run and which extensions would be updated; K2 is not started.
  diff_mode:
    support: none
notes:
  - On Windows the command is one PowerShell script (C(Start-Process -PassThru), then a wait loop), because a process started
    from a WinRM shell ends with that shell.
seealso:
  - module: erpops.upgrade.k2_info
"""

EXAMPLES = r"""
- name: Update the extensions after the reinstall
  erpops.upgrade.k2_extensions_update:
    path: 'D:\K2'
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
    settle_seconds: 120
    definitions_path:
      - 'D:\Vyvoj\Rozsireni'
  register: extensions

- name: Show the definitions to convert by hand
  ansible.builtin.debug:
    var: extensions.definitions_to_convert
"""

RETURN = r"""
argv:
  description: The K2 command of every attempt.
  returned: success
  type: list
  elements: str
  sample: ['D:\K2\k2.exe', 'EXTENSIONS=UPDATE', 'RSOFF=1']
ran:
  description: Whether K2 was started.
  returned: always
  type: bool
  sample: true
attempts:
  description: One entry per start of K2.
  returned: always
  type: list
  elements: dict
  sample: [{number: 1, argv: ['D:\K2\k2.exe', EXTENSIONS=UPDATE, RSOFF=1], outcome: restart, exit_code: 3, seconds: 41.5,
    output_tail: '', detail: null}, {number: 2, argv: ['D:\K2\k2.exe', EXTENSIONS=UPDATE, RSOFF=1], outcome: settled,
    exit_code: null, seconds: 120.2, output_tail: '', detail: K2 settled and closed its window when asked}]
  contains:
    number:
      description: 1 for the first attempt.
      type: int
      sample: 1
    argv:
      description: The command.
      type: list
      elements: str
      sample: ['D:\K2\k2.exe', EXTENSIONS=UPDATE, RSOFF=1]
    outcome:
      description: C(settled) (K2 stayed up), C(restart), C(timeout) (killed) or C(failed).
      type: str
      sample: settled
    exit_code:
      description: The exit code; null on Windows when K2 did not exit by itself.
      type: int
      sample: 3
    seconds:
      description: How long the attempt took, measured on the controller.
      type: float
      sample: 41.5
    output_tail:
      description: The last lines K2 wrote.
      type: str
      sample: 'K2: extensions updated: 1 (Sklad)'
    detail:
      description: How K2 was stopped, when it was.
      type: str
      sample: K2 settled and closed its window when asked
restarts:
  description: How many times K2 ended for a restart.
  returned: always
  type: int
  sample: 1
installed_version:
  description: The installed K2 version the format was judged against.
  returned: success
  type: str
  sample: ori.09
required_format:
  description: The extension format the installed K2 needs (C(2.02) from mia.03); null when the version is unknown.
  returned: success
  type: str
  sample: '2.02'
extensions_before:
  description: The status of every extension before the update.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "Sklad", "current": false, "format": "1.0"}]
extensions:
  description: The status of every extension at the end (the same as RV(extensions_before) when K2 did not run).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "Sklad", "current": true, "format": "2.02"}]
updated:
  description: Extensions whose status changed.
  returned: success
  type: list
  elements: str
  sample: [Mzdy, Sklad]
to_update:
  description: Extensions not current or in an older format; at the end, those still left.
  returned: success
  type: list
  elements: str
  sample: [Sklad]
format_conversion:
  description: Whether some extension is still in an older format than RV(required_format).
  returned: success
  type: bool
  sample: true
old_format:
  description: Extensions in an older format than RV(required_format).
  returned: success
  type: list
  elements: str
  sample: [Mzdy]
definitions_to_convert:
  description: Definitions under O(definitions_path) to convert by hand, with their format and why.
  returned: when O(definitions_path) is set
  type: list
  elements: dict
  sample: [{"path": 'D:\Vyvoj\Rozsireni\Sklad.xml', "format": "1.0", "reason": "format 1.0 is older than 2.02"}]
definitions_missing:
  description: Paths of O(definitions_path) that do not exist.
  returned: when O(definitions_path) is set
  type: list
  elements: str
  sample: ['D:\Vyvoj\Rozsireni\old']
"""
