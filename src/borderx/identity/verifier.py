"""Peer certificate → Principal, checked against the claimed agency's own CA.

The TLS layer trusts the union of every member's CA, which only proves "some member
issued this". That is not enough: AU-ABF's CA is trusted for AU-ABF and nothing else, so
a certificate it issued that claims to be US-CBP must be refused. Here we re-verify the
leaf with ``cryptography.x509.verification`` against the one agency its SPIFFE ID names,
with client-auth usage required, then check revocation.

Results are cached per certificate (its exact DER-in-PEM bytes, as the TLS layer hands
them over on every call) and directory digest, so a long-lived channel pays for parsing
and path validation once, not per call: a hit is a byte comparison with the last
certificate seen (one dict lookup when it is another), one string comparison and one
clock read. An entry lapses outside the certificate's validity, never outlives
the directory it was checked against (the digest is compared on every hit), and the
whole cache is dropped whenever the directory changes, so a serial revoked by a reload is
refused on the next call.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from borderx.directory.model import Agency, Directory, DirectoryHolder, format_time
from borderx.errors import Unauthenticated
from borderx.identity.principal import Principal, parse_spiffe_id

_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Verified:
    """A certificate that passed every check against the directory of ``digest``."""

    principal: Principal
    not_before: float  # POSIX seconds: the hit path compares one float, not datetimes
    not_after: float
    digest: str


class PeerAuthenticator:
    def __init__(self, directory: DirectoryHolder) -> None:
        self._directory = directory
        # keyed by the certificate's bytes themselves: a hit is an exact match of every
        # byte (no fingerprint to compute per call, and nothing to collide)
        self._cache: dict[bytes, _Verified] = {}
        self._last: tuple[bytes, _Verified] | None = None
        self._lock = threading.Lock()
        directory.on_change(lambda _new: self.clear())

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._last = None

    def authenticate_pem(self, pem: bytes, *, now: datetime | None = None) -> Principal:
        """Authenticate a peer's leaf certificate (PEM). Raises Unauthenticated with the reason."""
        if not pem:
            raise Unauthenticated("no client certificate was presented; mutual TLS is required")
        directory = self._directory.current
        # the last certificate seen first: the TLS layer hands over fresh bytes on every
        # call, and comparing them to the last ones is cheaper than hashing them for the
        # dict (most calls come from the connection that made the last one)
        last = self._last
        from_last = last is not None and last[0] == pem
        hit = last[1] if last is not None and from_last else self._cache.get(pem)
        # a hit counts only against the directory it was checked with, and within validity
        if hit is not None and hit.digest == directory.digest:
            at = time.time() if now is None else now.timestamp()
            if hit.not_before <= at < hit.not_after:
                if not from_last:
                    self._last = (pem, hit)
                return hit.principal
        now = now or datetime.now(UTC)
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise Unauthenticated("peer certificate could not be parsed") from exc
        principal = authenticate_certificate(cert, directory, now=now)
        verified = _Verified(
            principal=principal,
            not_before=cert.not_valid_before_utc.timestamp(),
            not_after=cert.not_valid_after_utc.timestamp(),
            digest=directory.digest,
        )
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[pem] = verified
        return principal


def spiffe_ids_of(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("spiffe://")]


