"""Running the installer command: the POSIX program on real processes, the PowerShell text."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from ansible_collections.erpops.upgrade.plugins.module_utils import installer_run as ir
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import ps_quote


def run(command, log, timeout):
    done = subprocess.run([sys.executable, "-c", ir.POSIX_PROGRAM, command, str(log), str(timeout)], capture_output=True, text=True,
                          check=False)
    return ir.parse_result(done.stdout)


def test_exit_code_output_and_log_offset(tmp_path):
    log = tmp_path / "sql_inst.log"
    log.write_text("old error\n")
    result = run("echo STEP copy; echo 'FAILED copy: disk full' >&2; echo new >> %s; exit 12" % log, log, 30)
    assert result == {"exit_code": 12, "timed_out": False, "log_offset": 10, "output": "STEP copy\nFAILED copy: disk full"}
    assert run("true", tmp_path / "none.log", 30)["log_offset"] == 0


def test_a_hanging_installer_is_stopped_with_its_children(tmp_path):
    marker = tmp_path / "child.pid"
    started = time.monotonic()
    result = run("sh -c 'echo $$ > %s; sleep 300' & sleep 300" % marker, tmp_path / "log", 1)
    assert result["timed_out"] and result["exit_code"] is not None and time.monotonic() - started < 60
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not os.path.exists("/proc/%d" % child) or open("/proc/%d/stat" % child).read().split()[2] == "Z", "no orphan left"


def test_powershell_text():
    script = ir.powershell_program('D:\\Inst\\K2 Setup.exe /update /folder "D:\\K2"', "D:\\K2\\sql_inst.log", 60, ps_quote)
    assert "$log = 'D:\\K2\\sql_inst.log'" in script
    assert "-ArgumentList @('/d', '/s', '/c', '\"D:\\Inst\\K2 Setup.exe /update /folder \"D:\\K2\"\"')" in script
    assert "WaitForExit(60000)" in script and "taskkill.exe /PID $p.Id /T /F" in script
    assert ir.parse_result("noise\n%s{\"exit_code\": 0}\n" % ir.RESULT_MARKER) == {"exit_code": 0}
    assert ir.parse_result("nothing") is None
