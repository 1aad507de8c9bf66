# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The conversion journal: SQL per dialect (parsed with sqlglot) and every decision."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from ansible_collections.erpops.upgrade.plugins.module_utils.journal import (
    DEFAULT_TABLE, ENTRY_COLUMNS, KEY_COLUMNS, ONE_TIME_SCOPE, REFUSE, RESUME, ROW_COLUMNS, RUN, SKIP, JournalRow,
    JournalSql, decide)

READ = {"mssql": "tsql", "oracle": "oracle", "lab": "postgres"}
FILE = "K2_D2020.sql"
BATCHES = [(1, "a" * 64), (2, "b" * 64), (3, "c" * 64)]
SUM = "f" * 64


def row(index, one_time=True, success=True, file_sum=SUM, scope=None, run_id="run-1", batch_sum=None, name=FILE):
    return JournalRow(name, scope or (ONE_TIME_SCOPE if one_time else run_id), file_sum, index,
                      batch_sum or dict(BATCHES)[index], run_id, "mia.03.120", one_time, success, 12, None, None)


# --------------------------------------------------------------------------- SQL text

@pytest.mark.parametrize("dialect", ["mssql", "oracle", "lab"])
def test_statements_parse_in_their_dialect_and_quote_every_identifier(dialect):
    sql = JournalSql(dialect)
    for text in (sql.table_ddl(), sql.select_file(), sql.delete_failure(), sql.insert()):
        tree = sqlglot.parse_one(text, read=READ[dialect])
        assert tree is not None
        identifiers = list(tree.find_all(exp.Identifier))
        assert identifiers and all(ident.quoted for ident in identifiers)
    table = sqlglot.parse_one(sql.insert(), read=READ[dialect]).find(exp.Table)
    assert table.name == DEFAULT_TABLE


def test_create_if_missing_per_dialect():
    assert JournalSql("mssql").create_table().startswith("IF OBJECT_ID(N'[ERPOPS_CONVERSION_JOURNAL]', N'U') IS NULL CREATE TABLE")
    assert JournalSql("lab").create_table().startswith('CREATE TABLE IF NOT EXISTS "ERPOPS_CONVERSION_JOURNAL" (')
    oracle = JournalSql("oracle").create_table()
    assert oracle.startswith("BEGIN EXECUTE IMMEDIATE 'CREATE TABLE \"ERPOPS_CONVERSION_JOURNAL\"")
    assert "SQLCODE != -955" in oracle and oracle.endswith("END;")
    sqlglot.parse_one(JournalSql("mssql").create_table(), read="tsql")
    sqlglot.parse_one(JournalSql("lab").create_table(), read="postgres")


def test_table_name_and_schema_come_from_parameters_and_are_quoted():
    sql = JournalSql("mssql", table="my]journal", schema="dbo")
    assert "[dbo].[my]]journal]" in sql.insert()
    assert "N'[dbo].[my]]journal]'" in sql.create_table()
    assert '"x""y"' in JournalSql("lab", table='x"y').select_file()


def test_key_and_columns():
    ddl = sqlglot.parse_one(JournalSql("lab").table_ddl(), read="postgres")
    columns = [c.name for c in ddl.find_all(exp.ColumnDef)]
    assert columns == list(ROW_COLUMNS)
    for needed in ("FILE_NAME", "BATCH_INDEX", "BATCH_CHECKSUM", "FILE_CHECKSUM", "K2_VERSION", "APPLIED_AT",
                   "DURATION_MS", "SUCCESS", "ONE_TIME"):
        assert needed in columns
    key = ddl.find(exp.PrimaryKey)
    assert [e.name for e in key.expressions] == list(KEY_COLUMNS)


@pytest.mark.parametrize("dialect, marks", [("mssql", "?"), ("lab", "?"), ("oracle", ":")])
def test_placeholders_match_the_parameters(dialect, marks):
    sql = JournalSql(dialect)
    params = row(1).params()
    assert len(params) == len(ENTRY_COLUMNS)
    insert = sql.insert()
    if marks == "?":
        assert insert.count("?") == len(params)
        assert sql.delete_failure().count("?") == len(KEY_COLUMNS)
    else:
        assert re.findall(r":\w+", insert) == [":" + c.lower() for c in ENTRY_COLUMNS]
        assert re.findall(r":\w+", sql.delete_failure()) == [":" + c.lower() for c in KEY_COLUMNS]


def test_failure_delete_only_touches_failure_rows():
    assert JournalSql("lab").delete_failure().endswith('AND "SUCCESS" = 0')


def test_row_round_trip_from_database_values():
    original = row(2, one_time=False)
    values = list(original.params()) + ["2024-01-01 00:00:00"]
    values[2] = SUM + "  "   # char(n) padding from some drivers
    back = JournalRow.from_db(values)
    assert back.file_checksum == SUM and back.batch_index == 2 and back.one_time is False and back.success is True
    assert back.applied_at == "2024-01-01 00:00:00"


