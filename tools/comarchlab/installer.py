"""The stand-in Comarch ERP installer and conversion wizard of a lab site.

``python -m tools.comarchlab.installer --site-dir DIR --version V``: installs program
version ``V`` and converts every company database, as the operator does by hand: it writes
the database version the Comarch profile maps ``V`` to, switches differential syncs off and
schedules the mandatory full sync (CM-03, CM-05), and Comarch locks the HRM domain.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys

from tools.comarchlab import common


class ConversionError(Exception):
    pass


def install(site_dir: str, version: str) -> None:
    site = common.read_json(os.path.join(site_dir, common.SITE_FILE))
    profile = common.profile_of(site)
    db_version = common.comarch_profile.expected_database_version(profile, version)
    v, s = profile["db_version"], profile["schedule"]
    q = functools.partial(common.quote_ident, "lab")
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
                db.execute("UPDATE %s.%s SET %s = ? WHERE %s = ?" % (q(v["schema"]), q(v["table"]), q(v["value_column"]), q(v["id_column"])),
                           (db_version, int(v["version_id"])))
                db.execute("UPDATE %s.%s SET %s = CASE WHEN %s = ? THEN 1 ELSE 0 END" % (
                    q(s["schema"]), q(s["table"]), q(s["enabled_column"]), q(s["operation_column"])), (s["full_operation"],))
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
