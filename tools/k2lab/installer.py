# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the K2 installer (K2 instalátor) in the lab, run like a vendor installer.

    python installer.py --mode classic|takeover --folder DIR --archive k2-ori.09.zip \\
        --records RECORDS.json [--licence FILE]

Written on its own: it imports nothing of the collection (``plugins/``) and no lab
module that does, so a test of the collection against it compares two independent
readings of the runbook. It knows K2's tables by their default names; the lab site's
``Conf/Special/k2lab.json`` may rename them (``tables``), as a site of another layout has them.

What it does, in the seed's order (RUNBOOK K2-10, K2-11, K2-12, K2-14):

0. checks: ``classic`` needs the lab host's installer record of this folder (``takeover``
   needs none and leaves an old record behind, at most 100 records); the database
   version must reach the archive's version in one step (rule 4); K2 must be in
   reinstall mode (Reinstall manager, "Reinstalace povolena"); when a K2 was there,
   a generation change needs the pre-install preparation and a release or generation
   change needs every mandatory initialization in every mandant but DEMO and INIT;
1. ``removal`` (classic only): the files the record lists, unless modified since;
   added and modified files stay;
2. ``copy``: the archive's files into the folder (never k2.ini, sysk2.ini, Conf/);
   a new record is written;
3. ``conversions`` (K2-12): ``SQL/konverze/K2_{C|D}{token}Lab[Additional].sql`` with the
   version token (generation number and two-digit release: ori.09 -> 509) after the
   databases' version and up to the target; one-time files only on a generation change;
   C files on CONF, D files on every mandant of FIRMY (DEMO and INIT included). Each GO
   batch runs in its own transaction (``GO n``: n times); every error is appended to
   ``sql_inst.log`` in the folder and the conversions stop;
4. ``initialization_1`` (structure fixes; nothing to do in the lab);
5. ``structure_check`` when there was no k2 before: every table of the new
   ``SQL/K2t_*_Lab.SQL`` must exist;
6. ``extensions``: the new ``k2 EXTENSIONS=UPDATE RSOFF=1`` until it stays up; errors are
   reported, never fatal (K2-14);
7. ``data_import``: DEMO and INIT are recreated from the new K2t script with their data;
8. ``initialization_2``: version initialization in every mandant (mandatory initializations
   still open are done);
9. ``licence`` (generation change or takeover): ``--licence`` is copied to ``Conf/licence.lic``;
   then reinstall mode is cleared, as K2 does.

