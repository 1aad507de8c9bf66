"""The fleet report core: rows, order, redaction, JSON and a self-contained, escaped HTML page."""

import json
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import fleet_report as fr

GO_SITE = {
    "site": "north", "customer": "acme", "reached_end": True,
    "started": "2025-02-12T21:00:00+00:00", "finished": "2025-02-12T21:00:04.5+00:00",
    "steps": {"preflight": {"go": True, "kind": "runnable", "version": "gaia.12.3", "target_version": "ori.09",
                            "upgrade_kind": "generation", "production_mandants": ["FIRMA"], "reasons": [], "notes": []}},
}
NO_GO_SITE = {
    "site": "south", "customer": "beta", "reached_end": True,
    "steps": {"preflight": {"go": False, "kind": "runnable", "version": "gaia.12.3", "target_version": "ori.09",
                            "upgrade_kind": "generation", "reasons": ["database south_FIRMA is at gaia.11.7"], "notes": []}},
}
UNREAD_SITE = {
    "site": "west", "reached_end": True,
    "steps": {"preflight": {"go": False, "kind": "unknown", "version": None, "target_version": "ori.09",
                            "reasons": ["K2 folder D:\\K2 does not exist on the K2 host"]}},
}


def statuses(report):
    return [(row["site"], row["status"]) for row in report["rows"]]


def test_failed_sites_come_first_then_no_go_then_the_rest():
    failed = {"site": "alpha", "reached_end": True, "failure": {"task": "Backup", "msg": "disk full"}, "steps": {}}
    report = fr.build_report([GO_SITE, NO_GO_SITE, failed, UNREAD_SITE], title="K2", generated_at="now")
    assert statuses(report) == [("alpha", "failed"), ("west", "failed"), ("south", "no-go"), ("north", "go")]
    assert report["summary"] == {"failed": 2, "no-go": 1, "changed": 0, "go": 1, "ok": 0}
    assert report["sites"] == 4


def test_go_row_carries_versions_kind_duration_and_next_step():
    row = fr.build_row(GO_SITE)
    assert row["version_from"] == "gaia.12.3" and row["version_to"] == "ori.09"
    assert row["upgrade_kind"] == "generation"
    assert row["duration_seconds"] == 4.5
    assert row["steps"] == [{"name": "preflight", "status": "ok"}]
    assert row["next"] == "Ready: reinstall to ori.09 (generation upgrade)"
    assert row["customer"] == "acme" and row["go"] is True


def test_a_site_the_preflight_could_not_read_is_failed_with_the_reason():
    row = fr.build_row(UNREAD_SITE)
    assert row["status"] == "failed"
    assert row["failure"] == "preflight: K2 folder D:\\K2 does not exist on the K2 host"
    assert "--limit west" in row["next"]


def test_a_host_that_dropped_out_of_the_run_is_failed():
    row = fr.build_row({"site": "east", "reached_end": False, "steps": {"preflight": GO_SITE["steps"]["preflight"]}})
    assert row["status"] == "failed"
    assert "stopped before the end" in row["failure"]


def test_a_site_without_any_result_is_failed():
    assert fr.build_row({"site": "ghost", "reached_end": True, "steps": {}})["status"] == "failed"


def test_registered_results_give_step_status_findings_manifest_and_changed():
    site = {"site": "s1", "reached_end": True, "steps": {
        "preflight": GO_SITE["steps"]["preflight"],
        "schema_check": {"changed": False, "findings": [{"kind": "missing_index"}, {"kind": "missing_index"}, {"kind": "type_mismatch"}]},
        "backup": {"changed": True, "backup_manifest": {"path": "/backup/s1.json", "databases": 4}},
        "extensions": {"skipped": True},
        "convert": {"changed": True, "findings": {"failed_batches": 0, "warnings": ["w1", "w2"]}},
    }}
    row = fr.build_row(site)
    assert row["status"] == "changed"
    assert row["findings"] == {"missing_index": 2, "type_mismatch": 1, "warnings": 2}
    assert row["backup_manifest"] == {"path": "/backup/s1.json", "databases": 4}
    assert [s["status"] for s in row["steps"]] == ["ok", "ok", "changed", "skipped", "changed"]


