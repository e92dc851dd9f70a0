"""The one admission path, rule by rule, against a hostile issuer whose statements verify.

Every statement here is correctly signed with a key the directory lists; each case shows
what admission makes of it: refused (nothing stored), or kept as evidence with the rule it
broke and no index effect. The view is a plain in-memory fake: no store, no sockets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import T0, World

from borderx.errors import BadSignature, KeyNotValid, KeyUnwitnessed, OwnChainForged, RuleViolation
from borderx.statements.bodies import (
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    Severity,
    StatementRef,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
)
from borderx.statements.body_codec import encode_body, flag_to_proto
from borderx.statements.intake import (
    Admission,
    IntakePolicy,
    StoreView,
    admit,
    admit_checkpoint,
    admit_run,
    time_floor,
)
from borderx.statements.model import GENESIS_DIGEST, Envelope, Signature, SignedCheckpoint, SignedCosignature
from borderx.statements.rules import validate_body_checked
from borderx.store import open_store
from borderx.store.base import IndexEffects, Store

AU, US, NZ = "AU-ABF", "US-CBP", "NZ-CS"
ABN = PartyId("ABN", "51824753556")
LATER = datetime(2026, 9, 1, tzinfo=UTC)  # au_new is valid from 2026-06-01


def _ids(env: Envelope, _body: object = None) -> IndexEffects:
    return IndexEffects(kind=env.header.body_type, ids=(("ABN", "51824753556"),))


@dataclass
class FakeView:
    statements: dict[tuple[str, int], tuple[Envelope, datetime]] = field(default_factory=dict)
    checkpoints: dict[str, list[SignedCheckpoint]] = field(default_factory=dict)
    members: dict[tuple[str, str, str], tuple[int, str]] = field(default_factory=dict)
    cosignatures: list[SignedCosignature] = field(default_factory=list)
    #: (issuer, seq) → digest of a hash-linked run being admitted (what StoreView.expect knows)
    ahead: dict[tuple[str, int], bytes] = field(default_factory=dict)

    def chain_digest(self, issuer: str, seq: int) -> bytes | None:
        if (issuer, seq) in self.ahead:
            return self.ahead[(issuer, seq)]
        held = self.statements.get((issuer, seq))
        return None if held is None else held[0].digest

    def cosignatures_from(self, issuer: str, seq: int) -> list[SignedCosignature]:
        return [c for c in self.cosignatures if c.issuer == issuer and c.seq >= seq]

    def statement(self, issuer: str, seq: int) -> tuple[Envelope, datetime] | None:
        return self.statements.get((issuer, seq))

    def checkpoint_floor(self, issuer: str, seq: int) -> datetime | None:
        times = [c.checkpoint.time for c in self.checkpoints.get(issuer, []) if c.seq < seq]
        return max(times) if times else None

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        return self.members.get((issuer, programme, member_id))

    def hold(self, admission: Admission, received_at: datetime = LATER) -> None:
        env = admission.envelope
        self.statements[(env.issuer, env.seq)] = (env, received_at)
        if admission.membership:
            programme, member, status = admission.membership
            self.members[(env.issuer, programme, member)] = (env.seq, status)


class Chain:
    def __init__(self, world: World, signer: str = "au_new") -> None:
        self.world, self.signer = world, signer
        self.envs: list[Envelope] = []

    def next(self, body: object, *, at: datetime | None = None, audience: tuple[str, ...] = (), raw: bytes | None = None,
             body_type: str | None = None) -> Envelope:  # fmt: skip
        prev = self.envs[-1] if self.envs else None
        seq = len(self.envs) + 1
        env = self.world.statement(
            self.signer,
            seq=seq,
            prev_digest=prev.digest if prev else GENESIS_DIGEST,
            issued_at=at or LATER + timedelta(minutes=seq),
            audience=audience,
            body_type=body_type
            or (
                "designation"
                if isinstance(body, Designation)
                else "withdrawal"
                if isinstance(body, Withdrawal)
                else "flag"
            ),
            body=raw if raw is not None else encode_body(body),  # type: ignore[arg-type]
        )
        self.envs.append(env)
        return env


def designation(status: DesignationStatus = DesignationStatus.CERTIFIED, *, programme: str = "AU_ATT",
                member: str = "M-1", supersedes: StatementRef | None = None) -> Designation:  # fmt: skip
    return Designation(
        party=Party(legal_name="Trader", ids=(ABN,)),
        programme=programme,
        member_id=member,
        level="",
        status=status,
        status_reason="" if status is DesignationStatus.CERTIFIED else "audit",
        consent_to_share=True,
        supersedes=supersedes,
    )


def a_flag(*, observed: datetime = T0) -> ViolationFlag:
    return ViolationFlag(
        subject=Party(legal_name="Seller", ids=(ABN,)),
        category=FlagCategory.IPR_COUNTERFEIT,
        evidence=Evidence.CONFIRMED,
        severity=Severity.HIGH,
        observed_at=observed,
    )


def withdraw(seq: int, issuer: str = AU) -> Withdrawal:
    return Withdrawal(
        target=StatementRef(issuer, seq), reason=WithdrawalReason.ISSUED_IN_ERROR, effective_at=T0
    )


@pytest.fixture
def policy() -> IntakePolicy:
    return IntakePolicy(home=US, indexer=_ids)


def run(world: World, policy: IntakePolicy, view: FakeView, env: Envelope, *, received_from: str = "AU-ABF",
        received_at: datetime = LATER + timedelta(hours=1), **kw: object) -> Admission:  # fmt: skip
    admission = admit(
        env, directory=world.directory, policy=policy, view=view, received_at=received_at,
        received_from=received_from, **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    view.hold(admission, received_at)
    return admission


def broke(admission: Admission) -> str:
    assert admission.violation is not None, "expected a rule violation"
    # a rule-breaking statement changes nobody's screening
    assert admission.effects.ids == () and admission.effects.membership is None
    assert admission.effects.supersedes is None and admission.effects.withdraws is None
    return admission.violation.rule


# ---------------------------------------------------------------- refusals: nothing is stored


def test_a_bad_signature_is_refused(world: World, policy: IntakePolicy) -> None:
    env = Chain(world).next(a_flag())
    forged = dataclasses.replace(env, signatures=(Signature(env.signatures[0].key_id, bytes(64)),))
    with pytest.raises(BadSignature):
        run(world, policy, FakeView(), forged)


def test_a_statement_in_our_own_name_from_a_peer_is_proof_of_a_stolen_key(world: World) -> None:
    policy = IntakePolicy(home=AU, indexer=_ids)
    env = Chain(world).next(a_flag())
    with pytest.raises(OwnChainForged, match=r"AU-ABF seq 1 arrived from NZ-CS, signed with AU-ABF's key"):
        run(world, policy, FakeView(), env, received_from=NZ)
    # made here (Publish): admitted like any other
    assert run(world, policy, FakeView(), env, received_from="").violation is None


# ---------------------------------------------------------------- body rules with the issuer


def test_programme_ownership_is_checked_with_the_issuer(world: World, policy: IntakePolicy) -> None:
    admission = run(world, policy, FakeView(), Chain(world).next(designation(programme="CTPAT")))
    assert broke(admission) == "body.programme_owner"
    assert "only US-CBP may designate in CTPAT" in str(admission.violation)


def test_unknown_enum_values_and_non_canonical_bytes_are_evidence(world: World, policy: IntakePolicy) -> None:
    msg = flag_to_proto(a_flag())
    msg.category = 999
    chain = Chain(world)
    assert (
        broke(
            run(
                world,
                policy,
                (v := FakeView()),
                chain.next(None, raw=msg.SerializeToString(), body_type="flag"),
            )
        )
        == "body.decode"
    )
    # the same content with an unknown field appended: signed, decodable, not canonical
    extra = encode_body(a_flag()) + b"\xf8\x07\x01"  # field 127, varint 1
    assert broke(run(world, policy, v, chain.next(None, raw=extra, body_type="flag"))) == "body.canonical"  # fmt: skip


def test_identifiers_must_be_signed_in_their_normal_form(world: World, policy: IntakePolicy) -> None:
    body = a_flag()
    spaced = dataclasses.replace(
        body, subject=Party(legal_name="Seller", ids=(PartyId("ABN", "51 824 753 556"),))
    )
    assert broke(run(world, policy, FakeView(), Chain(world).next(spaced))) == "body.normal_form"


def test_a_flag_observed_in_the_future_is_evidence(world: World, policy: IntakePolicy) -> None:
    env = Chain(world).next(a_flag(observed=LATER + timedelta(days=30)))
    assert broke(run(world, policy, FakeView(), env)) == "body.rule"


# ---------------------------------------------------------------- a body checked before signing (Publish)


def _published(world: World, policy: IntakePolicy, body: Designation | ViolationFlag, *, checked_at: datetime,
               received_at: datetime, owners: object = None, checked_body: object = None) -> Admission:  # fmt: skip
    """Admit ``body`` as Publish does, with the rules' proof made at ``checked_at`` on ``checked_body``."""
    _, check = validate_body_checked(
        checked_body or body,  # type: ignore[arg-type]
        issuer=AU,
        owners=owners or world.directory.programme_owners(),  # type: ignore[arg-type]
        levels=policy.levels,
        limits=policy.limits,
        now=checked_at,
    )
    assert check is not None, "the body was in normal form: a check is made"
    env = Chain(world).next(body)
    return admit(env, directory=world.directory, policy=policy, view=FakeView(), received_at=received_at,
                 signed_here=True, encoded=body, checked=check)  # fmt: skip


