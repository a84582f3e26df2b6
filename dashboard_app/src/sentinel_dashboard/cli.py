"""The sentinel-dashboard command line: every subcommand, parsed and dispatched."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import simplejson

from sentinel_dashboard import (
    alerts,
    db,
    fetch,
    loader,
    logfile,
    market,
    replay,
    schema,
    settings,
    watchdog,
)

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
    window.add_argument("--since", type=_utc_time, help="ISO 8601 time with offset")
    # No default here: argparse would then take "--days 1 --since T" for --since alone.
    window.add_argument("--days", type=_days, help="days back from now (default: 1)")
    fetching.add_argument("--json", action="store_true", help="print the result as JSON")

    kpis = commands.add_parser(
        "kpis", help="latest price, 24 h change, high, low and volume, source, breaker trips"
    )
    kpis.add_argument("--symbol", required=True)
    kpis.add_argument("--json", action="store_true", help="print the result as JSON")

    candles = commands.add_parser("candles", help="newest candles bucketed by interval")
    candles.add_argument("--symbol", required=True)
    candles.add_argument("--interval", choices=list(market.INTERVALS), default="1m")
    candles.add_argument(
        "--range", choices=list(market.RANGES), default="24h", dest="range_name",
        help="time covered, ending with the newest candle (default 24h)",
    )
    candles.add_argument(
        "--limit", type=_limit, default=market.MAX_BUCKETS,
        help=f"keep at most this many newest buckets (default {market.MAX_BUCKETS})",
    )
    candles.add_argument("--json", action="store_true", help="print the result as JSON")

    listing = commands.add_parser("symbols", help="symbols with their candle counts")
    listing.add_argument("--json", action="store_true", help="print the result as JSON")

    replaying = commands.add_parser(
        "replay",
        help="play a candle file into the tables as a live feed with simulated failovers",
    )
    replaying.add_argument("--symbol", required=True, help="symbol to write the candles under")
    replaying.add_argument("--file", type=Path, required=True, help="candle file to replay")
    replaying.add_argument("--seed", type=int, default=1, help="failover story (default 1)")
    replaying.add_argument(
        "--speed", type=_speed, default=1.0,
        help="candles a second (default 1; 0.0167 is real time; 0 is as fast as possible)",
    )
    replaying.add_argument(
        "--failover-every", type=_minutes, default=20, metavar="MINUTES",
        help="mean healthy replay minutes between outages of the primary (default 20)",
    )
    replaying.add_argument("--count", type=_minutes, help="stop after this many candles")
    replaying.add_argument(
        "--start", type=_minute_time,
        help="first candle's time, ISO 8601 (default: the present minute; only for a new replay)",
    )
    replaying.add_argument("--json", action="store_true", help="print the result as JSON")

    health = commands.add_parser("health", help="each feed node's newest health sample")
    health.add_argument("--json", action="store_true", help="print the result as JSON")

    breaker = commands.add_parser("breaker", help="the newest circuit-breaker state changes")
    breaker.add_argument("--limit", type=_limit, default=20, help="how many (default 20)")
    breaker.add_argument("--json", action="store_true", help="print the result as JSON")

    _check_parser(commands)

    commands.add_parser(
        "serve",
        help="run the Streamlit page; further arguments go to 'streamlit run'",
        add_help=False,
    )
    return parser


def _check_parser(commands: argparse._SubParsersAction) -> None:
    checking = commands.add_parser(
        "check",
        help="check the service, its web server, its page and its data; restart, alert",
        description="One health-check cycle. Exit code 0 ok, 1 degraded, 2 down, "
        "3 the check could not run (its settings, or a file it cannot write).",
    )
    checking.error = _exit_3_on_usage_error("check")  # type: ignore[method-assign]
    checking.add_argument("--unit", default=watchdog.DEFAULT_UNIT,
                          help="systemd unit of the dashboard (default %(default)s)")
    checking.add_argument("--port", type=_port, default=watchdog.DEFAULT_PORT,
                          help="Streamlit's port on 127.0.0.1 (default %(default)s)")
    checking.add_argument("--base-path", default="",
                          help="Streamlit's server.baseUrlPath, e.g. dashboard (default none)")
    checking.add_argument("--http-timeout", type=_timeout, default=watchdog.DEFAULT_HTTP_TIMEOUT,
                          metavar="SECONDS",
                          help="wait for the health endpoint (default %(default)s)")
    checking.add_argument("--page", type=Path, default=None,
                          help="page script to run (default: the installed page.py)")
    checking.add_argument("--page-timeout", type=_timeout, default=watchdog.DEFAULT_PAGE_TIMEOUT,
                          metavar="SECONDS", help="wait for the page's run (default %(default)s)")
    checking.add_argument("--symbol",
                          help="symbol whose newest candle must be fresh "
                          "(default: the one with the newest candle)")
    checking.add_argument("--stale-after", type=_minutes, metavar="SECONDS",
                          help=f"stale threshold (default: ${settings.STALE_AFTER_VARIABLE}, "
                          f"else {settings.DEFAULT_STALE_AFTER})")
    checking.add_argument("--max-restarts", type=_count, default=watchdog.DEFAULT_MAX_RESTARTS,
                          help="restarts allowed per window; 0 never restarts "
                          "(default %(default)s)")
    checking.add_argument("--restart-window", type=_minutes,
                          default=watchdog.DEFAULT_RESTART_WINDOW, metavar="SECONDS",
                          help="the window the restarts are counted in (default %(default)s)")
    checking.add_argument("--state-file", type=Path, default=watchdog.DEFAULT_STATE_FILE,
                          help="incident, restarts, undelivered alerts "
                          "(default %(default)s)")
    checking.add_argument("--status-file", type=Path, default=watchdog.DEFAULT_STATUS_FILE,
                          help="the last result (default %(default)s)")
    checking.add_argument("--webhook-file", type=Path,
                          help="file holding the webhook's URL, readable by root only "
                          "(default: no alerts are sent, only logged)")
    checking.add_argument("--webhook-format", choices=alerts.FORMATS,
                          default=alerts.DEFAULT_FORMAT, help="default %(default)s")
    checking.add_argument("--webhook-timeout", type=_timeout, default=alerts.DEFAULT_TIMEOUT,
                          metavar="SECONDS", help="wait for the webhook (default %(default)s)")
    checking.add_argument("--password-file", type=Path, metavar="FILE",
                          help="libpq password file to use instead of $PGPASSFILE, for the "
                          "database check and the page's run (default: $PGPASSFILE)")
    checking.add_argument("--failure-mark", type=Path, metavar="FILE",
                          help="left by the alert that a cycle could not run; the next "
                          "cycle that runs removes it and sends a resolution (default none)")
    checking.add_argument("--exit-zero", action="store_true",
                          help="exit 0 whatever the status, so that only a cycle that could "
                          "not run fails (for a systemd unit; Python's own crash exits 1)")
    checking.add_argument("--json", action="store_true", help="print the result as JSON")

    status = commands.add_parser(
        "status",
        help="the health check's last result, from its status file",
        description="Exit code as check's: 0 ok, 1 degraded, 2 down; 3 when there is no "
        "result, or it is older than --max-age.",
    )
    status.error = _exit_3_on_usage_error("status")  # type: ignore[method-assign]
    status.add_argument("--status-file", type=Path, default=watchdog.DEFAULT_STATUS_FILE,
                        help="default %(default)s")
    status.add_argument("--max-age", type=_count, default=0, metavar="SECONDS",
                        help="a result older than this means the check is not running "
                        "(default 0: any age)")
    status.add_argument("--json", action="store_true", help="print the status file's object")


# Commands whose exit codes 1 and 2 are statuses (degraded, down): a usage error
# exits 3, "could not check", instead of argparse's 2.
STATUS_EXIT_COMMANDS = ("check", "status")


def _exit_3_on_usage_error(command: str) -> Callable[[str], None]:
    def usage_error(message: str) -> None:
        print(f"{PROG} {command}: error: {message}", file=sys.stderr)
        sys.exit(watchdog.EXIT_CANNOT_CHECK)
    return usage_error


def _number_in(
    kind: type[int] | type[float], low: float, high: float | None, unit: str = ""
) -> Callable[[str], Any]:
    """An argparse type: a number of `kind` in [low, high], said in plain words if not."""
    noun = "a whole number" if kind is int else "a number"
    bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
    message = f"must be {bounds}{unit}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        # NaN fails both comparisons, so it is refused here too.
        if not (value >= low and (high is None or value <= high)):
            raise argparse.ArgumentTypeError(message)
        return value

    return parse


_limit = _number_in(int, 1, market.MAX_BUCKETS)
_speed = _number_in(float, 0, 1000, " candles a second")
_minutes = _number_in(int, 1, None)
_count = _number_in(int, 0, None)
_port = _number_in(int, 1, 65535)
_timeout = _number_in(float, 0.1, 3600, " seconds")


def _utc_time(text: str) -> datetime:
    """argparse type: ISO 8601 with an offset, so no local time is guessed; in UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (add Z or +00:00)")
    return moment.astimezone(UTC)


