"""A live feed for the lab and for demos: real candles replayed as if arriving now.

Candle k of a replay is the file's candle k (the file repeats when it runs out),
stamped at clock_start + k minutes and delivered by whichever node the simulated
circuit breaker allows. The failover story is a pure function of the seed and k,
so a stopped replay resumes exactly where it stopped and two runs with one seed
write the same rows. Each minute is one transaction together with the replay's
position, which is what keeps a restart free of duplicate or missing minutes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from sentinel_dashboard.db import DashboardError
from sentinel_dashboard.loader import Candle, read_candles

log = logging.getLogger(__name__)

PRIMARY = "HK-Primary"
BACKUP = "JP-Backup"
MINUTE = timedelta(minutes=1)

# Breaker states, as sentinel.breaker_events stores them.
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

# Replays of different symbols may run side by side; one symbol has one writer.
LOCK_SQL = "SELECT pg_try_advisory_lock(hashtextextended('sentinel.replay:' || %(symbol)s, 0))"

STATE_SQL = """
SELECT source, seed, mean_healthy, clock_start, next_index
FROM sentinel.replay_state WHERE symbol = %(symbol)s
"""
TAKEN_SQL = """
SELECT open_time FROM sentinel.candles WHERE symbol = %(symbol)s ORDER BY open_time LIMIT 1
"""
OTHER_REPLAY_SQL = """
SELECT symbol FROM sentinel.replay_state WHERE symbol <> %(symbol)s ORDER BY symbol LIMIT 1
"""
START_SQL = """
INSERT INTO sentinel.replay_state (symbol, source, seed, mean_healthy, clock_start, next_index)
VALUES (%(symbol)s, %(source)s, %(seed)s, %(mean_healthy)s, %(clock_start)s, 0)
"""
ADVANCE_SQL = """
UPDATE sentinel.replay_state SET next_index = %(next_index)s, updated_at = now()
WHERE symbol = %(symbol)s AND next_index = %(index)s
"""
CANDLE_SQL = """
INSERT INTO sentinel.candles
    (symbol, open_time, open, high, low, close, volume, trade_count, node)
VALUES (%(symbol)s, %(open_time)s, %(open)s, %(high)s, %(low)s, %(close)s, %(volume)s,
        %(trade_count)s, %(node)s)
