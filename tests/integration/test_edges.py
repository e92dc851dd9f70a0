"""Edges that never break (issue 11): malformed requests, numbers past int64, echoed values,
structured error details, Screen limits and the event loop, idempotency keys bound to their request.

All through a real gateway over mutual TLS on loopback.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from borderx._proto.borderx.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    statement_pb2,
)
from tests.conftest import channel, creds_for
from tests.integration.rpcs import NEVER_PARSES, RPCS, Rpc, partner_or_own, raw_call

AU = "AU-ABF"
HEALTH_CHECK = next(r for r in RPCS if r.method.endswith("/Check"))


@pytest.fixture
def au(start_gateway):  # type: ignore[no-untyped-def]
    return start_gateway(AU)


def open_channel(gw, pki: Path, role: str = "service") -> grpc.Channel:  # type: ignore[no-untyped-def]
    return channel(gw.target, partner_or_own(pki, role))


def rpc_count(gw, method: str, code: str, caller: str = AU) -> float:  # type: ignore[no-untyped-def]
    value = gw.gateway.metrics.registry.get_sample_value(
        "borderx_rpcs_total", {"method": method, "code": code, "caller_agency": caller}
    )
    return value or 0.0


def details(exc: grpc.RpcError) -> list[object]:
    """The google.rpc detail messages the gateway attached, unpacked."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None, "no google.rpc.Status in the trailers"
    out: list[object] = []
    for packed in status.details:
        for kind in (
            error_details_pb2.BadRequest,
            error_details_pb2.PreconditionFailure,
            error_details_pb2.QuotaFailure,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                out.append(message)
    return out


def field_violations(exc: grpc.RpcError) -> list[tuple[str, str]]:
    return [
        (v.field, v.description)
        for d in details(exc)
        if isinstance(d, error_details_pb2.BadRequest)
        for v in d.field_violations
    ]


# ---------------------------------------------------------------- 1. requests that do not parse


def test_the_rpc_table_covers_every_method_the_gateway_serves() -> None:
    """The malformed-input tests and the fuzz suite go through RPCS: no method may be missing."""
    from google.protobuf import descriptor_pool

    from borderx.server.app import SERVICE_NAMES

    pool = descriptor_pool.Default()
    served = {
        f"/{name}/{m.name}"
        for name in (*SERVICE_NAMES, "grpc.reflection.v1alpha.ServerReflection")
        for m in pool.FindServiceByName(name).methods
    }
    assert {r.method for r in RPCS} == served


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: r.method)
def test_a_request_that_does_not_parse_is_invalid_argument_with_its_rpc_event(
    au, pki: Path, rpc: Rpc
) -> None:  # type: ignore[no-untyped-def]
    caller = "NZ-CS" if rpc.role == "partner" else AU
    before = rpc_count(au, rpc.method, "INVALID_ARGUMENT", caller)
    with open_channel(au, pki, rpc.role) as ch:
        code, message, _ = raw_call(ch, rpc, NEVER_PARSES)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, message)
        assert message.startswith(f"request does not parse as {rpc.request_type}: ")
        # the same connection still serves a valid call
        assert raw_call(ch, HEALTH_CHECK, HEALTH_CHECK.valid.SerializeToString())[0] == grpc.StatusCode.OK
    # the one-event-per-RPC record (the `rpc` log event and its metric come from one place)
    assert rpc_count(au, rpc.method, "INVALID_ARGUMENT", caller) == before + 1


