"""Witnessed checkpoints and signed receipts through real gateways (issue 12 items 5 and 6).

A hostile issuer (AU-ABF's real certificate and key) shows one valid history to US-CBP
and another, equally valid, to NZ-CS. Each witness cosigns what it verified; once the two
replicate from each other, each sees the other's cosignature over a head it does not hold:
signed proof of a split view at both, within one replication round — and at a third
gateway that follows only the two witnesses.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from borderx.config import FederationConfig
from borderx.statements.bodies import Evidence, FlagCategory
from borderx.statements.encoding import signed_cosignature_from_wire
from borderx.statements.verify import verify_cosignature
from tests.conftest import GatewayThread, gateway_config
from tests.federation.conftest import FederationFactory
from tests.federation.harness import free_port
from tests.federation.hostile import HostilePeer, Signs, wait
from tests.integration.helpers import designation, flag, platform

US, AU, NZ, CA = "US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA"


@pytest.fixture
def hostile(pki: Path) -> Iterator[tuple[HostilePeer, HostilePeer]]:
    """Two faces of AU-ABF: one server for US-CBP, another for NZ-CS, both with AU-ABF's real cert."""
    faces = (HostilePeer(pki, AU), HostilePeer(pki, AU))
    yield faces
    for face in faces:
        face.stop()


class AtPort(GatewayThread):
    """A real gateway listening on its configured port (a partner must know it before it starts)."""

    async def _start(self):  # type: ignore[no-untyped-def]
        from borderx.server.app import build_server

        return await build_server(self.gateway, listen=self.config.listen)


def witness_gateway(pki: Path, tmp: Path, agency: str, port: int, face: HostilePeer | None, partner: tuple[str, int] | None, *more: tuple[str, int]) -> GatewayThread:  # fmt: skip
    config = gateway_config(pki, agency, tmp).with_overrides(listen=f"127.0.0.1:{port}")
    peers = {AU: f"127.0.0.1:{face.port}"} if face is not None else {}
    for other in (partner, *more):
        if other is not None:
            peers[other[0]] = f"localhost:{other[1]}"
    config = dataclasses.replace(
        config,
        federation=FederationConfig(
            peers=tuple(peers), endpoints=peers, backoff_initial_seconds=0.05, backoff_max_seconds=0.2
        ),
    )
    return AtPort(config)


def _cosigned(gw: GatewayThread, witness: str, seq: int) -> bool:
    return any(c.witness == witness for c in gw.gateway.store.cosignatures_at(AU, seq))


def test_a_split_view_is_found_by_both_witnesses(pki: Path, tmp_path: Path, hostile: tuple[HostilePeer, HostilePeer]) -> None:  # fmt: skip
    to_us, to_nz = hostile
    x, y = Signs(pki, AU), Signs(pki, AU)
    for i in range(3):
        x.next(flag((platform(f"x-{i}"),), FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED))
        y.next(flag((platform(f"y-{i}"),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED))
    cx, cy = x.checkpoint(), y.checkpoint()
    assert cx.seq == cy.seq == 3 and cx.checkpoint.head_digest != cy.checkpoint.head_digest
    to_us.send_batch(x.envs)
    to_us.send(cx)
    to_nz.send_batch(y.envs)
    to_nz.send(cy)
    us_port, nz_port = free_port(), free_port()
    nz_port = nz_port if nz_port != us_port else free_port({us_port})

    # round 0: each witness follows only its face of AU-ABF, and cosigns what it verified
    us = witness_gateway(pki, tmp_path, US, us_port, to_us, None)
    nz = witness_gateway(pki, tmp_path, NZ, nz_port, to_nz, None)
    try:
        wait(lambda: _cosigned(us, US, 3) and _cosigned(nz, NZ, 3))
        assert not us.gateway.store.evidence() and not nz.gateway.store.evidence()
    finally:
        us.stop()
        nz.stop()

    # round 1: the witnesses replicate from each other too
    us = witness_gateway(pki, tmp_path, US, us_port, to_us, (NZ, nz_port))
    nz = witness_gateway(pki, tmp_path, NZ, nz_port, to_nz, (US, us_port))
    # a third gateway that never talks to AU-ABF: it meets both halves through the witnesses
    ca = witness_gateway(pki, tmp_path, CA, free_port({us_port, nz_port}), None, (US, us_port), (NZ, nz_port))
    started = time.monotonic()
    try:
        for gw in (ca,):
            store = gw.gateway.store
            found = wait(lambda s=store: [e for e in s.evidence() if e.kind == "split_view"], timeout=15)
            heads = {c.checkpoint.head_digest for e in found for c in e.checkpoints}
            # one witness's cosigned head against the head CA already holds from the other
            # witness's relay is the same proof as two disagreeing cosignatures (which one CA
            # meets first depends on the order the two relays arrive in)
            held = store.get(AU, 3)
            if held is not None:
                heads.add(held.envelope.digest)
            assert {x.envs[-1].digest, y.envs[-1].digest} <= heads
            assert AU in store.suspended_issuers()
            assert {US, NZ} <= {c.witness for c in store.cosignatures_at(AU, 3)}
        for gw, mine, theirs in ((us, x, y), (nz, y, x)):
            store = gw.gateway.store
            found = wait(lambda s=store: [e for e in s.evidence() if e.kind == "split_view"], timeout=15)
            heads = {c.checkpoint.head_digest for e in found for c in e.checkpoints}
            # both signed checkpoints are kept: the one this witness verified, the other it was shown
            assert {mine.envs[-1].digest, theirs.envs[-1].digest} <= heads, gw.config.agency
            assert all(e.issuer == AU and e.seq == 3 for e in found)
            assert AU in store.suspended_issuers()
            equivocation = [a for a in store.alarms() if a.kind == "equivocation" and a.issuer == AU]
            assert equivocation
            # the other witness's cosignature over the other head is held, and verifies
            other = NZ if gw is us else US
            [theirs_cos] = [c for c in store.cosignatures_at(AU, 3) if c.witness == other]
            assert theirs_cos.head_digest == theirs.envs[-1].digest
            verify_cosignature(theirs_cos, gw.gateway.directory.current)
        print(f"split view detected at both witnesses in {time.monotonic() - started:.2f}s")
    finally:
        ca.stop()
        us.stop()
        nz.stop()


def test_receipts_show_what_each_partner_really_holds(federation: FederationFactory) -> None:
    agencies = [US, AU, NZ]
    fed = federation(agencies)
    for n, agency in enumerate(agencies):
        fed.publish(agency, [designation(agency, (platform(f"{agency}-{i}"),)) for i in range(2 + n)])
    fed.wait_converged()

    def receipts_match() -> bool:
        for agency in agencies:
            status = fed.status(agency)
            got = {r.partner: r.seq for r in status.receipts}
            held = {
                partner: next(i.head_seq for i in fed.status(partner).issuers if i.issuer == agency)
                for partner in agencies
                if partner != agency
            }
            if got != held:
                return False
        return True

    wait(receipts_match, timeout=30)
    status = fed.status(US)
    for r in status.receipts:
        scos = signed_cosignature_from_wire(r.signed_cosignature)
        assert scos.witness == r.partner and scos.issuer == US and scos.seq == r.seq
        assert r.witnessed_at.ToDatetime().year >= 2026
