"""The model and its bytes: strict decoding, deterministic encoding, PAE, the edge conversions."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from borderx._proto.borderx.v1 import statement_pb2 as pb
from borderx.errors import ConfigError, InvalidArgument, MalformedHeader, SignatureSetInvalid
from borderx.statements.encoding import (
    MAX_HEADER_BYTES,
    body_digest,
    checkpoint_pae,
    decode_checkpoint,
    decode_header,
    encode_checkpoint,
    encode_header,
    envelope_from_proto,
    envelope_from_wire,
    envelope_to_proto,
    envelope_to_wire,
    pae,
    signed_checkpoint_from_wire,
    signed_checkpoint_to_wire,
    statement_pae,
)
from borderx.statements.model import (
    GENESIS_DIGEST,
    PAYLOAD_TYPE_CHECKPOINT,
    PAYLOAD_TYPE_STATEMENT,
    Checkpoint,
    Header,
)
from borderx.statements.signing import Signer, add_signature, load_signing_key

if TYPE_CHECKING:
    from conftest import World

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

DIGEST = bytes(range(32))


def header_msg(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "issuer": "AU-ABF",
        "seq": 3,
        "prev_digest": DIGEST,
        "issued_at": Timestamp(seconds=1_772_443_800),
        "audience": ["US-CBP", "NZ-CS"],
        "body_type": pb.BODY_TYPE_FLAG,
        "body_digest": DIGEST,
    }
    fields.update(overrides)
    return pb.StatementHeader(**{k: v for k, v in fields.items() if v is not None})


def header_bytes(**overrides: Any) -> bytes:
    data: bytes = header_msg(**overrides).SerializeToString(deterministic=True)
    return data


# ---------------------------------------------------------------- PAE


def test_pae_matches_the_dsse_specification_example() -> None:
    # from the DSSE protocol document
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_shortcuts_equal_pae() -> None:
    for payload in (b"", b"x", b"\x00" * 300):
        assert statement_pae(payload) == pae(PAYLOAD_TYPE_STATEMENT, payload)
        assert checkpoint_pae(payload) == pae(PAYLOAD_TYPE_CHECKPOINT, payload)
    assert statement_pae(b"ab") == b"DSSEv1 45 application/vnd.borderx.statement.v1+protobuf 2 ab"


# ---------------------------------------------------------------- headers


def test_header_round_trip_is_exact() -> None:
    data = header_bytes()
    header = decode_header(data)
    assert header == Header(
        issuer="AU-ABF",
        seq=3,
        prev_digest=DIGEST,
        issued_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        audience=("US-CBP", "NZ-CS"),
        body_type="flag",
        body_digest=DIGEST,
    )
    assert encode_header(header) == data


def test_microseconds_survive_the_round_trip() -> None:
    header = decode_header(header_bytes(issued_at=Timestamp(seconds=1_772_443_800, nanos=123_456_000)))
    assert header.issued_at.microsecond == 123_456
    assert decode_header(encode_header(header)) == header


def test_times_before_the_epoch_round_trip() -> None:
    header = dataclasses.replace(
        decode_header(header_bytes()), issued_at=datetime(1969, 7, 20, 20, 17, tzinfo=UTC)
    )
    assert decode_header(encode_header(header)).issued_at == header.issued_at


UNKNOWN_FIELD_15 = b"\x78\x01"  # field 15, varint 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xff\xff", "not a valid StatementHeader protobuf"),
        (header_bytes() + UNKNOWN_FIELD_15, r"unknown field\(s\) \[15\]"),
        (header_bytes(issuer=""), "header issuer is empty"),
        (header_bytes(issuer="australia"), "is not an agency id"),
        (header_bytes(seq=0), "seq is 0; sequence numbers start at 1"),
        (header_bytes(prev_digest=b"\x01" * 31), "prev_digest is 31 bytes, a SHA-256 digest is 32"),
        (header_bytes(prev_digest=None), "prev_digest is 0 bytes"),
        (header_bytes(body_digest=b"\x01" * 33), "body_digest is 33 bytes"),
        (header_bytes(issued_at=None), "issued_at is missing"),
        (
            header_bytes(body_type=pb.BODY_TYPE_UNSPECIFIED),
            "body_type 0 is not designation, flag or withdrawal",
        ),
        (header_bytes(body_type=7), "body_type 7 is not"),
        (header_bytes(audience=["US-CBP", "NZ-CS", "US-CBP"]), "audience lists US-CBP more than once"),
        (header_bytes(audience=["us-cbp"]), r"audience\[0\] 'us-cbp' is not an agency id"),
        (header_bytes(audience=["US-CBP", ""]), r"audience\[1\] is empty"),
        (header_bytes(issued_at=Timestamp(seconds=1, nanos=5)), "not a whole number of microseconds"),
        (header_bytes(issued_at=Timestamp(seconds=1, nanos=1_000_000_000)), "nanos 1000000000"),
        (header_bytes(issued_at=Timestamp(seconds=10**12)), "outside 0001-01-01..9999-12-31"),
        (
            b"\x00" * (MAX_HEADER_BYTES + 1),
            f"is {MAX_HEADER_BYTES + 1} bytes, the limit is {MAX_HEADER_BYTES}",
        ),
        # the same field twice: protobuf keeps the last, another parser might keep the first
        (header_bytes() + b"\x0a\x06US-CBP", "not in canonical protobuf encoding"),
        # fields out of number order
        (header_bytes(issuer="") + b"\x0a\x06AU-ABF", "not in canonical protobuf encoding"),
        # a default value written explicitly (seq field with... an explicit empty issuer)
        (b"\x0a\x00" + header_bytes(issuer=""), "not in canonical protobuf encoding"),
    ],
)
def test_malformed_headers_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(MalformedHeader, match=message):
        decode_header(data)


def test_unknown_fields_inside_issued_at_are_refused() -> None:
    msg = header_msg()
    data = msg.SerializeToString(deterministic=True)
    # rebuild with an unknown field inside the Timestamp submessage
    ts = Timestamp(seconds=1_772_443_800).SerializeToString() + UNKNOWN_FIELD_15
    cut = header_msg(issued_at=None, audience=[], body_type=None, body_digest=None).SerializeToString(
        deterministic=True
    )
    tail = data[len(cut) :]
    tail = tail[tail.index(b"\x2a") :]  # from the first audience entry onwards
    crafted = cut + b"\x22" + bytes([len(ts)]) + ts + tail
    with pytest.raises(MalformedHeader, match=r"issued_at has unknown field\(s\) \[15\]"):
        decode_header(crafted)


def test_header_bytes_must_be_bytes() -> None:
    with pytest.raises(MalformedHeader, match="must be bytes, got str"):
        decode_header("AU-ABF")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issuer": "au"}, "issuer: 'au' is not an agency id"),
        ({"seq": 0}, r"seq: seq 0 is not in 1..2\^64-1"),
        ({"seq": 2**64}, "seq: seq"),
        ({"prev_digest": b""}, "prev_digest: is 0 bytes"),
        ({"body_digest": b"x"}, "body_digest: is 1 bytes"),
        ({"body_type": "designations"}, "body_type: 'designations' is not one of"),
        ({"audience": ("US-CBP", "US-CBP")}, "audience: lists an agency more than once"),
        ({"audience": ("US-CBP", "usa")}, r"audience\[1\]: 'usa' is not an agency id"),
        ({"issued_at": datetime(2026, 3, 2)}, "issued_at: timestamp has no time zone"),
    ],
)
def test_encoder_refuses_what_the_decoder_would_refuse(change: dict[str, Any], message: str) -> None:
    header = dataclasses.replace(decode_header(header_bytes()), **change)
    with pytest.raises(InvalidArgument, match=message):
        encode_header(header)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_and_refusals() -> None:
    cp = Checkpoint(issuer="US-CBP", seq=12, head_digest=DIGEST, time=T0)
    data = encode_checkpoint(cp)
    assert decode_checkpoint(data) == cp
    assert decode_checkpoint(encode_checkpoint(Checkpoint("US-CBP", 0, GENESIS_DIGEST, T0))).seq == 0
    with pytest.raises(InvalidArgument, match="head_digest: must be 32 zero bytes at seq 0"):
        encode_checkpoint(Checkpoint("US-CBP", 0, DIGEST, T0))
    with pytest.raises(MalformedHeader, match="checkpoint at seq 0 must have a head_digest of 32 zero bytes"):
        decode_checkpoint(
            pb.Checkpoint(issuer="US-CBP", head_digest=DIGEST, time=Timestamp()).SerializeToString()
        )
    with pytest.raises(MalformedHeader, match="checkpoint time is missing"):
        decode_checkpoint(pb.Checkpoint(issuer="US-CBP", seq=1, head_digest=DIGEST).SerializeToString())
    with pytest.raises(MalformedHeader, match="checkpoint head_digest is 3 bytes"):
        decode_checkpoint(
            pb.Checkpoint(issuer="US-CBP", seq=1, head_digest=b"abc", time=Timestamp()).SerializeToString()
        )
    with pytest.raises(MalformedHeader, match=r"checkpoint has unknown field\(s\) \[15\]"):
        decode_checkpoint(data + UNKNOWN_FIELD_15)
    with pytest.raises(MalformedHeader, match="checkpoint issuer is empty"):
        decode_checkpoint(pb.Checkpoint(seq=1, head_digest=DIGEST, time=Timestamp()).SerializeToString())


def test_signed_checkpoint_wire_round_trip(world: World) -> None:
    env = world.statement()
    scp = world.checkpoint(env)
    assert signed_checkpoint_from_wire(signed_checkpoint_to_wire(scp)) == scp


# ---------------------------------------------------------------- envelopes


def test_envelope_digest_and_properties(world: World) -> None:
    env = world.statement(seq=1, body=b"abc")
    assert env.digest == body_digest(env.header_bytes)
    assert (env.issuer, env.seq, env.redacted) == ("AU-ABF", 1, False)
    assert env.header.body_digest == body_digest(b"abc")
    redacted = env.redact()
    assert redacted.redacted
    assert redacted.body is None
    assert redacted.header_bytes == env.header_bytes
    assert redacted.digest == env.digest
    assert redacted.redact() is redacted


def test_envelope_wire_round_trip_keeps_bytes(world: World) -> None:
    env = add_signature(
        world.statement(signer="au_new", issued_at=T0 + timedelta(days=100)), world.signers["au_old"]
    )
    again = envelope_from_wire(envelope_to_wire(env))
    assert again == env
    assert again.header_bytes == env.header_bytes
    assert envelope_from_wire(envelope_to_wire(env.redact())) == env.redact()


def test_from_proto_keeps_header_bytes_exactly_as_received(world: World) -> None:
    env = world.statement()
    msg = envelope_to_proto(env)
    assert envelope_from_proto(msg).header_bytes == env.header_bytes


def test_envelope_refusals(world: World) -> None:
    env = world.statement()
    msg = envelope_to_proto(env)
    with pytest.raises(MalformedHeader, match="envelope is not a valid SignedStatement"):
        envelope_from_wire(b"\x0a\xff")
    with pytest.raises(MalformedHeader, match=r"envelope has unknown field\(s\) \[9\]"):
        envelope_from_wire(msg.SerializeToString() + b"\x48\x01")
    msg.signatures.extend([pb.Signature(key_id=str(i), sig=b"x") for i in range(8)])
    with pytest.raises(SignatureSetInvalid, match="carries 9 signatures, the limit is 8"):
        envelope_from_proto(msg)
    broken = pb.SignedStatement(header=b"\x10\x00", body=b"x")
    with pytest.raises(MalformedHeader, match="header"):
        envelope_from_proto(broken)


# ---------------------------------------------------------------- signing


def test_sign_statement_normalises_time_zone(world: World) -> None:
    aest = timezone(timedelta(hours=10))
    env = world.statement(issued_at=T0.astimezone(aest))
    assert env.header.issued_at == T0
    assert env.header.issued_at.tzinfo is UTC
    assert decode_header(env.header_bytes) == env.header


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": b""}, "body: is empty"),
        ({"issued_at": datetime(2026, 3, 2)}, "issued_at: has no time zone"),
        ({"seq": 0}, "seq: seq 0"),
        ({"prev_digest": b"short"}, "prev_digest: is 5 bytes"),
        ({"issuer": "AU ABF"}, "issuer: 'AU ABF'"),
        ({"body_type": "Flag"}, "body_type: 'Flag'"),
    ],
)
def test_sign_statement_refuses_bad_input(world: World, change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        world.statement(**change)


def test_add_signature_refuses_the_same_key_twice(world: World) -> None:
    with pytest.raises(InvalidArgument, match="already signed by key"):
        add_signature(world.statement(), world.signers["au_old"])


def test_signer_repr_shows_no_key_material(world: World) -> None:
    signer = world.signers["au_old"]
    assert repr(signer) == f"Signer(key_id={signer.key_id[:16]}…)"


def test_load_signing_key(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert load_signing_key(path).key_id == Signer(key).key_id

    ec_path = tmp_path / "ec.key"
    ec_path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(
        ConfigError, match="holds an EC secp256r1 key; statement signing keys must be Ed25519"
    ):
        load_signing_key(ec_path)

    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    with pytest.raises(ConfigError, match="the key is encrypted"):
        load_signing_key(encrypted)
    (tmp_path / "junk.key").write_text("hello")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_signing_key(tmp_path / "junk.key")
    with pytest.raises(ConfigError, match="cannot read it"):
        load_signing_key(tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="statement signing keys are Ed25519"):
        Signer(ec.generate_private_key(ec.SECP256R1()))  # type: ignore[arg-type]


def test_a_repeated_field_in_the_envelope_is_refused(world: World) -> None:
    data = envelope_to_wire(world.statement())
    with pytest.raises(MalformedHeader, match="envelope repeats a field or is not in canonical protobuf"):
        envelope_from_wire(data + b"\x1a\x01x")  # a second body
    msg = pb.SignedCheckpoint.FromString(signed_checkpoint_to_wire(world.checkpoint(world.statement())))
    msg.signatures[0].MergeFromString(b"\x28\x01")  # field 5 inside the signature
    data = msg.SerializeToString()
    with pytest.raises(MalformedHeader, match=r"checkpoint signatures\[0\] has unknown field\(s\) \[5\]"):
        signed_checkpoint_from_wire(data)


# ---------------------------------------------------------------- decoding never crashes


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_decode_exactly_or_are_refused(data: bytes) -> None:
    for decode, encode in ((decode_header, encode_header), (decode_checkpoint, encode_checkpoint)):
        try:
            decoded = decode(data)  # type: ignore[operator]
        except MalformedHeader:
            continue
        assert encode(decoded) == data  # type: ignore[operator]
    with contextlib.suppress(MalformedHeader, SignatureSetInvalid):
        envelope_from_wire(data)


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), max_size=3)
)
def test_mutated_headers_decode_exactly_or_are_refused(flips: list[tuple[int, int]]) -> None:
    data = bytearray(header_bytes())
    for where, mask in flips:
        data[where % len(data)] ^= mask
    try:
        header = decode_header(bytes(data))
    except MalformedHeader:
        return
    assert encode_header(header) == bytes(data)
