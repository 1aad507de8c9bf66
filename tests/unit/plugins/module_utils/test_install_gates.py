"""The seed's gates around the install: structure (DEMO/INIT reported), test reinstall (K2-18), extensions (K2-14)."""
from __future__ import annotations

from ansible_collections.erpops.upgrade.plugins.module_utils import install_gates as g


def test_structure_gate_reports_demo_and_init_only():
    check = {"databases": [{"database": "K2_CONF", "code": "CONF", "role": "conf", "findings": 0},
                           {"database": "K2_DEMO", "code": "DEMO", "role": "system", "findings": 4},
                           {"database": "K2_INIT", "code": "INIT", "role": "system", "findings": 0, "error": "timeout"},
                           {"database": "K2_FIRMA", "code": "FIRMA", "role": "production", "findings": 0}]}
    gate = g.structure_gate(check)
    assert gate["go"] and gate["blocking"] == [] and len(gate["reported"]) == 2 and "recreates those databases" in gate["note"]
    check["databases"][3]["findings"] = 1
    gate = g.structure_gate(check)
    assert not gate["go"] and gate["blocking"] == ["K2_FIRMA (FIRMA): 1 finding(s)"]
    assert g.structure_gate({})["go"]


def test_generation_change_needs_the_test_reinstall_or_a_waiver():
    record = g.test_reinstall_record("ori.09", "r-test", "/k2-test", "2026-11-29T20:00:00Z")
    assert g.test_reinstall_gate(record, "ori.09.1", "generation", False)["go"]
    assert "a test reinstall to ori.09 finished" in g.test_reinstall_gate(record, "ori.09", "generation", False)["tested"]
    missing = g.test_reinstall_gate(None, "ori.09", "generation", False)
    assert not missing["go"] and "K2-18" in missing["reason"] and "k2_reinstall_waive_test_reinstall" in missing["reason"]
    other = g.test_reinstall_gate(record, "ori.10", "generation", False)
    assert not other["go"], "a test of another target does not count"
    failed = g.test_reinstall_gate(dict(record, status="failed"), "ori.09", "generation", False)
    assert not failed["go"]
    waived = g.test_reinstall_gate(None, "ori.09", "generation", True)
    assert waived["go"] and waived["warning"].startswith("WAIVED")


def test_a_run_is_a_test_reinstall_when_named_or_linked_by_the_test_environment():
    link = g.test_environment_link("D:\\K2", "D:\\K2_TESTENV", "site01", "K2_CONF", "K2_CONF_TESTENV")
    linked = g.test_of(None, link, "d:\\k2_testenv\\")
    assert linked["test_of"] == "D:\\K2" and linked["source"] == "test environment link" and "site01" in linked["note"]
    assert g.test_of("E:\\K2", link, "D:\\K2_TESTENV")["test_of"] == "E:\\K2", "the user's k2_reinstall_test_of wins"
    assert g.test_of(None, None, "D:\\K2") == {"test_of": None, "source": None, "note": None}, "production: no link"
    moved = g.test_of(None, link, "D:\\K2_OTHER")
    assert moved["test_of"] is None and "names another folder" in moved["note"]
    posix = g.test_environment_link("/srv/k2", "/srv/k2_TESTENV", "lab", "c", "c2")
    assert g.test_of(None, posix, "/srv/k2_TESTENV/")["test_of"] == "/srv/k2"
    assert g.test_of(None, posix, "/srv/K2_testenv")["test_of"] is None, "POSIX paths keep their case"


def test_release_change_is_advised_and_build_is_free():
    assert "advised" in g.test_reinstall_gate(None, "gaia.13", "release", False)["warning"]
    assert g.test_reinstall_gate(None, "gaia.12.4", "build", False) == {"go": True, "reason": None, "warning": None, "tested": None}


def test_outdated_extensions_are_reported_unless_asked_to_block():
    assert g.extensions_gate([], True)["go"]
    reported = g.extensions_gate(["Sklad"], False)
    assert reported["go"] and "Sklad" in reported["warning"] and "EXTENSIONS=UPDATE" in reported["warning"]
    assert not g.extensions_gate(["Sklad"], True)["go"]


def test_the_filter_dispatches():
    import pytest
    from ansible.errors import AnsibleFilterError
    from ansible_collections.erpops.upgrade.plugins.filter.k2_install_gate import k2_install_gate
    assert k2_install_gate({}, "structure")["go"]
    assert not k2_install_gate(None, "test_reinstall", "ori.09", "generation", False)["go"]
    assert not k2_install_gate(["Sklad"], "extensions", True)["go"]
    with pytest.raises(AnsibleFilterError):
        k2_install_gate({}, "nonsense")
    from ansible_collections.erpops.upgrade.plugins.filter.k2_install_gate import k2_test_of
    assert k2_test_of(None, "", "/srv/k2")["test_of"] is None
    assert k2_test_of({"test_of": "/srv/k2", "folder": "/srv/k2_T"}, "", "/srv/k2_T")["test_of"] == "/srv/k2"
