"""kpis, candles and symbols from the CLI against figures pandas computes itself."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sentinel_dashboard import market, schema
from support import Database

ORIGIN = pd.Timestamp("2000-01-01", tz="UTC")
RULES = {"1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "4h": "4h", "1d": "24h"}
DAY = pd.Timedelta(hours=24)


def iso(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


RANGES = {
    "6h": pd.Timedelta(hours=6),
    "24h": pd.Timedelta(hours=24),
    "7d": pd.Timedelta(days=7),
    "30d": pd.Timedelta(days=30),
    "all": None,
}


def busiest(nodes: pd.Series) -> str:
    """The node that delivered most minutes; ties go to the first name in order."""
    counts = Counter(nodes)
    return min(counts, key=lambda node: (-counts[node], node))


def expected_buckets(
    frame: pd.DataFrame, interval: str, range_name: str = "24h", limit: int = 5000
) -> list[dict]:
    """The window rule, written independently: whole buckets up to the newest one."""
    step = pd.Timedelta(RULES[interval])
    grouped = frame.set_index("open_time").resample(
        RULES[interval], closed="left", label="left", origin=ORIGIN
    )
    table = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].agg(lambda values: sum(values, Decimal(0))),
            "rows": grouped["close"].count(),
            "node": grouped["node"].agg(lambda v: busiest(v) if len(v) else None),
        }
    )
    table = table[table["rows"] > 0]
    newest, oldest = table.index.max(), table.index.min()
    reach = RANGES[range_name]
    wanted = (newest - oldest) // step + 1 if reach is None else math.ceil(reach / step)
    since = max(newest - step * (min(wanted, limit) - 1), oldest)
    return [
        {
            "open_time": iso(moment),
            **{c: row[c] for c in ("open", "high", "low", "close", "volume", "node")},
        }
        for moment, row in table[table.index >= since].iterrows()
    ]


def expected_kpis(frame: pd.DataFrame, symbol: str, node: str, trips: int = 0) -> dict:
    """Every kpis field but the age, which depends on the moment it is asked."""
    newest = frame.loc[frame["open_time"].idxmax()]
    as_of = newest["open_time"]
    window = frame[(frame["open_time"] > as_of - DAY) & (frame["open_time"] <= as_of)]
    first_open = window.sort_values("open_time")["open"].iloc[0]
    change = newest["close"] - first_open
    return {
        "symbol": symbol,
        "as_of": iso(as_of),
        "latest_price": newest["close"],
        "volume_24h": sum(window["volume"], Decimal(0)),
        "active_source": node,
        "breaker_trips_24h": trips,
        "breaker_state": None,
        "open_24h": first_open,
        "high_24h": max(window["high"]),
        "low_24h": min(window["low"]),
        "change_24h": change,
        "change_24h_pct": (change * 100 / first_open).quantize(Decimal("0.01")),
        "stale": True,  # the shared files end in March 2023
    }


def without_age(figures: dict) -> dict:
    """The figures without those that depend on when the candles were loaded or asked."""
    for key in ("age_seconds", "arrival_age_seconds"):
        assert isinstance(figures.pop(key), int)
    arrived = datetime.fromisoformat(figures.pop("arrived_at"))
    assert datetime.now(UTC) - timedelta(minutes=10) < arrived <= datetime.now(UTC)
    return figures


def test_kpis_match_pandas(loaded: Database, btcusd: pd.DataFrame, btcusdt: pd.DataFrame) -> None:
    asked = datetime.now(UTC)
    figures = loaded.cli_json("kpis", "--symbol", "BTCUSD")
    age = figures["age_seconds"]

    assert without_age(figures) == expected_kpis(btcusd, "BTCUSD", "HK-Primary")
    as_of = datetime(2023, 3, 21, 23, 59, tzinfo=UTC)
    assert (asked - as_of).total_seconds() - 1 <= age <= (datetime.now(UTC) - as_of).total_seconds()
    assert without_age(loaded.cli_json("kpis", "--symbol", "BTCUSDT")) == expected_kpis(
        btcusdt, "BTCUSDT", "JP-Backup"
    )


def test_kpis_print_decimals_exactly(loaded: Database) -> None:
    done = loaded.cli("kpis", "--symbol", "BTCUSD", "--json")

    # The load's own time is the one field that differs from run to run.
    figures = re.sub(r'"arrived_at": "[^"]+", ', "", done.stdout, count=1)
    assert figures.startswith(
        '{"symbol": "BTCUSD", "as_of": "2023-03-21T23:59:00Z", "latest_price": 28194.93, '
        '"volume_24h": 9745.98873, "active_source": "HK-Primary", "breaker_trips_24h": 0, '
        '"breaker_state": null, "open_24h": 27818.34, "high_24h": 28500.0, "low_24h": 27406.01, '
        '"change_24h": 376.59, "change_24h_pct": 1.35, "age_seconds": '
    )


@pytest.mark.parametrize("range_name", list(RANGES))
@pytest.mark.parametrize("interval", list(RULES))
def test_interval_and_range_bucket_in_sql_as_pandas_does(
    shared_market: Database, btcusd: pd.DataFrame, interval: str, range_name: str
) -> None:
    frame = btcusd.assign(node="HK-Primary")
    with shared_market.connect() as conn:
        series = market.candles(conn, "BTCUSD", interval, range_name)

    expected = expected_buckets(frame, interval, range_name)
    assert [bucket.as_json() for bucket in series.buckets] == expected
    assert series.since == datetime.fromisoformat(expected[0]["open_time"])
    step = market.INTERVALS[interval]
    newest = datetime(2023, 3, 21, 23, 59, tzinfo=UTC)
    assert series.until == market.bucket_start(newest, step) + step
    # Only 1m over more than 3.5 days holds more than MAX_BUCKETS buckets.
    full = len(expected_buckets(frame, interval, range_name, limit=10**9))
    assert series.truncated == (full > market.MAX_BUCKETS)
    assert len(series.buckets) == min(full, market.MAX_BUCKETS)


@pytest.mark.parametrize(
    ("interval", "range_name"), [("1m", "6h"), ("15m", "7d"), ("4h", "30d"), ("1d", "all")]
)
def test_candles_command_prints_the_same_buckets(
    shared_market: Database, btcusd: pd.DataFrame, interval: str, range_name: str
) -> None:
    buckets = shared_market.cli_json(
        "candles", "--symbol", "BTCUSD", "--interval", interval, "--range", range_name
    )

    assert buckets == expected_buckets(btcusd.assign(node="HK-Primary"), interval, range_name)


def test_limit_keeps_the_newest_buckets(shared_market: Database, btcusd: pd.DataFrame) -> None:
    buckets = shared_market.cli_json(
        "candles", "--symbol", "BTCUSD", "--interval", "1h", "--range", "7d", "--limit", "30"
    )

    assert buckets == expected_buckets(btcusd.assign(node="HK-Primary"), "1h", "7d", limit=30)
    assert len(buckets) == 30


def gappy(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop whole hours and scattered minutes, mostly inside the final day."""
    last = frame["open_time"].max()
    hours = frame["open_time"].dt.floor("1h")
    drop = (
        hours.isin([last.floor("1h") - pd.Timedelta(hours=h) for h in (2, 3, 9, 30)])
        | (frame.index % 7 == 3)
        | (frame["open_time"] == last)
    )
    return frame[~drop].reset_index(drop=True)


