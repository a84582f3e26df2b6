"""The Streamlit page, rendered by AppTest against the real PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources

import pytest
import streamlit as st
from proxy import Proxy
from streamlit.testing.v1 import AppTest
from support import Database


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    # Streamlit's caches live as long as the process; each test's database is new.
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


PAGE = str(resources.files("sentinel_dashboard").joinpath("page.py"))
RUN_TIMEOUT = 30


def render() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT).run()


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def assert_no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def chart(at: AppTest) -> dict:
    [element] = [e for e in at.get("plotly_chart") if e.proto.id.endswith("-candles_chart")]
    return json.loads(element.proto.spec)


def assert_figures_match_cli(at: AppTest, database: Database, symbol: str) -> None:
    expected = database.cli_json("kpis", "--symbol", symbol)
    shown = metrics(at)
    assert number(shown["Latest price"]) == expected["latest_price"]
    assert number(shown["24h volume"]) == expected["volume_24h"]
    assert shown["Data source"] == expected["active_source"]
    assert int(shown["Breaker trips (24h)"]) == expected["breaker_trips_24h"]
    assert any("2023-03-21 23:59:00 UTC" in caption.value for caption in at.caption)


def test_page_figures_equal_the_cli(loaded: Database) -> None:
    with loaded.connect() as conn:
        conn.execute(
            "INSERT INTO sentinel.breaker_events (changed_at, node, from_state, to_state)"
            " VALUES ('2023-03-21 20:00+00', 'HK-Primary', 'closed', 'open')"
        )

    at = render()

    assert_no_traceback(at)
    assert not at.error
    assert at.selectbox(key="symbol").options == ["BTCUSD", "BTCUSDT"]
    assert set(metrics(at)) == {"Latest price", "24h volume", "Data source",
                                "Breaker trips (24h)"}
    assert_figures_match_cli(at, loaded, "BTCUSD")
    assert metrics(at)["Breaker trips (24h)"] == "1"

    at.selectbox(key="symbol").select("BTCUSDT").run()

    assert_no_traceback(at)
    assert_figures_match_cli(at, loaded, "BTCUSDT")


def test_chart_shows_the_cli_candles(loaded: Database) -> None:
    at = render()
    at.selectbox(key="interval").select("1h").run()

    expected = loaded.cli_json("candles", "--symbol", "BTCUSD", "--interval", "1h",
                               "--limit", "24")
    candles, volume = chart(at)["data"]
    assert candles["type"] == "candlestick"
    assert volume["type"] == "bar"
    assert candles["close"] == [float(bucket["close"]) for bucket in expected]
    assert volume["y"] == [float(bucket["volume"]) for bucket in expected]
    assert chart(at)["layout"]["xaxis"]["matches"] == "x2"


def test_node_health_without_samples_says_so(loaded: Database) -> None:
    at = render()

    assert [info.value for info in at.info] == ["No node health samples have been recorded yet."]
    table = at.dataframe[0].value
    assert list(table["Node"]) == ["HK-Primary"]
    assert list(table["Last BTCUSD candle"]) == ["2023-03-21 23:59:00 UTC"]


def test_node_health_shows_latest_sample(loaded: Database) -> None:
    with loaded.connect() as conn:
        conn.cursor().executemany(
            "INSERT INTO sentinel.node_health (node, observed_at, state, latency_ms, last_error)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                ("HK-Primary", "2023-03-21 23:58+00", "down", None, "timeout"),
                ("HK-Primary", "2023-03-21 23:59+00", "up", Decimal("12.5"), None),
                ("JP-Backup", "2023-03-21 23:59+00", "degraded", Decimal("250"), "slow feed"),
            ],
        )

    at = render()

    assert not at.info
    rows = at.dataframe[0].value.to_dict("records")
    assert [(r["Node"], r["State"], r["Latency (ms)"], r["Last error"]) for r in rows] == [
        ("HK-Primary", "up", "12.5", ""),
        ("JP-Backup", "degraded", "250", "slow feed"),
    ]
    assert rows[0]["Observed"] == "2023-03-21 23:59:00 UTC"
    assert rows[1]["Last BTCUSD candle"] == "—"


def test_empty_database_is_reported(schema_db: Database) -> None:
    at = render()

    assert_no_traceback(at)
    assert [e.value for e in at.error] == [
        f"Cannot show market data: database {schema_db.name!r} on "
        f"{os.environ.get('PGHOST', 'local socket')}:{os.environ.get('PGPORT', '5432')} "
        "holds no candles yet"
    ]
    assert not at.metric


def test_missing_schema_is_reported(database: Database) -> None:
    at = render()

    assert_no_traceback(at)
    [error] = at.error
    assert error.value.endswith("has no sentinel schema yet: run 'sentinel-dashboard schema'")


@pytest.fixture
def proxy(loaded: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    relay = Proxy(os.environ.get("PGHOST", "/var/run/postgresql"),
                  int(os.environ.get("PGPORT", "5432")))
    relay.start()
    relay.stop()  # the port is now known and free: the page starts with the database down
    monkeypatch.setenv("SENTINEL_DSN", f"host=127.0.0.1 port={relay.port} dbname={loaded.name}")
    monkeypatch.setenv("SENTINEL_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("SENTINEL_CACHE_TTL", "0")
    yield relay
    relay.stop()


def assert_down_message(at: AppTest, proxy: Proxy, database: Database) -> None:
    assert_no_traceback(at)
    [error] = at.error
    assert error.value.startswith("Cannot show market data: ")
    assert f"cannot connect to database {database.name!r} on 127.0.0.1:{proxy.port}: " in (
        error.value
    )
    if os.environ.get("PGPASSWORD"):
        assert os.environ["PGPASSWORD"] not in error.value
    assert not at.metric


def test_page_recovers_when_the_database_returns(proxy: Proxy, loaded: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)

    at.run()
    assert_down_message(at, proxy, loaded)

    proxy.start()
    at.run()
    assert_no_traceback(at)
    assert not at.error
    assert_figures_match_cli(at, loaded, "BTCUSD")

    # Down again with a pool already open: its dead connections must not hang the page.
    proxy.stop()
    at.run()
    assert_down_message(at, proxy, loaded)

    proxy.start()
    at.run()
    assert not at.error
    assert_figures_match_cli(at, loaded, "BTCUSD")


def test_symbol_in_the_address_is_chosen_and_followed(loaded: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params["symbol"] = "BTCUSDT"
    at.run()

    assert_no_traceback(at)
    assert at.selectbox(key="symbol").value == "BTCUSDT"
    assert_figures_match_cli(at, loaded, "BTCUSDT")

    at.selectbox(key="symbol").set_value("BTCUSD").run()

    assert at.query_params["symbol"] == "BTCUSD"
    assert_figures_match_cli(at, loaded, "BTCUSD")


def test_unknown_symbol_in_the_address_is_said_and_the_first_shown(loaded: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params["symbol"] = "DOGEUSD"
    at.run()

    assert_no_traceback(at)
    assert [w.value for w in at.warning] == ["No candles for 'DOGEUSD'; showing BTCUSD instead."]
    assert at.selectbox(key="symbol").value == "BTCUSD"


def test_symbol_in_the_address_ignores_case(loaded: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params["symbol"] = "btcusdt"
    at.run()

    assert_no_traceback(at)
    assert not at.warning
    assert at.selectbox(key="symbol").value == "BTCUSDT"