Every step prints ``STEP <name>``; a failed step prints ``FAILED <name>: <reason>`` and
exits with the step's code (``EXIT_CODES``). Knobs (``installer`` in k2lab.json):
``fail_at`` (``removal`` or ``copy``: fails half-way through the files;
``initialization_1``; ``initialization_2``: fails in the last mandant but DEMO and INIT), ``hang``
(seconds to sleep before the step ``hang_at``, default ``copy``). A conversion batch
fails with a real server error when the release carries a failing batch
(``release.build_release(failing=...)``) or the database holds what a one-time
conversion creates.
"""

import argparse
import configparser
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

GENERATIONS = ("mona", "mia", "luna", "gaia", "ori", "iris", "alba", "nara", "vega")
STEPS = ("checks", "removal", "copy", "conversions", "initialization_1", "structure_check", "extensions", "data_import",
         "initialization_2", "licence")
EXIT_CODES = dict((step, 10 + number) for number, step in enumerate(STEPS))
EXIT_CODES["checks"] = 2
MAX_RECORDS = 100
KEPT = ("k2.ini", "sysk2.ini", "conf/")
DEFAULT_TABLES = {
    "db_version": ["K2VERZE", "Verze"],
    "firmy": ["FIRMY", "Zkr", "DatabaseName"],
    "reinstall": ["REINSTALACE", "ReinstalacePovolena", "PripravaProvedena"],
    "init": ["INICIALIZACE", "Funkce", "Povinna", "Provedeno"],
}
_GO = re.compile(r"^\s*go(?:\s+(\d+))?\s*(?:--.*)?$", re.IGNORECASE)
_CREATE = re.compile(r'CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"([^"]+)"', re.IGNORECASE)
_KONVERZE = re.compile(r"K2_([CD])(\d+)Lab(Additional)?\.sql$", re.IGNORECASE)


class Failure(Exception):
    def __init__(self, step, reason):
        super().__init__("%s: %s" % (step, reason))
        self.step = step
        self.reason = reason


def say(text):
    print(text, flush=True)


# -- versions -------------------------------------------------------------------------------------

def parse_version(text):
    """(generation, release, build or None) of ``gaia.12.3`` or ``4.12.3``."""
    match = re.match(r"^\s*(?:k2\s+)?([a-z]+|\d+)\.(\d+)(?:\.(\d+))?\s*$", text.lower())
    if not match:
        raise ValueError("not a K2 version: %r" % text)
    gen = match.group(1)
    number = int(gen) if gen.isdigit() else GENERATIONS.index(gen) + 1
    return number, int(match.group(2)), int(match.group(3)) if match.group(3) else None


def version_name(parsed):
    text = "%s.%02d" % (GENERATIONS[parsed[0] - 1], parsed[1])
    return text if parsed[2] is None else "%s.%d" % (text, parsed[2])


def token(parsed):
    return parsed[0] * 100 + parsed[1]


def reach(current, target):
    """None when one reinstall goes from current to target, else why not."""
    if target[:2] < current[:2] or (target[:2] == current[:2] and None not in (current[2], target[2]) and target[2] < current[2]):
        return "downgrade from %s to %s" % (version_name(current), version_name(target))
    if target[0] == current[0]:
        return None
    if target[0] == current[0] + 1 and current[1] <= target[1] + 4:
        return None
    between = (current[0] + 1, max(current[1] - 4, 1), None)
    return "%s cannot be reached from %s: install %s first" % (version_name(target), version_name(current), version_name(between))


# -- the database ---------------------------------------------------------------------------------

def ident(name):
    return '"%s"' % name.replace('"', '""')


def literal(value):
    return "'%s'" % str(value).replace("'", "''")


class Server:
    """The lab's PostgreSQL through the psql program, as k2.ini names it."""

    def __init__(self, folder, knobs):
        ini = configparser.ConfigParser(interpolation=None, strict=False)
        with open(os.path.join(folder, "k2.ini"), encoding="cp1250") as handle:
            ini.read_file(handle)
        db = knobs.get("db", {})
        server = ini.get("DATABASE", "SERVER", fallback="")
        host, _sep, port = server.rpartition(",") if "," in server else (server, "", "")
        self.host, self.port = host or db.get("host", ""), port or str(db.get("port", ""))
        self.user = ini.get("DATABASE", "USER", fallback="") or db.get("user", "")
        self.password = os.environ.get("K2_DB_PASSWORD") or db.get("password", "")
        self.conf = ini.get("DATABASE", "DATABASE", fallback="") or db.get("database", "")

    def _run(self, database, sql, single_transaction):
        argv = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", self.port,
                "-U", self.user, "-d", database]
        if single_transaction:
            argv.append("-1")
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.run(argv, input=sql, capture_output=True, text=True, env=env, check=False)

    def query(self, database, sql):
        done = self._run(database, sql, False)
        if done.returncode:
            raise RuntimeError(server_message(done.stderr))
        return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]

    def batch(self, database, sql):
        """Run one batch in one transaction; the server's message on failure, else None."""
        done = self._run(database, sql, True)
        return server_message(done.stderr) if done.returncode else None


def server_message(stderr):
    lines = [re.sub(r"^psql:[^:]*:\d+:\s*", "", line) for line in stderr.strip().splitlines()]
    return " ".join(" ".join(lines).split()) or "psql failed without a message"


# -- conversion scripts ---------------------------------------------------------------------------

