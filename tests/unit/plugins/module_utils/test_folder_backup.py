"""The K2 folder in the backup: manifest entries, the version warning, the K2 host's program on real files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

from ansible_collections.erpops.upgrade.plugins.module_utils import backup, folder_backup as fb
from ansible_collections.erpops.upgrade.plugins.plugin_utils.k2host import ps_quote

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)


def program(*args):
    done = subprocess.run([sys.executable, "-c", fb.POSIX_PROGRAM] + [str(a) for a in args], capture_output=True, text=True, check=False)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_entries_are_kept_apart_from_database_entries():
    manifest = backup.empty_manifest()
    db = backup.new_entry("K2_FIRMA", "FIRMA", "lab", "/b/f.dump", "after_check", "r1", NOW)
    db["verified"] = True
    folder = fb.new_entry("/k2", "/k2.erpops-backup", "gaia.12.3", "r1", NOW, {"files": 3, "size": 10, "checksum": "ab"})
    manifest["entries"] += [db, folder]
    assert backup.database_entries(manifest["entries"]) == [db]
    assert [e["database"] for e in backup.restore_choice(manifest)] == ["K2_FIRMA"]
    assert backup.gate_backup(manifest, "K2_FIRMA", "r1") == db
    assert fb.latest(manifest, "/k2", "r1") == folder and fb.latest(manifest, "/k2", "r2") is None
    assert folder["kind"] == "folder" and folder["position"] == "before_install" and folder["checksum_kind"] == "listing-sha256"
    assert fb.copy_name("K2", NOW, "site/1") == "K2.erpops-backup-20261130T030000Z-site_1"


def test_version_mismatch_warning():
    entries = [{"database": "K2_CONF", "k2_version": "gaia.12.3"}, {"database": "K2_FIRMA", "k2_version": "gaia.12.3"}]
    assert fb.version_mismatch(entries, "gaia.12.3") is None
    warning = fb.version_mismatch(entries, "ori.09")
    assert "K2_CONF (gaia.12.3), K2_FIRMA (gaia.12.3)" in warning and "restore the K2 folder too" in warning
    assert fb.version_mismatch(entries, None) is None


def test_backup_and_restore_on_real_files(tmp_path):
    k2 = tmp_path / "K2"
    (k2 / "Conf").mkdir(parents=True)
    (k2 / "k2.ini").write_bytes("[K2]\r\nNAZEV=Účetní\r\n".encode("cp1250"))
    (k2 / "k2").write_bytes(b"old k2")
    copy = tmp_path / "K2.erpops-backup"
    rc, made = program("backup", k2, copy)
    assert rc == 0 and made["files"] == 2 and made["copy"] == str(copy) and not (tmp_path / "K2.erpops-backup.partial").exists()
    assert program("backup", k2, copy)[1]["failed"], "an existing copy is never overwritten"
    (k2 / "k2").write_bytes(b"new k2 of a failed install")
    (k2 / "added.txt").write_bytes(b"x")
    rc, bad = program("restore", copy, k2, "0" * 64)
    assert rc == 1 and "does not match its manifest entry" in bad["msg"] and (k2 / "k2").read_bytes() == b"new k2 of a failed install"
    rc, restored = program("restore", copy, k2, made["checksum"])
    assert rc == 0 and (k2 / "k2").read_bytes() == b"old k2" and not (k2 / "added.txt").exists()
    assert os.path.exists(restored["replaced_kept_as"]) and open(os.path.join(restored["replaced_kept_as"], "k2"), "rb").read().startswith(b"new")
    assert program("listing", k2, k2)[1]["checksum"] == made["checksum"]


def test_powershell_text():
    script = fb.powershell_program("restore", "D:\\K2.erpops-backup", "D:\\K2 o'Brien", "ab", ps_quote)
    assert "$target = 'D:\\K2 o''Brien'" in script
    for piece in ("robocopy $from $to /MIR", "Get-FileHash -Algorithm SHA256", "Rename-Item -LiteralPath $target -NewName (Split-Path -Leaf $aside)",
                  "if ($aside) { Rename-Item -LiteralPath $aside -NewName $leaf }", "if ($LASTEXITCODE -ge 8)"):
        assert piece in script
    assert script.index("Remove-Item -LiteralPath $stage") < script.index("Rename-Item -LiteralPath $target")


def test_the_restore_playbook_filter():
    from ansible_collections.erpops.upgrade.plugins.filter.k2_folder_mismatch import FilterModule
    mismatch = FilterModule().filters()["k2_folder_mismatch"]
    assert mismatch([{"database": "K2_CONF", "k2_version": "gaia.12.3"}], "ori.09").startswith("the databases are restored")
    assert mismatch([{"database": "K2_CONF", "k2_version": "ori.09"}], "ori.09") == "" and mismatch(None, "ori.09") == ""
