"""Body model and codec: field parity with the proto, enum names, round trips, refusals."""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from borderx._proto.borderx.v1 import statement_pb2 as pb
from borderx.errors import InvalidArgument
from borderx.statements import bodies as b
from borderx.statements.bodies import (
    Address,
    Body,
    BodyType,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Money,
    Outcome,
    Party,
    PartyId,
    Severity,
    ShipmentRef,
    StatementRef,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
    body_type_of,
)
from borderx.statements.body_codec import (
    body_from_proto,
    body_to_proto,
    body_type_from_proto,
    body_type_to_proto,
    decode_body,
    decode_strict,
    designation_from_proto,
    designation_to_proto,
    encode_body,
    fields_of_body,
    flag_from_proto,
    flag_to_proto,
    index_fields,
    party_from_proto,
    party_to_proto,
    withdrawal_from_proto,
    withdrawal_to_proto,
)

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

PARTY = Party(
    legal_name="Kiwi Widgets Limited",
    trading_names=("Kiwi Widgets", "KW Export"),
    address=Address(lines=("1 Queen St", "Level 2"), city="Auckland", postal_code="1010", country="NZ"),
    ids=(PartyId("NZBN", "9429041535134"), PartyId("PLATFORM", "amazon:A2X9EXAMPLE")),
)

DESIGNATION = Designation(
    party=PARTY,
    programme="NZ_SES",
    member_id="SES-0042",
    status=DesignationStatus.SUSPENDED,
    valid_from=T0,
    valid_until=T0 + timedelta(days=365),
    status_reason="site audit overdue",
    consent_to_share=True,
    supersedes=StatementRef("NZ-CS", 7, bytes(range(32))),
)

FLAG = ViolationFlag(
    subject=PARTY,
    category=FlagCategory.DE_MINIMIS_SPLITTING,
    evidence=Evidence.CONFIRMED,
    outcomes=(Outcome.SEIZURE, Outcome.PENALTY),
    severity=Severity.HIGH,
    observed_at=T0,
    expires_at=T0 + timedelta(days=730),
    shipments=(
        ShipmentRef(
            air_waybill="176-12345675",
            tracking_number="1Z999AA10123456784",
            hs_codes=("610910", "6204420010"),
            declared_value=Money("USD", 79_99),
            origin_country="CN",
        ),
        ShipmentRef(house_bill="HB1"),
    ),
    summary="twelve parcels to one address in one day, each under the threshold",
)

WITHDRAWAL = Withdrawal(
    target=StatementRef("NZ-CS", 12),
    reason=WithdrawalReason.ISSUED_IN_ERROR,
    effective_at=T0,
    note="wrong NZBN",
)

SAMPLES: list[Body] = [
    DESIGNATION,
    FLAG,
    WITHDRAWAL,
    Designation(party=Party("X"), programme=""),
    ViolationFlag(subject=Party("")),
    Withdrawal(target=None),
]


# ---------------------------------------------------------------- the model mirrors the contract

PAIRS: list[tuple[type[Any], Any]] = [
    (PartyId, pb.PartyId),
    (Address, pb.Address),
    (Party, pb.Party),
    (StatementRef, pb.StatementRef),
    (Designation, pb.Designation),
    (Money, pb.Money),
    (ShipmentRef, pb.ShipmentRef),
    (ViolationFlag, pb.ViolationFlag),
    (Withdrawal, pb.Withdrawal),
]


@pytest.mark.parametrize(("cls", "message"), PAIRS)
def test_dataclass_fields_mirror_the_proto_message(cls: type[Any], message: Any) -> None:
    assert [f.name for f in dataclasses.fields(cls)] == [f.name for f in message.DESCRIPTOR.fields]


@pytest.mark.parametrize(
    ("domain", "proto"),
    [
        (DesignationStatus, pb.DesignationStatus),
        (FlagCategory, pb.FlagCategory),
        (Evidence, pb.Evidence),
        (Outcome, pb.Outcome),
        (Severity, pb.Severity),
        (WithdrawalReason, pb.WithdrawalReason),
    ],
)
def test_enum_values_are_the_proto_names(domain: type[enum.StrEnum], proto: Any) -> None:
    names = [v.name for v in proto.DESCRIPTOR.values if not v.name.endswith("_UNSPECIFIED")]
    assert [m.value for m in domain] == names
    assert all(m.name == m.value for m in domain)


def test_body_type_values_and_proto_numbers() -> None:
    assert [t.value for t in BodyType] == ["designation", "flag", "withdrawal"]
    assert body_type_to_proto(BodyType.DESIGNATION) == pb.BODY_TYPE_DESIGNATION
    assert body_type_to_proto(BodyType.FLAG) == pb.BODY_TYPE_FLAG
    assert body_type_to_proto(BodyType.WITHDRAWAL) == pb.BODY_TYPE_WITHDRAWAL
    for t in BodyType:
        assert body_type_from_proto(body_type_to_proto(t)) is t


