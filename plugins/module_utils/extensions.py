# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The extensions update (runbook K2-14) without I/O: K2's parameters, the command lines per shell,
the attempts loop, the status judgement and the extension format (1.0 -> 2.02 from K2 mia.03).

How one attempt ends (its *outcome*):

``settled``  K2 stayed up. On a sh host (the lab) the executable says so by exiting 0 after
             "K2: running". On Windows K2 is a GUI process that does not exit: it counts as
             settled once it has kept running (and its window, if any, kept responding) for
             ``settle_seconds``; it is then asked to close (``CloseMainWindow``, as a user
             closing the window) and, when it has not closed within ``grace_seconds``, its
             process tree is killed.
``restart``  K2 ended for a restart: exit code ``restart_exit_code`` on sh (3 in the lab); on
             Windows any exit before it settled.
``timeout``  The attempt ran longer than ``timeout`` seconds; the process tree was killed.
``failed``   Any other exit code on sh.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from xml.etree import ElementTree

from ansible_collections.erpops.upgrade.plugins.module_utils import k2_version
from ansible_collections.erpops.upgrade.plugins.module_utils.k2_mandants import table_ref
from ansible_collections.erpops.upgrade.plugins.module_utils.quoting import quote_ident

MODES = {"update": "UPDATE", "update_all": "UPDATE_ALL"}
OUTCOMES = ("settled", "restart", "timeout", "failed")
# The lab's stand-in (and this collection's default) exit code for "restart me".
RESTART_EXIT_CODE = 3
# GNU timeout: 124 when the TERM ended the command, 137 (128 + KILL) when -k had to kill it.
TIMEOUT_EXIT_CODES = (124, 137)
# Seconds between timeout's TERM and its KILL on sh.
KILL_AFTER_SECONDS = 10
# K2 versions from which the extension files and definitions have a newer format (seed: K2 mia.03 -> 2.02).
LEGACY_FORMAT = "1.0"
FORMAT_SINCE: Tuple[Tuple[str, str], ...] = (("mia.03", "2.02"),)
RESULT_MARKER = "ERPOPS-K2-ATTEMPT "
OUTPUT_TAIL_LINES = 20
OUTPUT_TAIL_CHARS = 2000

_EXTENSION_SET = re.compile(r"^[A-Za-z0-9_.\-]+$")
_TRUE_WORDS = ("1", "a", "ano", "y", "yes", "t", "true")
_FORMAT = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*$")


class ExtensionsError(ValueError):
    """A parameter or a piece of K2 output that cannot be used."""


# --- K2's parameters and the command lines ------------------------------------------------

