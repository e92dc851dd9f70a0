"""Metrics endpoint and the plaintext health-only listener."""

from __future__ import annotations

import dataclasses
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.config import ObservabilityConfig
from tests.conftest import GatewayThread, channel, creds_for, gateway_config
from tests.integration.helpers import designation, platform

AU = "AU-ABF"


@pytest.fixture
def observed(pki: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    config = dataclasses.replace(
        gateway_config(pki, AU, tmp_path),
        observability=ObservabilityConfig(health_listen="127.0.0.1:0", metrics_listen="127.0.0.1:0"),
    )
    gw = GatewayThread(config)
    yield gw
    gw.stop()


def scrape(gw: GatewayThread) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.running.metrics_port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def value(text: str, prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_move_with_rpcs_and_statements(observed, pki: Path) -> None:  # type: ignore[no-untyped-def]
    from borderx.statements.body_codec import designation_to_proto

    before = scrape(observed)
    with channel(observed.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(
            exchange_pb2.PublishRequest(
                items=[
                    exchange_pb2.PublishItem(
                        draft=exchange_pb2.Draft(
                            designation=designation_to_proto(designation(AU, (platform("m"),)))
                        )
                    )
                ]
            ),
            timeout=10,
        )
    with (
        channel(observed.target, creds_for(pki, "NZ-CS", "operator", server_agency=AU)) as ch,
        pytest.raises(grpc.RpcError),
    ):
        admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    ok = 'borderx_rpcs_total{caller_agency="AU-ABF",code="OK",method="/borderx.v1.Exchange/Publish"}'
    denied = 'borderx_rpcs_total{caller_agency="NZ-CS",code="PERMISSION_DENIED",method="/borderx.v1.Admin/GetStatus"}'
    # grpc.aio's abort sends the status before the interceptor's finally counts the call:
    # on a loaded machine the client can scrape first, so wait for the count (bounded)
    deadline = time.monotonic() + 10
    after = scrape(observed)
    while value(after, denied) == value(before, denied) and time.monotonic() < deadline:
        time.sleep(0.05)
        after = scrape(observed)
    assert value(after, ok) == value(before, ok) + 1
    assert value(after, denied) == value(before, denied) + 1
    assert (
        value(
            after,
            'borderx_statements_stored_total{body_type="designation",issuer="AU-ABF",source="published"}',
        )
        == 1
    )
    assert value(after, 'borderx_issuer_head_seq{issuer="AU-ABF"}') == 1
    assert "borderx_rpc_duration_seconds_bucket" in after
    assert "shop:m" not in after  # no party identifiers in metrics


def test_plaintext_listener_serves_health_and_nothing_else(observed) -> None:  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(f"127.0.0.1:{observed.running.health_port}") as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as info:
            admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        # a malformed probe is a client error there too (issue 11 item 1), with its rpc record
        with pytest.raises(grpc.RpcError) as info:
            ch.unary_unary("/grpc.health.v1.Health/Check")(b"\x0f", timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (info.value.details() or "").startswith(
            "request does not parse as grpc.health.v1.HealthCheckRequest"
        )
