"""Run a playbook through ansible-playbook against localhost, with this
repository as the collection sentinel.dashboard, for the unit tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".ansible" / "collections"


def ansible_playbook() -> str:
    beside_python = Path(sys.executable).parent / "ansible-playbook"
    return shutil.which("ansible-playbook") or str(beside_python)


def run_playbook(folder: Path, playbook: str, extra_vars: dict | None = None,
                 *options: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    """Write PLAYBOOK into FOLDER and run it; extra_vars go in as a JSON file."""
    link = COLLECTIONS / "ansible_collections" / "sentinel" / "dashboard"
    if not link.exists():
        pytest.fail(f"{link} is missing: scripts/test (ensure_tools) links the collection there")
    path = folder / "playbook.yml"
    path.write_text(playbook, encoding="utf-8")
    command = [ansible_playbook(), "-i", "localhost,", str(path), *options]
    if extra_vars is not None:
        settings = folder / "extra-vars.json"
        settings.write_text(json.dumps(extra_vars), encoding="utf-8")
        command += ["-e", f"@{settings}"]
    return subprocess.run(command, capture_output=True, text=True,
                          env=ansible_environment(), timeout=timeout)


def ansible_environment() -> dict[str, str]:
    """The environment for ansible-playbook: this repository's collection and
    configuration, and output without colours."""
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
