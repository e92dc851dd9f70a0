"""Fit a dev PKI made by ``borderx pki init`` to the compose federation (deploy/compose.yaml).

Usage: ``python containerize_pki.py PKI_DIR`` (the compose ``pki`` service runs it after
``borderx pki init``). Safe to run again: a second run changes nothing.

For each agency of ``PKI_DIR/directory.json`` it

* re-issues ``gateway.pem`` from that agency's own CA, keeping ``gateway.key``, with the
  compose service name (the agency id in lower case, e.g. ``au-abf``) as an extra DNS SAN.
  Peers dial ``au-abf:50051`` and gRPC checks that name against the certificate; the dev
  certificate only names ``localhost`` and ``127.0.0.1``. ``directory.json`` lists each
  agency's CA and signing keys, not leaf certificates, so it stays as it is.
* rewrites ``gateway.toml`` for a container: ``listen = "0.0.0.0:50051"``, the store on
  the gateway's own volume (``/var/lib/borderx``), the plaintext health and the metrics
  listeners, and ``[federation.endpoints]`` mapping every other agency to its service.

It needs only borderx itself (it runs in the gateway image) and checks each config it
writes with ``borderx.config.load_config``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from borderx.config import load_config
from borderx.directory.model import Directory
from borderx.identity.devpki import CertificateAuthority, issue_certificate, pem_cert

GRPC_PORT = 50051
HEALTH_PORT = 8081
METRICS_PORT = 9090
STORE_DIR = "/var/lib/borderx"
MARKER = "# --- containers: written by deploy/compose/containerize_pki.py ---"


def service_name(agency: str) -> str:
    """The compose service (and DNS name) of an agency's gateway: ``AU-ABF`` → ``au-abf``."""
    return agency.lower()


def container_toml(text: str, agency: str, agencies: Sequence[str]) -> str:
    """``text`` (a dev ``gateway.toml``) rewritten to run in a container; idempotent."""
    base = text.split(MARKER, 1)[0].rstrip() + "\n"
    for key, value in (
        ("listen", f"0.0.0.0:{GRPC_PORT}"),
        ("store", f"sqlite:///{STORE_DIR}/{service_name(agency)}.db"),
    ):
        base, found = re.subn(rf'(?m)^{key} = ".*"$', f'{key} = "{value}"', base, count=1)
        if not found:
            raise SystemExit(f"{agency}/gateway.toml has no top-level {key} = line to rewrite")
    endpoints = "\n".join(
        f'{other} = "{service_name(other)}:{GRPC_PORT}"' for other in agencies if other != agency
    )
    return f"""{base}
{MARKER}
[observability]
health_listen = "0.0.0.0:{HEALTH_PORT}"     # plaintext, grpc.health.v1 only: the healthcheck
metrics_listen = "0.0.0.0:{METRICS_PORT}"

[federation.endpoints]                  # partners by compose service name
{endpoints}
"""


def _load_ca(folder: Path) -> CertificateAuthority:
    cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{folder}/ca.key: expected the dev PKI's ECDSA key")
    return CertificateAuthority(cert, key)


def reissue_gateway_certificate(folder: Path, agency: str) -> bool:
    """Add the service name to ``folder/gateway.pem``; False when it already names it."""
    name = service_name(agency)
    old = x509.load_pem_x509_certificate((folder / "gateway.pem").read_bytes())
    sans = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns_names = sans.get_values_for_type(x509.DNSName)
    if name in dns_names:
        return False
    key = serialization.load_pem_private_key((folder / "gateway.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{folder}/gateway.key: expected the dev PKI's ECDSA key")
    cert, _ = issue_certificate(
        _load_ca(folder),
        common_name=f"{agency} gateway",
        uris=sans.get_values_for_type(x509.UniformResourceIdentifier),  # the SPIFFE ID, unchanged
        dns_names=[*dns_names, name],
        ip_addresses=[str(ip) for ip in sans.get_values_for_type(x509.IPAddress)],
        server=True,
        client=True,
        key=key,
    )
    (folder / "gateway.pem").write_bytes(pem_cert(cert))
    return True


def containerize(pki: Path) -> list[str]:
    """Rewrite every agency's certificate and config under ``pki``; returns the agency ids."""
    agencies = list(Directory.load(pki / "directory.json").agencies)
    for agency in agencies:
        folder = pki / agency
        reissue_gateway_certificate(folder, agency)
        config = folder / "gateway.toml"
        config.write_text(container_toml(config.read_text(), agency, agencies))
        load_config(config)  # fail here, not in five gateways, if the rewrite broke it
    return agencies


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: containerize_pki.py PKI_DIR", file=sys.stderr)
        return 2
    for agency in containerize(Path(argv[0])):
        print(f"{agency}: {service_name(agency)}:{GRPC_PORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
