# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the structure check's orchestration: scope, konverze selection, result shape and reports."""

from __future__ import annotations

import html.parser

import pytest

from ansible_collections.erpops.upgrade.plugins.module_utils import schema_check
from ansible_collections.erpops.upgrade.plugins.module_utils.schema_check import DatabaseCheck, Target
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import Column, PrimaryKey, Schema, Table

MANDANTS = [
    {"code": "FIRMA", "name": "Firma", "database": "K2_FIRMA", "role": "production"},
    {"code": "DEMO", "name": "Demo", "database": "K2_DEMO", "role": "system"},
    {"code": "INIT", "name": "Init", "database": "K2_INIT", "role": "system"},
    {"code": "FIRMA2_TEST", "name": "Test", "database": "K2_FIRMA2_TEST", "role": "test"},
    {"code": "EMPTY", "name": "No database", "database": "", "role": "production"},
]
SCRIPT = """\
CREATE TABLE [dbo].[FIRMY] (
 [Cis] [int] NOT NULL,
 [Zkr] [varchar] (20) NULL
) ON [PRIMARY]
GO
ALTER TABLE [dbo].[FIRMY] With NOCHECK ADD CONSTRAINT [FIRMY_ById] PRIMARY KEY NONCLUSTERED ([Cis]) ON [PRIMARY]
GO
"""


def test_targets_are_conf_then_every_mandant_with_a_database():
    found = schema_check.targets("K2_CONF", MANDANTS)
    assert [(t.code, t.database, t.kind, t.role) for t in found] == [
        ("CONF", "K2_CONF", "conf", "conf"), ("DEMO", "K2_DEMO", "company", "system"), ("FIRMA", "K2_FIRMA", "company", "production"),
        ("FIRMA2_TEST", "K2_FIRMA2_TEST", "company", "test"), ("INIT", "K2_INIT", "company", "system")]


def test_targets_by_code_or_database_name_case_insensitive():
    found = schema_check.targets("K2_CONF", MANDANTS, ["firma", "K2_init", "conf"])
    assert [t.code for t in found] == ["CONF", "FIRMA", "INIT"]


def test_unknown_database_in_the_list_is_refused():
    with pytest.raises(ValueError, match=r"'FIRMA3'.*neither CONF nor a mandant.*FIRMA \(K2_FIRMA\)"):
        schema_check.targets("K2_CONF", MANDANTS, ["FIRMA", "FIRMA3"])


def test_konverze_for_picks_the_platform_and_database_kind():
    files = {"K2_D412.sql": "mssql company", "K2_C412.sql": "mssql conf", "K2_D412Ora.sql": "oracle company",
             "K2_D412Additional.sql": "mssql company additional", "readme.txt": "not a conversion", "K2_D412Lab.sql": "lab"}
    assert sorted(schema_check.konverze_for(files, "mssql", "company")) == ["K2_D412.sql", "K2_D412Additional.sql"]
    assert sorted(schema_check.konverze_for(files, "oracle", "company")) == ["K2_D412Ora.sql"]
    assert sorted(schema_check.konverze_for(files, "mssql", "conf")) == ["K2_C412.sql"]
    assert schema_check.is_konverze_name("k2_d412ora.SQL", "oracle") and not schema_check.is_konverze_name("readme.txt", "mssql")


def _live(drop_key=False, extra=False):
    live = Schema("mssql", "K2_FIRMA", taken_at="2026-01-01T00:00:00+00:00")
    table = Table("FIRMY", [Column("Cis", "int", nullable=False), Column("Zkr", "varchar", 20)])
    if not drop_key:
        table.primary_key = PrimaryKey("FIRMY_ById", ("Cis",))
    if extra:
        table.columns.append(Column("X|Y", "int"))
    live.add(table)
    return live


def test_check_database_findings_and_plan():
    expected = read_ddl(SCRIPT, "mssql", "K2t_FIRMA_MSSQL.SQL")
    check = schema_check.check_database(Target("FIRMA", "K2_FIRMA", "company", "production"), expected, _live(drop_key=True))
    assert [f.kind for f in check.findings] == ["missing_primary_key"]
    assert [(s.kind, s.source) for s in check.plan] == [("add_primary_key", "K2t_FIRMA_MSSQL.SQL:6")]
    assert check.taken_at == "2026-01-01T00:00:00+00:00" and not check.consistent


def test_system_databases_are_recreated_not_repaired():
    expected = read_ddl(SCRIPT, "mssql", "K2t_FIRMA_MSSQL.SQL")
    check = schema_check.check_database(Target("INIT", "K2_INIT", "company", "system"), expected, _live(drop_key=True, extra=True))
    assert [s.kind for s in check.plan] == ["recreate_database"]


def test_column_findings_search_the_konverze():
    expected = read_ddl(SCRIPT, "mssql", "K2t_FIRMA_MSSQL.SQL")
    live = _live()
    live.table("FIRMY").columns.pop()
    konverze = {"K2_D412Additional.sql": "-- add it\nALTER TABLE [dbo].[FIRMY] ADD [Zkr] [varchar] (20) NULL\nGO\n"}
    check = schema_check.compare(Target("FIRMA", "K2_FIRMA", "company", "production"), expected, live)
    assert schema_check.needs_konverze(check.findings)
    steps = schema_check.plan_for(check, expected, konverze, "gaia.12.3", "mssql")
    assert [(s.kind, s.source) for s in steps] == [("konverze", "K2_D412Additional.sql:2")]
    without = schema_check.plan_for(check, expected, {}, "gaia.12.3", "mssql")
    assert without[0].kind == "ask_support" and without[0].attachments["k2_version"] == "gaia.12.3"
    assert "column Zkr (varchar(20)) is missing" in without[0].attachments["check_output"]


