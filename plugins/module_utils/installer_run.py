# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the K2 installer as the user configured it, with a timeout, on the K2 host (runbook K2-19).

The command is the user's (their vendor's unattended invocation, a path to the zip's
installer or the installed one); this module only runs it and reports. Before it starts,
the size of ``sql_inst.log`` is noted, so the verdict reads only what this install
wrote. A command that does not finish within the timeout is stopped with everything it
started (POSIX: its own session, killed as a process group; Windows: ``taskkill /T /F``).

The programs are text here: ``POSIX_PROGRAM`` (Python, run by the host's interpreter with
the command, the log path and the timeout as arguments) and ``powershell_program``. Both
print one line ``RESULT_MARKER`` + JSON: ``exit_code``, ``timed_out``, ``log_offset``,
``output`` (the tail of stdout and stderr).
"""

from __future__ import annotations

import json

RESULT_MARKER = "ERPOPS-INSTALLER-RESULT "
OUTPUT_TAIL_LINES = 200

POSIX_PROGRAM = r'''
import json, os, signal, subprocess, sys, tempfile
command, log, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
offset = os.path.getsize(log) if os.path.isfile(log) else 0
with tempfile.TemporaryFile() as out:
    process = subprocess.Popen(command, shell=True, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    timed_out = False
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        code = process.returncode
    out.seek(0)
    lines = out.read().decode("utf-8", "replace").splitlines()[-%d:]
print("%s" + json.dumps({"exit_code": code, "timed_out": timed_out, "log_offset": offset, "output": "\n".join(lines)}))
''' % (OUTPUT_TAIL_LINES, RESULT_MARKER)


def powershell_program(command: str, log: str, timeout: int, quote) -> str:
    """The same on Windows: ``cmd.exe /c`` runs the command, redirected to files; ``quote`` is ``k2host.ps_quote``."""
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        "$log = %s" % quote(log),
        "$offset = if (Test-Path -LiteralPath $log -PathType Leaf) { (Get-Item -LiteralPath $log).Length } else { 0 }",
        "$out = [System.IO.Path]::GetTempFileName(); $err = [System.IO.Path]::GetTempFileName()",
        "try {",
        "  $p = Start-Process -FilePath 'cmd.exe' -ArgumentList @('/d', '/s', '/c', %s) -PassThru -NoNewWindow "
        "-RedirectStandardOutput $out -RedirectStandardError $err" % quote('"' + command + '"'),
        "  $null = $p.Handle",
        "  $timedOut = -not $p.WaitForExit(%d)" % (timeout * 1000),
        "  if ($timedOut) { try { & taskkill.exe /PID $p.Id /T /F 2>&1 | Out-Null } catch { }; $null = $p.WaitForExit(10000) }",
        "  $code = if ($p.HasExited) { $p.ExitCode } else { $null }",
        "  $text = try { (@(Get-Content -LiteralPath $out -Tail %d) + @(Get-Content -LiteralPath $err -Tail %d)) -join \"`n\" } catch { '' }"
        % (OUTPUT_TAIL_LINES, OUTPUT_TAIL_LINES),
        "  $result = [ordered]@{ exit_code = $code; timed_out = $timedOut; log_offset = $offset; output = $text }",
        "  %s + ($result | ConvertTo-Json -Compress)" % quote(RESULT_MARKER),
        "} finally {",
        "  Remove-Item -LiteralPath $out, $err -Force -ErrorAction SilentlyContinue",
        "}",
    ])


def parse_result(stdout: str):
    """The JSON after ``RESULT_MARKER`` on the last line that has it, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    return None
