"""The browser check's judgement, without a browser: figures, picks and changes."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("playwright")

TOOL = Path(__file__).resolve().parents[2] / "tests" / "tools" / "browser_check.py"
spec = importlib.util.spec_from_file_location("browser_check", TOOL)
browser_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(browser_check)

KPIS = {
    "latest_price": Decimal("28194.93"),
    "change_24h_pct": Decimal("1.35"),
    "change_24h": Decimal("376.59"),
    "high_24h": Decimal("28500.0"),
    "low_24h": Decimal("27406.01"),
    "volume_24h": Decimal("9745.98873"),
    "active_source": "HK-Primary",
    "breaker_trips_24h": 0,
    "breaker_state": "half_open",
}
SHOWN = {
    "Latest price": "28,194.93",
    "24h change": "+1.35%",
    "24h high": "28,500.0",
    "24h low": "27,406.01",
    "24h volume": "9,745.98873",
    "Data source": "HK-Primary",
    "Breaker trips (24h)": "0",
    "Breaker state": "half-open",
}
DELTAS = {"Latest price": "+376.59"}
PLOTS = [["candlestick", "bar", "scatter"], ["bar", "bar"]]
PICKS = {"symbol": "BTCUSDT", "interval": "1m", "range": "6h"}


def page(newest="2026-12-03 23:29:00", price="23,476.65", last="2026-12-03T23:29:00+00:00",
         close=23476.65, marker=None, pickers=None, search="?symbol=BTCUSDT&interval=1m&range=6h",
         age="4 h 26 min"):
    """What SNAPSHOT_JS returns for a live page."""
    figures = {**SHOWN, "Latest price": price}
    return {
        "busy": False,
        "search": search,
        "marker": marker,
        "metrics": [
            {"label": label, "value": value, "delta": DELTAS.get(label)}
            for label, value in figures.items()
        ],
        "pickers": pickers or {"Symbol": "BTCUSDT", "Candle interval": "1m", "Time range": "6 h"},
        "captions": [
            f"Newest candle {newest} UTC (open time), {age} ahead of this server's clock.",
            "Recent state changes, newest first",
        ],
        "plots": [[{"type": t, "name": None, "orientation": None} for t in p] for p in PLOTS],
        "candles": {"count": 360, "last_open_time": last, "last_close": close,
                    "step_seconds": 60, "span_seconds": 21_540},
    }


def moment(**changes):
    return browser_check.moment_of(page(**changes), screenshot="shot.png",
                                   at=datetime(2026, 12, 3, 19, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "number", "half_digit"),
    [
        ("28,194.93", "28194.93", "0.005"),
        ("+1.35%", "1.35", "0.005"),
        ("-0.09%", "-0.09", "0.005"),
        ("\u22120.09%", "-0.09", "0.005"),
        ("28,500.0", "28500.0", "0.05"),
        ("11", "11", "0.5"),
    ],
)
def test_a_shown_number_carries_its_precision(text, number, half_digit):
    assert browser_check.shown_number(text) == (Decimal(number), Decimal(half_digit))


def test_a_text_without_a_number_is_refused():
    with pytest.raises(ValueError, match="no number"):
        browser_check.shown_number("HK-Primary")


def test_the_eight_figures_and_the_delta_agree_with_the_kpis():
    assert browser_check.problems_with(SHOWN, PLOTS, KPIS, DELTAS) == []


def test_the_change_is_compared_as_a_percent_at_its_shown_precision():
    close_enough = {**KPIS, "change_24h_pct": Decimal("1.354")}
    assert browser_check.problems_with(SHOWN, PLOTS, close_enough, DELTAS) == []
    too_far = {**KPIS, "change_24h_pct": Decimal("1.36")}
    problems = browser_check.problems_with(SHOWN, PLOTS, too_far, DELTAS)
    assert problems == ["24h change: page shows '+1.35%', kpis say 1.36"]
    off_by_a_cent = {**KPIS, "change_24h": Decimal("376.60")}
    assert browser_check.problems_with(SHOWN, PLOTS, off_by_a_cent, DELTAS) == [
        "Latest price delta: page shows '+376.59', kpis say 376.60"
    ]


def test_a_change_of_the_wrong_sign_is_caught():
    shown = {**SHOWN, "24h change": "-1.35%"}
    assert browser_check.problems_with(shown, PLOTS, KPIS, DELTAS) == [
        "24h change: page shows '-1.35%', kpis say 1.35"
    ]


def test_missing_figures_deltas_and_chart_are_named():
    shown = {label: value for label, value in SHOWN.items() if label != "24h low"}
    problems = browser_check.problems_with(shown, [["bar"]], KPIS, {})
    assert "figure '24h low' is not on the page" in problems
    assert any(p.startswith("no candlestick chart") for p in problems)
    assert "Latest price: no delta under the figure (kpis say change_24h 376.59)" in problems


def test_the_data_source_and_breaker_state_are_compared_as_text():
    other = {**KPIS, "active_source": "JP-Backup", "breaker_state": None}
    assert browser_check.problems_with(SHOWN, PLOTS, other, DELTAS) == [
        "Data source: page shows 'HK-Primary', kpis say 'JP-Backup'",
        "Breaker state: page shows 'half-open', kpis say None",
    ]


@pytest.mark.parametrize(
    ("given", "first", "second"),
    [
        ("artifacts/shot.png", "artifacts/shot-1.png", "artifacts/shot-2.png"),
        ("out/dash.board.png", "out/dash.board-1.png", "out/dash.board-2.png"),
        ("shot", "shot-1", "shot-2"),
    ],
)
def test_a_watch_saves_two_screenshots_beside_the_given_name(given, first, second):
    assert browser_check.screenshot_paths(given) == (first, second)


@pytest.mark.parametrize(
    ("param", "value", "option", "matches"),
    [
        ("range", "6h", "6 h", True),
        ("range", "24h", "24 h", True),
        ("range", "24h", "1 d", True),
        ("range", "7d", "7 d", True),
        ("range", "all", "all", True),
        ("range", "6h", "1 d", False),
        ("range", "all", "30 d", False),
        ("interval", "1m", "1m", True),
        ("interval", "1m", "1h", False),
        ("interval", "1h", "1 h", False),
    ],
)
def test_an_option_shows_an_address_value(param, value, option, matches):
    assert browser_check.option_matches(param, value, option) is matches


def test_the_newest_candle_is_read_without_its_age():
    captions = [
        "Newest candle 2026-12-03 23:29:00 UTC (open time), 3 min old. Refreshes every 5 s."
    ]
    assert browser_check.newest_candle(captions) == "2026-12-03 23:29:00 UTC"
    assert browser_check.newest_candle(["Recent state changes, newest first"]) is None


def test_a_live_page_passes_and_reports_what_changed():
    first = moment()
    second = moment(newest="2026-12-03 23:35:00", price="23,506.17",
                    last="2026-12-03T23:35:00+00:00", close=23506.17, marker="m")
    assert browser_check.watch_problems(first, second, PICKS, "m") == []
    assert browser_check.changes_between(first, second) == {
        "newest_candle": ["2026-12-03 23:29:00 UTC", "2026-12-03 23:35:00 UTC"],
        "Latest price": ["23,476.65", "23,506.17"],
        "chart_last_open_time": ["2026-12-03T23:29:00+00:00", "2026-12-03T23:35:00+00:00"],
        "chart_last_close": [23476.65, 23506.17],
    }


def test_a_page_whose_age_alone_grew_did_not_change():
    problems = browser_check.watch_problems(
        moment(age="3 min"), moment(age="3 min 8 s", marker="m"), PICKS, "m"
    )
    assert len(problems) == 1
    assert problems[0].startswith("the page did not change during the watch: newest_candle")


def test_a_reload_lost_picks_and_a_lost_address_are_each_reported():
    second = moment(
        newest="2026-12-03 23:35:00",
        pickers={"Symbol": "BTCUSDT", "Candle interval": "5m", "Time range": "1 d"},
        search="?symbol=BTCUSDT",
    )
    problems = browser_check.watch_problems(moment(), second, PICKS, "m")
    assert problems[0].startswith("the page reloaded during the watch")
    assert "moment 2: the 'Candle interval' picker shows '5m', not '1m'" in problems
    assert "moment 2: the 'Time range' picker shows '1 d', not '6h'" in problems
    assert "moment 2: the address has interval=None, not '1m'" in problems
    assert "moment 2: the address has range=None, not '6h'" in problems
    assert not any(p.startswith("moment 1") for p in problems)


# A stand-in for Streamlit's layout: a header above a main block that scrolls,
# with content that grows after the window is first resized, as a chart drawn
# late does.
GROWING_PAGE = """
<body style="margin:0">
  <header style="height:60px">header</header>
  <div data-testid="stMain" style="height:calc(100vh - 60px); overflow:auto">
    <div id="content" style="height:2500px">first part</div>
  </div>
  <script>
    window.grown = 0;
    const main = document.querySelector('[data-testid="stMain"]');
    let firstHeight = null;
    new ResizeObserver(() => {
      firstHeight ??= main.clientHeight;
      if (main.clientHeight > firstHeight && window.grown < 2) {
        firstHeight = main.clientHeight;
        document.getElementById('content').style.height = (2500 + 700 * ++window.grown) + 'px';
      }
    }).observe(main);
  </script>
</body>
"""


def test_the_window_grows_until_a_page_that_keeps_growing_fits(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = browser_check.launch(playwright)
        try:
            page = browser.new_page(viewport=browser_check.VIEWPORT)
            page.set_content(GROWING_PAGE)

            browser_check.fit_window(page, str(tmp_path / "shot.png"))

            assert page.evaluate("window.grown") == 2
            assert page.evaluate(browser_check.MAIN_OVERFLOW_JS) <= 1
            assert page.viewport_size["height"] >= 2500 + 2 * 700 + 60
        finally:
            browser.close()