def k2_arguments(mode: str, extension_set: Optional[str] = None) -> List[str]:
    """``EXTENSIONS=UPDATE RSOFF=1``; ``update_all`` gives ``UPDATE_ALL``; a set adds ``EXTENSIONS.EXT=<name>``."""
    if mode not in MODES:
        raise ExtensionsError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    arguments = ["EXTENSIONS=%s" % MODES[mode]]
    if extension_set is not None:
        # K2 reads it as the folder suffix extensions.<name>; Start-Process joins arguments with spaces and
        # quotes nothing, so a name with blanks, quotes or path separators could not reach K2 intact.
        if not _EXTENSION_SET.match(extension_set) or extension_set in (".", ".."):
            raise ExtensionsError("extension_set must be a folder suffix of letters, digits, '_', '-' or '.', got %r" % extension_set)
        arguments.append("EXTENSIONS.EXT=%s" % extension_set)
    arguments.append("RSOFF=1")
    return arguments


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted string (the five characters PowerShell takes for a single quote are doubled)."""
    return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", value) + "'"


def sh_command(executable: str, folder: str, arguments: Sequence[str], timeout: int) -> str:
    """One attempt on a sh host: GNU timeout kills the whole process group (K2 and its children) when it hangs."""
    return "cd -- %s && exec timeout -k %d %d %s %s </dev/null 2>&1" % (
        shlex.quote(folder), KILL_AFTER_SECONDS, timeout, shlex.quote(executable), " ".join(shlex.quote(a) for a in arguments))


def powershell_command(executable: str, folder: str, arguments: Sequence[str], timeout: int, settle_seconds: int,
                       grace_seconds: int = 30) -> str:
    """One attempt on Windows, as one PowerShell script whose last line is ``RESULT_MARKER`` + JSON.

    The script waits in the same WinRM command: a process started from a WinRM shell is ended
    with the shell. ``$p.Handle`` is read at once so that ``ExitCode`` is kept after the exit.
    """
    argument_list = "@(%s)" % ", ".join(ps_quote(a) for a in arguments)
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        "$out = [System.IO.Path]::GetTempFileName(); $err = [System.IO.Path]::GetTempFileName()",
        "try {",
        "  $p = Start-Process -FilePath %s -ArgumentList %s -WorkingDirectory %s -PassThru -RedirectStandardOutput $out -RedirectStandardError $err"
        % (ps_quote(executable), argument_list, ps_quote(folder)),
        "  $null = $p.Handle",
        "  $watch = [System.Diagnostics.Stopwatch]::StartNew(); $calm = 0.0; $outcome = $null; $stop = $null; $code = $null",
        "  while ($null -eq $outcome) {",
        "    if ($p.WaitForExit(1000)) { $outcome = 'restart'; $code = $p.ExitCode; break }",
        "    $elapsed = $watch.Elapsed.TotalSeconds",
        "    try { $p.Refresh(); if (-not $p.Responding) { $calm = $elapsed } } catch { $calm = $elapsed }",
        "    if ($elapsed -ge %d) { $outcome = 'timeout' } elseif ($elapsed - $calm -ge %d) { $outcome = 'settled' }" % (timeout, settle_seconds),
        "  }",
        "  if ($outcome -eq 'settled') {",
        "    $null = $p.CloseMainWindow()",
        "    if ($p.WaitForExit(%d)) { $stop = 'closed' } else { $stop = 'killed' }" % (grace_seconds * 1000),
        "  } elseif ($outcome -eq 'timeout') { $stop = 'killed' }",
        # Windows PowerShell turns a native command's stderr into a terminating error under 'Stop': hence the try.
        "  if ($stop -eq 'killed') { try { & taskkill.exe /PID $p.Id /T /F 2>&1 | Out-Null } catch { }; $null = $p.WaitForExit(10000) }",
        "  $alive = -not $p.HasExited",
        "  $text = try { (@(Get-Content -LiteralPath $out -Tail %d) + @(Get-Content -LiteralPath $err -Tail %d)) -join \"`n\" } catch { '' }"
        % (OUTPUT_TAIL_LINES, OUTPUT_TAIL_LINES),
        "  $result = [ordered]@{ outcome = $outcome; exit_code = $code; stop = $stop; still_running = $alive; output = $text; pid = $p.Id }",
        "  %s + ($result | ConvertTo-Json -Compress)" % ps_quote(RESULT_MARKER),
        "} finally {",
        "  Remove-Item -LiteralPath $out, $err -Force -ErrorAction SilentlyContinue",
        "}",
    ])


def parse_powershell_result(stdout: str) -> Dict[str, object]:
    """The JSON the PowerShell attempt prints after ``RESULT_MARKER``."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                data = json.loads(line[len(RESULT_MARKER):])
            except ValueError as exc:
                raise ExtensionsError("the PowerShell attempt printed an unreadable result: %s" % exc) from None
            if data.get("outcome") not in OUTCOMES:
                raise ExtensionsError("the PowerShell attempt printed an unknown outcome %r" % data.get("outcome"))
            return data
    raise ExtensionsError("the PowerShell attempt printed no result line")


def sh_outcome(exit_code: int, restart_exit_code: int = RESTART_EXIT_CODE) -> str:
    if exit_code == 0:
        return "settled"
    if exit_code == restart_exit_code:
        return "restart"
    if exit_code in TIMEOUT_EXIT_CODES:
        return "timeout"
    return "failed"


