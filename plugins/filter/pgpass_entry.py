"""Filter that writes one line of a libpq password file."""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: pgpass_entry
short_description: One line of a libpq password file
description:
  - Joins host, port, database, user and password with C(:), escaping C(:)
    and C(\) in every field as libpq expects.
  - A socket directory as host becomes C(localhost), the name libpq matches
    socket connections against.
options:
  _input:
    description: The password.
    type: str
    required: true
  host:
    type: str
    required: true
    description: Host name, address or socket directory.
  port:
    type: str
    required: true
    description: Port.
  database:
    type: str
    required: true
    description: Database name.
  user:
    type: str
    required: true
    description: Login role.
"""

EXAMPLES = r"""
content: "{{ password | sentinel.dashboard.pgpass_entry(host='db', port=5432,
  database='sentinel', user='reader') }}"
"""

RETURN = r"""
_value:
  description: The line, without a newline.
  type: str
"""

_SPECIAL = re.compile(r"([\\:])")


def pgpass_entry(password, host, port, database, user) -> str:
    host = "localhost" if str(host).startswith("/") else host
    fields = (host, port, database, user, password)
    return ":".join(_SPECIAL.sub(r"\\\1", str(field)) for field in fields)


class FilterModule:
    def filters(self):
        return {"pgpass_entry": pgpass_entry}
