"""Nothing irreversible before every input is checked: bad inputs on a lab fleet through the whole reinstall playbook.

One lab, one site per bad input (archive missing, not a zip, another version, wrong SHA-256,
malformed web.config, k2.ini without its [DATABASE] section). One run of k2_reinstall.yml:
every site is no-go with exactly its reason, and none is touched: the ban row, the licence
sessions, an idle psql session of the K2 login, the folder and web.config bytes are the same
before and after. Then k2_precheck.yml ends with one exit status for every kind of no-go.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import run_playbook
from tools.k2lab import cli as k2lab
from tools.k2lab import cluster as k2cluster
from tools.k2lab import release as k2release

TARGET = "ori.09"
SITES = ("missing", "notzip", "otherver", "badsum", "webcfg", "noini")
EXPECTED = {
    "missing": "does not exist on the controller",
    "notzip": "is not a zip (or tar) archive",
    "otherver": "holds K2 ori.08, not the target ori.09",
    "badsum": "SHA-256 is",
    "webcfg": "web.config",
    "noini": "k2.ini has no [DATABASE] section: K2 cannot connect",
}


def sql(cluster, text, database):
    return k2cluster.psql(cluster, text, database=database).strip()


def file_hashes(*paths):
    hashes = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                hashes[path] = hashlib.sha256(handle.read()).hexdigest()
            continue
        for root, _dirs, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                with open(full, "rb") as handle:
                    hashes[full] = hashlib.sha256(handle.read()).hexdigest()
    return hashes


class IdleClient:
    """An idle psql session of the K2 login, as a logged-in K2 client holds one."""

    def __init__(self, cluster, database):
        env = dict(os.environ, PGAPPNAME="K2@PC-1", PGPASSWORD=cluster.password)
        argv = [os.path.join(cluster.bin_dir, "psql"), "-X", "-q"] + cluster.dsn_args(database, superuser=False)
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, text=True)
        self.process.stdin.write("SELECT 1;\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + 10
        self.pid = None
        while self.pid is None:
            assert time.monotonic() < deadline, "the idle psql session did not show up"
            found = sql(cluster, "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND state = 'idle' AND usename = '%s'"
                        % (database, cluster.login), "postgres")
            self.pid = int(found.split()[0]) if found else None
            time.sleep(0.1)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def fleet():
    lab_dir = tempfile.mkdtemp(prefix="erpops-inputs-")
    os.chmod(lab_dir, 0o755)
    fleet_path = os.path.join(lab_dir, "fleet.json")
    with open(fleet_path, "w", encoding="utf-8") as handle:
        json.dump({"sites": [{"name": name, "company_tables": 3, "mandants": ["FIRMA"]} for name in SITES]}, handle)
    inventory_path = k2lab.up(lab_dir, fleet_path)["inventory"]
    with open(inventory_path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    hosts = inventory["all"]["children"]["k2_sites"]["hosts"]
    releases = os.path.join(lab_dir, "releases")
    good = k2release.build_release(releases, TARGET, company_tables=3)
    other = k2release.build_release(releases, "ori.08", company_tables=3, name="k2-ori.09-mislabelled.zip")["archive"]
    not_zip = os.path.join(releases, "k2-ori.09.7z")
    with open(not_zip, "wb") as handle:
        handle.write(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64)
    archives = {"missing": os.path.join(releases, "no-such-release.zip"), "notzip": not_zip, "otherver": other}
    for name in SITES:
        hosts[name]["k2_release_archive"] = archives.get(name, good["archive"])
    hosts["badsum"]["k2_release_sha256"] = "0" * 64
    # a release with the right checksum passes: the other sites give theirs
    for name in ("webcfg", "noini"):
        hosts[name]["k2_release_sha256"] = good["sha256"]
    with open(hosts["webcfg"]["k2_webconfig_path"], "rb") as handle:
        web = handle.read()
    with open(hosts["webcfg"]["k2_webconfig_path"], "wb") as handle:
        handle.write(web.replace(b"</rules>", b"</rulez>", 1))
    ini_path = os.path.join(hosts["noini"]["k2_folder"], "k2.ini")
    with open(ini_path, "rb") as handle:
        ini = handle.read()
    with open(ini_path, "wb") as handle:
        handle.write(ini.replace(b"[DATABASE]", b"[PRIPOJENI]"))
    with open(inventory_path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    yield {"dir": lab_dir, "inventory": inventory_path, "cluster": k2cluster.load(lab_dir), "hosts": hosts}
    k2cluster.stop(lab_dir)
    shutil.rmtree(lab_dir, ignore_errors=True)


def site_state(fleet, name):
    host = fleet["hosts"][name]
    cluster = fleet["cluster"]
    return {
        "conf": sql(cluster, 'SELECT * FROM "REINSTALACE"; SELECT * FROM "LICSESSION" ORDER BY 1', "%s_CONF" % name),
        "files": file_hashes(host["k2_folder"], host["k2_webconfig_path"]),
        "backups": sorted(file_hashes(os.path.join(fleet["dir"], "state", "k2_reinstall", "backups"))),
    }


@pytest.fixture(scope="module")
def reinstall(fleet):
    before = {name: site_state(fleet, name) for name in SITES}
    clients = {name: IdleClient(fleet["cluster"], "%s_FIRMA" % name) for name in SITES}
    try:
        run = run_playbook("playbooks/k2_reinstall.yml", fleet["inventory"], extravars={
            "k2_target_version": TARGET, "k2_exempt_user": "ADMIN", "k2_session_login": "k2", "k2_install_method": "copy",
            "k2_reinstall_waive_test_reinstall": True, "k2_nogo_ok": True,
            "k2_reinstall_state_dir": os.path.join(fleet["dir"], "state"), "fleet_report_dir": os.path.join(fleet["dir"], "reports")})
        alive = sql(fleet["cluster"], "SELECT pid FROM pg_stat_activity WHERE usename = '%s'" % fleet["cluster"].login, "postgres").split()
        sessions = {name: str(client.pid) in alive for name, client in clients.items()}
    finally:
        for client in clients.values():
            client.close()
    after = {name: site_state(fleet, name) for name in SITES}
    return {"run": run, "before": before, "after": after, "sessions": sessions}


def test_every_bad_input_is_no_go_with_its_reason(reinstall):
    run = reinstall["run"]
    decided = run.results("Say why the site is not reinstalled")
    assert sorted(decided) == sorted(SITES), run.stdout[-4000:]
    for name in SITES:
        result = decided[name]["ansible_facts"]["k2_reinstall_result"]
        assert result["status"] == "no-go"
        assert EXPECTED[name] in result["msg"], (name, result["msg"])
    # exactly one reason each: the good inputs of the others raise nothing
    checks = run.results("Check the release, k2.ini, web.config and the backup target")
    for name in SITES:
        assert len(checks[name]["reasons"]) == 1, (name, checks[name]["reasons"])
        assert checks[name]["changed"] is False
    assert checks["otherver"]["checks"]["release"]["version"] == "ori.08"
    assert checks["webcfg"]["checks"]["release"]["reasons"] == [] and checks["webcfg"]["checks"]["release"]["sha256"]
    assert "line" in checks["webcfg"]["reasons"][0]


def test_no_go_site_is_never_banned_nor_touched(reinstall):
    run = reinstall["run"]
    assert run.results("Set the login ban") == {}
    assert run.results("Back up CONF and every production mandant") == {}
    for name in SITES:
        assert reinstall["after"][name] == reinstall["before"][name], name
        assert reinstall["sessions"][name], "the idle session of %s was ended" % name
        assert reinstall["before"][name]["conf"].startswith("0|")


def test_precheck_ends_no_go_with_one_exit_status(fleet):
    reports = os.path.join(fleet["dir"], "reports-pre")
    decided = run_playbook("playbooks/k2_precheck.yml", fleet["inventory"], limit="webcfg",
                           extravars={"k2_target_version": TARGET, "fleet_report_dir": reports})
    # a site that cannot be read at all is no-go through the rescue and ends the same way
    unreadable = run_playbook("playbooks/k2_precheck.yml", fleet["inventory"], limit="noini",
                              extravars={"k2_target_version": TARGET, "fleet_report_dir": reports, "k2_folder": "/no/such/k2"})
    assert decided.rc == unreadable.rc == 2, (decided.stdout[-2000:], unreadable.stdout[-2000:])
    assert decided.failed_hosts() == ["webcfg"] and unreadable.failed_hosts() == ["noini"]


def test_installer_on_the_k2_host_and_backup_folder(fleet, tmp_path):
    msi = tmp_path / "K2 instalátor.msi"
    msi.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000)
    text = tmp_path / "readme.txt"
    text.write_bytes(b"not an installer")
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")
    runs = {name: run_playbook("tests/integration/playbooks/inputs_check.yml", fleet["inventory"], limit="missing", extravars=dict(
        {"k2_target_version": TARGET}, **extra)).results("Inputs check")["missing"]
        for name, extra in (("msi", {"inputs_installer": str(msi), "inputs_backup_dir": str(tmp_path / "backups" / "k2")}),
                            ("bad_sum", {"inputs_installer": str(msi), "inputs_sha256": "f" * 64}),
                            ("text", {"inputs_installer": str(text), "inputs_backup_dir": str(blocked / "k2")}),
                            ("missing", {"inputs_installer": str(tmp_path / "gone.msi")}))}
    # the site named "missing" has everything right but its release archive, which is not given here
    assert runs["msi"]["reasons"] == [] and runs["msi"]["go"] is True
    assert runs["msi"]["checks"]["installer"]["kind"] == "msi" and runs["msi"]["checks"]["backup_target"]["reasons"] == []
    assert any("carries no version file" in note for note in runs["msi"]["notes"])
    assert [r.split(": ")[-1][:10] for r in runs["bad_sum"]["reasons"]] == ["SHA-256 is"]
    assert len(runs["text"]["reasons"]) == 2
    assert "is neither a Windows Installer package, a Windows program nor a zip" in runs["text"]["reasons"][0]
    assert runs["text"]["reasons"][1].endswith("a-file is not a folder")
    assert len(runs["missing"]["reasons"]) == 1 and "does not exist on the K2 host" in runs["missing"]["reasons"][0]
    assert not (tmp_path / "backups").exists(), "the check created the backup folder"
