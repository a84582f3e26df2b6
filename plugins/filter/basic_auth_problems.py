"""Filter that says what is wrong with the nginx_tls role's basic authentication users."""

from __future__ import annotations

import re
from collections.abc import Mapping

DOCUMENTATION = r"""
name: basic_auth_problems
short_description: What is wrong with the basic authentication users
description:
  - Checks the nginx_tls role's C(nginx_tls_basic_auth_users) before they are
    written to nginx's htpasswd file as C(name:hash) lines, and returns one
    sentence per problem; an empty list means the users are good.
  - A name must be unique and hold no C(:), whitespace or control character,
    and must not start with C(#), which would make its line a comment.
  - Each user has either a non-empty C(password) or a C(password_hash) that
    nginx on Debian 12 can check (SHA-512, SHA-256 or bcrypt crypt, Apache
    MD5, or C({SHA})), never both.
  - No sentence quotes a password or a hash.
options:
  _input:
    description: The list of users, mappings with name and password or password_hash.
    type: raw
    required: true
"""

EXAMPLES = r"""
problems: "{{ nginx_tls_basic_auth_users | sentinel.dashboard.basic_auth_problems }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem; empty when there is none.
  type: list
  elements: str
"""

SETTING = "nginx_tls_basic_auth_users"
SHAPE = "a list of {name, password} or {name, password_hash} entries"
KEYS = ("name", "password", "password_hash")
_SALT = r"[./0-9A-Za-z]"
# nginx checks $apr1$ and {SHA} itself and hands the rest to crypt(3). On
# Debian 12 that is libxcrypt 4.4 (libcrypt1), which checks yescrypt (what
# Debian's mkpasswd makes) and bcrypt as well.
HASHES = {
    "$y$ (yescrypt)": rf"\$y\${_SALT}+\${_SALT}{{1,86}}\${_SALT}{{43}}",
    "$6$ (SHA-512 crypt)": rf"\$6\$(rounds=[0-9]+\$)?{_SALT}{{1,16}}\${_SALT}{{86}}",
    "$5$ (SHA-256 crypt)": rf"\$5\$(rounds=[0-9]+\$)?{_SALT}{{1,16}}\${_SALT}{{43}}",
    "$2y$ or $2b$ (bcrypt)": rf"\$2[by]\$(0[4-9]|[12][0-9]|3[01])\${_SALT}{{53}}",
    "$apr1$ (Apache MD5)": rf"\$apr1\${_SALT}{{1,8}}\${_SALT}{{22}}",
    "{SHA} (base64 SHA-1)": r"\{SHA\}[+/0-9A-Za-z]{27}=",
}
_HASH = re.compile("|".join(f"(?:{pattern})" for pattern in HASHES.values()))
# nginx splits each htpasswd line at ':' and cuts it at the line's end.
_MISREAD = re.compile(r"[:\s\x00-\x1f\x7f-\x9f]")


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def _name_problem(name) -> str | None:
    if name is None or name == "":
        return "needs a name"
    if isinstance(name, bool) or not isinstance(name, str | int):
        return f"name must be text, not {_kind(name)}"
    text = str(name)
    if text.startswith("#"):
        return f"name {text!r} starts with '#', which makes its htpasswd line a comment"
    if _MISREAD.search(text):
        return (f"name {text!r} must not hold ':', whitespace or control characters, "
                "which nginx would misread in the htpasswd file")
    return None


def _secret_problem(entry: Mapping) -> str | None:
    has_password = "password" in entry
    has_hash = "password_hash" in entry
    if has_password and has_hash:
        return "has both password and password_hash, so which one counts is unclear; give one"
    if not has_password and not has_hash:
        return "needs a non-empty password or a password_hash"
    if has_password:
        password = entry["password"]
        if password is None or str(password) == "":
            return "needs a non-empty password or a password_hash"
        if not isinstance(password, str | int | float) or isinstance(password, bool):
            return f"password must be text, not {_kind(password)}"
        return None
    password_hash = entry["password_hash"]
    if not isinstance(password_hash, str) or not _HASH.fullmatch(password_hash):
        return ("password_hash is not a hash nginx on Debian 12 can check; give a "
                f"{', '.join(HASHES)} hash, on one line")
    return None


def _entry_problems(entry) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"must be a mapping with name and password or password_hash, not {_kind(entry)}"]
    problems = []
    unknown = sorted(str(key) for key in entry if key not in KEYS)
    if unknown:
        problems.append(f"unknown key {', '.join(unknown)} (the keys are name, password "
                        "and password_hash)")
    for problem in (_name_problem(entry.get("name")), _secret_problem(entry)):
        if problem:
            problems.append(problem)
    return problems


def basic_auth_problems(users) -> list[str]:
    if isinstance(users, Mapping):
        return [f"{SETTING} must be {SHAPE}, not a mapping (put each entry in a list)"]
    if not isinstance(users, list | tuple):
        return [f"{SETTING} must be {SHAPE}, not {_kind(users)}"]
    problems = []
    seen = set()
    for index, entry in enumerate(users):
        where = f"{SETTING}[{index}]"
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str | int):
            where += f" ({entry['name']!r})"
        problems += [f"{where} {problem}" for problem in _entry_problems(entry)]
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if name is None or name == "":
            continue
        if str(name) in seen:
            problems.append(f"{where} has the same name as an entry before it; nginx would "
                            "only ever check the first")
        seen.add(str(name))
    return problems


class FilterModule:
    def filters(self):
        return {"basic_auth_problems": basic_auth_problems}
