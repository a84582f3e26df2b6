"""Filter that quotes one word for a systemd unit's command line."""

from __future__ import annotations

DOCUMENTATION = r"""
name: systemd_quote
short_description: One argument, quoted for ExecStart= and its kin
description:
  - Wraps the text in double quotes and escapes what systemd would otherwise
    read itself, so that it reaches the program as one argument, as written
    (spaces, quotes, backslashes, C($) and C(%) included).
  - Control characters cannot be quoted this way; the roles refuse them first.
options:
  _input:
    description: The argument.
    type: str
    required: true
"""

EXAMPLES = r"""
line: "ExecStart=/usr/bin/app {{ '--title=Price $ 100%' | sentinel.dashboard.systemd_quote }}"
"""

RETURN = r"""
_value:
  description: The quoted argument, e.g. C("--title=Price $$ 100%%").
  type: str
"""


def systemd_quote(argument) -> str:
    text = str(argument)
    # Backslash first, so that the escapes added after it stay single.
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), ("$", "$$"), ("%", "%%")):
        text = text.replace(char, escaped)
    return f'"{text}"'


class FilterModule:
    def filters(self):
        return {"systemd_quote": systemd_quote}
