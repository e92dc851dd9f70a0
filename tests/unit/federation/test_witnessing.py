"""The cosigning side of witnessing (``federation.witness.Witness``) on a real SQLite store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.federation.witness import Witness
from borderx.statements.model import GENESIS_DIGEST, Envelope
from borderx.statements.signing import Signer, sign_checkpoint, sign_statement
from borderx.store import NewStatement, open_store
from borderx.store.base import Store

AU, US = "AU-ABF", "US-CBP"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def signer(label: str) -> Signer:
    return Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest()))


def chain(store: Store, n: int) -> list[Envelope]:
    au, prev, out = signer(AU), GENESIS_DIGEST, []
    for seq in range(1, n + 1):
        env = sign_statement(
            au, issuer=AU, seq=seq, prev_digest=prev, issued_at=T0, body_type="flag", body=b"x"
        )
        store.append([NewStatement(env, received_from=AU)])
        prev = env.digest
        out.append(env)
    return out


def test_cosigns_a_verified_head_once_per_seq(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    envs = chain(store, 3)
    notified: list[int] = []
    witness = Witness(
        agency=US, store=store, signer=signer(US), on_cosigned=lambda: notified.append(1), clock=lambda: T0
    )
    assert witness.consider(AU) is None  # no checkpoint yet
    store.put_checkpoint(sign_checkpoint(signer(AU), issuer=AU, seq=2, head_digest=envs[1].digest, time=T0))
    made = witness.consider(AU)
    assert made is not None and made.seq == 2 and made.witness == US and made.cosignature.time == T0
    # a heartbeat at the same seq needs no new cosignature, in this process or the next
    later = T0 + timedelta(minutes=1)
    store.put_checkpoint(
        sign_checkpoint(signer(AU), issuer=AU, seq=2, head_digest=envs[1].digest, time=later)
    )
    assert witness.consider(AU) is None
    assert Witness(agency=US, store=store, signer=signer(US)).consider(AU) is None
    assert len(store.cosignatures_at(AU, 2)) == 1 and notified == [1]
    store.close()


def test_never_cosigns_a_head_it_does_not_hold_or_its_own_chain(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    chain(store, 2)
    witness = Witness(agency=US, store=store, signer=signer(US))
    # ahead of what we hold: we cannot say our copy agrees
    store.put_checkpoint(sign_checkpoint(signer(AU), issuer=AU, seq=5, head_digest=b"\x05" * 32, time=T0))
    assert witness.consider(AU) is None
    assert Witness(agency=AU, store=store, signer=signer(AU)).consider(AU) is None
    assert store.cosignatures_after(0, 10) == []
    store.close()


def test_never_cosigns_a_suspended_issuer(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    envs = chain(store, 1)
    store.put_checkpoint(sign_checkpoint(signer(AU), issuer=AU, seq=1, head_digest=envs[0].digest, time=T0))
    store.suspend_issuer(AU, "split view")
    assert Witness(agency=US, store=store, signer=signer(US)).consider(AU) is None
    store.close()
