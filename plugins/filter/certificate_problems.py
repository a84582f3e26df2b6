"""Filter that says what is wrong with a provided certificate chain and its key."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from itertools import pairwise

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
except ImportError:
    x509 = None

DOCUMENTATION = r"""
name: certificate_problems
short_description: What is wrong with a provided certificate chain and private key
description:
  - Checks the nginx_tls role's C(nginx_tls_certificate_chain) and
    C(nginx_tls_private_key) on the controller, and returns one sentence per
    problem; an empty list means nginx can serve them.
  - It refuses a missing chain or key, a chain block that is not a
    certificate (a private key pasted into the chain above all, since the
    chain is installed world-readable), a key that is encrypted or not a
    readable PEM private key, a key that belongs to no certificate of the
    chain or to one other than the first, an expired or not yet valid
    certificate, a chain out of order, and server names the server
    certificate's subjectAltName does not cover.
  - No sentence ever quotes the private key.
  - Needs the Python library cryptography on the controller, which
    community.crypto needs as well.
options:
  _input:
    description: The chain in PEM, server certificate first, then each issuer.
    type: str
    required: true
  private_key:
    description: The unencrypted private key in PEM.
    type: str
    required: true
  server_names:
    description: >-
      Names the server answers to. Each must be covered by the server
      certificate: a DNS name case-insensitively, or by a wildcard one label
      deep (C(*.example.test) covers C(a.example.test) only); an IP address
      as an address.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
problems: "{{ nginx_tls_certificate_chain | sentinel.dashboard.certificate_problems(
  nginx_tls_private_key, ['dashboard.example.test']) }}"
"""

RETURN = r"""
_value:
  description: One sentence per problem; empty when there is none.
  type: list
  elements: str
