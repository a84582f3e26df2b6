from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FILTER_PATH = (
    Path(__file__).resolve().parents[2] / "plugins" / "filter" / "firewall_rule_problems.py"
)
spec = importlib.util.spec_from_file_location("firewall_rule_problems", FILTER_PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

OPEN = [22, 80, 443]
CLOSED = [8501]


def problems(entry):
    return module.firewall_rule_problems(entry, open_ports=OPEN, closed_ports=CLOSED)


@pytest.mark.parametrize(
    "entry",
    [
        {"port": 9100, "from_ip": "10.0.0.5", "comment": "node exporter"},
        {"port": "6000:6007", "proto": "udp", "rule": "allow"},
        {"port": 53, "proto": "any", "from_ip": "192.168.0.0/16"},
        {"port": 5432, "rule": "deny", "delete": True},
        {"port": 2001, "from_ip": "2001:db8::/32", "rule": "limit"},
        # Only over UDP, which the role never touches (HTTP/3).
        {"port": 443, "proto": "udp"},
        # The role's own ports from one address only: redundant, harmless.
        {"port": 22, "from_ip": "10.0.0.0/8"},
        {"port": 8501, "from_ip": "10.0.0.7", "comment": "monitoring"},
        # Removing an old rule that shadowed nothing is fine.
        {"port": 443, "rule": "deny", "from_ip": "203.0.113.9", "delete": True},
    ],
)
def test_good_entries_have_no_problems(entry):
    assert problems(entry) == []


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("9100", "must be a mapping with the keys port, proto, rule, from_ip, comment and delete"),
        ({"proto": "tcp"}, "port is missing"),
        ({"port": "http"}, "port must be a number or a range like 6000:6007, not 'http'"),
        ({"port": True}, "port must be a number or a range like 6000:6007, not True"),
        ({"port": 70000}, "port 70000 is outside 1 to 65535"),
        ({"port": 0}, "port 0 is outside 1 to 65535"),
        ({"port": "7000:6000"}, "port range 7000:6000 must go from a lower to a higher port"),
        ({"port": 9100, "prot": "tcp"}, "unknown key prot (the keys are port, proto, rule,"),
        ({"port": 9100, "proto": "icmp"}, "proto must be tcp, udp or any, not 'icmp'"),
        ({"port": 9100, "rule": "accept"}, "rule must be allow, deny, limit or reject, not 'acc"),
        ({"port": 9100, "from_ip": "10.0.0.300"}, "from_ip must be any, an address or a network"),
        ({"port": 9100, "delete": "yes"}, "delete must be true or false, not 'yes'"),
        ({"port": 9100, "comment": "it's"}, "comment must be one line of text without a single"),
        ({"port": "6000:6007", "proto": "any"}, "a port range needs proto tcp or udp"),
    ],
)
def test_each_malformed_entry_says_what_is_wrong(entry, expected):
    found = problems(entry)
    assert len(found) == 1
    assert found[0].startswith(expected)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"port": 22, "rule": "limit"}, "the role allows 22/tcp from every address itself"),
        ({"port": 443, "rule": "deny", "from_ip": "203.0.113.9"}, "the role allows 443/tcp"),
        ({"port": "20:25", "rule": "reject", "proto": "tcp"}, "the role allows 22/tcp"),
        ({"port": 80, "comment": "web"}, "the role already allows 80/tcp from every address"),
        ({"port": 22, "delete": True}, "deleting the allow rule for 22/tcp would remove"),
        ({"port": 8501}, "port 8501 is the dashboard's, which proxy mode keeps closed"),
        ({"port": 8501, "proto": "any", "from_ip": "::/0"}, "port 8501 is the dashboard's"),
    ],
)
def test_entries_that_clash_with_the_roles_own_rules_are_refused(entry, expected):
    found = problems(entry)
    assert len(found) == 1
    assert found[0].startswith(expected)


def test_all_problems_of_an_entry_are_named():
    found = problems({"port": "x", "proto": "icmp", "rule": "accept"})
    assert len(found) == 3