def test_health_watch_is_served_through_the_guard(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    """Watch sends with context.write (a coroutine, not a generator): the guard awaits it."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with open_channel(au, pki) as ch:
        stream = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(), timeout=10)
        first = next(iter(stream))
        stream.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING


def test_a_method_the_library_leaves_unimplemented_is_unimplemented(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    """grpc's aio health servicer has no List: its base class raises NotImplementedError."""
    health_list = next(r for r in RPCS if r.method.endswith("/List"))
    with open_channel(au, pki) as ch:
        code, message, _ = raw_call(ch, health_list, b"")
    assert code == grpc.StatusCode.UNIMPLEMENTED, (code, message)
    assert message == "/grpc.health.v1.Health/List is not implemented by this gateway"


def test_invalid_utf8_in_a_string_field_is_invalid_argument(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    lookup = next(r for r in RPCS if r.method.endswith("/Lookup"))
    # LookupRequest.id (field 1) holding PartyId.scheme (field 1) = b"\xff"
    with open_channel(au, pki) as ch:
        code, message, exc = raw_call(ch, lookup, b"\x0a\x03\x0a\x01\xff")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message.startswith("request does not parse as borderx.v1.LookupRequest: ")
    assert exc is not None and details(exc)  # the google.rpc.Status travels too


def test_a_caller_without_a_certificate_of_the_federation_is_refused_before_parsing(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    lookup = next(r for r in RPCS if r.method.endswith("/Lookup"))
    with channel(au.target, creds_for(pki, "NZ-CS", "service", server_agency=AU)) as ch:
        code, _, _ = raw_call(ch, lookup, NEVER_PARSES)
    assert code == grpc.StatusCode.PERMISSION_DENIED


# ---------------------------------------------------------------- 2. numbers past int64

BIG = 2**63


def ack(ch: grpc.Channel, alarm_id: str) -> admin_pb2.Alarm:
    return admin_pb2_grpc.AdminStub(ch).AcknowledgeAlarm(
        admin_pb2.AcknowledgeAlarmRequest(id=alarm_id), timeout=10
    )


@pytest.mark.parametrize("alarm_id", ["²", "٣", str(BIG), "9" * 4301, "-1", "0", " 1", ""])
def test_alarm_ids_that_are_not_int64_are_invalid_argument(au, pki: Path, alarm_id: str) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki, "operator") as ch, pytest.raises(grpc.RpcError) as info:
        ack(ch, alarm_id)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith("id: ")
    assert len(info.value.details() or "") < 200
    assert [f for f, _ in field_violations(info.value)] == ["id"]


def test_the_largest_int64_alarm_id_is_a_well_formed_id_that_does_not_exist(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki, "operator") as ch, pytest.raises(grpc.RpcError) as info:
        ack(ch, str(BIG - 1))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def _withdraw(seq: int) -> exchange_pb2.PublishItem:
    from borderx.statements.body_codec import withdrawal_to_proto
    from tests.integration.helpers import withdrawal

    msg = withdrawal_to_proto(withdrawal(AU, 1))
    msg.target.seq = seq
    return exchange_pb2.PublishItem(draft=exchange_pb2.Draft(withdrawal=msg))


def _supersede(seq: int) -> exchange_pb2.PublishItem:
    from borderx.statements.bodies import StatementRef
    from borderx.statements.body_codec import designation_to_proto
    from tests.integration.helpers import designation, platform

    msg = designation_to_proto(designation(AU, (platform("big"),), supersedes=StatementRef(AU, 1)))
    msg.supersedes.seq = seq
    return exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=msg))


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (_withdraw(BIG), "items[0].draft.withdrawal.target"),
        (_withdraw(2**64 - 1), "items[0].draft.withdrawal.target"),
        (_supersede(BIG), "items[0].draft.designation.supersedes"),
    ],
)
def test_publish_references_past_int64_are_invalid_argument(au, pki: Path, item, field: str) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki) as ch, pytest.raises(grpc.RpcError) as info:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=[item]), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"{field}: ")
    assert [f for f, _ in field_violations(info.value)] == [field]
    assert au.gateway.store.count() == 0


def _self_signed(pki: Path, *, seq: int = 1, target_seq: int | None = None) -> exchange_pb2.PublishItem:
    from borderx.statements.body_codec import encode_body
    from borderx.statements.encoding import envelope_to_proto
    from borderx.statements.model import GENESIS_DIGEST
    from borderx.statements.signing import load_signing_key, sign_statement
    from tests.integration.helpers import NOW, designation, platform, withdrawal

    body = designation(AU, (platform("selfsigned"),)) if target_seq is None else withdrawal(AU, target_seq)
    env = sign_statement(
        load_signing_key(pki / AU / "signing.key"),
        issuer=AU,
        seq=seq,
        prev_digest=GENESIS_DIGEST,
        issued_at=NOW,
        body_type="designation" if target_seq is None else "withdrawal",
        body=encode_body(body),
    )
    return exchange_pb2.PublishItem(envelope=envelope_to_proto(env))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda pki: _self_signed(pki, seq=BIG), "items[0].envelope.header.seq"),
        (lambda pki: _self_signed(pki, target_seq=BIG), "items[0].envelope.withdrawal.target"),
    ],
)
def test_self_signed_envelopes_past_int64_are_invalid_argument(au, pki: Path, make, field: str) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki) as ch, pytest.raises(grpc.RpcError) as info:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=[make(pki)]), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    assert [f for f, _ in field_violations(info.value)] == [field]
    assert au.gateway.store.count() == 0


