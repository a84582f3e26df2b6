"""Plotly figures; no Streamlit here, so they can be built and tested anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sentinel_dashboard.labels import Translate
from sentinel_dashboard.market import INTERVALS, Series, StateRun

RISING = "#26a69a"
FALLING = "#ef5350"
# Nodes the runbook names get fixed colours; any other node takes the next spare one.
NODE_COLOURS = {"HK-Primary": "#1f77b4", "JP-Backup": "#ff7f0e"}
SPARE_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# Numbers only, so that the axis reads the same in English and in Chinese.
TIME_FORMAT = "%H:%M\n%Y-%m-%d"
STATE_COLOURS = {"up": "#2ca02c", "degraded": "#ffbf00", "down": "#d62728"}


@dataclass(frozen=True)
class Stretch:
    """Consecutive buckets served by one node, without a gap in the data."""

    node: str
    start: datetime
    end: datetime


def utc(moment: datetime) -> datetime:
    """The moment in UTC: Plotly drops a time's offset and would show the session's zone."""
    return moment.astimezone(UTC)


def node_colours(nodes: Sequence[str]) -> dict[str, str]:
    colours = dict(NODE_COLOURS)
    spare = iter(SPARE_COLOURS * (len(nodes) // len(SPARE_COLOURS) + 1))
    for node in sorted(set(nodes)):
        colours.setdefault(node, next(spare))
    return colours


def stretches(series: Series) -> list[Stretch]:
    """Where each node served; a missing bucket ends a stretch, so gaps stay unshaded."""
    step: timedelta = INTERVALS[series.interval]
    found: list[Stretch] = []
    for bucket in series.buckets:
        end = bucket.open_time + step
        last = found[-1] if found else None
        if last and last.node == bucket.node and last.end == bucket.open_time:
            found[-1] = Stretch(last.node, last.start, end)
        else:
            found.append(Stretch(bucket.node, bucket.open_time, end))
    return found


def candlestick(series: Series, *, title: str, text: Translate) -> go.Figure:
    """Price candles above, traded volume beneath, the serving node shaded behind both."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.75, 0.25],
    )
    buckets = series.buckets
    times = [utc(bucket.open_time) for bucket in buckets]
    # Plotly draws floats; the exact Decimal figures stay in the metrics and the CLI.
    figure.add_trace(
        go.Candlestick(
            x=times,
            open=[float(bucket.open) for bucket in buckets],
            high=[float(bucket.high) for bucket in buckets],
            low=[float(bucket.low) for bucket in buckets],
            close=[float(bucket.close) for bucket in buckets],
            increasing_line_color=RISING,
            decreasing_line_color=FALLING,
            name=text("price"),
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=times,
            y=[float(bucket.volume) for bucket in buckets],
            marker_color=[RISING if b.close >= b.open else FALLING for b in buckets],
            name=text("volume"),
            showlegend=False,
        ),
        row=2,
        col=1,
    )

    runs = stretches(series)
    colours = node_colours([run.node for run in runs])
    # One rectangle per stretch and panel, set in one go: add_vrect per shape
    # costs about 40 ms each, which a refresh every few seconds cannot afford.
    figure.update_layout(
        shapes=[
            {
                "type": "rect",
                "xref": axis,
                "yref": f"{domain} domain",
                "x0": utc(run.start),
                "x1": utc(run.end),
                "y0": 0,
                "y1": 1,
                "fillcolor": colours[run.node],
                "opacity": 0.12,
                "line": {"width": 0},
                "layer": "below",
            }
            for run in runs
            for axis, domain in (("x", "y"), ("x2", "y2"))
        ]
    )
    # Shapes have no legend entries; one empty marker trace per node gives them one.
    for node in sorted({run.node for run in runs}):
        figure.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                marker={"symbol": "square", "size": 12, "color": colours[node], "opacity": 0.5},
                name=text("served_by", node=node),
                showlegend=True,
            ),
            row=1,
            col=1,
        )

    figure.update_layout(
        title=title,
        xaxis_rangeslider_visible=False,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=560,
    )
    figure.update_yaxes(title_text=text("price"), row=1, col=1)
    figure.update_yaxes(title_text=text("volume"), row=2, col=1)
    figure.update_xaxes(title_text=text("time_utc"), row=2, col=1)
    figure.update_xaxes(range=[utc(series.since), utc(series.until)], tickformat=TIME_FORMAT)
    return figure


def health_timeline(
    runs: Sequence[StateRun], *, since: datetime, until: datetime, text: Translate
) -> go.Figure:
    """One row per node, coloured by its state, on the same time span as the candles."""
    figure = go.Figure()
    for state, colour in STATE_COLOURS.items():
        mine = [run for run in runs if run.state == state]
        if not mine:
            continue
        figure.add_trace(
            go.Bar(
                orientation="h",
                y=[run.node for run in mine],
                base=[utc(run.started) for run in mine],
                # A single sample still gets a sliver, so a one-minute outage shows.
                x=[max((run.ended - run.started).total_seconds(), 30) * 1000 for run in mine],
                marker_color=colour,
                name=text(state),
                customdata=[[utc(run.started), utc(run.ended), run.samples] for run in mine],
                hovertemplate="%{y}: " + text(state)
                + "<br>%{customdata[0]|%Y-%m-%d %H:%M} to %{customdata[1]|%H:%M} UTC"
                + "<extra></extra>",
            )
        )
    figure.update_layout(
        title=text("timeline_title"),
        barmode="overlay",
        height=120 + 40 * len({run.node for run in runs}),
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    figure.update_xaxes(type="date", range=[utc(since), utc(until)], title_text=text("time_utc"),
                        tickformat=TIME_FORMAT)
    figure.update_yaxes(autorange="reversed")
    return figure
