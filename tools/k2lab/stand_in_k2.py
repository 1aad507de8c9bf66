"""Stand-in for the K2 executable in a lab site (installed as ``<site>/k2``).

It honours the parameters the runbook uses (K2-14):

``VERSION``                 print the installed version (from k2.ini) and exit 0
``EXTENSIONS=OFF``          start without extensions
``EXTENSIONS=UPDATE``       mark outdated extensions current
``EXTENSIONS=UPDATE_ALL``   mark every extension current
``EXTENSIONS.EXT=name``     use ``extensions.<name>``
``RSOFF=1``                 accepted (no reinstall-manager prompt)

Behaviour knobs live in ``Conf/Special/k2lab.json`` of the site:
``restarts`` (exit with code 3 that many times before staying up, as K2 does
when an extension update needs a restart), ``fail`` (exit 1 with a message) and
``hang`` (sleep that many seconds). The database is reached through ``psql``
with the connection in the same file.
"""

import configparser
import json
import os
import subprocess
import sys
import time

SITE = os.path.dirname(os.path.abspath(__file__))
KNOBS = os.path.join(SITE, "Conf", "Special", "k2lab.json")
RESTART_EXIT_CODE = 3


def _knobs():
    if not os.path.exists(KNOBS):
        return {}
    with open(KNOBS, encoding="utf-8") as handle:
        return json.load(handle)


def _save_knobs(knobs):
    with open(KNOBS + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(knobs, handle)
    os.replace(KNOBS + ".tmp", KNOBS)


def _ini():
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    with open(os.path.join(SITE, "k2.ini"), encoding="cp1250") as handle:
        parser.read_file(handle)
    return parser


def _psql(knobs, sql):
    db = knobs["db"]
    env = dict(os.environ, PGPASSWORD=db["password"])
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", db["host"], "-p", str(db["port"]), "-U", db["user"], "-d", db["database"]]
    return subprocess.run(argv, input=sql, capture_output=True, text=True, check=True, env=env).stdout


def main(argv):
    params = dict(arg.split("=", 1) if "=" in arg else (arg.upper(), "") for arg in argv)
    if "VERSION" in params:
        print(_ini().get("K2", "VERSION", fallback="unknown"))
        return 0
    knobs = _knobs()
    if knobs.get("fail"):
        print("K2: %s" % knobs["fail"], file=sys.stderr)
        return 1
    if knobs.get("hang"):
        time.sleep(float(knobs["hang"]))
    mode = params.get("EXTENSIONS", "").upper()
    if mode in ("UPDATE", "UPDATE_ALL") and knobs.get("db"):
        ext = knobs.get("extensions_table", {"table": "ROZSIRENI", "current": "Aktualni", "format": "Format"})
        where = "" if mode == "UPDATE_ALL" else ' WHERE "%s" = 0' % ext["current"]
        updated = _psql(knobs, 'UPDATE "%s" SET "%s" = 1, "%s" = \'2.02\'%s RETURNING 1;' % (ext["table"], ext["current"], ext["format"], where))
        print("K2: extensions updated: %d" % len(updated.split()))
    if knobs.get("restarts", 0) > 0:
        knobs["restarts"] -= 1
        _save_knobs(knobs)
        print("K2: restart required")
        return RESTART_EXIT_CODE
    print("K2: running")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
