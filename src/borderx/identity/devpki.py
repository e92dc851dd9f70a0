"""A development PKI: per agency, its own CA, gateway/operator/service certificates and a signing key.

Layout written by :func:`init_pki` under ``DIR``::

    DIR/directory.json
    DIR/<AGENCY>/ca.pem ca.key                 the agency's own CA (ECDSA P-256)
    DIR/<AGENCY>/gateway.pem gateway.key       server+client auth; localhost, 127.0.0.1, …/gateway
    DIR/<AGENCY>/operator.pem operator.key     client auth; …/operator/admin
    DIR/<AGENCY>/service.pem service.key       client auth; …/service/default
    DIR/<AGENCY>/signing.key                   Ed25519 statement-signing key (PKCS#8 PEM)
    DIR/<AGENCY>/directory.key                 Ed25519 directory key: signs directory versions
    DIR/<AGENCY>/gateway.toml                  a ready config for `borderx serve`

Private keys are written mode 0600. The certificates follow the Web PKI profile that
``cryptography.x509.verification`` enforces (critical basic constraints, key usage,
subject/authority key identifiers, SANs), so a real agency's CA that follows it works too.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from borderx.directory.model import (
    Agency,
    Directory,
    DirectoryKey,
    SigningKey,
    build_directory,
    key_id_for,
    load_directory_key,
    sign_document,
)
from borderx.errors import ConfigError

DEFAULT_FEDERATION = "border5.test"
DEFAULT_AGENCIES = ("US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC")
DEFAULT_BASE_PORT = 50051
AGENCY_NAMES = {
    "US-CBP": "U.S. Customs and Border Protection",
    "AU-ABF": "Australian Border Force",
    "NZ-CS": "New Zealand Customs Service",
    "CA-CBSA": "Canada Border Services Agency",
    "GB-HMRC": "HM Revenue & Customs",
}

#: the programmes each dev agency owns, written into the directory it signs (DESIGN §4)
DEV_PROGRAMMES = {
    "US-CBP": ("CTPAT",),
    "AU-ABF": ("AU_ATT",),
    "NZ-CS": ("NZ_SES",),
    "CA-CBSA": ("CA_PIP",),
    "GB-HMRC": ("UK_AEO",),
}

DIRECTORY_LIFETIME = timedelta(days=365)
CA_LIFETIME = timedelta(days=3650)
LEAF_LIFETIME = timedelta(days=397)
KEY_LIFETIME = timedelta(days=730)
_BACKDATE = timedelta(minutes=5)  # tolerate small clock skew between machines


@dataclass(frozen=True)
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(
    common_name: str, *, now: datetime | None = None, lifetime: timedelta = CA_LIFETIME
) -> CertificateAuthority:
    now = now or datetime.now(UTC)
    key = new_ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert, key)


def issue_certificate(
    ca: CertificateAuthority,
    *,
    common_name: str,
    uris: Sequence[str] = (),
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    server: bool = False,
    client: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Issue a leaf certificate. Tests use the knobs to make every kind of bad certificate."""
    now = datetime.now(UTC)
    key = key or new_ec_key()
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    sans += [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ip_addresses]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _BACKDATE)
        .not_valid_after(not_after or now + LEAF_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        # the SAN is critical when the subject is not the identity (RFC 5280 §4.2.1.6)
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca.key, hashes.SHA256()), key


