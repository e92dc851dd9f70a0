"""The one admission path (DESIGN §8): what a gateway accepts, whatever door a statement uses.

Publish (drafts and pre-signed envelopes), replication, ``borderx store copy`` and
``borderx store rebuild-index`` all call :func:`admit` for each statement (replication
through :func:`admit_run`, which runs it over a run of one issuer) and
:func:`admit_checkpoint` for each checkpoint. Nothing else decides what a signed
statement means for screening. The checks, in order:

1. **signatures and keys** on the exact bytes (``verify.verify_statement``) — a failure is
   a refusal: nothing is stored;
2. **own chain**: a statement in this gateway's own agency's name arriving from a peer is
   never adopted; a statement this gateway did not make proves its key is compromised
   (``OwnChainForged``);
3. **audience**: a body that reached a member outside its audience is dropped (the header
   is kept, redacted), and the delivery is reported;
4. **witnessed time** (only for a key whose window has closed): a statement signed by a key
   whose window closed, beyond ``witness_grace``, before its *proven time* — the earliest
   time an honest party can vouch it existed: our receipt, or the time by which a quorum
   of witnesses had cosigned a head that contains it (:func:`proven_time`) — is refused
   (``KeyUnwitnessed``): it cannot be told from a backdated forgery by a stolen retired key;
5. **time**: a statement is issued no earlier than its predecessor (as far as the
   predecessor's own date was believable: never later than its receipt plus the skew) and
   no earlier than any checkpoint of a lower seq — so the issuer's heartbeat checkpoints
   bound what a retired key can still sign — no later than receipt plus the skew, and no
   later than a checkpoint that covers it;
6. **body**: strict decode, canonical bytes (re-encoding gives the signed bytes back), the
   DESIGN §4 rules applied with the issuer (programme ownership, identifier normal forms …);
7. **references and memberships**: a withdrawal targets an earlier statement of its own
   issuer and reads no wider than it; a designation becomes the one current designation of
   its membership (issuer, programme, member id), superseding the latest automatically (or
   naming it), with the status move CERTIFIED ⇄ SUSPENDED → REVOKED checked against it.

A statement that passes 1–4 but breaks a rule of 5–7 is still part of its issuer's chain:
it is stored as **signed evidence** with no index effect (``IndexEffects.violation``), and
the caller raises an alarm naming issuer, seq and rule. Publish refuses it instead.

Everything here is pure: the chain, checkpoints and memberships are read through a
:class:`ChainView`, which the caller backs with the store, the current batch, or (for an
index rebuild) state accumulated in memory.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from borderx.bounds import INT64_MAX
from borderx.directory.model import Directory, SigningKey
from borderx.errors import InvalidArgument, KeyUnwitnessed, OwnChainForged, RuleViolation, VerificationError
from borderx.statements.bodies import (
    Body,
    BodyType,
    Designation,
    DesignationStatus,
    StatementRef,
    Withdrawal,
)
from borderx.statements.body_codec import decode_strict
from borderx.statements.chain import ChainHead
from borderx.statements.model import Envelope, SignedCheckpoint, SignedCosignature
from borderx.statements.rules import (
    DEFAULT_LIMITS,
    DEFAULT_PROGRAMME_LEVELS,
    BodyCheck,
    BodyLimits,
    check_status_transition,
    validate_body,
)
from borderx.statements.verify import verify_checkpoint, verify_cosignature, verify_statement
from borderx.statements.witness import SplitView, split_view
from borderx.store.base import NO_EFFECTS, IndexEffects, NewStatement, StoredStatement

#: the indexer a gateway screens with (``screening.index.index_effects``): body → ids, expiry;
#: called with the envelope and its body as admission decoded it (never parsed twice)
Indexer = Callable[[Envelope, Body], IndexEffects]


def _no_index(env: Envelope, _body: Body) -> IndexEffects:
    return IndexEffects(kind=env.header.body_type) if env.body is not None else NO_EFFECTS


@dataclass(frozen=True)
class IntakePolicy:
    """What admission needs besides the directory: who we are, the rules' tables, the skew.

    Programme ownership is not here: it is the directory's (``Directory.programme_owners``),
    read from the directory each statement is admitted against.

    ``home`` is this gateway's agency. ``max_skew`` bounds how far ahead of receipt a
    statement or checkpoint may be dated (clocks of honest gateways differ by less).

    ``witness_quorum`` is how many distinct witnesses (partners other than the issuer) must
    have cosigned a head containing a statement before their cosignatures count as proof of
    when it existed: one witness can backdate its own cosignature, so 1 trusts any single
    partner. ``witness_grace`` is how long after a key's window closed a statement signed
    under it may still be first seen (receipt or quorum): the time for an honest statement
    signed just before a rotation to be checkpointed, replicated and cosigned.
    """

    home: str
    levels: Mapping[str, frozenset[str]] = field(default_factory=lambda: dict(DEFAULT_PROGRAMME_LEVELS))
    limits: BodyLimits = DEFAULT_LIMITS
    max_skew: timedelta = timedelta(minutes=5)
    indexer: Indexer = _no_index
    witness_quorum: int = 2
    witness_grace: timedelta = timedelta(minutes=5)


class ChainView(Protocol):
    """What admission reads about what is already held (or admitted earlier in a batch)."""

    def statement(self, issuer: str, seq: int) -> tuple[Envelope, datetime] | None:
        """The held envelope at (issuer, seq) and when it was received, if held."""

    def checkpoint_floor(self, issuer: str, seq: int) -> datetime | None:
        """The latest time of a held checkpoint of ``issuer`` at a seq below ``seq``."""

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        """(seq, status) of the membership's latest conforming designation, if any."""

    def chain_digest(self, issuer: str, seq: int) -> bytes | None:
        """The digest at ``seq`` of the one chain of ``issuer`` this view holds or is admitting.

        Every digest a view returns for one issuer must be hash-linked to every other it
        returns (held statements, or a run whose ``prev_digest`` links were checked):
        :func:`proven_time` takes a cosigned head at a higher seq as proof that a statement
        existed only through this.
        """

    def cosignatures_from(self, issuer: str, seq: int) -> Sequence[SignedCosignature]:
        """Held cosignatures of ``issuer``'s checkpoints at a seq >= ``seq`` (admitted ones only).

        A view may leave out those above every seq ``chain_digest`` can answer for.
        """


