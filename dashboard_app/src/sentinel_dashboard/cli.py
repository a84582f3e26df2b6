"""The sentinel-dashboard command line: schema, load, kpis, candles, symbols, serve."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import simplejson

from sentinel_dashboard import db, fetch, loader, market, schema, settings

PROG = "sentinel-dashboard"
log = logging.getLogger(__name__)


def _print_json(data: Any) -> None:
    # use_decimal prints each Decimal exactly as stored, never through a float.
    print(simplejson.dumps(data, use_decimal=True))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument(
        "--dsn",
        help=f"libpq connection string (default: ${settings.DSN_VARIABLE}, then PG* variables)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    apply = commands.add_parser("schema", help="apply the schema migrations")
    apply.add_argument("--json", action="store_true", help="print the result as JSON")

    load = commands.add_parser("load", help="import a Binance.US or Kraken candle file")
    load.add_argument("--symbol", required=True, help="symbol to store the candles under")
    load.add_argument("--node", required=True, help="feed node that delivered the file")
    load.add_argument("file", type=Path, help="CSV file to import")
    load.add_argument("--json", action="store_true", help="print the result as JSON")

    fetching = commands.add_parser(
        "fetch", help="download recent one-minute candles from a Binance-style klines API"
    )
    fetching.add_argument("--symbol", required=True, help="exchange symbol, stored as given")
    fetching.add_argument("--node", required=True, help="feed node to store the candles under")
    fetching.add_argument(
        "--base-url", default=fetch.DEFAULT_BASE_URL, help="API root (default: %(default)s)"
    )
    window = fetching.add_mutually_exclusive_group()
    window.add_argument("--since", type=fetch.since_argument, help="ISO 8601 time with offset")
    # No default here: argparse would then take "--days 1 --since T" for --since alone.
    window.add_argument("--days", type=fetch.days_argument, help="days back from now (default: 1)")
    fetching.add_argument("--json", action="store_true", help="print the result as JSON")

    kpis = commands.add_parser("kpis", help="latest price, 24 h volume, source, breaker trips")
    kpis.add_argument("--symbol", required=True)
    kpis.add_argument("--json", action="store_true", help="print the result as JSON")

    candles = commands.add_parser("candles", help="newest candles bucketed by interval")
    candles.add_argument("--symbol", required=True)
    candles.add_argument("--interval", choices=list(market.INTERVALS), default="1m")
    candles.add_argument("--limit", type=_limit, default=60, help="number of buckets")
    candles.add_argument("--json", action="store_true", help="print the result as JSON")

    listing = commands.add_parser("symbols", help="symbols with their candle counts")
    listing.add_argument("--json", action="store_true", help="print the result as JSON")

    commands.add_parser(
        "serve",
        help="run the Streamlit page; further arguments go to 'streamlit run'",
        add_help=False,
    )
    return parser


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= market.MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {market.MAX_LIMIT}")
    return value


def _serve(streamlit_args: list[str]) -> int:
    page = resources.files("sentinel_dashboard").joinpath("page.py")
    argv = [sys.executable, "-m", "streamlit", "run", str(page), *streamlit_args]
    log.info("exec %s", " ".join(argv))
    os.execv(sys.executable, argv)  # noqa: S606 - fixed interpreter, no shell
    return 0  # not reached


def _run(args: argparse.Namespace, config: settings.Settings) -> None:
    with db.connect(config) as conn:
        if args.command == "schema":
            result = schema.apply(conn)
            if args.json:
                _print_json({"version": result.version, "applied": result.applied})
            elif result.applied:
                print(f"schema at version {result.version}; applied {result.applied}")
            else:
                print(f"schema at version {result.version}; up to date")

        elif args.command == "load":
            loaded = loader.load_file(conn, args.file, symbol=args.symbol, node=args.node)
            if args.json:
                _print_json(vars(loaded))
            else:
                print(f"{loaded.file}: {loaded.layout} layout, {loaded.rows} rows, "
                      f"{loaded.added} added")

        elif args.command == "fetch":
            fetched = fetch.fetch_candles(
                conn, symbol=args.symbol, node=args.node, since=args.since, days=args.days,
                base_url=args.base_url,
            )
            if args.json:
                _print_json(fetched.as_json())
            else:
                print(fetched.summary())

        elif args.command == "kpis":
            figures = market.kpis(conn, args.symbol).as_json()
            if args.json:
                _print_json(figures)
            else:
                for key, value in figures.items():
                    print(f"{key}: {value}")

        elif args.command == "candles":
            buckets = market.candles(conn, args.symbol, args.interval, args.limit)
            if not args.json:
                for b in buckets:
                    print(f"{market.iso_utc(b.open_time)} {b.open} {b.high} {b.low} "
                          f"{b.close} {b.volume}")
            else:
                _print_json([bucket.as_json() for bucket in buckets])

        elif args.command == "symbols":
            counts = market.symbol_counts(conn)
            if args.json:
                _print_json(counts)
            else:
                for row in counts:
                    print(f"{row['symbol']}: {row['candles']} candles, "
                          f"{row['first']} to {row['last']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format=f"{PROG}: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "serve":
        return _serve(extra)

    try:
        config = settings.load(args.dsn)
        _run(args, config)
    except (db.DashboardError, settings.SettingsError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        log.debug("database error", exc_info=True)
        print(f"{PROG}: error: {db.explain(exc, config)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
