"""Revocation, expiry and leaving the federation end live Subscribe streams (issue 11, item 5).

Real gateways on loopback, real certificates from the dev PKI's CAs: a follower stream is
opened, the condition is brought about (a directory reload through the Admin RPC, the
certificate's not_after passing, the agency leaving the directory), and the stream must
end with UNAUTHENTICATED while a stream that still authenticates keeps being served.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.config import Limits
from borderx.identity.devpki import issue_certificate, pem_cert, pem_key, spiffe_id
from borderx.statements.body_codec import designation_to_proto
from tests.conftest import Creds, GatewayThread, channel, creds_for, gateway_config
from tests.integration.helpers import designation, platform
from tests.integration.test_gateway_identity import load_ca

US = "US-CBP"
FED = "border5.test"
WAIT = 15.0


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Follower:
    """A Subscribe(follow) stream read in a thread; records what arrived and how it ended."""

    def __init__(self, target: str, creds: Creds) -> None:
        self._channel = channel(target, creds)
        self.events: list[exchange_pb2.SubscribeEvent] = []
        self.error: grpc.RpcError | None = None
        self.done = threading.Event()
        self._call = exchange_pb2_grpc.ExchangeStub(self._channel).Subscribe(
            exchange_pb2.SubscribeRequest(follow=True)
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._call:
                self.events.append(event)
        except grpc.RpcError as exc:
            self.error = exc
        finally:
            self.done.set()

    def statements(self) -> int:
        return sum(
            len(e.batch.statements)
            if e.WhichOneof("event") == "batch"
            else e.WhichOneof("event") == "statement"
            for e in self.events
        )

    def ended(self) -> tuple[grpc.StatusCode, str]:
        assert self.done.wait(WAIT), "the stream did not end"
        assert self.error is not None, "the stream ended without an error"
        return self.error.code(), self.error.details() or ""

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()
        self._thread.join(5)


@pytest.fixture
def world(pki: Path, tmp_path: Path) -> Path:
    """A writable copy of the directory (the gateway reloads it from here)."""
    shutil.copy(pki / "directory.json", tmp_path / "directory.json")
    return tmp_path / "directory.json"


@pytest.fixture
def us(pki: Path, tmp_path: Path, world: Path):  # type: ignore[no-untyped-def]
    config = dataclasses.replace(gateway_config(pki, US, tmp_path), directory_path=world)
    gw = GatewayThread(config)
    yield gw
    gw.stop()


@pytest.fixture
def followers():  # type: ignore[no-untyped-def]
    made: list[Follower] = []

    def follow(target: str, creds: Creds) -> Follower:
        f = Follower(target, creds)
        made.append(f)
        return f

    yield follow
    for f in made:
        f.close()


def fresh(pki: Path, agency: str, role: str, name: str = "", **kw: Any) -> tuple[x509.Certificate, Creds]:
    cert, key = issue_certificate(
        load_ca(pki, agency),
        common_name=f"{agency} {role} {name}",
        uris=[spiffe_id(FED, agency, role, name)],
        **kw,
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, Creds(ca=(pki / US / "ca.pem").read_bytes(), cert=pem_cert(cert), key=pem_key(key))


def new_version(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(path.read_text())
    doc["version"] += 1
    edit(doc)
    path.write_text(json.dumps(doc))


def revoke(serial: int, agency: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc["agencies"]:
            if entry["id"] == agency:
                entry["revoked_serials"] = [*entry.get("revoked_serials", []), format(serial, "x")]

    return edit


def reload(gw: GatewayThread, pki: Path) -> admin_pb2.ReloadDirectoryResponse:
    with channel(gw.target, creds_for(pki, US, "operator")) as ch:
        return admin_pb2_grpc.AdminStub(ch).ReloadDirectory(admin_pb2.ReloadDirectoryRequest(), timeout=10)


def publish(gw: GatewayThread, pki: Path, name: str) -> None:
    item = exchange_pb2.PublishItem(
        draft=exchange_pb2.Draft(designation=designation_to_proto(designation(US, (platform(name),))))
    )
    with channel(gw.target, creds_for(pki, US, "service")) as ch:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=[item]), timeout=10)


def test_a_revoked_operator_stream_ends_at_the_reload_and_others_go_on(
    us, pki: Path, world: Path, followers
) -> None:  # type: ignore[no-untyped-def]
    cert, creds = fresh(pki, US, "operator", "leaver")
    revoked = followers(us.target, creds)
    kept = followers(us.target, creds_for(pki, US, "service"))
    wait_for(lambda: len(us.gateway.sessions) == 2, "both streams to be live")
    publish(us, pki, "before")
    wait_for(lambda: revoked.statements() == 1 and kept.statements() == 1, "the first statement")

    new_version(world, revoke(cert.serial_number, US))
    assert reload(us, pki).directory_changed

    code, details = revoked.ended()
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert f"serial {cert.serial_number:x}) is revoked by {US}" in details
    publish(us, pki, "after")
    wait_for(lambda: kept.statements() == 2, "the kept stream to get the next statement")
    assert not kept.done.is_set() and revoked.statements() == 1
    assert len(us.gateway.sessions) == 1


def test_a_partner_gateway_stream_ends_when_its_agency_leaves(us, pki: Path, world: Path, followers) -> None:  # type: ignore[no-untyped-def]
    nz = followers(us.target, creds_for(pki, "NZ-CS", "gateway"))
    au = followers(us.target, creds_for(pki, "AU-ABF", "gateway"))
    wait_for(lambda: len(us.gateway.sessions) == 2, "both streams to be live")
    new_version(world, lambda doc: doc.update(agencies=[a for a in doc["agencies"] if a["id"] != "NZ-CS"]))
    reload(us, pki)
    code, details = nz.ended()
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "names agency NZ-CS, which is not a member" in details
    publish(us, pki, "after")
    wait_for(lambda: au.statements() == 1, "the remaining partner to be served")


def test_a_stream_ends_when_its_certificate_expires(us, pki: Path, followers) -> None:  # type: ignore[no-untyped-def]
    cert, creds = fresh(pki, US, "service", "short-lived", not_after=datetime.now(UTC) + timedelta(seconds=2))
    not_after = cert.not_valid_after_utc  # whole seconds in X.509
    short = followers(us.target, creds)
    kept = followers(us.target, creds_for(pki, US, "service"))
    wait_for(lambda: len(us.gateway.sessions) == 2, "both streams to be live")
    code, details = short.ended()
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "short-lived (serial" in details and "expired" in details
    assert datetime.now(UTC) >= not_after  # ended by its expiry, not before
    publish(us, pki, "after")
    wait_for(lambda: kept.statements() == 1, "the other stream to go on")


def test_a_stream_ends_when_its_ca_is_replaced(us, pki: Path, world: Path, followers) -> None:  # type: ignore[no-untyped-def]
    # the directory rotates AU-ABF to a new CA: certificates of the old one stop authenticating
    from borderx.identity.devpki import make_ca

    au = followers(us.target, creds_for(pki, "AU-ABF", "gateway"))
    wait_for(lambda: len(us.gateway.sessions) == 1, "the stream to be live")
    replacement = pem_cert(make_ca("AU-ABF new CA").cert).decode()

    def rotate(doc: dict[str, Any]) -> None:
        for entry in doc["agencies"]:
            if entry["id"] == "AU-ABF":
                entry["ca_certificates"] = [replacement]

    new_version(world, rotate)
    reload(us, pki)
    code, details = au.ended()
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "must chain to AU-ABF's own CA" in details


def test_max_connection_age_closes_long_connections(pki: Path, tmp_path: Path, followers) -> None:  # type: ignore[no-untyped-def]
    config = gateway_config(pki, US, tmp_path)
    config = dataclasses.replace(
        config,
        limits=dataclasses.replace(
            Limits(), max_connection_age_seconds=0.5, max_connection_age_grace_seconds=0.5
        ),
    )
    gw = GatewayThread(config)
    try:
        follower = followers(gw.target, creds_for(pki, US, "service"))
        code, _ = follower.ended()
        # the connection was closed under the stream: the client reconnects and resumes
        assert code == grpc.StatusCode.UNAVAILABLE
    finally:
        gw.stop()
