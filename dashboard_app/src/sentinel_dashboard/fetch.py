"""Recent one-minute candles from a Binance-style klines API, stored page by page.

Each page is validated with the loader's rules and committed on its own, so an
interrupted fetch keeps what it got and the next one resumes after it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
import requests

from sentinel_dashboard import __version__, loader, market
from sentinel_dashboard.db import FetchError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.binance.us"
KLINES_PATH = "/api/v3/klines"
INTERVAL = "1m"
PAGE_LIMIT = 1000  # the most klines the API returns for one request
MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
DEFAULT_DAYS = 1
PAGE_PAUSE = 0.25  # seconds between two pages, so a long fetch never bursts
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
WEIGHT_BUDGET = 1200  # request weight one address may use per minute
# Past this the next request waits for the next minute, leaving the rest of the
# budget to whatever else shares the address.
WEIGHT_SLOWDOWN = 1000
ATTEMPTS = 5  # tries of one page when rate-limited, on 5xx and on connection errors
FIRST_BACKOFF = 1.0  # seconds before the second try; doubles after each one
LONGEST_RETRY_AFTER = 300  # seconds; a longer wait is reported rather than slept through
TIMEOUT = (5.0, 30.0)  # seconds to connect and to read, on every request

# Positions in one kline row.
OPEN_TIME, FIRST_PRICE, VOLUME, CLOSE_TIME, TRADES = 0, 1, 5, 6, 8

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


def millis(moment: datetime) -> int:
    # Exact integer arithmetic: a float timestamp can be off by a millisecond.
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_millis(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


@dataclass(frozen=True)
class FetchResult:
    symbol: str
    node: str
    pages: int
    rows: int
    added: int
    first: datetime | None
    last: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "node": self.node,
            "pages": self.pages,
            "rows": self.rows,
            "added": self.added,
            "first": market.iso_utc(self.first) if self.first else None,
            "last": market.iso_utc(self.last) if self.last else None,
        }

    def summary(self) -> str:
        span = (
            f"{market.iso_utc(self.first)} to {market.iso_utc(self.last)}"
            if self.first and self.last
            else "nothing new"
        )
        pages = "1 page" if self.pages == 1 else f"{self.pages} pages"
        return f"{self.symbol} ({self.node}): {pages}, {self.rows} rows, {self.added} added, {span}"


@dataclass(frozen=True)
class Kline:
    candle: loader.Candle
    open_ms: int
    close_ms: int


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number_text(name: str, value: Any) -> str:
    # Binance sends prices as strings; a bare JSON number is read as a Decimal, never a float.
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal) or _whole_number(value):
        return str(value)
    raise loader.RowError(f"{name} {value!r} is not a number")


def parse_kline(row: Any) -> Kline:
    """One kline row as a validated candle, or loader.RowError saying what is wrong."""
    if not isinstance(row, list):
        raise loader.RowError(f"a kline is a list, not {type(row).__name__}")
    if len(row) <= TRADES:
        raise loader.RowError(f"a kline has at least {TRADES + 1} fields, this one {len(row)}")
    open_ms, close_ms, trades = row[OPEN_TIME], row[CLOSE_TIME], row[TRADES]
    if not _whole_number(open_ms):
        raise loader.RowError(f"openTime {open_ms!r} is not whole milliseconds")
    if not _whole_number(close_ms):
        raise loader.RowError(f"closeTime {close_ms!r} is not whole milliseconds")
    if not _whole_number(trades):
        raise loader.RowError(f"trade_count {trades!r} is not a whole number")
    prices = [
        _number_text(name, value)
        for name, value in zip(loader.PRICE_FIELDS, row[FIRST_PRICE:VOLUME], strict=True)
    ]
    candle = loader.checked_candle(
        loader.time_from_epoch_millis(open_ms), prices, _number_text("volume", row[VOLUME]), trades
    )
    return Kline(candle=candle, open_ms=open_ms, close_ms=close_ms)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[:limit]}..."


def _network_reason(exc: BaseException) -> str:
    """The operating system's words for a failed connection, not urllib3's wrappers."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"no connection within {TIMEOUT[0]:g} s"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT[1]:g} s"
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [link for link in linked if isinstance(link, BaseException)]
    return _one_line(str(exc)) or type(exc).__name__


