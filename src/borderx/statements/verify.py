"""Fail-closed verification of statements and checkpoints against the directory (DESIGN §2, §3).

This module owns the answer to "did the issuer sign this, with a key it held at the time,
and is the body the one it signed?". It reads the directory and never the store, and it
verifies ``header_bytes`` exactly as received (never a re-serialisation).

Checks, in this order, each failure its own error with the numbers in its message:

1. the header is well formed (already done by ``encoding.decode_header`` when the
   envelope was built, so a malformed header never reaches here);
2. the issuer is a member (``UnknownIssuer``);
3. the signature set is well formed (``SignatureSetInvalid``): at least one signature, at
   most ``MAX_SIGNATURES``, no key id twice; every key is in the directory (``UnknownKey``)
   and belongs to the header's issuer (``IssuerMismatch``);
4. every signing key was valid at ``issued_at`` (``KeyNotValid``, ``KeyRevoked``);
5. every signature verifies: Ed25519 over ``PAE(PAYLOAD_TYPE_STATEMENT, header_bytes)``
   (``BadSignature``);
6. a present body hashes to ``body_digest`` (``BodyDigestMismatch``);
7. optionally, the body type is the one the caller expects (``BodyTypeMismatch``).

**Multi-signature rule.** Every signature present must be by a distinct key that the
directory lists for the header's issuer, valid at ``issued_at``, and must verify; there
must be at least one. Extra signatures are refused rather than ignored: an accepted
envelope is stored and relayed as it is, and every member must reach the same verdict on
it (DESIGN §7.1), which "ignore what you cannot check" would not guarantee. Two
signatures are normal during a key rotation (old and new key, overlapping windows).

``verify_*`` raise; ``*_result`` return a ``VerificationResult`` (STYLE habit 4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature

from borderx.directory.model import Directory, SigningKey, format_time
from borderx.errors import (
    BadSignature,
    BodyDigestMismatch,
    BodyTypeMismatch,
    IssuerMismatch,
    SignatureSetInvalid,
    VerificationError,
)
from borderx.statements.encoding import MAX_SIGNATURES, checkpoint_pae, cosignature_pae, statement_pae
from borderx.statements.model import (
    Checkpoint,
    Envelope,
    Header,
    Signature,
    SignedCheckpoint,
    SignedCosignature,
)


@dataclass(frozen=True, slots=True)
class VerifiedStatement:
    """An envelope that passed ``verify_statement``, with the keys whose signatures verified."""

    envelope: Envelope
    key_ids: tuple[str, ...]

    @property
    def header(self) -> Header:
        return self.envelope.header

    @property
    def digest(self) -> bytes:
        return self.envelope.digest


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A signed checkpoint that passed ``verify_checkpoint``."""

    signed: SignedCheckpoint
    key_ids: tuple[str, ...]

    @property
    def checkpoint(self) -> Checkpoint:
        return self.signed.checkpoint


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """What a ``*_result`` check found.

    ``reason`` is ``"ok"`` or the failing ``VerificationError.reason``; ``key_id`` is the
    first key that verified, or the key at fault when the failure concerns one key.
    """

    ok: bool
    reason: str
    message: str
    key_id: str | None = None


class _Blamed(Exception):
    """Carries a VerificationError together with the key it concerns, for ``*_result``."""

    def __init__(self, error: VerificationError, key_id: str) -> None:
        super().__init__(str(error))
        self.error, self.key_id = error, key_id


def _short(key_id: str) -> str:
    return f"{key_id[:16]}…"


def _check_signatures(
    directory: Directory,
    *,
    issuer: str,
    signatures: Sequence[Signature],
    when: datetime,
    signed: bytes,
    what: str,
    cryptography: bool = True,
) -> tuple[str, ...]:
    """Steps 3 to 5 for one signed payload; returns the key ids that verified.

    ``cryptography=False`` skips step 5 alone (the Ed25519 arithmetic) for signature bytes
    another signed object already vouches for; the caller must verify them before anything
    is marked verified, relayed or exported (see ``statements/intake.py``).
    """
    # an unsigned envelope proves nothing; one with hundreds of signatures is a CPU attack
    if not signatures:
        raise SignatureSetInvalid(f"{what} carries no signatures; at least one key of {issuer} must sign")
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureSetInvalid(
            f"{what} carries {len(signatures)} signatures, the limit is {MAX_SIGNATURES}"
        )
    if len(signatures) > 1:
        ids = [s.key_id for s in signatures]
        if len(set(ids)) != len(ids):
            # a repeated key would count one key's signature twice towards any threshold
            dupes = sorted({_short(k) for k in ids if ids.count(k) > 1})
            raise SignatureSetInvalid(f"{what} is signed more than once by key {', '.join(dupes)}")
    keys: list[SigningKey] = []
    for s in signatures:
        key_id = s.key_id
        try:
            key = directory.key(key_id)
            # a key of another agency must never make a statement count as this issuer's,
            # or a member could speak for another (or co-sign to look like it did)
            if key.agency != issuer:
                raise IssuerMismatch(
                    f"{what}: header says {issuer} but key {_short(key_id)} belongs to {key.agency}"
                )
        except VerificationError as exc:
            raise _Blamed(exc, key_id) from None
        keys.append(key)
    for key in keys:
        # a stolen key that was retired must not sign "old" statements, and a key must not
        # sign before its window opens (checks in SigningKey.check_valid_at)
        try:
            key.check_valid_at(when)
        except VerificationError as exc:
            raise _Blamed(exc, key.key_id) from None
    if not cryptography:
        return tuple(k.key_id for k in keys)
    for key, s in zip(keys, signatures, strict=True):
        try:
            key.public_key.verify(s.sig, signed)
        except InvalidSignature:
            detail = "" if len(s.sig) == 64 else f" (signature is {len(s.sig)} bytes, Ed25519 uses 64)"
            raise _Blamed(
                BadSignature(
                    f"{what}: signature by key {_short(key.key_id)} of {issuer} does not verify{detail}"
                ),
                key.key_id,
            ) from None
    return tuple(k.key_id for k in keys)


