"""borderx errors → gRPC status: the code, a bounded message, and google.rpc details.

The interceptor is the one place that aborts a call with an error; this module builds
what it sends. Beside the human message (kept as it is, for grpcurl users), a
``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer carries the same error
for machines: ``BadRequest`` field violations with the field path, ``PreconditionFailure``
and ``QuotaFailure``, so that clients never parse message text.

Both the message and the details travel in HTTP/2 headers, which grpc bounds (8 KiB by
default): a message is cut to ``MAX_MESSAGE_BYTES`` of UTF-8 so a refusal is always
delivered, whatever the caller sent.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from borderx.errors import (
    BorderxError,
    FieldViolation,
    PreconditionViolation,
    QuotaViolation,
    Violation,
)

#: a message longer than this (UTF-8 bytes) is cut; percent-encoded in grpc-message it
#: stays within grpc's default 8 KiB metadata limit together with its details
MAX_MESSAGE_BYTES = 1024
#: per violation description and field path
MAX_DETAIL_BYTES = 384


def clip(text: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (on a character boundary), marked with "…"."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def status_code_of(exc: BorderxError) -> grpc.StatusCode:
    code: grpc.StatusCode = getattr(grpc.StatusCode, exc.grpc_code, grpc.StatusCode.INTERNAL)
    return code


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def details_of(violations: Sequence[Violation]) -> list[any_pb2.Any]:
    """The google.rpc detail messages for ``violations``, one message per kind."""
    fields = [v for v in violations if isinstance(v, FieldViolation)]
    preconditions = [v for v in violations if isinstance(v, PreconditionViolation)]
    quotas = [v for v in violations if isinstance(v, QuotaViolation)]
    out = []
    if fields:
        out.append(
            _pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=clip(v.field, MAX_DETAIL_BYTES),
                            description=clip(v.description, MAX_DETAIL_BYTES),
                        )
                        for v in fields
                    ]
                )
            )
        )
    if preconditions:
        out.append(
            _pack(
                error_details_pb2.PreconditionFailure(
                    violations=[
                        error_details_pb2.PreconditionFailure.Violation(
                            type=v.type,
                            subject=clip(v.subject, MAX_DETAIL_BYTES),
                            description=clip(v.description, MAX_DETAIL_BYTES),
                        )
                        for v in preconditions
                    ]
                )
            )
        )
    if quotas:
        out.append(
            _pack(
                error_details_pb2.QuotaFailure(
                    violations=[
                        error_details_pb2.QuotaFailure.Violation(
                            subject=v.subject, description=clip(v.description, MAX_DETAIL_BYTES)
                        )
                        for v in quotas
                    ]
                )
            )
        )
    return out


def rich_status(code: grpc.StatusCode, message: str, violations: Sequence[Violation] = ()) -> grpc.Status:
    """A grpc.Status whose trailing metadata carries the google.rpc.Status for ``violations``."""
    message = clip(message)
    status = status_pb2.Status(code=code.value[0], message=message, details=details_of(violations))
    return rpc_status.to_status(status)


def status_of(exc: BorderxError) -> grpc.Status:
    return rich_status(status_code_of(exc), str(exc), exc.violations())
