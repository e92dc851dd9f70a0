"""A directory reload reconciles replication, and the replicator authenticates servers (issue 11, items 5-6).

Real gateways on loopback (each on its own event loop in a thread): US-CBP replicates from
AU-ABF and NZ-CS. Its directory is edited and reloaded under it; links must start for an
added member, re-point for a changed endpoint, and stop for a removed one, with no restart.
As a client, the replicator must refuse a server certificate that is not the peer agency's
gateway, or that the directory revoked.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.config import FederationConfig, GatewayConfig
from borderx.identity.devpki import issue_certificate, pem_cert, pem_key, spiffe_id, write_private
from borderx.statements.body_codec import designation_to_proto
from tests.conftest import GatewayThread, channel, creds_for, gateway_config
from tests.integration.helpers import designation, platform
from tests.integration.test_gateway_identity import load_ca

US, AU, NZ = "US-CBP", "AU-ABF", "NZ-CS"
FED = "border5.test"
WAIT = 20.0


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


class World:
    """Running gateways and US-CBP's own directory file, which the test edits."""

    def __init__(self, pki: Path, tmp: Path) -> None:
        self.pki, self.tmp = pki, tmp
        self.started: list[GatewayThread] = []
        self.doc: dict[str, Any] = json.loads((pki / "directory.json").read_text())
        self.path = tmp / "us-directory.json"

    def serve(self, agency: str, config: GatewayConfig | None = None) -> GatewayThread:
        folder = self.tmp / agency
        folder.mkdir(exist_ok=True)
        gw = GatewayThread(config or gateway_config(self.pki, agency, folder))
        self.started.append(gw)
        return gw

    def write(self, members: dict[str, str]) -> None:
        """US-CBP's directory: US-CBP plus ``members`` (agency -> endpoint), a new version."""
        doc = json.loads(json.dumps(self.doc))
        doc["version"] = self.doc["version"] = self.doc["version"] + 1
        kept = []
        for entry in doc["agencies"]:
            if entry["id"] == US:
                kept.append(entry)
            elif entry["id"] in members:
                entry["endpoint"] = members[entry["id"]]
                kept.append(entry)
        doc["agencies"] = kept
        self.path.write_text(json.dumps(doc))

    def replicator(self, members: dict[str, str]) -> GatewayThread:
        self.write(members)
        folder = self.tmp / US
        folder.mkdir(exist_ok=True)
        config = dataclasses.replace(
            gateway_config(self.pki, US, folder),
            directory_path=self.path,
            federation=FederationConfig(backoff_initial_seconds=0.05, backoff_max_seconds=0.2),
        )
        return self.serve(US, config)

    def stop(self) -> None:
        for gw in reversed(self.started):
            gw.stop()


@pytest.fixture
def world(pki: Path, tmp_path: Path) -> Iterator[World]:
    w = World(pki, tmp_path)
    yield w
    w.stop()


def publish(gw: GatewayThread, pki: Path, agency: str, name: str) -> None:
    item = exchange_pb2.PublishItem(
        draft=exchange_pb2.Draft(designation=designation_to_proto(designation(agency, (platform(name),))))
    )
    with channel(gw.target, creds_for(pki, agency, "service", server_agency=agency)) as ch:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=[item]), timeout=10)


def held(gw: GatewayThread, issuer: str) -> int:
    head = gw.gateway.store.head(issuer)
    return head.seq if head else 0


def endpoint(gw: GatewayThread) -> str:
    return f"127.0.0.1:{gw.port}"