def test_a_check_made_on_the_same_body_with_the_same_arguments_stands(world: World) -> None:
    policy = IntakePolicy(home=AU, indexer=_ids)
    flag = a_flag(observed=LATER)
    at = LATER + timedelta(hours=1)
    assert _published(world, policy, flag, checked_at=at, received_at=at).violation is None


def test_a_check_made_at_another_time_does_not_stand_for_admission(world: World) -> None:
    # valid by the publisher's later clock, in the future by admission's: the rules run again
    policy = IntakePolicy(home=AU, indexer=_ids)
    flag = a_flag(observed=LATER + timedelta(days=30))
    admission = _published(world, policy, flag, checked_at=LATER + timedelta(days=31), received_at=LATER)
    assert broke(admission) == "body.rule"


def test_a_check_of_another_body_does_not_stand_for_this_one(world: World) -> None:
    policy = IntakePolicy(home=AU, indexer=_ids)
    admission = _published(world, policy, designation(programme="CTPAT"), checked_at=LATER, received_at=LATER,
                           checked_body=designation())  # fmt: skip
    assert broke(admission) == "body.programme_owner"


def test_a_check_against_other_programme_owners_does_not_stand(world: World) -> None:
    # the directory changed between signing and admission: ownership is asked again
    policy = IntakePolicy(home=AU, indexer=_ids)
    owners = {**world.directory.programme_owners(), "CTPAT": AU}
    admission = _published(world, policy, designation(programme="CTPAT"), checked_at=LATER, received_at=LATER,
                           owners=owners)  # fmt: skip
    assert broke(admission) == "body.programme_owner"