@dataclass(frozen=True)
class Admission:
    """The verdict on one statement that may be stored.

    ``envelope`` is what to store (redacted when a body reached us outside its audience:
    ``audience_breach`` is then True). ``violation`` is the rule broken, if any; then
    ``effects`` carry only that. ``body`` is the decoded body of a conforming statement.
    """

    envelope: Envelope
    effects: IndexEffects
    violation: RuleViolation | None = None
    audience_breach: bool = False
    body: Body | None = None
    #: False: admitted on a checkpoint's authority, the Ed25519 check still to be done
    verified: bool = True

    def entry(self, received_from: str) -> NewStatement:
        return NewStatement(self.envelope, received_from, self.effects, verified=self.verified)

    @property
    def membership(self) -> tuple[str, str, str] | None:
        return self.effects.membership


def membership_key(body: Designation) -> str:
    """The member id a membership is keyed by; without one, the party's identifiers."""
    if body.member_id:
        return body.member_id
    return "ids:" + ";".join(sorted(f"{i.scheme}:{i.value}" for i in body.party.ids))


def _at(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _audience_within(audience: Sequence[str], target: Sequence[str]) -> bool:
    """Whether ``audience`` reads no wider than ``target`` (empty = every member)."""
    if not target:
        return True
    return bool(audience) and set(audience) <= set(target)


# ---------------------------------------------------------------- statements


def admit(
    env: Envelope,
    *,
    directory: Directory,
    policy: IntakePolicy,
    view: ChainView,
    received_at: datetime,
    received_from: str = "",
    ceiling: datetime | None = None,
    vouched: bool = False,
    signed_here: bool = False,
    encoded: Body | None = None,
    checked: BodyCheck | None = None,
) -> Admission:
    """Admit ``env`` (see the module docstring). ``ceiling``: time of a checkpoint covering it.

    ``vouched``: the signature bytes are already bound to a checkpoint the issuer signed
    (its signatures digest, checked by ``checkpoints.verify_run``), so the Ed25519
    arithmetic may wait: everything else is checked now, and the statement is admitted
    with ``verified=False`` — stored and screened on the checkpoint's authority, but never
    relayed, exported or shown as verified until ``federation.sigcheck`` has checked every
    signature (a failure there is signed evidence against the issuer).

    ``signed_here``: a draft this gateway's own signer just signed over these exact bytes
    (Publish): the key, its window and the body digest are still checked, the Ed25519
    arithmetic on our own fresh signature is not repeated. With it, ``encoded`` may be the
    body the publisher encoded into ``env.body`` (``encode_body(encoded) == env.body``):
    the bytes are then not decoded again, and every rule runs on ``encoded``. ``checked``:
    the publisher's proof that the rules already passed on that very object with the
    arguments admission gives them (``rules.BodyCheck.covers``): they are then not run a
    second time; any other argument (another clock, another directory) runs them again.

    Raises VerificationError (bad signature, key, body digest: nothing may be stored;
    ``KeyUnwitnessed``: signed by a key whose window closed before the statement's proven
    time — honest late history waits for the witnesses' cosignatures) or OwnChainForged (a
    peer sent a statement in our own name). A broken rule is returned as
    ``Admission.violation``, never raised.
    """
    if (encoded is not None or checked is not None) and not signed_here:
        raise ValueError("an already decoded or checked body is only taken for a statement signed here")
    return _admit(
        env,
        directory=directory,
        policy=policy,
        view=view,
        received_at=received_at,
        received_from=received_from,
        ceiling=ceiling,
        vouched=vouched,
        signed_here=signed_here,
        decoded=encoded,
        checked=checked,
    )


def admit_run(
    run: Sequence[Envelope],
    *,
    directory: Directory,
    policy: IntakePolicy,
    view: StoreView,
    received_at: datetime,
    received_from: str = "",
    ceiling: datetime | None = None,
    vouched: bool = False,
) -> tuple[list[Admission], VerificationError | None]:
    """Admit ``run`` (one issuer, contiguous, in seq order) as :func:`admit` would one by one.

    Stops at the first statement that may not be stored at all: returns the admissions
    before it and its VerificationError (None when the whole run was admitted). Each
    admission counts as held for the next (``view.add``). The bodies are decoded first, so
    that the memberships of the run's designations are read in one query rather than one
    per statement; every check still runs per statement, in the order :func:`admit` runs them.
    """
    view.expect(run)
    decoded = [_decode_ahead(env, policy) for env in run]
    if run:
        view.prefetch_memberships(
            run[0].issuer,
            ((b.programme, membership_key(b)) for b in decoded if isinstance(b, Designation)),
        )
    out: list[Admission] = []
    for env, body in zip(run, decoded, strict=True):
        try:
            admission = _admit(
                env,
                directory=directory,
                policy=policy,
                view=view,
                received_at=received_at,
                received_from=received_from,
                ceiling=ceiling,
                vouched=vouched,
                decoded=body,
            )
        except VerificationError as exc:
            return out, exc
        view.add(admission, received_at)
        out.append(admission)
    return out, None


def _decode_ahead(env: Envelope, policy: IntakePolicy) -> Body | RuleViolation | None:
    """The body admission will check (or the rule its bytes break); None if it will not read one."""
    if env.body is None or (not env.header.readable_by(policy.home) and env.issuer != policy.home):
        return None  # redacted, or about to be (admission never reads a body outside its audience)
    try:
        return _decoded_body(env)
    except RuleViolation as violation:
        return violation


def _admit(
    env: Envelope,
    *,
    directory: Directory,
    policy: IntakePolicy,
    view: ChainView,
    received_at: datetime,
    received_from: str,
    ceiling: datetime | None,
    vouched: bool,
    decoded: Body | RuleViolation | None,
    signed_here: bool = False,
    checked: BodyCheck | None = None,
) -> Admission:
    """:func:`admit`; ``decoded``: the body this module decoded from ``env.body`` (or Publish encoded)."""
    verified = verify_statement(env, directory, cryptography=not (vouched or signed_here))
    issuer, seq = env.issuer, env.seq
    if received_from and issuer == policy.home:
        held = view.statement(issuer, seq)
        detail = (
            "a different statement at a seq this gateway holds" if held else "a seq this gateway never issued"
        )
        # our own chain is made here and nowhere else: anything else signed with our key
        # is proof the key is compromised, never a statement to adopt
        raise OwnChainForged(
            issuer,
            seq,
            f"{issuer} seq {seq} arrived from {received_from}, signed with {issuer}'s key: {detail}",
        )
    breach = False
    if env.body is not None and not env.header.readable_by(policy.home) and issuer != policy.home:
        # invariant 3: never keep a body we were not meant to see; keep the signed header
        env, breach = env.redact(), True
    _check_witnessed(
        verified.key_ids,
        directory=directory,
        policy=policy,
        received_at=received_at,
        proof=lambda: proven_time(issuer, seq, env.digest, view=view, policy=policy, received_at=received_at),
        what=f"{issuer} seq {seq}",
    )
    try:
        _check_time(env, view=view, policy=policy, received_at=received_at, ceiling=ceiling)
        if env.body is None:
            return Admission(env, NO_EFFECTS, audience_breach=breach, verified=not vouched)
        body = _check_body(
            env,
            policy=policy,
            owners=directory.programme_owners(),
            received_at=received_at,
            decoded=decoded,
            checked=checked,
        )
        effects = _references(env, body, view=view, policy=policy)
    except RuleViolation as violation:
        return Admission(
            env,
            IndexEffects.refused(env.header.body_type, f"{violation.rule}: {violation}"),
            violation=violation,
            audience_breach=breach,
            verified=not vouched,
        )
    return Admission(env, effects, audience_breach=breach, body=body, verified=not vouched)


@dataclass(frozen=True)
class ProvenTime:
    """The earliest time an honest party can vouch a statement (or checkpoint) existed, and who."""

    at: datetime
    #: who vouches: "its receipt here", or the witnesses whose cosignatures make the quorum
    by: str


def proven_time(
    issuer: str,
    seq: int,
    digest: bytes,
    *,
    view: ChainView,
    policy: IntakePolicy,
    received_at: datetime,
    signatures_digest: bytes | None = None,
) -> ProvenTime:
    """When statement ``seq`` of ``issuer`` (header digest ``digest``) provably existed.

    Our own receipt (``received_at``) is honest on its own. A witness's cosignature of a
    checkpoint whose head is this statement, or — through the hash chain the view vouches
    for (``ChainView.chain_digest``) — a later statement, proves the statement existed by
    the cosignature's time, *if the witness is honest*; so per witness (never the issuer)
    its earliest such cosignature counts, and the quorum's time is the ``witness_quorum``-th
    earliest of them: fewer than a quorum of hostile witnesses cannot make it earlier.
    Our own cosignatures (the home gateway's) count alone. The proven time is the earliest
    of these.

    ``signatures_digest``: judging a checkpoint (head ``digest`` at ``seq``), a cosignature
    at the same seq counts only over a checkpoint with the same signatures digest.
    """
    earliest: dict[str, datetime] = {}
    linked = view.chain_digest(issuer, seq) == digest
    for scos in view.cosignatures_from(issuer, seq):
        witness = scos.witness
        if witness == issuer or scos.issuer != issuer or scos.seq < seq:
            continue  # an issuer vouching for itself adds nothing (admission refuses it anyway)
        if scos.seq == seq:
            if scos.head_digest != digest:
                continue
            theirs = scos.cosignature.checkpoint.checkpoint.signatures_digest
            if signatures_digest is not None and theirs != signatures_digest:
                continue
        elif not linked or view.chain_digest(issuer, scos.seq) != scos.head_digest:
            continue  # a head we cannot link to this statement proves nothing about it
        when = scos.cosignature.time
        if witness not in earliest or when < earliest[witness]:
            earliest[witness] = when
    best = ProvenTime(received_at, "its receipt here")
    mine = earliest.pop(policy.home, None)
    if mine is not None and mine < best.at:
        best = ProvenTime(mine, f"this gateway's own cosignature ({policy.home}, {_at(mine)})")
    quorum = max(1, policy.witness_quorum)
    if len(earliest) >= quorum:
        ranked = sorted(earliest.items(), key=lambda item: item[1])[:quorum]
        at = ranked[-1][1]
        if at < best.at:
            names = ", ".join(f"{w} {_at(t)}" for w, t in ranked)
            best = ProvenTime(at, f"the cosignatures of {quorum} witnesses ({names})")
    return best


def _check_witnessed(
    key_ids: Sequence[str],
    *,
    directory: Directory,
    policy: IntakePolicy,
    received_at: datetime,
    proof: Callable[[], ProvenTime],
    what: str,
) -> None:
    """Refuse what a key signed if its window closed (beyond the grace) before the proven time.

    Only a key whose window had closed by receipt is looked at, so this costs a dictionary
    lookup per signature on the hot path. A revoked key never gets here (refused at any
    date by ``SigningKey.check_valid_at``).
    """
    grace = policy.witness_grace
    closed: list[SigningKey] = []
    for key_id in key_ids:
        key = directory.key(key_id)
        if key.valid_until is not None and received_at > key.valid_until + grace:
            closed.append(key)
    if not closed:
        return
    proven = proof()
    for key in closed:
        assert key.valid_until is not None
        if proven.at > key.valid_until + grace:
            # stops a thief with a retired key backdating into its window, at a gateway
            # that never saw the issuer's honest continuation: nobody honest saw it in time
            raise KeyUnwitnessed(
                f"{what} is signed by key {key.key_id[:16]}… of {key.agency}, whose window closed "
                f"{_at(key.valid_until)}; the earliest anyone honest can vouch it existed is "
                f"{_at(proven.at)} ({proven.by}), after the {grace} grace: it cannot be told from a "
                f"backdated forgery (needs {max(1, policy.witness_quorum)} witnesses' cosignatures from "
                f"before {_at(key.valid_until + grace)})",
                deadline=key.valid_until + grace,
            )


def time_floor(view: ChainView, issuer: str, seq: int, policy: IntakePolicy) -> datetime | None:
    """The earliest time statement ``seq`` of ``issuer`` may be dated (None: no bound yet)."""
    return _floor(view, issuer, seq, policy)[0]


def _floor(
    view: ChainView, issuer: str, seq: int, policy: IntakePolicy
) -> tuple[datetime | None, Callable[[], str]]:
    """The floor and what sets it (a function: the words are only needed for a violation)."""
    floor: datetime | None = None
    why: Callable[[], str] = str
    if seq > 1:
        held = view.statement(issuer, seq - 1)
        if held is not None:
            prev, prev_received = held
            # a predecessor dated in the future must not push every later statement out
            floor = min(prev.header.issued_at, prev_received + policy.max_skew)
            why = lambda: f"its predecessor seq {seq - 1} ({_at(prev.header.issued_at)})"  # noqa: E731
    checkpointed = view.checkpoint_floor(issuer, seq)
    if checkpointed is not None and (floor is None or checkpointed > floor):
        floor = checkpointed
        why = lambda: f"a checkpoint {issuer} signed at {_at(checkpointed)} for a head below seq {seq}"  # noqa: E731
    return floor, why


def _check_time(
    env: Envelope, *, view: ChainView, policy: IntakePolicy, received_at: datetime, ceiling: datetime | None
) -> None:
    issued = env.header.issued_at
    issuer, seq = env.issuer, env.seq
    floor, why = _floor(view, issuer, seq, policy)
    if floor is not None and issued < floor:
        # stops a retired key backdating statements into its window: what the issuer
        # already published (its chain, its heartbeats) dates everything after it
        raise RuleViolation(
            "time.before_predecessor",
            f"{issuer} seq {seq} is dated {_at(issued)}, before {why()}",
            field="header.issued_at",
        )
    if issued > received_at + policy.max_skew:
        raise RuleViolation(
            "time.future",
            f"{issuer} seq {seq} is dated {_at(issued)}, more than {policy.max_skew} after it was "
            f"received ({_at(received_at)})",
            field="header.issued_at",
        )
    if ceiling is not None and issued > ceiling:
        raise RuleViolation(
            "time.after_checkpoint",
            f"{issuer} seq {seq} is dated {_at(issued)}, after the checkpoint covering it ({_at(ceiling)})",
            field="header.issued_at",
        )


def _decoded_body(env: Envelope) -> Body:
    """``env.body`` decoded strictly; RuleViolation for bytes that do not decode canonically."""
    assert env.body is not None
    try:
        body, canonical = decode_strict(BodyType(env.header.body_type), env.body)
    except InvalidArgument as exc:
        raise RuleViolation("body.decode", str(exc).removeprefix(f"{exc.field}: "), field=exc.field) from None
    # one meaning per signed body: bytes that re-encode differently (unknown fields,
    # non-canonical order) could be read differently by another verifier
    if not canonical:
        raise RuleViolation(
            "body.canonical",
            "is not the canonical encoding of its content (unknown fields or non-deterministic order)",
            field="body",
        )
    return body


def _check_body(
    env: Envelope,
    *,
    policy: IntakePolicy,
    owners: Mapping[str, str],
    received_at: datetime,
    decoded: Body | RuleViolation | None = None,
    checked: BodyCheck | None = None,
) -> Body:
    """The body's rules (DESIGN §4) with its issuer; ``decoded``: ``env.body`` decoded already.

    Publish hands over the body it encoded into ``env.body`` a moment ago (canonical by
    construction), ``admit_run`` what ``_decoded_body`` made of the bytes, or the rule they
    broke; the rules below run on it either way, unless ``checked`` proves they passed
    on this very object with these very arguments.
    """
    if isinstance(decoded, RuleViolation):
        raise decoded
    body = _decoded_body(env) if decoded is None else decoded
    if checked is not None and checked.covers(
        body,
        issuer=env.issuer,
        owners=owners,
        levels=policy.levels,
        limits=policy.limits,
        now=received_at,
    ):
        return body  # the same pure rules on the same object and arguments: the same answer
    try:
        validated = validate_body(
            body,
            issuer=env.issuer,
            owners=owners,
            levels=policy.levels,
            limits=policy.limits,
            now=received_at,
        )
    except InvalidArgument as exc:
        rule = "body.programme_owner" if exc.field == "programme" else "body.rule"
        raise RuleViolation(rule, str(exc).removeprefix(f"{exc.field}: "), field=exc.field) from None
    if validated != body:
        raise RuleViolation(
            "body.normal_form", "carries identifiers that are not in their normal form", field="body"
        )
    return body


def _target(view: ChainView, env: Envelope, ref: StatementRef, field: str) -> Envelope:
    issuer, seq = env.issuer, env.seq
    if ref.issuer != issuer or not 1 <= ref.seq < seq:
        raise RuleViolation(
            "reference.not_earlier",
            f"{ref.issuer}#{ref.seq} does not exist before {issuer}#{seq}",
            field=field,
        )
    held = view.statement(ref.issuer, ref.seq)
    if held is None:
        raise RuleViolation("reference.missing", f"{ref.issuer}#{ref.seq} does not exist here", field=field)
    target = held[0]
    if ref.header_digest and ref.header_digest != target.digest:
        raise RuleViolation(
            "reference.digest",
            f"header_digest does not match {ref.issuer}#{ref.seq}",
            field=f"{field}.header_digest",
        )
    return target


def _check_audience(env: Envelope, target: Envelope, field: str) -> None:
    if not _audience_within(env.header.audience, target.header.audience):
        # stops a withdrawal (with its reason and note) or a superseding designation from
        # telling members outside the target's audience about a restricted statement
        raise RuleViolation(
            "audience.wider_than_target",
            f"audience {list(env.header.audience) or 'every member'} reads wider than "
            f"{target.issuer}#{target.seq}'s {list(target.header.audience)}",
            field="header.audience",
        )


def _references(env: Envelope, body: Body, *, view: ChainView, policy: IntakePolicy) -> IndexEffects:
    base = policy.indexer(env, body)
    issuer = env.issuer
    if isinstance(body, Withdrawal):
        assert body.target is not None
        target = _target(view, env, body.target, "withdrawal.target")
        _check_audience(env, target, "withdrawal.target")
        return replace(base, supersedes=None, withdraws=(issuer, target.seq), membership=None)
    if not isinstance(body, Designation):
        return replace(base, supersedes=None, withdraws=None, membership=None)
    assert body.status is not None
    member = membership_key(body)
    latest = view.membership(issuer, body.programme, member)
    supersedes: int | None = None
    if body.supersedes is not None:
        target = _target(view, env, body.supersedes, "designation.supersedes")
        if target.header.body_type != BodyType.DESIGNATION.value:
            raise RuleViolation(
                "membership.supersedes_other",
                f"{issuer}#{target.seq} is not a designation",
                field="designation.supersedes",
            )
        if latest is None or target.seq != latest[0]:
            # one current designation per membership: a statement may only replace the
            # membership's latest, never revive an older one or another membership's
            now_latest = f"the latest is {issuer}#{latest[0]}" if latest else "it has no designation yet"
            raise RuleViolation(
                "membership.supersedes_not_latest",
                f"names {issuer}#{target.seq}, but in membership {body.programme}/{member} {now_latest}",
                field="designation.supersedes",
            )
        supersedes = target.seq
    if latest is not None:
        latest_seq, latest_status = latest
        try:
            check_status_transition(DesignationStatus(latest_status), body.status, field="designation.status")
        except InvalidArgument as exc:
            raise RuleViolation(
                "membership.status_transition",
                f"{issuer}#{latest_seq} made membership {body.programme}/{member} {latest_status}; "
                + str(exc).removeprefix(f"{exc.field}: "),
                field="designation.status",
            ) from None
        held = view.statement(issuer, latest_seq)
        if held is not None:
            _check_audience(env, held[0], "designation.supersedes")
        supersedes = latest_seq
    return replace(
        base,
        supersedes=None if supersedes is None else (issuer, supersedes),
        withdraws=None,
        membership=(body.programme, member, body.status.value),
    )


# ---------------------------------------------------------------- checkpoints


def admit_checkpoint(
    scp: SignedCheckpoint,
    *,
    directory: Directory,
    policy: IntakePolicy,
    view: ChainView,
    received_at: datetime,
    received_from: str = "",
) -> None:
    """Admit a checkpoint: signature and key, own chain, witnessed time, time. Raises; returns nothing.

    VerificationError for a bad signature or key (``KeyUnwitnessed``: its key's window had
    closed before a quorum of witnesses cosigned its head, see :func:`proven_time`),
    OwnChainForged for a checkpoint in our own name from a peer that does not match what we
    hold, RuleViolation for a time rule.
    """
    verified = verify_checkpoint(scp, directory)
    cp = scp.checkpoint
    if received_from and cp.issuer == policy.home:
        held = view.statement(cp.issuer, cp.seq)
        if held is None or held[0].digest != cp.head_digest:
            raise OwnChainForged(
                cp.issuer,
                cp.seq,
                f"a checkpoint of {cp.issuer} at seq {cp.seq} arrived from {received_from}, signed with "
                f"{cp.issuer}'s key, for a head this gateway never had",
            )
    _check_witnessed(
        verified.key_ids,
        directory=directory,
        policy=policy,
        received_at=received_at,
        proof=lambda: proven_time(
            cp.issuer,
            cp.seq,
            cp.head_digest,
            view=view,
            policy=policy,
            received_at=received_at,
            signatures_digest=cp.signatures_digest,
        ),
        what=f"checkpoint of {cp.issuer} at seq {cp.seq}",
    )
    if cp.time > received_at + policy.max_skew:
        # a checkpoint dated ahead would pin "latest" and make a stale copy look fresh
        raise RuleViolation(
            "time.future",
            f"{cp.issuer} checkpoint at seq {cp.seq} is dated {_at(cp.time)}, more than {policy.max_skew} "
            f"after it was received ({_at(received_at)})",
            field="checkpoint.time",
        )
    held = view.statement(cp.issuer, cp.seq)
    if held is not None and cp.time < held[0].header.issued_at:
        raise RuleViolation(
            "time.before_statement",
            f"{cp.issuer} checkpoint at seq {cp.seq} is dated {_at(cp.time)}, before that statement "
            f"({_at(held[0].header.issued_at)})",
            field="checkpoint.time",
        )


# ---------------------------------------------------------------- cosignatures (witnessing)


@dataclass(frozen=True)
class CosignatureAdmission:
    """What admitting a cosignature found: whether it is new, and any split view it proves."""

    fresh: bool
    split_view: SplitView | None = None


def admit_cosignature(
    scos: SignedCosignature,
    *,
    directory: Directory,
    policy: IntakePolicy,
    view: ChainView,
    held: Sequence[SignedCosignature],
    received_at: datetime,
    received_from: str = "",
) -> CosignatureAdmission:
    """Admit a witness's cosignature: the one door for every cosignature a gateway keeps.

    ``held`` are the cosignatures already held for the same (issuer, seq). Checks, in order:
    the witness's signature (a member, key valid at the cosignature's time) and the issuer's
    checkpoint inside it (``verify_cosignature``; VerificationError: nothing is kept); a
    cosignature in our own name that we never made, or over a checkpoint in our name for a
    head we never had (OwnChainForged); a witness cosigning its own checkpoint, a
    cosignature dated after receipt plus the skew or before the checkpoint it cosigns
    (RuleViolation). Then the split-view decision (``witness.split_view``) against ``held``
    and the header held at that seq.
    """
    verify_cosignature(scos, directory)
    cos = scos.cosignature
    cp = cos.checkpoint.checkpoint
    same = [h for h in held if h.witness == cos.witness]
    if any(h.cosignature_bytes == scos.cosignature_bytes for h in same):
        return CosignatureAdmission(fresh=False)
    if received_from and cos.witness == policy.home:
        # our key signed a cosignature this gateway never made: the key is compromised
        raise OwnChainForged(
            cp.issuer,
            cp.seq,
            f"a cosignature in {cos.witness}'s name of {cp.issuer}'s checkpoint at seq {cp.seq} arrived "
            f"from {received_from}, signed with {cos.witness}'s key, that this gateway never made",
        )
    if received_from and cp.issuer == policy.home:
        ours = view.statement(cp.issuer, cp.seq)
        if ours is None or ours[0].digest != cp.head_digest:
            # a receipt for a history we never had: our checkpoint key signed it elsewhere
            raise OwnChainForged(
                cp.issuer,
                cp.seq,
                f"{cos.witness} cosigned a checkpoint of {cp.issuer} at seq {cp.seq} (via {received_from}), "
                f"signed with {cp.issuer}'s key, for a head this gateway never had",
            )
    if cos.witness == cp.issuer:
        # an issuer vouching for its own checkpoint adds no second pair of eyes
        raise RuleViolation(
            "witness.self",
            f"{cos.witness} cosigned its own checkpoint at seq {cp.seq}",
            field="cosignature.witness",
        )
    if cos.time > received_at + policy.max_skew:
        raise RuleViolation(
            "time.future",
            f"cosignature by {cos.witness} of {cp.issuer} seq {cp.seq} is dated {_at(cos.time)}, more than "
            f"{policy.max_skew} after it was received ({_at(received_at)})",
            field="cosignature.time",
        )
    if cos.time + policy.max_skew < cp.time:
        # nobody can have held a checkpoint before its issuer signed it
        raise RuleViolation(
            "time.before_checkpoint",
            f"cosignature by {cos.witness} of {cp.issuer} seq {cp.seq} is dated {_at(cos.time)}, before the "
            f"checkpoint it cosigns ({_at(cp.time)})",
            field="cosignature.time",
        )
    mine = view.statement(cp.issuer, cp.seq)
    return CosignatureAdmission(
        fresh=True, split_view=split_view(scos, held, mine[0].digest if mine is not None else None)
    )


# ---------------------------------------------------------------- views


class StoreView:
    """A :class:`ChainView` over a store plus what a batch admitted before (not yet stored)."""

    def __init__(self, store: _StoreReads) -> None:
        self._store = store
        self._pending: dict[tuple[str, int], tuple[Envelope, datetime]] = {}
        self._members: dict[tuple[str, str, str], tuple[int, str] | None] = {}
        self._floors: dict[str, tuple[int, datetime | None]] = {}
        self._run: Sequence[Envelope] = ()
        self._ahead: dict[int, bytes] | None = None
        self._cosignatures: dict[str, list[SignedCosignature]] = {}

    def expect(self, run: Sequence[Envelope]) -> None:
        """``run`` (one issuer, in seq order) is about to be admitted: its chain is known ahead.

        Only for :meth:`chain_digest`, read when a retired key's statement needs witnessing;
        the hash links are checked then, never on the hot path.
        """
        self._run, self._ahead = run, None
        self._cosignatures.clear()

    def chain_digest(self, issuer: str, seq: int) -> bytes | None:
        run = self._run
        if run and run[0].issuer == issuer and seq >= run[0].seq:
            if self._ahead is None:
                # the hash-linked prefix of the run: what follows a broken link is no chain of ours
                self._ahead = {}
                prev: Envelope | None = None
                for env in run:
                    if prev is not None and (
                        env.seq != prev.seq + 1 or env.header.prev_digest != prev.digest
                    ):
                        break
                    self._ahead[env.seq] = env.digest
                    prev = env
            return self._ahead.get(seq)
        held = self.statement(issuer, seq)
        return None if held is None else held[0].digest

    def cosignatures_from(self, issuer: str, seq: int) -> Sequence[SignedCosignature]:
        run = self._run
        if run and run[0].issuer == issuer:
            got = self._cosignatures.get(issuer)
            if got is None:
                # one read per run: only heads inside the run can be linked to its statements
                got = self._store.cosignatures_between(issuer, run[0].seq - 1, run[-1].seq)
                self._cosignatures[issuer] = got
            return [c for c in got if c.seq >= seq]
        head = self._store.head(issuer)
        return self._store.cosignatures_between(
            issuer, seq - 1, max(seq, head.seq if head is not None else 0)
        )

    def add(self, admission: Admission, received_at: datetime) -> None:
        """Count ``admission`` as held for the rest of the batch."""
        env = admission.envelope
        self._pending[(env.issuer, env.seq)] = (env, received_at)
        if admission.membership is not None:
            programme, member, status = admission.membership
            self._members[(env.issuer, programme, member)] = (env.seq, status)

    def statement(self, issuer: str, seq: int) -> tuple[Envelope, datetime] | None:
        got = self._pending.get((issuer, seq))
        if got is not None:
            return got
        stored = self._store.get(issuer, seq)
        return None if stored is None else (stored.envelope, stored.received_at)

    def checkpoint_floor(self, issuer: str, seq: int) -> datetime | None:
        if seq <= 1:
            return None
        # one read per issuer and batch: a batch is a contiguous run above the held head,
        # and the checkpoints covering it are stored after it, so the floor read for its
        # first statement holds for the rest (a floor missed here could only be lower)
        cached = self._floors.get(issuer)
        if cached is None or cached[0] > seq - 1:
            cp = self._store.checkpoint_at_or_before(issuer, seq - 1)
            cached = (seq - 1, None if cp is None else cp.checkpoint.time)
            self._floors[issuer] = cached
        return cached[1]

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        key = (issuer, programme, member_id)
        got = self._members.get(key)
        if got is None and key not in self._members:
            got = self._members[key] = self._store.membership(issuer, programme, member_id)
        return got

    def prefetch_memberships(self, issuer: str, keys: Iterable[tuple[str, str]]) -> None:
        """Read the memberships (programme, member id) of a batch at once (one query, not one each).

        What is read is what ``membership`` would have read for each key; a key not fetched
        here (its member id changed in normalisation) is still read on its own.
        """
        wanted = [k for k in dict.fromkeys(keys) if (issuer, *k) not in self._members]
        if not wanted:
            return
        found = self._store.memberships(issuer, wanted)
        for programme, member_id in wanted:
            self._members[(issuer, programme, member_id)] = found.get((programme, member_id))


class _StoreReads(Protocol):
    def get(self, issuer: str, seq: int) -> StoredStatement | None: ...

    def head(self, issuer: str) -> ChainHead | None: ...

    def cosignatures_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCosignature]: ...

    def checkpoint_at_or_before(self, issuer: str, seq: int) -> SignedCheckpoint | None: ...

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None: ...

    def memberships(
        self, issuer: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]: ...


