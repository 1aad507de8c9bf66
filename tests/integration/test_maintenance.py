"""k2_login_ban and k2_kill_sessions through real playbooks against the lab's real PostgreSQL.

Real psql clients stand for K2 clients: idle, busy (pg_sleep) and idle inside a
transaction, from two "hosts" (application names ``K2@PC-A`` and ``K2@PC-B``).
What was killed is checked in pg_stat_activity, not in the module's answer.
"""

import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import run_playbook
from tools.k2lab import cluster as k2cluster

SITE = "north"
CONF = "north_CONF"
FIRMA = "north_FIRMA"
KILL = "tests/integration/playbooks/maintenance_kill.yml"
BAN = "tests/integration/playbooks/maintenance_ban.yml"


def sql(lab, text, database=CONF):
    return k2cluster.psql(lab["cluster"], text, database=database).strip()


@pytest.fixture
def restore_conf(lab):
    """Put the licence sessions and the ban row back as they were, for the other tests of the session."""
    for table in ("LICSESSION", "REINSTALACE"):
        sql(lab, 'CREATE TABLE "erpops_backup_%s" AS SELECT * FROM "%s"' % (table, table))
    yield
    for table in ("LICSESSION", "REINSTALACE"):
        sql(lab, 'DELETE FROM "%s"; INSERT INTO "%s" SELECT * FROM "erpops_backup_%s"; DROP TABLE "erpops_backup_%s"' % (table, table, table, table))


class Client:
    """A psql process holding one session of the K2 login open."""

    def __init__(self, lab, appname, script):
        cluster = lab["cluster"]
        env = dict(os.environ, PGAPPNAME=appname, PGPASSWORD=cluster.password)
        argv = [os.path.join(cluster.bin_dir, "psql"), "-X", "-q"] + cluster.dsn_args(FIRMA, superuser=False)
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
        self.process.stdin.write(script)
        self.process.stdin.flush()
        self.appname = appname
        self.pid = None

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def states(lab):
    """{pid: (application_name, state)} of the K2 login's client backends."""
    out = sql(lab, "SELECT pid, application_name, state FROM pg_stat_activity WHERE usename = 'k2' AND backend_type = 'client backend'", "postgres")
    return {int(line.split("|")[0]): tuple(line.split("|")[1:]) for line in out.splitlines() if line}


@pytest.fixture
def clients(lab):
    """Idle and busy on PC-A; idle and idle in transaction on PC-B; waits until the server shows each one's state."""
    wanted = {
        "idle_a": ("K2@PC-A", "SELECT 1;\n", "idle"),
        "busy_a": ("K2@PC-A", "SELECT pg_sleep(600);\n", "active"),
        "idle_b": ("K2@PC-B", "SELECT 2;\n", "idle"),
        "xact_b": ("K2@PC-B", "BEGIN;\nSELECT 3;\n", "idle in transaction"),
    }
    started = {}
    try:
        for name, (appname, script, _state) in wanted.items():
            before = set(states(lab))
            started[name] = Client(lab, appname, script)
            deadline = time.monotonic() + 10
            while started[name].pid is None:
                assert time.monotonic() < deadline, "psql session %s did not show up" % name
                new = {pid: row for pid, row in states(lab).items() if pid not in before and row == (appname, wanted[name][2])}
                if new:
                    started[name].pid = sorted(new)[0]
                else:
                    time.sleep(0.1)
        yield started
    finally:
        for client in started.values():
            client.close()


def killed_pids(result):
    return sorted(v["pid"] for v in result["victims"])


