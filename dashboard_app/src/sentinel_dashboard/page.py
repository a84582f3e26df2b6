"""The Streamlit page: market KPIs, candles, feed node health and breaker history.

Run through `sentinel-dashboard serve`. Every figure comes from market.py, the same
code the command line prints, so the page and `sentinel-dashboard kpis` agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import streamlit as st
from psycopg_pool import ConnectionPool, PoolTimeout

from sentinel_dashboard import charts, db, labels, logfile, market, settings

log = logging.getLogger("sentinel_dashboard.page")


# Under `serve` logging is set up already, with the log file. Elsewhere (AppTest,
# the check's page run as root) ours go to stderr only: a root process must not
# create the service's log file.
logfile.configure(from_environment=False)

DEFAULT_INTERVAL = "5m"
# Prices show at least cents, as exchanges quote them; more when the data has more.
PRICE_PLACES = 2
DEFAULT_RANGE = "24h"
BREAKER_ROWS = 20


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
def _symbols(config: settings.Settings) -> dict[str, datetime]:
    return _query(config, market.newest_by_symbol)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _snapshot(
    config: settings.Settings, symbol: str, interval: str, span: str
) -> market.Snapshot:
    return _query(config, market.snapshot, symbol, interval, span, BREAKER_ROWS)


def _fail(config: settings.Settings | None, exc: Exception, text: labels.Translate) -> None:
    log.warning("page cannot show data", exc_info=exc)
    if config is None or isinstance(exc, settings.SettingsError):
        st.error(text("settings_invalid", error=exc))
    else:
        st.error(text("no_data", error=db.explain(exc, config)))
    st.stop()


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _range_label(span: str, text: labels.Translate) -> str:
    return text(f"range_{span}")


def _picked(name: str, options: list[str], default: str, text: labels.Translate) -> int:
    """The index of the address's ?name= value among the options, else the default's."""
    wanted = st.query_params.get(name, "").strip()
    matching = [i for i, option in enumerate(options) if option.lower() == wanted.lower()]
    if wanted and not matching:
        st.warning(text("unknown_choice", name=name, requested=wanted, shown=default))
    return matching[0] if matching else options.index(default)


def render() -> None:
    try:
        config: settings.Settings | None = settings.load()
        problem = None
    except settings.SettingsError as exc:
        config, problem = None, exc
    # With settings that cannot be read, the page still speaks, in English.
    text = labels.translator(config.language if config else settings.DEFAULT_LANGUAGE)
    st.set_page_config(page_title=text("page_title"), layout="wide")
    st.title(text("page_title"))
    if config is None:
        _fail(None, problem, text)
        return

    try:
        newest = _symbols(config)
        if not newest:
            raise db.NoData(f"{config.target.describe()} holds no candles yet")
        choices = list(newest)
        # Without a choice in the address, the symbol whose feed moved last: the live one.
        # max keeps the first of equals, so a tie goes to the first in symbol order.
        liveliest = max(choices, key=newest.__getitem__)
        # ?symbol=, ?interval= and ?range= in the address open that view, and the
        # address follows the pickers, so a view can be bookmarked or shared.
        requested = st.query_params.get("symbol", "").strip()
        matching = [c for c in choices if c.upper() == requested.upper()]
        if requested and not matching:
            st.warning(text("unknown_symbol", requested=requested, shown=liveliest))
        symbol_column, interval_column, range_column = st.columns(3)
        symbol = symbol_column.selectbox(
            text("symbol"),
            choices,
            index=choices.index(matching[0] if matching else liveliest),
            key="symbol",
        )
        intervals = list(market.INTERVALS)
        interval = interval_column.selectbox(
            text("interval"),
            intervals,
            index=_picked("interval", intervals, DEFAULT_INTERVAL, text),
            key="interval",
        )
        spans = list(market.RANGES)
        span = range_column.selectbox(
            text("range"),
            spans,
            index=_picked("range", spans, DEFAULT_RANGE, text),
            format_func=lambda option: _range_label(option, text),
            key="range",
        )
        st.query_params.update({"symbol": symbol, "interval": interval, "range": span})
    except Exception as exc:  # the page reports every failure plainly and stops
        _fail(config, exc, text)
        return

    # Only the figures rerun on the timer; the pickers above keep the user's choices.
    live = st.fragment(_live, run_every=config.refresh or None)
    live(config, symbol, interval, span, text)


def _live(
    config: settings.Settings, symbol: str, interval: str, span: str, text: labels.Translate
) -> None:
    try:
        shown = _snapshot(config, symbol, interval, span)
    except Exception as exc:  # the page reports every failure plainly and stops
        _fail(config, exc, text)
        return
    figures, series = shown.kpis, shown.series

    _freshness(config, figures, text)
    _figures(figures, text)

    title = text("chart_title", symbol=symbol, interval=interval,
                 range=_range_label(span, text))
    if series.truncated:
        st.caption(text("chart_truncated", limit=market.MAX_BUCKETS))
    st.plotly_chart(charts.candlestick(series, title=title, text=text), key="candles_chart")

    st.subheader(text("nodes"))
    _nodes_table(shown.nodes, symbol, text)
    if shown.runs:
        timeline = charts.health_timeline(
            shown.runs, since=series.since, until=series.until, text=text
        )
        st.plotly_chart(timeline, key="health_timeline")
    elif any(status.state for status in shown.nodes):
        st.caption(text("no_health_in_range"))

    st.subheader(text("breaker"))
    _breaker_table(shown.changes, text)


def _freshness(config: settings.Settings, figures: market.Kpis, text: labels.Translate) -> None:
    fresh = market.freshness(figures, timedelta(seconds=config.stale_after))
    age = labels.duration(fresh.age.total_seconds(), text)
    refresh = (text("refresh", seconds=config.refresh) if config.refresh
               else text("refresh_off"))
    newest = "newest_ahead" if fresh.ahead else "newest"
    st.caption(f"{text(newest, time=_when(fresh.newest), age=age)} {refresh}")
    limit = labels.duration(config.stale_after, text)
    if fresh.age > fresh.stale_after:
        st.warning(text("stale", age=age, limit=limit), icon="⚠️")
    elif fresh.stale:
        silence = labels.duration(fresh.arrival_age.total_seconds(), text)
        st.warning(text("stale_arrival", silence=silence, limit=limit), icon="⚠️")
    elif fresh.ahead:
        st.info(text("ahead", age=age))


def _amount(value: Decimal, *, places: int = 0, sign: bool = False) -> str:
    """A figure with thousands separators, no trailing zeros, at least `places` decimals."""
    exact = value.normalize()
    if -exact.as_tuple().exponent < places:  # type: ignore[operator]
        exact = exact.quantize(Decimal(1).scaleb(-places))
    return f"{exact:{'+' if sign else ''},f}"


def _figures(figures: market.Kpis, text: labels.Translate) -> None:
    price, change, high, low = st.columns(4)
    price.metric(text("latest_price"), _amount(figures.latest_price, places=PRICE_PLACES),
                 delta=_amount(figures.change_24h, places=PRICE_PLACES, sign=True))
    change.metric(text("change_24h"), f"{figures.change_24h_pct:+}%")
    high.metric(text("high_24h"), _amount(figures.high_24h, places=PRICE_PLACES))
    low.metric(text("low_24h"), _amount(figures.low_24h, places=PRICE_PLACES))
    volume, source, trips, breaker = st.columns(4)
    volume.metric(text("volume_24h"), _amount(figures.volume_24h))
    source.metric(text("data_source"), figures.active_source)
    trips.metric(text("breaker_trips"), figures.breaker_trips_24h)
    state = figures.breaker_state
    breaker.metric(text("breaker_state"), text(state) if state else "—")


def _nodes_table(
    statuses: list[market.NodeStatus], symbol: str, text: labels.Translate
) -> None:
    if not any(status.state for status in statuses):
        st.info(text("no_health"))
    st.dataframe(
        [
            {
                text("node"): status.node,
                text("state"): text(status.state) if status.state else "—",
                text("latency"): "—" if status.latency_ms is None else f"{status.latency_ms:,}",
                text("last_error"): status.last_error or "",
                text("observed"): _when(status.observed_at),
                text("last_candle", symbol=symbol): _when(status.last_candle),
            }
            for status in statuses
        ],
        hide_index=True,
        key="nodes_table",
    )


def _breaker_table(changes: list[market.BreakerChange], text: labels.Translate) -> None:
    st.caption(text("breaker_changes"))
    if not changes:
        st.info(text("no_breaker_changes"))
        return
    st.dataframe(
        [
            {
                text("time"): _when(change.changed_at),
                text("node"): change.node,
                text("from"): text(change.from_state),
                text("to"): text(change.to_state),
                text("reason"): change.reason or "",
            }
            for change in changes
        ],
        hide_index=True,
        key="breaker_table",
    )


render()
