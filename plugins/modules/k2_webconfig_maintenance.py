#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the k2_webconfig_maintenance action; the work is done by the action plugin of the same name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
---
module: k2_webconfig_maintenance
short_description: Switch the web K2 maintenance page in web.config
version_added: 0.1.0
description:
  - Sets the C(enabled) attribute of the IIS URL Rewrite rule C(Site Maintenance) in the web K2 client's
    C(web.config), found in C(configuration/system.webServer/rewrite/rules), to C(true) for an outage
    and back to C(false) afterwards (runbook K2-03).
  - The rule name is matched ignoring case, as IIS compares rule names. Rules of that name inside
    C(<location>), in C(outboundRules), or in XML comments are never touched.
  - Everything else in the file stays byte for byte as it was, including the encoding and byte order mark
    (UTF-8, UTF-16, or the encoding the XML declaration names), line endings, attribute order, comments and
    indentation. The file is parsed only to validate it and to find the rule; then just the attribute value
    is replaced.
  - A missing C(enabled) attribute means enabled, as in IIS. Enabling such a rule changes nothing; disabling it
    inserts C(enabled="false") right after the C(name) attribute.
  - The file is read over the task's connection (WinRM or PSRP on Windows, any connection with a POSIX
    shell in the lab), changed on the controller, put back as a temporary file in the same directory and
    swapped in with one atomic replace (C([System.IO.File]::Replace) on Windows, which keeps the file's ACL;
    C(mv -f) with sh).
  - A file that is missing or not well-formed XML (reported with line and column) fails the task and stays
    untouched.
  - This is an action plugin. The module file only documents it.
options:
  path:
    description:
      - Absolute path of C(web.config) on the K2 host, for example C(C:\inetpub\wwwroot\K2Web\web.config).
    type: path
    required: true
  state:
    description:
      - C(enabled) turns the maintenance page on, C(disabled) turns it off.
    type: str
    choices: [enabled, disabled]
    default: enabled
  rule_name:
    description:
      - Name of the rewrite rule that serves the maintenance page.
    type: str
    default: Site Maintenance
  backup:
    description:
      - Keep a copy of the original file next to it before changing it, and return its name in RV(backup_file).
      - The name is C(web.config.<pid>.<YYYYMMDD-HHMMSS>.bak) on Windows (as ansible.windows names backups)
        and C(web.config.<pid>.<YYYY-MM-DD@HH:MM:SS~>) with a POSIX shell (as ansible.builtin does), with the
        controller's process id and local time.
    type: bool
    default: false
  create_rule:
    description:
      - When the rule is missing, add a standard maintenance rule instead of failing. The rule rewrites every
        request except the page itself to C(maintenance.html) in the application's folder; that page must exist
        and should not load other files from the site.
      - The rule is added first in C(rewrite/rules) (after a C(<clear />)), so that it wins over the other
        rules. C(rewrite) and C(rules) are created when absent. The file's line endings and indentation are used.
      - The new rule gets the requested O(state).
    type: bool
    default: false
extends_documentation_fragment:
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Changing C(web.config) makes IIS restart the application; users of the web client are disconnected.
  - The backup is only made when the file changes.
seealso:
  - name: URL Rewrite configuration reference
    description: The C(rule) element of the IIS URL Rewrite module.
    link: https://learn.microsoft.com/en-us/iis/extensions/url-rewrite-module/url-rewrite-module-configuration-reference
author:
  - erpops.upgrade contributors (@erpops)
"""

EXAMPLES = r"""
- name: Show the maintenance page before the K2 reinstall
  erpops.upgrade.k2_webconfig_maintenance:
    path: C:\inetpub\wwwroot\K2Web\web.config
    state: enabled
    backup: true

- name: Take the maintenance page down again
  erpops.upgrade.k2_webconfig_maintenance:
    path: C:\inetpub\wwwroot\K2Web\web.config
    state: disabled

- name: Add the maintenance rule where it is missing, switched off
  erpops.upgrade.k2_webconfig_maintenance:
    path: C:\inetpub\wwwroot\K2Web\web.config
    state: disabled
    create_rule: true
"""

RETURN = r"""
path:
  description: The web.config that was handled.
  returned: always
  type: str
  sample: C:\inetpub\wwwroot\K2Web\web.config
state:
  description: The requested state of the rule.
  returned: always
  type: str
  sample: enabled
previous_state:
  description:
    - State of the rule before the task; C(absent) when the rule was created, C(invalid) when its
      C(enabled) attribute was not a boolean.
  returned: always
  type: str
  sample: disabled
rule_created:
  description: Whether the standard maintenance rule was added.
  returned: always
  type: bool
  sample: false
line:
  description: Line of the rule's start tag in the (new) file.
  returned: always
  type: int
  sample: 163
encoding:
  description: Encoding of the file as a Python codec name, suffixed C(+bom) when it starts with a byte order mark.
  returned: always
  type: str
  sample: utf-8+bom
backup_file:
  description: Name of the backup file that was created.
  returned: changed and O(backup=true)
  type: str
  sample: C:\inetpub\wwwroot\K2Web\web.config.11540.20250212-220915.bak
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erpops.upgrade.plugins.module_utils.webconfig import ARGUMENT_SPEC


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="erpops.upgrade.k2_webconfig_maintenance runs as an action plugin on the controller;"
                         " it cannot be run as a module on the host")


if __name__ == "__main__":
    main()
