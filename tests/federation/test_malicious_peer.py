"""A malicious peer: a fake NZ-CS gateway (real NZ-CS gateway certificate) serving crafted streams.

The victim is a real AU-ABF gateway whose only peer is the fake. Every tampered statement
is refused and alarmed; nothing of a bad run is stored; a body sent to a member outside
its audience is not kept; an equivocating issuer is detected and suspended until an
operator resumes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2
from borderx.config import FederationConfig
from borderx.statements.bodies import Evidence, FlagCategory
from borderx.statements.body_codec import encode_body
from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
from borderx.statements.encoding import envelope_to_proto, signed_checkpoint_to_proto
from borderx.statements.model import GENESIS_DIGEST, Envelope, Signature
from borderx.statements.signing import Signer, load_signing_key, sign_checkpoint, sign_statement
from tests.conftest import GatewayThread, channel, creds_for, gateway_config
from tests.federation.hostile import HostilePeer, wait
from tests.integration.helpers import designation, flag, platform

NZ, AU = "NZ-CS", "AU-ABF"


class FakePeer(HostilePeer):
    """A fake NZ-CS gateway (NZ-CS's real gateway certificate) serving ``events``."""

    def __init__(self, pki: Path) -> None:
        super().__init__(pki, NZ)


class Chain:
    """Signs a chain of statements as one issuer."""

    def __init__(self, signer: Signer, issuer: str) -> None:
        self.signer, self.issuer = signer, issuer
        self.envs: list[Envelope] = []

    def next(self, body: Any = None, *, audience: tuple[str, ...] = (), seq: int | None = None) -> Envelope:
        prev = self.envs[-1].digest if self.envs else GENESIS_DIGEST
        body = body or flag(
            (platform(f"s{len(self.envs)}"),), FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED
        )
        env = sign_statement(
            self.signer,
            issuer=self.issuer,
            seq=seq or len(self.envs) + 1,
            prev_digest=prev,
            issued_at=datetime.now(UTC),
            audience=audience,
            body_type="designation" if hasattr(body, "programme") else "flag",
            body=encode_body(body),
        )
        self.envs.append(env)
        return env


def stmt(env: Envelope) -> exchange_pb2.SubscribeEvent:
    return exchange_pb2.SubscribeEvent(statement=envelope_to_proto(env))


@pytest.fixture
def world(pki: Path, tmp_path: Path) -> Iterator[tuple[FakePeer, Callable[[], GatewayThread], Chain]]:
    fake = FakePeer(pki)
    victims: list[GatewayThread] = []

    def victim() -> GatewayThread:
        config = gateway_config(pki, AU, tmp_path)
        config = dataclasses.replace(
            config,
            federation=FederationConfig(
                peers=(NZ,),
                endpoints={NZ: f"127.0.0.1:{fake.port}"},
                backoff_initial_seconds=0.05,
                backoff_max_seconds=0.2,
            ),
        )
        gw = GatewayThread(config)
        victims.append(gw)
        return gw

    yield fake, victim, Chain(load_signing_key(pki / NZ / "signing.key"), NZ)
    for gw in victims:
        gw.stop()
    fake.stop()


def alarms(gw: GatewayThread, kind: str) -> list[Any]:
    return [a for a in gw.gateway.store.alarms() if a.kind == kind]


def tampered(env: Envelope, **changes: Any) -> Envelope:
    return dataclasses.replace(env, **changes)


def test_honest_stream_is_stored(world) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    fake.events = [stmt(nz.next()) for _ in range(3)]
    gw = victim()
    wait(lambda: gw.gateway.store.count() == 3)
    assert gw.gateway.store.get(NZ, 3).received_from == NZ  # type: ignore[union-attr]
    assert not gw.gateway.store.alarms()


@pytest.mark.parametrize("attack", ["bad_signature", "altered_header", "altered_body", "wrong_issuer_key"])
def test_tampered_statement_is_refused_and_alarmed(world, pki: Path, attack: str) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    good = nz.next()
    bad = nz.next()
    if attack == "bad_signature":
        bad = tampered(bad, signatures=(Signature(bad.signatures[0].key_id, bytes(64)),))
    elif attack == "altered_header":
        header = bytearray(bad.header_bytes)
        header[-1] ^= 1  # inside body_digest
        from borderx.statements.encoding import decode_header

        bad = Envelope(bytes(header), bad.signatures, bad.body, decode_header(bytes(header)))
    elif attack == "altered_body":
        bad = tampered(bad, body=(bad.body or b"") + b"\x00")
    else:  # signed by US-CBP's key while claiming to be NZ-CS
        us = Chain(load_signing_key(pki / "US-CBP" / "signing.key"), NZ)
        us.envs = [good]
        bad = us.next()
    fake.events = [stmt(good), stmt(bad)]
    gw = victim()
    found = wait(lambda: [a for a in gw.gateway.store.alarms() if a.kind in ("bad_statement", "bad_message")])
    assert "from peer NZ-CS" in found[0].detail
    assert gw.gateway.store.count() == 1  # the honest first statement only
    assert gw.gateway.store.get(NZ, 2) is None


def test_body_sent_to_a_member_outside_the_audience_is_not_kept(world) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    secret = nz.next(audience=("CA-CBSA",))
    fake.events = [stmt(secret)]
    gw = victim()
    found = wait(lambda: alarms(gw, "audience_violation"))
    assert "audience ['CA-CBSA']" in found[0].detail
    stored = wait(lambda: gw.gateway.store.get(NZ, 1))
    assert (
        stored.envelope.body is None and stored.envelope.digest == secret.digest
    )  # header kept, chain unbroken


def test_gap_in_a_peer_stream_is_alarmed(world) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    first, _, third = nz.next(), nz.next(), nz.next()
    fake.events = [stmt(first), stmt(third)]
    gw = victim()
    found = wait(lambda: alarms(gw, "gap"))
    assert "seq 2..2 withheld" in found[0].detail
    assert gw.gateway.store.count() == 1 and gw.gateway.store.get(NZ, 3) is None


def test_altered_run_under_a_checkpoint_stores_nothing(world) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    run = [nz.next() for _ in range(5)]
    cp = sign_checkpoint(
        nz.signer,
        issuer=NZ,
        seq=5,
        head_digest=run[-1].digest,
        time=datetime.now(UTC),
        signatures_digest=roll_signatures(GENESIS_SIGNATURES, run),
    )
    run[2] = tampered(run[2], signatures=(Signature(run[2].signatures[0].key_id, bytes(64)),))
    fake.events = [exchange_pb2.SubscribeEvent(checkpoint=signed_checkpoint_to_proto(cp)), *map(stmt, run)]
    gw = victim()
    found = wait(lambda: alarms(gw, "bad_run"))
    assert "a relay altered them" in found[0].detail
    assert gw.gateway.store.count() == 0


def test_checkpoint_signed_by_another_agency_is_refused(world, pki: Path) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    env = nz.next()
    forged = sign_checkpoint(
        load_signing_key(pki / "US-CBP" / "signing.key"),
        issuer=NZ,
        seq=1,
        head_digest=env.digest,
        time=datetime.now(UTC),
    )
    fake.events = [exchange_pb2.SubscribeEvent(checkpoint=signed_checkpoint_to_proto(forged)), stmt(env)]
    gw = victim()
    found = wait(lambda: alarms(gw, "bad_checkpoint"))
    assert "from peer NZ-CS" in found[0].detail


def test_equivocation_is_detected_suspends_the_issuer_until_an_operator_resumes(world, pki: Path) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    honest = nz.next(designation(NZ, (platform("eq"),)))
    fake.events = [stmt(honest)]
    gw = victim()
    wait(lambda: gw.gateway.store.count() == 1)
    other = Chain(nz.signer, NZ)  # the same key signs a different statement at seq 1
    evil = other.next(designation(NZ, (platform("eq-other"),)))
    fake.events = [stmt(evil)]
    fake_restart(fake, gw)
    found = wait(lambda: alarms(gw, "equivocation"))
    assert "NZ-CS is suspended" in found[0].detail
    evidence = gw.gateway.store.equivocations()
    assert {evidence[0].held.digest, evidence[0].conflicting.digest} == {honest.digest, evil.digest}
    assert NZ in gw.gateway.store.suspended_issuers()
    # later statements of the suspended issuer are not accepted
    nz.envs = [honest]
    fake.events = [stmt(nz.next())]
    fake_restart(fake, gw)
    time.sleep(0.5)
    assert gw.gateway.store.count() == 1
    with channel(gw.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        admin = admin_pb2_grpc.AdminStub(ch)
        status = admin.GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
        assert [i.suspended for i in status.issuers if i.issuer == NZ] == [True]
        assert any(a.kind == "equivocation" for a in status.alarms)
        assert admin.ResumeIssuer(admin_pb2.ResumeIssuerRequest(issuer=NZ), timeout=10).was_suspended
        code = None
        try:
            admin.ResumeIssuer(admin_pb2.ResumeIssuerRequest(issuer="nz"), timeout=10)
        except grpc.RpcError as exc:
            code = exc.code()
        assert code == grpc.StatusCode.INVALID_ARGUMENT
    wait(lambda: gw.gateway.store.count() == 2)  # accepted again after the operator acted


def fake_restart(fake: FakePeer, gw: GatewayThread) -> None:
    """Make the victim reconnect so it receives the fake's new script."""
    before = fake.subscriptions
    asyncio.run_coroutine_threadsafe(gw.gateway.replicator.restart(), gw.loop).result(10)
    wait(lambda: fake.subscriptions > before)


def test_a_peer_misbehaving_at_every_reconnect_stays_one_alarm(world) -> None:  # type: ignore[no-untyped-def]
    fake, victim, nz = world
    chain = [nz.next() for _ in range(8)]
    sessions: list[int] = []

    class EverySessionAnotherGap(list):  # type: ignore[type-arg]
        """FakePeer reads its events once per subscription: each withholds a different run."""

        def __iter__(self) -> Iterator[exchange_pb2.SubscribeEvent]:
            sessions.append(len(sessions))
            return iter([stmt(chain[0]), stmt(chain[min(2 + len(sessions), 7)])])

    fake.events = EverySessionAnotherGap()
    gw = victim()
    wait(lambda: len(sessions) >= 4)
    [gap] = wait(lambda: [a for a in alarms(gw, "gap") if a.count >= 3])
    assert gap.peer == NZ and gap.issuer == NZ
    assert len(gw.gateway.store.alarms(include_acknowledged=True)) == 1
    with channel(gw.target, creds_for(pki_of(gw), AU, "operator", server_agency=AU)) as ch:
        status = admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    assert status.open_alarms == 1 and [a.peer for a in status.alarms] == [NZ]
    assert status.alarms[0].count >= 3


def pki_of(gw: GatewayThread) -> Path:
    return gw.config.directory_path.parent
