#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_backup: verified backups of K2's databases into a manifest, and restore from it (RUNBOOK K2-05, K2-15, K2-16)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_backup
short_description: Take verified backups of K2's databases, or restore them
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - With O(state=present) backs up CONF and every production mandant of C(FIRMY) (RUNBOOK K2-05); DEMO, INIT and test copies
    only when named in O(databases). Each backup is verified before it counts.
  - "MS SQL: C(BACKUP DATABASE ... TO DISK ... WITH COPY_ONLY, CHECKSUM) (plus C(COMPRESSION) unless the edition is Express),
    then C(RESTORE VERIFYONLY ... WITH CHECKSUM). The path is on the database server; the folder is created by the server
    (C(xp_create_subdir)), so a folder the server cannot write is refused before any backup."
  - "Oracle: a schema export with the C(DBMS_DATAPUMP) PL/SQL API into the DIRECTORY object O(oracle_directory), verified by
    a C(SQL_FILE) job that reads the whole dump."
  - "Lab (PostgreSQL): C(pg_dump --format=custom) run where the module runs, verified with C(pg_restore --list); the file's
    SHA-256 is recorded. The password is passed in the environment, never on the command line."
  - Writes the backup manifest O(manifest) (JSON) with, per backup, the database, file, size, checksum, time, K2 version of the
    database, position in the run (O(position)) and run id. M(erpops.upgrade.k2_convert) and C(playbooks/k2_restore.yml)
    read it. A backup that fails is recorded with C(verified=false), never as a success.
  - With O(max_age), a verified backup in the manifest that is fresh enough, taken at O(position) or later and (when
    O(run_id) is set) in the same run, is reused and reported as unchanged.
  - Refuses when the free space of the target (where it can be measured) is less than the databases' sizes times
    O(space_margin).
  - With O(state=restored) restores the newest verified backup of each database in the manifest (or of O(databases), of
    O(run_id) when set), after refusing if any user is connected to one of them (RUNBOOK K2-16). MS SQL
    C(RESTORE DATABASE ... WITH REPLACE), Oracle Data Pump import with C(TABLE_EXISTS_ACTION=REPLACE), lab
    C(pg_restore --clean --single-transaction). In the lab the file's checksum is checked first.
  - Connects to the databases from where the module runs (the controller or the execution environment); run it with
    C(delegate_to=localhost) for a Windows K2 host. The manifest is written there too.
