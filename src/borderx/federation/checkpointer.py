"""Signing this agency's checkpoints: ``(issuer, seq, head_digest, time, signatures_digest)``.

A checkpoint is signed when the chain has grown by ``checkpoint_every`` statements since
the last one (so a bulk sync authenticates runs of bounded length), when a new head has
waited ``checkpoint_seconds``, and at least every ``heartbeat_seconds`` even when nothing
changed (so partners can tell how fresh their copy is).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from borderx.federation.sigchain import signatures_digest_at
from borderx.logging import get_logger
from borderx.statements.checkpoints import roll_signatures
from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint
from borderx.statements.signing import Signer, sign_checkpoint
from borderx.store.base import Store

log = get_logger("borderx.checkpoint")


class Checkpointer:
    def __init__(
        self,
        *,
        agency: str,
        store: Store,
        signer: Signer,
        every: int,
        on_checkpoint: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._agency = agency
        self._store = store
        self._signer = signer
        self._every = every
        self._on_checkpoint = on_checkpoint
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        #: (seq, rolling signatures digest) of this agency's chain, kept current by
        #: ``published`` so a checkpoint does not re-read what was just signed
        self._rolling: tuple[int, bytes] | None = None

    def published(self, envelopes: Sequence[Envelope]) -> None:
        """Roll the signatures digest over statements this process just published."""
        with self._lock:
            if self._rolling is not None and envelopes and envelopes[0].seq == self._rolling[0] + 1:
                self._rolling = (envelopes[-1].seq, roll_signatures(self._rolling[1], envelopes))
            else:
                self._rolling = None  # another replica published in between: recompute from the store

    def due(self) -> bool:
        """Whether the chain has outgrown the last checkpoint by ``every`` statements."""
        head = self._store.head(self._agency)
        last = self._store.checkpoint(self._agency)
        return head is not None and head.seq - (last.seq if last else 0) >= self._every

    def checkpoint(self, *, heartbeat: bool = False) -> SignedCheckpoint | None:
        """Sign a checkpoint at the current head if it moved (or always, for a heartbeat).

        Signed under the store's publish lock: no replica signs a statement meanwhile, so a
        checkpoint never postdates a statement above its head that was already being signed
        (receivers refuse a statement dated before a checkpoint of a lower head, DESIGN §8).
        """
        with self._lock, self._store.publish_lock(self._agency):
            head = self._store.head(self._agency)
            last = self._store.checkpoint(self._agency)
            seq = head.seq if head else 0
            if not heartbeat and last is not None and last.seq >= seq:
                return None
            if heartbeat and head is None:
                return None
            if self._rolling is not None and self._rolling[0] == seq:
                digest: bytes | None = self._rolling[1]
            else:
                digest = signatures_digest_at(self._store, self._agency, seq)
                self._rolling = (seq, digest) if digest is not None else None
            when = self._clock()
            if head is not None:
                # never before the statement it covers (another replica's clock may lead ours)
                held = self._store.get(self._agency, head.seq)
                if held is not None and held.envelope.header.issued_at > when:
                    when = held.envelope.header.issued_at
            scp = sign_checkpoint(
                self._signer,
                issuer=self._agency,
                seq=seq,
                head_digest=head.digest if head else GENESIS_DIGEST,
                time=when,
                signatures_digest=digest or b"",
            )
            self._store.put_checkpoint(scp)
        log.debug("checkpoint.signed", issuer=self._agency, seq=seq, key_id=self._signer.key_id[:16])
        self._on_checkpoint()
        return scp