def test_reload_starts_repoints_and_stops_links(world: World, pki: Path) -> None:
    au, nz = world.serve(AU), world.serve(NZ)
    us = world.replicator({AU: endpoint(au)})
    replicator = us.gateway.replicator
    publish(au, pki, AU, "a1")
    wait_for(lambda: held(us, AU) == 1, "US-CBP to replicate AU-ABF")
    assert set(replicator.links) == {AU}

    # a member added by reload, at an endpoint where nothing listens yet: a link, failing
    world.write({AU: endpoint(au), NZ: f"127.0.0.1:{dead_port()}"})
    assert us.gateway.reload()[0]
    wait_for(lambda: NZ in replicator.links, "a link to the added member")
    wait_for(lambda: "UNAVAILABLE" in replicator.links[NZ].status.last_error, "the dead endpoint to fail")

    # its endpoint changes: the link re-points and replication from it starts
    world.write({AU: endpoint(au), NZ: endpoint(nz)})
    us.gateway.reload()
    publish(nz, pki, NZ, "n1")
    wait_for(lambda: held(us, NZ) == 1, "US-CBP to replicate NZ-CS at its new endpoint")
    assert replicator.links[NZ].status.endpoint == endpoint(nz)

    # a member removed: its link stops (AU-ABF serves no session to US-CBP any more)
    assert len(au.gateway.sessions) == 1
    world.write({NZ: endpoint(nz)})
    us.gateway.reload()
    wait_for(lambda: AU not in replicator.links, "the removed member's link to stop")
    wait_for(lambda: len(au.gateway.sessions) == 0, "AU-ABF's stream to US-CBP to close")
    publish(nz, pki, NZ, "n2")
    wait_for(lambda: held(us, NZ) == 2, "the remaining link to go on")
    assert set(replicator.links) == {NZ}


def own_cert(world: World, agency: str, name: str, uri: str) -> tuple[Path, Path, int]:
    cert, key = issue_certificate(
        load_ca(world.pki, agency),
        common_name=name,
        uris=[uri],
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
        server=True,
        client=True,
    )
    folder = world.tmp / name
    folder.mkdir()
    (folder / "cert.pem").write_bytes(pem_cert(cert))
    write_private(folder / "cert.key", pem_key(key))
    return folder / "cert.pem", folder / "cert.key", cert.serial_number


def test_the_replicator_refuses_a_server_that_is_not_the_peers_gateway(world: World, pki: Path) -> None:
    # AU-ABF's CA issued it, so TLS alone accepts it; but it is an operator, not the gateway
    cert, key, _ = own_cert(world, AU, "impostor", spiffe_id(FED, AU, "operator", "mallory"))
    config = dataclasses.replace(gateway_config(pki, AU, world.tmp), tls_cert=cert, tls_key=key)
    impostor = world.serve(AU, config)
    publish(impostor, pki, AU, "a1")
    us = world.replicator({AU: endpoint(impostor)})
    link = wait_for(lambda: us.gateway.replicator.links.get(AU), "the link")
    wait_for(lambda: link.status.last_error.startswith("UNAUTHENTICATED"), "the server to be refused")
    assert f"presented spiffe://{FED}/agency/{AU}/operator/mallory" in link.status.last_error
    assert f"expected {AU}'s gateway" in link.status.last_error
    assert held(us, AU) == 0 and len(impostor.gateway.sessions) == 0
    # every refused reconnect counts on one alarm
    [alarm] = wait_for(
        lambda: [a for a in us.gateway.store.alarms() if a.kind == "peer_unauthenticated" and a.count >= 2],
        "the alarm to count reconnects",
    )
    assert (alarm.issuer, alarm.peer) == (AU, AU) and "operator/mallory" in alarm.detail
    assert us.gateway.store.alarm_count() == 1


def test_a_revoked_peer_server_certificate_ends_replication_from_it(world: World, pki: Path) -> None:
    cert, key, serial = own_cert(world, AU, "renewed", spiffe_id(FED, AU, "gateway"))
    config = dataclasses.replace(gateway_config(pki, AU, world.tmp), tls_cert=cert, tls_key=key)
    au = world.serve(AU, config)
    publish(au, pki, AU, "a1")
    us = world.replicator({AU: endpoint(au)})
    wait_for(lambda: held(us, AU) == 1, "replication from the (still valid) AU-ABF gateway")
    assert len(au.gateway.sessions) == 1

    for entry in world.doc["agencies"]:
        if entry["id"] == AU:
            entry["revoked_serials"] = [format(serial, "x")]
    world.write({AU: endpoint(au)})
    us.gateway.reload()
    wait_for(lambda: len(au.gateway.sessions) == 0, "the session to the revoked server to end")
    link = us.gateway.replicator.links[AU]
    wait_for(lambda: "is revoked by AU-ABF" in link.status.last_error, "the reconnect to be refused")
    publish(au, pki, AU, "a2")
    time.sleep(0.3)  # a few backoff rounds: none of them may fetch from the revoked server
    assert held(us, AU) == 1
