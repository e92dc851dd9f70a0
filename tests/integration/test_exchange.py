"""Publish and Lookup over real mTLS: authorisation matrix, validation, idempotency, audience."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.directory.model import Directory
from borderx.statements.bodies import BodyType, Evidence, FlagCategory, PartyId
from borderx.statements.body_codec import (
    decode_body,
    designation_to_proto,
    flag_to_proto,
    withdrawal_to_proto,
)
from borderx.statements.encoding import envelope_from_proto, envelope_to_proto
from borderx.statements.signing import load_signing_key, sign_statement
from borderx.statements.verify import verify_statement
from tests.conftest import channel, creds_for
from tests.integration.helpers import Issuers, designation, flag, platform, withdrawal

AU = "AU-ABF"


@pytest.fixture
def au(start_gateway):  # type: ignore[no-untyped-def]
    return start_gateway(AU)


def stub(gw, pki: Path, agency: str = AU, role: str = "service"):  # type: ignore[no-untyped-def]
    ch = channel(gw.target, creds_for(pki, agency, role, server_agency=AU))
    return ch, exchange_pb2_grpc.ExchangeStub(ch)


def draft_designation(name: str = "acme", **kw) -> exchange_pb2.PublishItem:  # type: ignore[no-untyped-def]
    body = designation(AU, (platform(name),), **kw)
    return exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=designation_to_proto(body)))


def publish(s, *items, key: str = "") -> exchange_pb2.PublishResponse:  # type: ignore[no-untyped-def]
    return s.Publish(exchange_pb2.PublishRequest(idempotency_key=key, items=list(items)), timeout=10)


def refused(fn) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details() or ""


# ---------------------------------------------------------------- authorisation matrix

LOOKUP = exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="PLATFORM", value="shop:acme"))
SCREEN = exchange_pb2.ScreenRequest(
    shipments=[
        exchange_pb2.Shipment(
            reference="r", shipper_ids=[statement_pb2.PartyId(scheme="PLATFORM", value="shop:x")]
        )
    ]
)


@pytest.mark.parametrize(
    ("agency", "role", "allowed"),
    [
        (AU, "service", True),
        (AU, "operator", True),
        (AU, "gateway", False),
        ("NZ-CS", "service", False),
        ("NZ-CS", "operator", False),
        ("NZ-CS", "gateway", False),
    ],
)
@pytest.mark.parametrize("rpc", ["Publish", "Screen", "Lookup"])
def test_authorisation_matrix(au, pki: Path, agency: str, role: str, allowed: bool, rpc: str) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki, agency, role)
    with ch:
        request = {
            "Publish": exchange_pb2.PublishRequest(items=[draft_designation()]),
            "Screen": SCREEN,
            "Lookup": LOOKUP,
        }[rpc]
        call = getattr(s, rpc)
        if allowed:
            call(request, timeout=10)
        else:
            code, details = refused(lambda: call(request, timeout=10))
            assert code == grpc.StatusCode.PERMISSION_DENIED
            assert f"agency/{agency}/{role}" in details


def test_subscribe_is_open_to_partner_gateways_and_home_systems_only(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        publish(s, draft_designation("sub"))
    for agency, role in (("NZ-CS", "gateway"), (AU, "service"), (AU, "operator")):
        ch, s = stub(au, pki, agency, role)
        with ch:
            events = list(s.Subscribe(exchange_pb2.SubscribeRequest(), timeout=10))
        assert [e.statement.header for e in events if e.WhichOneof("event") == "statement"] != []


def test_subscribe_sends_a_backlog_in_batches_then_follows(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        publish(s, *[draft_designation(f"b{i}") for i in range(5)])
    ch, s = stub(au, pki, "NZ-CS", "gateway")
    with ch:
        events = list(s.Subscribe(exchange_pb2.SubscribeRequest(have={AU: 2}), timeout=10))
    seqs = []
    for event in events:
        if event.WhichOneof("event") == "batch":
            seqs += [envelope_from_proto(m).seq for m in event.batch.statements]
        elif event.WhichOneof("event") == "statement":
            seqs.append(envelope_from_proto(event.statement).seq)
    assert seqs == [3, 4, 5]  # only what the caller lacks, in order, once
    assert any(e.WhichOneof("event") == "batch" for e in events)
    ch, s = stub(au, pki, "NZ-CS", "service")
    with ch:
        code, _ = refused(lambda: list(s.Subscribe(exchange_pb2.SubscribeRequest(), timeout=10)))
    assert code == grpc.StatusCode.PERMISSION_DENIED


# ---------------------------------------------------------------- publish


def test_publish_signs_chains_and_returns_verifiable_receipts(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        first = publish(s, draft_designation("a"), draft_designation("b"))
        second = publish(s, draft_designation("c"))
    directory = Directory.load(pki / "directory.json")
    envs = [envelope_from_proto(m) for m in (*first.statements, *second.statements)]
    assert [e.seq for e in envs] == [1, 2, 3]
    assert envs[1].header.prev_digest == envs[0].digest and envs[2].header.prev_digest == envs[1].digest
    for env in envs:
        verify_statement(env, directory)
        assert env.issuer == AU
    assert au.gateway.store.count() == 3


def test_publish_normalises_identifiers(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    body = designation(AU, (PartyId("ABN", "51 824 753 556"),))
    ch, s = stub(au, pki)
    with ch:
        reply = publish(
            s, exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=designation_to_proto(body)))
        )
        found = s.Lookup(
            exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="abn", value="51-824-753-556")),
            timeout=10,
        )
    env = envelope_from_proto(reply.statements[0])
    stored_body = decode_body(BodyType.DESIGNATION, env.body or b"")
    assert stored_body.party.ids == (PartyId("ABN", "51824753556"),)  # type: ignore[union-attr]
    assert [e.provenance.seq for e in found.entries] == [1]


@pytest.mark.parametrize(
    ("item", "status", "fragment"),
    [
        (
            exchange_pb2.PublishItem(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1]: needs a draft or an envelope",
        ),
        (
            exchange_pb2.PublishItem(draft=exchange_pb2.Draft()),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1].draft: needs one of designation, flag or withdrawal",
        ),
        (
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(
                    designation=designation_to_proto(designation(AU, (PartyId("ABN", "51824753557"),)))
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1].draft.designation.party.ids[0].value: ABN 51824753557 fails its mod-89 check",
        ),
        (
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(
                    designation=designation_to_proto(designation("NZ-CS", (platform("z"),)))
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1].draft.designation.programme: only NZ-CS may designate in NZ_SES, not AU-ABF",
        ),
        (
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(withdrawal=withdrawal_to_proto(withdrawal("US-CBP", 1)))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1].draft.withdrawal.target",
        ),
        (
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(withdrawal=withdrawal_to_proto(withdrawal(AU, 99)))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1].draft.withdrawal.target: AU-ABF#99 does not exist",
        ),
        (
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(
                    audience=["FR-DGDDI"], designation=designation_to_proto(designation(AU, (platform("q"),)))
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "items[1].draft.audience[0]: 'FR-DGDDI' is not a member",
        ),
    ],
)
def test_invalid_items_are_refused_and_nothing_is_stored(au, pki: Path, item, status, fragment: str) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        code, details = refused(lambda: publish(s, draft_designation("ok"), item))
    assert code == status
    assert fragment in details
    assert au.gateway.store.count() == 0  # all or nothing: the valid first item was not stored either


def test_batch_limit_and_empty_request(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        code, details = refused(lambda: publish(s, *[draft_designation(f"n{i}") for i in range(1001)]))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "the limit is 1000" in details
        code, details = refused(lambda: publish(s))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "items: is empty" in details


def test_publish_is_idempotent_per_key_and_principal(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        first = publish(s, draft_designation("idem"), key="batch-7")
        again = publish(s, draft_designation("idem"), key="batch-7")
    assert not first.replayed and again.replayed
    assert [m.header for m in again.statements] == [m.header for m in first.statements]
    assert au.gateway.store.count() == 1
    ch, s = stub(au, pki, AU, "operator")  # another principal, same key: a separate request
    with ch:
        other = publish(s, draft_designation("idem2"), key="batch-7")
    assert not other.replayed and au.gateway.store.count() == 2


def test_self_signed_envelopes_are_verified_and_chained(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from borderx.statements.body_codec import encode_body
    from borderx.statements.model import GENESIS_DIGEST

    body = designation(AU, (platform("selfsigned"),))
    signer = load_signing_key(pki / AU / "signing.key")
    good = sign_statement(signer, issuer=AU, seq=1, prev_digest=GENESIS_DIGEST, issued_at=datetime.now(UTC),
                          body_type="designation", body=encode_body(body))  # fmt: skip
    wrong_seq = sign_statement(signer, issuer=AU, seq=5, prev_digest=GENESIS_DIGEST, issued_at=datetime.now(UTC),
                               body_type="designation", body=encode_body(body))  # fmt: skip
    nz = sign_statement(load_signing_key(pki / "NZ-CS" / "signing.key"), issuer="NZ-CS", seq=1, prev_digest=GENESIS_DIGEST,
                        issued_at=datetime.now(UTC), body_type="designation",
                        body=encode_body(designation("NZ-CS", (platform("n"),))))  # fmt: skip
    forged = envelope_to_proto(good)
    forged.signatures[0].sig = bytes(64)
    ch, s = stub(au, pki)
    with ch:
        code, details = refused(lambda: publish(s, exchange_pb2.PublishItem(envelope=forged)))
        assert (
            code == grpc.StatusCode.INVALID_ARGUMENT
            and "items[0].envelope" in details
            and "signature" in details
        )
        code, details = refused(
            lambda: publish(s, exchange_pb2.PublishItem(envelope=envelope_to_proto(wrong_seq)))
        )
        # a chain gap is FAILED_PRECONDITION (DESIGN §5): the request is well formed, the chain is not there
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "next statement of AU-ABF is seq 1" in details
        assert "items[0].envelope.header.seq: has seq 5" in details
        code, details = refused(lambda: publish(s, exchange_pb2.PublishItem(envelope=envelope_to_proto(nz))))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "publishes for AU-ABF only" in details
        assert au.gateway.store.count() == 0
        reply = publish(s, exchange_pb2.PublishItem(envelope=envelope_to_proto(good)))
    assert reply.statements[0].header == good.header_bytes
    assert au.gateway.store.count() == 1


# ---------------------------------------------------------------- lookup and audience


def test_lookup_history_and_provenance(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        publish(s, draft_designation("hist"))
        wd = exchange_pb2.PublishItem(
            draft=exchange_pb2.Draft(withdrawal=withdrawal_to_proto(withdrawal(AU, 1)))
        )
        publish(s, wd)
        pid = statement_pb2.PartyId(scheme="PLATFORM", value="shop:hist")
        current = s.Lookup(exchange_pb2.LookupRequest(id=pid), timeout=10)
        history = s.Lookup(exchange_pb2.LookupRequest(id=pid, include_history=True), timeout=10)
        code, details = refused(lambda: s.Lookup(exchange_pb2.LookupRequest(), timeout=10))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "id: required" in details
        code, details = refused(
            lambda: s.Lookup(
                exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="ABN", value="1")), timeout=10
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("id.value")
    assert list(current.entries) == []
    (entry,) = history.entries
    assert not entry.current and entry.status == "withdrawn by AU-ABF#2"
    assert (
        entry.provenance.issuer == AU and entry.provenance.seq == 1 and entry.provenance.received_from == ""
    )


def test_lookup_refusals_name_the_field_every_time(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    """Normal forms are remembered, refusals are not: the same bad identifier is refused again."""
    ch, s = stub(au, pki)
    with ch:
        for _ in range(2):
            code, details = refused(
                lambda: s.Lookup(
                    exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="NOPE", value="1")), timeout=10
                )
            )
            assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("id.scheme: unknown")
            code, details = refused(
                lambda: s.Lookup(
                    exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="ABN", value="51824753557")),
                    timeout=10,
                )
            )
            assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("id.value: ABN")
        # the same party in another spelling: the normal form is what is looked up
        found = s.Lookup(
            exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="abn", value="51 824 753 556")),
            timeout=10,
        )
    assert list(found.entries) == []


def test_bodies_outside_the_audience_never_reach_the_caller(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    world = Issuers(pki, au.gateway.store, receiver=AU)
    ids = (platform("secret"),)
    world.put("US-CBP", flag(ids, FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED), audience=("CA-CBSA",))
    world.put("NZ-CS", flag(ids, FlagCategory.UNDERVALUATION, Evidence.CONFIRMED), audience=(AU,))
    stored = au.gateway.store.get("US-CBP", 1)
    assert stored is not None and stored.envelope.body is None  # held as a redacted header
    ch, s = stub(au, pki)
    with ch:
        found = s.Lookup(
            exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="PLATFORM", value="shop:secret")),
            timeout=10,
        )
        screen = s.Screen(
            exchange_pb2.ScreenRequest(
                shipments=[
                    exchange_pb2.Shipment(
                        reference="s",
                        shipper_ids=[statement_pb2.PartyId(scheme="PLATFORM", value="shop:secret")],
                    )
                ]
            ),
            timeout=10,
        )
    assert [e.provenance.issuer for e in found.entries] == ["NZ-CS"]
    assert [f.provenance.issuer for f in screen.results[0].flags] == ["NZ-CS"]


def test_screen_refusals(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch:
        bad = exchange_pb2.ScreenRequest(
            shipments=[
                exchange_pb2.Shipment(
                    reference="a", shipper_ids=[statement_pb2.PartyId(scheme="PLATFORM", value="shop:x")]
                ),
                exchange_pb2.Shipment(
                    reference="b", shipper_ids=[statement_pb2.PartyId(scheme="EORI", value="GB12")]
                ),
            ]
        )
        code, details = refused(lambda: s.Screen(bad, timeout=10))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(
            "shipments[1].shipper_ids[0].value"
        )
        empty = exchange_pb2.ScreenRequest(shipments=[exchange_pb2.Shipment(reference="a")])
        code, details = refused(lambda: s.Screen(empty, timeout=10))
        assert (
            code == grpc.StatusCode.INVALID_ARGUMENT
            and "shipments[0].shipper_ids: needs at least one" in details
        )
        many = exchange_pb2.ScreenRequest(
            shipments=[exchange_pb2.Shipment(reference=str(i)) for i in range(10_001)]
        )
        code, details = refused(lambda: s.Screen(many, timeout=10))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "the limit is 10000" in details


def test_flag_draft_round_trip(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    body = flag((platform("flagged"),), FlagCategory.DE_MINIMIS_SPLITTING, Evidence.CONFIRMED)
    ch, s = stub(au, pki)
    with ch:
        reply = publish(s, exchange_pb2.PublishItem(draft=exchange_pb2.Draft(flag=flag_to_proto(body))))
    env = envelope_from_proto(reply.statements[0])
    assert env.header.body_type == "flag"
    assert decode_body(BodyType.FLAG, env.body or b"") == body


def test_subscribe_refusals_name_the_field(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki, "NZ-CS", "gateway")
    with ch:
        code, details = refused(
            lambda: list(s.Subscribe(exchange_pb2.SubscribeRequest(have={"nz": 1}), timeout=10))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(
            "have: 'nz' is not an agency id"
        )
        code, details = refused(
            lambda: list(s.Subscribe(exchange_pb2.SubscribeRequest(issuers=["x"]), timeout=10))
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("issuers:")
        bad_type = exchange_pb2.SubscribeRequest(body_types=[statement_pb2.BODY_TYPE_UNSPECIFIED])
        code, details = refused(lambda: list(s.Subscribe(bad_type, timeout=10)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("body_types[0]")
