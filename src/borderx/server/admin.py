"""Admin servicer (operators of the home agency only; the interceptor enforces that)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from google.protobuf.timestamp_pb2 import Timestamp

from borderx import __version__
from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc

if TYPE_CHECKING:
    from borderx.server.app import Gateway


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    async def GetStatus(
        self, request: admin_pb2.GetStatusRequest, context: Any
    ) -> admin_pb2.GetStatusResponse:
        gw = self._gw
        directory = gw.directory.current
        count = await asyncio.to_thread(gw.store.count)
        started = Timestamp()
        started.FromDatetime(gw.started_at)
        return admin_pb2.GetStatusResponse(
            agency=gw.agency,
            federation=directory.federation,
            directory_version=directory.version,
            uptime_seconds=round(time.monotonic() - gw.started_monotonic, 3),
            store_location=gw.store.location,
            statement_count=count,
            started_at=started,
            version=__version__,
        )
