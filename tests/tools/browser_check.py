"""Open the dashboard in headless Chromium, as a user would, and check it.

    python tests/tools/browser_check.py URL --screenshot FILE [--kpis FILE]
    python tests/tools/browser_check.py URL --screenshot FILE --watch SECONDS
                                        [--interval 1m] [--range 6h]

Without --watch: waits for the eight figures and the candlestick chart, saves a
full-page screenshot to FILE, and exits 1 when something is missing. With --kpis
(the output of `sentinel-dashboard kpis --json`), every figure on the page must
equal the command's value, to the precision the page shows it with; so must the
delta under "Latest price" (the absolute 24 h change).

With --watch (the live page): loads URL, waits for the page, then picks
--interval and --range through the pickers as a user does (opens the selectbox,
clicks the option) and waits until the address and the chart carry the picks.
It then records the page (moment 1), saves FILE with "-1" before its extension
(shot.png gives shot-1.png), plants a marker in `window`, waits SECONDS,
records the page again (moment 2) and saves FILE with "-2" (shot-2.png). It
exits 1 unless the marker survived (the page did not reload), the pickers and
the address still hold the symbol, interval and range, and what the page shows
changed between the two moments: the newest candle of the freshness caption,
the latest price, the 24 h volume, or the chart's newest candle or candle count.
The age in the caption does not count: it grows with the clock when the feed
has stopped too. The JSON summary of both moments goes to stdout either way.

Watch mode also follows the page's websockets: one that closes during the
watch is a problem, since Streamlit would then show "Connection error" and
reconnect. A long --watch (more than two minutes) thus proves that a session
stays connected through a proxy.

With --expect-denied, the page must be refused instead: the answer to URL is
401 (basic authentication without credentials), saved as FILE.

--credentials names a file with "user:password" for HTTP basic authentication;
--ignore-https-errors accepts a certificate Chromium does not trust (a private
CA; the TLS set-up is audited on its own by tls_audit.py).

On a timeout the screenshot is saved as it is and the page's text goes to
stderr. Chromium is Debian's /usr/bin/chromium (or $SENTINEL_CHROMIUM); this
tool never downloads a browser.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIGURES = {
    "Latest price": "latest_price",
    "24h change": "change_24h_pct",
    "24h high": "high_24h",
    "24h low": "low_24h",
    "24h volume": "volume_24h",
    "Data source": "active_source",
    "Breaker trips (24h)": "breaker_trips_24h",
    "Breaker state": "breaker_state",
}
TEXT_FIGURES = {"active_source", "breaker_state"}
DELTAS = {"Latest price": "change_24h"}
# Address parameter -> the picker's label.
PICKERS = {"symbol": "Symbol", "interval": "Candle interval", "range": "Time range"}
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3_600, "4h": 14_400, "1d": 86_400}
RANGES = {"6h": 21_600, "24h": 86_400, "7d": 604_800, "30d": 2_592_000, "all": None}
UNIT_SECONDS = {"d": 86_400, "h": 3_600, "min": 60, "m": 60, "s": 1}
# What must change during a watch; the caption's age is left out on purpose.
LIVE_SIGNS = (
    "newest_candle",
    "Latest price",
    "24h volume",
    "chart_last_open_time",
    "chart_last_close",
    "chart_candles",
)
MARKER = "__browserCheckMarker"
TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1400, "height": 1700}
MAX_HEIGHT = 12_000  # a taller page is cut here rather than shot at any size
FIT_PAUSE_MS = 200
CAPTURE_TRIES = 3
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")

# One synchronous read of everything checked, so a refresh cannot land halfway.
SNAPSHOT_JS = """
(marker) => {
  const text = (root, selector) => {
    const found = root.querySelector(selector);
    return found ? found.innerText.trim() : null;
  };
  const metrics = [...document.querySelectorAll('[data-testid="stMetric"]')].map(m => ({
    label: text(m, '[data-testid="stMetricLabel"]'),
    value: text(m, '[data-testid="stMetricValue"]'),
    delta: text(m, '[data-testid="stMetricDelta"]'),
  }));
  const pickers = {};
  for (const box of document.querySelectorAll(
      '[data-testid="stSelectbox"] input[role="combobox"]')) {
    pickers[box.getAttribute('aria-label')] = box.value;
  }
  const captions = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
    .map(c => c.innerText.trim());
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const chart = plots.find(p => (p.data || []).some(t => t.type === 'candlestick'));
  let candles = null;
  if (chart) {
    const trace = chart.data.find(t => t.type === 'candlestick');
    const times = Array.from(trace.x || []);
    const closes = Array.from(trace.close || []);
    const stamps = times.map(x => Date.parse(x));
    let step = null;
    for (let i = 1; i < stamps.length; i++) {
      const gap = (stamps[i] - stamps[i - 1]) / 1000;
      if (gap > 0 && (step === null || gap < step)) step = gap;
    }
    const span = (chart.layout && chart.layout.xaxis && chart.layout.xaxis.range) || null;
    candles = {
      count: times.length,
      first_open_time: times.length ? String(times[0]) : null,
      last_open_time: times.length ? String(times[times.length - 1]) : null,
      last_close: closes.length ? closes[closes.length - 1] : null,
      step_seconds: step,
      span_seconds: span ? (Date.parse(span[1]) - Date.parse(span[0])) / 1000 : null,
    };
  }
  return {
    busy: !!document.querySelector(
      '[data-testid="stStatusWidgetRunningIcon"], [data-stale="true"]'),
    search: location.search,
    marker: window[marker] === undefined ? null : window[marker],
    metrics,
    pickers,
    captions,
    plots: plots.map(p => (p.data || []).map(t => ({
      type: t.type, name: t.name || null, orientation: t.orientation || null,
    }))),
    candles,
  };
}
"""
# Every plot drawn by Plotly, and one of them a candlestick chart.
CHART_DRAWN_JS = """
() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return plots.some(p => (p.data || []).some(t => t.type === 'candlestick'))
    && plots.every(p => p._fullLayout && p.querySelector('.main-svg g.trace'));
}
"""
# No script or fragment run under way: every element shows one run's output.
SETTLED_JS = """
() => !document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-stale="true"]')
"""
# Streamlit scrolls inside <main>, so a full-page screenshot stops at the window's
# height; the window grows until <main> no longer scrolls.
# How far the page's scrolling main block reaches below the window.
MAIN_OVERFLOW_JS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  return main ? main.scrollHeight - main.clientHeight : 0;
}
"""
# The address and the candle chart both show the picked interval and range.
CHART_SHOWS_JS = """
([params, step, reach]) => {
  const query = new URLSearchParams(location.search);
  if (Object.entries(params).some(([name, value]) => query.get(name) !== value)) return false;
  const chart = [...document.querySelectorAll('.js-plotly-plot')]
    .find(p => (p.data || []).some(t => t.type === 'candlestick'));
  if (!chart || !chart._fullLayout) return false;
  const stamps = Array.from(chart.data.find(t => t.type === 'candlestick').x || [])
    .map(x => Date.parse(x));
  let smallest = null;
  for (let i = 1; i < stamps.length; i++) {
    const gap = (stamps[i] - stamps[i - 1]) / 1000;
    if (gap > 0 && (smallest === null || gap < smallest)) smallest = gap;
  }
  const range = chart.layout.xaxis && chart.layout.xaxis.range;
  const span = range ? (Date.parse(range[1]) - Date.parse(range[0])) / 1000 : null;
  return (smallest === null || smallest === step)
    && (reach === null || span === null || span <= reach + step);
}
"""