ON CONFLICT (symbol, open_time) DO NOTHING
"""
HEALTH_SQL = """
INSERT INTO sentinel.node_health (node, observed_at, state, latency_ms, last_error)
VALUES (%(node)s, %(observed_at)s, %(state)s, %(latency_ms)s, %(last_error)s)
ON CONFLICT (node, observed_at) DO NOTHING
"""
BREAKER_SQL = """
INSERT INTO sentinel.breaker_events (changed_at, node, from_state, to_state, reason)
VALUES (%(changed_at)s, %(node)s, %(from_state)s, %(to_state)s, %(reason)s)
"""


class ReplayError(DashboardError):
    """The replay cannot start or continue."""


@dataclass(frozen=True)
class NodeSample:
    node: str
    state: str
    latency_ms: Decimal | None
    last_error: str | None


@dataclass(frozen=True)
class BreakerChange:
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True)
class Minute:
    """What the simulated pipeline sees and does in one replayed minute."""

    index: int
    serving: str
    breaker: str
    samples: tuple[NodeSample, ...]
    changes: tuple[BreakerChange, ...]


@dataclass(frozen=True)
class Outage:
    """One failover story of the primary, in minutes of replay time."""

    healthy: int  # up, before trouble starts
    degraded: int  # latency climbing; the breaker still closed
    down: int  # failing; the breaker opens at its first minute
    failed_probes: int  # half-open probes that fail and reopen the breaker

    @property
    def length(self) -> int:
        # After `down`, every probe takes a half-open minute and the minute that settles
        # it: reopened after a failed probe, closed after the successful last one.
        return self.healthy + self.degraded + self.down + 2 * (self.failed_probes + 1)


def outage(seed: int, number: int, mean_healthy: int) -> Outage:
    """The number-th outage of a replay; depends on nothing but its arguments."""
    draw = random.Random(f"{seed}:{number}")  # noqa: S311 - a simulation, not security
    return Outage(
        healthy=max(2, round(draw.uniform(0.5, 1.5) * mean_healthy)),
        degraded=draw.randint(2, 4),
        down=draw.randint(3, 6),
        failed_probes=1 if draw.random() < 0.3 else 0,
    )


def _jitter(seed: int, index: int, node: str) -> random.Random:
    return random.Random(f"{seed}:{index}:{node}")  # noqa: S311 - a simulation


def _latency(value: float) -> Decimal:
    return Decimal(f"{value:.1f}")


def simulate(seed: int, index: int, *, mean_healthy: int = 20) -> Minute:
    """The state of the simulated feed in minute `index` of a replay."""
    if index < 0:
        raise ValueError("index must not be negative")
    number, start = 0, 0
    while True:
        story = outage(seed, number, mean_healthy)
        if index < start + story.length:
            break
        start += story.length
        number += 1
    step = index - start

    primary_noise = _jitter(seed, index, PRIMARY)
    backup_noise = _jitter(seed, index, BACKUP)
    backup = NodeSample(BACKUP, "up", _latency(backup_noise.uniform(70, 110)), None)
    changes: tuple[BreakerChange, ...] = ()

    def up() -> NodeSample:
        return NodeSample(PRIMARY, "up", _latency(primary_noise.uniform(18, 45)), None)

    def failing(error: str) -> NodeSample:
        return NodeSample(PRIMARY, "down", None, error)

    if step < story.healthy:
        return Minute(index, PRIMARY, CLOSED, (up(), backup), changes)
    step -= story.healthy

    if step < story.degraded:
        # Latency climbs towards the 5 s timeout while the breaker stays closed.
        rising = 400 + 4000 * (step + 1) / (story.degraded + 1)
        sample = NodeSample(
            PRIMARY,
            "degraded",
            _latency(rising * primary_noise.uniform(0.9, 1.1)),
            "slow responses",
        )
        return Minute(index, PRIMARY, CLOSED, (sample, backup), changes)
    step -= story.degraded

    if step < story.down:
        if step == 0:
            changes = (BreakerChange(CLOSED, OPEN, f"{PRIMARY}: 3 consecutive timeouts"),)
        sample = failing("timeout after 5000 ms")
        return Minute(index, BACKUP, OPEN, (sample, backup), changes)
    step -= story.down

    # Probing: each probe is a half-open minute in which only a trial request goes to
    # the primary; a failed one reopens the breaker, the last one closes it.
    probe, phase = divmod(step, 2)
    if phase == 0:
        changes = (BreakerChange(OPEN, HALF_OPEN, f"cooldown elapsed; probing {PRIMARY}"),)
        sample = NodeSample(PRIMARY, "degraded", None, "probe in flight")
        return Minute(index, BACKUP, HALF_OPEN, (sample, backup), changes)
    if probe < story.failed_probes:
        changes = (BreakerChange(HALF_OPEN, OPEN, f"probe of {PRIMARY} failed: connection reset"),)
        sample = failing("connection reset by peer")
        return Minute(index, BACKUP, OPEN, (sample, backup), changes)
    changes = (BreakerChange(HALF_OPEN, CLOSED, f"probe of {PRIMARY} succeeded"),)
    return Minute(index, PRIMARY, CLOSED, (up(), backup), changes)


@dataclass(frozen=True)
class Position:
    source: str
    seed: int
    mean_healthy: int
    clock_start: datetime
    next_index: int


@dataclass
class ReplayResult:
    symbol: str
    source: str
    seed: int
    clock_start: datetime
    written: int
    next_index: int
    stopped_by: str


def present_minute(now: datetime | None = None) -> datetime:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.replace(second=0, microsecond=0)


def _position(conn: psycopg.Connection, symbol: str) -> Position | None:
    row = conn.execute(STATE_SQL, {"symbol": symbol}).fetchone()
    return None if row is None else Position(*row)


def _start_or_resume(
    conn: psycopg.Connection, symbol: str, story: Position
) -> Position:
    """The replay's position: `story` for a new replay, the stored one otherwise."""
    with conn.transaction():
        found = _position(conn, symbol)
        if found is None:
            taken = conn.execute(TAKEN_SQL, {"symbol": symbol}).fetchone()
            if taken is not None:
                # Replayed minutes beside real ones would make old data look live.
                raise ReplayError(
                    f"{symbol} already has candles (from {taken[0]:%Y-%m-%d %H:%M}Z); "
                    "replay under a symbol of its own"
                )
            other = conn.execute(OTHER_REPLAY_SQL, {"symbol": symbol}).fetchone()
            if other is not None:
                # Node health and breaker events carry no symbol: two stories would
                # interleave in them.
                raise ReplayError(
                    f"{other[0]} has been replayed into this database; node health and "
                    "breaker events are shared by all symbols, so one database takes one "
                    "replay (resume that one, or start over in an empty database)"
                )
            conn.execute(START_SQL, {"symbol": symbol, **vars(story)})
            return story
    # Another file, seed or outage rate would tell another story from the middle on.
    if (found.source, found.seed, found.mean_healthy) != (
        story.source, story.seed, story.mean_healthy
    ):
        raise ReplayError(
            f"the replay of {symbol} was started from {found.source} with seed {found.seed} "
            f"and an outage every {found.mean_healthy} minutes or so; resume it with those, "
            "or replay under another symbol"
        )
    return found