def tail(text: str, lines: int = OUTPUT_TAIL_LINES, chars: int = OUTPUT_TAIL_CHARS) -> str:
    """The last lines of the output, at most ``chars`` characters."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    return kept if len(kept) <= chars else kept[-chars:]


# --- Attempts --------------------------------------------------------------------------

@dataclass
class Attempt:
    number: int
    argv: List[str]
    outcome: str
    exit_code: Optional[int]
    seconds: float
    output_tail: str
    detail: Optional[str] = None

    def as_dict(self) -> Dict[str, object]:
        return asdict(self)


@dataclass
class AttemptsVerdict:
    """``outcome`` of the whole run: ``settled``, ``failed``, ``timeout`` or ``too_many_restarts``."""

    outcome: str
    attempts: List[Attempt]

    @property
    def restarts(self) -> int:
        return sum(1 for a in self.attempts if a.outcome == "restart")


def run_attempts(run_once: Callable[[int], Attempt], max_restarts: int) -> AttemptsVerdict:
    """Run K2 until it stays up, at most ``max_restarts`` + 1 times; stop at the first failure or timeout."""
    if max_restarts < 0:
        raise ExtensionsError("max_restarts must be 0 or more, got %d" % max_restarts)
    attempts: List[Attempt] = []
    for number in range(1, max_restarts + 2):
        attempt = run_once(number)
        attempts.append(attempt)
        if attempt.outcome != "restart":
            return AttemptsVerdict(attempt.outcome, attempts)
    return AttemptsVerdict("too_many_restarts", attempts)


def failure_message(verdict: AttemptsVerdict, timeout: int, max_restarts: int) -> Optional[str]:
    """Why the run failed, in one sentence with the last attempt's output; None when K2 stayed up."""
    last = verdict.attempts[-1]
    output = (": " + " | ".join(last.output_tail.splitlines()[-3:])) if last.output_tail.strip() else ""
    if verdict.outcome == "settled":
        return None
    if verdict.outcome == "timeout":
        return ("K2 did not finish attempt %d within timeout=%d s; its process tree was killed%s" % (last.number, timeout, output))
    if verdict.outcome == "too_many_restarts":
        return ("K2 still asked for a restart after max_restarts=%d restarts (%d attempts); run the update again or raise max_restarts%s"
                % (max_restarts, len(verdict.attempts), output))
    return "K2 failed on attempt %d with exit code %s%s" % (last.number, last.exit_code, output)


# --- Status in the CONF database -------------------------------------------------------------

def status_sql(platform: str, conf_database: str, profile: Mapping) -> str:
    """Name, current flag and format of every extension, from the table the profile names."""
    e = profile["extensions"]
    name, current, fmt = (quote_ident(platform, e[key]) for key in ("name_column", "current_column", "format_column"))
    return "SELECT %s AS name, %s AS is_current, %s AS format FROM %s ORDER BY %s" % (
        name, current, fmt, table_ref(platform, conf_database, e["table"]), name)


