"""A small federation for statement tests: throwaway CAs, deterministic Ed25519 keys, a directory.

Keys are made from fixed seeds so failures reproduce; CA certificates are made once per
session (they only need to be CAs for the directory to load).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from borderx.directory.model import Agency, Directory, SigningKey, build_directory, key_id_for
from borderx.identity.devpki import DEV_PROGRAMMES, directory_key_entry
from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint
from borderx.statements.signing import Signer, sign_checkpoint, sign_statement

#: the time most test statements are issued at
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def signer_from_seed(label: str) -> Signer:
    return Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest()))


@cache
def ca_certificate(agency: str) -> x509.Certificate:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"ca {agency}".encode()).digest())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{agency} test CA")])
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(hashlib.sha256(agency.encode()).digest()[:8], "big"))
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None)
    )


def key_from_raw(
    raw: bytes,
    agency: str,
    *,
    valid_from: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    valid_until: datetime | None = None,
    status: str = "active",
) -> SigningKey:
    return SigningKey(
        key_id=key_id_for(raw),
        agency=agency,
        public_key=Ed25519PublicKey.from_public_bytes(raw),
        raw=raw,
        valid_from=valid_from,
        valid_until=valid_until,
        status=status,
    )


def signing_key(
    signer: Signer,
    agency: str,
    *,
    valid_from: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    valid_until: datetime | None = None,
    status: str = "active",
) -> SigningKey:
    return key_from_raw(
        signer.public_key_raw, agency, valid_from=valid_from, valid_until=valid_until, status=status
    )


def make_directory(keys: dict[str, Iterable[SigningKey]], *, version: int = 1) -> Directory:
    agencies = [
        Agency(
            id=agency,
            name=agency,
            endpoint="127.0.0.1:0",
            ca_certificates=(ca_certificate(agency),),
            signing_keys=tuple(agency_keys),
            directory_keys=(directory_key_entry(agency, Ed25519PrivateKey.generate()),),
            # programme ownership is the directory's (CTPAT → US-CBP, AU_ATT → AU-ABF, …)
            programmes=tuple(DEV_PROGRAMMES.get(agency, ())),
        )
        for agency, agency_keys in keys.items()
    ]
    return build_directory(
        federation="border5.test",
        version=version,
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        agencies=agencies,
        expires=datetime(2036, 1, 1, tzinfo=UTC),
        threshold=1,
    )


@dataclass
class World:
    """AU-ABF rotating keys (au_old until 2026-07-01, au_new from 2026-06-01), US-CBP with one
    key, NZ-CS with a revoked key and an active one, and a rogue key nobody lists."""

    directory: Directory
    signers: dict[str, Signer]
    issuer_of: dict[str, str] = field(default_factory=dict)

    def statement(
        self,
        signer: str = "au_old",
        *,
        issuer: str | None = None,
        seq: int = 1,
        prev_digest: bytes = GENESIS_DIGEST,
        issued_at: datetime = T0,
        audience: Iterable[str] = (),
        body_type: str = "designation",
        body: bytes = b"designation body",
    ) -> Envelope:
        return sign_statement(
            self.signers[signer],
            issuer=issuer or self.issuer_of[signer],
            seq=seq,
            prev_digest=prev_digest,
            issued_at=issued_at,
            audience=audience,
            body_type=body_type,
            body=body,
        )

    def chain(
        self, n: int, signer: str = "au_old", *, start: Envelope | None = None, **kw: Any
    ) -> list[Envelope]:
        """``n`` statements extending ``start`` (or from genesis), one minute apart."""
        out: list[Envelope] = []
        prev = start
        for _ in range(n):
            seq = prev.seq + 1 if prev else 1
            env = self.statement(
                signer,
                seq=seq,
                prev_digest=prev.digest if prev else GENESIS_DIGEST,
                issued_at=T0 + timedelta(minutes=seq),
                body=f"body {seq}".encode(),
                **kw,
            )
            out.append(env)
            prev = env
        return out

    def checkpoint(
        self, head: Envelope, signer: str = "au_old", *, time: datetime | None = None
    ) -> SignedCheckpoint:
        return sign_checkpoint(
            self.signers[signer],
            issuer=head.issuer,
            seq=head.seq,
            head_digest=head.digest,
            time=time or head.header.issued_at + timedelta(minutes=1),
        )


@pytest.fixture(scope="session")
def world() -> World:
    signers = {
        name: signer_from_seed(name) for name in ("au_old", "au_new", "us", "nz_revoked", "nz", "rogue")
    }
    issuer_of = {
        "au_old": "AU-ABF",
        "au_new": "AU-ABF",
        "us": "US-CBP",
        "nz_revoked": "NZ-CS",
        "nz": "NZ-CS",
        "rogue": "AU-ABF",
    }
    directory = make_directory(
        {
            "AU-ABF": [
                signing_key(signers["au_old"], "AU-ABF", valid_until=datetime(2026, 7, 1, tzinfo=UTC)),
                signing_key(signers["au_new"], "AU-ABF", valid_from=datetime(2026, 6, 1, tzinfo=UTC)),
            ],
            "US-CBP": [signing_key(signers["us"], "US-CBP")],
            "NZ-CS": [
                signing_key(signers["nz_revoked"], "NZ-CS", status="revoked"),
                signing_key(signers["nz"], "NZ-CS"),
            ],
        }
    )
    return World(directory=directory, signers=signers, issuer_of=issuer_of)


@pytest.fixture(scope="session")
def directory_of() -> Callable[[dict[str, list[bytes]]], Directory]:
    """``directory_of({agency: [raw public keys]})``: a directory with those keys, valid from 2025."""

    def build(keys: dict[str, list[bytes]]) -> Directory:
        return make_directory(
            {agency: [key_from_raw(raw, agency) for raw in raws] for agency, raws in keys.items()}
        )

    return build