class PageProblem(Exception):
    """The page never reached a state the check waits for."""


# --- pure functions: what the page shows, read and judged ----------------------------


def shown_number(text: str) -> tuple[Decimal, Decimal]:
    """The number in a metric's text and half of its last shown digit."""
    match = re.search(r"[-+]?[\d,]+(?:\.\d+)?", text.replace("\u2212", "-"))
    if match is None:
        raise ValueError(f"no number in {text!r}")
    digits = match.group().replace(",", "")
    places = len(digits.split(".")[1]) if "." in digits else 0
    return Decimal(digits), Decimal(1).scaleb(-places) / 2


def differs(label: str, shown: str, expected: Any) -> str | None:
    """Why a shown figure is not the expected value at its shown precision, else None."""
    try:
        value, tolerance = shown_number(shown)
    except ValueError:
        return f"{label}: page shows {shown!r}, no number in it (kpis say {expected})"
    if abs(value - Decimal(str(expected))) > tolerance:
        return f"{label}: page shows {shown!r}, kpis say {expected}"
    return None


def shown_text(value: str | None) -> str:
    """How the page writes a text figure: half_open as half-open, nothing as a dash."""
    return "—" if value is None else value.replace("_", "-")


def problems_with(
    shown: dict[str, str],
    traces: list[list[str]],
    kpis: dict | None,
    deltas: dict[str, str | None] | None = None,
) -> list[str]:
    problems = [f"figure {label!r} is not on the page" for label in FIGURES if label not in shown]
    if not any("candlestick" in plot and "bar" in plot for plot in traces):
        problems.append(f"no candlestick chart with a volume panel (plots: {traces})")
    if kpis is None:
        return problems
    for label, key in FIGURES.items():
        if label not in shown:
            continue
        if key in TEXT_FIGURES:
            if shown[label] != shown_text(kpis[key]):
                problems.append(f"{label}: page shows {shown[label]!r}, kpis say {kpis[key]!r}")
            continue
        problem = differs(label, shown[label], kpis[key])
        if problem:
            problems.append(problem)
    for label, key in DELTAS.items():
        if label not in shown:
            continue
        delta = (deltas or {}).get(label)
        if not delta:
            problems.append(f"{label}: no delta under the figure (kpis say {key} {kpis[key]})")
            continue
        problem = differs(f"{label} delta", delta, kpis[key])
        if problem:
            problems.append(problem)
    return problems


