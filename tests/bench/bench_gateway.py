"""Per-call overhead of the gateway: identity, authorisation, error mapping, logging, metrics.

Measured, on a real gateway (``borderx serve``, an empty SQLite store) over mutual TLS,
each call passing through the authenticating interceptor like every RPC:

1. ``grpc.health.v1.Health/Check`` calls/s (the figure this bench always printed);
2. ``Exchange/Lookup`` of a party no issuer knows: identity, authorisation, parsing and
   normalising the identifier, the memory index's proof that no statement names it (the
   store's index position: one ``PRAGMA data_version`` while the file is unchanged; no
   worker thread), an empty answer, the ``rpc`` log event and the metrics. The bench's
   gateways run at ``--log-level warning`` (tests/bench/_servers.py), so the event is only
   offered to the logger, not rendered: its rendering at the default ``info`` level is not
   in these figures.

Baseline: a bare grpcio aio echo server with the same certificate, trust roots and
``require_client_auth``, echoing each figure's own request bytes. Every server is driven by
the same asyncio client (the home agency's operator) with 16 calls in flight on one
connection; rounds alternate echo, health, Lookup, and the best of each counts (this
machine is small and noisy, and noise only slows down). Goal >= 0.8 for both.

Also printed, for information: each server's own CPU time per call (user + system, read
from ``/proc`` around the round), the lowest over the rounds. The client's CPU is the
same for every server, so the difference is what the gateway adds per call. On a shared
machine the calls/s of one round can swing by 2x either way; CPU per call moves far less,
so compare both (five 2-second rounds by default; ``BORDERX_BENCH_GATEWAY_ROUNDS`` and
``BORDERX_BENCH_GATEWAY_SECONDS`` change them).

With ``BORDERX_BENCH_GATEWAY_CALLGRIND=1`` (valgrind installed), each server is then run
again under callgrind and the instructions it executes per call are printed: a count
that other processes on the machine do not change. Instrumentation is on only while
``CALLGRIND_CALLS`` calls are served, after the connection and warm-up. The gateway runs
there without federation ([federation] enabled = false): its replication links' reconnect
attempts to partners that are not running come with wall time, which valgrind stretches
about thirtyfold, and would be counted as per-call work.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from borderx._proto.borderx.v1 import exchange_pb2, statement_pb2
from borderx.identity.devpki import init_pki
from tests.bench._common import Figure, report
from tests.bench._servers import start_bare_echo, start_gateway, stop

CONCURRENCY = 16
SECONDS = float(os.environ.get("BORDERX_BENCH_GATEWAY_SECONDS", "2.0"))
ROUNDS = int(os.environ.get("BORDERX_BENCH_GATEWAY_ROUNDS", "5"))
ECHO = "/bench.Echo/Echo"
HEALTH = "/grpc.health.v1.Health/Check"
LOOKUP = "/borderx.v1.Exchange/Lookup"
_TICK = os.sysconf("SC_CLK_TCK")
CALLGRIND = os.environ.get("BORDERX_BENCH_GATEWAY_CALLGRIND") == "1"
CALLGRIND_CALLS = 1000


@dataclass(frozen=True)
class Run:
    calls_per_s: float
    server_cpu_us: float  # the server process's CPU time per call


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields after the command name: state is [0], utime [11], stime [12]
    return (int(fields[11]) + int(fields[12])) / _TICK


def _credentials(pki: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(pki / "US-CBP" / "ca.pem").read_bytes(),
        private_key=(pki / "US-CBP" / "operator.key").read_bytes(),
        certificate_chain=(pki / "US-CBP" / "operator.pem").read_bytes(),
    )


async def drive(port: int, pki: Path, method: str, payload: bytes, seconds: float, *, pid: int) -> Run:
    async with grpc.aio.secure_channel(f"localhost:{port}", _credentials(pki)) as channel:
        call = channel.unary_unary(method)
        for _ in range(100):  # connect, and warm up the caches a long-lived channel would have
            await call(payload, timeout=10)
        done = 0
        stop_at = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await call(payload, timeout=10)
                done += 1

        cpu = _cpu_seconds(pid)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
        cpu = _cpu_seconds(pid) - cpu
        return Run(done / elapsed, cpu / done * 1e6 if done else float("nan"))


async def instructions_per_call(
    port: int, pki: Path, method: str, payload: bytes, *, pid: int, dump: Path
) -> float:
    """Instructions the server executes per call of ``method`` (it runs under callgrind, started with
    instrumentation off: the connection and the warm-up calls are not counted)."""
    async with grpc.aio.secure_channel(f"localhost:{port}", _credentials(pki)) as channel:
        call = channel.unary_unary(method)
        for _ in range(100):
            await call(payload, timeout=60)
        left = CALLGRIND_CALLS

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await call(payload, timeout=60)

        _callgrind_control("--instr=on", pid)
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        _callgrind_control("--instr=off", pid)
    _callgrind_control("--dump", pid)
    (totals,) = [
        line
        for line in dump.with_name(f"{dump.name}.{pid}.1").read_text().splitlines()
        if line.startswith("totals:")
    ]
    return int(totals.split()[1]) / CALLGRIND_CALLS


def _callgrind_control(command: str, pid: int) -> None:
    subprocess.run(
        ["callgrind_control", command, str(pid)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def count_instructions(pki: Path, work: Path, plan: list[tuple[str, str, bytes]]) -> dict[str, float]:
    """Per (figure, method, payload) of ``plan``: instructions per call, each server run under callgrind."""
    dump = work / "callgrind.out"
    launcher = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dump}.%p"]
    config = pki / "US-CBP" / "bench-no-federation.toml"
    config.write_text((pki / "US-CBP" / "gateway.toml").read_text() + "\n[federation]\nenabled = false\n")
    out: dict[str, float] = {}
    for name, method, payload in plan:
        if name.startswith("echo"):
            proc, port = start_bare_echo(pki, "US-CBP", work, launcher=launcher)
        else:
            proc, port = start_gateway(pki, "US-CBP", work, config=config, launcher=launcher)
        try:
            out[name] = asyncio.run(
                instructions_per_call(port, pki, method, payload, pid=proc.pid, dump=dump)
            )
        finally:
            stop(proc)
    return out


def _best(runs: list[Run]) -> Run:
    """The fastest round's rate, and the lowest CPU per call seen (noise only adds to either)."""
    return Run(max(r.calls_per_s for r in runs), min(r.server_cpu_us for r in runs))


