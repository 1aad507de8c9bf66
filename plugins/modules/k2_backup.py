#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_backup: verified backups of K2's databases into a manifest, and restore from it (K2-05, K2-15, K2-16)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_backup
short_description: Take verified backups of K2's databases, or restore them
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - "With O(state=present) backs up every database the reinstall changes (K2-05): CONF and every mandant of
    C(FIRMY), DEMO, INIT and test copies included, as M(erpops.upgrade.k2_convert) converts them; O(exclude) leaves some
    out, and the result and a warning say so. Each backup is verified before it counts, and the manifest records the level
    it passed (C(verification))."
  - "MS SQL: C(BACKUP DATABASE ... TO DISK ... WITH COPY_ONLY, CHECKSUM) (plus C(COMPRESSION) unless the edition is Express),
    then C(RESTORE VERIFYONLY ... WITH CHECKSUM); with O(verify_level=test_restore) also a restore under another name,
    C(DBCC CHECKDB) and a drop (the practice of dbatools' Test-DbaLastBackup). The path is on the database server; the
    folder is created by the server (C(xp_create_subdir)), so a folder the server cannot write is refused first."
  - "Oracle: a schema export with the C(DBMS_DATAPUMP) PL/SQL API into the DIRECTORY object O(oracle_directory), verified by
    the job's state and a C(SQL_FILE) job that reads the whole dump; with O(verify_level=test_restore) also an import into a
    scratch schema, dropped afterwards."
  - "Lab (PostgreSQL): C(pg_dump --format=custom) of a snapshot in which the source's fingerprint (tables, columns, row
    counts, a checksum per table) is taken; verified by restoring the file into a scratch database and comparing it with
    that fingerprint. The SHA-256 of what pg_dump wrote is recorded. Database names go to the tools inside a quoted
    connection string, the password in the environment, never on the command line."
  - File names hold a readable part of the database name, a short hash of the exact name, the time, the position and the
    run id; the manifest refuses an entry whose file another entry already claims.
  - Writes the backup manifest O(manifest) (JSON); every entry field is described in C(plugins/module_utils/backup.py).
    M(erpops.upgrade.k2_convert) and C(playbooks/k2_restore.yml) read it. A backup that fails is recorded with
    C(verified=false), never as a success.
  - With O(max_age), a verified backup in the manifest that is fresh enough, taken at O(position) or later and (when
    O(run_id) is set) in the same run, is reused and reported as unchanged, after its file passed its check again
    (checksum, C(RESTORE VERIFYONLY), C(SQL_FILE)); a file that fails is never reused.
  - Refuses when the free space of the target (where it can be measured) is less than the databases' sizes times
    O(space_margin).
  - With O(state=restored) restores the newest verified backup of each database in the manifest (or of O(databases), of
    O(run_id) when set) to exactly its state at backup time, after refusing if any user is connected (K2-16) and
    after checking every file of the set (one bad file restores nothing). MS SQL C(RESTORE DATABASE ... WITH REPLACE);
    Oracle empties the schema, then imports; the lab restores into a fresh database and swaps the names. A restore that
    stops part-way names the databases restored and not restored, and the command to finish.
  - Scratch copies (test restores, the lab's fresh copy of a restore) are named C(ERPOPS_VERIFY_) plus a hash of the
    database's exact name. Those an earlier verification or restore left behind (server lost, job killed) are dropped
    before the next backup or restore of that database and listed in C(notes); a database the lab's restore swapped out
    and could not drop is kept (it holds the data the restore replaced) and named in C(notes).
  - Backs up O(parallel) databases at a time, each on connections of its own; with O(server_slots), each backup (and each
    restore) first takes a slot of the database server, so that all the sites and jobs on one server together run at most
    O(server_slots.limit) at once. Each database's failure is reported alone - the other backups go on, are verified and
    recorded, and the task fails naming the databases not backed up.
  - Runs through an action plugin that plans first (the module with O(preflight_only)), then runs the module once for every
    database to back up and prints a progress line when each backup starts, waits for a slot, ends or fails (terminal and
    AWX job output); restores run once per database, in order.
  - Connects to the databases from where the module runs (the controller or the execution environment); run it with
    C(delegate_to=localhost) for a Windows K2 host. The manifest is written there too.
options:
  conf_database:
    description:
      - The CONF database (on Oracle, its schema). Its C(FIRMY) table lists the mandants.
      - Required unless O(read_firmy=false).
    type: str
  read_firmy:
    description:
      - Whether the databases are K2's, found through C(FIRMY) in O(conf_database).
      - With V(false), O(databases) names the databases themselves and nothing is read from C(FIRMY) or a K2 version table,
        for databases of another product (Comarch ERP, through C(comarch_update)).
    type: bool
    default: true
  state:
    description: V(present) takes (or reuses) backups; V(restored) restores the manifest's backups.
    type: str
    choices: [present, restored]
    default: present
  databases:
    description:
      - The databases to back up or restore, as mandant codes, C(CONF) or database names (an exact name wins).
      - Default for V(present) is every database the reinstall converts; for V(restored), every database of the manifest.
    type: list
    elements: str
  exclude:
    description:
      - Databases not to back up (codes, C(CONF) or names), for example V(DEMO) and V(INIT). The result lists them under
        C(excluded) and the task warns that a restore cannot bring them back.
    type: list
    elements: str
    default: []
  verify_level:
    description:
      - V(standard) is C(RESTORE VERIFYONLY) on MS SQL and the Data Pump job plus a C(SQL_FILE) read on Oracle.
        V(test_restore) adds a restore under another name plus C(DBCC CHECKDB) (MS SQL) or an import into a scratch schema
        (Oracle); it needs room for one more copy of the largest database. The lab always restores into a scratch database
        and compares.
    type: str
    choices: [standard, test_restore]
    default: standard
  preflight_only:
    description:
      - Only plan and check, change nothing - the databases, the backups that would be reused (their files checked again),
        the space; for V(restored), connected users and every file of the set. The action plugin uses it before it runs
        the module once per database.
    type: bool
    default: false
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
  parallel:
    description:
      - How many databases are backed up at a time (V(1) - one after the other). The default suits the database server of a
        typical K2 customer; see the section Concurrency of C(docs/backup_convert.md). The server's own limit across sites is O(server_slots).
    type: int
    default: 4
  progress_file:
    description:
      - A file where the module appends one line per step while it works (started, waiting for a slot, done, failed). The
        action plugin sets it and shows the lines as they come; not needed otherwise.
    type: path
extends_documentation_fragment:
  - erpops.upgrade.server_slots
  - erpops.upgrade.lease
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.action
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Lists what would be backed up (or restored), the target paths and the space needed; writes nothing.
  diff_mode:
    support: none
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
  description:
    - One entry per database, as written to (or found in) the manifest, with C(reused); in check mode C(would_take).
  returned: state=present
  type: list
  elements: dict
  sample: [{"database": "K2_FIRMA", "code": "FIRMA", "file": "E:\\Backup\\K2_FIRMA_1f0c3a9b2e_20250305T170000123Z_after_r1.bak",
            "size": 1048576, "checksum": null, "checksum_kind": "server-verified", "taken_at": "2025-03-05T17:00:00+00:00",
            "finished_at": "2025-03-05T17:04:10+00:00", "slot_wait_seconds": 12.5,
            "k2_version": "gaia.12.3", "position": "after_check", "run_id": "r1", "verified": true,
            "verification": "mssql-verifyonly", "fingerprint": null, "message": null, "reused": false}]
excluded:
  description: The databases O(exclude) left out, with the reason; they are not backed up.
  returned: state=present
  type: list
  elements: dict
  sample: [{"code": "DEMO", "database": "K2_DEMO", "role": "system", "reason": "excluded by the exclude option; not backed up"}]
not_backed_up:
  description:
    - When backups failed, the databases not backed up, each for its own reason in C(msg); the others are in C(backups),
      verified.
  returned: failure of state=present
  type: list
  elements: str
  sample: ["K2_FIRMA", "K2_INIT"]
restored:
  description: The manifest entries restored (in check mode or with O(preflight_only), the ones that would be).
  returned: state=restored
  type: list
  elements: dict
  sample: [{"database": "K2_CONF", "file": "E:\\Backup\\K2_CONF_3b1d0e6f7a_20250305T170000123Z_after_r1.bak",
            "taken_at": "2025-03-05T17:00:00+00:00", "verified": true}]
not_restored:
  description: The databases not restored when a restore stopped part-way (empty when all were restored).
  returned: state=restored
  type: list
  elements: str
  sample: ["K2_FIRMA", "K2_INIT"]
stopped_at:
  description: The database whose restore failed when a restore stopped part-way (through the action plugin).
  returned: failure of state=restored part-way
  type: str
  sample: K2_FIRMA
error:
  description: That database's failure, as the restore reported it.
  returned: failure of state=restored part-way
  type: str
  sample: "pg_restore of /b/K2_FIRMA_....dump into ERPOPS_VERIFY_... failed (exit 1): connection to server lost"
restored_databases:
  description: Names of the databases restored before a restore stopped part-way (the module alone, without the action plugin).
  returned: failure of state=restored part-way
  type: list
  elements: str
  sample: ["K2_CONF"]
notes:
  description: What the module noticed but did not fail on (a reused file that failed its check, Express without compression,
    a scratch database that could not be dropped, a leftover scratch copy dropped).
  returned: when there is something to say
  type: list
  elements: str
  sample: ["the backup /b/K2_FIRMA_....dump of K2_FIRMA is not reused: ... does not match its manifest checksum; a new one is taken"]
space:
  description: C(needed) and C(free) bytes and where free space was measured (C(free) null when it cannot be measured).
  returned: state=present
  type: dict
  sample: {"needed": 9227468, "free": 83981017088, "where": "/srv/backups/site01", "sizes": {"K2_CONF": 8388608}}
manifest:
  description: The manifest path.
  returned: always
  type: str
  sample: /var/lib/erpops/site01/backups.json
"""

import hashlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.erpops.upgrade.plugins.module_utils import backup as core
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import db_copy
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_mandants, run_lock, server_slots
from ansible_collections.erpops.upgrade.plugins.module_utils.progress_lines import ProgressWriter
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile


def argument_spec():
    spec = dict(
        conf_database=dict(type="str"),
        read_firmy=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "restored"], default="present"),
        databases=dict(type="list", elements="str"),
        exclude=dict(type="list", elements="str", default=[]),
        manifest=dict(type="path", required=True),
        target_dir=dict(type="str"),
        oracle_directory=dict(type="str"),
        position=dict(type="str", choices=list(core.POSITIONS), default="before_check"),
        run_id=dict(type="str"),
        max_age=dict(type="int"),
        verify_level=dict(type="str", choices=["standard", "test_restore"], default="standard"),
        preflight_only=dict(type="bool", default=False),
        compression=dict(type="bool", default=True),
        space_margin=dict(type="float", default=core.DEFAULT_SPACE_MARGIN),
        pg_bin_dir=dict(type="path"),
        k2_profile=dict(type="dict", default={}),
        lease=run_lock.LEASE_OPTION,
        parallel=dict(type="int", default=core.DEFAULT_PARALLEL),
        server_slots=server_slots.OPTION,
        progress_file=dict(type="path"),
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


class PartialRestore(core.BackupError):
    """A restore that stopped part-way: which databases are restored and which are not."""

    def __init__(self, message, restored, not_restored):
        super().__init__(message)
        self.restored = restored
        self.not_restored = not_restored


# --------------------------------------------------------------------------- engines


class Engine:
    """What differs per platform: sizes, space, write check, backup + verify, file check, connected users, restore."""

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

    # -- leftovers of a lost server or a killed job (restore side)
    def scratch_names(self):
        conn = self.admin_connection()
        try:
            return [str(list(row.values())[0]) for row in conn.query(core.SCRATCH_LIST_SQL[self.platform])]
        finally:
            conn.close()

    def admin_connection(self):
        return self.connect(self.admin_database(""))

    def drop_scratch(self, name):
        raise NotImplementedError

    def drop_leftovers(self, database):
        """Before a backup or restore of ``database``: its scratch copies an earlier, cut-off one left are dropped, and said."""
        drop, keep = core.leftover_scratch(self.scratch_names(), database)
        for name in drop:
            try:
                self.drop_scratch(name)
            except (core.BackupError, k2db.DatabaseError) as exc:
                self.notes.append("the leftover scratch copy %s of %s could not be dropped: %s" % (name, database, exc))
            else:
                self.notes.append("dropped %s, a scratch copy of %s an earlier verification or restore left behind" % (name, database))
        for name in keep:
            self.notes.append("%s holds %s as it was before an earlier restore replaced it (the drop after the swap failed); "
                              "kept: drop it when it is no longer needed" % (name, database))


class LabEngine(Engine):
    """PostgreSQL: pg_dump in a snapshot whose fingerprint is taken alongside; restore into a fresh database and swap names."""

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

    def dump(self, argv, path, what):
        """Run pg_dump into ``path`` and hash the file at once: (SHA-256, bytes) of what pg_dump wrote."""
        self.run(argv, what)
        return sha256_file(path), os.path.getsize(path)

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

    @staticmethod
    def fingerprint(conn):
        tables = conn.query(core.LAB_TABLES_SQL)
        counts = {"%s.%s" % (row["schema_name"], row["table_name"]): conn.query(
            core.lab_table_fingerprint_sql(row["schema_name"], row["table_name"]))[0] for row in tables}
        return core.fingerprint_from_rows(tables, counts)

    def _maintenance(self):
        return self.connect(core.LAB_MAINTENANCE_DATABASE)

    def _on_maintenance(self, statements, transaction=False):
        """Run ``statements`` on the maintenance database. A backend of a connection this module has just closed may
        still be exiting (PostgreSQL ends it asynchronously): "being accessed by other users" is retried a few times."""
        for pause in core.BUSY_RETRY_PAUSES + (None,):
            conn = self._maintenance()
            try:
                if transaction:
                    with conn.transaction():
                        for statement in statements:
                            conn.execute(statement)
                else:
                    for statement in statements:
                        conn.execute(statement)
                return
            except k2db.DatabaseError as exc:
                if pause is None or "being accessed by other users" not in str(exc):
                    raise
            finally:
                conn.close()
            time.sleep(pause)

    def _drop_quietly(self, database):
        try:
            self._on_maintenance([core.lab_drop_sql(database)])
        except k2db.DatabaseError as exc:
            self.notes.append("the scratch database %s could not be dropped (%s); drop it by hand" % (database, exc))

    def _restore_fresh(self, entry, fresh, properties=None):
        """The archive restored into the new database ``fresh``; its fingerprint."""
        conn = self._maintenance()
        try:
            conn.execute(core.lab_create_sql(fresh, properties))
        finally:
            conn.close()
        self.run(core.lab_restore_argv(self.tool("pg_restore"), self.params, fresh, entry["file"]),
                 "pg_restore of %s into %s" % (entry["file"], fresh))
        restored = self.connect(fresh)
        try:
            return self.fingerprint(restored)
        finally:
            restored.close()

    def admin_connection(self):
        return self._maintenance()

    def drop_scratch(self, name):
        self._on_maintenance([core.lab_drop_sql(name)])

    def backup(self, database, path, entry):
        self.drop_leftovers(database)
        try:
            conn = self.connect(database)
            try:
                snapshot = conn.begin_snapshot()
                source = self.fingerprint(conn)
                entry["checksum"], entry["size"] = self.dump(
                    core.lab_dump_argv(self.tool("pg_dump"), self.params, database, path, snapshot), path, "pg_dump of %s" % database)
                conn.end_snapshot()
            finally:
                conn.close()
            entry["fingerprint"] = source
            self.verify(entry)
        except (core.BackupError, k2db.DatabaseError):
            if os.path.exists(path):
                os.unlink(path)
            raise
        entry["verification"] = "lab-restore-compare"

    def verify(self, entry):
        """Restorable: the archive restored into a scratch database equals the source as it was dumped."""
        self.run(core.lab_verify_argv(self.tool("pg_restore"), entry["file"]), "verification (pg_restore --list) of %s" % entry["file"])
        scratch = core.scratch_name(entry["database"], uuid.uuid4().hex[:8])
        try:
            restored = self._restore_fresh(entry, scratch)
        except (core.BackupError, k2db.DatabaseError) as exc:
            raise core.BackupError("verification of %s: the test restore failed: %s" % (entry["file"], exc)) from None
        finally:
            self._drop_quietly(scratch)
        problems = core.compare_fingerprints(entry["fingerprint"], restored)
        if problems:
            raise core.BackupError("verification of %s: the test restore differs from %s as it was dumped: %s"
                                   % (entry["file"], entry["database"], "; ".join(problems[:5])))
        if sha256_file(entry["file"]) != entry["checksum"]:
            raise core.BackupError("verification of %s: the file is no longer what pg_dump wrote (SHA-256 differs)" % entry["file"])

    def check_file(self, entry):
        """Before a reuse or a restore: the file exists, has its checksum, and pg_restore reads it."""
        if not os.path.exists(entry["file"]):
            raise core.BackupError("backup file %s of %s is missing" % (entry["file"], entry["database"]))
        if not entry.get("checksum") or sha256_file(entry["file"]) != entry["checksum"]:
            raise core.BackupError("backup file %s of %s does not match its manifest checksum (damaged or replaced)"
                                   % (entry["file"], entry["database"]))
        self.run(core.lab_verify_argv(self.tool("pg_restore"), entry["file"]), "pg_restore --list of %s" % entry["file"])

    def _properties(self, database):
        conn = self._maintenance()
        try:
            rows = conn.query(core.LAB_DATABASE_PROPERTIES_SQL, (database,))
        finally:
            conn.close()
        return rows[0] if rows else None

    def restore(self, entry):
        """Into a fresh database, compared with the fingerprint, then one transaction swaps the names: all or nothing."""
        database = entry["database"]
        self.drop_leftovers(database)
        properties = self._properties(database)
        token = uuid.uuid4().hex[:8]
        fresh, old = core.scratch_name(database, "r" + token), core.scratch_name(database, "o" + token)
        try:
            restored = self._restore_fresh(entry, fresh, properties)
            if entry.get("fingerprint"):
                problems = core.compare_fingerprints(entry["fingerprint"], restored)
                if problems:
                    raise core.BackupError("the restored copy of %s differs from the backup's fingerprint: %s"
                                           % (database, "; ".join(problems[:5])))
            self._on_maintenance(core.lab_swap_sql(database, fresh, old if properties else None), transaction=True)
        except (core.BackupError, k2db.DatabaseError):
            self._drop_quietly(fresh)
            raise
        if properties:
            self._drop_quietly(old)


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

    def drop_scratch(self, name):
        conn = self.connect("master")
        try:
            conn.execute(db_copy.mssql_drop_sql(name))
        finally:
            conn.close()

    def backup(self, database, path, entry):
        self.drop_leftovers(database)
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
            entry["verification"] = "mssql-verifyonly"
            if self.module.params["verify_level"] == "test_restore":
                self._test_restore(conn, database, path)
                entry["verification"] = "mssql-test-restore"
        except k2db.DatabaseError as exc:
            raise core.BackupError("backup of %s to %s failed: %s" % (database, path, exc)) from None
        finally:
            conn.close()

    @staticmethod
    def _test_restore(conn, database, path):
        """Test-DbaLastBackup's practice: restore under another name, DBCC CHECKDB, drop."""
        scratch = core.scratch_name(database, uuid.uuid4().hex[:8], 128)
        moves = [(row["LogicalName"], db_copy.mssql_move_path(row["PhysicalName"], database, scratch, row["LogicalName"]))
                 for row in conn.query(core.mssql_filelist_sql(path))]
        conn.execute(db_copy.mssql_restore_as_sql(scratch, path, moves))
        try:
            conn.execute(core.mssql_checkdb_sql(scratch))
        finally:
            conn.execute(db_copy.mssql_drop_sql(scratch))

    def check_file(self, entry):
        conn = self.connect("master")
        try:
            conn.execute(core.mssql_verify_sql(entry["file"]))
        except k2db.DatabaseError as exc:
            raise core.BackupError("backup file %s of %s failed RESTORE VERIFYONLY: %s" % (entry["file"], entry["database"], exc)) from None
        finally:
            conn.close()

    def restore(self, entry):
        conn = self.connect("master")
        try:
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

    @staticmethod
    def _job_name(kind):
        return ("ERPOPS_%s_%s" % (kind, uuid.uuid4().hex[:12])).upper()

    def drop_scratch(self, name):
        self._job((db_copy.oracle_drop_sql(name), {}), "drop of the scratch schema %s" % name)

    def backup(self, database, path, entry):
        self.drop_leftovers(database)
        name = path.split(":", 1)[1]
        self._job(core.oracle_export(database, self._directory(), name, self._job_name("EXP")), "Data Pump export of %s" % database)
        self._job(core.oracle_verify(database, self._directory(), name, self._job_name("VFY")), "verification of %s" % path)
        entry["verification"] = "oracle-job"
        if self.module.params["verify_level"] == "test_restore":
            scratch = core.scratch_name(database, uuid.uuid4().hex[:8], 128).upper()
            try:
                self._job(core.oracle_import_as(database, scratch, self._directory(), name, self._job_name("TST")),
                          "test import of %s as %s" % (path, scratch))
            finally:
                self._job((db_copy.oracle_drop_sql(scratch), {}), "drop of the test schema %s" % scratch)
            entry["verification"] = "oracle-test-import"

    def check_file(self, entry):
        name = entry["file"].split(":", 1)[1]
        self._job(core.oracle_verify(entry["database"], self._directory(), name, self._job_name("VFY")),
                  "reading backup file %s of %s (Data Pump SQL_FILE)" % (entry["file"], entry["database"]))

    def restore(self, entry):
        name = entry["file"].split(":", 1)[1]
        self._job((core.ORACLE_EMPTY_SCHEMA_SQL, {"owner": entry["database"]}), "emptying schema %s before the import" % entry["database"])
        self._job(core.oracle_import(entry["database"], self._directory(), name, self._job_name("IMP")), "Data Pump import of %s" % entry["database"])


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


def listed_databases(names):
    """The databases named in ``databases``, as they are, when FIRMY is not read."""
    if not names:
        raise core.BackupError("with read_firmy=false, name the databases to back up in databases")
    return [{"code": name, "database": name, "role": "listed"} for name in dict.fromkeys(names)]


def reusable_entry(engine, manifest, target, params, now):
    """A fresh verified backup whose file passes its check again, or None (with a note when the check failed)."""
    max_age = params["max_age"] * 60 if params["max_age"] is not None else None
    entry = core.fresh_backup(manifest, target["database"], params["position"], max_age, now, params["run_id"])
    if entry is None:
        return None
    try:
        engine.check_file(entry)
    except (core.BackupError, k2db.DatabaseError) as exc:
        engine.notes.append("the backup %s of %s is not reused: %s; a new one is taken" % (entry["file"], target["database"], exc))
        return None
    return entry


def take(module, engine, profile, now, slots):
    params = module.params
    if params["db_platform"] != "oracle" and not params["target_dir"]:
        raise core.BackupError("target_dir is required to take backups on %s" % params["db_platform"])
    manifest = read_manifest(params["manifest"])
    if params["read_firmy"] and not params["conf_database"]:
        raise core.BackupError("conf_database is required to find K2's databases through FIRMY (or set read_firmy=false and name them)")
    if params["read_firmy"]:
        site = mandants(params, profile)
        wanted = core.select_databases(params["conf_database"], site, params["databases"], params["exclude"])
        excluded = core.excluded_databases(params["conf_database"], site, params["exclude"]) if params["exclude"] else []
    else:
        wanted, excluded = listed_databases(params["databases"]), []
    plan, reused = [], []
    for target in wanted:
        entry = reusable_entry(engine, manifest, target, params, now)
        if entry is not None:
            reused.append(dict(entry, reused=True))
        else:
            name = core.backup_file_name(target["database"], params["db_platform"], datetime.now(timezone.utc), params["run_id"],
                                         params["position"])
            plan.append((target, engine.path(params["target_dir"], name)))
    sizes = {target["database"]: engine.size(target["database"]) for target, _path in plan}
    needed = core.space_needed(sizes, params["space_margin"])
    space = {"needed": needed, "free": None, "where": params["target_dir"] or params["oracle_directory"], "sizes": sizes}
    result = {"changed": bool(plan), "manifest": params["manifest"], "space": space,
              "excluded": [dict(d, reason="excluded by the exclude option; not backed up") for d in excluded]}
    if excluded:
        module.warn("not backed up (excluded): %s; a restore cannot bring them back"
                    % ", ".join("%s (%s)" % (d["code"], d["database"]) for d in excluded))
    if not plan:
        result["backups"] = reused
        return result
    if not module.check_mode:
        engine.prepare_target(params["target_dir"])
    space["free"] = engine.free(params["target_dir"]) if params["target_dir"] else None
    refusal = core.check_space(needed, space["free"], space["where"])
    if refusal:
        raise core.BackupError(refusal + "; nothing was backed up")
    planned = [{"database": t["database"], "code": t["code"], "file": p, "size": sizes[t["database"]], "reused": False,
                "would_take": True} for t, p in plan]
    if module.check_mode or params["preflight_only"]:
        result["backups"] = reused + planned
        result["changed"] = bool(plan) and module.check_mode
        return result
    outcomes = run_backups(module, engine, profile, manifest, plan, sizes, slots)
    taken = [dict(o["entry"], reused=False) for o in outcomes if o["entry"].get("verified")]
    failed = [o for o in outcomes if not o["entry"].get("verified")]
    result["backups"] = reused + taken
    if failed:
        raise core.BackupFailed(core.failed_backups_message([o["entry"] for o in failed], [t["database"] for t in taken]),
                                result, [o["entry"]["database"] for o in failed])
    return result


def run_backups(module, engine, profile, manifest, plan, sizes, slots):
    """Back up the planned databases, ``parallel`` at a time, each holding a slot of the database server while it works.

    Each database's outcome stands alone: a failure is recorded in its manifest entry and the others go on. Every
    worker opens its own connections (engine calls connect per call). The manifest is written under one lock.
    """
    params = module.params
    manifest_lock = threading.Lock()
    base = len(manifest["entries"])
    added = set()

    def save(entry, index=None):
        """Write the manifest; a new entry (``index``: its place in the plan) goes where the plan puts it, so that the
        manifest, and a restore that follows it, keep the planned order (CONF first) whichever backup started first."""
        with manifest_lock:
            if index is not None:
                core.add_entry(manifest, entry)
                manifest["entries"].pop()
                manifest["entries"].insert(base + sum(1 for other in added if other < index), entry)
                added.add(index)
            write_manifest(params["manifest"], manifest)

    def one(index, target, path):
        database = target["database"]
        outcome = {"entry": None}
        try:
            with slots.hold("backup", database) as held:
                version = database_version(params, profile, database) if params["read_firmy"] else None
                entry = core.new_entry(database, target["code"], params["db_platform"], path, params["position"], params["run_id"],
                                       datetime.now(timezone.utc), version)
                entry["slot_wait_seconds"] = held["waited_seconds"] if slots.limit else None
                outcome["entry"] = entry
                save(entry, index)
                progress.say("%s: backup started (database %s)" % (database, core.human_bytes(sizes.get(database) or 0)))
                started = time.monotonic()
                try:
                    engine.backup(database, path, entry)
                    entry["verified"] = True
                except (core.BackupError, k2db.DatabaseError) as exc:
                    entry["message"] = str(exc)
                entry["finished_at"] = core.utc_text(datetime.now(timezone.utc), "milliseconds")
                save(entry)
                seconds = time.monotonic() - started
                if entry["verified"]:
                    progress.say("%s: backup done after %.1f s, file %s, verified (%s)" % (
                        database, seconds, core.human_bytes(entry["size"]) if entry["size"] is not None else "size unknown",
                        entry["verification"]))
                else:
                    progress.say("%s: backup FAILED after %.1f s: %s" % (database, seconds, entry["message"]))
        except (server_slots.SlotError, core.BackupError, k2db.DatabaseError) as exc:
            # No slot within the wait, or the entry could not be recorded: nothing was backed up.
            entry = outcome["entry"] or core.new_entry(database, target["code"], params["db_platform"], path, params["position"],
                                                       params["run_id"], datetime.now(timezone.utc))
            entry["message"] = entry.get("message") or str(exc)
            outcome["entry"] = entry
            progress.say("%s: backup FAILED: %s" % (database, entry["message"]))
        return outcome

    progress = ProgressWriter(params.get("progress_file"))
    slots.say = progress.say
    workers = max(1, min(params["parallel"], len(plan)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: one(item[0], *item[1]), enumerate(plan)))


def restore_set(params, manifest):
    names = None
    if params["databases"]:
        by_code = {e["code"].upper(): e["database"] for e in manifest["entries"] if e.get("code")}
        known = {e["database"] for e in manifest["entries"]}
        names = [name if name in known else by_code.get(name.upper(), name) for name in params["databases"]]
    return core.restore_choice(manifest, names, params["run_id"])


def restore(module, engine, slots):
    params = module.params
    if not os.path.exists(params["manifest"]):
        raise core.BackupError("the manifest %s does not exist; nothing to restore from" % params["manifest"])
    manifest = read_manifest(params["manifest"])
    chosen = restore_set(params, manifest)
    busy = {entry["database"]: engine.connected(entry["database"]) for entry in chosen}
    busy = {name: count for name, count in busy.items() if count}
    if busy:
        raise core.BackupError("users are connected (%s); log them off first (k2_login_ban, k2_kill_sessions); nothing was restored"
                               % ", ".join("%s: %d session(s)" % item for item in sorted(busy.items())))
    bad = []
    for entry in chosen:
        try:
            engine.check_file(entry)
        except (core.BackupError, k2db.DatabaseError) as exc:
            bad.append(str(exc))
    if bad:
        raise core.BackupError("the restore set is not usable, nothing was restored: %s" % "; ".join(bad))
    result = {"changed": not params["preflight_only"], "manifest": params["manifest"], "restored": [dict(entry) for entry in chosen],
              "not_restored": []}
    if module.check_mode or params["preflight_only"]:
        result["changed"] = not params["preflight_only"]
        return result
    done = []
    for number, entry in enumerate(chosen):
        try:
            with slots.hold("restore", entry["database"]):
                engine.restore(entry)
        except (core.BackupError, k2db.DatabaseError, server_slots.SlotError) as exc:
            left = [e["database"] for e in chosen[number:]]
            raise PartialRestore(core.partial_restore_message(entry["database"], str(exc), done, left, params["run_id"]),
                                 done, left) from None
        done.append(entry["database"])
    return result


def server_slots_for(module, params):
    """The database server's slots (``server_slots``) for this run; no limit: a ``Slots`` that takes nothing."""
    config = server_slots.settings(module.params["server_slots"], params["db_platform"])
    lease = module.params["lease"] or {}
    identity = {"site_key": lease.get("site_key") or module.params["conf_database"] or ",".join(module.params["databases"] or []),
                "run_id": module.params["run_id"], "controller_host": socket.gethostname()}
    return server_slots.Slots(config, params["db_platform"], lambda: k2db.connect(params, config["database"]), identity)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = db_params(module.params)
    engine = None
    slots = None
    try:
        if module.params["parallel"] < 1:
            raise ValueError("parallel must be at least 1, got %d" % module.params["parallel"])
        profile = merge_profile(module.params["k2_profile"])
        engine = ENGINES[params["db_platform"]](module, params)
        slots = server_slots_for(module, params)
        now = datetime.now(timezone.utc)
        if module.params["state"] == "present":
            keeper = None if module.check_mode else run_lock.keeper_for(
                module.params["lease"], params, module.params["conf_database"], k2db.connect)
            if keeper is None:
                result = take(module, engine, profile, now, slots)
            else:
                with keeper:
                    result = take(module, engine, profile, now, slots)
        else:
            result = restore(module, engine, slots)
        notes = engine.notes + slots.notes
        if notes:
            result["notes"] = notes
    except core.BackupFailed as exc:
        failed = dict(exc.result, msg=str(exc), failed=True, not_backed_up=exc.not_backed_up,
                      notes=engine.notes + slots.notes)
        module.fail_json(**failed)
    except PartialRestore as exc:
        module.fail_json(msg=str(exc), changed=bool(exc.restored), restored_databases=exc.restored, not_restored=exc.not_restored,
                         notes=(engine.notes if engine else []) + (slots.notes if slots else []))
    except (ValueError, k2db.DatabaseError, server_slots.SlotError) as exc:
        module.fail_json(msg=str(exc), notes=(engine.notes if engine else []) + (slots.notes if slots else []))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
