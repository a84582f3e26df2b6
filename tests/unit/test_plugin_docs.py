"""Every plugin's documentation parses: ansible-doc shows it, and
ansible-lint, which reads it too, only logs an error when it does not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from playbooks import REPO, ansible_environment

PLUGINS = sorted(
    (folder.name.removesuffix("s") if folder.name == "modules" else folder.name, path.stem)
    for folder in (REPO / "plugins").iterdir()
    if folder.is_dir()
    for path in folder.glob("*.py")
    if path.stem != "__init__"
)


def ansible_doc() -> str:
    return shutil.which("ansible-doc") or str(Path(sys.executable).parent / "ansible-doc")


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=[f"{k}/{n}" for k, n in PLUGINS])
def test_the_documentation_parses(kind, name):
    # An action plugin is documented by the module of the same name.
    doc_kind = "module" if kind == "action" else kind
    result = subprocess.run(
        [ansible_doc(), "-t", doc_kind, "--json", f"sentinel.dashboard.{name}"],
        capture_output=True, text=True, env=ansible_environment(), timeout=120, check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "Unable to parse" not in result.stderr
    documented = json.loads(result.stdout)[f"sentinel.dashboard.{name}"]
    assert documented["doc"]["short_description"]
