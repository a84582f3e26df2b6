"""Stand-ins for `check`'s tests: a webhook receiver, Streamlit's health endpoint, systemctl."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Server:
    """An HTTP server on 127.0.0.1 in a thread; subclasses say how to answer."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.answer(self)

            def do_POST(self) -> None:
                outer.answer(self)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def reply(request: BaseHTTPRequestHandler, status: int, body: bytes,
              kind: str = "text/plain") -> None:
        request.send_response(status)
        request.send_header("Content-Type", kind)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def __enter__(self) -> _Server:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


class Receiver(_Server):
    """A webhook that records every POST, answering `status` with `body` (JSON)."""

    def __init__(self, name: str = "hook") -> None:
        super().__init__()
        self.path = f"/hooks/{name}"
        self.url = f"http://127.0.0.1:{self.port}{self.path}"
        self.status = 200
        self.body: dict[str, Any] = {"code": 0, "errcode": 0}
        self.requests: list[dict[str, Any]] = []  # each: path, payload, answered
        self._lock = threading.Lock()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        payload = json.loads(request.rfile.read(length) or b"null")
        with self._lock:
            self.requests.append(
                {"path": request.path, "payload": payload, "answered": self.status}
            )
        self.reply(request, self.status, json.dumps(self.body).encode(), "application/json")

    def delivered(self) -> list[dict[str, Any]]:
        """Payloads the receiver accepted (answered 2xx)."""
        with self._lock:
            return [r["payload"] for r in self.requests if 200 <= r["answered"] < 300]


class Health(_Server):
    """Streamlit's health endpoint under a base path: 200 "ok" there, 404 elsewhere."""

    def __init__(self, base_path: str = "") -> None:
        super().__init__()
        prefix = base_path.strip("/")
        self.expected = f"/{prefix}/_stcore/health" if prefix else "/_stcore/health"

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        found = request.path == self.expected
        self.reply(request, 200 if found else 404, b"ok" if found else b"not found")


class FakeSystemctl:
    """The systemctl runner, in memory: records calls; a restart makes the unit active
    unless `restart_fixes` is off (a unit that fails again at once)."""

    def __init__(self, *, active: bool = True, restart_fixes: bool = True) -> None:
        self.active = active
        self.restart_fixes = restart_fixes
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        if argv[0] == "is-active":
            state = "active" if self.active else "inactive"
            return subprocess.CompletedProcess(argv, 0 if self.active else 3, f"{state}\n", "")
        if argv[0] == "restart" and self.restart_fixes:
            self.active = True
        return subprocess.CompletedProcess(argv, 0, "", "")

    def restarts(self) -> int:
        return sum(1 for call in self.calls if call[0] == "restart")


SYSTEMCTL_SCRIPT = """#!/bin/sh
# Stand-in systemctl for the CLI tests: the unit is active while {dir}/active exists.
echo "$*" >> "{dir}/calls"
case "$1" in
  is-active) if [ -e "{dir}/active" ]; then echo active; else echo inactive; exit 3; fi ;;
  restart) touch "{dir}/active" ;;
esac
"""


def systemctl_on_path(folder: Path, *, active: bool) -> Path:
    """Write a stand-in `systemctl` into folder/bin; return that bin folder for PATH."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "systemctl"
    script.write_text(SYSTEMCTL_SCRIPT.format(dir=folder))
    script.chmod(0o755)
    if active:
        (folder / "active").touch()
    return bin_dir


def systemctl_calls(folder: Path) -> list[str]:
    calls = folder / "calls"
    return calls.read_text().splitlines() if calls.exists() else []
