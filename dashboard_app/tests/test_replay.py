"""The replay: the failover story it simulates and the rows it writes, in PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from sentinel_dashboard import replay
from support import BTCUSDT_FILE, CLI, Database

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# Seed 7's first two outages: healthy minutes 0-23, degraded 24-25, down 26-31
# (the breaker opens at 26), half-open 32, closed at 33; then healthy until 63,
# degraded 64-67, down 68-70, a failed probe (71 half-open, 72 reopened), half-open
# 73, closed at 74. Written out so that a change to the story is a visible test change.
SEED_7_TRANSITIONS = [
    (26, "closed", "open"),
    (32, "open", "half_open"),
    (33, "half_open", "closed"),
    (68, "closed", "open"),
    (71, "open", "half_open"),
    (72, "half_open", "open"),
    (73, "open", "half_open"),
    (74, "half_open", "closed"),
]


@pytest.fixture
def source(market_dir: Path) -> Path:
    return market_dir / BTCUSDT_FILE


def run_replay(database: Database, source: Path, *args: str) -> dict:
    return database.cli_json(
        "replay", "--symbol", "LIVE", "--file", source, "--start", START.isoformat(),
        "--seed", "7", *args,
    )


def rows(database: Database, query: str) -> list[tuple]:
    with database.connect() as conn:
        return conn.execute(query).fetchall()


def candles(database: Database) -> list[tuple]:
    return rows(database, "SELECT open_time, open, high, low, close, volume, node"
                          " FROM sentinel.candles WHERE symbol = 'LIVE' ORDER BY open_time")


def health(database: Database) -> list[tuple]:
    return rows(database, "SELECT observed_at, node, state, latency_ms, last_error"
                          " FROM sentinel.node_health ORDER BY observed_at, node")


def breaker(database: Database) -> list[tuple]:
    return rows(database, "SELECT changed_at, node, from_state, to_state, reason"
                          " FROM sentinel.breaker_events ORDER BY id")


def test_first_outage_of_seed_7() -> None:
    minutes = [replay.simulate(7, index) for index in range(90)]

    changes = [
        (minute.index, change.from_state, change.to_state)
        for minute in minutes
        for change in minute.changes
    ]
    assert changes == SEED_7_TRANSITIONS
    states = [minute.samples[0].state for minute in minutes[:34]]
    assert states == ["up"] * 24 + ["degraded"] * 2 + ["down"] * 6 + ["degraded", "up"]
    serving = [minute.serving for minute in minutes[:34]]
    assert serving == ["HK-Primary"] * 26 + ["JP-Backup"] * 7 + ["HK-Primary"]
    # Latency climbs while the primary degrades.
    degraded = [minute.samples[0].latency_ms for minute in minutes[64:68]]
    assert degraded == sorted(degraded)
    assert all(minute.samples[1].state == "up" for minute in minutes)


@pytest.mark.parametrize("seed", [1, 2, 3, 42, 2026])
def test_every_story_is_a_valid_breaker(seed: int) -> None:
    breaker_state = "closed"
    outages = 0
    for index in range(2000):
        minute = replay.simulate(seed, index, mean_healthy=12)
        for change in minute.changes:
            assert change.from_state == breaker_state, (index, change)
            breaker_state = change.to_state
            outages += change.to_state == "open" and change.from_state == "closed"
        primary = minute.samples[0]
        assert minute.breaker == breaker_state
        # The backup delivers exactly while the breaker is not closed.
        assert (minute.serving == "JP-Backup") == (breaker_state != "closed")
        if breaker_state == "open":
            assert primary.state == "down"
        if primary.state == "up":
            assert primary.latency_ms is not None
            assert primary.latency_ms < 100
        # The same minute asked again is the same minute.
        assert replay.simulate(seed, index, mean_healthy=12) == minute
    # About one outage per 12 healthy minutes plus the outage itself.
    assert 2000 / 30 < outages < 2000 / 12


def test_seeds_tell_different_stories() -> None:
    def openings(seed: int) -> list[int]:
        return [i for i in range(500)
                if any(c.to_state == "open" for c in replay.simulate(seed, i).changes)]

    assert openings(1) != openings(2)
    assert openings(1) == openings(1)


def test_replay_writes_the_story_and_the_file(
    schema_db: Database, source: Path, btcusdt: pd.DataFrame
) -> None:
    result = run_replay(schema_db, source, "--speed", "0", "--count", "60")

    assert result == {
        "symbol": "LIVE", "source": BTCUSDT_FILE, "seed": 7,
        "clock_start": "2026-01-05T09:00:00Z", "written": 60, "next_index": 60,
        "stopped_by": "count",
    }
    rows = candles(schema_db)
    assert [row[0] for row in rows] == [START + k * MINUTE for k in range(60)]
    # Real prices, in the file's order, restamped.
    expected = btcusdt.head(60)
    for row, (_, candle) in zip(rows, expected.iterrows(), strict=True):
        assert row[1:6] == tuple(candle[c] for c in ("open", "high", "low", "close", "volume"))
    assert [row[6] for row in rows[24:35]] == (
        ["HK-Primary"] * 2 + ["JP-Backup"] * 7 + ["HK-Primary"] * 2
    )
    assert [(when, from_, to) for when, _node, from_, to, _reason in breaker(schema_db)] == [
        (START + index * MINUTE, from_, to) for index, from_, to in SEED_7_TRANSITIONS[:3]
    ]
    assert breaker(schema_db)[0][4] == "HK-Primary: 3 consecutive timeouts"
    samples = health(schema_db)
    assert len(samples) == 120
    assert samples[2 * 26] == (START + 26 * MINUTE, "HK-Primary", "down", None,
                               "timeout after 5000 ms")
    assert samples[0][2:4] == ("up", replay.simulate(7, 0).samples[0].latency_ms)


def test_file_repeats_when_it_runs_out(schema_db: Database, tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text(
        "open_time,open,high,low,close,volume\n"
        + "".join(f"2023-03-01 00:0{m}:00+00:00,{10 + m},{12 + m},{9 + m},{11 + m},1\n"
                  for m in range(3))
    )

    run_replay(schema_db, short, "--speed", "0", "--count", "7")

    assert [row[4] for row in candles(schema_db)] == [Decimal(v) for v in
                                                       (11, 12, 13, 11, 12, 13, 11)]


def wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def reference(server: str, source: Path) -> Iterator[Database]:
    """A second database holding 90 minutes replayed without interruption."""
    from conftest import _create_database, _drop_database

    created = _create_database(server)
    created.cli_json("schema")
    run_replay(created, source, "--speed", "0", "--count", "90")
    yield created
    _drop_database(server, created)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_interrupted_replay_resumes_without_duplicates_or_holes(
    schema_db: Database, reference: Database, source: Path, stop_signal: signal.Signals
) -> None:
    command = [str(CLI), "replay", "--symbol", "LIVE", "--file", str(source),
               "--start", START.isoformat(), "--seed", "7", "--speed", "100"]
    with subprocess.Popen(command, env=schema_db.env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as running:
        wait_for(lambda: len(candles(schema_db)) >= 30)
        running.send_signal(stop_signal)
        out, err = running.communicate(timeout=30)
    if stop_signal == signal.SIGTERM:
        assert running.returncode == 0, err
        assert "stopped by signal" in out
    else:
        assert running.returncode == -signal.SIGKILL

    done = len(candles(schema_db))
    assert 30 <= done < 90
    with schema_db.connect() as conn:
        assert conn.execute("SELECT next_index FROM sentinel.replay_state").fetchone()[0] == done

    resumed = run_replay(schema_db, source, "--speed", "0", "--count", str(90 - done))

    assert resumed["next_index"] == 90
    assert candles(schema_db) == candles(reference)
    assert health(schema_db) == health(reference)
    assert breaker(schema_db) == breaker(reference)


def test_a_second_writer_for_one_symbol_is_refused(schema_db: Database, source: Path) -> None:
    command = [str(CLI), "replay", "--symbol", "LIVE", "--file", str(source), "--speed", "20"]
    with subprocess.Popen(command, env=schema_db.env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as running:
        wait_for(lambda: len(candles(schema_db)) >= 2)
        second = schema_db.cli("replay", "--symbol", "LIVE", "--file", source, "--count", "1")
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=30)

    assert second.returncode == 1
    assert second.stderr == "sentinel-dashboard: error: another replay is already writing LIVE\n"


@pytest.mark.parametrize(
    "change", [("--seed", "8"), ("--failover-every", "5"), ("--file", "other")]
)
def test_resuming_with_another_story_is_refused(
    schema_db: Database, source: Path, tmp_path: Path, change: tuple[str, str]
) -> None:
    run_replay(schema_db, source, "--speed", "0", "--count", "3")
    other = tmp_path / "other.csv"
    other.write_bytes(source.read_bytes())
    args = {"--seed": "7", "--failover-every": "20", "--file": str(source)}
    args[change[0]] = str(other) if change[0] == "--file" else change[1]

    done = schema_db.cli("replay", "--symbol", "LIVE", "--count", "1",
                         *[part for pair in args.items() for part in pair])

    assert done.returncode == 1
    assert done.stderr == (
        f"sentinel-dashboard: error: the replay of LIVE was started from {BTCUSDT_FILE} with "
        "seed 7 and an outage every 20 minutes or so; resume it with those, or replay under "
        "another symbol\n"
    )
    assert len(candles(schema_db)) == 3


def test_default_clock_starts_at_the_present_minute(schema_db: Database, source: Path) -> None:
    before = replay.present_minute()
    result = schema_db.cli_json("replay", "--symbol", "LIVE", "--file", source,
                                "--speed", "0", "--count", "2")
    after = replay.present_minute()

    started = datetime.fromisoformat(result["clock_start"])
    assert before <= started <= after
    assert [row[0] for row in candles(schema_db)] == [started, started + MINUTE]


def test_health_command_prints_each_nodes_newest_sample(
    schema_db: Database, source: Path
) -> None:
    run_replay(schema_db, source, "--speed", "0", "--count", "30")

    assert schema_db.cli_json("health") == [
        {"node": "HK-Primary", "state": "down", "latency_ms": None,
         "last_error": "timeout after 5000 ms", "observed_at": "2026-01-05T09:29:00Z"},
        {"node": "JP-Backup", "state": "up",
         "latency_ms": replay.simulate(7, 29).samples[1].latency_ms,
         "last_error": None, "observed_at": "2026-01-05T09:29:00Z"},
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--speed", "-1"), "argument --speed: must be between 0 and 1000 candles a second"),
        (("--speed", "nan"), "argument --speed: must be between 0 and 1000 candles a second"),
        (("--count", "0"), "argument --count: must be at least 1"),
        (("--start", "2026-01-05T09:00:30Z"), "argument --start: '2026-01-05T09:00:30Z' is not on"
         " a minute"),
        (("--start", "2026-01-05T09:00"),
         "argument --start: '2026-01-05T09:00' has no UTC offset (add Z or +00:00)"),
    ],
)
def test_bad_arguments_are_usage_errors(
    database: Database, source: Path, args: tuple[str, ...], message: str
) -> None:
    done = database.cli("replay", "--symbol", "LIVE", "--file", source, *args)

    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"sentinel-dashboard replay: error: {message}"


def test_breaker_command_lists_the_newest_changes_first(
    schema_db: Database, source: Path
) -> None:
    run_replay(schema_db, source, "--speed", "0", "--count", "90")

    changes = schema_db.cli_json("breaker", "--limit", "3")

    assert [(c["changed_at"], c["from_state"], c["to_state"]) for c in changes] == [
        ((START + index * MINUTE).strftime("%Y-%m-%dT%H:%M:%SZ"), old, new)
        for index, old, new in reversed(SEED_7_TRANSITIONS[-3:])
    ]
    assert {c["node"] for c in changes} == {"HK-Primary"}
    assert changes[0]["reason"] == "probe of HK-Primary succeeded"
    assert len(schema_db.cli_json("breaker")) == len(SEED_7_TRANSITIONS)


def test_a_new_replay_never_joins_stored_candles(schema_db: Database, source: Path) -> None:
    with schema_db.connect() as conn:
        conn.execute(
            "INSERT INTO sentinel.candles (symbol, open_time, open, high, low, close, volume,"
            " node) VALUES ('LIVE', '2023-03-01 00:00+00', 1, 1, 1, 1, 1, 'HK-Primary')"
        )

    done = schema_db.cli("replay", "--symbol", "LIVE", "--file", source,
                         "--start", START.isoformat(), "--speed", "0", "--count", "10")

    assert done.returncode == 1
    assert done.stderr == (
        "sentinel-dashboard: error: LIVE already has candles (from 2023-03-01 00:00Z); "
        "replay under a symbol of its own\n"
    )
    assert (schema_db.count("candles"), schema_db.count("node_health"),
            schema_db.count("replay_state")) == (1, 0, 0)


def test_one_database_takes_one_replay(schema_db: Database, source: Path) -> None:
    run_replay(schema_db, source, "--speed", "0", "--count", "3")

    done = schema_db.cli("replay", "--symbol", "OTHER", "--file", source, "--count", "3")

    assert done.returncode == 1
    assert done.stderr.startswith(
        "sentinel-dashboard: error: LIVE has been replayed into this database; node health "
        "and breaker events are shared by all symbols"
    )
    assert schema_db.count("node_health") == 6
