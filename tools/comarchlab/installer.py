"""The stand-in Comarch ERP installer and conversion wizard of a lab site.

``python -m tools.comarchlab.installer --site-dir DIR --version V``: installs program
version ``V`` and converts every company database, as the operator does by hand: it writes
the database version the wizard of ``V`` writes (the lab's Comarch, ``vendor.py``), switches differential syncs off and
schedules the mandatory full sync (CM-03, CM-05), and Comarch locks the HRM domain.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Tuple

from tools.comarchlab import common, vendor
from tools.comarchlab.vendor import quote_ident as q


class ConversionError(Exception):
    pass


def conversion_statements(site_layout: dict, db_version: str) -> List[Tuple[str, tuple]]:
    """What the wizard writes in each database: the new database version; the full sync scheduled, every other sync off."""
    v, s = site_layout["db_version"], site_layout["schedule"]
    return [("UPDATE %s SET %s = ? WHERE %s = ?" % (vendor.table(v), q(v["value_column"]), q(v["id_column"])), (db_version, int(v["version_id"]))),
            ("UPDATE %s SET %s = CASE WHEN %s = ? THEN 1 ELSE 0 END" % (vendor.table(s), q(s["enabled_column"]), q(s["operation_column"])),
             (s["full_operation"],))]


def install(site_dir: str, version: str) -> None:
    site = common.read_json(os.path.join(site_dir, common.SITE_FILE))
    site_layout = common.layout_of(site)
    statements = conversion_statements(site_layout, vendor.database_version(site_layout, version))
    common.write_text(os.path.join(site_dir, common.DOMAIN_LOCK), "locked by the update to %s" % version)
    # The new program is in place before the wizard converts: the service then reports it first.
    common.write_text(os.path.join(site_dir, common.VERSION_FILE), version)
    knobs = common.read_json(os.path.join(site_dir, common.KNOBS_FILE), {})
    for number, name in enumerate(site["databases"]):
        if knobs.get("conversion_fails") and number > 0:
            raise ConversionError("the conversion of database %s failed: lab: conversion script error" % name)
        db = common.connect(site, name)
        try:
            with db.transaction():
                for sql, params in statements:
                    db.execute(sql, params)
        finally:
            db.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="comarchlab-installer")
    parser.add_argument("--site-dir", required=True)
    parser.add_argument("--version", required=True)
    args = parser.parse_args(argv)
    try:
        install(args.site_dir, args.version)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ConversionError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print("installed Comarch ERP %s and converted the databases" % args.version)
    return 0


if __name__ == "__main__":
    sys.exit(main())
