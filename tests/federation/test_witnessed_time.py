"""Witnessed time through real gateways (issue 12 item 5): a retired key cannot backdate, honest history survives.

AU-ABF rotates its signing key: the old key's window closes at R. A thief who later gets
the old key signs AU-ABF's next seq dated before R and hands it to a gateway that never saw
AU-ABF's honest continuation. By its date alone it would pass; judged against when anyone
honest can vouch it existed (our receipt, or a quorum of witnesses' cosignatures), it is
refused. History signed honestly before R and cosigned by the witnesses in time is
admitted by a gateway that joins long after R.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.cli import main
from borderx.config import FederationConfig, GatewayConfig
from borderx.directory.model import Directory, format_time
from borderx.federation.replicator import UNWITNESSED_RETRY_SECONDS
from borderx.identity.devpki import signing_key_entry
from borderx.screening.index import index_effects
from borderx.server.app import intake_policy
from borderx.statements.bodies import Evidence, FlagCategory
from borderx.statements.body_codec import flag_to_proto
from borderx.statements.encoding import signed_cosignature_to_proto
from borderx.statements.intake import Reindexer
from borderx.statements.model import SignedCheckpoint, SignedCosignature
from borderx.statements.signing import load_signing_key, sign_cosignature
from borderx.store import NewStatement, open_store
from tests.conftest import GatewayThread, channel, creds_for, gateway_config, next_directory
from tests.federation.harness import free_port
from tests.federation.hostile import HostilePeer, Signs, World, wait, world
from tests.federation.test_hostile_partner import alarms, held, screen
from tests.federation.test_witness import AtPort
from tests.integration.helpers import flag, platform

US, AU, NZ, CA = "US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA"


@pytest.fixture
def w(pki: Path, tmp_path: Path) -> Iterator[World]:
    yield from world(pki, tmp_path)


def rotated(pki: Path, tmp: Path, retire_at: datetime) -> Path:
    """The next directory: AU-ABF's key (the dev PKI's signing.key) retires at ``retire_at``, a new one follows."""
    new = signing_key_entry(AU, Ed25519PrivateKey.generate(), valid_from=retire_at, valid_until=None)

    def edit(signed: dict) -> None:  # type: ignore[type-arg]
        au = next(a for a in signed["agencies"] if a["id"] == AU)
        au["signing_keys"][0]["valid_until"] = format_time(retire_at)
        au["signing_keys"].append(new.to_json())

    path = tmp / "directory-rotated.json"
    path.write_text(next_directory(pki, edit, first=True))
    return path


def cosign(pki: Path, scp: SignedCheckpoint, witness: str, at: datetime) -> SignedCosignature:
    """A cosignature with ``witness``'s real key (the test PKI's), dated ``at``."""
    return sign_cosignature(
        load_signing_key(pki / witness / "signing.key"), checkpoint=scp, witness=witness, time=at
    )


def serve_cosignatures(peer: HostilePeer, *cosignatures: SignedCosignature) -> None:
    for scos in cosignatures:
        peer.events.append(exchange_pb2.SubscribeEvent(cosignature=signed_cosignature_to_proto(scos)))


def victim_config(pki: Path, tmp: Path, directory: Path, peer: HostilePeer) -> GatewayConfig:
    """US-CBP on ``directory``, following only ``peer``."""
    return dataclasses.replace(
        gateway_config(pki, US, tmp),
        directory_path=directory,
        federation=FederationConfig(
            peers=(peer.agency,),
            endpoints={peer.agency: f"127.0.0.1:{peer.port}"},
            backoff_initial_seconds=0.05,
            backoff_max_seconds=0.2,
        ),
    )


def test_a_retired_key_backdating_past_an_unseen_rotation_is_refused(
    w: World, pki: Path, tmp_path: Path
) -> None:
    retired = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    directory = rotated(pki, tmp_path, retired)
    nz = w.peer(NZ)  # a hostile relay with NZ-CS's real certificate and key
    au = Signs(pki, AU)  # AU-ABF's retired key, which the thief now holds
    honest = platform("honest-history")
    for i in range(3):
        au.next(flag((honest,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED),
                issued_at=retired - timedelta(hours=3) + timedelta(minutes=i))  # fmt: skip
    history = au.checkpoint(at=retired - timedelta(hours=2, minutes=50))
    # the honest history was witnessed in time by two partners (CA-CBSA is honest)
    witnessed = [cosign(pki, history, NZ, retired - timedelta(hours=2, minutes=40)),
                 cosign(pki, history, CA, retired - timedelta(hours=2, minutes=30))]  # fmt: skip
    # the forgery: seq 4 dated before the rotation, a checkpoint over it, and the hostile
    # relay's own cosignature of that checkpoint, backdated too (one witness: no quorum)
    forged_party = platform("forged-after-rotation")
    forged = au.next(flag((forged_party,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED),
                     issued_at=retired - timedelta(hours=1))  # fmt: skip
    over_forged = au.checkpoint(at=retired - timedelta(minutes=50))
    serve_cosignatures(nz, *witnessed)
    nz.send(history)
    nz.send_batch(au.envs[:3])
    serve_cosignatures(nz, cosign(pki, over_forged, NZ, retired - timedelta(minutes=40)))
    nz.send(over_forged, forged)

    us = GatewayThread(victim_config(pki, tmp_path, directory, nz))
    w.gateways.append(us)
    [detail] = wait(lambda: alarms(us, "key_unwitnessed"), timeout=20)
    assert "AU-ABF seq 4 is signed by key" in detail and "held back, not stored" in detail
    assert "needs 2 witnesses' cosignatures" in detail
    # asked again once (the pending state) before the alarm: the relay resent the same
    assert nz.subscriptions >= 2
    # and then no more asking in a loop: only a new cosignature of AU-ABF would be worth it
    asked = nz.subscriptions
    time.sleep(3 * UNWITNESSED_RETRY_SECONDS)
    assert nz.subscriptions == asked
    # the witnessed history is held; the forgery, its checkpoint and nothing after it are not
    assert held(us, AU) == 3
    store = us.gateway.store
    latest = store.checkpoint(AU)
    assert latest is not None and latest.seq == 3
    assert store.get(AU, 4) is None
    assert not alarms(us, "bad_statement") and not store.evidence()
    [honest_result, forged_result] = screen(pki, us, honest, forged_party)
    assert honest_result.recommendation == exchange_pb2.HOLD
    assert forged_result.recommendation != exchange_pb2.HOLD
    assert not forged_result.flags


def test_history_waits_for_cosignatures_that_arrive_after_it_then_is_admitted(
    w: World, pki: Path, tmp_path: Path
) -> None:
    # a relay that has the statements before it has the witnesses' cosignatures of them
    retired = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    nz = w.peer(NZ)
    au = Signs(pki, AU)
    for i in range(3):
        au.next(flag((platform(f"late-{i}"),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED),
                issued_at=retired - timedelta(hours=3) + timedelta(minutes=i))  # fmt: skip
    history = au.checkpoint(at=retired - timedelta(hours=2, minutes=50))
    nz.send(history)
    nz.send_batch(au.envs)
    us = GatewayThread(victim_config(pki, tmp_path, rotated(pki, tmp_path, retired), nz))
    w.gateways.append(us)
    link = wait(lambda: us.gateway.replicator.links.get(NZ))  # once it leads replication
    wait(lambda: link.status.held_back == 1, timeout=20)
    assert held(us, AU) == 0  # pending: nothing stored, nothing alarmed
    assert not alarms(us, "key_unwitnessed")
    # the relay gets the cosignatures; the victim asks again (its retry) and admits the run
    witnessed = [cosign(pki, history, a, retired - timedelta(hours=2, minutes=40)) for a in (NZ, CA)]
    serve_cosignatures(nz, *witnessed)
    wait(lambda: held(us, AU) == 3, timeout=20)
    assert link.status.held_back == 1 and nz.subscriptions >= 2
    assert not alarms(us, "key_unwitnessed") and not alarms(us, "bad_statement")
    # what an operator sees: the hold-back, counted on the peer it came through
    with channel(us.target, creds_for(pki, US, "operator", server_agency=US)) as ch:
        status = admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    assert [(p.agency, p.held_back) for p in status.peers if p.held_back] == [(NZ, 1)]
    assert not [s for s in us.gateway.store.read_range(AU, 0, 10) if s.violation]


def _publish(pki: Path, gw: GatewayThread, n: int) -> None:
    agency = gw.config.agency
    items = [
        exchange_pb2.PublishItem(draft=exchange_pb2.Draft(flag=flag_to_proto(
            flag((platform(f"{agency}-late-{i}"),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED))))
        for i in range(n)
    ]  # fmt: skip
    with channel(gw.target, creds_for(pki, agency, "service", server_agency=agency)) as ch:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=items), timeout=10)


def test_a_late_joiner_admits_history_signed_by_a_retired_key_on_the_witnesses_cosignatures(
    pki: Path, tmp_path: Path
) -> None:
    grace = 1.0
    retire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    directory = rotated(pki, tmp_path, retire_at)
    ports = {a: free_port() for a in (AU, NZ, CA, US)}
    while len(set(ports.values())) < len(ports):
        ports = {a: free_port() for a in ports}

    def gateway(agency: str, *peers: str) -> GatewayThread:
        config = gateway_config(pki, agency, tmp_path).with_overrides(listen=f"127.0.0.1:{ports[agency]}")
        endpoints = {p: f"localhost:{ports[p]}" for p in peers}
        fed = FederationConfig(
            peers=peers,
            endpoints=endpoints,
            checkpoint_seconds=0.1,
            backoff_initial_seconds=0.05,
            backoff_max_seconds=0.2,
            witness_grace_seconds=grace,
        )
        return AtPort(dataclasses.replace(config, directory_path=directory, federation=fed))

    au = gateway(AU)
    nz = gateway(NZ, AU, CA)
    ca = gateway(CA, AU, NZ)
    late: GatewayThread | None = None
    try:
        _publish(pki, au, 40)
        _publish(pki, au, 25)  # two publishes: two checkpoints, two heads to witness

        def witnessed_by_both() -> bool:
            return all(
                {NZ, CA} <= {c.witness for c in gw.gateway.store.cosignatures_at(AU, 65)} for gw in (nz, ca)
            )

        wait(witnessed_by_both, timeout=max(1.0, (retire_at - datetime.now(UTC)).total_seconds() - 1))
        au.stop()  # AU-ABF's old key is retired: it signs nothing more (heartbeats included)
        # US-CBP joins long after the rotation: every AU-ABF statement it gets is under a closed key
        time.sleep(max(0.0, (retire_at - datetime.now(UTC)).total_seconds()) + grace + 0.5)
        late = gateway(US, NZ)
        expected = nz.gateway.store.head(AU)
        assert expected is not None

        def caught_up() -> bool:
            assert late is not None
            return late.gateway.store.head(AU) == expected

        wait(caught_up, timeout=30)
        # in one pass: the witnesses' cosignatures came ahead of the runs they witness
        assert late.gateway.replicator.links[NZ].status.held_back == 0
        store = late.gateway.store
        assert not [
            a for a in store.alarms() if a.kind in ("key_unwitnessed", "bad_statement", "bad_checkpoint")
        ]
        assert not [s for s in store.read_range(AU, 0, 100) if s.violation]
        wait(lambda: all(s.verified for s in store.read_range(AU, 0, 100)))  # the deferred checks passed
        [result] = screen(pki, late, platform("AU-ABF-late-39"))
        assert len(result.flags) == 1
        # an index rebuild replays the same admission: the cosignatures held prove it again
        late.stop()
        with open_store(late.config.store_url) as held_store:
            reindexer = Reindexer(
                held_store, directory=Directory.load(directory), policy=intake_policy(late.config)
            )
            assert held_store.rebuild_index(reindexer) >= 65
            assert reindexer.violations == []
        late = None
    finally:
        for gw in (late, ca, nz):
            if gw is not None:
                gw.stop()
        if au.thread.is_alive():
            au.stop()


def test_store_copy_carries_the_witnesses_a_retired_keys_history_was_admitted_on(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a store that holds AU-ABF history under a key retired before it was received, admitted
    # on two witnesses' cosignatures: copying it must bring the proof along, or be refused
    retired = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    directory = rotated(pki, tmp_path, retired)
    au = Signs(pki, AU)
    for i in range(3):
        au.next(flag((platform(f"copied-{i}"),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED),
                issued_at=retired - timedelta(hours=3) + timedelta(minutes=i))  # fmt: skip
    history = au.checkpoint(at=retired - timedelta(hours=2, minutes=50))
    source, target = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    with open_store(source) as store:
        for witness in (NZ, CA):
            store.put_cosignature(cosign(pki, history, witness, retired - timedelta(hours=2, minutes=40)))
        store.append([NewStatement(env, NZ, index_effects(env)) for env in au.envs])
    copy = ["store", "copy", "--from", source, "--directory", str(directory), "--agency", US]
    assert main([*copy, "--to", target]) == 0
    assert "copied 3 verified statements" in capsys.readouterr().out
    with open_store(target) as store:
        assert {c.witness for c in store.cosignatures_at(AU, 3)} == {NZ, CA}
        assert not [s for s in store.read_range(AU, 0, 10) if s.violation]
    # without the witnesses, the same history cannot be told from a forgery: refused
    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    with open_store(bare) as store:
        store.append([NewStatement(env, NZ, index_effects(env)) for env in au.envs])
    refused = ["store", "copy", "--from", bare, "--to", f"sqlite:///{tmp_path / 'refused.db'}"]
    assert main([*refused, "--directory", str(directory), "--agency", US]) != 0
    assert "cannot be told from a backdated forgery" in capsys.readouterr().err
