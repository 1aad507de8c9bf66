# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: erpops.upgrade.k2_webconfig_maintenance through a real ansible-playbook against localhost (K2-03)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
PLAYBOOK_BIN = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
FIXTURE = os.path.join(REPO, "tests", "unit", "fixtures", "webconfig", "web.config")

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Switch the maintenance page
      erpops.upgrade.k2_webconfig_maintenance:
        path: "{{ web_config }}"
        state: "{{ wanted_state }}"
        backup: "{{ keep_backup | default(false) }}"
        create_rule: "{{ add_rule | default(false) }}"
      register: switched
    - name: Show the result
      ansible.builtin.debug:
        var: switched
"""

pytestmark = pytest.mark.skipif(not os.path.exists(PLAYBOOK_BIN), reason="needs the project's .venv with ansible-core")


def run_playbook(tmp_path, web_config, *options, **extra_vars):
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    variables = dict(web_config=str(web_config), ansible_connection="local", ansible_python_interpreter=sys.executable, **extra_vars)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"), ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_STDOUT_CALLBACK="default",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")  # the assertions read the JSON result, whatever ansible.cfg says
    command = [PLAYBOOK_BIN, "-i", "localhost,", str(playbook), "-e", json.dumps(variables)] + list(options)
    return subprocess.run(command, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=300, check=False)


def recap(output: str) -> dict:
    match = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert match, output
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, match.groups())))


def web_config_copy(tmp_path):
    site = tmp_path / "K2 Web's site"
    site.mkdir()
    target = site / "web.config"
    with open(FIXTURE, "rb") as source:
        original = source.read()
    target.write_bytes(original)
    os.chmod(str(target), 0o640)
    return target, original


def test_check_diff_run_backup_and_idempotence(tmp_path):
    target, original = web_config_copy(tmp_path)
    expected = original.replace(b'        <rule name="Site Maintenance" enabled="false" stopProcessing="true">\r\n          <match url=".*" />\r\n'
                                b'          <conditions logicalGrouping="MatchAll" trackAllCaptures="false">',
                                b'        <rule name="Site Maintenance" enabled="true" stopProcessing="true">\r\n          <match url=".*" />\r\n'
                                b'          <conditions logicalGrouping="MatchAll" trackAllCaptures="false">')
    assert expected != original

    checked = run_playbook(tmp_path, target, "--check", "--diff", wanted_state="enabled")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert recap(checked.stdout)["changed"] == 1
    assert '-        <rule name="Site Maintenance" enabled="false" stopProcessing="true">' in checked.stdout
    assert '+        <rule name="Site Maintenance" enabled="true" stopProcessing="true">' in checked.stdout
    assert target.read_bytes() == original
    assert sorted(p.name for p in target.parent.iterdir()) == ["web.config"]

    applied = run_playbook(tmp_path, target, wanted_state="enabled", keep_backup=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert recap(applied.stdout)["changed"] == 1
    assert target.read_bytes() == expected
    assert oct(os.stat(str(target)).st_mode & 0o777) == oct(0o640)
    backups = [p for p in target.parent.iterdir() if p.name != "web.config"]
    assert len(backups) == 1 and re.match(r"^web\.config\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$", backups[0].name), backups
    assert backups[0].read_bytes() == original
    assert '"backup_file": "%s"' % backups[0] in applied.stdout
    assert '"previous_state": "disabled"' in applied.stdout

    again = run_playbook(tmp_path, target, wanted_state="enabled", keep_backup=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout) == dict(ok=2, changed=0, unreachable=0, failed=0)
    assert target.read_bytes() == expected
    assert len(list(target.parent.iterdir())) == 2

    back = run_playbook(tmp_path, target, wanted_state="disabled")
    assert recap(back.stdout)["changed"] == 1
    assert target.read_bytes() == original


def test_failures_leave_the_file_untouched(tmp_path):
    target, original = web_config_copy(tmp_path)
    broken = original.replace(b"</rewrite>", b"</rewrit>")
    target.write_bytes(broken)
    malformed = run_playbook(tmp_path, target, wanted_state="enabled", keep_backup=True)
    assert recap(malformed.stdout)["failed"] == 1
    assert "not well-formed XML: mismatched tag at line 211, column 7" in malformed.stdout
    assert "Traceback" not in malformed.stdout + malformed.stderr
    assert target.read_bytes() == broken
    assert sorted(p.name for p in target.parent.iterdir()) == ["web.config"]

    missing = run_playbook(tmp_path, target.parent / "nothing" / "web.config", wanted_state="enabled")
    assert recap(missing.stdout)["failed"] == 1
    assert "web.config not found: %s does not exist" % (target.parent / "nothing" / "web.config") in missing.stdout

    target.write_bytes(original.replace(b'name="Site Maintenance" enabled="false" stopProcessing="true">\r\n          <match url=".*" />\r\n'
                                        b'          <conditions logicalGrouping="MatchAll" trackAllCaptures="false">',
                                        b'name="Other" enabled="false" stopProcessing="true">\r\n          <match url=".*" />\r\n'
                                        b'          <conditions logicalGrouping="MatchAll" trackAllCaptures="false">'))
    no_rule = run_playbook(tmp_path, target, wanted_state="enabled")
    assert recap(no_rule.stdout)["failed"] == 1
    assert "has no rewrite rule named 'Site Maintenance'" in no_rule.stdout

    created = run_playbook(tmp_path, target, wanted_state="enabled", add_rule=True)
    assert recap(created.stdout)["changed"] == 1
    assert '"rule_created": true' in created.stdout
    assert b'        <rule name="Site Maintenance" enabled="true" stopProcessing="true">\r\n          <match url=".*" />\r\n' \
           b'          <conditions logicalGrouping="MatchAll">\r\n' in target.read_bytes()
