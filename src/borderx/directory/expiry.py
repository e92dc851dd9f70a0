"""When this gateway's trust runs out: one list of expiries, shared by ``GetStatus``,
``borderx status``, the ``borderx_expiry_seconds`` metric and ``doctor``.

Three kinds of entries, each with the end of its validity:

- ``gateway_certificate``: this gateway's own TLS certificate (the leaf of ``[tls] cert``);
- ``ca_certificate``: each member's CA certificates in the directory. For a peer this is
  what the directory lets us know of its certificates: no certificate of its gateway
  outlives the CA it chains to;
- ``signing_key``: each member's statement-signing keys (the directory's validity window;
  a key with no end has ``not_after`` None).

Pure: it reads nothing but what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509

from borderx.directory.model import Directory

ExpiryKind = Literal["gateway_certificate", "ca_certificate", "signing_key"]

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Expiry:
    """One certificate or key and the end of its validity (``None``: no end)."""

    kind: ExpiryKind
    agency: str
    subject: str  # a certificate's serial (hex) or a signing key's id
    not_after: datetime | None
    status: str = "active"  # a signing key's directory status (active | revoked …)

    def seconds_left(self, now: datetime) -> float | None:
        """Seconds until the end (negative once past); None when it has no end."""
        if self.not_after is None:
            return None
        return (self.not_after - now).total_seconds()

    def days_left(self, now: datetime) -> float | None:
        left = self.seconds_left(now)
        return None if left is None else left / SECONDS_PER_DAY


def expiries(
    directory: Directory, *, own_agency: str, own_certificate: x509.Certificate | None
) -> tuple[Expiry, ...]:
    """This gateway's certificate, then every member's CA certificates and signing keys."""
    found: list[Expiry] = []
    if own_certificate is not None:
        found.append(
            Expiry(
                "gateway_certificate",
                own_agency,
                format(own_certificate.serial_number, "x"),
                own_certificate.not_valid_after_utc,
            )
        )
    for agency in directory.agencies.values():
        for ca in agency.ca_certificates:
            found.append(
                Expiry("ca_certificate", agency.id, format(ca.serial_number, "x"), ca.not_valid_after_utc)
            )
        for key in agency.signing_keys:
            found.append(Expiry("signing_key", agency.id, key.key_id, key.valid_until, key.status))
    return tuple(found)


def read_certificate(data: bytes) -> x509.Certificate | None:
    """The leaf (first certificate) of a PEM file's bytes; None when there is none."""
    try:
        return x509.load_pem_x509_certificates(data)[0]
    except (ValueError, IndexError):
        return None
