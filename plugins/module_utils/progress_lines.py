# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress lines from a module that works for hours to the action plugin that shows them.

A module cannot print while it runs. Its action plugin gives it a file (``progress_file``),
runs it in a background thread and, meanwhile, shows each line the module appends. The
module's worker threads write through one ``ProgressWriter`` (one lock, one ``write`` and
``flush`` per line); the plugin's ``ProgressReader`` returns only whole lines, so a line
being written is never shown half. Without a file (the module run on its own, or on a host
other than the controller) the lines are only counted.
"""

from __future__ import annotations

import threading
from typing import List, Optional


class ProgressWriter:
    """Append one line per ``say``; thread-safe. ``path`` None: nothing is written."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.lines: List[str] = []
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        line = " ".join(str(text).split())
        with self._lock:
            self.lines.append(line)
            if not self.path:
                return
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError:
                self.path = None  # progress is a courtesy: never fail the work for it


class ProgressReader:
    """The whole lines appended to ``path`` since the last ``read``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0

    def read(self) -> List[str]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        whole = data[:data.rfind(b"\n") + 1]
        self._offset += len(whole)
        return [line for line in whole.decode("utf-8", "replace").split("\n") if line]
