"""The storage contract: what every borderx store MUST do, as an abstract class.

A store owns, for one gateway:

- **statements**, exactly as received: the wire bytes of each SignedStatement (a redacted
  one has no body), with who delivered it and when. Statements are never updated and
  never deleted (DESIGN §3 "Nothing is deleted").
- **per-issuer heads**: the last (seq, header digest) of each issuer's chain. Every store
  holds a gap-free prefix of each issuer's chain, starting at seq 1 (DESIGN §7.2), so an
  issuer's statement count equals its head seq.
- **equivocation evidence**: both envelopes of every pair of different headers seen for
  one (issuer, seq), kept even though the second one is refused.
- **checkpoints**: every signed checkpoint given to it, one per (issuer, seq) (the
  history a bulk sync authenticates runs of statements with), and the latest per issuer,
  never moving backwards.
- **idempotency receipts**, **alarms** and **suspended issuers**.
- a **derived index** from party identifiers to statements, plus the supersede and
  withdraw marks between statements. The index is derived: :meth:`Store.rebuild_index`
  recomputes it from the stored envelopes, which are the truth.

What a store does *not* do: verify signatures, keys or audiences. Callers verify first
(``statements.verify``) and hand the store only envelopes that passed; the store keeps the
chain invariants (no gap, matching ``prev_digest``, no second header for an (issuer, seq))
because they must hold atomically with the write.

Every method is synchronous and safe to call from several threads at once (the gRPC
server calls the store from its thread pool). Implementations live beside this module
(``sqlite.py``, ``postgres.py``); one contract test suite (``tests/unit/store``) runs
against each.

Several gateway replicas of one agency may share one store (PostgreSQL). Then the store,
not the process, is where concurrent writers meet: ``append`` decides every seq under a
lock on the issuer's chain head, and the issuer's own publishers serialise signing with
:meth:`Store.publish_lock`. :meth:`Store.wait_for_change` lets a replica learn of
statements another replica accepted.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime

from borderx.errors import DirectoryRefused, IdempotencyKeyReused, InvalidArgument
from borderx.statements.chain import ChainHead
from borderx.statements.model import Envelope, Signature, SignedCheckpoint, SignedCosignature

#: body kinds an :class:`IndexEffects` may name; "" for a redacted envelope (nothing known)
INDEX_KINDS = frozenset({"", "designation", "flag", "withdrawal"})

#: a reference to one statement: (issuer, seq)
StatementKey = tuple[str, int]
#: a normalised party identifier: (scheme, value)
PartyKey = tuple[str, str]


@dataclass(frozen=True)
class IndexEffects:
    """What the screening index learns from one statement, computed by the caller's indexer.

    ``ids`` are the normalised party identifiers the body is about. ``supersedes`` and
    ``withdraws`` name an earlier statement that this one replaces or withdraws; the store
    marks it in the same transaction. ``expires_at`` is when the statement stops counting
    for screening (a designation's ``valid_until`` or a flag's ``expires_at``), kept for the
    screening layer to compare with its own clock. ``names`` are the name-index blocking
    keys of the body's party (``screening.names``: its names, e-mails and phones), opaque
    strings to the store. A redacted envelope has no body, so its effects are empty:
    ``IndexEffects()``.
    """

    ids: tuple[PartyKey, ...] = ()
    kind: str = ""
    supersedes: StatementKey | None = None
    withdraws: StatementKey | None = None
    expires_at: datetime | None = None
    #: (programme, member id, status) of a designation: the membership it becomes the latest of
    membership: tuple[str, str, str] | None = None
    #: the admission rule the statement broke ("" = none): kept as signed evidence, never indexed
    violation: str = ""
    #: name-index keys (blocking keys of the party's names and contacts, screening/names)
    names: tuple[str, ...] = ()
    #: the party's matching form, serialized (``screening.names.dump_form``), opaque to the
    #: store: kept in ``name_forms`` so that the memory index starts without decoding bodies
    form: bytes = b""

    def __post_init__(self) -> None:
        # A typo in kind would silently make a statement unscreenable; refuse it here.
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"IndexEffects.kind must be one of {sorted(INDEX_KINDS)}, got {self.kind!r}")
        # a statement that broke a rule changes nobody's screening (DESIGN §8)
        if self.violation and (
            self.ids or self.names or self.form or self.supersedes or self.withdraws or self.membership
        ):
            raise ValueError("IndexEffects of a rule-breaking statement must carry no index effects")

    @classmethod
    def refused(cls, kind: str, violation: str) -> IndexEffects:
        """The effects of a statement kept as evidence only: the rule it broke, nothing else."""
        return cls(kind=kind, violation=violation)


#: the effects of a redacted envelope, or of a body that names no party
NO_EFFECTS = IndexEffects()


@dataclass(frozen=True)
class PendingCheck:
    """A statement whose deferred signature check is still to be done (``Store.unverified``)."""

    key: StatementKey
    #: the signed header bytes, as stored
    header_bytes: bytes
    signatures: tuple[Signature, ...]


@dataclass(frozen=True)
class IndexState:
    """Where the store's index stands, for a process that keeps a copy of it in memory.

    ``epoch`` changes when the index is rebuilt (every copy must be rebuilt too);
    ``generation`` is the last entry of the index change log (``Store.index_changes``).
    """

    epoch: int
    generation: int


@dataclass(frozen=True)
class IndexChanges:
    """Index change log entries after a generation: the statements whose index state changed.

    ``complete`` is False when the log no longer holds every entry after the generation
    asked for, or the epoch moved: the caller must rebuild its copy rather than tail.
    """

    epoch: int
    generation: int
    touched: tuple[StatementKey, ...]
    complete: bool = True


@dataclass(frozen=True)
class IndexEntry:
    """One statement as the memory index holds it: whether it counts, and its matching form."""

    issuer: str
    seq: int
    #: neither superseded, withdrawn nor refused (expiry is for the caller to judge)
    live: bool
    #: ``IndexEffects.form`` as stored (b"": none, e.g. written by an indexer that makes none)
    form: bytes
    #: ``IndexEffects.names`` and ``ids`` as stored: the keys it is found by
    names: tuple[str, ...] = ()
    ids: tuple[PartyKey, ...] = ()


@dataclass(frozen=True)
class NewStatement:
    """One envelope handed to :meth:`Store.append`, already verified by the caller.

    ``received_from`` is the agency id of the peer that delivered it, or "" when it was
    published at this gateway.
    """

    envelope: Envelope
    received_from: str = ""
    index: IndexEffects = NO_EFFECTS
    #: False: admitted on a checkpoint's authority (its signature bytes are vouched for by
    #: the issuer's signatures digest); the Ed25519 check is still to be done, and until it
    #: is the statement is neither relayed nor exported (see ``Store.unverified``)
    verified: bool = True


@dataclass(frozen=True)
class AppendResult:
    """The outcome for one entry of an :meth:`Store.append` batch, in batch order.

    ``duplicate`` is True when the store already held this exact header at (issuer, seq)
    and stored nothing new for it.
    """

    issuer: str
    seq: int
    digest: bytes
    duplicate: bool


@dataclass(frozen=True)
class StoredStatement:
    """A statement as held: the exact wire bytes, the decoded envelope and how it arrived.

    ``superseded_by`` / ``withdrawn_by`` name the later statement that replaced or withdrew
    this one (derived index data; None while it is current). ``expires_at`` is the
    indexer's validity end, if any. ``received_at`` is UTC.
    """

    envelope: Envelope
    wire: bytes = field(repr=False)
    received_from: str
    received_at: datetime
    superseded_by: StatementKey | None = None
    withdrawn_by: StatementKey | None = None
    expires_at: datetime | None = None
    #: the admission rule this statement broke (None: it conforms); derived, like the index
    violation: str | None = None
    #: every signature verified (False: admitted on a checkpoint's authority, check pending)
    verified: bool = True

    @property
    def key(self) -> StatementKey:
        return (self.envelope.issuer, self.envelope.seq)

    @property
    def current(self) -> bool:
        """Neither superseded nor withdrawn nor refused (expiry is for the caller to judge)."""
        return self.superseded_by is None and self.withdrawn_by is None and self.violation is None


@dataclass(frozen=True)
class EquivocationEvidence:
    """Two different signed headers for one (issuer, seq): proof of a fault or a stolen key.

    ``held`` is the envelope the store had (or had accepted earlier in the same batch);
    ``conflicting`` the one that was refused. ``reported_by`` is the ``received_from`` of the
    conflicting envelope ("" = submitted here).
    """

    issuer: str
    seq: int
    held: Envelope
    conflicting: Envelope
    detected_at: datetime
    reported_by: str


@dataclass(frozen=True)
class Evidence:
    """Signed proof kept for operators and partners: what was seen, redacted to its headers.

    ``kind`` is ``own_chain`` (a statement or checkpoint in this gateway's own agency's name
    that this gateway never made: proof its key is compromised) or ``bad_signature`` (a
    statement whose signature fails under a checkpoint its issuer signed). ``envelopes`` are
    the signed headers (bodies removed), ``checkpoints`` any signed checkpoints involved.
    """

    id: int
    kind: str
    issuer: str
    seq: int
    detail: str
    envelopes: tuple[Envelope, ...]
    checkpoints: tuple[SignedCheckpoint, ...]
    detected_at: datetime
    reported_by: str


@dataclass(frozen=True)
class Alarm:
    """An operator-visible condition (gap, equivocation, stale peer …).

    Alarms are deduplicated per (kind, issuer, peer): raising one while an alarm with the
    same three is open does not open a second one, it bumps ``count`` and
    ``last_raised_at`` of the open one and keeps the newest ``detail``. A misbehaving peer
    that reconnects and misbehaves again (its details carry times and seqs) stays one alarm.
    ``peer`` is the peer agency it came through ("" when it came from no peer).
    """

    id: int
    kind: str
    issuer: str
    detail: str
    raised_at: datetime
    last_raised_at: datetime
    count: int
    acknowledged_at: datetime | None = None
    peer: str = ""

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None


@dataclass(frozen=True)
class Idempotency:
    """A request's claim on its idempotency key, as ``Store.append`` receives it.

    ``request_digest`` is the SHA-256 of the canonical request (empty: not known, e.g. a
    receipt stored before schema v3); ``not_before``: receipts created before this instant
    have expired and no longer hold the key.
    """

    key: str
    principal: str
    request_digest: bytes = b""
    not_before: datetime | None = None


def as_idempotency(value: tuple[str, str] | Idempotency | None) -> Idempotency | None:
    """The ``idempotency`` argument of ``append`` in its full form ((key, principal) is accepted)."""
    if value is None or isinstance(value, Idempotency):
        return value
    key, principal = value
    return Idempotency(key, principal)


def check_receipt_digest(claim: Idempotency, held: bytes) -> None:
    """A held receipt answers ``claim`` only for the same request; else IdempotencyKeyReused."""
    # without this, a key reused for a different request silently replayed the first
    # receipt and dropped the new items
    if claim.request_digest and held and claim.request_digest != held:
        raise IdempotencyKeyReused(claim.key)


@dataclass(frozen=True)
class ReceiptRecord:
    """A stored receipt: the statements its request stored, that request's digest, when."""

    statements: tuple[StatementKey, ...]
    request_digest: bytes
    created_at: datetime


