"""Every role documents each of its defaults in meta/argument_specs.yml, with
the same default, a type and a description, and nothing else is there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import role_docs

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if (path / "tasks").is_dir())


def load_yaml(path: Path) -> dict:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream) or {}


def test_the_collection_has_the_expected_roles():
    assert ROLES == [
        "app", "database", "firewall", "healthcheck", "logrotate", "nginx_tls", "systemd", "venv",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = load_yaml(ROLES_DIR / role / "defaults" / "main.yml")
    options = load_yaml(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"][
        "main"
    ]["options"]

    assert sorted(options) == sorted(defaults)
    for name, spec in options.items():
        assert spec.get("default") == defaults[name], name
        assert spec.get("type"), f"{name} has no type"
        assert spec.get("description"), f"{name} has no description"


@pytest.mark.parametrize("role", ROLES)
def test_public_variables_carry_the_role_name(role):
    defaults = load_yaml(ROLES_DIR / role / "defaults" / "main.yml")
    assert [name for name in defaults if not name.startswith(f"{role}_")] == []


def test_readme_tables_are_those_the_specs_make():
    readme = (ROLES_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert role_docs.replace_in(readme) == readme, "run: python scripts/role_docs.py --write"


@pytest.mark.parametrize("role", ROLES)
def test_every_option_has_a_description_of_its_own(role):
    # A description copied from the option above is the usual slip.
    options = load_yaml(ROLES_DIR / role / "meta" / "argument_specs.yml")["argument_specs"][
        "main"
    ]["options"]
    seen: dict[str, str] = {}
    for name, spec in options.items():
        text = " ".join(str(spec["description"]).split())
        assert text not in seen, f"{name} repeats the description of {seen.get(text)}"
        seen[text] = name
