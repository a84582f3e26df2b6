"""Helpers shared by the tests: the installed CLI, the market files, a test database."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("sentinel-dashboard")
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
BTCUSD_FILE = "binanceus_BTCUSD_1m_2023-03-01_2023-03-21.csv"
BTCUSDT_FILE = "binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv"


def read_market(path: Path) -> pd.DataFrame:
    """A Binance.US file as exact Decimals, independently of the loader."""
    frame = pd.read_csv(path, dtype=str)
    frame["open_time"] = pd.to_datetime(frame["open_time"], utc=True)
    for column in PRICE_COLUMNS:
        frame[column] = frame[column].map(Decimal).astype(object)
    return frame


@dataclass
class Database:
    name: str
    conninfo: str
    env: dict[str, str]

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.conninfo, autocommit=True)

    def count(self, table: str = "candles") -> int:
        statement = sql.SQL("SELECT count(*) FROM sentinel.{}").format(sql.Identifier(table))
        with self.connect() as conn:
            return conn.execute(statement).fetchone()[0]

    def cli(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *map(str, args)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def cli_json(self, *args: str | Path):
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return json.loads(done.stdout, parse_float=Decimal)


