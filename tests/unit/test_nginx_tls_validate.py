"""nginx_tls refuses bad settings on the controller, before any host changes:
site.yml runs the role's validate.yml first. Each case runs it through
ansible-playbook against localhost, which it never touches."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from certificates import certificate, key_pem, new_key

from playbooks import run_playbook

# A setting under test, not an address anything here binds to.
EVERY_ADDRESS = "0.0.0.0"  # noqa: S104
PLAYBOOK = """
- name: Check the nginx_tls settings only
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the role's checks
      ansible.builtin.include_role:
        name: sentinel.dashboard.nginx_tls
        tasks_from: validate.yml
"""


def key_body(pem: str) -> list[str]:
    """The base64 lines of a PEM block, which no output may show."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def said(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + result.stderr).split())


def run_checks(tmp_path: Path, settings: dict) -> subprocess.CompletedProcess:
    return run_playbook(tmp_path, PLAYBOOK, settings)


def provided(chain: list[str], key) -> dict:
    return {
        "nginx_tls_certificate_mode": "provided",
        "nginx_tls_certificate_chain": "".join(chain),
        "nginx_tls_private_key": key if isinstance(key, str) else key_pem(key),
    }


def test_a_matching_chain_and_key_pass(tmp_path):
    ca_key, server_key = new_key(), new_key()
    chain = [certificate("dashboard.example.test", server_key, "Example CA", ca_key),
             certificate("Example CA", ca_key)]

    result = run_checks(tmp_path, provided(chain, server_key))

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_key_of_another_certificate_is_refused(tmp_path):
    server_key = new_key()
    chain = [certificate("dashboard.example.test", server_key)]

    result = run_checks(tmp_path, provided(chain, new_key()))

    assert result.returncode != 0
    assert (
        "The private key does not match the certificate for dashboard.example.test"
        in result.stdout
    )


def test_an_expired_certificate_in_the_chain_is_refused(tmp_path):
    ca_key, server_key = new_key(), new_key()
    chain = [certificate("dashboard.example.test", server_key, "Old CA", ca_key),
             certificate("Old CA", ca_key, days=(-400, -10))]

    result = run_checks(tmp_path, provided(chain, server_key))

    assert result.returncode != 0
    assert "The certificate chain has expired: Old CA expired" in result.stdout


def test_a_certificate_not_valid_yet_is_refused(tmp_path):
    server_key = new_key()
    chain = [certificate("dashboard.example.test", server_key, days=(5, 90))]

    result = run_checks(tmp_path, provided(chain, server_key))

    assert result.returncode != 0
    assert "A certificate of the chain is not valid yet" in " ".join(result.stdout.split())


def test_a_chain_with_the_issuer_first_is_refused(tmp_path):
    ca_key, server_key = new_key(), new_key()
    chain = [certificate("Example CA", ca_key),
             certificate("dashboard.example.test", server_key, "Example CA", ca_key)]

    result = run_checks(tmp_path, provided(chain, ca_key))

    assert result.returncode != 0
    assert "The chain is out of order" in result.stdout


def test_a_key_with_a_passphrase_is_refused_without_showing_it(tmp_path):
    server_key = new_key()
    locked = key_pem(server_key, b"passphrase")
    chain = [certificate("dashboard.example.test", server_key)]

    result = run_checks(tmp_path, provided(chain, locked))

    assert result.returncode != 0
    assert "nginx_tls_private_key is encrypted" in " ".join(result.stdout.split())
    assert locked.splitlines()[1] not in result.stdout + result.stderr


def test_a_reversed_chain_says_the_server_certificate_comes_first(tmp_path):
    ca_key, server_key = new_key(), new_key()
    chain = [certificate("Example CA", ca_key),
             certificate("dashboard.example.test", server_key, "Example CA", ca_key)]

    result = run_checks(tmp_path, provided(chain, server_key))

    assert result.returncode != 0
    assert (
        "The chain is out of order: nginx_tls_private_key belongs to dashboard.example.test, "
        "certificate 2 of nginx_tls_certificate_chain, so that is the server certificate and "
        "has to come first"
    ) in said(result)
    assert "does not match" not in said(result)


