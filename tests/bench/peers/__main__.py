"""``python -m tests.bench.peers`` (``make bench-peers``): borderx and medallion side by side.

See the package docstring (``tests/bench/peers/__init__.py``) for what is measured and how.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.identity.devpki import init_pki
from borderx.statements.bodies import ViolationFlag
from borderx.statements.body_codec import flag_to_proto
from tests.bench._world import flag_body
from tests.conftest import channel, creds_for
from tests.procs import GatewayProcess

N = int(os.environ.get("BORDERX_PEERS_N", "10000"))
ROUNDS = int(os.environ.get("BORDERX_PEERS_ROUNDS", "3"))
TIMEOUT = float(os.environ.get("BORDERX_PEERS_TIMEOUT", "3600"))
BATCH = 100
ISSUER, PARTNER = "AU-ABF", "NZ-CS"

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VENV = Path(os.environ.get("BORDERX_PEERS_VENV", REPO / ".venv-peers"))
REQUIREMENTS = HERE / "requirements.txt"
#: STIX ids of the flags: uuid5 in a namespace of our own, so every run posts the same objects
STIX_NAMESPACE = uuid.UUID("6f1d1c4e-2b7a-4c59-9a43-5b1f0e2d7c11")


# ----------------------------------------------------------------------------- the flags


def flags(n: int) -> list[ViolationFlag]:
    """The bench world's flag bodies (``_world.flag_body``), all still in force."""
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
    return [dataclasses.replace(flag_body(j, 0), expires_at=until) for j in range(n)]


def stix_time(t: datetime | None) -> str:
    assert t is not None
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stix_indicator(j: int, flag: ViolationFlag) -> dict[str, Any]:
    """The same flag as a STIX 2.1 indicator: the pattern names the party, the rest rides along."""
    party = flag.subject.ids[0]
    observed = stix_time(flag.observed_at)
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(STIX_NAMESPACE, f'flag-{j}')}",
        "created": observed,
        "modified": observed,
        "name": f"{flag.category} by {flag.subject.legal_name}",
        "description": flag.summary,
        "indicator_types": ["malicious-activity"],
        "pattern": f"[x-borderx-party:ids[*].value = '{party.scheme}:{party.value}']",
        "pattern_type": "stix",
        "valid_from": observed,
        "valid_until": stix_time(flag.expires_at),
        "x_borderx_issuer": ISSUER,
        "x_borderx_subject": {
            "legal_name": flag.subject.legal_name,
            "ids": [{"scheme": i.scheme, "value": i.value} for i in flag.subject.ids],
        },
        "x_borderx_category": str(flag.category),
        "x_borderx_evidence": str(flag.evidence),
        "x_borderx_severity": str(flag.severity),
        "x_borderx_outcomes": [str(o) for o in flag.outcomes],
        "x_borderx_shipments": [
            {
                "air_waybill": s.air_waybill,
                "tracking_number": s.tracking_number,
                "hs_codes": list(s.hs_codes),
                "declared_value": (
                    {"currency": s.declared_value.currency, "minor_units": s.declared_value.minor_units}
                    if s.declared_value
                    else None
                ),
                "origin_country": s.origin_country,
            }
            for s in flag.shipments
        ],
    }


# ----------------------------------------------------------------------------- borderx


@dataclasses.dataclass(frozen=True)
class Run:
    total: float  # first post/publish until the partner holds all N
    posting: float  # first post/publish until the last one was answered
    first: float | None  # first post/publish until the partner held (or was handed) any
    #: CPU seconds the servers spent meanwhile (both gateways; medallion): robust to a busy machine
    server_cpu: float


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time of these processes so far (``/proc/PID/stat``)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def gateway_config(pki: Path, agency: str, peers: dict[str, int]) -> Path:
    """The dev PKI's own gateway.toml for ``agency`` (default settings), following ``peers``."""
    text = (pki / agency / "gateway.toml").read_text()
    if peers:
        endpoints = "\n".join(f'{a} = "127.0.0.1:{p}"' for a, p in peers.items())
        listed = ", ".join(f'"{a}"' for a in peers)
        text += f"\n[federation]\npeers = [{listed}]\n[federation.endpoints]\n{endpoints}\n"
    out = pki / agency / "peers-bench.toml"
    out.write_text(text)
    return out


