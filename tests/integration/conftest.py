"""Lab fixtures for the integration tests: a real PostgreSQL cluster and K2 sites.

Playbooks run through ansible-runner, as AWX runs them.
"""

import json
import os
import shutil
import sys
import tempfile

import ansible_runner
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for path in (REPO, os.path.join(REPO, "collections")):
    if path not in sys.path:
        sys.path.insert(0, path)

from tools.k2lab import cli as k2lab  # noqa: E402  (needs the paths above)
from tools.k2lab import cluster as k2cluster  # noqa: E402

# ansible-runner starts ansible-playbook from PATH: use the one beside this Python.
os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
PLAYBOOKS = os.path.join(REPO, "tests", "integration", "playbooks")


class PlaybookRun:
    """The outcome of one ansible-runner run: rc, per-host stats and task results."""

    def __init__(self, runner):
        self.rc = runner.rc
        self.status = runner.status
        self.stats = runner.stats or {}
        self.events = list(runner.events)
        self.stdout = runner.stdout.read()

    def changed(self):
        return sum(self.stats.get("changed", {}).values())

    def failed_hosts(self):
        failures = dict(self.stats.get("failures", {}))
        failures.update(self.stats.get("dark", {}))
        return sorted(host for host, count in failures.items() if count)

    def results(self, task_name):
        """{host: result dict} of a task, by its name, for ok and failed events."""
        found = {}
        for event in self.events:
            data = event.get("event_data", {})
            if event.get("event") in ("runner_on_ok", "runner_on_failed") and data.get("task") == task_name:
                result = dict(data["res"])
                result["failed"] = event["event"] == "runner_on_failed"
                found[data["host"]] = result
        return found


def runner_kwargs(private, playbook, inventory, extravars=None, check=False, diff=False, limit=None, fresh_home=False, envvars=None):
    """ansible-runner's arguments for one job; ``fresh_home``: an empty HOME of its own, as AWX gives every job."""
    cmdline = " ".join(flag for flag, on in (("--check", check), ("--diff", diff)) if on)
    env = {
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(REPO, "collections"),
        "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
        "PYTHONPATH": os.pathsep.join([REPO, os.path.join(REPO, "collections")]),
    }
    if fresh_home:
        home = os.path.join(private, "home")
        os.makedirs(home)
        env.update(HOME=home, ANSIBLE_LOCAL_TEMP=os.path.join(home, ".ansible", "tmp"))
    env.update(envvars or {})
    return dict(
        private_data_dir=private,
        playbook=playbook if os.path.isabs(playbook) else os.path.join(REPO, playbook),
        inventory=inventory,
        extravars=extravars or {},
        cmdline=cmdline or None,
        limit=limit,
        quiet=True,
        envvars=env,
    )


def run_playbook(playbook, inventory, extravars=None, check=False, diff=False, limit=None, fresh_home=False, envvars=None):
    private = tempfile.mkdtemp(prefix="erpops-runner-")
    try:
        runner = ansible_runner.run(**runner_kwargs(private, playbook, inventory, extravars, check, diff, limit, fresh_home, envvars))
        return PlaybookRun(runner)
    finally:
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="session")
def lab():
    """Two lab sites on one real PostgreSQL cluster; stopped at the end of the session."""
    lab_dir = tempfile.mkdtemp(prefix="erpops-lab-")
    fleet = os.path.join(lab_dir, "fleet.json")
    with open(fleet, "w", encoding="utf-8") as handle:
        json.dump({"sites": [
            {"name": "north", "version": "gaia.12.3", "mandants": ["FIRMA", "FIRMA2", "FIRMA2_TEST"],
             "missing_inits": ["FIRMA2"], "outdated_extensions": ["Sklad"]},
            {"name": "south", "version": "gaia.12.3", "db_version": "gaia.11.7", "mandants": ["HOLDING"], "torso": True},
        ]}, handle)
    result = k2lab.up(lab_dir, fleet)
    yield {"dir": lab_dir, "fleet": fleet, "inventory": result["inventory"], "cluster": k2cluster.load(lab_dir)}
    k2cluster.remove(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)
