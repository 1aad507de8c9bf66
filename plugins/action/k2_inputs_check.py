# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_inputs_check: every input of a reinstall, read-only, before the login ban.

The release archive is read on the controller (the ``files`` method unpacks it from
there); the installer, k2.ini and web.config on the K2 host over the task's connection;
the databases from the controller, as k2_info reads them. Judgements live in
``module_utils/k2_inputs``.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
import zlib

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_inputs, k2_mandants, release_archive
from ansible_collections.erpops.upgrade.plugins.module_utils.db_options import DB_ARGUMENT_SPEC, db_params
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import merge_profile
from ansible_collections.erpops.upgrade.plugins.module_utils.webconfig import DEFAULT_RULE_NAME
from ansible_collections.erpops.upgrade.plugins.plugin_utils import k2host
from ansible_collections.erpops.upgrade.plugins.plugin_utils.no_log import masked

ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    target_version=dict(type="str", required=True),
    release_archive=dict(type="str", default=""),
    installer_path=dict(type="str", default=""),
    sha256=dict(type="str", default=""),
    webconfig_path=dict(type="str", default=""),
    webconfig_rule_name=dict(type="str", default=DEFAULT_RULE_NAME),
    backup_dir=dict(type="str", default=""),
    oracle_directory=dict(type="str", default=""),
    k2_profile=dict(type="dict", default={}),
    **DB_ARGUMENT_SPEC
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        self._module_vars = task_vars
        profile = merge_profile(args["k2_profile"])
        checks = {}
        notes = []
        checks["release"] = self._release(args, profile, notes)
        checks["installer"] = self._installer(args, notes)
        checks["k2_ini"] = self._k2_ini(args, profile)
        if args["webconfig_path"]:
            checks["webconfig"] = {"path": args["webconfig_path"], "reasons": k2_inputs.webconfig_reasons(
                args["webconfig_path"], self._remote_bytes(args["webconfig_path"]), args["webconfig_rule_name"])}
        else:
            notes.append("no web.config given (no web client): not checked")
        checks["backup_target"] = self._backup_target(args, notes)
        reasons = [reason for check in checks.values() if check for reason in check["reasons"]]
        result.update(changed=False, go=not reasons, reasons=reasons, notes=notes, checks=checks)
        return masked(result, validation)

    # ----------------------------------------------------------------- release archive / installer

    def _release(self, args, profile, notes):
        path = args["release_archive"]
        check = {"path": path, "reasons": [], "version": None, "sha256": None}
        if not path:
            notes.append("no release archive given: not checked")
            return check
        what = "release archive %s" % path
        if not os.path.isfile(path):
            check["reasons"].append("%s does not exist on the controller" % what)
            return check
        try:
            members = release_archive.read_members(path)
            version_data = self._root_file(path, profile["folder"]["version_file"])
            check["sha256"] = release_archive.sha256_file(path) if args["sha256"] else None
        except release_archive.UnsafeArchive:
            check["reasons"].append("%s is not a zip (or tar) archive" % what)
            return check
        except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError) as exc:
            check["reasons"].append("%s cannot be read whole: %s" % (what, exc))
            return check
        check["reasons"] += self._sha_reasons(what, check["sha256"], args["sha256"])
        reasons, facts = k2_inputs.archive_reasons(what, members, version_data, args["target_version"], profile)
        check["reasons"] += reasons
        check.update(version=facts["version"], members=facts["members"])
        return check

    @staticmethod
    def _root_file(path, name):
        """The bytes of the file ``name`` at the archive's root (case-insensitive), or None."""
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                found = next((i for i in archive.infolist() if not i.is_dir() and k2_inputs.is_root_name(i.filename, name)), None)
                return archive.read(found) if found else None
        with tarfile.open(path) as archive:
            found = next((m for m in archive.getmembers() if m.isfile() and k2_inputs.is_root_name(m.name, name)), None)
            return archive.extractfile(found).read() if found else None

    @staticmethod
    def _sha_reasons(what, actual, expected):
        try:
            return k2_inputs.sha256_reasons(what, actual, expected)
        except ValueError as exc:
            return ["%s: %s" % (what, exc)]

    def _installer(self, args, notes):
        path = args["installer_path"]
        check = {"path": path, "reasons": [], "kind": None, "sha256": None}
        if not path:
            notes.append("no installer file given: not checked")
            return check
        what = "installer %s" % path
        windows = k2host.shell_family(self) == "powershell"
        stat_module = "ansible.windows.win_stat" if windows else "ansible.builtin.stat"
        expected = "" if args["release_archive"] else args["sha256"]
        stat_args = {"path": path, "get_checksum": bool(expected), "checksum_algorithm": "sha256"}
        if not windows:
            stat_args.update(get_mime=False, get_attributes=False)
        found = self._execute_module(module_name=stat_module, module_args=stat_args, task_vars=self._module_vars)
        info = found.get("stat") or {}
        if found.get("failed") or not info.get("exists"):
            check["reasons"].append("%s does not exist on the K2 host%s" % (what, (": " + found["msg"]) if found.get("msg") else ""))
            return check
        if info.get("isdir"):
            check["reasons"].append("%s is a folder, not an installer" % what)
            return check
        rc, stdout, stderr = k2host.run(self, k2host.head_command(k2host.shell_family(self), path, k2_inputs.HEAD_BYTES))
        if rc != 0:
            check["reasons"].append("%s cannot be read: %s" % (what, stderr.strip() or "exit code %d" % rc))
            return check
        check["kind"] = k2_inputs.file_kind(bytes.fromhex("".join(stdout.split())))
        check["reasons"] += k2_inputs.installer_reasons(what, check["kind"], os.path.basename(path.replace("\\", "/")))
        check["sha256"] = info.get("checksum")
        check["reasons"] += self._sha_reasons(what, check["sha256"], expected)
        if check["kind"] in ("msi", "exe"):
            notes.append("%s carries no version file: its version is not checked (give its SHA-256 to pin it)" % what)
        elif check["kind"] == "zip":
            notes.append("%s is a zip on the K2 host: format and checksum checked, its members are checked by the installer" % what)
        return check

    # ----------------------------------------------------------------- K2 host files

    def _remote_bytes(self, path):
        """The file's bytes, or None when it is not there."""
        try:
            return k2host.fetch_bytes(self, path)
        except AnsibleError:
            return None

    def _k2_ini(self, args, profile):
        folder = profile["folder"]
        names = k2host.list_names(self, args["path"])
        check = {"reasons": []}
        if names is None:
            check["reasons"].append("K2 folder %s does not exist on the K2 host" % args["path"])
            return check
        present = {n.lower(): n for n in names}
        ini_name = present.get(folder["ini_file"].lower())
        data = k2host.fetch_bytes(self, k2host.join(self, args["path"], ini_name)) if ini_name else None
        reasons, values = k2_inputs.ini_reasons(data, profile)
        check.update(values)
        if reasons:
            check["reasons"] = reasons
            return check
        params = db_params(args)
        params.update(db_platform=values["platform"], login_host=values["host"], login_port=values["port"] or args["login_port"])
        where = "%s names %s server %s, CONF database %s" % (folder["ini_file"], values["platform"], values["server"], values["database"])
        try:
            conf = k2db.connect(params, values["database"])
            try:
                conf.query(k2_mandants.firmy_sql(values["platform"], values["database"], profile))
            finally:
                conf.close()
        except (k2db.DatabaseError, ValueError) as exc:
            check["reasons"].append("%s; K2 could not work with it: %s" % (where, exc))
        return check

    # ----------------------------------------------------------------- backup target

    def _backup_target(self, args, notes):
        platform = args["db_platform"]
        if platform == "oracle":
            return self._oracle_directory(args)
        path = args["backup_dir"]
        check = {"path": path, "reasons": []}
        if not path:
            notes.append("no backup folder given: not checked")
            return check
        if platform == "lab":
            nearest = os.path.abspath(path)
            while not os.path.lexists(nearest) and os.path.dirname(nearest) != nearest:
                nearest = os.path.dirname(nearest)
            try:
                found = os.stat(nearest)
            except OSError:
                found = None
            uid = os.geteuid()
            check["reasons"] = k2_inputs.lab_target_reasons(path, nearest, found, uid, os.getgroups() + [os.getegid()],
                                                            "the user running the backups (uid %d)" % uid)
            return check
        try:
            master = k2db.connect(db_params(args), "master")
            try:
                rows = master.query(k2_inputs.mssql_file_exist_sql(path))
            finally:
                master.close()
            check["reasons"] = k2_inputs.mssql_target_reasons(path, rows)
        except k2db.DatabaseError as exc:
            check["reasons"].append("backup folder %s could not be checked on the SQL Server: %s" % (path, exc))
        return check

    def _oracle_directory(self, args):
        directory = args["oracle_directory"]
        check = {"directory": directory, "reasons": []}
        if not directory:
            check["reasons"] = k2_inputs.oracle_directory_reasons(directory, [], [])
            return check
        try:
            conn = k2db.connect(db_params(args), args["login_user"] or "")
            try:
                rows = conn.query(k2_inputs.ORACLE_DIRECTORY_SQL, {"directory": directory})
                write_rows = conn.query(k2_inputs.ORACLE_DIRECTORY_WRITE_SQL, {"directory": directory}) if rows else []
            finally:
                conn.close()
            check["reasons"] = k2_inputs.oracle_directory_reasons(directory, rows, write_rows)
        except k2db.DatabaseError as exc:
            check["reasons"].append("the Oracle DIRECTORY object %s could not be checked: %s" % (directory, exc))
        return check
