"""The action plugins' PowerShell command lines, encoded by ansible's own PowerShell shell plugin.

Every path is read back out of the encoded command with PowerShell's rules for a
single-quoted string (any of the five single-quote characters, doubled, stands for itself),
so a path with spaces, apostrophes, typographic quotes, ``$`` or backticks must come back
exactly as it went in.
"""

import base64
import re

import pytest
from ansible.plugins.loader import shell_loader

from ansible_collections.erpops.upgrade.plugins.plugin_utils.remote_file import remote_commands
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import list_command

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"

PATHS = [
    r"C:\K2",
    r"C:\Program Files\K2 Atlantis\K2",
    r"D:\Zákazníci\O'Brien & Syn\K2",
    "D:\\K2 \u2019quoted\u2019 \u2018x\u2019 \u201aa\u201b\\web.config",
    r"C:\K2\$env:TEMP `n; Remove-Item C:\ -Recurse; '",
    r"\\fileserver\k2 share\it's here\K2",
]


def decode(encoded_command):
    """The script inside ``powershell ... -EncodedCommand <base64 of UTF-16-LE>``."""
    match = re.search(r"-EncodedCommand ([A-Za-z0-9+/=]+)", encoded_command)
    assert match, encoded_command
    return base64.b64decode(match.group(1)).decode("utf-16-le")


def single_quoted_literals(script):
    """Every single-quoted string of a PowerShell script, unescaped as PowerShell reads it."""
    literals, i = [], 0
    while i < len(script):
        if script[i] in SINGLE_QUOTES:
            value, i = [], i + 1
            while True:
                assert i < len(script), "unterminated string in %r" % script
                if script[i] in SINGLE_QUOTES:
                    if i + 1 < len(script) and script[i + 1] in SINGLE_QUOTES:
                        value.append(script[i])
                        i += 2
                        continue
                    i += 1
                    break
                value.append(script[i])
                i += 1
            literals.append("".join(value))
        else:
            i += 1
    return literals


@pytest.fixture(scope="module")
def powershell():
    return shell_loader.get("powershell")


def test_the_shell_plugin_is_ansibles_powershell(powershell):
    assert powershell.SHELL_FAMILY == "powershell"


@pytest.mark.parametrize("path", PATHS)
def test_list_command_quotes_the_folder_for_powershell(powershell, path):
    command = powershell._encode_script(list_command("powershell", path))
    assert command.lower().startswith("powershell ") and "-NonInteractive" in command
    script = decode(command)
    assert "Get-ChildItem -Force -Name -LiteralPath $p" in script
    assert single_quoted_literals(script) == ["Stop", path]


@pytest.mark.parametrize("path", PATHS)
def test_webconfig_commands_quote_path_temp_and_backup(powershell, path):
    temp, backup = path + ".tmp 'x'", path + ".1234.20250212-220915.bak"
    commands = remote_commands("powershell", path, temp, backup)
    stat = single_quoted_literals(decode(powershell._encode_script(commands["stat"])))
    assert stat == [path, "file", path, "other", "absent"]
    commit = decode(powershell._encode_script(commands["commit"]))
    assert "[System.IO.File]::Replace(" in commit
    assert single_quoted_literals(commit) == ["Stop", temp, path, backup]
    cleanup = decode(powershell._encode_script(commands["cleanup"]))
    assert single_quoted_literals(cleanup) == [temp]
    assert commands["prepare"] == ""


def test_commit_without_backup_passes_a_null_string(powershell):
    commit = decode(powershell._encode_script(remote_commands("powershell", r"C:\a b\web.config", r"C:\a b\.t", None)["commit"]))
    assert ", [NullString]::Value)\n" in commit


def test_nothing_outside_the_quotes_comes_from_the_path(powershell):
    hostile = r"C:\x'; Remove-Item -Recurse C:\; '"
    script = decode(powershell._encode_script(list_command("powershell", hostile)))
    outside = re.sub("'(?:[^'\u2018\u2019\u201a\u201b]|'')*'", "''", script)
    assert "Remove-Item" not in outside
