# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared descriptions of the module attributes (``erpops.upgrade.attributes``).

A module lists the fragments it needs and states only its own ``support`` (and, where it says more than the
shared text, its own ``details``)::

    extends_documentation_fragment:
      - erpops.upgrade.attributes             # check_mode, diff_mode
      - erpops.upgrade.attributes.action      # implemented as an action plugin: action, platform posix + windows
      - erpops.upgrade.attributes.database    # a plain module that connects to the databases: platform posix
      - erpops.upgrade.attributes.database_action  # ...whose action plugin runs it in the controller's process when local
      - erpops.upgrade.attributes.k2_group    # member of group/erpops.upgrade.k2
    attributes:
      check_mode:
        support: full
        details: Lists the rows it would delete; deletes nothing.
      diff_mode:
        support: none

The module's own keys win over the fragment's, key by key, so ``support`` must always be stated by the module
(except for ``action``, ``platform`` and ``action_group``, which the fragments state in full).
"""

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing the databases or files.
  diff_mode:
    description: Returns what has changed (or would change in check mode) as a diff when run with C(--diff).
"""

    # A module implemented as an action plugin: it runs on the controller (or in the execution environment),
    # reaches the databases from there and the K2 host's files over the task's connection.
    ACTION = r"""
options: {}
attributes:
  action:
    description: Implemented as an action plugin; the work is done on the controller (or in the execution environment).
    support: full
    details:
      - Database connections, where the module has them, are opened from the controller; files on the K2 host are
        read and written over the task's connection (WinRM or PSRP to Windows, SSH to POSIX).
  platform:
    description: Target OS families the module can be run against.
    support: full
    platforms: [posix, windows]
"""

    # A plain module that connects to the databases from the host it runs on.
    DATABASE = r"""
options: {}
attributes:
  platform:
    description: Target OS families the module can be run against.
    support: full
    platforms: posix
    details:
      - Runs where the task runs, usually the controller (C(delegate_to) C(localhost)), which needs the Python and
        ODBC requirements; it does not run on the Windows K2 host itself.
"""

    # A database module with an action plugin (plugin_utils.database_module) that runs its code in the controller's
    # process where Ansible would start it on the controller anyway.
    DATABASE_ACTION = r"""
options: {}
attributes:
  action:
    description: Has an action plugin.
    support: partial
    details:
      - On a local connection without become (the roles' C(delegate_to=localhost)) the module's code runs in the controller's
        process, with the controller's Python and drivers, without a Python process of its own; elsewhere it runs as a
        plain module where the task runs.
"""

    K2_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/erpops.upgrade.k2) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - erpops.upgrade.k2
"""

    COMARCH_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/erpops.upgrade.comarch) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - erpops.upgrade.comarch
"""
