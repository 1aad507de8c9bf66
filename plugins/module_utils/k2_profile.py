# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every assumption about K2's private tables and files, in one overridable place.

K2's own table names are not public. Each entry of ``DEFAULT_PROFILE`` says
which runbook step needs it; users replace any part of it with the variable
``k2_profile`` (merged key by key by ``merge_profile``), so a K2 of another
layout needs no code change. The lab describes its stand-in K2 on its own
(``tools/k2lab/vendor.py``); a unit test holds these defaults to it.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Mapping

DEFAULT_PROFILE: Dict[str, Any] = {
    # K2-01, K2-13: which files make a folder a K2 (runnable or torso).
    "folder": {
        "executables": ["k2.exe", "K2.exe", "k2"],
        "ini_file": "k2.ini",
        "sysini_file": "sysk2.ini",
        "ini_encoding": "cp1250",
        "sql_dir": "SQL",
        "konverze_dir": "SQL/konverze",
        "extensions_dir": "extensions",
        "install_log": "sql_inst.log",
        # K2-12: how an error line of sql_inst.log names the database, file, batch, line and message (named groups;
        # tried in turn, a line no pattern reads still counts as an error with its whole text). K2's own layout is not
        # public: the first pattern reads the lines k2_convert and the lab installer write.
        "install_log_patterns": [
            r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: UTC)?)\s+(?P<database>\S+)\s+(?P<file>\S+\.sql)\s+"
            r"batch (?P<batch>\d+), line (?P<line>\d+): (?P<message>.*)$",
            r"(?i)(?P<file>K2_[CD]\d+\w*\.sql)\D+(?P<batch>\d+)\W+(?P<message>.*)$",
        ],
        # K2-11, k2_info: a file of the K2 folder holding the installed version, read before k2.ini's VERSION.
        # Release archives installed by file copy (takeover, runbook K2-10) carry it; k2.ini is the site's
        # configuration and is not replaced by a release. Absent in a folder: k2.ini's VERSION counts.
        "version_file": "K2VERSION.txt",
    },
    # K2-01, K2-13: where k2.ini / sysk2.ini name the platform, server and CONF database.
    # Only DRIVER is documented; the other keys are assumptions.
    "ini": {
        "section": "DATABASE",
        "driver_key": "DRIVER",
        "server_key": "SERVER",
        "database_key": "DATABASE",
        "user_key": "USER",
        "drivers": {"MSSQL": "mssql", "ORACLE": "oracle", "LAB": "lab"},
        "deprecated_mssql_drivers": ["MS2000", "MS2000_P", "MS2000GEN", "MS2000GEN_P", "OLEDB_MS2000", "MS_SQLA"],
        "version_section": "K2",
        "version_key": "VERSION",
    },
    # K2-05, K2-08: the mandant list in the CONF database.
    "firmy": {
        "table": "FIRMY",
        "code_column": "Zkr",
        "name_column": "Naz",
        "database_column": "DatabaseName",
        "system_mandants": ["DEMO", "INIT"],
        # Copies made for testing (seed: FIRMA2_TEST) are neither production nor system mandants.
        "test_patterns": ["*_TEST", "*_TEST[0-9]", "TEST_*"],
    },
    # K2-13, k2_info: the version a database was last converted to, in CONF and in every mandant.
    "db_version": {"table": "K2VERZE", "version_column": "Verze"},
    # K2-02: the login ban of the Reinstall manager (function 753) and reinstall mode; CONF database.
    "reinstall_manager": {
        "table": "REINSTALACE",
        "ban_enabled_column": "ZakazPrihlaseni",
        "ban_from_column": "ZakazOd",
        "ban_message_column": "Zprava",
        "ban_exempt_user_column": "Uzivatel",
        "reinstall_allowed_column": "ReinstalacePovolena",
        "preparation_done_column": "PripravaProvedena",
    },
    # K2-04: licence sessions of License management (function 678); CONF database.
    "licence_sessions": {
        "table": "LICSESSION",
        "user_column": "Uzivatel",
        "host_column": "Pocitac",
        "program_column": "Program",
        "app_server_column": "AplikacniServer",
    },
    # K2-07: version initializations per mandant (function 552).
    "version_init": {
        "table": "INICIALIZACE",
        "function_column": "Funkce",
        "mandatory_column": "Povinna",
        "done_at_column": "Provedeno",
        # Version initialization ("Verze inicializována") after every reinstall; the lab records it as this
        # mandatory function, {version} being the installed version (ori.09, gaia.12.4); read as the same version however written.
        "version_function": "Inicializace verze {version}",
    },
    # K2-14: extension status (Object designer, Extensions form: Current / Format); CONF database.
    "extensions": {"table": "ROZSIRENI", "name_column": "Nazev", "current_column": "Aktualni", "format_column": "Format"},
    # K2-08, K2-12: vendor script names.
    "scripts": {
        "ddl": "K2t_{type}_{platform}.SQL",
        "ddl_types": {"conf": "CONF", "company": "FIRMA"},
        "ddl_platforms": {"mssql": "MSSQL", "oracle": "Oracle", "lab": "Lab"},
        "konverze_platforms": {"mssql": "", "oracle": "Ora", "lab": "Lab"},
        # K2-12: the version token of a conversion file name for a K2 version (the version it converts to); the lab's
        # is generation number and two-digit release (ori.09 -> 509). Used to refuse a one-time file for a version the
        # database already has. Empty: that guard is off (the token is then opaque).
        "konverze_token": "{generation}{release:02d}",
    },
    # K2-12: the collection's own journal of applied conversions, in every database.
    "journal": {"table": "ERPOPS_CONVERSION_JOURNAL"},
}