@dataclass(frozen=True)
class Suspension:
    """An issuer whose statements the store refuses until an operator resumes it."""

    issuer: str
    reason: str
    since: datetime


@dataclass(frozen=True)
class StoredDirectory:
    """A directory version this gateway accepted: the document as received and its digest."""

    version: int
    digest: str  # hex SHA-256 of the canonical ``signed`` bytes
    document: bytes
    accepted_at: datetime


@dataclass(frozen=True)
class DirectoryConflict:
    """A partner's signed directory that differs from ours at the same version: evidence."""

    peer: str
    version: int
    digest: str  # the partner's document's digest (ours is in directory_document(version))
    document: bytes
    seen_at: datetime


def check_directory_record(head: StoredDirectory | None, version: int, digest: str) -> bool:
    """The store's rule for recording an accepted directory; every backend calls it.

    True: record it. False: it is the head already (idempotent). Raises DirectoryRefused for
    a version below the head, or the head's version with another digest, so that versions
    only rise: no restart, replica or bug can roll a gateway back.
    """
    if head is None or version > head.version:
        return True
    if version == head.version and digest == head.digest:
        return False
    if version == head.version:
        raise DirectoryRefused(
            f"directory v{version} (digest {digest[:16]}…) differs from the recorded v{head.version} "
            f"(digest {head.digest[:16]}…)",
            reason="conflict",
        )
    raise DirectoryRefused(
        f"directory version {version} is older than the recorded version {head.version}; refusing a rollback",
        reason="rollback",
    )


