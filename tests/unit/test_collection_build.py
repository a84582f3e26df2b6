"""`ansible-galaxy collection build` makes a tarball with the roles, the
playbooks and the dashboard app, and without local clutter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_ONLY = {".venv", ".ansible", ".lab", ".artifacts", ".git", ".pytest_cache", ".ruff_cache"}


def galaxy_command() -> str:
    found = shutil.which("ansible-galaxy") or str(Path(sys.executable).parent / "ansible-galaxy")
    return found


def test_build_contains_roles_playbooks_and_app(tmp_path):
    result = subprocess.run(
        [galaxy_command(), "collection", "build", "--output-path", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    tarball = tmp_path / "sentinel-dashboard-0.1.0.tar.gz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())

    for role in ("venv", "app", "systemd", "nginx_tls", "firewall", "database"):
        assert f"roles/{role}/tasks/main.yml" in names
        assert f"roles/{role}/meta/argument_specs.yml" in names
    assert "playbooks/site.yml" in names
    # Every role's validate.yml includes it.
    assert "playbooks/tasks/check_role_settings.yml" in names
    assert "plugins/filter/candle_files.py" in names
    assert "plugins/action/warn.py" in names
    assert "dashboard_app/pyproject.toml" in names
    assert "dashboard_app/requirements.lock" in names
    assert "dashboard_app/src/sentinel_dashboard/page.py" in names
    assert "meta/runtime.yml" in names
    clutter = [
        name
        for name in names
        if name.split("/")[0] in LOCAL_ONLY
        or "__pycache__" in name
        or "/.venv" in name
    ]
    assert clutter == []
