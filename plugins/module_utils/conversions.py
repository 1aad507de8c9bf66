# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which ``SQL/konverze/`` files run, in which order (runbook K2-12).

File names are ``K2_{C|D}{version}{platform}{Additional}.sql``: ``C`` for the CONF
database, ``D`` for every company database (INIT and DEMO included, the installer
converts them all), ``{version}`` an opaque run of digits, ``{platform}`` a token
per platform (``''`` MS SQL, ``Ora`` Oracle, ``Lab`` the lab; callers may pass other
tokens from the profile). The whole name is matched without regard to case, as
Windows does.

The runbook's table: one-time files (no ``Additional``) run only on a ``generation``
upgrade; ``Additional`` files run on every upgrade kind (``build``, ``release``,
``generation``).

Order (deterministic): CONF files before company files (they go to different
databases); then ascending numeric version; for equal versions the one-time file
before its Additional file; remaining ties by the version token's text and the
file name.

Names that do not follow the pattern, or carry an unknown platform token, are
returned in ``unknown`` with a reason, never dropped silently. Well-formed names
for another platform or not due for this upgrade kind are returned in
``not_selected``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version

UPGRADE_KINDS = ("build", "release", "generation")
PLATFORMS = ("mssql", "oracle", "lab")
DEFAULT_PLATFORM_TOKENS: Mapping[str, str] = {"mssql": "", "oracle": "Ora", "lab": "Lab"}
DB_CONF = "conf"
DB_COMPANY = "company"
_DB_KINDS = {"C": DB_CONF, "D": DB_COMPANY}
ADDITIONAL = "additional"

_NAME = re.compile(r"K2_([CD])(\d+)(\w*?)\.sql", re.IGNORECASE)


@dataclass(frozen=True)
class ConversionFile:
    """One file of the plan."""

    db_kind: str        # DB_CONF or DB_COMPANY
    name: str
    one_time: bool
    version: str        # the numeric token as written
    platform: str


@dataclass(frozen=True)
class Selection:
    plan: Tuple[ConversionFile, ...]
    not_selected: Tuple[Tuple[str, str], ...]   # (name, reason)
    unknown: Tuple[Tuple[str, str], ...]        # (name, reason)

    def for_db(self, db_kind: str) -> Tuple[ConversionFile, ...]:
        return tuple(item for item in self.plan if item.db_kind == db_kind)


def parse_name(name: str, tokens: Optional[Mapping[str, str]] = None) -> ConversionFile:
    """Parse one file name; ``ValueError`` says why it is not a conversion file."""
    tokens = DEFAULT_PLATFORM_TOKENS if tokens is None else tokens
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError("not named K2_{C|D}{version}{platform}{Additional}.sql")
    kind, version, rest = match.groups()
    one_time = True
    if rest.lower().endswith(ADDITIONAL):
        one_time = False
        rest = rest[:-len(ADDITIONAL)]
    platforms = [platform for platform, token in tokens.items() if token.lower() == rest.lower()]
    if len(platforms) != 1:
        known = ", ".join("%r (%s)" % (token, platform) for platform, token in sorted(tokens.items()))
        reason = "is claimed by several platforms" if platforms else "is not a known platform token"
        raise ValueError("platform token %r %s; known: %s" % (rest, reason, known))
    return ConversionFile(_DB_KINDS[kind.upper()], name, one_time, version, platforms[0])


def _order(item: ConversionFile) -> Tuple[int, int, int, str, str]:
    return (0 if item.db_kind == DB_CONF else 1, int(item.version), 0 if item.one_time else 1, item.version, item.name)


