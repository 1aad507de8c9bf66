# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inputs of a reinstall, judged before anything irreversible starts (issue: nothing irreversible before every input).

Pure: no I/O. ``k2_inputs_check`` reads the files and the databases and passes what it
read here; each function answers with a list of reasons (empty: fine). A site with any
reason is no-go and is left untouched.

- the release archive (method ``files``): an archive every member of which reads back and
  that the install step would unpack (``release_archive.plan``: no absolute path, no ``..``,
  no link, no two members Windows would see as one file), that carries a K2 executable and
  the version file (profile ``folder.version_file``) naming the target version, and, when a
  SHA-256 is given, whose bytes match it;
- the vendor's installer (method ``vendor_installer``): a Windows Installer package, a
  Windows program or a zip (K2-19: the installer also runs from a zip of one version);
  a zip is judged like the release archive;
- k2.ini itself (not sysk2.ini) has the ``[DATABASE]`` section naming a known DRIVER, a
  SERVER and the CONF DATABASE, because that is all K2 reads to connect;
- web.config parses and has the maintenance rule (``webconfig.set_maintenance`` in memory);
- the backup target: MS SQL ``xp_fileexist`` rows, Oracle ``ALL_DIRECTORIES`` rows, the
  lab's folder by its permission bits.
"""

from __future__ import annotations

import re
import stat
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_site, k2_version, release_archive
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_literal
from ansible_collections.erpops.upgrade.plugins.module_utils.webconfig import WebConfigError, set_maintenance

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
MSI_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: Windows Installer packages
EXE_MAGIC = b"MZ"
HEAD_BYTES = 8
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: MS SQL: does the folder exist on the database server, as the server's service account sees it (read-only).
MSSQL_FILE_EXIST_SQL = "EXEC master.sys.xp_fileexist %s"
#: Oracle: the DIRECTORY object, visible only to a user granted READ or WRITE on it.
ORACLE_DIRECTORY_SQL = "SELECT directory_path FROM all_directories WHERE directory_name = :directory"
ORACLE_DIRECTORY_WRITE_SQL = ("SELECT privilege FROM all_tab_privs WHERE table_name = :directory AND privilege = 'WRITE' "
                              "UNION ALL SELECT privilege FROM session_privs WHERE privilege = 'CREATE ANY DIRECTORY'")


# --------------------------------------------------------------------------- archives

def file_kind(head: bytes) -> Optional[str]:
    """``zip``, ``msi``, ``exe`` or None, from the first bytes of a file."""
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(MSI_MAGIC):
        return "msi"
    if head.startswith(EXE_MAGIC):
        return "exe"
    return None


def normalise_sha256(expected: str) -> str:
    """Lower-case hex without blanks or an ``sha256:`` prefix; raises ValueError for anything else."""
    text = "".join((expected or "").split()).lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:"):]
    if not _SHA256.match(text):
        raise ValueError("sha256 must be 64 hexadecimal digits, got %r" % expected)
    return text


def sha256_reasons(what: str, actual: Optional[str], expected: Optional[str]) -> List[str]:
    if not expected:
        return []
    wanted = normalise_sha256(expected)
    if actual is None:
        return ["%s: its SHA-256 could not be computed" % what]
    try:
        release_archive.check_sha256(actual, wanted)
    except release_archive.UnsafeArchive:
        return ["%s: SHA-256 is %s, not the given %s" % (what, actual.lower(), wanted)]
    return []


def is_root_name(member_name: str, name: str) -> bool:
    """Whether an archive member is the file ``name`` at the root (case-insensitive, as on Windows)."""
    relative = member_name.replace("\\", "/")
    relative = relative[2:] if relative.startswith("./") else relative
    return relative.casefold() == name.casefold()


def root_member(members: Sequence[release_archive.Member], name: str) -> Optional[release_archive.Member]:
    return next((m for m in members if m.kind == "file" and is_root_name(m.name, name)), None)


def version_text(data: bytes) -> str:
    """The first line of a version file (UTF-8, BOM allowed), as k2_info reads it."""
    text = data.decode("utf-8-sig", errors="replace").strip()
    return text.splitlines()[0].strip() if text else ""


def version_reasons(what: str, found: Optional[str], target: str) -> List[str]:
    if found is None:
        return []
    if not found:
        return ["%s: its version file is empty" % what]
    try:
        if k2_version.same_version(found, target):
            return []
    except k2_version.VersionError as exc:
        return ["%s: its version file says %r: %s" % (what, found, exc)]
    return ["%s holds K2 %s, not the target %s" % (what, found, target)]


def archive_reasons(what: str, members: Sequence[release_archive.Member], version_data: Optional[bytes], target: str,
                    profile: Mapping = None) -> Tuple[List[str], Dict[str, Any]]:
    """Judge a release archive's members (``release_archive.read_members``: every member was read, so its CRC held).

    Safe to unpack as the install step unpacks it (``release_archive.plan``), a K2 executable and the version file
    at the root, the version file naming ``target``. ``version_data`` is the version file's bytes (None: absent).
    Returns (reasons, facts); facts hold ``version`` (the version file's first line or None) and ``members``.
    """
    folder = (profile or DEFAULT_PROFILE)["folder"]
    facts: Dict[str, Any] = {"members": len(members), "version": None}
    try:
        release_archive.plan(members)
    except release_archive.UnsafeArchive as exc:
        return ["%s: %s" % (what, exc)], facts
    reasons = []
    if root_member(members, folder["version_file"]) is None or version_data is None:
        reasons.append("%s has no version file %s at its root: it cannot be told which K2 it holds" % (what, folder["version_file"]))
    else:
        facts["version"] = version_text(version_data)
        reasons += version_reasons(what, facts["version"], target)
    if not any(root_member(members, name) for name in folder["executables"]):
        reasons.append("%s holds no K2 executable (%s) at its root" % (what, ", ".join(folder["executables"])))
    return reasons, facts


def installer_reasons(what: str, kind: Optional[str], name: str) -> List[str]:
    """The installer must be a Windows Installer package, a Windows program or a zip of one version (K2-19)."""
    if kind is None:
        return ["%s (%s) is neither a Windows Installer package, a Windows program nor a zip" % (what, name)]
    return []


# --------------------------------------------------------------------------- k2.ini

def ini_reasons(k2_ini: Optional[bytes], profile: Mapping = None) -> Tuple[List[str], Dict[str, Optional[str]]]:
    """k2.ini itself, as K2 reads it to connect: its ``[DATABASE]`` section names DRIVER, SERVER and DATABASE.

    sysk2.ini does not stand in for a missing key here: K2 could not connect. Returns (reasons, values);
    values hold ``platform``, ``driver``, ``server``, ``host``, ``port`` and ``database``.
    """
    profile = profile or DEFAULT_PROFILE
    folder, ini = profile["folder"], profile["ini"]
    label = folder["ini_file"]
    values: Dict[str, Any] = {"platform": None, "driver": None, "server": None, "host": None, "port": None, "database": None}
    if k2_ini is None:
        return ["%s is missing" % label], values
    try:
        parser = k2_site.parse_ini(k2_site.decode_ini(k2_ini, folder["ini_encoding"]), label)
    except k2_site.IniError as exc:
        return ["cannot read %s: %s" % (label, exc)], values
    section = next((s for s in parser.sections() if s.casefold() == ini["section"].casefold()), None)
    if section is None:
        return ["%s has no [%s] section: K2 cannot connect to its databases" % (label, ini["section"])], values

    def key(name):
        value = parser.get(section, name, fallback=None)
        return value.strip().strip('"') if value is not None and value.strip() else None

    values.update(driver=key(ini["driver_key"]), server=key(ini["server_key"]), database=key(ini["database_key"]))
    reasons = []
    values["platform"], warning = k2_site.platform_of(values["driver"], profile)
    if values["platform"] is None:
        reasons.append("%s [%s]: %s" % (label, ini["section"], warning))
    if not values["server"]:
        reasons.append("%s [%s] names no database server (%s)" % (label, ini["section"], ini["server_key"]))
    else:
        values["host"], values["port"] = server_address(values["server"])
    if not values["database"]:
        reasons.append("%s [%s] names no CONF database (%s)" % (label, ini["section"], ini["database_key"]))
    return reasons, values


def server_address(server: str) -> Tuple[str, Optional[int]]:
    """``host,port`` (MS SQL style, also the lab's) to (host, port); a named instance stays in the host."""
    host, _sep, port = server.partition(",")
    return host.strip(), int(port) if port.strip().isdigit() else None


# --------------------------------------------------------------------------- web.config

def webconfig_reasons(path: str, content: Optional[bytes], rule_name: str) -> List[str]:
    """web.config parses and has the maintenance rule; judged by switching it on in memory only."""
    if content is None:
        return ["web.config %s does not exist on the K2 host" % path]
    try:
        set_maintenance(content, True, rule_name)
    except WebConfigError as exc:
        return ["web.config %s: %s" % (path, exc)]
    return []


# --------------------------------------------------------------------------- backup targets

def mssql_file_exist_sql(path: str) -> str:
    return MSSQL_FILE_EXIST_SQL % quote_literal("mssql", path)


def mssql_target_reasons(path: str, rows: Sequence[Mapping[str, Any]]) -> List[str]:
    """Judge ``xp_fileexist`` rows (``File Exists``, ``File is a Directory``, ``Parent Directory Exists``).

    The folder must be a directory the server's service account sees, or its parent must be
    (k2_backup creates the folder with ``xp_create_subdir``). Whether the account may write there shows only when
    something is written; this check writes nothing.
    """
    def flags(found):
        if not found:
            return None
        row = {str(k).lower(): v for k, v in found[0].items()}
        return (bool(int(row.get("file exists") or 0)), bool(int(row.get("file is a directory") or 0)),
                bool(int(row.get("parent directory exists") or 0)))

    here = flags(rows)
    if here is None:
        return ["backup folder %s: the SQL Server answered nothing to xp_fileexist" % path]
    exists, is_dir, parent = here
    if is_dir:
        return []
    if exists:
        return ["backup folder %s is a file on the database server, not a folder" % path]
    if parent:
        return []
    return ["backup folder %s: neither it nor its parent exists for the SQL Server's service account" % path]


def oracle_directory_reasons(directory: str, rows: Sequence[Mapping[str, Any]], write_rows: Sequence[Mapping[str, Any]]) -> List[str]:
    if not directory:
        return ["no Oracle DIRECTORY object given for the Data Pump backups (oracle_directory)"]
    if not rows:
        return ["the Oracle DIRECTORY object %s does not exist or is not granted to this login (ALL_DIRECTORIES)" % directory]
    if not write_rows:
        return ["the Oracle DIRECTORY object %s is not granted WRITE to this login: Data Pump cannot write the backups" % directory]
    return []


def posix_can_create(mode: int, owner: int, group: int, uid: int, gids: Iterable[int]) -> bool:
    """May ``uid`` (in ``gids``) create entries in a folder with this mode and owner? Root may always."""
    if uid == 0:
        return True
    if owner == uid:
        bits = (stat.S_IWUSR | stat.S_IXUSR)
    elif group in set(gids):
        bits = (stat.S_IWGRP | stat.S_IXGRP)
    else:
        bits = (stat.S_IWOTH | stat.S_IXOTH)
    return stat.S_ISDIR(mode) and mode & bits == bits


def lab_target_reasons(path: str, nearest: str, nearest_stat: Optional[Any], uid: int, gids: Iterable[int], who: str) -> List[str]:
    """The lab's backup folder (pg_dump writes it where the module runs): it, or its nearest existing parent, takes new files.

    ``nearest`` is ``path`` itself when it exists, else its nearest existing parent; ``nearest_stat`` its ``os.stat``.
    """
    if nearest_stat is None:
        return ["backup folder %s: no part of the path exists" % path]
    if not stat.S_ISDIR(nearest_stat.st_mode):
        return ["backup folder %s: %s is not a folder" % (path, nearest)]
    if not posix_can_create(nearest_stat.st_mode, nearest_stat.st_uid, nearest_stat.st_gid, uid, gids):
        return ["backup folder %s: %s may not write in %s (mode %o)" % (path, who, nearest, stat.S_IMODE(nearest_stat.st_mode))]
    return []
