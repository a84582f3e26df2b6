"""websocket_check.py tells an open, quiet websocket from one a proxy cut,
and a refused handshake from an upgrade; against local websocket servers."""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import pytest
from websockets.sync.server import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "tools"))
import websocket_check


@contextmanager
def server(handler, process_request=None) -> Iterator[str]:
    with serve(handler, "127.0.0.1", 0, process_request=process_request) as running:
        thread = threading.Thread(target=running.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{running.socket.getsockname()[1]}/_stcore/stream"
        finally:
            running.shutdown()
            thread.join(5)


def stay_open(websocket) -> None:
    for _ in websocket:
        pass


def close_after(seconds: float):
    def handler(websocket) -> None:
        try:
            websocket.recv(timeout=seconds)
        except TimeoutError:
            websocket.close()

    return handler


def run(argv: list[str], capsys) -> tuple[int, dict, str]:
    code = websocket_check.main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_an_upgrade_answers_101(capsys):
    with server(stay_open) as url:
        code, report, _ = run([url], capsys)

    assert code == 0
    assert report["status"] == 101


def test_a_quiet_connection_that_stays_open_answers_a_ping(capsys):
    with server(stay_open) as url:
        code, report, _ = run([url, "--idle", "1.5"], capsys)

    assert code == 0
    assert report["idle_seconds"] == 1.5
    assert report["received_while_idle"] == 0
    assert report["pong_after_seconds"] >= 1.5


def test_a_connection_closed_during_the_quiet_spell_fails(capsys):
    with server(close_after(0.5)) as url:
        code, report, error = run([url, "--idle", "3"], capsys)

    assert code == 1
    assert 0.4 <= report["closed_after_seconds"] < 3
    assert "closed while idle" in error


@pytest.mark.parametrize("credentials", [None, "operator:secret"])
def test_a_refused_handshake_reports_its_status(tmp_path, capsys, credentials):
    seen: list[str | None] = []

    def refuse(connection, request):
        seen.append(request.headers.get("Authorization"))
        return connection.respond(HTTPStatus.UNAUTHORIZED, "password needed\n")

    argv = []
    if credentials:
        (tmp_path / "login").write_text(credentials + "\n", encoding="utf-8")
        argv = ["--credentials", str(tmp_path / "login")]
    with server(stay_open, process_request=refuse) as url:
        code, report, error = run([url, *argv], capsys)

    assert code == 1
    assert report["status"] == 401
    assert "answered 401, not 101" in error
    expected = f"Basic {base64.b64encode(credentials.encode()).decode()}" if credentials else None
    assert seen == [expected]


def test_nothing_listening_fails_without_a_status(capsys):
    with server(stay_open) as url:
        pass
    code, report, error = run([url], capsys)

    assert code == 1
    assert "status" not in report
    assert "could not open the websocket" in error
