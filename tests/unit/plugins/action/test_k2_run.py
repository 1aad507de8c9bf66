# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The k2_run action over a stand-in K2 host (files kept in a dict) with the lock functions replaced.

The lock itself runs against the lab's PostgreSQL in tests/integration/test_run_state.py.
"""

from __future__ import annotations

import json
import shlex
from unittest import mock

import pytest
from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.plugins.shell.sh import ShellModule as Sh

from ansible_collections.erpops.upgrade.plugins.action import k2_run
from ansible_collections.erpops.upgrade.plugins.action.k2_run import ActionModule, controller_identity
from ansible_collections.erpops.upgrade.plugins.module_utils import db as k2db
from ansible_collections.erpops.upgrade.plugins.module_utils import run_lock

FOLDER = "/srv/k2/site/K2"
STATE = FOLDER + ".erpops-run.json"


class Host:
    """A POSIX K2 host: the sh commands of remote_file applied to a dict of files."""

    def __init__(self, shell=None):
        self.shell = shell or Sh()
        self.files, self.commands = {}, []

    def execute(self, command, sudoable=True):  # pylint: disable=unused-argument
        self.commands.append(command)
        if isinstance(self.shell, PowerShell):
            if "Test-Path" in command:
                return dict(rc=0, stdout="absent\n", stderr="")
            return dict(rc=0, stdout="", stderr="")
        words = shlex.split(command)
        if words[0] == "if":
            return dict(rc=0, stdout=("file" if words[3] in self.files else "absent") + "\n", stderr="")
        if words[0] == "cp":
            self.files[words[3]] = self.files[words[2]]
        elif words[0] == "chmod":
            self.files[words[7]] = self.files.pop(words[6])
        elif words[0] == "mv":
            self.files[words[3]] = self.files.pop(words[2])
        return dict(rc=0, stdout="", stderr="")

    def fetch_file(self, remote, local):
        with open(local, "wb") as handle:
            handle.write(self.files[remote])

    def put_file(self, local, remote):
        with open(local, "rb") as handle:
            self.files[remote] = handle.read()

    def state(self, path=STATE):
        return json.loads(self.files[path])


def run_action(host, args, check_mode=False, hostname="site01"):
    task = mock.MagicMock()
    base = {"conf_database": "site01_CONF", "db_platform": "lab", "login_host": "/tmp/pg"}
    base.update(args)
    task.args = base
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = False
    task.action = "erpops.upgrade.k2_run"
    connection = mock.MagicMock()
    connection._shell = host.shell
    connection._shell.tmpdir = None
    connection.fetch_file.side_effect = host.fetch_file
    connection.put_file.side_effect = host.put_file
    action = ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    with mock.patch.object(action, "_low_level_execute_command", side_effect=host.execute):
        return action.run(task_vars={"inventory_hostname": hostname})


@pytest.fixture
def lock(monkeypatch):
    """The lock functions, recorded instead of run: free unless ``held`` or ``lost`` is set."""
    calls = {"acquire": [], "renew": [], "release": [], "held": None, "lost": False}

    def acquire(_connect, _dialect, site_key, run_id, token, controller, seconds, force=False):
        calls["acquire"].append({"site_key": site_key, "run_id": run_id, "token": token, "force": force, "seconds": seconds})
        if calls["held"] and not force:
            raise run_lock.LockError("the site is locked by run other (controller laptop) since ?, lease until ?", calls["held"])
        return {"how": "forced" if calls["held"] else "free", "previous": calls["held"],
                "lock": {"run_id": run_id, "token": token, "controller_host": controller["host"]}}

    def renew(_connect, _dialect, _site_key, token, _seconds):
        calls["renew"].append(token)
        if calls["lost"]:
            raise run_lock.LockError("this job no longer holds the site's lock (now run other)")

    def release(_connect, _dialect, _site_key, token):
        calls["release"].append(token)
        return True

    monkeypatch.setattr(run_lock, "acquire", acquire)
    monkeypatch.setattr(run_lock, "renew", renew)
    monkeypatch.setattr(run_lock, "release", release)
    return calls


def begin(host, **more):
    return run_action(host, dict({"state": "begin", "path": FOLDER, "target_version": "ori.09"}, **more))


def test_begin_on_a_new_site_locks_and_writes_the_state_beside_the_folder(lock):
    host = Host()
    result = begin(host)
    assert not result.get("failed"), result
    assert result["plan"]["action"] == "new" and result["changed"] is False
    state = host.state()
    assert state["run_id"] == result["run_id"] and state["run_id"].startswith("site01-ori.09-")
    assert state["status"] == "running" and state["steps"] == [] and state["lock"]["run_id"] == result["run_id"]
    assert "token" not in state["lock"]
    assert result["lock"]["token"] == lock["acquire"][0]["token"] and result["next_step"] == "preflight"
    # the new file was moved into place, owner-only
    assert any(command.startswith("chmod 600 ") for command in host.commands)


def test_a_held_lock_fails_naming_the_holder_and_writes_nothing(lock):
    lock["held"] = {"run_id": "other", "token": "secret-token", "controller_host": "laptop"}
    host = Host()
    result = begin(host)
    assert result["failed"] and "locked by run other" in result["msg"]
    assert result["holder"] == {"run_id": "other", "controller_host": "laptop"}
    assert host.files == {}


def test_force_takes_the_lock_and_logs_it(lock):
    lock["held"] = {"run_id": "other", "token": "t", "controller_host": "laptop", "controller_user": "novak"}
    host = Host()
    result = begin(host, force=True)
    assert result["taken"] == "forced"
    event = host.state()["events"][-1]
    assert event["event"] == "lock_forced" and event["previous_run_id"] == "other" and "laptop" in event["msg"]


def test_steps_are_recorded_and_a_rerun_resumes_at_the_first_unfinished(lock):
    host = Host()
    first = begin(host)
    for step, result in (("preflight", "started"), ("preflight", "ok"), ("structure_check", "ok"), ("stage", "ok"), ("disk", "ok"),
                         ("maintenance_on", "started")):
        recorded = run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": step, "result": result})
        assert not recorded.get("failed"), recorded
    assert lock["renew"] == [first["lock"]["token"]] * 6
    again = begin(host)
    assert again["plan"]["action"] == "resume" and again["run_id"] == first["run_id"] and again["next_step"] == "maintenance_on"
    assert again["lock"]["token"] != first["lock"]["token"]
    assert [e["event"] for e in host.state()["events"]] == ["start", "resume"]


def test_a_job_that_lost_the_lock_writes_nothing(lock):
    host = Host()
    first = begin(host)
    before = dict(host.files)
    lock["lost"] = True
    for args in ({"state": "step", "step": "preflight"}, {"state": "finish", "status": "failed", "failed_step": "preflight"}):
        result = run_action(host, dict(args, path=FOLDER, lock=first["lock"]))
        assert result["failed"] and "no longer holds" in result["msg"]
    assert host.files == before


def test_finish_done_frees_the_lock_and_a_rerun_has_nothing_to_do(lock):
    host = Host()
    first = begin(host)
    done = run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "done"})
    assert done["released"] and done["state"]["status"] == "done" and "lock" not in done["state"]
    written = dict(host.files)
    again = begin(host)
    assert again["plan"]["action"] == "done" and again["lock"] is None
    assert lock["release"][-1] == lock["acquire"][-1]["token"]
    assert host.files == written


def test_finish_failed_records_the_advice(lock):
    host = Host()
    first = begin(host)
    run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "preflight", "result": "started"})
    failed = run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "failed", "failed_step": "preflight",
                               "msg": "boom"})
    assert failed["advice"]["resume_at"] == "preflight" and failed["advice"]["restore_required"] is False
    state = host.state()
    assert state["status"] == "failed" and state["steps"][-1]["result"] == "failed" and state["steps"][-1]["msg"] == "boom"


def test_finish_failed_without_a_step_records_the_step_the_state_has_open(lock):
    host = Host()
    first = begin(host)
    for step, result in (("preflight", "ok"), ("structure_check", "ok"), ("stage", "ok"), ("disk", "ok"), ("maintenance_on", "ok"),
                         ("backup", "ok"), ("gates", "ok"), ("structure", "ok"), ("backup_after_check", "ok"), ("install", "ok"),
                         ("conversions", "started")):
        run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": step, "result": result})
    convert = {"databases": [{"database": "K2_FIRMA", "files": [{"file": "K2_D2020.sql", "status": "refused - changed"}]}]}
    failed = run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "failed", "msg": "boom",
                               "convert_result": convert})
    assert failed["failed_step"] == "conversions"
    assert failed["advice"]["restore_required"] is True and "K2_FIRMA K2_D2020.sql" in failed["advice"]["next"]
    steps = host.state()["steps"]
    assert [(s["name"], s["result"]) for s in steps[-2:]] == [("install", "ok"), ("conversions", "failed")]


def test_finish_failed_reads_the_conversions_result_only_for_a_failure_in_the_conversions(lock):
    host = Host()
    first = begin(host)
    run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "preflight", "result": "ok", "start_next": True})
    convert = {"databases": [{"database": "K2_FIRMA", "files": [{"file": "K2_D2020.sql", "status": "refused - changed"}]}]}
    failed = run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "failed", "msg": "boom",
                               "convert_result": convert, "install_verdict": {"restore_needed": True}})
    # The end of the preflight recorded the structure check's start: the failure is that step's, and neither result is its.
    assert failed["failed_step"] == "structure_check"
    assert failed["advice"]["restore_required"] is False and failed["advice"]["resume_at"] == "structure_check"


def test_finish_failed_with_no_step_open_records_none(lock):
    host = Host()
    first = begin(host)
    failed = run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "failed", "msg": "boom"})
    assert failed["failed_step"] is None and not any(s.get("result") == "failed" for s in host.state().get("steps") or [])
    assert failed["advice"]["resume_at"] == "preflight"


def test_another_target_is_refused_while_a_run_is_unfinished(lock):
    host = Host()
    begin(host)
    result = begin(host, target_version="ori.10")
    assert result["failed"] and "unfinished reinstall" in result["msg"]
    assert lock["release"], "the lock taken to read the state is freed again"


def test_check_mode_writes_nothing_on_the_site_but_remembers_for_the_run(lock, tmp_path, monkeypatch):
    monkeypatch.setattr(k2_run.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    monkeypatch.setattr(ActionModule, "_peek", lambda self, args: {"how": "free"})
    host = Host()
    first = run_action(host, {"state": "begin", "path": FOLDER, "target_version": "ori.09"}, check_mode=True)
    assert not first.get("failed"), first
    step = run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "preflight"}, check_mode=True)
    assert [s["name"] for s in step["state"]["steps"]] == ["preflight"]
    assert host.files == {} and lock["acquire"] == [] and lock["renew"] == []


def test_read_writes_a_manifest_of_the_states_backups(lock, tmp_path):
    host = Host()
    first = begin(host)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"format": 1, "entries": [
        {"database": "site01_CONF", "file": "/b/c", "taken_at": "t1", "run_id": first["run_id"], "verified": True}]}))
    run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "preflight", "manifest": str(manifest)})
    manifest.unlink()
    read = run_action(host, {"state": "read", "path": FOLDER, "manifest": str(manifest)})
    assert json.loads(manifest.read_text())["entries"][0]["file"] == "/b/c"
    assert read["restore_run_id"] == first["run_id"]


def test_a_step_writes_the_manifest_from_the_state_and_hands_the_play_a_slim_state(lock, tmp_path):
    host = Host()
    first = begin(host)
    manifest = tmp_path / "m.json"
    fingerprint = {"public.T%03d" % number: {"columns": "Cis integer", "rows": 400, "checksum": "0" * 32} for number in range(200)}
    manifest.write_text(json.dumps({"format": 1, "entries": [
        {"database": "site01_CONF", "file": "/b/c", "taken_at": "t1", "run_id": first["run_id"], "verified": True,
         "position": "before_check", "fingerprint": fingerprint},
        {"kind": "folder", "database": None, "file": "/b/k2.tar", "taken_at": "t1", "run_id": first["run_id"], "files": ["k2.exe"]}]}))
    started = run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "preflight", "result": "started",
                                "manifest": str(manifest)})
    assert started["manifest"] == str(manifest)
    manifest.unlink()
    # the end of a step alone writes no manifest; the end that records the next step's start writes it from the state
    ended = run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "preflight", "manifest": str(manifest)})
    assert ended["started_next"] is None and not manifest.exists()
    run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "structure_check", "result": "started"})
    ended = run_action(host, {"state": "step", "path": FOLDER, "lock": first["lock"], "step": "structure_check", "start_next": True,
                              "manifest": str(manifest)})
    assert ended["started_next"] == "stage" and host.state()["steps"][-1]["prestarted"] is True
    entries = json.loads(manifest.read_text())["entries"]
    assert entries[0]["fingerprint"] == fingerprint and entries[1]["files"] == ["k2.exe"]
    assert host.state()["backups"][0]["fingerprint"] == fingerprint
    # the play gets the entries without the bulky parts
    assert [sorted(entry) for entry in started["state"]["backups"]] == [
        ["database", "file", "position", "run_id", "taken_at", "verified"], ["database", "file", "kind", "run_id", "taken_at"]]


def test_restored_retakes_the_restored_lock_row_records_and_frees_it(lock):
    host = Host()
    first = begin(host)
    run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "failed"})
    restore_lock = run_action(host, {"state": "lock", "path": FOLDER})["lock"]
    result = run_action(host, {"state": "restored", "path": FOLDER, "lock": restore_lock, "run_id": first["run_id"],
                               "restored": [{"database": "site01_CONF", "file": "/b/c"}]})
    assert result["changed"] and result["released"]
    assert lock["acquire"][-1]["force"] is True and lock["acquire"][-1]["token"] == restore_lock["token"]
    state = host.state()
    assert state["status"] == "restored" and state["restores"][-1]["databases"] == ["site01_CONF"]
    assert begin(host)["plan"]["action"] == "new"


def test_a_restore_cut_off_by_a_lost_server_is_recorded_without_the_server_and_a_reinstall_refuses(lock, monkeypatch):
    host = Host()
    first = begin(host)
    run_action(host, {"state": "finish", "path": FOLDER, "lock": first["lock"], "status": "failed"})
    restore_lock = run_action(host, {"state": "lock", "path": FOLDER})["lock"]

    def server_gone(*_args):
        raise k2db.DatabaseError("connect", "could not connect to server: Connection refused")
    monkeypatch.setattr(run_lock, "release", server_gone)
    acquired = len(lock["acquire"])
    result = run_action(host, {"state": "restored", "path": FOLDER, "lock": restore_lock, "run_id": first["run_id"],
                               "restored": [{"database": "site01_CONF", "file": "/b/c"}], "not_restored": ["site01_FIRMA"],
                               "folder": True, "inventory": "/inv/lab.yml", "msg": "restore of site01_FIRMA failed: server lost"})
    assert result["changed"] and not result.get("failed") and result["released"] is False
    assert len(lock["acquire"]) == acquired, "nothing is taken from a server that is gone"
    state = host.state()
    assert state["status"] == "partly-restored" and state["restores"][-1]["not_restored"] == ["site01_FIRMA"]
    assert result["next_command"] == state["restores"][-1]["next_command"] and result["next_command"].endswith(
        "-e k2_restore_folder=true -e k2_restore_force_lock=true"), result["next_command"]
    assert result["msg"] == state["advice"] and "NOT restored: site01_FIRMA." in result["msg"]
    assert state["events"][-1]["event"] == "lock_not_freed" and "Connection refused" in state["events"][-1]["msg"]

    monkeypatch.setattr(run_lock, "release", lambda *_args: True)
    refused = begin(host)
    assert refused["failed"] and "partly restored" in refused["msg"] and result["next_command"] in refused["msg"]
    assert len(lock["acquire"]) == acquired, "the refusal comes before the lock (CONF may hold the lock row of backup time)"


def test_powershell_state_path_and_create(lock):
    host = Host(PowerShell())
    result = run_action(host, {"state": "begin", "path": "D:\\K2", "target_version": "ori.09"})
    assert not result.get("failed"), result
    assert "D:\\K2.erpops-run.json" in host.files.keys() or any("D:\\K2.erpops-run.json" in c for c in host.commands)
    assert any("Move-Item -LiteralPath" in command for command in host.commands)


@pytest.mark.parametrize("environ, expected", [({"AWX_JOB_ID": "412"}, "412"), ({"JOB_ID": "77"}, "77"), ({}, None)])
def test_controller_identity_names_the_awx_job(environ, expected):
    assert controller_identity(environ)["awx_job_id"] == expected
