"""Documentation of sentinel.dashboard.warn; the work is in plugins/action/warn.py."""

from __future__ import annotations

DOCUMENTATION = r"""
module: warn
short_description: Show a message as an Ansible warning
description:
  - Prints O(msg) as a C([WARNING]) line on the controller, where a debug
    message would scroll by unnoticed, and changes nothing.
  - Runs on the controller only; the host is not contacted.
  - Runs of the same message for several hosts show it once, as Ansible
    does with every warning; name the host in O(msg) when that matters.
version_added: 0.1.0
options:
  msg:
    description: The warning. Runs of white space, line breaks included, become one space.
    type: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - Financial Sentinel engineering
"""

EXAMPLES = r"""
- name: Warn that the dashboard is served without TLS
  sentinel.dashboard.warn:
    msg: The dashboard port is open to every address, without TLS.
"""

RETURN = r"""
msg:
  description: The warning as shown.
  returned: always
  type: str
"""
