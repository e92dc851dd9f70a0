"""The per-issuer replication state machine, without sockets or a store: events in, actions out."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from borderx.directory.model import Directory
from borderx.federation.sync import IDLE_PATIENCE, Conflict, IssuerSync, Refuse, StoreCheckpoint, StoreRun
from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
from borderx.statements.model import Envelope, SignedCheckpoint
from borderx.statements.signing import sign_checkpoint
from tests.unit.statements.conftest import (
    World,
    world,  # noqa: F401 - the shared session fixture
)

AU = "AU-ABF"


def fresh(**kw: object) -> IssuerSync:
    return IssuerSync(issuer=AU, me="US-CBP", head=None, signatures=GENESIS_SIGNATURES, **kw)  # type: ignore[arg-type]


def checkpoint(world: World, envs: list[Envelope]) -> SignedCheckpoint:
    head = envs[-1]
    return sign_checkpoint(
        world.signers["au_old"],
        issuer=AU,
        seq=head.seq,
        head_digest=head.digest,
        time=head.header.issued_at + timedelta(minutes=1),
        signatures_digest=roll_signatures(GENESIS_SIGNATURES, envs),
    )


@pytest.fixture
def directory(world: World) -> Directory:
    return world.directory


def test_contiguous_statements_wait_for_a_checkpoint_or_the_idle_flush(
    world: World, directory: Directory
) -> None:
    sync, envs = fresh(), world.chain(3)
    assert [sync.statement(e, directory) for e in envs] == [[], [], []]
    assert sync.next_seq == 4 and sync.held_seq == 0
    [action] = sync.idle()
    assert action == StoreRun(AU, tuple(envs))
    assert sync.head is not None and sync.head.seq == 3 and sync.buffer == []
    assert sync.signatures == roll_signatures(GENESIS_SIGNATURES, envs)
    assert sync.idle() == []


def test_a_checkpoint_authenticates_the_run_it_covers(world: World, directory: Directory) -> None:
    sync, envs = fresh(), world.chain(4)
    cp = checkpoint(world, envs[:3])
    assert sync.checkpoint(cp, directory) == []
    assert sync.statement(envs[0], directory) == []
    assert sync.statement(envs[1], directory) == []
    assert sync.statement(envs[2], directory) == [StoreRun(AU, tuple(envs[:3]), cp)]
    assert sync.signatures == cp.checkpoint.signatures_digest
    assert sync.statement(envs[3], directory) == []
    # a checkpoint of a head already held is simply kept
    assert sync.checkpoint(cp, directory) == [StoreCheckpoint(cp)]


def test_a_run_that_does_not_match_its_checkpoint_ends_the_session(
    world: World, directory: Directory
) -> None:
    sync, envs = fresh(), world.chain(2)
    other = world.chain(2, body_type="flag")
    sync.checkpoint(checkpoint(world, other), directory)
    sync.statement(envs[0], directory)
    [refusal] = sync.statement(envs[1], directory)
    assert isinstance(refusal, Refuse) and refusal.kind == "bad_run"
    assert sync.buffer == [] and sync.head is None


def test_a_gap_flushes_what_is_contiguous_then_refuses(world: World, directory: Directory) -> None:
    sync, envs = fresh(), world.chain(3)
    sync.statement(envs[0], directory)
    store, refusal = sync.statement(envs[2], directory)
    assert store == StoreRun(AU, (envs[0],))
    assert isinstance(refusal, Refuse) and refusal.kind == "gap" and "seq 2..2 withheld" in refusal.detail


def test_a_second_header_for_a_seq_is_compared_once_the_first_is_held(
    world: World, directory: Directory
) -> None:
    sync, envs = fresh(), world.chain(2)
    fork = world.chain(1, body_type="flag")[0]
    sync.statement(envs[0], directory)
    sync.statement(envs[1], directory)
    assert sync.statement(envs[0], directory) == []  # the same header again: nothing
    store, conflict = sync.statement(fork, directory)
    assert store == StoreRun(AU, tuple(envs)) and conflict == Conflict(fork)
    # below the held head, the link compares with the store
    assert sync.statement(envs[0], directory) == [Conflict(envs[0])]


def test_a_redacted_statement_we_may_read_blocks_the_issuer(world: World, directory: Directory) -> None:
    sync, envs = fresh(), world.chain(2)
    sync.statement(envs[0], directory)
    assert sync.statement(envs[1].redact(), directory) == [StoreRun(AU, (envs[0],))]
    assert sync.blocked
    assert (
        sync.statement(envs[1], directory) == [] and sync.checkpoint(checkpoint(world, envs), directory) == []
    )
    # one outside our audience is fine redacted
    restricted = world.chain(1, audience=("NZ-CS",))[0].redact()
    other = fresh()
    assert other.statement(restricted, directory) == [] and other.buffer == [restricted]


def test_a_full_buffer_is_flushed(world: World, directory: Directory) -> None:
    sync, envs = fresh(max_buffer=2), world.chain(3)
    assert sync.statement(envs[0], directory) == []
    assert sync.statement(envs[1], directory) == [StoreRun(AU, tuple(envs[:2]))]
    assert sync.head is not None and sync.head.seq == 2


def test_without_a_known_signatures_digest_runs_are_still_stored(world: World, directory: Directory) -> None:
    sync = dataclasses.replace(fresh(), signatures=None)
    envs = world.chain(2)
    for env in envs:
        sync.statement(env, directory)
    assert sync.idle() == [StoreRun(AU, tuple(envs))] and sync.signatures is None


def test_a_run_a_pending_checkpoint_promises_waits_a_few_idle_ticks(
    world: World, directory: Directory
) -> None:
    # a catch-up is admitted in the runs its checkpoints cover: that is where the witnesses'
    # cosignatures of a head inside the run prove a run under a since-retired key
    sync, envs = fresh(), world.chain(4)
    assert sync.checkpoint(checkpoint(world, envs), directory) == []
    for env in envs[:2]:
        sync.statement(env, directory)
    for _ in range(IDLE_PATIENCE):
        assert sync.idle() == []
    # a statement arriving restores the patience; the rest covered: one authenticated run
    sync.statement(envs[2], directory)
    assert sync.patience == IDLE_PATIENCE
    [run] = sync.statement(envs[3], directory)
    assert isinstance(run, StoreRun) and run.checkpoint is not None and len(run.run) == 4
    # a peer that never sends the rest: after the patience, flushed as before
    sync, envs = fresh(), world.chain(4)
    sync.checkpoint(checkpoint(world, envs), directory)
    sync.statement(envs[0], directory)
    ticks = 0
    while not (actions := sync.idle()):
        ticks += 1
    assert ticks == IDLE_PATIENCE and actions == [StoreRun(AU, (envs[0],))]