def test_unknown_dialect():
    with pytest.raises(ValueError):
        JournalSql("db2")


# --------------------------------------------------------------------------- decisions: one-time files

def test_one_time_never_applied_runs_from_batch_1():
    decision = decide(FILE, BATCHES, SUM, True, [])
    assert (decision.action, decision.run, decision.skipped, decision.start) == (RUN, (1, 2, 3), (), 1)


def test_one_time_fully_applied_is_skipped():
    decision = decide(FILE, BATCHES, SUM, True, [row(1), row(2), row(3)])
    assert (decision.action, decision.run, decision.skipped) == (SKIP, (), (1, 2, 3))


def test_one_time_partially_applied_resumes_at_first_unapplied():
    decision = decide(FILE, BATCHES, SUM, True, [row(1), row(2, success=False)])
    assert (decision.action, decision.run, decision.skipped, decision.start) == (RESUME, (2, 3), (1,), 2)
    assert "resumes at batch 2" in decision.message


def test_one_time_partially_applied_refused_in_strict_mode():
    decision = decide(FILE, BATCHES, SUM, True, [row(1), row(2)], strict=True)
    assert decision.action == REFUSE and decision.run == ()
    assert "strict" in decision.message and "batches 1-2 done, 3 pending" in decision.message


def test_one_time_changed_checksum_is_refused_even_when_fully_applied():
    decision = decide(FILE, BATCHES, "e" * 64, True, [row(1), row(2), row(3)])
    assert decision.action == REFUSE and decision.run == ()
    assert "must never run twice" in decision.message and SUM in decision.message and "e" * 64 in decision.message
    assert "mia.03.120" in decision.message


def test_one_time_changed_checksum_after_partial_application_is_refused():
    assert decide(FILE, BATCHES, "e" * 64, True, [row(1)]).action == REFUSE


def test_one_time_only_failures_in_journal_means_run():
    decision = decide(FILE, BATCHES, "e" * 64, True, [row(1, success=False, file_sum=SUM)])
    assert decision.action == RUN


def test_one_time_hole_in_journal_is_refused():
    decision = decide(FILE, BATCHES, SUM, True, [row(1), row(3)])
    assert decision.action == REFUSE and "inconsistent" in decision.message


def test_batch_checksum_mismatch_under_same_file_checksum_is_refused():
    decision = decide(FILE, BATCHES, SUM, True, [row(1, batch_sum="0" * 64)])
    assert decision.action == REFUSE and "damaged" in decision.message


def test_rows_of_other_files_are_ignored():
    assert decide(FILE, BATCHES, SUM, True, [row(1, name="K2_D2021.sql")]).action == RUN


# --------------------------------------------------------------------------- decisions: Additional files

def test_additional_needs_a_run_id():
    with pytest.raises(ValueError):
        decide("K2_D2020Additional.sql", BATCHES, SUM, False, [])


def test_additional_runs_again_in_a_new_reinstall_run():
    rows = [row(i, one_time=False, run_id="run-1") for i in (1, 2, 3)]
    decision = decide(FILE, BATCHES, SUM, False, rows, run_id="run-2")
    assert (decision.action, decision.run) == (RUN, (1, 2, 3))


def test_additional_is_skipped_when_this_run_applied_it():
    rows = [row(i, one_time=False, run_id="run-2") for i in (1, 2, 3)]
    assert decide(FILE, BATCHES, SUM, False, rows, run_id="run-2").action == SKIP


def test_additional_resumed_run_does_not_repeat_applied_batches():
    rows = [row(1, one_time=False, run_id="run-2"), row(3, one_time=False, run_id="run-2")]
    decision = decide(FILE, BATCHES, SUM, False, rows, run_id="run-2")
    assert (decision.action, decision.run, decision.skipped) == (RESUME, (2,), (1, 3))


def test_additional_partial_refused_in_strict_mode():
    rows = [row(1, one_time=False, run_id="run-2")]
    assert decide(FILE, BATCHES, SUM, False, rows, strict=True, run_id="run-2").action == REFUSE


def test_additional_changed_in_the_middle_of_a_run_runs_whole():
    rows = [row(1, one_time=False, run_id="run-2")]
    decision = decide(FILE, BATCHES, "e" * 64, False, rows, run_id="run-2")
    assert (decision.action, decision.run) == (RUN, (1, 2, 3))


def test_one_time_rows_do_not_count_for_additional_and_back():
    once = [row(i) for i in (1, 2, 3)]
    assert decide(FILE, BATCHES, SUM, False, once, run_id="run-1").action == RUN
    additional = [row(i, one_time=False, run_id="run-1") for i in (1, 2, 3)]
    assert decide(FILE, BATCHES, SUM, True, additional).action == RUN
