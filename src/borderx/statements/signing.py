"""Signing statements and checkpoints with an agency's Ed25519 key (DESIGN §3).

This module owns private keys in memory and the act of signing. The bytes it signs come
only from ``borderx.statements.encoding`` (``encode_header``/``encode_checkpoint``), wrapped
in DSSE PAE with the payload type, so a signature made here verifies with any
DSSE-conformant verifier. Signatures name their key by key id (hex SHA-256 of the raw
public key, as in the directory).

Invariants kept here: a ``Signer`` only ever holds an Ed25519 key; key material never
appears in a repr, a log or an error; an envelope leaves here with ``header`` equal to the
decode of ``header_bytes`` and ``body_digest`` equal to SHA-256 of its body. The hot path
(``sign_statement``) does one header build, two SHA-256 and one Ed25519 signature, nothing
more, because a gateway signs every statement its agency publishes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.directory.model import key_id_for
from borderx.errors import ConfigError, InvalidArgument
from borderx.statements.encoding import (
    checkpoint_pae,
    cosignature_pae,
    encode_checkpoint,
    encode_cosignature,
    encode_header,
    statement_pae,
)
from borderx.statements.model import (
    Checkpoint,
    Cosignature,
    Envelope,
    Header,
    Signature,
    SignedCheckpoint,
    SignedCosignature,
)


class Signer:
    """An Ed25519 private key and its key id. ``repr`` shows the key id only."""

    __slots__ = ("_private_key", "key_id", "public_key_raw")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        # another algorithm would produce signatures no member's directory entry can check
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ConfigError(f"statement signing keys are Ed25519; got a {type(private_key).__name__}")
        self._private_key = private_key
        self.public_key_raw: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id: str = key_id_for(self.public_key_raw)

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature over ``data`` (callers pass PAE bytes, never raw payloads)."""
        return self._private_key.sign(data)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id[:16]}…)"


def load_signing_key(path: str | Path) -> Signer:
    """Load an unencrypted PKCS#8 PEM Ed25519 private key; ConfigError says what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"signing key {path}: cannot read it ({exc.strerror})") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(
            f"signing key {path}: the key is encrypted; borderx reads an unencrypted PKCS#8 PEM "
            "protected by file permissions"
        ) from None
    except ValueError:
        raise ConfigError(f"signing key {path}: not a PEM private key") from None
    # a key of another algorithm would sign statements no directory entry can verify
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"signing key {path}: holds {_kind(key)} key; statement signing keys must be Ed25519"
        )
    return Signer(key)


def _kind(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return f"an RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"an EC {key.curve.name}"
    if isinstance(key, ed448.Ed448PrivateKey):
        return "an Ed448"
    return f"a {type(key).__name__}"


def sign_statement(
    signer: Signer,
    *,
    issuer: str,
    seq: int,
    prev_digest: bytes,
    issued_at: datetime,
    audience: Iterable[str] = (),
    body_type: str,
    body: bytes,
) -> Envelope:
    """Build, encode and sign one statement header over ``body``; the envelope carries the body.

    Raises InvalidArgument (naming the field) for anything a verifier would refuse.
    Whether ``signer`` belongs to ``issuer`` is the directory's business and is checked
    by every verifier, not here.
    """
    # on the wire an empty body is indistinguishable from a redacted one (proto3 bytes)
    if not body:
        raise InvalidArgument("is empty; a statement needs a body", field="body")
    if issued_at.tzinfo is not UTC:
        if issued_at.tzinfo is None or issued_at.utcoffset() is None:
            raise InvalidArgument("has no time zone; use a UTC datetime", field="issued_at")
        issued_at = issued_at.astimezone(UTC)
    header = Header(
        issuer=issuer,
        seq=seq,
        prev_digest=prev_digest,
        issued_at=issued_at,
        audience=audience if type(audience) is tuple else tuple(audience),
        body_type=body_type,
        body_digest=hashlib.sha256(body).digest(),
    )
    header_bytes = encode_header(header)
    sig = signer.sign(statement_pae(header_bytes))
    return Envelope(
        header_bytes=header_bytes,
        signatures=(Signature(signer.key_id, sig),),
        body=body,
        header=header,
    )


def add_signature(env: Envelope, signer: Signer) -> Envelope:
    """``env`` with one more signature over the same header bytes (co-signing during key rotation)."""
    if any(s.key_id == signer.key_id for s in env.signatures):
        raise InvalidArgument(f"envelope is already signed by key {signer.key_id[:16]}…", field="signatures")
    sig = Signature(signer.key_id, signer.sign(statement_pae(env.header_bytes)))
    return Envelope(
        header_bytes=env.header_bytes,
        signatures=(*env.signatures, sig),
        body=env.body,
        header=env.header,
    )


def sign_checkpoint(
    signer: Signer,
    *,
    issuer: str,
    seq: int,
    head_digest: bytes,
    time: datetime,
    signatures_digest: bytes = b"",
) -> SignedCheckpoint:
    """Sign ``(issuer, seq, head_digest, time)``: the issuer's chain head at ``time``."""
    if time.tzinfo is not UTC:
        if time.tzinfo is None or time.utcoffset() is None:
            raise InvalidArgument("has no time zone; use a UTC datetime", field="time")
        time = time.astimezone(UTC)
    checkpoint = Checkpoint(
        issuer=issuer, seq=seq, head_digest=head_digest, time=time, signatures_digest=signatures_digest
    )
    data = encode_checkpoint(checkpoint)
    return SignedCheckpoint(
        checkpoint_bytes=data,
        signatures=(Signature(signer.key_id, signer.sign(checkpoint_pae(data))),),
        checkpoint=checkpoint,
    )


def sign_cosignature(
    signer: Signer, *, checkpoint: SignedCheckpoint, witness: str, time: datetime
) -> SignedCosignature:
    """Witness ``checkpoint``: ``witness``'s signature, at its own ``time``, over the issuer's signed checkpoint.

    The caller has verified the checkpoint against its own copy of the chain; signing says so.
    """
    if time.tzinfo is not UTC:
        if time.tzinfo is None or time.utcoffset() is None:
            raise InvalidArgument("has no time zone; use a UTC datetime", field="time")
        time = time.astimezone(UTC)
    cos = Cosignature(checkpoint=checkpoint, witness=witness, time=time)
    data = encode_cosignature(cos)
    return SignedCosignature(
        cosignature_bytes=data,
        signatures=(Signature(signer.key_id, signer.sign(cosignature_pae(data))),),
        cosignature=cos,
    )