def screenshot_paths(path: str) -> tuple[str, str]:
    """The two screenshots of a watch: shot.png gives shot-1.png and shot-2.png."""
    given = Path(path)
    return tuple(str(given.with_name(f"{given.stem}-{n}{given.suffix}")) for n in (1, 2))


def range_seconds(text: str) -> int | None:
    """A span as the address ("24h", "7d") or the picker ("1 d", "6 h") writes it."""
    parts = re.findall(r"(\d+)\s*(d|h|min|m|s)\b", text.strip().lower())
    rest = re.sub(r"(\d+)\s*(d|h|min|m|s)\b", "", text.strip().lower()).strip()
    if not parts or rest:
        return None
    return sum(int(amount) * UNIT_SECONDS[unit] for amount, unit in parts)


def option_matches(param: str, value: str, option: str) -> bool:
    """Whether a picker's option shows the address value; ranges compare as spans."""
    if option.strip() == value or option.strip().lower() == value.lower():
        return True
    if param != "range" or value == "all":
        return False
    wanted = RANGES.get(value, range_seconds(value))
    return wanted is not None and range_seconds(option) == wanted


def newest_candle(captions: list[str]) -> str | None:
    """The time in the freshness caption, without the age that follows it."""
    for caption in captions:
        found = STAMP.search(caption)
        if found:
            return found.group()
    return None


def address_params(search: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(search.lstrip("?")).items()}


def moment_of(seen: dict, *, screenshot: str, at: datetime) -> dict:
    """One moment of a watch, as reported: what the user sees, by name."""
    figures = {m["label"]: m["value"] for m in seen["metrics"] if m["label"]}
    deltas = {m["label"]: m["delta"] for m in seen["metrics"] if m["label"] and m["delta"]}
    candles = seen.get("candles") or {}
    return {
        "at": at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "screenshot": screenshot,
        "settled": not seen.get("busy", False),
        "address": address_params(seen["search"]),
        "pickers": seen["pickers"],
        "marker": seen["marker"],
        "caption": next((c for c in seen["captions"] if STAMP.search(c)), None),
        "newest_candle": newest_candle(seen["captions"]),
        "figures": figures,
        "deltas": deltas,
        "chart": candles,
        "plots": [[trace["type"] for trace in plot] for plot in seen["plots"]],
        "traces": seen["plots"],
    }


def live_signs(moment: dict) -> dict[str, Any]:
    chart = moment.get("chart") or {}
    return {
        "newest_candle": moment.get("newest_candle"),
        "Latest price": moment["figures"].get("Latest price"),
        "24h volume": moment["figures"].get("24h volume"),
        "chart_last_open_time": chart.get("last_open_time"),
        "chart_last_close": chart.get("last_close"),
        "chart_candles": chart.get("count"),
    }


def changes_between(first: dict, second: dict) -> dict[str, list[Any]]:
    """What moved between two moments, each as [before, after]."""
    before, after = live_signs(first), live_signs(second)
    return {name: [before[name], after[name]] for name in LIVE_SIGNS
            if before[name] != after[name]}


