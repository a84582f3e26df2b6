"""Fixtures: the shared market files, a fresh PostgreSQL database per test, the CLI.

Nothing here skips: without the market files or a reachable PostgreSQL (run the
suite under pg_virtualenv) the tests that need them fail and say why.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sentinel_dashboard import schema
from support import BTCUSD_FILE, BTCUSDT_FILE, CLI, REPO_ROOT, Database, read_market


@pytest.fixture(scope="session")
def market_dir() -> Path:
    folder = Path(os.environ.get("SENTINEL_MARKET_DATA", REPO_ROOT.parent / "shared/data/market"))
    if not (folder / BTCUSD_FILE).is_file() or not (folder / BTCUSDT_FILE).is_file():
        pytest.fail(f"market data not found in {folder} (set SENTINEL_MARKET_DATA)")
    return folder


@pytest.fixture(scope="session")
def btcusd(market_dir: Path) -> pd.DataFrame:
    return read_market(market_dir / BTCUSD_FILE)


@pytest.fixture(scope="session")
def btcusdt(market_dir: Path) -> pd.DataFrame:
    return read_market(market_dir / BTCUSDT_FILE)


@pytest.fixture(scope="session")
def server() -> str:
    """The maintenance connection from the PG* environment, checked once."""
    if not CLI.is_file():
        pytest.fail(f"the sentinel-dashboard script is not installed next to {sys.executable}")
    try:
        with psycopg.connect("", connect_timeout=5) as conn:
            maintenance = conn.info.dbname
    except psycopg.OperationalError as exc:
        pytest.fail(
            "PostgreSQL is not reachable through the PG* environment; run the tests as "
            f"'pg_virtualenv python -m pytest tests': {exc}"
        )
    # Pinned by name: the database fixture points PGDATABASE elsewhere.
    return make_conninfo("", dbname=maintenance)


def _create_database(server: str) -> Database:
    name = f"sentinel_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = {**os.environ, "PGDATABASE": name}
    for variable in ISOLATED_VARIABLES:
        env.pop(variable, None)
    return Database(name=name, conninfo=make_conninfo(server, dbname=name), env=env)


def _drop_database(server: str, database: Database) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        # FORCE ends connections a page's pool may still hold.
        admin.execute(
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database.name))
        )


ISOLATED_VARIABLES = (
    "SENTINEL_DSN",
    "SENTINEL_CACHE_TTL",
    "SENTINEL_CONNECT_TIMEOUT",
    "SENTINEL_REFRESH",
    "SENTINEL_STALE_AFTER",
    "SENTINEL_LANGUAGE",
)


@pytest.fixture
def database(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A uniquely named, empty database; PGDATABASE points at it for this test."""
    created = _create_database(server)
    for variable in ISOLATED_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PGDATABASE", created.name)
    yield created
    _drop_database(server, created)


@pytest.fixture(scope="session")
def shared_market(server: str, market_dir: Path) -> Iterator[Database]:
    """Both shared files loaded once, for tests that only read: never write to it."""
    created = _create_database(server)
    with created.connect() as conn:
        schema.apply(conn)
    created.cli_json("load", "--symbol", "BTCUSD", "--node", "HK-Primary",
                     market_dir / BTCUSD_FILE)
    created.cli_json("load", "--symbol", "BTCUSDT", "--node", "JP-Backup",
                     market_dir / BTCUSDT_FILE)
    yield created
    _drop_database(server, created)


@pytest.fixture
def schema_db(database: Database) -> Database:
    with database.connect() as conn:
        schema.apply(conn)
    return database


@pytest.fixture
def loaded(schema_db: Database, market_dir: Path) -> Database:
    """Both shared files: BTCUSD from HK-Primary, BTCUSDT from JP-Backup."""
    schema_db.cli_json("load", "--symbol", "BTCUSD", "--node", "HK-Primary",
                       market_dir / BTCUSD_FILE)
    schema_db.cli_json("load", "--symbol", "BTCUSDT", "--node", "JP-Backup",
                       market_dir / BTCUSDT_FILE)
    return schema_db
