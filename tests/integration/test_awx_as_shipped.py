"""The reinstall as AWX runs it, with what the repository ships, on a lab fleet.

Every job runs through ansible-runner with a fresh private data dir and a fresh HOME, and
finds the collection where AWX's project sync puts it (installed from
``collections/requirements.yml``). Variables: the example inventory's ``group_vars`` as they
are, the lab's hosts (connection, folder, database: what a real inventory's hosts.yml and
customer groups hold), the job template's ``extra_vars`` and the survey's answers; nothing
else. The job is sliced as AWX slices it (one job per part of the inventory), and the
slices' reports are merged by the merge playbook from their artifacts, as the next node of
a workflow receives them. The merged page is read by headless Chromium at 1,400 x 1,000.

Sites: ``north`` (goes), ``far`` (luna.05: no-go) and ``west`` (its folder is wrong: fails
in the preflight).
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import ansible_runner
import pytest
import yaml

from conftest import REPO, PlaybookRun
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TARGET = "ori.09"
AWX = os.path.join(REPO, "extras", "awx")


def job_template(name):
    with open(os.path.join(AWX, "job_templates.yml"), encoding="utf-8") as handle:
        templates = yaml.safe_load(handle)["erpops_job_templates"]
    return next(t for t in templates if t["name"] == name)


def launch_vars(template, answers):
    """The extra variables AWX gives a job: the template's extra_vars, then the survey (defaults, then answers)."""
    with open(os.path.join(AWX, template["survey"]), encoding="utf-8") as handle:
        survey = json.load(handle)["spec"]
    values = dict(template.get("extra_vars") or {})
    for question in survey:
        if question["variable"] in answers:
            values[question["variable"]] = answers[question["variable"]]
        elif question.get("default") not in (None, ""):
            values[question["variable"]] = question["default"]
        else:
            assert not question["required"], "the survey needs an answer for %s" % question["variable"]
    unknown = set(answers) - {q["variable"] for q in survey}
    assert not unknown, "not survey questions: %s" % unknown
    return values


