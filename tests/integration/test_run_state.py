"""The site keeps its own run state: kill, resume, restore, one run at a time, module_defaults.

Every job runs through ansible-runner with a fresh private data dir and a fresh HOME, as AWX
runs it; the backups go to a folder outside every job (``k2_backup_dir``, on the database
server's side in real life), everything else a job knows comes from the site.

Site ``kill`` (gaia.12.3 -> ori.09, a generation change with one-time conversions):

1. job 1 runs until its conversion of FIRMA waits on a table lock the test holds, and is
   killed (SIGKILL of ansible-playbook; its worker keeps running the conversion and renews
   the lease); job 2 starts now and refuses at once, naming job 1's run, having changed nothing;
2. the table lock goes, job 1's worker finishes its conversion and its lease runs out; job 3
   waits for the lease, takes the lock over, resumes at the conversions and finishes: every
   one-time conversion applied exactly once (the lab's marker table);
3. job 4 restores the site from the backups the site's state records; job 5 (a dry run)
   starts afresh and says why.

Site ``race``: two jobs started together, exactly one runs; a lock left with a live lease
refuses, ``force`` takes it at once and the state logs it; a play-level ``module_defaults``
reaches the modules inside the role.
"""

import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timezone

import ansible_runner
import pytest

from conftest import REPO, PlaybookRun, runner_kwargs
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

TARGET = "ori.09"
PLAYBOOK = "playbooks/k2_reinstall.yml"
LOCK_TASK = "Take the site's lock and read its run state (one run at a time)"
SHORT_LEASE = 6


@pytest.fixture(scope="module")
def lab():
    lab_dir = tempfile.mkdtemp(prefix="erpops-runstate-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [
            {"name": "kill", "company_tables": 5, "mandants": ["FIRMA"]},
            {"name": "race", "company_tables": 5, "mandants": ["FIRMA"]},
        ]}, handle)
    inventory_path = k2lab.up(lab_dir, fleet_path)["inventory"]
    with open(inventory_path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    hosts = inventory["all"]["children"]["k2_sites"]["hosts"]
    for name, host in hosts.items():
        host["k2_backup_dir"] = os.path.join(lab_dir, "backups", name)
    with open(inventory_path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    cluster = k2cluster.load(lab_dir)
    workers = []
    yield {"dir": lab_dir, "inventory": inventory_path, "hosts": hosts, "cluster": cluster, "workers": workers,
           "release": k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=5)["archive"]}
    for pid in workers:  # a killed job's worker, if it still runs (started by this test)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def extravars(lab, **more):
    values = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": lab["release"], "k2_session_login": "k2",
              # A copied K2 (the collection converts); the generation change goes on without a test reinstall, waived.
              "k2_install_method": "copy", "k2_reinstall_waive_test_reinstall": True,
              "fleet_report_dir": os.path.join(lab["dir"], "reports"), "k2_reinstall_restore_inventory": lab["inventory"]}
    values.update(more)
    return values


class Job:
    """One ansible-runner job started in the background, with its own private data dir and HOME."""

    def __init__(self, playbook, inventory, limit, extravars, check=False, job_id=None, playbook_path=None):
        self.marker = uuid.uuid4().hex
        self.private = tempfile.mkdtemp(prefix="erpops-job-")
        env = {"ERPOPS_TEST_JOB": self.marker}
        if job_id:
            env["JOB_ID"] = str(job_id)
        kwargs = runner_kwargs(self.private, playbook_path or playbook, inventory, extravars, check=check, limit=limit, fresh_home=True,
                               envvars=env)
        self.started = time.monotonic()
        self.started_at = datetime.now(timezone.utc)
        self.thread, self.runner = ansible_runner.run_async(**kwargs)
        self.seconds = None
        self.run = None

    def wait(self, timeout=900):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the job did not end in %d s" % timeout
        self.run = PlaybookRun(self.runner)
        # from the job's own events: joining one job after another must not count the wait for the first
        times = [self._time(event) for event in self.run.events if event.get("created")]
        self.seconds = (max(times) - self.started_at).total_seconds() if times else time.monotonic() - self.started
        shutil.rmtree(self.private, ignore_errors=True)
        return self.run

    @staticmethod
    def _time(event):
        created = datetime.fromisoformat(event["created"].replace("Z", "+00:00"))
        return created if created.tzinfo else created.replace(tzinfo=timezone.utc)

    def seconds_to(self, task_name, since_playbook_start=False):
        """Seconds from the job's start (or from the playbook's start, after ansible-playbook loaded) to the end of ``task_name``."""
        start = self.started_at
        if since_playbook_start:
            start = next(self._time(event) for event in self.run.events if event.get("event") == "playbook_on_start")
        for event in self.run.events:
            if event.get("event") in ("runner_on_ok", "runner_on_failed") and event["event_data"].get("task") == task_name:
                return (self._time(event) - start).total_seconds()
        return None

    def pids(self):
        """(ansible-playbook's pid, its workers' pids), found by the job's marker in their environment."""
        main, workers = None, []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % entry, "rb") as handle:
                    if ("ERPOPS_TEST_JOB=%s" % self.marker).encode() not in handle.read().split(b"\0"):
                        continue
                with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == os.getpid():
                main = int(entry)
            else:
                workers.append((int(entry), ppid))
        return main, [pid for pid, ppid in workers if ppid == main]


