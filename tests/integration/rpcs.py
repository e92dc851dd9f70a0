"""Every RPC a gateway serves, called with raw request bytes: for the malformed-input tests and the fuzz suite.

``RPCS`` lists each method with its kind (unary or server streaming, single or streamed
requests), who may call it (the role whose certificate the test uses) and one well-formed
request (the fuzz suite's seed; Publish's names a programme AU-ABF does not own, so that
it and most of its mutations are refused and the store stays as it was).
``raw_call`` sends bytes as they are, with no client-side serialisation, and returns the
status code and details the gateway answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

from borderx._proto.borderx.v1 import admin_pb2, exchange_pb2, statement_pb2
from borderx.statements.bodies import PartyId
from borderx.statements.body_codec import designation_to_proto
from tests.conftest import Creds, creds_for
from tests.integration.helpers import designation


@dataclass(frozen=True)
class Rpc:
    method: str
    request_type: str
    role: str
    valid: Message
    #: server streaming; ``stream_requests``: the client streams its requests too
    streaming: bool = False
    stream_requests: bool = False


PID = statement_pb2.PartyId(scheme="PLATFORM", value="shop:fuzz")

RPCS = (
    Rpc(
        "/borderx.v1.Exchange/Publish",
        "borderx.v1.PublishRequest",
        "service",
        exchange_pb2.PublishRequest(
            idempotency_key="fuzz",
            items=[
                exchange_pb2.PublishItem(
                    draft=exchange_pb2.Draft(
                        audience=["NZ-CS"],
                        designation=designation_to_proto(
                            designation("NZ-CS", (PartyId("ABN", "51824753556"),))
                        ),
                    )
                )
            ],
        ),
    ),
    Rpc(
        "/borderx.v1.Exchange/Screen",
        "borderx.v1.ScreenRequest",
        "service",
        exchange_pb2.ScreenRequest(shipments=[exchange_pb2.Shipment(reference="r1", shipper_ids=[PID])]),
    ),
    Rpc(
        "/borderx.v1.Exchange/Search",
        "borderx.v1.SearchRequest",
        "service",
        exchange_pb2.SearchRequest(name="Shenzhen Hongda Trading"),
    ),
    Rpc(
        "/borderx.v1.Exchange/Lookup",
        "borderx.v1.LookupRequest",
        "service",
        exchange_pb2.LookupRequest(id=PID),
    ),
    Rpc(
        "/borderx.v1.Exchange/Subscribe",
        "borderx.v1.SubscribeRequest",
        "service",
        exchange_pb2.SubscribeRequest(have={"AU-ABF": 0}),
        streaming=True,
    ),
    Rpc(
        "/borderx.v1.Admin/GetStatus", "borderx.v1.GetStatusRequest", "operator", admin_pb2.GetStatusRequest()
    ),
    Rpc(
        "/borderx.v1.Admin/ResumeIssuer",
        "borderx.v1.ResumeIssuerRequest",
        "operator",
        admin_pb2.ResumeIssuerRequest(issuer="NZ-CS"),
    ),
    Rpc(
        "/borderx.v1.Admin/AcknowledgeAlarm",
        "borderx.v1.AcknowledgeAlarmRequest",
        "operator",
        admin_pb2.AcknowledgeAlarmRequest(id="1"),
    ),
    Rpc(
        "/borderx.v1.Admin/ListAlarms",
        "borderx.v1.ListAlarmsRequest",
        "operator",
        admin_pb2.ListAlarmsRequest(),
    ),
    Rpc(
        "/borderx.v1.Admin/SuspendIssuer",
        "borderx.v1.SuspendIssuerRequest",
        "operator",
        admin_pb2.SuspendIssuerRequest(issuer="", reason="fuzz"),
    ),
    Rpc(
        "/borderx.v1.Admin/ReloadDirectory",
        "borderx.v1.ReloadDirectoryRequest",
        "operator",
        admin_pb2.ReloadDirectoryRequest(),
    ),
    Rpc(
        "/borderx.v1.Admin/ExportStatements",
        "borderx.v1.ExportStatementsRequest",
        "operator",
        admin_pb2.ExportStatementsRequest(issuers=["NZ-CS"]),
        streaming=True,
    ),
    Rpc(
        "/borderx.v1.Admin/ExportEvidence",
        "borderx.v1.ExportEvidenceRequest",
        "operator",
        admin_pb2.ExportEvidenceRequest(issuers=["NZ-CS"]),
    ),
    Rpc(
        # a document that parses as JSON but is no signed directory: refused, nothing changes
        "/borderx.v1.Admin/PublishDirectory",
        "borderx.v1.PublishDirectoryRequest",
        "operator",
        admin_pb2.PublishDirectoryRequest(document=b'{"signed": {}, "signatures": []}'),
    ),
    Rpc(
        "/borderx.v1.Exchange/GetDirectory",
        "borderx.v1.GetDirectoryRequest",
        "partner",  # partner gateways only
        exchange_pb2.GetDirectoryRequest(have_version=1),
    ),
    Rpc(
        "/grpc.health.v1.Health/List",
        "grpc.health.v1.HealthListRequest",
        "service",
        health_pb2.HealthListRequest(),
    ),
    Rpc(
        "/grpc.health.v1.Health/Check",
        "grpc.health.v1.HealthCheckRequest",
        "service",
        health_pb2.HealthCheckRequest(),
    ),
    Rpc(
        "/grpc.health.v1.Health/Watch",
        "grpc.health.v1.HealthCheckRequest",
        "service",
        health_pb2.HealthCheckRequest(),
        streaming=True,
    ),
    Rpc(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflectionRequest",
        "service",
        reflection_pb2.ServerReflectionRequest(list_services=""),
        streaming=True,
        stream_requests=True,
    ),
)

#: bytes no message type parses: field 1 with wire type 7, which does not exist
NEVER_PARSES = b"\x0f"


def raw_call(
    ch: grpc.Channel, rpc: Rpc, payload: bytes, *, timeout: float = 10.0, max_events: int = 1
) -> tuple[grpc.StatusCode, str, grpc.RpcError | None]:
    """Send ``payload`` as the request; the status (OK once ``max_events`` stream messages arrived)."""
    try:
        if rpc.stream_requests:
            replies = ch.stream_stream(rpc.method)(iter([payload]), timeout=timeout)
        elif rpc.streaming:
            replies = ch.unary_stream(rpc.method)(payload, timeout=timeout)
        else:
            ch.unary_unary(rpc.method)(payload, timeout=timeout)
            return grpc.StatusCode.OK, "", None
        for n, _ in enumerate(replies, start=1):
            if n >= max_events:
                replies.cancel()
                break
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.CANCELLED:
            return grpc.StatusCode.OK, "", None
        return exc.code(), exc.details() or "", exc
    return grpc.StatusCode.OK, "", None


def partner_or_own(pki: Path, role: str) -> Creds:
    """Credentials for ``role`` at AU-ABF's gateway: its own service or operator, or a partner's gateway."""
    if role == "partner":
        return creds_for(pki, "NZ-CS", "gateway", server_agency="AU-ABF")
    return creds_for(pki, "AU-ABF", role, server_agency="AU-ABF")
