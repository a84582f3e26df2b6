"""Filter that says what is wrong with one entry of firewall_extra_rules."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

DOCUMENTATION = r"""
name: firewall_rule_problems
short_description: What is wrong with one extra firewall rule
description:
  - Checks one entry of the firewall role's C(firewall_extra_rules) before ufw
    sees it, and returns one sentence per problem; an empty list means the
    entry is good.
  - Besides the form of each key, it refuses entries that would clash with a
    rule the role keeps itself, since ufw obeys the first rule that matches
    and replaces a rule that differs only in its action or comment, so such an
    entry either never applies or is undone by the role at the next run.
options:
  _input:
    description: The entry, a mapping with port, proto, rule, from_ip, comment and delete.
    type: raw
    required: true
  open_ports:
    description: Ports the role allows over TCP from every address.
    type: list
    elements: int
    default: []
  closed_ports:
    description: Ports the role keeps closed to every address (the dashboard in proxy mode).
    type: list
    elements: int
    default: []
"""

EXAMPLES = r"""
problems: "{{ rule | sentinel.dashboard.firewall_rule_problems(open_ports=[22, 80, 443],
  closed_ports=[8501]) }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem; empty when there is none.
  type: list
  elements: str
"""

KEYS = ("port", "proto", "rule", "from_ip", "comment", "delete")
KEY_LIST = "port, proto, rule, from_ip, comment and delete"
PROTOS = ("tcp", "udp", "any")
RULES = ("allow", "deny", "limit", "reject")
EVERY_ADDRESS = ("any", "0.0.0.0/0", "::/0")
_PORT = re.compile(r"^([0-9]{1,5})(?::([0-9]{1,5}))?$")


def _port_range(port, problems: list[str]) -> tuple[int, int] | None:
    if port is None:
        problems.append("port is missing")
        return None
    match = _PORT.match(str(port)) if isinstance(port, int | str) else None
    if isinstance(port, bool) or match is None:
        problems.append(f"port must be a number or a range like 6000:6007, not {port!r}")
        return None
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not 1 <= low <= 65535 or not 1 <= high <= 65535:
        problems.append(f"port {port} is outside 1 to 65535")
        return None
    if match.group(2) and low >= high:
        problems.append(f"port range {port} must go from a lower to a higher port")
        return None
    return low, high


def _check_source(from_ip, problems: list[str]) -> None:
    if not isinstance(from_ip, str):
        problems.append(f"from_ip must be any, an address or a network, not {from_ip!r}")
    elif from_ip not in EVERY_ADDRESS:
        try:
            ipaddress.ip_network(from_ip, strict=False)
        except ValueError:
            problems.append(f"from_ip must be any, an address or a network, not {from_ip!r}")


def _clashes(entry: Mapping, ports: tuple[int, int], open_ports, closed_ports) -> list[str]:
    proto = entry.get("proto", "tcp")
    rule = entry.get("rule", "allow")
    delete = entry.get("delete", False)
    everyone = entry.get("from_ip", "any") in EVERY_ADDRESS
    low, high = ports
    problems = []
    if proto == "udp":
        return problems
    for port in sorted({int(p) for p in open_ports if low <= int(p) <= high}):
        if not delete and rule != "allow":
            problems.append(
                f"the role allows {port}/tcp from every address itself (SSH, HTTP, HTTPS or "
                f"the dashboard in direct mode); a {rule} rule for it would never apply, since "
                "ufw obeys the first rule that matches, or would replace the role's own until "
                "the next run"
            )
        elif not delete and everyone and proto == "tcp":
            problems.append(f"the role already allows {port}/tcp from every address")
        elif delete and rule == "allow" and everyone and proto == "tcp":
            problems.append(
                f"deleting the allow rule for {port}/tcp would remove the role's own rule "
                "(SSH, HTTP, HTTPS or the dashboard in direct mode)"
            )
    for port in sorted({int(p) for p in closed_ports if low <= int(p) <= high}):
        if not delete and rule == "allow" and everyone:
            problems.append(
                f"port {port} is the dashboard's, which proxy mode keeps closed to every "
                "address; open it with firewall_mode: direct, or allow it from one "
                "address or network only"
            )
    return problems


def firewall_rule_problems(entry, open_ports=(), closed_ports=()) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"must be a mapping with the keys {KEY_LIST}, not {entry!r}"]
    problems: list[str] = []
    unknown = sorted(str(key) for key in entry if key not in KEYS)
    if unknown:
        problems.append(f"unknown key {', '.join(unknown)} (the keys are {KEY_LIST})")
    ports = _port_range(entry.get("port"), problems)
    proto = entry.get("proto", "tcp")
    if proto not in PROTOS:
        problems.append(f"proto must be tcp, udp or any, not {proto!r}")
    rule = entry.get("rule", "allow")
    if rule not in RULES:
        problems.append(f"rule must be allow, deny, limit or reject, not {rule!r}")
    _check_source(entry.get("from_ip", "any"), problems)
    if not isinstance(entry.get("delete", False), bool):
        problems.append(f"delete must be true or false, not {entry['delete']!r}")
    comment = entry.get("comment", "")
    if not isinstance(comment, str) or "'" in comment or "\n" in comment:
        problems.append(
            f"comment must be one line of text without a single quote, not {comment!r} "
            "(the ufw module wraps it in single quotes)"
        )
    if ports and ports[0] != ports[1] and proto == "any":
        problems.append("a port range needs proto tcp or udp; ufw refuses one with any")
    if ports and not problems:
        problems += _clashes(entry, ports, open_ports, closed_ports)
    return problems


class FilterModule:
    def filters(self):
        return {"firewall_rule_problems": firewall_rule_problems}