def reinstall(lab, site, check=False, job_id=None, **more):
    return Job(PLAYBOOK, lab["inventory"], site, extravars(lab, **more), check=check, job_id=job_id)


def sql(lab, text, database):
    return k2cluster.psql(lab["cluster"], text, database=database).strip()


def state_of(lab, site):
    with open(lab["hosts"][site]["k2_folder"].rstrip("/") + ".erpops-run.json", encoding="utf-8") as handle:
        return json.load(handle)


def result_of(run, host):
    for task in ("Sum up the run", "Say what failed and what to do", "Say why the site is not reinstalled",
                 "Say that the site is already reinstalled"):
        found = run.results(task).get(host)
        if found:
            return found["ansible_facts"]["k2_reinstall_result"]
    return None


def folder_hashes(path):
    hashes = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            with open(full, "rb") as handle:
                hashes[os.path.relpath(full, path)] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


def observed(lab, site):
    """What a run that refuses must leave as it found: ban, sessions, lock holder, backups, the state and the folder."""
    folder = lab["hosts"][site]["k2_folder"]
    backups = os.path.join(lab["dir"], "backups", site)
    with open(folder.rstrip("/") + ".erpops-run.json", "rb") as handle:
        state_bytes = handle.read()
    return {
        "ban": sql(lab, 'SELECT * FROM "REINSTALACE"', "%s_CONF" % site),
        # The long-lived sessions (the killed job's blocked conversion, the test's blocker): a refusing run must end
        # none of them. The lease renewals' short connections (a fresh one every two seconds) come and go on their own.
        "sessions": set(sql(lab, "SELECT pid, datname, usename, application_name, backend_start FROM pg_stat_activity "
                                 "WHERE datname LIKE '%s\\_%%' AND backend_start < now() - interval '5 seconds'" % site,
                            "postgres").splitlines()),
        "lock": sql(lab, 'SELECT "RUN_ID", "HOLDER_TOKEN", "CONTROLLER_HOST", "SINCE" FROM "ERPOPS_RUN_LOCK"', "%s_CONF" % site),
        "backups": sorted((name, os.path.getsize(os.path.join(backups, name))) for name in os.listdir(backups)),
        "state": state_bytes,
        "folder": folder_hashes(folder),
    }


