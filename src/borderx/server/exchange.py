"""Exchange servicer: Publish, Screen, Lookup, Subscribe.

Each RPC answers UNIMPLEMENTED until the issue that builds it lands; never fake data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc

if TYPE_CHECKING:
    from borderx.server.app import Gateway


class ExchangeServicer(exchange_pb2_grpc.ExchangeServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    async def Publish(self, request: exchange_pb2.PublishRequest, context: Any) -> exchange_pb2.PublishResponse:  # noqa: N802
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Publish is not implemented in this version")
        raise AssertionError("unreachable")

    async def Screen(self, request: exchange_pb2.ScreenRequest, context: Any) -> exchange_pb2.ScreenResponse:  # noqa: N802
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Screen is not implemented in this version")
        raise AssertionError("unreachable")

    async def Lookup(self, request: exchange_pb2.LookupRequest, context: Any) -> exchange_pb2.LookupResponse:  # noqa: N802
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Lookup is not implemented in this version")
        raise AssertionError("unreachable")

    async def Subscribe(  # noqa: N802
        self, request: exchange_pb2.SubscribeRequest, context: Any
    ) -> AsyncIterator[exchange_pb2.SubscribeEvent]:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Subscribe is not implemented in this version")
        yield exchange_pb2.SubscribeEvent()  # pragma: no cover - makes this an async generator