def is_current(value: object) -> bool:
    """K2's "Current" column as a boolean: 1, true, 'A' (ano), 'Y'; NULL and 0 are not current."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in _TRUE_WORDS


def read_status(rows: Iterable[Mapping]) -> List[Dict[str, object]]:
    """Rows of ``status_sql`` as ``{name, current, format}``, sorted by name."""
    status = []
    for row in rows:
        lowered = {str(k).lower(): v for k, v in row.items()}
        fmt = lowered.get("format")
        status.append({"name": str(lowered["name"]).strip(), "current": is_current(lowered.get("is_current")),
                       "format": None if fmt is None else str(fmt).strip()})
    return sorted(status, key=lambda item: item["name"].lower())


def parse_format(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """``'2.02'`` -> (2, 2), ``'1.0'`` -> (1, 0), ``'2'`` -> (2, 0); None when it is no format number.

    The minor part counts as a number (K2 writes 2.01 and 2.02), so ``2.1`` equals ``2.01``.
    """
    match = _FORMAT.match(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def required_format(installed_version: Optional[str]) -> Optional[str]:
    """The extension format the installed K2 works with: 2.02 from mia.03, 1.0 before; None when unknown."""
    if not installed_version:
        return None
    version = k2_version.parse(installed_version)
    wanted = LEGACY_FORMAT
    for since, fmt in FORMAT_SINCE:
        if version >= k2_version.parse(since):
            wanted = fmt
    return wanted


def format_older(fmt: Optional[str], required: Optional[str]) -> bool:
    """True when ``fmt`` is older than ``required``; an unreadable format counts as older (it must be converted)."""
    if required is None:
        return False
    have = parse_format(fmt)
    return have is None or have < parse_format(required)


def judge(status: Sequence[Mapping], required: Optional[str]) -> Dict[str, List[str]]:
    """Which extensions K2 would update: not current, or in an older format than the installed K2 needs."""
    outdated = [s["name"] for s in status if not s["current"]]
    old_format = [s["name"] for s in status if format_older(s["format"], required)]
    return {"outdated": outdated, "old_format": old_format,
            "to_update": [s["name"] for s in status if s["name"] in outdated or s["name"] in old_format]}


def changed_extensions(before: Sequence[Mapping], after: Sequence[Mapping]) -> List[str]:
    """Names whose current flag or format differs, or that appeared or disappeared."""
    first = {s["name"]: (s["current"], s["format"]) for s in before}
    second = {s["name"]: (s["current"], s["format"]) for s in after}
    return sorted(name for name in set(first) | set(second) if first.get(name) != second.get(name))


# --- Extension definitions (xml) ------------------------------------------------------------

def definition_format(data: bytes, attribute: str = "format") -> Optional[str]:
    """The format a definition declares on its root element (attribute name matched case-insensitively).

    Only the root's start tag is read. The attribute name is an assumption (K2's definition
    format is not public), hence the module option. None when the root has no such attribute.
    Raises ExtensionsError for a file that is not xml.
    """
    wanted = attribute.lower()
    try:
        for _event, element in ElementTree.iterparse(io.BytesIO(data), events=("start",)):
            for name, value in element.attrib.items():
                local = name.rsplit("}", 1)[-1]
                if local.lower() == wanted:
                    return value.strip()
            return None
    except ElementTree.ParseError as exc:
        raise ExtensionsError("not a readable xml file: %s" % exc) from None
    raise ExtensionsError("not a readable xml file: no root element")


def definition_verdict(path: str, data: bytes, required: Optional[str], attribute: str = "format") -> Optional[Dict[str, Optional[str]]]:
    """``{path, format, reason}`` when the definition must still be converted by hand, else None."""
    try:
        fmt = definition_format(data, attribute)
    except ExtensionsError as exc:
        return {"path": path, "format": None, "reason": str(exc)}
    if fmt is None:
        return {"path": path, "format": None, "reason": "the root element has no %s attribute" % attribute} if required else None
    if format_older(fmt, required):
        return {"path": path, "format": fmt, "reason": "format %s is older than %s" % (fmt, required)}
    return None


def xml_list_command(shell_family: str, paths: Sequence[str]) -> str:
    """List the .xml files under each path (a file is listed as itself); one full path a line, missing paths as ``MISSING <path>``."""
    if shell_family == "powershell":
        return "\n".join(
            "$p = %s; if (Test-Path -LiteralPath $p -PathType Leaf) { (Get-Item -LiteralPath $p).FullName } "
            "elseif (Test-Path -LiteralPath $p -PathType Container) { Get-ChildItem -LiteralPath $p -Recurse -File -Force | "
            "Where-Object { $_.Extension -eq '.xml' } | ForEach-Object { $_.FullName } } else { 'MISSING ' + $p }" % ps_quote(path)
            for path in paths)
    return "; ".join(
        "if [ -f %s ]; then printf '%%s\\n' %s; elif [ -d %s ]; then find %s -type f -iname '*.xml' | sort; else printf 'MISSING %%s\\n' %s; fi"
        % ((shlex.quote(path),) * 5) for path in paths)
