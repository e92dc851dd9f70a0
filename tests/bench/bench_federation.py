"""Federation figures: bulk sync through checkpoints, and propagation latency.

1. Bulk sync: a source gateway (AU-ABF) holds N of its own statements, checkpointed every
   256; a new gateway (NZ-CS) subscribes and must end up holding all N, verified. Measured:
   statements/s from the receiver's start until its head reaches N, ÷ raw Ed25519
   verifies/s measured in this run (goal ≥ 3: only one signature per 256 statements is
   checked, the rest is hashing). Also the receiver's peak resident memory (VmHWM) at
   100,000 vs 1,000,000 statements (goal: flat, ratio ≤ 1.5).
2. Propagation: publish 1,000 statements one at a time at AU-ABF; the time until each is
   accepted at NZ-CS (where Screen sees it in the same transaction), observed by a home
   service following NZ-CS's feed. p50 and p99; goal p99 ≤ 250 ms on loopback.

``BORDERX_BENCH_SCALE`` (default 1.0) scales N down for a quick look.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.federation.sigchain import signatures_digest_at
from borderx.identity.devpki import init_pki
from borderx.screening.index import index_effects
from borderx.statements.body_codec import designation_to_proto, encode_body
from borderx.statements.checkpoints import roll_signatures
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import load_signing_key, sign_checkpoint, sign_statement
from borderx.store import NewStatement, open_store
from tests.bench._common import Figure, ed25519_verifies, rate, report
from tests.conftest import channel, creds_for
from tests.integration.helpers import designation, platform
from tests.procs import GatewayProcess

SCALE = float(os.environ.get("BORDERX_BENCH_SCALE", "1.0"))
LARGE = max(1000, int(1_000_000 * SCALE))
SMALL = max(1000, int(100_000 * SCALE))
CHECKPOINT_EVERY = 256
PROPAGATION = max(100, int(1000 * min(SCALE * 10, 1)))


def raw_verifies_per_second() -> float:
    return rate(ed25519_verifies(1000))


def build_source(pki: Path, path: Path, n: int) -> None:
    """AU-ABF's store with n of its statements and a checkpoint every 256."""
    signer = load_signing_key(pki / "AU-ABF" / "signing.key")
    template = designation("AU-ABF", (platform("bulk-0"),))
    body = encode_body(template)
    store = open_store(f"sqlite:///{path}")
    prev, sigs = GENESIS_DIGEST, roll_signatures(bytes(32), [])
    t0 = datetime.now(UTC) - timedelta(hours=1)
    batch: list[NewStatement] = []
    effects = None
    for seq in range(1, n + 1):
        env = sign_statement(
            signer,
            issuer="AU-ABF",
            seq=seq,
            prev_digest=prev,
            issued_at=t0,
            body_type="designation",
            body=body,
        )
        effects = effects or index_effects(env)
        batch.append(NewStatement(env, "", effects))
        prev = env.digest
        if seq % CHECKPOINT_EVERY == 0 or seq == n:
            store.append(batch)
            sigs = roll_signatures(sigs, [s.envelope for s in batch])
            batch = []
            store.put_checkpoint(
                sign_checkpoint(
                    signer, issuer="AU-ABF", seq=seq, head_digest=prev, time=t0, signatures_digest=sigs
                )
            )
    assert signatures_digest_at(store, "AU-ABF", n) == sigs
    store.close()


def gateway_toml(pki: Path, agency: str, work: Path, peers: dict[str, int]) -> Path:
    text = (
        (pki / agency / "gateway.toml")
        .read_text()
        .replace('directory = "../directory.json"', f'directory = "{pki / "directory.json"}"')
    )
    for name in ("gateway.pem", "gateway.key", "signing.key"):
        text = text.replace(f'"{name}"', f'"{pki / agency / name}"')
    endpoints = "\n".join(f'{a} = "127.0.0.1:{p}"' for a, p in peers.items())
    text += f"\n[federation]\npeers = {list(peers)!r}\ncheckpoint_seconds = 0.05\n[federation.endpoints]\n{endpoints}\n".replace(
        "'", '"'
    )
    out = work / f"{agency}.toml"
    out.write_text(text)
    return out


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bulk_sync(pki: Path, work: Path, n: int) -> tuple[float, int]:
    source_db = work / f"source-{n}.db"
    build_source(pki, source_db, n)
    src = launch(gateway_toml(pki, "AU-ABF", work, {}), source_db, work, f"source-{n}")
    receiver_db = work / f"receiver-{n}.db"
    try:
        start = time.perf_counter()
        rcv = launch(
            gateway_toml(pki, "NZ-CS", work, {"AU-ABF": src.port}), receiver_db, work, f"receiver-{n}"
        )
        try:
            store = open_store(f"sqlite:///{receiver_db}")
            while True:
                head = store.head("AU-ABF")
                if head is not None and head.seq >= n:
                    break
                if time.perf_counter() - start > 600:
                    raise RuntimeError(f"bulk sync stalled at {head}")
                time.sleep(0.05)
            seconds = time.perf_counter() - start
            # then every signature checked (the deferred Ed25519 checks, federation/sigcheck.py)
            while store.verified_heads().get("AU-ABF", 0) < n:
                if time.perf_counter() - start > 900:
                    raise RuntimeError("signature checks stalled")
                time.sleep(0.05)
            verified_seconds = time.perf_counter() - start
            store.close()
            assert rcv.proc is not None
            peak = vm_hwm_kib(rcv.proc.pid)
        finally:
            rcv.terminate()
    finally:
        src.terminate()
    return n / seconds, peak, n / verified_seconds


