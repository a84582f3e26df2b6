from __future__ import annotations

import base64
import hashlib
import importlib.util
from pathlib import Path

import pytest

FILTER_PATH = (
    Path(__file__).resolve().parents[2] / "plugins" / "filter" / "basic_auth_problems.py"
)
spec = importlib.util.spec_from_file_location("basic_auth_problems", FILTER_PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

# Hashes of the throwaway word "pw", made with openssl passwd and, for
# bcrypt, Debian 12's crypt(3), which also checked them.
SHA512 = ("$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80"
          "bAip/08R2BPH2xk/")
SHA512_ROUNDS = SHA512.replace("$6$", "$6$rounds=5000$", 1)
SHA256 = "$5$saltsalt$0rl.MZtoLLPP3X0Rdl8riRnphIcAXJY27/aOAyK2hB5"
BCRYPT = "$2b$05$abcdefghijklmnopqrstuuHIrMEWpUCQe2YqFR3sXwQ75u4od..9q"
APR1 = "$apr1$abcdefgh$5VEbMkemELfbhC5ck.U.z1"
# Debian 12's mkpasswd, its default method.
YESCRYPT = "$y$j9T$bxmpH20WWFRSut3Zu0SJP/$1bD3lvp/RgtrgQLLR8pO2OV9mAGOqOdy/oBol6kAyFA"
SHA1 = "{SHA}" + base64.b64encode(hashlib.sha1(b"pw").digest()).decode()  # noqa: S324
HASH_ADVICE = ("password_hash is not a hash nginx on Debian 12 can check; give a $y$ (yescrypt), "
               "$6$ (SHA-512 "
               "crypt), $5$ (SHA-256 crypt), $2y$ or $2b$ (bcrypt), $apr1$ (Apache MD5), "
               "{SHA} (base64 SHA-1) hash, on one line")


def problems(users):
    return module.basic_auth_problems(users)


@pytest.mark.parametrize(
    "users",
    [
        [],
        [{"name": "ops", "password": "correct horse"}],
        [{"name": "ops", "password": 1234}, {"name": 2024, "password": "x"}],
        [{"name": f"user{number}", "password_hash": password_hash} for number, password_hash
         in enumerate([YESCRYPT, SHA512, SHA512_ROUNDS, SHA256, BCRYPT,
                       BCRYPT.replace("$2b$", "$2y$"), APR1, SHA1])],
        [{"name": "a#b.c-d_e@example.test", "password": "x"}],
    ],
)
def test_good_users_have_no_problems(users):
    assert problems(users) == []


@pytest.mark.parametrize(
    ("users", "kind"),
    [("ops:pw", "a string"), ({"name": "ops", "password": "pw"},
                              "a mapping (put each entry in a list)"),
     (None, "null"), (3, "a number")],
)
def test_something_other_than_a_list_is_refused(users, kind):
    assert problems(users) == [
        "nginx_tls_basic_auth_users must be a list of {name, password} or "
        f"{{name, password_hash}} entries, not {kind}"
    ]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("ops", "nginx_tls_basic_auth_users[0] must be a mapping with name and password or "
         "password_hash, not a string"),
        ({"password": "x"}, "nginx_tls_basic_auth_users[0] needs a name"),
        ({"name": ["ops"], "password": "x"},
         "nginx_tls_basic_auth_users[0] name must be text, not a list"),
        ({"name": "#ops", "password": "x"}, "nginx_tls_basic_auth_users[0] ('#ops') name "
         "'#ops' starts with '#', which makes its htpasswd line a comment"),
        ({"name": "ops"}, "nginx_tls_basic_auth_users[0] ('ops') needs a non-empty password "
         "or a password_hash"),
        ({"name": "ops", "password": ""}, "nginx_tls_basic_auth_users[0] ('ops') needs a "
         "non-empty password or a password_hash"),
        ({"name": "ops", "password": None}, "nginx_tls_basic_auth_users[0] ('ops') needs a "
         "non-empty password or a password_hash"),
        ({"name": "ops", "password": {"vault": "x"}},
         "nginx_tls_basic_auth_users[0] ('ops') password must be text, not a mapping"),
        ({"name": "ops", "password": "x", "password_hash": SHA512},
         "nginx_tls_basic_auth_users[0] ('ops') has both password and password_hash, so "
         "which one counts is unclear; give one"),
        ({"name": "ops", "passwd": "x"}, "nginx_tls_basic_auth_users[0] ('ops') unknown key "
         "passwd (the keys are name, password and password_hash)"),
    ],
)
def test_a_bad_entry_is_named_with_its_problem(entry, expected):
    assert expected in problems([entry])


@pytest.mark.parametrize(
    "name",
    ["a:b", "a b", "ops\n", "ops\r", "tab\there", "nul\x00", "del\x7f", "nbsp\u00a0"],
)
def test_names_nginx_would_misread_are_refused(name):
    assert problems([{"name": name, "password": "x"}]) == [
        f"nginx_tls_basic_auth_users[0] ({name!r}) name {name!r} must not hold ':', "
        "whitespace or control characters, which nginx would misread in the htpasswd file"
    ]


@pytest.mark.parametrize(
    "password_hash",
    [
        "pw", "", None, 5, SHA512 + "\n", SHA512 + ":", " " + SHA256, SHA512[:-1],
        BCRYPT.replace("$2b$", "$2a$"), BCRYPT.replace("$05$", "$99$"), SHA1[:-1],
        "{SSHA}" + SHA1[5:], "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "$y$j9T$salt$hash",
        "{PLAIN}pw",
    ],
)
def test_hashes_nginx_cannot_check_are_refused_without_quoting_them(password_hash):
    found = problems([{"name": "ops", "password_hash": password_hash}])

    assert found == [f"nginx_tls_basic_auth_users[0] ('ops') {HASH_ADVICE}"]


def test_a_name_given_twice_is_refused():
    users = [{"name": "ops", "password": "x"}, {"name": "audit", "password": "y"},
             {"name": "ops", "password_hash": SHA512}]

    assert problems(users) == [
        "nginx_tls_basic_auth_users[2] ('ops') has the same name as an entry before it; "
        "nginx would only ever check the first"
    ]


def test_every_problem_of_every_entry_is_listed():
    users = [{"name": "#a"}, "b", {"name": "ok", "password": "x"}]

    assert len(problems(users)) == 3