class KlinesClient:
    """GET klines politely: a pause between requests, the weight budget, bounded retries."""

    def __init__(
        self,
        base_url: str,
        *,
        session: requests.Session | None = None,
        clock: Clock = utc_now,
        sleep: Sleep = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise FetchError(f"--base-url {base_url!r} is not an http:// or https:// address")
        self.host = parts.netloc
        self.url = base_url.rstrip("/") + KLINES_PATH
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"sentinel-dashboard/{__version__}"
        self.clock = clock
        self.sleep = sleep
        self._pause = 0.0  # owed before the next request

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> KlinesClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _weight_wait(self, response: requests.Response) -> float:
        used = response.headers.get(WEIGHT_HEADER, "").strip()
        if not used.isdigit() or int(used) < WEIGHT_SLOWDOWN:
            return 0.0
        # The exchange counts weight per clock minute: wait until just past the next one.
        wait = 60 - self.clock().timestamp() % 60 + 1
        log.info(
            "%s reports weight %s of %d used this minute; waiting %.0f s",
            self.host,
            used,
            WEIGHT_BUDGET,
            wait,
        )
        return wait

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After", "").strip()
        if value.isdigit():
            return float(value)
        if not value:
            return None
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - self.clock()).total_seconds())

    def _refusal(self, response: requests.Response, symbol: str) -> FetchError:
        """A 4xx answer as one line, in the exchange's own words when it gave them."""
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict) and "msg" in body:
            return FetchError(
                f"{self.host} refused klines for {symbol}: {_one_line(str(body['msg']))} "
                f"(code {body.get('code')}, HTTP {response.status_code})"
            )
        return FetchError(
            f"{self.host} answered HTTP {response.status_code} to klines for {symbol}: "
            f"{_one_line(response.text) or 'no body'}"
        )

    def page(self, symbol: str, start_ms: int, end_ms: int) -> list[Any]:
        """The raw klines opening in [start_ms, end_ms], at most PAGE_LIMIT of them."""
        params = {
            "symbol": symbol,
            "interval": INTERVAL,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": PAGE_LIMIT,
        }
        problem = ""
        for attempt in range(1, ATTEMPTS + 1):
            if self._pause:
                self.sleep(self._pause)
                self._pause = 0.0
            backoff = FIRST_BACKOFF * 2 ** (attempt - 1)
            try:
                response = self.session.get(self.url, params=params, timeout=TIMEOUT)
            except requests.exceptions.SSLError as exc:
                # A certificate that does not verify will not verify on the next try either.
                raise FetchError(f"TLS with {self.host} failed: {_network_reason(exc)}") from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                log.debug("request failed", exc_info=True)
                problem, retry_wait = f"cannot reach {self.host}: {_network_reason(exc)}", backoff
            except requests.RequestException as exc:
                raise FetchError(f"cannot ask {self.url}: {_one_line(str(exc))}") from None
            else:
                weight_wait = self._weight_wait(response)
                if response.status_code == 200:
                    self._pause = max(PAGE_PAUSE, weight_wait)
                    return self._klines(response, symbol)
                problem, retry_wait = self._retryable(response, symbol, backoff)
                retry_wait = max(retry_wait, weight_wait)
            if attempt < ATTEMPTS:
                log.info("%s; try %d of %d in %g s", problem, attempt + 1, ATTEMPTS, retry_wait)
                self._pause = retry_wait
        raise FetchError(f"{problem}; gave up after {ATTEMPTS} tries")

    def _retryable(
        self, response: requests.Response, symbol: str, backoff: float
    ) -> tuple[str, float]:
        """What went wrong and how long to wait before trying again; raise if no retry helps."""
        status = response.status_code
        retry_after = self._retry_after(response)
        if status == 418:
            wait = f"for {retry_after:.0f} s" if retry_after is not None else "(no wait given)"
            raise FetchError(
                f"{self.host} has banned this address {wait} (HTTP 418) after too many "
                "requests; do not fetch again before then"
            )
        if status == 429:
            if retry_after is not None and retry_after > LONGEST_RETRY_AFTER:
                raise FetchError(
                    f"{self.host} rate-limits this address and asks to wait "
                    f"{retry_after:.0f} s (HTTP 429); try again after that"
                )
            problem = f"{self.host} still rate-limits this address (HTTP 429)"
            return problem, backoff if retry_after is None else retry_after
        if status >= 500:
            return f"{self.host} answered HTTP {status}", backoff
        raise self._refusal(response, symbol)

    def _klines(self, response: requests.Response, symbol: str) -> list[Any]:
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise FetchError(
                f"{self.host} answered klines for {symbol} with something that is not JSON: "
                f"{_one_line(response.text) or 'no body'}"
            ) from None
        if not isinstance(body, list):
            raise FetchError(
                f"{self.host} answered klines for {symbol} with {_one_line(str(body))} "
                "instead of a list"
            )
        return body


