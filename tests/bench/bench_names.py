"""Name screening at scale (issue #13): throughput against identifiers, latency, index size, rebuild.

Figures (ratios to a baseline measured in the same run, see ``_common``):

- Name-screened shipments/s (batches of 1,000 shipments whose shipper and consignee carry
  names and addresses, no identifiers) against an index of ``BORDERX_BENCH_PARTIES``
  parties (default 1,000,000) ÷ the same batches with identifiers only; goal >= 0.3.
  The absolute rate is printed too (goal >= 10,000/s on the 2-core machine).
- Single-shipment name screening p99 at 16 in flight (16 threads calling the screener,
  in process: the engine and store, without gRPC), baseline 10 ms; goal <= 1.0.
- Name-index bytes per party on disk (SQLite ``name_index`` B-tree), baseline 1 KiB;
  goal <= 1.0. Process RSS growth after screening is printed beside it.
- The in-memory screening index (``screening.memindex``), built from the store as the
  gateway builds it at start: bytes per party (its arrays and buffers, counted; the RSS
  growth of the build printed beside), baseline 1 KiB, goal <= 1.0; its build time
  (statements/s, baseline the append rate), and again after ``rebuild_index``.
- Identifier-only batches/s in process (the baseline of the first figure) printed absolute.
- ``rebuild_index`` time at the full size is printed (statements/s), baseline the append rate.
- The per-variant-kind precision/recall table of the labelled quality set.

Statements carry real flag bodies (names, addresses, contacts) indexed by the real indexer
and a placeholder signature (the store never verifies; signing 1M would dominate the run).
Run only this one with ``python -m tests.bench names``.
"""

from __future__ import annotations

import gc
import hashlib
import os
import random
import resource
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from borderx.screening.engine import Screener, ShipmentQuery
from borderx.screening.index import index_effects
from borderx.screening.memindex import MemoryIndex
from borderx.screening.names import party_form
from borderx.screening.policy import policy_from_toml
from borderx.statements.bodies import Address, Evidence, FlagCategory, Party, PartyId, Severity, ViolationFlag
from borderx.statements.body_codec import encode_body
from borderx.statements.encoding import encode_header
from borderx.statements.model import GENESIS_DIGEST, Envelope, Header, Signature
from borderx.store import NewStatement, open_store
from borderx.store.sqlite import SQLiteStore
from tests.bench._common import Figure, report
from tests.unit.screening.labelled import VARIANT_KINDS, Sample, labelled_set, make_party, make_variant
from tests.unit.screening.quality import evaluate

PARTIES = int(os.environ.get("BORDERX_BENCH_PARTIES", "1000000"))
BATCH = 1_000
ROUNDS = 5
ISSUERS = ("US-CBP", "NZ-CS", "CA-CBSA", "GB-HMRC")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_SIG = Signature("0" * 64, bytes(64))


def _party(sample: Sample, n: int) -> Party:
    return Party(
        legal_name=sample.name,
        address=Address(
            lines=sample.lines, city=sample.city, postal_code=sample.postcode, country=sample.country
        ),
        ids=(PartyId("PLATFORM", f"shop:{n}"),),
    )


def fill(store: SQLiteStore, samples: list[Sample]) -> float:
    heads = dict.fromkeys(ISSUERS, (0, GENESIS_DIGEST))
    start = time.perf_counter()
    for lo in range(0, len(samples), BATCH):
        entries = []
        for n in range(lo, min(lo + BATCH, len(samples))):
            issuer = ISSUERS[n % len(ISSUERS)]
            seq, prev = heads[issuer]
            body = encode_body(
                ViolationFlag(
                    subject=_party(samples[n], n),
                    category=FlagCategory.IPR_COUNTERFEIT,
                    evidence=Evidence.SUSPECTED,
                    severity=Severity.MEDIUM,
                    observed_at=T0,
                )
            )
            header = Header(
                issuer=issuer,
                seq=seq + 1,
                prev_digest=prev,
                issued_at=T0 + timedelta(seconds=n),
                audience=(),
                body_type="flag",
                body_digest=hashlib.sha256(body).digest(),
            )
            env = Envelope(header_bytes=encode_header(header), signatures=(_SIG,), body=body, header=header)
            heads[issuer] = (env.seq, env.digest)
            entries.append(NewStatement(env, received_from=issuer, index=index_effects(env)))
        store.append(entries)
    return len(samples) / (time.perf_counter() - start)


def _form(s: Sample) -> object:
    return party_form((s.name,), lines=s.lines, city=s.city, postcode=s.postcode, country=s.country)


def name_batches(rng: random.Random, samples: list[Sample], rounds: int) -> list[list[tuple[Sample, Sample]]]:
    """(shipper, consignee) per shipment: a variant of a held party, and a consignee nobody holds."""
    return [
        [
            (
                make_variant(rng, samples[rng.randrange(len(samples))], rng.choice(VARIANT_KINDS)),
                make_party(rng),
            )
            for _ in range(BATCH)
        ]
        for _ in range(rounds)
    ]


def queries(batch: list[tuple[Sample, Sample]]) -> list[ShipmentQuery]:
    """What the servicer builds from the manifest: normalised forms (timed with the screening)."""
    return [
        ShipmentQuery(reference=f"n{i}", shipper_ids=(), shipper=_form(s), consignee=_form(c))  # type: ignore[arg-type]
        for i, (s, c) in enumerate(batch)
    ]


