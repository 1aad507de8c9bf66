"""k2_release_unpack through a real playbook (ansible-runner, local connection): check mode, unpack, rerun, refusals."""

import hashlib
import json
import os
import zipfile

from conftest import run_playbook

PLAYBOOK = "tests/integration/playbooks/release_unpack.yml"


def tree(root):
    found = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            found[os.path.relpath(path, root)] = (os.readlink(path) if os.path.islink(path) else "dir" if os.path.isdir(path)
                                                  else hashlib.sha256(open(path, "rb").read()).hexdigest())
    return found


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return str(path)


def test_unpack_check_rerun_and_malicious_archives(tmp_path):
    root = tmp_path / "host"
    folder = root / "K2"
    (folder / "Conf").mkdir(parents=True)
    (folder / "k2.ini").write_bytes(b"[DATABASE]\r\n")
    (folder / "k2").write_bytes(b"old")
    inventory = tmp_path / "inventory.json"
    host = {"ansible_connection": "local", "ansible_python_interpreter": os.sys.executable}
    inventory.write_text(json.dumps({"all": {"hosts": {"k2host": host}}}))
    good = make_zip(tmp_path / "k2-ori.09.zip", [("k2", b"new", 0o100755), ("SQL/K2t_CONF_Lab.SQL", b"CREATE TABLE x (a int)\n", 0o100644)])
    digest = hashlib.sha256(open(good, "rb").read()).hexdigest()
    variables = {"archive": good, "folder": str(folder), "archive_sha256": digest}

    before = tree(root)
    check = run_playbook(PLAYBOOK, str(inventory), extravars=variables, check=True, diff=True)
    assert check.changed() == 1 and tree(root) == before
    assert sorted(check.results("Unpack")["k2host"]["replaced"]) == ["SQL/K2t_CONF_Lab.SQL", "k2"]
    wrong = run_playbook(PLAYBOOK, str(inventory), extravars=dict(variables, archive_sha256="0" * 64))
    assert wrong.failed_hosts() == ["k2host"] and tree(root) == before
    done = run_playbook(PLAYBOOK, str(inventory), extravars=variables)
    assert done.changed() == 1 and (folder / "k2").read_bytes() == b"new" and os.access(folder / "k2", os.X_OK)
    assert (folder / "k2.ini").read_bytes() == b"[DATABASE]\r\n" and sorted(os.listdir(root)) == ["K2"]
    assert run_playbook(PLAYBOOK, str(inventory), extravars=variables).changed() == 0

    after = tree(root)
    for name, members in (("dotdot", [("../escaped.txt", b"x", 0o100644)]), ("absolute", [("/tmp/erpops-escaped", b"x", 0o100644)]),
                          ("symlink", [("bin/sh", b"/bin/sh", 0o120777)]), ("ini-link", [("k2.ini", b"/etc/shadow", 0o120777)])):
        evil = make_zip(tmp_path / ("%s.zip" % name), [("k2", b"evil", 0o100755)] + members)
        run = run_playbook(PLAYBOOK, str(inventory), extravars={"archive": evil, "folder": str(folder)})
        result = run.results("Unpack")["k2host"]
        assert result["failed"] and repr(members[0][0]) in result["msg"], name
        assert tree(root) == after and not os.path.exists("/tmp/erpops-escaped") and not (tmp_path / "escaped.txt").exists()


FOLDER = "tests/integration/playbooks/folder_backup.yml"


def test_folder_backup_and_restore(tmp_path):
    root = tmp_path / "host"
    folder = root / "K2"
    (folder / "Conf" / "Special").mkdir(parents=True)
    (folder / "k2.ini").write_bytes("[K2]\r\nNAZEV=Účetní\r\n".encode("cp1250"))
    (folder / "k2").write_bytes(b"old")
    (folder / "K2VERSION.txt").write_text("gaia.12.3\n")
    inventory = tmp_path / "inventory.json"
    host = {"ansible_connection": "local", "ansible_python_interpreter": os.sys.executable}
    inventory.write_text(json.dumps({"all": {"hosts": {"k2host": host}}}))
    manifest = tmp_path / "state" / "manifest.json"
    variables = {"folder": str(folder), "manifest": str(manifest), "run_id": "r1"}

    before = tree(root)
    assert run_playbook(FOLDER, str(inventory), extravars=variables, check=True).changed() == 1
    assert tree(root) == before and not manifest.exists()
    done = run_playbook(FOLDER, str(inventory), extravars=variables)
    entry = done.results("Folder backup")["k2host"]["backup"]
    assert done.changed() == 1 and entry["kind"] == "folder" and entry["k2_version"] == "gaia.12.3" and entry["files"] == 3
    assert json.loads(manifest.read_text())["entries"] == [entry]
    copy = tree(entry["file"])
    assert copy == tree(folder)
    assert run_playbook(FOLDER, str(inventory), extravars=variables).changed() == 0, "an intact backup of the run is kept"

    # A failed install changed the folder; the restore brings it back and keeps what it replaced.
    (folder / "k2").write_bytes(b"half-installed")
    (folder / "K2VERSION.txt").write_text("ori.09\n")
    broken = tree(folder)
    restore = dict(variables, folder_state="restored")
    assert run_playbook(FOLDER, str(inventory), extravars=restore, check=True).changed() == 1 and tree(folder) == broken
    restored = run_playbook(FOLDER, str(inventory), extravars=restore)
    result = restored.results("Folder backup")["k2host"]
    assert restored.changed() == 1 and tree(folder) == copy and tree(result["replaced_kept_as"]) == broken
    assert run_playbook(FOLDER, str(inventory), extravars=restore).changed() == 0