def watch_problems(first: dict, second: dict, picks: dict[str, str], marker: str) -> list[str]:
    """Everything wrong with a watch: a reload, lost picks, a page that did not change."""
    problems = []
    if second["marker"] != marker:
        problems.append(
            "the page reloaded during the watch: the marker planted in window is gone"
            f" (found {second['marker']!r})"
        )
    for name, moment in (("moment 1", first), ("moment 2", second)):
        for param, value in picks.items():
            label = PICKERS[param]
            showing = moment["pickers"].get(label)
            if showing is None or not option_matches(param, value, showing):
                problems.append(f"{name}: the {label!r} picker shows {showing!r}, not {value!r}")
            if moment["address"].get(param) != value:
                problems.append(
                    f"{name}: the address has {param}={moment['address'].get(param)!r},"
                    f" not {value!r}"
                )
        step = (moment.get("chart") or {}).get("step_seconds")
        wanted = INTERVALS.get(picks.get("interval", ""))
        if step is not None and wanted is not None and step != wanted:
            problems.append(f"{name}: the chart's candles are {step:g} s apart, not {wanted} s")
        problems.extend(
            f"{name}: {problem}"
            for problem in problems_with(moment["figures"], moment["plots"], None)
        )
    if not changes_between(first, second):
        signs = live_signs(second)
        problems.append(
            "the page did not change during the watch: "
            + ", ".join(f"{name} stayed {signs[name]!r}" for name in LIVE_SIGNS)
        )
    return problems


# --- the browser --------------------------------------------------------------------


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=os.environ.get("SENTINEL_CHROMIUM", "/usr/bin/chromium"),
        args=CHROMIUM_FLAGS,
    )


FAILURES = "sentinel_failures"


def follow_failures(page: Page) -> None:
    """Keep the requests that failed or were answered with an error, for the
    message of a timeout: a chart that never draws is often a script that
    never arrived."""
    failures: list[str] = []
    setattr(page, FAILURES, failures)
    page.on("requestfailed", lambda request: failures.append(
        f"{request.method} {request.url} failed: {request.failure}"))
    # A 401 that basic authentication answers is part of logging in.
    page.on("response", lambda response: failures.append(
        f"{response.request.method} {response.url} answered {response.status}")
        if response.status >= 400 and response.status != 401 else None)


def waiting(page: Page, screenshot: str, what: str, wait) -> None:
    """Run one wait; on a timeout keep what the page showed instead, and say so."""
    try:
        wait()
    except PlaywrightTimeoutError as exc:
        # What the page showed instead is the first thing to look at.
        page.screenshot(path=screenshot, full_page=True)
        print(page.inner_text("body")[:2000], file=sys.stderr)
        for failure in getattr(page, FAILURES, [])[:20]:
            print(f"request: {failure}", file=sys.stderr)
        raise PageProblem(
            f"timed out waiting for {what} (screenshot {screenshot}): "
            f"{str(exc).splitlines()[0]}"
        ) from exc


def page_options(credentials: str | None, ignore_https_errors: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"viewport": VIEWPORT, "ignore_https_errors": ignore_https_errors}
    if credentials:
        with open(credentials, encoding="utf-8") as source:
            user, _, password = source.read().strip().partition(":")
        options["http_credentials"] = {"username": user, "password": password}
    return options


def open_page(browser, url: str, options: dict[str, Any]) -> Page:
    page = browser.new_page(**options)
    follow_failures(page)
    try:
        page.goto(url, timeout=TIMEOUT_MS)
    except PlaywrightError as exc:
        raise PageProblem(f"cannot open {url}: {str(exc).splitlines()[0]}") from exc
    return page


def wait_for_dashboard(page: Page, screenshot: str) -> None:
    metrics = page.get_by_test_id("stMetric")
    for label in FIGURES:
        waiting(page, screenshot, f"the figure {label!r}",
                lambda label=label: metrics.filter(has_text=label).first.wait_for(
                    timeout=TIMEOUT_MS))
    waiting(page, screenshot, "the charts to be drawn",
            lambda: page.wait_for_function(CHART_DRAWN_JS, timeout=TIMEOUT_MS))


def snapshot(page: Page) -> dict:
    return page.evaluate(SNAPSHOT_JS, MARKER)


def fit_window(page: Page, screenshot: str) -> None:
    """Make the window as tall as the page, so the screenshot holds all of it.
    The page may still grow (a chart drawn late), so it is measured again after
    each resize until nothing overflows."""
    def grow() -> None:
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            overflow = page.evaluate(MAIN_OVERFLOW_JS)
            height = page.viewport_size["height"]
            if overflow <= 1 or height >= MAX_HEIGHT:
                return
            if time.monotonic() > deadline:
                raise PlaywrightTimeoutError(f"the page still reaches {overflow} px below "
                                             f"a window {height} px tall")
            page.set_viewport_size({"width": VIEWPORT["width"],
                                    "height": min(height + overflow, MAX_HEIGHT)})
            # Give the layout a moment to follow the new size before measuring again.
            page.wait_for_timeout(FIT_PAUSE_MS)

    waiting(page, screenshot, "the page to fit the window", grow)


