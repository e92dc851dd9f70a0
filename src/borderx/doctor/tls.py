"""TLS checks: the gateway's key and certificate files, their pair, the certificate's
SPIFFE ID and chain as partners judge them, its validity, server auth and host names.

- ``tls.key``, ``tls.key_mode``, ``tls.certificate``, ``tls.key_match``: the files of ``[tls]``;
- ``tls.spiffe_id``, ``tls.chain``: one SPIFFE ID, our agency's ``gateway``, checked with the
  exact function a partner applies (``authenticate_certificate``);
- ``tls.expiry``, ``tls.server_auth``, ``tls.hostnames``.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, VerificationError
from cryptography.x509.verification import Store as TrustStore

from borderx.directory.model import Agency, Directory, format_time
from borderx.doctor._base import (
    EXPIRY_WARNING,
    WILDCARD_HOSTS,
    Check,
    Context,
    days,
    error,
    passed,
    private_key_mode,
    serial,
    split_host_port,
    warning,
)
from borderx.errors import Unauthenticated
from borderx.identity.principal import parse_spiffe_id
from borderx.identity.verifier import authenticate_certificate, spiffe_ids_of

_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}


def _key_kind(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey):
        return "Ed448"
    return type(key).__name__


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _san_names(
    cert: x509.Certificate,
) -> tuple[list[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    ips = [
        ip
        for ip in san.get_values_for_type(x509.IPAddress)
        if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address)
    ]
    return list(san.get_values_for_type(x509.DNSName)), ips


def san_covers(cert: x509.Certificate, host: str) -> bool:
    """Whether a TLS client dialling ``host`` would accept ``cert``'s SANs (RFC 6125 matching)."""
    dns, ips = _san_names(cert)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return ip in ips
    name = host.lower().rstrip(".")
    for pattern in (d.lower().rstrip(".") for d in dns):
        if pattern == name:
            return True
        # a wildcard stands for exactly one left-most label
        if pattern.startswith("*.") and "." in name and name.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def check_key(ctx: Context) -> list[Check]:
    path = ctx.config.tls_key
    fix = f"point [tls] key at the gateway's unencrypted PKCS#8 PEM private key (now {path})"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [error("tls.key", f"TLS key {path}: cannot read it ({exc.strerror})", fix)]
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return [
            error(
                "tls.key",
                f"TLS key {path} is encrypted; the gateway reads an unencrypted key",
                f"decrypt it (`openssl pkey -in {path} -out gateway-plain.key`), give the copy mode 0600 "
                "and point [tls] key at it",
            )
        ]
    except ValueError:
        found = "a certificate, not a private key" if b"BEGIN CERTIFICATE" in data else "no PEM private key"
        return [error("tls.key", f"TLS key {path} holds {found}", fix)]
    ctx.key = key
    return [passed("tls.key", f"{path}: {_key_kind(key)} private key")]


def check_key_mode(ctx: Context) -> list[Check]:
    """Only for a key that loaded: an unreadable or wrong file is already ``tls.key``'s failure."""
    if ctx.key is None:
        return []
    return [private_key_mode("tls.key_mode", ctx.config.tls_key, "TLS key")]


def check_certificate(ctx: Context) -> list[Check]:
    path = ctx.config.tls_cert
    fix = f"point [tls] cert at the gateway's PEM certificate (now {path})"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [error("tls.certificate", f"TLS certificate {path}: cannot read it ({exc.strerror})", fix)]
    try:
        # the first certificate of the file is the leaf a partner sees
        cert = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        found = "a private key" if b"PRIVATE KEY" in data else "no PEM certificate"
        return [error("tls.certificate", f"TLS certificate {path} holds {found}", fix)]
    ctx.cert = cert
    return [
        passed(
            "tls.certificate",
            f"{path}: serial {serial(cert)}, subject {cert.subject.rfc4514_string()}, "
            f"issuer {cert.issuer.rfc4514_string()}",
        )
    ]


