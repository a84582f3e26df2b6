"""Every condition in the project's playbooks, roles and scenarios is a string.

An unquoted condition holding ": " (`- x is match('DOWN: y')`) is read by YAML as
a mapping; ansible-core 2.19 refuses it only when the task runs, which for a
Molecule verify can be many minutes into a run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from playbooks import REPO

CONDITION_KEYS = ("that", "when", "failed_when", "changed_when", "until")
FOLDERS = ("playbooks", "roles", "molecule", "inventory")


def yaml_files() -> list[Path]:
    return sorted(path for folder in FOLDERS for path in (REPO / folder).rglob("*.yml"))


def conditions_that_are_not_text(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CONDITION_KEYS:
                for condition in value if isinstance(value, list) else [value]:
                    if not isinstance(condition, (str, bool)):
                        yield condition
            yield from conditions_that_are_not_text(value)
    elif isinstance(node, list):
        for item in node:
            yield from conditions_that_are_not_text(item)


def test_there_are_files_to_read() -> None:
    assert len(yaml_files()) > 50


@pytest.mark.parametrize("path", yaml_files(), ids=lambda path: str(path.relative_to(REPO)))
def test_conditions_are_strings(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))

    assert list(conditions_that_are_not_text(documents)) == []


def test_a_condition_read_as_a_mapping_is_found() -> None:
    task = yaml.safe_load("- assert:\n    that:\n      - x is match('DOWN: y')\n")

    assert list(conditions_that_are_not_text(task)) == [{"x is match('DOWN": "y')"}]