@pytest.mark.parametrize(
    ("key_text", "found"),
    [
        ("not-a-key-7f3a9c", ""),
        ("-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LTdmM2E5Yw==\n-----END PRIVATE KEY-----\n",
         " (it holds a BEGIN PRIVATE KEY block)"),
        (certificate("dashboard.example.test", new_key()),
         " (it holds a BEGIN CERTIFICATE block)"),
    ],
    ids=["text", "broken-pem", "a-certificate"],
)
def test_an_unreadable_key_is_named_without_showing_it(tmp_path, key_text, found):
    server_key = new_key()
    chain = [certificate("dashboard.example.test", server_key)]

    result = run_checks(tmp_path, provided(chain, key_text))

    assert result.returncode != 0
    assert (
        f"nginx_tls_private_key is not a readable unencrypted PEM private key{found};"
    ) in said(result)
    for line in key_body(key_text) or [key_text]:
        assert line not in result.stdout + result.stderr


def test_a_private_key_inside_the_chain_is_refused_without_showing_it(tmp_path):
    server_key = new_key()
    pasted = key_pem(server_key)
    chain = [certificate("dashboard.example.test", server_key), pasted]

    result = run_checks(tmp_path, provided(chain, server_key))

    assert result.returncode != 0
    assert "nginx_tls_certificate_chain holds a private key (a BEGIN PRIVATE KEY block)" \
        in said(result)
    assert "Traceback" not in result.stdout + result.stderr
    for line in key_body(pasted):
        assert line not in result.stdout + result.stderr


def test_a_refusal_is_readable_and_never_shows_the_key_even_verbose(tmp_path):
    server_key, other_key = new_key(), new_key()
    chain = [certificate("dashboard.example.test", server_key)]
    settings = provided(chain, other_key)

    result = run_playbook(tmp_path, PLAYBOOK, settings, "-vvv")

    assert result.returncode != 0
    assert "The private key does not match the certificate for" in said(result)
    assert "Nothing was changed." in said(result)
    for line in key_body(settings["nginx_tls_private_key"]):
        assert line not in result.stdout + result.stderr


COVERING_NAMES = ("dashboard.example.test", "*.example.test", "192.0.2.10", "2001:db8::10")


@pytest.mark.parametrize(
    "names",
    [
        ["dashboard.example.test"],
        ["Dashboard.EXAMPLE.test", "a.example.test"],
        ["192.0.2.10", "2001:DB8:0::10"],
        ["*.example.test"],
    ],
)
def test_server_names_the_certificate_covers_pass(tmp_path, names):
    server_key = new_key()
    chain = [certificate("dashboard.example.test", server_key, names=COVERING_NAMES)]
    settings = {**provided(chain, server_key), "nginx_tls_server_names": names}

    result = run_checks(tmp_path, settings)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("names", "uncovered"),
    [
        (["dashboard.example.test", "a.b.example.test"], "a.b.example.test"),
        (["example.test"], "example.test"),
        (["192.0.2.11", "other.test"], "192.0.2.11, other.test"),
    ],
)
def test_server_names_the_certificate_does_not_cover_are_refused(tmp_path, names, uncovered):
    server_key = new_key()
    chain = [certificate("dashboard.example.test", server_key, names=COVERING_NAMES)]
    settings = {**provided(chain, server_key), "nginx_tls_server_names": names}

    result = run_checks(tmp_path, settings)

    assert result.returncode != 0
    assert (
        f"The server certificate dashboard.example.test does not cover {uncovered} of "
        "nginx_tls_server_names"
    ) in said(result)


