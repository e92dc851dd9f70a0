"""Helper for the kill -9 test: append one chain in small batches, printing each acknowledged seq.

Run as ``python crash_writer.py STORE_URL [checkpoints]``; it runs until killed. A seq is
printed only after ``append`` has returned, so every printed seq must survive the kill. With
``checkpoints`` each batch is appended with a checkpoint of its last statement (as a bulk
sync stores a run and the checkpoint that vouched for it), which must survive with it.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import Signer, sign_checkpoint, sign_statement
from borderx.store import IndexEffects, NewStatement, open_store

BATCH = 20


def main(url: str, checkpoints: bool) -> None:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"AU-ABF").digest()))
    store = open_store(url)
    seq, prev = 0, GENESIS_DIGEST
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    while True:
        batch = []
        for _ in range(BATCH):
            seq += 1
            env = sign_statement(
                signer,
                issuer="AU-ABF",
                seq=seq,
                prev_digest=prev,
                issued_at=t0 + timedelta(seconds=seq),
                body_type="designation",
                body=b"crash test %d" % seq,
            )
            prev = env.digest
            batch.append(NewStatement(env, index=IndexEffects(ids=(("ABN", "crash"),), kind="designation")))
        checkpoint = (
            sign_checkpoint(
                signer, issuer="AU-ABF", seq=seq, head_digest=prev, time=t0 + timedelta(seconds=seq)
            )
            if checkpoints
            else None
        )
        store.append(batch, checkpoint=checkpoint)
        print(seq, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] == ["checkpoints"])