def check_key_match(ctx: Context) -> list[Check]:
    if ctx.cert is None or ctx.key is None:
        return []
    cert_path, key_path = ctx.config.tls_cert, ctx.config.tls_key
    if _spki(ctx.cert.public_key()) != _spki(ctx.key.public_key()):
        return [
            error(
                "tls.key_match",
                f"certificate {cert_path} (serial {serial(ctx.cert)}) does not match key {key_path}: "
                "their public keys differ, so every TLS handshake would fail",
                f"install the key the certificate was issued for, or reissue the certificate for "
                f"the key in {key_path}",
            )
        ]
    ctx.pair_ok = True
    return [passed("tls.key_match", "certificate and key hold the same public key")]


def check_identity(ctx: Context) -> list[Check]:
    cert, directory, agency = ctx.cert, ctx.directory, ctx.agency
    if cert is None or directory is None or agency is None:
        return []
    expected = f"spiffe://{directory.federation}/agency/{agency.id}/gateway"
    fix = f"reissue the gateway certificate with exactly one URI SAN, {expected}"
    checks: list[Check] = []
    ids = spiffe_ids_of(cert)
    problem = ""
    if not ids:
        problem = f"certificate {ctx.config.tls_cert} (serial {serial(cert)}) carries no SPIFFE ID"
    elif len(ids) > 1:
        problem = f"certificate {ctx.config.tls_cert} carries {len(ids)} SPIFFE IDs ({', '.join(ids)})"
    else:
        try:
            principal = parse_spiffe_id(ids[0])
        except Unauthenticated as exc:
            problem = f"certificate {ctx.config.tls_cert}: {exc}"
        else:
            if principal.spiffe_id != expected:
                problem = (
                    f"certificate {ctx.config.tls_cert} (serial {serial(cert)}) is {principal.spiffe_id}; "
                    f"this gateway must present {expected}"
                )
                if principal.federation != directory.federation:
                    problem += f" (trust domain {principal.federation!r} is not {directory.federation!r})"
                elif principal.role != "gateway":
                    problem += f" (role {principal.role!r}: partners let only gateways subscribe)"
    checks.append(error("tls.spiffe_id", problem, fix) if problem else passed("tls.spiffe_id", expected))
    checks.append(_check_chain(ctx, cert, directory, agency, identity_ok=not problem))
    return checks


def _check_chain(
    ctx: Context, cert: x509.Certificate, directory: Directory, agency: Agency, *, identity_ok: bool
) -> Check:
    now = ctx.clock()
    # judge the chain inside the certificate's validity window; tls.expiry reports the time
    at = max(cert.not_valid_before_utc, min(now, cert.not_valid_after_utc - timedelta(seconds=1)))
    when = "" if at == now else f" (checked as of {format_time(at)}, inside its validity)"
    cas = "; ".join(ca.subject.rfc4514_string() for ca in agency.ca_certificates)
    fix = (
        f"reissue the gateway certificate from {agency.id}'s CA listed in the directory ({cas}), "
        f"or have the directory list the CA that issued it ({cert.issuer.rfc4514_string()})"
    )
    if identity_ok:
        try:
            # the exact check a partner's gateway applies to our client certificate
            authenticate_certificate(cert, directory, now=at)
        except Unauthenticated as exc:
            revoked = cert.serial_number in agency.revoked_serials
            return error(
                "tls.chain",
                f"partners will refuse this certificate{when}: {exc}",
                f"issue a new gateway certificate from {agency.id}'s CA (serial {serial(cert)} is revoked)"
                if revoked
                else fix,
            )
    else:
        # the SPIFFE ID is already reported; still tell whether the chain is right
        verifier = (
            PolicyBuilder().store(TrustStore(list(agency.ca_certificates))).time(at).build_client_verifier()
        )
        try:
            verifier.verify(cert, [])
        except VerificationError as exc:
            return error(
                "tls.chain",
                f"certificate serial {serial(cert)} does not chain to {agency.id}'s CA or does not "
                f"allow client auth{when} ({exc})",
                fix,
            )
        if cert.serial_number in agency.revoked_serials:
            return error(
                "tls.chain",
                f"certificate serial {serial(cert)} is revoked by {agency.id} in directory v{directory.version}",
                f"issue a new gateway certificate from {agency.id}'s CA",
            )
    return passed(
        "tls.chain",
        f"chains to {agency.id}'s CA ({cert.issuer.rfc4514_string()}), allows client auth, "
        f"serial {serial(cert)} not revoked",
    )


