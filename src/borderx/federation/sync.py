"""Replication's per-issuer decisions, as a pure state machine: statement / checkpoint / idle → actions.

One :class:`IssuerSync` per (session, issuer) tracks the held head, the rolling signatures
digest at that head, the checkpoints waiting for the run they cover, and the contiguous
statements buffered above the head. It reads no store and opens no socket (like
python-tuf's ``TrustedMetadataSet``): the link (``replicator.PeerLink``) feeds it events and
applies the actions it returns — admitting and storing runs, storing checkpoints, recording
equivocation, ending the session. The state advances as if each action succeeded; an action
that fails either ends the session (its state is dropped, the next one starts from the
store) or blocks the issuer for the session (:meth:`IssuerSync.block`).

Rules kept here:

- statements must be contiguous from the held head: a gap ends the session;
- a run is authenticated by the first pending checkpoint that covers it (one checkpoint
  signature plus the hash chain and the signatures digest, ``verify_run``); each
  statement's own signature is still verified on admission (invariant 7.1);
- with no covering checkpoint, the buffer is flushed for one-by-one verification when the
  stream goes idle or the buffer is full; while a pending checkpoint promises the rest of
  the run, a few idle ticks (``IDLE_PATIENCE``) are waited first, so that a catch-up is
  admitted in the runs its checkpoints cover (a run under a since-retired key is proven by
  the witnesses' cosignatures of a head inside it: ``intake.proven_time``);
- a second, different header for a held or buffered seq is a conflict (equivocation if it
  verifies): the buffer is flushed first so the first header is held when it is compared;
- a redacted statement whose body we are entitled to blocks the issuer for the session
  (storing the header alone would lose the body for good).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from borderx.directory.model import Directory
from borderx.errors import ChainError, VerificationError
from borderx.statements.chain import ChainHead
from borderx.statements.checkpoints import roll_signatures, verify_run
from borderx.statements.model import Envelope, SignedCheckpoint


@dataclass(frozen=True)
class StoreRun:
    """Admit and store ``run`` (contiguous from the head); ``checkpoint`` covers it, if any."""

    issuer: str
    run: tuple[Envelope, ...]
    checkpoint: SignedCheckpoint | None = None


@dataclass(frozen=True)
class StoreCheckpoint:
    """Keep a checkpoint of a head already held."""

    checkpoint: SignedCheckpoint


@dataclass(frozen=True)
class Conflict:
    """A different header for a held seq: verify it, then let the store record equivocation."""

    envelope: Envelope


@dataclass(frozen=True)
class Refuse:
    """End the session: the peer sent something no honest relay sends (a gap, a bad run)."""

    kind: str
    issuer: str
    detail: str


Action = StoreRun | StoreCheckpoint | Conflict | Refuse

#: idle ticks a buffer waits for the statements a pending checkpoint promises before it is flushed
IDLE_PATIENCE = 20


@dataclass
class IssuerSync:
    """The replication state of one issuer during one session. See the module docstring."""

    issuer: str
    me: str
    head: ChainHead | None
    signatures: bytes | None
    max_buffer: int = 1024
    pending: list[SignedCheckpoint] = field(default_factory=list)
    buffer: list[Envelope] = field(default_factory=list)
    blocked: bool = False
    patience: int = IDLE_PATIENCE

    @property
    def held_seq(self) -> int:
        return self.head.seq if self.head else 0

    @property
    def next_seq(self) -> int:
        return self.held_seq + len(self.buffer) + 1

    def block(self) -> None:
        """Stop taking this issuer's statements for the rest of the session."""
        self.blocked = True
        self.buffer.clear()
        self.pending.clear()

    # ------------------------------------------------------------ events

    def statement(self, env: Envelope, directory: Directory) -> list[Action]:
        if self.blocked:
            return []
        if env.seq < self.next_seq:
            return self._replayed(env)
        if env.seq > self.next_seq:
            have = self.next_seq - 1
            return [
                *self.flush(),
                Refuse(
                    "gap",
                    self.issuer,
                    f"{self.issuer} skipped from seq {have} to {env.seq}: seq {have + 1}..{env.seq - 1} withheld",
                ),
            ]
        if env.body is None and env.header.readable_by(self.me):
            # the peer cannot (or will not) give us a body we are entitled to; storing the
            # header alone would lose that body for good, so wait for another peer
            actions = self.flush()
            self.block()
            return actions
        self.buffer.append(env)
        self.patience = IDLE_PATIENCE
        actions = self._covered(directory)
        if len(self.buffer) >= self.max_buffer:
            actions += self.flush()
        return actions

    def checkpoint(self, scp: SignedCheckpoint, directory: Directory) -> list[Action]:
        """A checkpoint that already passed admission (signature, key, time)."""
        if self.blocked:
            return []
        if scp.seq <= self.held_seq:
            return [StoreCheckpoint(scp)]
        if not self.pending or scp.seq > self.pending[-1].seq:
            self.pending.append(scp)
        return self._covered(directory)

    def idle(self) -> list[Action]:
        """The stream went quiet: verify what is buffered one by one (after a little patience)."""
        if self.pending and self.buffer and self.patience > 0:
            # the checkpoint we hold says the rest of its run exists: it is likely on its way
            self.patience -= 1
            return []
        return self.flush()

    # ------------------------------------------------------------ internals

    def flush(self) -> list[Action]:
        if not self.buffer or self.blocked:
            return []
        run, self.buffer = tuple(self.buffer), []
        self._advance(run)
        if self.signatures is not None:
            self.signatures = roll_signatures(self.signatures, run)
        return [StoreRun(self.issuer, run)]

    def _advance(self, run: tuple[Envelope, ...]) -> None:
        self.head = ChainHead.of(run[-1])

    def _replayed(self, env: Envelope) -> list[Action]:
        if env.seq > self.held_seq:
            if self.buffer[env.seq - self.held_seq - 1].digest == env.digest:
                return []
            # two headers for one seq in one stream: hold the first, then compare
            return [*self.flush(), Conflict(env)]
        return [Conflict(env)]

    def _covered(self, directory: Directory) -> list[Action]:
        """Authenticate and store every buffered run that a pending checkpoint covers."""
        actions: list[Action] = []
        while self.pending:
            cp = self.pending[0]
            if cp.seq <= self.held_seq:
                self.pending.pop(0)
                actions.append(StoreCheckpoint(cp))
                continue
            if self.held_seq + len(self.buffer) < cp.seq:
                break
            run = tuple(self.buffer[: cp.seq - self.held_seq])
            try:
                verify_run(cp, run, directory=directory, start=self.head, start_signatures=self.signatures)
            except (VerificationError, ChainError) as exc:
                self.buffer.clear()
                actions.append(Refuse("bad_run", self.issuer, str(exc)))
                return actions
            self.pending.pop(0)
            del self.buffer[: len(run)]
            self._advance(run)
            self.signatures = cp.checkpoint.signatures_digest or None
            actions.append(StoreRun(self.issuer, run, cp))
        return actions
