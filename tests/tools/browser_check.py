"""Open the dashboard in headless Chromium, as a user would, and check it.

    python tests/tools/browser_check.py URL --screenshot FILE [--kpis FILE]

Waits for the four figures and the candlestick chart, saves a full-page
screenshot, and exits 1 when something is missing. With --kpis (the output of
`sentinel-dashboard kpis --json`), every figure on the page must equal the
command's value, to the precision the page shows it with.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from decimal import Decimal

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

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
    "24h volume": "volume_24h",
    "Data source": "active_source",
    "Breaker trips (24h)": "breaker_trips_24h",
}
TIMEOUT_MS = 60_000


def shown_number(text: str) -> tuple[Decimal, Decimal]:
    """The number in a metric's text and half of its last shown digit."""
    match = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    if match is None:
        raise ValueError(f"no number in {text!r}")
    digits = match.group().replace(",", "")
    places = len(digits.split(".")[1]) if "." in digits else 0
    return Decimal(digits), Decimal(1).scaleb(-places) / 2


def read_page(url: str, screenshot: str) -> tuple[dict[str, str], list[list[str]]]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("SENTINEL_CHROMIUM", "/usr/bin/chromium"),
            args=CHROMIUM_FLAGS,
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.goto(url, timeout=TIMEOUT_MS)
            metrics = page.locator('[data-testid="stMetric"]')
            try:
                for label in FIGURES:
                    metrics.filter(has_text=label).first.wait_for(timeout=TIMEOUT_MS)
                page.wait_for_function(
                    "() => [...document.querySelectorAll('.js-plotly-plot')]"
                    ".some(p => (p.data || []).some(t => t.type === 'candlestick'))",
                    timeout=TIMEOUT_MS,
                )
            except PlaywrightTimeoutError:
                # What the page showed instead is the first thing to look at.
                page.screenshot(path=screenshot, full_page=True)
                print(page.inner_text("body")[:2000], file=sys.stderr)
                raise
            page.wait_for_timeout(1000)  # let the chart finish drawing
            shown = {}
            for index in range(metrics.count()):
                metric = metrics.nth(index)
                label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
                value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
                shown[label] = value
            traces = page.evaluate(
                "() => [...document.querySelectorAll('.js-plotly-plot')]"
                ".map(p => (p.data || []).map(t => t.type))"
            )
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    return shown, traces


def problems_with(shown: dict[str, str], traces: list[list[str]], kpis: dict | None) -> list[str]:
    problems = [f"figure {label!r} is not on the page" for label in FIGURES if label not in shown]
    if not any("candlestick" in plot and "bar" in plot for plot in traces):
        problems.append(f"no candlestick chart with a volume panel (plots: {traces})")
    if kpis is None:
        return problems
    for label, key in FIGURES.items():
        if label not in shown:
            continue
        if key == "active_source":
            if shown[label] != kpis[key]:
                problems.append(f"{label}: page shows {shown[label]!r}, kpis say {kpis[key]!r}")
            continue
        value, tolerance = shown_number(shown[label])
        if abs(value - Decimal(str(kpis[key]))) > tolerance:
            problems.append(f"{label}: page shows {shown[label]!r}, kpis say {kpis[key]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--kpis", help="file with the kpis JSON to compare against")
    args = parser.parse_args()

    kpis = None
    if args.kpis:
        with open(args.kpis, encoding="utf-8") as source:
            kpis = json.load(source, parse_float=Decimal)
    shown, traces = read_page(args.url, args.screenshot)
    print(json.dumps({"figures": shown, "plots": traces, "screenshot": args.screenshot}))
    problems = problems_with(shown, traces, kpis)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
