"""Figures computed from the tables: KPIs, bucketed candles, node health, breaker history."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
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
RANGES: dict[str, timedelta | None] = {
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
BUCKET_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# Enough for a week of 5-minute candles; more bars than this only slow the browser.
MAX_BUCKETS = 5_000
PERCENT_PLACES = Decimal("0.01")

# Skip scan over the primary key: one index probe per symbol, not a table scan.
SYMBOLS_SQL = """
WITH RECURSIVE found AS (
    (SELECT symbol FROM sentinel.candles ORDER BY symbol LIMIT 1)
    UNION ALL
    SELECT (SELECT c.symbol FROM sentinel.candles c
            WHERE c.symbol > found.symbol ORDER BY c.symbol LIMIT 1)
    FROM found WHERE found.symbol IS NOT NULL
)
SELECT symbol,
       (SELECT max(c.open_time) FROM sentinel.candles c WHERE c.symbol = found.symbol) AS newest
FROM found WHERE symbol IS NOT NULL
ORDER BY symbol
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
    SELECT open_time, close, node, ingested_at
    FROM sentinel.candles
    WHERE symbol = %(symbol)s
    ORDER BY open_time DESC
    LIMIT 1
),
day AS (
    SELECT coalesce(sum(c.volume), 0) AS volume_24h,
           max(c.high) AS high_24h,
           min(c.low) AS low_24h,
           (array_agg(c.open ORDER BY c.open_time))[1] AS open_24h
    FROM sentinel.candles c, newest n
    WHERE c.symbol = %(symbol)s
      AND c.open_time > n.open_time - interval '24 hours'
      AND c.open_time <= n.open_time
)
SELECT
    n.open_time AS as_of,
    n.ingested_at AS arrived_at,
    n.close AS latest_price,
    n.node AS active_source,
    d.volume_24h,
    d.high_24h,
    d.low_24h,
    d.open_24h,
    (SELECT count(*)
     FROM sentinel.breaker_events b
     WHERE b.to_state = 'open'
       AND b.changed_at > n.open_time - interval '24 hours'
       AND b.changed_at <= n.open_time) AS breaker_trips_24h,
    (SELECT b.to_state
     FROM sentinel.breaker_events b
     WHERE b.changed_at <= n.open_time
     ORDER BY b.changed_at DESC, b.id DESC
     LIMIT 1) AS breaker_state
FROM newest n, day d
"""

SPAN_SQL = """
SELECT min(open_time) AS first, max(open_time) AS last
FROM sentinel.candles
WHERE symbol = %(symbol)s
"""

# The node of a bucket is the one that delivered most of its minutes.
BUCKETS_SQL = """
SELECT
    date_bin(%(step)s, open_time, %(origin)s) AS open_time,
    (array_agg(open ORDER BY open_time))[1] AS open,
    max(high) AS high,
    min(low) AS low,
    (array_agg(close ORDER BY open_time DESC))[1] AS close,
    sum(volume) AS volume,
    mode() WITHIN GROUP (ORDER BY node) AS node
FROM sentinel.candles
WHERE symbol = %(symbol)s AND open_time >= %(since)s
GROUP BY 1
ORDER BY 1
"""

# Every node's newest sample: index probes per node rather than a scan of all samples.
HEALTH_SQL = """
WITH RECURSIVE nodes AS (
    (SELECT node FROM sentinel.node_health ORDER BY node LIMIT 1)
    UNION ALL
    SELECT (SELECT h.node FROM sentinel.node_health h
            WHERE h.node > nodes.node ORDER BY h.node LIMIT 1)
    FROM nodes WHERE nodes.node IS NOT NULL
)
SELECT newest.*
FROM nodes,
LATERAL (SELECT h.node, h.state, h.latency_ms, h.last_error, h.observed_at
         FROM sentinel.node_health h
         WHERE h.node = nodes.node
         ORDER BY h.observed_at DESC
         LIMIT 1) newest
WHERE nodes.node IS NOT NULL
ORDER BY newest.node
"""

DELIVERED_SQL = """
SELECT node, max(open_time) AS last_candle
FROM sentinel.candles
WHERE symbol = %(symbol)s
GROUP BY node
"""

# Consecutive samples in one state form a run; a run lasts until the next run starts,
# and the last one until its last sample. Gaps and islands, in SQL.
HEALTH_RUNS_SQL = """
WITH samples AS (
    SELECT node, state, observed_at,
           lag(state) OVER w IS DISTINCT FROM state AS starts_run,
           lead(observed_at) OVER w AS next_at
    FROM sentinel.node_health
    WHERE observed_at >= %(since)s AND observed_at <= %(until)s
    WINDOW w AS (PARTITION BY node ORDER BY observed_at)
),
numbered AS (
    SELECT *, sum(starts_run::int) OVER (PARTITION BY node ORDER BY observed_at) AS run
    FROM samples
)
SELECT node, state, min(observed_at) AS started,
       max(coalesce(next_at, observed_at)) AS ended, count(*) AS samples