@pytest.mark.parametrize("number", [0, 4, 99])
def test_unspecified_or_unknown_body_type_is_refused(number: int) -> None:
    with pytest.raises(InvalidArgument, match=rf"^header\.body_type: body_type {number} is not one of"):
        body_type_from_proto(number, field="header.body_type")


def test_body_type_of() -> None:
    assert body_type_of(DESIGNATION) is BodyType.DESIGNATION
    assert body_type_of(FLAG) is BodyType.FLAG
    assert body_type_of(WITHDRAWAL) is BodyType.WITHDRAWAL
    with pytest.raises(TypeError, match="not a statement body: Party"):
        body_type_of(PARTY)  # type: ignore[arg-type]


def test_bodies_are_frozen_hashable_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DESIGNATION.programme = "CTPAT"  # type: ignore[misc]
    assert hash(FLAG) == hash(dataclasses.replace(FLAG))
    assert not hasattr(FLAG, "__dict__")  # slots


def test_naive_timestamps_are_refused_and_other_zones_become_utc() -> None:
    with pytest.raises(ValueError, match="valid_from must be timezone-aware"):
        Designation(party=PARTY, programme="NZ_SES", valid_from=datetime(2026, 1, 1))
    nz = timezone(timedelta(hours=13))
    body = Withdrawal(target=None, effective_at=datetime(2026, 1, 2, 1, 0, tzinfo=nz))
    assert body.effective_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert body.effective_at is not None
    assert body.effective_at.tzinfo is UTC


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("body", SAMPLES, ids=lambda x: type(x).__name__)
def test_round_trip_through_bytes(body: Body) -> None:
    data = encode_body(body)
    assert decode_body(body_type_of(body), data) == body
    assert encode_body(decode_body(body_type_of(body), data)) == data


@pytest.mark.parametrize(
    ("to_proto", "from_proto", "body"),
    [
        (designation_to_proto, designation_from_proto, DESIGNATION),
        (flag_to_proto, flag_from_proto, FLAG),
        (withdrawal_to_proto, withdrawal_from_proto, WITHDRAWAL),
    ],
)
def test_round_trip_through_messages(to_proto: Any, from_proto: Any, body: Body) -> None:
    msg = to_proto(body)
    assert from_proto(msg) == body
    assert body_from_proto(msg) == body
    assert body_to_proto(body) == msg


def test_party_round_trip_and_address_presence() -> None:
    assert party_from_proto(party_to_proto(PARTY)) == PARTY
    bare = Party("A", ids=(PartyId("ABN", "51824753556"),))
    assert not party_to_proto(bare).HasField("address")
    assert party_from_proto(party_to_proto(bare)).address is None
    empty = dataclasses.replace(bare, address=Address())
    assert party_to_proto(empty).HasField("address")
    assert party_from_proto(party_to_proto(empty)).address == Address()


def test_unset_enums_and_times_are_none() -> None:
    body = decode_body(BodyType.FLAG, b"")
    assert body == ViolationFlag(subject=Party(""))
    assert isinstance(body, ViolationFlag)
    assert body.category is None
    assert body.observed_at is None


def test_epoch_is_a_set_timestamp_not_none() -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    body = Withdrawal(target=None, effective_at=epoch)
    assert decode_body(BodyType.WITHDRAWAL, encode_body(body)) == body


def test_encoding_is_deterministic_and_pinned() -> None:
    body = Designation(
        party=Party("A", ids=(PartyId("ABN", "51824753556"),)),
        programme="AU_ATT",
        status=DesignationStatus.CERTIFIED,
    )
    # Golden bytes: a change here changes every body digest the federation has signed.
    expected = bytes.fromhex(
        "0a17"  # party, 23 bytes
        "0a0141"  # legal_name "A"
        "2212"  # ids[0], 18 bytes
        "0a0341424e"  # scheme "ABN"
        "120b3531383234373533353536"  # value "51824753556"
        "120641555f415454"  # programme "AU_ATT"
        "2801"  # status CERTIFIED (1)
    )
    assert encode_body(body) == expected
    assert encode_body(body) == encode_body(dataclasses.replace(body))


def test_enums_are_encoded_by_name() -> None:
    msg = designation_to_proto(DESIGNATION)
    assert pb.DesignationStatus.Name(msg.status) == "SUSPENDED"
    flag = flag_to_proto(FLAG)
    assert [pb.Outcome.Name(o) for o in flag.outcomes] == ["SEIZURE", "PENALTY"]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("body_type", list(BodyType))
