# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every SQL text an adapter can send parses in its own dialect.

The texts are found by convention (module constants ending in ``_SQL``), so a
new constant is tested without anyone adding it here; the adapters are also
checked for SQL-looking strings that escape the convention.
"""

from __future__ import annotations

import ast
import inspect

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from ansible_collections.erpops.upgrade.plugins.module_utils.db import lab, mssql, oracle

DIALECTS = [(mssql, "tsql"), (oracle, "oracle"), (lab, "postgres")]
SQL_START = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "EXEC", "KILL", "BACKUP", "RESTORE", "BEGIN", "DECLARE", "WITH")


def first_word(text):
    words = text.split(None, 1)
    return words[0].upper() if len(words) == 2 else ""


def sql_constants(module):
    return {name: value for name, value in vars(module).items() if name.endswith("_SQL") and isinstance(value, str)}


CASES = [(module, dialect, name, sql) for module, dialect in DIALECTS for name, sql in sorted(sql_constants(module).items())]


@pytest.mark.parametrize("module,dialect,name,sql", CASES, ids=["%s.%s" % (c[0].__name__.rsplit(".", 1)[-1], c[2]) for c in CASES])
def test_sql_text_parses_in_its_dialect(module, dialect, name, sql):
    del module, name
    statements = sqlglot.parse(sql, read=dialect, error_level=ErrorLevel.RAISE)
    assert len(statements) == 1
    assert not isinstance(statements[0], exp.Command), "sqlglot fell back to an opaque command"


@pytest.mark.parametrize("module", [mssql, oracle, lab])
def test_catalog_uses_three_constant_queries(module):
    names = set(sql_constants(module))
    assert {"COLUMNS_SQL", "INDEXES_SQL", "FULLTEXT_SQL", "DATABASES_SQL"} <= names


@pytest.mark.parametrize("module", [mssql, oracle, lab])
def test_no_sql_text_outside_the_constants(module):
    """String literals that look like SQL must be ``*_SQL`` constants (so the parse test sees them)."""
    tree = ast.parse(inspect.getsource(module))
    allowed = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id.endswith("_SQL") for t in node.targets)}
    strays = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in allowed and first_word(node.value) in SQL_START]
    assert strays == []


def test_oracle_binds_the_owner_and_never_formats_it():
    for name, sql in sql_constants(oracle).items():
        if name != "DATABASES_SQL":
            assert ":owner" in sql, name
        assert "%s" not in sql and "{" not in sql, name


def test_mssql_reads_the_sys_catalog_views_the_brief_names():
    text = " ".join(sql_constants(mssql).values())
    for view in ("sys.tables", "sys.columns", "sys.types", "sys.indexes", "sys.index_columns", "sys.fulltext_indexes", "sys.fulltext_index_columns"):
        assert view in text