FROM numbered
GROUP BY node, run, state
ORDER BY node, started
"""

BREAKER_SQL = """
SELECT changed_at, node, from_state, to_state, reason
FROM sentinel.breaker_events
WHERE %(until)s::timestamptz IS NULL OR changed_at <= %(until)s
ORDER BY changed_at DESC, id DESC
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Kpis:
    symbol: str
    as_of: datetime
    arrived_at: datetime  # when the newest candle was written
    latest_price: Decimal
    volume_24h: Decimal
    active_source: str
    breaker_trips_24h: int
    breaker_state: str | None  # after the newest change up to as_of; None: never changed
    open_24h: Decimal
    high_24h: Decimal
    low_24h: Decimal
    change_24h: Decimal
    change_24h_pct: Decimal
    age_seconds: int
    arrival_age_seconds: int

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": iso_utc(self.as_of),
                "arrived_at": iso_utc(self.arrived_at)}


@dataclass(frozen=True)
class Freshness:
    """How old the newest candle is, and how long since it arrived, by the wall clock."""

    newest: datetime
    age: timedelta  # from the newest candle's open time
    arrival_age: timedelta  # from when it was written
    stale_after: timedelta

    @property
    def stale(self) -> bool:
        # Either clock past the limit means no data is coming: an old candle, or a
        # feed stamped ahead of the clock (a fast replay) that stopped writing.
        return self.age > self.stale_after or self.arrival_age > self.stale_after

    @property
    def ahead(self) -> bool:
        # A replay faster than real time, or a feed node with a wrong clock.
        return self.age < timedelta(0)


@dataclass(frozen=True)
class Bucket:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    node: str

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "open_time": iso_utc(self.open_time)}


@dataclass(frozen=True)
class Series:
    """Buckets of one interval covering one range, ending with the newest candle."""

    interval: str
    range: str
    since: datetime  # start of the first bucket in the window
    until: datetime  # end of the newest bucket
    buckets: list[Bucket]
    truncated: bool  # the range held more than MAX_BUCKETS buckets; the newest are kept


@dataclass(frozen=True)
class NodeHealth:
    node: str
    state: str
    latency_ms: Decimal | None
    last_error: str | None
    observed_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "observed_at": iso_utc(self.observed_at)}


@dataclass(frozen=True)
class NodeStatus:
    node: str
    state: str | None
    latency_ms: Decimal | None
    last_error: str | None
    observed_at: datetime | None
    last_candle: datetime | None


@dataclass(frozen=True)
class StateRun:
    node: str
    state: str
    started: datetime
    ended: datetime
    samples: int


@dataclass(frozen=True)
class BreakerChange:
    changed_at: datetime
    node: str
    from_state: str
    to_state: str
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "changed_at": iso_utc(self.changed_at)}


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def newest_by_symbol(conn: psycopg.Connection) -> dict[str, datetime]:
    """Each symbol with its newest candle's open time, in symbol order."""
    return dict(conn.execute(SYMBOLS_SQL).fetchall())


def symbol_counts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(SYMBOL_COUNTS_SQL).fetchall()
    return [{**row, "first": iso_utc(row["first"]), "last": iso_utc(row["last"])} for row in rows]


def percent_change(before: Decimal, after: Decimal) -> Decimal:
    """Change from `before` to `after` in percent, rounded half-even to 0.01."""
    return ((after - before) * 100 / before).quantize(PERCENT_PLACES, rounding=ROUND_HALF_EVEN)


def kpis(conn: psycopg.Connection, symbol: str, *, now: datetime | None = None) -> Kpis:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(KPIS_SQL, {"symbol": symbol}).fetchone()
    if row is None:
        raise NoData(f"no candles for symbol {symbol!r}")
    now = now or datetime.now(UTC)
    return Kpis(
        symbol=symbol,
        **row,
        change_24h=row["latest_price"] - row["open_24h"],
        change_24h_pct=percent_change(row["open_24h"], row["latest_price"]),
        age_seconds=int((now - row["as_of"]).total_seconds()),
        arrival_age_seconds=int((now - row["arrived_at"]).total_seconds()),
    )