def uri_sans_of(cert: x509.Certificate) -> list[str]:
    """Every URI in the certificate's SAN (SPIFFE or not)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def authenticate_certificate(cert: x509.Certificate, directory: Directory, *, now: datetime) -> Principal:
    """The full check of a client certificate, uncached. Every refusal says what was wrong."""
    principal, agency, serial = _identity(cert, directory, now=now)
    verifier = PolicyBuilder().store(Store(list(agency.ca_certificates))).time(now).build_client_verifier()
    try:
        verifier.verify(cert, [])
    except VerificationError as exc:
        # this is the cross-agency guard: chaining to another member's CA is not enough
        raise Unauthenticated(
            f"certificate {principal} (serial {serial}) is not valid for {agency.id}: "
            f"it must chain to {agency.id}'s own CA and allow client auth ({exc})"
        ) from None
    _check_revocation(cert, principal, agency, serial)
    return principal


def authenticate_server_certificate(
    cert: x509.Certificate, directory: Directory, *, agency: str, host: str, now: datetime
) -> Principal:
    """The replicator's check of a peer's server certificate: the same rules as for clients.

    The certificate must be ``agency``'s gateway (its SPIFFE ID), chain to that agency's
    own CA with server-auth usage and a SAN for ``host`` (the endpoint dialled), and not be
    revoked. Raises Unauthenticated saying what was wrong.
    """
    principal, member, serial = _identity(cert, directory, now=now)
    if principal.agency != agency or principal.role != "gateway":
        # the endpoint answered with another identity: a misrouted or hijacked endpoint
        raise Unauthenticated(
            f"the server at {host} presented {principal} (serial {serial}); "
            f"expected {agency}'s gateway, spiffe://{directory.federation}/agency/{agency}/gateway"
        )
    subject: x509.DNSName | x509.IPAddress
    try:
        subject = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = (
        PolicyBuilder().store(Store(list(member.ca_certificates))).time(now).build_server_verifier(subject)
    )
    try:
        verifier.verify(cert, [])
    except VerificationError as exc:
        raise Unauthenticated(
            f"server certificate {principal} (serial {serial}) is not valid for {agency} at {host}: "
            f"it must chain to {agency}'s own CA, allow server auth and name {host} ({exc})"
        ) from None
    _check_revocation(cert, principal, member, serial)
    return principal


def _check_revocation(cert: x509.Certificate, principal: Principal, agency: Agency, serial: str) -> None:
    if cert.serial_number in agency.revoked_serials:
        raise Unauthenticated(f"certificate {principal} (serial {serial}) is revoked by {agency.id}")


def _identity(
    cert: x509.Certificate, directory: Directory, *, now: datetime
) -> tuple[Principal, Agency, str]:
    """The checks shared by clients and servers: one SPIFFE ID, a member, within validity."""
    serial = format(cert.serial_number, "x")
    ids = spiffe_ids_of(cert)
    if not ids:
        raise Unauthenticated(f"certificate serial {serial} carries no SPIFFE ID in its URI SAN")
    if len(ids) > 1:
        # two identities in one certificate would let the holder pick whichever suits
        raise Unauthenticated(
            f"certificate serial {serial} carries {len(ids)} SPIFFE IDs; exactly one is allowed"
        )
    uris = uri_sans_of(cert)
    if len(uris) != 1:
        # X.509-SVID §2: exactly one URI SAN. A second, non-SPIFFE URI would be an identity
        # other relying parties (or a later check here) might read instead of ours.
        raise Unauthenticated(
            f"certificate serial {serial} carries {len(uris)} URI SANs; an X.509-SVID carries exactly one, "
            "its SPIFFE ID"
        )
    principal = parse_spiffe_id(ids[0])
    if principal.federation != directory.federation:
        raise Unauthenticated(
            f"certificate {principal} belongs to trust domain {principal.federation!r}, "
            f"this federation is {directory.federation!r}"
        )
    if principal.agency not in directory.agencies:
        raise Unauthenticated(
            f"certificate {principal} names agency {principal.agency}, which is not a member of "
            f"{directory.federation} (directory v{directory.version})"
        )
    agency = directory.agencies[principal.agency]
    if now < cert.not_valid_before_utc:
        raise Unauthenticated(
            f"certificate {principal} (serial {serial}) is not valid until {format_time(cert.not_valid_before_utc)}"
        )
    if now >= cert.not_valid_after_utc:
        raise Unauthenticated(
            f"certificate {principal} (serial {serial}) expired {format_time(cert.not_valid_after_utc)}"
        )
    return principal, agency, serial