def select_conversions(names: Iterable[str], platform: str, upgrade_kind: str,
                       tokens: Optional[Mapping[str, str]] = None) -> Selection:
    """Plan the conversions of ``names`` (a folder listing) for one upgrade."""
    tokens = dict(DEFAULT_PLATFORM_TOKENS if tokens is None else tokens)
    if platform not in tokens:
        raise ValueError("unknown platform %r (expected one of %s)" % (platform, ", ".join(sorted(tokens))))
    if upgrade_kind not in UPGRADE_KINDS:
        raise ValueError("unknown upgrade kind %r (expected one of %s)" % (upgrade_kind, ", ".join(UPGRADE_KINDS)))
    plan: List[ConversionFile] = []
    not_selected: List[Tuple[str, str]] = []
    unknown: List[Tuple[str, str]] = []
    seen: Dict[str, str] = {}
    for name in names:
        try:
            item = parse_name(name, tokens)
        except ValueError as exc:
            unknown.append((name, str(exc)))
            continue
        if name.lower() in seen:
            unknown.append((name, "duplicate of %s (names are compared without regard to case)" % seen[name.lower()]))
            continue
        seen[name.lower()] = name
        if item.platform != platform:
            not_selected.append((name, "for platform %s" % item.platform))
        elif item.one_time and upgrade_kind != "generation":
            not_selected.append((name, "one-time conversion, runs only on a generation upgrade (this is a %s upgrade)" % upgrade_kind))
        else:
            plan.append(item)
    plan.sort(key=_order)
    return Selection(tuple(plan), tuple(not_selected), tuple(unknown))


def version_token(version, token_format: str) -> Optional[int]:
    """The conversion file token of a K2 version (profile ``scripts.konverze_token``), None when the format is empty."""
    if not token_format:
        return None
    parsed = k2_version.parse(version)
    return int(token_format.format(generation=parsed.generation, release=parsed.release))


def within_versions(selection: Selection, current, target, token_format: str) -> Selection:
    """Keep the files for versions after ``current`` up to ``target`` (and the target's own files, a same-release reinstall).

    The folder keeps the conversion files of the version it had before (a release copied over it, a takeover): those
    files are for a version the databases already have and are not selected.
    """
    low, high = version_token(current, token_format), version_token(target, token_format)
    if low is None:
        return selection
    plan, not_selected = [], list(selection.not_selected)
    for item in selection.plan:
        number = int(item.version)
        if low < number <= high or number == high:
            plan.append(item)
        else:
            span = "%s .. %s" % (k2_version.parse(current).name(), k2_version.parse(target).name())
            not_selected.append((item.name, "for version %s, outside %s" % (item.version, span)))
    return Selection(tuple(plan), tuple(not_selected), selection.unknown)


def one_time_guard(item: ConversionFile, database_version: Optional[str], token_format: str) -> Optional[str]:
    """Why a one-time file must not run on a database already at ``database_version``; None when it may (or nobody knows).

    Independent of the journal: the K2 installer runs the same files without writing it.
    """
    if not item.one_time or not database_version or not token_format:
        return None
    try:
        have = version_token(database_version, token_format)
    except (k2_version.VersionError, ValueError):
        return None
    if have is not None and have >= int(item.version):
        return ("%s is a one-time conversion to version %s, and the database is already at %s (token %d): it ran before "
                "(the installer, or another run), whatever the journal says. A one-time conversion never runs twice; restore "
                "the database from the backup taken before the conversions (K2-16) if it must run again."
                % (item.name, item.version, database_version, have))
    return None


def only_files(selection: Selection, names: Iterable[str]) -> Selection:
    """Keep only the named files of the plan (a resume after a fix); a name not in the plan is an error."""
    wanted = {name.lower(): name for name in names}
    planned = {item.name.lower() for item in selection.plan}
    missing = sorted(name for key, name in wanted.items() if key not in planned)
    if missing:
        raise ValueError("files %s are not among the selected conversions (%s)"
                         % (", ".join(missing), ", ".join(item.name for item in selection.plan) or "none"))
    kept = tuple(item for item in selection.plan if item.name.lower() in wanted)
    dropped = tuple((item.name, "not named in files") for item in selection.plan if item.name.lower() not in wanted)
    return Selection(kept, tuple(selection.not_selected) + dropped, selection.unknown)
