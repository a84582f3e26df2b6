"""Figures the dashboard must show for a candle file, computed from the file
alone (pandas and Decimal, none of the app's code or SQL). Reads the Binance.US
layout (header open_time,open,high,low,close,volume; ISO times or epoch
milliseconds) and the headerless Kraken one (unix_seconds,...,trade_count).

    python tests/tools/expected_kpis.py --csv FILE --symbol S --node N [--actual -]

Prints the expected kpis as JSON. With --actual, also reads the app's
`sentinel-dashboard kpis --json` output (a file, or - for stdin), prints every
difference, and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

DEFAULT_STALE_AFTER = timedelta(seconds=120)
KRAKEN_COLUMNS = ["open_time", "open", "high", "low", "close", "volume", "trade_count"]


def read_candles(csv_path: str) -> pd.DataFrame:
    with open(csv_path, encoding="utf-8-sig") as source:
        has_header = source.readline().strip().startswith("open_time")
    if has_header:
        frame = pd.read_csv(csv_path, dtype=str, encoding="utf-8-sig")
        times = frame["open_time"].str.strip()
        epoch_ms = times.str.fullmatch(r"\d+").all()
        frame["open_time"] = (
            pd.to_datetime(times.astype("int64"), unit="ms", utc=True)
            if epoch_ms
            else pd.to_datetime(times, utc=True)
        )
    else:
        frame = pd.read_csv(csv_path, dtype=str, header=None, names=KRAKEN_COLUMNS)
        frame["open_time"] = pd.to_datetime(frame["open_time"].astype("int64"), unit="s", utc=True)
    return frame.dropna(subset=["close"])


def expected_kpis(
    csv_path: str, symbol: str, node: str, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> dict[str, object]:
    """Every kpis field but age_seconds, which depends on when it is asked."""
    frame = read_candles(csv_path)
    newest = frame.loc[frame["open_time"].idxmax()]
    as_of = newest["open_time"]
    window = frame[
        (frame["open_time"] > as_of - timedelta(hours=24)) & (frame["open_time"] <= as_of)
    ].sort_values("open_time")
    latest = Decimal(newest["close"])
    first_open = Decimal(window["open"].iloc[0])
    return {
        "symbol": symbol,
        "as_of": as_of.to_pydatetime(),
        "latest_price": latest,
        "volume_24h": sum((Decimal(v) for v in window["volume"]), Decimal(0)),
        "active_source": node,
        # Breaker events in the lab and the scenario come from the replay, stamped
        # from now on: none falls in a loaded file's last day.
        "breaker_trips_24h": 0,
        "breaker_state": None,
        "open_24h": first_open,
        "high_24h": max(Decimal(v) for v in window["high"]),
        "low_24h": min(Decimal(v) for v in window["low"]),
        "change_24h": latest - first_open,
        "change_24h_pct": ((latest - first_open) * 100 / first_open).quantize(Decimal("0.01")),
        "stale": datetime.now(UTC) - as_of.to_pydatetime() > stale_after,
    }


def differences(expected: dict[str, object], actual: dict[str, object]) -> list[str]:
    found = []
    for key, want in expected.items():
        got = actual.get(key)
        if key == "as_of" and isinstance(got, str):
            got = datetime.fromisoformat(got.replace("Z", "+00:00"))
        if got != want:
            found.append(f"{key}: expected {want!s}, got {got!s}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--symbol", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--actual", help="kpis JSON of the app; - for stdin")
    args = parser.parse_args()

    expected = expected_kpis(args.csv, args.symbol, args.node)
    print(json.dumps(expected, default=str, sort_keys=True))
    if args.actual is None:
        return 0
    text = sys.stdin.read() if args.actual == "-" else Path(args.actual).read_text("utf-8")
    actual = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    problems = differences(expected, actual)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