def test_bytes_that_do_not_parse_are_refused(body_type: BodyType) -> None:
    with pytest.raises(InvalidArgument, match=rf"^body: 3 bytes do not parse as a {body_type} body") as e:
        decode_body(body_type, b"\x0a\x05\x01")
    assert e.value.field == "body"


def test_invalid_utf8_is_refused() -> None:
    data = pb.Designation(programme="X").SerializeToString().replace(b"X", b"\xff")
    with pytest.raises(InvalidArgument, match=r"^body: .* do not parse"):
        decode_body(BodyType.DESIGNATION, data)


def _raw(number: int) -> Any:
    """An enum number as it may arrive on the wire, whether or not the stubs know it."""
    return number


def test_unknown_enum_number_is_refused_with_its_field() -> None:
    data = pb.Designation(status=_raw(7)).SerializeToString()
    with pytest.raises(InvalidArgument, match=r"^body\.status: unknown DesignationStatus value 7") as e:
        decode_body(BodyType.DESIGNATION, data)
    assert e.value.field == "body.status"


def test_unknown_enum_number_in_each_flag_field() -> None:
    for name in ("category", "evidence", "severity"):
        data = pb.ViolationFlag(**{name: _raw(99)}).SerializeToString()
        with pytest.raises(InvalidArgument, match=rf"^body\.{name}: unknown \w+ value 99"):
            decode_body(BodyType.FLAG, data)
    data = pb.Withdrawal(reason=_raw(42)).SerializeToString()
    with pytest.raises(InvalidArgument, match=r"^body\.reason: unknown WithdrawalReason value 42"):
        decode_body(BodyType.WITHDRAWAL, data)


def test_unspecified_or_unknown_outcome_in_the_list_is_refused() -> None:
    data = pb.ViolationFlag(outcomes=[_raw(1), _raw(0)]).SerializeToString()
    with pytest.raises(
        InvalidArgument, match=r"^body\.outcomes\[1\]: UNSPECIFIED \(0\) is not a valid Outcome"
    ):
        decode_body(BodyType.FLAG, data)
    data = pb.ViolationFlag(outcomes=[_raw(77)]).SerializeToString()
    with pytest.raises(InvalidArgument, match=r"^body\.outcomes\[0\]: unknown Outcome value 77"):
        decode_body(BodyType.FLAG, data)


def test_out_of_range_timestamp_is_refused() -> None:
    msg = pb.Designation()
    msg.valid_from.seconds = 10**12
    with pytest.raises(InvalidArgument, match=r"^body\.valid_from: timestamp seconds=1000000000000"):
        decode_body(BodyType.DESIGNATION, msg.SerializeToString())
    msg = pb.ViolationFlag()
    msg.expires_at.nanos = -1
    with pytest.raises(InvalidArgument, match=r"^body\.expires_at: timestamp"):
        decode_body(BodyType.FLAG, msg.SerializeToString())


def test_encoding_a_foreign_object_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a statement body"):
        encode_body(PARTY)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a statement body message"):
        body_from_proto(pb.Party())


# ---------------------------------------------------------------- properties

text = st.text(max_size=12)
times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(UTC)
)
opt_times = st.none() | times
party_ids = st.builds(PartyId, text, text)
addresses = st.builds(Address, st.lists(text, max_size=3).map(tuple), text, text, text, text)
parties = st.builds(
    Party,
    text,
    st.lists(text, max_size=3).map(tuple),
    st.none() | addresses,
    st.lists(party_ids, max_size=4).map(tuple),
)
refs = st.builds(StatementRef, text, st.integers(0, 2**64 - 1), st.binary(max_size=32))
designations = st.builds(
    Designation,
    parties,
    text,
    text,
    text,
    st.none() | st.sampled_from(DesignationStatus),
    opt_times,
    opt_times,
    text,
    st.booleans(),
    st.none() | refs,
)
shipments = st.builds(
    ShipmentRef,
    text,
    text,
    text,
    st.lists(text, max_size=3).map(tuple),
    st.none() | st.builds(Money, text, st.integers(-(2**63), 2**63 - 1)),
    text,
)
flags = st.builds(
    ViolationFlag,
    parties,
    st.none() | st.sampled_from(FlagCategory),
    st.none() | st.sampled_from(Evidence),
    st.lists(st.sampled_from(Outcome), max_size=4).map(tuple),
    st.none() | st.sampled_from(Severity),
    opt_times,
    opt_times,
    st.lists(shipments, max_size=2).map(tuple),
    text,
)
withdrawals = st.builds(
    Withdrawal, st.none() | refs, st.none() | st.sampled_from(WithdrawalReason), opt_times, text
)