def _verify_statement(
    env: Envelope, directory: Directory, expected_body_type: str | None, cryptography: bool = True
) -> VerifiedStatement:
    header = env.header
    issuer = header.issuer
    # a statement from outside the federation has no key anyone could check it with
    directory.agency(issuer)
    what = f"{issuer} seq {header.seq}"
    key_ids = _check_signatures(
        directory,
        issuer=issuer,
        signatures=env.signatures,
        when=header.issued_at,
        signed=statement_pae(env.header_bytes),
        what=what,
        cryptography=cryptography,
    )
    body = env.body
    # the signature covers the header only; the digest is what binds the body to it, so a
    # relay that swaps the body is caught here
    if body is not None:
        actual = hashlib.sha256(body).digest()
        if actual != header.body_digest:
            raise BodyDigestMismatch(
                f"{what}: body has SHA-256 {actual.hex()[:16]}…, the signed header says "
                f"{header.body_digest.hex()[:16]}…"
            )
    # a statement signed as one body type must not be read as another
    if expected_body_type is not None and header.body_type != expected_body_type:
        raise BodyTypeMismatch(
            f"{what}: header says body_type {header.body_type}, expected {expected_body_type}"
        )
    return VerifiedStatement(env, key_ids)


def verify_statement(
    env: Envelope, directory: Directory, *, expected_body_type: str | None = None, cryptography: bool = True
) -> VerifiedStatement:
    """Verify ``env`` against ``directory``; raises a VerificationError subclass naming the reason.

    ``cryptography=False`` checks everything but the Ed25519 arithmetic (see ``_check_signatures``).
    """
    try:
        return _verify_statement(env, directory, expected_body_type, cryptography)
    except _Blamed as blamed:
        raise blamed.error from None


def statement_result(
    env: Envelope, directory: Directory, *, expected_body_type: str | None = None
) -> VerificationResult:
    """``verify_statement`` as a value: what passed, or the first check that failed and why."""
    try:
        verified = _verify_statement(env, directory, expected_body_type)
    except _Blamed as blamed:
        return VerificationResult(False, blamed.error.reason, str(blamed.error), blamed.key_id)
    except VerificationError as exc:
        return VerificationResult(False, exc.reason, str(exc), None)
    return VerificationResult(
        True,
        "ok",
        f"{env.issuer} seq {env.seq} verified by key {_short(verified.key_ids[0])}",
        verified.key_ids[0],
    )


def _verify_checkpoint(scp: SignedCheckpoint, directory: Directory) -> VerifiedCheckpoint:
    cp = scp.checkpoint
    directory.agency(cp.issuer)
    what = f"checkpoint of {cp.issuer} at seq {cp.seq} ({format_time(cp.time)})"
    key_ids = _check_signatures(
        directory,
        issuer=cp.issuer,
        signatures=scp.signatures,
        when=cp.time,
        signed=checkpoint_pae(scp.checkpoint_bytes),
        what=what,
    )
    return VerifiedCheckpoint(scp, key_ids)


def verify_checkpoint(scp: SignedCheckpoint, directory: Directory) -> VerifiedCheckpoint:
    """Verify a signed checkpoint like a statement (same signature-set rule, key valid at ``time``)."""
    try:
        return _verify_checkpoint(scp, directory)
    except _Blamed as blamed:
        raise blamed.error from None


def checkpoint_result(scp: SignedCheckpoint, directory: Directory) -> VerificationResult:
    try:
        verified = _verify_checkpoint(scp, directory)
    except _Blamed as blamed:
        return VerificationResult(False, blamed.error.reason, str(blamed.error), blamed.key_id)
    except VerificationError as exc:
        return VerificationResult(False, exc.reason, str(exc), None)
    return VerificationResult(
        True,
        "ok",
        f"checkpoint of {scp.issuer} at seq {scp.seq} verified by key {_short(verified.key_ids[0])}",
        verified.key_ids[0],
    )


def _verify_cosignature(scos: SignedCosignature, directory: Directory) -> VerifiedCheckpoint:
    cos = scos.cosignature
    directory.agency(cos.witness)
    what = f"cosignature by {cos.witness} of {cos.issuer}'s checkpoint at seq {cos.seq} ({format_time(cos.time)})"
    _check_signatures(
        directory,
        issuer=cos.witness,
        signatures=scos.signatures,
        when=cos.time,
        signed=cosignature_pae(scos.cosignature_bytes),
        what=what,
    )
    # the cosigned checkpoint is the issuer's own signed claim, and must verify as such
    return _verify_checkpoint(cos.checkpoint, directory)


def verify_cosignature(scos: SignedCosignature, directory: Directory) -> VerifiedCheckpoint:
    """Verify a witness's cosignature and the issuer's checkpoint inside it; raises VerificationError.

    The witness must be a member whose key was valid at the cosignature's time; the
    checkpoint must verify under the issuer's key valid at the checkpoint's time.
    """
    try:
        return _verify_cosignature(scos, directory)
    except _Blamed as blamed:
        raise blamed.error from None