def _where(row: Any, position: int, start_ms: int) -> str:
    """Name a row by its openTime when it has a readable one, else by its place."""
    opened = row[OPEN_TIME] if isinstance(row, list) and row else None
    if _whole_number(opened):
        try:
            return f"openTime {opened} ({market.iso_utc(from_millis(opened))})"
        except OverflowError:
            return f"openTime {opened}"
    return f"row {position} of the page from startTime {start_ms}"


def _page_klines(rows: list[Any], *, symbol: str, start_ms: int) -> list[Kline]:
    """Validate a whole page before any of it is stored."""
    klines: list[Kline] = []
    for position, row in enumerate(rows, start=1):
        where = _where(row, position, start_ms)
        try:
            kline = parse_kline(row)
        except loader.RowError as exc:
            raise FetchError(
                f"malformed kline for {symbol} at {where}: {exc}; nothing from that page stored"
            ) from None
        # Paging follows on from the last open time, so it must move forward.
        previous = klines[-1].open_ms if klines else start_ms - 1
        if kline.open_ms <= previous:
            raise FetchError(
                f"malformed kline for {symbol} at {where}: not after the previous open time "
                f"{previous}; nothing from that page stored"
            )
        klines.append(kline)
    return klines


NEWEST_SQL = "SELECT max(open_time) FROM sentinel.candles WHERE symbol = %s"


def newest_stored(conn: psycopg.Connection, symbol: str) -> datetime | None:
    # In its own transaction, so that each page's store_candles commits by itself.
    with conn.transaction():
        row = conn.execute(NEWEST_SQL, (symbol,)).fetchone()
    return row[0] if row else None


def fetch_candles(
    conn: psycopg.Connection,
    *,
    symbol: str,
    node: str,
    since: datetime | None = None,
    days: int | None = None,
    base_url: str = DEFAULT_BASE_URL,
    session: requests.Session | None = None,
    clock: Clock = utc_now,
    sleep: Sleep = time.sleep,
) -> FetchResult:
    """Fetch the closed minutes from since (or the last days, default 1) up to now.

    Each page is stored and committed as it arrives.
    """
    if not symbol.strip() or not node.strip():
        raise FetchError("symbol and node must not be empty")
    now_ms = millis(clock())
    this_minute_ms = now_ms - now_ms % MINUTE_MS
    # The minute now falls in is still forming: the last closed one opens before it.
    end_ms = this_minute_ms - 1
    if since is not None:
        start_ms = millis(since)
    else:
        start_ms = this_minute_ms - (days or DEFAULT_DAYS) * DAY_MS
    newest = newest_stored(conn, symbol)
    if newest is not None and millis(newest) + MINUTE_MS > start_ms:
        start_ms = millis(newest) + MINUTE_MS
        log.info("%s is stored up to %s; resuming after it", symbol, market.iso_utc(newest))

    pages = rows = added = 0
    first: datetime | None = None
    last: datetime | None = None
    cursor = start_ms
    with KlinesClient(base_url, session=session, clock=clock, sleep=sleep) as client:
        while cursor <= end_ms:
            raw = client.page(symbol, cursor, end_ms)
            pages += 1
            klines = _page_klines(raw, symbol=symbol, start_ms=cursor)
            # An exchange that ignores endTime may still send the forming minute.
            closed = [k for k in klines if k.open_ms <= end_ms and k.close_ms < now_ms]
            if closed:
                seen, new = loader.store_candles(
                    conn, [k.candle for k in closed], symbol=symbol, node=node
                )
                rows += seen
                added += new
                first = first or closed[0].candle.open_time
                last = closed[-1].candle.open_time
            log.info(
                "page %d from %s: %d klines, %d stored",
                pages,
                market.iso_utc(from_millis(cursor)),
                len(klines),
                len(closed),
            )
            if len(raw) < PAGE_LIMIT or len(closed) < len(klines):
                break
            cursor = klines[-1].open_ms + MINUTE_MS

    return FetchResult(
        symbol=symbol, node=node, pages=pages, rows=rows, added=added, first=first, last=last
    )
