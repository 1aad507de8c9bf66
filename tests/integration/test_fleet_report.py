"""The fleet report of k2_precheck.yml on a lab fleet with a broken site, read by a real headless browser."""

import glob
import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest

from conftest import run_playbook
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def fleet():
    """north: go; south: its databases are behind the installed version (no-go); west: its folder is wrong (failed)."""
    lab_dir = tempfile.mkdtemp(prefix="erpops-fleet-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [
            {"name": "north", "company_tables": 5, "mandants": ["FIRMA"]},
            {"name": "south", "company_tables": 5, "mandants": ["HOLDING"], "db_version": "gaia.11.7"},
            {"name": "west", "company_tables": 5, "mandants": ["FIRMA"]},
        ]}, handle)
    inventory_path = k2lab.up(lab_dir, fleet_path)["inventory"]
    with open(inventory_path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    hosts = inventory["all"]["children"]["k2_sites"]["hosts"]
    hosts["west"]["k2_folder"] = os.path.join(lab_dir, "no-such-k2")
    hosts["north"]["customer"] = "Acme s.r.o."
    broken_inventory = os.path.join(lab_dir, "fleet-inventory.yml")
    with open(broken_inventory, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    yield {"dir": lab_dir, "inventory": broken_inventory, "password": hosts["north"]["k2_db_password"]}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def precheck(fleet, name, check=False, **extravars):
    report_dir = os.path.join(fleet["dir"], "reports-" + name)
    run = run_playbook("playbooks/k2_precheck.yml", fleet["inventory"], check=check,
                       extravars=dict({"k2_target_version": "ori.09", "fleet_report_dir": report_dir}, **extravars))
    return run, report_dir


def only(pattern):
    found = glob.glob(pattern)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def report(fleet):
    run, report_dir = precheck(fleet, "full")
    return {"run": run, "json": only(os.path.join(report_dir, "k2-precheck-*.json")), "html": only(os.path.join(report_dir, "k2-precheck-*.html"))}


def test_one_failed_site_does_not_stop_the_others_and_fails_alone(report):
    run = report["run"]
    assert run.rc == 2
    # west failed; south is no-go and ends failed after the report, as every no-go does; north goes on
    assert run.failed_hosts() == ["south", "west"]
    assert "south was no-go" in run.results("Fail the sites that were no-go (set k2_nogo_ok to accept them)")["south"]["msg"]
    info = run.results("Read the K2 folder and databases")
    assert info["north"]["k2"]["version"] == "gaia.12.3"
    assert info["south"]["k2"]["databases_match_version"] is False


def test_json_rows_failed_first_with_versions_and_next_steps(report, fleet):
    with open(report["json"], encoding="utf-8") as handle:
        data = json.load(handle)
    rows = {row["site"]: row for row in data["rows"]}
    assert [row["site"] for row in data["rows"]] == ["west", "south", "north"]
    assert [row["status"] for row in data["rows"]] == ["failed", "no-go", "go"]
    assert data["summary"]["failed"] == 1 and data["sites"] == 3
    assert "does not exist" in rows["west"]["failure"] and "--limit west" in rows["west"]["next"]
    assert any("gaia.11.7" in reason for reason in rows["south"]["reasons"])
    assert rows["north"]["version_from"] == "gaia.12.3" and rows["north"]["version_to"] == "ori.09"
    assert rows["north"]["upgrade_kind"] == "generation" and rows["north"]["customer"] == "Acme s.r.o."
    assert rows["north"]["duration_seconds"] is not None and rows["north"]["duration_seconds"] >= 0
    assert rows["north"]["steps"] == [{"name": "preflight", "status": "ok"}]
    for path in (report["json"], report["html"]):
        with open(path, encoding="utf-8") as handle:
            assert fleet["password"] not in handle.read()


def test_summary_is_published_as_runner_artifacts(report):
    stats = [e for e in report["run"].events if e.get("event") == "playbook_on_stats"]
    artifact = stats[-1]["event_data"]["artifact_data"]["fleet_report"]
    assert artifact["failed_sites"] == ["west"]
    assert artifact["html_path"] == report["html"]


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-site" in attrs:
            self.rows.append((attrs["data-site"], attrs["data-status"]))


def chromium(*args, profile):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--user-data-dir=" + profile] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/bootstrap.sh installs it)")
def test_html_renders_in_a_real_browser_with_the_failed_site_on_top(report, tmp_path):
    profile = tempfile.mkdtemp(prefix="erpops-chromium-")
    try:
        dom = chromium("--dump-dom", "file://" + report["html"], profile=profile).stdout
        shot = str(tmp_path / "report.png")
        chromium("--screenshot=" + shot, "--window-size=1400,600", "file://" + report["html"], profile=profile)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    parser = _Rows()
    parser.feed(dom)
    assert parser.rows[0] == ("west", "failed")
    assert parser.rows == [("west", "failed"), ("south", "no-go"), ("north", "go")]
    assert "<title>K2 precheck</title>" in dom
    with open(shot, "rb") as handle:
        png = handle.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_dry_run_in_batches_still_reports_every_site(fleet):
    run, report_dir = precheck(fleet, "dry", check=True, k2_serial=1)
    assert run.failed_hosts() == ["south", "west"]
    with open(only(os.path.join(report_dir, "k2-precheck-*.json")), encoding="utf-8") as handle:
        rows = json.load(handle)["rows"]
    assert [(row["site"], row["status"]) for row in rows] == [("west", "failed"), ("south", "no-go"), ("north", "go")]
