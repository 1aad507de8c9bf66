"""k2_info through a real playbook against the lab's real PostgreSQL."""

import os
import socket
import subprocess

import pytest

from conftest import run_playbook

PLAYBOOK = "tests/integration/playbooks/k2_info.yml"
TASK = "Read the site"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _assert_clean_failure(result, *fragments):
    assert result.get("failed") is True, result
    message = result["msg"]
    for fragment in fragments:
        assert fragment in message, message
    # ansible adds this placeholder to every failure that carries no Python exception
    assert result.get("exception", "(traceback unavailable)") == "(traceback unavailable)", result
    assert "Traceback" not in message
    assert "k2-lab-secret" not in str(result)


def test_facts_of_two_sites_and_a_second_run_changes_nothing(lab):
    first = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_target": "ori.09"})
    assert first.rc == 0, first.stdout
    facts = {host: res["k2"] for host, res in first.results(TASK).items()}

    north, south = facts["north"], facts["south"]
    assert north["kind"] == "runnable" and north["executable"] == "k2"
    assert south["kind"] == "torso" and south["executable"] is None
    assert north["platform"] == "lab" and north["driver"] == "LAB"
    assert north["conf_database"] == "north_CONF"
    assert north["server"] == "%s,%d" % (lab["cluster"].socket_dir, lab["cluster"].port)
    assert north["version"] == "gaia.12.3"
    assert north["production_mandants"] == ["FIRMA", "FIRMA2"]
    assert north["system_mandants"] == ["DEMO", "INIT"]
    assert north["test_mandants"] == ["FIRMA2_TEST"]
    assert south["production_mandants"] == ["HOLDING"]
    assert north["databases_match_version"] is True
    assert [d["database"] for d in north["databases"]] == [
        "north_CONF", "north_DEMO", "north_FIRMA", "north_FIRMA2", "north_FIRMA2_TEST", "north_INIT"]
    # south's databases were converted to an older build than the installed one
    assert south["databases_match_version"] is False
    assert all(d["version"] == "gaia.11.7" and d["convertible"] for d in south["databases"])
    assert north["upgrade"] == {"kind": "generation", "reachable": True, "path": ["ori.09"], "reason": None}
    # K2-02/K2-06, K2-07, K2-14: the state the reinstall gates read (the lab site ran its preparation: SiteSpec.preparation_done)
    assert north["reinstall_manager"] == {"ban_enabled": False, "reinstall_allowed": False, "preparation_done": True}
    assert north["missing_initializations"] == {"FIRMA2": ["Prepocet skladu"]}
    assert south["missing_initializations"] == {}
    assert north["outdated_extensions"] == ["Sklad"] and south["outdated_extensions"] == []
    assert {e["name"]: e["format"] for e in north["extensions"]} == {"Dochazka": "2.02", "Sklad": "2.02"}
    assert first.changed() == 0

    second = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_target": "ori.09"})
    assert second.rc == 0 and second.changed() == 0
    assert {h: r["k2"] for h, r in second.results(TASK).items()} == facts


def test_unreachable_target_is_explained(lab):
    run = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_target": "alba.01"}, limit="north")
    upgrade = run.results(TASK)["north"]["k2"]["upgrade"]
    assert upgrade["reachable"] is False
    assert upgrade["path"] == ["ori.09", "iris.05", "alba.01"]


def test_missing_folder_fails_clearly(lab, tmp_path):
    run = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_path": str(tmp_path / "no such K2")}, limit="north")
    _assert_clean_failure(run.results(TASK)["north"], "does not exist")


def test_unreadable_ini_fails_clearly(lab, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "k2.ini").write_bytes(b"[DATABASE]\r\nSERVER=\x81\x83\r\n")
    (folder / "sysk2.ini").write_bytes(b"[DATABASE]\r\n")
    before = sorted(os.listdir(folder))
    run = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_path": str(folder)}, limit="north")
    _assert_clean_failure(run.results(TASK)["north"], "cannot read ini file", "k2.ini")
    assert sorted(os.listdir(folder)) == before


def test_server_that_does_not_answer(lab):
    run = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_port": _free_port()}, limit="north")
    _assert_clean_failure(run.results(TASK)["north"], "server not answering")


def test_wrong_password(lab):
    run = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_password": "not-the-password"}, limit="north")
    result = run.results(TASK)["north"]
    _assert_clean_failure(result, "login failed")
    assert "not-the-password" not in str(result)


@pytest.mark.parametrize("hostile, fragment", [
    ('north_CONF" OR "1"="1', "database missing"),
    ("north_CONF'; DROP DATABASE \"north_FIRMA\" --", "bad connection parameter"),
])
def test_database_name_with_quotes_changes_nothing(lab, hostile, fragment):
    run = run_playbook(PLAYBOOK, lab["inventory"], extravars={"k2_info_conf_database": hostile}, limit="north")
    _assert_clean_failure(run.results(TASK)["north"], fragment)
    cluster = lab["cluster"]
    listing = subprocess.run(["runuser", "-u", cluster.owner, "--", os.path.join(cluster.bin_dir, "psql"), "-X", "-A", "-t",
                              "-h", cluster.socket_dir, "-p", str(cluster.port), "-d", "postgres", "-c", "SELECT datname FROM pg_database"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert "north_FIRMA" in listing and "north_CONF" in listing