def spiffe_id(federation: str, agency: str, role: str, name: str = "") -> str:
    base = f"spiffe://{federation}/agency/{agency}/{role}"
    return f"{base}/{name}" if name else base


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def pem_key(key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only (mode 0600 from creation, no window)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def signing_key_entry(
    agency: str, key: Ed25519PrivateKey, *, valid_from: datetime, valid_until: datetime | None
) -> SigningKey:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(
        key_id=key_id_for(raw),
        agency=agency,
        public_key=key.public_key(),
        raw=raw,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def directory_key_entry(agency: str, key: Ed25519PrivateKey) -> DirectoryKey:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return DirectoryKey(key_id=key_id_for(raw), agency=agency, public_key=key.public_key(), raw=raw)


def sign_as_members(pki: Path, signed: object, agencies: Sequence[str]) -> str:
    """The document for ``signed`` (a JSON object), signed with ``agencies``' dev directory keys."""
    from borderx.directory.model import document_text  # noqa: PLC0415

    text = document_text(signed, [])  # type: ignore[arg-type]
    for agency in agencies:
        text = sign_document(text, load_directory_key(pki / agency / "directory.key"))
    return text


def gateway_toml(agency: str, port: int) -> str:
    from borderx.screening.policy import seed_recognition  # noqa: PLC0415

    owners = {p: a for a, programmes in DEV_PROGRAMMES.items() for p in programmes}
    recognise = "\n".join(
        f"{programme} = {json.dumps(levels)}"
        for programme, levels in seed_recognition(agency, owners).items()
    )
    return f"""# borderx gateway configuration for {agency} (dev PKI). Paths are relative to this file.
agency = "{agency}"
listen = "127.0.0.1:{port}"
directory = "../directory.json"
store = "sqlite:///{agency.lower()}.db"

[tls]
cert = "gateway.pem"
key = "gateway.key"

[signing]
key = "signing.key"

[limits]
max_message_bytes = 16777216   # bytes, per request or response message
max_screen_batch = 10000        # shipments per Screen call
max_publish_batch = 1000        # statements per Publish call

# Screening policy. Mutual recognition: partner programmes (and levels; [] = all) this
# agency recognises; its own programme is always recognised. Seeded from the real MRAs.
[policy.recognise]
{recognise}

# Flag category x evidence -> action overrides (EXPEDITE, STANDARD, EXAMINE, HOLD);
# the defaults are in borderx/screening/policy.py.
[policy.flags.DE_MINIMIS_SPLITTING]
SUSPECTED = "EXAMINE"
"""


def init_pki(
    out: Path,
    *,
    federation: str = DEFAULT_FEDERATION,
    agencies: Sequence[str] = DEFAULT_AGENCIES,
    base_port: int = DEFAULT_BASE_PORT,
    force: bool = False,
) -> Directory:
    """Write a complete dev PKI for ``agencies`` into ``out``; returns the directory it wrote."""
    if len(set(agencies)) != len(agencies) or not agencies:
        raise ConfigError(f"--agencies must list distinct agency ids, got {list(agencies)}")
    if out.exists() and any(out.iterdir()) and not force:
        raise ConfigError(f"{out} is not empty; pass --force to overwrite it")
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    members: list[Agency] = []
    for index, agency in enumerate(agencies):
        folder = out / agency
        folder.mkdir(exist_ok=True)
        ca = make_ca(f"{agency} borderx CA")
        (folder / "ca.pem").write_bytes(pem_cert(ca.cert))
        write_private(folder / "ca.key", pem_key(ca.key))
        leaves = {
            "gateway": issue_certificate(
                ca,
                common_name=f"{agency} gateway",
                uris=[spiffe_id(federation, agency, "gateway")],
                dns_names=["localhost"],
                ip_addresses=["127.0.0.1"],
                server=True,
                client=True,
            ),
            "operator": issue_certificate(
                ca,
                common_name=f"{agency} operator admin",
                uris=[spiffe_id(federation, agency, "operator", "admin")],
            ),
            "service": issue_certificate(
                ca,
                common_name=f"{agency} service default",
                uris=[spiffe_id(federation, agency, "service", "default")],
            ),
        }
        for name, (cert, key) in leaves.items():
            (folder / f"{name}.pem").write_bytes(pem_cert(cert))
            write_private(folder / f"{name}.key", pem_key(key))
        signing = Ed25519PrivateKey.generate()
        write_private(folder / "signing.key", pem_key(signing))
        directory_key = Ed25519PrivateKey.generate()
        write_private(folder / "directory.key", pem_key(directory_key))
        port = base_port + index
        (folder / "gateway.toml").write_text(gateway_toml(agency, port))
        members.append(
            Agency(
                id=agency,
                name=AGENCY_NAMES.get(agency, agency),
                endpoint=f"127.0.0.1:{port}",
                ca_certificates=(ca.cert,),
                signing_keys=(
                    signing_key_entry(
                        agency, signing, valid_from=now - timedelta(days=1), valid_until=now + KEY_LIFETIME
                    ),
                ),
                programmes=DEV_PROGRAMMES.get(agency, ()),
                directory_keys=(directory_key_entry(agency, directory_key),),
            )
        )
    unsigned = build_directory(
        federation=federation,
        version=1,
        issued_at=now,
        agencies=members,
        expires=now + DIRECTORY_LIFETIME,
        threshold=len(members) // 2 + 1,  # a majority: 3 of 5
    )
    text = sign_as_members(out, unsigned.to_json(), agencies)
    (out / "directory.json").write_text(text)
    return Directory.loads(text)