options:
  conf_database:
    description: The CONF database (on Oracle, its schema). Its C(FIRMY) table lists the mandants.
    type: str
    required: true
  state:
    description: V(present) takes (or reuses) backups; V(restored) restores the manifest's backups.
    type: str
    choices: [present, restored]
    default: present
  databases:
    description:
      - The databases to back up or restore, as mandant codes, C(CONF) or database names.
      - Default for V(present) is CONF and every production mandant; for V(restored), every database of the manifest.
    type: list
    elements: str
  manifest:
    description: The backup manifest (JSON) where the module runs. Created when missing.
    type: path
    required: true
  target_dir:
    description:
      - Where the backup files go. MS SQL, a folder on the database server (C(D:\Backup\K2) or a UNC path); the lab, a
        folder where the module runs. Not used on Oracle (see O(oracle_directory)).
    type: str
  oracle_directory:
    description: The Oracle DIRECTORY object the Data Pump files go to.
    type: str
  position:
    description:
      - Where in the run the backup is taken, recorded in the manifest. V(after_check) is the backup after the structure
        checks and their repairs (K2-15), the one M(erpops.upgrade.k2_convert) requires before one-time conversions.
    type: str
    choices: [before_check, after_check]
    default: before_check
  run_id:
    description: The id of the reinstall run, recorded in the manifest; with O(max_age) only backups of this run are reused.
    type: str
  max_age:
    description: Reuse a verified backup from the manifest taken at most this many minutes ago. Without it, a new backup is taken.
    type: int
  compression:
    description: MS SQL backup compression; ignored (with a note) on Express, which cannot compress.
    type: bool
    default: true
  space_margin:
    description: The free space needed is the sum of the database sizes times this factor.
    type: float
    default: 1.1
  pg_bin_dir:
    description: Lab only. The folder of C(pg_dump) and C(pg_restore); default is the newest C(/usr/lib/postgresql/*/bin), else C(PATH).
    type: path
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
  lease:
    description:
      - The lock of the reinstall run (what M(erpops.upgrade.k2_run) returned as C(lock)). While the module works, a background
        thread renews the run's lease on the CONF database every third of O(lease.seconds), so that a run that was killed while
        this module still works is not taken over, and a second run waits or refuses instead of colliding.
    type: dict
    suboptions:
      token:
        description: The job's lock token.
        type: str
        required: true
      run_id:
        description: The run id (informational).
        type: str
      seconds:
        description: The lease length.
        type: int
        default: 300
      site_key:
        description: The lock row's key; default O(conf_database).
        type: str
extends_documentation_fragment:
  - erpops.upgrade.db
attributes:
  check_mode:
    support: full
    description: Lists what would be backed up (or restored), the target paths and the space needed; writes nothing.
  diff_mode:
    support: none
    description: No diff is produced.
  action_group:
    support: full
    membership:
      - erpops.upgrade.k2
    description: Use C(group/erpops.upgrade.k2) in C(module_defaults) to set the connection options once.
seealso:
  - module: erpops.upgrade.k2_convert
"""

EXAMPLES = r"""
- name: Back up after the structure checks, reusing a backup of this run up to 2 hours old
  erpops.upgrade.k2_backup:
    conf_database: K2_CONF
    manifest: /var/lib/erpops/site01/backups.json
    target_dir: 'E:\Backup\K2'
    position: after_check
    run_id: "{{ reinstall_run_id }}"
    max_age: 120
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
  delegate_to: localhost

- name: Restore the databases of the manifest
  erpops.upgrade.k2_backup:
    conf_database: K2_CONF
    manifest: /var/lib/erpops/site01/backups.json
    state: restored
    run_id: "{{ reinstall_run_id }}"
  delegate_to: localhost
"""

RETURN = r"""
backups:
  description: One entry per database, as written to (or found in) the manifest, with C(reused) and C(path).
  returned: state=present
  type: list
  elements: dict
  sample: [{"database": "K2_FIRMA", "code": "FIRMA", "file": "E:\\Backup\\K2\\K2_FIRMA_20250305T170000Z_r1.bak", "size": 1048576,
            "checksum": null, "checksum_kind": "server-verified", "taken_at": "2025-03-05T17:00:00+00:00", "k2_version": "gaia.12.3",
            "position": "after_check", "run_id": "r1", "verified": true, "reused": false}]
restored:
  description: The manifest entries restored (or, in check mode, that would be).
  returned: state=restored
  type: list
  elements: dict
space:
  description: C(needed) and C(free) bytes and where free space was measured (C(free) null when it cannot be measured).
  returned: state=present
  type: dict
manifest:
  description: The manifest path.
  returned: always
  type: str
"""

import hashlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as core
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, run_lock
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile


def argument_spec():
    spec = dict(
        conf_database=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "restored"], default="present"),
        databases=dict(type="list", elements="str"),
        manifest=dict(type="path", required=True),
        target_dir=dict(type="str"),
        oracle_directory=dict(type="str"),
        position=dict(type="str", choices=list(core.POSITIONS), default="before_check"),
        run_id=dict(type="str"),
        max_age=dict(type="int"),
        compression=dict(type="bool", default=True),
        space_margin=dict(type="float", default=core.DEFAULT_SPACE_MARGIN),
        pg_bin_dir=dict(type="path"),
        k2_profile=dict(type="dict", default={}),
        lease=run_lock.LEASE_OPTION,
    )
    spec.update(DB_ARGUMENT_SPEC)
    return spec


# --------------------------------------------------------------------------- manifest file


def read_manifest(path):
    if not os.path.exists(path):
        return core.empty_manifest()
    with open(path, encoding="utf-8") as handle:
        return core.load_manifest(handle.read())


def write_manifest(path, manifest):
    """Atomically: a reader never sees half a manifest."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".manifest-", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(core.dump_manifest(manifest))
    os.replace(temp, path)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- engines


class Engine:
    """What differs per platform: sizes, space, write check, backup + verify, connected users, restore."""

    def __init__(self, module, params):
        self.module = module
        self.params = params
        self.platform = params["db_platform"]
        self.notes = []

    def connect(self, database):
        return k2db.connect(self.params, database)

    def size(self, database):
        conn = self.connect(self.admin_database(database))
        try:
            rows = conn.query(core.size_sql(self.platform), core.bind(self.platform, owner=database))
        finally:
            conn.close()
        value = list(rows[0].values())[0] if rows else None
        return int(value or 0)

    def admin_database(self, database):
        return database

    def connected(self, database):
        conn = self.connect(self.admin_database(database))
        try:
            rows = conn.query(core.connected_sql(self.platform), core.bind(self.platform, owner=database))
        finally:
            conn.close()
        return int(list(rows[0].values())[0]) if rows else 0


class LabEngine(Engine):
    def __init__(self, module, params):
        super().__init__(module, params)
        self.bin_dir = module.params["pg_bin_dir"] or self._find_bin_dir()

    @staticmethod
    def _find_bin_dir():
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
        for path in reversed(candidates):
            if os.path.exists(os.path.join(path, "pg_dump")):
                return path
        return ""

    def tool(self, name):
        path = os.path.join(self.bin_dir, name) if self.bin_dir else shutil.which(name)
        if not path or not os.path.exists(path):
            raise core.BackupError("%s not found (set pg_bin_dir)" % name)
        return path

    def run(self, argv, what):
        env = core.lab_env(self.params, os.environ)
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            secret = self.params.get("login_password") or "\x00"
            detail = (done.stderr or done.stdout).strip().replace(secret, "********")[-600:]
            raise core.BackupError("%s failed (exit %d): %s" % (what, done.returncode, detail))
        return done.stdout

    def path(self, target_dir, name):
        return os.path.join(target_dir, name)

    def prepare_target(self, target_dir):
        """Create the folder and prove it takes a file; refuse with the reason otherwise."""
        try:
            os.makedirs(target_dir, exist_ok=True)
            probe = os.path.join(target_dir, ".erpops-write-test-%s" % uuid.uuid4().hex[:8])
            with open(probe, "wb") as handle:
                handle.write(b"x")
            os.unlink(probe)
        except OSError as exc:
            raise core.BackupError("cannot write backups to %s: %s" % (target_dir, exc.strerror or exc)) from None

    def free(self, target_dir):
        probe = target_dir
        while probe and not os.path.exists(probe):
            probe = os.path.dirname(probe)
        try:
            return shutil.disk_usage(probe or "/").free
        except OSError:
            return None

    def backup(self, database, path, entry):
        try:
            self.run(core.lab_dump_argv(self.tool("pg_dump"), self.params, database, path), "pg_dump of %s" % database)
            self.run(core.lab_verify_argv(self.tool("pg_restore"), path), "verification (pg_restore --list) of %s" % path)
        except core.BackupError:
            if os.path.exists(path):
                os.unlink(path)
            raise
        entry["size"] = os.path.getsize(path)
        entry["checksum"] = sha256_file(path)

    def still_there(self, entry):
        return os.path.exists(entry["file"]) and os.path.getsize(entry["file"]) == entry.get("size")

    def restore(self, entry):
        if not os.path.exists(entry["file"]):
            raise core.BackupError("backup file %s of %s is gone" % (entry["file"], entry["database"]))
        if entry.get("checksum") and sha256_file(entry["file"]) != entry["checksum"]:
            raise core.BackupError("backup file %s of %s does not match its manifest checksum; not restored" % (entry["file"], entry["database"]))
        self.run(core.lab_restore_argv(self.tool("pg_restore"), self.params, entry["database"], entry["file"]),
                 "pg_restore of %s" % entry["database"])


class MssqlEngine(Engine):
    def admin_database(self, database):
        return "master"

    def path(self, target_dir, name):
        return core.join_target(target_dir, name)

    def prepare_target(self, target_dir):
        conn = self.connect("master")
        try:
            conn.execute(core.mssql_mkdir_sql(target_dir))
        except k2db.DatabaseError as exc:
            raise core.BackupError("the SQL Server cannot create or write %s: %s" % (target_dir, exc)) from None
        finally:
            conn.close()

    def free(self, target_dir):
        conn = self.connect("master")
        try:
            return core.mssql_free_bytes(conn.query(core.MSSQL_FREE_SQL), target_dir)
        finally:
            conn.close()

    def backup(self, database, path, entry):
        conn = self.connect("master")
        try:
            compression = self.module.params["compression"]
            if compression and int(conn.query(core.MSSQL_EDITION_SQL)[0]["edition"]) == 4:
                compression = False
                self.notes.append("SQL Server Express cannot compress backups; %s was backed up uncompressed" % database)
            conn.execute(core.mssql_backup_sql(database, path, compression))
            conn.execute(core.mssql_verify_sql(path))
            rows = conn.query(core.MSSQL_BACKUP_SIZE_SQL, (database, path))
            entry["size"] = int(rows[0]["bytes"]) if rows and rows[0]["bytes"] is not None else None
        except k2db.DatabaseError as exc:
            raise core.BackupError("backup of %s to %s failed: %s" % (database, path, exc)) from None
        finally:
            conn.close()

    def still_there(self, entry):
        return True  # the file is on the database server; RESTORE VERIFYONLY checked it when it was taken

    def restore(self, entry):
        conn = self.connect("master")
        try:
            conn.execute(core.mssql_verify_sql(entry["file"]))
            conn.execute(core.mssql_restore_sql(entry["database"], entry["file"]))
        except k2db.DatabaseError as exc:
            raise core.BackupError("restore of %s from %s failed: %s" % (entry["database"], entry["file"], exc)) from None
        finally:
            conn.close()


class OracleEngine(Engine):
    def admin_database(self, database):
        return self.params.get("login_user") or database

    def _directory(self):
        directory = self.module.params["oracle_directory"]
        if not directory:
            raise core.BackupError("oracle_directory (a DIRECTORY object the database can write) is required on Oracle")
        return directory

    def path(self, target_dir, name):
        return "%s:%s" % (self._directory(), name)

    def prepare_target(self, target_dir):
        conn = self.connect(self.admin_database(""))
        try:
            if not conn.query(core.ORACLE_DIRECTORY_SQL, {"directory": self._directory()}):
                raise core.BackupError("the Oracle DIRECTORY object %s does not exist or is not granted to %s"
                                       % (self._directory(), self.params.get("login_user")))
        finally:
            conn.close()

    def free(self, target_dir):
        return None  # a DIRECTORY object's free space cannot be read through SQL

    def _job(self, sql_and_binds, what):
        sql, binds = sql_and_binds
        conn = self.connect(self.admin_database(""))
        try:
            conn.execute(sql, binds)
        except k2db.DatabaseError as exc:
            raise core.BackupError("%s failed: %s" % (what, exc)) from None
        finally:
            conn.close()

    def backup(self, database, path, entry):
        name = path.split(":", 1)[1]
        job = ("ERPOPS_EXP_%s" % uuid.uuid4().hex[:12]).upper()
        self._job(core.oracle_export(database, self._directory(), name, job), "Data Pump export of %s" % database)
        self._job(core.oracle_verify(database, self._directory(), name, job.replace("EXP", "VFY")), "verification of %s" % path)

    def still_there(self, entry):
        return True

    def restore(self, entry):
        name = entry["file"].split(":", 1)[1]
        job = ("ERPOPS_IMP_%s" % uuid.uuid4().hex[:12]).upper()
        self._job(core.oracle_import(entry["database"], self._directory(), name, job), "Data Pump import of %s" % entry["database"])


ENGINES = {"lab": LabEngine, "mssql": MssqlEngine, "oracle": OracleEngine}


# --------------------------------------------------------------------------- the module


def mandants(params, profile):
    platform = params["db_platform"]
    conf = k2db.connect(db_params(params), params["conf_database"])
    try:
        rows = conf.query(k2_mandants.firmy_sql(platform, params["conf_database"], profile))
    finally:
        conf.close()
    return k2_mandants.classify(rows, profile)


def database_version(params, profile, database):
    platform = params["db_platform"]
    try:
        conn = k2db.connect(db_params(params), database)
        try:
            rows = conn.query(k2_mandants.version_sql(platform, database, profile))
        finally:
            conn.close()
    except k2db.DatabaseError:
        return None
    return str(list(rows[0].values())[0]).strip() if rows else None


def take(module, engine, profile, now):
    params = module.params
    if params["db_platform"] != "oracle" and not params["target_dir"]:
        raise core.BackupError("target_dir is required to take backups on %s" % params["db_platform"])
    manifest = read_manifest(params["manifest"])
    wanted = core.select_databases(params["conf_database"], mandants(params, profile), params["databases"])
    max_age = params["max_age"] * 60 if params["max_age"] is not None else None
    plan, reused = [], []
    for target in wanted:
        entry = core.fresh_backup(manifest, target["database"], params["position"], max_age, now, params["run_id"])
        if entry is not None and engine.still_there(entry):
            reused.append(dict(entry, reused=True))
        else:
            name = core.backup_file_name(target["database"], params["db_platform"], now, params["run_id"])
            plan.append((target, engine.path(params["target_dir"], name)))
    sizes = {target["database"]: engine.size(target["database"]) for target, _path in plan}
    needed = core.space_needed(sizes, params["space_margin"])
    space = {"needed": needed, "free": None, "where": params["target_dir"] or params["oracle_directory"], "sizes": sizes}
    result = {"changed": bool(plan), "manifest": params["manifest"], "space": space}
    if not plan:
        result["backups"] = reused
        return result
    if not module.check_mode:
        engine.prepare_target(params["target_dir"])
    space["free"] = engine.free(params["target_dir"]) if params["target_dir"] else None
    refusal = core.check_space(needed, space["free"], space["where"])
    if refusal:
        raise core.BackupError(refusal + "; nothing was backed up")
    if module.check_mode:
        result["backups"] = reused + [{"database": t["database"], "code": t["code"], "file": p, "size": sizes[t["database"]],
                                       "reused": False, "would_take": True} for t, p in plan]
        return result
    taken = []
    for target, path in plan:
        entry = core.new_entry(target["database"], target["code"], params["db_platform"], path, params["position"], params["run_id"],
                               datetime.now(timezone.utc), database_version(params, profile, target["database"]))
        try:
            engine.backup(target["database"], path, entry)
        except (core.BackupError, k2db.DatabaseError) as exc:
            entry["message"] = str(exc)
            manifest["entries"].append(entry)
            write_manifest(params["manifest"], manifest)
            raise core.BackupError("%s; recorded in the manifest as failed (verified=false); backups taken before it stay valid"
                                   % exc) from None
        entry["verified"] = True
        manifest["entries"].append(entry)
        write_manifest(params["manifest"], manifest)
        taken.append(dict(entry, reused=False))
    result["backups"] = reused + taken
    return result


def restore(module, engine):
    params = module.params
    if not os.path.exists(params["manifest"]):
        raise core.BackupError("the manifest %s does not exist; nothing to restore from" % params["manifest"])
    manifest = read_manifest(params["manifest"])
    names = None
    if params["databases"]:
        by_code = {e["code"].upper(): e["database"] for e in manifest["entries"] if e.get("code")}
        names = [by_code.get(name.upper(), name) for name in params["databases"]]
    chosen = core.restore_choice(manifest, names, params["run_id"])
    busy = {entry["database"]: engine.connected(entry["database"]) for entry in chosen}
    busy = {name: count for name, count in busy.items() if count}
    if busy:
        raise core.BackupError("users are connected (%s); log them off first (k2_login_ban, k2_kill_sessions); nothing was restored"
                               % ", ".join("%s: %d session(s)" % item for item in sorted(busy.items())))
    if not module.check_mode:
        for entry in chosen:
            engine.restore(entry)
    return {"changed": True, "manifest": params["manifest"], "restored": [dict(entry) for entry in chosen]}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = db_params(module.params)
    try:
        profile = merge_profile(module.params["k2_profile"])
        engine = ENGINES[params["db_platform"]](module, params)
        now = datetime.now(timezone.utc)
        if module.params["state"] == "present":
            keeper = None if module.check_mode else run_lock.keeper_for(
                module.params["lease"], params, module.params["conf_database"], k2db.connect)
            if keeper is None:
                result = take(module, engine, profile, now)
            else:
                with keeper:
                    result = take(module, engine, profile, now)
        else:
            result = restore(module, engine)
        if engine.notes:
            result["notes"] = engine.notes
    except (ValueError, k2db.DatabaseError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
