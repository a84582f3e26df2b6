"""Filter that turns a sub-path setting into the URL prefix it serves under."""

from __future__ import annotations

DOCUMENTATION = r"""
name: url_prefix
short_description: The URL prefix of a sub-path setting
description:
  - Turns a sub-path as users write it (C(dashboard), C(/dashboard/), or empty
    for the root) into the prefix that every URL under it starts with, C(/dashboard/),
    or C(/) for the root. nginx's locations, the lab and the checks all use it.
options:
  _input:
    description: The sub-path, with or without slashes; empty for the root.
    type: str
    required: true
"""

EXAMPLES = r"""
location: "{{ 'dashboard' | sentinel.dashboard.url_prefix }}"  # /dashboard/
"""

RETURN = r"""
_value:
  description: The prefix, starting and ending with C(/).
  type: str
"""


def url_prefix(base_path) -> str:
    path = str(base_path or "").strip("/")
    return f"/{path}/" if path else "/"


class FilterModule:
    def filters(self):
        return {"url_prefix": url_prefix}
