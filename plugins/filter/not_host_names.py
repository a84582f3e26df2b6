"""Filter that picks the server names that are neither host names nor IP addresses."""

from __future__ import annotations

import ipaddress
import re

DOCUMENTATION = r"""
name: not_host_names
short_description: The names that are neither host names nor IP addresses
description:
  - A host name is labels of letters, digits and inner hyphens, up to 63
    characters each and 253 in all, whose last label holds a letter; it may
    start with C(*.) for a wildcard. An IP address is IPv4 or IPv6, written
    as Python's ipaddress reads it, without brackets.
options:
  _input:
    description: The names to check.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
refused: "{{ nginx_tls_server_names | sentinel.dashboard.not_host_names }}"
"""

RETURN = r"""
_value:
  description: The names given that are neither, in their order.
  type: list
  elements: str
"""

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The last label has a letter, so that 10.0.0.300 is no host name.
_HOST_NAME = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)*(?=[0-9-]*[A-Za-z]){_LABEL}")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def not_host_names(names) -> list:
    return [
        name for name in names
        if not isinstance(name, str)
        or not (_is_address(name) or (len(name) <= 253 and _HOST_NAME.fullmatch(name)))
    ]


class FilterModule:
    def filters(self):
        return {"not_host_names": not_host_names}
