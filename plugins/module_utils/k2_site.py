# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The K2 folder: read k2.ini and sysk2.ini, and say what kind of folder it is.

No I/O here: callers pass the bytes of the ini files (``None`` when a file is
missing) and the names of the files present in the folder. Kinds (runbook
K2-01, K2-13 and "test environment"):

``runnable``
    the executable and both ini files are there;
``torso``
    both ini files are there but no executable (binaries removed, failed uninstall);
``not_k2``
    an ini file is missing, or they do not name a server and a database.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional

from ansible_collections.erpops.upgrade.plugins.module_utils.k2_profile import DEFAULT_PROFILE

KINDS = ("runnable", "torso", "not_k2")
_TOP_SECTION = "__top__"


class IniError(ValueError):
    """An ini file that cannot be read."""


@dataclass
class IniValues:
    driver: Optional[str] = None
    server: Optional[str] = None
    database: Optional[str] = None
    user: Optional[str] = None
    version: Optional[str] = None


@dataclass
class SiteFacts:
    kind: str
    platform: Optional[str] = None
    driver: Optional[str] = None
    server: Optional[str] = None
    conf_database: Optional[str] = None
    version: Optional[str] = None
    executable: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, object]:
        return dict(self.__dict__)


def decode_ini(data: bytes, encoding: str = "cp1250") -> str:
    """Decode an ini file: a UTF-8 (or UTF-16) BOM wins, else the Windows code page."""
    bom = 0
    if data.startswith(b"\xef\xbb\xbf"):
        data, encoding, bom = data[3:], "utf-8", 3
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise IniError("not valid %s text at byte %d" % (encoding, bom + exc.start))


def parse_ini(text: str, name: str = "k2.ini") -> configparser.ConfigParser:
    """Parse ini text with configparser; keys before the first section are kept too.

    Leading blanks are dropped from every line first: Windows (GetPrivateProfileString)
    ignores them, while configparser would read an indented key as the continuation
    of the previous value.
    """
    text = "\n".join(line.lstrip() for line in text.splitlines())
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="__no_defaults__")
    try:
        parser.read_string(text, source=name)
    except configparser.MissingSectionHeaderError:
        parser = configparser.ConfigParser(interpolation=None, strict=False, default_section="__no_defaults__")
        try:
            parser.read_string("[%s]\n%s" % (_TOP_SECTION, text), source=name)
        except configparser.Error as exc:
            raise IniError("%s: %s" % (name, _describe(exc, line_shift=1)))
    except configparser.Error as exc:
        raise IniError("%s: %s" % (name, _describe(exc)))
    return parser


def _describe(exc: configparser.Error, line_shift: int = 0) -> str:
    """The first bad line of a ParsingError, else the error's first line."""
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        lineno, line = exc.errors[0]
        return "line %d is neither [section] nor key=value: %s" % (lineno - line_shift, line)
    return _first_line(exc)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _lookup(parser: configparser.ConfigParser, section: str, key: str) -> Optional[str]:
    """The key in the preferred section first, then in any section (case-insensitive)."""
    sections = [s for s in parser.sections() if s.lower() == section.lower()]
    sections += [s for s in parser.sections() if s not in sections]
    for name in sections:
        value = parser.get(name, key, fallback=None)
        if value is not None and value.strip():
            return value.strip().strip('"')
    return None


def ini_values(parser: configparser.ConfigParser, profile: Mapping = None) -> IniValues:
    ini = (profile or DEFAULT_PROFILE)["ini"]
    return IniValues(
        driver=_lookup(parser, ini["section"], ini["driver_key"]),
        server=_lookup(parser, ini["section"], ini["server_key"]),
        database=_lookup(parser, ini["section"], ini["database_key"]),
        user=_lookup(parser, ini["section"], ini["user_key"]),
        version=_lookup(parser, ini["version_section"], ini["version_key"]),
    )


def platform_of(driver: Optional[str], profile: Mapping = None):
    """Map k2.ini's DRIVER to a platform; returns (platform, warning or None)."""
    ini = (profile or DEFAULT_PROFILE)["ini"]
    if not driver:
        return "mssql", "k2.ini names no DRIVER; MSSQL assumed (the default since a clean install)"
    upper = driver.strip().upper()
    drivers = {k.upper(): v for k, v in ini["drivers"].items()}
    if upper in drivers:
        return drivers[upper], None
    if upper in [d.upper() for d in ini["deprecated_mssql_drivers"]]:
        return "mssql", "k2.ini DRIVER=%s is deprecated; K2 treats it as MSSQL" % driver
    return None, "k2.ini DRIVER=%s is not a known K2 driver" % driver


def read_site(files_present: Iterable[str], k2_ini: Optional[bytes], sysk2_ini: Optional[bytes], profile: Mapping = None) -> SiteFacts:
    """Classify a K2 folder from its file names and the bytes of its ini files."""
    profile = profile or DEFAULT_PROFILE
    folder = profile["folder"]
    present = {name.lower(): name for name in files_present}
    executable = next((present[e.lower()] for e in folder["executables"] if e.lower() in present), None)
    facts = SiteFacts(kind="not_k2", executable=executable)
    for label, data in ((folder["ini_file"], k2_ini), (folder["sysini_file"], sysk2_ini)):
        if data is None:
            facts.problems.append("%s is missing" % label)
    if facts.problems:
        return facts
    values = []
    for label, data in ((folder["ini_file"], k2_ini), (folder["sysini_file"], sysk2_ini)):
        try:
            values.append(ini_values(parse_ini(decode_ini(data, folder["ini_encoding"]), label), profile))
        except IniError as exc:
            message = str(exc)
            facts.problems.append("cannot read ini file: %s" % (message if message.startswith(label + ":") else "%s: %s" % (label, message)))
    if facts.problems:
        return facts
    main, system = values
    facts.driver = main.driver or system.driver
    facts.server = main.server or system.server
    facts.conf_database = main.database or system.database
    facts.version = main.version or system.version
    facts.platform, warning = platform_of(facts.driver, profile)
    if warning:
        facts.warnings.append(warning)
    if not facts.server:
        facts.problems.append("%s names no database server (key %s)" % (folder["ini_file"], profile["ini"]["server_key"]))
    if not facts.conf_database:
        facts.problems.append("%s names no CONF database (key %s)" % (folder["ini_file"], profile["ini"]["database_key"]))
    if facts.platform is None:
        facts.problems.append(warning)
    if not facts.problems:
        facts.kind = "runnable" if executable else "torso"
    return facts
