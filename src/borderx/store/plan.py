"""The store's decisions, written once: what an append or a checkpoint write does (pure).

Both backends (``sqlite.py``, ``postgres.py``) open a transaction, hand this module a
:class:`ChainReader` that reads inside it, and execute the :class:`AppendPlan` or
:class:`CheckpointPlan` they get back. Everything that decides — suspension, the chain rule
(``statements.chain.check_extends``), duplicates, equivocation inside a batch or against
the store, int64 bounds, which index rows and marks and memberships a statement writes,
whether a checkpoint may move "latest" — lives here, so the two dialects cannot drift
(the way Synapse writes its queries once above thin engine dialects).

Nothing here does I/O of its own: a reader answers questions, a plan lists rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Protocol

from borderx.bounds import INT64_MAX, check_int64
from borderx.errors import Equivocation, IssuerSuspended
from borderx.statements.chain import ChainHead, Outcome, check_extends
from borderx.statements.encoding import envelope_from_wire, envelope_to_wire
from borderx.statements.model import Envelope, SignedCheckpoint
from borderx.store.base import (
    AppendResult,
    IndexEffects,
    NewStatement,
    PartyKey,
    StatementKey,
    check_index_effects,
)

#: The largest value a seq column holds: both backends store seqs as signed 64-bit integers.
MAX_INT64: Final = INT64_MAX


def check_seq(value: int, field: str) -> int:
    """Refuse a seq the store cannot hold (a client's mistake, never an INTERNAL error).

    The bound itself is ``borderx.bounds.check_int64``, the one the servicers use at the edge.
    """
    return check_int64(value, field)


def clamp_seq(value: int) -> int:
    """A seq bound for a range query: wider than int64 only ever means "all of them"."""
    return max(-1, min(value, MAX_INT64))


class ChainReader(Protocol):
    """What a plan needs to read, inside the backend's transaction."""

    def head(self, issuer: str) -> ChainHead | None: ...

    def held_digest(self, issuer: str, seq: int) -> bytes | None: ...

    def held_wire(self, issuer: str, seq: int) -> bytes: ...

    def suspension(self, issuer: str) -> tuple[str, datetime] | None: ...


class EquivocationFound(Exception):
    """A second header for a held (issuer, seq), with both wires (redacted) for the evidence."""

    def __init__(
        self, error: Equivocation, held_wire: bytes, conflicting_wire: bytes, reported_by: str
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.held_wire, self.conflicting_wire, self.reported_by = held_wire, conflicting_wire, reported_by


@dataclass
class AppendPlan:
    """The rows one append batch writes, in batch order; empty lists when all were duplicates."""

    results: list[AppendResult] = field(default_factory=list)
    #: (entry, wire) of every new statement, in order
    statements: list[tuple[NewStatement, bytes]] = field(default_factory=list)
    #: (scheme, value, issuer, seq)
    ids: list[tuple[str, str, str, int]] = field(default_factory=list)
    #: (issuer, target_seq, kind, by_seq)
    marks: list[tuple[str, int, str, int]] = field(default_factory=list)
    #: (issuer, programme, member_id, seq, status)
    memberships: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    #: the new head of every issuer that grew
    heads: dict[str, ChainHead] = field(default_factory=dict)
    #: (issuer, seq, serialized matching form, keys) of every new statement with index keys or a form
    forms: list[tuple[str, int, bytes, str]] = field(default_factory=list)
    #: the index change log entries: statements whose index state this batch changes
    touched: list[StatementKey] = field(default_factory=list)


def is_indexed(effects: IndexEffects) -> bool:
    """Whether a statement is found by screening at all: it has ids, name keys or a form."""
    return bool(effects.form or effects.names or effects.ids)


def encode_keys(effects: IndexEffects) -> str:
    """A ``name_forms`` row's keys column: the name keys and party ids, as JSON (any text is safe)."""
    return json.dumps(
        [list(dict.fromkeys(effects.names)), [list(i) for i in dict.fromkeys(effects.ids)]],
        separators=(",", ":"),
    )


def decode_keys(text: str) -> tuple[tuple[str, ...], tuple[PartyKey, ...]]:
    names, ids = json.loads(text)
    return tuple(names), tuple((scheme, value) for scheme, value in ids)


def touched_by(env: Envelope, entry: NewStatement) -> list[StatementKey]:
    """The statements whose index state one new statement changes (its index change log entries).

    Itself when it has a matching form (a new candidate), and every statement it supersedes
    or withdraws (no longer current). A statement without a form and without marks (a
    redacted one, one kept as evidence of a broken rule) changes no screening.
    """
    effects = entry.index
    touched: list[StatementKey] = []
    if is_indexed(effects):
        touched.append((env.issuer, env.seq))
    for ref in (effects.supersedes, effects.withdraws):
        if ref is not None:
            touched.append((env.issuer, ref[1]))
    return touched


def index_rows(
    env: Envelope, entry: NewStatement
) -> tuple[
    list[tuple[str, str, str, int]], list[tuple[str, int, str, int]], list[tuple[str, str, str, int, str]]
]:
    """The derived rows of one statement: party ids, supersede/withdraw marks, membership."""
    effects = entry.index
    issuer, seq = env.issuer, env.seq
    ids = [(scheme, value, issuer, seq) for scheme, value in dict.fromkeys(effects.ids)]
    marks = []
    if effects.supersedes is not None:
        marks.append((issuer, effects.supersedes[1], "superseded", seq))
    if effects.withdraws is not None:
        marks.append((issuer, effects.withdraws[1], "withdrawn", seq))
    members = []
    if effects.membership is not None:
        programme, member_id, status = effects.membership
        members.append((issuer, programme, member_id, seq, status))
    return ids, marks, members


def plan_append(entries: Sequence[NewStatement], wires: Sequence[bytes], reader: ChainReader) -> AppendPlan:
    """Decide a batch: raise before anything is written, or return every row to write.

    Raises IssuerSuspended, ChainGap, PrevDigestMismatch, InvalidArgument (a seq past int64,
    an impossible index reference) or :class:`EquivocationFound`. "Held" includes what this
    batch accepted before, so an equivocating pair inside one batch is found too.
    """
    plan = AppendPlan()
    heads: dict[str, ChainHead | None] = {}
    pending: dict[StatementKey, tuple[Envelope, bytes]] = {}

    def held_digest(issuer: str, seq: int) -> bytes | None:
        got = pending.get((issuer, seq))
        return got[0].digest if got is not None else reader.held_digest(issuer, seq)

    for entry, wire in zip(entries, wires, strict=True):
        env = entry.envelope
        issuer = env.issuer
        check_seq(env.seq, "header.seq")
        check_index_effects(env, entry.index)
        if issuer not in heads:
            suspended = reader.suspension(issuer)
            # after proof of a fault or a stolen key, nothing more signed by that issuer is trusted
            if suspended is not None:
                reason, since = suspended
                raise IssuerSuspended(
                    f"{issuer} is suspended since {since.isoformat()} ({reason}); "
                    "an operator must resume it before its statements are accepted"
                )
            heads[issuer] = reader.head(issuer)
        try:
            outcome = check_extends(heads[issuer], env, held_digest=held_digest)
        except Equivocation as exc:
            held = pending.get((issuer, env.seq))
            held_wire = held[1] if held is not None else reader.held_wire(issuer, env.seq)
            raise EquivocationFound(exc, held_wire, wire, entry.received_from) from None
        if outcome is Outcome.DUPLICATE:
            plan.results.append(AppendResult(issuer, env.seq, env.digest, duplicate=True))
            continue
        head = ChainHead.of(env)
        heads[issuer] = plan.heads[issuer] = head
        pending[(issuer, env.seq)] = (env, wire)
        plan.statements.append((entry, wire))
        ids, marks, members = index_rows(env, entry)
        plan.ids.extend(ids)
        plan.marks.extend(marks)
        plan.memberships.extend(members)
        if is_indexed(entry.index):
            plan.forms.append((issuer, env.seq, entry.index.form, encode_keys(entry.index)))
        plan.touched.extend(touched_by(env, entry))
        plan.results.append(AppendResult(issuer, env.seq, env.digest, duplicate=False))
    return plan


# ---------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class CheckpointPlan:
    """What a checkpoint write does: add it to the history, refresh its time, move "latest"."""

    insert_history: bool
    refresh_history: bool
    set_latest: bool


def plan_checkpoint(
    checkpoint: SignedCheckpoint,
    *,
    held_statement_digest: bytes | None,
    history: tuple[bytes, datetime] | None,
    latest: tuple[int, datetime] | None,
) -> CheckpointPlan:
    """Decide a checkpoint write from what the store holds at its seq.

    ``held_statement_digest`` is the stored header digest at the checkpoint's seq (None when
    not held), ``history`` the (head digest, time) already in the history for that seq,
    ``latest`` the issuer's latest (seq, time). Raises Equivocation when the checkpoint names
    another head than the one held or already checkpointed.
    """
    cp = checkpoint.checkpoint
    check_seq(cp.seq, "checkpoint.seq")
    # a checkpoint naming another header at a seq held here is the issuer signing two
    # histories; keeping it would tell followers a fork is fresh
    if held_statement_digest is not None and held_statement_digest != cp.head_digest:
        raise Equivocation(cp.issuer, cp.seq, held_statement_digest, cp.head_digest)
    if history is not None and history[0] != cp.head_digest:
        # two signed heads for one seq: the same proof of a fault as two headers
        raise Equivocation(cp.issuer, cp.seq, history[0], cp.head_digest)
    insert = history is None
    refresh = history is not None and cp.time > history[1]
    # never backwards: a replayed old checkpoint must not make a stale copy look fresh
    set_latest = latest is None or (cp.seq, cp.time) > latest
    return CheckpointPlan(insert_history=insert, refresh_history=refresh, set_latest=set_latest)


# ---------------------------------------------------------------- evidence bytes


def pack_evidence(envelopes: Sequence[bytes], checkpoints: Sequence[bytes]) -> bytes:
    """One blob for an evidence row: each wire tagged (E envelope, C checkpoint) and length-prefixed."""
    out = bytearray()
    for tag, wires in ((b"E", envelopes), (b"C", checkpoints)):
        for wire in wires:
            out += tag + len(wire).to_bytes(4, "big") + wire
    return bytes(out)


def unpack_evidence(blob: bytes) -> tuple[list[bytes], list[bytes]]:
    """The envelope and checkpoint wires of :func:`pack_evidence`'s blob."""
    envelopes: list[bytes] = []
    checkpoints: list[bytes] = []
    pos = 0
    while pos < len(blob):
        tag, size = blob[pos : pos + 1], int.from_bytes(blob[pos + 1 : pos + 5], "big")
        wire = blob[pos + 5 : pos + 5 + size]
        (envelopes if tag == b"E" else checkpoints).append(wire)
        pos += 5 + size
    return envelopes, checkpoints


def redacted_wire(wire: bytes) -> bytes:
    """``wire`` with its body removed: evidence keeps signed headers, never a body (DESIGN §8)."""
    env = envelope_from_wire(wire)
    return wire if env.body is None else envelope_to_wire(env.redact())


def evidence_fingerprint(blob: bytes) -> bytes:
    return hashlib.sha256(blob).digest()
