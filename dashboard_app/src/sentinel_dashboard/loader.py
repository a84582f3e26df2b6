"""Candle files: detect the layout, validate every row, load in one transaction."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psycopg

from sentinel_dashboard.db import LoadError

log = logging.getLogger(__name__)

BINANCE = "binance"
KRAKEN = "kraken"
BINANCE_HEADER = "open_time,open,high,low,close,volume"
KRAKEN_FIELDS = 7
PRICE_FIELDS = ("open", "high", "low", "close")

CREATE_STAGE_SQL = """
CREATE TEMPORARY TABLE sentinel_incoming (
    open_time   timestamptz NOT NULL,
    open        numeric     NOT NULL,
    high        numeric     NOT NULL,
    low         numeric     NOT NULL,
    close       numeric     NOT NULL,
    volume      numeric     NOT NULL,
    trade_count integer     NULL
) ON COMMIT DROP
"""
COPY_STAGE_SQL = """
COPY sentinel_incoming (open_time, open, high, low, close, volume, trade_count) FROM STDIN
"""
# Rows already present win: a re-delivered minute never rewrites what was stored.
MERGE_STAGE_SQL = """
INSERT INTO sentinel.candles
    (symbol, open_time, open, high, low, close, volume, trade_count, node)
SELECT %(symbol)s, open_time, open, high, low, close, volume, trade_count, %(node)s
FROM sentinel_incoming
ON CONFLICT (symbol, open_time) DO NOTHING
"""


@dataclass(frozen=True)
class Candle:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int | None


@dataclass(frozen=True)
class LoadResult:
    file: str
    layout: str
    rows: int
    added: int


class RowError(ValueError):
    """A problem in one row; the caller says where the row came from (file and line, or page)."""


def _number(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowError(f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise RowError(f"{name} {text} is not a finite number")
    return value


def _whole(name: str, text: str) -> int:
    if not text.lstrip("-").isdigit():
        raise RowError(f"{name} {text!r} is not a whole number")
    return int(text)


def _from_epoch(seconds: int, shown: str) -> datetime:
    if seconds % 60:
        raise RowError(f"open_time {shown} is not on a minute")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise RowError(f"open_time {shown} is out of range") from None


def time_from_epoch_millis(millis: int, shown: str | None = None) -> datetime:
    """A minute-aligned open time from epoch milliseconds, as Binance writes it."""
    shown = str(millis) if shown is None else shown
    if millis % 60_000:
        raise RowError(f"open_time {shown} is not on a minute")
    return _from_epoch(millis // 1000, shown)


def _binance_time(text: str) -> datetime:
    if text.isdigit():
        return time_from_epoch_millis(int(text), text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(f"open_time {text!r} is neither ISO 8601 nor epoch milliseconds") from None
    if moment.tzinfo is None:
        raise RowError(f"open_time {text!r} has no UTC offset")
    if moment.second or moment.microsecond:
        raise RowError(f"open_time {text} is not on a minute")
    moment = moment.astimezone(UTC)
    # Offsets such as +05:45 keep seconds at zero but can still leave the minute grid.
    if moment.timestamp() % 60:
        raise RowError(f"open_time {text} is not on a minute")
    return moment


def _candle(fields: list[str], layout: str) -> Candle:
    expected = KRAKEN_FIELDS if layout == KRAKEN else len(PRICE_FIELDS) + 2
    if len(fields) != expected:
        raise RowError(f"expected {expected} fields, found {len(fields)}")

    if layout == KRAKEN:
        seconds = _whole("open_time", fields[0])
        open_time = _from_epoch(seconds, fields[0])
        trade_count: int | None = _whole("trade_count", fields[6])
    else:
        open_time = _binance_time(fields[0])
        trade_count = None
    return checked_candle(open_time, fields[1:5], fields[5], trade_count)


def checked_candle(
    open_time: datetime, price_texts: Sequence[str], volume_text: str, trade_count: int | None
) -> Candle:
    """A candle from its open, high, low and close texts, or RowError saying what is wrong.

    Every source applies these same rules, so the database never holds a candle one
    source would have rejected.
    """
    texts = dict(zip(PRICE_FIELDS, price_texts, strict=True))
    prices = {name: _number(name, text) for name, text in texts.items()}
    volume = _number("volume", volume_text)
    for name, value in prices.items():
        if value <= 0:
            raise RowError(f"{name} {texts[name]} is not positive")
    if volume < 0:
        raise RowError(f"volume {volume_text} is negative")
    if trade_count is not None and trade_count < 0:
        raise RowError(f"trade_count {trade_count} is negative")
    low, high = prices["low"], prices["high"]
    if high < low:
        raise RowError(f"high {texts['high']} is below low {texts['low']}")
    for name in ("open", "close"):
        if not low <= prices[name] <= high:
            raise RowError(
                f"{name} {texts[name]} is outside [low {texts['low']}, high {texts['high']}]"
            )

    return Candle(open_time, prices["open"], high, low, prices["close"], volume, trade_count)


def _detect(first_line: str) -> str | None:
    if first_line.replace(" ", "").lower() == BINANCE_HEADER:
        return BINANCE
    fields = first_line.split(",")
    if len(fields) == KRAKEN_FIELDS and fields[0].strip().isdigit():
        return KRAKEN
    return None


def _not_utf8(path: Path) -> LoadError:
    """Name the first line that is not UTF-8, as the decoder cannot."""
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return LoadError(
                    f"{path}:{number}: not UTF-8 text "
                    f"(byte 0x{line[exc.start]:02x} at column {exc.start + 1})"
                )
    return LoadError(f"{path}:1: not UTF-8 text")


def read_candles(path: Path) -> tuple[str, Iterator[Candle]]:
    """Return the layout and a stream of validated candles.

    The stream raises LoadError naming the file and the editor's line number
    (the header is line 1) at the first bad row. Blank lines carry no candle and
    are skipped; fields may be quoted, as spreadsheet exports do.
    """
    handle = path.open(encoding="utf-8-sig", newline="")
    reader = csv.reader(handle)
    first: list[str] = []
    try:
        for first in reader:
            if any(field.strip() for field in first):
                break
    except UnicodeDecodeError:
        handle.close()
        raise _not_utf8(path) from None
    if not any(field.strip() for field in first):
        handle.close()
        raise LoadError(f"{path}:1: the file is empty")
    first_number = reader.line_num
    layout = _detect(",".join(field.strip() for field in first))
    if layout is None:
        handle.close()
        raise LoadError(
            f"{path}:{first_number}: unknown layout: expected the header "
            f"{BINANCE_HEADER!r} or {KRAKEN_FIELDS} headerless Kraken fields"
        )

    def numbered_rows() -> Iterator[tuple[int, list[str]]]:
        if layout == KRAKEN:
            yield first_number, first
        for fields in reader:
            yield reader.line_num, fields

    def rows() -> Iterator[Candle]:
        seen: dict[datetime, int] = {}
        with handle:
            try:
                for number, fields in numbered_rows():
                    if not any(field.strip() for field in fields):
                        continue
                    try:
                        candle = _candle([field.strip() for field in fields], layout)
                    except RowError as exc:
                        raise LoadError(f"{path}:{number}: {exc}") from None
                    if candle.open_time in seen:
                        raise LoadError(
                            f"{path}:{number}: minute {candle.open_time:%Y-%m-%d %H:%M}Z "
                            f"already appears on line {seen[candle.open_time]}"
                        )
                    seen[candle.open_time] = number
                    yield candle
            except csv.Error as exc:  # e.g. an unclosed quote
                raise LoadError(f"{path}:{reader.line_num}: {exc}") from None
            except UnicodeDecodeError:
                raise _not_utf8(path) from None
        if not seen:
            raise LoadError(f"{path}:{first_number}: the file has a header but no candles")

    return layout, rows()


def store_candles(
    conn: psycopg.Connection, candles: Iterable[Candle], *, symbol: str, node: str
) -> tuple[int, int]:
    """Merge validated candles in one transaction; return (rows seen, rows added).

    Every source (a file, an exchange's API) goes through here, so a minute
    already stored is never rewritten whoever delivers it again.
    """
    rows = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(CREATE_STAGE_SQL)
        with cur.copy(COPY_STAGE_SQL) as copy:
            for candle in candles:
                copy.write_row(
                    (
                        candle.open_time,
                        candle.open,
                        candle.high,
                        candle.low,
                        candle.close,
                        candle.volume,
                        candle.trade_count,
                    )
                )
                rows += 1
        cur.execute(MERGE_STAGE_SQL, {"symbol": symbol, "node": node})
        added = cur.rowcount
    return rows, added


def load_file(conn: psycopg.Connection, path: Path, *, symbol: str, node: str) -> LoadResult:
    """Load one file in one transaction: every row or none of them."""
    if not symbol.strip() or not node.strip():
        raise LoadError("symbol and node must not be empty")
    try:
        layout, candles = read_candles(path)
    except OSError as exc:
        raise LoadError(f"{path}: cannot read the file: {exc.strerror or exc}") from None

    rows, added = store_candles(conn, candles, symbol=symbol, node=node)
    log.info("loaded %s: %d rows, %d added", path, rows, added)
    return LoadResult(file=str(path), layout=layout, rows=rows, added=added)
