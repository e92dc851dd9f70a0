"""Per-issuer chains: accept, gap, reorder, replay, prev_digest mismatch, equivocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from borderx.errors import (
    ChainError,
    ChainGap,
    Equivocation,
    IssuerMismatch,
    PrevDigestMismatch,
)
from borderx.statements.chain import ChainHead, Outcome, check_extends

if TYPE_CHECKING:
    from conftest import World

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def nothing_held(issuer: str, seq: int) -> bytes | None:
    return None


def test_genesis_and_next(world: World) -> None:
    one, two = world.chain(2)
    assert check_extends(None, one, held_digest=nothing_held) is Outcome.ACCEPT
    assert check_extends(ChainHead.of(one), two, held_digest=nothing_held) is Outcome.ACCEPT


def test_first_statement_must_start_from_genesis(world: World) -> None:
    env = world.statement(seq=1, prev_digest=b"\x01" * 32)
    with pytest.raises(
        PrevDigestMismatch,
        match=r"seq 1: prev_digest is 0101010101010101…, the first statement must have 32 zero bytes",
    ):
        check_extends(None, env, held_digest=nothing_held)


def test_gap_names_the_missing_range(world: World) -> None:
    chain = world.chain(5)
    with pytest.raises(
        ChainGap, match=r"AU-ABF: gap in chain, holding seq 2, received seq 5; missing seq 3..4"
    ):
        check_extends(ChainHead.of(chain[1]), chain[4], held_digest=nothing_held)
    with pytest.raises(ChainGap, match=r"missing seq 1..2") as caught:
        check_extends(None, chain[2], held_digest=nothing_held)
    assert (caught.value.have, caught.value.got) == (0, 3)


def test_prev_digest_must_link_to_the_held_head(world: World) -> None:
    one, _two = world.chain(2)
    stray = world.statement(seq=2, prev_digest=b"\x02" * 32, issued_at=T0 + timedelta(hours=1))
    with pytest.raises(
        PrevDigestMismatch,
        match=r"AU-ABF seq 2: prev_digest 0202020202020202… does not match the held header at seq 1",
    ):
        check_extends(ChainHead.of(one), stray, held_digest=nothing_held)


def test_head_of_another_issuer_is_refused(world: World) -> None:
    au = world.statement()
    us = world.statement(signer="us", seq=2)
    with pytest.raises(IssuerMismatch, match="statement of US-CBP checked against the chain head of AU-ABF"):
        check_extends(ChainHead.of(au), us, held_digest=nothing_held)


def test_replays_are_duplicates(world: World) -> None:
    chain = world.chain(3)
    held = {env.seq: env.digest for env in chain}
    head = ChainHead.of(chain[-1])

    def lookup(issuer: str, seq: int) -> bytes | None:
        assert issuer == "AU-ABF"
        return held.get(seq)

    for env in chain:
        assert check_extends(head, env, held_digest=lookup) is Outcome.DUPLICATE


def test_a_holder_that_lost_a_header_fails_closed(world: World) -> None:
    chain = world.chain(3)
    with pytest.raises(ChainError, match="holding up to seq 3 but no header at seq 1"):
        check_extends(ChainHead.of(chain[-1]), chain[0], held_digest=nothing_held)


def test_equivocation_carries_both_digests(world: World) -> None:
    one, two = world.chain(2)
    fork = world.statement(seq=2, prev_digest=one.digest, body=b"another story")
    with pytest.raises(
        Equivocation,
        match=r"AU-ABF: equivocation at seq 2: holding header \w{16}…, received a different header",
    ) as caught:
        check_extends(ChainHead.of(two), fork, held_digest=nothing_held)
    assert (caught.value.held_digest, caught.value.got_digest) == (two.digest, fork.digest)
    # below the head, through the lookup
    fork1 = world.statement(seq=1, body=b"first, again")
    with pytest.raises(Equivocation, match="equivocation at seq 1") as caught:
        check_extends(ChainHead.of(two), fork1, held_digest=lambda issuer, seq: one.digest)
    assert caught.value.held_digest == one.digest
