"""The self-signed mode's certificates, made by the role's own tasks in a
folder of the test's: a private CA signs a server certificate for the host's
names, a run leaves a certificate with enough days left alone, and a run
within the renewal window replaces it (same CA, same key)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from playbooks import run_playbook

# The modules run with Debian's python3 and python3-cryptography, as on a
# Debian 12 host: the community.crypto that the pinned ansible bundles cannot
# make EC keys with the cryptography release in .venv (46.0.5 or later).
HOST_PYTHON = "/usr/bin/python3"
# meta end_play stops before the handlers, which would reload an nginx that
# is not there.
PLAYBOOK = """
- name: Make the self-signed certificates only
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the role's certificate tasks
      ansible.builtin.include_role:
        name: sentinel.dashboard.nginx_tls
        tasks_from: certificate_selfsigned.yml

    - name: Stop before the handlers
      ansible.builtin.meta: end_play
"""


def make(folder: Path, **settings) -> subprocess.CompletedProcess:
    (folder / "private").mkdir(mode=0o700, exist_ok=True)
    result = run_playbook(folder, PLAYBOOK, {
        "__nginx_tls_dir": str(folder),
        "__nginx_tls_private_dir": str(folder / "private"),
        "nginx_tls_server_names": ["dashboard.example.test", "192.0.2.10"],
        "ansible_python_interpreter": HOST_PYTHON,
        **settings,
    })
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_signs_a_server_certificate_for_the_names(tmp_path):
    make(tmp_path, nginx_tls_selfsigned_days=90)

    ca, server = load(tmp_path / "ca.pem"), load(tmp_path / "server.pem")
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert server.issuer == ca.subject
    assert sorted(names.get_values_for_type(x509.DNSName)) == [
        "dashboard.example.test", "localhost"]
    assert sorted(str(ip) for ip in names.get_values_for_type(x509.IPAddress)) == [
        "127.0.0.1", "192.0.2.10"]
    assert (server.not_valid_after_utc - server.not_valid_before_utc).days == 90
    assert ExtendedKeyUsageOID.SERVER_AUTH in server.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert oct((tmp_path / "private" / "server.key").stat().st_mode & 0o777) == "0o600"


def test_a_run_with_days_to_spare_keeps_the_certificate(tmp_path):
    make(tmp_path, nginx_tls_selfsigned_days=10, nginx_tls_selfsigned_renew_days=5)
    before = load(tmp_path / "server.pem").serial_number

    second = make(tmp_path, nginx_tls_selfsigned_days=10, nginx_tls_selfsigned_renew_days=5)

    assert load(tmp_path / "server.pem").serial_number == before
    assert "changed=0" in second.stdout


def test_a_run_within_the_renewal_window_replaces_the_certificate(tmp_path):
    make(tmp_path, nginx_tls_selfsigned_days=10, nginx_tls_selfsigned_renew_days=5)
    ca_before = (tmp_path / "ca.pem").read_bytes()
    key_before = (tmp_path / "private" / "server.key").read_bytes()
    before = load(tmp_path / "server.pem")

    # Ten days' certificate, renewed when fewer than eleven are left: now.
    make(tmp_path, nginx_tls_selfsigned_days=30, nginx_tls_selfsigned_renew_days=11)

    after = load(tmp_path / "server.pem")
    assert after.serial_number != before.serial_number
    assert (after.not_valid_after_utc - after.not_valid_before_utc).days == 30
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    assert (tmp_path / "private" / "server.key").read_bytes() == key_before