def test_a_checked_body_is_only_taken_for_a_statement_signed_here(world: World, policy: IntakePolicy) -> None:
    body = a_flag()
    _, check = validate_body_checked(body, issuer=AU, owners=world.directory.programme_owners(), now=LATER)
    with pytest.raises(ValueError, match="only taken for a statement signed here"):
        run(world, policy, FakeView(), Chain(world).next(body), checked=check)


# ---------------------------------------------------------------- time


def test_a_statement_dated_before_its_predecessor_is_evidence(world: World, policy: IntakePolicy) -> None:
    chain, view = Chain(world), FakeView()
    run(world, policy, view, chain.next(a_flag(), at=LATER + timedelta(hours=2)))
    admission = run(world, policy, view, chain.next(withdraw(1), at=LATER + timedelta(hours=1)))
    assert broke(admission) == "time.before_predecessor"


def test_a_retired_key_cannot_backdate_past_the_issuers_heartbeat(world: World, policy: IntakePolicy) -> None:
    # au_old is valid until 2026-07-01; the issuer rotated to au_new, which heartbeats already
    old = Chain(world, "au_old")
    view = FakeView()
    first = old.next(a_flag(), at=datetime(2026, 6, 20, tzinfo=UTC))
    run(world, policy, view, first, received_at=datetime(2026, 6, 20, tzinfo=UTC))
    heartbeat = world.checkpoint(first, "au_new", time=datetime(2026, 6, 28, tzinfo=UTC))
    view.checkpoints[AU] = [heartbeat]
    # the retired key signs a withdrawal dated inside its window: it verifies, and is refused
    late = old.next(withdraw(1), at=datetime(2026, 6, 25, tzinfo=UTC))
    admission = run(world, policy, view, late, received_at=datetime(2026, 6, 30, tzinfo=UTC))
    assert broke(admission) == "time.before_predecessor"
    assert "checkpoint AU-ABF signed at 2026-06-28" in str(admission.violation)
    # first seen after the key's window closed (and no witness saw it before): not even stored
    # (test_witnessed_time.py has the rule; before it, this was kept as evidence like the above)
    with pytest.raises(KeyUnwitnessed):
        run(world, policy, FakeView(), late, received_at=datetime(2026, 8, 2, tzinfo=UTC))
    # dated honestly, after the heartbeat, the retired key is outside its window: not even stored
    honest = Chain(world, "au_old")
    honest.envs = list(old.envs[:1])
    with pytest.raises(KeyNotValid):
        run(world, policy, view, honest.next(withdraw(1), at=datetime(2026, 8, 2, tzinfo=UTC)))


