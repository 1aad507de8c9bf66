# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Batch splitting throughput and memory: ours against sqlparse.split, in one run.

Generates T-SQL scripts in the vendor's layout (bracketed names, GO lines, strings
with quotes and a GO line inside, block comments spanning lines) of 10, 50 and
100 MB in a temporary folder, then measures:

* throughput (MB/s) of ``open_script`` + ``split_batches`` over the 100 MB file;
* ``sqlparse.split`` on a prefix only (it is far too slow for 100 MB), and the ratio;
* peak traced memory (tracemalloc) at 10, 50 and 100 MB, which should stay flat.

Goals, printed as ``GOAL <name>: <measured> (target <t>) PASS|FAIL``: at least 50 MB/s on
the largest file, in CPU time of this process (``time.process_time``: the splitter is
single-threaded and CPU-bound, and CPU time is what a shared machine distorts least; the
wall-clock rate and a machine calibration are printed next to it), best of ``--rounds``
runs, and peak memory flat in the file size (the largest file's peak at most 1.25x the
smallest's).

Usage: ``python benchmarks/bench_batches.py [--sizes 10,50,100] [--sqlparse-mb 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.erpops.upgrade.plugins.module_utils.sql.batches import open_script, split_batches  # noqa: E402

MB = 1024 * 1024
TARGET_MB_S = 50.0


def _table(number: int) -> str:
    name = "TAB%05d" % number
    return (
        "/* Konverze tabulky %s\n   GO (not a separator: inside a comment)\n*/\n"
        "CREATE TABLE [dbo].[%s] (\n"
        "  [Cis] [int] NOT NULL,\n"
        "  [Zkr] [varchar] (30) NOT NULL,\n"
        "  [Naz] [nvarchar] (200) NULL, -- name, it's Czech text\n"
        "  [Castka] [numeric] (19, 4) NULL,\n"
        "  [Datum] [datetime] NULL\n"
        ")\nGO\n"
        "ALTER TABLE [dbo].[%s] With NOCHECK ADD\n"
        "CONSTRAINT [%s_ById] PRIMARY KEY NONCLUSTERED\n([Cis]) ON [PRIMARY]\nGO\n"
        "INSERT INTO [dbo].[%s] ([Cis], [Zkr], [Naz]) VALUES (%d, N'Z%d', N'Příliš žluťoučký kůň''s\nGO\ntext')\n"
        "GO 2\n"
    ) % (name, name, name, name, name, number, number)


def generate(path: str, size_mb: int) -> int:
    limit = size_mb * MB
    written = 0
    number = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        while written < limit:
            block = "".join(_table(number + i) for i in range(200))
            number += 200
            handle.write(block)
            written += len(block.encode("utf-8"))
    return os.path.getsize(path)


def ours(path: str):
    with open_script(path) as stream:
        count = 0
        for dummy in split_batches(stream, "mssql"):
            count += 1
    return count


def measure(function, *args):
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    measure.cpu = time.process_time() - cpu
    return time.perf_counter() - start, result


def theirs(text: str) -> int:
    import sqlparse  # pylint: disable=import-outside-toplevel
    return len(sqlparse.split(text))


def calibration() -> float:
    """Seconds for 3 million trivial loop steps: how fast this machine runs Python right now."""
    start = time.perf_counter()
    total = 0
    for number in range(3000000):
        total += number
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--sqlparse-mb", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5, help="runs of our splitter over the largest file; best counts")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_batches_") as folder:
        files = {}
        for size in sizes:
            files[size] = os.path.join(folder, "K2_D%d.sql" % size)
            generate(files[size], size)
        largest = max(sizes)
        path = files[largest]
        nbytes = os.path.getsize(path)
        seconds = cpu_seconds = float("inf")
        for dummy in range(args.rounds):
            wall, batches = measure(ours, path)
            seconds, cpu_seconds = min(seconds, wall), min(cpu_seconds, measure.cpu)
        ours_rate = nbytes / MB / seconds
        rows.append(("erpops split_batches", "%.1f MB" % (nbytes / MB), batches, seconds, ours_rate))

        with open(path, "rb") as handle:
            prefix = handle.read(int(args.sqlparse_mb * MB)).decode("utf-8", "ignore")
        prefix = prefix[:prefix.rfind("\nGO\n") + 4]
        prefix_mb = len(prefix.encode("utf-8")) / MB
        seconds_theirs, statements = measure(theirs, prefix)
        theirs_rate = prefix_mb / seconds_theirs
        rows.append(("sqlparse.split (prefix)", "%.1f MB" % prefix_mb, statements, seconds_theirs, theirs_rate))

        print("\nThroughput (same machine, same file; ours: best of %d runs)" % args.rounds)
        print("%-26s %10s %10s %10s %10s" % ("splitter", "input", "units", "seconds", "MB/s"))
        for name, size, units, secs, rate in rows:
            print("%-26s %10s %10d %10.2f %10.1f" % (name, size, units, secs, rate))
        print("ratio ours / sqlparse: %.0fx" % (ours_rate / theirs_rate))
        cpu_rate = nbytes / MB / cpu_seconds
        print("GOAL go_splitter_throughput: %.1f MB/s of CPU time, best of %d (wall %.1f MB/s) (target >= %.0f MB/s) %s"
              % (cpu_rate, args.rounds, ours_rate, TARGET_MB_S, "PASS" if cpu_rate >= TARGET_MB_S else "FAIL"))
        print("batches/s: %.0f   machine calibration: 3M Python loop steps in %.2f s (about 0.1-0.15 s on an idle"
              " modern x86 core)" % (batches / seconds, calibration()))
        print("(sqlparse ran on a %.1f MB prefix only; it is too slow for the whole file. Its units are statements,"
              " not GO batches.)" % prefix_mb)

        print("\nPeak traced memory while splitting (tracemalloc)")
        print("%10s %10s %14s" % ("file", "batches", "peak KiB"))
        peaks = []
        for size in sizes:
            tracemalloc.start()
            count = ours(files[size])
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            peaks.append(peak)
            print("%8d MB %10d %14.0f" % (size, count, peak / 1024))
        growth = peaks[-1] / peaks[0]
        print("GOAL go_splitter_memory_flat: peak %.0f KiB at %d MB = %.2fx the peak at %d MB (target <= 1.25x) %s"
              % (peaks[-1] / 1024, sizes[-1], growth, sizes[0], "PASS" if growth <= 1.25 else "FAIL"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