def main() -> None:
    health = health_pb2.HealthCheckRequest(service="").SerializeToString()
    lookup = exchange_pb2.LookupRequest(
        id=statement_pb2.PartyId(scheme="PLATFORM", value="amazon:A9UNKNOWNPARTY01")
    ).SerializeToString()
    runs: dict[str, list[Run]] = {"echo health": [], "health": [], "echo lookup": [], "lookup": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        echo, echo_port = start_bare_echo(pki, "US-CBP", work)
        gateway, gateway_port = start_gateway(pki, "US-CBP", work)
        plan = (
            ("echo health", echo_port, echo.pid, ECHO, health),
            ("health", gateway_port, gateway.pid, HEALTH, health),
            ("echo lookup", echo_port, echo.pid, ECHO, lookup),
            ("lookup", gateway_port, gateway.pid, LOOKUP, lookup),
        )
        try:
            # interleaved rounds, best of each: the machine is small and noisy
            for _ in range(ROUNDS):
                for name, port, pid, method, payload in plan:
                    runs[name].append(asyncio.run(drive(port, pki, method, payload, SECONDS, pid=pid)))
        finally:
            stop(echo)
            stop(gateway)
        counted: dict[str, float] = {}
        if CALLGRIND and shutil.which("valgrind"):
            counted = count_instructions(
                pki, work, [(name, method, payload) for name, _, _, method, payload in plan]
            )
        elif CALLGRIND:
            print(
                "BORDERX_BENCH_GATEWAY_CALLGRIND=1 needs valgrind (apt-get install -y valgrind): not counted"
            )
    best = {name: _best(r) for name, r in runs.items()}
    report(
        Figure(
            "gateway unary calls/s over mTLS vs bare grpcio echo",
            best["health"].calls_per_s,
            best["echo health"].calls_per_s,
            "calls/s",
            ">= 0.8",
        )
    )
    report(
        Figure(
            "Lookup of an unknown party, calls/s over mTLS vs bare grpcio echo",
            best["lookup"].calls_per_s,
            best["echo lookup"].calls_per_s,
            "calls/s",
            ">= 0.8",
        )
    )
    for name, echo_name in (("health", "echo health"), ("lookup", "echo lookup")):
        report(
            Figure(
                f"server CPU per call, {name} vs bare echo",
                best[name].server_cpu_us,
                best[echo_name].server_cpu_us,
                "us",
                "(information)",
            )
        )
    if not counted:
        return
    for name, echo_name in (("health", "echo health"), ("lookup", "echo lookup")):
        report(
            Figure(
                f"server instructions per call (callgrind), {name} vs bare echo",
                counted[name] / 1000,
                counted[echo_name] / 1000,
                "k",
                "(information)",
            )
        )


if __name__ == "__main__":
    main()
