# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release archives of a K2 version for the lab: what the ``files`` install method unpacks.

A release holds what a vendor release replaces in a K2 folder, never the site's
configuration (``k2.ini``, ``sysk2.ini``, ``Conf/``):

* the stand-in ``k2`` executable;
* ``SQL/K2t_{CONF|FIRMA}_{platform}.SQL``: the structure the NEW version expects.
  It has one column more per database kind (``ADDED_COLUMN``) than the sites of the
  lab have, so a site is consistent with the new scripts only after the new
  version's conversions ran;
* ``SQL/konverze/K2_{C|D}{token}{platform}[Additional].sql`` for the new version's
  token (``ori.09`` -> ``509``): the one-time files, and Additional files that add
  that column and, as the vendor's conversions do, record the new version in every
  database (the layout's ``db_version``, ``vendor.py``);
* the version file (the layout's ``folder.version_file``) holding the version.

The archive is a zip file (``k2-<version>.zip``) with fixed timestamps, so
building it again gives the same bytes. ``python -m tools.k2lab.release
--version ori.09 --out DIR`` prints ``{"changed": bool, "archive": path}``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import zipfile
from typing import Dict, Optional

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column

from tools.k2lab import konverze, render, vendor
from tools.k2lab.site import STAND_IN, SiteSpec, expected_model, site_layout

ADDED_COLUMN = "ErpopsNovyUdaj"
PLATFORMS = ("mssql", "oracle", "lab")
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def added_tables(company_tables: int = 20, layout=None) -> Dict[str, str]:
    """{"C": table, "D": table}: the table of each database kind that gains ADDED_COLUMN (``layout``: a site's own)."""
    spec = SiteSpec(name="release", company_tables=company_tables, layout=dict(layout or {}))
    names = {}
    for db_kind, kind in (("C", "conf"), ("D", "company")):
        model = expected_model(kind, spec)
        # The first generated table (the generator adds them before K2's private tables); FIRMY is read by other steps.
        names[db_kind] = next(t.name for t in model.tables.values() if t.name != "FIRMY")
    return names


def _version_update(platform: str, version: str, layout) -> str:
    table, column = layout["db_version"]["table"], layout["db_version"]["version_column"]
    if platform == "mssql":
        return "-- the vendor's conversions record the version\nUPDATE [dbo].[%s] SET [%s] = N'%s'\nGO\n" % (table, column, version)
    if platform == "oracle":
        return "-- the vendor's conversions record the version\nUPDATE \"%s\" SET \"%s\" = '%s';\nCOMMIT;\n" % (table, column, version)
    return "-- the vendor's conversions record the version\nUPDATE \"%s\" SET \"%s\" = '%s'\nGO\n" % (table, column, version)


def release_files(version: str, company_tables: int = 20, layout=None, failing=(), data_table=None,
                  extra_columns=None) -> Dict[str, bytes]:
    """{relative path: bytes} of the release of ``version``; ``failing`` names conversion files with a failing batch;
    ``data_table``: a company table whose rows the one-time conversion moves (``konverze.render_conversions``);
    ``layout`` (a ``SiteSpec.layout``) and ``extra_columns``: the layout of the sites it is for."""
    name = vendor.parse_version(version).name()
    spec = SiteSpec(name="release", version=name, company_tables=company_tables, layout=dict(layout or {}),
                    extra_columns=dict(extra_columns or {}))
    layout = site_layout(spec)
    tables = added_tables(company_tables, spec.layout)
    files: Dict[str, bytes] = {}
    for db_kind, kind in (("C", "conf"), ("D", "company")):
        model = expected_model(kind, spec, layout)
        model.table(tables[db_kind]).columns.append(Column(ADDED_COLUMN, "int", nullable=True))
        for platform in PLATFORMS:
            files[vendor.FOLDER["sql_dir"] + "/" + vendor.ddl_script_name(layout, kind, platform)] = render.render_ddl(model, platform).encode("utf-8")
    token = vendor.konverze_token(name)
    additions = [{"db": db_kind, "table": table, "column": ADDED_COLUMN, "type": "int"} for db_kind, table in sorted(tables.items())]
    for platform in PLATFORMS:
        mine = [name for name in failing if name in konverze.render_conversions(platform, [token], tokens=layout["scripts"]["konverze_platforms"])]
        rendered = konverze.render_conversions(platform, [token], additions=additions, tokens=layout["scripts"]["konverze_platforms"],
                                               failing=mine, data_table=data_table)
        for file_name, text in rendered.items():
            if file_name.endswith("Additional.sql"):
                text = text + "\n" + _version_update(platform, name, layout)
            files[vendor.FOLDER["konverze_dir"] + "/" + file_name] = text.encode("utf-8")
    with open(STAND_IN, "rb") as source:
        files[vendor.FOLDER["executable"]] = b"#!/usr/bin/env python3\n" + source.read()
    files[layout["folder"]["version_file"]] = (name + "\n").encode("utf-8")
    return files


def archive_bytes(files: Dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            executable = path == vendor.FOLDER["executable"]
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            archive.writestr(info, files[path])
    return buffer.getvalue()


def build_release(out_dir: str, version: str, company_tables: int = 20, layout=None, name: Optional[str] = None,
                  failing=(), data_table=None, extra_columns=None) -> Dict[str, object]:
    """Write ``<out_dir>/k2-<version>.zip`` unless it already holds the same bytes."""
    data = archive_bytes(release_files(version, company_tables, layout, failing, data_table, extra_columns))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name or "k2-%s.zip" % vendor.parse_version(version).name())
    if os.path.exists(path):
        with open(path, "rb") as handle:
            if handle.read() == data:
                return {"changed": False, "archive": path, "sha256": hashlib.sha256(data).hexdigest()}
    with open(path + ".tmp", "wb") as handle:
        handle.write(data)
    os.replace(path + ".tmp", path)
    return {"changed": True, "archive": path, "sha256": hashlib.sha256(data).hexdigest()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="k2lab-release")
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--company-tables", type=int, default=20)
    args = parser.parse_args(argv)
    print(json.dumps(build_release(os.path.abspath(args.out), args.version, args.company_tables)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
