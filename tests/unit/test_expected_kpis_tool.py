"""The verify helper and the app agree on both file layouts, though they share
no code: pandas on the file against SQL on the loaded rows."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
MARKET = Path(os.environ.get("SENTINEL_MARKET_DATA", REPO.parent / "shared" / "data" / "market"))
BTCUSD = MARKET / "binanceus_BTCUSD_1m_2023-03-01_2023-03-21.csv"

spec = importlib.util.spec_from_file_location("expected", REPO / "tests/tools/expected_kpis.py")
expected = importlib.util.module_from_spec(spec)
spec.loader.exec_module(expected)


def cli_path() -> str:
    beside_python = Path(sys.executable).parent / "sentinel-dashboard"
    return shutil.which("sentinel-dashboard") or str(beside_python)


@pytest.fixture
def dsn() -> Iterator[str]:
    name = f"tool_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"dbname={name}"
    with psycopg.connect("", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def cli(dsn: str, *args: str) -> str:
    done = subprocess.run(
        [cli_path(), "--dsn", dsn, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def kraken_copy_with_gaps(path: Path) -> Path:
    frame = pd.read_csv(BTCUSD, dtype=str)
    frame = frame[frame.index % 7 != 3]
    seconds = pd.to_datetime(frame["open_time"], utc=True).map(lambda t: int(t.timestamp()))
    rows = zip(seconds, frame["open"], frame["high"], frame["low"], frame["close"],
               frame["volume"], strict=True)
    path.write_text("".join(",".join(map(str, row)) + ",5\n" for row in rows))
    return path


@pytest.mark.parametrize("layout", ["binance", "kraken"])
def test_tool_and_app_agree(dsn: str, tmp_path: Path, layout: str) -> None:
    path = BTCUSD if layout == "binance" else kraken_copy_with_gaps(tmp_path / "xbtusd.csv")
    cli(dsn, "schema")
    loaded = json.loads(cli(dsn, "load", "--symbol", "BTCUSD", "--node", "JP-Backup",
                            "--json", str(path)))
    assert loaded["layout"] == layout
    actual = json.loads(cli(dsn, "kpis", "--symbol", "BTCUSD", "--json"),
                        parse_float=Decimal, parse_int=Decimal)

    want = expected.expected_kpis(str(path), "BTCUSD", "JP-Backup")

    assert {"high_24h", "low_24h", "change_24h_pct", "stale"} <= want.keys()
    assert expected.differences(want, actual) == []
    assert expected.differences({**want, "volume_24h": Decimal(0)}, actual) != []
