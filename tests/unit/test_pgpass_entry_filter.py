from __future__ import annotations

import importlib.util
from pathlib import Path

FILTER_PATH = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "pgpass_entry.py"
spec = importlib.util.spec_from_file_location("pgpass_entry", FILTER_PATH)
pgpass = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pgpass)


def test_fields_are_joined_with_colons():
    line = pgpass.pgpass_entry("s3cret", host="db-1", port=5432, database="sentinel",
                               user="reader")
    assert line == "db-1:5432:sentinel:reader:s3cret"


def test_colon_and_backslash_are_escaped_in_every_field():
    line = pgpass.pgpass_entry("a:b\\c", host="::1", port="5432", database="d:b", user="u")
    assert line == "\\:\\:1:5432:d\\:b:u:a\\:b\\\\c"


def test_a_socket_directory_is_matched_as_localhost():
    line = pgpass.pgpass_entry("pw", host="/var/run/postgresql", port=5432, database="d",
                               user="u")
    assert line == "localhost:5432:d:u:pw"