class Reindexer:
    """The indexer ``Store.rebuild_index`` replays: admission over every stored statement.

    Memberships are rebuilt in memory as the statements go by (the store's own table is
    being recomputed in the same transaction); statements and checkpoints are read from
    the store, which the rebuild does not change. A statement that no longer verifies (its
    key was revoked since) or breaks a rule is kept, with its violation and no effects.
    """

    def __init__(self, store: _StoreReads, *, directory: Directory, policy: IntakePolicy) -> None:
        self._store, self._directory, self._policy = store, directory, policy
        self._members: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.violations: list[tuple[str, int, str]] = []
        self._cosignatures: dict[str, list[SignedCosignature]] = {}

    def statement(self, issuer: str, seq: int) -> tuple[Envelope, datetime] | None:
        stored = self._store.get(issuer, seq)
        return None if stored is None else (stored.envelope, stored.received_at)

    def checkpoint_floor(self, issuer: str, seq: int) -> datetime | None:
        if seq <= 1:
            return None
        cp = self._store.checkpoint_at_or_before(issuer, seq - 1)
        return None if cp is None else cp.checkpoint.time

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        return self._members.get((issuer, programme, member_id))

    def chain_digest(self, issuer: str, seq: int) -> bytes | None:
        # the store's chain: every held statement is hash-linked to its predecessor
        stored = self._store.get(issuer, seq)
        return None if stored is None else stored.envelope.digest

    def cosignatures_from(self, issuer: str, seq: int) -> Sequence[SignedCosignature]:
        held = self._cosignatures.get(issuer)
        if held is None:
            # one read per issuer and rebuild (only for a retired key's statements), by seq
            held = self._cosignatures[issuer] = self._store.cosignatures_between(issuer, 0, INT64_MAX)
        return held[bisect.bisect_left(held, seq, key=lambda c: c.seq) :]

    def __call__(self, stored: StoredStatement) -> IndexEffects:
        env = stored.envelope
        try:
            admission = admit(
                env,
                directory=self._directory,
                policy=self._policy,
                view=self,
                received_at=stored.received_at,
                # our own statements were made here: they are re-checked, not refused
                received_from="" if env.issuer == self._policy.home else stored.received_from,
                # a deferred signature check stays deferred (federation.sigcheck does it)
                vouched=not stored.verified,
            )
        except (VerificationError, OwnChainForged) as exc:
            # held, so part of the chain, but no longer admissible (its key was revoked since)
            rule = "signature" if isinstance(exc, VerificationError) else "own_chain"
            self.violations.append((env.issuer, env.seq, rule))
            return IndexEffects.refused("" if env.body is None else env.header.body_type, f"{rule}: {exc}")
        if admission.violation is not None:
            self.violations.append((env.issuer, env.seq, admission.violation.rule))
        if admission.audience_breach:
            # the body stays in the store as received; it is simply never indexed
            return NO_EFFECTS
        if admission.membership is not None:
            programme, member, status = admission.membership
            self._members[(env.issuer, programme, member)] = (env.seq, status)
        return admission.effects
