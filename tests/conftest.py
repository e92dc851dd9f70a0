"""Shared fixtures: a real dev PKI in a temporary folder, and real gateways on loopback ports."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from borderx.config import FederationConfig, GatewayConfig, load_config
from borderx.identity.devpki import init_pki
from borderx.logging import configure_logging

configure_logging(fmt="json", level="warning")


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    """CLI tests call main(), which configures logging for a person; put the quiet default back."""
    yield
    configure_logging(fmt="json", level="warning")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A five-agency dev PKI, made once per test session (read-only for tests)."""
    out = tmp_path_factory.mktemp("pki") / "dev"
    init_pki(out)
    return out


class GatewayThread:
    """A real gateway (grpc.aio server, mTLS, SQLite store) on its own event loop in a thread."""

    def __init__(self, config: GatewayConfig) -> None:
        from borderx.server.app import Gateway

        self.config = config
        self.gateway = Gateway.open(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.running = self._run(self._start())
        self.port: int = self.running.port

    def _run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def _start(self):  # type: ignore[no-untyped-def]
        from borderx.server.app import build_server

        return await build_server(self.gateway, listen="127.0.0.1:0")

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"

    def stop(self) -> None:
        self._run(self.running.stop(grace=1.0))
        self.gateway.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def gateway_config(pki: Path, agency: str, tmp: Path) -> GatewayConfig:
    """A single gateway's config: its own store in ``tmp``, any free port, no replication."""
    config = load_config(pki / agency / "gateway.toml").with_overrides(
        listen="127.0.0.1:0", store_url=f"sqlite:///{tmp / (agency.lower() + '.db')}"
    )
    return dataclasses.replace(config, federation=FederationConfig(enabled=False))


@pytest.fixture
def start_gateway(pki: Path, tmp_path: Path) -> Iterator[object]:
    started: list[GatewayThread] = []

    def start(agency: str = "US-CBP", *, config: GatewayConfig | None = None) -> GatewayThread:
        gw = GatewayThread(config or gateway_config(pki, agency, tmp_path))
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()


@dataclass(frozen=True)
class Creds:
    ca: bytes
    cert: bytes
    key: bytes


def creds_for(pki: Path, agency: str, role: str, *, server_agency: str = "US-CBP") -> Creds:
    return Creds(
        ca=(pki / server_agency / "ca.pem").read_bytes(),
        cert=(pki / agency / f"{role}.pem").read_bytes(),
        key=(pki / agency / f"{role}.key").read_bytes(),
    )


def channel(target: str, creds: Creds | None, *, ca: bytes | None = None) -> grpc.Channel:
    if creds is None:
        tls = grpc.ssl_channel_credentials(root_certificates=ca)
    else:
        tls = grpc.ssl_channel_credentials(
            root_certificates=creds.ca, private_key=creds.key, certificate_chain=creds.cert
        )
    return grpc.secure_channel(target, tls)


DEV_AGENCIES = ("US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC")


def next_directory(
    pki: Path, edit: Callable[[dict[str, Any]], None], *, source: Path | None = None, first: bool = False
) -> str:
    """The next signed version of the dev directory (or of ``source``), as the members would make it.

    ``edit`` changes the ``signed`` part in place; the version is bumped, the threshold kept
    within the membership, and every dev agency signs with its directory key (the members'
    ceremony, which a gateway requires of any successor: DESIGN §2). ``first``: the document
    will be a gateway's first configuration, so only its own members sign.
    """
    from borderx.identity.devpki import sign_as_members

    signed = json.loads((source or pki / "directory.json").read_text())["signed"]
    before = {entry["id"] for entry in signed["agencies"]}
    signed["version"] += 1
    edit(signed)
    signed["threshold"] = min(signed["threshold"], len(signed["agencies"]))
    # the members of either version sign (a key neither version lists would refuse the document)
    members = {entry["id"] for entry in signed["agencies"]} | (set() if first else before)
    signers = [a for a in DEV_AGENCIES if a in members and (pki / a / "directory.key").exists()]
    return sign_as_members(pki, signed, signers)
