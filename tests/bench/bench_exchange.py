"""Publish, Screen and Lookup at scale, each a ratio to a baseline measured in the same run.

The world: a dev PKI in a temporary folder and a SQLite store of 1,000,000 designations and
100,000 flags signed with the partners' real keys (``_world.build_store``), built once per
run and served by real gateway processes (``borderx serve``) over mutual TLS. The client is
the home agency's operator, driving the gateway with several calls in flight from one
asyncio loop, exactly as it drives the baselines; measured and baseline rounds alternate
and the best of each counts (this machine is small and noisy, and noise only slows down).

Figures:

1. Screen shipments/s in batches of 1,000 ÷ a minimal Python screen (``MINIMAL_SCREEN``: a
   grpcio aio server with the same certificate, trust roots and ``require_client_auth`` that
   decodes the ScreenRequest, looks every shipper and consignee id up in a dict of the
   store's parties and encodes a ScreenResponse with one result per shipment: the floor of
   issue #14) — goal >= 0.5. For information, the same against a bare grpcio server that
   receives the same request bytes and answers the very response bytes the gateway gave
   for them (``_servers.start_bare_reply``): the cost of TLS and gRPC alone.
   10% of shippers are designated, 3% flagged only, the rest unknown to every issuer. The
   40 distinct batches (40,000 shipments) are sent once to collect the replies, then cycled.
2. Single-shipment Screen calls/s ÷ the same bare server for single-shipment requests —
   goal >= 0.8 — with p50/p99 latency of both at the same concurrency.
3. Lookup p50 latency (one call in flight, random designated parties) on a gateway holding
   1,100,000 statements ÷ on one holding 11,000 built the same way — goal <= 1.5.
4. Resident memory per stored statement: RSS of the 1.1M gateway after screening and
   lookups minus RSS of a gateway on an empty store after the same warm-up, ÷ statements
   held; baseline 1 KiB — goal <= 1.0.
5. Publish statements/s (batches of 100 drafts, each request with its own idempotency key,
   to a home gateway that signs and durably stores them) ÷ raw ``cryptography`` Ed25519
   signs/s over statement-sized PAE bytes — goal >= 0.5.

``BORDERX_BENCH_SCALE`` (default 1.0) scales the store sizes, e.g. 0.01 for a quick try;
``BORDERX_BENCH_ONLY=screen`` measures figures 1 and 2 only (no small store, no Lookup,
memory or Publish figures), e.g. while profiling the gateway (its pid is printed);
``BORDERX_BENCH_ONLY=publish`` runs figure 5 alone (no store to build: Publish starts empty);
``BORDERX_BENCH_WORLD=<folder>`` keeps the signed world (PKI and stores) there for the next
run at the same scale, which then copies it instead of signing 1.1M statements again.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx._proto.borderx.v1 import exchange_pb2, statement_pb2
from borderx.identity.devpki import DEV_PROGRAMMES, init_pki
from borderx.statements.bodies import Designation, ViolationFlag
from borderx.statements.body_codec import designation_to_proto, encode_body, flag_to_proto
from borderx.statements.encoding import statement_pae
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.rules import validate_body
from borderx.statements.signing import Signer, sign_statement
from tests.bench._common import Figure, ed25519_signs, rate, report
from tests.bench._servers import _start_bare, start_bare_reply, start_gateway_logged, stop
from tests.bench._world import (
    NOW,
    build_store,
    designation_body,
    flag_body,
    party_id,
    screen_request,
)

SCALE = float(os.environ.get("BORDERX_BENCH_SCALE", "1.0"))
ONLY = os.environ.get("BORDERX_BENCH_ONLY", "")
SCREEN_ONLY = ONLY == "screen"
WORLD_CACHE = os.environ.get("BORDERX_BENCH_WORLD", "")
WORLD_MAX_AGE = 2 * 24 * 3600.0  # seconds: the statements' validity windows are relative to their build
DESIGNATIONS = max(int(1_000_000 * SCALE), 1_000)
FLAGS = max(int(100_000 * SCALE), 100)
SMALL_DESIGNATIONS = max(DESIGNATIONS // 100, 100)
SMALL_FLAGS = max(FLAGS // 100, 10)

HOME = "US-CBP"
SCREEN_BATCH = 1_000
BATCH_POOL = 40  # distinct 1,000-shipment requests (40,000 shipments)
SINGLE_POOL = 4_000  # distinct single-shipment requests
PUBLISH_BATCH = 100
PUBLISH_POOL = 300  # distinct 100-draft item blocks; each call still gets its own idempotency key
LOOKUPS = 1_000  # per round, one call in flight
WARM_LOOKUPS = 2_000
BATCH_CONCURRENCY = 4
CONCURRENCY = 16
SECONDS = 3.0
ROUNDS = 3
KEY_BYTES = 24  # a ScreenRequest's first bytes hold its first shipment's reference
SCREEN = "/borderx.v1.Exchange/Screen"
LOOKUP = "/borderx.v1.Exchange/Lookup"
PUBLISH = "/borderx.v1.Exchange/Publish"
OWNERS = {p: a for a, ps in DEV_PROGRAMMES.items() for p in ps}
ECHO = "/bench.Echo/Echo"
MINIMAL = "/borderx.v1.Exchange/Screen"

# The floor of issue #14: what any Python Screen must do at least, with the same TLS as the
# gateway. It holds the parties of the bench store in a dict (designated → EXPEDITE, flagged
# → HOLD), decodes each request, looks every id of every shipment up, and encodes one result
# per shipment (reference, recommendation and a reason) — no validation, no store.
MINIMAL_SCREEN = r"""
import asyncio, sys
import grpc
from borderx._proto.borderx.v1 import exchange_pb2
from tests.bench._world import flagged_party, party_id
cert, key, roots, ready, designations, flags = sys.argv[1:7]
designations, flags = int(designations), int(flags)
known = {("PLATFORM", party_id(i)): exchange_pb2.EXPEDITE for i in range(designations)}
for j in range(flags):
    known[("PLATFORM", party_id(flagged_party(j, designations)))] = exchange_pb2.HOLD
