"""Bytes of statements and checkpoints: the only producer of bytes to sign (STYLE habit 1).

This module owns the mapping between the model (``borderx.statements.model``) and the wire
contract (``proto/borderx/v1/statement.proto``). It is the one module under ``statements/``
that imports the generated protobuf classes, because the signed bytes *are* protobuf; every
other module of this package works on the model alone.

Invariants kept here:

- ``encode_header`` / ``encode_checkpoint`` are the only functions that produce bytes that
  get signed. They refuse to produce a header that ``decode_header`` would refuse, and they
  serialise deterministically, so ``decode_header(encode_header(h)) == h``.
- Decoding is strict and fail-closed: anything the encoder would not have produced
  (unparseable bytes, unknown fields, non-canonical encoding, out-of-range values) is a
  ``MalformedHeader`` whose message names what is wrong.
- ``*_from_proto`` / ``*_from_wire`` keep the signed bytes exactly as received; nothing
  here re-serialises a header or checkpoint that someone else signed.
- On the wire an empty ``SignedStatement.body`` means *redacted* (``Envelope.body is
  None``): proto3 cannot tell an absent ``bytes`` field from an empty one, so a statement
  with a zero-length body cannot be sent, and ``signing.sign_statement`` refuses to make one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from borderx._proto.borderx.v1 import statement_pb2 as pb
from borderx.directory.model import AGENCY_ID_PATTERN
from borderx.errors import InvalidArgument, MalformedHeader, SignatureSetInvalid
from borderx.statements.model import (
    DIGEST_SIZE,
    GENESIS_DIGEST,
    PAYLOAD_TYPE_CHECKPOINT,
    PAYLOAD_TYPE_COSIGNATURE,
    PAYLOAD_TYPE_STATEMENT,
    Checkpoint,
    Cosignature,
    Envelope,
    Header,
    Signature,
    SignedCheckpoint,
    SignedCosignature,
)

# ---------------------------------------------------------------- limits

#: Largest header accepted. A header with a full audience of a large federation is well
#: under 8 KiB; the limit stops memory and CPU exhaustion by oversized headers.
MAX_HEADER_BYTES: Final = 16 * 1024
MAX_CHECKPOINT_BYTES: Final = 1024
MAX_SIGNED_CHECKPOINT_BYTES: Final = 4096
#: a cosignature carries one signed checkpoint, an agency id and a time
MAX_COSIGNATURE_BYTES: Final = MAX_SIGNED_CHECKPOINT_BYTES + 256
MAX_SIGNED_COSIGNATURE_BYTES: Final = MAX_COSIGNATURE_BYTES + 4096
#: Envelopes are bounded by the gRPC message size limit at the edge; this is a last guard
#: for envelopes read from files or the store.
MAX_ENVELOPE_BYTES: Final = 16 * 1024 * 1024
#: At most this many audience entries (a federation is a few dozen agencies).
MAX_AUDIENCE: Final = 256
#: At most this many signatures on one envelope: each costs an Ed25519 verification, so
#: the limit stops an attacker from making one envelope cost thousands of verifications.
MAX_SIGNATURES: Final = 8

_MIN_SECONDS: Final = -62_135_596_800  # 0001-01-01T00:00:00Z, the smallest datetime
_MAX_SECONDS: Final = 253_402_300_799  # 9999-12-31T23:59:59Z, the largest datetime
_MAX_UINT64: Final = 2**64 - 1
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

BODY_TYPE_TO_PROTO: Final[dict[str, pb.BodyType]] = {
    "designation": pb.BODY_TYPE_DESIGNATION,
    "flag": pb.BODY_TYPE_FLAG,
    "withdrawal": pb.BODY_TYPE_WITHDRAWAL,
}
BODY_TYPE_FROM_PROTO: Final[dict[pb.BodyType, str]] = {v: k for k, v in BODY_TYPE_TO_PROTO.items()}


def body_digest(body: bytes) -> bytes:
    """SHA-256 of the exact body bytes, as carried in ``Header.body_digest``."""
    return hashlib.sha256(body).digest()


# ---------------------------------------------------------------- DSSE PAE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``.

    LEN is the ASCII decimal byte length, as in the DSSE v1 protocol. Binding the payload
    type into the signed bytes stops a signature over one kind of payload being presented
    as a signature over another.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


_STATEMENT_PAE_PREFIX: Final = pae(PAYLOAD_TYPE_STATEMENT, b"")[: -len(b"0 ")]
_CHECKPOINT_PAE_PREFIX: Final = pae(PAYLOAD_TYPE_CHECKPOINT, b"")[: -len(b"0 ")]


def statement_pae(header_bytes: bytes) -> bytes:
    """``pae(PAYLOAD_TYPE_STATEMENT, header_bytes)``, with the constant prefix precomputed."""
    return b"%b%d %b" % (_STATEMENT_PAE_PREFIX, len(header_bytes), header_bytes)


def cosignature_pae(cosignature_bytes: bytes) -> bytes:
    """``pae(PAYLOAD_TYPE_COSIGNATURE, cosignature_bytes)``."""
    return pae(PAYLOAD_TYPE_COSIGNATURE, cosignature_bytes)


def checkpoint_pae(checkpoint_bytes: bytes) -> bytes:
    """``pae(PAYLOAD_TYPE_CHECKPOINT, checkpoint_bytes)``."""
    return b"%b%d %b" % (_CHECKPOINT_PAE_PREFIX, len(checkpoint_bytes), checkpoint_bytes)


# ---------------------------------------------------------------- time


def _timestamp_parts(when: datetime, field: str) -> tuple[int, int]:
    # a naive datetime would be read as local time on one machine and UTC on another:
    # the same statement would carry different instants depending on who built it
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidArgument("timestamp has no time zone; use a UTC datetime", field=field)
    delta = when - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds * 1000


def _from_timestamp(ts: Any, what: str, error: type[Exception] = MalformedHeader) -> datetime:
    seconds, nanos = ts.seconds, ts.nanos
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise error(f"{what} seconds {seconds} is outside 0001-01-01..9999-12-31")
    # sub-microsecond precision would be lost in the model, so the decoded header could
    # not be encoded back to the bytes that were signed
    if not 0 <= nanos < 1_000_000_000 or nanos % 1000:
        raise error(f"{what} nanos {nanos} is not a whole number of microseconds in 0..999999999")
    return _EPOCH + timedelta(0, seconds, nanos // 1000)


# ---------------------------------------------------------------- strict parsing helpers


def _parse(cls: Any, data: bytes, what: str, limit: int) -> Any:
    if not isinstance(data, bytes):
        raise MalformedHeader(f"{what} must be bytes, got {type(data).__name__}")
    # oversized input is refused before parsing, so its size cannot exhaust memory or CPU
    if len(data) > limit:
        raise MalformedHeader(f"{what} is {len(data)} bytes, the limit is {limit}")
    try:
        msg = cls.FromString(data)
    except DecodeError as exc:
        raise MalformedHeader(f"{what} is not a valid {cls.DESCRIPTOR.name} protobuf ({exc})") from None
    return msg


def _refuse_unknown(msg: Any, what: str) -> None:
    # unknown fields are content the signer meant but this verifier would silently ignore:
    # a newer signer's restriction (say, a narrower audience) must not be dropped unseen
    unknown = UnknownFieldSet(msg)
    if len(unknown):
        numbers = sorted({unknown[i].field_number for i in range(len(unknown))})
        raise MalformedHeader(f"{what} has unknown field(s) {numbers}; this verifier cannot honour them")


def _require_canonical(msg: Any, data: bytes, what: str, timestamp_field: str) -> None:
    """Refuse unknown fields anywhere and any encoding but the canonical one.

    One header, one byte string: repeated or reordered fields or explicit defaults could be
    read differently by another language's parser (a parser-differential attack), and
    would let two byte strings stand for one header. Unknown fields are content the signer
    meant but this verifier would silently ignore: a newer signer's restriction (say, a
    narrower audience) must not be dropped unseen. The fast path is one re-serialisation
    (of known fields only) compared with the input; the slow path only explains a refusal.
    """
    msg.DiscardUnknownFields()
    if msg.SerializeToString(deterministic=True) == data:
        return
    original = type(msg).FromString(data)
    _refuse_unknown(original, what)
    if original.HasField(timestamp_field):
        _refuse_unknown(getattr(original, timestamp_field), f"{what} {timestamp_field}")
    raise MalformedHeader(
        f"{what} is not in canonical protobuf encoding (fields repeated, out of order, "
        "or default values written)"
    )


def _check_digest(value: bytes, what: str) -> None:
    if len(value) != DIGEST_SIZE:
        raise MalformedHeader(f"{what} is {len(value)} bytes, a SHA-256 digest is {DIGEST_SIZE}")


#: Agency ids already seen to match AGENCY_ID_PATTERN: a memo of a pure check, so the few
#: dozen ids of a federation go through the regex once rather than on every header.
#: Bounded, so ids an attacker makes up cannot grow it without limit.
_VALID_AGENCY_IDS: set[str] = set()
_VALID_AGENCY_IDS_LIMIT: Final = 4096


def _is_agency_id(value: object) -> bool:
    if type(value) is not str:
        return False
    if value in _VALID_AGENCY_IDS:
        return True
    # fullmatch: the pattern's "$" alone would also accept a trailing newline
    if AGENCY_ID_PATTERN.fullmatch(value) is None:
        return False
    if len(_VALID_AGENCY_IDS) < _VALID_AGENCY_IDS_LIMIT:
        _VALID_AGENCY_IDS.add(value)
    return True


def _check_agency(value: str, what: str) -> None:
    if not value:
        raise MalformedHeader(f"{what} is empty")
    if not _is_agency_id(value):
        raise MalformedHeader(f"{what} {value[:40]!r} is not an agency id of the form CC-NAME (e.g. AU-ABF)")


# ---------------------------------------------------------------- statement headers


def encode_header(header: Header) -> bytes:
    """The bytes to sign for ``header``: a deterministic StatementHeader.

    Raises InvalidArgument (naming the field) for a header that ``decode_header`` would
    refuse, so nothing unverifiable is ever signed.
    """
    issuer, seq, audience = header.issuer, header.seq, header.audience
    if not _is_agency_id(issuer):
        raise InvalidArgument(f"{issuer!r} is not an agency id of the form CC-NAME", field="issuer")
    if type(seq) is not int or not 1 <= seq <= _MAX_UINT64:
        raise InvalidArgument(f"seq {seq!r} is not in 1..2^64-1", field="seq")
    prev, digest = header.prev_digest, header.body_digest
    if type(prev) is not bytes or len(prev) != DIGEST_SIZE:
        raise InvalidArgument(f"is {len(prev)} bytes, expected 32", field="prev_digest")
    if type(digest) is not bytes or len(digest) != DIGEST_SIZE:
        raise InvalidArgument(f"is {len(digest)} bytes, expected 32", field="body_digest")
    body_type = BODY_TYPE_TO_PROTO.get(header.body_type)
    if body_type is None:
        raise InvalidArgument(
            f"{header.body_type!r} is not one of designation, flag, withdrawal", field="body_type"
        )
    if audience and (
        len(audience) > MAX_AUDIENCE
        or len(set(audience)) != len(audience)
        or not all(map(_is_agency_id, audience))
    ):
        _explain_audience_input(audience)
    seconds, nanos = _timestamp_parts(header.issued_at, "issued_at")
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise InvalidArgument("is outside 0001-01-01..9999-12-31", field="issued_at")
    msg = pb.StatementHeader(
        issuer=issuer,
        seq=seq,
        prev_digest=prev,
        issued_at={"seconds": seconds, "nanos": nanos},
        audience=audience,
        body_type=body_type,
        body_digest=digest,
    )
    data: bytes = msg.SerializeToString(deterministic=True)
    if len(data) > MAX_HEADER_BYTES:
        raise InvalidArgument(f"header would be {len(data)} bytes, the limit is {MAX_HEADER_BYTES}")
    return data


def _explain_audience_input(audience: tuple[str, ...]) -> None:
    if len(audience) > MAX_AUDIENCE:
        raise InvalidArgument(
            f"lists {len(audience)} agencies, the limit is {MAX_AUDIENCE}", field="audience"
        )
    if len(set(audience)) != len(audience):
        raise InvalidArgument("lists an agency more than once", field="audience")
    for i, agency in enumerate(audience):
        if not _is_agency_id(agency):
            raise InvalidArgument(
                f"{agency!r} is not an agency id of the form CC-NAME", field=f"audience[{i}]"
            )


def decode_header(data: bytes) -> Header:
    """Strictly decode signed header bytes; raises MalformedHeader naming what is wrong."""
    msg = _parse(pb.StatementHeader, data, "header", MAX_HEADER_BYTES)
    _require_canonical(msg, data, "header", "issued_at")
    if not msg.HasField("issued_at"):
        raise MalformedHeader("header issued_at is missing")
    issuer: str = msg.issuer
    if not _is_agency_id(issuer):
        _check_agency(issuer, "header issuer")
    seq: int = msg.seq
    # seq 0 would sit before genesis; chains start at 1
    if seq == 0:
        raise MalformedHeader("header seq is 0; sequence numbers start at 1")
    prev: bytes = msg.prev_digest
    if len(prev) != DIGEST_SIZE:
        _check_digest(prev, "header prev_digest")
    digest: bytes = msg.body_digest
    if len(digest) != DIGEST_SIZE:
        _check_digest(digest, "header body_digest")
    body_type = BODY_TYPE_FROM_PROTO.get(msg.body_type)
    if body_type is None:
        raise MalformedHeader(f"header body_type {msg.body_type} is not designation, flag or withdrawal")
    audience: tuple[str, ...] = tuple(msg.audience)
    if audience:
        # a duplicated or malformed audience entry means the signer's intent is unclear;
        # reading it one way or another could leak a body to a member it was not meant for
        if len(audience) > MAX_AUDIENCE:
            raise MalformedHeader(
                f"header audience lists {len(audience)} agencies, the limit is {MAX_AUDIENCE}"
            )
        if len(set(audience)) != len(audience):
            dupes = sorted({a for a in audience if audience.count(a) > 1})
            raise MalformedHeader(f"header audience lists {', '.join(dupes)} more than once")
        if not all(map(_is_agency_id, audience)):
            for i, agency in enumerate(audience):
                _check_agency(agency, f"header audience[{i}]")
    return Header(
        issuer=issuer,
        seq=seq,
        prev_digest=prev,
        issued_at=_from_timestamp(msg.issued_at, "header issued_at"),
        audience=audience,
        body_type=body_type,
        body_digest=digest,
    )


# ---------------------------------------------------------------- checkpoints


def encode_checkpoint(checkpoint: Checkpoint) -> bytes:
    """The bytes to sign for ``checkpoint``: a deterministic Checkpoint message."""
    if not _is_agency_id(checkpoint.issuer):
        raise InvalidArgument(
            f"{checkpoint.issuer!r} is not an agency id of the form CC-NAME", field="issuer"
        )
    if type(checkpoint.seq) is not int or not 0 <= checkpoint.seq <= _MAX_UINT64:
        raise InvalidArgument(f"seq {checkpoint.seq!r} is not in 0..2^64-1", field="seq")
    if len(checkpoint.head_digest) != DIGEST_SIZE:
        raise InvalidArgument(f"is {len(checkpoint.head_digest)} bytes, expected 32", field="head_digest")
    if checkpoint.seq == 0 and checkpoint.head_digest != GENESIS_DIGEST:
        raise InvalidArgument("must be 32 zero bytes at seq 0", field="head_digest")
    seconds, nanos = _timestamp_parts(checkpoint.time, "time")
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise InvalidArgument("is outside 0001-01-01..9999-12-31", field="time")
    if checkpoint.signatures_digest and len(checkpoint.signatures_digest) != DIGEST_SIZE:
        raise InvalidArgument(
            f"is {len(checkpoint.signatures_digest)} bytes, expected 32 or none", field="signatures_digest"
        )
    msg = pb.Checkpoint(
        issuer=checkpoint.issuer,
        seq=checkpoint.seq,
        head_digest=checkpoint.head_digest,
        time={"seconds": seconds, "nanos": nanos},
        signatures_digest=checkpoint.signatures_digest,
    )
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


def decode_checkpoint(data: bytes) -> Checkpoint:
    """Strictly decode signed checkpoint bytes; raises MalformedHeader naming what is wrong."""
    msg = _parse(pb.Checkpoint, data, "checkpoint", MAX_CHECKPOINT_BYTES)
    _require_canonical(msg, data, "checkpoint", "time")
    if not msg.HasField("time"):
        raise MalformedHeader("checkpoint time is missing")
    _check_agency(msg.issuer, "checkpoint issuer")
    head: bytes = msg.head_digest
    _check_digest(head, "checkpoint head_digest")
    # seq 0 says "nothing issued yet"; any other head there would name a header that cannot exist
    if msg.seq == 0 and head != GENESIS_DIGEST:
        raise MalformedHeader("checkpoint at seq 0 must have a head_digest of 32 zero bytes")
    sigs: bytes = msg.signatures_digest
    if sigs:
        _check_digest(sigs, "checkpoint signatures_digest")
    return Checkpoint(
        issuer=msg.issuer,
        seq=msg.seq,
        head_digest=head,
        time=_from_timestamp(msg.time, "checkpoint time"),
        signatures_digest=sigs,
    )


# ---------------------------------------------------------------- signatures


def _signatures(sigs: Any, what: str) -> tuple[Signature, ...]:
    # each signature costs a verification: bound them before anyone spends CPU on them
    if len(sigs) > MAX_SIGNATURES:
        raise SignatureSetInvalid(f"{what} carries {len(sigs)} signatures, the limit is {MAX_SIGNATURES}")
    return tuple([Signature(s.key_id, s.sig) for s in sigs])


def _refuse_unknown_in_container(msg: Any, what: str) -> None:
    # the unsigned container (envelope, signed checkpoint) is held to the same rule as the
    # signed bytes: a field this verifier does not know might be one it should have honoured
    _refuse_unknown(msg, what)
    for i, s in enumerate(msg.signatures):
        _refuse_unknown(s, f"{what} signatures[{i}]")


def _parse_container(cls: Any, data: bytes, what: str, limit: int) -> Any:
    """Parse an envelope or signed checkpoint, refusing unknown or repeated fields.

    Fast path: drop unknown fields and compare the canonical size with the input's; only a
    mismatch pays for finding out which rule was broken.
    """
    msg = _parse(cls, data, what, limit)
    msg.DiscardUnknownFields()
    if msg.ByteSize() != len(data):
        _refuse_unknown_in_container(cls.FromString(data), what)
        raise MalformedHeader(f"{what} repeats a field or is not in canonical protobuf encoding")
    return msg


# ---------------------------------------------------------------- envelopes at the edge


def envelope_to_proto(env: Envelope) -> Any:
    """The ``SignedStatement`` for ``env`` (header bytes as signed; body omitted when redacted)."""
    return pb.SignedStatement(
        header=env.header_bytes,
        signatures=[pb.Signature(key_id=s.key_id, sig=s.sig) for s in env.signatures],
        body=env.body or b"",
    )


def _envelope(msg: Any) -> Envelope:
    header_bytes: bytes = msg.header
    header = decode_header(header_bytes)
    body: bytes = msg.body
    return Envelope(
        header_bytes=header_bytes,
        signatures=_signatures(msg.signatures, "envelope"),
        body=body or None,
        header=header,
    )


def envelope_from_proto(msg: Any) -> Envelope:
    """An Envelope from a received ``SignedStatement``: header decoded strictly, bytes kept as received."""
    _refuse_unknown_in_container(msg, "envelope")
    return _envelope(msg)


def envelope_to_wire(env: Envelope) -> bytes:
    """The serialised ``SignedStatement`` (what the store keeps)."""
    data: bytes = envelope_to_proto(env).SerializeToString(deterministic=True)
    return data


def signed_parts_from_wire(data: bytes) -> tuple[bytes, tuple[Signature, ...]]:
    """The header bytes and signatures of a serialised ``SignedStatement``, the header left undecoded.

    What a signature check needs of a stored statement (``federation.sigcheck``): the bytes
    were decoded strictly when admitted, and the signature is checked over exactly these
    bytes, so decoding the header again (a third of the cost of a read) adds nothing. The
    container is still parsed strictly (``_parse_container``).
    """
    msg = _parse_container(pb.SignedStatement, data, "envelope", MAX_ENVELOPE_BYTES)
    header: bytes = msg.header
    return header, _signatures(msg.signatures, "envelope")


def envelope_from_wire(data: bytes) -> Envelope:
    """Parse a serialised ``SignedStatement`` strictly (see ``envelope_from_proto``)."""
    return _envelope(_parse_container(pb.SignedStatement, data, "envelope", MAX_ENVELOPE_BYTES))


def signed_checkpoint_to_proto(scp: SignedCheckpoint) -> Any:
    return pb.SignedCheckpoint(
        checkpoint=scp.checkpoint_bytes,
        signatures=[pb.Signature(key_id=s.key_id, sig=s.sig) for s in scp.signatures],
    )


def _signed_checkpoint(msg: Any) -> SignedCheckpoint:
    data: bytes = msg.checkpoint
    return SignedCheckpoint(
        checkpoint_bytes=data,
        signatures=_signatures(msg.signatures, "checkpoint"),
        checkpoint=decode_checkpoint(data),
    )


def signed_checkpoint_from_proto(msg: Any) -> SignedCheckpoint:
    """A SignedCheckpoint from a received message: decoded strictly, bytes kept as received."""
    _refuse_unknown_in_container(msg, "signed checkpoint")
    return _signed_checkpoint(msg)


def signed_checkpoint_to_wire(scp: SignedCheckpoint) -> bytes:
    data: bytes = signed_checkpoint_to_proto(scp).SerializeToString(deterministic=True)
    return data


def signed_checkpoint_from_wire(data: bytes) -> SignedCheckpoint:
    return _signed_checkpoint(
        _parse_container(pb.SignedCheckpoint, data, "signed checkpoint", MAX_SIGNED_CHECKPOINT_BYTES)
    )


# ---------------------------------------------------------------- cosignatures (witnessing)


def encode_cosignature(cos: Cosignature) -> bytes:
    """The bytes a witness signs: a deterministic Cosignature carrying the signed checkpoint as received."""
    if not _is_agency_id(cos.witness):
        raise InvalidArgument(f"{cos.witness!r} is not an agency id of the form CC-NAME", field="witness")
    seconds, nanos = _timestamp_parts(cos.time, "time")
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise InvalidArgument("is outside 0001-01-01..9999-12-31", field="time")
    msg = pb.Cosignature(
        checkpoint=signed_checkpoint_to_wire(cos.checkpoint),
        witness=cos.witness,
        time={"seconds": seconds, "nanos": nanos},
    )
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


def decode_cosignature(data: bytes) -> Cosignature:
    """Strictly decode signed cosignature bytes; raises MalformedHeader naming what is wrong."""
    msg = _parse(pb.Cosignature, data, "cosignature", MAX_COSIGNATURE_BYTES)
    _require_canonical(msg, data, "cosignature", "time")
    if not msg.HasField("time"):
        raise MalformedHeader("cosignature time is missing")
    _check_agency(msg.witness, "cosignature witness")
    return Cosignature(
        checkpoint=signed_checkpoint_from_wire(msg.checkpoint),
        witness=msg.witness,
        time=_from_timestamp(msg.time, "cosignature time"),
    )


def signed_cosignature_to_proto(scos: SignedCosignature) -> Any:
    return pb.SignedCosignature(
        cosignature=scos.cosignature_bytes,
        signatures=[pb.Signature(key_id=s.key_id, sig=s.sig) for s in scos.signatures],
    )


def _signed_cosignature(msg: Any) -> SignedCosignature:
    data: bytes = msg.cosignature
    return SignedCosignature(
        cosignature_bytes=data,
        signatures=_signatures(msg.signatures, "cosignature"),
        cosignature=decode_cosignature(data),
    )


def signed_cosignature_from_proto(msg: Any) -> SignedCosignature:
    """A SignedCosignature from a received message: decoded strictly, bytes kept as received."""
    _refuse_unknown_in_container(msg, "signed cosignature")
    return _signed_cosignature(msg)


def signed_cosignature_to_wire(scos: SignedCosignature) -> bytes:
    data: bytes = signed_cosignature_to_proto(scos).SerializeToString(deterministic=True)
    return data


def signed_cosignature_from_wire(data: bytes) -> SignedCosignature:
    return _signed_cosignature(
        _parse_container(pb.SignedCosignature, data, "signed cosignature", MAX_SIGNED_COSIGNATURE_BYTES)
    )
