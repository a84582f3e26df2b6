"""Audit a TLS server against one of Mozilla's profiles with sslyze.

    python tests/tools/tls_audit.py HOST:PORT [--ca-file CA] [--profile intermediate]
                                    [--server-name NAME] [--min-hsts-age SECONDS]

Prints a JSON report to stdout: whether the server complies with the profile
and, if not, sslyze's list of issues; which protocol versions it accepts; the
Strict-Transport-Security max-age it sends (sslyze's profile check leaves that
header out, so it is judged here). Exits 0 only when the scan completed, the
server complies, refuses SSL 2/3 and TLS 1.0/1.1, and sends HSTS with at least
--min-hsts-age (default: the profile's own minimum, two years). sslyze's own
command line exits 0 even when it could not reach the server; this does not:
no connection or an incomplete scan exits 2.

--ca-file names a CA certificate to trust besides the system's (the private CA
of a self-signed deployment), so that the chain counts as verified.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from cryptography.utils import CryptographyDeprecationWarning
from sslyze import (
    CertificateInfoExtraArgument,
    ScanCommand,
    ScanCommandAttemptStatusEnum,
    ScanCommandsExtraArguments,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanStatusEnum,
)
from sslyze.mozilla_tls_profile.tls_config_checker import (
    SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
    MozillaTlsConfiguration,
    ServerNotCompliantWithTlsConfiguration,
    ServerScanResultIncomplete,
    TlsConfigurationEnum,
    check_server_against_tls_configuration,
)

PROTOCOLS = {
    "SSL 2.0": "ssl_2_0_cipher_suites",
    "SSL 3.0": "ssl_3_0_cipher_suites",
    "TLS 1.0": "tls_1_0_cipher_suites",
    "TLS 1.1": "tls_1_1_cipher_suites",
    "TLS 1.2": "tls_1_2_cipher_suites",
    "TLS 1.3": "tls_1_3_cipher_suites",
}
REFUSED = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1")

# An old root in sslyze's own trust store has a serial number that cryptography
# now frowns on; the warning says nothing about the server under audit.
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)


class AuditError(Exception):
    """The scan could not be made or completed."""


def target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def scan(host: str, port: int, server_name: str | None, ca_file: Path | None):
    location = ServerNetworkLocation(hostname=host, port=port)
    network = ServerNetworkConfiguration(tls_server_name_indication=server_name or host)
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file) if ca_file else None
    )
    request = ServerScanRequest(
        server_location=location,
        network_configuration=network,
        scan_commands=SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER | {ScanCommand.HTTP_HEADERS},
        scan_commands_extra_arguments=extra,
    )
    scanner = Scanner()
    scanner.queue_scans([request])
    result = next(iter(scanner.get_results()))
    if result.scan_status != ServerScanStatusEnum.COMPLETED:
        error = result.connectivity_error_trace
        raise AuditError(f"could not connect to {host}:{port}: {error or result.scan_status}")
    return result


def accepted_protocols(result) -> dict[str, bool]:
    accepted = {}
    for name, attribute in PROTOCOLS.items():
        attempt = getattr(result.scan_result, attribute)
        if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
            raise AuditError(f"the {name} scan did not complete: {attempt.error_reason}")
        accepted[name] = bool(attempt.result.accepted_cipher_suites)
    return accepted


def hsts_max_age(result) -> int | None:
    attempt = result.scan_result.http_headers
    if attempt.status != ScanCommandAttemptStatusEnum.COMPLETED:
        raise AuditError(f"the HTTP header scan did not complete: {attempt.error_reason}")
    header = attempt.result.strict_transport_security_header
    return header.max_age if header else None


def audit(args: argparse.Namespace) -> tuple[dict, list[str]]:
    profile = MozillaTlsConfiguration.get(TlsConfigurationEnum(args.profile))
    host, port = args.target
    result = scan(host, port, args.server_name, args.ca_file)
    report: dict = {"target": f"{host}:{port}", "profile": args.profile}
    try:
        check_server_against_tls_configuration(result, profile)
        report["compliant"], report["issues"] = True, {}
    except ServerNotCompliantWithTlsConfiguration as error:
        report["compliant"], report["issues"] = False, error.issues
    except ServerScanResultIncomplete as error:
        raise AuditError(f"the scan is incomplete: {error}") from error
    report["protocols"] = accepted_protocols(result)
    report["hsts_max_age"] = hsts_max_age(result)

    minimum = profile.hsts_min_age if args.min_hsts_age is None else args.min_hsts_age
    failures = [f"not compliant: {name}: {text}" for name, text in report["issues"].items()]
    failures += [f"accepts {name}" for name in REFUSED if report["protocols"][name]]
    if report["hsts_max_age"] is None:
        failures.append("sends no Strict-Transport-Security header with a max-age")
    elif report["hsts_max_age"] < minimum:
        failures.append(f"HSTS max-age {report['hsts_max_age']} is below {minimum}")
    return report, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=target, help="HOST:PORT of the TLS server")
    parser.add_argument("--ca-file", type=Path, help="CA certificate to trust as well")
    parser.add_argument("--server-name", help="name to send in SNI (default: HOST)")
    parser.add_argument(
        "--profile",
        default="intermediate",
        choices=[TlsConfigurationEnum.MOZILLA_MODERN.value, "intermediate", "old"],
    )
    parser.add_argument("--min-hsts-age", type=int, help="lowest HSTS max-age accepted")
    args = parser.parse_args(argv)
    try:
        report, failures = audit(args)
    except AuditError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2))
    for failure in failures:
        print(f"error: {report['target']} {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