def _write_minute(
    conn: psycopg.Connection, symbol: str, stamp: datetime, candle: Candle, minute: Minute
) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            CANDLE_SQL,
            {
                "symbol": symbol,
                "open_time": stamp,
                "open": candle.open,
                "high": candle.high,
                "low": candle.low,
                "close": candle.close,
                "volume": candle.volume,
                "trade_count": candle.trade_count,
                "node": minute.serving,
            },
        )
        cur.executemany(
            HEALTH_SQL,
            [{"observed_at": stamp, **vars(sample)} for sample in minute.samples],
        )
        cur.executemany(
            BREAKER_SQL,
            [
                {"changed_at": stamp, "node": PRIMARY, **vars(change)}
                for change in minute.changes
            ],
        )
        cur.execute(ADVANCE_SQL, {"symbol": symbol, "index": minute.index,
                                  "next_index": minute.index + 1})
        if cur.rowcount != 1:
            # Only possible when something else moved the position under the lock.
            raise ReplayError(f"the replay position of {symbol} changed under this replay")


def read_source(path: Path) -> list[Candle]:
    _layout, candles = read_candles(path)
    return list(candles)


def _pace(speed: float, stop: threading.Event, clock: Callable[[], float]) -> Iterator[None]:
    """Yield once per candle at `speed` candles a second; 0 means as fast as possible."""
    interval = 0.0 if speed == 0 else 1.0 / speed
    due = clock()
    while not stop.is_set():
        yield
        due += interval
        # A deadline per candle, not a sleep after each, so the pace does not drift.
        wait = due - clock()
        if wait > 0 and stop.wait(wait):
            return
        if wait < -interval:
            due = clock()  # far behind (a suspended host): do not burst to catch up


def run(
    conn: psycopg.Connection,
    *,
    symbol: str,
    source: Path,
    candles: Sequence[Candle],
    seed: int,
    speed: float,
    count: int | None = None,
    clock_start: datetime | None = None,
    mean_healthy: int = 20,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayResult:
    """Write replayed minutes until `count` are written or `stop` is set."""
    if not candles:
        raise ReplayError(f"{source} holds no candles")
    if speed < 0:
        raise ReplayError("speed must not be negative")
    stop = stop or threading.Event()
    if not conn.execute(LOCK_SQL, {"symbol": symbol}).fetchone()[0]:
        raise ReplayError(f"another replay is already writing {symbol}")

    position = _start_or_resume(
        conn,
        symbol,
        Position(source.name, seed, mean_healthy, clock_start or present_minute(), 0),
    )
    if clock_start is not None and clock_start != position.clock_start:
        raise ReplayError(
            f"the replay of {symbol} runs on a clock that started "
            f"{position.clock_start:%Y-%m-%d %H:%M}Z; leave out --start to resume it"
        )
    log.info("replaying %s from %s (seed %d) at minute %d of a clock that started %s",
             symbol, source.name, seed, position.next_index, position.clock_start)
    index = position.next_index
    written = 0
    stopped_by = "signal"
    for _ in _pace(speed, stop, clock):
        if count is not None and written >= count:
            stopped_by = "count"
            break
        minute = simulate(seed, index, mean_healthy=mean_healthy)
        stamp = position.clock_start + index * MINUTE
        _write_minute(conn, symbol, stamp, candles[index % len(candles)], minute)
        for change in minute.changes:
            log.info("%s breaker %s -> %s: %s", stamp, change.from_state, change.to_state,
                     change.reason)
        index += 1
        written += 1
        if count is not None and written >= count:
            stopped_by = "count"
            break
    return ReplayResult(
        symbol=symbol,
        source=position.source,
        seed=seed,
        clock_start=position.clock_start,
        written=written,
        next_index=index,
        stopped_by=stopped_by,
    )
