"""`sentinel-dashboard fetch` against the klines stand-in: paging, resume, politeness, errors.

The stand-in serves the shared BTCUSDT file. In-process tests share a fake clock
with it, pinned inside March 2023, so "now" is known and no test really waits;
the CLI tests run the installed command on the real clock, when the whole file
lies in the past.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from klines_standin import MINUTE_MS, FakeClock, KlinesStandin, millis, trades_at
from sentinel_dashboard import fetch
from sentinel_dashboard.db import FetchError
from support import BTCUSDT_FILE, Database

SYMBOL = "BTCUSDT"
NODE = "HK-Primary"
# Thirty seconds into a minute, so the forming candle is half made.
NOW = datetime(2023, 3, 10, 0, 0, 30, tzinfo=UTC)
STORED_SQL = """
SELECT open_time, open, high, low, close, volume, trade_count, node
FROM sentinel.candles WHERE symbol = %s ORDER BY open_time
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


def started(standin: KlinesStandin) -> Iterator[KlinesStandin]:
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def standin(market_dir: Path, clock: FakeClock) -> Iterator[KlinesStandin]:
    yield from started(KlinesStandin(market_dir / BTCUSDT_FILE, SYMBOL, clock.now))


@pytest.fixture
def live_standin(market_dir: Path) -> Iterator[KlinesStandin]:
    """On the real clock, for the installed CLI, which cannot share the fake one."""
    yield from started(KlinesStandin(market_dir / BTCUSDT_FILE, SYMBOL, lambda: datetime.now(UTC)))


def run_fetch(
    database: Database, standin: KlinesStandin, clock: FakeClock, **options
) -> fetch.FetchResult:
    # Not autocommit, like the CLI's connection: each page must still commit by itself.
    with psycopg.connect(database.conninfo) as conn:
        return fetch.fetch_candles(
            conn,
            symbol=options.pop("symbol", SYMBOL),
            node=NODE,
            base_url=options.pop("base_url", standin.url),
            clock=clock.now,
            sleep=clock.sleep,
            **options,
        )


def stored(database: Database) -> list[tuple]:
    with database.connect() as conn:
        return conn.execute(STORED_SQL, (SYMBOL,)).fetchall()


def expected(frame: pd.DataFrame, first: datetime, last: datetime) -> list[tuple]:
    """The file's rows for [first, last], as fetch must store them."""
    window = frame[(frame["open_time"] >= first) & (frame["open_time"] <= last)]
    return [
        (
            row.open_time.to_pydatetime(),
            row.open,
            row.high,
            row.low,
            row.close,
            row.volume,
            trades_at(millis(row.open_time.to_pydatetime())),
            NODE,
        )
        for row in window.itertuples()
    ]


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_error_line(done) -> str:
    assert done.returncode == 1, done.stdout
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    return line


# Paging and what is stored.


def test_a_day_is_fetched_in_pages_and_stored_exactly(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock, btcusdt: pd.DataFrame
) -> None:
    result = run_fetch(schema_db, standin, clock)

    first, last = datetime(2023, 3, 9, tzinfo=UTC), datetime(2023, 3, 9, 23, 59, tzinfo=UTC)
    assert result == fetch.FetchResult(SYMBOL, NODE, 2, 1440, 1440, first, last)
    assert stored(schema_db) == expected(btcusdt, first, last)
    assert [r.params for r in standin.requests] == [
        {
            "symbol": SYMBOL,
            "interval": "1m",
            "startTime": str(millis(first) + page * 1000 * MINUTE_MS),
            "endTime": str(millis(minute(NOW)) - 1),
            "limit": "1000",
        }
        for page in (0, 1)
    ]
    # One short pause between the two pages, none before the first.
    assert clock.sleeps == [fetch.PAGE_PAUSE]


def test_paging_stops_at_the_end_without_asking_for_an_empty_page(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock, btcusdt: pd.DataFrame
) -> None:
    since = minute(NOW) - timedelta(minutes=2000)

    result = run_fetch(schema_db, standin, clock, since=since)

    assert (result.pages, result.rows, result.added) == (2, 2000, 2000)
    assert [r.served for r in standin.requests] == [1000, 1000]
    assert stored(schema_db) == expected(btcusdt, since, minute(NOW) - timedelta(minutes=1))


