"""sentinel.dashboard.warn prints a real Ansible warning and changes nothing,
in check mode too, through ansible-playbook itself."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from playbooks import run_playbook

MESSAGE = "the dashboard port is open to every address, without TLS"

PLAYBOOK = """\
- name: Warn on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Warn about the open port
      sentinel.dashboard.warn:
{args}
      register: warned

    - name: Check what the warning returned
      ansible.builtin.assert:
        that:
          - warned is not changed
          - warned.msg == "{message}"
"""
# A folded message over two lines, which the warning shows as one.
FOLDED = """\
        msg: >-
          the dashboard port is open to
          every address, without TLS"""


def run_warning(tmp_path: Path, args: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_playbook(tmp_path, PLAYBOOK.format(args=args, message=MESSAGE), None, *extra)


@pytest.mark.parametrize("extra", [(), ("--check",)], ids=["run", "check mode"])
def test_warn_prints_a_warning_and_changes_nothing(tmp_path, extra):
    result = run_warning(tmp_path, FOLDED, *extra)
    output = result.stdout + result.stderr

    assert result.returncode == 0, output
    assert f"[WARNING]: {MESSAGE}\n" in result.stderr
    assert "ok=2    changed=0    unreachable=0    failed=0" in result.stdout


def test_warn_without_a_message_fails_the_task(tmp_path):
    result = run_warning(tmp_path, "        {}")

    assert result.returncode == 2
    assert "missing required arguments: msg" in result.stdout
    assert "[WARNING]: the dashboard" not in result.stdout + result.stderr