def split_batches(text):
    """[(first line, repeat count, text)] of a script split on GO lines outside comments, strings and $$ bodies."""
    found, lines, first = [], [], 1
    depth, quote, dollar = 0, None, None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _GO.match(line)
        if match and not depth and quote is None and dollar is None:
            body = "\n".join(lines).strip()
            if body:
                found.append((first, int(match.group(1) or 1), body))
            lines, first = [], number + 1
            continue
        lines.append(line)
        position = 0
        while position < len(line):
            rest = line[position:]
            if dollar is not None:
                if rest.startswith(dollar):
                    position += len(dollar)
                    dollar = None
                    continue
            elif quote is not None:
                if rest[0] == quote:
                    quote = None
            elif depth:
                if rest.startswith("*/"):
                    depth, position = depth - 1, position + 2
                    continue
                if rest.startswith("/*"):
                    depth, position = depth + 1, position + 2
                    continue
            elif rest.startswith("--"):
                break
            elif rest.startswith("/*"):
                depth, position = 1, position + 2
                continue
            elif rest[0] in "'\"":
                quote = rest[0]
            else:
                tag = re.match(r"\$[A-Za-z_]*\$", rest)
                if tag:
                    dollar = tag.group(0)
                    position += len(dollar)
                    continue
            position += 1
    body = "\n".join(lines).strip()
    if body:
        found.append((first, 1, body))
    return found


def choose_conversions(names, current, target):
    """The conversion files this upgrade runs, per database kind, in order (RUNBOOK K2-12)."""
    generation_change = target[0] != current[0]
    low, high = token(current), token(target)
    chosen = {"C": [], "D": []}
    for name in names:
        match = _KONVERZE.match(name)
        if not match:
            continue
        kind, number, additional = match.group(1).upper(), int(match.group(2)), bool(match.group(3))
        if not (low < number <= high or number == high):
            continue
        if not additional and not generation_change:
            continue
        chosen[kind].append((number, 1 if additional else 0, name))
    return dict((kind, [item[2] for item in sorted(items)]) for kind, items in chosen.items())


# -- the installer records of the lab host ----------------------------------------------------------