def freshness(
    figures: Kpis, stale_after: timedelta, *, now: datetime | None = None
) -> Freshness:
    now = now or datetime.now(UTC)
    return Freshness(
        newest=figures.as_of,
        age=now - figures.as_of,
        arrival_age=now - figures.arrived_at,
        stale_after=stale_after,
    )


def bucket_start(moment: datetime, step: timedelta) -> datetime:
    return BUCKET_ORIGIN + ((moment - BUCKET_ORIGIN) // step) * step


def candles(
    conn: psycopg.Connection,
    symbol: str,
    interval: str,
    range_name: str = "24h",
    *,
    limit: int = MAX_BUCKETS,
) -> Series:
    """Buckets of `interval` over `range_name` up to the newest candle, aggregated in SQL.

    The window is whole buckets: the newest candle's bucket and as many before it as
    the range takes (rounded up), at most `limit`, and none before the first candle's.
    Buckets without candles are absent, so a gap in the feed stays a gap.
    """
    step = INTERVALS[interval]
    reach = RANGES[range_name]
    if not 1 <= limit <= MAX_BUCKETS:
        raise ValueError(f"limit must be between 1 and {MAX_BUCKETS}")
    span = conn.execute(SPAN_SQL, {"symbol": symbol}).fetchone()
    if span is None or span[1] is None:
        raise NoData(f"no candles for symbol {symbol!r}")
    first, last = span
    newest_bucket = bucket_start(last, step)
    if reach is None:
        wanted = (newest_bucket - bucket_start(first, step)) // step + 1
    else:
        wanted = -(-reach // step)  # ceiling: a 6 h range of 4 h buckets takes two
    kept = min(wanted, limit)
    # A feed younger than the range is shown whole rather than squeezed to one side.
    since = max(newest_bucket - step * (kept - 1), bucket_start(first, step))
    params = {"step": step, "origin": BUCKET_ORIGIN, "symbol": symbol, "since": since}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(BUCKETS_SQL, params).fetchall()
    return Series(
        interval=interval,
        range=range_name,
        since=since,
        until=newest_bucket + step,
        buckets=[Bucket(**row) for row in rows],
        truncated=wanted > kept,
    )


def node_health(conn: psycopg.Connection) -> list[NodeHealth]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(HEALTH_SQL).fetchall()
    return [NodeHealth(**row) for row in rows]


def node_overview(conn: psycopg.Connection, symbol: str) -> list[NodeStatus]:
    """Each node with a health sample or a candle of `symbol`: newest sample, last candle."""
    health = {sample.node: sample for sample in node_health(conn)}
    delivered = dict(conn.execute(DELIVERED_SQL, {"symbol": symbol}).fetchall())
    overview = []
    for node in sorted(health.keys() | delivered.keys()):
        sample = health.get(node)
        overview.append(
            NodeStatus(
                node=node,
                state=sample and sample.state,
                latency_ms=sample and sample.latency_ms,
                last_error=sample and sample.last_error,
                observed_at=sample and sample.observed_at,
                last_candle=delivered.get(node),
            )
        )
    return overview


def health_runs(conn: psycopg.Connection, since: datetime, until: datetime) -> list[StateRun]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(HEALTH_RUNS_SQL, {"since": since, "until": until}).fetchall()
    return [StateRun(**row) for row in rows]


def breaker_changes(
    conn: psycopg.Connection, until: datetime | None, limit: int = 20
) -> list[BreakerChange]:
    """The newest `limit` breaker state changes at or before `until` (None: all), newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(BREAKER_SQL, {"until": until, "limit": limit}).fetchall()
    return [BreakerChange(**row) for row in rows]


@dataclass(frozen=True)
class Snapshot:
    """Everything the live page shows, read in one transaction so that it agrees."""

    kpis: Kpis
    series: Series
    nodes: list[NodeStatus]
    runs: list[StateRun]
    changes: list[BreakerChange]


SNAPSHOT_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def snapshot(
    conn: psycopg.Connection, symbol: str, interval: str, range_name: str, breaker_rows: int = 20
) -> Snapshot:
    with conn.transaction():
        conn.execute(SNAPSHOT_SQL)
        figures = kpis(conn, symbol)
        series = candles(conn, symbol, interval, range_name)
        return Snapshot(
            kpis=figures,
            series=series,
            nodes=node_overview(conn, symbol),
            runs=health_runs(conn, series.since, series.until),
            changes=breaker_changes(conn, figures.as_of, breaker_rows),
        )
