from __future__ import annotations

import importlib.util
from pathlib import Path

FILTER_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "candle_files.py"
spec = importlib.util.spec_from_file_location("candle_files", FILTER_PATH)
candle_files_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(candle_files_module)


def test_symbol_comes_from_the_second_field_of_the_file_name():
    entries = candle_files_module.candle_files(
        [
            "/data/binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv",
            "/data/kraken_xbtusd_1.csv",
        ],
        node="HK-Primary",
    )
    assert entries == [
        {
            "path": "/data/binanceus_BTCUSDT_1m_2023-03-01_2023-03-21.csv",
            "symbol": "BTCUSDT",
            "node": "HK-Primary",
        },
        {"path": "/data/kraken_xbtusd_1.csv", "symbol": "XBTUSD", "node": "HK-Primary"},
    ]


def test_a_name_without_fields_is_the_symbol():
    entries = candle_files_module.candle_files(["/d/ethusd.csv"], node="JP-Backup")
    assert entries == [{"path": "/d/ethusd.csv", "symbol": "ETHUSD", "node": "JP-Backup"}]


def test_entries_are_sorted_by_path():
    entries = candle_files_module.candle_files(["/d/b_Y.csv", "/d/a_X.csv"], node="N")
    assert [entry["symbol"] for entry in entries] == ["X", "Y"]
