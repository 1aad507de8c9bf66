"""Stand-in for the K2 executable in a lab site (installed as ``<site>/k2``).

It honours the parameters the runbook uses (K2-14):

``VERSION``                 print the installed version (from k2.ini) and exit 0
``EXTENSIONS=OFF``          start without extensions
``EXTENSIONS=UPDATE``       update the outdated extensions: not current, or in a format older than 2.02
``EXTENSIONS=UPDATE_ALL``   update every extension
``EXTENSIONS.EXT=name``     use ``extensions.<name>``
``RSOFF=1``                 accepted (no reinstall-manager prompt)

Updating an extension marks it current in format 2.02 in the CONF database and
rewrites the ``format=`` line of its files in ``extensions/<name>/`` (1.0 -> 2.02,
as K2 from mia.03 converts them).

Started for anything but ``VERSION``, it runs version initialization by itself when the
installed version (the version file, else k2.ini) has not been initialized yet, as K2
does at its first start after a reinstall (FACTS.md): in every mandant of FIRMY it records
"Inicializace verze <installed version>" as a mandatory function done now, and marks the
open mandatory initializations done. Not when the installer runs it (``K2LAB_INSTALLER``
set): the installer initializes in its own step. Knob ``init_fail``: the initialization
fails (exit 1) before it records anything.

Behaviour knobs live in ``Conf/Special/k2lab.json`` of the site:
``restarts`` (exit with code 3 that many times before staying up, as K2 does
when an extension update needs a restart; each such run updates at most one
extension, so the update takes several steps), ``fail`` (exit 1 with a message)
and ``hang`` (sleep that many seconds first). Staying up is exit code 0 after
"K2: running". The database is reached through ``psql`` with the connection in
the same file.
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
FORMAT = "2.02"


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
    """Run SQL on the CONF database that k2.ini names, as K2 does; the login comes from the lab's knobs."""
    db = knobs["db"]
    ini = _ini()
    server = ini.get("DATABASE", "SERVER", fallback="")
    host, _sep, port = server.rpartition(",") if "," in server else (server, "", "")
    host, port = host or db["host"], port or str(db["port"])
    database = ini.get("DATABASE", "DATABASE", fallback="") or db["database"]
    env = dict(os.environ, PGPASSWORD=db["password"])
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", db["user"], "-d", database]
    return subprocess.run(argv, input=sql, capture_output=True, text=True, check=True, env=env).stdout


def _installed_version():
    path = os.path.join(SITE, "K2VERSION.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return _ini().get("K2", "VERSION", fallback="")


def _psql_on(knobs, database, sql):
    db = knobs["db"]
    server = _ini().get("DATABASE", "SERVER", fallback="")
    host, _sep, port = server.rpartition(",") if "," in server else (server, "", "")
    env = dict(os.environ, PGPASSWORD=db["password"])
    argv = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host or db["host"], "-p", port or str(db["port"]),
            "-U", db["user"], "-d", database]
    return subprocess.run(argv, input=sql, capture_output=True, text=True, check=True, env=env).stdout


def _version_initialization(knobs):
    """Version initialization at the first start on a new version; returns the mandants initialized."""
    tables = knobs.get("tables") or {}
    firmy, code, database = tables.get("firmy", ["FIRMY", "Zkr", "DatabaseName"])
    table, function, mandatory, done = tables.get("init", ["INICIALIZACE", "Funkce", "Povinna", "Provedeno"])
    version = _installed_version()
    if not version:
        return []
    name = "Inicializace verze %s" % version
    done_now = []
    rows = _psql(knobs, 'SELECT "%s", "%s" FROM "%s" ORDER BY 1;' % (code, database, firmy)).splitlines()
    for row in rows:
        mandant, db_name = row.split("|")
        seen = _psql_on(knobs, db_name, 'SELECT count(*) FROM "%s" WHERE "%s" = \'%s\' AND "%s" IS NOT NULL;' % (table, function, name, done))
        if seen.strip() != "0":
            continue
        if knobs.get("init_fail"):
            raise RuntimeError("Inicializace funkce %s skončila chybou (%s): %s" % (name, mandant, knobs["init_fail"]))
        _psql_on(knobs, db_name, 'INSERT INTO "%s" ("%s", "%s", "%s") SELECT \'%s\', 1, NULL WHERE NOT EXISTS '
                 '(SELECT 1 FROM "%s" WHERE "%s" = \'%s\');\nUPDATE "%s" SET "%s" = now() WHERE "%s" = 1 AND "%s" IS NULL;'
                 % (table, function, mandatory, done, name, table, function, name, table, done, mandatory, done))
        done_now.append(mandant)
    return done_now


def _update_extensions(knobs, everything, limit):
    """Mark the outdated extensions (or all) current in format 2.02; returns their names."""
    ext = dict({"table": "ROZSIRENI", "name": "Nazev", "current": "Aktualni", "format": "Format"}, **knobs.get("extensions_table", {}))
    name, current, fmt = ('"%s"' % ext[key] for key in ("name", "current", "format"))
    where = "" if everything else " WHERE %s = 0 OR %s <> '%s'" % (current, fmt, FORMAT)
    chosen = "SELECT %s FROM \"%s\"%s ORDER BY %s%s" % (name, ext["table"], where, name, " LIMIT %d" % limit if limit else "")
    sql = "UPDATE \"%s\" SET %s = 1, %s = '%s' WHERE %s IN (%s) RETURNING %s;" % (ext["table"], current, fmt, FORMAT, name, chosen, name)
    return sorted(line.strip() for line in _psql(knobs, sql).splitlines() if line.strip())


def _convert_files(folder):
    """The compiled extension files get the new format line."""
    if not os.path.isdir(folder):
        return
    for entry in sorted(os.listdir(folder)):
        path = os.path.join(folder, entry)
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        lines = ["format=%s" % FORMAT if line.startswith("format=") else line for line in lines]
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


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
    if knobs.get("db") and not os.environ.get("K2LAB_INSTALLER"):
        try:
            initialized = _version_initialization(knobs)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print("K2: %s" % (getattr(exc, "stderr", None) or exc), file=sys.stderr)
            return 1
        if initialized:
            print("K2: version initialized in %s" % ", ".join(initialized))
    mode = params.get("EXTENSIONS", "").upper()
    restart = knobs.get("restarts", 0) > 0
    if mode in ("UPDATE", "UPDATE_ALL") and knobs.get("db"):
        folder = "extensions.%s" % params["EXTENSIONS.EXT"] if params.get("EXTENSIONS.EXT") else "extensions"
        names = _update_extensions(knobs, mode == "UPDATE_ALL", 1 if restart else None)
        for name in names:
            _convert_files(os.path.join(SITE, folder, name))
        print("K2: extensions updated: %d%s" % (len(names), " (%s)" % ", ".join(names) if names else ""))
    if restart:
        knobs["restarts"] -= 1
        _save_knobs(knobs)
        print("K2: restart required")
        return RESTART_EXIT_CODE
    print("K2: running")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