def test_a_chain_gap_at_publish_is_failed_precondition_with_its_details(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki) as ch, pytest.raises(grpc.RpcError) as info:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(
            exchange_pb2.PublishRequest(items=[_self_signed(pki, seq=3)]), timeout=10
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (info.value.details() or "").startswith(
        "items[0].envelope.header.seq: has seq 3; the next statement"
    )
    [failure] = [d for d in details(info.value) if isinstance(d, error_details_pb2.PreconditionFailure)]
    assert [(v.type, v.subject) for v in failure.violations] == [("CHAIN", AU)]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (exchange_pb2.SubscribeRequest(have={AU: BIG}), f"have[{AU}]"),
        (exchange_pb2.SubscribeRequest(have={AU: 2**64 - 1}, have_digests={AU: bytes(32)}), f"have[{AU}]"),
        (exchange_pb2.SubscribeRequest(have={AU: 1}, have_digests={AU: b"short"}), f"have_digests[{AU}]"),
    ],
)
def test_subscribe_version_vectors_past_int64_are_invalid_argument(
    au, pki: Path, request_, field: str
) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki) as ch, pytest.raises(grpc.RpcError) as info:
        list(exchange_pb2_grpc.ExchangeStub(ch).Subscribe(request_, timeout=10))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(info.value)] == [field]


def test_export_after_past_int64_is_invalid_argument(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki, "operator") as ch, pytest.raises(grpc.RpcError) as info:
        list(
            admin_pb2_grpc.AdminStub(ch).ExportStatements(
                admin_pb2.ExportStatementsRequest(after={AU: BIG}), timeout=10
            )
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(info.value)] == [f"after[{AU}]"]


# ---------------------------------------------------------------- 3. echoed values stay short

HUGE = "Z" * 60_000


@pytest.mark.parametrize(
    ("method", "role", "request_"),
    [
        ("Lookup", "service", exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme=HUGE, value="1"))),
        (
            "Lookup",
            "service",
            exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="EORI", value=HUGE)),
        ),
        (
            "Lookup",
            "service",
            exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="ABN", value="€" * 20_000)),
        ),
        ("Subscribe", "service", exchange_pb2.SubscribeRequest(issuers=[HUGE])),
        ("Subscribe", "service", exchange_pb2.SubscribeRequest(have={HUGE: 1})),
        ("SuspendIssuer", "operator", admin_pb2.SuspendIssuerRequest(issuer=HUGE, reason="r")),
        ("ResumeIssuer", "operator", admin_pb2.ResumeIssuerRequest(issuer="€" * 30_000)),
        ("AcknowledgeAlarm", "operator", admin_pb2.AcknowledgeAlarmRequest(id=HUGE)),
        ("ExportStatements", "operator", admin_pb2.ExportStatementsRequest(issuers=[HUGE])),
        (
            "Publish",
            "service",
            exchange_pb2.PublishRequest(
                items=[exchange_pb2.PublishItem(draft=exchange_pb2.Draft(audience=[HUGE]))]
            ),
        ),
        ("Publish", "service", exchange_pb2.PublishRequest(idempotency_key=HUGE)),
    ],
)
def test_refusals_quote_a_short_prefix_of_any_echoed_value(
    au, pki: Path, method: str, role: str, request_
) -> None:  # type: ignore[no-untyped-def]
    service = "Admin" if role == "operator" else "Exchange"
    rpc = next(r for r in RPCS if r.method == f"/borderx.v1.{service}/{method}")
    with open_channel(au, pki, role) as ch:
        code, message, exc = raw_call(ch, rpc, request_.SerializeToString())
    # before the fix, a value this long passed grpc's metadata limit: RESOURCE_EXHAUSTED "Stream removed"
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, message[:200])
    assert len(message.encode()) <= 1024
    assert "ZZZZ" * 20 not in message and "€" * 80 not in message
    assert exc is not None and details(exc)


