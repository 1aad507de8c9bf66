"""playbooks/k2_test_environment.yml on the lab's real PostgreSQL: a test copy of site north.

north has CONF, DEMO, INIT, FIRMA, FIRMA2 and the test copy FIRMA2_TEST. The copy must hold
CONF, FIRMA and FIRMA2 only, with the same rows, its k2.ini and FIRMY pointing at the copies,
while the production folder and databases stay exactly as they were.
"""

import hashlib
import os
import shutil
import tempfile

import pytest

from conftest import run_playbook
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release
from ansible_collections.erpops.upgrade.plugins.module_utils import k2_site

PLAYBOOK = "playbooks/k2_test_environment.yml"
SITE = "north"
PRODUCTION = ["north_CONF", "north_DEMO", "north_FIRMA", "north_FIRMA2", "north_FIRMA2_TEST", "north_INIT"]
COPIES = {"north_CONF": "north_CONF_TESTENV", "north_FIRMA": "north_FIRMA_TESTENV", "north_FIRMA2": "north_FIRMA2_TESTENV"}


def sql(lab, text, database="postgres"):
    return k2cluster.psql(lab["cluster"], text, database=database).strip()


def databases(lab):
    return set(sql(lab, "SELECT datname FROM pg_database WHERE NOT datistemplate").split())


