"""The statement model (DESIGN §3): headers, envelopes, signatures, checkpoints.

This module owns the in-memory shapes that every other layer passes around. It imports
no protobuf and does no I/O: the bytes live in ``borderx.statements.encoding``, which is
the only producer of bytes to sign and the only place that turns bytes into these objects.

Invariants kept here (by convention of construction, not re-checked on every build, so
that building an envelope stays cheap on the hot paths):

- ``Envelope.header`` is the strict decode of ``Envelope.header_bytes``; the bytes are
  the ones that were signed and are never re-serialised (STYLE habit 1). Build envelopes
  with ``encoding.*`` or ``signing.*``, never by hand outside tests.
- ``Envelope.digest`` is SHA-256 of ``header_bytes``, computed once at construction; it is
  the statement's identity in chains, checkpoints and equivocation evidence.
- ``body is None`` means redacted (the receiver is outside the audience); a present body
  is bound to the header by ``header.body_digest``, which verification checks.
- Times are timezone-aware UTC ``datetime`` values with microsecond precision.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

#: ``prev_digest`` of seq 1: there is no previous header.
GENESIS_DIGEST: Final = bytes(32)

#: DSSE payload types; the type is bound into every signature by PAE, so a statement
#: signature can never be replayed as a checkpoint signature or the other way round.
PAYLOAD_TYPE_STATEMENT: Final = "application/vnd.borderx.statement.v1+protobuf"
PAYLOAD_TYPE_CHECKPOINT: Final = "application/vnd.borderx.checkpoint.v1+protobuf"
#: a witness's cosignature over an issuer's checkpoint: its own type, so a cosignature can
#: never be presented as a statement or a checkpoint (or the reverse)
PAYLOAD_TYPE_COSIGNATURE: Final = "application/vnd.borderx.cosignature.v1+protobuf"

#: The body types, as strings (mapped to the protobuf BodyType enum in ``encoding``).
BODY_TYPES: Final = frozenset({"designation", "flag", "withdrawal"})

DIGEST_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class Header:
    """The signed part of a statement (decoded from ``Envelope.header_bytes``)."""

    issuer: str
    seq: int
    prev_digest: bytes
    issued_at: datetime
    audience: tuple[str, ...]
    body_type: str
    body_digest: bytes

    def readable_by(self, agency_id: str) -> bool:
        """Whether ``agency_id`` may see the body: an empty audience means every member."""
        return not self.audience or agency_id in self.audience or agency_id == self.issuer


@dataclass(frozen=True, slots=True)
class Signature:
    """One DSSE signature: Ed25519 over PAE(payloadType, payload), named by key id."""

    key_id: str
    sig: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Header bytes as signed, their signatures, the body (``None`` when redacted), the decoded header."""

    header_bytes: bytes = field(repr=False)
    signatures: tuple[Signature, ...]
    body: bytes | None = field(repr=False)
    header: Header
    _digest: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_digest", hashlib.sha256(self.header_bytes).digest())

    @property
    def digest(self) -> bytes:
        """SHA-256 of ``header_bytes``: what the next header's ``prev_digest`` and checkpoints name."""
        return self._digest

    @property
    def issuer(self) -> str:
        return self.header.issuer

    @property
    def seq(self) -> int:
        return self.header.seq

    @property
    def redacted(self) -> bool:
        return self.body is None

    def redact(self) -> Envelope:
        """The same statement without its body, for a receiver outside the audience.

        Header bytes and signatures are untouched, so the redacted envelope still verifies.
        """
        if self.body is None:
            return self
        return dataclasses.replace(self, body=None)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An issuer's signed claim "my chain is at ``seq``, whose header digest is ``head_digest``"."""

    issuer: str
    seq: int
    head_digest: bytes
    time: datetime
    #: rolling digest over the signature sets of statements 1..seq (b"" = not committed)
    signatures_digest: bytes = b""


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """Checkpoint bytes as signed, their signatures, and the decoded checkpoint."""

    checkpoint_bytes: bytes = field(repr=False)
    signatures: tuple[Signature, ...]
    checkpoint: Checkpoint

    @property
    def issuer(self) -> str:
        return self.checkpoint.issuer

    @property
    def seq(self) -> int:
        return self.checkpoint.seq


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A witness's claim "at ``time`` I held ``checkpoint.issuer``'s chain with this checkpoint's head"."""

    checkpoint: SignedCheckpoint
    witness: str
    time: datetime

    @property
    def issuer(self) -> str:
        return self.checkpoint.issuer

    @property
    def seq(self) -> int:
        return self.checkpoint.seq

    @property
    def head_digest(self) -> bytes:
        return self.checkpoint.checkpoint.head_digest


@dataclass(frozen=True, slots=True)
class SignedCosignature:
    """Cosignature bytes as signed by the witness, their signatures, and the decoded cosignature."""

    cosignature_bytes: bytes = field(repr=False)
    signatures: tuple[Signature, ...]
    cosignature: Cosignature

    @property
    def witness(self) -> str:
        return self.cosignature.witness

    @property
    def issuer(self) -> str:
        return self.cosignature.issuer

    @property
    def seq(self) -> int:
        return self.cosignature.seq

    @property
    def head_digest(self) -> bytes:
        return self.cosignature.head_digest
