"""The stand-in Automatic Operations Service of a lab Comarch site.

``python -m tools.comarchlab.service --site-dir DIR``: on every tick it reads the site's knobs
and, for each company database, does what the real service does to the schedule and history
(as the lab's Comarch lays them out, ``vendor.py``):

- after the program version changed (the stand-in installer ran), it reports the new version
  (a ``version_operation`` row), as the real service tells Comarch (CM-04);
- when the full sync is scheduled, it runs it once per version: a ``running`` row, a wait of
  ``full_sync_seconds``, then success (full off, differential back on, HRM domain unlocked) or
  failure (``full_sync_fails``);
- otherwise, when the differential sync is on and due, it writes one differential sync
  (failed when ``failing_syncs``, with ``hrm_pending`` changes left).

It exits after ``lifetime_seconds`` so that a forgotten lab leaves no process behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from tools.comarchlab import common, vendor

TICK = 0.3


class Service:
    def __init__(self, site_dir: str):
        self.site_dir = site_dir
        self.site = common.read_json(os.path.join(site_dir, common.SITE_FILE))
        self.layout = common.layout_of(self.site)
        self.connections = {name: common.connect(self.site, name) for name in self.site["databases"]}
        self.full_done_for = {}

    def _names(self):
        h, s = self.layout["history"], self.layout["schedule"]
        return h, s, vendor.quote_ident, vendor.table(h), vendor.table(s)

    def _record(self, db, operation, status, pending, version, message, started_sql="LOCALTIMESTAMP", finished=True):
        h, _s, q, history, _schedule = self._names()
        with_message = bool(h["message_column"])
        rows = db.query("INSERT INTO %s (%s, %s, %s, %s, %s, %s%s) VALUES (?, %s, %s, ?, ?, ?%s) RETURNING %s AS id" % (
            history, q(h["operation_column"]), q(h["started_column"]), q(h["finished_column"]), q(h["status_column"]),
            q(h["pending_column"]), q(h["version_column"]), ", " + q(h["message_column"]) if with_message else "", started_sql,
            "LOCALTIMESTAMP" if finished else "NULL", ", ?" if with_message else "", q(h["id_column"])),
            (operation, status, pending, version, message) if with_message else (operation, status, pending, version))
        return rows[0]["id"]

    def tick(self):
        knobs = common.read_json(os.path.join(self.site_dir, common.KNOBS_FILE), {})
        version = common.read_text(os.path.join(self.site_dir, common.VERSION_FILE))
        for db in self.connections.values():
            self._tick_database(db, knobs, version)

    def _tick_database(self, db, knobs, version):
        h, s, q, history, schedule = self._names()
        reported = db.query("SELECT %s AS v FROM %s WHERE %s = ? ORDER BY %s DESC LIMIT 1" % (
            q(h["version_column"]), history, q(h["operation_column"]), q(h["id_column"])), (h["version_operation"],))
        if version and (not reported or reported[0]["v"] != version):
            self._record(db, h["version_operation"], h["success_status"], 0, version, "lab: update notice sent to Comarch")
        rows = {r["op"]: r for r in db.query("SELECT %s AS op, %s AS enabled, %s AS interval_seconds FROM %s" % (
            q(s["operation_column"]), q(s["enabled_column"]), q(s["interval_column"]), schedule))}
        full, differential = rows.get(s["full_operation"]), rows.get(s["differential_operation"])
        if full and full["enabled"] and self.full_done_for.get(db.name) != version:
            self._full_sync(db, knobs, version)
            return
        if not differential or not differential["enabled"]:
            return
        due = db.query("SELECT COUNT(*) AS n FROM %s WHERE %s = ? AND %s > LOCALTIMESTAMP - make_interval(secs => ?)" % (
            history, q(h["operation_column"]), q(h["started_column"])), (s["differential_operation"], int(differential["interval_seconds"])))
        if int(due[0]["n"]) == 0:
            failing = bool(knobs.get("failing_syncs"))
            self._record(db, s["differential_operation"], h["failed_status"] if failing else h["success_status"], int(knobs.get("hrm_pending", 0)),
                         version, "lab: connection to Comarch HRM refused" if failing else "lab: differential sync")

    def _full_sync(self, db, knobs, version):
        h, s, q, history, schedule = self._names()
        self.full_done_for[db.name] = version
        row_id = self._record(db, s["full_operation"], h["running_status"], 0, version, "lab: full sync running", finished=False)
        time.sleep(float(knobs.get("full_sync_seconds", 1)))
        fails = bool(knobs.get("full_sync_fails"))
        status = h["failed_status"] if fails else h["success_status"]
        text = "lab: full sync failed: HRM rejected the data" if fails else "lab: full sync"
        if h["message_column"]:
            db.execute("UPDATE %s SET %s = LOCALTIMESTAMP, %s = ?, %s = ? WHERE %s = ?" % (
                history, q(h["finished_column"]), q(h["status_column"]), q(h["message_column"]), q(h["id_column"])), (status, text, row_id))
        else:
            db.execute("UPDATE %s SET %s = LOCALTIMESTAMP, %s = ? WHERE %s = ?" % (
                history, q(h["finished_column"]), q(h["status_column"]), q(h["id_column"])), (status, row_id))
        if not fails:
            db.execute("UPDATE %s SET %s = CASE WHEN %s = ? THEN 1 ELSE 0 END" % (
                schedule, q(s["enabled_column"]), q(s["operation_column"])), (s["differential_operation"],))
            lock = os.path.join(self.site_dir, common.DOMAIN_LOCK)
            if os.path.exists(lock):
                os.unlink(lock)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="comarchlab-service")
    parser.add_argument("--site-dir", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    service = Service(args.site_dir)
    deadline = time.monotonic() + int(service.site.get("lifetime_seconds", 3600))
    while time.monotonic() < deadline:
        service.tick()
        time.sleep(TICK)
    return 0


if __name__ == "__main__":
    sys.exit(main())
