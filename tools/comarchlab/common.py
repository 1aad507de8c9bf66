"""What the lab's processes share: the site's state file, the database connection, paths."""

from __future__ import annotations

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
for _path in (REPO, COLLECTIONS):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from ansible_collections.erpops.upgrade.plugins.module_utils import comarch_profile  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.db import lab as labdb  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident  # noqa: E402  pylint: disable=unused-import

SITE_FILE = "site.json"
KNOBS_FILE = "knobs.json"
VERSION_FILE = "program_version"
DOMAIN_LOCK = "domain.locked"
SERVICE_PID = "service.pid"
DOMAIN_PID = "domain.pid"


def site_root(lab_dir: str, name: str) -> str:
    return os.path.join(lab_dir, "comarch", name)


def read_json(path: str, default=None):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def write_text(path: str, text: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)


def read_text(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return default


def profile_of(site: dict) -> dict:
    return comarch_profile.merge_profile(site.get("product", "optima"), site.get("profile") or {})


def connect(site: dict, database: str):
    """The lab adapter's connection, as the module makes it."""
    params = {"db_platform": "lab", "login_host": site["db_host"], "login_port": site["db_port"], "login_user": site["db_user"],
              "login_password": site["db_password"], "tls": False, "connect_timeout": 10}
    return labdb.connect(params, database)