def partner_status(stub: admin_pb2_grpc.AdminStub) -> admin_pb2.GetStatusResponse:
    reply: admin_pb2.GetStatusResponse = stub.GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    return reply


def head_at(status: admin_pb2.GetStatusResponse, issuer: str) -> int:
    return next((int(i.head_seq) for i in status.issuers if i.issuer == issuer), 0)


def borderx_round(
    pki: Path,
    work: Path,
    warm_up: exchange_pb2.PublishRequest,
    requests: list[exchange_pb2.PublishRequest],
    n: int,
    r: int,
) -> Run:
    """One run of the job between two fresh gateways (after ``warm_up``, one statement)."""
    source = GatewayProcess(
        gateway_config(pki, ISSUER, {}),
        store=f"sqlite:///{work / f'au-{r}.db'}",
        workdir=work,
        name=f"au-{r}",
    ).start()
    try:
        partner = GatewayProcess(
            gateway_config(pki, PARTNER, {ISSUER: source.port}),
            store=f"sqlite:///{work / f'nz-{r}.db'}",
            workdir=work,
            name=f"nz-{r}",
        ).start()
        try:
            return _publish_and_watch(pki, source, partner, warm_up, requests, n, r)
        finally:
            partner.terminate()
    finally:
        source.terminate()


def _publish_and_watch(
    pki: Path,
    source: GatewayProcess,
    partner: GatewayProcess,
    warm_up: exchange_pb2.PublishRequest,
    requests: list[exchange_pb2.PublishRequest],
    n: int,
    r: int,
) -> Run:
    operator = creds_for(pki, PARTNER, "operator", server_agency=PARTNER)
    service = creds_for(pki, ISSUER, "service", server_agency=ISSUER)
    with channel(partner.target, operator) as watch_ch, channel(source.target, service) as pub_ch:
        admin = admin_pb2_grpc.AdminStub(watch_ch)
        publish = exchange_pb2_grpc.ExchangeStub(pub_ch).Publish
        # the link up and warm, as in a running federation: one statement first, until it arrived
        publish(warm_up, timeout=60)
        deadline = time.monotonic() + 60
        while head_at(partner_status(admin), ISSUER) < 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{PARTNER} did not follow {ISSUER} within 60 s")
            time.sleep(0.05)
        seen: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                head = head_at(partner_status(admin), ISSUER)
                now = time.perf_counter()
                if head > 1 and "first" not in seen:
                    seen["first"] = now
                if head >= n + 1:
                    seen["all"] = now
                    return
                time.sleep(0.02)

        assert source.proc is not None and partner.proc is not None
        pids = (source.proc.pid, partner.proc.pid)
        cpu0 = cpu_seconds(*pids)
        start = time.perf_counter()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        for i, request in enumerate(requests):
            request.idempotency_key = f"peers-{r}-{i}"
            reply = publish(request, timeout=60)
            assert len(reply.statements) == len(request.items)
        posted = time.perf_counter()
        watcher.join(600)
        stop.set()
        cpu = cpu_seconds(*pids) - cpu0
        if "all" not in seen:
            raise RuntimeError(f"{PARTNER} did not hold all {n:,} flags within 600 s")
    return Run(seen["all"] - start, posted - start, seen["first"] - start, cpu)


def borderx_side(work: Path, bodies: list[ViolationFlag]) -> list[Run]:
    pki = work / "pki"
    init_pki(pki)
    extra = flags(len(bodies) + 1)[-1]  # the warm-up flag: not one of the N
    warm_up = exchange_pb2.PublishRequest(
        items=[exchange_pb2.PublishItem(draft=exchange_pb2.Draft(flag=flag_to_proto(extra)))]
    )
    requests = []
    for start in range(0, len(bodies), BATCH):
        items = [
            exchange_pb2.PublishItem(draft=exchange_pb2.Draft(flag=flag_to_proto(f)))
            for f in bodies[start : start + BATCH]
        ]
        requests.append(exchange_pb2.PublishRequest(items=items))
    runs = []
    for r in range(ROUNDS):
        warm_up.idempotency_key = f"peers-{r}-warm-up"
        run = borderx_round(pki, work, warm_up, requests, len(bodies), r)
        print(
            f"borderx round {r + 1}: {len(bodies):,} flags held by {PARTNER} {run.total:.2f} s after the first"
            f" Publish (publishing took {run.posting:.2f} s; first flag there after {run.first:.3f} s;"
            f" the two gateways used {run.server_cpu:.1f} s of CPU)",
            flush=True,
        )
        runs.append(run)
    return runs


