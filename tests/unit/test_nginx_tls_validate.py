"""nginx_tls refuses bad settings on the controller, before any host changes:
site.yml runs the role's validate.yml first. Each case runs it through
ansible-playbook against localhost, which it never touches."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key, password: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def certificate(subject: str, key, issuer: str | None = None, issuer_key=None,
                days: tuple[int, int] = (-1, 90)) -> str:
    now = datetime.now(UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer or subject)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .sign(issuer_key or key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM).decode()


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
         "a unique name without ':'"),
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
