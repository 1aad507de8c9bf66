# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The C(lease) option of the long-running database modules (argument spec: ``run_lock.LEASE_OPTION``)."""

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  lease:
    description:
      - The lock of the reinstall run (what M(erpops.upgrade.k2_run) returned as C(lock)). While the module works, a background
        thread renews the run's lease on the CONF database every third of O(lease.seconds), so that a run that was killed while
        this module still works is not taken over, and a second run waits or refuses instead of colliding.
    type: dict
    suboptions:
      token:
        description: The job's lock token.
        type: str
        required: true
      run_id:
        description: The run id (informational).
        type: str
      seconds:
        description: The lease length.
        type: int
        default: 300
      site_key:
        description: The lock row's key; default O(conf_database).
        type: str
"""
