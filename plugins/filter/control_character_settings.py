"""Filter that names the settings holding a line break or another control character."""

from __future__ import annotations

import unicodedata

DOCUMENTATION = r"""
name: control_character_settings
short_description: The settings whose values hold control characters
description:
  - Settings end up in line-oriented files (a systemd unit, an environment
    file, nginx's configuration), where a line break in a value starts a line
    of the value's own choosing. This names each setting whose value, or any
    string inside it (list items, mapping keys and values), holds a control
    character, so that the run can refuse it before any host changes.
  - The values themselves are never returned, so secrets stay out of messages.
options:
  _input:
    description: The names of the settings.
    type: list
    elements: str
    required: true
  values:
    description: Their values, in the same order.
    type: list
    required: true
  multi_line:
    description: Settings that may hold line breaks and tabs (PEM text).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
refused: >-
  {{ names | sentinel.dashboard.control_character_settings(
       query('ansible.builtin.vars', *names)) }}
"""

RETURN = r"""
_value:
  description: The names of the settings that hold a control character.
  type: list
  elements: str
"""

TEXT_WHITESPACE = {"\n", "\r", "\t"}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _has_control(text: str, allowed: set[str]) -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def control_character_settings(names, values, multi_line=()) -> list[str]:
    multi = set(multi_line or ())
    return [
        name for name, value in zip(names, values, strict=True)
        if any(_has_control(text, TEXT_WHITESPACE if name in multi else set())
               for text in _strings(value))
    ]


class FilterModule:
    def filters(self):
        return {"control_character_settings": control_character_settings}