def wait_settled(page: Page, screenshot: str) -> None:
    # A refresh updates the figures first and the chart a moment later; in between
    # the page shows two different moments, so nothing is read until the run ends.
    waiting(page, screenshot, "the page to finish a run (no 'Running...', nothing faded)",
            lambda: page.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS))


def capture(page: Page, screenshot: str) -> dict:
    """Record the page and save its screenshot, both of one run of the page."""
    for _ in range(CAPTURE_TRIES):
        fit_window(page, screenshot)
        wait_settled(page, screenshot)
        at = datetime.now(UTC)
        before = moment_of(snapshot(page), screenshot=screenshot, at=at)
        page.screenshot(path=screenshot, full_page=True)
        after = moment_of(snapshot(page), screenshot=screenshot, at=at)
        if before["settled"] and after["settled"] and live_signs(before) == live_signs(after):
            return after
    # A run began during every screenshot; the record is the page after the last one.
    return after


def pick(page: Page, screenshot: str, param: str, value: str) -> str:
    """Choose value in a picker as a user does; the option's text as the page shows it."""
    label = PICKERS[param]
    box = page.get_by_role("combobox", name=label, exact=True)
    # The list's accessible name repeats the label; its aria-label is the label itself.
    listbox = page.locator(f'[role="listbox"][aria-label="{label}"]')
    waiting(page, screenshot, f"the {label!r} picker",
            lambda: box.wait_for(state="visible", timeout=TIMEOUT_MS))
    wait_settled(page, screenshot)
    box.click()
    waiting(page, screenshot, f"the options of {label!r}",
            lambda: listbox.wait_for(state="visible", timeout=TIMEOUT_MS))
    options = listbox.get_by_role("option").all_inner_texts()
    matching = [option for option in options if option_matches(param, value, option)]
    if not matching:
        page.keyboard.press("Escape")
        raise PageProblem(f"the {label!r} picker has no option for {value!r}: {options}")
    listbox.get_by_role("option", name=matching[0], exact=True).click()
    waiting(page, screenshot, f"the {label!r} list to close",
            lambda: listbox.wait_for(state="hidden", timeout=TIMEOUT_MS))
    waiting(page, screenshot, f"{param}={value} in the address",
            lambda: page.wait_for_function(
                "([name, value]) => new URLSearchParams(location.search).get(name) === value",
                arg=[param, value], timeout=TIMEOUT_MS))
    return matching[0]


def denied(url: str, screenshot: str, options: dict[str, Any]) -> dict[str, Any]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(**options)
            answers: list[int] = []
            page.on("response", lambda response: answers.append(response.status)
                    if response.request.is_navigation_request() else None)
            try:
                page.goto(url, timeout=TIMEOUT_MS)
            except PlaywrightError as exc:
                # Headless Chromium cannot ask for a password, so it gives up
                # on a 401 with an error; the answer itself was seen above.
                if not answers:
                    raise PageProblem(f"cannot open {url}: {str(exc).splitlines()[0]}") from exc
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    status = answers[0] if answers else None
    problems = [] if status == 401 else [f"{url} answered {status}, not 401"]
    return {"url": url, "status": status, "screenshot": screenshot, "problems": problems}


def read_page(url: str, screenshot: str, options: dict[str, Any]
              ) -> tuple[dict[str, str], list[list[str]], dict]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = open_page(browser, url, options)
            wait_for_dashboard(page, screenshot)
            seen = capture(page, screenshot)
        finally:
            browser.close()
    return seen["figures"], seen["plots"], seen["deltas"]


def follow_websockets(page: Page) -> list[dict[str, Any]]:
    """Record each websocket the page opens and when it closes, in page time."""
    sockets: list[dict[str, Any]] = []
    clock = "() => performance.now() / 1000"

    def opened(websocket) -> None:
        entry = {"url": websocket.url, "opened_at": None, "closed_at": None}
        sockets.append(entry)
        websocket.on("close", lambda _: entry.update(closed_at=page.evaluate(clock)))
        entry["opened_at"] = page.evaluate(clock)

    page.on("websocket", opened)
    return sockets


