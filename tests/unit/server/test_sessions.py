"""The live-session registry on its own: expiry timers, re-checks, and what closing a session stops."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from borderx.directory.model import Directory, DirectoryHolder
from borderx.identity.devpki import CertificateAuthority, issue_certificate, pem_cert, spiffe_id
from borderx.identity.verifier import PeerAuthenticator
from borderx.server import sessions as sessions_module
from borderx.server.sessions import SessionRegistry
from tests.conftest import next_directory

US = "US-CBP"


def leaf(pki: Path, name: str, *, seconds: float = 3600) -> tuple[int, bytes]:
    ca_cert = x509.load_pem_x509_certificate((pki / US / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki / US / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert, _ = issue_certificate(
        CertificateAuthority(ca_cert, key),
        common_name=name,
        uris=[spiffe_id("border5.test", US, "service", name)],
        not_after=datetime.now(UTC) + timedelta(seconds=seconds),
    )
    return cert.serial_number, pem_cert(cert)


def revoked(pki: Path, serial: int) -> Directory:
    def edit(doc: dict[str, Any]) -> None:
        for entry in doc["agencies"]:
            if entry["id"] == US:
                entry["revoked_serials"] = [format(serial, "x")]

    return Directory.loads(next_directory(pki, edit))


def setup(pki: Path) -> tuple[DirectoryHolder, PeerAuthenticator, SessionRegistry]:
    holder = DirectoryHolder(Directory.load(pki / "directory.json"))
    authenticator = PeerAuthenticator(holder)
    registry = SessionRegistry(authenticator)
    holder.on_change(lambda _new: registry.recheck())
    return holder, authenticator, registry


def test_a_session_ends_at_its_certificates_not_after(pki: Path) -> None:
    _, authenticator, registry = setup(pki)
    _, pem = leaf(pki, "brief", seconds=3)  # long enough to authenticate on a loaded machine

    async def run() -> str:
        registry.bind(asyncio.get_running_loop())
        principal = authenticator.authenticate_pem(pem)
        session = registry.open(method="/m", peer="p", principal=principal, pem=pem)
        await asyncio.wait_for(session.ended.wait(), 10)
        registry.close(session)
        return session.reason

    reason = asyncio.run(run())
    assert "expired" in reason and "brief" in reason
    assert len(registry) == 0


def test_recheck_from_another_thread_ends_only_the_revoked_session(pki: Path) -> None:
    holder, authenticator, registry = setup(pki)
    serial, bad = leaf(pki, "leaver")
    _, good = leaf(pki, "stayer")

    async def run() -> tuple[str, bool]:
        registry.bind(asyncio.get_running_loop())
        a = registry.open(method="/m", peer="p", principal=authenticator.authenticate_pem(bad), pem=bad)
        b = registry.open(method="/m", peer="p", principal=authenticator.authenticate_pem(good), pem=good)
        # a reload runs in a worker thread (Admin ReloadDirectory): the listener fires there
        await asyncio.to_thread(holder.replace, revoked(pki, serial))
        await asyncio.wait_for(a.ended.wait(), 10)
        await asyncio.sleep(0)
        return a.reason, b.ended.is_set()

    reason, other_ended = asyncio.run(run())
    assert f"serial {serial:x}) is revoked by {US}" in reason
    assert not other_ended


def test_an_ended_session_whose_handler_does_not_stop_is_cancelled(
    pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions_module, "END_GRACE_SECONDS", 0.01)
    holder, authenticator, registry = setup(pki)
    serial, pem = leaf(pki, "stuck")

    async def handler() -> None:
        registry.open(method="/m", peer="p", principal=authenticator.authenticate_pem(pem), pem=pem)
        await asyncio.sleep(3600)  # e.g. a write to a client that stopped reading

    async def run() -> bool:
        registry.bind(asyncio.get_running_loop())
        task = asyncio.create_task(handler())
        await asyncio.sleep(0)
        holder.replace(revoked(pki, serial))
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        return task.cancelled()

    assert asyncio.run(run())


def test_a_closed_session_is_not_checked_again(pki: Path) -> None:
    holder, authenticator, registry = setup(pki)
    serial, pem = leaf(pki, "gone")

    async def run() -> bool:
        registry.bind(asyncio.get_running_loop())
        session = registry.open(method="/m", peer="p", principal=authenticator.authenticate_pem(pem), pem=pem)
        registry.close(session)
        holder.replace(revoked(pki, serial))
        await asyncio.sleep(0.01)
        return session.ended.is_set()

    assert asyncio.run(run()) is False
