"""Versioned, idempotent migrations of the sentinel schema."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

import psycopg

log = logging.getLogger(__name__)

# Each version is one SQL file in the package's sql/ folder; never edit a released one.
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, "0001_initial.sql"), (2, "0002_replay.sql"))

# Any fixed 64-bit number works; this one is "sentinel" read as ASCII bytes.
ADVISORY_LOCK_KEY = 0x73656E74696E656C

LOCK_SQL = "SELECT pg_advisory_xact_lock(%(key)s)"
CREATE_SCHEMA_SQL = "CREATE SCHEMA IF NOT EXISTS sentinel"
CREATE_LEDGER_SQL = """
CREATE TABLE IF NOT EXISTS sentinel.schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
APPLIED_SQL = "SELECT version FROM sentinel.schema_migrations"
RECORD_SQL = "INSERT INTO sentinel.schema_migrations (version) VALUES (%(version)s)"


@dataclass(frozen=True)
class MigrationResult:
    version: int
    applied: list[int]


def _migration_text(filename: str) -> str:
    return resources.files("sentinel_dashboard").joinpath("sql", filename).read_text("utf-8")


def apply(conn: psycopg.Connection) -> MigrationResult:
    """Apply every missing migration in one transaction; safe to run concurrently."""
    applied: list[int] = []
    with conn.transaction():
        # Held until commit, so a second applier waits and then finds nothing to do.
        conn.execute(LOCK_SQL, {"key": ADVISORY_LOCK_KEY})
        conn.execute(CREATE_SCHEMA_SQL)
        conn.execute(CREATE_LEDGER_SQL)
        done = {row[0] for row in conn.execute(APPLIED_SQL)}

        for version, filename in MIGRATIONS:
            if version in done:
                continue
            log.info("applying migration %s (%s)", version, filename)
            conn.execute(_migration_text(filename))
            conn.execute(RECORD_SQL, {"version": version})
            applied.append(version)
            done.add(version)

    return MigrationResult(version=max(done, default=0), applied=applied)
