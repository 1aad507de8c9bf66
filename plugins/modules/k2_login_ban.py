#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_login_ban: set or lift the login ban of K2's Reinstall manager (K2-02)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_login_ban
short_description: Set or lift the K2 login ban before a reinstall
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Does what ticking "login ban" in K2's Reinstall manager (function 753) does (K2-02). From the start of the
    ban nobody but the exempt user can log in to K2; users who log in before it are warned with the message.
  - Writes the ban's flag, start, message and exempt user into the one row of the Reinstall manager's table in the CONF
    database. The table and column names come from the K2 profile (entry C(reinstall_manager)); they are assumptions
    about K2's private tables, to be overridden with O(k2_profile) where a K2 differs.
  - K2 stores the start as a date and time without a time zone, in the site's local time. The module converts the
    start to O(timezone) (or, without it, keeps the offset the start was given with) before writing it.
  - Connects to the database from where the module runs, which must have the database driver (pyodbc or oracledb).
    Run it on the controller or in the execution environment (C(delegate_to=localhost)), not on the Windows K2 host.
options:
  conf_database:
    description: The CONF database (on Oracle, its schema).
    type: str
    required: true
  state:
    description:
      - V(present) sets the ban; V(absent) lifts it.
      - Lifting only clears the ban's flag; the last start, message and exempt user stay, as they do in K2.
    type: str
    choices: [present, absent]
    default: present
  start:
    description:
      - When the ban starts. An ISO 8601 date and time with its offset (V(2025-03-05T18:00+01:00), V(2025-03-05 17:00Z)),
        V(now), or a time relative to now (V(+30m), V(+2h), V(+1d), V(+1d2h30m)); relative times are cut to the whole minute.
      - A time without an offset is refused unless O(timezone) says where it is.
      - A relative start (and V(now)) does not move the start of a ban that is already set, so running the task again
        does not postpone the outage. An absolute start always sets that start.
      - A start in the past is refused unless O(allow_past=true) or it is already the stored start.
      - Only used with O(state=present).
    type: str
    default: now
  timezone:
    description:
      - The time zone of the K2 site, as an IANA name (V(Europe/Prague)) or a fixed offset (V(+01:00), V(UTC)).
      - The start is stored, and V(%s) in the message shown, as a wall-clock time in this zone.
      - Without it, an absolute O(start) is stored in the offset it was given with, and relative starts and the stored
        start are read in the local time zone of the machine the module runs on.
    type: str
  ban_message:
    description:
      - The message users see when they log in before the ban starts or are refused after it.
      - It may contain one V(%s), which K2 replaces with the start of the ban as C(d.m.yyyy H:MM) (V(5.3.2025 18:00)),
        and V(%%) for a percent sign. More than one V(%s), or any other C(%) directive (V(%d), V(%5s), V(%0:s), a lone
        V(%)), fails the task and changes nothing.
      - Not set keeps the stored message.
    type: str
  exempt_user:
    description:
      - The K2 user who may still log in, the one who runs the reinstall.
      - Required with O(state=present).
    type: str
  allow_past:
    description: Accept a start in the past (the ban is then active at once).
    type: bool
    default: false
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.database
  - erpops.upgrade.attributes.database_action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Reports what would change and writes nothing.
  diff_mode:
    support: full
    details: Shows the ban's fields (enabled, start, message, exempt user) before and after.
notes:
  - The task fails, writing nothing, when the table has no row or more than one (K2 keeps exactly one).
seealso:
  - module: erpops.upgrade.k2_kill_sessions
  - module: erpops.upgrade.k2_webconfig_maintenance
"""

EXAMPLES = r"""
- name: Ban logins from 18:00 Prague time, warning users before
  erpops.upgrade.k2_login_ban:
    conf_database: K2_CONF
    start: "2025-03-05T18:00"
    timezone: Europe/Prague
    ban_message: "Od %s probíhá reinstalace K2. Uložte si práci a odhlaste se."
    exempt_user: ADMIN
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
  delegate_to: localhost
  register: ban

- name: Ban logins in two hours
  erpops.upgrade.k2_login_ban:
    conf_database: K2_CONF
    start: +2h
    timezone: Europe/Prague
    ban_message: "Reinstalace K2 od %s"
    exempt_user: ADMIN
  delegate_to: localhost

