"""A webhook stand-in for verify: records each POST body, one JSON line per alert.

Usage: webhook_receiver.py PORT PATH_FILE RECORD_FILE. Only POSTs to the path read
from PATH_FILE (it holds the run's token, so it is not on the command line, which
the journal keeps) are recorded and answered 200 "ok", as Slack answers.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PORT = int(sys.argv[1])
EXPECTED_PATH = Path(sys.argv[2]).read_text(encoding="utf-8").strip()
RECORD = Path(sys.argv[3])


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path != EXPECTED_PATH:
            self.send_response(404)
            self.end_headers()
            return
        with RECORD.open("a", encoding="utf-8") as record:
            record.write(json.dumps({"body": body.decode("utf-8")}) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        # The request line holds the token; the journal must not.
        pass


RECORD.touch()
ThreadingHTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
