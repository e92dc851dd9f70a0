"""Witnessing (DESIGN §8, issue 12 item 5): when cosigned checkpoints prove a split view.

A gateway cosigns a partner issuer's checkpoint once it holds the header at the
checkpoint's seq with the checkpoint's head digest. Cosignatures travel to every
follower. Two cosigned checkpoints of one issuer at one seq with different heads are
signed proof that the issuer showed different histories to different partners (a
*split view*), and so is a cosigned checkpoint whose head differs from the header this
gateway holds at that seq.

This module owns the decision alone (:func:`split_view`): pure, no store, no sockets.
Admission of a received cosignature is :func:`borderx.statements.intake.admit_cosignature`;
the replicator applies what it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from borderx.statements.model import SignedCheckpoint, SignedCosignature


def _short(digest: bytes) -> str:
    return f"{digest.hex()[:16]}…"


@dataclass(frozen=True)
class SplitView:
    """Signed proof that ``issuer`` showed two heads at ``seq``.

    ``cosignature`` is the one just received; ``other`` the held cosignature it disagrees
    with (None when it disagrees with the header this gateway holds, ``held_digest``).
    """

    issuer: str
    seq: int
    cosignature: SignedCosignature
    other: SignedCosignature | None
    held_digest: bytes | None
    detail: str

    @property
    def checkpoints(self) -> tuple[SignedCheckpoint, ...]:
        """The issuer's signed checkpoints that disagree (one when the other side is a held header)."""
        mine = self.cosignature.cosignature.checkpoint
        if self.other is None:
            return (mine,)
        return (mine, self.other.cosignature.checkpoint)


def split_view(
    cosignature: SignedCosignature, known: Sequence[SignedCosignature], held_digest: bytes | None
) -> SplitView | None:
    """Whether ``cosignature`` proves a split view against what this gateway knows.

    ``known`` are the cosignatures held for the same (issuer, seq); ``held_digest`` the digest
    of the header held at that seq (None: not held). Returns the first disagreement, or None.
    """
    issuer, seq, head = cosignature.issuer, cosignature.seq, cosignature.head_digest
    for other in known:
        # same issuer and seq by the caller's query; a witness is who saw which head
        if other.issuer == issuer and other.seq == seq and other.head_digest != head:
            return SplitView(
                issuer=issuer,
                seq=seq,
                cosignature=cosignature,
                other=other,
                held_digest=held_digest,
                detail=(
                    f"split view: {issuer} seq {seq} has head {_short(head)} as witnessed by "
                    f"{cosignature.witness} and head {_short(other.head_digest)} as witnessed by "
                    f"{other.witness}; both checkpoints are signed by {issuer}"
                ),
            )
    if held_digest is not None and held_digest != head:
        return SplitView(
            issuer=issuer,
            seq=seq,
            cosignature=cosignature,
            other=None,
            held_digest=held_digest,
            detail=(
                f"split view: {cosignature.witness} witnessed {issuer} seq {seq} with head {_short(head)}, "
                f"this gateway holds head {_short(held_digest)} there; both are signed by {issuer}"
            ),
        )
    return None
