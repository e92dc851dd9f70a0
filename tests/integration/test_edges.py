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

from tests.conftest import channel, creds_for
from tests.integration.rpcs import NEVER_PARSES, RPCS, Rpc, raw_call

AU = "AU-ABF"
HEALTH_CHECK = next(r for r in RPCS if r.method.endswith("/Check"))


@pytest.fixture
def au(start_gateway):  # type: ignore[no-untyped-def]
    return start_gateway(AU)


def open_channel(gw, pki: Path, role: str = "service") -> grpc.Channel:  # type: ignore[no-untyped-def]
    return channel(gw.target, creds_for(pki, AU, role, server_agency=AU))


def rpc_count(gw, method: str, code: str) -> float:  # type: ignore[no-untyped-def]
    value = gw.gateway.metrics.registry.get_sample_value(
        "borderx_rpcs_total", {"method": method, "code": code, "caller_agency": AU}
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


@pytest.mark.parametrize("rpc", RPCS, ids=lambda r: r.method)
def test_a_request_that_does_not_parse_is_invalid_argument_with_its_rpc_event(
    au, pki: Path, rpc: Rpc
) -> None:  # type: ignore[no-untyped-def]
    before = rpc_count(au, rpc.method, "INVALID_ARGUMENT")
    with open_channel(au, pki, rpc.role) as ch:
        code, message, _ = raw_call(ch, rpc, NEVER_PARSES)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (code, message)
        assert message.startswith(f"request does not parse as {rpc.request_type}: ")
        # the same connection still serves a valid call
        assert raw_call(ch, HEALTH_CHECK, HEALTH_CHECK.valid.SerializeToString())[0] == grpc.StatusCode.OK
    # the one-event-per-RPC record (the `rpc` log event and its metric come from one place)
    assert rpc_count(au, rpc.method, "INVALID_ARGUMENT") == before + 1


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
