# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The C(server_slots) option of the modules that do heavy work on a database server (argument spec: ``server_slots.OPTION``)."""

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  server_slots:
    description:
      - At most O(server_slots.limit) heavy operations at once on this database server, whichever site, job or controller
        they come from - each database's backup, restore or conversions hold one slot while they work, and wait for a free
        one before they start, showing who holds the slots.
      - The slots are lease rows in the table C(ERPOPS_SERVER_SLOTS) (created when missing) of the database
        O(server_slots.database) on the server, taken in one transaction on the server's clock; a job that dies frees its
        slots when their lease runs out. See the section Concurrency of C(docs/backup_convert.md).
      - Every job on one server must name the same O(server_slots.database) (the inventory sets it once per server).
    type: dict
    suboptions:
      limit:
        description: How many heavy operations may run at once on the server; V(0) or none - no limit, no slot is taken.
        type: int
      database:
        description:
          - The database (on Oracle, the schema) of the slot table, the same for every job on this server; the login must
            be able to create a table there once and write it.
          - Required when O(server_slots.limit) is set. A small database the DBA creates for the collection (for example
            C(ERPOPS); on Oracle a schema), never a customer's database - a restore would bring old slots back.
        type: str
      wait:
        description: Seconds to wait for a slot before the operation fails (the others go on).
        type: int
        default: 14400
      lease_seconds:
        description: How long a slot is held without renewal; renewed every third of it while the operation works.
        type: int
        default: 300
"""
