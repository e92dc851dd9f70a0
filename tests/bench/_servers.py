"""Processes for benchmarks: a real gateway, and a bare grpcio echo server with the same TLS settings."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from collections.abc import Sequence
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


#: how long a bench gateway on a large store may take to listen
GATEWAY_START_SECONDS = 600.0


def wait_port(ready: Path, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while not ready.exists() or not ready.read_text().strip():
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    return int(ready.read_text())


def _start_seconds(launcher: Sequence[str]) -> float:
    """How long a server may take to listen: a profiler (valgrind) slows start-up 10-50x."""
    return 600.0 if launcher else 30.0


def _start_bare(
    script: str, pki: Path, agency: str, work: Path, name: str, *extra: str, launcher: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], int]:
    """A bare grpcio server script with the gateway's certificate and the directory's CA bundle.

    ``launcher``: a command the server runs under (a profiler such as valgrind), if any.
    """
    from borderx.directory.model import Directory

    roots = work / "roots.pem"
    roots.write_bytes(Directory.load(pki / "directory.json").trust_bundle_pem())
    ready = work / f"{name}.port"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [
            *launcher, sys.executable, "-c", script,
            str(pki / agency / "gateway.pem"), str(pki / agency / "gateway.key"), str(roots), str(ready), *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc, wait_port(ready, proc, timeout=_start_seconds(launcher))


def start_bare_echo(
    pki: Path, agency: str, work: Path, *, launcher: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], int]:
    return _start_bare(BARE_ECHO, pki, agency, work, "echo", launcher=launcher)


def start_gateway(
    pki: Path,
    agency: str,
    work: Path,
    *,
    store: str | None = None,
    config: Path | None = None,
    launcher: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], int]:
    """A gateway process for ``agency`` on a free port; its log is kept in ``work/<agency>.log``.

    ``config``: another configuration file than the agency's ``gateway.toml``;
    ``launcher``: a command the gateway runs under (a profiler such as valgrind), if any.
    """
    store = store or f"sqlite:///{work / (agency.lower() + '.db')}"
    return start_gateway_logged(pki, agency, work, store=store, name=agency, config=config, launcher=launcher)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# A bare grpcio server with the same TLS settings as BARE_ECHO that answers each request
# with a pre-serialised reply chosen by the request's first KEY bytes (the request itself
# when none matches): a baseline for RPCs whose response differs in size from the request.
BARE_REPLY = r"""
import asyncio, struct, sys
import grpc
cert, key, roots, ready, replies_path, key_bytes = sys.argv[1:7]
key_bytes = int(key_bytes)
replies = {}
with open(replies_path, "rb") as f:
    data = f.read()
at = 0
while at < len(data):
    klen, vlen = struct.unpack_from(">II", data, at)
    at += 8
    replies[data[at:at + klen]] = data[at + klen:at + klen + vlen]
    at += klen + vlen
async def _reply(request, context):
    return replies.get(request[:key_bytes], request)
async def main():
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_reply)}
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


def start_bare_reply(
    pki: Path, agency: str, work: Path, replies: dict[bytes, bytes], *, key_bytes: int
) -> tuple[subprocess.Popen[bytes], int]:
    """Like ``start_bare_echo``, but ``/bench.Echo/Echo`` answers ``replies[request[:key_bytes]]``.

    Every key of ``replies`` must be exactly ``key_bytes`` long. The server does no parsing:
    one slice and one dict lookup per call, then grpcio sends the stored bytes.
    """
    if any(len(k) != key_bytes for k in replies):
        raise ValueError(f"every reply key must be {key_bytes} bytes long")
    table = work / "replies.bin"
    with table.open("wb") as f:
        for k, v in replies.items():
            f.write(struct.pack(">II", len(k), len(v)) + k + v)
    return _start_bare(BARE_REPLY, pki, agency, work, "reply", str(table), str(key_bytes))


def start_gateway_logged(
    pki: Path,
    agency: str,
    work: Path,
    *,
    store: str,
    name: str,
    config: Path | None = None,
    launcher: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], int]:
    """Like ``start_gateway``, but with its own ready file and its stderr kept in ``work/<name>.log``.

    If the gateway exits before it listens, the RuntimeError carries the end of that log.
    """
    ready = work / f"{name}.port"
    ready.unlink(missing_ok=True)
    log = work / f"{name}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                *launcher, sys.executable, "-m", "borderx", "--log-level", "warning", "serve",
                "--config", str(config or pki / agency / "gateway.toml"), "--listen", "127.0.0.1:0",
                "--store", store, "--ready-file", str(ready),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )  # fmt: skip
    try:
        # a gateway builds its screening index before it listens: about 20 s for 1.1M statements
        # on a quiet machine, several times that on a busy one
        return proc, wait_port(ready, proc, timeout=GATEWAY_START_SECONDS)
    except RuntimeError as exc:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{exc}; gateway {name} said:\n{tail}") from None