def check_index_effects(env: Envelope, effects: IndexEffects) -> None:
    """Refuse index effects that ``env`` cannot have; every backend calls it before writing.

    Raises ValueError for a caller's bug (effects for a redacted envelope) and
    InvalidArgument for a reference the statement may not make (another issuer's statement,
    or one that is not earlier in the chain).
    """
    # a redacted envelope's body was never seen here: any effects would be invented
    if env.body is None and effects != NO_EFFECTS and not effects.violation:
        raise ValueError(f"{env.issuer} seq {env.seq} is redacted, so its index effects must be empty")
    for what, ref in (("supersede", effects.supersedes), ("withdraw", effects.withdraws)):
        if ref is None:
            continue
        target_issuer, target_seq = ref
        # without this, one agency could silently retire another agency's designations
        # or flags in everybody's screening
        if target_issuer != env.issuer:
            raise InvalidArgument(
                f"{env.issuer} seq {env.seq} cannot {what} {target_issuer} seq {target_seq}: "
                "a statement may only refer to its own issuer's statements"
            )
        # only an earlier statement is held (gap-free chain), so only it can be marked
        if not 1 <= target_seq < env.seq:
            raise InvalidArgument(
                f"{env.issuer} seq {env.seq} cannot {what} seq {target_seq}: "
                f"the target must be an earlier statement (1..{env.seq - 1})"
            )


