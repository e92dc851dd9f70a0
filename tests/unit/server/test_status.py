"""borderx errors → gRPC status with google.rpc details (server/status.py)."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

from borderx.errors import ChainGap, IdempotencyKeyReused, InvalidArgument, ResourceExhausted
from borderx.server.status import MAX_MESSAGE_BYTES, clip, status_of


def _details(status: grpc.Status) -> status_pb2.Status:
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    return status_pb2.Status.FromString(value)


def test_invalid_argument_carries_a_bad_request_with_the_field_path() -> None:
    exc = InvalidArgument("fails its mod-89 check", field="party.ids[0].value").under(
        "items[3].draft.designation"
    )
    status = status_of(exc)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert status.details == "items[3].draft.designation.party.ids[0].value: fails its mod-89 check"
    rich = _details(status)
    assert rich.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and rich.message == status.details
    bad = error_details_pb2.BadRequest()
    assert rich.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("items[3].draft.designation.party.ids[0].value", "fails its mod-89 check")
    ]


def test_preconditions_and_quotas() -> None:
    gap = status_of(ChainGap("AU-ABF", 3, 7))
    assert gap.code == grpc.StatusCode.FAILED_PRECONDITION
    failure = error_details_pb2.PreconditionFailure()
    assert _details(gap).details[0].Unpack(failure)
    assert (failure.violations[0].type, failure.violations[0].subject) == ("CHAIN", "AU-ABF")
    reused = status_of(IdempotencyKeyReused("batch-7"))
    assert reused.code == grpc.StatusCode.FAILED_PRECONDITION and "batch-7" in reused.details
    assert _details(reused).details[0].Unpack(failure)
    assert (failure.violations[0].type, failure.violations[0].subject) == ("IDEMPOTENCY_KEY", "batch-7")
    quota = status_of(ResourceExhausted("too many", limit="limits.max_screen_batch"))
    assert quota.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    q = error_details_pb2.QuotaFailure()
    assert _details(quota).details[0].Unpack(q) and q.violations[0].subject == "limits.max_screen_batch"


def test_messages_are_cut_to_a_bounded_size_on_a_character_boundary() -> None:
    text = "€" * 10_000
    cut = clip(text)
    assert len(cut.encode()) <= MAX_MESSAGE_BYTES and cut.endswith("…")
    status = status_of(InvalidArgument(text, field="x"))
    assert len(status.details.encode()) <= MAX_MESSAGE_BYTES
    assert sum(len(v) for _, v in status.trailing_metadata) < 4096