async def _screen(data, context):
    request = exchange_pb2.ScreenRequest.FromString(data)
    response = exchange_pb2.ScreenResponse()
    results = response.results
    for s in request.shipments:
        worst = exchange_pb2.STANDARD
        for pid in (*s.shipper_ids, *s.consignee_ids):
            worst = max(worst, known.get((pid.scheme, pid.value), worst))
        results.add(reference=s.reference, recommendation=worst, reasons=("no current designation or flag",))
    return response.SerializeToString()
async def main():
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 64 << 20)])
    handler = grpc.method_handlers_generic_handler(
        "borderx.v1.Exchange", {"Screen": grpc.unary_unary_rpc_method_handler(_screen)}
    )
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials(
        [(open(key, "rb").read(), open(cert, "rb").read())],
        root_certificates=open(roots, "rb").read(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    await server.start()
    open(ready, "w").write(str(port))
    await server.wait_for_termination()
asyncio.run(main())
"""


@dataclass(frozen=True)
class Run:
    calls_per_s: float
    latencies_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _channel(pki: Path, port: int) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=(pki / HOME / "ca.pem").read_bytes(),
        private_key=(pki / HOME / "operator.key").read_bytes(),
        certificate_chain=(pki / HOME / "operator.pem").read_bytes(),
    )
    options = [("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]
    return grpc.aio.secure_channel(f"localhost:{port}", creds, options=options)


async def _drive(
    pki: Path,
    port: int,
    method: str,
    payloads: Callable[[int], bytes],
    *,
    seconds: float,
    concurrency: int,
) -> Run:
    """Call ``method`` with ``payloads(n)`` for the n-th call, ``concurrency`` in flight, for ``seconds``."""
    async with _channel(pki, port) as channel:
        call = channel.unary_unary(method)
        await call(payloads(-1), timeout=60)  # connect and warm up (not counted)
        done = 0
        latencies: list[float] = []
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                payload = payloads(done)
                done += 1
                start = time.perf_counter()
                await call(payload, timeout=60)
                latencies.append((time.perf_counter() - start) * 1000)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Run(len(latencies) / (time.perf_counter() - start), latencies)


async def _call_all(
    pki: Path, port: int, method: str, payloads: Sequence[bytes], concurrency: int
) -> list[bytes]:
    """Every payload once (``concurrency`` in flight); the raw response bytes, in order."""
    async with _channel(pki, port) as channel:
        call = channel.unary_unary(method)
        out: list[bytes] = [b""] * len(payloads)
        todo = iter(range(len(payloads)))

        async def worker() -> None:
            for i in todo:
                out[i] = await call(payloads[i], timeout=120)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return out


def _best(runs: list[Run]) -> Run:
    return max(runs, key=lambda r: r.calls_per_s)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _lookup_requests(designations: int, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [
        exchange_pb2.LookupRequest(
            id=statement_pb2.PartyId(scheme="PLATFORM", value=party_id(rng.randrange(designations)))
        ).SerializeToString()
        for _ in range(count)
    ]


async def _lookup_p50(pki: Path, port: int, requests: Sequence[bytes]) -> float:
    """Median latency in microseconds of Lookup, one call in flight (a latency, not a throughput)."""
    async with _channel(pki, port) as channel:
        call = channel.unary_unary(LOOKUP)
        warm = exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme="PLATFORM", value=party_id(0)))
        for _ in range(50):  # connect and warm up on a party outside the sample
            await call(warm.SerializeToString(), timeout=60)
        samples = []
        for request in requests:
            start = time.perf_counter()
            reply = await call(request, timeout=60)
            samples.append((time.perf_counter() - start) * 1e6)
            if not reply:
                raise RuntimeError("Lookup of a designated party found nothing")
        return statistics.median(samples)


def _publish_blocks() -> list[bytes]:
    """Serialised ``items`` of PublishRequests: 100 drafts each, 4 designations to 1 flag, all valid."""
    blocks = []
    n = 0
    for _ in range(PUBLISH_POOL):
        items: list[exchange_pb2.PublishItem] = []
        while len(items) < PUBLISH_BATCH:
            n += 1
            # designation numbers that are multiples of 5 are the home agency's (CTPAT)
            body = designation_body(5 * (DESIGNATIONS + n)) if n % 5 else flag_body(n, DESIGNATIONS)
            valid = validate_body(body, issuer=HOME, owners=OWNERS, now=NOW)
            if isinstance(valid, Designation):
                draft = exchange_pb2.Draft(designation=designation_to_proto(valid))
            else:
                assert isinstance(valid, ViolationFlag)
                draft = exchange_pb2.Draft(flag=flag_to_proto(valid))
            items.append(exchange_pb2.PublishItem(draft=draft))
        blocks.append(exchange_pb2.PublishRequest(items=items).SerializeToString())
    return blocks


def _publish_payloads(blocks: list[bytes], round_no: int) -> Callable[[int], bytes]:
    def payload(n: int) -> bytes:
        # concatenated protobuf messages merge: a fresh idempotency key + one block of items
        key = exchange_pb2.PublishRequest(idempotency_key=f"bench-{round_no}-{n}").SerializeToString()
        return key + blocks[n % len(blocks)]

    return payload


def _raw_signs_per_s(pae: bytes) -> float:
    return rate(ed25519_signs(1000, pae), min_seconds=SECONDS)


def _statement_pae() -> bytes:
    env = sign_statement(
        Signer(Ed25519PrivateKey.generate()),
        issuer=HOME,
        seq=1,
        prev_digest=GENESIS_DIGEST,
        issued_at=NOW,
        body_type="designation",
        body=encode_body(designation_body(0)),
    )
    return statement_pae(env.header_bytes)


class Lab:
    """The temporary folder of one run: PKI, stores, and the processes started (stopped at exit)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.pki = work / "pki"
        self.procs: list[subprocess.Popen[bytes]] = []

    def make_pki(self) -> None:
        """A dev PKI whose home gateway replicates from no one: these figures are about serving.

        (The dev configs name partners on fixed local ports; a gateway would keep dialling them.)
        """
        init_pki(self.pki)
        with (self.pki / HOME / "gateway.toml").open("a") as config:
            config.write("\n[federation]\npeers = []\n")

    def gateway(self, store: str) -> tuple[subprocess.Popen[bytes], int]:
        proc, port = start_gateway_logged(
            self.pki, HOME, self.work, store=f"sqlite:///{self.work / store}", name=store
        )
        self.procs.append(proc)
        return proc, port

    def bare_reply(self, replies: dict[bytes, bytes]) -> tuple[subprocess.Popen[bytes], int]:
        proc, port = start_bare_reply(self.pki, HOME, self.work, replies, key_bytes=KEY_BYTES)
        self.procs.append(proc)
        return proc, port

    def minimal_screen(self) -> tuple[subprocess.Popen[bytes], int]:
        """The floor of figure 1, holding the parties of a store of DESIGNATIONS + FLAGS."""
        proc, port = _start_bare(
            MINIMAL_SCREEN, self.pki, HOME, self.work, "minimal", str(DESIGNATIONS), str(FLAGS)
        )
        self.procs.append(proc)
        return proc, port

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        stop(proc)
        self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)


def _interleaved(baseline: Callable[[], Run], measured: Callable[[], Run]) -> tuple[Run, Run]:
    """ROUNDS alternating rounds; the best baseline and the best measured run."""
    base_runs, meas_runs = [], []
    for _ in range(ROUNDS):
        base_runs.append(baseline())
        meas_runs.append(measured())
    return _best(base_runs), _best(meas_runs)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def screen_figures(
    lab: Lab,
    gateway: subprocess.Popen[bytes],
    port: int,
    held: int,
    batches: list[bytes],
    singles: list[bytes],
) -> list[Figure]:
    """Figures 1 and 2: Screen against the minimal screen and the bare server answering the gateway's own replies."""
    pki = lab.pki
    # the gateway's own answers become the bare server's replies (and warm the gateway up)
    start = time.perf_counter()
    batch_replies = asyncio.run(_call_all(pki, port, SCREEN, batches, BATCH_CONCURRENCY))
    single_replies = asyncio.run(_call_all(pki, port, SCREEN, singles, CONCURRENCY))
    print(f"collected the gateway's replies in {time.perf_counter() - start:,.1f} s", flush=True)
    replies = {
        r[:KEY_BYTES]: a for r, a in zip(batches + singles, batch_replies + single_replies, strict=True)
    }
    if len(replies) != len(batches) + len(singles):
        raise RuntimeError(f"request prefixes of {KEY_BYTES} bytes are not unique")
    print(
        f"Screen bytes: batch request {statistics.mean(map(len, batches)):,.0f} B,"
        f" response {statistics.mean(map(len, batch_replies)):,.0f} B;"
        f" single request {statistics.mean(map(len, singles)):,.0f} B,"
        f" response {statistics.mean(map(len, single_replies)):,.0f} B",
        flush=True,
    )
    _check_mix(batch_replies)
    echo, echo_port = lab.bare_reply(replies)
    minimal, minimal_port = lab.minimal_screen()
    try:
        floor_runs, meas_runs, bare_runs = [], [], []
        cpu: dict[str, float] = {}  # server CPU seconds per shipment, best round of each
        for _ in range(ROUNDS):
            for name, runs, server, at, method in (
                ("minimal", floor_runs, minimal, minimal_port, MINIMAL),
                ("gateway", meas_runs, gateway, port, SCREEN),
                ("bare", bare_runs, echo, echo_port, ECHO),
            ):
                before = _cpu_seconds(server.pid)
                run = asyncio.run(
                    _drive(pki, at, method, _cycle(batches), seconds=SECONDS, concurrency=BATCH_CONCURRENCY)
                )
                # includes the uncounted warm-up call and the calls in flight at the end
                shipments = (len(run.latencies_ms) + 1 + BATCH_CONCURRENCY) * SCREEN_BATCH
                per = (_cpu_seconds(server.pid) - before) / shipments
                cpu[name] = min(cpu.get(name, per), per)
                runs.append(run)
        floor, meas, bare = _best(floor_runs), _best(meas_runs), _best(bare_runs)
        batch_figure = report(
            Figure(
                f"Screen shipments/s, batches of {SCREEN_BATCH:,}, {held:,} statements held,"
                " vs a minimal Python screen (decode, dict lookups, encode)",
                meas.calls_per_s * SCREEN_BATCH,
                floor.calls_per_s * SCREEN_BATCH,
                "shipments/s",
                ">= 0.5",
            )
        )
        report(
            Figure(
                "the same vs bare grpcio answering the gateway's own reply bytes",
                meas.calls_per_s * SCREEN_BATCH,
                bare.calls_per_s * SCREEN_BATCH,
                "shipments/s",
                "(information)",
            )
        )
        print(
            f"per shipment: gateway {1e6 / (meas.calls_per_s * SCREEN_BATCH):.1f} us wall,"
            f" {cpu['gateway'] * 1e6:.1f} us CPU; minimal screen {1e6 / (floor.calls_per_s * SCREEN_BATCH):.1f} us"
            f" wall, {cpu['minimal'] * 1e6:.1f} us CPU; bare grpcio {1e6 / (bare.calls_per_s * SCREEN_BATCH):.2f} us"
            f" wall, {cpu['bare'] * 1e6:.2f} us CPU ({BATCH_CONCURRENCY} in flight; CPU: the server process's)",
            flush=True,
        )
        single_cpu: dict[str, float] = {}  # server CPU seconds per call, best round of each

        def single_round(name: str, server: subprocess.Popen[bytes], at: int, method: str) -> Run:
            before = _cpu_seconds(server.pid)
            run = asyncio.run(
                _drive(pki, at, method, _cycle(singles), seconds=SECONDS, concurrency=CONCURRENCY)
            )
            per = (_cpu_seconds(server.pid) - before) / (len(run.latencies_ms) + 1 + CONCURRENCY)
            single_cpu[name] = min(single_cpu.get(name, per), per)
            return run

        base, meas = _interleaved(
            lambda: single_round("bare", echo, echo_port, ECHO),
            lambda: single_round("gateway", gateway, port, SCREEN),
        )
    finally:
        lab.stop(echo)
        lab.stop(minimal)
    single_figure = report(
        Figure(
            "single-shipment Screen calls/s vs bare grpcio of the same bytes",
            meas.calls_per_s,
            base.calls_per_s,
            "calls/s",
            ">= 0.8",
        )
    )
    print(
        f"single-shipment latency at {CONCURRENCY} in flight: gateway p50 {meas.percentile(50):.2f} ms"
        f" p99 {meas.percentile(99):.2f} ms; bare grpcio p50 {base.percentile(50):.2f} ms"
        f" p99 {base.percentile(99):.2f} ms; server CPU per call: gateway {single_cpu['gateway'] * 1e6:,.0f} us,"
        f" bare grpcio {single_cpu['bare'] * 1e6:,.0f} us",
        flush=True,
    )
    return [batch_figure, single_figure]


def lookup_figure(lab: Lab, big_port: int, held: int, small_held: int) -> Figure:
    """Figure 3: Lookup p50 on the large store vs a small one built the same way.

    Every round asks about parties drawn afresh, so that a repeated round does not find the
    large store's parties already in the gateway's caches; the small store fits in them anyway.
    """
    small, small_port = lab.gateway("small.db")
    p50_big = p50_small = float("inf")
    for round_no in range(ROUNDS):
        small_lookups = _lookup_requests(SMALL_DESIGNATIONS, LOOKUPS, seed=round_no)
        big_lookups = _lookup_requests(DESIGNATIONS, LOOKUPS, seed=round_no)
        p50_small = min(p50_small, asyncio.run(_lookup_p50(lab.pki, small_port, small_lookups)))
        p50_big = min(p50_big, asyncio.run(_lookup_p50(lab.pki, big_port, big_lookups)))
    lab.stop(small)
    return report(
        Figure(f"Lookup p50 at {held:,} vs {small_held:,} statements", p50_big, p50_small, "us", "<= 1.5")
    )


def memory_figure(
    lab: Lab,
    big: subprocess.Popen[bytes],
    big_port: int,
    held: int,
    batches: list[bytes],
    singles: list[bytes],
) -> Figure:
    """Figure 4: RSS of the large gateway above an empty one, after the same warm-up, per statement."""
    empty, empty_port = lab.gateway("empty.db")
    warm_lookups = _lookup_requests(DESIGNATIONS, WARM_LOOKUPS, seed=ROUNDS)
    for port in (big_port, empty_port):
        asyncio.run(_call_all(lab.pki, port, SCREEN, batches, BATCH_CONCURRENCY))
        asyncio.run(_call_all(lab.pki, port, SCREEN, singles, CONCURRENCY))
        asyncio.run(_call_all(lab.pki, port, LOOKUP, warm_lookups, CONCURRENCY))
    rss_big, rss_empty = _rss(big.pid), _rss(empty.pid)
    lab.stop(empty)
    print(
        f"gateway RSS: {rss_big / 2**20:,.0f} MiB holding {held:,} statements,"
        f" {rss_empty / 2**20:,.0f} MiB holding none",
        flush=True,
    )
    return report(
        Figure(
            f"resident memory per statement at {held:,}", (rss_big - rss_empty) / held, 1024, "B", "<= 1.0"
        )
    )


def publish_figure(lab: Lab) -> Figure:
    """Figure 5: Publish statements/s in batches of 100 drafts vs raw Ed25519 signs/s."""
    blocks = _publish_blocks()
    pae = _statement_pae()
    home, home_port = lab.gateway("publish.db")
    baseline = measured = 0.0
    for round_no in range(ROUNDS):
        baseline = max(baseline, _raw_signs_per_s(pae))
        run = asyncio.run(
            _drive(
                lab.pki,
                home_port,
                PUBLISH,
                _publish_payloads(blocks, round_no),
                seconds=SECONDS,
                concurrency=BATCH_CONCURRENCY,
            )
        )
        measured = max(measured, run.calls_per_s * PUBLISH_BATCH)
    lab.stop(home)
    return report(
        Figure(
            f"Publish statements/s in batches of {PUBLISH_BATCH} vs raw Ed25519 signs/s",
            measured,
            baseline,
            "statements/s",
            ">= 0.5",
        )
    )


def _cycle(payloads: Sequence[bytes]) -> Callable[[int], bytes]:
    return lambda n: payloads[n % len(payloads)]


def _world(lab: Lab) -> tuple[int, int]:
    """The lab's PKI and stores; how many statements the large and the small store hold.

    Built afresh (``build_store`` signs every statement: minutes at scale 1), or, when
    ``BORDERX_BENCH_WORLD`` names a folder, copied from the world an earlier run built there
    with the same sizes less than ``WORLD_MAX_AGE`` ago (and left there for the next run).
    """
    sizes = {"designations": DESIGNATIONS, "flags": FLAGS, "small": [SMALL_DESIGNATIONS, SMALL_FLAGS]}
    cache = Path(WORLD_CACHE) / f"scale-{SCALE:g}" if WORLD_CACHE else None
    if cache is not None and (cache / "world.json").exists():
        kept = json.loads((cache / "world.json").read_text())
        age = time.time() - kept["built_at"]
        if kept["sizes"] == sizes and age < WORLD_MAX_AGE:
            start = time.perf_counter()
            shutil.copytree(cache / "pki", lab.pki)
            for db in ("big.db", "small.db"):
                shutil.copyfile(cache / db, lab.work / db)
            print(
                f"copied the world built {age / 3600:,.1f} h ago from {cache}: {kept['held']:,} statements"
                f" in {time.perf_counter() - start:,.0f} s",
                flush=True,
            )
            return int(kept["held"]), int(kept["small_held"])
    lab.make_pki()
    start = time.perf_counter()
    held = build_store(lab.pki, lab.work / "big.db", designations=DESIGNATIONS, flags=FLAGS, receiver=HOME)
    print(
        f"built the large store: {held:,} signed statements in {time.perf_counter() - start:,.0f} s",
        flush=True,
    )
    small_held = 0
    if not SCREEN_ONLY or cache is not None:
        small_held = build_store(
            lab.pki, lab.work / "small.db", designations=SMALL_DESIGNATIONS, flags=SMALL_FLAGS, receiver=HOME
        )
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        shutil.copytree(lab.pki, cache / "pki")
        for db in ("big.db", "small.db"):
            shutil.copyfile(lab.work / db, cache / db)
        world = {"sizes": sizes, "built_at": time.time(), "held": held, "small_held": small_held}
        (cache / "world.json").write_text(json.dumps(world))
    return held, small_held


def main() -> None:
    print(
        f"scale {SCALE}: {DESIGNATIONS:,} designations + {FLAGS:,} flags"
        f" (small store {SMALL_DESIGNATIONS:,} + {SMALL_FLAGS:,})",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="borderx-bench-") as tmp:
        lab = Lab(Path(tmp))
        if ONLY == "publish":
            lab.make_pki()
            try:
                publish_figure(lab)
            finally:
                lab.stop_all()
            return
        held, small_held = _world(lab)
        rng = random.Random(42)
        batches = [
            screen_request(f"b{b:04d}", SCREEN_BATCH, rng, designations=DESIGNATIONS, flags=FLAGS)
            for b in range(BATCH_POOL)
        ]
        singles = [
            screen_request(f"s{s:05d}", 1, rng, designations=DESIGNATIONS, flags=FLAGS)
            for s in range(SINGLE_POOL)
        ]
        try:
            big, big_port = lab.gateway("big.db")
            print(f"gateway pid {big.pid}", flush=True)
            screen_figures(lab, big, big_port, held, batches, singles)
            if SCREEN_ONLY:
                return
            lookup_figure(lab, big_port, held, small_held)
            memory_figure(lab, big, big_port, held, batches, singles)
            lab.stop(big)
            publish_figure(lab)
        finally:
            lab.stop_all()


def _check_mix(replies: Sequence[bytes]) -> None:
    """Print how the screened shipments came out, so a wrong world is seen at once."""
    counts: dict[str, int] = {}
    for data in replies:
        response = exchange_pb2.ScreenResponse.FromString(data)
        for result in response.results:
            name = exchange_pb2.Recommendation.Name(result.recommendation)
            counts[name] = counts.get(name, 0) + 1
    total = sum(counts.values())
    print(
        "screened: " + ", ".join(f"{name} {n / total:.1%}" for name, n in sorted(counts.items())),
        flush=True,
    )


if __name__ == "__main__":
    main()
