"""The rolling signatures digest of an issuer's chain at a given seq, from what the store holds.

Checkpoints commit to it (see ``statements/checkpoints.py``); the issuer needs it to sign
a checkpoint and a receiver needs it at its head to check a run's signatures by hashing.
It is rolled forward from the nearest stored checkpoint that carries one (or genesis),
so the cost is bounded by the checkpoint cadence.
"""

from __future__ import annotations

from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
from borderx.store.base import Store

_PAGE = 1024


def signatures_digest_at(store: Store, issuer: str, seq: int) -> bytes | None:
    """The rolling digest after statement ``seq`` of ``issuer``; None if a statement is missing."""
    start_seq, digest = 0, GENESIS_SIGNATURES
    checkpoint = store.checkpoint_at_or_before(issuer, seq)
    if checkpoint is not None and checkpoint.checkpoint.signatures_digest:
        start_seq, digest = checkpoint.checkpoint.seq, checkpoint.checkpoint.signatures_digest
    pos = start_seq
    while pos < seq:
        page = store.read_range(issuer, pos, min(_PAGE, seq - pos))
        if not page or page[0].envelope.seq != pos + 1:
            return None
        digest = roll_signatures(digest, [s.envelope for s in page])
        pos = page[-1].envelope.seq
    return digest
