"""Figures computed from the tables: KPIs, bucketed candles, node health."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel_dashboard.db import NoData

INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
MAX_LIMIT = 10_000

# Skip scan over the primary key: one index probe per symbol, not a table scan.
SYMBOLS_SQL = """
WITH RECURSIVE found AS (
    (SELECT symbol FROM sentinel.candles ORDER BY symbol LIMIT 1)
    UNION ALL
    SELECT (SELECT c.symbol FROM sentinel.candles c
            WHERE c.symbol > found.symbol ORDER BY c.symbol LIMIT 1)
    FROM found WHERE found.symbol IS NOT NULL
)
SELECT symbol FROM found WHERE symbol IS NOT NULL
"""

SYMBOL_COUNTS_SQL = """
SELECT symbol, count(*) AS candles, min(open_time) AS first, max(open_time) AS last
FROM sentinel.candles
GROUP BY symbol
ORDER BY symbol
"""

# The window is (as_of - 24 h, as_of]: by time, so missing minutes do not stretch it.
KPIS_SQL = """
WITH newest AS (
    SELECT open_time, close, node
    FROM sentinel.candles
    WHERE symbol = %(symbol)s
    ORDER BY open_time DESC
    LIMIT 1
)
SELECT
    n.open_time AS as_of,
    n.close AS latest_price,
    n.node AS active_source,
    (SELECT coalesce(sum(c.volume), 0)
     FROM sentinel.candles c
     WHERE c.symbol = %(symbol)s
       AND c.open_time > n.open_time - interval '24 hours'
       AND c.open_time <= n.open_time) AS volume_24h,
    (SELECT count(*)
     FROM sentinel.breaker_events b
     WHERE b.to_state = 'open'
       AND b.changed_at > n.open_time - interval '24 hours'
       AND b.changed_at <= n.open_time) AS breaker_trips_24h
FROM newest n
"""

SPAN_SQL = """
SELECT min(open_time) AS first, max(open_time) AS last
FROM sentinel.candles
WHERE symbol = %(symbol)s
"""

BUCKETS_SQL = """
SELECT open_time, open, high, low, close, volume
FROM (
    SELECT
        date_bin(%(step)s, open_time, %(origin)s) AS open_time,
        (array_agg(open ORDER BY open_time))[1] AS open,
        max(high) AS high,
        min(low) AS low,
        (array_agg(close ORDER BY open_time DESC))[1] AS close,
        sum(volume) AS volume
    FROM sentinel.candles
    WHERE symbol = %(symbol)s AND open_time >= %(since)s
    GROUP BY 1
    ORDER BY 1 DESC
    LIMIT %(limit)s
) newest
ORDER BY open_time
"""

NODES_SQL = """
WITH health AS (
    SELECT DISTINCT ON (node) node, state, latency_ms, last_error, observed_at
    FROM sentinel.node_health
    ORDER BY node, observed_at DESC
),
delivered AS (
    SELECT node, max(open_time) AS last_candle
    FROM sentinel.candles
    WHERE symbol = %(symbol)s
    GROUP BY node
)
SELECT coalesce(h.node, d.node) AS node,
       h.state, h.latency_ms, h.last_error, h.observed_at, d.last_candle
FROM health h
FULL JOIN delivered d ON d.node = h.node
ORDER BY 1
"""


@dataclass(frozen=True)
class Kpis:
    symbol: str
    as_of: datetime
    latest_price: Decimal
    volume_24h: Decimal
    active_source: str
    breaker_trips_24h: int

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": iso_utc(self.as_of)}


@dataclass(frozen=True)
class Bucket:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "open_time": iso_utc(self.open_time)}


@dataclass(frozen=True)
class NodeStatus:
    node: str
    state: str | None
    latency_ms: Decimal | None
    last_error: str | None
    observed_at: datetime | None
    last_candle: datetime | None


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def symbols(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(SYMBOLS_SQL)]


def symbol_counts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SYMBOL_COUNTS_SQL).fetchall()
    return [{**row, "first": iso_utc(row["first"]), "last": iso_utc(row["last"])} for row in rows]


def kpis(conn: psycopg.Connection, symbol: str) -> Kpis:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(KPIS_SQL, {"symbol": symbol}).fetchone()
    if row is None:
        raise NoData(f"no candles for symbol {symbol!r}")
    return Kpis(symbol=symbol, **row)


def bucket_start(moment: datetime, step: timedelta) -> datetime:
    return BUCKET_ORIGIN + ((moment - BUCKET_ORIGIN) // step) * step


def candles(conn: psycopg.Connection, symbol: str, interval: str, limit: int) -> list[Bucket]:
    """The `limit` newest buckets, oldest first, aggregated in SQL.

    The scan starts just early enough for `limit` full buckets; when gaps in the
    feed leave fewer, the window widens until it has enough or reaches the oldest row.
    """
    step = INTERVALS[interval]
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    span = conn.execute(SPAN_SQL, {"symbol": symbol}).fetchone()
    if span is None or span[1] is None:
        raise NoData(f"no candles for symbol {symbol!r}")
    first, last = span
    newest_bucket = bucket_start(last, step)

    reach = limit
    while True:
        since = newest_bucket - step * (reach - 1)
        params = {
            "step": step,
            "origin": BUCKET_ORIGIN,
            "symbol": symbol,
            "since": since,
            "limit": limit,
        }
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(BUCKETS_SQL, params).fetchall()
        if len(rows) >= limit or since <= first:
            return [Bucket(**row) for row in rows]
        reach *= 4


def node_overview(conn: psycopg.Connection, symbol: str) -> list[NodeStatus]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(NODES_SQL, {"symbol": symbol}).fetchall()
    return [NodeStatus(**row) for row in rows]
