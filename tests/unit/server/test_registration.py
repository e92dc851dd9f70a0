"""Servicers registered as generic handlers only (server/registration.py), on a real grpc.aio server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from borderx.server.registration import GenericOnly

CHECK = "/grpc.health.v1.Health/Check"


class _Recorder:
    """What a server is asked to register."""

    def __init__(self) -> None:
        self.generic: list[grpc.GenericRpcHandler] = []
        self.registered: dict[str, Mapping[str, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        self.registered[service] = handlers


class _Details(grpc.HandlerCallDetails):  # type: ignore[misc]
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


def test_only_the_generic_handlers_reach_the_server() -> None:
    server = _Recorder()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), GenericOnly(server))  # type: ignore[arg-type]
    assert server.registered == {}
    (handler,) = server.generic
    # the generic handler serves every method the registered copies would have
    for method in ("Check", "Watch"):
        assert handler.service(_Details(f"/grpc.health.v1.Health/{method}")) is not None
    assert handler.service(_Details("/grpc.health.v1.Health/Nope")) is None


def test_a_server_serves_them_and_refuses_unknown_methods() -> None:
    async def scenario() -> None:
        server = grpc.aio.server()
        servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, GenericOnly(server))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                reply = await channel.unary_unary(
                    CHECK,
                    request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                    response_deserializer=health_pb2.HealthCheckResponse.FromString,
                )(health_pb2.HealthCheckRequest(), timeout=10)
                assert reply.status == health_pb2.HealthCheckResponse.SERVING
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await channel.unary_unary("/grpc.health.v1.Health/Nope")(b"", timeout=10)
                assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED
        finally:
            await server.stop(None)

    asyncio.run(scenario())
