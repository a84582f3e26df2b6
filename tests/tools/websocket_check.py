"""Open the dashboard's websocket through the proxy and, optionally, keep it idle.

    python tests/tools/websocket_check.py URL [--ca-file CA] [--credentials FILE]
                                          [--idle SECONDS]

URL is the stream endpoint, e.g. wss://127.0.0.1:28443/dashboard/_stcore/stream.
The handshake must answer 101 Switching Protocols. With --idle, the tool then
sends nothing, not even pings, for SECONDS: a proxy whose read timeout is
shorter closes the connection in that time. After the quiet spell it sends a
ping, which must come back as a pong. It prints a JSON summary and exits 0 when
all of that held, 1 otherwise.

--credentials names a file holding "user:password" for HTTP basic
authentication; --ca-file a CA certificate to trust (the private CA of a
self-signed deployment).
"""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

PONG_TIMEOUT = 10


def basic_auth_header(path: Path) -> dict[str, str]:
    token = base64.b64encode(path.read_text(encoding="utf-8").strip().encode()).decode()
    return {"Authorization": f"Basic {token}"}


def tls_context(url: str, ca_file: Path | None) -> ssl.SSLContext | None:
    if urlsplit(url).scheme != "wss":
        return None
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def stay_idle(websocket, seconds: float) -> dict:
    """Wait without sending; what the server sends meanwhile is counted."""
    received, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            websocket.recv(timeout=left)
            received += 1
        except TimeoutError:
            break
    return {"idle_seconds": seconds, "received_while_idle": received}


def check(args: argparse.Namespace) -> tuple[dict, str | None]:
    parts = urlsplit(args.url)
    origin = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}"
    headers = basic_auth_header(args.credentials) if args.credentials else {}
    report: dict = {"url": args.url}
    started = time.monotonic()
    try:
        with connect(
            args.url,
            ssl=tls_context(args.url, args.ca_file),
            origin=origin,
            additional_headers=headers,
            open_timeout=15,
            ping_interval=None,
            close_timeout=2,
        ) as websocket:
            report["status"] = websocket.response.status_code
            if args.idle:
                report |= stay_idle(websocket, args.idle)
                pong = websocket.ping()
                if not pong.wait(PONG_TIMEOUT):
                    return report, f"no pong within {PONG_TIMEOUT} s after the idle spell"
                report["pong_after_seconds"] = round(time.monotonic() - started, 1)
    except InvalidStatus as error:
        report["status"] = error.response.status_code
        return report, f"the handshake answered {error.response.status_code}, not 101"
    except ConnectionClosed as error:
        report["closed_after_seconds"] = round(time.monotonic() - started, 1)
        return report, f"the connection was closed while idle ({error})"
    except (OSError, TimeoutError) as error:
        return report, f"could not open the websocket: {error}"
    if report["status"] != 101:
        return report, f"the handshake answered {report['status']}, not 101"
    return report, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="ws:// or wss:// address of the stream endpoint")
    parser.add_argument("--ca-file", type=Path, help="CA certificate to trust as well")
    parser.add_argument("--credentials", type=Path, help="file with user:password")
    parser.add_argument("--idle", type=float, default=0, help="seconds to stay silent")
    args = parser.parse_args(argv)
    report, failure = check(args)
    print(json.dumps(report))
    if failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
