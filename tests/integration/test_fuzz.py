"""Fuzz every RPC of a real gateway (DESIGN §7 invariant 6: malformed input of any size gets a
clear error and changes nothing).

For each RPC the gateway serves (Exchange, Admin, health, reflection), hypothesis sends
random bytes, byte-level mutations of a valid request and field-level mutations (random
strings, huge numbers, nested garbage) over mutual TLS, and checks after every call:

- the status is never UNKNOWN or INTERNAL (a client's mistake is the client's code);
- a refused call changed nothing: the statement count and every issuer's head are as before;
- afterwards, a valid call is still served.

Seeded (``derandomize``) and bounded: ``BORDERX_FUZZ_EXAMPLES`` examples per RPC (default
12, a few seconds in all); ``make fuzz`` runs many more.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.statements.body_codec import designation_to_proto
from tests.conftest import GatewayThread, channel, gateway_config
from tests.integration.helpers import Issuers, designation, flag, platform
from tests.integration.rpcs import RPCS, Rpc, partner_or_own, raw_call

AU = "AU-ABF"
EXAMPLES = int(os.environ.get("BORDERX_FUZZ_EXAMPLES", "12"))
#: streams are cut after their first message or this many seconds: a request that asks to
#: follow would otherwise stay open (DEADLINE_EXCEEDED is an acceptable answer)
STREAM_SECONDS = 0.5
NEVER = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL)


@pytest.fixture(scope="module")
def world(
    pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayThread, dict[str, grpc.Channel]]]:
    """One gateway holding statements of its own and of a partner, and a channel per role."""
    from borderx.statements.bodies import Evidence, FlagCategory

    gw = GatewayThread(gateway_config(pki, AU, tmp_path_factory.mktemp("fuzz")))
    issuers = Issuers(pki, gw.gateway.store, receiver=AU)
    issuers.put("NZ-CS", flag((platform("fuzzed"),), FlagCategory.UNDERVALUATION, Evidence.CONFIRMED))
    channels = {
        role: channel(gw.target, partner_or_own(pki, role)) for role in ("service", "operator", "partner")
    }
    item = exchange_pb2.PublishItem(
        draft=exchange_pb2.Draft(designation=designation_to_proto(designation(AU, (platform("fuzzed"),))))
    )
    exchange_pb2_grpc.ExchangeStub(channels["service"]).Publish(
        exchange_pb2.PublishRequest(items=[item]), timeout=10
    )
    try:
        yield gw, channels
    finally:
        for ch in channels.values():
            ch.close()
        gw.stop()


# ---------------------------------------------------------------- strategies


@st.composite
def byte_mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[at:]
        else:
            data += data[at:]
    return bytes(data)


_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["AU-ABF", "NZ-CS", "US-CBP", "ABN", "PLATFORM", "EORI", "1", "²", "-1", "\x00\x1b[2J"]),
    st.integers(0, 3).map(lambda n: "Z" * (10 ** (n + 1))),
)
_UINT = st.one_of(st.integers(0, 5), st.sampled_from([2**63 - 1, 2**63, 2**64 - 1]))
_INT = st.one_of(st.integers(-5, 5), st.sampled_from([-(2**63), 2**63 - 1]))


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[object]:
    t = field.type
    if t == FieldDescriptor.TYPE_STRING:
        return _TEXT
    if t == FieldDescriptor.TYPE_BYTES:
        return st.one_of(st.binary(max_size=40), st.just(bytes(32)))
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-3, 99))
    if t in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED64):
        return _UINT if t != FieldDescriptor.TYPE_UINT32 else st.integers(0, 2**32 - 1)
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return st.integers(-(2**31), 2**31 - 1)
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, width=32)
    return _INT


def _fill(draw: st.DrawFn, msg: Message, depth: int) -> None:
    """Set some fields of ``msg`` (recursively, ``depth`` levels) to random values of their type."""
    for field in msg.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        repeated = field.is_repeated
        if is_map:
            key_field, value_field = (
                field.message_type.fields_by_name["key"],
                field.message_type.fields_by_name["value"],
            )
            target = getattr(msg, field.name)
            for _ in range(draw(st.integers(0, 3))):
                key = draw(_scalar(key_field))
                if value_field.message_type is not None:
                    if depth > 0:
                        _fill(draw, target[key], depth - 1)
                else:
                    target[key] = draw(_scalar(value_field))
        elif field.message_type is not None:
            if depth <= 0:
                continue
            if repeated:
                for _ in range(draw(st.integers(0, 3))):
                    _fill(draw, getattr(msg, field.name).add(), depth - 1)
            else:
                _fill(draw, getattr(msg, field.name), depth - 1)
                getattr(msg, field.name).SetInParent()
        elif repeated:
            getattr(msg, field.name).extend(draw(st.lists(_scalar(field), max_size=4)))
        else:
            setattr(msg, field.name, draw(_scalar(field)))


@st.composite
def field_mutations(draw: st.DrawFn, seed: Message) -> bytes:
    msg = type(seed)()
    msg.CopyFrom(seed)
    _fill(draw, msg, depth=4)
    if isinstance(msg, exchange_pb2.SubscribeRequest):
        msg.follow = False  # a following stream ends only at its deadline: covered, but slow
    return bytes(msg.SerializeToString())


def requests_for(rpc: Rpc) -> st.SearchStrategy[bytes]:
    seed = rpc.valid.SerializeToString()
    return st.one_of(
        st.binary(max_size=256),
        byte_mutations(seed),
        field_mutations(rpc.valid),
    )


# ---------------------------------------------------------------- the suite


def state(gw: GatewayThread) -> tuple[int, dict[str, tuple[int, bytes]]]:
    store = gw.gateway.store
    return store.count(), {i: (h.seq, h.digest) for i, h in store.heads().items()}


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: r.method)
def test_fuzzed_requests_never_break_the_gateway(world, rpc: Rpc) -> None:  # type: ignore[no-untyped-def]
    gw, channels = world
    ch = channels[rpc.role]
    timeout = STREAM_SECONDS if rpc.streaming else 10.0

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(payload=requests_for(rpc))
    def one(payload: bytes) -> None:
        before = state(gw)
        code, message, _ = raw_call(ch, rpc, payload, timeout=timeout)
        assert code not in NEVER, f"{rpc.method} answered {code.name}: {message[:200]} for {payload[:64]!r}"
        assert len(message.encode()) <= 1024
        if code != grpc.StatusCode.OK:
            assert state(gw) == before, f"a refused {rpc.method} changed the store"

    one()
    # still serving: the valid request, and a health check, on the same channel
    health = next(r for r in RPCS if r.method.endswith("/Check"))
    assert raw_call(ch, health, health.valid.SerializeToString())[0] == grpc.StatusCode.OK
    code, message, _ = raw_call(ch, rpc, rpc.valid.SerializeToString(), timeout=10.0)
    assert code not in NEVER, message
