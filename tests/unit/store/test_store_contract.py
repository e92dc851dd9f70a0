"""The store contract: every MUST of ``borderx.store.base.Store``, run against every backend.

Tests here use only ``open_store(url)`` and the Store API (plus the ``Backend`` hooks in
conftest), so a new backend passes this file unchanged or is not a borderx store.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from store_helpers import T0, Backend, Chain, new, signer_for

from borderx.errors import (
    ChainGap,
    ConfigError,
    DirectoryRefused,
    Equivocation,
    IdempotencyKeyReused,
    InvalidArgument,
    IssuerSuspended,
    NotFound,
    PrevDigestMismatch,
    ResourceExhausted,
)
from borderx.statements.chain import ChainHead
from borderx.statements.encoding import (
    envelope_to_wire,
    signed_checkpoint_to_wire,
    signed_cosignature_to_wire,
)
from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint, SignedCosignature
from borderx.statements.signing import sign_cosignature
from borderx.store import (
    NO_EFFECTS,
    Idempotency,
    IndexEffects,
    NewStatement,
    PendingCheck,
    Store,
    StoredStatement,
    open_store,
)

ABN = ("ABN", "51824753556")
EORI = ("EORI", "GB123456789000")
NZBN = ("NZBN", "9429041535134")


def keys(stored: list[StoredStatement]) -> list[tuple[str, int]]:
    return [s.key for s in stored]


def snapshot(store: Store) -> dict[str, object]:
    """Everything observable about the statements held, for "nothing else changed" checks."""
    heads = store.heads()
    return {
        "heads": heads,
        "count": store.count(),
        "by_issuer": store.count_by_issuer(),
        "wires": {i: [s.wire for s in store.read_range(i, 0, 10_000)] for i in heads},
        "lookups": {p: keys(store.lookup(*p, include_history=True)) for p in (ABN, EORI, NZBN)},
    }


# ---------------------------------------------------------------- append and read back


def test_append_keeps_the_bytes_as_received(store: Store, au: Chain) -> None:
    envs = au.many(3)
    results = store.append([new(e, ids=(ABN,), received_from="NZ-CS") for e in envs])

    assert [(r.issuer, r.seq, r.digest, r.duplicate) for r in results] == [
        ("AU-ABF", e.seq, e.digest, False) for e in envs
    ]
    for env in envs:
        stored = store.get("AU-ABF", env.seq)
        assert stored is not None
        assert stored.wire == envelope_to_wire(env)
        assert stored.envelope.header_bytes == env.header_bytes
        assert stored.envelope.body == env.body
        assert stored.envelope.signatures == env.signatures
        assert stored.received_from == "NZ-CS"
        assert stored.received_at.tzinfo is not None
        assert stored.current
    assert store.get("AU-ABF", 4) is None
    assert store.get("US-CBP", 1) is None


def test_a_redacted_envelope_is_kept_without_its_body(store: Store, au: Chain) -> None:
    env = au.next(audience=("US-CBP",)).redact()
    store.append([NewStatement(env, received_from="US-CBP")])

    stored = store.get("AU-ABF", 1)
    assert stored is not None
    assert stored.envelope.redacted
    assert stored.envelope.header_bytes == env.header_bytes
    assert stored.wire == envelope_to_wire(env)
    assert store.head("AU-ABF") is not None


def test_effects_for_a_redacted_envelope_are_refused(store: Store, au: Chain) -> None:
    env = au.next().redact()
    with pytest.raises(ValueError, match="redacted, so its index effects must be empty"):
        store.append([NewStatement(env, index=IndexEffects(ids=(ABN,), kind="designation"))])
    assert store.count() == 0


def test_chains_of_several_issuers_grow_independently(store: Store, au: Chain, us: Chain) -> None:
    store.append([new(au.next()), new(us.next()), new(au.next())])
    store.append([new(us.next()), new(us.next())])

    heads = store.heads()
    assert heads["AU-ABF"].seq == 2
    assert heads["AU-ABF"].digest == au.prev
    assert heads["US-CBP"].seq == 3
    assert heads["US-CBP"].digest == us.prev
    assert store.head("AU-ABF") == heads["AU-ABF"]
    assert store.head("NZ-CS") is None
    assert store.count() == 5
    assert store.count_by_issuer() == {"AU-ABF": 2, "US-CBP": 3}


def test_read_range_walks_a_chain_in_seq_order(store: Store, au: Chain) -> None:
    envs = au.many(10)
    store.append([new(e) for e in envs])

    walked: list[Envelope] = []
    after = 0
    while page := store.read_range("AU-ABF", after, 3):
        walked.extend(s.envelope for s in page)
        after = page[-1].envelope.seq
    assert [e.header_bytes for e in walked] == [e.header_bytes for e in envs]
    prev = GENESIS_DIGEST
    for env in walked:
        assert env.header.prev_digest == prev
        prev = env.digest
    assert store.read_range("AU-ABF", 10, 5) == []
    assert store.read_range("AU-ABF", 0, 0) == []
    assert store.read_range("NZ-CS", 0, 5) == []


def test_empty_store(store: Store) -> None:
    assert store.heads() == {}
    assert store.count() == 0
    assert store.count_by_issuer() == {}
    assert store.lookup(*ABN) == []
    assert store.lookup_many([ABN]) == {ABN: []}
    assert store.append([]) == []
    assert store.checkpoints() == {}
    assert store.equivocations() == []
    assert store.alarms() == []
    assert store.suspended_issuers() == {}


# ---------------------------------------------------------------- chain rules


def test_a_replay_is_a_duplicate_and_stores_nothing_twice(store: Store, au: Chain) -> None:
    envs = au.many(3)
    store.append([new(e, ids=(ABN,)) for e in envs])
    before = snapshot(store)

    again = store.append([new(e, ids=(ABN,), received_from="US-CBP") for e in envs])

    assert [r.duplicate for r in again] == [True, True, True]
    assert [r.digest for r in again] == [e.digest for e in envs]
    assert snapshot(store) == before
    stored = store.get("AU-ABF", 2)
    assert stored is not None
    assert stored.received_from == ""  # the first receipt is what is kept


def test_a_replay_may_overlap_new_statements(store: Store, au: Chain) -> None:
    envs = au.many(4)
    store.append([new(e) for e in envs[:2]])

    results = store.append([new(e) for e in envs[1:]])

    assert [(r.seq, r.duplicate) for r in results] == [(2, True), (3, False), (4, False)]
    assert store.count() == 4


def test_a_gap_is_refused_naming_the_missing_range(store: Store, au: Chain) -> None:
    envs = au.many(4)
    store.append([new(envs[0])])

    gap = r"AU-ABF: gap in chain, holding seq 1, received seq 4; missing seq 2\.\.3"
    with pytest.raises(ChainGap, match=gap):
        store.append([new(envs[3])])
    with pytest.raises(ChainGap, match=r"holding seq 0, received seq 2; missing seq 1\.\.1"):
        store.append([new(Chain("US-CBP").many(2)[1])])
    assert store.count() == 1
    assert store.count_by_issuer() == {"AU-ABF": 1}


def test_a_prev_digest_that_does_not_match_the_head_is_refused(store: Store, au: Chain) -> None:
    envs = au.many(2)
    store.append([new(envs[0])])
    spliced = au.build(seq=2, prev=bytes(range(32)))

    with pytest.raises(PrevDigestMismatch, match=r"AU-ABF seq 2: prev_digest 000102.*does not match"):
        store.append([new(spliced)])
    with pytest.raises(PrevDigestMismatch, match=r"seq 1: .*must have 32 zero bytes"):
        store.append([new(Chain("US-CBP").build(seq=1, prev=b"\x01" * 32))])
    assert store.count() == 1
    assert store.head("AU-ABF") is not None
    assert store.head("AU-ABF").seq == 1  # type: ignore[union-attr]


def test_equivocation_is_refused_and_kept_as_evidence(store: Store, au: Chain) -> None:
    envs = au.many(3)
    store.append([new(e, ids=(ABN,)) for e in envs])
    before = snapshot(store)
    fork = au.build(seq=2, prev=envs[0].digest, body=b"a different statement 2")

    with pytest.raises(Equivocation, match=r"AU-ABF: equivocation at seq 2"):
        store.append([new(fork, ids=(EORI,), received_from="NZ-CS")])

    assert snapshot(store) == before
    [evidence] = store.equivocations()
    assert (evidence.issuer, evidence.seq, evidence.reported_by) == ("AU-ABF", 2, "NZ-CS")
    assert evidence.held.header_bytes == envs[1].header_bytes
    assert evidence.conflicting.header_bytes == fork.header_bytes
    assert evidence.conflicting.signatures == fork.signatures
    # the two signed headers are the whole proof: no body is kept, so evidence can be
    # exported to any partner without leaking a body outside its audience
    assert evidence.held.body is None and evidence.conflicting.body is None
    assert evidence.detected_at.tzinfo is not None


def test_an_equivocating_issuer_is_suspended_until_resumed(store: Store, au: Chain, us: Chain) -> None:
    envs = au.many(2)
    store.append([new(envs[0])])
    fork = au.build(seq=1, prev=GENESIS_DIGEST, body=b"other")
    with pytest.raises(Equivocation, match="equivocation at seq 1"):
        store.append([new(fork)])

    assert "equivocation at seq 1" in store.suspended_issuers()["AU-ABF"].reason
    with pytest.raises(IssuerSuspended, match=r"AU-ABF is suspended .*an operator must resume it"):
        store.append([new(envs[1])])
    store.append([new(us.next())])  # other issuers are unaffected

    assert store.resume_issuer("AU-ABF")
    # the same conflicting header seen again is the same evidence, not a new record
    with pytest.raises(Equivocation, match="equivocation at seq 1"):
        store.append([new(fork)])
    assert len(store.equivocations()) == 1
    assert store.resume_issuer("AU-ABF")
    store.append([new(envs[1])])
    assert store.count_by_issuer() == {"AU-ABF": 2, "US-CBP": 1}


def test_equivocation_inside_one_batch_stores_nothing_of_the_batch(store: Store, au: Chain) -> None:
    first = au.next()
    fork = au.build(seq=1, prev=GENESIS_DIGEST, body=b"twin")

    with pytest.raises(Equivocation, match="equivocation at seq 1"):
        store.append([new(first), new(fork)])

    assert store.count() == 0
    [evidence] = store.equivocations()
    assert evidence.held.header_bytes == first.header_bytes
    assert evidence.conflicting.header_bytes == fork.header_bytes


def test_a_batch_is_all_or_nothing(store: Store, au: Chain, us: Chain) -> None:
    envs = au.many(4)
    batch = [new(us.next(), ids=(EORI,)), new(envs[0], ids=(ABN,)), new(envs[3], ids=(ABN,))]

    with pytest.raises(ChainGap, match=r"missing seq 2\.\.3"):
        store.append(batch, idempotency=("key-1", "spiffe://border5.test/agency/AU-ABF/service/portal"))

    assert store.count() == 0
    assert store.heads() == {}
    assert store.lookup(*ABN) == []
    assert store.lookup(*EORI) == []
    assert store.receipt("key-1", "spiffe://border5.test/agency/AU-ABF/service/portal") is None
    # and the store is fine afterwards
    store.append(batch[:2])
    assert store.count() == 2


def test_a_suspended_issuer_is_refused(store: Store, au: Chain, us: Chain) -> None:
    suspension = store.suspend_issuer("AU-ABF", "key compromise reported")
    assert suspension.issuer == "AU-ABF"
    assert store.suspend_issuer("AU-ABF", "another reason") == suspension  # the first reason stays

    with pytest.raises(IssuerSuspended, match=r"AU-ABF is suspended since .*\(key compromise reported\)"):
        store.append([new(us.next()), new(au.next())])
    assert store.count() == 0  # the batch's US-CBP statement went with it

    assert set(store.suspended_issuers()) == {"AU-ABF"}
    assert store.resume_issuer("AU-ABF")
    assert not store.resume_issuer("AU-ABF")
    assert store.suspended_issuers() == {}
    store.append([new(au.made[0])])
    assert store.count() == 1


# ---------------------------------------------------------------- screening index


def test_lookup_returns_current_statements_and_history_on_request(store: Store, au: Chain, us: Chain) -> None:
    d1 = au.next()
    flag = us.next(body_type="flag")
    d2 = au.next()
    store.append([new(d1, ids=(ABN, EORI)), new(flag, ids=(ABN,))])
    store.append([new(d2, ids=(ABN,), supersedes=1)])

    assert keys(store.lookup(*ABN)) == [("AU-ABF", 2), ("US-CBP", 1)]
    history = store.lookup(*ABN, include_history=True)
    assert keys(history) == [("AU-ABF", 1), ("AU-ABF", 2), ("US-CBP", 1)]
    assert history[0].superseded_by == ("AU-ABF", 2)
    assert not history[0].current
    assert history[1].current
    # d1 was superseded as a whole, so it no longer answers for its other id either
    assert store.lookup(*EORI) == []
    got = store.get("AU-ABF", 1)
    assert got is not None
    assert got.superseded_by == ("AU-ABF", 2)
    assert got.withdrawn_by is None


def test_a_withdrawal_removes_its_target_from_current_lookups(store: Store, au: Chain) -> None:
    flag = au.next(body_type="flag")
    withdrawal = au.next(body_type="withdrawal")
    store.append([new(flag, ids=(NZBN,))])
    assert keys(store.lookup(*NZBN)) == [("AU-ABF", 1)]

    store.append([new(withdrawal, withdraws=1)])

    assert store.lookup(*NZBN) == []
    [held] = store.lookup(*NZBN, include_history=True)
    assert held.withdrawn_by == ("AU-ABF", 2)
    assert held.superseded_by is None


def test_expiry_is_kept_for_screening(store: Store, au: Chain) -> None:
    until = T0 + timedelta(days=365)
    store.append([new(au.next(), ids=(ABN,), expires_at=until), new(au.next(), ids=(EORI,))])

    [first] = store.lookup(*ABN)
    assert first.expires_at == until
    [second] = store.lookup(*EORI)
    assert second.expires_at is None


def test_lookup_many_answers_every_id_requested(store: Store, au: Chain, us: Chain) -> None:
    store.append([new(au.next(), ids=(ABN,)), new(us.next(), ids=(ABN, EORI)), new(au.next(), ids=(EORI,))])
    unknown = ("MID", "CNACME123")

    found = store.lookup_many([ABN, unknown, EORI, ABN])

    assert set(found) == {ABN, EORI, unknown}
    assert keys(found[ABN]) == [("AU-ABF", 1), ("US-CBP", 1)]
    assert keys(found[EORI]) == [("AU-ABF", 2), ("US-CBP", 1)]
    assert found[unknown] == []
    assert found[ABN][0].envelope.header_bytes == au.made[0].header_bytes


def test_get_many_answers_every_held_key_as_get_does(store: Store, au: Chain, us: Chain) -> None:
    # more keys than one query of a backend may bind (SQLite reads them in chunks)
    store.append([new(au.next(), ids=(ABN,)) for _ in range(450)])
    store.append([new(us.next(), ids=(EORI,)), new(au.next(body_type="withdrawal"), withdraws=2)])
    wanted = [("US-CBP", 1), ("AU-ABF", 2), ("AU-ABF", 999), ("NZ-CS", 1), ("US-CBP", 1)]
    wanted += [("AU-ABF", seq) for seq in range(450, 0, -1)]

    found = store.get_many(wanted)

    assert set(found) == {("US-CBP", 1), *(("AU-ABF", seq) for seq in range(1, 451))}
    for key, stored in found.items():
        assert stored == store.get(*key), key
    assert found[("AU-ABF", 2)].withdrawn_by == ("AU-ABF", 451)
    assert store.get_many([]) == {}


def test_lookup_names_answers_every_key_with_current_statements(store: Store, au: Chain, us: Chain) -> None:
    store.append(
        [
            new(au.next(), ids=(ABN,), names=("d:hongda", "d:ongda", "e:sales@hongda.cn")),
            new(us.next(body_type="flag"), names=("d:hongda", "p:+8675512345678")),
            new(au.next(), ids=(ABN,), supersedes=1, names=("d:hongda",)),
            new(au.next(audience=("NZ-CS",)).redact()),
        ]
    )

    found = store.lookup_names(["d:hongda", "d:ongda", "d:nothing", "d:hongda", "p:+8675512345678"])

    assert set(found) == {"d:hongda", "d:ongda", "d:nothing", "p:+8675512345678"}
    # AU-ABF#1 is superseded: only current statements are candidates
    assert keys(found["d:hongda"]) == [("AU-ABF", 2), ("US-CBP", 1)]
    assert found["d:ongda"] == []
    assert found["d:nothing"] == []
    assert keys(found["p:+8675512345678"]) == [("US-CBP", 1)]
    assert found["d:hongda"][1].envelope.header_bytes == us.made[0].header_bytes
    assert store.lookup_names([]) == {}


def test_rebuild_index_recomputes_the_name_index(store: Store, au: Chain) -> None:
    store.append([new(au.next(), names=("d:hongda",)), new(au.next(), names=("d:hongxin",))])
    assert keys(store.lookup_names(["d:hongda"])["d:hongda"]) == [("AU-ABF", 1)]

    assert (
        store.rebuild_index(
            lambda stored: IndexEffects(kind="designation", names=(f"d:seq{stored.envelope.seq}",))
        )
        == 2
    )

    found = store.lookup_names(["d:hongda", "d:hongxin", "d:seq1", "d:seq2"])
    assert found["d:hongda"] == [] and found["d:hongxin"] == []
    assert keys(found["d:seq1"]) == [("AU-ABF", 1)]
    assert keys(found["d:seq2"]) == [("AU-ABF", 2)]


def test_a_statement_may_not_retire_another_issuers_statement(store: Store, au: Chain, us: Chain) -> None:
    store.append([new(us.next(), ids=(ABN,))])
    withdrawal = au.next(body_type="withdrawal")
    forged = NewStatement(withdrawal, index=IndexEffects(kind="withdrawal", withdraws=("US-CBP", 1)))

    with pytest.raises(InvalidArgument, match="AU-ABF seq 1 cannot withdraw US-CBP seq 1"):
        store.append([forged])
    later = NewStatement(withdrawal, index=IndexEffects(kind="withdrawal", supersedes=("AU-ABF", 1)))
    with pytest.raises(InvalidArgument, match=r"cannot supersede seq 1: the target must be an earlier"):
        store.append([later])
    assert keys(store.lookup(*ABN)) == [("US-CBP", 1)]
    assert store.count() == 1


def test_rebuild_index_reproduces_the_same_lookups(store: Store, au: Chain, us: Chain) -> None:
    effects: dict[bytes, IndexEffects] = {}

    def add(entry: NewStatement) -> NewStatement:
        effects[entry.envelope.digest] = entry.index
        return entry

    until = T0 + timedelta(days=30)
    store.append(
        [
            add(new(au.next(), ids=(ABN, EORI), expires_at=until)),
            add(new(us.next(body_type="flag"), ids=(ABN,))),
            add(new(au.next(), ids=(ABN,), supersedes=1)),
            add(new(us.next(body_type="withdrawal"), withdraws=1)),
            add(new(au.next(audience=("NZ-CS",)).redact())),
            add(new(us.next(), ids=(NZBN,))),
        ]
    )

    def everything() -> dict[object, object]:
        out: dict[object, object] = {}
        for party in (ABN, EORI, NZBN):
            for history in (False, True):
                out[party, history] = [
                    (s.key, s.superseded_by, s.withdrawn_by, s.expires_at)
                    for s in store.lookup(*party, include_history=history)
                ]
        out["many"] = {p: keys(v) for p, v in store.lookup_many([ABN, EORI, NZBN]).items()}
        return out

    before = everything()
    seen: list[tuple[str, int]] = []

    def indexer(stored: StoredStatement) -> IndexEffects:
        seen.append(stored.key)
        assert stored.received_at.tzinfo is not None
        return effects[stored.envelope.digest]

    assert store.rebuild_index(indexer) == 6
    assert everything() == before
    # per issuer in seq order, the redacted envelope too (admission's time rules read headers)
    assert [k for k in seen if k[0] == "AU-ABF"] == [("AU-ABF", 1), ("AU-ABF", 2), ("AU-ABF", 3)]
    assert [k for k in seen if k[0] == "US-CBP"] == [("US-CBP", 1), ("US-CBP", 2), ("US-CBP", 3)]

    # the index really is dropped and recomputed: an indexer that knows nothing empties it
    assert store.rebuild_index(lambda stored: NO_EFFECTS) == 6
    assert store.lookup(*ABN, include_history=True) == []
    assert store.count() == 6
    store.rebuild_index(indexer)
    assert everything() == before


def test_a_failed_rebuild_leaves_the_index_as_it_was(store: Store, au: Chain) -> None:
    store.append([new(au.next(), ids=(ABN,)), new(au.next(), ids=(EORI,))])

    def broken(stored: StoredStatement) -> IndexEffects:
        if stored.envelope.seq == 2:
            raise RuntimeError("indexer bug")
        return NO_EFFECTS

    with pytest.raises(RuntimeError, match="indexer bug"):
        store.rebuild_index(broken)
    assert keys(store.lookup(*ABN)) == [("AU-ABF", 1)]
    assert keys(store.lookup(*EORI)) == [("AU-ABF", 2)]


# ---------------------------------------------------------------- checkpoints


def test_checkpoints_never_move_backwards(store: Store, au: Chain, us: Chain) -> None:
    envs = au.many(3)
    store.append([new(e) for e in envs])
    at3 = au.checkpoint(3, at=T0)

    assert store.put_checkpoint(at3)
    assert not store.put_checkpoint(au.checkpoint(2, at=T0 + timedelta(hours=1)))
    assert not store.put_checkpoint(at3)
    assert not store.put_checkpoint(au.checkpoint(3, at=T0 - timedelta(seconds=1)))
    held = store.checkpoint("AU-ABF")
    assert held is not None
    assert signed_checkpoint_to_wire(held) == signed_checkpoint_to_wire(at3)

    later = au.checkpoint(3, at=T0 + timedelta(minutes=5))
    assert store.put_checkpoint(later)
    # a checkpoint ahead of the statements held is how a follower learns it is behind
    ahead = au.checkpoint(9, digest=b"\x09" * 32, at=T0 + timedelta(minutes=6))
    assert store.put_checkpoint(ahead)
    assert store.put_checkpoint(us.checkpoint(0))
    assert {i: c.seq for i, c in store.checkpoints().items()} == {"AU-ABF": 9, "US-CBP": 0}


def test_a_checkpoint_contradicting_the_chain_is_equivocation(store: Store, au: Chain) -> None:
    envs = au.many(2)
    store.append([new(e) for e in envs])
    store.put_checkpoint(au.checkpoint(2))

    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 1"):
        store.put_checkpoint(au.checkpoint(1, digest=b"\x01" * 32, at=T0 + timedelta(hours=1)))
    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 2"):
        store.put_checkpoint(au.checkpoint(2, digest=b"\x02" * 32, at=T0 + timedelta(hours=1)))
    store.put_checkpoint(au.checkpoint(7, digest=b"\x07" * 32))
    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 7"):
        store.put_checkpoint(au.checkpoint(7, digest=b"\x08" * 32, at=T0 + timedelta(hours=2)))
    held = store.checkpoint("AU-ABF")
    assert held is not None
    assert held.checkpoint.head_digest == b"\x07" * 32


def cp_wires(checkpoints: list[SignedCheckpoint]) -> list[bytes]:
    return [signed_checkpoint_to_wire(c) for c in checkpoints]


def test_a_run_and_the_checkpoint_that_vouched_for_it_are_kept_in_one_transaction(
    store: Store, au: Chain
) -> None:
    store.append([new(e) for e in au.many(3)], checkpoint=au.checkpoint(3))
    assert store.head("AU-ABF").seq == 3  # type: ignore[union-attr]
    assert cp_wires(store.checkpoints_between("AU-ABF", 0, 3)) == cp_wires([au.checkpoint(3)])
    assert cp_wires([store.checkpoint("AU-ABF")]) == cp_wires([au.checkpoint(3)])  # type: ignore[list-item]

    more = au.many(2)
    # a checkpoint naming another head than the batch's own: nothing of the batch is kept
    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 4"):
        store.append([new(more[0])], checkpoint=au.checkpoint(4, digest=b"\x04" * 32))
    # nor when the history holds another head at its seq
    store.put_checkpoint(au.checkpoint(5, digest=b"\x05" * 32))
    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 5"):
        store.append([new(e) for e in more], checkpoint=au.checkpoint(5))
    assert store.head("AU-ABF").seq == 3  # type: ignore[union-attr]
    assert cp_wires([store.checkpoint("AU-ABF")]) == cp_wires([au.checkpoint(5, digest=b"\x05" * 32)])  # type: ignore[list-item]

    store.append([new(more[0])], checkpoint=au.checkpoint(4))
    assert store.head("AU-ABF").seq == 4  # type: ignore[union-attr]
    assert cp_wires(store.checkpoints_between("AU-ABF", 3, 4)) == cp_wires([au.checkpoint(4)])


def test_every_checkpoint_is_kept_in_the_history(store: Store, au: Chain, us: Chain) -> None:
    store.append([new(e) for e in au.many(10)])
    at3, at6, at9 = (au.checkpoint(s, at=T0 + timedelta(minutes=s)) for s in (3, 6, 9))

    assert store.put_checkpoint(at6)
    assert not store.put_checkpoint(at3)  # older than the latest: kept in the history only
    assert store.put_checkpoint(at9)
    assert store.put_checkpoint(us.checkpoint(0))

    held = store.checkpoint("AU-ABF")
    assert held is not None
    assert signed_checkpoint_to_wire(held) == signed_checkpoint_to_wire(at9)
    assert cp_wires(store.checkpoints_between("AU-ABF", 0, 10)) == cp_wires([at3, at6, at9])
    assert cp_wires(store.checkpoints_between("AU-ABF", 3, 9)) == cp_wires([at6, at9])
    assert cp_wires(store.checkpoints_between("AU-ABF", 2, 8)) == cp_wires([at3, at6])
    assert store.checkpoints_between("AU-ABF", 9, 20) == []
    assert store.checkpoints_between("AU-ABF", 6, 6) == []
    assert store.checkpoints_between("AU-ABF", 9, 3) == []
    assert store.checkpoints_between("NZ-CS", 0, 10) == []
    # bounds wider than any seq mean "all of them", not an error
    assert len(store.checkpoints_between("AU-ABF", -5, 2**64 - 1)) == 3
    assert cp_wires(store.checkpoints_between("US-CBP", -1, 0)) == cp_wires([us.checkpoint(0)])

    def at_or_before(seq: int) -> bytes | None:
        found = store.checkpoint_at_or_before("AU-ABF", seq)
        return None if found is None else signed_checkpoint_to_wire(found)

    assert at_or_before(2) is None
    assert at_or_before(3) == signed_checkpoint_to_wire(at3)
    assert at_or_before(8) == signed_checkpoint_to_wire(at6)
    assert at_or_before(9) == signed_checkpoint_to_wire(at9)
    assert at_or_before(2**64 - 1) == signed_checkpoint_to_wire(at9)
    assert at_or_before(-1) is None
    assert store.checkpoint_at_or_before("NZ-CS", 100) is None


def test_the_history_keeps_the_freshest_checkpoint_of_each_seq(store: Store, au: Chain) -> None:
    store.append([new(e) for e in au.many(3)])
    first = au.checkpoint(3, at=T0)
    fresher = au.checkpoint(3, at=T0 + timedelta(hours=1))
    stale = au.checkpoint(3, at=T0 + timedelta(minutes=30))

    assert store.put_checkpoint(first)
    assert not store.put_checkpoint(first)  # the same bytes again: idempotent
    assert cp_wires(store.checkpoints_between("AU-ABF", 0, 3)) == cp_wires([first])
    assert store.put_checkpoint(fresher)
    assert not store.put_checkpoint(stale)

    # an issuer re-signing an unchanged head on a timer leaves one checkpoint per seq
    assert cp_wires(store.checkpoints_between("AU-ABF", 0, 3)) == cp_wires([fresher])
    found = store.checkpoint_at_or_before("AU-ABF", 3)
    assert found is not None
    assert signed_checkpoint_to_wire(found) == signed_checkpoint_to_wire(fresher)
    held = store.checkpoint("AU-ABF")
    assert held is not None
    assert signed_checkpoint_to_wire(held) == signed_checkpoint_to_wire(fresher)


def test_a_checkpoint_contradicting_an_older_checkpoint_is_equivocation(store: Store, au: Chain) -> None:
    store.append([new(e) for e in au.many(2)])
    # ahead of the statements held: only the history can contradict these
    at5 = au.checkpoint(5, digest=b"\x05" * 32, at=T0)
    at9 = au.checkpoint(9, digest=b"\x09" * 32, at=T0 + timedelta(minutes=1))
    store.put_checkpoint(at5)
    store.put_checkpoint(at9)

    other5 = au.checkpoint(5, digest=b"\x55" * 32, at=T0 + timedelta(minutes=2))
    with pytest.raises(Equivocation, match=r"AU-ABF: equivocation at seq 5: holding header 0505.*5555"):
        store.put_checkpoint(other5)
    # an older checkpoint contradicting the chain is refused just as a newer one is
    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 2"):
        store.put_checkpoint(au.checkpoint(2, digest=b"\x02" * 32, at=T0 - timedelta(days=1)))

    assert cp_wires(store.checkpoints_between("AU-ABF", 0, 10)) == cp_wires([at5, at9])
    held = store.checkpoint("AU-ABF")
    assert held is not None
    assert signed_checkpoint_to_wire(held) == signed_checkpoint_to_wire(at9)


# ---------------------------------------------------------------- idempotency


def test_an_idempotency_receipt_is_stored_with_the_batch(store: Store, au: Chain) -> None:
    portal = "spiffe://border5.test/agency/AU-ABF/service/portal"
    envs = au.many(2)

    results = store.append([new(e) for e in envs], idempotency=("req-7", portal))

    assert store.receipt("req-7", portal) == [("AU-ABF", 1), ("AU-ABF", 2)]
    assert store.receipt("req-7", "spiffe://border5.test/agency/AU-ABF/service/other") is None
    assert store.receipt("req-8", portal) is None

    # a retry that raced the first (and signed fresh statements) stores nothing new
    retry = store.append([new(au.next())], idempotency=("req-7", portal))
    assert [(r.seq, r.digest, r.duplicate) for r in retry] == [(r.seq, r.digest, True) for r in results]
    assert store.count() == 2
    assert store.receipt("req-7", portal) == [("AU-ABF", 1), ("AU-ABF", 2)]


def test_a_receipt_is_bound_to_its_request_digest(store: Store, au: Chain) -> None:
    portal = "spiffe://border5.test/agency/AU-ABF/service/portal"
    first = Idempotency("req-9", portal, request_digest=b"A" * 32)
    results = store.append([new(au.next())], idempotency=first)
    record = store.receipt_record("req-9", portal)
    assert record is not None
    assert record.statements == (("AU-ABF", 1),) and record.request_digest == b"A" * 32
    assert abs((record.created_at - datetime.now(UTC)).total_seconds()) < 3600
    assert store.receipt_record("req-9", "spiffe://border5.test/agency/AU-ABF/service/other") is None

    # the same request again replays
    again = store.append([new(au.next())], idempotency=first)
    assert [(r.seq, r.duplicate) for r in again] == [(r.seq, True) for r in results]
    # the same key with another request is refused, and nothing is stored
    with pytest.raises(IdempotencyKeyReused, match="req-9"):
        store.append([new(au.next())], idempotency=Idempotency("req-9", portal, request_digest=b"B" * 32))
    assert store.count() == 1
    # a claim with no digest (a caller that does not know it) replays as before
    assert store.append([new(au.next())], idempotency=("req-9", portal))[0].duplicate


def test_an_expired_receipt_frees_its_key(store: Store, au: Chain) -> None:
    portal = "spiffe://border5.test/agency/AU-ABF/service/portal"
    store.append([new(au.next())], idempotency=Idempotency("old", portal, request_digest=b"A" * 32))
    store.append([new(au.next())], idempotency=Idempotency("other", portal, request_digest=b"C" * 32))
    # everything stored so far is older than not_before: both receipts have expired
    later = datetime.now(UTC) + timedelta(hours=1)
    fresh = store.append(
        [new(au.next())], idempotency=Idempotency("old", portal, request_digest=b"B" * 32, not_before=later)
    )
    assert [(r.seq, r.duplicate) for r in fresh] == [(3, False)]
    record = store.receipt_record("old", portal)
    assert record is not None and record.statements == (("AU-ABF", 3),) and record.request_digest == b"B" * 32
    assert store.receipt_record("other", portal) is None  # purged with it
    assert store.count() == 3


# ---------------------------------------------------------------- alarms


def test_alarms_are_deduplicated_while_open_and_acknowledged(store: Store) -> None:
    first = store.raise_alarm("gap", "AU-ABF", "missing seq 5..9 from NZ-CS")
    again = store.raise_alarm("gap", "AU-ABF", "missing seq 5..9 from NZ-CS")
    other = store.raise_alarm("gap", "AU-ABF", "missing seq 12..12 from CA-CBSA", peer="CA-CBSA")

    assert again.id == first.id
    assert again.count == 2
    assert again.raised_at == first.raised_at
    assert again.last_raised_at >= first.last_raised_at
    assert other.id != first.id
    assert [a.id for a in store.alarms()] == [first.id, other.id]

    acked = store.acknowledge_alarm(first.id)
    assert acked.acknowledged_at is not None
    assert not acked.open
    assert store.acknowledge_alarm(first.id) == acked  # idempotent
    assert [a.id for a in store.alarms()] == [other.id]
    assert [a.id for a in store.alarms(include_acknowledged=True)] == [first.id, other.id]

    reopened = store.raise_alarm("gap", "AU-ABF", "missing seq 5..9 from NZ-CS")
    assert reopened.id not in (first.id, other.id)
    assert reopened.count == 1


def test_alarms_are_one_per_kind_issuer_and_peer_whatever_the_detail(store: Store) -> None:
    # a peer that misbehaves at every reconnect: each detail differs (times, seqs)
    raised = [
        store.raise_alarm("bad_checkpoint", "NZ-CS", f"from peer NZ-CS: checkpoint at 09:0{i}", peer="NZ-CS")
        for i in range(5)
    ]
    assert len({a.id for a in raised}) == 1
    [alarm] = store.alarms()
    assert alarm.count == 5 and alarm.peer == "NZ-CS"
    assert alarm.detail == "from peer NZ-CS: checkpoint at 09:04"  # the newest detail
    assert alarm.raised_at == raised[0].raised_at <= alarm.last_raised_at
    assert alarm.last_raised_at >= raised[3].last_raised_at
    # another peer, another issuer or another kind is another alarm
    by_peer = store.raise_alarm("bad_checkpoint", "NZ-CS", "via AU", peer="AU-ABF")
    by_issuer = store.raise_alarm("bad_checkpoint", "GB-HMRC", "x", peer="NZ-CS")
    by_kind = store.raise_alarm("gap", "NZ-CS", "x", peer="NZ-CS")
    local = store.raise_alarm("bad_checkpoint", "NZ-CS", "no peer")
    assert len({alarm.id, by_peer.id, by_issuer.id, by_kind.id, local.id}) == 5
    assert local.peer == ""
    assert store.alarm_count() == 5


def test_alarms_are_paged_in_id_order(store: Store) -> None:
    made = [store.raise_alarm("gap", f"issuer-{i}", "d") for i in range(7)]
    store.acknowledge_alarm(made[2].id)
    ids = [a.id for a in made]
    open_ids = [i for i in ids if i != made[2].id]
    assert [a.id for a in store.alarms(limit=3)] == open_ids[:3]
    assert [a.id for a in store.alarms(after_id=open_ids[2], limit=3)] == open_ids[3:6]
    assert [a.id for a in store.alarms(after_id=open_ids[5], limit=3)] == open_ids[6:]
    assert store.alarms(after_id=ids[-1]) == []
    assert [a.id for a in store.alarms(include_acknowledged=True, after_id=ids[0], limit=2)] == ids[1:3]
    assert store.alarms(limit=0) == []
    assert store.alarms(after_id=2**70) == []  # past int64: nothing, not an error
    assert store.alarm_count() == 6
    assert store.alarm_count(include_acknowledged=True) == 7

    with pytest.raises(NotFound, match="no alarm with id 999"):
        store.acknowledge_alarm(999)


# ---------------------------------------------------------------- replicas


def test_publish_lock_lets_one_publisher_of_an_issuer_in_at_a_time(
    backend: Backend, au: Chain, us: Chain
) -> None:
    first, second = open_store(backend.url), open_store(backend.url)
    entered = threading.Event()

    def wait_then_enter() -> None:
        with second.publish_lock("AU-ABF", timeout=10):
            entered.set()

    try:
        with first.publish_lock("AU-ABF"):
            # another store object on the same data (another replica) must wait ...
            with (
                pytest.raises(ResourceExhausted, match=r"publishing for AU-ABF waited 0\.2 s"),
                second.publish_lock("AU-ABF", timeout=0.2),
            ):
                pass
            # ... but other issuers, appends and reads are not held up
            with second.publish_lock("US-CBP", timeout=1):
                second.append([new(us.next())])
            second.append([new(au.next())])
            assert second.count() == 2
            waiter = threading.Thread(target=wait_then_enter)
            waiter.start()
            assert not entered.wait(0.2)
        # ... and gets in once the holder leaves
        assert entered.wait(10)
        waiter.join()

        # an exception inside the block releases the lock too
        with pytest.raises(RuntimeError, match="signer failed"), first.publish_lock("AU-ABF"):
            raise RuntimeError("signer failed")
        with second.publish_lock("AU-ABF", timeout=1):
            pass
    finally:
        first.close()
        second.close()


def test_wait_for_change_returns_within_its_timeout(store: Store) -> None:
    started = time.monotonic()
    changed = store.wait_for_change(0.1)
    elapsed = time.monotonic() - started
    assert isinstance(changed, bool)
    # False only after the timeout; True (a change somewhere) may come at once
    assert elapsed < 2.0
    if not changed:
        assert elapsed >= 0.09


# ---------------------------------------------------------------- lifecycle


def test_reopening_keeps_everything(backend: Backend, au: Chain, us: Chain) -> None:
    store = open_store(backend.url)
    store.append([new(e, ids=(ABN,)) for e in au.many(3)], idempotency=("k", "p"))
    store.append([new(us.next(), ids=(EORI,), received_from="AU-ABF")])
    store.put_checkpoint(au.checkpoint(1))
    store.put_checkpoint(au.checkpoint(3))
    fork = us.build(seq=1, prev=GENESIS_DIGEST, body=b"fork")
    with pytest.raises(Equivocation, match="equivocation at seq 1"):
        store.append([new(fork)])
    alarm = store.raise_alarm("equivocation", "US-CBP", "seq 1")
    store.suspend_issuer("NZ-CS", "testing")
    before = snapshot(store)
    store.close()
    store.close()  # idempotent

    with pytest.raises(RuntimeError, match="closed"):
        store.count()

    reopened = open_store(backend.url)
    try:
        assert snapshot(reopened) == before
        assert reopened.receipt("k", "p") == [("AU-ABF", 1), ("AU-ABF", 2), ("AU-ABF", 3)]
        assert reopened.checkpoints().keys() == {"AU-ABF"}
        assert [c.seq for c in reopened.checkpoints_between("AU-ABF", 0, 3)] == [1, 3]
        assert len(reopened.equivocations()) == 1
        assert reopened.alarms() == [alarm]
        assert set(reopened.suspended_issuers()) == {"NZ-CS", "US-CBP"}
        got = reopened.get("US-CBP", 1)
        assert got is not None
        assert got.received_from == "AU-ABF"
        reopened.append([new(au.next(), ids=(ABN,))])
        assert reopened.count() == 5
    finally:
        reopened.close()


def test_a_newer_schema_is_refused(backend: Backend) -> None:
    store = open_store(backend.url)
    known = store.schema_version()
    assert store.migrate() == known
    store.close()
    backend.set_schema_version(known + 6)

    newer = rf"database schema {known + 6} is newer than this borderx \(knows {known}\); upgrade borderx"
    with pytest.raises(ConfigError, match=newer):
        open_store(backend.url)


def test_location_names_the_store(store: Store) -> None:
    assert store.location
    assert "password" not in store.location


def test_readers_and_a_writer_in_threads(store: Store, au: Chain) -> None:
    envs = au.many(200)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                held = store.count()
                found = len(store.lookup_many([ABN])[ABN])
                # later snapshots never see less, and never part of a batch
                assert found >= held
                assert found % 10 == 0
                assert store.heads().get("AU-ABF", ChainHead("AU-ABF", 0, GENESIS_DIGEST)).seq >= found
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        for i in range(0, 200, 10):
            store.append([new(e, ids=(ABN,)) for e in envs[i : i + 10]])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert errors == []
    assert store.count() == 200
    assert len(store.lookup(*ABN)) == 200


# ---------------------------------------------------------------- durability

CRASH_WRITER = Path(__file__).with_name("crash_writer.py")


@pytest.mark.parametrize("mode", ["statements", "checkpoints"])
def test_acknowledged_statements_survive_kill_9(backend: Backend, mode: str) -> None:
    open_store(backend.url).close()  # create it, so the writer starts at once
    proc = subprocess.Popen(
        [sys.executable, str(CRASH_WRITER), backend.url, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acknowledged: list[int] = []
    assert proc.stdout is not None
    # kill it mid-stream once it has acknowledged a few batches (by progress, not by time:
    # this machine may be busy)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(acknowledged) < 5:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    # lines already written before the kill were acknowledged too
    acknowledged.extend(int(line) for line in rest.split())
    assert proc.returncode == -signal.SIGKILL, err
    assert len(acknowledged) >= 3, f"the writer made too little progress: {acknowledged} {err}"

    store = open_store(backend.url)
    try:
        head = store.head("AU-ABF")
        assert head is not None
        assert head.seq >= max(acknowledged)
        assert store.count() == head.seq
        chain = store.read_range("AU-ABF", 0, head.seq + 10)
        assert [s.envelope.seq for s in chain] == list(range(1, head.seq + 1))
        prev = GENESIS_DIGEST
        for stored in chain:
            assert stored.envelope.header.prev_digest == prev
            prev = stored.envelope.digest
        assert prev == head.digest
        assert len(store.lookup("ABN", "crash", include_history=True)) == head.seq
        if mode == "checkpoints":
            # each batch and its checkpoint were one transaction: neither outlives the other
            latest = store.checkpoint("AU-ABF")
            assert latest is not None and (latest.seq, latest.checkpoint.head_digest) == (
                head.seq,
                head.digest,
            )
    finally:
        store.close()


# ---------------------------------------------------------------- deferred signature checks


def test_a_pending_check_carries_the_signed_bytes_as_stored(store: Store, au: Chain) -> None:
    envs = au.many(2)
    store.append(
        [NewStatement(env, "NZ-CS", IndexEffects(kind="designation"), verified=False) for env in envs]
    )
    # what the signature checker verifies: the exact header bytes and signatures received
    assert store.unverified(limit=5) == [
        PendingCheck((env.issuer, env.seq), env.header_bytes, env.signatures) for env in envs
    ]
    assert store.unverified(limit=1) == [
        PendingCheck(("AU-ABF", 1), envs[0].header_bytes, envs[0].signatures)
    ]


def test_statements_admitted_on_a_checkpoints_authority_wait_for_their_check(store: Store, au: Chain) -> None:
    envs = au.many(4)
    store.append([new(envs[0])])
    store.append(
        [
            NewStatement(envs[1], "NZ-CS", IndexEffects(kind="designation", ids=(ABN,)), verified=False),
            NewStatement(envs[2], "NZ-CS", IndexEffects(kind="designation", ids=(EORI,)), verified=False),
            NewStatement(
                envs[3], "NZ-CS", IndexEffects(kind="designation", supersedes=("AU-ABF", 2)), verified=False
            ),
        ]
    )
    assert store.head("AU-ABF").seq == 4  # type: ignore[union-attr]
    # screened on the checkpoint's authority, but followers are served no further than seq 1
    assert [s.key for s in store.lookup(*EORI)] == [("AU-ABF", 3)]
    assert store.verified_heads() == {"AU-ABF": 1}
    assert [s.key for s in store.unverified()] == [("AU-ABF", 2), ("AU-ABF", 3), ("AU-ABF", 4)]
    assert store.get("AU-ABF", 2).verified is False  # type: ignore[union-attr]

    store.mark_verified([("AU-ABF", 2)])
    assert store.verified_heads() == {"AU-ABF": 2}
    # a signature that fails: evidence only, its effects undone, its issuer suspended
    store.refuse_unverified(("AU-ABF", 4), "signature: does not verify")
    assert store.lookup(*ABN)[0].key == ("AU-ABF", 2) and store.lookup(*ABN)[0].current
    refused = store.get("AU-ABF", 4)
    assert refused is not None and refused.violation == "signature: does not verify" and not refused.current
    assert "AU-ABF" in store.suspended_issuers()
    store.mark_verified([("AU-ABF", 3)])
    # the refused one is never verified, so nothing past it is ever relayed
    assert store.verified_heads() == {"AU-ABF": 3}
    assert store.unverified() == []  # settled: never checked again


# ---------------------------------------------------------------- directory versions


def test_directory_versions_only_rise_and_survive_reopening(backend: Backend) -> None:
    with open_store(backend.url) as store:
        assert store.directory_head() is None
        first = store.record_directory(1, "a" * 64, b'{"v": 1}')
        assert (first.version, first.digest, first.document) == (1, "a" * 64, b'{"v": 1}')
        assert store.record_directory(1, "a" * 64, b'{"v": 1}') == first  # the head again: a no-op
        with pytest.raises(
            DirectoryRefused, match=r"directory v1 \(digest bbbb.*\) differs from the recorded v1"
        ) as conflict:
            store.record_directory(1, "b" * 64, b'{"v": "forged"}')
        assert conflict.value.reason == "conflict"
        store.record_directory(3, "c" * 64, b'{"v": 3}')
    with open_store(backend.url) as store:
        head = store.directory_head()
        assert head is not None and (head.version, head.digest, head.document) == (3, "c" * 64, b'{"v": 3}')
        with pytest.raises(
            DirectoryRefused, match="version 2 is older than the recorded version 3"
        ) as rollback:
            store.record_directory(2, "d" * 64, b'{"v": 2}')
        assert rollback.value.reason == "rollback"
        assert store.directory_head() == head


def test_directory_documents_and_conflict_evidence(store: Store) -> None:
    store.record_directory(1, "a" * 64, b"v1")
    store.record_directory(2, "b" * 64, b"v2")
    one = store.directory_document(1)
    assert one is not None and (one.digest, one.document) == ("a" * 64, b"v1")
    assert store.directory_document(3) is None
    assert store.directory_conflicts() == []
    assert store.record_directory_conflict("NZ-CS", 2, "c" * 64, b"their v2") is True
    assert (
        store.record_directory_conflict("CA-CBSA", 2, "c" * 64, b"their v2") is False
    )  # the first peer stays
    (kept,) = store.directory_conflicts()
    assert (kept.peer, kept.version, kept.digest, kept.document) == ("NZ-CS", 2, "c" * 64, b"their v2")


def test_evidence_that_calls_for_a_suspension_is_kept_with_it(store: Store, au: Chain) -> None:
    env = au.next()
    assert store.record_evidence(
        "split_view", "AU-ABF", 1, "two heads", envelopes=(env,), suspend="two heads"
    )
    # the proof and the suspension it calls for are one write: no reader sees one alone
    [kept] = store.evidence()
    assert (kept.kind, kept.issuer, kept.seq) == ("split_view", "AU-ABF", 1)
    assert store.suspended_issuers()["AU-ABF"].reason == "two heads"
    # without the reason, proof alone (the caller decides what it calls for)
    assert store.record_evidence("bad_signature", "NZ-CS", 4, "bad", envelopes=(env,))
    assert set(store.suspended_issuers()) == {"AU-ABF"}


def test_lookup_names_skips_keys_held_too_often(store: Store, au: Chain) -> None:
    store.append([new(au.next(), names=("d:common", "d:rare")) for _ in range(3)])
    store.append([new(au.next(), names=("d:common",))])

    found = store.lookup_names(["d:common", "d:rare", "d:none"], max_postings=3)

    assert found["d:common"] == []  # held 4 times: too unselective
    assert keys(found["d:rare"]) == [("AU-ABF", 1), ("AU-ABF", 2), ("AU-ABF", 3)]
    assert found["d:none"] == []
    assert len(store.lookup_names(["d:common"])["d:common"]) == 4


# ---------------------------------------------------------------- cosignatures (witnessing)


def _cosign(cp: SignedCheckpoint, witness: str, at: datetime) -> SignedCosignature:
    return sign_cosignature(signer_for(witness), checkpoint=cp, witness=witness, time=at)


def test_cosignatures_are_kept_once_per_witness_and_head(store: Store, au: Chain) -> None:
    au.many(3)
    by_us = _cosign(au.checkpoint(2), "US-CBP", T0 + timedelta(minutes=1))
    assert store.put_cosignature(by_us)
    # a heartbeat's second cosignature of the same head is not kept again
    assert not store.put_cosignature(_cosign(au.checkpoint(2), "US-CBP", T0 + timedelta(minutes=2)))
    by_nz = _cosign(au.checkpoint(2), "NZ-CS", T0 + timedelta(minutes=1))
    assert store.put_cosignature(by_nz)
    # a split view: another head at the same seq is kept beside the first
    other = _cosign(au.checkpoint(2, digest=b"\x07" * 32), "NZ-CS", T0 + timedelta(minutes=3))
    assert store.put_cosignature(other)
    held = store.cosignatures_at("AU-ABF", 2)
    assert [signed_cosignature_to_wire(c) for c in held] == [
        signed_cosignature_to_wire(c) for c in (by_us, by_nz, other)
    ]
    assert store.cosignatures_at("AU-ABF", 3) == []
    assert [c.witness for c in store.cosignatures_between("AU-ABF", 1, 3)] == ["US-CBP", "NZ-CS", "NZ-CS"]
    assert store.cosignatures_between("AU-ABF", 2, 3) == []
    assert store.cosignatures_between("AU-ABF", 3, 1) == []


def test_cosignatures_after_pages_in_id_order(store: Store, au: Chain, us: Chain) -> None:
    au.many(3)
    us.many(1)
    made = [
        _cosign(au.checkpoint(1), "NZ-CS", T0),
        _cosign(us.checkpoint(1), "AU-ABF", T0),
        _cosign(au.checkpoint(3), "NZ-CS", T0),
    ]
    for c in made:
        store.put_cosignature(c)
    page = store.cosignatures_after(0, 2)
    assert [c.seq for _, c in page] == [1, 1] and page[0][0] < page[1][0]
    rest = store.cosignatures_after(page[-1][0], 10)
    assert [(c.issuer, c.seq) for _, c in rest] == [("AU-ABF", 3)]
    assert store.cosignatures_after(rest[-1][0], 10) == []


def test_witnessed_heads_are_the_highest_seq_per_witness(store: Store, au: Chain) -> None:
    au.many(4)
    store.put_cosignature(_cosign(au.checkpoint(3), "US-CBP", T0 + timedelta(minutes=3)))
    store.put_cosignature(_cosign(au.checkpoint(1), "US-CBP", T0 + timedelta(minutes=4)))
    store.put_cosignature(_cosign(au.checkpoint(2), "NZ-CS", T0 + timedelta(minutes=2)))
    heads = store.witnessed_heads("AU-ABF")
    assert {w: c.seq for w, c in heads.items()} == {"US-CBP": 3, "NZ-CS": 2}
    assert heads["US-CBP"].cosignature.time == T0 + timedelta(minutes=3)
    assert store.witnessed_heads("US-CBP") == {}


# ---------------------------------------------------------------- memberships in one read


def test_memberships_of_a_batch_read_as_each_one_alone(store: Store, au: Chain, us: Chain) -> None:
    def designation(chain: Chain, programme: str, member: str, status: str) -> NewStatement:
        env = chain.next()
        return NewStatement(
            env, index=IndexEffects(kind="designation", membership=(programme, member, status))
        )

    store.append(
        [
            designation(au, "AU_ATT", "M-1", "CERTIFIED"),
            designation(au, "AU_ATT", "M-2", "CERTIFIED"),
            designation(au, "AU_ATT", "M-1", "SUSPENDED"),
            designation(au, "AU_ATT", "ids:ABN:1", "CERTIFIED"),
        ]
    )
    store.append([designation(us, "AU_ATT", "M-3", "CERTIFIED")])
    asked = [("AU_ATT", f"M-{i}") for i in range(1, 500)] + [("AU_ATT", "ids:ABN:1"), ("OTHER", "M-1")]
    got = store.memberships("AU-ABF", [*asked, ("AU_ATT", "M-1")])
    assert got == {k: v for k in asked if (v := store.membership("AU-ABF", *k)) is not None}
    assert got == {("AU_ATT", "M-1"): (3, "SUSPENDED"), ("AU_ATT", "M-2"): (2, "CERTIFIED"), ("AU_ATT", "ids:ABN:1"): (4, "CERTIFIED")}  # fmt: skip
    assert store.memberships("US-CBP", asked) == {("AU_ATT", "M-3"): (1, "CERTIFIED")}
    assert store.memberships("AU-ABF", []) == {}