def table_sums(lab, database):
    """{table: (row count, md5 of the rows in order)} of every table of the database."""
    tables = sql(lab, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1", database).split()
    parts = ["SELECT %s, COUNT(*), md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) FROM \"%s\" x" % ("'%s'" % t, t) for t in tables]
    rows = sql(lab, " UNION ALL ".join(parts), database).splitlines()
    return {line.split("|")[0]: (int(line.split("|")[1]), line.split("|")[2]) for line in rows}


def folder_hash(path):
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode())
            with open(full, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def production_snapshot(lab, folder):
    return {"folder": folder_hash(folder), "databases": {name: table_sums(lab, name) for name in PRODUCTION}}


def differences(before, after):
    """What changed between two snapshots, for the assertion message."""
    found = ["the folder"] if before["folder"] != after["folder"] else []
    for name, tables in before["databases"].items():
        now = after["databases"][name]
        found += ["%s.%s: %s -> %s" % (name, t, tables.get(t), now.get(t)) for t in sorted(set(tables) | set(now)) if tables.get(t) != now.get(t)]
    return found


def remove_copy(env):
    """Back to a site without a test copy (folder and databases), whatever an earlier test left."""
    shutil.rmtree(env["dest"], ignore_errors=True)
    for name in COPIES.values():
        sql(env["lab"], 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


@pytest.fixture(scope="module")
def env(lab):
    folder = os.path.join(lab["dir"], "sites", SITE)
    reports = tempfile.mkdtemp(prefix="erpops-reports-")
    state = {"lab": lab, "folder": folder, "dest": folder + "_TESTENV", "vars": {"fleet_report_dir": reports}}
    yield state
    remove_copy(state)
    shutil.rmtree(reports, ignore_errors=True)


@pytest.fixture
def without_copy(env):
    remove_copy(env)
    return env


@pytest.fixture
def with_copy(env):
    """The test copy of north, made by the playbook unless an earlier test left a complete one."""
    complete = os.path.exists(os.path.join(env["dest"], "k2.ini")) and set(COPIES.values()) <= databases(env["lab"])
    if not complete:
        remove_copy(env)
        run = run_playbook(PLAYBOOK, env["lab"]["inventory"], limit=SITE, extravars=env["vars"])
        assert run.rc == 0 and run.failed_hosts() == [], run.stdout
    return env


def test_refusals_and_check_mode_change_nothing(without_copy):
    env = without_copy
    lab = env["lab"]
    before = production_snapshot(lab, env["folder"])
    names = databases(lab)

    same_names = run_playbook(PLAYBOOK, lab["inventory"], limit=SITE,
                              extravars=dict(env["vars"], k2_test_environment_suffix="", k2_test_environment_dest=env["dest"]))
    refused = same_names.results("Copy CONF and the production mandant databases under new names")[SITE]
    assert refused["failed"] and "would use the production databases" in refused["msg"], same_names.stdout
    assert "north_CONF, a database of the production site on the same server" in refused["msg"]

    onto_demo = run_playbook(PLAYBOOK, lab["inventory"], limit=SITE,
                             extravars=dict(env["vars"], k2_test_environment_names={"FIRMA": "NORTH_demo"}))
    assert "the copy of north_FIRMA would be north_DEMO" in onto_demo.results(
        "Copy CONF and the production mandant databases under new names")[SITE]["msg"]

    inside = run_playbook(PLAYBOOK, lab["inventory"], limit=SITE,
                          extravars=dict(env["vars"], k2_test_environment_dest=env["folder"] + "/test"))
    assert "inside it" in inside.results("Refuse a copy folder that is the production folder or inside it")[SITE]["msg"]

    check = run_playbook(PLAYBOOK, lab["inventory"], limit=SITE, check=True, extravars=env["vars"])
    assert check.failed_hosts() == [], check.stdout
    planned = check.results("Copy CONF and the production mandant databases under new names")[SITE]
    assert planned["changed"] and {c["source"]: c["target"] for c in planned["copies"]} == COPIES

    for run in (same_names, onto_demo, inside):
        assert run.failed_hosts() == [SITE]
    assert databases(lab) == names and not os.path.exists(env["dest"])
    assert differences(before, production_snapshot(lab, env["folder"])) == []


def test_copy_is_complete_points_at_the_copies_and_reruns_unchanged(without_copy):
    env = without_copy
    lab = env["lab"]
    before = production_snapshot(lab, env["folder"])

    run = run_playbook(PLAYBOOK, lab["inventory"], limit=SITE, extravars=env["vars"], diff=True)
    assert run.rc == 0 and run.failed_hosts() == [], run.stdout

    # Only CONF and the production mandants were copied, with the same rows.
    assert databases(lab) - set(before["databases"]) >= set(COPIES.values())
    assert not {n for n in databases(lab) if n.startswith("north_") and n.endswith("_TESTENV")} - set(COPIES.values())
    for source, target in COPIES.items():
        copied, original = table_sums(lab, target), dict(before["databases"][source])
        if source == "north_CONF":
            assert copied.pop("FIRMY")[0] == 2 and original.pop("FIRMY")[0] == 5
        assert copied == original, target

    # FIRMY of the copy: FIRMA and FIRMA2, at their copies.
    firmy = sql(lab, 'SELECT "Zkr", "DatabaseName" FROM "FIRMY" ORDER BY 1', "north_CONF_TESTENV").splitlines()
    assert firmy == ["FIRMA|north_FIRMA_TESTENV", "FIRMA2|north_FIRMA2_TESTENV"]

    # k2.ini and sysk2.ini of the copy name the copied CONF; every other byte as in production.
    for name in ("k2.ini", "sysk2.ini"):
        with open(os.path.join(env["folder"], name), "rb") as handle:
            original = handle.read()
        with open(os.path.join(env["dest"], name), "rb") as handle:
            copied = handle.read()
        assert copied == original.replace(b"DATABASE=north_CONF\r\n", b"DATABASE=north_CONF_TESTENV\r\n")
    facts = k2_site.read_site(os.listdir(env["dest"]), open(os.path.join(env["dest"], "k2.ini"), "rb").read(),
                              open(os.path.join(env["dest"], "sysk2.ini"), "rb").read())
    assert facts.conf_database == "north_CONF_TESTENV" and facts.kind == "runnable"

    # k2_info on the copy: runnable, consistent, only the copied mandants.
    info = run.results("Read the copy")[SITE]["k2"]
    assert info["kind"] == "runnable" and info["databases_match_version"] is True
    assert info["production_mandants"] == ["FIRMA", "FIRMA2"] and info["system_mandants"] == [] and info["test_mandants"] == []
    assert [d["database"] for d in info["databases"]] == ["north_CONF_TESTENV", "north_FIRMA_TESTENV", "north_FIRMA2_TESTENV"]
    firmy_task = run.results("Prune FIRMY of the copied CONF to the copied mandants, at their copies")[SITE]
    assert sorted(m["code"] for m in firmy_task["deleted"]) == ["DEMO", "FIRMA2_TEST", "INIT"]
    assert "north_FIRMA_TESTENV" in firmy_task["diff"]["after"] and "DEMO" in firmy_task["diff"]["before"]
    precheck = run.results("Decide go or no-go")[SITE]["ansible_facts"]["k2_preflight_result"]
    assert precheck["kind"] == "runnable"

    # The production site is untouched.
    assert differences(before, production_snapshot(lab, env["folder"])) == []

    again = run_playbook(PLAYBOOK, lab["inventory"], limit=SITE, extravars=env["vars"])
    assert again.rc == 0 and again.changed() == 0, again.stdout
    assert differences(before, production_snapshot(lab, env["folder"])) == []


def test_a_test_reinstall_runs_on_the_copy_and_leaves_production_alone(with_copy):
    env = with_copy
    lab = env["lab"]
    before = production_snapshot(lab, env["folder"])
    archive = k2release.build_release(os.path.join(lab["dir"], "releases"), "gaia.12.4", company_tables=20)["archive"]
    extravars = dict(env["vars"], k2_target_version="gaia.12.4", k2_exempt_user="ADMIN", k2_release_archive=archive, k2_session_login="k2",
                     k2_reinstall_state_dir=os.path.join(lab["dir"], "state-testenv"), k2_folder=env["dest"],
                     k2_conf_database=COPIES["north_CONF"], k2_reinstall_waive_initializations=True,
                     k2_install_method="copy")
    run = run_playbook("playbooks/k2_reinstall.yml", lab["inventory"], limit=SITE, extravars=extravars)
    assert run.rc == 0 and run.failed_hosts() == [], run.stdout[-4000:]
    versions = {name: sql(lab, 'SELECT "Verze" FROM "K2VERZE"', name) for name in list(COPIES) + list(COPIES.values())}
    assert versions == {"north_CONF": "gaia.12.3", "north_FIRMA": "gaia.12.3", "north_FIRMA2": "gaia.12.3",
                        "north_CONF_TESTENV": "gaia.12.4", "north_FIRMA_TESTENV": "gaia.12.4", "north_FIRMA2_TESTENV": "gaia.12.4"}
    assert differences(before, production_snapshot(lab, env["folder"])) == []