# ----------------------------------------------------------------------------- medallion


def ensure_peer_venv() -> tuple[Path | None, str]:
    """The peers' python, installing medallion and taxii2-client if needed; or None and why."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".peers-stamp"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python, f"{VENV} (up to date)"
    print(f"installing medallion and taxii2-client into {VENV} …", flush=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps", "-r", str(REQUIREMENTS)],
        [str(python), "-c", "import medallion, taxii2client.v21"],
    ]  # fmt: skip
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f"{' '.join(step[:4])}: {e}"
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, f"{' '.join(step[:4])} exited {done.returncode}: {' / '.join(tail)}"
    stamp.write_text(want)
    return python, f"{VENV} (installed)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def medallion_config(work: Path, port: int, user: str, password: str) -> tuple[Path, str]:
    """A memory-backend config with one read-write collection; returns it and the collection's URL."""
    collection = str(uuid.uuid4())
    root = f"http://127.0.0.1:{port}/flags/"
    data = {
        "/discovery": {
            "title": "borderx peers bench",
            "description": "medallion side of make bench-peers",
            "default": root,
            "api_roots": [root],
        },
        "flags": {
            "information": {
                "title": "violation flags",
                "description": "flags shared with one partner",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 104857600,
            },
            "status": [],
            "collections": [
                {
                    "id": collection,
                    "title": "AU-ABF violation flags",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (work / "medallion-data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(work / "medallion-data.json"),
        },
        "users": {user: password},
        "taxii": {"max_page_size": 1000},
    }
    path = work / "medallion.json"
    path.write_text(json.dumps(config))
    return path, f"{root}collections/{collection}/"


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"medallion exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"medallion did not listen in {timeout} s") from None
            time.sleep(0.1)


def _next_json(
    proc: subprocess.Popen[str], errors: Path, deadline: float | None = None
) -> dict[str, Any] | None:
    """The consumer's next JSON line (None once ``deadline``, a monotonic time, passed); if it exited, why."""
    assert proc.stdout is not None
    if deadline is not None:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return None
    line = proc.stdout.readline()
    if not line:
        proc.wait()
        raise RuntimeError(f"the consumer exited {proc.returncode}: {errors.read_text()[-2000:]}")
    record: dict[str, Any] = json.loads(line)
    return record


def _consumer_result(proc: subprocess.Popen[str], errors: Path, deadline: float) -> dict[str, Any]:
    """The consumer's final record; at ``deadline``, the progress it last reported (not done)."""
    last: dict[str, Any] = {"first_page": None, "done": None, "held": 0, "passes": 0}
    while True:
        record = _next_json(proc, errors, deadline)
        if record is None:  # a pass still under way at the deadline: stop waiting for it
            return last
        if "done" in record:
            return record
        last = {
            "first_page": record["first_page"],
            "done": None,
            "held": record["held"],
            "passes": record["pass"],
        }


def medallion_side(python: Path, work: Path, bodies: list[ViolationFlag]) -> tuple[Run, bool]:
    """One run on medallion; the bool says whether the consumer got everything before TIMEOUT."""
    objects = work / "stix-objects.json"
    objects.write_text(json.dumps([stix_indicator(j, f) for j, f in enumerate(bodies)]))
    port, user, password = free_port(), "partner", secrets.token_urlsafe(16)
    config, url = medallion_config(work, port, user, password)
    log = work / "medallion.log"
    job = [str(python), str(HERE / "taxii_job.py")]
    with log.open("ab") as out:
        server = subprocess.Popen(
            [str(VENV / "bin" / "medallion"), "--host", "127.0.0.1", "--port", str(port), "--log-level", "ERROR", str(config)],
            stdout=out,
            stderr=out,
        )  # fmt: skip
    try:
        _wait_listening(port, server, log)
        errors = work / "consumer.err"
        with errors.open("w") as err:  # a file, not a pipe: a chatty consumer must not block on it
            consumer = subprocess.Popen(
                [*job, "consume", url, user, password, str(len(bodies)), str(TIMEOUT)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        try:
            _next_json(consumer, errors)  # {"ready": t}: polling the (empty) collection
            cpu0 = cpu_seconds(server.pid)
            producer = subprocess.run(
                [*job, "post", url, user, password, str(objects), str(BATCH)],
                capture_output=True,
                text=True,
                check=False,
            )
            if producer.returncode != 0:
                raise RuntimeError(f"the producer exited {producer.returncode}: {producer.stderr[-2000:]}")
            posted = json.loads(producer.stdout.strip().splitlines()[-1])
            print(
                f"medallion: {posted['objects']:,} objects posted in {posted['posted'] - posted['first_post']:.1f} s;"
                " waiting for the consumer …",
                flush=True,
            )
            # TIMEOUT seconds from the first post
            deadline = time.monotonic() + TIMEOUT - (time.time() - posted["first_post"])
            got = _consumer_result(consumer, errors, deadline)
            stopped = time.time()
            cpu = cpu_seconds(server.pid) - cpu0
            if got["done"] is not None:
                consumer.wait(60)
        finally:
            if consumer.poll() is None:
                consumer.kill()
                consumer.wait()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    t0 = posted["first_post"]
    complete = got["done"] is not None
    end = got["done"] if complete else stopped
    first = got["first_page"] - t0 if got["first_page"] is not None else None
    print(
        f"medallion: the consumer held {got['held']:,} of {len(bodies):,} after {got['passes']} passes",
        flush=True,
    )
    return Run(end - t0, posted["posted"] - t0, first, cpu), complete


# ----------------------------------------------------------------------------- main


def _range(values: list[float], fmt: str = ".2f") -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}}–{hi:{fmt}}"


def main() -> int:
    bodies = flags(N)
    print(f"the job: share {N:,} violation flags with one partner until the partner holds them", flush=True)
    with tempfile.TemporaryDirectory(prefix="borderx-peers-") as tmp:
        work = Path(tmp)
        runs = borderx_side(work, bodies)
        totals = [r.total for r in runs]
        print(
            f"borderx: {_range(totals)} s over {len(runs)} rounds (median {statistics.median(totals):.2f} s),"
            f" publishing {_range([r.posting for r in runs])} s, gateways' CPU {_range([r.server_cpu for r in runs], '.1f')} s",
            flush=True,
        )
        python, why = ensure_peer_venv()
        if python is None:
            print(f"medallion: not installable ({why}); the borderx side ran alone", flush=True)
            return 0
        print(f"medallion 3.0.0 + taxii2-client 2.3.0 from {why}", flush=True)
        peer, complete = medallion_side(python, work, bodies)
    first = f"{peer.first:.1f} s" if peer.first is not None else "never"
    bound = "" if complete else f" (gave up after BORDERX_PEERS_TIMEOUT={TIMEOUT:.0f} s: a lower bound)"
    print(
        f"medallion: {peer.total:.1f} s{bound}; posting {peer.posting:.1f} s; the consumer's first page after {first};"
        f" the server used {peer.server_cpu:.1f} s of CPU",
        flush=True,
    )
    ratios = [peer.total / t for t in totals]
    more = "" if complete else "≥ "
    print(
        f"borderx did it in {_range(totals)} s, medallion in {peer.total:.1f} s:"
        f" {more}{_range(ratios, '.0f')}× less",
        flush=True,
    )
    cpus = [r.server_cpu for r in runs]
    print(
        f"server CPU for the job: borderx's two gateways {_range(cpus, '.1f')} s, medallion {peer.server_cpu:.1f} s:"
        f" {more}{_range([peer.server_cpu / max(c, 0.01) for c in cpus], '.0f')}× less",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