def test_kill_sessions_idle_only_then_force(lab, clients, restore_conf):
    pids = {name: c.pid for name, c in clients.items()}
    licences_before = sql(lab, 'SELECT count(*) FROM "LICSESSION"')
    assert licences_before == "2"

    check = run_playbook(KILL, lab["inventory"], limit=SITE, check=True, diff=True)
    result = check.results("Kill sessions")[SITE]
    assert check.rc == 0, check.stdout
    assert killed_pids(result) == sorted([pids["idle_a"], pids["idle_b"]])
    assert sorted(s["pid"] for s in result["spared"]) == sorted([pids["busy_a"], pids["xact_b"]])
    assert len(result["licence_sessions"]["logged_off"]) == 2 and result["changed"]
    assert set(pids.values()) <= set(states(lab)), "check mode killed a session"
    assert sql(lab, 'SELECT count(*) FROM "LICSESSION"') == "2"

    only_a = run_playbook(KILL, lab["inventory"], limit=SITE, extravars={"kill_hosts": ["pc-a"]})
    result = only_a.results("Kill sessions")[SITE]
    assert only_a.rc == 0, only_a.stdout
    assert killed_pids(result) == [pids["idle_a"]] and [g["pid"] for g in result["gone"]] == [pids["idle_a"]]
    alive = set(states(lab))
    assert pids["idle_a"] not in alive and {pids["busy_a"], pids["idle_b"], pids["xact_b"]} <= alive
    assert sql(lab, 'SELECT count(*) FROM "LICSESSION"') == "2", "the hosts filter applies to licence sessions too"
    assert result["licence_sessions"]["logged_off"] == []

    default = run_playbook(KILL, lab["inventory"], limit=SITE)
    result = default.results("Kill sessions")[SITE]
    assert default.rc == 0, default.stdout
    assert killed_pids(result) == [pids["idle_b"]] and result["still_there"] == []
    assert sorted((s["pid"], s["reason"]) for s in result["spared"]) == sorted(
        [(pids["busy_a"], "busy"), (pids["xact_b"], "idle inside a transaction")])
    assert sorted(l["host"] for l in result["licence_sessions"]["logged_off"]) == ["PC-UCTARNA", "SRV-APP01"]
    assert sql(lab, 'SELECT count(*) FROM "LICSESSION"') == "0"
    alive = set(states(lab))
    assert pids["idle_b"] not in alive and {pids["busy_a"], pids["xact_b"]} <= alive
    assert int(result["own_session"]) not in [pids[n] for n in pids]
    assert result["sessions_left"] == 2

    again = run_playbook(KILL, lab["inventory"], limit=SITE)
    assert again.rc == 0 and again.changed() == 0, again.stdout
    assert {pids["busy_a"], pids["xact_b"]} <= set(states(lab))

    force = run_playbook(KILL, lab["inventory"], limit=SITE, extravars={"kill_force": True})
    result = force.results("Kill sessions")[SITE]
    assert force.rc == 0, force.stdout
    assert killed_pids(result) == sorted([pids["busy_a"], pids["xact_b"]])
    assert sorted(g["pid"] for g in result["gone"]) == killed_pids(result) and result["sessions_left"] == 0
    assert not set(pids.values()) & set(states(lab))
    # its own session was listed by nobody and survived to re-read the others
    assert str(result["own_session"]) not in [str(v["pid"]) for v in result["victims"]]


def ban_row(lab):
    return sql(lab, 'SELECT "ZakazPrihlaseni", to_char("ZakazOd", \'YYYY-MM-DD HH24:MI\'), "Zprava", "Uzivatel" FROM "REINSTALACE"')


def test_login_ban_check_diff_idempotence_and_bad_input(lab, restore_conf):
    wanted = {"ban_start": "2099-03-05T18:00", "ban_timezone": "Europe/Prague", "ban_message": "Od %s reinstalace K2 (100%%)",
              "ban_exempt_user": "ADMIN"}
    untouched = ban_row(lab)
    assert untouched.startswith("0|")

    check = run_playbook(BAN, lab["inventory"], extravars=wanted, limit=SITE, check=True, diff=True)
    result = check.results("Login ban")[SITE]
    assert check.rc == 0 and result["changed"], check.stdout
    assert result["diff"]["before"]["enabled"] is False
    assert result["diff"]["after"] == {"enabled": True, "start": "2099-03-05 18:00:00", "message": "Od %s reinstalace K2 (100%%)",
                                       "exempt_user": "ADMIN"}
    assert ban_row(lab) == untouched, "check mode wrote the ban"

    first = run_playbook(BAN, lab["inventory"], extravars=wanted, limit=SITE)
    ban = first.results("Login ban")[SITE]["ban"]
    assert first.rc == 0 and first.changed() == 1, first.stdout
    assert ban["message_shown"] == "Od 5.3.2099 18:00 reinstalace K2 (100%)"
    assert ban["status"] == "pending" and ban["active"] is False
    assert ban["start_iso"] == "2099-03-05T18:00:00+01:00"
    assert ban_row(lab) == "1|2099-03-05 18:00|Od %s reinstalace K2 (100%%)|ADMIN"

    second = run_playbook(BAN, lab["inventory"], extravars=wanted, limit=SITE)
    assert second.rc == 0 and second.changed() == 0, second.stdout

    for bad, fragment in ((dict(wanted, ban_message="Od %s do %s"), "holds 2 %s"),
                          (dict(wanted, ban_message="Od %d", ban_start="2100-01-01T00:00"), "'%d'"),
                          (dict(wanted, ban_start="2001-01-01T00:00Z"), "lies in the past")):
        refused = run_playbook(BAN, lab["inventory"], extravars=bad, limit=SITE)
        result = refused.results("Login ban")[SITE]
        assert result["failed"] and fragment in result["msg"], result
        assert ban_row(lab) == "1|2099-03-05 18:00|Od %s reinstalace K2 (100%%)|ADMIN"

    lifted = run_playbook(BAN, lab["inventory"], extravars={"ban_state": "absent"}, limit=SITE)
    assert lifted.rc == 0 and lifted.results("Login ban")[SITE]["ban"]["status"] == "lifted"
    assert ban_row(lab).startswith("0|2099-03-05 18:00|")


