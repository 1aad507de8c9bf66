#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_copy_databases: copy a K2 site's CONF and production mandant databases under new names (K2-18)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: k2_copy_databases
short_description: Copy K2's CONF and production mandant databases under new names for a test environment
version_added: 0.1.0
author: erpops.upgrade contributors (@erpops)
description:
  - Copies CONF and every production mandant of C(FIRMY) of a K2 site (not DEMO, INIT or test copies), or CONF and the
    mandants named in O(databases), each under a new name (O(suffix) or O(names)), on the same database server or on
    another one (O(target_login_host)). This is the database part of a test environment (K2-18).
  - A copy is a backup restored under a new name. MS SQL, C(BACKUP DATABASE ... WITH COPY_ONLY, CHECKSUM) into O(target_dir)
    (a folder both servers can read), C(RESTORE VERIFYONLY), then C(RESTORE DATABASE new ... WITH MOVE) of every logical file
    to a file named after the copy, beside the source's file or in O(mssql_data_dir) / O(mssql_log_dir). Oracle, a Data Pump
    export into the DIRECTORY object O(oracle_directory) and an import with C(REMAP_SCHEMA). Lab (PostgreSQL),
    C(pg_dump --format=custom) and C(pg_restore --single-transaction) into a new database.
  - "Refused before anything is created when any copy would be a database of the production site: the same server and the
    same name, ignoring case. The production site's databases are CONF and every database C(FIRMY) names, DEMO, INIT and
    test copies included. The same server is decided by the identity the servers report (MS SQL C(SERVERPROPERTY('ServerName')),
    Oracle C(DB_UNIQUE_NAME)/C(CON_NAME), the lab's port and start time), so an alias of the production server counts as
    the same server. Two copies with one name are refused too."
  - A copy that already exists and holds K2's version table is kept (not copied again), so a second run changes nothing.
    An existing database without it (an interrupted copy, or a database that is not a K2 copy) is refused; drop it first.
  - A copy that fails is dropped again; the copies made before it stay.
  - The login needs the right to create databases (MS SQL C(dbcreator), Oracle Data Pump import of another schema, PostgreSQL
    C(CREATEDB)) and to back up the sources.
  - Connects from where the module runs (the controller or the execution environment); use C(delegate_to=localhost).
options:
  conf_database:
    description: The production CONF database (on Oracle, its schema). Its C(FIRMY) table lists the mandants.
    type: str
    required: true
  databases:
    description: Mandant codes to copy besides CONF. Default, every production mandant.
    type: list
    elements: str
  suffix:
    description: Appended to a source database's name to name its copy, unless O(names) names it.
    type: str
    default: _TESTENV
  names:
    description: The copies' names by mandant code, C(CONF) or source database name.
    type: dict
    default: {}
  target_login_host:
    description: The server the copies go to. Default, the production server (O(login_host)).
    type: str
  target_login_port:
    description: The port of O(target_login_host).
    type: int
  target_dir:
    description:
      - MS SQL, the folder for the backups the copies are restored from, on a path the source and the target server can both
        read (a UNC path when they differ); the backup files stay there. Lab, a folder where the module runs for the dumps,
        removed after each copy (default, a temporary folder). Not used on Oracle.
    type: str
  oracle_directory:
    description: Oracle only. The DIRECTORY object for the Data Pump files.
    type: str
  mssql_data_dir:
    description: MS SQL only. Folder on the target server for the copies' data files. Default, the folder of the source's file.
    type: str
  mssql_log_dir:
    description: MS SQL only. Folder on the target server for the copies' log files. Default, the folder of the source's file.
    type: str
  compression:
    description: MS SQL backup compression; off by itself on Express, which cannot compress.
    type: bool
    default: true
  pg_bin_dir:
    description: Lab only. The folder of C(pg_dump) and C(pg_restore); default, the newest C(/usr/lib/postgresql/*/bin), else C(PATH).
    type: path
  k2_profile:
    description: Overrides of the K2 profile, merged into the default one entry by entry.
    type: dict
    default: {}
extends_documentation_fragment:
  - erpops.upgrade.db
  - erpops.upgrade.attributes
  - erpops.upgrade.attributes.database
  - erpops.upgrade.attributes.k2_group
attributes:
  check_mode:
    support: full
    details: Reads FIRMY, checks the refusal rule and lists which copies would be made; creates nothing.
  diff_mode:
    support: none
seealso:
  - module: erpops.upgrade.k2_firmy
  - module: erpops.upgrade.k2_ini
  - module: erpops.upgrade.k2_backup
"""

EXAMPLES = r"""
- name: Copy CONF and the production mandants on the same SQL Server
  erpops.upgrade.k2_copy_databases:
    conf_database: K2_CONF
    suffix: _TEST2026
    target_dir: '\\nas01\sqlbackup\k2-test'
    db_platform: mssql
    login_host: sql01.example.com
    login_user: k2admin
    login_password: "{{ vault_k2_sql_password }}"
  delegate_to: localhost
  register: k2_copies
"""

RETURN = r"""
copies:
  description: One entry per database, with C(code), C(role), C(source), C(target), C(copied) (made in this run) and C(file)
    (the backup the copy came from, MS SQL and Oracle).
  returned: always
  type: list
  elements: dict
  sample: [{"code": "FIRMA", "role": "production", "source": "K2_FIRMA", "target": "K2_FIRMA_TESTENV", "copied": true}]
conf_database:
  description: The name of the copy of CONF.
  returned: always
  type: str
  sample: K2_CONF_TESTENV
mandant_databases:
  description: The copied mandants' codes and their copies' names, what C(FIRMY) of the copy must list.
  returned: always
  type: dict
  sample: {"FIRMA": "K2_FIRMA_TESTENV", "FIRMA2": "K2_FIRMA2_TESTENV"}
same_server:
  description: Whether the copies are on the production server.
  returned: always
  type: bool
  sample: true
"""

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from datetime import datetime, timezone


from ansible_collections.erpops.upgrade.plugins.module_utils import backup as core
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import db_copy, k2_mandants
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params, run_database_module
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile


def argument_spec():
    spec = dict(
        conf_database=dict(type="str", required=True),
        databases=dict(type="list", elements="str"),
        suffix=dict(type="str", default=db_copy.DEFAULT_SUFFIX),
        names=dict(type="dict", default={}),
        target_login_host=dict(type="str"),
        target_login_port=dict(type="int"),
        target_dir=dict(type="str"),
        oracle_directory=dict(type="str"),
        mssql_data_dir=dict(type="str"),
        mssql_log_dir=dict(type="str"),
        compression=dict(type="bool", default=True),
        pg_bin_dir=dict(type="path"),
        k2_profile=dict(type="dict", default={}),
    )
    spec.update(DB_ARGUMENT_SPEC)
    return spec


class Copier:
    """A server pair (source, target) of one platform: connections, identity, existing databases, one copy."""

    def __init__(self, module, source_params, target_params):
        self.module = module
        self.source = source_params
        self.target = target_params
        self.platform = source_params["db_platform"]

    def admin_database(self, params):
        return {"mssql": "master", "lab": "postgres"}.get(self.platform) or params.get("login_user") or ""

    def _query(self, params, database, sql, binds=()):
        conn = k2db.connect(params, database)
        try:
            return conn.query(sql, binds)
        finally:
            conn.close()

    def _execute(self, params, database, sql, binds=()):
        conn = k2db.connect(params, database)
        try:
            conn.execute(sql, binds)
        finally:
            conn.close()

    def identity(self, params):
        rows = self._query(params, self.admin_database(params), db_copy.SERVER_IDENTITY_SQL[self.platform])
        return str(list(rows[0].values())[0]) if rows else None

    def existing(self):
        conn = k2db.connect(self.target, self.admin_database(self.target))
        try:
            return conn.databases()
        finally:
            conn.close()

    def is_k2_copy(self, name, profile):
        try:
            self._query(self.target, name, k2_mandants.version_sql(self.platform, name, profile))
        except k2db.DatabaseError:
            return False
        return True

    def drop(self, name):
        sql = {"mssql": db_copy.mssql_drop_sql, "oracle": db_copy.oracle_drop_sql, "lab": db_copy.lab_drop_sql}[self.platform](name)
        try:
            self._execute(self.target, self.admin_database(self.target), sql)
        except k2db.DatabaseError as exc:
            return str(exc)
        return None

    def copy(self, item, now):
        return getattr(self, "_copy_" + self.platform)(item, now)

    # -- MS SQL ---------------------------------------------------------------
    def _copy_mssql(self, item, now):
        params = self.module.params
        if not params["target_dir"]:
            raise db_copy.CopyError("target_dir (a folder both SQL Servers can read) is required on MS SQL")
        path = core.join_target(params["target_dir"], db_copy.dump_file_name(item["source"], "mssql", now, uuid.uuid4().hex[:8]))
        conn = k2db.connect(self.source, "master")
        try:
            conn.execute(core.mssql_mkdir_sql(params["target_dir"]))
            compression = params["compression"] and int(conn.query(core.MSSQL_EDITION_SQL)[0]["edition"]) != 4
            conn.execute(core.mssql_backup_sql(item["source"], path, compression))
            conn.execute(core.mssql_verify_sql(path))
            files = conn.query(db_copy.MSSQL_FILES_SQL, (item["source"],))
        finally:
            conn.close()
        moves = []
        for row in files:
            folder = params["mssql_log_dir"] if row["type_desc"] == "LOG" else params["mssql_data_dir"]
            moves.append((row["name"], db_copy.mssql_move_path(row["physical_name"], item["source"], item["target"], row["name"], folder)))
        self._execute(self.target, "master", db_copy.mssql_restore_as_sql(item["target"], path, moves))
        return path

    # -- Oracle ---------------------------------------------------------------
    def _copy_oracle(self, item, now):
        directory = self.module.params["oracle_directory"]
        if not directory:
            raise db_copy.CopyError("oracle_directory (a DIRECTORY object both databases can use) is required on Oracle")
        name = db_copy.dump_file_name(item["source"], "oracle", now, uuid.uuid4().hex[:8])
        job = uuid.uuid4().hex[:12].upper()
        sql, binds = core.oracle_export(item["source"], directory, name, "ERPOPS_CPX_" + job)
        self._execute(self.source, self.admin_database(self.source), sql, binds)
        sql, binds = core.oracle_import_as(item["source"], item["target"], directory, name, "ERPOPS_CPI_" + job)
        self._execute(self.target, self.admin_database(self.target), sql, binds)
        return "%s:%s" % (directory, name)

    # -- lab (PostgreSQL) -----------------------------------------------------
    def _tool(self, name):
        folder = self.module.params["pg_bin_dir"]
        if not folder:
            # The newest server's tools, as k2_backup finds them (a module cannot import another module).
            found = sorted((p for p in glob.glob("/usr/lib/postgresql/*/bin") if p.split("/")[-2].isdigit()), key=lambda p: int(p.split("/")[-2]))
            folder = found[-1] if found else ""
        path = os.path.join(folder, name) if folder else shutil.which(name)
        if not path or not os.path.exists(path):
            raise db_copy.CopyError("%s not found (set pg_bin_dir)" % name)
        return path

    def _run(self, argv, params, what):
        done = subprocess.run(argv, capture_output=True, text=True, env=core.lab_env(params, os.environ), check=False)
        if done.returncode != 0:
            secret = params.get("login_password") or "\x00"
            detail = (done.stderr or done.stdout).strip().replace(secret, "********")[-600:]
            raise db_copy.CopyError("%s failed (exit %d): %s" % (what, done.returncode, detail))

    def _copy_lab(self, item, now):
        folder = self.module.params["target_dir"]
        own_folder = not folder
        folder = folder or tempfile.mkdtemp(prefix="erpops-copy-")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, db_copy.dump_file_name(item["source"], "lab", now, uuid.uuid4().hex[:8]))
        try:
            self._run(core.lab_dump_argv(self._tool("pg_dump"), self.source, item["source"], path), self.source, "pg_dump of %s" % item["source"])
            self._execute(self.target, "postgres", db_copy.lab_create_sql(item["target"]))
            self._run(core.lab_restore_argv(self._tool("pg_restore"), self.target, item["target"], path), self.target,
                      "pg_restore of %s into %s" % (item["source"], item["target"]))
        finally:
            if os.path.exists(path):
                os.unlink(path)
            if own_folder:
                shutil.rmtree(folder, ignore_errors=True)
        return None


def mandants(params, profile):
    rows = []
    conf = k2db.connect(params, params["conf_database"])
    try:
        rows = conf.query(k2_mandants.firmy_sql(params["db_platform"], params["conf_database"], profile))
    finally:
        conf.close()
    return k2_mandants.classify(rows, profile)


def run(module):
    params = module.params
    profile = merge_profile(params["k2_profile"])
    source = db_params(params)
    source["conf_database"] = params["conf_database"]
    target = dict(source)
    if params["target_login_host"]:
        target["login_host"] = params["target_login_host"]
    if params["target_login_port"]:
        target["login_port"] = params["target_login_port"]
    site = mandants(source, profile)
    plan = db_copy.plan_copies(params["conf_database"], site, source["db_platform"], params["suffix"], params["names"], params["databases"])
    copier = Copier(module, source, target)
    same_server = target == source or copier.identity(source) == copier.identity(target)
    reasons = db_copy.refusals(plan, db_copy.site_databases(params["conf_database"], site), same_server)
    if reasons:
        raise db_copy.CopyError("refused, the test environment would use the production databases: %s; nothing was created"
                                % "; ".join(reasons))
    names = copier.existing()
    for item in plan:
        found = db_copy.exists(names, item["target"])
        item["copied"] = False
        item["exists"] = bool(found)
        if found and not copier.is_k2_copy(found, profile):
            raise db_copy.CopyError("%s already exists on the target server but holds no K2 version table (an interrupted copy, or not a "
                                    "copy of %s); drop it or choose other names; nothing was created" % (found, item["source"]))
    result = {"changed": False, "copies": plan, "same_server": same_server, "conf_database": plan[0]["target"],
              "mandant_databases": db_copy.summary(plan)}
    todo = [item for item in plan if not item["exists"]]
    result["changed"] = bool(todo)
    if module.check_mode:
        return result
    now = datetime.now(timezone.utc)
    for item in todo:
        try:
            item["file"] = copier.copy(item, now)
        except (db_copy.CopyError, k2db.DatabaseError) as exc:
            dropped = copier.drop(item["target"])
            done = [i["target"] for i in todo if i["copied"]]
            raise db_copy.CopyError("copy of %s to %s failed: %s; %s%s" % (
                item["source"], item["target"], exc,
                "the partial copy was dropped" if dropped is None else "dropping the partial copy failed too (%s)" % dropped,
                "; copies made before it stay: %s" % ", ".join(done) if done else "")) from None
        item["copied"] = True
    return result


def main():
    run_database_module(argument_spec(), run)


if __name__ == "__main__":
    main()