def test_statements_dated_past_the_skew_or_their_checkpoint_are_evidence(
    world: World, policy: IntakePolicy
) -> None:
    received = LATER + timedelta(hours=1)
    chain = Chain(world)
    ahead = chain.next(a_flag(), at=received + policy.max_skew + timedelta(seconds=1))
    assert broke(run(world, policy, (view := FakeView()), ahead, received_at=received)) == "time.future"
    within = Chain(world).next(a_flag(), at=received + policy.max_skew - timedelta(seconds=1))
    assert run(world, policy, FakeView(), within, received_at=received).violation is None
    covered = Chain(world).next(a_flag(), at=LATER)
    assert (
        broke(run(world, policy, FakeView(), covered, ceiling=LATER - timedelta(seconds=1)))
        == "time.after_checkpoint"
    )
    # a future-dated predecessor does not push its successors out past receipt + skew
    nxt = chain.next(a_flag(), at=received + policy.max_skew)
    assert run(world, policy, view, nxt, received_at=received).violation is None
    assert time_floor(view, AU, 3, policy) == nxt.header.issued_at


def test_checkpoints_dated_in_the_future_or_before_their_head_are_refused(
    world: World, policy: IntakePolicy
) -> None:
    chain, view = Chain(world), FakeView()
    head = chain.next(a_flag())
    run(world, policy, view, head)
    now = LATER + timedelta(hours=1)
    for when, rule in ((now + timedelta(days=700), "time.future"), (head.header.issued_at - timedelta(seconds=1), "time.before_statement")):  # fmt: skip
        with pytest.raises(RuleViolation) as refused:
            admit_checkpoint(world.checkpoint(head, "au_new", time=when), directory=world.directory, policy=policy,
                             view=view, received_at=now, received_from=NZ)  # fmt: skip
        assert refused.value.rule == rule
    admit_checkpoint(world.checkpoint(head, "au_new"), directory=world.directory, policy=policy, view=view,
                     received_at=now, received_from=NZ)  # fmt: skip


def test_a_checkpoint_in_our_own_name_for_a_head_we_never_had(world: World) -> None:
    policy = IntakePolicy(home=AU, indexer=_ids)
    env = Chain(world).next(a_flag())
    with pytest.raises(OwnChainForged, match="head this gateway never had"):
        admit_checkpoint(world.checkpoint(env, "au_new"), directory=world.directory, policy=policy, view=FakeView(),
                         received_at=LATER + timedelta(hours=1), received_from=NZ)  # fmt: skip


# ---------------------------------------------------------------- references and audiences


def test_a_withdrawal_reads_no_wider_than_its_target(world: World, policy: IntakePolicy) -> None:
    chain, view = Chain(world), FakeView()
    run(world, policy, view, chain.next(a_flag(), audience=(US,)))
    assert broke(run(world, policy, view, chain.next(withdraw(1)))) == "audience.wider_than_target"
    assert (
        broke(run(world, policy, view, chain.next(withdraw(1), audience=(US, NZ))))
        == "audience.wider_than_target"
    )
    ok = run(world, policy, view, chain.next(withdraw(1), audience=(US,)))
    assert ok.violation is None and ok.effects.withdraws == (AU, 1)


