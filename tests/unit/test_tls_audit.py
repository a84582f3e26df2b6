"""tls_audit.py passes a server set up as Mozilla's intermediate profile asks,
and names what is wrong with one that is not; against local HTTPS servers."""

from __future__ import annotations

import ipaddress
import json
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "tools"))
import tls_audit

INTERMEDIATE_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
])


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A CA and a 90-day ECDSA server certificate for 127.0.0.1 that it signed."""
    folder = tmp_path_factory.mktemp("pki")
    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                     False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=20))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        # Path validation as strict as a browser's wants the issuer's key named.
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


@contextmanager
def https_server(pki: dict[str, Path], hsts: str | None,
                 lowest: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            if hsts:
                self.send_header("Strict-Transport-Security", hsts)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = lowest
    old = lowest < ssl.TLSVersion.TLSv1_2
    # TLS 1.0 has no GCM ciphers, and OpenSSL 3 allows it only at level 0.
    context.set_ciphers(INTERMEDIATE_CIPHERS + (":ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0" if old
                                                else ""))
    context.set_ecdh_curve("prime256v1")
    context.load_cert_chain(pki["cert"], pki["key"])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    # The scan's refused handshakes are not errors of the test.
    httpd.handle_error = lambda request, address: None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def audit(argv: list[str], capsys) -> tuple[int, dict | None, str]:
    code = tls_audit.main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_a_compliant_server_passes(pki, capsys):
    with https_server(pki, hsts="max-age=63072000") as target:
        code, report, error = audit([target, "--ca-file", str(pki["ca"])], capsys)

    assert code == 0, error
    assert report["compliant"] is True
    assert report["protocols"]["TLS 1.0"] is False
    assert report["protocols"]["TLS 1.2"] is True
    assert report["hsts_max_age"] == 63072000


def test_an_unknown_ca_is_not_compliant(pki, capsys):
    with https_server(pki, hsts="max-age=63072000") as target:
        code, report, error = audit([target], capsys)

    assert code == 1
    assert "certificate_path_validation" in report["issues"]
    assert "not compliant: certificate_path_validation" in error


@pytest.mark.parametrize(
    ("hsts", "message"),
    [(None, "sends no Strict-Transport-Security header"),
     ("max-age=86400", "HSTS max-age 86400 is below 63072000")],
)
def test_hsts_missing_or_short_fails(pki, capsys, hsts, message):
    with https_server(pki, hsts=hsts) as target:
        code, report, error = audit([target, "--ca-file", str(pki["ca"])], capsys)

    assert code == 1
    assert report["compliant"] is True
    assert message in error


def test_a_server_that_takes_tls_1_0_fails(pki, capsys):
    with https_server(pki, hsts="max-age=63072000", lowest=ssl.TLSVersion.TLSv1) as target:
        code, report, error = audit([target, "--ca-file", str(pki["ca"])], capsys)

    assert code == 1
    assert report["protocols"]["TLS 1.0"] is True
    assert "accepts TLS 1.0" in error


def test_no_server_exits_2(capsys):
    code, report, error = audit(["127.0.0.1:1"], capsys)

    assert (code, report) == (2, None)
    assert "could not connect to 127.0.0.1:1" in error
