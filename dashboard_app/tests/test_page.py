"""The Streamlit page, rendered by AppTest against the real PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
import streamlit as st
from proxy import Proxy
from sentinel_dashboard import replay
from sentinel_dashboard.labels import LABELS
from streamlit.testing.v1 import AppTest
from support import BTCUSDT_FILE, Database


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
    return Decimal(text.replace(",", "").replace("%", ""))


def assert_no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def chart(at: AppTest, key: str = "candles_chart") -> dict:
    [element] = [e for e in at.get("plotly_chart") if e.proto.id.endswith(f"-{key}")]
    return json.loads(element.proto.spec)


def table(at: AppTest, column: str) -> list[dict]:
    """The rows of the one table with this column (st.dataframe keeps no key here)."""
    [frame] = [f for f in at.dataframe if column in f.value.columns]
    return frame.value.to_dict("records")


def stale_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if w.value.startswith("Stale data")]


EN = LABELS["en"]


def assert_figures_match_cli(
    at: AppTest, database: Database, symbol: str, words: dict[str, str] = EN
) -> None:
    expected = database.cli_json("kpis", "--symbol", symbol)
    shown = metrics(at)
    assert set(shown) == {words[key] for key in FIGURES}
    assert number(shown[words["latest_price"]]) == expected["latest_price"]
    assert number(shown[words["change_24h"]]) == expected["change_24h_pct"]
    assert number(shown[words["high_24h"]]) == expected["high_24h"]
    assert number(shown[words["low_24h"]]) == expected["low_24h"]
    assert number(shown[words["volume_24h"]]) == expected["volume_24h"]
    assert shown[words["data_source"]] == expected["active_source"]
    assert int(shown[words["breaker_trips"]]) == expected["breaker_trips_24h"]
    state = expected["breaker_state"]
    assert shown[words["breaker_state"]] == (words[state] if state else "—")
    deltas = {metric.label: metric.proto.delta for metric in at.metric}
    assert number(deltas[words["latest_price"]]) == expected["change_24h"]
    assert not deltas[words["change_24h"]]
    newest = datetime.fromisoformat(expected["as_of"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert any(newest in caption.value for caption in at.caption)


FIGURES = ("latest_price", "change_24h", "high_24h", "low_24h", "volume_24h", "data_source",
           "breaker_trips", "breaker_state")


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
    assert_figures_match_cli(at, loaded, "BTCUSD")
    assert metrics(at)["Breaker trips (24h)"] == "1"

    at.selectbox(key="symbol").select("BTCUSDT").run()

    assert_no_traceback(at)
    assert_figures_match_cli(at, loaded, "BTCUSDT")


@pytest.mark.parametrize(("interval", "span"), [("1h", "7d"), ("1m", "6h"), ("1d", "all")])
def test_chart_shows_the_cli_candles(loaded: Database, interval: str, span: str) -> None:
    at = render()
    at.selectbox(key="interval").select(interval)
    at.selectbox(key="range").select(span).run()

    expected = loaded.cli_json("candles", "--symbol", "BTCUSD", "--interval", interval,
                               "--range", span)
    figure = chart(at)
    candles, volume, served = figure["data"]
    assert candles["type"] == "candlestick"
    assert volume["type"] == "bar"
    assert candles["close"] == [float(bucket["close"]) for bucket in expected]
    assert volume["y"] == [float(bucket["volume"]) for bucket in expected]
    assert served["name"] == "served by HK-Primary"
    assert figure["layout"]["xaxis"]["matches"] == "x2"
    assert figure["layout"]["xaxis2"]["title"]["text"] == "Time (UTC)"
    assert (at.query_params["interval"], at.query_params["range"]) == (interval, span)


def test_node_health_without_samples_says_so(loaded: Database) -> None:
    at = render()

    assert "No node health samples have been recorded yet." in [info.value for info in at.info]
    rows = table(at, "Latency (ms)")
    assert [row["Node"] for row in rows] == ["HK-Primary"]
    assert [row["Last BTCUSD candle"] for row in rows] == ["2023-03-21 23:59:00 UTC"]
    assert "No circuit-breaker state changes up to the newest candle." in [
        info.value for info in at.info
    ]


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

    assert "No node health samples have been recorded yet." not in [i.value for i in at.info]
    rows = table(at, "Latency (ms)")
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
    assert [w.value for w in at.warning if not w.value.startswith("Stale")] == [
        "No candles for 'DOGEUSD'; showing BTCUSD instead."
    ]
    assert at.selectbox(key="symbol").value == "BTCUSD"


def test_symbol_in_the_address_ignores_case(loaded: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params["symbol"] = "btcusdt"
    at.run()

    assert_no_traceback(at)
    assert not [w.value for w in at.warning if not w.value.startswith("Stale")]
    assert at.selectbox(key="symbol").value == "BTCUSDT"


def add_candles(database: Database, symbol: str, times: list[datetime]) -> None:
    with database.connect() as conn:
        conn.cursor().executemany(
            "INSERT INTO sentinel.candles (symbol, open_time, open, high, low, close, volume,"
            " node) VALUES (%s, %s, 100, 101, 99, 100.5, 2, 'HK-Primary')",
            [(symbol, moment) for moment in times],
        )


def test_stale_warning_appears_exactly_past_the_threshold(
    schema_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    newest = replay.present_minute() - timedelta(minutes=7)
    add_candles(schema_db, "NOW", [newest - timedelta(minutes=1), newest])
    age = (datetime.now(UTC) - newest).total_seconds()

    # The same data, judged against a threshold just above and just below its age.
    monkeypatch.setenv("SENTINEL_STALE_AFTER", str(int(age) + 30))
    fresh = render()
    monkeypatch.setenv("SENTINEL_STALE_AFTER", str(int(age) - 30))
    st.cache_data.clear()
    stale = render()

    assert_no_traceback(fresh)
    assert stale_warnings(fresh) == []
    [warning] = stale_warnings(stale)
    assert warning.startswith("Stale data: the newest candle is 7 min ")
    assert warning.endswith(f"old, more than the {int(age - 30) // 60} min "
                            f"{int(age - 30) % 60} s allowed. The feed pipeline may have "
                            "stopped; the market is not necessarily quiet.")
    caption = f"Newest candle {newest:%Y-%m-%d %H:%M:%S} UTC (open time), 7 min "
    assert any(c.value.startswith(caption) for c in stale.caption)
    assert any("Refreshes every 5 s." in c.value for c in stale.caption)


def test_freshness_boundary() -> None:
    from sentinel_dashboard import market

    as_of = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    limit = timedelta(seconds=120)

    def stale(after: timedelta, arrived: timedelta = timedelta(0)) -> bool:
        figures = market.Kpis("X", as_of, as_of + arrived, *[Decimal(1)] * 2, "n", 0, None,
                              *[Decimal(1)] * 5, 0, 0)
        return market.freshness(figures, limit, now=as_of + after).stale

    assert not stale(timedelta(seconds=120))
    assert stale(timedelta(seconds=120, microseconds=1))
    assert not stale(timedelta(seconds=-5), arrived=timedelta(seconds=-5))
    # Stamped ahead of the clock, but written more than the limit ago: stopped.
    assert not stale(timedelta(hours=-3), arrived=timedelta(hours=-3, seconds=-120))
    assert stale(timedelta(hours=-3), arrived=timedelta(hours=-3, seconds=-121))


def test_candles_ahead_of_the_clock_are_said_not_stale(schema_db: Database) -> None:
    ahead = replay.present_minute() + timedelta(hours=2)
    add_candles(schema_db, "FAST", [ahead])

    at = render()

    assert_no_traceback(at)
    assert stale_warnings(at) == []
    [info] = [i.value for i in at.info if "ahead" in i.value]
    assert info.startswith("The newest candle is 1 h 59 min ahead of this server's clock")


def test_a_feed_ahead_of_the_clock_that_stopped_is_stale(schema_db: Database) -> None:
    ahead = replay.present_minute() + timedelta(hours=2)
    add_candles(schema_db, "FAST", [ahead])
    with schema_db.connect() as conn:
        conn.execute("UPDATE sentinel.candles SET ingested_at = now() - interval '10 minutes'")

    at = render()

    assert_no_traceback(at)
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("Stale data: no candle has arrived for 10 min ")
    assert not [i.value for i in at.info if "ahead" in i.value]


@pytest.fixture
def live(schema_db: Database, market_dir: Path) -> Database:
    """90 replayed minutes of seed 7 ending at the present minute: two failovers."""
    start = replay.present_minute() - timedelta(minutes=89)
    schema_db.cli_json("replay", "--symbol", "LIVE", "--file", market_dir / BTCUSDT_FILE,
                       "--seed", "7", "--start", start.isoformat(), "--speed", "0",
                       "--count", "90")
    return schema_db


# A session time zone far from UTC must not move anything: the axis says UTC.
@pytest.mark.parametrize("session_zone", ["UTC", "Asia/Shanghai"])
def test_failovers_show_on_chart_timeline_and_breaker_table(
    live: Database, monkeypatch: pytest.MonkeyPatch, session_zone: str
) -> None:
    monkeypatch.setenv("PGTZ", session_zone)
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params.update({"interval": "1m", "range": "6h"})
    at.run()

    assert_no_traceback(at)
    assert stale_warnings(at) == []
    assert_figures_match_cli(at, live, "LIVE")
    # The replay's own clock, not the present minute again: the minute may have
    # turned since the fixture wrote the rows.
    with live.connect() as conn:
        start = conn.execute("SELECT clock_start FROM sentinel.replay_state").fetchone()[0]
    start = start.astimezone(UTC)

    def minute(index: int) -> str:
        return (start + timedelta(minutes=index)).strftime("%Y-%m-%d %H:%M:%S")

    # Seed 7: the backup serves minutes 26-32 and 68-73 (see test_replay.py).
    figure = chart(at)
    shaded = [(shape["x0"][:19].replace("T", " "), shape["x1"][:19].replace("T", " "),
               shape["fillcolor"]) for shape in figure["layout"]["shapes"]]
    blue, orange = "#1f77b4", "#ff7f0e"
    stretches = [(0, 26, blue), (26, 33, orange), (33, 68, blue), (68, 74, orange),
                 (74, 90, blue)]
    # Each stretch is drawn behind both panels.
    assert shaded == [(minute(a), minute(b), colour) for a, b, colour in stretches
                      for _panel in range(2)]
    assert [trace["name"] for trace in figure["data"][2:]] == [
        "served by HK-Primary", "served by JP-Backup"
    ]
    assert figure["data"][0]["x"][-1][:19].replace("T", " ") == minute(89)

    timeline = chart(at, "health_timeline")
    down = next(trace for trace in timeline["data"] if trace["name"] == "down")
    # Down while the breaker is open, and again in the minute a probe fails.
    assert down["y"] == ["HK-Primary"] * 3
    assert [base[:16].replace("T", " ") for base in down["base"]] == [
        minute(26)[:16], minute(68)[:16], minute(72)[:16]
    ]

    expected = live.cli_json("kpis", "--symbol", "LIVE")
    assert expected["breaker_trips_24h"] == 3  # two openings and one reopening
    rows = table(at, "Reason")
    assert [(r["Time (UTC)"], r["From"], r["To"]) for r in rows] == [
        (minute(index) + " UTC", old.replace("_", "-"), new.replace("_", "-"))
        for index, old, new in [
            (74, "half_open", "closed"), (73, "open", "half_open"),
            (72, "half_open", "open"), (71, "open", "half_open"), (68, "closed", "open"),
            (33, "half_open", "closed"), (32, "open", "half_open"), (26, "closed", "open"),
        ]
    ]
    assert rows[-1]["Reason"] == "HK-Primary: 3 consecutive timeouts"
    nodes = table(at, "Latency (ms)")
    assert [(r["Node"], r["State"]) for r in nodes] == [("HK-Primary", "up"),
                                                         ("JP-Backup", "up")]


def test_picks_survive_a_rerun_and_the_address_opens_them(live: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params.update({"symbol": "live", "interval": "15m", "range": "7d"})
    at.run()

    assert (at.selectbox(key="symbol").value, at.selectbox(key="interval").value,
            at.selectbox(key="range").value) == ("LIVE", "15m", "7d")

    at.selectbox(key="interval").select("4h").run()
    add_candles(live, "LIVE", [replay.present_minute() + timedelta(minutes=1)])
    st.cache_data.clear()
    at.run()  # what the refresh timer does, with new data in the table

    assert (at.selectbox(key="interval").value, at.selectbox(key="range").value) == ("4h", "7d")
    assert metrics(at)["Latest price"] == "100.50"
    assert [at.query_params[name] for name in ("symbol", "interval", "range")] == [
        "LIVE", "4h", "7d"
    ]


def test_unknown_interval_or_range_in_the_address_falls_back(loaded: Database) -> None:
    at = AppTest.from_file(PAGE, default_timeout=RUN_TIMEOUT)
    at.query_params.update({"interval": "7m", "range": "forever"})
    at.run()

    assert_no_traceback(at)
    assert (at.selectbox(key="interval").value, at.selectbox(key="range").value) == ("5m", "24h")
    assert [w.value for w in at.warning if not w.value.startswith("Stale")] == [
        "No interval '7m'; showing 5m instead.", "No range 'forever'; showing 24h instead."
    ]


def test_chinese_labels(loaded: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_LANGUAGE", "zh")

    at = render()

    assert_no_traceback(at)
    assert at.title[0].value == "Sentinel 实时监控看板"
    assert_figures_match_cli(at, loaded, "BTCUSD", LABELS["zh"])
    assert at.selectbox(key="range").format_func("all") == "全部"
    assert at.selectbox(key="range").format_func("7d") == "7 天"
    assert at.selectbox(key="range").format_func("24h") == "24 小时"
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("数据已过期：最新 K 线距今 ")  # noqa: RUF001 - Chinese punctuation
    assert list(table(at, LABELS["zh"]["latency"])[0]) == [
        "节点", "状态", "延迟（毫秒）", "最近错误", "观测时间", "最近一根 BTCUSD K 线"  # noqa: RUF001
    ]


def test_both_languages_have_every_label() -> None:
    assert LABELS["zh"].keys() == LABELS["en"].keys()
    for key, english in LABELS["en"].items():
        fields = sorted(part.split("}")[0].split(":")[0].split("!")[0]
                        for part in english.split("{")[1:])
        chinese = LABELS["zh"][key]
        assert fields == sorted(part.split("}")[0].split(":")[0].split("!")[0]
                                for part in chinese.split("{")[1:]), key


def test_refresh_timer_follows_the_setting(
    loaded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTINEL_REFRESH", "0")

    at = render()

    assert any("Automatic refresh is off." in c.value for c in at.caption)


def test_without_a_choice_the_symbol_updated_last_is_shown(live: Database) -> None:
    add_candles(live, "AAA", [datetime(2023, 3, 1, tzinfo=UTC)])

    at = render()

    assert at.selectbox(key="symbol").options == ["AAA", "LIVE"]
    assert at.selectbox(key="symbol").value == "LIVE"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SENTINEL_LANGUAGE", "fr", "SENTINEL_LANGUAGE must be one of en, zh, not 'fr'"),
        ("SENTINEL_REFRESH", "often", "SENTINEL_REFRESH must be a whole number of seconds, "
         "not 'often'"),
    ],
)
def test_invalid_settings_are_reported_in_english(
    loaded: Database, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)

    at = render()

    assert_no_traceback(at)
    assert [e.value for e in at.error] == [f"The dashboard settings are invalid: {message}"]
    assert at.title[0].value == "Sentinel market dashboard"
    assert not at.metric


def test_figures_are_shown_at_their_own_precision(schema_db: Database) -> None:
    with schema_db.connect() as conn:
        conn.execute(
            "INSERT INTO sentinel.candles (symbol, open_time, open, high, low, close, volume,"
            " node) VALUES ('X', '2026-01-01 00:00+00', 28000.0, 28500.0, 0.00001234,"
            " 27999.5, 793.228020, 'HK-Primary')"
        )

    shown = metrics(render())

    # Cents at least, every digit the data has, no trailing zeros beyond the cents.
    assert shown["Latest price"] == "27,999.50"
    assert shown["24h high"] == "28,500.00"
    assert shown["24h low"] == "0.00001234"
    assert shown["24h volume"] == "793.22802"
