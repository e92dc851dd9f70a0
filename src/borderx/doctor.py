"""``borderx doctor``: check a gateway's configuration without starting it.

This module owns the checks, as a library: :func:`run_checks` reads one gateway's TOML
and returns a list of :class:`Check`, each saying what was checked, whether it passed,
how bad a failure is (``error``: the gateway will not start or will not federate;
``warning``: it runs, but something will break or someone will be surprised), the
problem with its numbers (paths, dates, key ids, serials) and the fix.

What is checked, in order, and what each check needs from the ones before it:

1. ``config``: the TOML is readable and valid (nothing else runs without it);
2. ``tls.key``, ``tls.certificate``: the files of ``[tls]`` are readable and hold a
   private key and a certificate; ``tls.key_match``: they are a pair;
3. ``directory``: the directory loads, validates and lists our agency;
   ``directory.freshness``: it is not older than :data:`DIRECTORY_STALE_AFTER`;
   ``directory.endpoint``: our entry's endpoint agrees with ``listen``;
   ``directory.signatures``: it carries its own threshold of members' directory-key
   signatures and has not expired, a warning within 30 days (what a gateway requires of a first configuration;
   successors are judged against the version the gateway's store holds);
4. ``tls.spiffe_id``: one SPIFFE ID, our agency's ``gateway`` in our federation;
   ``tls.chain``: the exact check a partner applies (``authenticate_certificate``: chains
   to our agency's own CA, allows client auth, not revoked); ``tls.expiry``;
   ``tls.server_auth``: serverAuth is allowed; ``tls.hostnames``: the SANs cover the
   addresses peers dial (listen host, directory endpoint);
5. ``signing.key``: Ed25519, listed under our agency, valid now;
6. ``store``: openable and writable, creating nothing in an existing store;
7. per peer, unless ``network=False``: ``peer.<AGENCY>`` (TCP, then TLS both ways, then
   gRPC health and Subscribe with our certificate) and ``clock.<AGENCY>`` (the peer's
   clock from Subscribe's initial metadata).

Nothing here changes state: the store is opened (which applies pending migrations, as the
gateway would at start) only when it exists; otherwise only its folder is probed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, VerificationError
from cryptography.x509.verification import Store as TrustStore

from borderx.config import GatewayConfig, load_config
from borderx.directory.model import Agency, Directory, SigningKey, format_time
from borderx.errors import ConfigError, Unauthenticated, UnknownKey
from borderx.identity.principal import parse_spiffe_id
from borderx.identity.verifier import authenticate_certificate, spiffe_ids_of

Severity = Literal["error", "warning"]

#: A certificate or signing key that ends within this long is a warning.
EXPIRY_WARNING = timedelta(days=30)
#: A directory issued longer ago than this is stale: it probably misses rotations and revocations.
DIRECTORY_STALE_AFTER = timedelta(days=90)
#: warn this long before the directory expires (a gateway refuses an expired one at start)
DIRECTORY_EXPIRY_WARNING = timedelta(days=30)
#: Clock difference to a peer above which doctor warns (seconds).
CLOCK_SKEW_WARNING = 30.0
#: Clock difference to a peer above which doctor reports an error (seconds): key windows,
#: certificate validity and statement times stop agreeing between partners.
CLOCK_SKEW_ERROR = 300.0
#: Default deadline of each network step (TCP connect, TLS handshake, each RPC), seconds.
DEFAULT_TIMEOUT = 3.0

#: The Subscribe filter that matches nothing: the call only yields its initial metadata.
_NO_ISSUER = "ZZ-NONE"
#: HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113 §3.4), so a
#: gRPC server that accepted our certificate answers with its own SETTINGS.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})  # noqa: S104 - names binds, binds nothing


@dataclass(frozen=True)
class Check:
    """One check's result. ``severity`` is how bad it is when ``ok`` is False.

    ``problem`` and ``fix`` are empty when the check passed; ``detail`` says what was
    found either way (the numbers an operator would want to see).
    """

    name: str
    ok: bool
    severity: Severity
    problem: str
    fix: str
    detail: str = ""

    @property
    def status(self) -> Literal["OK", "WARN", "FAIL"]:
        if self.ok:
            return "OK"
        return "WARN" if self.severity == "warning" else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "severity": self.severity,
            "problem": self.problem,
            "fix": self.fix,
            "detail": self.detail,
        }


def passed(name: str, detail: str) -> Check:
    return Check(name, ok=True, severity="error", problem="", fix="", detail=detail)


def error(name: str, problem: str, fix: str) -> Check:
    return Check(name, ok=False, severity="error", problem=problem, fix=fix)


def warning(name: str, problem: str, fix: str) -> Check:
    return Check(name, ok=False, severity="warning", problem=problem, fix=fix)


def has_errors(checks: Iterable[Check]) -> bool:
    return any(not c.ok and c.severity == "error" for c in checks)


def utcnow() -> datetime:
    """The local clock (a module function so tests can shift it)."""
    return datetime.now(UTC)


def run_checks(
    config_path: str | Path,
    *,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    network: bool = True,
) -> list[Check]:
    """Check the gateway configured by ``config_path``; never raises for a misconfiguration.

    ``now`` is the local time to check validity windows and clock skew against (default:
    :func:`utcnow`; it advances with the monotonic clock while the checks run).
    ``timeout`` bounds each network step. With ``network=False`` no peer is contacted.
    The first check is always ``config``; when it fails it is the only one.
    """
    start = now if now is not None else utcnow()
    started = time.monotonic()

    def clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - started)

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return [
            error(
                "config",
                str(exc),
                f"fix {config_path} (see the example at the top of borderx/config.py), "
                f"then run `borderx doctor --config {config_path}` again",
            )
        ]
    checks = [passed("config", f"{config_path}: agency {config.agency}, listen {config.listen}")]
    checks += _Doctor(config, clock=clock, timeout=timeout).run(network=network)
    return checks


# ---------------------------------------------------------------- helpers


def _guarded(name: str, fn: Callable[[], list[Check]]) -> list[Check]:
    """Run one check; a bug in it becomes an error of that check, not a crash of all of them."""
    try:
        return fn()
    except Exception as exc:  # report and go on: the other checks still tell the operator something
        return [
            error(
                name,
                f"the check itself failed ({type(exc).__name__}: {exc})",
                "report this as a borderx bug, with the output of doctor",
            )
        ]


def _serial(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


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


def split_host_port(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host without brackets, port)."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _days(delta: timedelta) -> str:
    """A duration as an operator reads it: days, else hours, else minutes."""
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if abs(seconds) >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:.0f} seconds"


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


# ---------------------------------------------------------------- the checks


@dataclass
class _Doctor:
    config: GatewayConfig
    clock: Callable[[], datetime]
    timeout: float
    key: Any = None
    cert: x509.Certificate | None = None
    pair_ok: bool = False
    directory: Directory | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def agency(self) -> Agency | None:
        if self.directory is None:
            return None
        return self.directory.agencies.get(self.config.agency)

    def run(self, *, network: bool) -> list[Check]:
        steps: list[tuple[str, Callable[[], list[Check]]]] = [
            ("tls.key", self.check_key),
            ("tls.certificate", self.check_certificate),
            ("tls.key_match", self.check_key_match),
            ("directory", self.check_directory),
            ("tls.spiffe_id", self.check_identity),
            ("tls.expiry", self.check_expiry),
            ("tls.server_auth", self.check_server_auth),
            ("tls.hostnames", self.check_hostnames),
            ("signing.key", self.check_signing_key),
            ("store", self.check_store),
        ]
        if network:
            steps.append(("peers", self.check_peers))
        for name, step in steps:
            self.checks += _guarded(name, step)
        return self.checks

    # ------------------------------------------------------------ TLS files

    def check_key(self) -> list[Check]:
        path = self.config.tls_key
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
            found = (
                "a certificate, not a private key" if b"BEGIN CERTIFICATE" in data else "no PEM private key"
            )
            return [error("tls.key", f"TLS key {path} holds {found}", fix)]
        self.key = key
        return [passed("tls.key", f"{path}: {_key_kind(key)} private key")]

    def check_certificate(self) -> list[Check]:
        path = self.config.tls_cert
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
        self.cert = cert
        return [
            passed(
                "tls.certificate",
                f"{path}: serial {_serial(cert)}, subject {cert.subject.rfc4514_string()}, "
                f"issuer {cert.issuer.rfc4514_string()}",
            )
        ]

    def check_key_match(self) -> list[Check]:
        if self.cert is None or self.key is None:
            return []
        cert_path, key_path = self.config.tls_cert, self.config.tls_key
        if _spki(self.cert.public_key()) != _spki(self.key.public_key()):
            return [
                error(
                    "tls.key_match",
                    f"certificate {cert_path} (serial {_serial(self.cert)}) does not match key {key_path}: "
                    "their public keys differ, so every TLS handshake would fail",
                    f"install the key the certificate was issued for, or reissue the certificate for "
                    f"the key in {key_path}",
                )
            ]
        self.pair_ok = True
        return [passed("tls.key_match", "certificate and key hold the same public key")]

    # ------------------------------------------------------------ directory

    def check_directory(self) -> list[Check]:
        path = Path(os.path.normpath(self.config.directory_path))  # "US-CBP/../directory.json" reads badly
        try:
            directory = Directory.load(path)
        except ConfigError as exc:
            return [
                error(
                    "directory",
                    f"directory invalid: {exc}",
                    f"replace {path} with the federation's current directory",
                )
            ]
        if self.config.agency not in directory.agencies:
            return [
                error(
                    "directory",
                    f"agency {self.config.agency} is not in directory {path} "
                    f"({directory.federation} v{directory.version}; members: {', '.join(directory.agencies)})",
                    "fix `agency` in the config, or use the directory that lists this agency",
                )
            ]
        self.directory = directory
        now = self.clock()
        age = now - directory.issued_at
        checks = [
            passed(
                "directory",
                f"{path}: {directory.federation} v{directory.version}, {len(directory.agencies)} agencies",
            )
        ]
        if age > DIRECTORY_STALE_AFTER:
            checks.append(
                warning(
                    "directory.freshness",
                    f"directory {directory.federation} v{directory.version} was issued "
                    f"{format_time(directory.issued_at)}, {_days(age)} ago (stale after "
                    f"{DIRECTORY_STALE_AFTER.days} days): it may miss key rotations, revocations and members",
                    f"get the current directory from the federation's operator, write it to {path}, "
                    "then reload the gateway (SIGHUP)",
                )
            )
        elif age < -timedelta(seconds=CLOCK_SKEW_ERROR):
            checks.append(
                warning(
                    "directory.freshness",
                    f"directory v{directory.version} is issued {format_time(directory.issued_at)}, "
                    f"{_days(-age)} in the future of this host's clock ({format_time(now)})",
                    "check this host's clock (NTP)",
                )
            )
        else:
            checks.append(
                passed("directory.freshness", f"issued {format_time(directory.issued_at)}, {_days(age)} ago")
            )
        checks.append(self._check_endpoint(directory.agencies[self.config.agency]))
        checks.append(self._check_signatures(directory, now))
        return checks

    def _check_signatures(self, directory: Directory, now: datetime) -> Check:
        from borderx.directory.trust import root_result  # noqa: PLC0415

        result = root_result(directory, now=now)
        refusal = result.refusal()
        if refusal is not None:
            return error(
                "directory.signatures",
                f"directory v{directory.version} would be refused: {refusal}",
                "use the document the members signed (`borderx directory verify FILE` shows who signed it)",
            )
        signed = result.thresholds[0]
        left = directory.expires - now
        if left < DIRECTORY_EXPIRY_WARNING:
            return warning(
                "directory.signatures",
                f"directory v{directory.version} expires {format_time(directory.expires)}, in {_days(left)}: "
                "an expired directory is refused at start",
                "propose and sign its successor (`borderx directory propose`), then `borderx directory publish` it",
            )
        return passed(
            "directory.signatures",
            f"signed by {len(signed.signed)} of {len(directory.agencies)} agencies (threshold "
            f"{directory.threshold}); expires {format_time(directory.expires)}",
        )

    def _check_endpoint(self, agency: Agency) -> Check:
        listen = self.config.listen
        if not agency.endpoint:
            return warning(
                "directory.endpoint",
                f"the directory gives no endpoint for {agency.id}: partners cannot find this gateway",
                f"ask the federation's operator to list {agency.id}'s public HOST:PORT",
            )
        listen_host, listen_port = split_host_port(listen)
        endpoint_host, endpoint_port = split_host_port(agency.endpoint)
        # behind a wildcard bind any host may be right; a port or host difference is worth a look
        # (it is normal behind NAT or a load balancer, which is why this is only a warning)
        differs = listen_port != endpoint_port or (
            listen_host not in _WILDCARD_HOSTS and listen_host != endpoint_host
        )
        if differs:
            return warning(
                "directory.endpoint",
                f"the directory lists {agency.id} at {agency.endpoint}, but this gateway listens on {listen}",
                "if partners reach this gateway through NAT or a load balancer, ignore this; otherwise fix "
                "`listen` or ask the federation's operator to correct the directory's endpoint",
            )
        return passed("directory.endpoint", f"directory endpoint {agency.endpoint}, listen {listen}")

    # ------------------------------------------------------------ the certificate against the directory

    def check_identity(self) -> list[Check]:
        cert, directory, agency = self.cert, self.directory, self.agency
        if cert is None or directory is None or agency is None:
            return []
        expected = f"spiffe://{directory.federation}/agency/{agency.id}/gateway"
        fix = f"reissue the gateway certificate with exactly one URI SAN, {expected}"
        checks: list[Check] = []
        ids = spiffe_ids_of(cert)
        problem = ""
        if not ids:
            problem = f"certificate {self.config.tls_cert} (serial {_serial(cert)}) carries no SPIFFE ID"
        elif len(ids) > 1:
            problem = f"certificate {self.config.tls_cert} carries {len(ids)} SPIFFE IDs ({', '.join(ids)})"
        else:
            try:
                principal = parse_spiffe_id(ids[0])
            except Unauthenticated as exc:
                problem = f"certificate {self.config.tls_cert}: {exc}"
            else:
                if principal.spiffe_id != expected:
                    problem = (
                        f"certificate {self.config.tls_cert} (serial {_serial(cert)}) is {principal.spiffe_id}; "
                        f"this gateway must present {expected}"
                    )
                    if principal.federation != directory.federation:
                        problem += f" (trust domain {principal.federation!r} is not {directory.federation!r})"
                    elif principal.role != "gateway":
                        problem += f" (role {principal.role!r}: partners let only gateways subscribe)"
        checks.append(error("tls.spiffe_id", problem, fix) if problem else passed("tls.spiffe_id", expected))
        checks.append(self._check_chain(cert, directory, agency, identity_ok=not problem))
        return checks

    def _check_chain(
        self, cert: x509.Certificate, directory: Directory, agency: Agency, *, identity_ok: bool
    ) -> Check:
        now = self.clock()
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
                    f"issue a new gateway certificate from {agency.id}'s CA (serial {_serial(cert)} is revoked)"
                    if revoked
                    else fix,
                )
        else:
            # the SPIFFE ID is already reported; still tell whether the chain is right
            verifier = (
                PolicyBuilder()
                .store(TrustStore(list(agency.ca_certificates)))
                .time(at)
                .build_client_verifier()
            )
            try:
                verifier.verify(cert, [])
            except VerificationError as exc:
                return error(
                    "tls.chain",
                    f"certificate serial {_serial(cert)} does not chain to {agency.id}'s CA or does not "
                    f"allow client auth{when} ({exc})",
                    fix,
                )
            if cert.serial_number in agency.revoked_serials:
                return error(
                    "tls.chain",
                    f"certificate serial {_serial(cert)} is revoked by {agency.id} in directory v{directory.version}",
                    f"issue a new gateway certificate from {agency.id}'s CA",
                )
        return passed(
            "tls.chain",
            f"chains to {agency.id}'s CA ({cert.issuer.rfc4514_string()}), allows client auth, "
            f"serial {_serial(cert)} not revoked",
        )

    def check_expiry(self) -> list[Check]:
        cert = self.cert
        if cert is None:
            return []
        now = self.clock()
        path = self.config.tls_cert
        renew = (
            f"renew the gateway certificate {path} (same key or new) and reload the gateway (SIGHUP): "
            "open streams are kept"
        )
        if now < cert.not_valid_before_utc:
            return [
                error(
                    "tls.expiry",
                    f"certificate {path} (serial {_serial(cert)}) is not valid until "
                    f"{format_time(cert.not_valid_before_utc)}; now is {format_time(now)}",
                    "check this host's clock, or reissue the certificate valid from now",
                )
            ]
        left = cert.not_valid_after_utc - now
        if left <= timedelta(0):
            return [
                error(
                    "tls.expiry",
                    f"certificate {path} (serial {_serial(cert)}) expired {format_time(cert.not_valid_after_utc)}, "
                    f"{_days(-left)} ago",
                    renew,
                )
            ]
        if left < EXPIRY_WARNING:
            return [
                warning(
                    "tls.expiry",
                    f"certificate {path} (serial {_serial(cert)}) expires {format_time(cert.not_valid_after_utc)}, "
                    f"in {_days(left)} (warning at {EXPIRY_WARNING.days} days)",
                    renew,
                )
            ]
        return [passed("tls.expiry", f"valid until {format_time(cert.not_valid_after_utc)} ({_days(left)})")]

    def check_server_auth(self) -> list[Check]:
        cert = self.cert
        if cert is None:
            return []
        eku = _eku(cert)
        # no extension at all means any usage; the verifier partners use decides client auth
        if eku is not None and ExtendedKeyUsageOID.SERVER_AUTH not in eku:
            usages = ", ".join(_EKU_NAMES.get(o, o.dotted_string) for o in eku) or "none"
            return [
                error(
                    "tls.server_auth",
                    f"certificate {self.config.tls_cert} (serial {_serial(cert)}) does not allow server auth "
                    f"(extended key usage: {usages}): partners' TLS clients will refuse this gateway",
                    "reissue the gateway certificate with extended key usage serverAuth and clientAuth",
                )
            ]
        return [passed("tls.server_auth", "allows server auth")]

    def check_hostnames(self) -> list[Check]:
        cert = self.cert
        if cert is None:
            return []
        # the names partners dial: the listen host (unless a wildcard bind) and our directory endpoint
        hosts = []
        listen_host = split_host_port(self.config.listen)[0]
        if listen_host not in _WILDCARD_HOSTS:
            hosts.append(listen_host)
        agency = self.agency
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
                    f"certificate {self.config.tls_cert} names {sans}, not {', '.join(missing)}: a client "
                    f"dialling {missing[0]} will refuse the certificate (hostname mismatch)",
                    f"reissue the certificate with a DNS or IP SAN for {', '.join(missing)}",
                )
            ]
        return [passed("tls.hostnames", f"SANs {sans} cover {', '.join(hosts) or 'every address'}")]

    # ------------------------------------------------------------ signing key

    def check_signing_key(self) -> list[Check]:
        from borderx.statements.signing import load_signing_key  # noqa: PLC0415 - only this check needs it

        path = self.config.signing_key
        if path is None:
            return [
                warning(
                    "signing.key",
                    "no [signing] key: this gateway can relay but cannot publish or sign checkpoints",
                    "set [signing] key to the agency's Ed25519 key listed in the directory",
                )
            ]
        try:
            signer = load_signing_key(path)
        except ConfigError as exc:
            return [
                error(
                    "signing.key",
                    str(exc),
                    f"point [signing] key at {self.config.agency}'s Ed25519 PKCS#8 PEM key (now {path})",
                )
            ]
        directory, agency = self.directory, self.agency
        kid = signer.key_id
        if directory is None or agency is None:
            return [passed("signing.key", f"{path}: Ed25519, key id {kid[:16]}… (directory not checked)")]
        listed = ", ".join(f"{k.key_id[:16]}…" for k in agency.signing_keys) or "none"
        try:
            key = directory.key(kid)
        except UnknownKey:
            return [
                error(
                    "signing.key",
                    f"signing key {path} (key id {kid}) is not in directory v{directory.version}; "
                    f"{agency.id}'s keys there: {listed}. Partners would refuse everything it signs",
                    f"have key id {kid} registered for {agency.id} in the directory, or configure the "
                    "key that is listed",
                )
            ]
        if key.agency != agency.id:
            return [
                error(
                    "signing.key",
                    f"signing key {path} (key id {kid[:16]}…) is listed for {key.agency}, not {agency.id}",
                    f"configure {agency.id}'s own key (listed: {listed})",
                )
            ]
        return [self._key_window(key, path)]

    def _key_window(self, key: SigningKey, path: Path) -> Check:
        now = self.clock()
        until = format_time(key.valid_until) if key.valid_until else "no end"
        window = f"valid {format_time(key.valid_from)} to {until}"
        rotate = (
            f"generate a new Ed25519 key, have it listed for {key.agency} in the directory, and point "
            "[signing] key at it"
        )
        name = f"signing key {path} (key id {key.key_id[:16]}…)"
        if key.status == "revoked":
            return error("signing.key", f"{name} is revoked in the directory ({window})", rotate)
        if now < key.valid_from:
            return error(
                "signing.key", f"{name} is not valid yet: {window}; now is {format_time(now)}", rotate
            )
        if key.valid_until is not None and now >= key.valid_until:
            return error("signing.key", f"{name} expired: {window}; now is {format_time(now)}", rotate)
        if key.valid_until is not None and key.valid_until - now < EXPIRY_WARNING:
            return warning(
                "signing.key", f"{name} expires in {_days(key.valid_until - now)}: {window}", rotate
            )
        return passed("signing.key", f"{path}: Ed25519, key id {key.key_id[:16]}… of {key.agency}, {window}")

    # ------------------------------------------------------------ store

    def check_store(self) -> list[Check]:
        url = self.config.store_url
        if url.startswith(("postgresql://", "postgres://")):
            return [check_postgres(url, timeout=self.timeout)]
        return [check_sqlite(url)]

    # ------------------------------------------------------------ peers

    def check_peers(self) -> list[Check]:
        fed = self.config.federation
        if not fed.enabled:
            return [passed("peers", "replication is off ([federation] enabled = false); no peer checked")]
        directory = self.directory
        if directory is None:
            return [
                warning(
                    "peers",
                    "peers not checked: the directory is unusable (see above)",
                    "fix the directory, then run doctor again",
                )
            ]
        if self.cert is None or self.key is None or not self.pair_ok:
            return [
                warning(
                    "peers",
                    "peers not checked: this gateway's TLS certificate or key is unusable (see above)",
                    "fix [tls], then run doctor again",
                )
            ]
        checks: list[Check] = []
        targets: list[_Peer] = []
        # the same choice as Replicator.peers(): configured peers, or every other member
        names = (
            fed.peers
            if fed.peers is not None
            else tuple(a for a in directory.agencies if a != self.config.agency)
        )
        for peer in names:
            if peer == self.config.agency:
                continue
            if peer not in directory.agencies:
                checks.append(
                    warning(
                        f"peer.{peer}",
                        f"[federation] peers names {peer}, which is not in directory v{directory.version}: "
                        "it is skipped",
                        f"remove {peer} from [federation] peers, or get a directory that lists it",
                    )
                )
                continue
            override = fed.endpoints.get(peer)
            endpoint = override or directory.agencies[peer].endpoint
            if not endpoint:
                checks.append(
                    warning(
                        f"peer.{peer}",
                        f"no endpoint for {peer} in the directory nor in [federation.endpoints]: not replicated",
                        f'add {peer} = "HOST:PORT" under [federation.endpoints]',
                    )
                )
                continue
            source = "[federation.endpoints]" if override else "the directory"
            targets.append(_Peer(peer, endpoint, source, directory.agencies[peer].ca_pem))
        if not targets and not checks:
            return [passed("peers", "no peers to replicate from")]
        probe = _PeerProbe(self.config, cert=self.cert, clock=self.clock, timeout=self.timeout)
        # peers are independent: check them at once, so one black-holed peer costs one timeout
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(targets)))) as pool:
            results = list(pool.map(lambda p: _guarded(p.check_name, lambda: probe.check(p)), targets))
        for result in results:
            checks += result
        return checks


@dataclass(frozen=True)
class _Peer:
    agency: str
    endpoint: str
    source: str  # where the endpoint comes from, for the fix
    ca_pem: bytes  # the peer agency's own CA: the only one trusted for it, as the replicator does

    @property
    def check_name(self) -> str:
        return f"peer.{self.agency}"

    @property
    def where(self) -> str:
        return f"{self.agency} at {self.endpoint} (from {self.source})"


class _PeerProbe:
    """Contact one peer the way the replicator does, in steps that tell the failures apart."""

    def __init__(
        self, config: GatewayConfig, *, cert: x509.Certificate, clock: Callable[[], datetime], timeout: float
    ) -> None:
        self.config = config
        self.clock = clock
        self.timeout = timeout
        self.ours = f"our certificate (serial {_serial(cert)})"

    def check(self, peer: _Peer) -> list[Check]:
        host, port = split_host_port(peer.endpoint)
        # 1. TCP: unreachable and reachable-but-refusing need different fixes
        try:
            socket.create_connection((host, port), timeout=self.timeout).close()
        except OSError as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
            return [
                error(
                    peer.check_name,
                    f"peer {peer.where} is unreachable: TCP connect failed ({reason})",
                    f"check that {peer.agency}'s gateway runs at {peer.endpoint}, that the address is right "
                    f"({peer.source}), and that firewalls allow tcp/{port} from this host",
                )
            ]
        # 2. TLS, both ways: "refuses our certificate" and "presents one not from its CA"
        refused = self._tls(peer, host, port)
        if refused is not None:
            return [refused]
        # 3. gRPC with our certificate: health, Subscribe and the peer's clock
        return self._grpc(peer)

    def _refuses_fix(self, peer: _Peer) -> str:
        return (
            f"{peer.agency}'s directory must list the CA that issued our certificate for "
            f"{self.config.agency}; check tls.chain above, and that both sides use the same directory version"
        )

    def _tls(self, peer: _Peer, host: str, port: int) -> Check | None:  # noqa: PLR0911 - one return per failure, each with its fix
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cadata=peer.ca_pem.decode())
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        context.set_alpn_protocols(["h2"])
        name = peer.check_name
        with socket.create_connection((host, port), timeout=self.timeout) as raw:
            try:
                tls = context.wrap_socket(raw, server_hostname=host)
            except ssl.SSLCertVerificationError as exc:
                return error(
                    name,
                    f"peer {peer.where} presents a certificate not from {peer.agency}'s CA in the directory, "
                    f"or not for {host} ({exc.verify_message})",
                    f"check that {peer.source} gives {peer.agency}'s gateway (not another one), and that "
                    f"the directory has {peer.agency}'s current CA",
                )
            except TimeoutError:
                return error(
                    name,
                    f"peer {peer.where} accepted TCP but did not complete TLS within {self.timeout:g} s",
                    f"check that {peer.endpoint} is {peer.agency}'s gateway (TLS gRPC), not another service",
                )
            except OSError as exc:  # an alert (ssl.SSLError) or the connection dropped
                reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
                return error(
                    name,
                    f"peer {peer.where} refuses {self.ours} in the TLS handshake ({reason or exc})",
                    self._refuses_fix(peer),
                )
            with tls:
                # under TLS 1.3 the server judges our certificate after our side of the handshake
                # is done: its verdict is the first thing we read (its SETTINGS, or an alert)
                try:
                    tls.sendall(_H2_PREFACE)
                    answer = tls.recv(1)
                except TimeoutError:
                    return None  # no verdict yet: the gRPC calls tell the rest
                except OSError as exc:
                    reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
                    return error(
                        name,
                        f"peer {peer.where} refuses {self.ours} after the TLS handshake ({reason or exc})",
                        self._refuses_fix(peer),
                    )
        if not answer:
            return error(
                name,
                f"peer {peer.where} closed the connection after the TLS handshake: it refuses {self.ours}",
                self._refuses_fix(peer),
            )
        return None

    def _grpc(self, peer: _Peer) -> list[Check]:
        import grpc  # noqa: PLC0415 - the offline checks do not load grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

        from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc  # noqa: PLC0415
        from borderx.server.exchange import SERVER_TIME_HEADER  # noqa: PLC0415

        credentials = grpc.ssl_channel_credentials(
            root_certificates=peer.ca_pem,
            private_key=self.config.tls_key.read_bytes(),
            certificate_chain=self.config.tls_cert.read_bytes(),
        )
        with grpc.secure_channel(peer.endpoint, credentials, options=[("grpc.enable_retries", 0)]) as channel:
            try:
                health = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=self.timeout
                )
            except grpc.RpcError as exc:
                return [self._refusal(peer, "a health check", exc)]
            request = exchange_pb2.SubscribeRequest(follow=False, issuers=[_NO_ISSUER])
            sent = self.clock()
            try:
                call = exchange_pb2_grpc.ExchangeStub(channel).Subscribe(request, timeout=self.timeout)
                metadata = dict(call.initial_metadata() or ())
                received = self.clock()
                for _ in call:  # nothing matches the filter: this only reads the final status
                    pass
            except grpc.RpcError as exc:
                return [self._refusal(peer, "our Subscribe", exc)]
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
        reachable = (
            passed(peer.check_name, f"{peer.endpoint}: TLS both ways, health {status}, Subscribe allowed")
            if health.status == health_pb2.HealthCheckResponse.SERVING
            else warning(
                peer.check_name,
                f"peer {peer.where} answers but its health is {status}",
                f"ask {peer.agency}'s operators; replication resumes when it serves again",
            )
        )
        return [reachable, clock_check(peer.agency, metadata.get(SERVER_TIME_HEADER), sent, received)]

    def _refusal(self, peer: _Peer, what: str, exc: Any) -> Check:
        import grpc  # noqa: PLC0415

        code, details = exc.code(), exc.details() or ""
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return error(
                peer.check_name,
                f"peer {peer.where} refuses {what}: {code.name}: {details}",
                "the peer's message says what it expects; compare with tls.spiffe_id and tls.chain above",
            )
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return error(
                peer.check_name,
                f"peer {peer.where} did not answer {what} within {self.timeout:g} s",
                f"check {peer.agency}'s gateway health and the network path",
            )
        return error(
            peer.check_name,
            f"peer {peer.where} refuses our certificate or is unreachable: {what} failed with "
            f"{code.name}: {details}",
            self._refuses_fix(peer),
        )


def clock_check(peer: str, header: Any, sent: datetime, received: datetime) -> Check:
    """Compare the peer's clock (``header``, read between ``sent`` and ``received``) with ours."""
    name = f"clock.{peer}"
    try:
        theirs = datetime.fromisoformat(str(header))
    except ValueError:
        theirs = None
    if theirs is None or theirs.tzinfo is None:
        return warning(
            name,
            f"peer {peer} sent no usable server time ({header!r}); clock skew not measured",
            f"{peer}'s gateway may be an older borderx; ask its operators to check NTP",
        )
    # the peer read its clock somewhere between our send and receive: allow half the round trip
    middle = sent + (received - sent) / 2
    half_rtt = (received - sent).total_seconds() / 2
    skew = (theirs - middle).total_seconds()
    beyond = max(0.0, abs(skew) - half_rtt)
    direction = "ahead of" if skew > 0 else "behind"
    text = (
        f"peer {peer}'s clock ({format_time(theirs)}) is {abs(skew):.1f} s {direction} this host's "
        f"({format_time(middle)}), ±{half_rtt:.2f} s"
    )
    fix = (
        "synchronise the clocks with NTP (chrony or systemd-timesyncd) on this host and ask "
        f"{peer} to do the same: key windows, certificate validity and statement times depend on them"
    )
    if beyond > CLOCK_SKEW_ERROR:
        return error(name, f"{text}: more than {CLOCK_SKEW_ERROR:g} s", fix)
    if beyond > CLOCK_SKEW_WARNING:
        return warning(name, f"{text}: more than {CLOCK_SKEW_WARNING:g} s", fix)
    return passed(name, text)