def launch(config: Path, db: Path, work: Path, name: str) -> GatewayProcess:
    return GatewayProcess(config, store=f"sqlite:///{db}", workdir=work, name=name).start()


def propagation(pki: Path, work: Path) -> list[float]:
    from borderx.statements.encoding import decode_header

    nz_toml = gateway_toml(pki, "NZ-CS", work, {})
    nz = launch(nz_toml, work / "p-nz.db", work, "p-nz")
    au = launch(gateway_toml(pki, "AU-ABF", work, {"NZ-CS": nz.port}), work / "p-au.db", work, "p-au")
    # NZ-CS now follows AU-ABF (same port, new config)
    nz.terminate()
    nz.config = gateway_toml(pki, "NZ-CS", work, {"AU-ABF": au.port})
    nz.start()
    arrived: dict[int, float] = {}
    ready = threading.Event()

    def follow() -> None:
        with channel(nz.target, creds_for(pki, "NZ-CS", "service", server_agency="NZ-CS")) as ch:
            stream = exchange_pb2_grpc.ExchangeStub(ch).Subscribe(
                exchange_pb2.SubscribeRequest(follow=True, issuers=["AU-ABF"])
            )
            ready.set()
            for event in stream:
                kind = event.WhichOneof("event")
                statements = [event.statement] if kind == "statement" else list(event.batch.statements)
                for statement in statements:
                    arrived[decode_header(statement.header).seq] = time.perf_counter()
                if statements and len(arrived) >= PROPAGATION:
                    stream.cancel()
                    return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        ready.wait(10)
        time.sleep(0.5)
        sent: dict[int, float] = {}
        with channel(au.target, creds_for(pki, "AU-ABF", "service", server_agency="AU-ABF")) as ch:
            stub = exchange_pb2_grpc.ExchangeStub(ch)
            for i in range(PROPAGATION):
                body = designation_to_proto(designation("AU-ABF", (platform(f"prop-{i}"),)))
                item = exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=body))
                t = time.perf_counter()
                reply = stub.Publish(exchange_pb2.PublishRequest(items=[item]), timeout=10)
                sent[decode_header(reply.statements[0].header).seq] = t
                time.sleep(0.005)
        follower.join(30)
    finally:
        au.terminate()
        nz.terminate()
    return sorted((arrived[s] - t) * 1000 for s, t in sent.items() if s in arrived)


def main() -> None:
    raw = raw_verifies_per_second()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        small_rate, small_peak, small_verified = bulk_sync(pki, work, SMALL)
        large_rate, large_peak, large_verified = bulk_sync(pki, work, LARGE)
        cores = os.cpu_count() or 1
        report(
            Figure(
                f"bulk sync of {LARGE:,} statements through checkpoints (admitted, screenable) vs raw Ed25519 verifies",
                large_rate,
                raw,
                "statements/s",
                ">= 3",
            )
        )
        report(
            Figure(
                f"bulk sync of {LARGE:,} statements until every signature is checked vs raw verifies x {cores} cores",
                large_verified,
                raw * cores,
                "statements/s",
                "(information)",
            )
        )
        print(
            f"  (at {SMALL:,}: {small_rate:,.0f} statements/s admitted, {small_verified:,.0f}/s fully verified)"
        )
        report(
            Figure(
                f"receiver peak memory at {LARGE:,} vs {SMALL:,} statements",
                large_peak,
                small_peak,
                "KiB",
                "<= 1.5",
            )
        )
        latencies = propagation(pki, work)
        p50 = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"propagation publish → accepted at a partner over {len(latencies)} statements: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        )
        report(Figure("propagation p99 vs the 250 ms budget", p99, 250.0, "ms", "<= 1.0"))


if __name__ == "__main__":
    main()
