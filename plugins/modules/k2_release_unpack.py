#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: k2_release_unpack
short_description: Copy a K2 release archive into a K2 folder safely (install method copy)
version_added: 0.2.0
author: erpops.upgrade contributors (@erpops)
description:
  - Puts the files of a K2 release archive (zip, or tar on POSIX hosts) into the K2 folder, for a K2 that is copied rather
    than installed by the K2 installer (K2-01 "installed or copied"; the collection then runs the conversions).
  - "Every member is judged on the controller before anything is written: a name with a C(..) part, an absolute name, a
    symbolic or hard link (one replacing C(k2.ini) included), a device or a name given twice (as Windows compares names)
    fails the task with every such member named. The archive can be checked against O(sha256)."
  - The site's configuration (O(protected)) is never replaced; such members are skipped with a warning.
  - The folder is copied beside itself, the members are written into the copy and checked, then the copy is swapped in by two
    renames. A failed unpack or swap leaves the folder as it was.
  - Only files whose content differs are counted as replaced; a second run changes nothing.
  - This module is implemented as an action plugin; the folder is reached over the task's connection (sh in the lab,
    PowerShell on Windows).
options:
  src:
    description: The release archive on the controller.
    type: path
    required: true
  dest:
    description: The K2 folder on the K2 host.
    type: str
    required: true
  staged:
    description:
      - A copy of O(src) already on the K2 host (staged before the maintenance window). Its SHA-256, read on the K2 host, must
        be the archive's; it is then unpacked instead of transferring O(src) again. A different or missing copy fails the
        task with nothing written.
    type: str
  sha256:
    description: The expected SHA-256 of the archive (hex). A different archive fails the task with nothing written.
    type: str
  protected:
    description: Paths of the folder a release never replaces (a trailing C(/) protects a whole subfolder).
    type: list
    elements: str
    default: [k2.ini, sysk2.ini, Conf/]
extends_documentation_fragment:
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
attributes:
  check_mode:
    support: full
    details: Judges the archive and lists the files that would be replaced; writes nothing into the folder.
  diff_mode:
    support: full
    details: Lists the files that are (or would be) replaced.
seealso:
  - module: erpops.upgrade.k2_convert
"""

EXAMPLES = r"""
- name: Copy the release into the K2 folder
  erpops.upgrade.k2_release_unpack:
    src: /srv/k2/k2-ori.09.zip
    sha256: 1b5da5374015f0479ab080ebef76ef0fba489ff4856d3c0b01cc60a6be1aef9c
    dest: 'D:\K2'
"""

RETURN = r"""
sha256:
  description: The archive's SHA-256.
  returned: success
  type: str
  sample: 23f254b463ee242addcbb28e2dcbde7e1f61d7f49ef1b91687df11d195b7eb97
files:
  description: How many files the release holds (protected ones not counted).
  returned: success
  type: int
  sample: 5118
replaced:
  description: The files that differed from the folder and were (or would be) written.
  returned: success
  type: list
  elements: str
  sample: [k2.exe, SQL/K2t_CONF_MSSQL.SQL]
skipped:
  description: Members kept out because they are the site's configuration.
  returned: success
  type: list
  elements: str
  sample: [k2.ini, sysk2.ini]
"""
