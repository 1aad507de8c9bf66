"""The stand-in HRM domain of a lab Comarch site, on 127.0.0.1 only.

``python -m tools.comarchlab.domain --site-dir DIR --port N``: answers every GET with 200
while the domain is open and 503 while ``domain.locked`` exists in the site folder. With
``domain_locked_seconds`` in ``site.json`` it unlocks itself after that long (an HRM-only
update). It exits after ``lifetime_seconds``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tools.comarchlab import common


def handler_for(site_dir):
    lock = os.path.join(site_dir, common.DOMAIN_LOCK)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            locked = os.path.exists(lock)
            body = (b"Comarch HRM: the domain is locked for an update\n" if locked else b"Comarch HRM: sign in\n")
            self.send_response(503 if locked else 200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(prog="comarchlab-domain")
    parser.add_argument("--site-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    site = common.read_json(os.path.join(args.site_dir, common.SITE_FILE))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(args.site_dir))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    unlock_at = time.monotonic() + float(site.get("domain_locked_seconds") or 0)
    deadline = time.monotonic() + int(site.get("lifetime_seconds", 3600))

    def watch():
        unlocked = not site.get("domain_locked_seconds")
        while time.monotonic() < deadline:
            if not unlocked and time.monotonic() >= unlock_at:
                lock = os.path.join(args.site_dir, common.DOMAIN_LOCK)
                if os.path.exists(lock):
                    os.unlink(lock)
                unlocked = True
            time.sleep(0.2)
        server.shutdown()

    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
