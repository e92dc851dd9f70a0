"""Witnessing partners' checkpoints (DESIGN §8, issue 12 item 5): the cosigning side.

When this gateway holds a partner issuer's checkpoint whose head is the header it holds at
that seq, it cosigns the checkpoint with its own statement-signing key and its own time
(``signing.sign_cosignature``) and keeps the cosignature, which Subscribe then sends to
every follower. At most one cosignature per (issuer, seq): a heartbeat at an unchanged
seq costs nothing. Never for our own agency (an issuer does not witness itself), nor for
a suspended issuer.

The receiving side (admission, split-view decision) is ``statements.intake.admit_cosignature``
applied by ``federation.replicator.PeerLink``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from borderx.logging import get_logger
from borderx.statements.model import SignedCosignature
from borderx.statements.signing import Signer, sign_cosignature
from borderx.store.base import Store

log = get_logger("borderx.federation.witness")


class Witness:
    """Cosigns the partners' checkpoints this gateway verified against its own copy of their chains."""

    def __init__(
        self,
        *,
        agency: str,
        store: Store,
        signer: Signer,
        on_cosigned: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._agency = agency
        self._store = store
        self._signer = signer
        self._on_cosigned = on_cosigned
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        #: issuer → highest seq cosigned (or found cosigned) by this process
        self._done: dict[str, int] = {}

    def consider(self, issuer: str) -> SignedCosignature | None:
        """Cosign ``issuer``'s latest held checkpoint if it is verified against our chain and new."""
        if issuer == self._agency:
            return None
        with self._lock:
            scp = self._store.checkpoint(issuer)
            if scp is None or scp.seq == 0 or scp.seq <= self._done.get(issuer, 0):
                return None
            if issuer in self._store.suspended_issuers():
                return None  # we hold proof against it (or an operator stopped it): vouch for nothing
            held = self._store.get(issuer, scp.seq)
            # only a head we hold ourselves: a cosignature says "my copy agrees", never "I was told"
            if held is None or held.envelope.digest != scp.checkpoint.head_digest:
                return None
            if any(c.witness == self._agency for c in self._store.cosignatures_at(issuer, scp.seq)):
                self._done[issuer] = scp.seq
                return None
            scos = sign_cosignature(self._signer, checkpoint=scp, witness=self._agency, time=self._clock())
            self._store.put_cosignature(scos)
            self._done[issuer] = scp.seq
        log.debug("checkpoint.cosigned", issuer=issuer, seq=scp.seq, key_id=self._signer.key_id[:16])
        self._on_cosigned()
        return scos
