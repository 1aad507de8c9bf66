"""Progress lines from a module to its action plugin: whole lines only, from many threads, never a failure."""

from __future__ import annotations

import threading

from ansible_collections.erpops.upgrade.plugins.module_utils.progress_lines import ProgressReader, ProgressWriter


def test_the_reader_returns_each_whole_line_once_and_holds_back_a_half_written_one(tmp_path):
    path = str(tmp_path / "progress")
    reader = ProgressReader(path)
    assert reader.read() == []  # the module has not written yet
    writer = ProgressWriter(path)
    writer.say("K2_CONF: backup started")
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("K2_FIRMA: backup sta")
    assert reader.read() == ["K2_CONF: backup started"]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("rted\n")
    writer.say("K2_CONF: backup done\nafter 1.0 s")
    assert reader.read() == ["K2_FIRMA: backup started", "K2_CONF: backup done after 1.0 s"]
    assert reader.read() == []


def test_lines_from_many_threads_never_interleave(tmp_path):
    path = str(tmp_path / "progress")
    writer = ProgressWriter(path)
    threads = [threading.Thread(target=lambda n=n: [writer.say("database %d line %d %s" % (n, i, "x" * 500)) for i in range(50)])
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = ProgressReader(path).read()
    assert len(lines) == 400 and all(line.startswith("database ") and line.endswith("x" * 500) for line in lines)
    assert len(writer.lines) == 400


def test_without_a_file_or_with_an_unwritable_one_the_lines_are_only_kept(tmp_path):
    kept = ProgressWriter(None)
    kept.say("K2_CONF: backup started")
    broken = ProgressWriter(str(tmp_path / "missing" / "progress"))
    broken.say("K2_CONF: backup started")
    broken.say("K2_CONF: backup done")
    assert kept.lines == ["K2_CONF: backup started"] and broken.lines == ["K2_CONF: backup started", "K2_CONF: backup done"]
    assert broken.path is None