def test_a_failed_registered_step_fails_the_row_with_its_message():
    row = fr.build_row({"site": "s", "steps": {"convert": {"failed": True, "msg": "batch 3 of K2_C412.sql failed"}}})
    assert row["status"] == "failed"
    assert row["failure"] == "convert: batch 3 of K2_C412.sql failed"


def test_a_step_may_say_what_to_do_next():
    row = fr.build_row({"site": "s", "steps": {"reinstall": {"changed": True, "next": "Run K2 once as admin"}}})
    assert row["next"] == "Run K2 once as admin"


@pytest.mark.parametrize("started, finished", [(None, "2025-01-01T00:00:00+00:00"), ("garbage", "2025-01-01T00:00:00+00:00"),
                                               ("2025-01-01T00:00:00", "2025-01-01T00:00:01+00:00")])
def test_unknown_duration_is_none(started, finished):
    assert fr.duration_seconds(started, finished) is None


def test_secret_keys_and_secret_values_never_reach_the_row():
    site = {"site": "s", "reached_end": True, "steps": {
        "preflight": dict(GO_SITE["steps"]["preflight"], notes=["connect failed: DRIVER={x};PWD={se;cr}}et};UID=sa", "token: abc123"]),
        "backup": {"changed": True, "manifest": {"login_password": "hunter2", "api_key": "k", "Secret": "s", "path": "/b",
                                                 "missing_primary_key": 2}},
        "convert": {"msg": "logged in with Sup3rS3cret as sa"},
    }}
    row = fr.build_row(site, secrets=["Sup3rS3cret", "", "x"])
    text = json.dumps(row)
    for secret in ("hunter2", "se;cr}}et", "abc123", "Sup3rS3cret"):
        assert secret not in text
    assert row["backup_manifest"]["login_password"] == fr.REDACTED
    assert row["backup_manifest"]["api_key"] == fr.REDACTED
    assert row["backup_manifest"]["Secret"] == fr.REDACTED
    assert row["backup_manifest"]["path"] == "/b"
    assert row["backup_manifest"]["missing_primary_key"] == 2  # a finding kind, not a secret
    assert "PWD=********;UID=sa" in row["notes"][0]


def test_short_secret_values_do_not_mask_ordinary_text():
    assert fr.redact("site x", secrets=["x"]) == "site x"


def test_json_is_stable_and_parses():
    report = fr.build_report([GO_SITE, NO_GO_SITE], title="t", generated_at="2025-01-01T00:00:00+00:00", playbook="p")
    text = fr.to_json(report)
    assert json.loads(text) == json.loads(json.dumps(report))
    assert text == fr.to_json(report)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.rows, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "tr" and "data-site" in attrs:
            self.rows.append((attrs["data-site"], attrs["data-status"]))

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_escaped_and_ordered():
    hostile = dict(NO_GO_SITE, site='<script>alert("x")</script>', customer="A&B <i>",
                   steps={"preflight": dict(NO_GO_SITE["steps"]["preflight"], reasons=['<img src="http://evil/x.png">'])})
    report = fr.build_report([GO_SITE, hostile, UNREAD_SITE], title="K2 <precheck>", generated_at="now")
    page = fr.to_html(report)
    parser = _Collector()
    parser.feed(page)
    tag_names = {tag for tag, _attrs in parser.tags}
    assert not tag_names & {"script", "img", "link", "iframe", "object", "embed"}
    assert not any(name in ("src", "href") for _tag, attrs in parser.tags for name in attrs)
    assert not re.search(r"url\(|@import|https?://", page.split("<body>")[0])
    assert parser.rows == [("west", "failed"), ('<script>alert("x")</script>', "no-go"), ("north", "go")]
    text = "".join(parser.text)
    assert '<img src="http://evil/x.png">' in text  # shown as text, not loaded
    assert "K2 <precheck>" in text and "A&B <i>" in text