@settings(max_examples=120, deadline=None)
@given(st.one_of(designations, flags, withdrawals))
def test_any_body_round_trips_and_encodes_deterministically(body: Body) -> None:
    data = encode_body(body)
    decoded = decode_body(body_type_of(body), data)
    assert decoded == body
    assert encode_body(decoded) == data


@settings(max_examples=150, deadline=None)
@given(st.one_of(designations, flags, withdrawals))
def test_index_fields_of_a_decoded_body_are_those_of_its_bytes(body: Body) -> None:
    # admission indexes the body it decoded; a rebuild or a store copy may read the bytes
    data = encode_body(body)
    assert fields_of_body(decode_body(body_type_of(body), data)) == index_fields(body_type_of(body), data)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(BodyType)), st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_are_refused_cleanly(body_type: BodyType, data: bytes) -> None:
    refusal: InvalidArgument | None = None
    try:
        body = decode_body(body_type, data)
    except InvalidArgument as err:
        refusal = err
    if refusal is not None:
        assert refusal.field == "body" or refusal.field.startswith("body.")
    else:
        assert body_type_of(body) is body_type
        assert isinstance(body, (b.Designation, b.ViolationFlag, b.Withdrawal))


# ---------------------------------------------------------------- decode_strict ≡ the round trip


def _round_trip_verdict(body_type: BodyType, data: bytes) -> tuple[str, bool | None]:
    """What admission decided before ``decode_strict``: decode, then re-encode and compare."""
    try:
        body = decode_body(body_type, data)
    except InvalidArgument as err:
        return err.field, None
    return "", encode_body(body) == data


def _strict_verdict(body_type: BodyType, data: bytes) -> tuple[str, bool | None]:
    try:
        body, canonical = decode_strict(body_type, data)
    except InvalidArgument as err:
        return err.field, None
    assert body == decode_body(body_type, data)
    return "", canonical


def _mutations(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, where, value in edits:
        at = where % (len(out) + 1)
        if kind == 0 and out:
            out[at % len(out)] = value  # overwrite a byte
        elif kind == 1:
            out[at:at] = bytes([value])  # insert a byte
        elif kind == 2 and out:
            del out[at % len(out)]  # drop a byte
    return bytes(out)


#: fields a canonical encoder never writes: unknown numbers, defaults written out, a
#: sub-microsecond timestamp, an empty party, a field twice (last one wins)
_SUFFIXES = [
    b"",
    bytes([0xF8, 0x07, 0x01]),  # field 127, varint: unknown
    bytes([0x12, 0x00]),  # field 2 (a string in every body), empty: a default written out
    bytes([0x0A, 0x00]),  # field 1, empty message
    bytes([0x3A, 0x02, 0x10, 0x01]),  # field 7: a timestamp with nanos 1
    bytes([0x32, 0x03, 0x10, 0xE8, 0x07]),  # field 6: a timestamp with nanos 1000 (whole micros)
    bytes([0x28, 0x01]),  # field 5 = 1
    bytes([0x20, 0x00]),  # field 4 = 0 written out
]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(designations, flags, withdrawals),
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4096), st.integers(0, 255)), max_size=3),
    st.sampled_from(_SUFFIXES),
    st.booleans(),
)
def test_decode_strict_agrees_with_the_round_trip_on_mutated_bodies(
    body: Body, edits: list[tuple[int, int, int]], suffix: bytes, prefix: bool
) -> None:
    body_type = body_type_of(body)
    data = encode_body(body)
    data = suffix + data if prefix else data + suffix
    data = _mutations(data, edits)
    assert _strict_verdict(body_type, data) == _round_trip_verdict(body_type, data)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(BodyType)), st.binary(max_size=96))
def test_decode_strict_agrees_with_the_round_trip_on_arbitrary_bytes(
    body_type: BodyType, data: bytes
) -> None:
    assert _strict_verdict(body_type, data) == _round_trip_verdict(body_type, data)


@pytest.mark.parametrize("body", SAMPLES, ids=lambda x: type(x).__name__)
def test_decode_strict_of_a_canonical_body(body: Body) -> None:
    data = encode_body(body)
    assert decode_strict(body_type_of(body), data) == (body, True)
    assert decode_strict(body_type_of(body), data + bytes([0xF8, 0x07, 0x01]))[1] is False


@settings(max_examples=300, deadline=None)
@given(times, st.integers(0, 999))
def test_times_convert_exactly_as_protobuf_does(when: datetime, sub_micro: int) -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    from borderx.statements.body_codec import _get_time, _set_time

    msg = pb.Designation()
    _set_time(msg, "valid_from", when)
    expected = Timestamp()
    expected.FromDatetime(when)
    assert msg.valid_from == expected
    msg.valid_from.nanos += sub_micro
    assert _get_time(msg, "valid_from") == msg.valid_from.ToDatetime(tzinfo=UTC)