def id_batches(rng: random.Random, n: int, rounds: int) -> list[list[ShipmentQuery]]:
    return [
        [
            ShipmentQuery(
                reference=f"i{r}-{i}",
                shipper_ids=(("PLATFORM", f"shop:{rng.randrange(n)}"),),
                consignee_ids=(("PLATFORM", f"shop:x{rng.randrange(n)}"),),
            )
            for i in range(BATCH)
        ]
        for r in range(rounds)
    ]


def per_second(
    screener: Screener, batches: list[list[ShipmentQuery]] | list[list[tuple[Sample, Sample]]]
) -> float:
    best = 0.0
    for batch in batches:
        start = time.perf_counter()
        # a ShipmentQuery is a named tuple too: ask for it, not for a tuple
        if batch and not isinstance(batch[0], ShipmentQuery):
            screener.screen(queries(batch))  # type: ignore[arg-type]
        else:
            screener.screen(batch)  # type: ignore[arg-type]
        best = max(best, len(batch) / (time.perf_counter() - start))
    return best


def p99_in_flight(screener: Screener, batches: list[list[tuple[Sample, Sample]]], threads: int = 16) -> float:
    shipments = [q for b in batches for q in queries(b)][: threads * 200]
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        mine = []
        for q in shipments[k::threads]:
            start = time.perf_counter()
            screener.screen([q])
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return statistics.quantiles(latencies, n=100)[98] * 1000


def _rss() -> int:
    """This process's resident set now (bytes), not its peak."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def name_index_bytes(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        try:
            row = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = 'name_index'").fetchone()
            return int(row[0] or 0)
        except sqlite3.OperationalError:  # no dbstat: the rows' payload, a lower bound
            row = conn.execute("SELECT SUM(length(key) + 8) FROM name_index").fetchone()
            return int(row[0] or 0)


def main() -> None:
    data = labelled_set(2_000, variants_per_kind=200, n_negatives=3_000, seed=13)
    print(evaluate(data).table(), flush=True)

    rng = random.Random(2026)
    samples = [make_party(rng) for _ in range(PARTIES)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "names.db"
        store = open_store(f"sqlite:///{path}")
        assert isinstance(store, SQLiteStore)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        appended = fill(store, samples)
        print(f"filled {PARTIES:,} flagged parties at {appended:,.0f} statements/s", flush=True)
        # as the gateway does at start (server/app.py): the memory index, built from the store
        rss_before = _rss()
        index = MemoryIndex(store)
        index.refresh()
        gc.freeze()  # as the gateway does once it has started (server/app.py ``serve``)
        built, rss_built = index.build_seconds, _rss() - rss_before
        report(
            Figure(
                f"memory index build of {len(index):,} statements ({built:,.1f} s)",
                len(index) / built,
                appended,
                "statements/s",
                "(information)",
            )
        )
        report(
            Figure(
                f"memory-index bytes per party at {PARTIES:,}",
                index.nbytes() / PARTIES,
                1024.0,
                "bytes",
                "<= 1.0",
            )
        )
        print(f"  process RSS growth of the build: {rss_built / PARTIES:,.0f} bytes per party", flush=True)
        screener = Screener(store, policy_from_toml("AU-ABF", {}, where="bench"), index=index)
        names = name_batches(rng, samples, ROUNDS)
        ids = id_batches(rng, PARTIES, ROUNDS)
        per_second(screener, names[:1])  # warm the page cache and the normal-form caches alike
        per_second(screener, ids[:1])
        by_name, by_id = per_second(screener, names), per_second(screener, ids)
        report(
            Figure(
                f"name-screened shipments/s at {PARTIES:,} parties", by_name, by_id, "shipments/s", ">= 0.3"
            )
        )
        print(f"  absolute: {by_name:,.0f} name-screened shipments/s (goal >= 10,000)", flush=True)
        print(f"  absolute: {by_id:,.0f} identifier-only shipments/s in process", flush=True)
        report(
            Figure(
                "single-shipment name screening p99, 16 in flight",
                p99_in_flight(screener, names),
                10.0,
                "ms",
                "<= 1.0",
            )
        )
        on_disk = name_index_bytes(path)
        report(
            Figure(f"name-index bytes per party at {PARTIES:,}", on_disk / PARTIES, 1024.0, "bytes", "<= 1.0")
        )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
        print(
            f"  process peak RSS growth: {rss * 1024 / PARTIES:,.0f} bytes per party (page cache and caches)",
            flush=True,
        )
        start = time.perf_counter()
        rebuilt = store.rebuild_index(lambda stored: index_effects(stored.envelope))
        took = time.perf_counter() - start
        report(
            Figure(
                f"rebuild_index of {rebuilt:,} statements ({took:,.1f} s)",
                rebuilt / took,
                appended,
                "statements/s",
                ">= 0.5",
            )
        )
        # a new epoch: the memory index is built again at the next Screen
        start = time.perf_counter()
        screener.screen(ids[0][:1])
        took = time.perf_counter() - start
        print(f"  memory index rebuilt after rebuild_index in {took:,.1f} s", flush=True)
        store.close()


if __name__ == "__main__":
    main()
