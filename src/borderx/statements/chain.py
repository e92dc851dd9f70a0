"""Per-issuer hash chains (DESIGN §3): accept, recognise replays, detect gaps and equivocation.

This module owns the chain rules and nothing else: it is pure (no I/O, no signatures, no
clock). Callers verify an envelope first (``borderx.statements.verify``) and then ask here
whether it extends what they hold.

The rules, for an envelope of issuer I at seq n, when the held head of I is (h, d):

- n == h + 1 and prev_digest == d (genesis: n == 1 and prev_digest == 32 zero bytes)
  → ``Outcome.ACCEPT``;
- n > h + 1 → ``ChainGap`` (seq h+1..n-1 were withheld, by a relay or the network);
- n == h + 1 and prev_digest != d → ``PrevDigestMismatch`` (the issuer built on a header
  this holder does not have: a fork further back, or a corrupted chain);
- n <= h and the held header at n has the same digest → ``Outcome.DUPLICATE`` (a replay;
  accepting it again is a no-op, so replication is idempotent);
- n <= h and the held header at n differs → ``Equivocation``, carrying both digests; the
  caller keeps both envelopes as signed evidence.

Invariant kept (with a caller that applies ``ACCEPT`` and only ``ACCEPT``): what is held
per issuer is a gap-free prefix of one hash chain, so two holders with the same head hold
the same statements (DESIGN §7.2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from borderx.errors import (
    ChainError,
    ChainGap,
    Equivocation,
    IssuerMismatch,
    IssuerSuspended,
    PrevDigestMismatch,
)
from borderx.statements.model import GENESIS_DIGEST, Envelope

#: ``held_digest(issuer, seq)``: the digest of the held header at ``seq``, or None.
HeldDigest = Callable[[str, int], bytes | None]


class Outcome(StrEnum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last statement held for one issuer: its seq and header digest."""

    issuer: str
    seq: int
    digest: bytes

    @classmethod
    def of(cls, env: Envelope) -> ChainHead:
        return cls(env.issuer, env.seq, env.digest)


def _short(digest: bytes) -> str:
    return f"{digest.hex()[:16]}…"


def check_extends(head: ChainHead | None, env: Envelope, *, held_digest: HeldDigest) -> Outcome:
    """Whether ``env`` extends the chain whose held head is ``head`` (None: nothing held yet).

    ``held_digest`` is consulted only for seq <= head.seq. Raises ChainGap,
    PrevDigestMismatch or Equivocation; see the module docstring for the rules.
    """
    header = env.header
    issuer, seq = header.issuer, header.seq
    if head is None:
        have, have_digest = 0, GENESIS_DIGEST
    else:
        # a head of another issuer would let one issuer's statements extend another's chain
        if head.issuer != issuer:
            raise IssuerMismatch(f"statement of {issuer} checked against the chain head of {head.issuer}")
        have, have_digest = head.seq, head.digest
    if seq == have + 1:
        # the link to what is held: without it a relay could splice in a header from a fork
        if header.prev_digest != have_digest:
            if seq == 1:
                raise PrevDigestMismatch(
                    f"{issuer} seq 1: prev_digest is {_short(header.prev_digest)}, "
                    "the first statement must have 32 zero bytes (genesis)"
                )
            raise PrevDigestMismatch(
                f"{issuer} seq {seq}: prev_digest {_short(header.prev_digest)} does not match "
                f"the held header at seq {have} ({_short(have_digest)})"
            )
        return Outcome.ACCEPT
    if seq > have + 1:
        # something between was withheld; accepting would leave a hole nobody notices
        raise ChainGap(issuer, have, seq)
    # seq <= have: a replay, or a second header for a seq already held
    held = have_digest if seq == have else held_digest(issuer, seq)
    if held is None:
        # the holder claims a head past seq but cannot show seq: its store is not a
        # gap-free prefix, so no verdict here could be trusted
        raise ChainError(f"{issuer}: holding up to seq {have} but no header at seq {seq}")
    if held == env.digest:
        return Outcome.DUPLICATE
    # two signed headers for one (issuer, seq): a faulty issuer or a stolen key
    raise Equivocation(issuer, seq, held, env.digest)


class ChainState:
    """In-memory chains of every issuer, under the rules of ``check_extends``.

    For tests and the bulk path. Keeps every accepted envelope (per issuer, index seq-1),
    each equivocation as a pair ``(held, received)`` of envelopes, and refuses further
    statements of an issuer that equivocated (``IssuerSuspended``) until ``resume``.
    """

    def __init__(self) -> None:
        self._chains: dict[str, list[Envelope]] = {}
        self._suspended: set[str] = set()
        self.equivocations: list[tuple[Envelope, Envelope]] = []

    def head(self, issuer: str) -> ChainHead | None:
        chain = self._chains.get(issuer)
        return ChainHead.of(chain[-1]) if chain else None

    def version_vector(self) -> dict[str, int]:
        """``{issuer: last seq held}``, as a Subscribe request carries it."""
        return {issuer: len(chain) for issuer, chain in self._chains.items() if chain}

    def held(self, issuer: str, seq: int) -> Envelope | None:
        chain = self._chains.get(issuer)
        if chain is None or not 1 <= seq <= len(chain):
            return None
        return chain[seq - 1]

    def held_digest(self, issuer: str, seq: int) -> bytes | None:
        env = self.held(issuer, seq)
        return None if env is None else env.digest

    def suspended(self, issuer: str) -> bool:
        return issuer in self._suspended

    def resume(self, issuer: str) -> None:
        """An operator's decision to take statements of ``issuer`` again after an equivocation."""
        self._suspended.discard(issuer)

    def accept(self, env: Envelope) -> Outcome:
        """Apply ``check_extends``; on ACCEPT the envelope becomes the issuer's head.

        On Equivocation both envelopes are kept in ``equivocations``, the issuer is
        suspended, and the error is raised for the caller to alarm on.
        """
        issuer = env.issuer
        # after proof of a fault or stolen key nothing more from that issuer can be trusted
        if issuer in self._suspended:
            raise IssuerSuspended(f"{issuer} is suspended after equivocation; an operator must resume it")
        chain = self._chains.get(issuer)
        head = ChainHead.of(chain[-1]) if chain else None
        try:
            outcome = check_extends(head, env, held_digest=self.held_digest)
        except Equivocation as exc:
            held = self.held(issuer, exc.seq)
            if held is not None and not any(
                a.digest == held.digest and b.digest == env.digest for a, b in self.equivocations
            ):
                self.equivocations.append((held, env))
            self._suspended.add(issuer)
            raise
        if outcome is Outcome.ACCEPT:
            if chain is None:
                self._chains[issuer] = [env]
            else:
                chain.append(env)
        return outcome

    def accept_all(self, envs: Iterable[Envelope]) -> int:
        """Accept each in order; returns how many were new (ACCEPT). Stops at the first error."""
        return sum(self.accept(env) is Outcome.ACCEPT for env in envs)
