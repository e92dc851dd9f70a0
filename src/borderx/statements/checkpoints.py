"""Bulk authentication of a run of statements by one signed checkpoint (DESIGN §3).

This module owns ``verify_run``: given an issuer's signed checkpoint ``(issuer, seq,
head_digest, time)`` and the run of envelopes that follows what the caller holds, it
verifies one Ed25519 signature (the checkpoint's) and then only hashes and compares, so a
bulk sync authenticates thousands of statements for the price of one verification.

**Why this is sound.** The checkpoint signature, by a key of the issuer valid at the
checkpoint's time, commits to ``head_digest`` = SHA-256 of the header bytes at ``seq``.
That header carries ``prev_digest`` = SHA-256 of the header before it, and so on back to
``start`` (a head the caller already verified) or to genesis. Each header carries the
SHA-256 of its body. So, by the collision resistance of SHA-256, a run whose headers
chain from ``start`` to ``head_digest`` is byte for byte the run the issuer had when it
signed the checkpoint, and every present body is the body it signed: altering, dropping,
inserting or reordering anything breaks a link, and the first broken link names the seq.

What is checked per statement (cheap): issuer equals the checkpoint's issuer; seq is the
next one; prev_digest links; the signature set is well formed (at least one, at most
``MAX_SIGNATURES``, no key twice, every key is the issuer's and was valid at the
statement's ``issued_at``); a present body matches ``body_digest``.

**Signatures.** The per-statement signature bytes sit beside the header, outside the hash
chain, so a relay could corrupt them while headers and bodies stay authentic — and the
stored envelope would then fail a per-statement verifier downstream (DESIGN §7.1). Our
checkpoints therefore also commit to a rolling digest of every statement's signature set
(``signatures_digest``): when the checkpoint carries one and the caller knows the rolling
digest at its start, the run's signatures are checked by hashing too. Otherwise (an issuer
that does not commit to signatures, or an unknown start) each signature is verified one by
one: slower, never weaker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from borderx.directory.model import Directory, SigningKey
from borderx.errors import (
    BadSignature,
    BodyDigestMismatch,
    ChainError,
    ChainGap,
    Equivocation,
    IssuerMismatch,
    PrevDigestMismatch,
    SignatureSetInvalid,
)
from borderx.statements.chain import ChainHead
from borderx.statements.encoding import MAX_SIGNATURES
from borderx.statements.model import GENESIS_DIGEST, Envelope, Header, SignedCheckpoint
from borderx.statements.verify import verify_checkpoint, verify_statement

#: the rolling signatures digest before statement 1
GENESIS_SIGNATURES = bytes(32)


def signature_set_digest(env: Envelope) -> bytes:
    """SHA-256 over an envelope's signatures, in envelope order, each length-prefixed."""
    parts = []
    for s in env.signatures:
        key = s.key_id.encode()
        parts.append(len(key).to_bytes(2, "big") + key + len(s.sig).to_bytes(2, "big") + s.sig)
    return hashlib.sha256(b"".join(parts)).digest()


def roll_signatures(start: bytes, run: Sequence[Envelope]) -> bytes:
    """The rolling signatures digest after ``run``, starting from ``start``."""
    sha256 = hashlib.sha256
    digest = start
    for env in run:
        digest = sha256(digest + signature_set_digest(env)).digest()
    return digest


def _short(digest: bytes) -> str:
    return f"{digest.hex()[:16]}…"


def _check_position(header: Header, issuer: str, seq: int, prev: bytes) -> None:
    """The statement sits at ``seq`` of ``issuer``'s chain and links to ``prev``."""
    # one checkpoint vouches for one issuer's chain only
    if header.issuer != issuer:
        raise IssuerMismatch(f"run position for {issuer} seq {seq} holds a statement of {header.issuer}")
    if header.seq != seq:
        # a missing statement shows as a jump; a reordered one as a step back or a jump
        if header.seq > seq:
            raise ChainGap(issuer, seq - 1, header.seq)
        raise ChainError(f"{issuer}: run out of order, expected seq {seq}, got seq {header.seq}")
    # the hash link is what the checkpoint signature reaches each header through
    if header.prev_digest != prev:
        raise PrevDigestMismatch(
            f"{issuer} seq {seq}: prev_digest {_short(header.prev_digest)} does not match the "
            f"header at seq {seq - 1} ({_short(prev)}); seq {seq - 1} or {seq} was altered"
        )


