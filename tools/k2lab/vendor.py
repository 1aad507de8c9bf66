"""The lab's K2: the private tables, files and versions of its stand-in sites, written from the vendor facts.

This is the lab's own description of the vendor system, independent of the collection's
``k2_profile`` and ``k2_version``: the lab stands in for K2, so it must not learn K2's tables
from the code whose reading of them the lab tests. What is public (the Czech runbook,
docs/runbook.md K2-xx; help.k2.cz as FACTS.md restates it): the mandant list is table ``FIRMY``
of the configuration database; the Reinstall manager (function 753) bans logins and allows the
reinstall; License management (function 678) lists the sessions; version initialization
(function 552, "Povinné", "Verze inicializována") follows every reinstall; the Object designer's
extensions form shows whether each extension is current and its format; the scripts are
``K2t_*`` and ``SQL/konverze/``; versions are ``<generation>.<release>[.<build>]``. The tables
and columns that hold the rest are not public: the names below are the lab's own plausible
choice, in K2's Czech naming style. The stand-in installer and the stand-in ``k2`` program know
the same defaults on their own (``installer.DEFAULT_TABLES``; the site's ``Conf/Special/k2lab.json``
tells them a site's other names).

A site of another layout is built with ``layout(override)`` (``SiteSpec.layout``): the override
has the same shape as a ``k2_profile`` override (``{"reinstall_manager": {"table": "X"}}``), so a
test can state the override that fits the site it built.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

LAYOUT: Dict[str, Dict[str, Any]] = {
    # Files of the K2 folder: a release carries a file naming its version (k2.ini is the site's and stays).
    "folder": {"version_file": "K2VERSION.txt"},
    # The mandant list (CONF database).
    "firmy": {"table": "FIRMY", "code_column": "Zkr", "name_column": "Naz", "database_column": "DatabaseName"},
    # The version each database was last converted to, one row (CONF and every mandant).
    "db_version": {"table": "K2VERZE", "version_column": "Verze"},
    # The Reinstall manager's login ban and reinstall mode, one row (CONF).
    "reinstall_manager": {
        "table": "REINSTALACE",
        "ban_enabled_column": "ZakazPrihlaseni",
        "ban_from_column": "ZakazOd",
        "ban_message_column": "Zprava",
        "ban_exempt_user_column": "Uzivatel",
        "reinstall_allowed_column": "ReinstalacePovolena",
        "preparation_done_column": "PripravaProvedena",
    },
    # License management's sessions (CONF).
    "licence_sessions": {
        "table": "LICSESSION",
        "user_column": "Uzivatel",
        "host_column": "Pocitac",
        "program_column": "Program",
        "app_server_column": "AplikacniServer",
    },
    # Version initializations per mandant; "Verze inicializována" is recorded as this mandatory function.
    "version_init": {
        "table": "INICIALIZACE",
        "function_column": "Funkce",
        "mandatory_column": "Povinna",
        "done_at_column": "Provedeno",
        "version_function": "Inicializace verze {version}",
    },
    # The extensions form: name, current or not, format (CONF).
    "extensions": {"table": "ROZSIRENI", "name_column": "Nazev", "current_column": "Aktualni", "format_column": "Format"},
    # Script names: structure scripts per database kind and platform, conversion files per platform ("Lab": the lab's).
    "scripts": {
        "ddl": "K2t_{type}_{platform}.SQL",
        "ddl_types": {"conf": "CONF", "company": "FIRMA"},
        "ddl_platforms": {"mssql": "MSSQL", "oracle": "Oracle", "lab": "Lab"},
        "konverze_platforms": {"mssql": "", "oracle": "Ora", "lab": "Lab"},
    },
}

#: The mandants every K2 ships with (the runbook: DEMO and INIT), listed in FIRMY before the site's own.
SYSTEM_MANDANTS = ("DEMO", "INIT")

#: The K2 folder as the lab builds it; every site has it so (the stand-in installer and ``k2`` know the same names).
#: Public: ``k2.ini`` and ``sysk2.ini`` make a folder a K2, the scripts are in ``SQL`` and ``SQL/konverze``.
FOLDER: Dict[str, str] = {
    "executable": "k2",
    "ini_file": "k2.ini",
    "sysini_file": "sysk2.ini",
    "ini_encoding": "cp1250",
    "sql_dir": "SQL",
    "konverze_dir": "SQL/konverze",
    "extensions_dir": "extensions",
}

#: How the lab's k2.ini names the database: ``DRIVER`` is public (the lab's platform is ``LAB``); the rest is the lab's choice.
INI: Dict[str, str] = {
    "section": "DATABASE",
    "driver_key": "DRIVER",
    "driver": "LAB",
    "server_key": "SERVER",
    "database_key": "DATABASE",
    "user_key": "USER",
    "version_section": "K2",
    "version_key": "VERSION",
}

#: Generation names in release order; a generation's number is its index + 1.
GENERATIONS = ("mona", "mia", "luna", "gaia", "ori", "iris", "alba", "nara", "vega")

_VERSION = re.compile(r"^\s*(?:k2[\s_-]*)?([a-z]+|\d+)\.(\d+)(?:\.(\d+))?\s*$")


def layout(override: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Dict[str, Dict[str, Any]]:
    """The lab's layout with a site's own ``override`` merged in, key by key; unknown names are refused."""
    merged = copy.deepcopy(LAYOUT)
    for entry, values in (override or {}).items():
        if entry not in merged or not isinstance(values, Mapping):
            raise ValueError("lab K2 layout: unknown entry %r or not a mapping (known: %s)" % (entry, ", ".join(sorted(merged))))
        unknown = sorted(set(values) - set(merged[entry]))
        if unknown:
            raise ValueError("lab K2 layout.%s: unknown key(s) %s" % (entry, ", ".join(unknown)))
        merged[entry].update(copy.deepcopy(dict(values)))
    return merged


def ddl_script_name(site_layout: Mapping[str, Any], db_kind: str, platform: str) -> str:
    """``K2t_CONF_MSSQL.SQL`` for (conf, mssql); ``db_kind`` is ``conf`` or ``company``."""
    scripts = site_layout["scripts"]
    return scripts["ddl"].format(type=scripts["ddl_types"][db_kind], platform=scripts["ddl_platforms"][platform])


@dataclass(frozen=True)
class Version:
    generation: int
    release: int
    build: Optional[int] = None

    def name(self) -> str:
        """``gaia.12`` or ``gaia.12.3``."""
        text = "%s.%02d" % (GENERATIONS[self.generation - 1], self.release)
        return text if self.build is None else "%s.%d" % (text, self.build)


def parse_version(text: str) -> Version:
    """``gaia.12.3``, ``K2 ori.09`` or ``4.12.3``."""
    match = _VERSION.match(str(text).lower())
    if not match or not (match.group(1).isdigit() or match.group(1) in GENERATIONS):
        raise ValueError("not a K2 version: %r" % (text,))
    generation = int(match.group(1)) if match.group(1).isdigit() else GENERATIONS.index(match.group(1)) + 1
    if not 1 <= generation <= len(GENERATIONS):
        raise ValueError("not a K2 version: %r (no generation %d)" % (text, generation))
    return Version(generation, int(match.group(2)), int(match.group(3)) if match.group(3) else None)


def konverze_token(version: str) -> str:
    """The version token of a conversion file name: generation and two-digit release (gaia.12 -> 412, ori.09 -> 509)."""
    parsed = parse_version(version)
    return "%d%02d" % (parsed.generation, parsed.release)


def quote_ident(platform: str, name: str) -> str:
    """One identifier as K2's scripts write it: ``[a]]b]`` on MS SQL, ``"a""b"`` on Oracle and in the lab (PostgreSQL)."""
    if platform not in ("mssql", "oracle", "lab") or not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError("cannot quote %r for %r" % (name, platform))
    if platform == "mssql":
        return "[" + name.replace("]", "]]") + "]"
    if platform == "oracle" and '"' in name:
        raise ValueError("an Oracle name cannot hold a double quote: %r" % name)
    return '"' + name.replace('"', '""') + '"'


def quote_literal(platform: str, value: str) -> str:
    """A string literal: ``N'...'`` on MS SQL (Czech text), ``'...'`` elsewhere (PostgreSQL: standard_conforming_strings)."""
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a string literal: %r" % (value,))
    body = "'" + value.replace("'", "''") + "'"
    return "N" + body if platform == "mssql" else body
