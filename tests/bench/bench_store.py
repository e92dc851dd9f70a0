"""The store at scale: lookup latency at 1M statements, resident memory per statement, append rate.

Figures (each a ratio to a baseline measured in the same run, see ``_common``):

- Lookup p50 at 1,000,000 statements / Lookup p50 at 10,000 statements, same store, same
  process; goal <= 1.5 (lookups stay O(log n)).
- Resident memory per stored statement above an empty gateway: RSS of a fresh process that
  opened the 1M store and screened with it, minus RSS of a fresh process that did the same
  with an empty store, divided by the statements held; baseline 1 KiB; goal <= 1.0.
- Bulk append (federation bulk sync, batches of 1,000) is reported in statements/s with the
  rate at 10k as its baseline; goal >= 0.5 (appending does not slow down much as the store grows).

Envelopes carry realistic sizes (a ~400-byte body) and a placeholder signature: the store
never verifies signatures, and Ed25519 signing 1M statements would dominate the run.
``BORDERX_BENCH_STATEMENTS`` overrides the large size (e.g. 100000 for a quick look).
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from borderx.statements.encoding import encode_header
from borderx.statements.model import GENESIS_DIGEST, Envelope, Header, Signature
from borderx.store import IndexEffects, NewStatement, Store, open_store
from borderx.store.sqlite import SQLiteStore
from tests.bench._common import Figure, report

SMALL = 10_000
LARGE = int(os.environ.get("BORDERX_BENCH_STATEMENTS", "1000000"))
BATCH = 1_000
ISSUERS = ("AU-ABF", "US-CBP", "NZ-CS", "CA-CBSA", "GB-HMRC")
LOOKUPS = 20_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)
_SIG = Signature("0" * 64, bytes(64))
_PAD = bytes(range(256)) * 2


class Generator:
    """Round-robin chains of several issuers; statement n names party ``ABN n // 2``."""

    def __init__(self) -> None:
        self.n = 0
        self.heads = dict.fromkeys(ISSUERS, (0, GENESIS_DIGEST))

    def batch(self, size: int) -> list[NewStatement]:
        out = []
        for _ in range(size):
            issuer = ISSUERS[self.n % len(ISSUERS)]
            seq, prev = self.heads[issuer]
            body = b"designation %d " % self.n + _PAD[: 380 + self.n % 40]
            header = Header(
                issuer=issuer,
                seq=seq + 1,
                prev_digest=prev,
                issued_at=T0 + timedelta(seconds=self.n),
                audience=(),
                body_type="designation",
                body_digest=hashlib.sha256(body).digest(),
            )
            env = Envelope(header_bytes=encode_header(header), signatures=(_SIG,), body=body, header=header)
            self.heads[issuer] = (env.seq, env.digest)
            effects = IndexEffects(
                ids=(("ABN", party_value(self.n // 2)),),
                kind="designation",
                expires_at=T0 + timedelta(days=365),
            )
            out.append(NewStatement(env, received_from="AU-ABF", index=effects))
            self.n += 1
        return out


def party_value(i: int) -> str:
    return f"{i:011d}"


def fill(store: Store, gen: Generator, upto: int) -> float:
    """Append until ``upto`` statements are held; returns statements/s."""
    done, start = 0, time.perf_counter()
    while gen.n < upto:
        batch = gen.batch(min(BATCH, upto - gen.n))
        store.append(batch)
        done += len(batch)
    return done / (time.perf_counter() - start)


def lookup_p50_uncached(url: str, held: int) -> float:
    """``lookup_p50`` on a second handle on the same file whose every lookup decodes its envelopes.

    At 10k statements the decoded-envelope LRU holds most of the store; at 1M it cannot, so
    this isolates how the index itself scales from how much of the store fits in the cache.
    """
    store = SQLiteStore(Path(url.removeprefix("sqlite:///")), envelope_cache=0)
    try:
        return lookup_p50(store, held)
    finally:
        store.close()


def lookup_p50(store: Store, held: int, count: int = LOOKUPS) -> float:
    """Median latency in microseconds of ``lookup`` for random parties that exist."""
    rng = random.Random(7)
    parties = [party_value(rng.randrange(held // 2)) for _ in range(count)]
    for value in parties[:1000]:  # warm up
        store.lookup("ABN", value)
    samples = []
    for value in parties:
        start = time.perf_counter_ns()
        store.lookup("ABN", value)
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def rss_after_screening(url: str, held: int) -> int:
    """Run in a fresh process: open the store, screen with it, report resident bytes."""
    code = (
        "import sys; from tests.bench.bench_store import _screen_and_measure;"
        f" print(_screen_and_measure({url!r}, {held}))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def _screen_and_measure(url: str, held: int) -> int:
    store = open_store(url)
    rng = random.Random(11)
    for _ in range(20):
        store.lookup_many([("ABN", party_value(rng.randrange(max(held // 2, 1)))) for _ in range(1000)])
    store.heads()
    store.count()
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        empty_url = f"sqlite:///{Path(tmp) / 'empty.db'}"
        open_store(empty_url).close()
        url = f"sqlite:///{Path(tmp) / 'big.db'}"
        store = open_store(url)
        gen = Generator()
        try:
            rate_small = fill(store, gen, SMALL)
            p50_small = lookup_p50(store, SMALL)
            p50_small_cold = lookup_p50_uncached(url, SMALL)
            start = time.perf_counter()
            rate_large = fill(store, gen, LARGE)
            print(f"filled {LARGE:,} statements in {time.perf_counter() - start:,.0f} s", flush=True)
            p50_large = lookup_p50(store, LARGE)
            p50_large_cold = lookup_p50_uncached(url, LARGE)
            many_start = time.perf_counter()
            rng = random.Random(3)
            store.lookup_many([("ABN", party_value(rng.randrange(LARGE // 2))) for _ in range(1000)])
            many_ms = (time.perf_counter() - many_start) * 1000
            print(f"lookup_many of 1,000 parties at {LARGE:,}: {many_ms:,.1f} ms", flush=True)
        finally:
            store.close()
        size = sum(p.stat().st_size for p in Path(tmp).glob("big.db*"))
        print(f"database: {size / LARGE:,.0f} bytes per statement on disk", flush=True)
        report(Figure(f"append rate at {LARGE:,} vs 10k", rate_large, rate_small, "statements/s", ">= 0.5"))
        report(Figure(f"Lookup p50 at {LARGE:,} vs 10k", p50_large, p50_small, "us", "<= 1.5"))
        report(
            Figure(
                f"Lookup p50 without the envelope cache at {LARGE:,} vs 10k",
                p50_large_cold,
                p50_small_cold,
                "us",
                "<= 1.5",
            )
        )
        per_statement = (rss_after_screening(url, LARGE) - rss_after_screening(empty_url, 0)) / LARGE
        report(Figure(f"resident memory per statement at {LARGE:,}", per_statement, 1024, "B", "<= 1.0"))


if __name__ == "__main__":
    main()
