"""Filter that turns a list of candle file paths into database_candle_files entries."""

from __future__ import annotations

import os

DOCUMENTATION = r"""
name: candle_files
short_description: Describe candle files for the database role
description:
  - Turns paths of candle files into entries of C(database_candle_files),
    each with C(path), C(symbol) and C(node).
  - The symbol is the second C(_)-separated field of the file name, in upper
    case (C(binanceus_BTCUSDT_1m_2023-03-01.csv) gives C(BTCUSDT)), or the
    whole name without its extension when it has no C(_).
options:
  _input:
    description: Paths of candle files.
    type: list
    elements: path
    required: true
  node:
    description: Feed node recorded as the deliverer of every candle.
    type: str
    required: true
"""

EXAMPLES = r"""
database_candle_files: >-
  {{ query('ansible.builtin.fileglob', '/data/*.csv')
     | sentinel.dashboard.candle_files(node='HK-Primary') }}
"""

RETURN = r"""
_value:
  description: One entry per path, sorted by path.
  type: list
  elements: dict
"""


def symbol_from_file_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    fields = stem.split("_")
    return (fields[1] if len(fields) > 1 and fields[1] else stem).upper()


def candle_files(paths: list[str], node: str) -> list[dict[str, str]]:
    return [
        {"path": path, "symbol": symbol_from_file_name(path), "node": node}
        for path in sorted(paths)
    ]


class FilterModule:
    def filters(self):
        return {"candle_files": candle_files}
