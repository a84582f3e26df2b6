"""Plotly figures; no Streamlit here, so they can be built and tested anywhere."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sentinel_dashboard.market import Bucket

RISING = "#26a69a"
FALLING = "#ef5350"


def candlestick(buckets: Sequence[Bucket], *, title: str) -> go.Figure:
    """Price candles above, traded volume in a panel beneath, one shared time axis."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.75, 0.25],
    )
    times = [bucket.open_time for bucket in buckets]
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
            name="Price",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=times,
            y=[float(bucket.volume) for bucket in buckets],
            marker_color=[RISING if b.close >= b.open else FALLING for b in buckets],
            name="Volume",
        ),
        row=2,
        col=1,
    )
    figure.update_layout(
        title=title,
        showlegend=False,
        xaxis_rangeslider_visible=False,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=560,
    )
    figure.update_yaxes(title_text="Price", row=1, col=1)
    figure.update_yaxes(title_text="Volume", row=2, col=1)
    figure.update_xaxes(title_text="Open time (UTC)", row=2, col=1)
    return figure
