"""`sentinel-dashboard serve` runs the installed page; figure code stays Streamlit-free."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from typing import NamedTuple
from urllib.error import URLError

from support import CLI, Database

SERVE_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served(NamedTuple):
    port: int
    answer: tuple[int, str] | None  # the health endpoint's status and body
    ended: int | None  # the exit code, when it ended by itself
    output: str


def serve_once(env: dict[str, str]) -> Served:
    """Start `serve` on a free port, ask its health endpoint until it answers, stop it."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(CLI), "serve",
            "--server.address", "127.0.0.1",
            "--server.port", str(port),
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        answer = None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as response:
                    answer = (response.status, response.read().decode())
            except (URLError, ConnectionError):
                time.sleep(0.3)
        ended = server.poll()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    return Served(port, answer, ended, output)


def test_serve_starts_streamlit_with_the_given_flags(schema_db: Database) -> None:
    served = serve_once(schema_db.env)

    assert served.answer == (200, "ok"), f"streamlit did not answer; exit code {served.ended}"
    assert "Traceback" not in served.output


def test_figure_builders_do_not_import_streamlit() -> None:
    code = (
        "import sys, sentinel_dashboard.charts, sentinel_dashboard.market; "
        "sys.exit('streamlit' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
