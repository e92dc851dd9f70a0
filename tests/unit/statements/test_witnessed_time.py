"""Witnessed time (issue 12 item 5): key validity judged against when a statement provably existed.

AU-ABF's key ``au_old`` closed on 2026-07-01. A thief holding it can sign a statement dated
inside its window at any later time; a gateway that never saw AU-ABF's honest continuation
cannot tell it from honest history by its date. What it can tell: whether it received the
statement itself in time, or whether a quorum of witnesses had cosigned a head containing
it in time. Every statement and cosignature here is correctly signed by a listed key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from conftest import World, make_directory, signer_from_seed, signing_key
from test_intake import FakeView, a_flag

from borderx.errors import KeyRevoked, KeyUnwitnessed
from borderx.statements.body_codec import encode_body
from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
from borderx.statements.intake import (
    IntakePolicy,
    StoreView,
    admit,
    admit_checkpoint,
    proven_time,
)
from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint, SignedCosignature
from borderx.statements.signing import sign_checkpoint, sign_cosignature
from borderx.store.base import StoredStatement

AU, US, NZ, CA = "AU-ABF", "US-CBP", "NZ-CS", "CA-CBSA"
CLOSED = datetime(2026, 7, 1, tzinfo=UTC)  # au_old's window ends here
BEFORE = datetime(2026, 6, 20, tzinfo=UTC)  # honest history, signed inside the window
LATE = datetime(2026, 9, 1, tzinfo=UTC)  # a new gateway first sees it


@pytest.fixture(scope="module")
def fed(world: World) -> World:
    """The test world plus CA-CBSA, so that US-CBP (home) has two partners to be witnesses."""
    signers = dict(world.signers, ca=signer_from_seed("ca"))
    directory = make_directory(
        {
            AU: [
                signing_key(signers["au_old"], AU, valid_until=CLOSED),
                signing_key(signers["au_new"], AU, valid_from=datetime(2026, 6, 1, tzinfo=UTC)),
            ],
            US: [signing_key(signers["us"], US)],
            NZ: [signing_key(signers["nz_revoked"], NZ, status="revoked"), signing_key(signers["nz"], NZ)],
            CA: [signing_key(signers["ca"], CA)],
        }
    )
    return World(directory=directory, signers=signers, issuer_of=dict(world.issuer_of, ca=CA))


POLICY = IntakePolicy(home=US)


def chain(fed: World, n: int, signer: str = "au_old", *, start: datetime = BEFORE) -> list[Envelope]:
    out: list[Envelope] = []
    for seq in range(1, n + 1):
        out.append(
            fed.statement(
                signer,
                seq=seq,
                prev_digest=out[-1].digest if out else GENESIS_DIGEST,
                issued_at=start + timedelta(hours=seq),
                body_type="flag",
                body=encode_body(a_flag()),
            )
        )
    return out


def checkpoint(fed: World, envs: Sequence[Envelope], signer: str = "au_old", *, at: datetime | None = None) -> SignedCheckpoint:  # fmt: skip
    return sign_checkpoint(
        fed.signers[signer],
        issuer=AU,
        seq=envs[-1].seq,
        head_digest=envs[-1].digest,
        time=at or envs[-1].header.issued_at + timedelta(minutes=1),
        signatures_digest=roll_signatures(GENESIS_SIGNATURES, envs),
    )


def cosign(fed: World, scp: SignedCheckpoint, witness: str, at: datetime) -> SignedCosignature:
    return sign_cosignature(fed.signers[witness], checkpoint=scp, witness=fed.issuer_of[witness], time=at)


def judge(fed: World, env: Envelope, view: FakeView, *, received_at: datetime = LATE, policy: IntakePolicy = POLICY):  # type: ignore[no-untyped-def]  # fmt: skip
    return admit(
        env, directory=fed.directory, policy=policy, view=view, received_at=received_at, received_from=NZ
    )


def test_proven_time_is_our_receipt_when_nobody_witnessed(fed: World) -> None:
    [env] = chain(fed, 1)
    view = FakeView()
    got = proven_time(AU, 1, env.digest, view=view, policy=POLICY, received_at=LATE)
    assert (got.at, got.by) == (LATE, "its receipt here")
    # received while the key was valid, or within the grace after: judged as before
    assert judge(fed, env, view, received_at=CLOSED - timedelta(days=1)).violation is None
    assert judge(fed, env, view, received_at=CLOSED + POLICY.witness_grace).violation is None
    # first seen later, with no witness: refused, nothing to store
    with pytest.raises(KeyUnwitnessed) as refused:
        judge(fed, env, view, received_at=CLOSED + POLICY.witness_grace + timedelta(seconds=1))
    text = str(refused.value)
    assert "AU-ABF seq 1 is signed by key" in text and "window closed 2026-07-01T00:00:00+00:00" in text
    assert "its receipt here" in text and "needs 2 witnesses' cosignatures" in text
    # a key with an open window is never looked at, however late
    [fresh] = chain(fed, 1, "au_new", start=datetime(2026, 8, 1, tzinfo=UTC))
    assert judge(fed, fresh, FakeView()).violation is None


def test_a_quorum_of_witnesses_proves_history_signed_before_the_rotation(fed: World) -> None:
    envs = chain(fed, 3)
    scp = checkpoint(fed, envs)
    view = FakeView(cosignatures=[cosign(fed, scp, "nz", BEFORE + timedelta(days=1)), cosign(fed, scp, "ca", BEFORE + timedelta(days=2))])  # fmt: skip
    view.ahead = {(AU, e.seq): e.digest for e in envs}  # the run being admitted, hash-linked
    got = proven_time(AU, 1, envs[0].digest, view=view, policy=POLICY, received_at=LATE)
    # the quorum's time is the second witness's: one alone could have backdated its own
    assert got.at == BEFORE + timedelta(days=2)
    assert "the cosignatures of 2 witnesses (NZ-CS 2026-06-21" in got.by and "CA-CBSA 2026-06-22" in got.by
    for env in envs:
        admission = judge(fed, env, view)
        assert admission.violation is None
        view.hold(admission, LATE)
    # the head cosigned at seq 3 says nothing about a statement the view cannot link to it
    unlinked = FakeView(cosignatures=view.cosignatures)
    with pytest.raises(KeyUnwitnessed):
        judge(fed, envs[0], unlinked)
    # exactly at the cosigned seq, the head digest is the link
    assert judge(fed, envs[2], unlinked).violation is None


def test_one_backdated_hostile_cosignature_is_not_enough(fed: World) -> None:
    envs = chain(fed, 1)
    scp = checkpoint(fed, envs)
    hostile = cosign(fed, scp, "nz", BEFORE)  # NZ-CS backdates its cosignature
    honest_but_late = cosign(fed, scp, "ca", CLOSED + timedelta(days=10))
    # the issuer cannot witness itself (admission refuses that), and it never counts here
    selfie = cosign(fed, scp, "au_new", BEFORE)
    view = FakeView(cosignatures=[hostile, honest_but_late, selfie])
    got = proven_time(AU, 1, envs[0].digest, view=view, policy=POLICY, received_at=LATE)
    assert got.at == CLOSED + timedelta(days=10)
    with pytest.raises(KeyUnwitnessed):
        judge(fed, envs[0], view)
    # the same hostile cosignature twice is still one witness
    with pytest.raises(KeyUnwitnessed):
        judge(
            fed,
            envs[0],
            FakeView(cosignatures=[hostile, cosign(fed, scp, "nz", BEFORE + timedelta(hours=1))]),
        )
    # with a quorum of one (a policy that trusts any single partner), it would do
    assert judge(fed, envs[0], FakeView(cosignatures=[hostile]), policy=dataclasses.replace(POLICY, witness_quorum=1)).violation is None  # fmt: skip
    # our own cosignature is honest on its own
    assert judge(fed, envs[0], FakeView(cosignatures=[cosign(fed, scp, "us", BEFORE)])).violation is None


def test_the_honest_continuation_witnessed_proves_nothing_about_a_forged_one(fed: World) -> None:
    # AU-ABF's honest seq 2 was cosigned by both witnesses before the rotation; the thief
    # signs another seq 2 with the retired key, dated before the rotation too
    history = chain(fed, 2)
    scp = checkpoint(fed, history)
    view = FakeView(cosignatures=[cosign(fed, scp, w, BEFORE + timedelta(days=1)) for w in ("nz", "ca")])
    view.ahead = {(AU, e.seq): e.digest for e in history}
    view.hold(judge(fed, history[0], view), LATE)
    forged = fed.statement(
        "au_old", seq=2, prev_digest=history[0].digest, issued_at=BEFORE + timedelta(hours=3), body=b"forged"
    )
    # whether the view is admitting the forged run or (wrongly) the honest one: never proven
    for ahead in ({(AU, 2): forged.digest}, view.ahead):
        view.ahead = ahead
        with pytest.raises(KeyUnwitnessed):
            judge(fed, forged, view)
    assert judge(fed, history[1], view).violation is None


def test_a_revoked_key_is_refused_whatever_the_witnesses_say(fed: World) -> None:
    env = fed.statement("nz_revoked", seq=1, issued_at=BEFORE)
    scp = sign_checkpoint(fed.signers["nz"], issuer=NZ, seq=1, head_digest=env.digest, time=BEFORE)
    view = FakeView(cosignatures=[cosign(fed, scp, w, BEFORE) for w in ("us", "ca", "au_new")])
    with pytest.raises(KeyRevoked):
        admit(env, directory=fed.directory, policy=POLICY, view=view, received_at=BEFORE, received_from=NZ)


def test_a_checkpoint_under_a_retired_key_needs_witnesses_of_its_own_head(fed: World) -> None:
    envs = chain(fed, 2)
    scp = checkpoint(fed, envs)

    def judge_checkpoint(view: FakeView) -> None:
        admit_checkpoint(
            scp, directory=fed.directory, policy=POLICY, view=view, received_at=LATE, received_from=NZ
        )

    with pytest.raises(KeyUnwitnessed, match="checkpoint of AU-ABF at seq 2"):
        judge_checkpoint(FakeView())
    witnessed = [cosign(fed, scp, w, BEFORE + timedelta(days=1)) for w in ("nz", "ca")]
    judge_checkpoint(FakeView(cosignatures=witnessed))
    # the witnesses cosigned the same head under another signatures digest: not this checkpoint
    other = sign_checkpoint(fed.signers["au_old"], issuer=AU, seq=2, head_digest=envs[-1].digest,
                            time=scp.checkpoint.time, signatures_digest=b"\x01" * 32)  # fmt: skip
    with pytest.raises(KeyUnwitnessed):
        judge_checkpoint(FakeView(cosignatures=[cosign(fed, other, w, BEFORE) for w in ("nz", "ca")]))
    # received in time, it needs nobody
    admit_checkpoint(scp, directory=fed.directory, policy=POLICY, view=FakeView(), received_at=BEFORE + timedelta(days=1))  # fmt: skip


@dataclasses.dataclass
class Reads:
    """What StoreView reads of a store, in memory."""

    held: dict[tuple[str, int], Envelope] = dataclasses.field(default_factory=dict)
    cosignatures: list[SignedCosignature] = dataclasses.field(default_factory=list)
    cosignature_reads: int = 0

    def get(self, issuer: str, seq: int) -> StoredStatement | None:
        env = self.held.get((issuer, seq))
        return None if env is None else StoredStatement(envelope=env, received_from="", received_at=BEFORE)

    def head(self, issuer: str) -> None:
        return None

    def cosignatures_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCosignature]:
        self.cosignature_reads += 1
        return [c for c in self.cosignatures if c.issuer == issuer and after_seq < c.seq <= upto_seq]

    def checkpoint_at_or_before(self, issuer: str, seq: int) -> None:
        return None

    def membership(self, issuer: str, programme: str, member_id: str) -> None:
        return None


def test_store_view_links_a_run_only_through_its_hash_chain(fed: World) -> None:
    envs = chain(fed, 4)
    scp = checkpoint(fed, envs)
    reads = Reads(cosignatures=[cosign(fed, scp, w, BEFORE + timedelta(days=1)) for w in ("nz", "ca")])
    view = StoreView(reads)  # type: ignore[arg-type]
    view.expect(envs)
    for env in envs:
        view.add(judge(fed, env, view), LATE)  # type: ignore[arg-type]
    assert reads.cosignature_reads == 1  # one read for the whole run
    # a run whose link breaks at seq 3: the head at seq 4 is not ours to claim for seq 1..2
    broken = [
        *envs[:2],
        fed.statement("au_old", seq=3, prev_digest=GENESIS_DIGEST, issued_at=BEFORE),
        envs[3],
    ]
    view = StoreView(reads)  # type: ignore[arg-type]
    view.expect(broken)
    assert view.chain_digest(AU, 2) == envs[1].digest and view.chain_digest(AU, 4) is None
    with pytest.raises(KeyUnwitnessed):
        judge(fed, broken[0], view)  # type: ignore[arg-type]