- name: Lift the ban after the reinstall
  erpops.upgrade.k2_login_ban:
    conf_database: K2_CONF
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
ban:
  description: The ban as it is after the task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    enabled:
      description: Whether the ban's flag is set.
      type: bool
      sample: true
    start:
      description: The stored start, a wall-clock time in RV(ban.timezone).
      type: str
      sample: "2025-03-05 18:00:00"
    start_iso:
      description: The start as ISO 8601 with its offset.
      type: str
      sample: "2025-03-05T18:00:00+01:00"
    timezone:
      description: The time zone the stored start is read in.
      type: str
      sample: Europe/Prague
    message:
      description: The stored message, with its V(%s).
      type: str
      sample: "Reinstalace K2 od %s"
    message_shown:
      description: The message as users see it, V(%s) replaced as K2 does.
      type: str
      sample: "Reinstalace K2 od 5.3.2025 18:00"
    exempt_user:
      description: The user who may still log in.
      type: str
      sample: ADMIN
    status:
      description: V(active) (the start has passed), V(pending) (users are being warned) or V(lifted).
      type: str
      sample: pending
    active:
      description: Whether nobody but the exempt user can log in now.
      type: bool
      sample: false
    seconds_until_active:
      description: Whole seconds until the ban is in force; V(0) once it is, V(null) when it is lifted.
      type: int
      sample: 1800
diff:
  description: The ban's fields before and after.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"enabled": false, "start": null, "message": "", "exempt_user": ""},
           "after": {"enabled": true, "start": "2025-03-05 18:00:00", "message": "Reinstalace K2 od %s", "exempt_user": "ADMIN"}}
executed:
  description: The SQL statements run (or, in check mode, that would run).
  returned: always
  type: list
  elements: str
  sample: ['UPDATE "REINSTALACE" SET "ZakazPrihlaseni" = ?, "ZakazOd" = ?, "Zprava" = ?, "Uzivatel" = ?']
written_at:
  description: When the change was committed (UTC, to the millisecond); null when nothing changed or in check mode. The
    reinstall measures its outage from the ban written (or its later start) to the ban lifted.
  returned: always
  type: str
  sample: "2025-03-05T17:00:01.274+00:00"
"""

from datetime import datetime, timezone


from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import login_ban
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params, run_database_module
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile


def argument_spec():
    spec = dict(
        conf_database=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        start=dict(type="str", default="now"),
        timezone=dict(type="str"),
        ban_message=dict(type="str"),
        exempt_user=dict(type="str"),
        allow_past=dict(type="bool", default=False),
        k2_profile=dict(type="dict", default={}),
    )
    spec.update(DB_ARGUMENT_SPEC)
    return spec


def zone_name(zone, given):
    if given:
        return given
    offset = zone.utcoffset(datetime.now()) if zone is not None else None
    return getattr(zone, "key", None) or (zone.tzname(None) if offset is None else _offset_text(offset))


def _offset_text(offset):
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return "%s%02d:%02d" % (sign, abs(minutes) // 60, abs(minutes) % 60)


def read_ban(conf, platform, conf_database, profile):
    rows = conf.query(login_ban.select_sql(platform, conf_database, profile))
    if len(rows) != 1:
        raise login_ban.BanError("%s in %s holds %d rows; K2 keeps exactly one (open the Reinstall manager, function 753, once)"
                                 % (profile["reinstall_manager"]["table"], conf_database, len(rows)))
    return login_ban.row_to_ban(rows[0])


def run(module, now=None):
    params = module.params
    platform = params["db_platform"]
    now = now or datetime.now(timezone.utc)
    profile = merge_profile(params["k2_profile"])
    zone = login_ban.resolve_zone(params["timezone"])
    if params["state"] == "present":
        if not params["exempt_user"]:
            raise login_ban.BanError("exempt_user is required to set the ban (the K2 user who runs the reinstall)")
        if params["ban_message"] is not None:
            login_ban.check_message(params["ban_message"])
    conf = k2db.connect(db_params(params), params["conf_database"])
    try:
        with conf.transaction():
            before = read_ban(conf, platform, params["conf_database"], profile)
            wanted, used_zone = login_ban.plan(before, params["state"], params["start"], params["ban_message"], params["exempt_user"],
                                               now, zone, params["allow_past"])
            changed = login_ban.show(wanted) != login_ban.show(before)
            if changed:
                sql, binds = login_ban.update_sql(platform, params["conf_database"], profile, wanted)
                conf.execute(sql, binds, dont_exec=module.check_mode)
        written_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds") if changed and not module.check_mode else None
        executed = list(conf.executed)
    finally:
        conf.close()
    start = wanted.get("start")
    state = login_ban.status(wanted, now, used_zone)
    ban = login_ban.show(wanted)
    ban.update(
        start_iso=start.replace(tzinfo=used_zone).isoformat() if start else None,
        timezone=zone_name(used_zone, params["timezone"]),
        message_shown=login_ban.render_message(wanted.get("message"), start),
        status=state,
        active=state == "active",
        seconds_until_active=login_ban.seconds_until_active(wanted, now, used_zone),
    )
    result = dict(changed=changed, ban=ban, executed=executed, written_at=written_at)
    if module._diff:
        result["diff"] = dict(before=login_ban.show(before), after=login_ban.show(wanted))
    return result


def main():
    run_database_module(argument_spec(), run)


if __name__ == "__main__":
    main()
