"""The filters that keep settings from writing lines of their own: control
characters named, systemd arguments quoted, server names that are neither
host names nor IP addresses picked out."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest

FILTERS = Path(__file__).resolve().parents[2] / "plugins" / "filter"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, FILTERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


control = load("control_character_settings").control_character_settings
systemd_quote = load("systemd_quote").systemd_quote
not_host_names = load("not_host_names").not_host_names


def test_each_setting_with_a_control_character_is_named_without_its_value():
    names = ["plain", "line", "nested", "key", "tab", "pem", "number", "escape"]
    values = ["dark", "a\nb", [{"x": ["ok", "b\r"]}], {"A\x00B": "v"}, "a\tb",
              "-----BEGIN X-----\r\nAAAA\n-----END X-----\n", 5, "\x1b[31m"]

    assert control(names, values, multi_line=["pem"]) == [
        "line", "nested", "key", "tab", "escape"]


def test_a_multi_line_setting_still_refuses_other_control_characters():
    assert control(["pem"], ["AAAA\n\x07"], multi_line=["pem"]) == ["pem"]


@pytest.mark.parametrize(
    ("argument", "quoted"),
    [
        ("--theme.base=dark", '"--theme.base=dark"'),
        ("--theme.font=sans serif", '"--theme.font=sans serif"'),
        ('--title=say "hi"', '"--title=say \\"hi\\""'),
        ("--price=$5 100%", '"--price=$$5 100%%"'),
        ("--path=C:\\dir", '"--path=C:\\\\dir"'),
    ],
)
def test_an_argument_is_quoted_and_escaped_for_systemd(argument, quoted):
    assert systemd_quote(argument) == quoted


@pytest.mark.parametrize("argument", ["--a=b c", '--q="x"', "--b=back\\slash"])
def test_a_quoted_argument_splits_back_into_itself(argument):
    # Once systemd has undone $$ and %%, its quoting is the shell's double quoting.
    unquoted = systemd_quote(argument).replace("$$", "$").replace("%%", "%")
    assert shlex.split(unquoted) == [argument]


def test_names_that_are_neither_host_names_nor_addresses_are_picked_out():
    good = ["dashboard.example.test", "localhost", "*.example.test", "10.0.0.30", "::1",
            "2001:db8::10", "xn--bcher-kva.example"]
    bad = [":::::", "1:::2", "[::1]", "10.0.0.300", "a b", "x;y", "-a.test", "a-.test",
           "a..test", "*.*.test", "", "a" * 64 + ".test", ("a." * 127) + "test", 5]

    assert not_host_names(good + bad) == bad
