"""Settings read from flags and the environment.

Database settings are libpq's own: the standard PG* variables, or one DSN in
SENTINEL_DSN (or --dsn). Nothing here ever holds a password; libpq reads it from
PGPASSWORD or PGPASSFILE when it connects.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DSN_VARIABLE = "SENTINEL_DSN"
CACHE_TTL_VARIABLE = "SENTINEL_CACHE_TTL"
CONNECT_TIMEOUT_VARIABLE = "SENTINEL_CONNECT_TIMEOUT"
REFRESH_VARIABLE = "SENTINEL_REFRESH"
STALE_AFTER_VARIABLE = "SENTINEL_STALE_AFTER"
LANGUAGE_VARIABLE = "SENTINEL_LANGUAGE"

# Shorter than the refresh period, so each refresh can show new data.
DEFAULT_CACHE_TTL = 2
DEFAULT_CONNECT_TIMEOUT = 3
DEFAULT_REFRESH = 5
DEFAULT_STALE_AFTER = 120
LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Target:
    """Where the connection goes, as far as it is safe to show."""

    host: str
    port: str
    dbname: str
    user: str

    def describe(self) -> str:
        return f"database {self.dbname!r} on {self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    conninfo: str
    target: Target
    cache_ttl: int
    connect_timeout: int
    refresh: int = DEFAULT_REFRESH  # seconds between page refreshes; 0 turns them off
    stale_after: int = DEFAULT_STALE_AFTER  # newest candle older than this is stale
    language: str = DEFAULT_LANGUAGE


def _seconds(name: str, raw: str, *, allow_zero: bool = False) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, not {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        least = "0 or more" if allow_zero else "at least 1"
        raise SettingsError(f"{name} must be a whole number of seconds, {least}, not {raw!r}")
    return value


def _positive_int(name: str, default: int, *, allow_zero: bool = False) -> int:
    raw = os.environ.get(name, "").strip()
    return _seconds(name, raw, allow_zero=allow_zero) if raw else default


def _language() -> str:
    raw = os.environ.get(LANGUAGE_VARIABLE, "").strip().lower()
    if not raw:
        return DEFAULT_LANGUAGE
    # zh-CN, zh_TW and the like all mean the Chinese labels.
    base = raw.replace("_", "-").split("-")[0]
    if base not in LANGUAGES:
        raise SettingsError(
            f"{LANGUAGE_VARIABLE} must be one of {', '.join(LANGUAGES)}, not {raw!r}"
        )
    return base


def _target(params: dict[str, str]) -> Target:
    # Mirror libpq's precedence: DSN keyword, then PG* variable, then built-in default.
    def pick(key: str, variable: str, default: str) -> str:
        return params.get(key) or os.environ.get(variable) or default

    user = pick("user", "PGUSER", getpass.getuser())
    return Target(
        host=pick("host", "PGHOST", "local socket"),
        port=pick("port", "PGPORT", "5432"),
        dbname=pick("dbname", "PGDATABASE", user),
        user=user,
    )


def load(dsn: str | None = None) -> Settings:
    """Build settings from an explicit DSN (a flag) or the environment."""
    if dsn is None:
        dsn = os.environ.get(DSN_VARIABLE, "")
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # libpq's reason can quote the string, password included, so it is not shown.
        raise SettingsError(
            f"cannot parse the connection string given by --dsn or {DSN_VARIABLE}"
        ) from None

    # The DSN's own connect_timeout wins, then ours, then libpq's PGCONNECT_TIMEOUT.
    if "connect_timeout" in params:
        connect_timeout = _seconds("connect_timeout in the DSN", str(params["connect_timeout"]))
    else:
        connect_timeout = _positive_int(
            CONNECT_TIMEOUT_VARIABLE,
            _positive_int("PGCONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
        )

    return Settings(
        conninfo=make_conninfo(dsn, connect_timeout=connect_timeout),
        target=_target({k: str(v) for k, v in params.items()}),
        cache_ttl=_positive_int(CACHE_TTL_VARIABLE, DEFAULT_CACHE_TTL, allow_zero=True),
        connect_timeout=connect_timeout,
        refresh=_positive_int(REFRESH_VARIABLE, DEFAULT_REFRESH, allow_zero=True),
        stale_after=_positive_int(STALE_AFTER_VARIABLE, DEFAULT_STALE_AFTER),
        language=_language(),
    )
