# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k2_backup's module code (lab engine) with a stand-in database and stand-in pg_dump / pg_restore scripts.

The scripts record their command line and whether PGPASSWORD reached them; pg_restore
--list fails on demand, which is how a damaged backup shows itself.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.erpops.upgrade.plugins.modules import k2_backup

SECRET = "pw-never-in-argv"


class StandInDb:
    """Answers the FIRMY, version, size and session queries of the module."""

    def __init__(self, sessions=0):
        self.sessions = sessions

    def query(self, sql, params=()):
        if '"FIRMY"' in sql:
            return [{"code": "DEMO", "name": "Demo", "dbname": "K2_DEMO"}, {"code": "FIRMA", "name": "Firma", "dbname": "K2_FIRMA"},
                    {"code": "FIRMA_TEST", "name": "Test", "dbname": "K2_FIRMA_TEST"}]
        if '"K2VERZE"' in sql:
            return [{"version": "gaia.12.3"}]
        if "pg_database_size" in sql:
            return [{"bytes": 4096}]
        if "pg_stat_activity" in sql:
            return [{"sessions": self.sessions}]
        raise AssertionError(sql)

    def close(self):
        pass


def tools(folder, verify_fails=False):
    log = os.path.join(folder, "calls.log")
    scripts = {
        "pg_dump": '#!/bin/sh\necho "pg_dump $* PGPASSWORD=${PGPASSWORD:+set}" >> %s\n'
                   'while [ "$1" != "--file" ]; do shift; done\nprintf "PGDMP archive" > "$2"\n' % log,
        "pg_restore": '#!/bin/sh\necho "pg_restore $* PGPASSWORD=${PGPASSWORD:+set}" >> %s\n%s' % (
            log, 'if [ "$1" = "--list" ]; then echo "pg_restore: error: input file is too short, password %s" >&2; exit 1; fi\n'
            % SECRET if verify_fails else ""),
    }
    for name, text in scripts.items():
        path = os.path.join(folder, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(path, stat.S_IRWXU)
    return log


def run_module(monkeypatch, capsys, db, check=False, **args):
    monkeypatch.setattr(k2_backup.k2db, "connect", lambda params, database: db)
    base = dict(conf_database="K2_CONF", db_platform="lab", login_host="/run/pg", login_user="k2", login_password=SECRET,
                _ansible_check_mode=check)
    with patch_module_args(dict(base, **args)):
        with pytest.raises(SystemExit):
            k2_backup.main()
    return json.loads(capsys.readouterr().out)


def test_backup_records_verified_entries_and_reuses_them(tmp_path, monkeypatch, capsys):
    log = tools(str(tmp_path))
    manifest, target = str(tmp_path / "m.json"), str(tmp_path / "backups")
    args = dict(manifest=manifest, target_dir=target, pg_bin_dir=str(tmp_path), run_id="r1", max_age=30, position="after_check")

    check = run_module(monkeypatch, capsys, StandInDb(), check=True, **args)
    assert check["changed"] and [b["code"] for b in check["backups"]] == ["CONF", "FIRMA"]
    assert check["space"]["needed"] == int(2 * 4096 * 1.1) and not os.path.exists(manifest) and not os.path.exists(log)

    first = run_module(monkeypatch, capsys, StandInDb(), **args)
    assert first["changed"] and not first.get("failed")
    with open(manifest, encoding="utf-8") as handle:
        entries = json.load(handle)["entries"]
    assert [(e["code"], e["verified"], e["position"], e["run_id"], e["k2_version"], e["size"]) for e in entries] == [
        ("CONF", True, "after_check", "r1", "gaia.12.3", 13), ("FIRMA", True, "after_check", "r1", "gaia.12.3", 13)]
    with open(log, encoding="utf-8") as handle:
        calls = handle.read()
    assert SECRET not in calls and calls.count("PGPASSWORD=set") == 4 and "pg_restore --list" in calls

    again = run_module(monkeypatch, capsys, StandInDb(), **args)
    assert again["changed"] is False and all(b["reused"] for b in again["backups"])
    os.unlink(entries[1]["file"])
    gone = run_module(monkeypatch, capsys, StandInDb(), **args)
    assert gone["changed"] and [b["reused"] for b in gone["backups"]] == [True, False], "a deleted file is not reused"


def test_failed_verification_leaves_no_success_and_no_file(tmp_path, monkeypatch, capsys):
    tools(str(tmp_path), verify_fails=True)
    manifest, target = str(tmp_path / "m.json"), str(tmp_path / "backups")
    result = run_module(monkeypatch, capsys, StandInDb(), manifest=manifest, target_dir=target, pg_bin_dir=str(tmp_path))
    assert result["failed"] and "verification (pg_restore --list)" in result["msg"] and "input file is too short" in result["msg"]
    assert SECRET not in json.dumps(result)
    with open(manifest, encoding="utf-8") as handle:
        entries = json.load(handle)["entries"]
    assert [(e["code"], e["verified"]) for e in entries] == [("CONF", False)] and "too short" in entries[0]["message"]
    assert os.listdir(target) == []


def test_restore_refuses_connected_users(tmp_path, monkeypatch, capsys):
    log = tools(str(tmp_path))
    manifest, target = str(tmp_path / "m.json"), str(tmp_path / "backups")
    run_module(monkeypatch, capsys, StandInDb(), manifest=manifest, target_dir=target, pg_bin_dir=str(tmp_path), databases=["FIRMA"])
    busy = run_module(monkeypatch, capsys, StandInDb(sessions=2), manifest=manifest, pg_bin_dir=str(tmp_path), state="restored")
    assert busy["failed"] and "K2_FIRMA: 2 session(s)" in busy["msg"]
    with open(log, encoding="utf-8") as handle:
        assert "--clean" not in handle.read()
    done = run_module(monkeypatch, capsys, StandInDb(), manifest=manifest, pg_bin_dir=str(tmp_path), state="restored", databases=["FIRMA"])
    assert done["changed"] and [e["database"] for e in done["restored"]] == ["K2_FIRMA"]
    with open(log, encoding="utf-8") as handle:
        assert "pg_restore --clean --if-exists --no-owner --single-transaction" in handle.read()
    with open(manifest, encoding="utf-8") as handle:
        entry = json.load(handle)["entries"][0]
    with open(entry["file"], "ab") as handle:
        handle.write(b"tampered")
    tampered = run_module(monkeypatch, capsys, StandInDb(), manifest=manifest, pg_bin_dir=str(tmp_path), state="restored")
    assert tampered["failed"] and "does not match its manifest checksum" in tampered["msg"]


def test_named_databases_of_another_product_are_backed_up_without_reading_firmy(tmp_path, monkeypatch, capsys):
    tools(str(tmp_path))
    manifest, target = str(tmp_path / "m.json"), str(tmp_path / "backups")
    args = dict(manifest=manifest, target_dir=target, pg_bin_dir=str(tmp_path), read_firmy=False, conf_database=None)

    class NoK2(StandInDb):
        def query(self, sql, params=()):
            assert '"FIRMY"' not in sql and '"K2VERZE"' not in sql, sql
            return super().query(sql, params)

    refused = run_module(monkeypatch, capsys, NoK2(), **args)
    assert refused["failed"] and "name the databases" in refused["msg"] and not os.path.exists(manifest)
    taken = run_module(monkeypatch, capsys, NoK2(), databases=["CDN_Firma", "CDN_KNF_Konfiguracja", "CDN_Firma"], **args)
    assert taken["changed"] and [(b["database"], b["code"], b["verified"], b["k2_version"]) for b in taken["backups"]] == [
        ("CDN_Firma", "CDN_Firma", True, None), ("CDN_KNF_Konfiguracja", "CDN_KNF_Konfiguracja", True, None)]
    missing_conf = run_module(monkeypatch, capsys, NoK2(), manifest=manifest, target_dir=target, conf_database=None)
    assert missing_conf["failed"] and "conf_database" in missing_conf["msg"]
