"""The store's decisions, written once (store/plan.py), checked without a database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from store_helpers import T0, Chain, new

from borderx.errors import ChainGap, Equivocation, InvalidArgument, IssuerSuspended
from borderx.statements.chain import ChainHead
from borderx.statements.encoding import envelope_from_wire, envelope_to_wire
from borderx.store.plan import (
    MAX_INT64,
    EquivocationFound,
    check_seq,
    pack_evidence,
    plan_append,
    plan_checkpoint,
    redacted_wire,
    unpack_evidence,
)


class Reader:
    def __init__(self, held: list | None = None, suspended: dict | None = None) -> None:  # type: ignore[type-arg]
        self.held = {(e.issuer, e.seq): e for e in held or []}
        self.suspended = suspended or {}

    def head(self, issuer: str) -> ChainHead | None:
        seqs = [s for i, s in self.held if i == issuer]
        return ChainHead.of(self.held[(issuer, max(seqs))]) if seqs else None

    def held_digest(self, issuer: str, seq: int) -> bytes | None:
        env = self.held.get((issuer, seq))
        return env.digest if env else None

    def held_wire(self, issuer: str, seq: int) -> bytes:
        return envelope_to_wire(self.held[(issuer, seq)])

    def suspension(self, issuer: str) -> tuple[str, datetime] | None:
        return self.suspended.get(issuer)


def plan(entries, reader):  # type: ignore[no-untyped-def]
    return plan_append(entries, [envelope_to_wire(e.envelope) for e in entries], reader)


def test_a_batch_plans_rows_and_heads_and_skips_duplicates() -> None:
    au = Chain("AU-ABF")
    envs = au.many(3)
    p = plan(
        [new(envs[0]), new(envs[1], ids=(("ABN", "51824753556"),)), new(envs[2], supersedes=2)],
        Reader([envs[0]]),
    )
    assert [r.duplicate for r in p.results] == [True, False, False]
    assert [e.envelope.seq for e, _ in p.statements] == [2, 3]
    assert p.ids == [("ABN", "51824753556", "AU-ABF", 2)]
    assert p.marks == [("AU-ABF", 2, "superseded", 3)]
    assert p.heads["AU-ABF"].seq == 3


def test_an_equivocating_pair_inside_one_batch_is_found_with_both_wires() -> None:
    au = Chain("AU-ABF")
    one = au.next()
    fork = au.build(seq=1, prev=one.header.prev_digest, body=b"other")
    with pytest.raises(EquivocationFound) as found:
        plan([new(one), new(fork, received_from="NZ-CS")], Reader())
    assert isinstance(found.value.error, Equivocation)
    assert envelope_from_wire(found.value.held_wire).digest == one.digest
    assert found.value.reported_by == "NZ-CS"


def test_suspension_gaps_and_int64_bounds_refuse_before_anything_is_planned() -> None:
    au = Chain("AU-ABF")
    envs = au.many(3)
    with pytest.raises(IssuerSuspended, match="AU-ABF is suspended"):
        plan([new(envs[0])], Reader(suspended={"AU-ABF": ("equivocation at seq 1", T0)}))
    with pytest.raises(ChainGap):
        plan([new(envs[2])], Reader())
    assert check_seq(MAX_INT64, "seq") == MAX_INT64
    with pytest.raises(InvalidArgument, match=r"header\.seq"):
        check_seq(MAX_INT64 + 1, "header.seq")


def test_checkpoint_plans_never_go_backwards_and_catch_two_heads() -> None:
    au = Chain("AU-ABF")
    envs = au.many(2)
    cp = au.checkpoint(2, at=T0)
    assert plan_checkpoint(cp, held_statement_digest=envs[1].digest, history=None, latest=None).set_latest
    same_later = plan_checkpoint(
        au.checkpoint(2, at=T0 + timedelta(minutes=1)),
        held_statement_digest=envs[1].digest,
        history=(envs[1].digest, T0),
        latest=(2, T0),
    )
    assert (same_later.insert_history, same_later.refresh_history, same_later.set_latest) == (
        False,
        True,
        True,
    )
    assert not plan_checkpoint(cp, held_statement_digest=None, history=None, latest=(5, T0)).set_latest
    with pytest.raises(Equivocation):
        plan_checkpoint(
            au.checkpoint(2, digest=bytes(32)),
            held_statement_digest=envs[1].digest,
            history=None,
            latest=None,
        )


def test_evidence_blobs_round_trip_and_redact() -> None:
    env = Chain("AU-ABF").next()
    assert env.body is not None
    redacted = envelope_from_wire(redacted_wire(envelope_to_wire(env)))
    assert redacted.body is None and redacted.header_bytes == env.header_bytes
    blob = pack_evidence([b"a", b"bc"], [b"def"])
    assert unpack_evidence(blob) == ([b"a", b"bc"], [b"def"])
