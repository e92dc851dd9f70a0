"""The one place the CLI turns a ``grpc.RpcError`` into what a person reads and an exit code.

The gateway sends a human message (what grpcurl users read) and, beside it, a
``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer: ``BadRequest`` field
violations with the field path, ``PreconditionFailure`` and ``QuotaFailure``. Commands ask
this module which item or row a refusal names (``refused_index``) from those details, never
from the message text.

Exit code of every refused or failed call: ``EXIT_RPC`` (3), as each command's help says.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from borderx.errors import FieldViolation, PreconditionViolation, QuotaViolation

#: exit status of a command whose call the gateway refused, or that could not reach it
EXIT_RPC = 3
_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class RpcFailure:
    """What a failed call said: its status code, message and google.rpc details."""

    code: grpc.StatusCode | None
    message: str
    fields: tuple[FieldViolation, ...] = ()
    preconditions: tuple[PreconditionViolation, ...] = ()
    quotas: tuple[QuotaViolation, ...] = ()

    @property
    def code_name(self) -> str:
        return self.code.name if self.code is not None else "ERROR"


def _call(exc: grpc.RpcError, name: str) -> Any:
    accessor = getattr(exc, name, None)
    return accessor() if callable(accessor) else None


def _rich_status(exc: grpc.RpcError) -> status_pb2.Status | None:
    for key, value in _call(exc, "trailing_metadata") or ():
        if key == _DETAILS_KEY:
            try:
                return status_pb2.Status.FromString(value)
            except Exception:  # a garbled trailer is no reason to hide the message
                return None
    return None


def failure_of(exc: grpc.RpcError) -> RpcFailure:
    """The code, message and details of ``exc`` (details absent from an older gateway: ())."""
    code = _call(exc, "code")
    message = _call(exc, "details")
    message = str(message) if message is not None else str(exc)
    status = _rich_status(exc)
    fields: list[FieldViolation] = []
    preconditions: list[PreconditionViolation] = []
    quotas: list[QuotaViolation] = []
    for packed in status.details if status is not None else ():
        bad = error_details_pb2.BadRequest()
        pre = error_details_pb2.PreconditionFailure()
        quota = error_details_pb2.QuotaFailure()
        if packed.Unpack(bad):
            fields += [FieldViolation(v.field, v.description) for v in bad.field_violations]
        elif packed.Unpack(pre):
            preconditions += [PreconditionViolation(v.type, v.subject, v.description) for v in pre.violations]
        elif packed.Unpack(quota):
            quotas += [QuotaViolation(v.subject, v.description) for v in quota.violations]
    return RpcFailure(
        code=code if isinstance(code, grpc.StatusCode) else None,
        message=message,
        fields=tuple(fields),
        preconditions=tuple(preconditions),
        quotas=tuple(quotas),
    )


@dataclass(frozen=True, slots=True)
class IndexedRefusal:
    """A field violation inside ``collection[index]``; ``field`` is the path below it."""

    index: int
    field: str
    message: str


def split_index(path: str, collection: str) -> tuple[int, str] | None:
    """``(3, "draft.designation.level")`` for ``items[3].draft.designation.level`` and ``items``."""
    head = f"{collection}["
    if not path.startswith(head):
        return None
    number, sep, rest = path[len(head) :].partition("]")
    if not sep or not number.isascii() or not number.isdigit():
        return None
    return int(number), rest.removeprefix(".")


def refused_index(exc: grpc.RpcError, collection: str, count: int) -> IndexedRefusal | None:
    """The element of ``collection`` (of ``count``) that an INVALID_ARGUMENT names, from its details."""
    failure = failure_of(exc)
    if failure.code != grpc.StatusCode.INVALID_ARGUMENT:
        return None
    for violation in failure.fields:
        found = split_index(violation.field, collection)
        if found is not None and 0 <= found[0] < count:
            return IndexedRefusal(found[0], found[1], violation.description)
    return None


def report(exc: grpc.RpcError, *, message: str | None = None) -> int:
    """Print ``borderx: CODE: message`` (the gateway's, or ``message``) to stderr; the exit code."""
    failure = failure_of(exc)
    print(f"borderx: {failure.code_name}: {message or failure.message}", file=sys.stderr)
    return EXIT_RPC