def test_provided_mode_without_a_certificate_is_refused(tmp_path):
    result = run_checks(tmp_path, {"nginx_tls_certificate_mode": "provided"})

    assert result.returncode != 0
    assert "provided needs nginx_tls_certificate_chain" in result.stdout


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"nginx_tls_certificate_mode": "letsencrypt"}, "must be selfsigned, provided or acme"),
        ({"nginx_tls_selfsigned_days": 400}, "2 to 366, Mozilla's ceiling"),
        ({"nginx_tls_base_path": "../etc"}, "a plain URL path"),
        ({"nginx_tls_websocket_timeout": "forever"}, "an nginx time like 24h"),
        ({"nginx_tls_https_port": 70000}, "the ports numbers from 1 to 65535"),
        ({"nginx_tls_certificate_mode": "acme", "nginx_tls_acme_email": "ops@example.test"},
         "ACME needs the public names"),
        ({"nginx_tls_basic_auth_users": [{"name": "a:b", "password": "x"}]},
         "name 'a:b' must not hold ':', whitespace or control characters"),
        ({"nginx_tls_basic_auth_users": [{"name": "ops"}]}, "a non-empty password"),
        ({"systemd_base_url_path": "dashboard", "nginx_tls_base_path": "other"},
         "follow systemd_base_url_path and systemd_max_upload_mb"),
        ({"systemd_listen_address": EVERY_ADDRESS}, "would be reachable around nginx"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(tmp_path, settings, message):
    result = run_checks(tmp_path, settings)

    assert result.returncode != 0
    assert message in " ".join(result.stdout.split())


def test_streamlit_on_every_address_passes_in_direct_mode(tmp_path):
    settings = {"systemd_listen_address": EVERY_ADDRESS, "firewall_mode": "direct"}

    result = run_checks(tmp_path, settings)

    assert result.returncode == 0, result.stdout


# A hash of the throwaway word "pw" (openssl passwd -6).
SHA512_HASH = ("$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkY"
               "H9B80bAip/08R2BPH2xk/")


def test_users_with_a_password_or_a_hash_pass(tmp_path):
    users = [{"name": "ops", "password": "correct horse"},
             {"name": "audit", "password_hash": SHA512_HASH}]

    result = run_checks(tmp_path, {"nginx_tls_basic_auth_users": users})

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ([{"name": "#ops", "password": "x"}],
         "nginx_tls_basic_auth_users[0] ('#ops') name '#ops' starts with '#', which makes its "
         "htpasswd line a comment. Nothing was changed."),
        ([{"name": "ops", "password_hash": "hunter2"}],
         "nginx_tls_basic_auth_users[0] ('ops') password_hash is not a hash nginx on Debian 12 "
         "can check; give a $y$ (yescrypt), $6$ (SHA-512 crypt), $5$ (SHA-256 crypt), $2y$ "
         "or $2b$ (bcrypt), "
         "$apr1$ (Apache MD5), {SHA} (base64 SHA-1) hash, on one line"),
        ([{"name": "ops", "password_hash": SHA512_HASH + "\nintruder:" + SHA512_HASH}],
         "nginx_tls_basic_auth_users[0] ('ops') password_hash is not a hash nginx"),
        ([{"name": "ops", "password": "hunter2", "password_hash": SHA512_HASH}],
         "nginx_tls_basic_auth_users[0] ('ops') has both password and password_hash"),
        ("ops:hunter2",
         "nginx_tls_basic_auth_users must be a list of {name, password} or "
         "{name, password_hash} entries, not a string"),
        ({"name": "ops", "password": "hunter2"},
         "nginx_tls_basic_auth_users must be a list of {name, password} or "
         "{name, password_hash} entries, not a mapping (put each entry in a list)"),
    ],
    ids=["comment-name", "plain-hash", "two-lines-hash", "both", "string", "mapping"],
)
def test_bad_users_are_refused_without_showing_secrets(tmp_path, users, message):
    result = run_checks(tmp_path, {"nginx_tls_basic_auth_users": users})

    assert result.returncode != 0
    assert message in said(result)
    assert "hunter2" not in result.stdout + result.stderr
    assert SHA512_HASH[12:] not in result.stdout + result.stderr