def _result():
    expected = read_ddl(SCRIPT + "FROBNICATE\nGO\n", "mssql", "K2t_FIRMA_MSSQL.SQL")
    firma = schema_check.check_database(Target("FIRMA", "K2_FIRMA", "company", "production"), expected, _live(extra=True),
                                        custom_prefixes=["FIR"])
    conf = schema_check.check_database(Target("CONF", "K2_CONF", "conf", "conf"), read_ddl(SCRIPT, "mssql", "c.sql"), _live())
    gone = DatabaseCheck(Target("GONE", "K2_GONE", "company", "production"), error="database missing: K2_GONE <script>")
    return schema_check.result([conf, firma, gone])


def test_result_shape_counts_custom_apart_and_errors_are_never_consistent():
    data = _result()
    assert data["consistent"] is False
    assert data["counts"] == {
        "total": 2, "by_kind": {"extra_column": 1, "unreadable_statement": 1}, "by_database": {"K2_CONF": 0, "K2_FIRMA": 2, "K2_GONE": 0},
        "standard": {"total": 1, "by_kind": {"unreadable_statement": 1}}, "custom": {"total": 1, "by_kind": {"extra_column": 1}}, "errors": 1}
    assert data["errors"] == [{"code": "GONE", "database": "K2_GONE", "error": "database missing: K2_GONE <script>"}]
    assert [d["consistent"] for d in data["databases"]] == [True, False, False]
    extra = next(f for f in data["findings"] if f["kind"] == "extra_column")
    assert (extra["database"], extra["table"], extra["column"], extra["actual"], extra["custom"]) == ("K2_FIRMA", "FIRMY", "X|Y", "int", True)
    assert sorted(s["kind"] for s in data["repair_plan"]) == ["deploy_project", "review_script"]


def test_consistent_only_when_everything_was_read_and_clean():
    conf = schema_check.check_database(Target("CONF", "K2_CONF", "conf", "conf"), read_ddl(SCRIPT, "mssql", "c.sql"), _live())
    assert schema_check.result([conf])["consistent"] is True
    assert schema_check.result([])["consistent"] is False


def test_markdown_report_escapes_cells():
    text = schema_check.render(_result(), "markdown")
    assert "Result: **NOT consistent** (2 finding(s): 1 standard, 1 custom; 1 database(s) with errors)" in text
    assert "| K2_FIRMA | extra_column | FIRMY | X\\|Y |" in text
    assert "| GONE | K2_GONE | company | production | 0 | error: database missing: K2_GONE <script> |" in text
    assert "## Findings in custom tables" in text and "**review_script** on K2_FIRMA" in text
    # every table row has as many cells as its header
    for line in text.splitlines():
        if line.startswith("| K2_FIRMA | extra_column"):
            assert line.replace("\\|", "").count("|") == 8


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.text = []
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_escapes_everything():
    text = schema_check.render(_result(), "html")
    assert "<script>" not in text and "K2_GONE &lt;script&gt;" in text
    parser = _Collector()
    parser.feed(text)
    assert "script" not in parser.tags and "table" in parser.tags
    assert "error: database missing: K2_GONE <script>" in "".join(parser.text)


def test_report_format_and_unknown_format():
    assert schema_check.report_format_for("/x/report.HTML") == "html"
    assert schema_check.report_format_for("/x/report.md") == "markdown"
    assert schema_check.report_format_for("/x/report.txt", "html") == "html"
    with pytest.raises(ValueError, match="report_format"):
        schema_check.render(_result(), "pdf")


def test_snapshot_file_names_are_safe_and_distinct():
    assert schema_check.snapshot_file_name("K2_FIRMA") == "K2_FIRMA.json"
    odd = [schema_check.snapshot_file_name(n) for n in ("a b", "a_b", "../etc/passwd", "Účetní", "..")]
    assert len(set(odd)) == len(odd)
    assert all("/" not in n and not n.startswith(".") for n in odd)
    assert odd[1] == "a_b.json"


@pytest.mark.parametrize("sql, platform, wanted", [
    ("ALTER TABLE A ADD CONSTRAINT P PRIMARY KEY (X);", "oracle", "ALTER TABLE A ADD CONSTRAINT P PRIMARY KEY (X)"),
    ("BEGIN\n  EXECUTE IMMEDIATE 'x';\nEND;", "oracle", "BEGIN\n  EXECUTE IMMEDIATE 'x';\nEND;"),
    ("create or replace procedure P is begin null; end;", "oracle", "create or replace procedure P is begin null; end;"),
    ("CREATE INDEX [I] ON [dbo].[T] ([A]);", "mssql", "CREATE INDEX [I] ON [dbo].[T] ([A]);"),
])
def test_executable_sql(sql, platform, wanted):
    assert schema_check.executable_sql(sql, platform) == wanted
