"""Several replicas of one agency's gateway on PostgreSQL: the scaling ratio, and PostgreSQL ÷ SQLite.

Figures (ratios to baselines measured in this run):

- Screen shipments/s (batches of 100, 20,000 designations held) with 2 and 3 replicas ÷
  with 1 replica, the client spreading calls over the replicas; goal ≥ 1.0 (replicas add
  capacity, or at least cost none, on this 2-core machine where replicas, client and the
  database share the cores);
- Publish statements/s (batches of 100) with 3 replicas ÷ 1 replica (publishing for one
  issuer is serialised by the database lock: the goal is that replicas do not slow it,
  ≥ 0.8);
- one node: Screen and Publish on PostgreSQL ÷ the same on SQLite (information; goal ≥ 0.3).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import psycopg

from borderx._proto.borderx.v1 import exchange_pb2, statement_pb2
from borderx.identity.devpki import init_pki
from borderx.screening.index import index_effects
from borderx.statements.body_codec import designation_to_proto, encode_body
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import load_signing_key, sign_statement
from borderx.store import NewStatement, open_store
from tests.bench._common import Figure, report
from tests.federation.harness import free_port
from tests.integration.helpers import designation, platform
from tests.procs import GatewayProcess

PG = os.environ.get("BORDERX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
HELD = 20_000
SECONDS = 3.0
AU = "AU-ABF"


def preload(url: str, pki: Path) -> None:
    signer = load_signing_key(pki / "NZ-CS" / "signing.key")
    store = open_store(url)
    prev, batch = GENESIS_DIGEST, []
    now = datetime.now(UTC)
    for seq in range(1, HELD + 1):
        body = encode_body(designation("NZ-CS", (platform(f"held-{seq}"),)))
        env = sign_statement(
            signer,
            issuer="NZ-CS",
            seq=seq,
            prev_digest=prev,
            issued_at=now,
            body_type="designation",
            body=body,
        )
        prev = env.digest
        batch.append(NewStatement(env, "NZ-CS", index_effects(env)))
        if len(batch) == 1000:
            store.append(batch)
            batch = []
    store.close()


def config(pki: Path, work: Path, name: str) -> Path:
    text = (
        (pki / AU / "gateway.toml")
        .read_text()
        .replace('directory = "../directory.json"', f'directory = "{pki / "directory.json"}"')
    )
    for file in ("gateway.pem", "gateway.key", "signing.key"):
        text = text.replace(f'"{file}"', f'"{pki / AU / file}"')
    path = work / f"{name}.toml"
    path.write_text(text + "\n[federation]\nenabled = false\n")
    return path


def creds(pki: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        (pki / AU / "ca.pem").read_bytes(),
        (pki / AU / "service.key").read_bytes(),
        (pki / AU / "service.pem").read_bytes(),
    )


async def drive(ports: list[int], pki: Path, kind: str) -> float:
    channels = [grpc.aio.secure_channel(f"localhost:{p}", creds(pki)) for p in ports]
    done = 0
    stop_at = time.perf_counter() + SECONDS
    counter = [0]

    def request() -> tuple[str, bytes]:
        counter[0] += 1
        if kind == "screen":
            shipments = [
                exchange_pb2.Shipment(
                    reference=str(i),
                    shipper_ids=[
                        statement_pb2.PartyId(
                            scheme="PLATFORM", value=f"shop:held-{(counter[0] * 100 + i) % (2 * HELD)}"
                        )
                    ],
                )
                for i in range(100)
            ]
            return "/borderx.v1.Exchange/Screen", exchange_pb2.ScreenRequest(
                shipments=shipments
            ).SerializeToString()
        tag = secrets.token_hex(4)
        items = [
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(
                    designation=designation_to_proto(designation(AU, (platform(f"p-{tag}-{i}"),)))
                )
            )
            for i in range(100)
        ]
        return "/borderx.v1.Exchange/Publish", exchange_pb2.PublishRequest(items=items).SerializeToString()

    async def worker(channel: grpc.aio.Channel) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            method, payload = request()
            await channel.unary_unary(method)(payload, timeout=30)
            done += 100

    start = time.perf_counter()
    await asyncio.gather(*(worker(channels[i % len(channels)]) for i in range(6)))
    rate = done / (time.perf_counter() - start)
    for channel in channels:
        await channel.close()
    return rate


def run(pki: Path, work: Path, url: str, n: int) -> tuple[float, float]:
    gws = [
        GatewayProcess(
            config(pki, work, f"r{i}"),
            store=url,
            workdir=work,
            name=f"r{n}-{i}",
            listen=f"127.0.0.1:{free_port()}",
        ).start()
        for i in range(n)
    ]
    try:
        ports = [gw.port for gw in gws]
        screen = asyncio.run(drive(ports, pki, "screen"))
        publish = asyncio.run(drive(ports, pki, "publish"))
    finally:
        for gw in gws:
            gw.terminate()
    return screen, publish


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        schema = f"bench_{secrets.token_hex(4)}"
        url = f"{PG}?schema={schema}"
        preload(url, pki)
        sqlite_url = f"sqlite:///{work / 'one.db'}"
        preload(sqlite_url, pki)
        try:
            results = {n: run(pki, work, url, n) for n in (1, 2, 3)}
            sqlite = run(pki, work, sqlite_url, 1)
        finally:
            with psycopg.connect(PG, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    for n in (2, 3):
        report(
            Figure(
                f"Screen shipments/s with {n} PostgreSQL replicas vs 1",
                results[n][0],
                results[1][0],
                "shipments/s",
                ">= 1.0",
            )
        )
    report(
        Figure(
            "Publish statements/s with 3 PostgreSQL replicas vs 1",
            results[3][1],
            results[1][1],
            "statements/s",
            ">= 0.8",
        )
    )
    report(
        Figure(
            "Screen shipments/s, one node: PostgreSQL vs SQLite",
            results[1][0],
            sqlite[0],
            "shipments/s",
            ">= 0.3",
        )
    )
    report(
        Figure(
            "Publish statements/s, one node: PostgreSQL vs SQLite",
            results[1][1],
            sqlite[1],
            "statements/s",
            ">= 0.3",
        )
    )


if __name__ == "__main__":
    main()
