"""A hostile partner for tests: a fake gateway with a partner's real certificate, serving crafted streams.

Statements are signed with real keys of the test PKI (the partner's own, or a leaked key of
another agency), so every refusal tested against it is a refusal of a *correctly signed*
statement: the one admission path at work, not the signature check.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.config import FederationConfig
from borderx.directory.model import Directory
from borderx.statements.bodies import Body, body_type_of
from borderx.statements.body_codec import encode_body
from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
from borderx.statements.encoding import envelope_to_proto, signed_checkpoint_to_proto
from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint
from borderx.statements.signing import Signer, load_signing_key, sign_checkpoint, sign_statement
from tests.conftest import GatewayThread, gateway_config


class HostilePeer(exchange_pb2_grpc.ExchangeServicer):
    """Serves ``events`` to whoever subscribes (as ``agency``'s gateway), then holds the stream open."""

    def __init__(self, pki: Path, agency: str) -> None:
        self.agency = agency
        self.events: list[exchange_pb2.SubscribeEvent] = []
        self.subscriptions = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: grpc.aio.Server | None = None
        directory = Directory.load(pki / "directory.json")
        creds = grpc.ssl_server_credentials(
            [((pki / agency / "gateway.key").read_bytes(), (pki / agency / "gateway.pem").read_bytes())],
            root_certificates=directory.trust_bundle_pem(),
            require_client_auth=True,
        )
        self.port = asyncio.run_coroutine_threadsafe(self._start(creds), self.loop).result(10)

    async def _start(self, creds: grpc.ServerCredentials) -> int:
        self.server = grpc.aio.server()
        exchange_pb2_grpc.add_ExchangeServicer_to_server(self, self.server)
        port = self.server.add_secure_port("127.0.0.1:0", creds)
        await self.server.start()
        return port

    async def Subscribe(self, request: Any, context: Any) -> Any:
        self.subscriptions += 1
        for event in list(self.events):
            yield event
        await asyncio.sleep(3600)

    def send(self, *items: Envelope | SignedCheckpoint) -> None:
        for item in items:
            if isinstance(item, Envelope):
                self.events.append(exchange_pb2.SubscribeEvent(statement=envelope_to_proto(item)))
            else:
                self.events.append(exchange_pb2.SubscribeEvent(checkpoint=signed_checkpoint_to_proto(item)))

    def send_batch(self, envs: Sequence[Envelope]) -> None:
        batch = exchange_pb2.StatementBatch(statements=[envelope_to_proto(e) for e in envs])
        self.events.append(exchange_pb2.SubscribeEvent(batch=batch))

    def stop(self) -> None:
        assert self.server is not None
        asyncio.run_coroutine_threadsafe(self.server.stop(0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


class Signs:
    """Signs one issuer's chain with a real key; ``raw`` bodies are signed exactly as given."""

    def __init__(self, pki: Path, issuer: str, signer: Signer | None = None) -> None:
        self.issuer = issuer
        self.signer = signer or load_signing_key(pki / issuer / "signing.key")
        self.envs: list[Envelope] = []

    def next(
        self,
        body: Body | None = None,
        *,
        raw: tuple[str, bytes] | None = None,
        audience: tuple[str, ...] = (),
        issued_at: datetime | None = None,
        keep: bool = True,
    ) -> Envelope:
        prev = self.envs[-1].digest if self.envs else GENESIS_DIGEST
        body_type, data = raw if raw is not None else (body_type_of(body).value, encode_body(body))  # type: ignore[arg-type]
        env = sign_statement(
            self.signer,
            issuer=self.issuer,
            seq=len(self.envs) + 1,
            prev_digest=prev,
            issued_at=issued_at or datetime.now(UTC),
            audience=audience,
            body_type=body_type,
            body=data,
        )
        if keep:
            self.envs.append(env)
        return env

    def checkpoint(
        self, *, at: datetime | None = None, envs: Sequence[Envelope] | None = None
    ) -> SignedCheckpoint:
        """A checkpoint over ``envs`` (default: the chain so far), signatures digest included."""
        envs = list(self.envs if envs is None else envs)
        return sign_checkpoint(
            self.signer,
            issuer=self.issuer,
            seq=len(envs),
            head_digest=envs[-1].digest if envs else GENESIS_DIGEST,
            time=at or datetime.now(UTC),
            signatures_digest=roll_signatures(GENESIS_SIGNATURES, envs),
        )


def victim_of(pki: Path, tmp_path: Path, agency: str, peer: HostilePeer) -> GatewayThread:
    """A real gateway of ``agency`` whose only peer is the hostile one."""
    config = dataclasses.replace(
        gateway_config(pki, agency, tmp_path),
        federation=FederationConfig(
            peers=(peer.agency,),
            endpoints={peer.agency: f"127.0.0.1:{peer.port}"},
            backoff_initial_seconds=0.05,
            backoff_max_seconds=0.2,
        ),
    )
    return GatewayThread(config)


def wait(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@dataclasses.dataclass
class World:
    pki: Path
    tmp_path: Path
    peers: list[HostilePeer] = dataclasses.field(default_factory=list)
    gateways: list[GatewayThread] = dataclasses.field(default_factory=list)

    def peer(self, agency: str) -> HostilePeer:
        peer = HostilePeer(self.pki, agency)
        self.peers.append(peer)
        return peer

    def victim(self, agency: str, peer: HostilePeer) -> GatewayThread:
        gw = victim_of(self.pki, self.tmp_path, agency, peer)
        self.gateways.append(gw)
        return gw

    def close(self) -> None:
        for gw in self.gateways:
            gw.stop()
        for peer in self.peers:
            peer.stop()


def world(pki: Path, tmp_path: Path) -> Iterator[World]:
    w = World(pki, tmp_path)
    try:
        yield w
    finally:
        w.close()
