"""Processes for benchmarks: a real gateway, and a bare grpcio echo server with the same TLS settings."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BARE_ECHO = r"""
import asyncio, sys
import grpc
cert, key, roots, ready = sys.argv[1:5]
async def _echo(request, context):
    return request
async def main():
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
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


def wait_port(ready: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while not ready.exists() or not ready.read_text().strip():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    return int(ready.read_text())


def start_bare_echo(pki: Path, agency: str, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    from borderx.directory.model import Directory  # noqa: PLC0415

    roots = work / "roots.pem"
    roots.write_bytes(Directory.load(pki / "directory.json").trust_bundle_pem())
    ready = work / "echo.port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            BARE_ECHO,
            str(pki / agency / "gateway.pem"),
            str(pki / agency / "gateway.key"),
            str(roots),
            str(ready),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, wait_port(ready, proc)


def start_gateway(
    pki: Path, agency: str, work: Path, *, store: str | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    ready = work / f"{agency}.port"
    ready.unlink(missing_ok=True)
    store = store or f"sqlite:///{work / (agency.lower() + '.db')}"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "borderx", "--log-level", "warning", "serve",
            "--config", str(pki / agency / "gateway.toml"), "--listen", "127.0.0.1:0",
            "--store", store, "--ready-file", str(ready),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc, wait_port(ready, proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
