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

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from borderx.errors import (
    ChainError,
    ChainGap,
    Equivocation,
    IssuerMismatch,
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