class Store(abc.ABC):
    """The storage contract. Every statement-changing method is one durable transaction.

    Shared MUSTs:

    - Statements are kept byte-for-byte as received and never updated or deleted.
    - Per issuer, the store holds a gap-free chain 1..head in which every header's
      ``prev_digest`` is the digest of the previous header (``GENESIS_DIGEST`` for seq 1).
    - A write is durable before the method returns: once ``append`` has returned, the
      statements survive ``kill -9`` and power loss.
    - Methods are safe to call from many threads; readers see only committed state.
    """

    # ------------------------------------------------------------ statements

    @abc.abstractmethod
    def append(
        self,
        entries: Sequence[NewStatement],
        *,
        idempotency: tuple[str, str] | Idempotency | None = None,
        checkpoint: SignedCheckpoint | None = None,
    ) -> list[AppendResult]:
        """Store a batch of verified envelopes, all or nothing, in ONE transaction.

        For each entry, in order, the store MUST:

        - refuse an issuer under suspension with ``IssuerSuspended``;
        - treat an envelope whose (issuer, seq) it already holds with the same header digest
          as a no-op, reported with ``duplicate=True`` (replays are idempotent);
        - on a *different* header for a held (issuer, seq) raise ``Equivocation``, after
          recording both envelopes as :class:`EquivocationEvidence` and suspending the
          issuer (as ``suspend_issuer`` would), in a separate transaction that survives the
          batch's rollback. Raising the alarm and logging the security event are the
          caller's;
        - accept ``seq == head + 1`` only if ``prev_digest`` equals the head's digest
          (``GENESIS_DIGEST`` for seq 1), else raise ``PrevDigestMismatch``;
        - raise ``ChainGap`` (naming the missing range) for ``seq > head + 1``.

        "Held" includes the envelopes accepted earlier in the same batch. If any entry is
        refused, nothing of the batch is stored. With each accepted envelope the store writes
        its index effects (party ids, supersede/withdraw marks, expiry) in the same
        transaction, after :func:`check_index_effects`; a duplicate's effects are ignored.

        ``idempotency=(key, principal)`` stores a :class:`Receipt` of the batch in the same
        transaction. If a receipt for that (key, principal) already exists, the store MUST
        store nothing and return the receipt's statements as duplicates: a retried request
        never stores anything twice, even when two retries race. With an
        :class:`Idempotency` claim the store MUST also: treat a receipt created before
        ``not_before`` as absent (it expired; replace it, and MAY delete other expired
        receipts in the same transaction); and raise ``IdempotencyKeyReused``, storing
        nothing, when the held receipt's request digest and the claim's are both non-empty
        and differ (see :func:`check_receipt_digest`).

        ``checkpoint`` (a bulk sync's run and the checkpoint that vouched for it) is kept
        after the batch, in the same transaction, exactly as :meth:`put_checkpoint` would
        keep it: one durable write instead of two, and never a run without its checkpoint
        or the reverse. Where ``put_checkpoint`` would raise ``Equivocation`` (a head other
        than the one held at its seq, the batch included, or in the history), the store MUST
        store nothing of the batch either and raise it. Nothing is kept when a receipt is
        replayed.

        Returns one :class:`AppendResult` per entry, in order, once the transaction is durable.
        """

    @abc.abstractmethod
    def heads(self) -> dict[str, ChainHead]:
        """The head of every issuer's chain held (issuers with no statement are absent)."""

    @abc.abstractmethod
    def head(self, issuer: str) -> ChainHead | None:
        """The head of ``issuer``'s chain, or None when nothing of it is held."""

    @abc.abstractmethod
    def get(self, issuer: str, seq: int) -> StoredStatement | None:
        """The statement at (issuer, seq), or None."""

    @abc.abstractmethod
    def read_range(self, issuer: str, after_seq: int, limit: int) -> list[StoredStatement]:
        """Up to ``limit`` statements of ``issuer`` with seq > ``after_seq``, in seq order.

        Used to stream what a follower lacks; consecutive calls with the last seq returned
        walk the whole chain without a gap.
        """

    @abc.abstractmethod
    def count(self) -> int:
        """How many statements are held, over all issuers."""

    @abc.abstractmethod
    def count_by_issuer(self) -> dict[str, int]:
        """How many statements are held per issuer (equal to each head seq)."""

    # ------------------------------------------------------------ screening index

    @abc.abstractmethod
    def lookup(self, scheme: str, value: str, *, include_history: bool = False) -> list[StoredStatement]:
        """Statements whose index ids contain (scheme, value), ordered by (issuer, seq).

        Without ``include_history``, only current ones: neither superseded nor withdrawn.
        ``value`` must be normalised the way the indexer normalised it. MUST stay O(log n)
        in the number of statements held.
        """

    @abc.abstractmethod
    def lookup_many(self, ids: Sequence[PartyKey]) -> dict[PartyKey, list[StoredStatement]]:
        """Current statements for each of ``ids`` (batch screening), read in one snapshot.

        Every requested id is a key of the result (an empty list when nothing matches).
        """

    @abc.abstractmethod
    def lookup_names(
        self, keys: Sequence[str], *, max_postings: int | None = None
    ) -> dict[str, list[StoredStatement]]:
        """Current statements whose name-index keys include each of ``keys``, in one snapshot.

        The name index holds the ``IndexEffects.names`` of every statement, written with it
        and rebuilt by :meth:`rebuild_index`. Every requested key is a key of the result (an
        empty list when nothing matches); statements are ordered by (issuer, seq). With
        ``max_postings``, a key held for more statements than that (current or not) gives
        an empty list: too unselective to be worth reading. MUST stay O(k log n) for k keys
        (plus the statements returned): it is the blocking step of name screening.
        """

    @abc.abstractmethod
    def rebuild_index(self, indexer: Callable[[StoredStatement], IndexEffects]) -> int:
        """Drop the derived index and recompute it from the stored envelopes, in one transaction.

        The derived data is the party index, the name index, the supersede/withdraw marks, the memberships,
        each statement's expiry and its violation. Every stored statement is fed to
        ``indexer`` (redacted ones too: the time rules apply to headers), per issuer in seq
        order; admission is stateful (a membership's latest statement, an issuer's time
        floor), so the indexer keeps its own state across calls. Returns how many
        statements were indexed.
        """

    @abc.abstractmethod
    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        """The (seq, status) of the latest conforming designation of a membership, if any.

        A membership is (issuer, programme, member id) (DESIGN §8): one current designation
        each. Derived data, written with the index effects' ``membership``.
        """

    def memberships(
        self, issuer: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        """``membership`` for many (programme, member id) of one issuer: the keys that have one.

        For Publish, which reads the memberships of a whole batch before admitting it
        instead of one query per designation. Backends answer it in one query.
        """
        out: dict[tuple[str, str], tuple[int, str]] = {}
        for programme, member_id in keys:
            got = self.membership(issuer, programme, member_id)
            if got is not None:
                out[(programme, member_id)] = got
        return out

    @abc.abstractmethod
    def violations(self, *, limit: int = 1000) -> list[StoredStatement]:
        """Stored statements that verified but broke an admission rule, oldest first."""

    # ------------------------------------------------------------ deferred signature checks

    @abc.abstractmethod
    def unverified(self, *, limit: int = 4096) -> list[PendingCheck]:
        """Statements whose signatures are still to be checked, per issuer in seq order.

        Each as what the check needs (header bytes, signatures), not decoded further: the
        checker reads every statement a bulk sync admits, in the process that admits them.
        """

    @abc.abstractmethod
    def mark_verified(self, keys: Sequence[StatementKey]) -> None:
        """Record that every signature of these statements verified."""

    @abc.abstractmethod
    def verified_heads(self) -> dict[str, int]:
        """Per issuer, the highest seq up to which every statement is verified.

        Followers and exports are served no further: nothing unverified is relayed.
        """

    @abc.abstractmethod
    def refuse_unverified(self, key: StatementKey, violation: str) -> None:
        """A deferred signature check failed: the statement keeps its place in the chain as
        evidence (``violation``), loses every index effect it had, and its issuer is
        suspended (its own checkpoint vouched for a signature that does not verify)."""

    # ------------------------------------------------------------ the index change log

    @abc.abstractmethod
    def index_state(self) -> IndexState:
        """The index epoch and change-log generation (one cheap read: called before every Screen)."""

    @abc.abstractmethod
    def index_changes(self, after: int, *, limit: int = 50_000) -> IndexChanges:
        """The statements touched by index mutations after generation ``after``, in one snapshot.

        Every mutation of what screening sees writes, in its own transaction, one entry per
        statement whose index state it changed: an append (each new statement with a
        matching form, and each statement it supersedes or withdraws), ``refuse_unverified``
        (the refused statement and the ones its marks had retired). Generations are
        assigned in commit order, so a reader that has applied up to ``generation`` never
        misses an earlier one committed later. ``rebuild_index`` moves the epoch instead.
        """

    @abc.abstractmethod
    def index_entries(self, keys: Sequence[StatementKey]) -> list[IndexEntry]:
        """The index entry of each of ``keys`` that is held (empty form and keys when it has none)."""

    @abc.abstractmethod
    def index_forms(self, *, chunk: int = 20_000) -> Iterator[list[IndexEntry]]:
        """Every indexed statement (with ids, name keys or a form), in chunks (a memory index's build)."""

    def get_many(self, keys: Sequence[StatementKey]) -> dict[StatementKey, StoredStatement]:
        """The held statements among ``keys`` (the few screening matches, read to answer)."""
        out: dict[StatementKey, StoredStatement] = {}
        for issuer, seq in dict.fromkeys(keys):
            found = self.get(issuer, seq)
            if found is not None:
                out[(issuer, seq)] = found
        return out

    # ------------------------------------------------------------ checkpoints

    @abc.abstractmethod
    def put_checkpoint(self, checkpoint: SignedCheckpoint) -> bool:
        """Keep ``checkpoint`` in the issuer's history, and as its latest if it is newer.

        The store keeps two views of the checkpoints it was given, in one transaction:

        - the **history**: one checkpoint per (issuer, seq), so a bulk sync can authenticate
          a long chain in runs between consecutive checkpoints (``checkpoints_between``).
          For a seq already in the history, a checkpoint with the same head digest and a
          later time replaces the held one (an issuer re-signs its unchanged head on a
          timer; only the freshest of those is worth keeping), an earlier or equal time is
          ignored. Storing the same bytes again is a no-op.
        - the **latest** per issuer (``checkpoint``/``checkpoints``), ordered by (seq,
          time). It MUST never move backwards: an older checkpoint (a lower seq, or the
          same seq and an older or equal time) goes to the history only, so a replayed old
          checkpoint never makes a stale copy look fresh.

        A checkpoint whose head digest differs from the header held at its seq, or from
        the history's checkpoint at its seq, raises ``Equivocation`` and stores nothing
        (both are signed by the issuer; the caller raises the alarm).

        Returns True when the checkpoint became the issuer's latest; False when it only
        went to the history or was already held.
        """

    @abc.abstractmethod
    def checkpoint(self, issuer: str) -> SignedCheckpoint | None:
        """The latest checkpoint held for ``issuer``: highest seq, then latest time."""

    @abc.abstractmethod
    def checkpoints(self) -> dict[str, SignedCheckpoint]:
        """The latest checkpoint of every issuer that has one."""

    @abc.abstractmethod
    def checkpoints_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCheckpoint]:
        """The history's checkpoints of ``issuer`` with ``after_seq < seq <= upto_seq``, by seq.

        One per seq (the latest time held for it). A bulk sync walks a long chain with it:
        each checkpoint authenticates the run of statements since the previous one, so at
        most one run (~256 statements) is held unverified at a time. Empty when
        ``after_seq >= upto_seq``. MUST stay O(log n + k) for k checkpoints returned.
        """

    @abc.abstractmethod
    def checkpoint_at_or_before(self, issuer: str, seq: int) -> SignedCheckpoint | None:
        """The history's highest-seq checkpoint of ``issuer`` with seq <= ``seq``, or None.

        Where a bulk sync that resumes at ``seq`` finds the checkpoint to start from.
        """

    # ------------------------------------------------------------ evidence, receipts, alarms

    @abc.abstractmethod
    def equivocations(self) -> list[EquivocationEvidence]:
        """Every recorded equivocation, oldest first; one record per distinct conflicting header.

        Both envelopes are kept redacted (headers and signatures, no body): the signed
        headers are the whole proof, and a body must never reach a member outside its
        audience through the evidence (DESIGN §8).
        """

    # ------------------------------------------------------------ cosignatures (witnessing)

    @abc.abstractmethod
    def put_cosignature(self, cosignature: SignedCosignature) -> bool:
        """Keep a witness's cosignature (admitted by ``intake.admit_cosignature``); True when new.

        One row per (issuer, seq, witness, head digest): a heartbeat's second cosignature of
        the same head is not kept again, and two heads at one seq (a split view) are both
        kept. Cosignatures are never deleted; each gets an id that only grows, for
        ``cosignatures_after``.
        """

    @abc.abstractmethod
    def cosignatures_at(self, issuer: str, seq: int) -> list[SignedCosignature]:
        """Every cosignature held of ``issuer``'s checkpoints at ``seq``, oldest first."""

    @abc.abstractmethod
    def cosignatures_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCosignature]:
        """Cosignatures of ``issuer``'s checkpoints with ``after_seq < seq <= upto_seq``, by seq then id.

        How statements stored after a cosignature arrived are checked against it.
        """

    @abc.abstractmethod
    def cosignatures_after(self, after_id: int, limit: int) -> list[tuple[int, SignedCosignature]]:
        """Cosignatures with id > ``after_id`` in id order, at most ``limit``: what a follower lacks."""

    @abc.abstractmethod
    def witnessed_heads(self, issuer: str) -> dict[str, SignedCosignature]:
        """Per witness, its cosignature of ``issuer``'s highest seq (then latest time) it cosigned.

        For our own agency as ``issuer`` these are the partners' signed receipts.
        """

    @abc.abstractmethod
    def record_evidence(
        self,
        kind: str,
        issuer: str,
        seq: int,
        detail: str,
        *,
        envelopes: Sequence[Envelope] = (),
        checkpoints: Sequence[SignedCheckpoint] = (),
        reported_by: str = "",
        suspend: str = "",
    ) -> bool:
        """Keep signed proof (redacted to headers) in a durable transaction of its own.

        With ``suspend`` (the reason), the issuer is suspended in the same transaction (as
        :meth:`suspend_issuer`): proof is never held without the suspension it calls for,
        whatever crashes, and no reader sees one without the other. Returns False when the
        same proof (kind, issuer, seq and the same signed bytes) was already kept. Evidence
        is never deleted.
        """

    @abc.abstractmethod
    def evidence(self) -> list[Evidence]:
        """Every piece of evidence kept by :meth:`record_evidence`, oldest first."""

    @abc.abstractmethod
    def receipt(self, key: str, principal: str) -> list[StatementKey] | None:
        """The statements stored by the request with idempotency ``key`` from ``principal``.

        None when no such request was stored. Keys are scoped per principal: one caller can
        never see or replay another's receipt.
        """

    @abc.abstractmethod
    def receipt_record(self, key: str, principal: str) -> ReceiptRecord | None:
        """The receipt of ``key`` from ``principal`` with its request digest and age, or None.

        Expired receipts may still be returned until an append replaces or purges them:
        expiry is the caller's decision (``Idempotency.not_before``).
        """

    @abc.abstractmethod
    def raise_alarm(self, kind: str, issuer: str, detail: str, *, peer: str = "") -> Alarm:
        """Open an alarm, or bump the one still open for (kind, issuer, peer); returns it.

        MUST keep at most one open alarm per (kind, issuer, peer), also when replicas
        sharing the database raise it at once; a bump MUST add one to ``count``, set
        ``last_raised_at`` to now and ``detail`` to the new detail.
        """

    @abc.abstractmethod
    def alarms(
        self, *, include_acknowledged: bool = False, after_id: int = 0, limit: int | None = None
    ) -> list[Alarm]:
        """Alarms in id order (oldest first); open ones only unless ``include_acknowledged``.

        Paged: only alarms with ``id > after_id``, at most ``limit`` of them (None: all).
        """

    def alarm_count(self, *, include_acknowledged: bool = False) -> int:
        """How many alarms ``alarms()`` would return unpaged. Backends count without reading rows."""
        return len(self.alarms(include_acknowledged=include_acknowledged))

    @abc.abstractmethod
    def acknowledge_alarm(self, alarm_id: int) -> Alarm:
        """Mark an alarm acknowledged (idempotent). Raises ``NotFound`` for an unknown id."""

    @abc.abstractmethod
    def suspend_issuer(self, issuer: str, reason: str) -> Suspension:
        """Refuse ``issuer``'s statements from now on. Idempotent: keeps the first reason and time."""

    @abc.abstractmethod
    def resume_issuer(self, issuer: str) -> bool:
        """Lift a suspension; returns False when ``issuer`` was not suspended."""

    @abc.abstractmethod
    def suspended_issuers(self) -> dict[str, Suspension]:
        """Every issuer under suspension."""

    # ------------------------------------------------------------ directory

    @abc.abstractmethod
    def directory_head(self) -> StoredDirectory | None:
        """The highest directory version accepted, or None before the first one was recorded."""

    @abc.abstractmethod
    def record_directory(self, version: int, digest: str, document: bytes) -> StoredDirectory:
        """Record an accepted directory version and return the head after it.

        MUSTs: atomic (a concurrent recorder of the same database sees one order); applies
        :func:`check_directory_record`, so it MUST raise DirectoryRefused for a version below
        the head or the head's version with another digest, and MUST be a no-op for the head
        itself. Every accepted version stays (evidence of what was trusted when). The caller
        verifies signatures first: the store keeps versions monotonic, it does not judge them.
        """

    @abc.abstractmethod
    def directory_document(self, version: int) -> StoredDirectory | None:
        """The accepted directory of ``version``, or None when this store never accepted it."""

    @abc.abstractmethod
    def record_directory_conflict(self, peer: str, version: int, digest: str, document: bytes) -> bool:
        """Keep ``peer``'s document that conflicts with ours at ``version``; False if already kept.

        MUST keep one record per (version, digest), the first peer that showed it, forever.
        """

    @abc.abstractmethod
    def directory_conflicts(self) -> list[DirectoryConflict]:
        """Every conflicting partner document kept, oldest first."""

    # ------------------------------------------------------------ replicas

    @abc.abstractmethod
    def publish_lock(self, issuer: str, *, timeout: float = 30.0) -> AbstractContextManager[None]:
        """Hold ``issuer``'s publish lock for the ``with`` block: the publisher's critical section.

        The issuer's own gateway publishes as ``with store.publish_lock(issuer): head →
        sign → append``. ``append`` alone cannot make concurrent publishing safe: two
        publishers that read the same head sign two *different* headers for the same seq,
        and the second one is, by definition, equivocation (signed evidence, issuer
        suspended). The lock must therefore be taken *before* reading the head.

        MUSTs:

        - while one holder is inside the block, no other holder for the same issuer enters
          it, across every store object and process that may publish into this store's
          data. A multi-replica backend MUST make it hold across every replica sharing the
          database; a single-process backend (SQLite: one gateway process owns the file)
          may make it hold within the process;
        - the lock is released when the block exits, normally or by an exception, and
          when the holding process dies;
        - it excludes only other ``publish_lock`` holders: reads and ``append`` (a relayed
          statement, the replicator) are not blocked by it;
        - a holder that waited ``timeout`` seconds gives up with ``ResourceExhausted``.

        Not re-entrant: a holder that asks again for the same issuer waits for itself.
        """

    def wait_for_change(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for statements appended by anyone; True if some were.

        The hook replicas use to push new statements to their followers: a replica runs
        ``while True: if store.wait_for_change(1.0): feed.notify()`` so that Subscribe(follow)
        streams on it wake when *another* replica sharing the database accepted a statement.
        Followers then read what is new from the store (this carries no data).

        True means "something may have changed since this thread's previous call returned":
        a change that committed between two calls makes the next call return True at once,
        and spurious True results are allowed (a re-read finds nothing new). False means the
        timeout passed; a backend that cannot observe other writers (this default) always
        sleeps ``timeout`` and returns False, so callers poll at that interval.
        """
        time.sleep(max(timeout, 0.0))
        return False

    #: whether :meth:`wait_for_change` observes other writers (replicas sharing the database)
    shared: bool = False

    def hold_leadership(self, role: str) -> bool:
        """Try to become (or stay) the one holder of ``role`` among replicas sharing the database.

        Returns True while this store holds it. A backend shared by several gateway replicas
        MUST grant it to at most one of them at a time and MUST release it when the holder
        dies (so another takes over). Call it periodically: False means another replica
        holds it, or this one lost it. The default (a store used by one process) always
        grants it.
        """
        return True

    # ------------------------------------------------------------ lifecycle

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The schema version of the open database."""

    @abc.abstractmethod
    def migrate(self) -> int:
        """Apply pending schema migrations (each in its own transaction); returns the new version.

        MUST raise ``ConfigError`` when the database is newer than this code knows, without
        changing it. Called at open.
        """

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the data lives, for status output. MUST never include a password."""

    def size_bytes(self) -> int:
        """Bytes the store occupies on disk (for status and capacity planning); 0 if unknown."""
        return 0

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. Idempotent; the store is unusable afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
