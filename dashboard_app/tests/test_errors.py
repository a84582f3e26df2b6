"""What a failed connection tells the user."""

from __future__ import annotations

import socket

from support import Database


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_failed_address_is_named(database: Database) -> None:
    # Two attempts that fail for different reasons: the last one alone would hide
    # the first, as an absent IPv6 loopback hides a missing password.
    with database.connect() as conn:
        host, port = conn.info.host, conn.info.port
    dsn = (
        f"host={host},127.0.0.1 port={port},{closed_port()} "
        f"dbname={database.name} user=no_such_role connect_timeout=3"
    )

    done = database.cli("--dsn", dsn, "kpis", "--symbol", "BTCUSDT")

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("sentinel-dashboard: error: cannot connect to database ")
    assert "no_such_role" in line
    assert "Connection refused" in line
    assert "hostaddr" not in line
    assert "None" not in line