def write_kraken(frame: pd.DataFrame, path: Path) -> Path:
    columns = ("open", "high", "low", "close", "volume")
    path.write_text(
        "".join(
            f"{int(row.open_time.timestamp())},{','.join(str(row[c]) for c in columns)},1\n"
            for _, row in frame.iterrows()
        )
    )
    return path


def test_missing_minutes_use_a_time_window(
    schema_db: Database, tmp_path: Path, btcusd: pd.DataFrame
) -> None:
    frame = gappy(btcusd.iloc[-4000:]).assign(node="JP-Backup")
    path = write_kraken(frame, tmp_path / "gappy.csv")
    schema_db.cli_json("load", "--symbol", "XBTUSD", "--node", "JP-Backup", path)

    figures = without_age(schema_db.cli_json("kpis", "--symbol", "XBTUSD"))

    assert figures == expected_kpis(frame, "XBTUSD", "JP-Backup")
    # The last 1440 rows reach back further than 24 h here, so a row count would differ.
    assert figures["volume_24h"] != sum(frame["volume"].tail(1440), Decimal(0))
    for interval, range_name in (("1h", "7d"), ("15m", "24h"), ("5m", "6h"), ("1m", "24h")):
        buckets = schema_db.cli_json(
            "candles", "--symbol", "XBTUSD", "--interval", interval, "--range", range_name
        )
        # The dropped hours are absent, not empty buckets: gaps stay gaps.
        assert buckets == expected_buckets(frame, interval, range_name)


