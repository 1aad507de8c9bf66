# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reach the K2 host over the task's own connection, from an action plugin.

In production the connection is WinRM or PSRP with the PowerShell shell; in the
lab it is ``local`` with sh. Only the command lines differ, and they are built
by the pure functions at the top so that tests can check their quoting.
"""

from __future__ import annotations

import os
import shlex
import tempfile

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text


# PowerShell ends a single-quoted string at any of these, not only at the ASCII apostrophe
# (CharTraits.IsSingleQuote; ansible's own powershell shell plugin escapes the same five).
_PS_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted string: every kind of single quote is doubled, nothing else is special."""
    for quote in _PS_SINGLE_QUOTES:
        value = value.replace(quote, quote * 2)
    return "'" + value + "'"


def list_command(shell_family: str, path: str) -> str:
    """List the names in a folder, hidden ones too; fails when it is not a folder."""
    if shell_family == "powershell":
        return ("$ErrorActionPreference = 'Stop'; $p = %s; if (-not (Test-Path -LiteralPath $p -PathType Container)) { exit 3 }; "
                "Get-ChildItem -Force -Name -LiteralPath $p" % ps_quote(path))
    return "test -d %s || exit 3; ls -1A -- %s" % (shlex.quote(path), shlex.quote(path))


def shell_family(action) -> str:
    return getattr(action._connection._shell, "SHELL_FAMILY", "sh")


def run(action, command: str):
    """Run one command on the K2 host; returns (rc, stdout, stderr) as text."""
    if shell_family(action) == "powershell":
        command = action._connection._shell._encode_script(command)
        rc, stdout, stderr = action._connection.exec_command(command, in_data=None, sudoable=False)
    else:
        result = action._low_level_execute_command(command)
        rc, stdout, stderr = result["rc"], result.get("stdout", ""), result.get("stderr", "")
    return rc or 0, to_text(stdout, errors="surrogate_or_strict"), to_text(stderr, errors="surrogate_or_strict")


def list_names(action, path: str):
    """Names in the folder, or None when the folder does not exist."""
    rc, stdout, stderr = run(action, list_command(shell_family(action), path))
    if rc == 3:
        return None
    if rc != 0:
        raise AnsibleError("cannot list %s on the K2 host: %s" % (path, stderr.strip() or "exit code %d" % rc))
    return [line.strip() for line in stdout.splitlines() if line.strip()]


def join(action, *parts: str) -> str:
    return action._connection._shell.join_path(*parts)


def fetch_bytes(action, remote_path: str):
    """The bytes of one file on the K2 host, through the connection's fetch_file."""
    handle, local = tempfile.mkstemp(prefix="erpops-fetch-")
    os.close(handle)
    try:
        action._connection.fetch_file(remote_path, local)
        with open(local, "rb") as data:
            return data.read()
    finally:
        os.unlink(local)


def head_command(shell_family: str, path: str, count: int) -> str:
    """Print the first ``count`` bytes of a file as hexadecimal digits (blanks and newlines may separate them)."""
    if shell_family == "powershell":
        return ("$ErrorActionPreference = 'Stop'; $s = [IO.File]::OpenRead(%s); try { $b = New-Object byte[] %d; "
                "$n = $s.Read($b, 0, %d); [BitConverter]::ToString($b, 0, $n).Replace('-', '') } finally { $s.Dispose() }"
                % (ps_quote(path), count, count))
    return "head -c %d -- %s | od -An -v -tx1" % (count, shlex.quote(path))
