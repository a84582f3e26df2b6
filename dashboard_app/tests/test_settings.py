"""Settings: where the connection goes and how long it may take, without a database."""

from __future__ import annotations

import secrets

import pytest
from psycopg.conninfo import conninfo_to_dict
from sentinel_dashboard import settings

VARIABLES = ("SENTINEL_DSN", "SENTINEL_CONNECT_TIMEOUT", "SENTINEL_CACHE_TTL",
             "SENTINEL_REFRESH", "SENTINEL_STALE_AFTER", "SENTINEL_LANGUAGE",
             "PGCONNECT_TIMEOUT", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def test_libpq_environment_names_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.internal")
    monkeypatch.setenv("PGPORT", "6432")
    monkeypatch.setenv("PGDATABASE", "sentinel")
    monkeypatch.setenv("PGUSER", "reader")

    config = settings.load()

    assert config.target.describe() == "database 'sentinel' on db.internal:6432"
    assert conninfo_to_dict(config.conninfo) == {"connect_timeout": "3"}
    assert (config.cache_ttl, config.connect_timeout) == (2, 3)
    assert (config.refresh, config.stale_after, config.language) == (5, 120, "en")


def test_dsn_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.internal")
    monkeypatch.setenv("SENTINEL_DSN", "host=10.0.4.7 dbname=market connect_timeout=7")

    config = settings.load()

    assert config.target.describe() == "database 'market' on 10.0.4.7:5432"
    assert config.connect_timeout == 7
    assert settings.load("host=other dbname=x").target.describe() == "database 'x' on other:5432"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, 3),
        ({"PGCONNECT_TIMEOUT": "9"}, 9),
        ({"PGCONNECT_TIMEOUT": "9", "SENTINEL_CONNECT_TIMEOUT": "2"}, 2),
    ],
)
def test_connect_timeout_precedence(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: int
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    config = settings.load()

    assert config.connect_timeout == expected
    assert conninfo_to_dict(config.conninfo)["connect_timeout"] == str(expected)


def test_bad_values_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_CACHE_TTL", "soon")
    with pytest.raises(settings.SettingsError, match="SENTINEL_CACHE_TTL must be a whole"):
        settings.load()


def test_unparsable_dsn_is_not_echoed() -> None:
    secret = secrets.token_hex(8)  # random, so no credential is written down here
    with pytest.raises(settings.SettingsError) as caught:
        settings.load(f"host='x password={secret}")
    assert secret not in str(caught.value)


def test_live_page_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_REFRESH", "0")
    monkeypatch.setenv("SENTINEL_STALE_AFTER", "600")
    monkeypatch.setenv("SENTINEL_LANGUAGE", "zh_CN")

    config = settings.load()

    assert (config.refresh, config.stale_after, config.language) == (0, 600, "zh")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SENTINEL_LANGUAGE", "fr", "SENTINEL_LANGUAGE must be one of en, zh, not 'fr'"),
        ("SENTINEL_STALE_AFTER", "0",
         "SENTINEL_STALE_AFTER must be a whole number of seconds, at least 1, not '0'"),
        ("SENTINEL_REFRESH", "-5",
         "SENTINEL_REFRESH must be a whole number of seconds, 0 or more, not '-5'"),
        ("SENTINEL_REFRESH", "5s", "SENTINEL_REFRESH must be a whole number of seconds"),
    ],
)
def test_bad_live_page_settings_are_reported(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(settings.SettingsError, match=message):
        settings.load()
