"""Witnessing figures (issue 12 items 5-6): the cost of cosigning, and split-view detection time.

1. Cosigning per checkpoint: a witness holding a partner's chain stores each new
   checkpoint and cosigns it (``Witness.consider``: read the checkpoint and the held
   header, one Ed25519 signature, one insert), against a raw Ed25519 signature measured in
   this run. Admitting a received cosignature (``intake.admit_cosignature``: two Ed25519
   verifications, the witness's and the issuer's) against a raw verification.
2. Split-view detection: a hostile AU-ABF shows one valid history to US-CBP and another
   to NZ-CS; each witness cosigns what it verified; then the two (real gateways, mTLS,
   SQLite) start replicating from each other. Measured: from both gateways up until both
   hold the split-view evidence; goal within one replication round (≤ 1 s on loopback).

``BORDERX_BENCH_SCALE`` (default 1.0) scales the counts down for a quick look.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.directory.model import Directory
from borderx.federation.witness import Witness
from borderx.identity.devpki import init_pki
from borderx.statements.bodies import Evidence, FlagCategory
from borderx.statements.intake import IntakePolicy, StoreView, admit_cosignature
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import load_signing_key, sign_checkpoint, sign_statement
from borderx.store import NewStatement, open_store
from tests.bench._common import Figure, ed25519_verifies, rate, report
from tests.federation.harness import free_port
from tests.federation.hostile import HostilePeer, Signs, wait
from tests.federation.test_witness import witness_gateway
from tests.integration.helpers import flag, platform

SCALE = float(os.environ.get("BORDERX_BENCH_SCALE", "1.0"))
CHECKPOINTS = max(100, int(2000 * SCALE))
ROUNDS = max(2, int(5 * min(SCALE * 5, 1)))
AU, US, NZ = "AU-ABF", "US-CBP", "NZ-CS"


def raw_signs_per_second() -> float:
    key, message = Ed25519PrivateKey.generate(), b"x" * 300

    def batch() -> int:
        for _ in range(1000):
            key.sign(message)
        return 1000

    return rate(batch)


def raw_verifies_per_second() -> float:
    return rate(ed25519_verifies(1000, b"x" * 300))


def cosigning(pki: Path, work: Path) -> tuple[float, float]:
    """(cosignatures/s made by a witness, cosignatures/s admitted by a receiver)."""
    au = load_signing_key(pki / AU / "signing.key")
    us = load_signing_key(pki / US / "signing.key")
    store = open_store(f"sqlite:///{work / 'witness.db'}")
    t0 = datetime.now(UTC) - timedelta(hours=1)
    prev = GENESIS_DIGEST
    checkpoints = []
    for seq in range(1, CHECKPOINTS + 1):
        env = sign_statement(
            au, issuer=AU, seq=seq, prev_digest=prev, issued_at=t0, body_type="flag", body=b"x"
        )
        store.append([NewStatement(env, received_from=AU)])
        prev = env.digest
        checkpoints.append(sign_checkpoint(au, issuer=AU, seq=seq, head_digest=prev, time=t0))
    witness = Witness(agency=US, store=store, signer=us)
    made = []
    start = time.perf_counter()
    for cp in checkpoints:
        store.put_checkpoint(cp)
        scos = witness.consider(AU)
        assert scos is not None
        made.append(scos)
    cosign_rate = len(made) / (time.perf_counter() - start)
    directory = Directory.load(pki / "directory.json")
    policy = IntakePolicy(home=NZ)
    view = StoreView(store)
    now = datetime.now(UTC)
    start = time.perf_counter()
    for scos in made:
        admit_cosignature(scos, directory=directory, policy=policy, view=view, held=(), received_at=now)
    admit_rate = len(made) / (time.perf_counter() - start)
    store.close()
    return cosign_rate, admit_rate


def split_view_once(pki: Path, work: Path) -> float:
    """Seconds from two witnesses linking until both hold the split-view evidence."""
    to_us, to_nz = HostilePeer(pki, AU), HostilePeer(pki, AU)
    try:
        x, y = Signs(pki, AU), Signs(pki, AU)
        for i in range(3):
            x.next(flag((platform(f"x-{i}"),), FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED))
            y.next(flag((platform(f"y-{i}"),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED))
        to_us.send_batch(x.envs)
        to_us.send(x.checkpoint())
        to_nz.send_batch(y.envs)
        to_nz.send(y.checkpoint())
        us_port = free_port()
        nz_port = free_port({us_port})
        us = witness_gateway(pki, work, US, us_port, to_us, None)
        nz = witness_gateway(pki, work, NZ, nz_port, to_nz, None)
        try:
            wait(lambda: us.gateway.store.witnessed_heads(AU) and nz.gateway.store.witnessed_heads(AU))
        finally:
            us.stop()
            nz.stop()
        start = time.perf_counter()
        us = witness_gateway(pki, work, US, us_port, to_us, (NZ, nz_port))
        nz = witness_gateway(pki, work, NZ, nz_port, to_nz, (US, us_port))
        try:
            wait(
                lambda: all(
                    any(e.kind == "split_view" for e in gw.gateway.store.evidence()) for gw in (us, nz)
                ),
                timeout=30,
            )
            return time.perf_counter() - start
        finally:
            us.stop()
            nz.stop()
    finally:
        to_us.stop()
        to_nz.stop()


def main() -> None:
    signs, verifies = raw_signs_per_second(), raw_verifies_per_second()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        cosign_rate, admit_rate = cosigning(pki, work)
        report(
            Figure(
                f"cosigning {CHECKPOINTS:,} checkpoints (store checkpoint + cosign + store) vs raw Ed25519 signs",
                cosign_rate,
                signs,
                "checkpoints/s",
                "(information)",
            )
        )
        print(f"  ({1e6 / cosign_rate:,.0f} µs per cosigned checkpoint)")
        report(
            Figure(
                "admitting a received cosignature (two verifications) vs raw Ed25519 verifies",
                admit_rate,
                verifies,
                "cosignatures/s",
                ">= 0.2",
            )
        )
        times = []
        for i in range(ROUNDS):
            run = work / f"split-{i}"
            run.mkdir()
            times.append(split_view_once(pki, run) * 1000)
        print(
            f"split-view detection at both witnesses over {len(times)} runs: "
            f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms (includes both gateways starting)"
        )
        report(
            Figure(
                "split-view detection (max) vs one replication round (1 s)",
                max(times),
                1000.0,
                "ms",
                "<= 1.0",
            )
        )


if __name__ == "__main__":
    main()
