"""Render the README's role variable tables from the roles' argument specs.

    python scripts/role_docs.py           print the tables
    python scripts/role_docs.py --write   replace them in README.md

tests/unit/test_role_specs.py fails when README.md and the specs disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ROLES = (
    "venv", "app", "systemd", "logrotate", "nginx_tls", "firewall", "healthcheck", "database",
)
BEGIN = "<!-- role variables: made by scripts/role_docs.py from meta/argument_specs.yml -->"
END = "<!-- end of role variables -->"


def shown_default(option: dict) -> str:
    if option.get("no_log"):
        return '`""` (set it)'
    value = option.get("default")
    if isinstance(value, list | dict):
        return "`" + yaml.safe_dump(value, default_flow_style=True, width=1000).strip() + "`"
    return '`""`' if value == "" else f"`{value}`"


def role_tables() -> str:
    parts = []
    for role in ROLES:
        spec_file = REPO / "roles" / role / "meta" / "argument_specs.yml"
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))["argument_specs"]["main"]
        parts += [f"### `{role}`", "", f"{spec['short_description']}.", ""]
        parts += ["| variable | default | what it is for |", "|---|---|---|"]
        for name, option in spec["options"].items():
            description = " ".join(str(option["description"]).split())
            parts.append(f"| `{name}` | {shown_default(option)} | {description} |")
        parts.append("")
    return "\n".join([BEGIN, "", *parts, END])


def replace_in(readme: str) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + role_tables() + readme[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if not args.write:
        print(role_tables())
        return 0
    readme = REPO / "README.md"
    readme.write_text(replace_in(readme.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
