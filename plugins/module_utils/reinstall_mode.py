# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reinstall mode of the Reinstall manager, function 753, "Reinstalace povolena" (runbook K2-17).

K2 cannot be reinstalled unless it is in reinstall mode: nobody logged in, no new logins,
and every check of the version passed. K2 lets the box be ticked only when the
pre-install preparation ran (a generation change, K2-06) and every mandatory version
initialization ran in every mandant but DEMO and INIT (K2-07). ``refusals`` says which
of those conditions do not hold; pure, no I/O (the module ``k2_reinstall_mode`` reads
the rows and writes the flag).
"""

from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_mandants import table_ref
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident


def refusals(manager: Optional[Mapping[str, bool]], current: Optional[str], target: Optional[str],
             missing: Mapping[str, Sequence[str]], system_mandants: Sequence[str], preparation_required: bool = True,
             require_login_ban: bool = True, waive_initializations: bool = False) -> List[str]:
    """Why reinstall mode cannot be set; empty when it can.

    ``manager``: the Reinstall manager's row (``k2_state.reinstall_manager_state``); ``missing``: {mandant code: the
    mandatory initializations that have not run}; ``current``/``target``: the versions (a generation change needs the
    preparation; without a target it is required, as the worst case). ``waive_initializations``: the runbook lets a build
    reinstall ignore missing initializations (the new build runs them); only for a build.
    """
    if manager is None:
        return ["the Reinstall manager's row is missing in CONF (open the Reinstall manager, function 753, once)"]
    reasons = []
    kind = k2_version.upgrade_kind(current, target) if current and target else None
    generation = kind in (None, "generation")
    if generation and preparation_required and not manager["preparation_done"]:
        reasons.append("the pre-install preparation has not run (K2-06; Reinstall manager, Předinstalační příprava)%s"
                       % ("" if current and target else "; give target_version if this is not a generation change"))
    system = {code.upper() for code in system_mandants}
    if waive_initializations and kind != "build":
        reasons.append("missing initializations may be waived only for a build reinstall (K2-07), this is a %s change"
                       % (kind or "possibly generation"))
    for code in sorted(missing):
        if code.upper() not in system and missing[code] and not (waive_initializations and kind == "build"):
            reasons.append("mandatory version initializations have not run in %s: %s (K2-07; Správce / Inicializace verze, "
                           "function 552, button Povinné)" % (code, ", ".join(missing[code])))
    if require_login_ban and not manager["ban_enabled"]:
        reasons.append("logins are not banned (K2-02): reinstall mode means nobody can log in")
    return reasons


def update_sql(platform: str, conf_database: str, profile: Mapping, allowed: bool) -> Tuple[str, tuple]:
    """The UPDATE of the flag (no bind parameters: the value is 0 or 1)."""
    r = profile["reinstall_manager"]
    return "UPDATE %s SET %s = %d" % (table_ref(platform, conf_database, r["table"]), quote_ident(platform, r["reinstall_allowed_column"]),
                                      1 if allowed else 0), ()