def test_breaker_trips_count_openings_inside_the_window(
    loaded: Database, btcusd: pd.DataFrame
) -> None:
    as_of = btcusd["open_time"].max().to_pydatetime()
    events = [
        (as_of - timedelta(hours=24), "closed", "open"),  # on the excluded boundary
        (as_of - timedelta(hours=24) + timedelta(microseconds=1), "closed", "open"),
        (as_of - timedelta(hours=3), "open", "half_open"),
        (as_of - timedelta(hours=2), "half_open", "open"),
        (as_of - timedelta(hours=1), "open", "closed"),
        (as_of, "closed", "open"),  # on the included boundary
        (as_of + timedelta(minutes=1), "closed", "open"),
        (as_of - timedelta(days=3), "closed", "open"),
    ]
    with loaded.connect() as conn:
        conn.cursor().executemany(
            "INSERT INTO sentinel.breaker_events (changed_at, node, from_state, to_state)"
            " VALUES (%s, 'HK-Primary', %s, %s)",
            events,
        )

    assert loaded.cli_json("kpis", "--symbol", "BTCUSD")["breaker_trips_24h"] == 3


def test_kpis_for_unknown_symbol_fail(loaded: Database) -> None:
    done = loaded.cli("kpis", "--symbol", "DOGEUSD", "--json")

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "sentinel-dashboard: error: no candles for symbol 'DOGEUSD'\n"


def test_symbols_lists_counts(loaded: Database) -> None:
    assert loaded.cli_json("symbols") == [
        {"symbol": s, "candles": 30240, "first": "2023-03-01T00:00:00Z",
         "last": "2023-03-21T23:59:00Z"}
        for s in ("BTCUSD", "BTCUSDT")
    ]


def test_schema_is_idempotent(database: Database) -> None:
    assert database.cli_json("schema") == {"version": 2, "applied": [1, 2]}
    assert database.cli_json("schema") == {"version": 2, "applied": []}
    done = database.cli("schema")
    assert (done.returncode, done.stdout) == (0, "schema at version 2; up to date\n")


def test_concurrent_appliers_do_not_race(database: Database) -> None:
    results: list[list[int]] = []
    start = threading.Barrier(3)

    def apply() -> None:
        with psycopg.connect(database.conninfo) as conn:
            start.wait()
            results.append(schema.apply(conn).applied)

    workers = [threading.Thread(target=apply) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert sorted(results) == [[], [], [1, 2]]


def test_unreachable_database_is_one_line_error(database: Database) -> None:
    done = database.cli("--dsn", "host=127.0.0.1 port=1 dbname=nowhere", "kpis", "--symbol", "X")

    assert done.returncode == 1
    assert done.stderr.startswith(
        "sentinel-dashboard: error: cannot connect to database 'nowhere' on 127.0.0.1:1: "
    )
    assert done.stderr.count("\n") == 1


def test_usage_error_exits_2(database: Database) -> None:
    done = database.cli("candles", "--symbol", "X", "--limit", "0")

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "sentinel-dashboard candles: error: argument --limit: must be between 1 and 5000"
    )


def test_candles_read_only_their_window_through_the_index(loaded: Database) -> None:
    params = {
        "step": market.INTERVALS["5m"],
        "origin": market.BUCKET_ORIGIN,
        "symbol": "BTCUSD",
        "since": market.bucket_start(datetime(2023, 3, 21, 23, 59, tzinfo=UTC),
                                     market.INTERVALS["5m"]) - 287 * market.INTERVALS["5m"],
    }
    with loaded.connect() as conn:
        conn.execute("ANALYZE sentinel.candles")
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + market.BUCKETS_SQL, params))

    assert "Seq Scan" not in plan
    assert "open_time >= '2023-03-21 00:00:00+00'" in plan
    assert "candles_pkey" in plan
