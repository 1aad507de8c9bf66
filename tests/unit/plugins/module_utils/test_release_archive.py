"""Release archives: every unsafe member refused before anything is written; unpack beside the folder, then swap."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import release_archive as ra
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import ps_quote


def make_zip(path, members):
    """members: (name, bytes, unix mode)"""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
    return str(path)


GOOD = [("k2", b"#!/bin/sh\necho new\n", 0o100755), ("SQL/konverze/K2_D509Lab.sql", b"SELECT 1\nGO\n", 0o100644),
        ("K2VERSION.txt", b"ori.09\n", 0o100644)]


def folder_state(root):
    state = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            state[rel] = ("link", os.readlink(path)) if os.path.islink(path) else ("dir",) if os.path.isdir(path) else (
                "file", hashlib.sha256(open(path, "rb").read()).hexdigest(), os.stat(path).st_mode & 0o777)
    return state


@pytest.fixture
def k2(tmp_path):
    root = tmp_path / "sites" / "K2"
    (root / "Conf").mkdir(parents=True)
    (root / "k2.ini").write_bytes("[DATABASE]\r\nDATABASE=K2_CONF\r\n".encode("cp1250"))
    (root / "k2").write_bytes(b"old")
    (root / "Zakaznik.txt").write_bytes(b"a file the site added")
    return root


@pytest.mark.parametrize("member, reason", [
    (("../outside.txt", b"x", 0o100644), "a '..' part"),
    (("SQL/../../outside.txt", b"x", 0o100644), "a '..' part"),
    (("/etc/erpops", b"x", 0o100644), "an absolute path"),
    (("C:/Windows/win.ini", b"x", 0o100644), "an absolute path"),
    (("..\\evil.dll", b"x", 0o100644), "a '..' part"),
    (("bin/link", b"/etc/passwd", 0o120777), "a symbolic link to '/etc/passwd'"),
    (("k2.ini", b"/tmp/evil.ini", 0o120777), "it would replace the site's configuration by a link"),
    (("fifo", b"", 0o010644), "special file"),
    (("K2", b"x", 0o100644), "a second member for the same file as 'k2'"),
])
def test_unsafe_members_are_refused_by_name(tmp_path, member, reason):
    archive = make_zip(tmp_path / "evil.zip", GOOD + [member])
    with pytest.raises(ra.UnsafeArchive) as caught:
        ra.plan(ra.read_members(archive))
    assert repr(member[0]) in str(caught.value) and reason in str(caught.value) and "nothing was written" in str(caught.value)


def test_tar_links_and_every_problem_named(tmp_path):
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as archive:
        for name, kind in (("ok.txt", tarfile.REGTYPE), ("hard", tarfile.LNKTYPE), ("soft", tarfile.SYMTYPE), ("../up", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "ok.txt" if kind != tarfile.REGTYPE else ""
            archive.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    with pytest.raises(ra.UnsafeArchive) as caught:
        ra.plan(ra.read_members(str(path)))
    text = str(caught.value)
    assert "3 unsafe member(s)" in text and "'hard': a hard link" in text and "'soft': a symbolic link" in text and "'../up'" in text


def test_protected_members_are_kept_out_and_the_checksum_checked(tmp_path):
    archive = make_zip(tmp_path / "r.zip", GOOD + [("k2.ini", b"[x]", 0o100644), ("Conf/Special/x.json", b"{}", 0o100644)])
    planned = ra.plan(ra.read_members(archive))
    assert planned["skipped"] == ["k2.ini", "Conf/Special/x.json"] and [m.name for m in planned["files"]] == [m[0] for m in GOOD]
    digest = ra.sha256_file(archive)
    ra.check_sha256(digest, digest.upper())
    with pytest.raises(ra.UnsafeArchive, match="not the expected 00"):
        ra.check_sha256(digest, "00")


def run_unpacker(tmp_path, archive, dest, mode):
    planned = ra.plan(ra.read_members(archive))
    plan_file = tmp_path / ("plan-%s.json" % mode)
    plan_file.write_text(ra.plan_json(planned["files"], archive, str(dest), mode))
    done = subprocess.run([sys.executable, "-c", ra.UNPACK_PROGRAM, str(plan_file)], capture_output=True, text=True, check=False)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_unpack_beside_then_swap_and_a_second_run_changes_nothing(tmp_path, k2):
    archive = make_zip(tmp_path / "r.zip", GOOD)
    before = folder_state(k2)
    rc, answer = run_unpacker(tmp_path, archive, k2, "diff")
    assert rc == 0 and sorted(answer["changed"]) == sorted(m[0] for m in GOOD) and folder_state(k2) == before
    rc, answer = run_unpacker(tmp_path, archive, k2, "unpack")
    assert rc == 0 and len(answer["changed"]) == 3
    after = folder_state(k2)
    assert after["k2"][2] == 0o755 and (k2 / "k2").read_bytes() == GOOD[0][1]
    assert after["k2.ini"] == before["k2.ini"] and after["Zakaznik.txt"] == before["Zakaznik.txt"]
    assert sorted(os.listdir(k2.parent)) == ["K2"], "no stage or old folder is left beside it"
    assert run_unpacker(tmp_path, archive, k2, "unpack") == (0, {"changed": []})


def test_a_failed_unpack_leaves_the_folder_as_it_was(tmp_path, k2):
    # A folder where the release puts a file cannot be written: the stage fails, the folder is untouched.
    (k2 / "SQL" / "konverze" / "K2_D509Lab.sql").mkdir(parents=True)
    (k2 / "bin").mkdir()
    os.symlink("/etc/passwd", k2 / "bin" / "k2lnk")
    archive = make_zip(tmp_path / "r.zip", GOOD)
    before = folder_state(k2)
    rc, answer = run_unpacker(tmp_path, archive, k2, "unpack")
    assert rc == 1 and "the K2 folder is unchanged" in answer["msg"] and "K2_D509Lab.sql is a link or a folder" in answer["msg"]
    assert folder_state(k2) == before and sorted(os.listdir(k2.parent)) == ["K2"]


def test_powershell_branch_text():
    script = ra.powershell_unpack("C:\\Windows\\Temp\\ans'ible\\plan.json", ps_quote)
    assert "Get-Content -Raw -Encoding UTF8 -LiteralPath 'C:\\Windows\\Temp\\ans''ible\\plan.json' | ConvertFrom-Json" in script
    for piece in ("robocopy $dest $stage /MIR", "[IO.Compression.ZipFileExtensions]::ExtractToFile($entry, $target, $true)",
                  "Rename-Item -LiteralPath $dest -NewName (Split-Path -Leaf $old)", "Rename-Item -LiteralPath $old -NewName $leaf",
                  "if ($LASTEXITCODE -ge 8)", "Get-FileHash -Algorithm SHA256"):
        assert piece in script
    # The stage is removed on failure before the folder is ever renamed.
    assert script.index("Remove-Item -LiteralPath $stage") < script.index("Rename-Item -LiteralPath $dest")