"""

_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]*)-----")
_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]*)-----.*?-----END \1-----", re.DOTALL)
_ORDER = "put the server certificate first, then each issuer after the certificate it signed"


def _name(certificate) -> str:
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common_names:
        return str(common_names[0].value)
    alt_names = _alt_names(certificate)
    return ", ".join(str(name) for name in alt_names) or "(a certificate without a name)"


def _alt_names(certificate) -> list:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [*extension.value.get_values_for_type(x509.DNSName),
            *extension.value.get_values_for_type(x509.IPAddress)]


def _utc(certificate, field: str) -> datetime:
    # cryptography before 42 has only the naive UTC fields.
    aware = getattr(certificate, f"{field}_utc", None)
    return aware if aware is not None else getattr(certificate, field).replace(tzinfo=UTC)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_chain(chain: str, problems: list[str]) -> list:
    for label in _BEGIN.findall(chain):
        if "PRIVATE KEY" in label:
            problems.append(
                f"nginx_tls_certificate_chain holds a private key (a BEGIN {label} block), "
                "which would be installed readable by every user of the host: give the "
                "chain's certificates only, and the key in nginx_tls_private_key alone."
            )
        elif label != "CERTIFICATE":
            problems.append(
                f"nginx_tls_certificate_chain holds a BEGIN {label} block, which is not a "
                "certificate; give the chain's certificates only."
            )
    blocks = [block for block in _BLOCK.finditer(chain) if block.group(1) == "CERTIFICATE"]
    if len(blocks) < _BEGIN.findall(chain).count("CERTIFICATE"):
        problems.append("nginx_tls_certificate_chain has a BEGIN CERTIFICATE line without "
                        "its END CERTIFICATE line.")
    certificates = []
    for number, block in enumerate(blocks, start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block.group(0).encode()))
        except ValueError:
            problems.append(f"Certificate {number} of nginx_tls_certificate_chain is not a "
                            "readable PEM certificate.")
    if not blocks:
        problems.append("nginx_tls_certificate_chain holds no PEM certificate.")
    return certificates


def _read_key(key_text: str, problems: list[str]):
    encrypted = (
        "nginx_tls_private_key is encrypted; nginx cannot ask for its passphrase. Give it "
        "unencrypted and keep it in Ansible Vault."
    )
    if "ENCRYPTED" in key_text:
        problems.append(encrypted)
        return None
    try:
        return serialization.load_pem_private_key(key_text.encode(), password=None)
    except TypeError:
        problems.append(encrypted)
    # Broad on purpose: whatever went wrong, the message must not quote the key.
    except Exception:
        labels = _BEGIN.findall(key_text)
        found = f" (it holds a BEGIN {labels[0]} block)" if labels else ""
        problems.append(
            f"nginx_tls_private_key is not a readable unencrypted PEM private key{found}; "
            "give the key from its -----BEGIN ... PRIVATE KEY----- line to its END line."
        )
    return None


def _server_certificate(certificates: list, key, problems: list[str]):
    """The certificate the key belongs to, or the first when the key fits none."""
    if key is None:
        return certificates[0]
    public = _public(key.public_key())
    for number, certificate in enumerate(certificates, start=1):
        if _public(certificate.public_key()) != public:
            continue
        if number > 1:
            problems.append(
                f"The chain is out of order: nginx_tls_private_key belongs to "
                f"{_name(certificate)}, certificate {number} of nginx_tls_certificate_chain, "
                "so that is the server certificate and has to come first, then each issuer "
                "after the certificate it signed."
            )
        return certificate
    problems.append(
        f"The private key does not match the certificate for {_name(certificates[0])}: "
        "nginx_tls_private_key belongs to another certificate."
    )
    return certificates[0]


def _check_dates(certificates: list, problems: list[str]) -> None:
    now = datetime.now(UTC)
    expired = [f"{_name(c)} expired {_when(_utc(c, 'not_valid_after'))}"
               for c in certificates if _utc(c, "not_valid_after") < now]
    if expired:
        problems.append(f"The certificate chain has expired: {'; '.join(expired)}.")
    early = [f"{_name(c)} from {_when(_utc(c, 'not_valid_before'))}"
             for c in certificates if _utc(c, "not_valid_before") > now]
    if early:
        problems.append(
            f"A certificate of the chain is not valid yet: {'; '.join(early)} (now "
            f"{_when(now)}); browsers would refuse it."
        )


def _check_order(certificates: list, problems: list[str]) -> None:
    for signed, issuer in pairwise(certificates):
        if signed.issuer != issuer.subject:
            problems.append(
                f"The chain is out of order: {_name(signed)} is followed by {_name(issuer)}, "
                f"which did not issue it; {_ORDER}."
            )
            return


def _covers(alt_names: list, server_name: str) -> bool:
    try:
        address = ipaddress.ip_address(server_name.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        return address in alt_names
    wanted = server_name.lower().rstrip(".")
    for alt_name in alt_names:
        if not isinstance(alt_name, str):
            continue
        alt_name = alt_name.lower().rstrip(".")
        if alt_name == wanted:
            return True
        # A wildcard stands for exactly one whole label.
        first_label, _, rest = wanted.partition(".")
        if alt_name.startswith("*.") and first_label not in ("", "*") and rest == alt_name[2:]:
            return True
    return False


def _check_names(certificate, server_names: list, problems: list[str]) -> None:
    alt_names = _alt_names(certificate)
    missing = [str(name) for name in server_names if not _covers(alt_names, str(name))]
    if not missing:
        return
    carried = (f"it names {', '.join(str(name) for name in alt_names)}" if alt_names
               else "it has no subjectAltName")
    problems.append(
        f"The server certificate {_name(certificate)} does not cover "
        f"{', '.join(missing)} of nginx_tls_server_names ({carried}, and browsers ignore "
        "the common name): browsers would refuse it for those names."
    )


def _problems(chain: str, key_text: str, server_names: list) -> list[str]:
    missing = [setting for setting, text in
               (("nginx_tls_certificate_chain (PEM, server certificate first)", chain),
                ("nginx_tls_private_key (PEM)", key_text)) if not text.strip()]
    if missing:
        return [f"nginx_tls_certificate_mode provided needs {' and '.join(missing)}."]
    problems: list[str] = []
    certificates = _read_chain(chain, problems)
    key = _read_key(key_text, problems)
    if not certificates:
        return problems
    server = _server_certificate(certificates, key, problems)
    _check_dates(certificates, problems)
    if server is certificates[0]:
        _check_order(certificates, problems)
    if server_names:
        _check_names(server, server_names, problems)
    return problems


def certificate_problems(chain, private_key, server_names=()) -> list[str]:
    if x509 is None:
        return ["The provided certificate cannot be checked: the Python library cryptography "
                "is missing on the controller (community.crypto needs it as well)."]
    try:
        names = [server_names] if isinstance(server_names, str) else list(server_names or [])
        return _problems(str(chain or ""), str(private_key or ""), names)
    # A traceback could quote the key; say only what kind of failure it was.
    except Exception as error:
        return [f"The provided certificate and key could not be checked "
                f"({type(error).__name__})."]


class FilterModule:
    def filters(self):
        return {"certificate_problems": certificate_problems}