@pytest.mark.parametrize("honour_end_time", [True, False], ids=["end-time", "end-time-ignored"])
def test_the_forming_candle_is_never_stored(
    schema_db: Database,
    standin: KlinesStandin,
    clock: FakeClock,
    btcusdt: pd.DataFrame,
    honour_end_time: bool,
) -> None:
    standin.honour_end_time = honour_end_time
    clock.set(datetime(2023, 3, 15, 8, 30, 45, tzinfo=UTC))
    since = datetime(2023, 3, 15, 8, 0, tzinfo=UTC)

    result = run_fetch(schema_db, standin, clock, since=since)

    last_closed = datetime(2023, 3, 15, 8, 29, tzinfo=UTC)
    assert (result.rows, result.last) == (30, last_closed)
    assert stored(schema_db) == expected(btcusdt, since, last_closed)
    # Where the exchange ignores endTime it does send the 08:30 candle; it is dropped.
    assert [r.served for r in standin.requests] == [31 if not honour_end_time else 30]


def test_nothing_new_sends_no_request(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    run_fetch(schema_db, standin, clock)
    asked = len(standin.requests)

    again = run_fetch(schema_db, standin, clock)

    assert again == fetch.FetchResult(SYMBOL, NODE, 0, 0, 0, None, None)
    assert again.as_json() == {
        "symbol": SYMBOL, "node": NODE, "pages": 0, "rows": 0, "added": 0,
        "first": None, "last": None,
    }
    assert len(standin.requests) == asked
    assert len(stored(schema_db)) == 1440


# Resume.


def test_a_later_fetch_asks_only_for_the_missing_minutes(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock, btcusdt: pd.DataFrame
) -> None:
    run_fetch(schema_db, standin, clock)
    standin.requests.clear()
    clock.set(NOW + timedelta(minutes=90))

    result = run_fetch(schema_db, standin, clock)

    resumed = datetime(2023, 3, 10, tzinfo=UTC)
    assert [r.start_time for r in standin.requests] == [millis(resumed)]
    assert (result.rows, result.added, result.first) == (90, 90, resumed)
    rows = stored(schema_db)
    assert len({row[0] for row in rows}) == len(rows) == 1440 + 90
    assert rows == expected(btcusdt, datetime(2023, 3, 9, tzinfo=UTC), result.last)


def test_resume_point_is_the_later_of_the_start_and_the_newest_candle(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    clock.set(datetime(2023, 3, 5, 0, 0, 30, tzinfo=UTC))
    run_fetch(schema_db, standin, clock)  # stored up to 2023-03-04 23:59
    clock.set(NOW)

    # Stored candles older than the start: the start wins and the gap stays a gap.
    standin.requests.clear()
    run_fetch(schema_db, standin, clock, days=1)
    assert standin.requests[0].start_time == millis(datetime(2023, 3, 9, tzinfo=UTC))

    # --since before the newest candle: fetching resumes after that candle.
    standin.requests.clear()
    clock.set(NOW + timedelta(minutes=10))
    run_fetch(schema_db, standin, clock, since=datetime(2023, 3, 4, 12, 0, tzinfo=UTC))
    assert [r.start_time for r in standin.requests] == [millis(datetime(2023, 3, 10, tzinfo=UTC))]


MALFORMED = [
    pytest.param(lambda k: [*k[:2], "1", *k[3:]], "high 1 is below low", id="high-below-low"),
    pytest.param(lambda k: [k[0], "abc", *k[2:]], "open 'abc' is not a number", id="not-a-number"),
    pytest.param(lambda k: [*k[:8], -1, *k[9:]], "trade_count -1 is negative", id="trades"),
    pytest.param(lambda k: [*k[:3], "0", *k[4:]], "low 0 is not positive", id="low-zero"),
    pytest.param(lambda k: k[:5], "at least 9 fields, this one 5", id="short-row"),
]


@pytest.mark.parametrize(("change", "reason"), MALFORMED)
def test_malformed_row_stores_nothing_from_its_page_and_keeps_the_pages_before(
    schema_db: Database,
    standin: KlinesStandin,
    clock: FakeClock,
    btcusdt: pd.DataFrame,
    change,
    reason: str,
) -> None:
    since = minute(NOW) - timedelta(minutes=2500)
    bad_minute = since + timedelta(minutes=1010)  # on the second of three pages
    standin.corrupt(bad_minute, change)

    with pytest.raises(FetchError) as failure:
        run_fetch(schema_db, standin, clock, since=since)

    message = str(failure.value)
    assert f"openTime {millis(bad_minute)} ({bad_minute:%Y-%m-%dT%H:%M}:00Z)" in message
    assert reason in message
    assert "\n" not in message
    page_one_last = since + timedelta(minutes=999)
    assert stored(schema_db) == expected(btcusdt, since, page_one_last)

    # Once the exchange answers well again, the next run starts where the first stopped.
    standin.heal()
    standin.requests.clear()
    result = run_fetch(schema_db, standin, clock, since=since)
    assert standin.requests[0].start_time == millis(page_one_last) + MINUTE_MS
    assert (result.pages, result.added) == (2, 1500)
    assert stored(schema_db) == expected(btcusdt, since, minute(NOW) - timedelta(minutes=1))


def test_open_time_off_the_minute_is_named(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    bad_minute = datetime(2023, 3, 9, 0, 10, tzinfo=UTC)  # on the first page
    standin.corrupt(bad_minute, lambda k: [k[0] + 1, *k[1:]])

    with pytest.raises(FetchError, match=f"openTime {millis(bad_minute) + 1} .*not on a minute"):
        run_fetch(schema_db, standin, clock)
    assert stored(schema_db) == []


def test_a_page_that_goes_backwards_is_refused(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    # Paging follows on from the last open time; a repeated minute could loop it.
    repeated = datetime(2023, 3, 9, 0, 10, tzinfo=UTC)
    standin.corrupt(repeated, lambda k: [k[0] - MINUTE_MS, *k[1:]])

    with pytest.raises(FetchError, match="not after the previous open time"):
        run_fetch(schema_db, standin, clock)
    assert stored(schema_db) == []


# Politeness: pauses, the weight budget, rate limits and retries.


def test_weight_near_the_budget_waits_for_the_next_minute(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    standin.use_weight(fetch.WEIGHT_SLOWDOWN)  # others on this address spent most of it

    result = run_fetch(schema_db, standin, clock)

    assert result.pages == 2
    first, second = standin.requests
    assert first.at == NOW
    assert second.at >= minute(NOW) + timedelta(minutes=1)
    assert clock.sleeps == [pytest.approx(31)]  # to one second past the minute, not a burst


def test_rate_limit_waits_as_long_as_told_then_succeeds(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock, btcusdt: pd.DataFrame
) -> None:
    standin.fail_next(429, retry_after=7)

    result = run_fetch(schema_db, standin, clock)

    assert [r.status for r in standin.requests] == [429, 200, 200]
    assert standin.requests[0].params == standin.requests[1].params
    assert clock.sleeps == [7, fetch.PAGE_PAUSE]
    assert result.added == 1440
    assert stored(schema_db) == expected(btcusdt, datetime(2023, 3, 9, tzinfo=UTC), result.last)


def test_rate_limit_that_persists_fails_after_bounded_tries(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    standin.fail_next(429, retry_after=3, times=50)

    with pytest.raises(FetchError, match=r"rate-limits .*HTTP 429.*gave up after 5 tries"):
        run_fetch(schema_db, standin, clock)

    assert len(standin.requests) == fetch.ATTEMPTS
    assert clock.sleeps == [3] * (fetch.ATTEMPTS - 1)
    assert stored(schema_db) == []


def test_rate_limit_with_a_very_long_wait_is_reported_not_slept_through(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    standin.fail_next(429, retry_after=3600)

    with pytest.raises(FetchError, match="asks to wait 3600 s"):
        run_fetch(schema_db, standin, clock)
    assert (len(standin.requests), clock.sleeps) == (1, [])


def test_ban_fails_at_once_naming_the_wait(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    standin.fail_next(418, retry_after=120)

    with pytest.raises(FetchError, match=r"banned this address for 120 s \(HTTP 418\)"):
        run_fetch(schema_db, standin, clock)
    assert (len(standin.requests), clock.sleeps) == (1, [])


def test_server_error_is_retried_with_backoff_then_succeeds(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock, btcusdt: pd.DataFrame
) -> None:
    standin.fail_next(500, times=2)

    result = run_fetch(schema_db, standin, clock)

    assert [r.status for r in standin.requests] == [500, 500, 200, 200]
    assert clock.sleeps == [1, 2, fetch.PAGE_PAUSE]
    assert stored(schema_db) == expected(btcusdt, datetime(2023, 3, 9, tzinfo=UTC), result.last)


def test_server_errors_that_persist_fail_after_bounded_tries(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    standin.fail_next(503, times=50)

    with pytest.raises(FetchError, match=r"answered HTTP 503; gave up after 5 tries"):
        run_fetch(schema_db, standin, clock)
    assert len(standin.requests) == fetch.ATTEMPTS
    assert clock.sleeps == [1, 2, 4, 8]


def test_unreachable_exchange_is_retried_with_backoff_then_reported(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    port = closed_port()

    with pytest.raises(FetchError) as failure:
        run_fetch(schema_db, standin, clock, base_url=f"http://127.0.0.1:{port}")

    assert str(failure.value) == (
        f"cannot reach 127.0.0.1:{port}: Connection refused; gave up after 5 tries"
    )
    assert clock.sleeps == [1, 2, 4, 8]


def test_tls_failure_is_reported_without_retrying(
    schema_db: Database, standin: KlinesStandin, clock: FakeClock
) -> None:
    # https:// to the plain-HTTP stand-in: the handshake fails, as a bad certificate would.
    tls_url = standin.url.replace("http://", "https://")

    with pytest.raises(FetchError, match=r"^TLS with 127\.0\.0\.1:\d+ failed: "):
        run_fetch(schema_db, standin, clock, base_url=tls_url)
    assert clock.sleeps == []


# The installed command.


def test_cli_fetch_prints_json_then_a_plain_line(
    schema_db: Database, live_standin: KlinesStandin, btcusdt: pd.DataFrame
) -> None:
    since = "2023-03-21T22:00:00Z"

    result = schema_db.cli_json(
        "fetch", "--symbol", SYMBOL, "--node", NODE, "--base-url", live_standin.url,
        "--since", since,
    )

    assert result == {
        "symbol": SYMBOL, "node": NODE, "pages": 1, "rows": 120, "added": 120,
        "first": since, "last": "2023-03-21T23:59:00Z",
    }
    assert stored(schema_db) == expected(
        btcusdt, datetime(2023, 3, 21, 22, tzinfo=UTC), datetime(2023, 3, 21, 23, 59, tzinfo=UTC)
    )

    again = schema_db.cli(
        "fetch", "--symbol", SYMBOL, "--node", NODE, "--base-url", live_standin.url,
        "--since", since,
    )
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout == f"{SYMBOL} ({NODE}): 1 page, 0 rows, 0 added, nothing new\n"
    assert live_standin.requests[-1].start_time == millis(datetime(2023, 3, 22, tzinfo=UTC))


def test_cli_invalid_symbol_is_one_error_line(
    schema_db: Database, live_standin: KlinesStandin
) -> None:
    done = schema_db.cli(
        "fetch", "--symbol", "BTCUSDX", "--node", NODE, "--base-url", live_standin.url
    )

    host = live_standin.url.removeprefix("http://")
    assert one_error_line(done) == (
        f"sentinel-dashboard: error: {host} refused klines for BTCUSDX: Invalid symbol. "
        "(code -1121, HTTP 400)"
    )
    assert len(live_standin.requests) == 1
    assert schema_db.count() == 0


def test_cli_ban_is_one_error_line(schema_db: Database, live_standin: KlinesStandin) -> None:
    live_standin.fail_next(418, retry_after=7200)

    done = schema_db.cli("fetch", "--symbol", SYMBOL, "--node", NODE,
                         "--base-url", live_standin.url)

    line = one_error_line(done)
    assert line.startswith("sentinel-dashboard: error: ")
    assert "banned this address for 7200 s (HTTP 418)" in line
    assert len(live_standin.requests) == 1


def test_cli_rate_limit_that_persists_is_one_error_line(
    schema_db: Database, live_standin: KlinesStandin
) -> None:
    live_standin.fail_next(429, retry_after=0, times=50)

    done = schema_db.cli("fetch", "--symbol", SYMBOL, "--node", NODE,
                         "--base-url", live_standin.url)

    assert one_error_line(done).endswith("(HTTP 429); gave up after 5 tries")
    assert len(live_standin.requests) == fetch.ATTEMPTS


def test_cli_malformed_row_is_one_error_line(
    schema_db: Database, live_standin: KlinesStandin
) -> None:
    bad_minute = datetime(2023, 3, 21, 23, 30, tzinfo=UTC)
    live_standin.corrupt(bad_minute, lambda k: [*k[:5], "-1", *k[6:]])

    done = schema_db.cli("fetch", "--symbol", SYMBOL, "--node", NODE,
                         "--base-url", live_standin.url, "--since", "2023-03-21T23:00:00Z")

    assert one_error_line(done) == (
        f"sentinel-dashboard: error: malformed kline for {SYMBOL} at openTime "
        f"{millis(bad_minute)} (2023-03-21T23:30:00Z): volume -1 is negative; "
        "nothing from that page stored"
    )
    assert schema_db.count() == 0


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--since", "2023-03-21T22:00:00"], "has no UTC offset"),
        (["--since", "yesterday"], "not an ISO 8601 time"),
        (["--days", "0"], "not a positive whole number"),
        (["--days", "1", "--since", "2023-03-21T22:00:00Z"], "not allowed with argument"),
    ],
)
def test_cli_rejects_a_bad_window_as_a_usage_error(
    schema_db: Database, arguments: list[str], complaint: str
) -> None:
    # A closed port, so that a window wrongly accepted could never reach out.
    done = schema_db.cli("fetch", "--symbol", SYMBOL, "--node", NODE,
                         "--base-url", f"http://127.0.0.1:{closed_port()}", *arguments)

    assert done.returncode == 2
    assert complaint in done.stderr