def merge_profile(override: Mapping[str, Any] = None, base: Mapping[str, Any] = None) -> Dict[str, Any]:
    """Return base (the default profile) with override merged in, dict by dict.

    Unknown top-level entries are refused so that a typo in ``k2_profile`` is an
    error rather than a silently ignored setting.
    """
    merged = copy.deepcopy(dict(base if base is not None else DEFAULT_PROFILE))
    for name, value in (override or {}).items():
        if name not in merged:
            raise ValueError("k2_profile: unknown entry %r (known: %s)" % (name, ", ".join(sorted(merged))))
        if isinstance(merged[name], dict):
            if not isinstance(value, Mapping):
                raise ValueError("k2_profile: entry %r must be a mapping, got %s" % (name, type(value).__name__))
            unknown = sorted(set(value) - set(merged[name]))
            if unknown:
                raise ValueError("k2_profile.%s: unknown key(s) %s" % (name, ", ".join(unknown)))
            for item, setting in value.items():
                _check_type("%s.%s" % (name, item), merged[name][item], setting)
            merged[name].update(copy.deepcopy(dict(value)))
        else:
            merged[name] = copy.deepcopy(value)
    return merged


_TYPE_NAMES = ((str, "a string"), ((list, tuple), "a list"), (Mapping, "a mapping"))


def _check_type(where: str, default: Any, value: Any) -> None:
    """Refuse a value of another kind than the default: a string where a list belongs would be read letter by letter."""
    for kind, label in _TYPE_NAMES:
        if isinstance(default, kind) and not isinstance(value, kind):
            raise ValueError("k2_profile.%s must be %s, got %s %r" % (where, label, type(value).__name__, value))


def ddl_script_name(profile: Mapping[str, Any], db_kind: str, platform: str) -> str:
    """``K2t_CONF_MSSQL.SQL`` for (conf, mssql); db_kind is ``conf`` or ``company``."""
    scripts = profile["scripts"]
    for what, table, wanted in (("database kind", "ddl_types", db_kind), ("platform", "ddl_platforms", platform)):
        if wanted not in scripts[table]:
            raise ValueError("k2_profile.scripts.%s names no %s %r (known: %s)" % (table, what, wanted, ", ".join(sorted(scripts[table]))))
    return scripts["ddl"].format(type=scripts["ddl_types"][db_kind], platform=scripts["ddl_platforms"][platform])
