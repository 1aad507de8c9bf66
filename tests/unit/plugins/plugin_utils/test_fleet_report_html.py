"""The HTML page of the fleet report: rendered from the role's Jinja2 template, escaped, self-contained, overridable."""

import re
from html.parser import HTMLParser

import pytest
from jinja2.exceptions import SecurityError

from ansible_collections.erpops.upgrade.plugins.module_utils import fleet_report as fr
from ansible_collections.erpops.upgrade.plugins.plugin_utils import fleet_report_html as page_of

GO_SITE = {"site": "north", "reached_end": True, "started": "2025-02-12T21:00:00+00:00", "finished": "2025-02-12T21:00:04.5+00:00",
           "steps": {"preflight": {"go": True, "version": "gaia.12.3", "target_version": "ori.09", "upgrade_kind": "generation"},
                     "backup": {"changed": True, "backup_manifest": "/var/lib/erpops/state/k2_reinstall/a-very-long-folder-name/north-backups.json"}}}
NO_GO_SITE = {"site": "south", "reached_end": True,
              "steps": {"preflight": {"go": False, "version": "gaia.12.3", "target_version": "ori.09", "reasons": ["database is behind"]}}}
UNREAD_SITE = {"site": "west", "reached_end": True,
               "steps": {"preflight": {"go": False, "kind": "unknown", "reasons": ["K2 folder D:\\K2 does not exist"]}}}


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


def render(report):
    return page_of.render_html(report, page_of.default_template_text())


def test_html_is_self_contained_escaped_and_ordered():
    hostile = dict(NO_GO_SITE, site='<script>alert("x")</script>', customer="A&B <i>",
                   steps={"preflight": dict(NO_GO_SITE["steps"]["preflight"], reasons=['<img src="http://evil/x.png">'])})
    report = fr.build_report([GO_SITE, hostile, UNREAD_SITE], title="K2 <precheck>", generated_at="now")
    page = render(report)
    parser = _Collector()
    parser.feed(page)
    tag_names = {tag for tag, _attrs in parser.tags}
    assert not tag_names & {"script", "img", "link", "iframe", "object", "embed"}
    assert not any(name in ("src", "href") for _tag, attrs in parser.tags for name in attrs)
    assert not re.search(r"url\(|@import|https?://", page.split("<body>")[0])
    assert parser.rows == [("west", "failed"), ('<script>alert("x")</script>', "no-go"), ("north", "changed")]
    text = "".join(parser.text)
    assert '<img src="http://evil/x.png">' in text  # shown as text, not loaded
    assert "K2 <precheck>" in text and "A&B <i>" in text


def test_a_long_path_is_shortened_with_the_whole_path_on_hover():
    page = render(fr.build_report([GO_SITE], title="t", generated_at="now"))
    parser = _Collector()
    parser.feed(page)
    spans = [attrs for tag, attrs in parser.tags if tag == "span" and attrs.get("class") == "path"]
    assert spans == [{"class": "path", "title": GO_SITE["steps"]["backup"]["backup_manifest"]}]
    assert "\u2026/a-very-long-folder-name/north-backups.json" in "".join(parser.text)


def test_a_users_template_replaces_the_page_and_still_escapes():
    report = fr.build_report([GO_SITE, dict(NO_GO_SITE, site="<b>s</b>")], title="t", generated_at="now")
    template = "{% for row in report.rows %}{{ row.site }}={{ row.status }} {{ row.duration_seconds | duration }};{% endfor %}"
    assert page_of.render_html(report, template) == "&lt;b&gt;s&lt;/b&gt;=no-go ;north=changed 4.5 s;"


def test_the_template_runs_in_a_sandbox():
    with pytest.raises(SecurityError):
        page_of.render_html({"rows": []}, "{{ report.__class__.__mro__ }}{{ ''.__class__.__subclasses__() }}")
