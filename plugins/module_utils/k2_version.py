# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""K2 versions: parse, compare, classify an upgrade, and plan a reachable path.

A K2 version is ``generation.release.build``. It is written either with numbers
(``4.3.120``) or with the generation's name (``mia.03``, ``mia.03.120``,
``K2 alba.01``). Names map to generation numbers through ``GENERATIONS``, an
ordered table that callers may replace (the order after alba is inferred, see
docs/k2_profile.md).

Upgrade kinds (runbook K2-12): ``build`` (only the build changes), ``release``
(the release changes), ``generation`` (the generation changes).

Reachability (K2 rule 4, docs/runbook.md): a reinstall moves at most one generation at a
time, and release numbers of adjacent generations are offset by 4, so
``(g, r)`` reaches ``(g + 1, r2)`` only when ``r <= r2 + 4``. The vendor's
example path is gaia.12 -> ori.09 -> iris.05 -> alba.01.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

#: Generation names in release order; a generation's number is its index + 1.
GENERATIONS = ("mona", "mia", "luna", "gaia", "ori", "iris", "alba", "nara", "vega")
RELEASE_OFFSET = 4
UPGRADE_KINDS = ("build", "release", "generation")

_NUMERIC = re.compile(r"^(?:k2[\s_-]+)?(\d{1,4})\.(\d{1,3})(?:\.(\d{1,6}))?$")
_NAMED = re.compile(r"^(?:k2[\s_-]*)?([a-z]+)[\s.]?(\d{1,3})(?:\.(\d{1,6}))?$")


class VersionError(ValueError):
    """A version string that cannot be read, or an upgrade that is not allowed."""


@dataclass(frozen=True)
class K2Version:
    """Ordered by (generation, release, build); a missing build sorts before build 0."""

    generation: int
    release: int
    build: Optional[int] = None

    # Not dataclass(order=True): that compares a missing build (None) with a number and raises TypeError.
    def __lt__(self, other: "K2Version") -> bool:
        return _key(self) < _key(other) if isinstance(other, K2Version) else NotImplemented

    def __le__(self, other: "K2Version") -> bool:
        return _key(self) <= _key(other) if isinstance(other, K2Version) else NotImplemented

    def __gt__(self, other: "K2Version") -> bool:
        return _key(self) > _key(other) if isinstance(other, K2Version) else NotImplemented

    def __ge__(self, other: "K2Version") -> bool:
        return _key(self) >= _key(other) if isinstance(other, K2Version) else NotImplemented

    def name(self, generations: Sequence[str] = GENERATIONS) -> str:
        """``mia.03`` or ``mia.03.120``; the number when the generation has no name."""
        if 1 <= self.generation <= len(generations):
            text = "%s.%02d" % (generations[self.generation - 1], self.release)
        else:
            text = "%d.%d" % (self.generation, self.release)
        return text if self.build is None else "%s.%d" % (text, self.build)

    def __str__(self) -> str:
        text = "%d.%d" % (self.generation, self.release)
        return text if self.build is None else "%s.%d" % (text, self.build)


def parse(text, generations: Sequence[str] = GENERATIONS) -> K2Version:
    """Read ``G.R[.B]`` or ``name.RR[.B]``; raise VersionError with the reason."""
    if isinstance(text, K2Version):
        return text
    if not isinstance(text, str) or not text.strip():
        raise VersionError("K2 version must be a non-empty string such as '4.3.120' or 'mia.03', got %r" % (text,))
    cleaned = text.strip().lower()
    numeric = _NUMERIC.match(cleaned)
    if numeric:
        gen, rel, build = numeric.groups()
        if int(gen) == 0:
            raise VersionError("K2 version %r: the generation number starts at 1" % text)
        return K2Version(int(gen), int(rel), int(build) if build is not None else None)
    named = _NAMED.match(cleaned)
    if named:
        name, rel, build = named.groups()
        known = [g.lower() for g in generations]
        if name not in known:
            raise VersionError("K2 version %r: unknown generation %r (known: %s)" % (text, name, ", ".join(generations)))
        return K2Version(known.index(name) + 1, int(rel), int(build) if build is not None else None)
    raise VersionError("K2 version %r is malformed: expected 'G.R.B' (e.g. '4.3.120') or 'name.RR[.B]' (e.g. 'mia.03')" % text)


def upgrade_kind(current, target, generations: Sequence[str] = GENERATIONS) -> str:
    """Classify current -> target as build, release or generation; refuse a downgrade.

    A same-version reinstall counts as ``build``: only the Additional
    conversions run, as the installer does for a repair reinstall.
    """
    cur, tgt = parse(current, generations), parse(target, generations)
    if _is_downgrade(cur, tgt):
        raise VersionError("downgrade from %s to %s is not possible: K2 only reinstalls to the same or a newer version"
                           % (cur.name(generations), tgt.name(generations)))
    if tgt.generation != cur.generation:
        return "generation"
    if tgt.release != cur.release:
        return "release"
    return "build"


def _key(version: K2Version):
    return (version.generation, version.release, version.build if version.build is not None else -1)


def _is_downgrade(current: K2Version, target: K2Version) -> bool:
    """Builds count only when both are known: ``mia.03.120`` -> ``mia.03`` reinstalls the same release."""
    if (target.generation, target.release) != (current.generation, current.release):
        return (target.generation, target.release) < (current.generation, current.release)
    return current.build is not None and target.build is not None and target.build < current.build


def same_version(first, second, generations: Sequence[str] = GENERATIONS) -> bool:
    """Same generation and release, and the same build when both name one (``4.3`` matches ``4.3.120``)."""
    one, two = parse(first, generations), parse(second, generations)
    if (one.generation, one.release) != (two.generation, two.release):
        return False
    return one.build is None or two.build is None or one.build == two.build


def directly_reachable(current, target, generations: Sequence[str] = GENERATIONS) -> bool:
    """True when one reinstall can go from current to target (rule 4)."""
    cur, tgt = parse(current, generations), parse(target, generations)
    if _is_downgrade(cur, tgt):
        return False
    if tgt.generation == cur.generation:
        return True
    return tgt.generation == cur.generation + 1 and cur.release <= tgt.release + RELEASE_OFFSET


def upgrade_path(current, target, generations: Sequence[str] = GENERATIONS) -> List[K2Version]:
    """The versions to install in turn, ending with target; raise if there is none.

    Fix the target, then step back one generation at a time adding the offset
    to the release: each intermediate stop is the newest release that still
    reaches the next stop, which makes the first step as easy as it can be.
    """
    cur, tgt = parse(current, generations), parse(target, generations)
    upgrade_kind(cur, tgt, generations)
    stops = [tgt]
    while stops[0].generation > cur.generation + 1:
        stops.insert(0, K2Version(stops[0].generation - 1, stops[0].release + RELEASE_OFFSET))
    if not directly_reachable(cur, stops[0], generations):
        raise VersionError(
            "%s cannot reach %s: a newer release of one generation cannot reinstall to an older release of the next "
            "(from %s the next generation's release must be at least %02d)"
            % (cur.name(generations), tgt.name(generations), cur.name(generations), cur.release - RELEASE_OFFSET))
    return stops