# ---------------------------------------------------------------- 7. Screen limits and the event loop


def shipment(reference: str, n_ids: int = 1, **kw) -> exchange_pb2.Shipment:  # type: ignore[no-untyped-def]
    ids = [statement_pb2.PartyId(scheme="PLATFORM", value=f"shop:s{reference}-{j}") for j in range(n_ids)]
    return exchange_pb2.Shipment(reference=reference, shipper_ids=ids, **kw)


def screen(ch: grpc.Channel, *shipments: exchange_pb2.Shipment) -> exchange_pb2.ScreenResponse:
    return exchange_pb2_grpc.ExchangeStub(ch).Screen(
        exchange_pb2.ScreenRequest(shipments=list(shipments)), timeout=30
    )


def quota_subjects(exc: grpc.RpcError) -> list[str]:
    return [
        v.subject for d in details(exc) if isinstance(d, error_details_pb2.QuotaFailure) for v in d.violations
    ]


@pytest.fixture
def small_limits(start_gateway, pki: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    import dataclasses

    from tests.conftest import gateway_config

    config = gateway_config(pki, AU, tmp_path)
    limits = dataclasses.replace(
        config.limits, max_shipment_identifiers=4, max_screen_identifiers=10, max_text_chars=32
    )
    return start_gateway(AU, config=dataclasses.replace(config, limits=limits))


def test_identifiers_per_shipment_and_per_request_are_limited(small_limits, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with open_channel(small_limits, pki) as ch:
        assert len(screen(ch, shipment("a", 4), shipment("b", 4)).results) == 2
        with pytest.raises(grpc.RpcError) as info:
            screen(ch, shipment("a", 1), shipment("b", 5))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "shipments[1]: 5 shipper and consignee identifiers" in (info.value.details() or "")
        assert quota_subjects(info.value) == ["limits.max_shipment_identifiers"]
        with pytest.raises(grpc.RpcError) as info:
            screen(ch, *[shipment(str(i), 3) for i in range(4)])
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "12 identifiers in one request; the limit is 10" in (info.value.details() or "")
        assert quota_subjects(info.value) == ["limits.max_screen_identifiers"]


@pytest.mark.parametrize(
    ("bad", "field", "fragment"),
    [
        (shipment("r" * 33), "shipments[1].reference", "is 33 characters; at most 32 are accepted"),
        (
            shipment("ref\x1b[2J"),
            "shipments[1].reference",
            "contains control or bidirectional-override characters",
        ),
        (
            shipment("r", origin_country="A\x00"),
            "shipments[1].origin_country",
            "contains control or bidirectional-override characters",
        ),
        (
            shipment("r", platform="p\n"),
            "shipments[1].platform",
            "contains control or bidirectional-override characters",
        ),
        (shipment("r\u202e1gpj"), "shipments[1].reference", "bidirectional-override"),
        (shipment("r", hs_codes=["6109", "x" * 40]), "shipments[1].hs_codes[1]", "at most 32 are accepted"),
        (shipment("r", hs_codes=["1"] * 65), "shipments[1].hs_codes", "the limit is 64"),
    ],
)
def test_free_text_fields_are_bounded_and_printable(
    small_limits, pki: Path, bad, field: str, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    with open_channel(small_limits, pki) as ch, pytest.raises(grpc.RpcError) as info:
        screen(ch, shipment("ok"), bad)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (info.value.details() or "").startswith(f"{field}: ") and fragment in (info.value.details() or "")
    assert [f for f, _ in field_violations(info.value)] == [field]


def test_a_big_screen_does_not_hold_the_event_loop(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    """While a large Screen is being worked on, the same gateway answers a health check.

    The screener is held mid-call until the health check has been answered: were the big
    Screen run on the event loop, the health check could not be served and would end in
    DEADLINE_EXCEEDED; the order of events, not a timing, is what is asserted.
    """
    import threading

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    entered, release = threading.Event(), threading.Event()
    order: list[str] = []
    screener = au.gateway.screener
    real = screener.screen

    def held(queries):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(timeout=30)
        order.append("screened")
        return real(queries)

    screener.screen = held
    results: list[object] = []
    with open_channel(au, pki) as ch:
        big = [shipment(str(i), 2) for i in range(500)]
        worker = threading.Thread(target=lambda: results.append(screen(ch, *big)))
        worker.start()
        try:
            assert entered.wait(timeout=30), "the Screen never reached the screener"
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            order.append("health")
        finally:
            release.set()
            worker.join(timeout=30)
    assert order == ["health", "screened"]
    assert len(results) == 1 and len(results[0].results) == 500  # type: ignore[attr-defined]


# ---------------------------------------------------------------- 8. idempotency keys bound to their request


def _designation_item(name: str) -> exchange_pb2.PublishItem:
    from borderx.statements.body_codec import designation_to_proto
    from tests.integration.helpers import designation, platform

    body = designation_to_proto(designation(AU, (platform(name),)))
    return exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=body))


def publish(ch: grpc.Channel, *items: exchange_pb2.PublishItem, key: str) -> exchange_pb2.PublishResponse:
    request = exchange_pb2.PublishRequest(idempotency_key=key, items=list(items))
    return exchange_pb2_grpc.ExchangeStub(ch).Publish(request, timeout=10)


def test_an_idempotency_key_reused_for_another_request_is_failed_precondition(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with open_channel(au, pki) as ch:
        first = publish(ch, _designation_item("k1"), key="batch-7")
        assert not first.replayed
        again = publish(ch, _designation_item("k1"), key="batch-7")
        assert again.replayed and [m.header for m in again.statements] == [m.header for m in first.statements]
        with pytest.raises(grpc.RpcError) as info:
            publish(ch, _designation_item("k1"), _designation_item("k2"), key="batch-7")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "idempotency_key 'batch-7' was used before for a different request" in (info.value.details() or "")
    [failure] = [d for d in details(info.value) if isinstance(d, error_details_pb2.PreconditionFailure)]
    assert [(v.type, v.subject) for v in failure.violations] == [("IDEMPOTENCY_KEY", "batch-7")]
    assert au.gateway.store.count() == 1  # the new items were not stored, nor silently dropped


def test_receipts_expire_after_the_configured_time(start_gateway, pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from tests.conftest import gateway_config

    config = gateway_config(pki, AU, tmp_path)
    # a receipt older than a microsecond has expired: every retry finds its key free again
    config = dataclasses.replace(
        config, limits=dataclasses.replace(config.limits, idempotency_ttl_seconds=1e-6)
    )
    gw = start_gateway(AU, config=config)
    with open_channel(gw, pki) as ch:
        first = publish(ch, _designation_item("ttl"), key="nightly")
        second = publish(
            ch, _designation_item("ttl2"), key="nightly"
        )  # another request: allowed, key expired
    assert not first.replayed and not second.replayed
    assert gw.gateway.store.count() == 2
    record = gw.gateway.store.receipt_record("nightly", f"spiffe://border5.test/agency/{AU}/service/default")
    assert record is not None and record.statements == ((AU, 2),)  # the expired receipt was replaced


# ---------------------------------------------------------------- 4. the CLI reads the details


def test_the_cli_names_the_row_a_gateway_refused_from_the_details(
    small_limits, pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from borderx.cli import main

    csv = tmp_path / "manifest.csv"
    long_reference = "SHP-" + "9" * 40  # the gateway's max_text_chars is 32 here; the CLI does not know it
    csv.write_text(
        "reference,identifiers,origin,declared_value,currency,hs_codes\n"
        "SHP-1,ABN:51824753556,AU,10.00,AUD,510111\n"
        f"{long_reference},ABN:51824753556,AU,10.00,AUD,510111\n"
    )
    argv = [
        "screen",
        str(csv),
        "--target",
        small_limits.target,
        "--pki",
        str(pki),
        "--agency",
        AU,
        "--role",
        "service",
    ]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "the gateway refused row 3 of manifest.csv" in err
    assert "INVALID_ARGUMENT: shipments[1].reference: is 44 characters; at most 32 are accepted" in err
