# -*- coding: utf-8 -*-
# Copyright: erpops.upgrade contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress lines of long steps, printed while an action plugin runs.

``Display`` in a worker process hands its lines to the main process at once, so they show
in a terminal and, through ansible-runner, in AWX's job output, between the task's header
and its result. A step says nothing unless it lasts at least ``threshold`` seconds: its
start line is printed by a timer once the threshold has passed, and its end line only
when the start line was printed.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from ansible.utils.display import Display

display = Display()


def clock() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S UTC")


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return "%.1f s" % seconds
    whole = int(round(seconds))
    return "%d min %02d s" % (whole // 60, whole % 60)


class Progress(object):
    """Progress of one task on one host: ``with progress.step("database K2_FIRMA"): ...``."""

    def __init__(self, host: str, task: str, threshold: float = 1.0, say=None):
        self.prefix = "[%s] %s" % (host, task)
        self.threshold = threshold
        self._say = say or display.display
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            self._say("%s: %s" % (self.prefix, text))

    def step(self, label: str) -> "_Step":
        """A context manager around one step; set its ``detail`` to add words to the end line."""
        return _Step(self, label)


class _Step(object):
    def __init__(self, progress, label):
        self.progress, self.label = progress, label
        self.started_at = None
        self.started_clock = None
        self.announced = False
        self.timer = None
        self.detail = None

    def _announce(self):
        self.announced = True
        self.progress.say("%s started at %s" % (self.label, self.started_clock))

    def __enter__(self):
        self.started_at = time.monotonic()
        self.started_clock = clock()
        self.timer = threading.Timer(self.progress.threshold, self._announce)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.timer.cancel()
        self.timer.join()
        if not self.announced:
            return False
        took = seconds_text(time.monotonic() - self.started_at)
        outcome = "failed (%s)" % exc if exc is not None else "done"
        detail = "; %s" % self.detail if self.detail else ""
        self.progress.say("%s %s at %s after %s%s" % (self.label, outcome, clock(), took, detail))
        return False