WINDOW = "tests/integration/playbooks/maintenance_window.yml"


def event_time(run, event_name, task_name):
    """When ansible-runner saw the event of a task (UTC)."""
    for event in run.events:
        if event.get("event") == event_name and event.get("event_data", {}).get("task") == task_name:
            created = datetime.fromisoformat(event["created"])
            return created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    raise AssertionError("no %s event of %r" % (event_name, task_name))


def test_a_future_ban_warns_until_it_is_in_force_and_the_exempt_user_stays(lab, restore_conf):
    sql(lab, 'INSERT INTO "LICSESSION" ("Uzivatel", "Pocitac", "Program", "AplikacniServer") VALUES (\'ADMIN\', \'PC-ADMIN\', \'K2\', 0)')
    wanted = {"admin": ("K2@PC-ADMIN", "SELECT 1;\n", "idle"), "user": ("K2@PC-A", "SELECT 2;\n", "idle"),
              "admin_busy": ("K2@PC-ADMIN", "SELECT pg_sleep(600);\n", "active")}
    started = {}
    try:
        for name, (appname, script, state) in wanted.items():
            before = set(states(lab))
            started[name] = Client(lab, appname, script)
            deadline = time.monotonic() + 10
            while started[name].pid is None:
                assert time.monotonic() < deadline, "psql session %s did not show up" % name
                new = sorted(pid for pid, row in states(lab).items() if pid not in before and row == (appname, state))
                started[name].pid = new[0] if new else None
                time.sleep(0.1)
        start = (datetime.now(timezone.utc) + timedelta(seconds=15)).replace(microsecond=0)
        run = run_playbook(WINDOW, lab["inventory"], limit=SITE, extravars={"window_start": start.isoformat()})
        assert run.rc == 0, run.stdout[-3000:]

        said = run.results("Say how long users are warned before the ban is in force")[SITE]["msg"]
        assert "users are warned until then" in said and " min" in said
        retries = [e for e in run.events if e.get("event") == "runner_retry"]
        assert retries, "the run did not wait for the ban"
        # nothing of the outage happened before the ban was in force
        page_at = event_time(run, "runner_on_start", "Switch the web maintenance page on")
        kill_at = event_time(run, "runner_on_start", "Log users off")
        assert page_at >= start and kill_at >= start, (start, page_at, kill_at)
        ban = run.results("Set the login ban")[SITE]["ban"]
        assert ban["status"] == "pending" and 0 < ban["seconds_until_active"] <= 15

        result = run.results("Log users off")[SITE]
        alive = set(states(lab))
        assert started["user"].pid not in alive
        assert {started["admin"].pid, started["admin_busy"].pid} <= alive, "the exempt user's session was ended"
        assert sorted(s["pid"] for s in result["exempt"]) == sorted([started["admin"].pid, started["admin_busy"].pid])
        assert sql(lab, 'SELECT "Uzivatel", "Pocitac" FROM "LICSESSION"') == "ADMIN|PC-ADMIN"

        again = run_playbook(WINDOW, lab["inventory"], limit=SITE, extravars={"window_start": start.isoformat()})
        assert again.rc == 0 and again.changed() == 0, again.stdout[-3000:]
        assert again.results("Wait until the login ban is in force (time left = retries left x k2_maintenance_ban_poll seconds)") == {}
    finally:
        for client in started.values():
            client.close()
        closed = run_playbook(WINDOW, lab["inventory"], limit=SITE, extravars={"window_state": "off"})
        assert closed.rc == 0, closed.stdout[-3000:]