def load_records(path):
    if not os.path.exists(path):
        return {"records": []}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save_records(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def find_record(data, folder):
    mine = [record for record in data["records"] if os.path.normpath(record["folder"]) == os.path.normpath(folder)]
    return mine[-1] if mine else None


def file_hash(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def records_locked(records_path):
    """One installer at a time changes the host's records (several sites install side by side on the lab host)."""
    os.makedirs(os.path.dirname(os.path.abspath(records_path)), exist_ok=True)
    with open(records_path + ".lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def register(records_path, folder, version, files, replace=True):
    """Write the record of an installation of ``folder`` ({relative path: sha256} of the installed files)."""
    with records_locked(records_path):
        return _register(records_path, folder, version, files, replace)


def _register(records_path, folder, version, files, replace):
    data = load_records(records_path)
    old = find_record(data, folder)
    if old is not None and replace:
        data["records"].remove(old)
    if len(data["records"]) >= MAX_RECORDS:
        raise Failure("copy", "the installer holds %d installation records, the most it can; remove orphan records first" % MAX_RECORDS)
    number = old["id"] if old is not None and replace else max([record["id"] for record in data["records"]] + [0]) + 1
    data["records"].append({"id": number, "folder": os.path.abspath(folder), "version": version, "files": files,
                            "installed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    save_records(records_path, data)
    return number


def forget(records_path, folder):
    """Drop every record of ``folder`` (the lab builds a site without one)."""
    with records_locked(records_path):
        data = load_records(records_path)
        kept = [record for record in data["records"] if os.path.normpath(record["folder"]) != os.path.normpath(folder)]
        if len(kept) != len(data["records"]):
            data["records"] = kept
            save_records(records_path, data)


def installed_files(folder, names):
    return dict((name, file_hash(os.path.join(folder, *name.split("/")))) for name in names)


# -- the installer ----------------------------------------------------------------------------------

class Installer:

    def __init__(self, args):
        self.args = args
        self.folder = os.path.abspath(args.folder)
        knobs_path = os.path.join(self.folder, "Conf", "Special", "k2lab.json")
        self.knobs = {}
        if os.path.exists(knobs_path):
            with open(knobs_path, encoding="utf-8") as handle:
                self.knobs = json.load(handle)
        self.faults = self.knobs.get("installer", {})
        self.tables = dict(DEFAULT_TABLES, **self.knobs.get("tables", {}))
        self.server = Server(self.folder, self.knobs)
        self.had_k2 = any(os.path.exists(os.path.join(self.folder, name)) for name in ("k2", "k2.exe", "K2.exe"))
        self.archive = zipfile.ZipFile(args.archive)
        self.target = parse_version(self.archive.read("K2VERSION.txt").decode("utf-8").strip())
        self.current = None
        self.mandants = []

    def fails(self, step):
        return self.faults.get("fail_at") == step

    def hang(self, step):
        """Hang before ``step`` in a child process, as a vendor installer hangs waiting on a program it started (msiexec); the
        child's command line names the folder, so a test can look for anything left running."""
        if self.faults.get("hang") and self.faults.get("hang_at", "copy") == step:
            say("(lab) hanging for %s s" % self.faults["hang"])
            subprocess.run([sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1]))", str(float(self.faults["hang"])),
                            "k2lab-installer-hang", self.folder], check=False)

    # -- 0 ------------------------------------------------------------------------------------------
    def checks(self):
        version_table, version_column = self.tables["db_version"]
        rows = self.server.query(self.server.conf, "SELECT %s FROM %s" % (ident(version_column), ident(version_table)))
        self.current = parse_version(rows[0][0])
        firmy, code, database = self.tables["firmy"]
        self.mandants = [(row[0].strip(), row[1].strip()) for row in self.server.query(
            self.server.conf, "SELECT %s, %s FROM %s ORDER BY 1" % (ident(code), ident(database), ident(firmy)))]
        record = find_record(load_records(self.args.records), self.folder)
        if self.args.mode == "classic" and record is None:
            raise Failure("checks", "the installer has no record of %s (tab Nainstalováno): install by takeover" % self.folder)
        why = reach(self.current, self.target)
        if why:
            raise Failure("checks", why)
        table, allowed, preparation = self.tables["reinstall"]
        row = self.server.query(self.server.conf, "SELECT %s, %s FROM %s" % (ident(allowed), ident(preparation), ident(table)))
        if not row or row[0][0] != "1":
            raise Failure("checks", "K2 is not in reinstall mode (Reinstall manager, function 753: Reinstalace povolena)")
        generation_change = self.target[0] != self.current[0]
        if self.had_k2 and generation_change and row[0][1] != "1":
            raise Failure("checks", "the pre-install preparation of %s has not run (Reinstall manager)" % version_name(self.current))
        if self.had_k2 and self.target[:2] != self.current[:2]:
            missing = [mandant for mandant, name in self.mandants if mandant not in ("DEMO", "INIT") and self.open_inits(name)]
            if missing:
                raise Failure("checks", "mandatory version initializations have not run in %s" % ", ".join(missing))
        kind = "generation change" if generation_change else "same generation"
        say("K2 installer: %s -> %s (%s), %s" % (version_name(self.current), version_name(self.target), kind, self.args.mode))

    def open_inits(self, database):
        table, function, mandatory, done = self.tables["init"]
        return [row[0] for row in self.server.query(database, "SELECT %s FROM %s WHERE %s = 1 AND %s IS NULL" % (
            ident(function), ident(table), ident(mandatory), ident(done)))]

    # -- 1, 2 ---------------------------------------------------------------------------------------
    def removal(self):
        record = find_record(load_records(self.args.records), self.folder)
        if self.args.mode != "classic" or record is None:
            say("nothing to remove (takeover)")
            return
        names = sorted(record["files"])
        removed = kept = 0
        for number, name in enumerate(names):
            if self.fails("removal") and number == len(names) // 2:
                raise Failure("removal", "the old installation could not be removed (removed %d of %d files)" % (removed, len(names)))
            path = os.path.join(self.folder, *name.split("/"))
            if not os.path.exists(path):
                continue
            if file_hash(path) != record["files"][name]:
                kept += 1
                continue
            os.unlink(path)
            removed += 1
        say("removed %d installed files, kept %d modified ones" % (removed, kept))

    def copy(self):
        members = [info for info in self.archive.infolist() if not info.is_dir()]
        written = []
        for number, info in enumerate(members):
            name = info.filename
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                raise Failure("copy", "the archive holds an unsafe member %r" % name)
            if name.lower() in KEPT[:2] or name.lower().startswith(KEPT[2]):
                continue
            if self.fails("copy") and number == len(members) // 2:
                raise Failure("copy", "copying the new files failed after %d of %d files" % (len(written), len(members)))
            path = os.path.join(self.folder, *name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.islink(path):
                os.unlink(path)
            with open(path + ".k2inst", "wb") as handle:
                handle.write(self.archive.read(info))
            os.replace(path + ".k2inst", path)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)
            written.append(name)
        replace = self.args.mode == "classic"
        number = register(self.args.records, self.folder, version_name(self.target), installed_files(self.folder, written), replace)
        say("copied %d files; installation record %d" % (len(written), number))

    # -- 3 ------------------------------------------------------------------------------------------
    def conversions(self):
        folder = os.path.join(self.folder, "SQL", "konverze")
        chosen = choose_conversions(sorted(os.listdir(folder)), self.current, self.target)
        targets = [("C", "CONF", self.server.conf)] + [("D", code, name) for code, name in self.mandants]
        for kind, code, database in targets:
            for name in chosen[kind]:
                with open(os.path.join(folder, name), encoding="utf-8-sig") as handle:
                    batches = split_batches(handle.read())
                for number, (line, repeat, text) in enumerate(batches, start=1):
                    for _time in range(repeat):
                        message = self.server.batch(database, text)
                        if message:
                            self.log(database, name, number, line, message)
                            raise Failure("conversions", "%s: %s batch %d: %s (see sql_inst.log)" % (database, name, number, message))
                say("converted %s: %s (%d batches)" % (code, name, len(batches)))

    def log(self, database, name, batch, line, message):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        with open(os.path.join(self.folder, "sql_inst.log"), "a", encoding="utf-8", newline="") as handle:
            handle.write("%s  %s  %s  batch %d, line %d: %s\r\n" % (stamp, database, name, batch, line, message))

    # -- 4 .. 9 -------------------------------------------------------------------------------------
    def initialization_1(self):
        if self.fails("initialization_1"):
            raise Failure("initialization_1", "mandatory initialization part 1 ended with an error")
        say("mandatory initializations part 1: no structure fixes needed")

    def structure_check(self):
        if self.had_k2:
            say("structure checked before the install (K2 was there)")
            return
        problems = []
        for kind, databases in (("CONF", [self.server.conf]), ("FIRMA", [name for _code, name in self.mandants])):
            with open(os.path.join(self.folder, "SQL", "K2t_%s_Lab.SQL" % kind), encoding="utf-8") as handle:
                wanted = set(_CREATE.findall(handle.read()))
            for database in databases:
                have = set(row[0] for row in self.server.query(
                    database, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))
                problems += ["%s: table %s missing" % (database, table) for table in sorted(wanted - have)]
        if problems:
            raise Failure("structure_check", "; ".join(problems[:10]))
        say("structure check: consistent")

    def extensions(self):
        program = os.path.join(self.folder, "k2")
        for _attempt in range(6):
            done = subprocess.run([program, "EXTENSIONS=UPDATE", "RSOFF=1"], capture_output=True, text=True, check=False, timeout=120,
                                  env=dict(os.environ, K2LAB_INSTALLER="1"))
            if done.returncode != 3:
                break
        if done.returncode:
            say("WARNING extensions update did not finish (exit %d): %s; deal with it after the reinstall (K2-14)"
                % (done.returncode, (done.stderr or done.stdout).strip()))
        else:
            say("extensions updated")

    def data_import(self):
        with open(os.path.join(self.folder, "SQL", "K2t_FIRMA_Lab.SQL"), encoding="utf-8") as handle:
            ddl = [text for _line, _repeat, text in split_batches(handle.read())]
        version_table, version_column = self.tables["db_version"]
        init_table, function, mandatory, done = self.tables["init"]
        for code, database in self.mandants:
            if code not in ("DEMO", "INIT"):
                continue
            self.server.query(self.server.conf, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % ident(database))
            self.server.query(self.server.conf, "CREATE DATABASE %s" % ident(database))
            rows = ["INSERT INTO %s (%s) VALUES (%s)" % (ident(version_table), ident(version_column), literal(version_name(self.target))),
                    "INSERT INTO %s (%s, %s, %s) VALUES ('Prepocet skladu', 1, now()), ('Konverze dokladu', 1, now())"
                    % (ident(init_table), ident(function), ident(mandatory), ident(done))]
            message = self.server.batch(database, ";\n".join(ddl + rows) + ";\n")
            if message:
                raise Failure("data_import", "%s: %s" % (database, message))
        say("data imported: DEMO and INIT recreated; system records and standard scripts updated")

    def initialization_2(self):
        table, function, mandatory, done = self.tables["init"]
        production = [code for code, _name in self.mandants if code not in ("DEMO", "INIT")]
        for code, database in self.mandants:
            if self.fails("initialization_2") and production and code == production[-1]:
                raise Failure("initialization_2", "Inicializace funkce Inicializace verze skončila chybou (%s)" % code)
            self.server.query(database, "INSERT INTO %s (%s, %s, %s) SELECT %s, 1, NULL WHERE NOT EXISTS (SELECT 1 FROM %s WHERE %s = %s)"
                              % (ident(table), ident(function), ident(mandatory), ident(done), literal(self.init_name()),
                                 ident(table), ident(function), literal(self.init_name())))
            self.server.query(database, "UPDATE %s SET %s = now() WHERE %s = 1 AND %s IS NULL"
                              % (ident(table), ident(done), ident(mandatory), ident(done)))
        say("version initialized in %d mandants" % len(self.mandants))

    def init_name(self):
        return "Inicializace verze %s" % version_name(self.target)

    def licence(self):
        if self.args.mode == "takeover" or self.target[0] != self.current[0]:
            if self.args.licence:
                shutil.copyfile(self.args.licence, os.path.join(self.folder, "Conf", "licence.lic"))
                say("licence imported")
            else:
                say("no licence file given; the existing licence stays")
        table, allowed, _preparation = self.tables["reinstall"]
        self.server.query(self.server.conf, "UPDATE %s SET %s = 0" % (ident(table), ident(allowed)))
        say("reinstall mode cleared")

    def run(self):
        for step in STEPS:
            say("STEP %s" % step)
            self.hang(step)
            getattr(self, step)()
        say("K2 installer: K2 %s installed in %s" % (version_name(self.target), self.folder))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="k2-installer", description="Lab stand-in for the K2 installer")
    parser.add_argument("--mode", choices=["classic", "takeover"], required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--archive", required=True, help="the zip of one K2 version")
    parser.add_argument("--records", required=True, help="the installer's records of installations on this host (JSON)")
    parser.add_argument("--licence", help="a licence file to import")
    args = parser.parse_args(argv)
    try:
        Installer(args).run()
    except Failure as exc:
        say("FAILED %s: %s" % (exc.step, exc.reason))
        print("K2 installer: %s failed: %s" % (exc.step, exc.reason), file=sys.stderr)
        return EXIT_CODES[exc.step]
    except (OSError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
        say("FAILED checks: %s" % exc)
        print("K2 installer: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