def _minute_time(text: str) -> datetime:
    """argparse type: as _utc_time, and on a whole minute."""
    moment = _utc_time(text)
    if moment.second or moment.microsecond:
        raise argparse.ArgumentTypeError(f"{text!r} is not on a minute")
    return moment


def _days(text: str) -> int:
    """argparse type for --days: a positive whole number."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def _replay(conn: psycopg.Connection, args: argparse.Namespace) -> replay.ReplayResult:
    # Each minute commits on its own; the replay's lock lives as long as the session.
    conn.autocommit = True
    try:
        candles = replay.read_source(args.file)
    except OSError as exc:
        raise db.LoadError(f"{args.file}: cannot read the file: {exc.strerror or exc}") from None
    stop = threading.Event()
    # systemd stops the service with SIGTERM; the minute being written completes first.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return replay.run(
        conn,
        symbol=args.symbol,
        source=args.file,
        candles=candles,
        seed=args.seed,
        speed=args.speed,
        count=args.count,
        clock_start=args.start,
        mean_healthy=args.failover_every,
        stop=stop,
    )


# Streamlit's default red would make a focused picker look like an error; the
# chart's HK-Primary blue instead, unless the caller sets a theme colour itself.
DEFAULT_THEME = ["--theme.primaryColor=#1f77b4"]


def _serve(streamlit_args: list[str]) -> int:
    # Streamlit runs in this process rather than after an exec, so that the log
    # file set up here (SENTINEL_LOG_FILE) also receives Streamlit's own loggers.
    logfile.configure()
    from streamlit.web import cli as streamlit_cli

    page = resources.files("sentinel_dashboard").joinpath("page.py")
    themed = any(arg.startswith("--theme.") for arg in streamlit_args)
    extra = [] if themed else DEFAULT_THEME
    args = ["run", str(page), *extra, *streamlit_args]
    log.info("streamlit %s", " ".join(args))
    # Click ends the process itself, with Streamlit's exit code.
    streamlit_cli.main.main(args=args, prog_name="streamlit")
    return 0  # not reached


CHECK_PREFIX = "sentinel-check"


def _check(args: argparse.Namespace) -> int:
    if args.password_file:
        # libpq reads it, here and in the page's child process, which inherits it.
        os.environ["PGPASSFILE"] = str(args.password_file)
    config = watchdog.CheckConfig(
        unit=args.unit, port=args.port, base_path=args.base_path,
        http_timeout=args.http_timeout, page=args.page or watchdog.installed_page(),
        page_timeout=args.page_timeout, symbol=args.symbol, stale_after=args.stale_after,
        dsn=args.dsn, max_restarts=args.max_restarts, restart_window=args.restart_window,
        state_file=args.state_file, status_file=args.status_file,
        webhook_file=args.webhook_file, webhook_format=args.webhook_format,
        webhook_timeout=args.webhook_timeout, failure_mark=args.failure_mark,
    )
    try:
        outcome = watchdog.cycle(config)
    except watchdog.StateError as exc:
        print(f"{CHECK_PREFIX}: error: {exc}", file=sys.stderr)
        return watchdog.EXIT_CANNOT_CHECK
    except Exception as exc:
        # Uncaught, it would exit 1, which reads as degraded. Its message and
        # traceback could hold the webhook's URL, so only its type and place are told.
        place = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"{CHECK_PREFIX}: error: the check crashed: {type(exc).__name__} at "
              f"{Path(place.filename).name}:{place.lineno}", file=sys.stderr)
        return watchdog.EXIT_CANNOT_CHECK
    print(f"{CHECK_PREFIX}: {outcome.log_line()}", file=sys.stderr)
    if args.json:
        _print_json(outcome.as_json())
    return 0 if args.exit_zero else outcome.exit_code


def _status(args: argparse.Namespace) -> int:
    try:
        last = watchdog.read_status(args.status_file)
    except watchdog.StatusError as exc:
        print(f"{PROG} status: {exc}", file=sys.stderr)
        return watchdog.EXIT_CANNOT_CHECK
    age = watchdog.status_age(last)
    if args.json:
        _print_json(last)
    else:
        print("\n".join(watchdog.describe_status(last, age)))
    if args.max_age and age.total_seconds() > args.max_age:
        print(f"{PROG} status: the last check ran {alerts.duration_words(int(age.total_seconds()))}"
              f" ago, more than {alerts.duration_words(args.max_age)}: is its timer running?",
              file=sys.stderr)
        return watchdog.EXIT_CANNOT_CHECK
    return watchdog.EXIT_CODES[last["status"]]


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
            now = datetime.now(UTC)
            figures = market.kpis(conn, args.symbol, now=now)
            fresh = market.freshness(figures, timedelta(seconds=config.stale_after), now=now)
            figures = {**figures.as_json(), "stale": fresh.stale}
            if args.json:
                _print_json(figures)
            else:
                for key, value in figures.items():
                    print(f"{key}: {value}")

        elif args.command == "candles":
            buckets = market.candles(
                conn, args.symbol, args.interval, args.range_name, limit=args.limit
            ).buckets
            if not args.json:
                for b in buckets:
                    print(f"{market.iso_utc(b.open_time)} {b.open} {b.high} {b.low} "
                          f"{b.close} {b.volume} {b.node}")
            else:
                _print_json([bucket.as_json() for bucket in buckets])

        elif args.command == "replay":
            done = _replay(conn, args)
            result = {**vars(done), "clock_start": market.iso_utc(done.clock_start)}
            if args.json:
                _print_json(result)
            else:
                print(f"{done.symbol}: {done.written} candles written, next is minute "
                      f"{done.next_index} of the clock that started {result['clock_start']}; "
                      f"stopped by {done.stopped_by}")

        elif args.command == "health":
            nodes = market.node_health(conn)
            if args.json:
                _print_json([node.as_json() for node in nodes])
            else:
                for node in nodes:
                    latency = "-" if node.latency_ms is None else f"{node.latency_ms} ms"
                    print(f"{node.node}: {node.state}, latency {latency}, "
                          f"observed {market.iso_utc(node.observed_at)}"
                          + (f", last error: {node.last_error}" if node.last_error else ""))

        elif args.command == "breaker":
            changes = market.breaker_changes(conn, until=None, limit=args.limit)
            if args.json:
                _print_json([change.as_json() for change in changes])
            else:
                for change in changes:
                    print(f"{market.iso_utc(change.changed_at)} {change.node}: "
                          f"{change.from_state} -> {change.to_state}"
                          + (f" ({change.reason})" if change.reason else ""))

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
    if extra and args.command in STATUS_EXIT_COMMANDS:
        _exit_3_on_usage_error(args.command)(f"unrecognized arguments: {' '.join(extra)}")
    if extra and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    if args.command == "serve":
        return _serve(extra)

    prefix = CHECK_PREFIX if args.command == "check" else PROG
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format=f"{prefix}: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "check":
        # urllib3 names each request's URL in its logs; the webhook's is a secret.
        logging.getLogger("urllib3").setLevel(logging.CRITICAL)
        return _check(args)
    if args.command == "status":
        return _status(args)

    config = None
    try:
        config = settings.load(args.dsn)
        _run(args, config)
    except BrokenPipeError:
        # The reader (head, a closed pager) left; say nothing more on a closed stdout.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
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
