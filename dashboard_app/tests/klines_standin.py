"""A local stand-in for a Binance-style klines API, serving one shared candle file.

No exchange is reachable from the test machines, so the fetch tests talk to this
server instead. It answers in the exchange's format and with its rules as far as
the fetcher relies on them: at most 1000 klines a page, startTime and endTime
bounding the open time, error bodies {"code", "msg"}, the used-weight header,
and canned failures (429, 418, 5xx) queued by the test. Every request is
recorded with the time on the test's clock, so tests can assert paging and pauses.
"""

from __future__ import annotations

import csv
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

MINUTE_MS = 60_000
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
REQUEST_WEIGHT = 2  # what one klines request costs here; the real figure varies by limit
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def millis(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


class FakeClock:
    """A "now" the fetcher and the stand-in share; sleeping moves it on at once."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment


@dataclass(frozen=True)
class Recorded:
    params: dict[str, str]
    at: datetime
    status: int
    served: int  # klines in the answer

    @property
    def start_time(self) -> int:
        return int(self.params["startTime"])


@dataclass
class Canned:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def trades_at(open_ms: int) -> int:
    """The file has no trade counts; the stand-in makes up one per minute, reproducibly."""
    return (open_ms // MINUTE_MS) % 97


def _kline(fields: dict[str, str]) -> list[Any]:
    open_ms = millis(datetime.fromisoformat(fields["open_time"]))
    volume, close = Decimal(fields["volume"]), Decimal(fields["close"])
    return [
        open_ms,
        fields["open"],
        fields["high"],
        fields["low"],
        fields["close"],
        fields["volume"],
        open_ms + MINUTE_MS - 1,
        str(volume * close),
        trades_at(open_ms),
        str(volume / 2),
        str(volume * close / 2),
        "0",
    ]


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "msg": message}


class KlinesStandin:
    """Serve the klines of one candle file for one symbol on 127.0.0.1."""

    def __init__(self, candle_file: Path, symbol: str, clock: Callable[[], datetime]) -> None:
        with candle_file.open(newline="") as handle:
            self.klines = [_kline(row) for row in csv.DictReader(handle)]
        self.symbol = symbol
        self.clock = clock
        self.requests: list[Recorded] = []
        self.honour_end_time = True  # False: act like an exchange that ignores endTime
        self._canned: deque[Canned] = deque()
        self._corrupt: dict[int, Callable[[list[Any]], list[Any]]] = {}
        self._weight: dict[int, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # What tests arrange.

    def fail_next(
        self, status: int, *, retry_after: int | None = None, times: int = 1, body: Any = None
    ) -> None:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        answer = body if body is not None else _error(-1003, f"HTTP {status} from the stand-in")
        with self._lock:
            self._canned.extend(Canned(status, answer, headers) for _ in range(times))

    def corrupt(self, open_time: datetime, change: Callable[[list[Any]], list[Any]]) -> None:
        """Serve the kline of this minute as change(a copy of it) returns it."""
        with self._lock:
            self._corrupt[millis(open_time)] = change

    def heal(self) -> None:
        with self._lock:
            self._corrupt.clear()

    def use_weight(self, weight: int) -> None:
        """Weight other clients of the same address spent in the current minute."""
        with self._lock:
            minute = millis(self.clock()) // MINUTE_MS
            self._weight[minute] = self._weight.get(minute, 0) + weight

    # Serving.

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a Session expects

            def do_GET(self) -> None:
                status, body, headers = standin._answer(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are recorded, not printed

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _answer(self, target: str) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(target)
        params = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        with self._lock:
            now = self.clock()
            minute = millis(now) // MINUTE_MS
            self._weight[minute] = self._weight.get(minute, 0) + REQUEST_WEIGHT
            headers = {"X-MBX-USED-WEIGHT-1M": str(self._weight[minute])}
            if self._canned:
                canned = self._canned.popleft()
                status, body = canned.status, canned.body
                headers.update(canned.headers)
            elif parts.path != "/api/v3/klines":
                status, body = 404, _error(-1000, "Unknown path.")
            else:
                status, body = self._klines(params, millis(now))
            served = len(body) if status == 200 else 0
            self.requests.append(Recorded(params=params, at=now, status=status, served=served))
        return status, body, headers

    def _klines(self, params: dict[str, str], now_ms: int) -> tuple[int, Any]:
        if params.get("symbol") != self.symbol:
            return 400, _error(-1121, "Invalid symbol.")
        if params.get("interval") != "1m":
            return 400, _error(-1120, "Invalid interval.")
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            start = int(params["startTime"]) if "startTime" in params else None
            end = int(params["endTime"]) if "endTime" in params else None
        except ValueError:
            return 400, _error(-1100, "Illegal characters found in a parameter.")
        if not 1 <= limit <= MAX_LIMIT:
            return 400, _error(-1130, "Invalid data sent for a parameter: limit.")
        if start is not None and end is not None and start > end:
            return 400, _error(-1023, "Start time is greater than end time.")

        # The minute now falls in exists already, still forming; later ones do not.
        known = [k for k in self.klines if k[0] <= now_ms]
        if end is not None and self.honour_end_time:
            known = [k for k in known if k[0] <= end]
        # With a start, the first klines from it; without, the latest ones.
        page = known[-limit:] if start is None else [k for k in known if k[0] >= start][:limit]
        return 200, [self._corrupt.get(k[0], lambda row: row)(list(k)) for k in page]