class TableLock:
    """A session of the cluster owner holding a SHARE lock on the lab's marker table: reads pass, inserts wait.

    The table is made by the K2 login (the conversions write it); the lock is held by the owner, not by a K2
    session, which the maintenance window would rightly refuse to leave alone.
    """

    def __init__(self, lab, database):
        cluster = lab["cluster"]
        psql = os.path.join(cluster.bin_dir, "psql")
        env = dict(os.environ, PGAPPNAME="test-blocker", PGPASSWORD=cluster.password)
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"] + cluster.dsn_args(database, superuser=False) + [
            "-c", 'CREATE TABLE IF NOT EXISTS "K2LAB_KONVERZE" ("SOUBOR" varchar(260) NOT NULL, "DAVKA" integer NOT NULL, '
                  '"POZNAMKA" varchar(400) NULL)'], env=env, check=True)
        self.process = subprocess.Popen([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"] + cluster.dsn_args(database, superuser=True),
                                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
        self.process.stdin.write('BEGIN;\nLOCK TABLE "K2LAB_KONVERZE" IN SHARE MODE;\n')
        self.process.stdin.flush()
        self.database = database
        deadline = time.monotonic() + 20
        while sql(lab, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                       "WHERE a.application_name = 'test-blocker' AND l.mode = 'ShareLock' AND l.granted", "postgres") != "1":
            assert time.monotonic() < deadline, "the blocking session did not take its lock"
            time.sleep(0.2)

    def release(self):
        if self.process.poll() is None:
            self.process.stdin.write("ROLLBACK;\n\\q\n")
            self.process.stdin.flush()
            self.process.wait(timeout=20)


def waiting_conversion(lab, database):
    return sql(lab, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND wait_event_type = 'Lock' "
                    "AND application_name <> 'test-blocker'" % database, "postgres")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid, encoding="utf-8") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def killed(lab):
    """Jobs 1 to 5 on the site ``kill``, in order, and what was seen between them."""
    seen = {}
    blocker = TableLock(lab, "kill_FIRMA")
    try:
        job1 = reinstall(lab, "kill", k2_reinstall_lease_seconds=SHORT_LEASE)
        deadline = time.monotonic() + 600
        while waiting_conversion(lab, "kill_FIRMA") == "0":
            if not job1.thread.is_alive():
                pytest.fail("job 1 ended before the conversion of FIRMA waited: %s" % job1.wait().stdout[-4000:])
            assert time.monotonic() < deadline, "job 1 never reached the conversion of FIRMA"
            time.sleep(0.5)
        main, workers = job1.pids()
        assert main and workers, (main, workers)
        lab["workers"].extend(workers)
        seen["state_before_kill"] = state_of(lab, "kill")
        os.kill(main, signal.SIGKILL)
        seen["job1"] = job1.wait()
        seen["workers_alive_after_kill"] = [pid for pid in workers if alive(pid)]
        seen["before_job2"] = observed(lab, "kill")
        job2 = reinstall(lab, "kill", k2_reinstall_lease_seconds=SHORT_LEASE)
        seen["job2"] = job2.wait()
        seen["job2_seconds"] = job2.seconds_to(LOCK_TASK, since_playbook_start=True)
        seen["job2_from_process_start"] = job2.seconds_to(LOCK_TASK)
        seen["job2_total_seconds"] = job2.seconds
        seen["after_job2"] = observed(lab, "kill")
        seen["still_waiting_after_job2"] = waiting_conversion(lab, "kill_FIRMA")
    finally:
        blocker.release()
    seen["job3_started"] = time.monotonic()
    job3 = reinstall(lab, "kill", k2_reinstall_lease_seconds=SHORT_LEASE, k2_reinstall_lock_wait=300)
    seen["job3"] = job3.wait()
    seen["state_after_job3"] = state_of(lab, "kill")
    seen["markers_after_job3"] = {db: sql(lab, 'SELECT "SOUBOR", count(*) FROM "K2LAB_KONVERZE" WHERE "DAVKA" = 2 GROUP BY 1 ORDER BY 1', db)
                                  for db in ("kill_CONF", "kill_FIRMA")}
    seen["version_after_job3"] = sql(lab, 'SELECT * FROM "K2VERZE"', "kill_FIRMA")
    job4 = Job("playbooks/k2_restore.yml", lab["inventory"], "kill", {})
    seen["job4"] = job4.wait()
    seen["state_after_job4"] = state_of(lab, "kill")
    seen["version_after_job4"] = sql(lab, 'SELECT * FROM "K2VERZE"', "kill_FIRMA")
    seen["markers_after_job4"] = sql(lab, 'SELECT count(*) FROM "K2LAB_KONVERZE" WHERE "DAVKA" = 2', "kill_FIRMA")
    seen["lock_after_job4"] = sql(lab, 'SELECT coalesce("RUN_ID", \'free\') FROM "ERPOPS_RUN_LOCK"', "kill_CONF")
    # the restored databases are behind the folder's K2 (the folder was not restored): a no-go the report names
    job5 = reinstall(lab, "kill", check=True, k2_nogo_ok=True)
    seen["job5"] = job5.wait()
    return seen


def test_a_killed_jobs_worker_keeps_the_site_and_a_second_job_refuses_changing_nothing(killed):
    assert killed["job1"].rc != 0
    assert killed["workers_alive_after_kill"], "the worker running the conversion should outlive ansible-playbook"
    run_id = killed["state_before_kill"]["run_id"]
    assert [s["name"] for s in killed["state_before_kill"]["steps"] if s["result"] == "started"] == ["conversions"]
    job2 = killed["job2"]
    print("job 2 refused %.1f s after its playbook started, %.1f s after its process started (whole job %.1f s)"
          % (killed["job2_seconds"], killed["job2_from_process_start"], killed["job2_total_seconds"]))
    assert job2.rc != 0 and killed["job2_seconds"] < 10
    lock = job2.results(LOCK_TASK)["kill"]
    assert lock["failed"] and "the site is locked by run %s" % run_id in lock["msg"] and "lease until" in lock["msg"]
    assert lock["holder"]["run_id"] == run_id and lock["holder"]["controller_host"]
    before, after = dict(killed["before_job2"]), dict(killed["after_job2"])
    sessions_before, sessions_after = before.pop("sessions"), after.pop("sessions")
    assert sessions_before, "the blocked conversion's and the blocker's sessions are there to be kept"
    assert sessions_before <= sessions_after, "the refusing job ended a session: %s" % (sessions_before - sessions_after)
    assert after == before
    assert killed["still_waiting_after_job2"] == "1"


def test_the_next_job_takes_the_expired_lock_over_and_resumes_at_the_conversions(killed):
    job3 = killed["job3"]
    assert job3.rc == 0, job3.stdout[-3000:]
    result = result_of(job3, "kill")
    run_id = killed["state_before_kill"]["run_id"]
    assert result["run_id"] == run_id and result["steps_run"] == ["conversions", "extensions", "post_checks", "maintenance_off"]
    state = killed["state_after_job3"]
    assert state["status"] == "done" and state["one_time_started"] is True
    events = [(e["event"], e.get("previous_run_id")) for e in state["events"]]
    assert ("lock_expired", run_id) in events and ("resume", None) in events
    # the conversion the killed job started: its attempt stays open, the resumed one ended ok
    conversions = [s["result"] for s in state["steps"] if s["name"] == "conversions"]
    assert conversions == ["ok"]
    # every one-time conversion ran exactly once, though two jobs ran the conversions
    for database, rows in killed["markers_after_job3"].items():
        lines = [line.split("|") for line in rows.splitlines()]
        assert lines and all(count == "1" for _name, count in lines), (database, rows)
    assert TARGET in killed["version_after_job3"]


def test_a_job_that_never_saw_the_backups_restores_the_site_from_its_state(killed):
    job4 = killed["job4"]
    assert job4.rc == 0, job4.stdout[-3000:]
    state = killed["state_after_job4"]
    run_id = killed["state_before_kill"]["run_id"]
    assert state["status"] == "restored"
    restore = state["restores"][-1]
    # CONF and the production mandant at least (k2_backup also backs up DEMO and INIT where they exist)
    assert restore["run_id"] == run_id and {"kill_CONF", "kill_FIRMA"} <= set(restore["databases"])
    assert "gaia.12.3" in killed["version_after_job4"] and killed["markers_after_job4"] == "0"
    assert killed["lock_after_job4"] == "free"


def test_the_reinstall_after_a_restore_starts_afresh_and_says_why(killed):
    job5 = killed["job5"]
    assert job5.rc == 0, job5.stdout[-3000:]
    begin = job5.results(LOCK_TASK)["kill"]
    assert begin["plan"]["action"] == "new"
    assert "starts afresh: the databases were restored" in begin["plan"]["why"] and killed["state_before_kill"]["run_id"] in begin["plan"]["why"]


# -- site race --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raced(lab):
    first, second = reinstall(lab, "race", job_id=501), reinstall(lab, "race", job_id=502)
    runs = {501: first.wait(), 502: second.wait()}
    return {"runs": runs, "seconds": {501: first.seconds_to(LOCK_TASK, True), 502: second.seconds_to(LOCK_TASK, True)},
            "from_process_start": {501: first.seconds_to(LOCK_TASK), 502: second.seconds_to(LOCK_TASK)},
            "total": {501: first.seconds, 502: second.seconds}}


def test_two_jobs_started_together_exactly_one_runs(lab, raced):
    runs = raced["runs"]
    winners = [job for job, run in runs.items() if run.rc == 0]
    losers = [job for job, run in runs.items() if run.rc != 0]
    assert len(winners) == 1 and len(losers) == 1, {job: run.stdout[-2000:] for job, run in runs.items()}
    winner, loser = winners[0], losers[0]
    assert result_of(runs[winner], "race")["status"] == "done"
    print("the losing job refused %.1f s after its playbook started, %.1f s after its process started (whole job %.1f s, the winner %.1f s)"
          % (raced["seconds"][loser], raced["from_process_start"][loser], raced["total"][loser], raced["total"][winner]))
    assert raced["seconds"][loser] < 10
    lock = runs[loser].results(LOCK_TASK)["race"]
    assert "the site is locked by run race-%s-" % TARGET in lock["msg"] and "AWX job %d" % winner in lock["msg"]
    # the loser ran nothing of the role past the lock, and changed nothing
    role_tasks = [e["event_data"]["task"] for e in runs[loser].events
                  if e.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped")
                  and "k2_reinstall" in (e["event_data"].get("role") or "")
                  and not e["event_data"]["task"].startswith("Validating arguments")]
    assert role_tasks == ["Check the request", LOCK_TASK]
    assert not [e for e in runs[loser].events if e.get("event") == "runner_on_ok" and e["event_data"]["res"].get("changed")
                and "k2_reinstall" in (e["event_data"].get("role") or "")]
    state = state_of(lab, "race")
    assert state["controller"]["awx_job_id"] == str(winner) and state["status"] == "done"


def ghost_lock(lab):
    sql(lab, 'UPDATE "ERPOPS_RUN_LOCK" SET "RUN_ID" = \'race-ghost-run\', "HOLDER_TOKEN" = \'ghost\', "CONTROLLER_HOST" = \'ghost-host\', '
             '"CONTROLLER_USER" = \'novak\', "AWX_JOB_ID" = \'77\', "SINCE" = now() AT TIME ZONE \'UTC\', '
             '"LEASE_UNTIL" = (now() AT TIME ZONE \'UTC\') + interval \'1 hour\'', "race_CONF")


def test_a_live_lock_refuses_and_force_takes_it_logging_it(lab, raced):
    del raced
    ghost_lock(lab)
    try:
        live_lock_refuses_and_force_takes_it(lab)
    finally:
        sql(lab, 'UPDATE "ERPOPS_RUN_LOCK" SET "RUN_ID" = NULL, "HOLDER_TOKEN" = NULL, "LEASE_UNTIL" = NULL '
                 'WHERE "HOLDER_TOKEN" = \'ghost\'', "race_CONF")


def live_lock_refuses_and_force_takes_it(lab):
    refused = reinstall(lab, "race")
    run = refused.wait()
    print("a live lock refused %.1f s after the playbook started (%.1f s after the process)"
          % (refused.seconds_to(LOCK_TASK, True), refused.seconds_to(LOCK_TASK)))
    assert run.rc != 0 and refused.seconds_to(LOCK_TASK, True) < 10
    msg = run.results(LOCK_TASK)["race"]["msg"]
    assert "run race-ghost-run (controller ghost-host, user novak, AWX job 77)" in msg
    forced = reinstall(lab, "race", k2_reinstall_force_lock=True).wait()
    assert forced.rc == 0, forced.stdout[-3000:]
    assert result_of(forced, "race")["msg"].startswith("already reinstalled to %s" % TARGET)
    event = state_of(lab, "race")["events"][-1]
    assert event["event"] == "lock_forced" and event["previous_run_id"] == "race-ghost-run" and "ghost-host" in event["msg"]
    assert sql(lab, 'SELECT coalesce("RUN_ID", \'free\') FROM "ERPOPS_RUN_LOCK"', "race_CONF") == "free"


def odbc_driver_library():
    found = sorted(glob.glob("/usr/lib/*/odbc/psqlodbcw.so") + glob.glob("/usr/lib/odbc/psqlodbcw.so") + glob.glob("/usr/lib64/psqlodbcw.so"))
    return found[0] if found else None


def test_play_level_module_defaults_reach_the_modules_inside_the_role(lab, raced):
    del raced
    playbook = os.path.join(REPO, "tests", "integration", "playbooks", "reinstall_module_defaults.yml")
    bogus = Job(None, lab["inventory"], "race", extravars(lab, lab_odbc_driver="No Such Driver 17"), check=True, playbook_path=playbook).wait()
    begin = bogus.results(LOCK_TASK)["race"]
    assert begin["failed"] and "No Such Driver 17" in begin["msg"] and "driver missing" in begin["msg"]
    library = odbc_driver_library()
    if library is None:
        pytest.skip("the PostgreSQL ODBC driver library was not found by path")
    real = Job(None, lab["inventory"], "race", extravars(lab, lab_odbc_driver=library), check=True, playbook_path=playbook).wait()
    assert real.rc == 0, real.stdout[-3000:]
    assert real.results(LOCK_TASK)["race"]["plan"]["action"] == "done"
