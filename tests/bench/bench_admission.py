"""Admission figures in CPU time, in-process: what one core spends per statement (issue #14).

The wall-clock figures (``bench_federation`` 1, ``bench_exchange`` 5) share two cores with
the source gateway, the signature checker's pool and anything else running; these measure
the admission path alone, in this process, so that a change to it shows through the noise.

1. Bulk sync: a replication link (``PeerLink``, no sockets) is fed N signed statements of
   one issuer, each about its own party, in batches of 256 each followed by the checkpoint
   that covers it (as a source sends them), into a fresh SQLite store: admission, index
   effects and the store's writes, everything but the deferred Ed25519 checks. Statements
   per CPU-second vs raw Ed25519 verifies per CPU-second.
2. Publish: batches of 100 drafts (4 designations to 1 flag, as ``bench_exchange``)
   through ``Publisher`` into a fresh SQLite store, each with its idempotency key.
   Statements per CPU-second vs raw Ed25519 signs per CPU-second.

Each figure is the sum, over the batches, of the least CPU time any of ``RUNS`` runs spent
on that batch: preemption and cache misses caused by other processes only ever add time.
``BORDERX_BENCH_SCALE`` (default 1.0) scales N.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from borderx._proto.borderx.v1 import exchange_pb2
from borderx.directory.model import Directory, DirectoryHolder
from borderx.federation.feed import Feed
from borderx.federation.replicator import PeerLink
from borderx.identity.devpki import init_pki
from borderx.logging import configure_logging
from borderx.publishing import Draft, Publisher
from borderx.screening.index import index_effects
from borderx.statements.body_codec import designation_from_proto, encode_body, flag_from_proto
from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
from borderx.statements.encoding import envelope_to_proto, signed_checkpoint_to_proto
from borderx.statements.intake import IntakePolicy
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import Signer, load_signing_key, sign_checkpoint, sign_statement
from borderx.store import open_store
from tests.bench._common import Figure, ed25519_signs, ed25519_verifies, report
from tests.bench.bench_exchange import HOME, _publish_blocks
from tests.integration.helpers import designation, platform

SCALE = float(os.environ.get("BORDERX_BENCH_SCALE", "1.0"))
SYNC_STATEMENTS = max(2048, int(40_000 * SCALE))
CHECKPOINT_EVERY = 256
#: messages handed to the link at once: about the 1,024 statements the replicator batches
HAND_OFF = 4
PUBLISH_BATCHES = max(10, int(40 * SCALE))
RUNS = 3


def least_cpu(run: Callable[[], list[float]], runs: int = RUNS) -> float:
    """Sum over the steps of ``run`` (it returns each step's CPU seconds) of the least of ``runs`` runs."""
    return sum(min(step) for step in zip(*(run() for _ in range(runs)), strict=True))


def cpu_rate(fn: Callable[[], int], *, min_cpu: float = 1.0) -> float:
    """Operations per CPU-second of ``fn`` (which returns how many it did), best of 5 rounds."""
    best = 0.0
    for _ in range(5):
        done, start = 0, time.process_time()
        while (spent := time.process_time() - start) < min_cpu / 5:
            done += fn()
        best = max(best, done / spent)
    return best


def raw_verifies_per_cpu_second() -> float:
    return cpu_rate(ed25519_verifies(200))


def raw_signs_per_cpu_second() -> float:
    return cpu_rate(ed25519_signs(200))


def source_events(signer: Signer, n: int) -> list[bytes]:
    """What a source sends: batches of 256 statements, each followed by its checkpoint (serialised)."""
    prev, sigs = GENESIS_DIGEST, GENESIS_SIGNATURES
    t0 = datetime.now(UTC) - timedelta(hours=1)
    events: list[bytes] = []
    batch = []
    for seq in range(1, n + 1):
        body = encode_body(designation("AU-ABF", (platform(f"bulk-{seq}"),)))
        env = sign_statement(
            signer,
            issuer="AU-ABF",
            seq=seq,
            prev_digest=prev,
            issued_at=t0,
            body_type="designation",
            body=body,
        )
        batch.append(env)
        prev = env.digest
        if seq % CHECKPOINT_EVERY == 0 or seq == n:
            sigs = roll_signatures(sigs, batch)
            statements = exchange_pb2.StatementBatch(statements=[envelope_to_proto(e) for e in batch])
            events.append(exchange_pb2.SubscribeEvent(batch=statements).SerializeToString())
            scp = sign_checkpoint(
                signer, issuer="AU-ABF", seq=seq, head_digest=prev, time=t0, signatures_digest=sigs
            )
            events.append(
                exchange_pb2.SubscribeEvent(checkpoint=signed_checkpoint_to_proto(scp)).SerializeToString()
            )
            batch = []
    return events


def sync_once(directory: DirectoryHolder, events: Sequence[bytes], work: Path, n: int) -> list[float]:
    """One bulk sync into a fresh store; the CPU seconds of each hand-off."""
    store = open_store(f"sqlite:///{tempfile.mkdtemp(dir=work)}/receiver.db")
    link = PeerLink(
        agency="NZ-CS",
        peer="AU-ABF",
        endpoint="127.0.0.1:1",
        store=store,
        directory=directory,
        feed=Feed(),
        credentials=lambda: (b"", b""),
        backoff=(1.0, 1.0),
        max_message_bytes=1 << 24,
        policy=IntakePolicy(home="NZ-CS", indexer=index_effects),
    )
    messages = [exchange_pb2.SubscribeEvent.FromString(e) for e in events]
    steps = []
    for i in range(0, len(messages), HAND_OFF):
        start = time.process_time()
        link._process(messages[i : i + HAND_OFF])
        steps.append(time.process_time() - start)
    head = store.head("AU-ABF")
    store.close()
    if head is None or head.seq != n:
        raise RuntimeError(f"bulk sync ended at {head}, not seq {n}")
    return steps


def publish_once(
    pki: Path, directory: DirectoryHolder, batches: Sequence[list[Draft]], work: Path
) -> list[float]:
    """Every batch published once into a fresh store; the CPU seconds of each."""
    store = open_store(f"sqlite:///{tempfile.mkdtemp(dir=work)}/publish.db")
    publisher = Publisher(
        agency=HOME,
        store=store,
        directory=directory,
        signer=load_signing_key(pki / HOME / "signing.key"),
        policy=IntakePolicy(home=HOME, indexer=index_effects),
    )
    steps = []
    for k, items in enumerate(batches):
        start = time.process_time()
        publisher.publish(items, principal="bench", idempotency_key=f"bench-{k}")
        steps.append(time.process_time() - start)
    store.close()
    return steps


def drafts(block: bytes) -> list[Draft]:
    items = exchange_pb2.PublishRequest.FromString(block).items
    return [
        Draft(
            designation_from_proto(i.draft.designation)
            if i.draft.HasField("designation")
            else flag_from_proto(i.draft.flag)
        )
        for i in items
    ]


def main() -> None:
    configure_logging(level="warning")  # not an audit line per published batch among the figures
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        directory = DirectoryHolder(Directory.load(pki / "directory.json"))
        events = source_events(load_signing_key(pki / "AU-ABF" / "signing.key"), SYNC_STATEMENTS)
        sync_cpu = least_cpu(lambda: sync_once(directory, events, work, SYNC_STATEMENTS))
        report(
            Figure(
                f"bulk sync admission in-process, {SYNC_STATEMENTS:,} statements of distinct parties, per CPU-second "
                "vs raw Ed25519 verifies per CPU-second",
                SYNC_STATEMENTS / sync_cpu,
                raw_verifies_per_cpu_second(),
                "statements/s",
                "(information)",
            )
        )
        batches = [drafts(block) for block in _publish_blocks()[:PUBLISH_BATCHES]]
        publish_cpu = least_cpu(lambda: publish_once(pki, directory, batches, work))
        report(
            Figure(
                "Publish in-process, batches of 100 drafts, per CPU-second vs raw Ed25519 signs per CPU-second",
                sum(len(b) for b in batches) / publish_cpu,
                raw_signs_per_cpu_second(),
                "statements/s",
                "(information)",
            )
        )


if __name__ == "__main__":
    main()
