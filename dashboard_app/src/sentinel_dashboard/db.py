"""Connections, the page's pool, and the typed errors the entry points report."""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sentinel_dashboard.settings import Settings

log = logging.getLogger(__name__)


class DashboardError(Exception):
    """A failure the command line or the page reports as one plain line."""


class DatabaseUnavailable(DashboardError):
    """The database could not be reached or refused the connection."""


class SchemaMissing(DashboardError):
    """The sentinel tables do not exist yet."""


class NoData(DashboardError):
    """The query is valid but there is nothing to answer with."""


class LoadError(DashboardError):
    """A candle file cannot be loaded; the message names file and line."""


class FetchError(DashboardError):
    """Candles cannot be fetched from the exchange; the message names what it answered."""


# psycopg tries every address a host name resolves to and, when all fail, puts
# the last failure first and then lists each attempt after this line.
_ATTEMPTS_HEADER = "Multiple connection attempts failed. All failures were:"
# "- host: None, port: None, hostaddr: '::1': connection is bad: " before libpq's
# own words, which already name the address.
_ATTEMPT_PREFIX = re.compile(
    r"^- host: .*?, port: .*?, hostaddr: .*?: (?:connection (?:is bad|failed): )?"
)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    lines = text.splitlines()
    if _ATTEMPTS_HEADER in lines:
        # The last attempt is often the least telling (an IPv6 loopback that does
        # not exist), so every attempt's reason is kept.
        attempts = lines[lines.index(_ATTEMPTS_HEADER) + 1 :]
        reasons = [_ATTEMPT_PREFIX.sub("", line) for line in attempts if line.startswith("- ")]
        return "; ".join(dict.fromkeys(reasons))
    return lines[0]


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection:
    try:
        return psycopg.connect(settings.conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        log.debug("connect failed", exc_info=True)
        raise DatabaseUnavailable(
            f"cannot connect to {settings.target.describe()}: {_reason(exc)}"
        ) from exc


def probe(settings: Settings) -> None:
    """Connect once and disconnect; raise DatabaseUnavailable with libpq's reason."""
    connect(settings).close()


def open_pool(settings: Settings) -> ConnectionPool:
    """Open a small pool, failing within the connect timeout when nothing answers."""
    # A direct attempt first: the pool itself only reports a timeout, not why.
    probe(settings)
    pool = ConnectionPool(
        settings.conninfo,
        min_size=1,
        max_size=4,
        open=False,
        check=ConnectionPool.check_connection,
        timeout=settings.connect_timeout,
        name="sentinel-dashboard",
    )
    try:
        pool.open(wait=True, timeout=settings.connect_timeout)
    except PoolTimeout as exc:
        pool.close()
        raise DatabaseUnavailable(
            f"cannot connect to {settings.target.describe()}: no connection within "
            f"{settings.connect_timeout} s"
        ) from exc
    return pool


def explain(exc: BaseException, settings: Settings) -> DashboardError:
    """Turn a driver or pool failure into the typed error the user sees."""
    if isinstance(exc, DashboardError):
        return exc
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return SchemaMissing(
            f"{settings.target.describe()} has no sentinel schema yet: "
            "run 'sentinel-dashboard schema'"
        )
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return DatabaseUnavailable(
            f"lost the connection to {settings.target.describe()}: {_reason(exc)}"
        )
    return DashboardError(f"query on {settings.target.describe()} failed: {_reason(exc)}")