def watch(url: str, screenshot: str, seconds: float, interval: str, span: str,
          options: dict[str, Any]) -> dict:
    first_path, second_path = screenshot_paths(screenshot)
    marker = uuid.uuid4().hex
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = open_page(browser, url, options)
            sockets = follow_websockets(page)
            wait_for_dashboard(page, first_path)
            shown = {
                "interval": pick(page, first_path, "interval", interval),
                "range": pick(page, first_path, "range", span),
            }
            waiting(page, first_path, f"the chart to show {interval} candles over {span}",
                    lambda: page.wait_for_function(
                        CHART_SHOWS_JS,
                        arg=[{"interval": interval, "range": span},
                             INTERVALS[interval], RANGES[span]],
                        timeout=TIMEOUT_MS))
            wait_for_dashboard(page, first_path)
            first = capture(page, first_path)
            page.evaluate("([name, value]) => { window[name] = value; }", [MARKER, marker])
            watch_started = page.evaluate("() => performance.now() / 1000")
            page.wait_for_timeout(seconds * 1000)  # the watch itself, the one fixed wait
            second = capture(page, second_path)
            sockets = [dict(entry) for entry in sockets]
        finally:
            browser.close()
    picks = {"symbol": first["address"].get("symbol") or first["pickers"].get("Symbol", ""),
             "interval": interval, "range": span}
    return {
        "url": url,
        "watch_seconds": seconds,
        "picks": picks,
        "picked_options": shown,
        "marker": marker,
        "moments": [first, second],
        "changed": changes_between(first, second),
        "websockets": sockets,
        "problems": watch_problems(first, second, picks, marker)
        + websocket_problems(sockets, watch_started),
    }


def websocket_problems(sockets: list[dict[str, Any]], watch_started: float) -> list[str]:
    """A page whose stream closed during the watch lost its connection."""
    if not sockets:
        return ["the page opened no websocket"]
    return [
        f"the websocket {entry['url']} closed {entry['closed_at'] - watch_started:.1f} s"
        " into the watch"
        for entry in sockets
        if entry["closed_at"] is not None and entry["closed_at"] >= watch_started
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--screenshot", required=True,
                        help="PNG file; with --watch, FILE-1 and FILE-2 before the extension")
    parser.add_argument("--kpis", help="file with the kpis JSON to compare against")
    parser.add_argument("--watch", type=float, metavar="SECONDS",
                        help="pick interval and range, then check the page changes live")
    parser.add_argument("--interval", choices=list(INTERVALS), default="1m",
                        help="candle interval to pick in watch mode (default 1m)")
    parser.add_argument("--range", dest="span", choices=list(RANGES), default="6h",
                        help="time range to pick in watch mode (default 6h)")
    parser.add_argument("--credentials", help="file with user:password for basic authentication")
    parser.add_argument("--ignore-https-errors", action="store_true",
                        help="accept a certificate that Chromium does not trust")
    parser.add_argument("--expect-denied", action="store_true",
                        help="the page must answer 401 (no credentials given)")
    args = parser.parse_args()
    if args.expect_denied and (args.credentials or args.watch is not None or args.kpis):
        parser.error("--expect-denied takes no --credentials, --watch or --kpis")
    options = page_options(args.credentials, args.ignore_https_errors)
    if args.watch is not None and args.kpis:
        parser.error("--kpis compares one moment; it cannot be used with --watch")
    if args.watch is not None and args.watch <= 0:
        parser.error("--watch needs a positive number of seconds")

    try:
        if args.expect_denied:
            summary = denied(args.url, args.screenshot, options)
            print(json.dumps(summary))
            problems = summary["problems"]
        elif args.watch is not None:
            summary = watch(args.url, args.screenshot, args.watch, args.interval, args.span,
                            options)
            print(json.dumps(summary, default=str, ensure_ascii=False))
            problems = summary["problems"]
        else:
            kpis = None
            if args.kpis:
                with open(args.kpis, encoding="utf-8") as source:
                    kpis = json.load(source, parse_float=Decimal)
            shown, traces, deltas = read_page(args.url, args.screenshot, options)
            print(json.dumps({"figures": shown, "deltas": deltas, "plots": traces,
                              "screenshot": args.screenshot}, ensure_ascii=False))
            problems = problems_with(shown, traces, kpis, deltas)
    except PageProblem as exc:
        problems = [str(exc)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