# ---------------------------------------------------------------- store checks


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


@contextlib.contextmanager
def _probe_file(folder: Path) -> Iterator[None]:
    """Create and remove a file in ``folder``: the one test of writability that holds for root too."""
    fd, name = tempfile.mkstemp(prefix=".borderx-doctor-", dir=folder)
    try:
        yield
    finally:
        os.close(fd)
        os.unlink(name)


def check_sqlite(url: str) -> Check:  # noqa: PLR0911 - one return per failure, each with its fix
    from borderx.store import open_store  # noqa: PLC0415 - loads the backend only when checked

    path = Path(url.removeprefix("sqlite:///"))
    folder = path.parent
    if not path.exists():
        if not folder.is_dir():
            existing = _first_existing(folder)
            what = "is a file, not a folder" if existing.is_file() else "does not exist"
            if existing != folder:
                problem = f"store {path}: folder {folder} does not exist ({existing} {what})"
            else:
                problem = f"store {path}: folder {folder} {what}"
            return error(
                "store",
                problem,
                f"point `store` at a file in a writable folder, or create the folder (mkdir -p {folder}) "
                "owned by the user the gateway runs as",
            )
        try:
            with _probe_file(folder):
                pass
        except OSError as exc:
            return error(
                "store",
                f"store {path}: cannot create files in {folder} ({exc.strerror})",
                f"give the user the gateway runs as write access to {folder}, or point `store` elsewhere",
            )
        return passed(
            "store", f"{path} does not exist yet; folder {folder} is writable (created at first start)"
        )
    if path.is_dir():
        return error(
            "store", f"store {path} is a folder, not a database file", f"point `store` at a file in {path}"
        )
    try:
        # O_RDWR fails on a read-only file system or a file we may not write, root or not
        os.close(os.open(path, os.O_RDWR))
        # SQLite's WAL keeps -wal and -shm files next to the database
        with _probe_file(folder):
            pass
    except OSError as exc:
        return error(
            "store",
            f"store {path} is not writable ({exc.strerror}: {exc.filename or path})",
            f"give the user the gateway runs as write access to {path} and its folder {folder}",
        )
    try:
        store = open_store(url)
    except ConfigError as exc:
        return error(
            "store", str(exc), f"point `store` at this gateway's borderx store, or move {path} aside"
        )
    try:
        heads = store.heads()
    finally:
        store.close()
    return passed("store", f"{path}: a borderx store, writable, {len(heads)} issuer chains held")