def test_a_withdrawal_must_target_an_earlier_statement_of_its_issuer(
    world: World, policy: IntakePolicy
) -> None:
    chain, view = Chain(world), FakeView()
    run(world, policy, view, chain.next(a_flag()))
    assert broke(run(world, policy, view, chain.next(withdraw(5)))) == "reference.not_earlier"
    assert broke(run(world, policy, view, chain.next(withdraw(1, issuer=US)))) == "body.rule"


# ---------------------------------------------------------------- memberships


def test_one_current_designation_per_membership(world: World, policy: IntakePolicy) -> None:
    chain, view = Chain(world), FakeView()
    first = run(world, policy, view, chain.next(designation()))
    assert first.effects.membership == ("AU_ATT", "M-1", "CERTIFIED") and first.effects.supersedes is None
    renewal = run(world, policy, view, chain.next(designation()))
    assert renewal.effects.supersedes == (AU, 1)  # automatically, without naming it
    suspended = run(
        world,
        policy,
        view,
        chain.next(designation(DesignationStatus.SUSPENDED, supersedes=StatementRef(AU, 2))),
    )
    assert suspended.violation is None and suspended.effects.supersedes == (AU, 2)
    # naming an older statement than the membership's latest revives nothing
    stale = run(world, policy, view, chain.next(designation(supersedes=StatementRef(AU, 1))))
    assert broke(stale) == "membership.supersedes_not_latest"
    revoked = run(world, policy, view, chain.next(designation(DesignationStatus.REVOKED)))
    assert revoked.effects.supersedes == (AU, 3)
    again = run(world, policy, view, chain.next(designation()))
    assert broke(again) == "membership.status_transition"
    assert "REVOKED is final" in str(again.violation)
    # another membership of the same trader is its own
    other = run(world, policy, view, chain.next(designation(member="M-2")))
    assert other.violation is None and other.effects.supersedes is None


# ---------------------------------------------------------------- a run at once (replication)


class CountingReads:
    """A store whose membership reads are counted (one per statement, or one per run)."""

    def __init__(self, store: Store) -> None:
        self.store, self.single, self.batched = store, 0, 0

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        self.single += 1
        return self.store.membership(issuer, programme, member_id)

    def memberships(
        self, issuer: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        self.batched += 1
        return self.store.memberships(issuer, keys)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_a_run_is_admitted_as_one_by_one_with_its_memberships_read_at_once(
    world: World, policy: IntakePolicy, tmp_path: Path
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    at = LATER + timedelta(hours=1)
    chain = Chain(world)
    first = run(world, policy, FakeView(), chain.next(designation(member="M-1")), received_at=at)
    store.append([first.entry(AU)])
    envs = [
        chain.next(designation(DesignationStatus.REVOKED, member="M-1")),
        chain.next(designation(member="M-2")),
        chain.next(designation(member="M-1")),  # REVOKED is final: kept as evidence
        chain.next(
            designation(member="M-3"), raw=encode_body(designation(member="M-3")) + bytes([0xF8, 0x07, 0x01])
        ),
        chain.next(a_flag()),
    ]
    good = chain.next(designation(member="M-4"))
    envs.append(dataclasses.replace(good, signatures=(Signature(good.signatures[0].key_id, bytes(64)),)))
    kw = {"directory": world.directory, "policy": policy, "received_at": at, "received_from": AU}

    one_by_one: list[Admission] = []
    view = StoreView(store)
    view.expect(envs)
    for env in envs[:-1]:
        one_by_one.append(admission := admit(env, view=view, **kw))  # type: ignore[arg-type]
        view.add(admission, at)
    with pytest.raises(BadSignature):
        admit(envs[-1], view=view, **kw)  # type: ignore[arg-type]
    reads = CountingReads(store)
    at_once, failure = admit_run(envs, view=StoreView(reads), **kw)  # type: ignore[arg-type]

    def verdicts(admissions: list[Admission]) -> list[tuple[object, ...]]:
        return [(a.envelope, a.effects, a.violation and (a.violation.rule, str(a.violation)), a.verified)
                for a in admissions]  # fmt: skip

    assert verdicts(at_once) == verdicts(one_by_one)
    assert isinstance(failure, BadSignature) and len(at_once) == 5
    assert [a.violation and a.violation.rule for a in at_once] == [
        None, None, "membership.status_transition", "body.canonical", None,
    ]  # fmt: skip
    # M-1 (held) and M-2, M-3 read in one query, none one by one
    assert (reads.batched, reads.single) == (1, 0)
    store.close()
