"""The Streamlit page: market KPIs, candles and feed node health for one symbol.

Run through `sentinel-dashboard serve`. Every figure comes from market.py, the same
code the command line prints, so the page and `sentinel-dashboard kpis` agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import streamlit as st
from psycopg_pool import ConnectionPool, PoolTimeout

from sentinel_dashboard import charts, db, market, settings

log = logging.getLogger("sentinel_dashboard.page")


def _configure_logging() -> None:
    # Streamlit configures only its own loggers; ours go to stderr, once per process.
    package = logging.getLogger("sentinel_dashboard")
    if not package.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)
        package.setLevel(logging.INFO)


_configure_logging()

# Buckets drawn per interval: about a day of the short ones, a week or a month of the long.
CHART_INTERVALS = {"1m": 1440, "5m": 288, "15m": 96, "1h": 24, "4h": 42, "1d": 30}
DEFAULT_INTERVAL = "5m"


def _cache_ttl() -> timedelta:
    # A bad value is reported by render(); the caches just fall back to the default.
    try:
        return timedelta(seconds=settings.load().cache_ttl)
    except settings.SettingsError:
        return timedelta(seconds=settings.DEFAULT_CACHE_TTL)


CACHE_TTL = _cache_ttl()


def _close_pool(pool: ConnectionPool) -> None:
    pool.close(timeout=1)


@st.cache_resource(show_spinner=False, on_release=_close_pool)
def _pool(config: settings.Settings) -> ConnectionPool:
    # The settings, target included, are the cache key: with an empty DSN libpq's PG*
    # environment picks the database, and two databases must never share a pool.
    log.info("opening a connection pool to %s", config.target.describe())
    return db.open_pool(config)


def _query(config: settings.Settings, work: Callable[..., Any], *args: Any) -> Any:
    pool = _pool(config)
    try:
        with pool.connection(timeout=config.connect_timeout) as conn:
            return work(conn, *args)
    except (PoolTimeout, psycopg.OperationalError) as exc:
        # A pool that lost its server is closed and dropped; a later run starts afresh.
        _pool.clear(config)
        if isinstance(exc, PoolTimeout):
            db.probe(config)  # the pool only knows it timed out; libpq knows why
        raise


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _symbols(config: settings.Settings) -> list[str]:
    return _query(config, market.symbols)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _kpis(config: settings.Settings, symbol: str) -> market.Kpis:
    return _query(config, market.kpis, symbol)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _candles(config: settings.Settings, symbol: str, interval: str) -> list[market.Bucket]:
    return _query(config, market.candles, symbol, interval, CHART_INTERVALS[interval])


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _nodes(config: settings.Settings, symbol: str) -> list[market.NodeStatus]:
    return _query(config, market.node_overview, symbol)


def _fail(config: settings.Settings | None, exc: Exception) -> None:
    log.warning("page cannot show data", exc_info=exc)
    if config is None or isinstance(exc, settings.SettingsError):
        st.error(f"The dashboard settings are invalid: {exc}")
    else:
        st.error(f"Cannot show market data: {db.explain(exc, config)}")
    st.stop()


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def render() -> None:
    st.set_page_config(page_title="Sentinel market dashboard", layout="wide")
    st.title("Sentinel market dashboard")

    config = None
    try:
        config = settings.load()
        choices = _symbols(config)
        if not choices:
            raise db.NoData(f"{config.target.describe()} holds no candles yet")
        # ?symbol=BTCUSDT in the address opens that symbol, and the address
        # follows the picker, so a view can be bookmarked or shared.
        requested = st.query_params.get("symbol", "").strip()
        matching = [c for c in choices if c.upper() == requested.upper()]
        if requested and not matching:
            st.warning(f"No candles for {requested!r}; showing {choices[0]} instead.")
        symbol = st.selectbox(
            "Symbol",
            choices,
            index=choices.index(matching[0]) if matching else 0,
            key="symbol",
        )
        st.query_params["symbol"] = symbol
        interval = st.selectbox(
            "Chart interval",
            list(CHART_INTERVALS),
            index=list(CHART_INTERVALS).index(DEFAULT_INTERVAL),
            key="interval",
        )
        figures = _kpis(config, symbol)
        buckets = _candles(config, symbol, interval)
        statuses = _nodes(config, symbol)
    except Exception as exc:  # the page reports every failure plainly and stops
        _fail(config, exc)
        return

    st.caption(f"As of {_when(figures.as_of)} (open time of the newest candle)")
    price, volume, source, trips = st.columns(4)
    price.metric("Latest price", f"{figures.latest_price:,}")
    volume.metric("24h volume", f"{figures.volume_24h:,}")
    source.metric("Data source", figures.active_source)
    trips.metric("Breaker trips (24h)", figures.breaker_trips_24h)

    title = f"{symbol}: last {CHART_INTERVALS[interval]} candles of {interval}"
    st.plotly_chart(charts.candlestick(buckets, title=title), key="candles_chart")

    st.subheader("Feed nodes")
    if not any(status.state for status in statuses):
        st.info("No node health samples have been recorded yet.")
    st.dataframe(
        [
            {
                "Node": status.node,
                "State": status.state or "—",
                "Latency (ms)": "—" if status.latency_ms is None else f"{status.latency_ms:,}",
                "Last error": status.last_error or "",
                "Observed": _when(status.observed_at),
                f"Last {symbol} candle": _when(status.last_candle),
            }
            for status in statuses
        ],
        hide_index=True,
        key="nodes_table",
    )


render()