@pytest.fixture(scope="module")
def project_collections():
    """What AWX's project sync installs from collections/requirements.yml, run in the project's folder."""
    with open(os.path.join(REPO, "collections", "requirements.yml"), encoding="utf-8") as handle:
        wanted = yaml.safe_load(handle)["collections"]
    with open(os.path.join(REPO, "galaxy.yml"), encoding="utf-8") as handle:
        dependencies = yaml.safe_load(handle)["dependencies"]
    # the collection comes from the checkout; the others are its own dependencies, from Galaxy (not reached in a test)
    local = [entry for entry in wanted if entry.get("type") == "dir"]
    assert len(local) == 1 and {e["name"] for e in wanted if e not in local} == set(dependencies)
    cache = tempfile.mkdtemp(prefix="erpops-awx-project-")
    requirements = os.path.join(cache, "requirements.yml")
    with open(requirements, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"collections": local}, handle)
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    subprocess.run([galaxy, "collection", "install", "-r", requirements, "-p", os.path.join(cache, "requirements_collections"),
                    "--no-deps", "--offline"], cwd=REPO, check=True, capture_output=True, text=True, timeout=300,
                   env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(cache, "none")))
    installed = os.path.join(cache, "requirements_collections")
    assert os.path.isfile(os.path.join(installed, "ansible_collections", "erpops", "upgrade", "MANIFEST.json"))
    yield installed
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="module")
def fleet():
    lab_dir = tempfile.mkdtemp(prefix="erpops-awx-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [
            {"name": "north", "company_tables": 5, "mandants": ["FIRMA"]},
            {"name": "far", "company_tables": 5, "version": "luna.05", "mandants": ["FIRMA"]},
            {"name": "west", "company_tables": 5, "mandants": ["FIRMA"]},
        ]}, handle)
    lab_inventory = k2lab.up(lab_dir, fleet_path)["inventory"]
    with open(lab_inventory, encoding="utf-8") as handle:
        hosts = json.load(handle)["all"]["children"]["k2_sites"]["hosts"]
    for host in hosts.values():
        # the lab's hosts are reached by a local connection with sh, not by WinRM with PowerShell as group_vars/all says
        host["ansible_shell_type"] = "sh"
    hosts["west"]["k2_folder"] = os.path.join(lab_dir, "no-such-k2")
    # an inventory laid out like inventories/example: its group_vars as they are, the lab's hosts
    inventory = os.path.join(lab_dir, "inventory")
    shutil.copytree(os.path.join(REPO, "inventories", "example", "group_vars"), os.path.join(inventory, "group_vars"))
    with open(os.path.join(inventory, "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"all": {"children": {"k2_sites": {"hosts": hosts}}}}, handle)
    release = k2release.build_release(os.path.join(lab_dir, "releases"), TARGET, company_tables=5)["archive"]
    yield {"dir": lab_dir, "inventory": inventory, "hosts": hosts, "release": release, "cluster": k2cluster.load(lab_dir)}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def awx_job(fleet, collections, playbook, extravars, limit=None, inventory=None):
    """One job: a fresh private data dir and a fresh HOME (kept for the test to read the files the job left)."""
    private = tempfile.mkdtemp(prefix="erpops-awx-job-", dir=fleet["dir"])
    home = tempfile.mkdtemp(prefix="home-", dir=fleet["dir"])
    try:
        runner = ansible_runner.run(
            private_data_dir=private, playbook=os.path.join(REPO, playbook), inventory=inventory or fleet["inventory"],
            extravars=extravars, limit=limit, quiet=True,
            envvars={"HOME": home, "ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg")})
        run = PlaybookRun(runner)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    run.home = home
    return run


def artifacts(run):
    stats = [e for e in run.events if e.get("event") == "playbook_on_stats"]
    return stats[-1]["event_data"].get("artifact_data") or {}


@pytest.fixture(scope="module")
def jobs(fleet, project_collections):
    template = job_template("K2 reinstall")
    # the lab has no test reinstall of ori.09 on record (K2-18): the operator answers that the run goes on without it
    answers = {"k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_release_archive": fleet["release"],
               "k2_reinstall_waive_test_reinstall": "true"}
    extravars = launch_vars(template, answers)
    done = {"extravars": extravars}
    # AWX job slicing: one job per part of the inventory
    done["slice1"] = awx_job(fleet, project_collections, template["playbook"], extravars, limit="north,far")
    done["slice2"] = awx_job(fleet, project_collections, template["playbook"], extravars, limit="west")
    # the workflow's next node receives the artifacts of every slice as extra variables
    handed_on = dict(artifacts(done["slice1"]), **artifacts(done["slice2"]))
    merge = job_template("Fleet report of a sliced job")
    done["merge"] = awx_job(fleet, project_collections, merge["playbook"], dict(handed_on, **launch_vars(merge, {})),
                            inventory="localhost,")
    done["nogo_ok"] = awx_job(fleet, project_collections, template["playbook"], dict(extravars, k2_nogo_ok="true"), limit="far")
    return done


def report_files(run, pattern):
    """The JSON and the HTML file of the one report the run wrote."""
    found = sorted(glob.glob(os.path.join(run.home, "erpops-reports", pattern)), key=lambda path: not path.endswith(".json"))
    assert [os.path.splitext(path)[1] for path in found] == [".json", ".html"], found
    return found


def test_a_slice_reinstalls_its_go_site_and_ends_failed_for_the_no_go_one(jobs):
    run = jobs["slice1"]
    assert run.failed_hosts() == ["far"], run.stdout[-4000:]
    nogo = run.results("Fail the sites that were no-go (set k2_nogo_ok to accept them)")["far"]
    assert "far was no-go and is untouched: " in nogo["msg"] and "gaia.13" in nogo["msg"]
    reinstalled = run.results("Sum up the run")["north"]["ansible_facts"]["k2_reinstall_result"]
    assert reinstalled["status"] == "done"
    # the end of the run says where the report is: in the job's own HOME, as in an execution environment
    html = report_files(run, "k2-reinstall-*")[1]
    assert "Fleet report: %s" % html in run.stdout


def test_the_summary_line_of_a_site_says_each_thing_once(jobs):
    lines, = [r["msg"] for r in jobs["slice1"].results("Print the outcome of every site and where the report is").values()]
    far = next(line for line in lines if line.startswith("far "))
    assert far.count("gaia.13") == 1 and far.lower().count("no-go") == 1, far
    north = next(line for line in lines if line.startswith("north "))
    assert re.match(r"north +CHANGED +gaia\.12\.3 -> ori\.09 \(generation, \w+\), took \d[^;]*, outage \d[^;]*; steps: preflight, ", north), north
    assert north.count("ori.09") == 1 and "NEXT:" in north


def test_a_failed_site_fails_its_slice_after_the_report(jobs):
    run = jobs["slice2"]
    assert run.failed_hosts() == ["west"]
    assert "does not exist" in run.results("Fail the sites that failed, now that the report names them")["west"]["msg"]


def test_no_go_is_accepted_when_the_survey_says_so(jobs):
    run = jobs["nogo_ok"]
    assert run.rc == 0 and run.failed_hosts() == [], run.stdout[-3000:]
    assert artifacts(run)["fleet_report"]["nogo_sites"] == ["far"]


@pytest.fixture(scope="module")
def merged(jobs):
    run = jobs["merge"]
    assert run.rc == 0, run.stdout[-3000:]
    json_path, html_path = report_files(run, "fleet-report-merged-*")
    with open(json_path, encoding="utf-8") as handle:
        return {"run": run, "report": json.load(handle), "html": html_path}


def test_the_merged_report_holds_every_slice_failed_and_no_go_first(merged):
    report = merged["report"]
    assert [(row["site"], row["status"]) for row in report["rows"]] == [("west", "failed"), ("far", "no-go"), ("north", "changed")]
    assert report["summary"] == {"failed": 1, "no-go": 1, "changed": 1, "go": 0, "ok": 0} and len(report["parts"]) == 2
    assert report["title"] == "K2 reinstall"
    assert "Fleet report: %s" % merged["html"] in merged["run"].stdout


def test_each_site_has_its_own_times_and_steps(merged):
    rows = {row["site"]: row for row in merged["report"]["rows"]}
    north, west = rows["north"], rows["west"]
    # west stopped in the preflight, north went through the whole reinstall
    assert 0 <= west["duration_seconds"] < north["duration_seconds"], (west["duration_seconds"], north["duration_seconds"])
    assert north["started"] < north["finished"]
    # the steps the site recorded in its run state, each with its result and duration, and the outage between ban on and off
    assert "install" in [s["name"] for s in north["steps"]], north["steps"]
    # the K2 installer is on the K2 host already: nothing to stage; the structure step changed no database: no second
    # backup; every other step ok
    assert [(s["name"], s["status"]) for s in north["steps"] if s["status"] != "ok"] == [
        ("stage", "skipped"), ("backup_after_check", "skipped")], north["steps"]
    assert all(s["duration_seconds"] is not None for s in north["steps"]), north["steps"]
    outage = north["outage"]
    assert outage["ban_on"] and outage["ban_off"] and not outage["still_on"] and 0 <= outage["seconds"] <= north["duration_seconds"]
    # the run backed the site up: the preflight's "no verified backup" note is not repeated
    assert not any(note.startswith("no verified backup") for note in north["notes"]), north["notes"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/bootstrap.sh installs it)")
def test_the_page_fits_1400_px_in_a_real_browser_with_the_failed_and_no_go_sites_first(merged, tmp_path):
    with open(merged["html"], encoding="utf-8") as handle:
        page = handle.read()
    # the page forbids scripts (CSP); a copy without that line may run one that writes the layout's widths into the title
    probe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = probe.replace("</body>", "<script>var d = document.documentElement; document.title = 'W=' + d.scrollWidth + ' V=' + "
                                     "d.clientWidth + ' ROWS=' + Array.from(document.querySelectorAll('tr[data-site]'))"
                                     ".map(function (r) { return r.dataset.site + ':' + r.dataset.status; }).join(',');</script></body>")
    copy = tmp_path / "probe.html"
    copy.write_text(probe, encoding="utf-8")
    profile = tempfile.mkdtemp(prefix="erpops-chromium-")
    try:
        dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                              "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
                              "--window-size=1400,1000", "--dump-dom", "file://" + str(copy)],
                             capture_output=True, text=True, timeout=90, check=True).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    title = re.search(r"<title>W=(\d+) V=(\d+) ROWS=([^<]*)</title>", dom)
    assert title, dom[:2000]
    width, viewport, rows = int(title.group(1)), int(title.group(2)), title.group(3)
    assert 1300 <= viewport <= 1400 and width <= viewport, (width, viewport)
    assert rows == "west:failed,far:no-go,north:changed"


def test_a_plays_module_defaults_reach_the_modules_inside_the_roles(fleet, project_collections):
    """A play-level odbc_driver for group/erpops.upgrade.k2 is what each role's database task uses: the driver manager names it."""
    run = awx_job(fleet, project_collections, "tests/integration/playbooks/module_defaults_roles.yml",
                  {"probe_odbc_driver": "erpops probe driver"}, limit="north")
    said = run.results("Say what each role's database task answered")["north"]["msg"]
    # the preflight's first database task is the profile check, which fails with the driver manager's answer; where it
    # passes, the reading of the site records a database it cannot read instead of failing, with that answer
    said["k2_preflight"] += json.dumps(run.results("Read the K2 folder and databases").get("north", {}))
    for role in ("k2_preflight", "k2_maintenance", "k2_test_environment"):
        assert "Can't open lib 'erpops probe driver'" in said[role], (role, said[role][:3000])
    # nothing was changed: the ban was never set
    ban = k2cluster.psql(fleet["cluster"], 'SELECT "ZakazPrihlaseni" FROM "REINSTALACE"', database="north_CONF").strip()
    assert ban in ("", "0"), ban