def check_expiry(ctx: Context) -> list[Check]:
    cert = ctx.cert
    if cert is None:
        return []
    now = ctx.clock()
    path = ctx.config.tls_cert
    renew = (
        f"renew the gateway certificate {path} (same key or new) and reload the gateway (SIGHUP): "
        "open streams are kept"
    )
    if now < cert.not_valid_before_utc:
        return [
            error(
                "tls.expiry",
                f"certificate {path} (serial {serial(cert)}) is not valid until "
                f"{format_time(cert.not_valid_before_utc)}; now is {format_time(now)}",
                "check this host's clock, or reissue the certificate valid from now",
            )
        ]
    left = cert.not_valid_after_utc - now
    if left <= timedelta(0):
        return [
            error(
                "tls.expiry",
                f"certificate {path} (serial {serial(cert)}) expired {format_time(cert.not_valid_after_utc)}, "
                f"{days(-left)} ago",
                renew,
            )
        ]
    if left < EXPIRY_WARNING:
        return [
            warning(
                "tls.expiry",
                f"certificate {path} (serial {serial(cert)}) expires {format_time(cert.not_valid_after_utc)}, "
                f"in {days(left)} (warning at {EXPIRY_WARNING.days} days)",
                renew,
            )
        ]
    return [passed("tls.expiry", f"valid until {format_time(cert.not_valid_after_utc)} ({days(left)})")]


def check_server_auth(ctx: Context) -> list[Check]:
    cert = ctx.cert
    if cert is None:
        return []
    eku = _eku(cert)
    # no extension at all means any usage; the verifier partners use decides client auth
    if eku is not None and ExtendedKeyUsageOID.SERVER_AUTH not in eku:
        usages = ", ".join(_EKU_NAMES.get(o, o.dotted_string) for o in eku) or "none"
        return [
            error(
                "tls.server_auth",
                f"certificate {ctx.config.tls_cert} (serial {serial(cert)}) does not allow server auth "
                f"(extended key usage: {usages}): partners' TLS clients will refuse this gateway",
                "reissue the gateway certificate with extended key usage serverAuth and clientAuth",
            )
        ]
    return [passed("tls.server_auth", "allows server auth")]


def check_hostnames(ctx: Context) -> list[Check]:
    cert = ctx.cert
    if cert is None:
        return []
    # the names partners dial: the listen host (unless a wildcard bind) and our directory endpoint
    hosts = []
    listen_host = split_host_port(ctx.config.listen)[0]
    if listen_host not in WILDCARD_HOSTS:
        hosts.append(listen_host)
    agency = ctx.agency
    if agency is not None and agency.endpoint:
        endpoint_host = split_host_port(agency.endpoint)[0]
        if endpoint_host not in hosts:
            hosts.append(endpoint_host)
    missing = [h for h in hosts if not san_covers(cert, h)]
    dns, ips = _san_names(cert)
    sans = ", ".join([*dns, *map(str, ips)]) or "no DNS or IP name"
    if missing:
        return [
            warning(
                "tls.hostnames",
                f"certificate {ctx.config.tls_cert} names {sans}, not {', '.join(missing)}: a client "
                f"dialling {missing[0]} will refuse the certificate (hostname mismatch)",
                f"reissue the certificate with a DNS or IP SAN for {', '.join(missing)}",
            )
        ]
    return [passed("tls.hostnames", f"SANs {sans} cover {', '.join(hosts) or 'every address'}")]