def _check_signers_and_body(
    env: Envelope, issuer: str, seq: int, keys: Mapping[str, SigningKey], directory: Directory
) -> None:
    """The signature set is one a per-statement verifier would look at, and the body is the signed one."""
    sigs = env.signatures
    # no signature, or a CPU-exhausting number of them, would be refused one by one too
    if not sigs or len(sigs) > MAX_SIGNATURES:
        raise SignatureSetInvalid(
            f"{issuer} seq {seq} carries {len(sigs)} signatures, expected 1..{MAX_SIGNATURES}"
        )
    # one key counted twice would inflate any threshold
    if len(sigs) > 1 and len({s.key_id for s in sigs}) != len(sigs):
        raise SignatureSetInvalid(f"{issuer} seq {seq} is signed more than once by one key")
    when = env.header.issued_at
    for s in sigs:
        key = keys.get(s.key_id)
        if key is None:
            # UnknownKey if nobody has it; IssuerMismatch if another agency does: a member
            # must not appear to co-sign, or sign for, another member's statements
            other = directory.key(s.key_id)
            raise IssuerMismatch(
                f"{issuer} seq {seq}: header says {issuer} but key {s.key_id[:16]}… belongs to {other.agency}"
            )
        # a statement claiming a key outside its window (or a revoked key) would be refused
        # one by one, so it is refused here too (check_valid_at raises with the dates)
        if (
            key.status == "revoked"
            or when < key.valid_from
            or (key.valid_until is not None and when >= key.valid_until)
        ):
            key.check_valid_at(when)
    body = env.body
    # the body is bound to its header by digest, and the header to the checkpoint by the chain
    if body is not None:
        actual = hashlib.sha256(body).digest()
        if actual != env.header.body_digest:
            raise BodyDigestMismatch(
                f"{issuer} seq {seq}: body has SHA-256 {_short(actual)}, "
                f"the header says {_short(env.header.body_digest)}"
            )


def verify_run(
    checkpoint: SignedCheckpoint,
    run: Sequence[Envelope],
    *,
    directory: Directory,
    start: ChainHead | None,
    start_signatures: bytes | None = None,
) -> list[Envelope]:
    """Authenticate ``run`` (seq start.seq+1 .. checkpoint.seq, in order) by ``checkpoint``.

    ``start`` is the head the caller holds for the issuer (None: nothing, so the run starts
    at seq 1 from genesis). Returns the run as a list. Raises the checkpoint's
    VerificationError, or ChainGap / PrevDigestMismatch / ChainError / IssuerMismatch /
    SignatureSetInvalid / KeyNotValid / KeyRevoked / UnknownKey / BodyDigestMismatch naming
    the seq at which the run broke, or Equivocation when the run is empty and the checkpoint
    names another header at the held head's seq. ``start_signatures`` is the rolling
    signatures digest at ``start`` (GENESIS_SIGNATURES at genesis); see the module docstring.
    """
    verify_checkpoint(checkpoint, directory)
    cp = checkpoint.checkpoint
    issuer = cp.issuer
    if start is None:
        seq, prev = 0, GENESIS_DIGEST
    else:
        # a head of another issuer would let this checkpoint vouch for someone else's chain
        if start.issuer != issuer:
            raise IssuerMismatch(f"checkpoint of {issuer} applied to the chain head of {start.issuer}")
        seq, prev = start.seq, start.digest
    if cp.seq < seq:
        raise ChainError(f"{issuer}: checkpoint at seq {cp.seq} is behind the held head at seq {seq}")
    if len(run) > cp.seq - seq:
        # statements beyond the checkpoint are not covered by its signature
        raise ChainError(
            f"{issuer}: run holds {len(run)} statements after seq {seq}, "
            f"the checkpoint covers only up to seq {cp.seq}"
        )
    keys = {k.key_id: k for k in directory.agency(issuer).signing_keys}
    for env in run:
        seq += 1
        _check_position(env.header, issuer, seq, prev)
        _check_signers_and_body(env, issuer, seq, keys, directory)
        prev = env.digest
    if seq != cp.seq:
        raise ChainError(
            f"{issuer}: run ends at seq {seq} but the checkpoint is at seq {cp.seq}; "
            f"missing seq {seq + 1}..{cp.seq}"
        )
    if prev != cp.head_digest:
        if not run:
            # the issuer signed a different header for a seq this holder already verified
            raise Equivocation(issuer, seq, prev, cp.head_digest)
        raise PrevDigestMismatch(
            f"{issuer}: the header at seq {seq} has digest {_short(prev)}, the checkpoint signed "
            f"head {_short(cp.head_digest)}; the run was altered at or before seq {seq}"
        )
    _check_run_signatures(
        checkpoint, run, directory, GENESIS_SIGNATURES if start is None else start_signatures
    )
    return list(run)


def _check_run_signatures(
    checkpoint: SignedCheckpoint,
    run: Sequence[Envelope],
    directory: Directory,
    start_signatures: bytes | None,
) -> None:
    cp = checkpoint.checkpoint
    if cp.signatures_digest and start_signatures is not None:
        if roll_signatures(start_signatures, run) != cp.signatures_digest:
            first = cp.seq - len(run) + 1
            raise BadSignature(
                f"{cp.issuer}: the signatures of seq {first}..{cp.seq} are not those the issuer "
                f"committed to in its checkpoint at seq {cp.seq}; a relay altered them"
            )
        return
    for env in run:
        verify_statement(env, directory)
