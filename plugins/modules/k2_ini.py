#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the k2_ini action; the work is done by the action plugin of the same name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: k2_ini
short_description: Set keys of K2's ini files (k2.ini, sysk2.ini) byte for byte
version_added: 0.1.0
description:
  - Sets keys of a K2 ini file on the K2 host, for example C(SERVER) and C(DATABASE) in section C(DATABASE) of a test
    environment's C(k2.ini) (K2-18).
  - Everything else stays byte for byte as it was, including the encoding (the Windows code page C(cp1250) unless the file
    starts with a UTF-8 or UTF-16 byte order mark), each line's line ending, comments, key order, the spacing around C(=)
    and double quotes around a value.
  - Sections and keys are matched ignoring case and leading blanks, as Windows reads ini files. A key that occurs more than
    once is set everywhere, because Windows reads the first occurrence and other readers the last.
  - A value that cannot be written in the file's encoding, or holds a line break, fails the task and the file stays untouched.
  - The file is read over the task's connection (WinRM or PSRP on Windows, a POSIX shell in the lab), changed on the
    controller, put back as a temporary file in the same folder and swapped in with one atomic replace
    (C([System.IO.File]::Replace) on Windows, C(mv -f) with sh), as M(erpops.upgrade.k2_webconfig_maintenance) does.
  - This is an action plugin. The module file only documents it.
options:
  path:
    description: Absolute path of the ini file on the K2 host.
    type: str
    required: true
  values:
    description: "The keys to set, by section, for example C({DATABASE: {SERVER: sql02, DATABASE: K2_CONF_TEST}})."
    type: dict
    required: true
  missing:
    description:
      - What happens to a key the file does not have. V(add) adds it at the end of its section (the section is appended
        when absent), V(ignore) leaves it out, V(fail) fails the task and changes nothing.
    type: str
    choices: [add, ignore, fail]
    default: add
  backup:
    description:
      - Keep a copy of the original file next to it before changing it, named as M(erpops.upgrade.k2_webconfig_maintenance)
        names its backups, and return its name in RV(backup_file).
    type: bool
    default: false
  encoding:
    description: The code page of a file without a byte order mark.
    type: str
    default: cp1250
extends_documentation_fragment:
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - erpops.upgrade contributors (@erpops)
"""

EXAMPLES = r"""
- name: Point the test copy at its copied CONF database
  erpops.upgrade.k2_ini:
    path: D:\K2_TEST\k2.ini
    values:
      DATABASE:
        SERVER: sql02
        DATABASE: K2_CONF_TESTENV
    backup: true
"""

RETURN = r"""
path:
  description: The file that was handled.
  returned: always
  type: str
  sample: D:\K2_TESTENV\k2.ini
changes:
  description: The keys set, with C(section), C(key), C(before) (null when added) and C(after).
  returned: always
  type: list
  elements: dict
  sample: [{"section": "DATABASE", "key": "DATABASE", "before": "K2_CONF", "after": "K2_CONF_TESTENV"}]
previous:
  description: The values the file held before, by section and key.
  returned: always
  type: dict
  sample: {DATABASE: {DATABASE: K2_CONF, SERVER: sql01\K2}}
encoding:
  description: The encoding the file was read and written in.
  returned: always
  type: str
  sample: cp1250
backup_file:
  description: Name of the backup file that was created.
  returned: changed and O(backup=true)
  type: str
  sample: D:\K2_TESTENV\k2.ini.4211.20250305-170012.bak
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_ini_edit import ARGUMENT_SPEC


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="erpops.upgrade.k2_ini runs as an action plugin on the controller; it cannot be run as a module on the host")


if __name__ == "__main__":
    main()