def check_postgres(url: str, *, timeout: float) -> Check:  # noqa: PLR0911 - one return per failure, each with its fix
    """Connect with a short timeout and check the rights the gateway will need; changes nothing."""
    import psycopg  # noqa: PLC0415 - only a PostgreSQL store needs psycopg
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    from borderx.store import redact_url  # noqa: PLC0415
    from borderx.store.postgres import parse_url  # noqa: PLC0415

    where = redact_url(url)
    try:
        params, schema = parse_url(url)
    except ConfigError as exc:
        return error("store", str(exc), 'write store = "postgresql://USER@HOST:PORT/DATABASE?schema=NAME"')
    params["connect_timeout"] = str(max(1, round(timeout)))
    password = params.get("password")

    def clean(exc: BaseException) -> str:
        message = str(exc).strip()
        return message.replace(password, "***") if password else message

    try:
        conn = psycopg.connect(make_conninfo("", **params), autocommit=True)
    except psycopg.Error as exc:
        return error(
            "store",
            f"store {where}: cannot connect to PostgreSQL within {params['connect_timeout']} s ({clean(exc)})",
            "check host, port, database, user and password, and that the server accepts this host "
            "(listen_addresses, pg_hba.conf)",
        )
    try:
        with conn:
            row = conn.execute("SHOW transaction_read_only").fetchone()
            if row is not None and row[0] == "on":
                return error(
                    "store",
                    f"store {where}: the server is read-only (a standby?)",
                    "point `store` at the primary",
                )
            tables = conn.execute("SELECT to_regclass('borderx_schema')").fetchone()
            if tables is not None and tables[0] is not None:
                row = conn.execute(
                    "SELECT has_table_privilege(to_regclass('statements'), 'INSERT')"
                ).fetchone()
                can, what = bool(row and row[0]), "insert into its tables"
            elif (
                schema is not None
                and conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            ):
                row = conn.execute("SELECT has_schema_privilege(%s, 'CREATE')", (schema,)).fetchone()
                can, what = bool(row and row[0]), f"create tables in schema {schema}"
            elif schema is not None:
                row = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()
                can, what = bool(row and row[0]), f"create schema {schema}"
            else:
                row = conn.execute(
                    "SELECT current_schema(), has_schema_privilege(current_schema(), 'CREATE')"
                ).fetchone()
                if row is None or row[0] is None:
                    return error(
                        "store",
                        f"store {where}: the search_path names no existing schema",
                        "add ?schema=NAME to the store URL (it is created if absent)",
                    )
                can, what = bool(row[1]), f"create tables in schema {row[0]}"
    except psycopg.Error as exc:
        return error("store", f"store {where}: {clean(exc)}", "check the user's rights on the database")
    if not can:
        return error(
            "store",
            f"store {where}: user {params.get('user', '(default)')} may not {what}",
            f"GRANT the user the right to {what}, or use the gateway's own database user",
        )
    return passed("store", f"{where}: reachable, writable (may {what})")
