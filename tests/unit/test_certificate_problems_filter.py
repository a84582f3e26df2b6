from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from certificates import certificate, key_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

FILTER_PATH = (
    Path(__file__).resolve().parents[2] / "plugins" / "filter" / "certificate_problems.py"
)
spec = importlib.util.spec_from_file_location("certificate_problems", FILTER_PATH)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

SERVER_KEY = ec.generate_private_key(ec.SECP256R1())
CA_KEY = ec.generate_private_key(ec.SECP256R1())
SERVER_NAMES = ("dashboard.example.test", "*.apps.example.test", "192.0.2.10", "2001:db8::10")


SERVER = certificate("dashboard.example.test", SERVER_KEY, "Example CA", CA_KEY,
                     names=SERVER_NAMES)
CA = certificate("Example CA", CA_KEY)
GOOD_CHAIN = SERVER + CA
GOOD_KEY = key_pem(SERVER_KEY)


def problems(chain=GOOD_CHAIN, key=GOOD_KEY, names=()):
    return module.certificate_problems(chain, key, names)


def test_a_good_chain_and_key_have_no_problems():
    assert problems(names=["dashboard.example.test", "192.0.2.10"]) == []


def test_an_rsa_key_and_a_lone_certificate_pass():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    assert problems(certificate("solo.example.test", rsa_key), key_pem(rsa_key)) == []


@pytest.mark.parametrize(
    ("chain", "key", "expected"),
    [
        ("", "", "nginx_tls_certificate_mode provided needs nginx_tls_certificate_chain (PEM, "
         "server certificate first) and nginx_tls_private_key (PEM)."),
        (GOOD_CHAIN, " \n", "nginx_tls_certificate_mode provided needs nginx_tls_private_key"),
        ("just text", GOOD_KEY, "nginx_tls_certificate_chain holds no PEM certificate."),
    ],
)
def test_missing_parts_are_named(chain, key, expected):
    assert any(expected in problem for problem in problems(chain, key))


def test_a_key_of_another_certificate_names_the_certificate():
    other = key_pem(ec.generate_private_key(ec.SECP256R1()))

    assert problems(key=other) == [
        "The private key does not match the certificate for dashboard.example.test: "
        "nginx_tls_private_key belongs to another certificate."
    ]


def test_a_reversed_chain_says_the_key_s_certificate_comes_first():
    assert problems(CA + SERVER) == [
        "The chain is out of order: nginx_tls_private_key belongs to dashboard.example.test, "
        "certificate 2 of nginx_tls_certificate_chain, so that is the server certificate and "
        "has to come first, then each issuer after the certificate it signed."
    ]


def test_an_issuer_that_did_not_sign_the_one_before_is_out_of_order():
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    chain = SERVER + certificate("Other CA", stranger_key)

    assert problems(chain) == [
        "The chain is out of order: dashboard.example.test is followed by Other CA, which "
        "did not issue it; put the server certificate first, then each issuer after the "
        "certificate it signed."
    ]


def test_an_encrypted_key_is_refused():
    assert problems(key=key_pem(SERVER_KEY, b"passphrase")) == [
        "nginx_tls_private_key is encrypted; nginx cannot ask for its passphrase. Give it "
        "unencrypted and keep it in Ansible Vault."
    ]


def test_a_traditional_encrypted_key_is_refused():
    locked = SERVER_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()

    assert problems(key=locked)[0].startswith("nginx_tls_private_key is encrypted")


@pytest.mark.parametrize(
    ("key", "found"),
    [
        ("hunter2", ""),
        ("-----BEGIN PRIVATE KEY-----\naHVudGVyMg==\n-----END PRIVATE KEY-----\n",
         " (it holds a BEGIN PRIVATE KEY block)"),
        (CA, " (it holds a BEGIN CERTIFICATE block)"),
    ],
)
def test_an_unreadable_key_is_refused_without_quoting_it(key, found):
    [problem] = problems(key=key)

    assert problem.startswith(
        f"nginx_tls_private_key is not a readable unencrypted PEM private key{found};"
    )
    assert "hunter2" not in problem
    assert "aHVudGVyMg" not in problem


