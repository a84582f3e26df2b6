"""`sentinel-dashboard load`: both layouts, rejected rows, and re-delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from support import BTCUSD_FILE, Database

HEADER = "open_time,open,high,low,close,volume"
GOOD_ROWS = [
    "2023-03-01 00:00:00+00:00,100.5,101,99,100,1.25",
    "2023-03-01 00:01:00+00:00,100,102,99.5,101.75,0",
    "2023-03-01 00:02:00+00:00,101.75,101.75,101.75,101.75,3",
]
STORED_SQL = """
SELECT open_time, open, high, low, close, volume, trade_count, node
FROM sentinel.candles WHERE symbol = %s ORDER BY open_time
"""


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def stored(database: Database, symbol: str) -> list[tuple]:
    with database.connect() as conn:
        return conn.execute(STORED_SQL, (symbol,)).fetchall()


def test_binance_file_loads_every_row_exactly(
    schema_db: Database, market_dir: Path, btcusd: pd.DataFrame
) -> None:
    path = market_dir / BTCUSD_FILE

    result = schema_db.cli_json("load", "--symbol", "BTCUSD", "--node", "HK-Primary", path)

    assert result == {"file": str(path), "layout": "binance", "rows": 30240, "added": 30240}
    rows = stored(schema_db, "BTCUSD")
    assert len(rows) == len(btcusd)
    for index in (0, 12345, len(btcusd) - 1):
        expected = btcusd.iloc[index]
        open_time, *values, trade_count, node = rows[index]
        assert open_time == expected["open_time"].to_pydatetime()
        assert values == [expected[c] for c in ("open", "high", "low", "close", "volume")]
        assert (trade_count, node) == (None, "HK-Primary")


def test_kraken_file_with_missing_minutes(
    schema_db: Database, tmp_path: Path, btcusd: pd.DataFrame
) -> None:
    sample = btcusd.iloc[:120].drop(index=[0, 7, 8, 9, 64, 119]).reset_index(drop=True)
    lines = [
        ",".join(
            [
                str(int(row.open_time.timestamp())),
                *(str(row[c]) for c in ("open", "high", "low", "close", "volume")),
                str(index * 3),
            ]
        )
        for index, row in sample.iterrows()
    ]
    path = write(tmp_path / "kraken_XBTUSD_1.csv", lines)

    result = schema_db.cli_json("load", "--symbol", "XBTUSD", "--node", "JP-Backup", path)

    assert result == {"file": str(path), "layout": "kraken", "rows": 114, "added": 114}
    rows = stored(schema_db, "XBTUSD")
    assert [r[0] for r in rows] == [t.to_pydatetime() for t in sample["open_time"]]
    assert [r[4] for r in rows] == list(sample["close"])
    assert [r[6] for r in rows] == [index * 3 for index in range(114)]
    assert {r[7] for r in rows} == {"JP-Backup"}


def test_binance_layout_accepts_epoch_milliseconds(schema_db: Database, tmp_path: Path) -> None:
    path = write(tmp_path / "millis.csv", [HEADER, "1677628800000,1,2,0.5,1.5,7.000001"])

    assert schema_db.cli_json("load", "--symbol", "X", "--node", "HK-Primary", path)["added"] == 1
    assert stored(schema_db, "X") == [
        (
            datetime(2023, 3, 1, tzinfo=UTC),
            Decimal("1"),
            Decimal("2"),
            Decimal("0.5"),
            Decimal("1.5"),
            Decimal("7.000001"),
            None,
            "HK-Primary",
        )
    ]


BAD_ROWS = [
    pytest.param(
        "2023-03-01 00:16:00+00:00,1.5,1.0,2.0,1.5,1", "high 1.0 is below low 2.0", id="high-low"
    ),
    pytest.param("2023-03-01 00:16:00+00:00,1,2,1,1", "expected 6 fields, found 5", id="fields"),
    pytest.param(
        "2023-03-01 00:16:00+00:00,1,2,abc,1,1", "low 'abc' is not a number", id="not-a-number"
    ),
    pytest.param(
        "2023-03-01 00:16:00+00:00,1,Infinity,1,1,1",
        "high Infinity is not a finite number",
        id="infinite",
    ),
    pytest.param("2023-03-01 00:16:00+00:00,1,1,1,1,NaN", "volume NaN is not a finite number",
                 id="nan"),
    pytest.param("2023-03-01 00:16:00+00:00,0,1,0,1,1", "open 0 is not positive", id="zero"),
    pytest.param("2023-03-01 00:16:00+00:00,1,1,1,1,-2", "volume -2 is negative", id="volume"),
    pytest.param(
        "2023-03-01 00:16:00+00:00,3,2,1,1.5,1",
        "open 3 is outside [low 1, high 2]",
        id="open-outside",
    ),
    pytest.param(
        "2023-03-01 00:16:00+00:00,1.5,2,1,0.9,1",
        "close 0.9 is outside [low 1, high 2]",
        id="close-outside",
    ),
    pytest.param(
        "2023-03-01 00:16:30+00:00,1,1,1,1,1",
        "open_time 2023-03-01 00:16:30+00:00 is not on a minute",
        id="off-minute",
    ),
    pytest.param(
        "2023-03-01 00:03:00+00:00,1,1,1,1,1",
        "minute 2023-03-01 00:03Z already appears on line 4",
        id="duplicate",
    ),
    pytest.param(
        "2023-03-01 00:16:00,1,1,1,1,1",
        "open_time '2023-03-01 00:16:00' has no UTC offset",
        id="naive-time",
    ),
]


@pytest.mark.parametrize(("bad_row", "message"), BAD_ROWS)
def test_malformed_row_fails_the_whole_file(
    schema_db: Database, tmp_path: Path, bad_row: str, message: str
) -> None:
    write(tmp_path / "before.csv", [HEADER, *GOOD_ROWS])
    schema_db.cli_json("load", "--symbol", "X", "--node", "HK-Primary", tmp_path / "before.csv")
    before = stored(schema_db, "X")
    # Fifteen good candles first, so the bad row sits on line 17 (the header is line 1).
    lines = [
        f"2023-03-01 00:{minute:02d}:00+00:00,1,1,1,1,1" for minute in range(1, 16)
    ]
    path = write(tmp_path / "bad.csv", [HEADER, *lines, bad_row, GOOD_ROWS[0]])

    done = schema_db.cli("load", "--symbol", "X", "--node", "HK-Primary", path)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"sentinel-dashboard: error: {path}:17: {message}\n"
    assert stored(schema_db, "X") == before
    assert schema_db.count() == len(GOOD_ROWS)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        pytest.param([], "1: the file is empty", id="empty"),
        pytest.param([HEADER], "1: the file has a header but no candles", id="header-only"),
        pytest.param(
            ["time,price", "1,2"],
            "1: unknown layout: expected the header "
            "'open_time,open,high,low,close,volume' or 7 headerless Kraken fields",
            id="unknown-layout",
        ),
        pytest.param(
            ["1677628800,1,1,1,1,1,4", "1677628830,1,1,1,1,1,4"],
            "2: open_time 1677628830 is not on a minute",
            id="kraken-off-minute",
        ),
        pytest.param(
            ["1677628800,1,1,1,1,1,4", "1677628860,1,1,1,1,1,x"],
            "2: trade_count 'x' is not a whole number",
            id="kraken-trade-count",
        ),
    ],
)
def test_unreadable_file_is_rejected(
    schema_db: Database, tmp_path: Path, lines: list[str], message: str
) -> None:
    path = write(tmp_path / "odd.csv", lines)

    done = schema_db.cli("load", "--symbol", "X", "--node", "HK-Primary", path)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"sentinel-dashboard: error: {path}:{message}\n"
    assert schema_db.count() == 0


def test_loading_the_same_file_again_adds_nothing(schema_db: Database, tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", [HEADER, *GOOD_ROWS])
    first = schema_db.cli_json("load", "--symbol", "X", "--node", "HK-Primary", path)
    rows = stored(schema_db, "X")

    second = schema_db.cli_json("load", "--symbol", "X", "--node", "HK-Primary", path)

    assert (first["added"], second["rows"], second["added"]) == (3, 3, 0)
    assert stored(schema_db, "X") == rows


def test_minute_already_present_keeps_its_values(schema_db: Database, tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", [HEADER, *GOOD_ROWS])
    schema_db.cli_json("load", "--symbol", "X", "--node", "HK-Primary", first)
    original = stored(schema_db, "X")
    changed = [
        "2023-03-01 00:01:00+00:00,200,300,150,250,99",
        "2023-03-01 00:03:00+00:00,5,6,4,5,1",
    ]

    second = write(tmp_path / "b.csv", [HEADER, *changed])
    result = schema_db.cli_json("load", "--symbol", "X", "--node", "JP-Backup", second)

    assert (result["rows"], result["added"]) == (2, 1)
    now = stored(schema_db, "X")
    assert now[:3] == original
    assert now[3][1:] == (Decimal(5), Decimal(6), Decimal(4), Decimal(5), Decimal(1), None,
                          "JP-Backup")


def test_missing_file_is_one_line_error(schema_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"

    done = schema_db.cli("load", "--symbol", "X", "--node", "HK-Primary", path)

    assert done.returncode == 1
    assert done.stderr == (
        f"sentinel-dashboard: error: {path}: cannot read the file: No such file or directory\n"
    )


def quote_every_field(text: str) -> str:
    return "".join(
        ",".join(f'"{field}"' for field in line.split(",")) + "\n" for line in text.splitlines()
    )


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.encode(), id="plain"),
        pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode(), id="byte-order-mark"),
        pytest.param(lambda text: text.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param(lambda text: quote_every_field(text).encode(), id="quoted"),
        pytest.param(lambda text: (text + "\n\n").encode(), id="trailing-blank-lines"),
    ],
)
def test_common_export_variants_load_the_same_candles(
    schema_db: Database, tmp_path: Path, encode
) -> None:
    reference = write(tmp_path / "reference.csv", [HEADER, *GOOD_ROWS])
    schema_db.cli_json("load", "--symbol", "REF", "--node", "HK-Primary", reference)
    variant = tmp_path / "variant.csv"
    variant.write_bytes(encode(reference.read_text()))

    result = schema_db.cli_json("load", "--symbol", "VAR", "--node", "HK-Primary", variant)

    assert (result["layout"], result["rows"], result["added"]) == ("binance", 3, 3)
    assert stored(schema_db, "VAR") == stored(schema_db, "REF")


def test_blank_lines_are_skipped_and_line_numbers_stay_true(
    schema_db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path / "gaps.csv", [HEADER, GOOD_ROWS[0], "", "  ", GOOD_ROWS[1], "oops"])

    done = schema_db.cli("load", "--symbol", "X", "--node", "HK-Primary", path)

    assert done.returncode == 1
    assert done.stderr == f"sentinel-dashboard: error: {path}:6: expected 6 fields, found 1\n"
    assert schema_db.count() == 0


def test_text_that_is_not_utf8_names_its_line(schema_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "\n".join([HEADER, *GOOD_ROWS]).encode() + b"\n2023-03-01 00:03:00+00:00,1,1,1,1,1\xe9\n"
    )

    done = schema_db.cli("load", "--symbol", "X", "--node", "HK-Primary", path)

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"sentinel-dashboard: error: {path}:5: not UTF-8 text (byte 0xe9 at column 36)\n"
    )
    assert schema_db.count() == 0
