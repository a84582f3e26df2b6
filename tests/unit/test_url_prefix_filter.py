from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FILTER_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "url_prefix.py"
spec = importlib.util.spec_from_file_location("url_prefix", FILTER_PATH)
url_prefix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(url_prefix)


@pytest.mark.parametrize(
    ("setting", "prefix"),
    [("", "/"), (None, "/"), ("/", "/"), ("dashboard", "/dashboard/"),
     ("/dashboard/", "/dashboard/"), ("ops/dashboard", "/ops/dashboard/")],
)
def test_a_sub_path_becomes_its_prefix(setting, prefix):
    assert url_prefix.url_prefix(setting) == prefix