def test_a_private_key_in_the_chain_is_refused_without_quoting_it():
    found = problems(SERVER + GOOD_KEY + CA)

    assert found == [
        "nginx_tls_certificate_chain holds a private key (a BEGIN PRIVATE KEY block), which "
        "would be installed readable by every user of the host: give the chain's "
        "certificates only, and the key in nginx_tls_private_key alone."
    ]
    assert GOOD_KEY.splitlines()[1] not in " ".join(found)


def test_another_block_in_the_chain_is_refused():
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
        .sign(SERVER_KEY, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM).decode()
    )

    assert problems(GOOD_CHAIN + request) == [
        "nginx_tls_certificate_chain holds a BEGIN CERTIFICATE REQUEST block, which is not a "
        "certificate; give the chain's certificates only."
    ]


def test_a_damaged_certificate_is_named_by_its_place():
    damaged = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"

    assert problems(SERVER + damaged) == [
        "Certificate 2 of nginx_tls_certificate_chain is not a readable PEM certificate."
    ]


def test_a_certificate_cut_short_is_refused():
    cut = SERVER + CA.split("-----END")[0]

    assert ("nginx_tls_certificate_chain has a BEGIN CERTIFICATE line without its END "
            "CERTIFICATE line.") in problems(cut)


def test_an_expired_issuer_is_named_with_its_date():
    old_ca = certificate("Example CA", CA_KEY, days=(-400, -10))
    ended = (datetime.now(UTC) - timedelta(days=10)).strftime("%Y-%m-%d")

    [problem] = problems(SERVER + old_ca)

    assert problem.startswith(f"The certificate chain has expired: Example CA expired {ended} ")
    assert problem.endswith(" UTC.")


def test_a_certificate_not_valid_yet_is_refused():
    early = certificate("dashboard.example.test", SERVER_KEY, "Example CA", CA_KEY,
                        days=(5, 90))
    starts = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d")

    [problem] = problems(early + CA)

    assert problem.startswith(
        f"A certificate of the chain is not valid yet: dashboard.example.test from {starts} "
    )
    assert problem.endswith("browsers would refuse it.")


@pytest.mark.parametrize(
    "name",
    ["dashboard.example.test", "DASHBOARD.Example.TEST", "dashboard.example.test.",
     "a.apps.example.test", "*.apps.example.test", "192.0.2.10", "2001:DB8:0:0::10",
     "[2001:db8::10]"],
)
def test_names_the_certificate_covers_pass(name):
    assert problems(names=[name]) == []


@pytest.mark.parametrize(
    "name",
    ["a.b.apps.example.test", "apps.example.test", ".apps.example.test", "example.test",
     "other.example.test", "192.0.2.11", "2001:db8::11", "dashboard.example.test.evil.test"],
)
def test_names_the_certificate_does_not_cover_are_listed(name):
    assert problems(names=["dashboard.example.test", name]) == [
        f"The server certificate dashboard.example.test does not cover {name} of "
        "nginx_tls_server_names (it names dashboard.example.test, *.apps.example.test, "
        "192.0.2.10, 2001:db8::10, and browsers ignore the common name): browsers would "
        "refuse it for those names."
    ]


def test_a_certificate_without_alt_names_covers_no_name():
    [problem] = problems(CA, key_pem(CA_KEY), ["Example CA"])

    assert "does not cover Example CA of nginx_tls_server_names (it has no subjectAltName" \
        in problem


def test_names_are_checked_against_the_key_s_certificate_when_out_of_order():
    found = problems(CA + SERVER, names=["dashboard.example.test"])

    assert len(found) == 1
    assert found[0].startswith("The chain is out of order: nginx_tls_private_key belongs to")


def test_one_name_given_as_a_string_is_one_name():
    assert problems(names="dashboard.example.test") == []
