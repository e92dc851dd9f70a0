"""cli/rpc.py: the one RpcError → message and exit code map, reading google.rpc details."""

from __future__ import annotations

import grpc
import pytest

from borderx.cli import rpc
from borderx.errors import (
    BorderxError,
    ChainGap,
    FieldViolation,
    IdempotencyKeyReused,
    InvalidArgument,
    PreconditionViolation,
    QuotaViolation,
    ResourceExhausted,
)
from borderx.server.status import status_of


class Refused(grpc.RpcError):  # type: ignore[misc]
    """An RpcError as a client stub raises it, carrying what the gateway's status builder made."""

    def __init__(self, exc: BorderxError | None = None, *, code: grpc.StatusCode | None = None) -> None:
        status = status_of(exc) if exc is not None else None
        self._code = status.code if status else code
        self._details = status.details if status else "connection refused"
        self._trailers = tuple(status.trailing_metadata) if status else ()

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return self._trailers


def test_failure_of_reads_every_kind_of_detail() -> None:
    bad = rpc.failure_of(Refused(InvalidArgument("bad level", field="items[2].draft.designation.level")))
    assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.fields == (FieldViolation("items[2].draft.designation.level", "bad level"),)
    gap = rpc.failure_of(Refused(ChainGap("AU-ABF", 1, 4)))
    assert gap.preconditions == (PreconditionViolation("CHAIN", "AU-ABF", str(ChainGap("AU-ABF", 1, 4))),)
    key = rpc.failure_of(Refused(IdempotencyKeyReused("k-1")))
    assert [(p.type, p.subject) for p in key.preconditions] == [("IDEMPOTENCY_KEY", "k-1")]
    quota = rpc.failure_of(Refused(ResourceExhausted("12 > 10", limit="limits.max_screen_identifiers")))
    assert quota.quotas == (QuotaViolation("limits.max_screen_identifiers", "12 > 10"),)
    down = rpc.failure_of(Refused(code=grpc.StatusCode.UNAVAILABLE))
    assert (down.code_name, down.message, down.fields) == ("UNAVAILABLE", "connection refused", ())


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("items[3].draft.designation.level", (3, "draft.designation.level")),
        ("items[0]", (0, "")),
        ("items", None),
        ("items[x].draft", None),
        ("items[²]", None),
        ("shipments[1].reference", None),
    ],
)
def test_split_index(path: str, expected: tuple[int, str] | None) -> None:
    assert rpc.split_index(path, "items") == expected


def test_refused_index_needs_an_invalid_argument_in_range() -> None:
    exc = Refused(InvalidArgument("bad", field="shipments[4].shipper_ids[0].value"))
    assert rpc.refused_index(exc, "shipments", 5) == rpc.IndexedRefusal(4, "shipper_ids[0].value", "bad")
    assert rpc.refused_index(exc, "shipments", 4) is None
    assert rpc.refused_index(Refused(ResourceExhausted("too many", limit="x")), "shipments", 5) is None


def test_report_prints_the_code_and_message_and_returns_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert rpc.report(Refused(InvalidArgument("bad", field="id"))) == rpc.EXIT_RPC == 3
    assert capsys.readouterr().err == "borderx: INVALID_ARGUMENT: id: bad\n"
    rpc.report(Refused(code=grpc.StatusCode.UNAVAILABLE), message="explained")
    assert capsys.readouterr().err == "borderx: UNAVAILABLE: explained\n"
